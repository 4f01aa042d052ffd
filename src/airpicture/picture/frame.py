"""One step of the picture as columns: what every sink (live display, recorder, CoT, ASTERIX, aircraft.json)
reads. Built once per step from the identified, threat-scored snapshot; degrees, metres and names, no ECEF."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import geo
from ..identity.standard import CLASSES, IDENTITIES, in_emergency
from ..tracks import STATUS_NAMES, TrackStates

THREAT_LEVELS = ("none", "low", "medium", "high")

# Column order of a frame (and of a record). Types: f = float64, i = int64, b = bool, s = text.
COLUMNS = {
    "track_id": "i", "time": "f", "status": "s", "lat": "f", "lon": "f", "alt_m": "f",
    "v_east_mps": "f", "v_north_mps": "f", "v_up_mps": "f", "speed_mps": "f", "course_deg": "f",
    "sigma_h_m": "f", "sigma_v_m": "f",
    "identity": "s", "identity_reason": "s", "track_class": "s", "class_hint": "s",
    "threat_level": "s", "threat_score": "f", "threat_reason": "s",
    "icao24": "s", "callsign": "s", "squawk": "s", "emergency": "b", "spoof": "b", "spoof_reason": "s",
    "sources": "s", "transponder_only": "b",
}


@dataclass
class PictureFrame:
    """The picture at ``time`` (s since the run's epoch): one row per track an operator sees (confirmed or
    coasting), in ``columns`` (each an (n,) array, names and types in ``COLUMNS``).

    ``alerts``: the alerts raised, acknowledged or cleared since the previous frame (``Alert.to_json()`` dicts).
    ``measurements``: optional columns of the measurements this step consumed (time, sensor, kind, ...), for the
    recorder. ``epoch_unix``: wall-clock time of t = 0 when the input has one (a recording), else None."""

    time: float
    columns: dict[str, np.ndarray]
    alerts: list[dict] = field(default_factory=list)
    measurements: dict[str, np.ndarray] | None = None
    epoch_unix: float | None = None

    def __len__(self) -> int:
        return int(self.columns["track_id"].shape[0])

    def records(self) -> list[dict]:
        """One JSON-ready dict per track (NaN -> None)."""
        cols = {k: _jsonable_column(v) for k, v in self.columns.items()}
        return [dict(zip(cols, row)) for row in zip(*cols.values())] if len(self) else []

    @classmethod
    def empty(cls, time: float) -> "PictureFrame":
        return cls(float(time), empty_columns())


def empty_columns() -> dict[str, np.ndarray]:
    dtypes = {"f": np.float64, "i": np.int64, "b": bool, "s": object}
    return {k: np.zeros(0, dtypes[t]) for k, t in COLUMNS.items()}


def _jsonable_column(v: np.ndarray) -> list:
    if v.dtype.kind == "f":
        return [None if not np.isfinite(x) else round(float(x), 6) for x in v.tolist()]
    return v.tolist()


def _text(extra: dict, name: str, n: int, rows) -> np.ndarray:
    col = extra.get(name)
    if col is None:
        return np.full(n, "", object)
    return np.asarray([("" if x is None else str(x)) for x in np.asarray(col, dtype=object)[rows]], dtype=object)


def _flag(extra: dict, name: str, n: int, rows) -> np.ndarray:
    col = extra.get(name)
    return np.zeros(n, bool) if col is None else np.asarray(col, bool)[rows]


def _emergency(extra: dict, n: int, rows) -> np.ndarray:
    """The identity stage's emergency flag, or a declared emergency state, or an emergency squawk."""
    return _flag(extra, "emergency_flag", n, rows) | in_emergency(_text(extra, "squawk", n, rows),
                                                                  _text(extra, "emergency", n, rows))


