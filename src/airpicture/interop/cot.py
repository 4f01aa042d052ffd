"""Cursor-on-Target: every track of the picture as a CoT event, sent over UDP, TCP or TLS (ATAK, WinTAK, taky,
FreeTAKServer ...). See docs/interop.md for the type table and the field conventions.

One event per track per frame::

    <event version="2.0" uid="airpicture-<name>-T<id>" type="a-h-A-M-F" how="m-f"
           time=".." start=".." stale="..">
      <point lat=".." lon=".." hae=".." ce=".." le=".."/>
      <detail>
        <track course=".." speed=".."/>            degrees true, m/s
        <contact callsign=".."/>                   callsign, else T<id>
        <remarks>identity / class / threat reasons</remarks>
        <_flow-tags_ airpicture="..Z"/>
      </detail>
    </event>

Types are always atoms (``a-``): a track is never sent as a tasking (``t-``) or any other kind of event.
"""

from __future__ import annotations

import math
import re
import time as _time
import xml.etree.ElementTree as ET
from datetime import datetime, timezone


from ..identity.standard import CLASSES, IDENTITIES, IDENTITY_LETTERS
from .net import Destination, FrameClock, Sender, parse_destination

# CoT's second atom letter is the MIL-STD-2525 standard identity letter (standard.IDENTITY_LETTERS):
# p pending, u unknown, a assumed friend, f friend, n neutral, s suspect, h hostile, j joker, k faker.
# Air function (2525B battle dimension A) per track class, military / civil branch, as MITRE's CoTtypes.xml names
# them (upper case from MIL-STD-2525, lower case CoT's own extensions such as the civil drone A-C-F-q):
AIR_FUNCTION = {
    "fixed_wing": ("A-M-F", "A-C-F"),
    "rotary_wing": ("A-M-H", "A-C-H"),
    "uav": ("A-M-F-Q", "A-C-F-q"),
    "missile": ("A-W-M", "A-W-M"),  # air track, weapon, missile in flight
    "bird": ("A", "A"),  # no 2525 air function for a bird: a bare air track
    "unknown": ("A", "A"),
}
UNKNOWN_ERROR = 9999999.0  # CoT's "not known" for ce / le / hae
DEFAULT_STALE_PERIODS = 5  # stale = time + this many frame intervals ...
MIN_STALE_S = 10.0  # ... but never sooner than this


def is_civil(identity: str, icao24: str = "") -> bool:
    """Civil branch (A-C-...) for a neutral track, and for a pending / unknown one that carries a transponder
    address (a cooperative aircraft); military (A-M-...) otherwise."""
    return identity == "neutral" or (identity in ("pending", "unknown") and bool(icao24))


def cot_type(identity: str, track_class: str, icao24: str = "") -> str:
    """The CoT atom type of a track, e.g. ``a-n-A-C-F`` (neutral civil fixed wing) or ``a-h-A-M-F-Q``."""
    letter = IDENTITY_LETTERS.get(identity, "u")
    military, civil = AIR_FUNCTION.get(track_class, AIR_FUNCTION["unknown"])
    function = civil if is_civil(identity, icao24) else military
    return f"a-{letter}-{function}"


def cot_how(sources: str, transponder_only: bool) -> str:
    """CoTtypes.xml "how": ``m-f`` (fused) for a track held by more than one source; ``m-g`` (gps) for a track
    held by transponder (ADS-B) reports only - its position is the aircraft's own GNSS; ``m-a`` (tracker) for a
    track of a single radar or EO sensor."""
    names = [s for s in re.split(r"[,;+]", str(sources or "")) if s.strip()]
    if len(names) > 1:
        return "m-f"
    if transponder_only:
        return "m-g"
    return "m-a"


def iso(t_unix: float) -> str:
    ms = int(round(float(t_unix) * 1000.0))
    return datetime.fromtimestamp(ms // 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _num(x, default=UNKNOWN_ERROR) -> float:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return default
    return x if math.isfinite(x) else default


def track_uid(picture_name: str, track_id: int) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in str(picture_name)) or "picture"
    return f"airpicture-{safe}-T{int(track_id)}"


def remarks(rec: dict, simulated: bool = False) -> str:
    parts = ["SIMULATION"] if simulated else []
    parts += [f"T{rec['track_id']} {rec.get('status', '')}".strip(),
             f"identity {rec.get('identity', 'pending')}" + (f": {rec['identity_reason']}"
                                                             if rec.get("identity_reason") else ""),
             f"class {rec.get('track_class', 'unknown')}"]
    if rec.get("threat_level") and rec["threat_level"] != "none":
        parts.append(f"threat {rec['threat_level']} ({_num(rec.get('threat_score'), 0.0):.2f})"
                     + (f": {rec['threat_reason']}" if rec.get("threat_reason") else ""))
    for key, label in (("icao24", "icao"), ("squawk", "squawk"), ("sources", "sources")):
        if rec.get(key):
            parts.append(f"{label} {rec[key]}")
    if rec.get("emergency"):
        parts.append("EMERGENCY")
    if rec.get("spoof"):
        parts.append("SPOOF" + (f": {rec['spoof_reason']}" if rec.get("spoof_reason") else ""))
    return "; ".join(parts)


