"""Read a scenario TOML file (or a built-in by name) into a validated :class:`Scenario`.

Every value is checked (presence, type, range) and converted to SI once. Any problem
raises :class:`airpicture.errors.InputError` naming the file, the line and the field
path, e.g. ``demo.toml:42, field 'targets[3].waypoints[1].lat': latitude 95 outside
[-90, 90] deg``. The file format is documented in docs/scenario.md.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from pathlib import Path

import numpy as np

from ..errors import InputError, read_user_text
from ..identity.iff_schema import (
    parse_interrogator,
    parse_target_iff,
    resolve_transponders,
)
from ..measurements import SensorSite
from ..sensors.params import COMMON_KEYS, SENSOR_TYPES
from .classes import TARGET_CLASSES
from .model import DefendedPoint, Scenario, TargetSpec, Waypoint, Zone
from .toml_lines import format_path, key_lines, line_of, to_float
from .trajectory import read_trajectory_csv

DEG = math.pi / 180.0
KT = 0.514444  # m/s per knot
KM = 1000.0

# Kinds of zone a scenario may declare. Later issues (threat) may add to this set.
ZONE_KINDS = {"control_zone", "no_fly", "restricted", "danger", "hostile_area", "friendly_area", "corridor",
              "air_defence", "exclusion"}
# Truth affiliation of a target (what identification should conclude), STANAG 1241 terms.
AFFILIATIONS = {"friend", "assumed_friend", "neutral", "unknown", "suspect", "hostile"}

TOP_KEYS = {"name", "description", "duration_s", "seed", "truth_step_s", "sensors", "targets", "assets", "tracker"}
TARGET_KEYS = {"name", "class", "start_time_s", "rcs_m2", "swerling", "waypoints", "trajectory_csv", "loop",
               "affiliation", "callsign", "iff"}
WAYPOINT_KEYS = {"lat", "lon", "alt_m", "alt_ft", "speed_kt", "speed_mps", "turn_g"}
POINT_KEYS = {"name", "lat", "lon", "alt_m", "radius_km"}
ZONE_KEYS = {"name", "kind", "polygon", "floor_m", "ceiling_m"}

# Valid ranges of sensor parameters, in file units: (low, high, low inclusive, high inclusive).
# A parameter missing here is only type-checked, so a sensor model may add parameters to
# sensors/params.py without touching the loader.
_INF = math.inf
PARAM_RANGES: dict[str, tuple[float, float, bool, bool]] = {
    "scan_period_s": (0.0, 600.0, False, True),
    "update_period_s": (0.0, 600.0, False, True),
    "start_azimuth_deg": (-360.0, 360.0, True, True),
    "beamwidth_az_deg": (0.0, 90.0, False, True),
    "range_max_km": (0.0, 5_000.0, False, True),
    "range_min_km": (0.0, 5_000.0, True, True),
    "elevation_min_deg": (-90.0, 90.0, True, True),
    "elevation_max_deg": (-90.0, 90.0, True, True),
    "azimuth_min_deg": (-360.0, 360.0, True, True),
    "azimuth_max_deg": (-360.0, 720.0, True, True),
    "range_resolution_m": (0.0, 100_000.0, False, True),
    "reference_range_km": (0.0, 5_000.0, False, True),
    "reference_snr_db": (-50.0, 150.0, True, True),
    "pfa": (0.0, 1.0, False, False),
    "pd": (0.0, 1.0, True, True),
    "false_alarms_per_scan": (0.0, 1e6, True, True),
    "false_alarms_per_update": (0.0, 1e6, True, True),
    "mti_min_radial_speed_mps": (0.0, 1_000.0, True, True),
    "sigma_range_m": (0.0, 100_000.0, False, True),
    "sigma_azimuth_deg": (0.0, 45.0, False, True),
    "sigma_elevation_deg": (0.0, 45.0, False, True),
    "sigma_range_rate_mps": (0.0, 1_000.0, True, True),
    "message_loss_probability": (0.0, 1.0, True, False),
}
PARAM_CHOICES: dict[str, set] = {"dimension": {2, 3}}


class _Context:
    """The file being read: its text positions, for errors that point at a line."""

    def __init__(self, source: str, text: str, base_dir: Path):
        self.source = source
        self.text = text
        self.base_dir = base_dir
        self._lines: dict[tuple, int] | None = None

    def lines(self) -> dict[tuple, int]:
        if self._lines is None:
            self._lines = key_lines(self.text)
        return self._lines

    def fail(self, path: tuple, message: str) -> InputError:
        return InputError(message, source=self.source, line=line_of(self.lines(), path),
                          field=format_path(path) or None)

    # -- typed getters
    def table(self, value, path: tuple) -> dict:
        if not isinstance(value, dict):
            raise self.fail(path, f"expected a table, found {_kind(value)}")
        return value

    def list_of_tables(self, value, path: tuple) -> list[dict]:
        if not isinstance(value, list):
            raise self.fail(path, f"expected an array of tables ([[{path[-1]}]]), found {_kind(value)}")
        for i, item in enumerate(value):
            self.table(item, path + (i,))
        return value

    def check_keys(self, table: dict, allowed: set, path: tuple, what: str, allow_tables: bool = False) -> None:
        for key, value in table.items():
            if key in allowed or (allow_tables and isinstance(value, dict)):
                continue
            hint = difflib.get_close_matches(key, sorted(allowed), n=1)
            suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
            raise self.fail(path + (key,), f"unknown {what} '{key}'{suggestion}; allowed: {', '.join(sorted(allowed))}")

    def number(self, table: dict, key: str, path: tuple, *, default=None, required=False,
               low=-_INF, high=_INF, low_inclusive=True, high_inclusive=True, unit="") -> float | None:
        if key not in table:
            if required:
                raise self.fail(path, f"missing required key '{key}'")
            return default
        value = table[key]
        here = path + (key,)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(here, f"expected a number, found {_kind(value)}")
        value = to_float(value)
        if not math.isfinite(value):
            raise self.fail(here, f"{value} is not a finite number")
        too_low = value < low or (value == low and not low_inclusive)
        too_high = value > high or (value == high and not high_inclusive)
        if too_low or too_high:
            lo = ("[" if low_inclusive else "(") + _fmt(low)
            hi = _fmt(high) + ("]" if high_inclusive else ")")
            raise self.fail(here, f"{_fmt(value)}{unit and ' ' + unit} is outside {lo}, {hi}{unit and ' ' + unit}")
        return value

    def integer(self, table: dict, key: str, path: tuple, *, default=None, required=False, low=None, high=None):
        if key not in table:
            if required:
                raise self.fail(path, f"missing required key '{key}'")
            return default
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(path + (key,), f"expected an integer, found {_kind(value)}")
        if (low is not None and value < low) or (high is not None and value > high):
            raise self.fail(path + (key,), f"{value} is outside [{low}, {high}]")
        return value

    def string(self, table: dict, key: str, path: tuple, *, default=None, required=False) -> str | None:
        if key not in table:
            if required:
                raise self.fail(path, f"missing required key '{key}'")
            return default
        value = table[key]
        if not isinstance(value, str):
            raise self.fail(path + (key,), f"expected a string, found {_kind(value)}")
        if required and not value.strip():
            raise self.fail(path + (key,), "must not be empty")
        return value

    def boolean(self, table: dict, key: str, path: tuple, *, default: bool) -> bool:
        if key not in table:
            return default
        value = table[key]
        if not isinstance(value, bool):
            raise self.fail(path + (key,), f"expected true or false, found {_kind(value)}")
        return value

    def lat_lon(self, table: dict, path: tuple) -> tuple[float, float]:
        lat = self.number(table, "lat", path, required=True, low=-90.0, high=90.0, unit="deg")
        lon = self.number(table, "lon", path, required=True, low=-180.0, high=360.0, unit="deg")
        return lat * DEG, _wrap_lon(lon) * DEG


def _wrap_lon(lon_deg: float) -> float:
    return (lon_deg + 180.0) % 360.0 - 180.0


def _fmt(x: float) -> str:
    if x in (_INF, -_INF):
        return "inf" if x > 0 else "-inf"
    return f"{x:g}"


def _kind(value) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "an array",
             dict: "a table"}
    for t, name in names.items():
        if type(value) is t:
            return f"{name} ({value!r})" if t in (bool, int, float, str) else name
    return type(value).__name__


# ------------------------------------------------------------------------ sections

def polygon_self_intersection(lat, lon) -> tuple[int, int] | None:
    """First pair of edges (i, j), i < j, of the closed polygon that meet other than at the vertex two
    neighbouring edges share (crossing, touching, overlapping, or an edge of zero length); None when simple.
    Edge k runs from vertex k to vertex k+1 (mod m), straight in the (longitude, latitude) plane, longitudes
    unwrapped around the first vertex (as `identity.evidence.ZoneSet` tests inside)."""
    y = np.asarray(lat, dtype=float)
    x = np.asarray(lon, dtype=float)
    x = x[0] + (x - x[0] + np.pi) % (2.0 * np.pi) - np.pi
    m = x.shape[0]
    ax, ay = x, y
    bx, by = np.roll(x, -1), np.roll(y, -1)
    zero = (ax == bx) & (ay == by)
    if zero.any():
        k = int(np.flatnonzero(zero)[0])
        return (k, (k + 1) % m) if k + 1 < m else ((k + 1) % m, k)
    i, j = np.triu_indices(m, k=1)
    adjacent = (j == i + 1) | ((i == 0) & (j == m - 1))

    def orient(px, py, qx, qy, rx, ry):
        return np.sign((qx - px) * (ry - py) - (qy - py) * (rx - px))

    def on_segment(px, py, qx, qy, rx, ry):  # r on segment pq, given collinear
        return ((np.minimum(px, qx) <= rx) & (rx <= np.maximum(px, qx))
                & (np.minimum(py, qy) <= ry) & (ry <= np.maximum(py, qy)))

    A = (ax[i], ay[i]); B = (bx[i], by[i]); C = (ax[j], ay[j]); D = (bx[j], by[j])
    o1, o2 = orient(*A, *B, *C), orient(*A, *B, *D)
    o3, o4 = orient(*C, *D, *A), orient(*C, *D, *B)
    meet = (o1 * o2 < 0) & (o3 * o4 < 0)
    meet |= (o1 == 0) & on_segment(*A, *B, *C)
    meet |= (o2 == 0) & on_segment(*A, *B, *D)
    meet |= (o3 == 0) & on_segment(*C, *D, *A)
    meet |= (o4 == 0) & on_segment(*C, *D, *B)
    # neighbours share a vertex: they only meet wrongly when they fold back over each other
    ex_i, ey_i = bx[i] - ax[i], by[i] - ay[i]
    ex_j, ey_j = bx[j] - ax[j], by[j] - ay[j]
    folded = ((ex_i * ey_j - ey_i * ex_j) == 0) & ((ex_i * ex_j + ey_i * ey_j) < 0)
    bad = np.where(adjacent, folded, meet) if m > 3 else folded
    if not bad.any():
        return None
    k = int(np.flatnonzero(bad)[0])
    return int(i[k]), int(j[k])


def _sensor(ctx: _Context, table: dict, index: int, names: set) -> SensorSite:
    path = ("sensors", index)
    kind = ctx.string(table, "type", path, required=True)
    if kind not in SENSOR_TYPES:
        raise ctx.fail(path + ("type",), f"unknown sensor type '{kind}'; known: {', '.join(sorted(SENSOR_TYPES))}")
    schema = SENSOR_TYPES[kind]
    # A radar may carry an IFF interrogator: `iff = { ... }` (identity/iff_schema.py, docs/identity.md "IFF").
    iff_key = {"iff"} if kind == "radar" else set()
    if "iff" in table and not iff_key:
        raise ctx.fail(path + ("iff",), f"an IFF interrogator sits with a radar, not an {kind} sensor")
    ctx.check_keys(table, set(COMMON_KEYS) | set(schema) | iff_key, path, f"{kind} parameter")
    name = ctx.string(table, "name", path, default=f"{kind}{index}")
    if name in names:
        raise ctx.fail(path + ("name",), f"duplicate sensor name '{name}'")
    names.add(name)
    lat, lon = ctx.lat_lon(table, path)
    alt = ctx.number(table, "alt_m", path, default=0.0, low=-500.0, high=50_000.0, unit="m")
    params: dict[str, object] = {}
    for key, (si_key, factor, default, _doc) in schema.items():
        if key in PARAM_CHOICES:
            value = ctx.integer(table, key, path, default=default)
            if value not in PARAM_CHOICES[key]:
                choices = ", ".join(str(c) for c in sorted(PARAM_CHOICES[key]))
                raise ctx.fail(path + (key,), f"{value} is not one of {choices}")
        elif isinstance(default, bool):
            value = ctx.boolean(table, key, path, default=default)
        elif isinstance(default, str):
            value = ctx.string(table, key, path, default=default)
        else:
            low, high, low_inc, high_inc = PARAM_RANGES.get(key, (-_INF, _INF, True, True))
            value = ctx.number(table, key, path, default=default, low=low, high=high,
                               low_inclusive=low_inc, high_inclusive=high_inc)
            if value is not None and factor is not None:
                value = float(value) * factor
            elif value is not None and not isinstance(default, int):
                value = float(value)
        params[si_key] = value
    for low_key, high_key in (("range_min_km", "range_max_km"), ("elevation_min_deg", "elevation_max_deg")):
        if low_key in schema and high_key in schema:
            lo_si, hi_si = params[schema[low_key][0]], params[schema[high_key][0]]
            if lo_si is not None and hi_si is not None and lo_si >= hi_si:
                bad = low_key if low_key in table else high_key
                raise ctx.fail(path + (bad,), f"{low_key} must be below {high_key}")
    if "iff" in table:
        params["iff"] = parse_interrogator(table["iff"], lambda sub, msg: ctx.fail(path + ("iff",) + sub, msg),
                                           scan_period_s=params["scan_period_s"], range_max_m=params["range_max_m"])
    return SensorSite(name=name, kind=kind, lat_rad=lat, lon_rad=lon, alt_m=alt, params=params, index=index)


def _waypoint(ctx: _Context, table: dict, path: tuple, cls, previous_alt: float) -> Waypoint:
    ctx.check_keys(table, WAYPOINT_KEYS, path, "waypoint key")
    lat, lon = ctx.lat_lon(table, path)
    if "alt_m" in table and "alt_ft" in table:
        raise ctx.fail(path + ("alt_ft",), "give alt_m or alt_ft, not both")
    ceiling = cls.max_altitude_m
    if "alt_ft" in table:
        alt = ctx.number(table, "alt_ft", path, low=-1_500.0, high=ceiling / 0.3048, unit="ft") * 0.3048
    else:
        alt = ctx.number(table, "alt_m", path, default=previous_alt, low=-500.0, high=ceiling, unit="m")
    if "speed_kt" in table and "speed_mps" in table:
        raise ctx.fail(path + ("speed_mps",), "give speed_kt or speed_mps, not both")
    speed = None
    low = max(cls.min_speed_mps, 0.0)
    if "speed_kt" in table:
        speed = ctx.number(table, "speed_kt", path, low=low / KT, high=cls.max_speed_mps / KT,
                           low_inclusive=low > 0, unit="kt") * KT
    elif "speed_mps" in table:
        speed = ctx.number(table, "speed_mps", path, low=low, high=cls.max_speed_mps,
                           low_inclusive=low > 0, unit="m/s")
    turn_g = None
    if "turn_g" in table:
        turn_g = ctx.number(table, "turn_g", path, low=1.0, high=cls.max_load_factor * (1 + 1e-9),
                            low_inclusive=False, unit="g")
    return Waypoint(lat_rad=lat, lon_rad=lon, alt_m=alt, speed_mps=speed, turn_load_factor=turn_g)


def _target(ctx: _Context, table: dict, index: int, names: set, duration_s: float) -> TargetSpec:
    path = ("targets", index)
    ctx.check_keys(table, TARGET_KEYS, path, "target key", allow_tables=True)
    name = ctx.string(table, "name", path, default=f"target{index}")
    if name in names:
        raise ctx.fail(path + ("name",), f"duplicate target name '{name}'")
    names.add(name)
    class_name = ctx.string(table, "class", path, required=True)
    if class_name not in TARGET_CLASSES:
        hint = difflib.get_close_matches(class_name, sorted(TARGET_CLASSES), n=1)
        suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
        raise ctx.fail(path + ("class",), f"unknown target class '{class_name}'{suggestion}; "
                                          f"known: {', '.join(sorted(TARGET_CLASSES))}")
    cls = TARGET_CLASSES[class_name]
    start = ctx.number(table, "start_time_s", path, default=0.0, low=0.0, high=duration_s, unit="s")
    rcs = ctx.number(table, "rcs_m2", path, low=0.0, high=1e6, low_inclusive=False, unit="m^2")
    swerling = ctx.integer(table, "swerling", path, low=0, high=4)
    loop = ctx.boolean(table, "loop", path, default=cls.category == "bird")
    attributes: dict = {k: v for k, v in table.items() if isinstance(v, dict)}
    affiliation = ctx.string(table, "affiliation", path)
    if affiliation is not None:
        if affiliation not in AFFILIATIONS:
            raise ctx.fail(path + ("affiliation",), f"unknown affiliation '{affiliation}'; "
                                                    f"known: {', '.join(sorted(AFFILIATIONS))}")
        attributes["affiliation"] = affiliation
    callsign = ctx.string(table, "callsign", path)
    if callsign is not None:
        attributes["callsign"] = callsign
    if "iff" in table:  # validated here (line numbers); kept as written, identity/iff.py reads it
        parse_target_iff(table["iff"], lambda sub, msg: ctx.fail(path + ("iff",) + sub, msg),
                         transponder=table.get("transponder"))

    has_wp, has_csv = "waypoints" in table, "trajectory_csv" in table
    if has_wp == has_csv:
        raise ctx.fail(path, "give exactly one of 'waypoints' or 'trajectory_csv'")
    spec = TargetSpec(name=name, target_class=class_name, start_time_s=start, rcs_m2=rcs, swerling=swerling,
                      attributes=attributes, loop=loop)
    if has_csv:
        rel = ctx.string(table, "trajectory_csv", path, required=True)
        csv_path = (ctx.base_dir / rel) if not Path(rel).is_absolute() else Path(rel)
        spec.trajectory_file = csv_path
        spec.recorded = read_trajectory_csv(csv_path)
        return spec
    wp_path = path + ("waypoints",)
    waypoints = table["waypoints"]
    if not isinstance(waypoints, list):
        raise ctx.fail(wp_path, f"expected an array of inline tables {{lat, lon, alt_m, speed_kt}}, "
                                f"found {_kind(waypoints)}")
    need = 1 if loop else 2
    if len(waypoints) < need:
        raise ctx.fail(wp_path, f"needs at least {need} waypoint{'s' if need > 1 else ''}"
                                f"{'' if loop else ' (or loop = true)'}")
    alt = cls.default_altitude_m
    for i, item in enumerate(waypoints):
        w = _waypoint(ctx, ctx.table(item, wp_path + (i,)), wp_path + (i,), cls, alt)
        spec.waypoints.append(w)
        alt = w.alt_m
    if all(w.speed_mps is None for w in spec.waypoints) and cls.cruise_speed_mps <= 0:
        raise ctx.fail(wp_path, "give a speed")
    return spec


def _assets(ctx: _Context, table: dict) -> tuple[list[DefendedPoint], list[Zone]]:
    path = ("assets",)
    ctx.check_keys(table, {"defended_points", "zones"}, path, "assets key")
    points, zones = [], []
    for i, p in enumerate(ctx.list_of_tables(table.get("defended_points", []), path + ("defended_points",))):
        here = path + ("defended_points", i)
        ctx.check_keys(p, POINT_KEYS, here, "defended point key")
        name = ctx.string(p, "name", here, required=True)
        lat, lon = ctx.lat_lon(p, here)
        alt = ctx.number(p, "alt_m", here, default=0.0, low=-500.0, high=10_000.0, unit="m")
        radius = ctx.number(p, "radius_km", here, required=True, low=0.0, high=1_000.0, low_inclusive=False,
                            unit="km")
        points.append(DefendedPoint(name=name, lat_rad=lat, lon_rad=lon, alt_m=alt, radius_m=radius * KM))
    for i, z in enumerate(ctx.list_of_tables(table.get("zones", []), path + ("zones",))):
        here = path + ("zones", i)
        ctx.check_keys(z, ZONE_KEYS, here, "zone key")
        name = ctx.string(z, "name", here, required=True)
        kind = ctx.string(z, "kind", here, required=True)
        if kind not in ZONE_KINDS:
            raise ctx.fail(here + ("kind",), f"unknown zone kind '{kind}'; known: {', '.join(sorted(ZONE_KINDS))}")
        if "polygon" not in z:
            raise ctx.fail(here, "missing required key 'polygon'")
        poly = z["polygon"]
        if not isinstance(poly, list) or len(poly) < 3:
            count = f"{len(poly)} vertices" if isinstance(poly, list) else _kind(poly)
            raise ctx.fail(here + ("polygon",), f"zone '{name}': expected at least 3 vertices [[lat, lon], ...], "
                                                f"found {count}")
        lats, lons = [], []
        for k, vertex in enumerate(poly):
            vpath = here + ("polygon", k)
            if (not isinstance(vertex, list) or len(vertex) != 2
                    or any(isinstance(c, bool) or not isinstance(c, (int, float)) for c in vertex)):
                raise ctx.fail(vpath, "expected a vertex [lat, lon] of two numbers (deg)")
            la, lo = float(vertex[0]), float(vertex[1])
            if not -90.0 <= la <= 90.0:
                raise ctx.fail(vpath, f"latitude {la:g} is outside [-90, 90] deg")
            if not -180.0 <= lo <= 360.0:
                raise ctx.fail(vpath, f"longitude {lo:g} is outside [-180, 360] deg")
            lats.append(la * DEG)
            lons.append(_wrap_lon(lo) * DEG)
        crossing = polygon_self_intersection(np.array(lats), np.array(lons))
        if crossing is not None:
            i, j = crossing
            m = len(lats)
            raise ctx.fail(here + ("polygon",), f"zone '{name}': the polygon crosses itself (edge from vertex "
                                                f"{i + 1} to {(i + 1) % m + 1} meets edge from vertex {j + 1} to "
                                                f"{(j + 1) % m + 1}); list the vertices in order around the zone")
        floor = ctx.number(z, "floor_m", here, default=0.0, low=-500.0, high=100_000.0, unit="m")
        ceiling = ctx.number(z, "ceiling_m", here, default=20_000.0, low=-500.0, high=100_000.0, unit="m")
        if ceiling <= floor:
            raise ctx.fail(here + ("ceiling_m" if "ceiling_m" in z else "floor_m",),
                           f"zone '{name}': ceiling {ceiling:g} m must be above floor {floor:g} m")
        zones.append(Zone(name=name, kind=kind, polygon_lat_rad=np.array(lats), polygon_lon_rad=np.array(lons),
                          floor_m=floor, ceiling_m=ceiling))
    return points, zones


def _check_iff_across_targets(ctx: _Context, targets: list[TargetSpec]) -> None:
    """IFF checks across targets: unique platform ids, replay spoofers name a platform with a valid key."""
    configs = [parse_target_iff(t.attributes.get("iff"), lambda sub, msg, i=i: ctx.fail(("targets", i, "iff") + sub,
                                                                                        msg),
                                transponder=t.attributes.get("transponder")) for i, t in enumerate(targets)]
    resolve_transponders(configs, [t.name for t in targets],
                         lambda i, sub, msg: ctx.fail(("targets", i, "iff") + sub, msg))


def _check_transponders(ctx: _Context, targets: list[TargetSpec]) -> None:
    """The targets' ADS-B ``transponder`` tables (sensors/adsb.py ``parse_transponders``: keys, address, callsign,
    codes, spoof options), checked at load time so that an error names its line; kept as written."""
    from ..sensors.adsb import parse_transponders

    if not any("transponder" in t.attributes for t in targets):
        return
    try:
        parse_transponders([t.attributes.get("transponder") for t in targets],
                           target_class=[t.target_class for t in targets],
                           callsigns=[t.attributes.get("callsign") for t in targets], source=ctx.source)
    except InputError as exc:
        path = tuple(int(part) if part.isdigit() else part
                     for part in re.findall(r"[^.\[\]]+", exc.field or ""))
        raise ctx.fail(path, exc.message) from None


def _broadcasts_adsb(spec: TargetSpec) -> bool:
    table = spec.attributes.get("transponder")
    return isinstance(table, dict) and table.get("adsb", True) is not False


def default_adsb_receiver(sensors: list[SensorSite], targets: list[TargetSpec]) -> SensorSite | None:
    """The implicit ADS-B receiver of a scenario whose targets broadcast ADS-B but that declares no ``adsb``
    sensor: default parameters, at the site of the first radar (else the first sensor; with no sensor at all,
    10 m above the first broadcasting target's start), appended after the declared sensors and marked
    ``params["implicit"] = True``. None when a receiver is declared or nothing broadcasts."""
    if any(s.kind == "adsb" for s in sensors) or not any(_broadcasts_adsb(t) for t in targets):
        return None
    from ..sensors.params import ADSB_PARAMS, si_defaults

    host = next((s for s in sensors if s.kind == "radar"), sensors[0] if sensors else None)
    if host is not None:
        lat, lon, alt = host.lat_rad, host.lon_rad, host.alt_m
    else:
        spec = next(t for t in targets if _broadcasts_adsb(t))
        if spec.waypoints:
            lat, lon = spec.waypoints[0].lat_rad, spec.waypoints[0].lon_rad
        else:
            lat, lon = float(spec.recorded[0, 1]), float(spec.recorded[0, 2])
        alt = 10.0
    names = {s.name for s in sensors}
    name = "adsb"
    k = 1
    while name in names:
        name, k = f"adsb{k}", k + 1
    params = si_defaults(ADSB_PARAMS)
    params["implicit"] = True
    return SensorSite(name=name, kind="adsb", lat_rad=lat, lon_rad=lon, alt_m=alt, params=params,
                      index=len(sensors))


# ------------------------------------------------------------------------ entry points

def parse_scenario(text: str, source: str = "<string>", base_dir: str | Path = ".",
                   default_name: str = "scenario") -> Scenario:
    """Validate scenario TOML ``text``; ``source`` names it in errors, ``base_dir`` resolves CSV paths."""
    ctx = _Context(source, text, Path(base_dir))
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"TOML syntax error: {_strip_position(str(exc))}", source=source,
                         line=_toml_error_line(exc, text)) from None
    ctx.check_keys(raw, TOP_KEYS, (), "top-level key", allow_tables=True)
    name = ctx.string(raw, "name", (), default=default_name)
    description = ctx.string(raw, "description", (), default="")
    duration = ctx.number(raw, "duration_s", (), required=True, low=0.0, high=1e7, low_inclusive=False, unit="s")
    seed = ctx.integer(raw, "seed", (), default=0, low=0, high=2**63 - 1)
    step = ctx.number(raw, "truth_step_s", (), default=0.5, low=0.0, high=60.0, low_inclusive=False, unit="s")
    if step > duration:
        raise ctx.fail(("truth_step_s",), f"truth_step_s ({step:g} s) is longer than duration_s ({duration:g} s)")

    sensors, sensor_names = [], set()
    for i, s in enumerate(ctx.list_of_tables(raw.get("sensors", []), ("sensors",))):
        sensors.append(_sensor(ctx, s, i, sensor_names))
    targets, target_names = [], set()
    for i, t in enumerate(ctx.list_of_tables(raw.get("targets", []), ("targets",))):
        targets.append(_target(ctx, t, i, target_names, duration))
    _check_transponders(ctx, targets)
    _check_iff_across_targets(ctx, targets)
    receiver = default_adsb_receiver(sensors, targets)
    if receiver is not None:
        sensors.append(receiver)
    points, zones = _assets(ctx, ctx.table(raw["assets"], ("assets",))) if "assets" in raw else ([], [])
    tracker = ctx.table(raw["tracker"], ("tracker",)) if "tracker" in raw else {}
    return Scenario(name=name, description=description, duration_s=duration, seed=seed, sensors=sensors,
                    targets=targets, defended_points=points, zones=zones, truth_step_s=step,
                    tracker=dict(tracker), source=source, raw=raw)


def load_scenario(path_or_name: str | Path) -> Scenario:
    """Load a scenario from a TOML file path or a built-in name (see ``airpicture scenarios``).

    A path that exists wins over a built-in of the same name. ``Scenario.source`` is the
    file path, or ``builtin:NAME`` for a built-in.
    """
    from .builtin import builtin_path, list_builtin

    ref = str(path_or_name)
    path = Path(ref)
    builtin = None
    if not path.is_file():
        builtin = builtin_path(ref)
        if builtin is None:
            names = ", ".join(n for n, _ in list_builtin())
            looks_like_file = path.suffix or "/" in ref or "\\" in ref
            what = "no such scenario file" if looks_like_file else "no such scenario file or built-in"
            raise InputError(f"{what} '{ref}' (built-ins: {names})", source=ref if looks_like_file else None)
        path = builtin
    text = read_user_text(path, "scenario")
    scenario = parse_scenario(text, source=str(path), base_dir=path.parent, default_name=path.stem)
    if builtin is not None:
        scenario.source = f"builtin:{ref}"
    return scenario


_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")


def _toml_error_line(exc: Exception, text: str) -> int | None:
    line = getattr(exc, "lineno", None)
    if line:
        return int(line)
    match = _POSITION.search(str(exc))
    if match:
        return int(match.group(1))
    if "end of document" in str(exc):
        return max(1, text.count("\n") + (0 if text.endswith("\n") else 1))
    return None


def _strip_position(message: str) -> str:
    return re.sub(r"\s*\((at line \d+, column \d+|at end of document)\)", "", message)