def build_frame(snapshot: TrackStates, t: float, *, alerts=(), measurements=None, epoch_unix=None,
                sensor_names=()) -> PictureFrame:
    """The frame of one snapshot: rows in the picture (confirmed / coasting), converted to geodetic and names.

    Missing identity or threat columns (a transponder replay has neither stage) read as "pending" / "none"."""
    rows = np.flatnonzero(snapshot.in_picture())
    n = rows.size
    if n == 0:
        return PictureFrame(float(t), empty_columns(), list(alerts), measurements, epoch_unix)
    pos = np.asarray(snapshot.position, float)[rows]
    vel = np.asarray(snapshot.velocity, float)[rows]
    lat, lon, alt = geo.ecef_to_geodetic(pos)
    # local east/north/up at each track: rotate its ECEF velocity and covariance
    slat, clat, slon, clon = np.sin(lat), np.cos(lat), np.sin(lon), np.cos(lon)
    rot = np.stack([np.stack([-slon, clon, np.zeros(n)], -1),
                    np.stack([-slat * clon, -slat * slon, clat], -1),
                    np.stack([clat * clon, clat * slon, slat], -1)], axis=1)  # (n, 3, 3) rows e, n, u
    enu_v = np.einsum("nij,nj->ni", rot, vel)
    if snapshot.position_cov is not None:
        cov = np.einsum("nij,njk,nlk->nil", rot, np.asarray(snapshot.position_cov, float)[rows], rot)
        h = cov[:, :2, :2]
        tr, det = h[:, 0, 0] + h[:, 1, 1], h[:, 0, 0] * h[:, 1, 1] - h[:, 0, 1] ** 2
        sigma_h = np.sqrt(np.maximum(tr / 2 + np.sqrt(np.maximum(tr ** 2 / 4 - det, 0.0)), 0.0))
        sigma_v = np.sqrt(np.maximum(cov[:, 2, 2], 0.0))
    else:
        sigma_h = sigma_v = np.full(n, np.nan)
    extra = snapshot.extra or {}
    ident = extra.get("identity")
    identity = (np.asarray(IDENTITIES, object)[np.clip(np.asarray(ident, np.int64)[rows], 0, len(IDENTITIES) - 1)]
                if ident is not None else np.full(n, "pending", object))
    cls_id = extra.get("track_class_id")
    track_class = (np.asarray(CLASSES, object)[np.clip(np.asarray(cls_id, np.int64)[rows], 0, len(CLASSES) - 1)]
                   if cls_id is not None else np.full(n, "unknown", object))
    level = extra.get("threat_level")
    threat = (np.asarray(THREAT_LEVELS, object)[np.clip(np.asarray(level, np.int64)[rows], 0, 3)]
              if level is not None else np.full(n, "none", object))
    score = extra.get("threat_score")
    sources = extra.get("sources")
    if sources is None and "source_mask" in extra and len(sensor_names):
        from ..outputs.parquet import mask_names

        sources = mask_names(np.asarray(extra["source_mask"]), list(sensor_names))
    speed = np.hypot(enu_v[:, 0], enu_v[:, 1])
    columns = {
        "track_id": np.asarray(snapshot.track_id, np.int64)[rows],
        "time": np.asarray(snapshot.time, float)[rows],
        "status": np.asarray([STATUS_NAMES.get(int(s), "?") for s in np.asarray(snapshot.status)[rows]], object),
        "lat": np.degrees(lat), "lon": np.degrees(lon), "alt_m": np.asarray(alt, float),
        "v_east_mps": enu_v[:, 0], "v_north_mps": enu_v[:, 1], "v_up_mps": enu_v[:, 2],
        "speed_mps": speed, "course_deg": np.degrees(np.arctan2(enu_v[:, 0], enu_v[:, 1])) % 360.0,
        "sigma_h_m": sigma_h, "sigma_v_m": sigma_v,
        "identity": identity, "identity_reason": _text(extra, "identity_reason", n, rows),
        "track_class": track_class,
        "class_hint": (np.asarray([("" if c is None else str(c)) for c in snapshot.track_class[rows]], object)
                       if snapshot.track_class is not None else np.full(n, "", object)),
        "threat_level": threat,
        "threat_score": np.asarray(score, float)[rows] if score is not None else np.zeros(n),
        "threat_reason": _text(extra, "threat_reason", n, rows),
        "icao24": _text(extra, "icao24", n, rows), "callsign": _text(extra, "callsign", n, rows),
        "squawk": _text(extra, "squawk", n, rows),
        "emergency": _emergency(extra, n, rows),
        "spoof": _flag(extra, "spoof", n, rows), "spoof_reason": _text(extra, "spoof_reason", n, rows),
        "sources": (np.asarray(sources, object)[rows] if sources is not None else np.full(n, "", object)),
        "transponder_only": _flag(extra, "transponder_only", n, rows),
    }
    return PictureFrame(float(t), columns, list(alerts), measurements, epoch_unix)


MEASUREMENT_COLUMNS = {"time": "f", "sensor": "s", "kind": "s", "range_m": "f", "azimuth_deg": "f",
                       "elevation_deg": "f", "range_rate_mps": "f", "icao24": "s", "lat": "f", "lon": "f",
                       "alt_m": "f", "truth": "i"}


def measurement_columns(*, plots=None, reports=None, sensor_names=(), sensor_kinds=(), report_sensor: str = "adsb",
                        time_offset_s: float = 0.0) -> dict[str, np.ndarray]:
    """The measurements a step consumed, as one table: radar / EO plots (polar, sensor frame) and transponder
    reports (geodetic) - columns in ``MEASUREMENT_COLUMNS``, NaN / '' where a kind has no such field."""
    parts = []
    names = np.asarray(list(sensor_names) or ["?"], object)
    kinds = np.asarray(list(sensor_kinds) or ["?"], object)
    if plots is not None and len(plots):
        n = len(plots)
        idx = np.clip(np.asarray(plots.sensor, np.int64), 0, len(names) - 1)
        v = np.asarray(plots.values, float)
        parts.append({"time": np.asarray(plots.time, float), "sensor": names[idx], "kind": kinds[idx],
                      "range_m": v[:, 0], "azimuth_deg": np.degrees(v[:, 1]), "elevation_deg": np.degrees(v[:, 2]),
                      "range_rate_mps": v[:, 3], "icao24": np.full(n, "", object), "lat": np.full(n, np.nan),
                      "lon": np.full(n, np.nan), "alt_m": np.full(n, np.nan),
                      "truth": np.asarray(plots.truth, np.int64)})
    if reports is not None and len(reports.time):
        n = len(reports.time)
        lat, lon, alt = geo.ecef_to_geodetic(np.asarray(reports.position_ecef, float))
        nan = np.full(n, np.nan)
        parts.append({"time": np.asarray(reports.time, float) - time_offset_s, "sensor": np.full(n, report_sensor, object),
                      "kind": np.full(n, "adsb", object), "range_m": nan, "azimuth_deg": nan, "elevation_deg": nan,
                      "range_rate_mps": nan, "icao24": np.asarray(reports.icao24, object).astype(str).astype(object),
                      "lat": np.degrees(lat), "lon": np.degrees(lon), "alt_m": np.asarray(alt, float),
                      "truth": np.full(n, -1, np.int64)})
    if not parts:
        dtypes = {"f": np.float64, "i": np.int64, "s": object}
        return {k: np.zeros(0, dtypes[t]) for k, t in MEASUREMENT_COLUMNS.items()}
    return {k: np.concatenate([p[k] for p in parts]) for k in MEASUREMENT_COLUMNS}
