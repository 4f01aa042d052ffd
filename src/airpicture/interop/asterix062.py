"""ASTERIX CAT062 (SDPS system tracks) over UDP, encoded with libasterix (Cat_062_1_20; the items used here
are laid out the same in editions 1.18 to 1.21). See docs/interop.md for the item list.

One record per track per frame; records are packed into datablocks of at most ``MAX_DATAGRAM`` bytes, one
datablock per UDP datagram. A track that leaves the picture gets a last record with I062/080 TSE set.
"""

from __future__ import annotations

import math
import re

import asterix.generated as gen

from ..errors import InputError
from .net import Destination, FrameClock, Sender, parse_destination

SPEC = gen.Cat_062_1_20
MAX_DATAGRAM = 1400  # bytes: one Ethernet MTU minus headers
FT = 0.3048
LSB_LATLON = 180.0 / 2 ** 25  # I062/105
LSB_V = 0.25  # I062/185, m/s
LSB_TOD = 1.0 / 128.0  # I062/070, s
LSB_ALT_FT = 6.25  # I062/130, ft; I062/220 ft/min; I062/500 AGA ft
LSB_APC = 0.5  # I062/500 APC, m
EMERGENCY_EMS = {"7500": 5, "7600": 4, "7700": 1}  # I062/080 EMS: unlawful interference, no comms, general


def _q(x: float, lsb: float, bits: int, signed: bool) -> int:
    """Quantise to the item's LSB (nearest), saturated to its range; two's complement for signed items."""
    n = int(round(x / lsb))
    if signed:
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        n = min(max(n, lo), hi)
        return n & ((1 << bits) - 1)
    return min(max(n, 0), (1 << bits) - 1)


def _finite(x) -> bool:
    try:
        return x is not None and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def mode5_status(rec: dict) -> int:
    """I062/080 MD5: 1 friendly (an authenticated Mode 5 reply made the identity), 2 unknown target (the
    authenticated mode failed), 0 otherwise (no Mode 5 information in the picture)."""
    reason = (rec.get("identity_reason") or "").lower()
    if "authenticated mode failed" in reason:
        return 2
    if "authenticated iff" in reason or "mode 5 reply" in reason:
        return 1
    return 0


def _sources(rec: dict) -> list[str]:
    return [s.strip() for s in re.split(r"[,;]", rec.get("sources") or "") if s.strip()]


def track_status(rec: dict, *, first: bool, last: bool, simulated: bool) -> tuple:
    """I062/080 up to its fifth extent (SDS / EMS); each extent's tuple ends with None, its FX bit."""
    srcs = _sources(rec)
    adsb = bool(rec.get("transponder_only")) or any("adsb" in s.lower() for s in srcs)
    cooperative = bool(rec.get("icao24") or rec.get("squawk") or rec.get("callsign"))
    sds = 1 if rec.get("transponder_only") else (0 if cooperative else 2)
    ems = EMERGENCY_EMS.get(rec.get("squawk") or "", 1 if rec.get("emergency") else 0)
    return (
        (("MON", 1 if len(srcs) <= 1 else 0), ("SPI", 0), ("MRH", 1), ("SRC", 1 if adsb else 0),
         ("CNF", 0 if rec.get("status") in ("confirmed", "coasting") else 1), None),
        (("SIM", 1 if simulated else 0), ("TSE", 1 if last else 0), ("TSB", 1 if first else 0), ("FPC", 0),
         ("AFF", 1 if rec.get("spoof") else 0), ("STP", 0), ("KOS", 0), None),
        (("AMA", 0), ("MD4", 0), ("ME", 0), ("MI", 0), ("MD5", mode5_status(rec)), None),
        (("CST", 1 if rec.get("status") == "coasting" else 0), ("PSR", 0), ("SSR", 0), ("MDS", 0),
         ("ADS", 0), ("SUC", 0), ("AAC", 0), None),
        (("SDS", sds), ("EMS", ems), ("PFT", 0), ("FPLT", 0), None),
    )


def time_of_day(t_unix: float) -> float:
    return float(t_unix) % 86400.0


