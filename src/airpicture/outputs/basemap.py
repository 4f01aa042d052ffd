"""Offline base map: Natural Earth land, coastlines and country borders from TopoJSON.

The data are the ``land-50m.json`` and ``countries-50m.json`` files of the world-atlas npm
package (2.0.2), copied into ``airpicture/data`` by ``make web``. No network is needed
at run time. If the files are missing, :func:`load_base_map` returns ``None`` and the
caller draws the picture without a map (and says so).

TopoJSON in brief (what the small decoder below implements)
-----------------------------------------------------------
* ``arcs`` is a list of polylines shared by all geometries, so a border between two
  countries is stored once.
* A *quantized* topology has a ``transform`` {scale, translate}: each arc is integer
  positions, the first absolute and the rest deltas from the previous position;
  ``lon = x * scale[0] + translate[0]``, ``lat = y * scale[1] + translate[1]``.
* A geometry refers to arcs by index; a negative index ``i`` means arc ``~i`` (= -i - 1)
  walked backwards. Consecutive arcs of a ring share their end/start point.
* ``Polygon`` arcs: a list of rings (first exterior, then holes), each ring a list of
  arc indices; ``MultiPolygon``: a list of such polygons.

All coordinates returned here are degrees (lon, lat): this module is an edge of the
program where degrees belong.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from importlib import resources

import numpy as np

LAND_FILE = "land-50m.json"
COUNTRIES_FILE = "countries-50m.json"


# --------------------------------------------------------------------------- decoding

def decode_arcs(topology: dict) -> list[np.ndarray]:
    """Absolute (lon, lat) degree arrays, one (k, 2) array per arc of a topology.

    Quantized arcs (a ``transform`` is present) are delta-decoded and scaled; arcs of
    an unquantized topology are taken as they are.
    """
    raw_arcs = topology.get("arcs", [])
    if not raw_arcs:
        return []
    lengths = np.array([len(a) for a in raw_arcs], dtype=np.int64)
    # Arcs may carry extra dimensions (z, m); only the first two are positions.
    flat = np.array([p[:2] for a in raw_arcs for p in a], dtype=np.float64).reshape(-1, 2)
    transform = topology.get("transform")
    if transform is not None:
        # Delta decoding for all arcs at once: a global running sum, minus the running
        # sum reached just before each arc starts.
        running = np.cumsum(flat, axis=0)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        before = np.zeros_like(running)
        before[1:] = running[:-1]
        offset = np.repeat(before[starts], lengths, axis=0)
        absolute = running - offset
        scale = np.asarray(transform["scale"], dtype=np.float64)
        translate = np.asarray(transform["translate"], dtype=np.float64)
        flat = absolute * scale + translate
    return np.split(flat, np.cumsum(lengths)[:-1])


def arc_coordinates(arcs: list[np.ndarray], index: int) -> np.ndarray:
    """Coordinates of arc ``index``; a negative index is arc ``~index`` reversed."""
    if index < 0:
        return arcs[~index][::-1]
    return arcs[index]


def ring_coordinates(arcs: list[np.ndarray], arc_indices: list[int]) -> np.ndarray:
    """Join a ring's arcs into one (k, 2) array, dropping the shared joint points."""
    parts = []
    for j, index in enumerate(arc_indices):
        coords = arc_coordinates(arcs, index)
        parts.append(coords if j == 0 else coords[1:])
    if not parts:
        return np.zeros((0, 2))
    return np.concatenate(parts, axis=0)


def geometry_polygons(arcs: list[np.ndarray], geometry: dict) -> list[list[np.ndarray]]:
    """Polygons of one geometry: a list of polygons, each a list of rings (exterior first).

    Geometries that are not polygons (points, lines, null) give an empty list, and a
    ``GeometryCollection`` gives the polygons of all its members.
    """
    kind = geometry.get("type")
    if kind == "Polygon":
        return [[ring_coordinates(arcs, ring) for ring in geometry.get("arcs", [])]]
    if kind == "MultiPolygon":
        return [[ring_coordinates(arcs, ring) for ring in polygon] for polygon in geometry.get("arcs", [])]
    if kind == "GeometryCollection":
        out = []
        for member in geometry.get("geometries", []):
            out.extend(geometry_polygons(arcs, member))
        return out
    return []


def _geometry_arc_ids(geometry: dict) -> set[int]:
    """Indices (non-negative) of every arc a polygonal geometry uses."""
    kind = geometry.get("type")
    if kind == "Polygon":
        return {i if i >= 0 else ~i for ring in geometry.get("arcs", []) for i in ring}
    if kind == "MultiPolygon":
        return {i if i >= 0 else ~i for polygon in geometry.get("arcs", []) for ring in polygon for i in ring}
    if kind == "GeometryCollection":
        out: set[int] = set()
        for member in geometry.get("geometries", []):
            out |= _geometry_arc_ids(member)
        return out
    return set()