def event_element(rec: dict, *, picture_name: str, t_unix: float, stale_s: float,
                  simulated: bool = False) -> ET.Element:
    """The CoT event of one frame record (``PictureFrame.records()``) at ``t_unix``; a simulated picture's
    remarks start with SIMULATION."""
    ev = ET.Element("event", {
        "version": "2.0", "uid": track_uid(picture_name, rec["track_id"]),
        "type": cot_type(rec.get("identity") or "pending", rec.get("track_class") or "unknown",
                         rec.get("icao24") or ""),
        "how": cot_how(rec.get("sources", ""), bool(rec.get("transponder_only"))),
        "time": iso(t_unix), "start": iso(t_unix), "stale": iso(t_unix + stale_s)})
    ET.SubElement(ev, "point", {
        "lat": f"{float(rec['lat']):.7f}", "lon": f"{float(rec['lon']):.7f}",
        "hae": f"{_num(rec.get('alt_m')):.1f}",
        "ce": f"{_num(rec.get('sigma_h_m')):.1f}", "le": f"{_num(rec.get('sigma_v_m')):.1f}"})
    detail = ET.SubElement(ev, "detail")
    ET.SubElement(detail, "track", {"course": f"{_num(rec.get('course_deg'), 0.0):.1f}",
                                    "speed": f"{_num(rec.get('speed_mps'), 0.0):.1f}"})
    callsign = (rec.get("callsign") or "").strip() or f"T{rec['track_id']}"
    ET.SubElement(detail, "contact", {"callsign": callsign})
    ET.SubElement(detail, "remarks").text = remarks(rec, simulated)
    ET.SubElement(detail, "_flow-tags_", {"airpicture": iso(_time.time())})
    return ev


def event_xml(rec: dict, **kw) -> bytes:
    return ET.tostring(event_element(rec, **kw), encoding="utf-8", xml_declaration=False)


class CotSink:
    """A picture sink that sends each frame's tracks as CoT events to ``url`` (udp://, tcp://, tls://).

    Event times: a replay / live feed uses its own Unix times; a simulation's times are counted from the wall
    clock at its first frame (so a simulated picture is current in ATAK). ``stale_s``: how long a receiver keeps
    a track without a new event; default ``DEFAULT_STALE_PERIODS`` frame intervals, at least ``MIN_STALE_S``.
    """

    def __init__(self, url: str | Destination, *, name: str | None = None, stale_s: float | None = None,
                 backoff_s=(0.5, 30.0), max_frames: int = 8):
        self.dest = url if isinstance(url, Destination) else parse_destination(url, field="--cot")
        self.name = name or f"cot {self.dest.url}"
        self.stale_s = stale_s
        self._backoff_s, self._max_frames = backoff_s, max_frames
        self.sender: Sender | None = None
        self.picture_name = "picture"
        self.simulated = False
        self._unix = FrameClock()
        self._last_t: float | None = None
        self._interval = 1.0
        self.frames = 0

    def open(self, context) -> None:
        self.picture_name = context.name
        self.simulated = context.mode == "simulation"
        self._unix, self._last_t = FrameClock(), None
        if self.sender is None:
            self.sender = Sender(self.dest, backoff_s=self._backoff_s, max_frames=self._max_frames, name="cot")


    def step(self, frame) -> None:
        if self.sender is None:
            raise RuntimeError("CoT sink stepped before open")
        if self._last_t is not None and frame.time > self._last_t:
            self._interval = float(frame.time - self._last_t)
        self._last_t = float(frame.time)
        stale = self.stale_s if self.stale_s is not None else max(DEFAULT_STALE_PERIODS * self._interval,
                                                                   MIN_STALE_S)
        t = self._unix(frame)
        msgs = [event_xml(rec, picture_name=self.picture_name, t_unix=t, stale_s=stale, simulated=self.simulated)
                for rec in frame.records() if rec["lat"] is not None and rec["lon"] is not None]
        self.frames += 1
        self.sender.submit(msgs)

    def close(self, summary: dict) -> None:
        if self.sender is not None:
            self.sender.close()

    def stats(self) -> dict:
        out = {"events": 0} if self.sender is None else self.sender.stats()
        out["events"] = out.pop("messages", 0)
        return out


def all_types() -> dict[tuple[str, str, bool], str]:
    """Every (identity, class, civil) combination's type: for the docs and the tests."""
    return {(i, c, civil): cot_type(i, c, "abc123" if civil else "")
            for i in IDENTITIES for c in CLASSES for civil in (False, True)}


__all__ = ["AIR_FUNCTION", "CotSink", "cot_how", "cot_type", "event_xml", "event_element", "track_uid",
           "all_types"]
