"""The picture as readsb's ``aircraft.json`` (what tar1090 and most ADS-B tools read), field names and units
as readsb's README-json.md documents them: feet, knots, feet per minute, degrees, seconds.

Per track: ``hex`` (the Mode S address; a track without one gets ``~`` + 6 hex digits of its track number, the
readsb convention for a non-ICAO address), ``type`` (see ``track_type``), ``flight`` (callsign padded to 8
characters, as readsb prints it), ``alt_geom`` (the track's height above the WGS-84 ellipsoid, ft; no
``alt_baro``: the picture holds geometric heights only), ``gs``, ``track``, ``geom_rate``, ``squawk``,
``emergency``, ``lat``, ``lon``, ``nac_p`` (from the track's horizontal accuracy), ``seen`` / ``seen_pos``
(age of the track state at ``now``). Keys without data are omitted, as readsb does.
"""

from __future__ import annotations

import math
import re
import time as _time

FT = 0.3048
KT = 1852.0 / 3600.0
EMERGENCY = {"7500": "unlawful", "7600": "nordo", "7700": "general"}
# NACp: 95 % horizontal accuracy bound (EPU) below these metres -> category (DO-260B 2.2.5.1.35)
NACP_EPU_M = ((3.0, 11), (10.0, 10), (30.0, 9), (92.6, 8), (185.2, 7), (555.6, 6), (926.0, 5), (1852.0, 4),
              (3704.0, 3), (7408.0, 2), (18520.0, 1))
EPU_PER_SIGMA = 2.448  # 95 % radius of a circular 2D Gaussian per 1-sigma


def track_type(rec: dict) -> str:
    """readsb ``type``: ``adsb_icao`` when ADS-B reports hold the track; ``tisb_icao`` for a radar track with a
    Mode S address (a Mode S target tracked by a secondary radar); ``other`` for a track known only by its track
    number (a non-cooperative / primary radar or EO track), as issue 7 asks (readsb has a
    closer type, ``tisb_trackfile``; see docs/interop.md)."""
    sources = (rec.get("sources") or "").lower()
    icao = _icao(rec)
    if icao and (rec.get("transponder_only") or "adsb" in sources):
        return "adsb_icao"
    if icao:
        return "tisb_icao"
    return "other"


def _icao(rec: dict) -> str:
    a = (rec.get("icao24") or "").strip().lower()
    return a if re.fullmatch(r"[0-9a-f]{6}", a) else ""


def track_hex(rec: dict) -> str:
    return _icao(rec) or f"~{int(rec['track_id']) & 0xFFFFFF:06x}"


def nac_p(sigma_h_m) -> int | None:
    if sigma_h_m is None or not math.isfinite(float(sigma_h_m)):
        return None
    epu = EPU_PER_SIGMA * float(sigma_h_m)
    for bound, cat in NACP_EPU_M:
        if epu < bound:
            return cat
    return 0


def _ok(x) -> bool:
    return x is not None and isinstance(x, (int, float)) and math.isfinite(x)


def aircraft_entry(rec: dict, now: float, t_unix: float) -> dict:
    out: dict = {"hex": track_hex(rec), "type": track_type(rec)}
    cs = (rec.get("callsign") or "").strip()
    if cs:
        out["flight"] = cs[:8].ljust(8)
    if _ok(rec.get("alt_m")):
        out["alt_geom"] = int(round(rec["alt_m"] / FT))
    if _ok(rec.get("speed_mps")):
        out["gs"] = round(rec["speed_mps"] / KT, 1)
    if _ok(rec.get("course_deg")):
        out["track"] = round(rec["course_deg"] % 360.0, 2)
    if _ok(rec.get("v_up_mps")):
        out["geom_rate"] = int(round(rec["v_up_mps"] / FT * 60.0))
    sq = rec.get("squawk") or ""
    if re.fullmatch(r"[0-7]{4}", sq):
        out["squawk"] = sq
    if sq or _icao(rec):  # a transponder that could say so
        out["emergency"] = EMERGENCY.get(sq, "general" if rec.get("emergency") else "none")
    elif rec.get("emergency"):
        out["emergency"] = "general"
    out["lat"] = round(float(rec["lat"]), 6)
    out["lon"] = round(float(rec["lon"]), 6)
    n = nac_p(rec.get("sigma_h_m"))
    if n is not None:
        out["nac_p"] = n
    age = max(round(now - t_unix, 1), 0.0)
    out["seen"] = age
    out["seen_pos"] = age
    return out


def aircraft_json(frame, context=None, now: float | None = None, *, messages: int = 0) -> dict:
    """readsb ``aircraft.json`` of a frame. ``now``: Unix seconds of the file (default: the frame's own time
    for a replay / live picture, the wall clock for a simulation); ``messages``: the run's message count if it
    has one (readsb: Mode S messages processed)."""
    t_unix = float(frame.time) + (float(frame.epoch_unix) if frame.epoch_unix is not None else 0.0)
    if frame.epoch_unix is None:  # a simulation: its seconds since start are shown as current
        t_unix = _time.time() if now is None else float(now)
    now = t_unix if now is None else float(now)
    aircraft = [aircraft_entry(rec, now, t_unix) for rec in frame.records()
                if rec.get("lat") is not None and rec.get("lon") is not None]
    return {"now": round(now, 1), "messages": int(messages), "aircraft": aircraft}