def shared_arc_ids(geometries: list[dict]) -> np.ndarray:
    """Arcs used by two or more different geometries: the borders between countries.

    An arc used by a single geometry is on its outer edge (a coastline); an arc used by
    two is where they touch. Sorted, non-negative indices.
    """
    counts: dict[int, int] = {}
    for geometry in geometries:
        for i in _geometry_arc_ids(geometry):
            counts[i] = counts.get(i, 0) + 1
    return np.array(sorted(i for i, n in counts.items() if n >= 2), dtype=np.int64)


def signed_area(ring: np.ndarray) -> float:
    """Planar signed area (shoelace) of a ring in lon/lat: positive when counter-clockwise."""
    if len(ring) < 3:
        return 0.0
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))


# --------------------------------------------------------------------------- antimeridian

def continuous_longitudes(line: np.ndarray) -> np.ndarray:
    """The line with longitude jumps of more than 180 deg undone (may leave [-180, 180]).

    world-atlas stitches shapes across the antimeridian, so a ring round Fiji or
    Chukotka hops from +180 to -180. On a flat map that hop would be drawn as a line
    across the whole world; unwrapped, the shape is whole on one side.
    """
    if len(line) < 2:
        return line
    out = line.copy()
    out[:, 0] = np.unwrap(line[:, 0], period=360.0)
    # Whole turns back so that the westernmost point lies in [-180, 180).
    out[:, 0] -= 360.0 * np.floor((out[:, 0].min() + 180.0) / 360.0)
    return out


def split_at_cut_edges(line: np.ndarray) -> list[np.ndarray]:
    """Pieces of a coastline without its edges along the antimeridian (or the pole line).

    Natural Earth cuts shapes at +-180 deg and at the South Pole; those cut edges bound
    polygons but are not coasts, so they are not drawn as lines.
    """
    on_cut = np.isclose(np.mod(line[:, 0], 360.0), 180.0, atol=1e-6) | (np.abs(line[:, 1]) >= 89.99)
    cut_edge = on_cut[:-1] & on_cut[1:]
    if not cut_edge.any():
        return [line]
    pieces = np.split(line, np.flatnonzero(cut_edge) + 1)
    # Each piece after a cut starts with the edge's far end, which is what we want; the
    # edge's near end closes the previous piece. Single points are dropped.
    return [piece for piece in pieces if len(piece) >= 2]


def close_around_pole(ring: np.ndarray) -> np.ndarray:
    """Close a ring that, once unwrapped, goes once round the globe (Antarctica) via its pole."""
    if len(ring) < 2 or abs(ring[-1, 0] - ring[0, 0]) < 180.0:
        return ring
    pole = -90.0 if np.mean(ring[:, 1]) < 0 else 90.0
    return np.concatenate([ring, [[ring[-1, 0], pole], [ring[0, 0], pole], ring[0]]])


# --------------------------------------------------------------------------- cropping

def line_bounds(lines: list[np.ndarray]) -> np.ndarray:
    """(n, 4) lon_min, lat_min, lon_max, lat_max of each line."""
    if not lines:
        return np.zeros((0, 4))
    return np.array([[*line.min(axis=0), *line.max(axis=0)] if len(line) else [np.inf, np.inf, -np.inf, -np.inf]
                     for line in lines])


def _intersecting(bounds: np.ndarray, bbox) -> np.ndarray:
    lon_min, lat_min, lon_max, lat_max = bbox
    return np.flatnonzero((bounds[:, 2] >= lon_min) & (bounds[:, 0] <= lon_max)
                          & (bounds[:, 3] >= lat_min) & (bounds[:, 1] <= lat_max))


def crop_lines(lines: list[np.ndarray], bbox, bounds: np.ndarray | None = None) -> list[np.ndarray]:
    """Keep the parts of polylines inside ``bbox`` = (lon_min, lat_min, lon_max, lat_max).

    Each run of inside points keeps one neighbour on each side, so the line still
    reaches the frame edge instead of stopping short of it. ``bounds`` (from
    :func:`line_bounds`) may be passed to save recomputing them.
    """
    lon_min, lat_min, lon_max, lat_max = bbox
    if bounds is None:
        bounds = line_bounds(lines)
    out = []
    for index in _intersecting(bounds, bbox):
        line = lines[index]
        if len(line) < 2:
            continue
        inside = ((line[:, 0] >= lon_min) & (line[:, 0] <= lon_max)
                  & (line[:, 1] >= lat_min) & (line[:, 1] <= lat_max))
        if inside.all():
            out.append(line)
            continue
        # Widen each inside run by one point either way, then cut at the gaps.
        keep = inside.copy()
        keep[:-1] |= inside[1:]
        keep[1:] |= inside[:-1]
        if not keep.any():
            continue  # the line passes across the box between two samples: negligible at 50m
        edges = np.flatnonzero(np.diff(np.concatenate([[0], keep.astype(np.int8), [0]])))
        for start, stop in zip(edges[::2], edges[1::2]):
            if stop - start >= 2:
                out.append(line[start:stop])
    return out


