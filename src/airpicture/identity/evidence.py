"""What identification rules look at: one row of evidence per track, as columns (`TrackEvidence`).

`build_evidence` computes it from a `TrackStates` snapshot, the scenario's zones and, optionally, per-track IFF
and spoof results produced by other modules. The columns are listed in `COLUMNS` and documented in
docs/identity.md; a missing value is '' (text), NaN (numbers), False (flags) or -1 (integers).

IFF / spoof input (the small interface other modules fill)
---------------------------------------------------------
``iff`` and ``spoof`` are each either

* columnar: a mapping with a ``"track_id"`` array and arrays of the same length named after the columns of
  `IFF_COLUMNS` / `SPOOF_COLUMNS` (any subset); or
* per track: a mapping ``{track_id: {column: value, ...}}``; or
* an object with a ``track_id`` attribute and attributes named after the columns (a dataclass of arrays).

Tracks without a row get the missing values. Track ids must be unique; an unknown column name is an error, so a
typo cannot silently drop evidence. When ``iff`` / ``spoof`` is None, columns of those names already present in
``TrackStates.extra`` are used instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ..geo import ecef_to_geodetic
from ..tracks import PICTURE_STATUSES, TrackStates

# name -> kind ("int", "float", "bool", "str"). The order is the documentation order.
COLUMNS: dict[str, str] = {
    "track_id": "int",
    "time": "float",
    "confirmed": "bool",
    "speed_mps": "float",
    "altitude_m": "float",
    "vertical_rate_mps": "float",
    "class_hint": "str",
    "icao24": "str",
    "callsign": "str",
    "squawk": "str",
    "emergency": "str",
    "category": "str",
    "adsb": "bool",
    "transponder_only": "bool",
    "transponder": "bool",
    "iff_mode3a": "str",
    "iff_mode_c_m": "float",
    "iff_mode_s": "str",
    "iff_authenticated": "bool",
    "iff_reply_time": "float",
    "iff_failure": "str",
    "iff_interrogated": "bool",
    "in_corridor": "str",
    "in_zones": "str",
    "in_hostile_area": "bool",
    "in_protected_zone": "bool",
    "from_hostile_area": "bool",
    "mode3a_friendly": "bool",
    "spoof": "bool",
    "spoof_reason": "str",
    "spoof_offset_m": "float",
}
IFF_COLUMNS = ("iff_mode3a", "iff_mode_c_m", "iff_mode_s", "iff_authenticated", "iff_reply_time", "iff_failure",
               "iff_interrogated")
SPOOF_COLUMNS = ("spoof", "spoof_reason", "spoof_offset_m")
ADSB_COLUMNS = ("icao24", "callsign", "squawk", "emergency", "category")
PROTECTED_ZONE_KINDS = ("control_zone", "no_fly", "restricted", "danger")
IFF_FAILURES = ("", "bad_mac", "stale_slot", "replayed_nonce", "unknown_key", "no_reply")

_DTYPES = {"int": np.int64, "float": np.float64, "bool": np.bool_, "str": object}
_MISSING = {"int": -1, "float": np.nan, "bool": False, "str": ""}


def missing_value(name: str):
    return _MISSING[COLUMNS[name]]


def _column(name: str, values, n: int) -> np.ndarray:
    kind = COLUMNS[name]
    if values is None:
        return np.full(n, _MISSING[kind], dtype=_DTYPES[kind])
    arr = np.asarray(values)
    if arr.ndim == 0:
        arr = np.full(n, arr.item())
    if arr.shape != (n,):
        raise ValueError(f"evidence column {name!r} has shape {arr.shape}, expected ({n},)")
    if kind == "str":
        out = arr.astype(object)
        bad = np.equal(out, None) | np.not_equal(out, out)  # None or NaN
        if bad.any():
            out = out.copy()
            out[bad] = ""
        return out
    return arr.astype(_DTYPES[kind])


@dataclass
class TrackEvidence:
    """One row per track at one time; the columns of `COLUMNS` as attributes (see docs/identity.md)."""

    columns: dict = field(default_factory=dict)

    def __post_init__(self):
        n = len(self.columns["track_id"]) if "track_id" in self.columns else 0
        self.columns = {name: _column(name, self.columns.get(name), n) for name in COLUMNS}

    def __getattr__(self, name):
        cols = self.__dict__.get("columns")
        if cols is not None and name in cols:
            return cols[name]
        raise AttributeError(name)

    def __len__(self) -> int:
        return int(self.columns["track_id"].shape[0])

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    @classmethod
    def from_columns(cls, n: int | None = None, **columns) -> TrackEvidence:
        """Evidence from named columns (arrays or scalars broadcast to ``n`` rows); others missing.

        ``adsb`` (an ICAO address is known), ``transponder`` (any transponder evidence: ADS-B, a squawk, an IFF
        reply) and ``from_hostile_area`` (at least ``in_hostile_area``) are derived when not given, the way
        `build_evidence` derives them. Handy for tests and for callers that compute evidence elsewhere.
        """
        unknown = set(columns) - set(COLUMNS)
        if unknown:
            raise ValueError(f"unknown evidence column(s): {', '.join(sorted(unknown))}")
        if n is None:
            sizes = {np.asarray(v).shape[0] for v in columns.values() if np.asarray(v).ndim == 1}
            if len(sizes) != 1:
                raise ValueError("give n or at least one column array (all of the same length)")
            n = sizes.pop()
        cols = {name: _column(name, columns.get(name), n) for name in COLUMNS}
        if "track_id" not in columns:
            cols["track_id"] = np.arange(n, dtype=np.int64)
        if "adsb" not in columns:
            cols["adsb"] = cols["icao24"] != ""
        if "transponder" not in columns:
            cols["transponder"] = _has_transponder(cols)
        if "from_hostile_area" not in columns:
            cols["from_hostile_area"] = cols["in_hostile_area"].copy()
        return cls(cols)

    def take(self, index) -> TrackEvidence:
        return TrackEvidence({k: v[index] for k, v in self.columns.items()})

    def row(self, i: int) -> dict:
        """Row ``i`` as plain Python values."""
        return {k: v[i].item() if hasattr(v[i], "item") else v[i] for k, v in self.columns.items()}


def _has_transponder(cols: dict) -> np.ndarray:
    return ((cols["icao24"] != "") | (cols["squawk"] != "") | (cols["iff_mode3a"] != "") | (cols["iff_mode_s"] != "")
            | cols["iff_authenticated"] | np.isfinite(cols["iff_mode_c_m"]))


# --------------------------------------------------------------------------------------------- zones

def _wrap(a):
    return (np.asarray(a) + np.pi) % (2.0 * np.pi) - np.pi


class ZoneSet:
    """The scenario's zones prepared once for point-in-polygon tests over many tracks.

    A polygon is tested in (longitude, latitude) as a plane, its edges straight in that plane (rhumb lines):
    at zone sizes (tens of km) the difference from great-circle edges is metres. Longitudes are unwrapped
    around each polygon's first vertex, so a zone may straddle the antimeridian. Inside = the even-odd rule and
    ``floor_m <= geodetic altitude <= ceiling_m``.
    """

    def __init__(self, zones=()):
        zones = list(zones)
        self.names = [str(z.name) for z in zones]
        self.kinds = [str(z.kind) for z in zones]
        self.floor_m = np.array([float(z.floor_m) for z in zones], dtype=float)
        self.ceiling_m = np.array([float(z.ceiling_m) for z in zones], dtype=float)
        self._ref, self._x, self._y, self._box = [], [], [], []
        for z in zones:
            lat = np.asarray(z.polygon_lat_rad, dtype=float)
            lon = np.asarray(z.polygon_lon_rad, dtype=float)
            ref = float(lon[0])
            x = ref + _wrap(lon - ref)
            self._ref.append(ref)
            self._x.append(x)
            self._y.append(lat)
            self._box.append((x.min(), x.max(), lat.min(), lat.max()))

    @classmethod
    def of(cls, assets) -> ZoneSet:
        """A ZoneSet from a ZoneSet, a `Scenario` (or anything with ``.zones``), a list of zones, or None."""
        if isinstance(assets, ZoneSet):
            return assets
        if assets is None:
            return cls(())
        if hasattr(assets, "zones"):
            return cls(assets.zones)
        return cls(assets)

    def __len__(self) -> int:
        return len(self.names)

    def of_kind(self, kind: str) -> np.ndarray:
        return np.array([k == kind for k in self.kinds], dtype=bool)

    def contains(self, lat_rad, lon_rad, alt_m) -> np.ndarray:
        """(n, zones) bool: point n inside zone z (polygon and altitude band)."""
        lat = np.asarray(lat_rad, dtype=float)
        lon = np.asarray(lon_rad, dtype=float)
        alt = np.asarray(alt_m, dtype=float)
        out = np.zeros((lat.shape[0], len(self)), dtype=bool)
        for j in range(len(self)):
            x0, x1, y0, y1 = self._box[j]
            # latitude and altitude first (no wrapping), longitude on the few left
            cand = np.flatnonzero((lat >= y0) & (lat <= y1) & (alt >= self.floor_m[j]) & (alt <= self.ceiling_m[j]))
            if cand.size:
                px = self._ref[j] + _wrap(lon[cand] - self._ref[j])
                keep = (px >= x0) & (px <= x1)
                cand, px = cand[keep], px[keep]
            if cand.size:
                out[cand, j] = _inside_polygon(px, lat[cand], self._x[j], self._y[j])
        return out


def _inside_polygon(px, py, vx, vy) -> np.ndarray:
    """Even-odd rule, vectorised over points (k,) x edges (m,)."""
    ax, ay = vx[None, :], vy[None, :]
    bx, by = np.roll(vx, -1)[None, :], np.roll(vy, -1)[None, :]
    x, y = px[:, None], py[:, None]
    straddles = (ay > y) != (by > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_cross = ax + (y - ay) * (bx - ax) / (by - ay)
    crossings = straddles & (x < x_cross)
    return (np.count_nonzero(crossings, axis=1) % 2) == 1


def _join_names(mask: np.ndarray, names: list[str]) -> np.ndarray:
    """(n, z) bool -> (n,) object: names of the true columns joined by ';' ('' none)."""
    n = mask.shape[0]
    out = np.full(n, "", dtype=object)
    rows = np.flatnonzero(mask.any(axis=1)) if mask.size else np.zeros(0, np.int64)
    if rows.size == 0:
        return out
    sub = mask[rows]
    if sub.shape[1] <= 62:  # one integer per combination of zones: a fast unique
        key = sub.astype(np.int64) @ (np.int64(1) << np.arange(sub.shape[1], dtype=np.int64))
        _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        uniq = sub[first]
    else:
        uniq, inverse = np.unique(sub, axis=0, return_inverse=True)
    labels = np.array([";".join(nm for nm, m in zip(names, row) if m) for row in uniq], dtype=object)
    out[rows] = labels[inverse.reshape(-1)]
    return out


def _first_name(mask: np.ndarray, names: list[str]) -> np.ndarray:
    out = np.full(mask.shape[0], "", dtype=object)
    if mask.size:
        any_ = mask.any(axis=1)
        first = mask.argmax(axis=1)
        out[any_] = np.asarray(names, dtype=object)[first[any_]]
    return out


# ------------------------------------------------------------------------------------- external input

def normalise_codes(codes, *, source: str | None = None, field: str = "friendly_codes") -> frozenset:
    """Mode 3/A codes as 4-octal-digit strings; anything else is an InputError."""
    from ..errors import InputError

    out = set()
    for c in codes or ():
        text = f"{c:04d}" if isinstance(c, int) and not isinstance(c, bool) else str(c).strip()
        if len(text) != 4 or any(ch not in "01234567" for ch in text):
            raise InputError(f"{c!r} is not a Mode 3/A code of 4 octal digits (0000-7777)", source=source,
                             field=field)
        out.add(text)
    return frozenset(out)


def _per_track(data, allowed: tuple, what: str, track_id: np.ndarray) -> dict:
    """The IFF / spoof input (see the module docstring) aligned with ``track_id``: {column: (n,) array}."""
    n = track_id.shape[0]
    if isinstance(data, Mapping) and "track_id" in data:
        ids = np.asarray(data["track_id"], dtype=np.int64)
        given = {k: v for k, v in data.items() if k != "track_id"}
    elif isinstance(data, Mapping):
        ids = np.fromiter((int(k) for k in data), dtype=np.int64, count=len(data))
        names = sorted({k for row in data.values() for k in row})
        unknown = set(names) - set(allowed)
        if unknown:
            raise ValueError(f"unknown {what} column(s): {', '.join(sorted(unknown))}; known: {', '.join(allowed)}")
        given = {k: [row.get(k, missing_value(k)) for row in data.values()] for k in names}
    elif hasattr(data, "track_id"):
        ids = np.asarray(data.track_id, dtype=np.int64)
        given = {k: getattr(data, k) for k in allowed if getattr(data, k, None) is not None}
    else:
        raise TypeError(f"{what} input: expected a mapping or an object with track_id, got {type(data).__name__}")
    unknown = set(given) - set(allowed)
    if unknown:
        raise ValueError(f"unknown {what} column(s): {', '.join(sorted(unknown))}; known: {', '.join(allowed)}")
    if np.unique(ids).size != ids.size:
        raise ValueError(f"{what} input: duplicate track ids")
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    pos = np.searchsorted(sorted_ids, track_id)
    pos_c = np.minimum(pos, max(sorted_ids.size - 1, 0))
    found = (pos < sorted_ids.size) & (sorted_ids[pos_c] == track_id) if sorted_ids.size else np.zeros(n, bool)
    src = order[pos_c[found]] if sorted_ids.size else np.zeros(0, np.int64)
    out = {}
    for k, values in given.items():
        col = _column(k, None, n)
        vals = _column(k, values, ids.size)
        col[found] = vals[src]
        out[k] = col
    return out


# ---------------------------------------------------------------------------------------------- builder

def build_evidence(states: TrackStates, scenario_assets=None, *, iff=None, spoof=None, friendly_codes=(),
                   from_hostile_area=None, time: float | None = None) -> TrackEvidence:
    """Evidence for every row of ``states`` (one row per track).

    Parameters
    ----------
    states : TrackStates
        A snapshot; ECEF position / velocity, status, class hint, ``extra`` (ADS-B identity columns,
        ``transponder_only``; IFF / spoof columns if another stage put them there).
    scenario_assets : Scenario, list of Zone, ZoneSet or None
        Zones for ``in_corridor`` (kind ``corridor``), ``in_zones`` (all) and ``in_hostile_area``
        (kind ``hostile_area``). Pass a prepared `ZoneSet` when calling often.
    iff, spoof : optional
        Per-track IFF and spoof results (module docstring).
    friendly_codes : iterable of str
        The day's friendly Mode 3/A codes: ``mode3a_friendly`` when the IFF Mode 3/A code or the ADS-B squawk is
        on it.
    from_hostile_area : (n,) bool, optional
        Memory kept by the caller (`IdentityEngine`): the track was inside a hostile area at an earlier update.
        ORed with ``in_hostile_area`` now.
    time : float, optional
        The evidence time (default: ``states.time``).
    """
    n = len(states)
    zones = ZoneSet.of(scenario_assets)
    codes = friendly_codes if isinstance(friendly_codes, frozenset) else normalise_codes(friendly_codes)
    extra = states.extra or {}
    cols: dict[str, np.ndarray] = {}
    track_id = np.asarray(states.track_id, dtype=np.int64)
    cols["track_id"] = track_id
    cols["time"] = np.full(n, float(time)) if time is not None else np.asarray(states.time, dtype=float)
    cols["confirmed"] = np.isin(states.status, PICTURE_STATUSES)

    pos = np.asarray(states.position, dtype=float).reshape(n, 3)
    vel = np.asarray(states.velocity, dtype=float).reshape(n, 3)
    lat, lon, alt = ecef_to_geodetic(pos)
    cl = np.cos(lat)
    up = np.stack([cl * np.cos(lon), cl * np.sin(lon), np.sin(lat)], axis=-1)
    cols["speed_mps"] = np.linalg.norm(vel, axis=1)
    cols["altitude_m"] = alt
    cols["vertical_rate_mps"] = np.einsum("ij,ij->i", vel, up)
    hint = states.track_class
    cols["class_hint"] = _column("class_hint", hint, n) if hint is not None else np.full(n, "unknown", object)
    cols["class_hint"][cols["class_hint"] == ""] = "unknown"

    for name in ADSB_COLUMNS + ("transponder_only",):
        cols[name] = _column(name, extra.get(name), n)
    cols["adsb"] = cols["icao24"] != ""

    for names, data, what in ((IFF_COLUMNS, iff, "iff"), (SPOOF_COLUMNS, spoof, "spoof")):
        given = _per_track(data, names, what, track_id) if data is not None else \
            {k: extra[k] for k in names if k in extra}
        for k in names:
            cols[k] = _column(k, given.get(k), n)
    cols["transponder"] = _has_transponder(cols)

    inside = zones.contains(lat, lon, alt)
    corridor = zones.of_kind("corridor")
    hostile = zones.of_kind("hostile_area")
    cols["in_corridor"] = _first_name(inside[:, corridor], [nm for nm, c in zip(zones.names, corridor) if c])
    cols["in_zones"] = _join_names(inside, zones.names)
    cols["in_hostile_area"] = inside[:, hostile].any(axis=1) if hostile.any() else np.zeros(n, bool)
    # airspace where an unidentified aircraft has no business: control zones, no-fly, restricted, danger areas
    protected = np.zeros(len(zones.names), bool)
    for kind in PROTECTED_ZONE_KINDS:
        protected |= zones.of_kind(kind)
    cols["in_protected_zone"] = inside[:, protected].any(axis=1) if protected.any() else np.zeros(n, bool)
    before = np.zeros(n, bool) if from_hostile_area is None else np.asarray(from_hostile_area, dtype=bool)
    cols["from_hostile_area"] = before | cols["in_hostile_area"]

    if codes:
        code_list = sorted(codes)
        cols["mode3a_friendly"] = (np.isin(cols["iff_mode3a"].astype(str), code_list)
                                   | np.isin(cols["squawk"].astype(str), code_list))
    else:
        cols["mode3a_friendly"] = np.zeros(n, bool)
    return TrackEvidence(cols)
