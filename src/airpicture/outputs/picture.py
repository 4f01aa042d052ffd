"""``picture.png``: truth against confirmed tracks on an offline map, for a person to look at.

An operator's overview, drawn with matplotlib's Agg canvas (no GUI, no pyplot global
state): land and sea, coastlines and borders, sensor sites with their coverage, zones and
defended points, truth trajectories in thin grey and confirmed tracks in colour with their
track numbers.

The projection is equirectangular (plate carrée) with the axes' aspect set to
1 / cos(mean latitude), so shapes and circles look right around the scenario; this is a
picture, not a chart for navigation. Everything is drawn as a few collections, so
thousands of tracks cost about as much as ten.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection, PathCollection, PolyCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.path import Path as MplPath
from matplotlib.ticker import FuncFormatter, MaxNLocator

from .. import geo
from .basemap import load_base_map

SEA_COLOUR = "#dbe7f0"
LAND_COLOUR = "#f3f0e7"
COAST_COLOUR = "#61717f"
BORDER_COLOUR = "#a3998a"
TRUTH_COLOUR = "#7a7a7a"
SENSOR_COLOURS = ["#1f4e9c", "#7b2d8e", "#0f7d74", "#a0522d", "#3b6e1f", "#8c1c3a", "#4d4d4d", "#b8860b"]
ZONE_COLOURS = {
    "no_fly": "#c62828",
    "hostile_area": "#8b0000",
    "restricted": "#c62828",
    "control_zone": "#ef6c00",
    "corridor": "#1565c0",
}
DEFAULT_ZONE_COLOUR = "#6d6d6d"
DEFENDED_COLOUR = "#2e7d32"
# tab10 without its grey, which is kept for truth.
TRACK_PALETTE = np.array([colormaps["tab10"](i) for i in (0, 1, 2, 3, 4, 5, 6, 8, 9)])
CIRCLE_POINTS = 181
MAX_TRUTH_POINTS = 1000  # samples per truth line; more cannot be seen at this size
MIN_MARGIN_DEG = 0.2
METRES_PER_DEG_LAT = 111_195.0  # on the mean sphere; only for sizing the close-up
INSET_MAX_FRACTION = 0.3  # a close-up is drawn only for an area smaller than this share of the map


def _lat_lon_deg(ecef) -> tuple[np.ndarray, np.ndarray]:
    lat, lon, _ = geo.ecef_to_geodetic(ecef)
    return np.degrees(lat), np.degrees(lon)


def _circle_deg(lat_rad: float, lon_rad: float, radius_m: float,
                start_rad: float = 0.0, span_rad: float = 2 * math.pi) -> np.ndarray:
    """Geodesic circle (or sector outline when span < 2 pi) as (k, 2) lon/lat degrees."""
    full = span_rad >= 2 * math.pi - 1e-9
    bearings = start_rad + np.linspace(0.0, span_rad, CIRCLE_POINTS)
    lat, lon = geo.destination(lat_rad, lon_rad, bearings, radius_m)
    ring = np.column_stack([np.degrees(lon), np.degrees(lat)])
    if not full:
        centre = np.array([[math.degrees(lon_rad), math.degrees(lat_rad)]])
        ring = np.concatenate([centre, ring, centre])
    return ring


def _truth_lines(truth) -> list[np.ndarray]:
    """One (k, 2) lon/lat line per target, NaN samples dropped and long tracks thinned."""
    if truth is None or truth.n_targets == 0 or truth.position_ecef.size == 0:
        return []
    n_samples = truth.position_ecef.shape[1]
    stride = max(1, math.ceil(n_samples / MAX_TRUTH_POINTS))
    positions = truth.position_ecef[:, ::stride]
    if stride > 1:  # keep each target's true end point in the picture
        positions = np.concatenate([positions, truth.position_ecef[:, -1:]], axis=1)
    lat = np.full(positions.shape[:2], np.nan)
    lon = np.full(positions.shape[:2], np.nan)
    alive = np.isfinite(positions).all(axis=-1)
    lat[alive], lon[alive] = _lat_lon_deg(positions[alive])
    lines = []
    for i in range(lat.shape[0]):
        alive = np.isfinite(lat[i]) & np.isfinite(lon[i])
        if alive.any():
            lines.append(np.column_stack([lon[i, alive], lat[i, alive]]))
    return lines


def _confirmed_lines(tracks) -> tuple[np.ndarray, list[np.ndarray], list[str]]:
    """Track ids, one lon/lat line each and a label, from the confirmed and coasting rows, in time order.

    The label is the track number, then the transponder identity when the track carries one
    (its latest callsign, else its ICAO address: "T7 AZA812"), then the latest class hint when
    it has one worth showing ("T12 bird").
    """
    if tracks is None or len(tracks) == 0:
        return np.zeros(0, np.int64), [], []
    position = np.asarray(tracks.position)
    confirmed = np.flatnonzero(tracks.in_picture() & np.isfinite(position).all(axis=1))
    if confirmed.size == 0:
        return np.zeros(0, np.int64), [], []
    ids = np.asarray(tracks.track_id)[confirmed]
    times = np.asarray(tracks.time)[confirmed]
    order = np.lexsort((times, ids))
    rows = confirmed[order]
    ids = ids[order]
    lat, lon = _lat_lon_deg(position[rows])
    points = np.column_stack([lon, lat])
    cuts = np.flatnonzero(np.diff(ids)) + 1
    lines = np.split(points, cuts)
    starts = np.concatenate([[0], cuts])
    labels = [f"T{track_id}" for track_id in ids[starts]]
    last_rows = rows[np.concatenate([cuts - 1, [len(rows) - 1]])]
    extra = tracks.extra or {}
    if "icao24" in extra:
        icao = np.asarray(extra["icao24"], dtype=object)[last_rows]
        callsign = np.asarray(extra.get("callsign", np.full(len(tracks), "", dtype=object)), dtype=object)[last_rows]
        names = [str(c).strip() or str(a) for c, a in zip(callsign, icao)]
        labels = [f"{label} {name}" if name else label for label, name in zip(labels, names)]
    if tracks.track_class is not None:
        classes = np.asarray(tracks.track_class, dtype=object)[last_rows]
        labels = [label if _is_blank_class(c) else f"{label} {c}" for label, c in zip(labels, classes)]
    return ids[starts], lines, labels


def _is_blank_class(value) -> bool:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return True
    return str(value).strip().lower() in ("", "unknown", "none")


def _wrap_lon(lon_deg, centre_deg: float):
    """Longitudes shifted by whole turns into [centre - 180, centre + 180)."""
    return centre_deg + np.mod(np.asarray(lon_deg, dtype=float) - centre_deg + 180.0, 360.0) - 180.0


def _centre_longitude(groups: list[np.ndarray]) -> float:
    """Circular mean longitude (deg) of all finite points; 0 when there are none."""
    lon = np.concatenate([np.asarray(g, dtype=float).reshape(-1, 2)[:, 0] for g in groups] or [np.zeros(0)])
    lon = np.radians(lon[np.isfinite(lon)])
    if lon.size == 0:
        return 0.0
    return math.degrees(math.atan2(np.sin(lon).mean(), np.cos(lon).mean()))


def _extent(groups: list[np.ndarray]) -> tuple[float, float, float, float]:
    """(lon_min, lat_min, lon_max, lat_max) around all finite points, with a margin."""
    points = [g.reshape(-1, 2) for g in groups if g is not None and np.size(g)]
    points = np.concatenate(points) if points else np.zeros((0, 2))
    points = points[np.isfinite(points).all(axis=1)]
    if len(points) == 0:
        return -1.0, -1.0, 1.0, 1.0
    lon_min, lat_min = points.min(axis=0)
    lon_max, lat_max = points.max(axis=0)
    margin_lon = max(0.08 * (lon_max - lon_min), MIN_MARGIN_DEG)
    margin_lat = max(0.08 * (lat_max - lat_min), MIN_MARGIN_DEG)
    return (lon_min - margin_lon, max(lat_min - margin_lat, -89.9),
            lon_max + margin_lon, min(lat_max + margin_lat, 89.9))


def _fit_aspect(lon_range, lat_range, aspect, box_width_px, box_height_px):
    """Widen one of the ranges so the extent fills the axes box at the given aspect.

    ``aspect`` is the drawn length of one degree of latitude over one of longitude.
    Widening the data range (rather than letting matplotlib shrink the box) keeps the
    map filling its frame and the PNG size fixed.
    """
    (x0, x1), (y0, y1) = lon_range, lat_range
    dx, dy = x1 - x0, y1 - y0
    wanted = box_height_px / box_width_px
    if aspect * dy / dx > wanted:
        grow = (aspect * dy / wanted - dx) / 2
        x0, x1 = x0 - grow, x1 + grow
    else:
        grow = (dx * wanted / aspect - dy) / 2
        y0, y1 = y0 - grow, y1 + grow
        if y0 < -90.0 or y1 > 90.0:  # stay on the globe; the box then shrinks a little
            shift = max(-90.0 - y0, 0.0) - max(y1 - 90.0, 0.0)
            y0, y1 = max(y0 + shift, -90.0), min(y1 + shift, 90.0)
    return (x0, x1), (y0, y1)


def _format_lon(value, _pos=None) -> str:
    value = round(float(_wrap_lon(value, 0.0)), 6)  # 181 deg east is 179 deg west
    if value in (0.0, -180.0):
        return f"{abs(value):g}°"
    return f"{abs(value):g}°{'E' if value > 0 else 'W'}"


def _format_lat(value, _pos=None) -> str:
    return f"{abs(value):g}°{'N' if value >= 0 else 'S'}" if value else "0°"


def _ring_path(rings: list[np.ndarray]) -> MplPath:
    """One compound path of closed rings (holes are wound the other way by basemap)."""
    vertices, codes = [], []
    for ring in rings:
        ring_codes = np.full(len(ring) + 1, MplPath.LINETO, dtype=MplPath.code_type)
        ring_codes[0] = MplPath.MOVETO
        ring_codes[-1] = MplPath.CLOSEPOLY
        vertices.append(np.concatenate([ring, ring[:1]]))
        codes.append(ring_codes)
    return MplPath(np.concatenate(vertices), np.concatenate(codes))


def _sensor_style(site) -> tuple[str, tuple]:
    """Site marker and coverage line style per sensor kind: radar triangle, EO diamond, ADS-B circle."""
    kind = str(site.kind).lower()
    if kind == "eo":
        return "D", (0, (2, 2))
    if kind == "adsb":
        return "o", (0, (1, 2))
    return "^", (0, (6, 3))


def _sensor_coverage(site) -> np.ndarray | None:
    range_m = (site.params or {}).get("range_max_m")
    if range_m is None or not np.isfinite(range_m) or range_m <= 0:
        return None
    start = float((site.params or {}).get("azimuth_min_rad", 0.0))
    stop = float((site.params or {}).get("azimuth_max_rad", 2 * math.pi))
    span = stop - start
    if span <= 0:
        span += 2 * math.pi
    return _circle_deg(site.lat_rad, site.lon_rad, float(range_m), start, min(span, 2 * math.pi))


@dataclass
class _Scene:
    """Everything to draw, already in (lon, lat) degrees around one centre longitude."""

    sensors: list
    site_points: np.ndarray  # (n, 2)
    coverages: list  # (k, 2) or None per sensor
    zones: list
    zone_rings: list[np.ndarray]
    defended_points: list
    defended_circles: list[np.ndarray]
    truth_lines: list[np.ndarray]
    track_ids: np.ndarray
    track_labels: list[str]
    track_lines: list[np.ndarray]

    @property
    def empty(self) -> bool:
        return not (self.truth_lines or self.track_lines or self.sensors or self.zones or self.defended_points)


def _build_scene(sensors, truth, tracks, defended_points, zones) -> _Scene:
    sensors = list(sensors or [])
    defended_points = list(defended_points or [])
    zones = list(zones or [])
    track_ids, track_lines, track_labels = _confirmed_lines(tracks)
    scene = _Scene(
        sensors=sensors,
        site_points=np.array([[math.degrees(s.lon_rad), math.degrees(s.lat_rad)] for s in sensors]).reshape(-1, 2),
        coverages=[_sensor_coverage(s) for s in sensors],
        zones=zones,
        zone_rings=[np.column_stack([np.degrees(z.polygon_lon_rad), np.degrees(z.polygon_lat_rad)]) for z in zones],
        defended_points=defended_points,
        defended_circles=[_circle_deg(d.lat_rad, d.lon_rad, d.radius_m) for d in defended_points],
        truth_lines=_truth_lines(truth),
        track_ids=track_ids,
        track_lines=track_lines,
        track_labels=track_labels,
    )
    # Longitudes continue across the antimeridian around the scenario's own centre, so a
    # scenario near 180 deg is drawn in one piece.
    groups = (scene.truth_lines + scene.track_lines + [scene.site_points] + scene.zone_rings
              + scene.defended_circles + [c for c in scene.coverages if c is not None])
    centre_lon = _centre_longitude(groups)
    for group in groups:
        group[:, 0] = _wrap_lon(group[:, 0], centre_lon)
    return scene


def _inset_view(scene: _Scene, view_lon, view_lat):
    """A close-up box on the defended area when it is small on the main map, else None.

    Centred on the first defended point (or the sensor with the shortest reach), wide
    enough for its radius and the shortest-range sensor around it.
    """
    reach_m = [float(s.params.get("range_max_m", 0.0) or 0.0) for s in scene.sensors]
    if scene.defended_points:
        centre_lon = float(scene.defended_circles[0][:, 0].mean())
        centre_lat = math.degrees(scene.defended_points[0].lat_rad)
        radius_m = scene.defended_points[0].radius_m
        # Widen to the shortest-range sensor watching the point (an EO tower or a point-
        # defence radar): the crowded last kilometres are what the main map cannot show.
        around = [r for r, p in zip(reach_m, scene.site_points)
                  if 0 < r and geo.haversine_m(math.radians(p[1]), math.radians(p[0]),
                                               math.radians(centre_lat), math.radians(centre_lon)) < r]
        radius_m = max(radius_m, min(around) if around else 0.0)
    elif any(r > 0 for r in reach_m):
        shortest = int(np.argmin([r if r > 0 else np.inf for r in reach_m]))
        centre_lon, centre_lat = scene.site_points[shortest]
        radius_m = reach_m[shortest]
    else:
        return None
    half_lat = max(1.25 * radius_m, 5e3) / METRES_PER_DEG_LAT
    if 2 * half_lat > INSET_MAX_FRACTION * (view_lat[1] - view_lat[0]):
        return None  # already large enough on the main map
    half_lon = half_lat / max(math.cos(math.radians(centre_lat)), 0.05)
    return (centre_lon - half_lon, centre_lon + half_lon), (centre_lat - half_lat, centre_lat + half_lat)


def _inside(points: np.ndarray, box) -> np.ndarray:
    if box is None or len(points) == 0:
        return np.zeros(len(points), bool)
    (x0, x1), (y0, y1) = box
    return (points[:, 0] >= x0) & (points[:, 0] <= x1) & (points[:, 1] >= y0) & (points[:, 1] <= y1)


def _draw_map(ax, scene: _Scene, view_lon, view_lat, *, label_tracks: bool, hide_labels_in=None,
              font_scale: float = 1.0):
    """Draw the base map and every layer of ``scene`` on ``ax``; returns the base map used.

    Labels of things inside ``hide_labels_in`` (a view box drawn enlarged elsewhere) are
    left out here to keep a crowded centre readable.
    """
    ax.set_facecolor(SEA_COLOUR)
    ax.set_xlim(*view_lon)
    ax.set_ylim(*view_lat)
    fs = font_scale

    # Base map, cropped to what is visible (plus a little, so lines reach the frame).
    pad = 0.05 * max(view_lon[1] - view_lon[0], view_lat[1] - view_lat[0])
    base = load_base_map((view_lon[0] - pad, view_lat[0] - pad, view_lon[1] + pad, view_lat[1] + pad))
    if base is not None and base.land:
        ax.add_collection(PathCollection([_ring_path(base.land)], facecolors=LAND_COLOUR,
                                         edgecolors="none", zorder=0.5))
    if base is not None and base.coastlines:
        ax.add_collection(LineCollection(base.coastlines, colors=COAST_COLOUR, linewidths=0.7, zorder=1))
    if base is not None and base.borders:
        ax.add_collection(LineCollection(base.borders, colors=BORDER_COLOUR, linewidths=0.6,
                                         linestyles=(0, (4, 2)), zorder=1))

    # Zones and defended points: filled lightly, outlined, named.
    if scene.zone_rings:
        colours = [ZONE_COLOURS.get(z.kind, DEFAULT_ZONE_COLOUR) for z in scene.zones]
        ax.add_collection(PolyCollection(scene.zone_rings, facecolors=colours, edgecolors=colours,
                                         alpha=0.15, linewidths=0, zorder=2))
        ax.add_collection(PolyCollection(scene.zone_rings, facecolors="none", edgecolors=colours,
                                         linewidths=1.3, zorder=2.1))
        centres = np.array([np.nanmean(ring, axis=0) for ring in scene.zone_rings])
        hidden = _inside(centres, hide_labels_in)
        for zone, centre, colour, hide in zip(scene.zones, centres, colours, hidden):
            if hide:
                continue
            ax.text(centre[0], centre[1], f"{zone.name}\n({zone.kind.replace('_', ' ')})", fontsize=7.5 * fs,
                    color=colour, ha="center", va="center", zorder=6, clip_on=True)
    if scene.defended_points:
        ax.add_collection(PolyCollection(scene.defended_circles, facecolors=DEFENDED_COLOUR, alpha=0.12,
                                         edgecolors="none", zorder=2))
        ax.add_collection(LineCollection(scene.defended_circles, colors=DEFENDED_COLOUR, linewidths=1.2,
                                         zorder=2.1))
        centres = np.array([[c[:, 0].mean(), math.degrees(d.lat_rad)]
                            for c, d in zip(scene.defended_circles, scene.defended_points)])
        ax.scatter(centres[:, 0], centres[:, 1], marker="*", s=140 * fs, c=DEFENDED_COLOUR, edgecolors="white",
                   linewidths=0.6, zorder=7)
        hidden = _inside(centres, hide_labels_in)
        for d, (x, y), hide in zip(scene.defended_points, centres, hidden):
            if not hide:
                ax.annotate(d.name, (x, y), xytext=(6, -11), textcoords="offset points", fontsize=8 * fs,
                            color=DEFENDED_COLOUR, zorder=7, annotation_clip=True)

    # Sensors: coverage outline in the sensor's colour, site marker, name.
    hidden = _inside(scene.site_points, hide_labels_in)
    for i, (site, coverage) in enumerate(zip(scene.sensors, scene.coverages)):
        colour = SENSOR_COLOURS[i % len(SENSOR_COLOURS)]
        marker, style = _sensor_style(site)
        if coverage is not None:
            ax.plot(coverage[:, 0], coverage[:, 1], color=colour, linewidth=1.1, linestyle=style, zorder=3)
        x, y = scene.site_points[i]
        ax.plot([x], [y], marker=marker, markersize=9 * math.sqrt(fs), color=colour,
                markeredgecolor="white", linestyle="none", zorder=8)
        if not hidden[i]:
            ax.annotate(site.name, (x, y), xytext=(7, 4 - 11 * (i % 2)), textcoords="offset points",
                        fontsize=8.5 * fs, fontweight="bold", color=colour, zorder=8, annotation_clip=True)

    # Truth: thin grey, one Line2D with NaN breaks (one draw call for every target).
    if scene.truth_lines:
        gap = np.full((1, 2), np.nan)
        joined = np.concatenate([part for line in scene.truth_lines for part in (line, gap)])
        ax.plot(joined[:, 0], joined[:, 1], color=TRUTH_COLOUR, linewidth=0.8, alpha=0.9, zorder=4)
        ends = np.array([line[-1] for line in scene.truth_lines])
        ax.scatter(ends[:, 0], ends[:, 1], s=6, c=TRUTH_COLOUR, zorder=4)

    # Confirmed tracks: one LineCollection, colour by track number, labels at the last point.
    if scene.track_lines:
        colours = TRACK_PALETTE[np.mod(scene.track_ids, len(TRACK_PALETTE))]
        ax.add_collection(LineCollection(scene.track_lines, colors=colours, linewidths=1.6, zorder=5))
        last = np.array([line[-1] for line in scene.track_lines])
        ax.scatter(last[:, 0], last[:, 1], s=14, c=colours, edgecolors="white", linewidths=0.4, zorder=5.5)
        if label_tracks:
            show = _inside(last, (view_lon, view_lat)) & ~_inside(last, hide_labels_in)
            labels = [label for label, shown in zip(scene.track_labels, show) if shown]
            for label, point, colour in zip(labels, last[show], colours[show]):
                ax.annotate(label, (point[0], point[1]), xytext=(4, 3), textcoords="offset points",
                            fontsize=7 * fs, color=colour, zorder=9, annotation_clip=True)

    ax.grid(True, color="white", linewidth=0.6, alpha=0.9, zorder=1.2)
    ax.set_axisbelow(False)
    return base


def _legend_handles(scene: _Scene) -> list:
    handles = []
    for kind in dict.fromkeys(z.kind for z in scene.zones):
        colour = ZONE_COLOURS.get(kind, DEFAULT_ZONE_COLOUR)
        handles.append(Patch(facecolor=colour, edgecolor=colour, alpha=0.35, label=f"zone: {kind.replace('_', ' ')}"))
    if scene.defended_points:
        handles.append(Line2D([], [], marker="*", linestyle="none", markersize=11, color=DEFENDED_COLOUR,
                              label="defended point (radius)"))
    for i, site in enumerate(scene.sensors[: len(SENSOR_COLOURS)]):
        marker, style = _sensor_style(site)
        range_m = (site.params or {}).get("range_max_m")
        reach = f", {range_m / 1000:.0f} km" if range_m else ""
        kind = "ADS-B receiver" if str(site.kind).lower() == "adsb" else site.kind
        handles.append(Line2D([], [], marker=marker, color=SENSOR_COLOURS[i], markeredgecolor="white",
                              linestyle=style, linewidth=1.1, label=f"{site.name} ({kind}{reach})"))
    if scene.truth_lines:  # a replay of real data has no truth
        handles.append(Line2D([], [], color=TRUTH_COLOUR, linewidth=0.8, label="truth"))
    handles.append(Line2D([], [], color="tab:blue", linewidth=1.6, marker="o", markersize=4,
                          label="confirmed track (Tn at its end)"))
    return handles


def _format_axes(ax, font_size: float, n_bins: int = 8) -> None:
    ax.xaxis.set_major_locator(MaxNLocator(nbins=n_bins, steps=[1, 2, 2.5, 5, 10]))
    ax.yaxis.set_major_locator(MaxNLocator(nbins=n_bins, steps=[1, 2, 2.5, 5, 10]))
    ax.xaxis.set_major_formatter(FuncFormatter(_format_lon))
    ax.yaxis.set_major_formatter(FuncFormatter(_format_lat))
    ax.tick_params(labelsize=font_size)


def render_picture(path, *, sensors=(), truth=None, tracks=None, defended_points=(), zones=(),
                   title: str = "", size_px: tuple[int, int] = (1600, 1100), dpi: int = 100,
                   max_track_labels: int = 300) -> Path:
    """Draw the air picture to a PNG file and return its path.

    Parameters
    ----------
    path : str or Path
        Output PNG; parent folders are created.
    sensors : list of airpicture.measurements.SensorSite
        Drawn at their sites with their names; ``params['range_max_m']`` gives the
        coverage circle (a sector when ``azimuth_min_rad``/``azimuth_max_rad`` limit the
        field of regard, as for an EO tracker).
    truth : airpicture.truth.Truth or None
        Trajectories drawn as thin grey lines, a dot at each target's last position.
    tracks : airpicture.tracks.TrackStates or None
        Confirmed and coasting rows (the operator's picture) are drawn as coloured lines, labelled with the
        track number (and class hint, e.g. "T12 bird") at their last point; no labels
        beyond ``max_track_labels`` tracks.
    defended_points, zones : lists of airpicture.scenario.model.DefendedPoint / Zone
    title : str
    size_px : (width, height)
        Exact size of the PNG in pixels (at ``dpi``).

    The map extent covers every truth position and sensor site (plus zones and defended
    points, and tracks when there is no truth), with a margin. When the defended area
    (or the shortest-range sensor) is small on that map, a close-up of it is drawn in
    the side panel and outlined on the map. When the Natural Earth files are not
    installed, the picture says "no base map" and is drawn without one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    scene = _build_scene(sensors, truth, tracks, defended_points, zones)

    extent_groups = scene.truth_lines + [scene.site_points] + scene.zone_rings + scene.defended_circles
    if not scene.truth_lines:
        extent_groups += scene.track_lines
    lon_min, lat_min, lon_max, lat_max = _extent(extent_groups)
    mean_lat = 0.5 * (lat_min + lat_max)

    width_px, height_px = size_px
    fig = Figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi, facecolor="white")
    FigureCanvasAgg(fig)
    # Map on the left; legend, close-up and a short summary on the right where they hide
    # nothing. Fixed pixel margins keep small and large pictures laid out alike.
    panel_px = min(max(0.22 * width_px, 240.0), 340.0)
    left_px, right_px, bottom_px, top_px = 72.0, 14.0, 40.0, 44.0
    axes_box = (left_px / width_px, bottom_px / height_px,
                max(width_px - left_px - right_px - panel_px, 50.0) / width_px,
                max(height_px - bottom_px - top_px, 50.0) / height_px)
    panel_x = (width_px - panel_px) / width_px
    small_font = 8 if width_px < 1200 else 9
    ax = fig.add_axes(axes_box)
    aspect = 1.0 / max(math.cos(math.radians(mean_lat)), 0.05)
    view_lon, view_lat = _fit_aspect((lon_min, lon_max), (lat_min, lat_max), aspect,
                                     axes_box[2] * width_px, axes_box[3] * height_px)
    ax.set_aspect(aspect, adjustable="box")
    _format_axes(ax, small_font + 1)
    ax.set_title(title or "Air picture", fontsize=14, loc="left")

    # The close-up goes under the legend if the panel has room for it.
    handles = _legend_handles(scene)
    legend_px = 40 + 19 * len(handles)
    summary_px = 110
    inset_side_px = min(panel_px - 80, height_px - top_px - bottom_px - legend_px - summary_px - 40)
    inset = _inset_view(scene, view_lon, view_lat) if inset_side_px >= 160 else None

    label_tracks = len(scene.track_lines) <= max_track_labels
    base = _draw_map(ax, scene, view_lon, view_lat, label_tracks=label_tracks, hide_labels_in=inset)
    if base is None:
        ax.text(0.01, 0.01, "no base map (Natural Earth files not installed: run `make web`)",
                transform=ax.transAxes, fontsize=9, color="0.3", zorder=10)
    if scene.empty:
        ax.text(0.5, 0.5, "nothing to draw: no truth, tracks, sensors or assets", transform=ax.transAxes,
                ha="center", va="center", fontsize=12, color="0.35")

    fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(panel_x, axes_box[1] + axes_box[3]),
               fontsize=small_font, frameon=True, framealpha=1.0, title="Legend", title_fontsize=10,
               borderaxespad=0.0)

    if inset is not None:
        (x0, x1), (y0, y1) = inset
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor="black", linewidth=0.9,
                               linestyle=(0, (3, 2)), zorder=10))
        inset_aspect = 1.0 / max(math.cos(math.radians(0.5 * (y0 + y1))), 0.05)
        inset_view = _fit_aspect((x0, x1), (y0, y1), inset_aspect, inset_side_px, inset_side_px)
        top = axes_box[1] + axes_box[3] - (legend_px + 30) / height_px
        inset_ax = fig.add_axes((panel_x + 52 / width_px, top - inset_side_px / height_px,
                                 inset_side_px / width_px, inset_side_px / height_px))
        inset_ax.set_aspect(inset_aspect, adjustable="box")
        _draw_map(inset_ax, scene, *inset_view, label_tracks=label_tracks, font_scale=0.85)
        _format_axes(inset_ax, small_font - 1, n_bins=4)
        inset_ax.set_title("close-up (dashed box)", fontsize=small_font, loc="left")

    summary = [f"truths: {len(scene.truth_lines)}", f"confirmed tracks: {len(scene.track_lines)}",
               f"sensors: {len(scene.sensors)}"]
    if tracks is not None and len(tracks):
        t = np.asarray(tracks.time)
        summary.append(f"track time: {np.nanmin(t):.0f}–{np.nanmax(t):.0f} s")
    if not label_tracks:
        summary.append(f"no labels (> {max_track_labels} tracks)")
    if base is None:
        summary.append("no base map")
    fig.text(panel_x, (bottom_px + 16) / height_px, "\n".join(summary), fontsize=small_font, va="bottom",
             family="monospace")
    if base is not None:
        fig.text(panel_x, bottom_px / height_px, "Map data: Natural Earth (world-atlas)", fontsize=7, color="0.4")

    fig.savefig(path, dpi=dpi, format="png")
    return path