def track_record(rec: dict, *, sac: int, sic: int, service_id: int, t_unix: float, first: bool = False,
                 last: bool = False, simulated: bool = False):
    """One CAT062 record (libasterix ``Record``) of a frame record."""
    items: dict = {
        "010": (("SAC", sac), ("SIC", sic)),
        "015": service_id,
        "070": _q(time_of_day(t_unix), LSB_TOD, 24, False),
        "105": (("LAT", _q(float(rec["lat"]), LSB_LATLON, 32, True)),
                ("LON", _q(float(rec["lon"]), LSB_LATLON, 32, True))),
        "040": int(rec["track_id"]) % 65536,
        "080": track_status(rec, first=first, last=last, simulated=simulated),
    }
    if _finite(rec.get("v_east_mps")) and _finite(rec.get("v_north_mps")):
        items["185"] = (("VX", _q(float(rec["v_east_mps"]), LSB_V, 16, True)),
                        ("VY", _q(float(rec["v_north_mps"]), LSB_V, 16, True)))
    squawk = rec.get("squawk") or ""
    if re.fullmatch(r"[0-7]{4}", squawk):
        items["060"] = (("V", 0), ("G", 0), ("CH", 0), 0, ("MODE3A", int(squawk, 8)))
    if _finite(rec.get("alt_m")):
        items["130"] = _q(float(rec["alt_m"]) / FT, LSB_ALT_FT, 16, True)
    if _finite(rec.get("v_up_mps")):
        items["220"] = _q(float(rec["v_up_mps"]) / FT * 60.0, LSB_ALT_FT, 16, True)
    adr = (rec.get("icao24") or "").strip().lower()
    callsign = (rec.get("callsign") or "").strip().upper()
    i380: dict = {}
    if re.fullmatch(r"[0-9a-f]{6}", adr):
        i380["ADR"] = int(adr, 16)
    if callsign and re.fullmatch(r"[A-Z0-9 ]{1,8}", callsign):
        i380["ID"] = callsign.ljust(8)
    if i380:
        items["380"] = i380
    i500: dict = {}
    if _finite(rec.get("sigma_h_m")):
        a = _q(float(rec["sigma_h_m"]), LSB_APC, 16, False)
        i500["APC"] = (("X", a), ("Y", a))
    if _finite(rec.get("sigma_v_m")):
        i500["AGA"] = _q(float(rec["sigma_v_m"]) / FT, LSB_ALT_FT, 8, False)
    if i500:
        items["500"] = i500
    return SPEC.cv_record.create(items)


def datagrams(records) -> list[bytes]:
    """Pack records into datablocks of at most MAX_DATAGRAM bytes (one datagram each)."""
    out, chunk, size = [], [], 3
    for r in records:
        n = len(r.unparse().to_bytes())
        if chunk and size + n > MAX_DATAGRAM:
            out.append(SPEC.create(chunk).unparse().to_bytes())
            chunk, size = [], 3
        chunk.append(r)
        size += n
    if chunk:
        out.append(SPEC.create(chunk).unparse().to_bytes())
    return out


class Cat062Sink:
    """A picture sink that sends each frame's tracks as ASTERIX CAT062 to ``url`` (udp://host:port).

    ``sac`` / ``sic``: the data source identifier of this SDPS (I062/010); ``service_id``: I062/015.
    Times: I062/070 is the UTC time of day of the frame (a simulation counts from the wall clock at its first
    frame, like the CoT sink)."""

    def __init__(self, url: str | Destination, *, sac: int = 0, sic: int = 1, service_id: int = 1,
                 name: str | None = None, backoff_s=(0.5, 30.0)):
        self.dest = url if isinstance(url, Destination) else parse_destination(url, schemes=("udp",),
                                                                              field="--asterix")
        for label, v in (("sac", sac), ("sic", sic), ("service_id", service_id)):
            if not (isinstance(v, int) and 0 <= v <= 255):
                raise InputError(f"must be an integer 0-255, found {v!r}", field=label)
        self.sac, self.sic, self.service_id = sac, sic, service_id
        self.name = name or f"asterix062 {self.dest.url}"
        self._backoff_s = backoff_s
        self.sender: Sender | None = None
        self._unix = FrameClock()
        self._simulated = False
        self._live: dict[int, dict] = {}  # track id -> its last record (for the TSE record when it goes)
        self.records = 0

    def open(self, context) -> None:
        self._simulated = context.mode == "simulation"
        self._unix, self._live = FrameClock(), {}
        if self.sender is None:
            self.sender = Sender(self.dest, backoff_s=self._backoff_s, name="asterix062")


    def step(self, frame) -> None:
        if self.sender is None:
            raise RuntimeError("CAT062 sink stepped before open")
        t = self._unix(frame)
        kw = dict(sac=self.sac, sic=self.sic, service_id=self.service_id, t_unix=t, simulated=self._simulated)
        recs, live = [], {}
        for rec in frame.records():
            if rec["lat"] is None or rec["lon"] is None:
                continue
            tid = int(rec["track_id"])
            recs.append(track_record(rec, first=tid not in self._live, **kw))
            live[tid] = rec
        for tid, rec in self._live.items():
            if tid not in live:  # the track left the picture: its last message
                recs.append(track_record(rec, last=True, **kw))
        self._live = live
        self.records += len(recs)
        self.sender.submit(datagrams(recs))

    def close(self, summary: dict) -> None:
        if self.sender is not None:
            self.sender.close()

    def stats(self) -> dict:
        out = {} if self.sender is None else self.sender.stats()
        out["datagrams"] = out.pop("messages", 0)
        out["records"] = self.records
        return out
