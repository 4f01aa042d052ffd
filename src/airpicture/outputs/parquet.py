"""``tracks.parquet``: track states as a flat table for people, notebooks and replay.

One row per (time, track), in the order the tracker produced them.

Columns
-------
time : float64, s since scenario start
track_id : int64, stable track number
lat, lon : float64, geodetic WGS-84 degrees
alt : float64, metres above the WGS-84 ellipsoid
vx, vy, vz : float64, m/s -- velocity in the local east / north / up frame *at the track's
    own position* (not at a sensor), i.e. vx = east, vy = north, vz = climb rate
speed_mps : float64, horizontal ground speed, sqrt(vx**2 + vy**2)
heading_deg : float64, direction of horizontal motion, degrees clockwise from true north
    in [0, 360) (0 when the track is not moving horizontally)
status : string, "tentative", "confirmed" or "coasting"
track_class : string (nullable), only when the tracks carry a class hint

Identity and sources, each only when ``TrackStates.extra`` holds it (transponder-fed tracks, issue 3):

icao24 : string (nullable), the 24-bit ICAO address as 6 lowercase hex digits; null on tracks no transponder fed
callsign, squawk, emergency, category : string (nullable), the aircraft's identity (emergency in rs1090's
    names: "none", "general", "unlawful_interference", ...; category "A3", "B6", ...); null while unknown
transponder_only : bool, the track was fed by transponder reports alone (no radar or EO)
sources : string, names of the sensors that fed the track lately, joined with "+" (from ``source_mask`` and
    the sensor names given to :func:`write_tracks_parquet`, or ``extra["sources"]``)
source_mask : int64, the same as a bit mask (bit i = sensor i of the run)

Identification (issue 4), only when the run has an identity stage:

identity : string, the standard identity ("pending", "unknown", "assumed_friend", "friend", "neutral",
    "suspect", "hostile", "joker", "faker"); identity_class : string ("fixed_wing", "rotary_wing", "uav",
    "missile", "bird", "unknown"); identity_rule, identity_reason : string (nullable), the rule that gave it and
    why, with its evidence; spoof : bool and spoof_reason : string (nullable), the spoof/inconsistency flag
    (ASTERIX CAT062 AFF); emergency_flag : bool (squawk 7500/7600/7700 or an ADS-B emergency)

Threat (issue 5), only when the run has a threat stage: threat_level : string ("none", "low", "medium", "high"),
threat_score : float64, threat_reason : string (nullable)

Units are also stored in the schema's field metadata (key ``unit``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .. import geo
from ..tracks import STATUS_NAMES, TrackStates

_UNITS = {
    "time": "s", "track_id": "", "lat": "deg", "lon": "deg", "alt": "m (WGS-84 ellipsoid)",
    "vx": "m/s east", "vy": "m/s north", "vz": "m/s up", "speed_mps": "m/s (horizontal)",
    "heading_deg": "deg clockwise from north", "status": "", "track_class": "",
    "icao24": "hex", "callsign": "", "squawk": "octal", "emergency": "", "category": "", "transponder_only": "",
    "sources": "", "source_mask": "bit per sensor",
    "identity": "STANAG 1241", "identity_class": "", "identity_rule": "", "identity_reason": "", "spoof": "",
    "spoof_reason": "", "emergency_flag": "", "threat_level": "", "threat_score": "points (default_scoring.toml)",
    "threat_reason": "",
}
# TrackStates.extra columns written when present, in this order; text ones are nullable ('' -> null)
EXTRA_TEXT = ("icao24", "callsign", "squawk", "emergency", "category")
_STATUS_CODES = {name: code for code, name in STATUS_NAMES.items()}


def enu_rotations(lat_rad, lon_rad) -> np.ndarray:
    """(n, 3, 3) rotations, rows east/north/up, one per point: :func:`geo.enu_rotation` vectorised."""
    lat = np.asarray(lat_rad, dtype=float)
    lon = np.asarray(lon_rad, dtype=float)
    sl, cl, so, co = np.sin(lat), np.cos(lat), np.sin(lon), np.cos(lon)
    zero = np.zeros_like(lat)
    return np.stack([
        np.stack([-so, co, zero], axis=-1),
        np.stack([-sl * co, -sl * so, cl], axis=-1),
        np.stack([cl * co, cl * so, sl], axis=-1),
    ], axis=-2)


def _status_names(codes: np.ndarray) -> np.ndarray:
    """Status codes to their names through a lookup table (unknown codes -> "unknown")."""
    codes = codes.astype(np.int64)
    size = max(int(codes.max()) + 1 if codes.size else 0, max(STATUS_NAMES) + 1)
    lookup = np.array(["unknown"] * size, dtype=object)
    for code, name in STATUS_NAMES.items():
        lookup[code] = name
    valid = codes >= 0
    out = np.full(codes.shape, "unknown", dtype=object)
    out[valid] = lookup[codes[valid]]
    return out


def _class_array(classes: np.ndarray) -> pa.Array:
    """Class hints as a nullable string column: None and NaN become null."""
    try:
        return pa.array(classes, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # Mixed objects (numbers, enums): spell each one out.
        return pa.array([None if c is None or (isinstance(c, float) and np.isnan(c)) else str(c)
                         for c in classes], type=pa.string())


def _field(name: str, dtype: pa.DataType, nullable: bool = False) -> pa.Field:
    return pa.field(name, dtype, nullable=nullable, metadata={"unit": _UNITS[name]})


def _text_array(values, n: int) -> pa.Array:
    """Strings with '' (and None) as null."""
    values = np.asarray(values, dtype=object).reshape(-1)
    mask = np.array([v is None or v == "" for v in values.tolist()], dtype=bool) if n else np.zeros(0, bool)
    return pa.array(np.where(mask, None, values), type=pa.string(), mask=mask)


def mask_names(mask, sensor_names) -> np.ndarray:
    """Sensor names of each bit mask, joined with '+'; one join per distinct mask."""
    mask = np.asarray(mask, np.int64).reshape(-1)
    uniq, inverse = np.unique(mask, return_inverse=True)
    text = np.array(["+".join(name for i, name in enumerate(sensor_names) if (int(m) >> i) & 1)
                     for m in uniq.tolist()], dtype=object)
    return text[inverse.reshape(-1)] if mask.size else np.zeros(0, dtype=object)


def _extra_columns(tracks: TrackStates, sensor_names) -> list[tuple[pa.Field, pa.Array]]:
    extra = tracks.extra or {}
    n = len(tracks)
    out = []
    for name in EXTRA_TEXT:
        if name in extra:
            out.append((_field(name, pa.string(), nullable=True), _text_array(extra[name], n)))
    if "transponder_only" in extra:
        out.append((_field("transponder_only", pa.bool_()),
                    pa.array(np.asarray(extra["transponder_only"], dtype=bool).reshape(-1), type=pa.bool_())))
    sources = extra.get("sources")
    if sources is None and "source_mask" in extra and sensor_names is not None:
        sources = mask_names(extra["source_mask"], list(sensor_names))
    if sources is not None:
        out.append((_field("sources", pa.string()), pa.array(np.asarray(sources, dtype=object).reshape(-1).astype(str),
                                                              type=pa.string())))
    if "source_mask" in extra:
        out.append((_field("source_mask", pa.int64()),
                    pa.array(np.asarray(extra["source_mask"], dtype=np.int64).reshape(-1), type=pa.int64())))
    # identification (issue 4): codes written as their standard names
    if "identity" in extra:
        from ..identity.standard import class_names, identity_names

        out.append((_field("identity", pa.string()), pa.array(identity_names(extra["identity"]).astype(str))))
        if "track_class_id" in extra:
            out.append((_field("identity_class", pa.string()),
                        pa.array(class_names(extra["track_class_id"]).astype(str))))
    for name in ("identity_rule", "identity_reason", "spoof_reason"):
        if name in extra:
            out.append((_field(name, pa.string(), nullable=True), _text_array(extra[name], n)))
    if "threat_level" in extra:  # issue 5: none / low / medium / high, the score and its reason
        from ..threat.scoring import LEVELS

        out.append((_field("threat_level", pa.string()),
                    pa.array(np.asarray(LEVELS, dtype=object)[np.asarray(extra["threat_level"], np.int64)].astype(str))))
        if "threat_score" in extra:
            out.append((_field("threat_score", pa.float64()), pa.array(np.asarray(extra["threat_score"], float))))
        if "threat_reason" in extra:
            out.append((_field("threat_reason", pa.string(), nullable=True), _text_array(extra["threat_reason"], n)))
    for name in ("spoof", "emergency_flag"):
        if name in extra:
            out.append((_field(name, pa.bool_()), pa.array(np.asarray(extra[name], dtype=bool).reshape(-1))))
    return out


def tracks_table(tracks: TrackStates, sensor_names=None) -> pa.Table:
    """The track states as an Arrow table with the columns documented in this module.

    ``sensor_names`` (the run's sensors, in index order) turn ``extra["source_mask"]`` into ``sources``."""
    position = np.asarray(tracks.position, dtype=float).reshape(-1, 3)
    velocity = np.asarray(tracks.velocity, dtype=float).reshape(-1, 3)
    lat, lon, alt = geo.ecef_to_geodetic(position)
    enu_velocity = np.einsum("nij,nj->ni", enu_rotations(lat, lon), velocity)
    east, north, up = enu_velocity[:, 0], enu_velocity[:, 1], enu_velocity[:, 2]
    speed = np.hypot(east, north)
    heading = np.mod(np.degrees(np.arctan2(east, north)), 360.0)
    status = _status_names(np.asarray(tracks.status))

    columns = {
        "time": (np.asarray(tracks.time, dtype=np.float64), pa.float64()),
        "track_id": (np.asarray(tracks.track_id, dtype=np.int64), pa.int64()),
        "lat": (np.degrees(lat), pa.float64()),
        "lon": (np.degrees(lon), pa.float64()),
        "alt": (alt, pa.float64()),
        "vx": (east, pa.float64()),
        "vy": (north, pa.float64()),
        "vz": (up, pa.float64()),
        "speed_mps": (speed, pa.float64()),
        "heading_deg": (heading, pa.float64()),
        "status": (status, pa.string()),
    }
    fields = [_field(name, dtype) for name, (_, dtype) in columns.items()]
    arrays = [pa.array(values, type=dtype) for values, dtype in columns.values()]
    if tracks.track_class is not None:
        fields.append(_field("track_class", pa.string(), nullable=True))
        arrays.append(_class_array(np.asarray(tracks.track_class, dtype=object)))
    for f, a in _extra_columns(tracks, sensor_names):
        fields.append(f)
        arrays.append(a)
    schema = pa.schema(fields, metadata={
        "airpicture.content": "track states",
        "airpicture.velocity_frame": "ENU (east, north, up) at each track's own position",
    })
    return pa.Table.from_arrays(arrays, schema=schema)


def write_tracks_parquet(path, tracks: TrackStates, sensor_names=None) -> Path:
    """Write track states to ``path`` (Parquet, zstd) and return the path.

    Positions and velocities come in ECEF (m, m/s) and are written as geodetic
    lat/lon/alt and local ENU velocity (see the module docstring for the columns).
    ``sensor_names`` (index order) name the sensors of ``extra["source_mask"]`` in the ``sources`` column.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(tracks_table(tracks, sensor_names), path, compression="zstd")
    return path


def read_tracks_parquet(path) -> TrackStates:
    """Read a file written by :func:`write_tracks_parquet` back into ECEF :class:`TrackStates`.

    The position covariance is not stored, so it comes back as ``None``; ``track_class``
    comes back when the column exists, and the identity / source columns in ``extra`` (nulls as '').
    """
    table = pq.read_table(path)
    column = {name: table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names}
    lat = np.radians(column["lat"].astype(float))
    lon = np.radians(column["lon"].astype(float))
    position = geo.geodetic_to_ecef(lat, lon, column["alt"].astype(float)).reshape(-1, 3)
    enu_velocity = np.column_stack([column["vx"], column["vy"], column["vz"]]).astype(float)
    # Rows of an orthonormal rotation: its transpose takes ENU back to ECEF.
    velocity = np.einsum("nji,nj->ni", enu_rotations(lat, lon), enu_velocity).reshape(-1, 3)
    names, inverse = np.unique(np.asarray(column["status"], dtype=str), return_inverse=True)
    status = np.array([_STATUS_CODES.get(name, 0) for name in names], dtype=np.int8)[inverse.reshape(-1)]
    track_class = None
    if "track_class" in column:
        track_class = np.asarray(table.column("track_class").to_pylist(), dtype=object)
    extra = {}
    for name in EXTRA_TEXT + ("sources",):
        if name in column:
            values = np.asarray(table.column(name).to_pylist(), dtype=object)
            values[values == None] = ""  # noqa: E711 (element-wise)
            extra[name] = values
    if "transponder_only" in column:
        extra["transponder_only"] = np.asarray(column["transponder_only"], dtype=bool)
    if "source_mask" in column:
        extra["source_mask"] = np.asarray(column["source_mask"], dtype=np.int64)
    return TrackStates(
        extra=extra or None,
        time=column["time"].astype(np.float64),
        track_id=column["track_id"].astype(np.int64),
        position=position,
        velocity=velocity,
        status=status,
        position_cov=None,
        track_class=track_class,
    )
