"""Simulated ADS-B transponders: genuine DF17 extended squitters from the scenario truth.

Every target with a ``transponder`` table (``adsb = true``, the default) broadcasts, while it exists and is
airborne:

* airborne position (TC 9-18, barometric altitude in 25 ft steps, CPR even/odd alternating), position error
  drawn from its NACp;
* airborne velocity (TC 19 subtype 1, or 2 when a component exceeds 1021.5 kt);
* identification (TC 1-4: emitter category and callsign);
* emergency / priority status (TC 28 subtype 1: emergency state and squawk);
* aircraft operational status (TC 31 subtype 0: ADS-B version 2, NACp, SIL);

at the DO-260B rates in ``RATES``, with a correct CRC. The frames are the same hex a receiver would log, so
they go through the same readers and decoder as a recording (see ``docs/adsb.md``).

A transponder can lie (the spoofer of issue 4 §5): ``spoof_icao24`` / ``spoof_callsign`` broadcast a false
identity instead of its own, ``spoof_offset_m = [east, north(, up)]`` moves every broadcast position by a fixed
offset from where the aircraft really is, and ``spoof_track = { lat, lon, alt_ft | alt_m, speed_kt | speed_mps,
heading_deg }`` broadcasts a separate false aircraft flying a great circle from that point (position and
velocity messages) from the moment the target appears. The frames are still heard from the real aircraft's
position: the receivers judge range and line of sight from the truth.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import numpy as np

from airpicture import geo
from airpicture.errors import InputError
from airpicture.scenario.toml_lines import finite_number
from airpicture.sensors import adsb_fields as f
from airpicture.truth import Truth

# NACp -> 95 % horizontal position bound (Estimated Position Uncertainty), m (DO-260B table 2-70).
# NACp 0 means "unknown or >= 10 NM": 20 NM is assumed.
NACP_EPU_M = np.array([37040.0, 18520.0, 7408.0, 3704.0, 1852.0, 926.0, 555.6, 185.2, 92.6, 30.0, 10.0, 3.0])
# A circular Gaussian with per-axis sigma s holds 95 % of its mass within s * sqrt(-2 ln 0.05) (Rayleigh).
EPU_TO_SIGMA = 1.0 / np.sqrt(-2.0 * np.log(0.05))  # 1 / 2.4477
# Airborne position type code -> containment radius Rc, m (NIC supplements 0). TC 18: unknown.
TC_CONTAINMENT_M = {9: 7.5, 10: 25.0, 11: 185.2, 12: 370.4, 13: 926.0, 14: 1852.0, 15: 3704.0,
                    16: 14816.0, 17: 37040.0, 18: np.inf}

# Transmission intervals (s): uniform between the two values, independently for each message.
RATES = {
    "position": (0.4, 0.6),
    "velocity": (0.4, 0.6),
    "identification": (4.8, 5.2),
    "status": (4.8, 5.2),             # TC 28 with the squawk, no emergency
    "status_emergency": (0.7, 0.9),   # TC 28 while an emergency state is set
    "operational": (2.4, 2.6),        # TC 31 airborne operational status
}

# Emitter category by target class when the transponder table gives none.
CLASS_CATEGORY = {
    "airliner": "A3", "business_jet": "A2", "general_aviation": "A1", "military_transport": "A3",
    "fighter": "A6", "helicopter": "A7", "male_uav": "B6", "small_drone": "B6",
}
_CATEGORY_SETS = {"A": 4, "B": 3, "C": 2, "D": 1}  # set -> identification type code
EMERGENCY_SQUAWK = {"unlawful_interference": "7500", "no_communication": "7600", "general": "7700"}

TRANSPONDER_KEYS = ("icao24", "callsign", "category", "nacp", "nacv", "squawk", "emergency", "adsb",
                    "error_correlation_s", "spoof_icao24", "spoof_callsign", "spoof_offset_m", "spoof_track")
SPOOF_TRACK_KEYS = ("lat", "lon", "alt_m", "alt_ft", "speed_mps", "speed_kt", "heading_deg")
MAX_SPOOF_OFFSET_M = 1.0e6        # a false position at most this far from the aircraft (per component)
MAX_SPOOF_SPEED_MPS = 1000.0
FEET_M = 0.3048
KNOT_MPS = 1852.0 / 3600.0
DEFAULT_ERROR_CORRELATION_S = 60.0
# A target on the ground (slower than this and lower than that) does not send airborne messages.
ON_GROUND_SPEED_MPS = 30.0
ON_GROUND_HEIGHT_M = 15.0


@dataclass
class Transponders:
    """Validated transponder tables of the targets that broadcast ADS-B (one row each)."""

    truth_index: np.ndarray   # (k,) int64: target index in the truth
    icao24: np.ndarray        # (k,) int64 24-bit address
    callsign: list[str]       # (k,) up to 8 characters of the 6-bit set
    category: list[str]       # (k,) e.g. "A3"
    nacp: np.ndarray          # (k,) int64 0..11
    nacv: np.ndarray          # (k,) int64 0..4
    squawk: list[str]         # (k,) 4 octal digits
    emergency: list[str]      # (k,) a key of adsb_fields.EMERGENCY_STATES
    error_correlation_s: np.ndarray  # (k,) float: correlation time of the position error, s (0 = white)
    # Spoofing (all "none" for an honest transponder). ``icao24`` / ``callsign`` above are what is broadcast.
    own_icao24: np.ndarray | None = None       # (k,) int64: the aircraft's own address, -1 none given
    spoof_identity: np.ndarray | None = None   # (k,) bool: broadcasts spoof_icao24 / spoof_callsign
    spoof_offset_m: np.ndarray | None = None   # (k, 3) east, north, up offset of broadcast positions, m
    spoof_track: np.ndarray | None = None      # (k, 5) false track start lat, lon (rad), alt (m), speed (m/s),
    #                                            heading (rad); NaN rows: none

    def __post_init__(self):
        k = len(self.truth_index)
        if self.own_icao24 is None:
            self.own_icao24 = np.asarray(self.icao24, dtype=np.int64).copy()
        if self.spoof_identity is None:
            self.spoof_identity = np.zeros(k, bool)
        if self.spoof_offset_m is None:
            self.spoof_offset_m = np.zeros((k, 3))
        if self.spoof_track is None:
            self.spoof_track = np.full((k, 5), np.nan)

    def __len__(self) -> int:
        return len(self.truth_index)

    @property
    def spoofing(self) -> np.ndarray:
        """(k,) bool: the transponder broadcasts a false identity or a false position."""
        return (self.spoof_identity | np.any(self.spoof_offset_m != 0.0, axis=1)
                | np.isfinite(self.spoof_track[:, 0]))


@dataclass
class EmittedFrames:
    """DF17 frames broadcast by the simulated transponders, one row per frame, in time order.

    ``time`` is in scenario seconds; ``frame`` 28-digit lowercase hex; ``icao24`` 6-digit lowercase hex;
    ``type_code`` the ME type code; ``truth_index`` the target that sent it; ``frames`` the (n, 14) bytes.
    """

    time: np.ndarray
    frame: np.ndarray
    icao24: np.ndarray
    type_code: np.ndarray
    truth_index: np.ndarray
    frames: np.ndarray

    def __len__(self) -> int:
        return len(self.time)

    def to_frame_batch(self, epoch_s: float = 0.0):
        """The frames as a ``sources.FrameBatch`` (time = epoch_s + scenario time), as a reader would give."""
        from airpicture.sources.batch import FrameBatch

        n = len(self)
        return FrameBatch(time=epoch_s + self.time, frame=self.frame.copy(), signal=np.full(n, np.nan),
                          ticks=np.full(n, -1, dtype=np.int64), offset=np.arange(1, n + 1, dtype=np.int64))


def _fail(index: int, key: str | None, message: str, source: str | None) -> InputError:
    path = f"targets[{index}].transponder" + (f".{key}" if key else "")
    return InputError(message, source=source, field=path)


def _integer(table, key, index, default, low, high, source) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(index, key, f"{value!r} is not an integer", source)
    if not low <= value <= high:
        raise _fail(index, key, f"{value} is outside [{low}, {high}]", source)
    return value


def _address(table, key, index, source, required_why: str | None = None) -> int | None:
    text = table.get(key)
    if text is None:
        if required_why:
            raise _fail(index, key, required_why, source)
        return None
    if not isinstance(text, str) or len(text) != 6 or any(c not in "0123456789abcdefABCDEF" for c in text):
        raise _fail(index, key, f"{text!r} is not 6 hex digits", source)
    value = int(text, 16)
    if value == 0 or value == 0xFFFFFF:
        raise _fail(index, key, f"'{text}' is not a valid aircraft address", source)
    return value


def _callsign(value, index, key, source) -> str:
    if not isinstance(value, str):
        raise _fail(index, key, f"{value!r} is not a string", source)
    value = value.upper().rstrip()
    bad = sorted({c for c in value if c not in f.CALLSIGN_CHARS})
    if len(value) > 8 or bad:
        raise _fail(index, key, f"'{value}' must be at most 8 characters of A-Z, 0-9 and space", source)
    return value


def _finite(value) -> bool:
    return finite_number(value)


def _spoof_offset(table, index, source) -> np.ndarray:
    value = table.get("spoof_offset_m")
    if value is None:
        return np.zeros(3)
    key = "spoof_offset_m"
    if not isinstance(value, list) or len(value) not in (2, 3) or not all(_finite(v) for v in value):
        raise _fail(index, key, f"{value!r} is not [east, north] or [east, north, up] in metres", source)
    if any(abs(v) > MAX_SPOOF_OFFSET_M for v in value):
        raise _fail(index, key, f"{value!r}: each component must be within +-{MAX_SPOOF_OFFSET_M:g} m", source)
    return np.array(list(value) + [0.0] * (3 - len(value)), dtype=float)


def _spoof_track(table, index, source) -> np.ndarray:
    value = table.get("spoof_track")
    if value is None:
        return np.full(5, np.nan)
    key = "spoof_track"
    if not isinstance(value, dict):
        raise _fail(index, key, "must be a table { lat, lon, alt_ft | alt_m, speed_kt | speed_mps, heading_deg }",
                    source)
    for name in value:
        if name not in SPOOF_TRACK_KEYS:
            hint = difflib.get_close_matches(str(name), SPOOF_TRACK_KEYS, n=1)
            suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
            raise _fail(index, f"{key}.{name}", f"unknown key '{name}'{suggestion}; allowed: "
                                               f"{', '.join(SPOOF_TRACK_KEYS)}", source)

    def number(name, low, high):
        v = value[name]
        if not _finite(v):
            raise _fail(index, f"{key}.{name}", f"{v!r} is not a number", source)
        if not low <= v <= high:
            raise _fail(index, f"{key}.{name}", f"{v:g} is outside [{low:g}, {high:g}]", source)
        return float(v)

    def one_of(a, b, scale_b, low, high, what):
        if (a in value) == (b in value):
            raise _fail(index, key, f"give exactly one of '{a}' or '{b}' ({what})", source)
        return number(a, low, high) if a in value else number(b, low / scale_b, high / scale_b) * scale_b

    for name in ("lat", "lon", "heading_deg"):
        if name not in value:
            raise _fail(index, key, f"missing required key '{name}'", source)
    lat = number("lat", -90.0, 90.0)
    lon = number("lon", -180.0, 360.0)
    alt = one_of("alt_m", "alt_ft", FEET_M, -500.0, 30000.0, "the false altitude")
    speed = one_of("speed_mps", "speed_kt", KNOT_MPS, 0.0, MAX_SPOOF_SPEED_MPS, "the false ground speed")
    heading = number("heading_deg", -360.0, 360.0)
    return np.array([np.radians(lat), np.radians((lon + 180.0) % 360.0 - 180.0), alt, speed, np.radians(heading)])


def parse_transponders(transponders, target_class=None, callsigns=None, source: str | None = None) -> Transponders:
    """Validate the per-target transponder tables (None for a target without one).

    ``target_class`` (per target) gives the default emitter category, ``callsigns`` (per target, e.g. the
    target's ``callsign`` attribute) the default callsign. Raises ``InputError`` naming
    ``targets[i].transponder.<key>``. Spoof options (module doc): ``spoof_icao24`` may repeat another target's
    address (a clone); ``icao24`` (the aircraft's own address) may then be left out.
    """
    rows = {name: [] for name in ("index", "icao", "own", "callsign", "category", "nacp", "nacv", "squawk",
                                  "emergency", "tau", "false_id", "offset", "track")}
    seen: dict[int, int] = {}
    for i, table in enumerate(transponders):
        if table is None:
            continue
        if not isinstance(table, dict):
            raise _fail(i, None, "must be a table, e.g. transponder = { icao24 = \"4ca7b5\" }", source)
        for key in table:
            if key not in TRANSPONDER_KEYS:
                hint = difflib.get_close_matches(str(key), TRANSPONDER_KEYS, n=1)
                suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
                raise _fail(i, str(key), f"unknown transponder key '{key}'{suggestion}; "
                                         f"allowed: {', '.join(TRANSPONDER_KEYS)}", source)
        adsb = table.get("adsb", True)
        if not isinstance(adsb, bool):
            raise _fail(i, "adsb", f"{adsb!r} is not true or false", source)
        false_icao = _address(table, "spoof_icao24", i, source)
        icao = _address(table, "icao24", i, source,
                        None if false_icao is not None else "required: the 24-bit ICAO address as 6 hex digits")
        if icao is not None:
            if icao in seen:
                raise _fail(i, "icao24", f"'{table['icao24']}' is already used by targets[{seen[icao]}]", source)
            seen[icao] = i
        spoof_keys = [k for k in ("spoof_icao24", "spoof_callsign", "spoof_offset_m", "spoof_track") if k in table]
        if not adsb:
            if spoof_keys:
                raise _fail(i, spoof_keys[0], "spoof options need an ADS-B transponder (adsb = true)", source)
            continue
        if "spoof_offset_m" in table and "spoof_track" in table:
            raise _fail(i, "spoof_track", "give at most one of 'spoof_offset_m' or 'spoof_track'", source)

        callsign = _callsign(table.get("callsign", callsigns[i] if callsigns is not None else None) or "", i,
                             "callsign", source)
        false_id = false_icao is not None or "spoof_callsign" in table
        if "spoof_callsign" in table:
            callsign = _callsign(table["spoof_callsign"], i, "spoof_callsign", source)

        default_category = CLASS_CATEGORY.get(target_class[i], "A0") if target_class is not None else "A0"
        category = table.get("category", default_category)
        if (not isinstance(category, str) or len(category) != 2 or category[0].upper() not in _CATEGORY_SETS
                or category[1] not in "01234567"):
            raise _fail(i, "category", f"{category!r} is not an emitter category A0-A7, B0-B7, C0-C7 or D0-D7",
                        source)
        category = category.upper()

        nacp = _integer(table, "nacp", i, 9, 0, 11, source)
        nacv = _integer(table, "nacv", i, 2, 0, 4, source)

        emergency = table.get("emergency", "none")
        if not isinstance(emergency, str) or emergency not in f.EMERGENCY_STATES:
            raise _fail(i, "emergency", f"{emergency!r} is not one of {', '.join(f.EMERGENCY_STATES)}", source)
        squawk = table.get("squawk", EMERGENCY_SQUAWK.get(emergency, "7000"))
        if isinstance(squawk, int) and not isinstance(squawk, bool):
            squawk = f"{squawk:04d}"
        if not isinstance(squawk, str) or len(squawk) != 4 or any(c not in "01234567" for c in squawk):
            raise _fail(i, "squawk", f"{squawk!r} is not a Mode A code of 4 octal digits (0000-7777)", source)

        tau = table.get("error_correlation_s", DEFAULT_ERROR_CORRELATION_S)
        if isinstance(tau, bool) or not isinstance(tau, (int, float)) or not 0.0 <= tau <= 1e6:
            raise _fail(i, "error_correlation_s", f"{tau!r} is not a number of seconds in [0, 1e6]", source)

        rows["index"].append(i)
        rows["tau"].append(float(tau))
        rows["icao"].append(false_icao if false_icao is not None else icao)
        rows["own"].append(icao if icao is not None else -1)
        rows["callsign"].append(callsign)
        rows["category"].append(category)
        rows["nacp"].append(nacp)
        rows["nacv"].append(nacv)
        rows["squawk"].append(squawk)
        rows["emergency"].append(emergency)
        rows["false_id"].append(false_id)
        rows["offset"].append(_spoof_offset(table, i, source))
        rows["track"].append(_spoof_track(table, i, source))
    k = len(rows["index"])
    return Transponders(truth_index=np.array(rows["index"], dtype=np.int64),
                        icao24=np.array(rows["icao"], dtype=np.int64), callsign=rows["callsign"],
                        category=rows["category"], nacp=np.array(rows["nacp"], dtype=np.int64),
                        nacv=np.array(rows["nacv"], dtype=np.int64), squawk=rows["squawk"],
                        emergency=rows["emergency"], error_correlation_s=np.array(rows["tau"], dtype=float),
                        own_icao24=np.array(rows["own"], dtype=np.int64),
                        spoof_identity=np.array(rows["false_id"], dtype=bool),
                        spoof_offset_m=np.array(rows["offset"], dtype=float).reshape(k, 3),
                        spoof_track=np.array(rows["track"], dtype=float).reshape(k, 5))


def transponders_from_truth(truth: Truth, source: str | None = None) -> Transponders:
    """The transponder tables kept in ``truth.extra['attributes']`` (from the scenario), validated."""
    attributes = truth.extra.get("attributes") or [{} for _ in range(truth.n_targets)]
    tables = [a.get("transponder") for a in attributes]
    return parse_transponders(tables, target_class=truth.target_class,
                              callsigns=[a.get("callsign") for a in attributes], source=source)


def position_type_code(nacp) -> np.ndarray:
    """Airborne position type code for a NACp: the smallest containment radius that covers the EPU."""
    epu = NACP_EPU_M[np.asarray(nacp, dtype=np.int64)]
    codes = np.array(sorted(TC_CONTAINMENT_M))
    radii = np.array([TC_CONTAINMENT_M[c] for c in codes])
    first = np.argmax(radii[None, :] >= epu.reshape(-1, 1) * (1 - 1e-9), axis=1)
    tc = codes[first]
    return np.where(np.asarray(nacp) == 0, 18, tc).reshape(np.shape(nacp))


def position_sigma_m(nacp) -> np.ndarray:
    """Per-axis (east, north) 1-sigma of the horizontal position error for a NACp: EPU / 2.4477."""
    return NACP_EPU_M[np.asarray(nacp, dtype=np.int64)] * EPU_TO_SIGMA


def _schedule(start, end, low, high, rng) -> tuple[np.ndarray, np.ndarray]:
    """Transmission times per aircraft: first at a uniform phase in [0, high) after start, then uniform
    [low, high] intervals; kept up to end. Returns (aircraft row, time), both flat."""
    k = len(start)
    if k == 0:
        return np.empty(0, dtype=np.int64), np.empty(0)
    low = np.broadcast_to(np.asarray(low, dtype=float), (k,))[:, None]
    high = np.broadcast_to(np.asarray(high, dtype=float), (k,))[:, None]
    span = np.nanmax(np.where(np.isfinite(end - start), end - start, 0.0))
    m = int(np.ceil(span / low.min())) + 2
    phase = rng.uniform(0.0, 1.0, (k, 1)) * high
    steps = low + (high - low) * rng.uniform(0.0, 1.0, (k, m))
    times = start[:, None] + phase + np.concatenate([np.zeros((k, 1)), np.cumsum(steps[:, :-1], axis=1)], axis=1)
    keep = times <= end[:, None]
    rows = np.broadcast_to(np.arange(k)[:, None], times.shape)
    return rows[keep], times[keep]


def _position_errors(aircraft, rank, times, sigma, correlation_s, k, rng) -> np.ndarray:
    """(m, 2) east/north position errors, m: per aircraft a first-order Gauss-Markov process sampled at its
    transmissions, stationary per-axis sigma ``sigma[aircraft]``, correlation time ``correlation_s[aircraft]``
    (0: independent draws). The recursion runs over the transmission rank, vectorised over aircraft."""
    m = len(aircraft)
    if m == 0:
        return np.zeros((0, 2))
    width = int(rank.max()) + 1
    grid_t = np.full((k, width), np.nan)
    grid_t[aircraft, rank] = times
    draws = rng.standard_normal((k, width, 2))
    tau = correlation_s[:, None]
    gap = np.diff(grid_t, axis=1, prepend=np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.where(tau > 0, np.exp(-np.nan_to_num(gap, nan=np.inf) / np.where(tau > 0, tau, 1.0)), 0.0)
    innovation = np.sqrt(1.0 - rho**2)[..., None] * draws
    unit = np.empty_like(draws)
    unit[:, 0] = draws[:, 0]
    for j in range(1, width):
        unit[:, j] = rho[:, j, None] * unit[:, j - 1] + innovation[:, j]
    return unit[aircraft, rank] * sigma[aircraft][:, None]


def _enu_velocity(lat, lon, velocity_ecef):
    sl, cl, so, co = np.sin(lat), np.cos(lat), np.sin(lon), np.cos(lon)
    vx, vy, vz = velocity_ecef[..., 0], velocity_ecef[..., 1], velocity_ecef[..., 2]
    east = -so * vx + co * vy
    north = -sl * co * vx - sl * so * vy + cl * vz
    up = cl * co * vx + cl * so * vy + sl * vz
    return east, north, up


def _offset_position(lat, lon, alt, d_east, d_north):
    """Move geodetic points by small east/north offsets (m), WGS-84 radii of curvature."""
    s2 = np.sin(lat) ** 2
    w = np.sqrt(1.0 - geo.WGS84_E2 * s2)
    meridian = geo.WGS84_A * (1.0 - geo.WGS84_E2) / w**3 + alt
    normal = geo.WGS84_A / w + alt
    new_lat = np.clip(lat + d_north / meridian, -np.pi / 2, np.pi / 2)
    new_lon = geo.wrap_angle(lon + d_east / (normal * np.maximum(np.cos(lat), 1e-9)))
    return new_lat, new_lon


def _false_track_states(track: np.ndarray, elapsed: np.ndarray):
    """Positions (lat, lon, alt) and east/north/up velocities of false tracks (rows of ``spoof_track``) after
    ``elapsed`` seconds along their great circle (mean sphere at the track's altitude)."""
    lat0, lon0, alt, speed, heading = (track[:, j] for j in range(5))
    radius = geo.EARTH_MEAN_RADIUS_M + alt
    scale = geo.EARTH_MEAN_RADIUS_M / radius      # geo.destination works on the mean sphere
    lat, lon = geo.destination(lat0, lon0, heading, speed * elapsed * scale)
    # heading at the point: the great circle's bearing there (reverse of the bearing back to the start)
    d_lon = lon0 - lon
    back = np.arctan2(np.sin(d_lon) * np.cos(lat0),
                      np.cos(lat) * np.sin(lat0) - np.sin(lat) * np.cos(lat0) * np.cos(d_lon))
    moved = speed * elapsed > 1.0
    course = np.where(moved, back + np.pi, heading)
    return lat, lon, alt, speed * np.sin(course), speed * np.cos(course), np.zeros_like(speed)


def _spoofed_states(tp: Transponders, rows, times, start, lat, lon, alt, v_east, v_north, v_up):
    """What each transmission claims: the truth moved by ``spoof_offset_m``, or the false track's state."""
    k = len(tp)
    if k == 0 or not tp.spoofing.any():
        return lat, lon, alt, v_east, v_north, v_up
    lat, lon, alt = lat.copy(), lon.copy(), alt.copy()
    offset = tp.spoof_offset_m[rows]
    moved = np.any(offset != 0.0, axis=1)
    if moved.any():
        lat[moved], lon[moved] = _offset_position(lat[moved], lon[moved], alt[moved], offset[moved, 0],
                                                  offset[moved, 1])
        alt[moved] = alt[moved] + offset[moved, 2]
    track = tp.spoof_track[rows]
    false = np.isfinite(track[:, 0])
    if false.any():
        v_east, v_north, v_up = v_east.copy(), v_north.copy(), v_up.copy()
        elapsed = np.maximum(times[false] - start[rows[false]], 0.0)
        lat[false], lon[false], alt[false], v_east[false], v_north[false], v_up[false] = _false_track_states(
            track[false], elapsed)
    return lat, lon, alt, v_east, v_north, v_up


def emit_adsb(truth: Truth, transponders, duration_s: float, rng: np.random.Generator) -> EmittedFrames:
    """DF17 frames from every ADS-B target of ``truth`` over [0, duration_s].

    ``transponders`` is a ``Transponders`` (see ``parse_transponders``) or the raw per-target list of tables
    (None where a target has none), e.g. ``[a.get("transponder") for a in truth.extra["attributes"]]``.
    Draws from ``rng`` in a fixed order, so a seed gives the same frames.
    """
    from airpicture.modes.cpr import cpr_encode
    from airpicture.modes.crc import append_crc

    if not isinstance(transponders, Transponders):
        attributes = truth.extra.get("attributes") or [{} for _ in range(truth.n_targets)]
        if len(transponders) != truth.n_targets:
            raise ValueError(f"{len(transponders)} transponder entries for {truth.n_targets} targets")
        transponders = parse_transponders(transponders, target_class=truth.target_class,
                                          callsigns=[a.get("callsign") for a in attributes])
    tp = transponders
    k = len(tp)
    alive = np.isfinite(truth.position_ecef[tp.truth_index, :, 0]) if k else np.zeros((0, len(truth.times)), bool)
    has = alive.any(axis=1)
    first = np.where(has, alive.argmax(axis=1), 0)
    last = np.where(has, alive.shape[1] - 1 - alive[:, ::-1].argmax(axis=1), 0) if k else first
    start = np.where(has, truth.times[first] if k else 0.0, np.inf)
    end = np.where(has, np.minimum(truth.times[last] if k else 0.0, duration_s), -np.inf)

    emergency_code = np.array([f.EMERGENCY_STATES[e] for e in tp.emergency], dtype=np.int64)
    status_low = np.where(emergency_code > 0, RATES["status_emergency"][0], RATES["status"][0])
    status_high = np.where(emergency_code > 0, RATES["status_emergency"][1], RATES["status"][1])
    schedules = {
        "position": _schedule(start, end, *RATES["position"], rng),
        "velocity": _schedule(start, end, *RATES["velocity"], rng),
        "identification": _schedule(start, end, *RATES["identification"], rng),
        "status": _schedule(start, end, status_low, status_high, rng),
        "operational": _schedule(start, end, *RATES["operational"], rng),
    }

    rows_all, times_all, kinds = [], [], []
    for kind_index, name in enumerate(schedules):
        rows, times = schedules[name]
        rows_all.append(rows)
        times_all.append(times)
        kinds.append(np.full(len(rows), kind_index, dtype=np.int64))
    rows = np.concatenate(rows_all)
    times = np.concatenate(times_all)
    kind = np.concatenate(kinds)
    target = tp.truth_index[rows] if k else rows

    position, velocity = truth.state_at(times, target)
    lat, lon, alt = geo.ecef_to_geodetic(position)
    v_east, v_north, v_up = _enu_velocity(lat, lon, velocity)
    speed = np.hypot(v_east, v_north)
    airborne = np.isfinite(lat) & ~((alt < ON_GROUND_HEIGHT_M) & (speed < ON_GROUND_SPEED_MPS))
    rows, times, kind, target = rows[airborne], times[airborne], kind[airborne], target[airborne]
    lat, lon, alt = lat[airborne], lon[airborne], alt[airborne]
    v_east, v_north, v_up = v_east[airborne], v_north[airborne], v_up[airborne]
    order = np.lexsort((kind, target, times))
    rows, times, kind, target = rows[order], times[order], kind[order], target[order]
    lat, lon, alt = lat[order], lon[order], alt[order]
    v_east, v_north, v_up = v_east[order], v_north[order], v_up[order]
    lat, lon, alt, v_east, v_north, v_up = _spoofed_states(tp, rows, times, start, lat, lon, alt, v_east, v_north,
                                                           v_up)
    n = len(times)
    me = np.zeros(n, dtype=np.uint64)
    type_code = np.zeros(n, dtype=np.int64)

    # Airborne position: NACp-driven horizontal error, CPR even/odd alternating per aircraft.
    pos = np.flatnonzero(kind == 0)
    rank = np.zeros(len(pos), dtype=np.int64)
    if len(pos):
        aircraft = rows[pos]
        by_aircraft = np.argsort(aircraft, kind="stable")  # times already ascending within an aircraft
        sorted_aircraft = aircraft[by_aircraft]
        group_start = np.searchsorted(sorted_aircraft, sorted_aircraft, side="left")
        rank[by_aircraft] = np.arange(len(pos)) - group_start
    error = _position_errors(rows[pos], rank, times[pos], position_sigma_m(tp.nacp), tp.error_correlation_s,
                             k, rng)
    noisy_lat, noisy_lon = _offset_position(lat[pos], lon[pos], alt[pos], error[:, 0], error[:, 1])
    first_parity = rng.integers(0, 2, k)
    odd = (rank + first_parity[rows[pos]]) % 2
    lat_cpr, lon_cpr = cpr_encode(noisy_lat, noisy_lon, odd.astype(bool))
    tc_pos = position_type_code(tp.nacp[rows[pos]])
    ss = np.where(emergency_code[rows[pos]] > 0, 1, 0)
    me[pos] = f.airborne_position_me(tc_pos, ss, f.altitude_code(alt[pos]), odd, lat_cpr, lon_cpr)
    type_code[pos] = tc_pos

    vel = np.flatnonzero(kind == 1)
    me[vel], _ = f.airborne_velocity_me(v_east[vel], v_north[vel], v_up[vel], tp.nacv[rows[vel]])
    type_code[vel] = 19

    ident = np.flatnonzero(kind == 2)
    id_tc = np.array([_CATEGORY_SETS[c[0]] for c in tp.category], dtype=np.int64)
    id_cat = np.array([int(c[1]) for c in tp.category], dtype=np.int64)
    codes = (np.stack([f.callsign_codes(c) for c in tp.callsign]) if k else np.zeros((0, 8), dtype=np.uint64))
    me[ident] = f.identification_me(id_tc[rows[ident]], id_cat[rows[ident]], codes[rows[ident]])
    type_code[ident] = id_tc[rows[ident]]

    status = np.flatnonzero(kind == 3)
    id13 = np.array([f.squawk_id13(s) for s in tp.squawk], dtype=np.int64)
    me[status] = f.emergency_status_me(emergency_code[rows[status]], id13[rows[status]])
    type_code[status] = 28

    operational = np.flatnonzero(kind == 4)
    me[operational] = f.operational_status_me(tp.nacp[rows[operational]])
    type_code[operational] = 31

    frames = append_crc(f.df17_payload(tp.icao24[rows] if k else np.zeros(0, np.int64), me))
    icao_text = np.array([f"{a:06x}" for a in tp.icao24], dtype=object)
    return EmittedFrames(time=times, frame=f.frames_to_hex(frames), icao24=icao_text[rows] if k else
                         np.empty(0, dtype=object), type_code=type_code, truth_index=target.astype(np.int64),
                         frames=frames)