# --------------------------------------------------------------------------- base map

@dataclass
class BaseMap:
    """Map layers in degrees; every line and ring is a (k, 2) array of (lon, lat).

    ``land`` holds polygons ready for filling: exterior rings counter-clockwise, holes
    (lakes, inland seas) clockwise, so a non-zero or even-odd fill leaves holes open.
    """

    land: list[np.ndarray] = field(default_factory=list)
    coastlines: list[np.ndarray] = field(default_factory=list)
    borders: list[np.ndarray] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.land or self.coastlines or self.borders)


def data_file(name: str):
    """The packaged data file ``name`` (a Traversable), or None when it is not installed."""
    try:
        candidate = resources.files("airpicture").joinpath("data", name)
    except (ModuleNotFoundError, TypeError):
        return None
    return candidate if candidate.is_file() else None


def _read_topology(name: str) -> dict | None:
    path = data_file(name)
    if path is None:
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def oriented_rings(polygons: list[list[np.ndarray]]) -> list[np.ndarray]:
    """Flatten polygons to rings with exteriors counter-clockwise and holes clockwise."""
    rings = []
    for polygon in polygons:
        for j, ring in enumerate(polygon):
            if len(ring) < 3:
                continue
            want_ccw = j == 0
            if (signed_area(ring) > 0) != want_ccw:
                ring = ring[::-1]
            rings.append(ring)
    return rings


@functools.lru_cache(maxsize=2)
def _world_layers() -> tuple[BaseMap, dict[str, np.ndarray]] | None:
    """Decode the whole world once per process: the layers and each line's bounds."""
    land_topology = _read_topology(LAND_FILE)
    countries_topology = _read_topology(COUNTRIES_FILE)
    if land_topology is None and countries_topology is None:
        return None
    layers = BaseMap()
    if land_topology is not None:
        arcs = decode_arcs(land_topology)
        polygons = []
        for obj in land_topology.get("objects", {}).values():
            polygons.extend(geometry_polygons(arcs, obj))
        polygons = [[continuous_longitudes(ring) for ring in polygon] for polygon in polygons]
        layers.coastlines = [piece for polygon in polygons for ring in polygon if len(ring) >= 2
                             for piece in split_at_cut_edges(ring)]
        layers.land = oriented_rings([[close_around_pole(ring) for ring in polygon] for polygon in polygons])
    if countries_topology is not None:
        arcs = decode_arcs(countries_topology)
        countries = countries_topology.get("objects", {}).get("countries", {})
        geometries = countries.get("geometries", []) if countries.get("type") == "GeometryCollection" else [countries]
        arcs = [continuous_longitudes(arc) for arc in arcs]
        layers.borders = [arcs[i] for i in shared_arc_ids(geometries)]
        if land_topology is None:
            # Without the land file the countries' outer arcs are the coastline.
            shared = set(shared_arc_ids(geometries).tolist())
            used = set().union(*(_geometry_arc_ids(g) for g in geometries)) if geometries else set()
            layers.coastlines = [arcs[i] for i in sorted(used - shared)]
            polygons = []
            for geometry in geometries:
                polygons.extend(geometry_polygons(arcs, geometry))
            layers.land = oriented_rings([[close_around_pole(ring) for ring in polygon] for polygon in polygons])
    bounds = {name: line_bounds(getattr(layers, name)) for name in ("land", "coastlines", "borders")}
    return layers, bounds


def load_base_map(bbox=None) -> BaseMap | None:
    """Land, coastlines and borders, cropped to ``bbox`` (lon_min, lat_min, lon_max, lat_max, degrees).

    The box may reach beyond +-180 deg longitude (a view centred near the antimeridian);
    the map is then repeated there, shifted by 360 deg.

    Returns ``None`` when the Natural Earth files are not installed (run ``make web``),
    so the caller can note "no base map" instead of failing. Land rings are kept whole
    when they touch the box (cutting a polygon would spoil the fill); lines are cut.
    """
    decoded = _world_layers()
    if decoded is None:
        return None
    world, bounds = decoded
    if bbox is None:
        return BaseMap(list(world.land), list(world.coastlines), list(world.borders))
    lon_min, lat_min, lon_max, lat_max = bbox
    cropped = BaseMap()
    # Shapes unwrapped across the antimeridian reach past +-180 deg, and a view may too:
    # try the world at its place and one turn either side.
    for shift in (-360.0, 0.0, 360.0):
        box = (lon_min - shift, lat_min, lon_max - shift, lat_max)
        offset = np.array([shift, 0.0])
        cropped.land += [world.land[i] + offset for i in _intersecting(bounds["land"], box)]
        cropped.coastlines += [line + offset for line in crop_lines(world.coastlines, box, bounds["coastlines"])]
        cropped.borders += [line + offset for line in crop_lines(world.borders, box, bounds["borders"])]
    return cropped
