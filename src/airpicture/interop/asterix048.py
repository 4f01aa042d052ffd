"""ASTERIX CAT048 radar target reports in: a real radar feed as tracker measurements (docs/interop.md).

Input: a pcap capture (classic libpcap, any byte order, micro- or nanosecond stamps; Ethernet, VLAN, Linux
cooked, raw IP or loopback link layers; IPv4 / IPv6 UDP) or a raw file of concatenated ASTERIX datablocks.
Each datagram is parsed with libasterix (CAT048 ed. 1.31, CAT034 ed. 1.29).

From each CAT048 record: I048/010 SAC/SIC (which radar), I048/140 time of day, I048/040 polar position (slant
range, azimuth), I048/070 Mode 3/A, I048/090 flight level, I048/220 Mode S address, I048/240 callsign,
I048/020 report type (TYP, SIM, TST). A radar's position is not in CAT048: it comes from ``--radar-site``
(``LAT,LON,ALT`` for a capture with one radar, ``SAC/SIC=LAT,LON,ALT`` for each of several) or else from the
I034/120 of the radar's own CAT034 service messages. Plots of a radar without a position are skipped and
counted (``no_site``, with the radars' SAC/SIC listed).

A plot with a valid flight level gets an elevation: the line-of-sight angle at the radar to a target at
that altitude (pressure altitude taken as height, 1-sigma ``FL_ALTITUDE_SIGMA_M``); without one it is a 2D plot
(NaN elevation) and the tracker assumes an altitude. Times: the time of day is put on the UTC day of the
capture's packet stamp (the day within +-12 h of it); a raw file without stamps uses ``day`` (Unix seconds of
a UTC midnight, default: today).

Skipped and counted, never raised: datagrams that are not UDP/ASTERIX, datablocks whose length is wrong,
records libasterix cannot parse (an item the edition does not define, a truncated item: the rest of that
datablock cannot be delimited and is skipped too), records without a position, test / simulated targets,
and the same plot received twice (redundant LANs deliver every datagram twice).
"""

from __future__ import annotations

import math
import struct
import time as _time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..measurements import MeasurementBatch, SensorSite, UNKNOWN_TRUTH

NM = 1852.0
FT = 0.3048
EARTH_RADIUS_M = 6_371_000.0
FL_ALTITUDE_SIGMA_M = 150.0  # pressure altitude vs the tracker's geometric height (QNH, temperature)
RADAR_DEFAULTS = {  # a Mode S en-route radar (SI keys of sensors.params.RADAR_PARAMS)
    "dimension": 3, "scan_period_s": 4.0, "range_max_m": 256 * NM, "range_min_m": 500.0,
    "elevation_min_rad": math.radians(-3.0), "elevation_max_rad": math.radians(45.0),
    "sigma_range_m": 40.0, "sigma_azimuth_rad": math.radians(0.08), "sigma_elevation_rad": math.radians(0.5),
    "sigma_range_rate_mps": 0.0, "false_alarms_per_scan": 1.0,
}
PCAP_MAGIC = {b"\xd4\xc3\xb2\xa1": ("<", 1e-6), b"\xa1\xb2\xc3\xd4": (">", 1e-6),
              b"\x4d\x3c\xb2\xa1": ("<", 1e-9), b"\xa1\xb2\x3c\x4d": (">", 1e-9)}


# ----------------------------------------------------------------------------------------------- reading

def is_pcap(head: bytes) -> bool:
    return head[:4] in PCAP_MAGIC


def read_capture(path, counts: Counter | None = None):
    """Yield ``(stamp_unix | None, udp_payload)``: the UDP payloads of a pcap, or a raw ASTERIX file as one
    payload with no stamp. ``counts`` collects what was skipped (``not_udp``, ``fragments``, ``truncated``)."""
    counts = Counter() if counts is None else counts
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the capture: {exc.strerror or exc}", source=str(path)) from None
    if data[:4] == b"\x0a\x0d\x0d\x0a":
        raise InputError("pcapng is not read: convert it with `editcap -F pcap in.pcapng out.pcap`",
                         source=str(path))
    if not is_pcap(data):
        yield None, data
        return
    endian, tick = PCAP_MAGIC[data[:4]]
    if len(data) < 24:
        raise InputError("truncated pcap header", source=str(path))
    linktype = struct.unpack(endian + "I", data[20:24])[0] & 0x0FFFFFFF
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack(endian + "IIII", data[off:off + 16])
        off += 16
        pkt = data[off:off + incl]
        off += incl
        if len(pkt) < incl:
            counts["truncated"] += 1
            break
        counts["packets"] += 1
        payload = _udp_payload(linktype, pkt, counts)
        if payload is not None:
            yield sec + frac * tick, payload
    if off < len(data):
        counts["truncated"] += 1


def _udp_payload(linktype: int, pkt: bytes, counts: Counter) -> bytes | None:
    if linktype == 1:  # Ethernet (+ 802.1Q tags)
        off, etype = 14, pkt[12:14]
        while etype in (b"\x81\x00", b"\x88\xa8") and len(pkt) >= off + 4:
            etype, off = pkt[off + 2:off + 4], off + 4
    elif linktype == 113:  # Linux cooked v1
        off, etype = 16, pkt[14:16]
    elif linktype == 276:  # Linux cooked v2
        off, etype = 20, pkt[0:2]
    elif linktype in (101, 12, 14, 228, 229):  # raw IP
        off = 0
        etype = b"\x08\x00" if pkt[:1] and pkt[0] >> 4 == 4 else b"\x86\xdd"
    elif linktype == 0:  # BSD loopback
        off = 4
        etype = b"\x08\x00" if pkt[:4] in (b"\x02\x00\x00\x00", b"\x00\x00\x00\x02") else b"\x86\xdd"
    else:
        counts["unknown_linktype"] += 1
        return None
    ip = pkt[off:]
    if etype == b"\x08\x00" and len(ip) >= 20:
        ihl = (ip[0] & 0x0F) * 4
        if ip[9] != 17:
            counts["not_udp"] += 1
            return None
        if struct.unpack(">H", ip[6:8])[0] & 0x3FFF:  # more fragments or an offset
            counts["fragments"] += 1
            return None
        udp = ip[ihl:]
    elif etype == b"\x86\xdd" and len(ip) >= 40:
        if ip[6] != 17:
            counts["not_udp"] += 1
            return None
        udp = ip[40:]
    else:
        counts["not_udp"] += 1
        return None
    if len(udp) < 8:
        counts["truncated"] += 1
        return None
    return udp[8:struct.unpack(">H", udp[4:6])[0]]


# ----------------------------------------------------------------------------------------------- decoding

@dataclass
class Plots:
    """Decoded target reports, one entry per plot (lists until :meth:`arrays`)."""

    sac_sic: list = field(default_factory=list)
    tod: list = field(default_factory=list)
    stamp: list = field(default_factory=list)  # the packet's Unix stamp, or NaN
    range_m: list = field(default_factory=list)
    azimuth_rad: list = field(default_factory=list)
    fl_m: list = field(default_factory=list)  # flight level as metres (NaN unknown / not valid)
    mode3a: list = field(default_factory=list)
    address: list = field(default_factory=list)
    callsign: list = field(default_factory=list)
    typ: list = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.tod)


def _specs():
    import asterix.generated as gen

    return gen.Cat_048_1_31, gen.Cat_034_1_29


class Cat048Decoder:
    """Datagrams in, plots and CAT034 radar positions out, with counters (:attr:`counts`)."""

    def __init__(self):
        from asterix.base import Bits, ParsingMode, RawDatablock

        self._Bits, self._Raw, self._strict = Bits, RawDatablock, ParsingMode.StrictParsing
        self.cat048, self.cat034 = _specs()
        self.plots = Plots()
        self.sites_034: dict[tuple[int, int], tuple[float, float, float]] = {}
        self.counts: Counter = Counter()
        self._seen: dict = {}

    def feed(self, stamp: float | None, data: bytes) -> None:
        c = self.counts
        c["datagrams"] += 1
        blocks = self._Raw.parse(self._Bits.from_bytes(bytes(data)))
        if isinstance(blocks, ValueError):
            c["malformed_datablocks"] += 1
            return
        for block in blocks:
            cat = block.get_category()
            c[f"cat{cat:03d}_datablocks"] += 1
            if cat == 48:
                self._records(block, self.cat048, lambda r: self._plot(stamp, r))
            elif cat == 34:
                self._records(block, self.cat034, self._service)
            else:
                c["other_category_datablocks"] += 1

    def _records(self, block, spec, handle) -> None:
        remaining = block.get_raw_records()
        while len(remaining):
            result = spec.cv_record.parse(self._strict, remaining)
            if isinstance(result, ValueError):
                self.counts[f"malformed_cat{spec.cv_category:03d}_records"] += 1  # the rest cannot be delimited
                return
            rec, remaining = result
            self.counts[f"cat{spec.cv_category:03d}_records"] += 1
            try:
                handle(rec)
            except (AttributeError, TypeError, ValueError):
                self.counts[f"malformed_cat{spec.cv_category:03d}_records"] += 1

    def _service(self, rec) -> None:
        i010, i120 = rec.get_item("010"), rec.get_item("120")
        if i010 is None or i120 is None:
            return
        key = (i010.variation.get_item("SAC").as_uint(), i010.variation.get_item("SIC").as_uint())
        v = i120.variation
        self.sites_034[key] = (v.get_item("LAT").variation.content.as_quantity(),
                               v.get_item("LON").variation.content.as_quantity(),
                               v.get_item("HGT").variation.content.as_quantity())

    def _plot(self, stamp, rec) -> None:
        c, p = self.counts, self.plots
        i010, i140, i040 = rec.get_item("010"), rec.get_item("140"), rec.get_item("040")
        if i010 is None or i140 is None or i040 is None:
            c["no_position"] += 1
            return
        i020 = rec.get_item("020")
        typ = 0
        if i020 is not None:
            typ = i020.variation.get_item("TYP").as_uint()
            tst = i020.variation.get_item("TST")  # in the first extension, absent from a one-octet I048/020
            if i020.variation.get_item("SIM").as_uint() or (tst is not None and tst.as_uint()):
                c["test_or_simulated"] += 1
                return
        sac_sic = (i010.variation.get_item("SAC").as_uint(), i010.variation.get_item("SIC").as_uint())
        rho_raw = i040.variation.get_item("RHO").as_uint()
        theta_raw = i040.variation.get_item("THETA").as_uint()
        tod_raw = i140.as_uint()
        key = (sac_sic, tod_raw, rho_raw, theta_raw)
        if key in self._seen:
            c["duplicates"] += 1
            return
        self._seen[key] = True
        if len(self._seen) > 200_000:
            self._seen.clear()
        fl = math.nan
        i090 = rec.get_item("090")
        if i090 is not None and not i090.variation.get_item("V").as_uint() \
                and not i090.variation.get_item("G").as_uint():
            fl = i090.variation.get_item("FL").variation.content.as_quantity() * 100.0 * FT
        squawk = ""
        i070 = rec.get_item("070")
        if i070 is not None and not i070.variation.get_item("V").as_uint() \
                and not i070.variation.get_item("G").as_uint():
            squawk = i070.variation.get_item("MODE3A").variation.content.as_string()
        i220, i240 = rec.get_item("220"), rec.get_item("240")
        p.sac_sic.append(sac_sic)
        p.tod.append(i140.variation.content.as_quantity())
        p.stamp.append(math.nan if stamp is None else float(stamp))
        p.range_m.append(i040.variation.get_item("RHO").variation.content.as_quantity("NM") * NM)
        p.azimuth_rad.append(math.radians(i040.variation.get_item("THETA").variation.content.as_quantity("°")))
        p.fl_m.append(fl)
        p.mode3a.append(squawk)
        p.address.append(f"{i220.as_uint():06x}" if i220 is not None else "")
        p.callsign.append(i240.variation.content.as_string().strip() if i240 is not None else "")
        p.typ.append(typ)
        c["plots"] += 1


def elevation_of_altitude(range_m, site_alt_m: float, target_alt_m):
    """Line-of-sight elevation (rad) at a radar at ``site_alt_m`` of a target ``target_alt_m`` high at slant
    range ``range_m`` (spherical Earth of radius EARTH_RADIUS_M; NaN where no straight line fits)."""
    r = np.asarray(range_m, float)
    rs, rt = EARTH_RADIUS_M + site_alt_m, EARTH_RADIUS_M + np.asarray(target_alt_m, float)
    with np.errstate(divide="ignore", invalid="ignore"):  # a zero range: no straight line (NaN below)
        s = (rt ** 2 - rs ** 2 - r ** 2) / (2.0 * r * rs)
    return np.where(np.abs(s) <= 1.0, np.arcsin(np.clip(s, -1.0, 1.0)), np.nan)


def unix_times(tod, stamp, day: float | None = None) -> np.ndarray:
    """Unix seconds of each time of day: on the UTC day of its packet stamp (+-12 h), else on ``day``."""
    tod = np.asarray(tod, float)
    stamp = np.asarray(stamp, float)
    if day is None:
        day = math.floor(_time.time() / 86400.0) * 86400.0
    ref = np.where(np.isfinite(stamp), stamp, day + tod)
    midnight = np.floor(ref / 86400.0) * 86400.0
    t = midnight + tod
    t = np.where(t - ref > 43200.0, t - 86400.0, t)
    return np.where(ref - t > 43200.0, t + 86400.0, t)


def parse_radar_sites(values) -> tuple[dict, tuple | None]:
    """``--radar-site`` values: ``LAT,LON,ALT`` (any radar without a position) or ``SAC/SIC=LAT,LON,ALT``."""
    keyed, default = {}, None
    for text in values or ():
        key, _, pos = str(text).rpartition("=")
        try:
            lat, lon, alt = (float(x) for x in pos.split(","))
        except ValueError:
            raise InputError(f"expected LAT,LON,ALT or SAC/SIC=LAT,LON,ALT (degrees, metres), found {text!r}",
                             field="--radar-site") from None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180 and -500 <= alt <= 9000):
            raise InputError(f"position out of range in {text!r}", field="--radar-site")
        if key:
            try:
                sac, sic = (int(x) for x in key.split("/"))
                assert 0 <= sac <= 255 and 0 <= sic <= 255
            except (ValueError, AssertionError):
                raise InputError(f"SAC/SIC must be two integers 0-255, found {key!r}", field="--radar-site") from None
            keyed[(sac, sic)] = (lat, lon, alt)
        elif default is not None:
            raise InputError("give one unkeyed LAT,LON,ALT, or SAC/SIC=LAT,LON,ALT for each radar",
                             field="--radar-site")
        else:
            default = (lat, lon, alt)
    return keyed, default


def radar_name(sac_sic) -> str:
    return f"radar_{sac_sic[0]}_{sac_sic[1]}"


def resolve_sites(radars, keyed: dict, default, sites_034: dict) -> tuple[dict, list]:
    """Position of each radar (SAC/SIC): --radar-site SAC/SIC=, then CAT034 I034/120, then the unkeyed
    --radar-site when exactly one radar is left without a position. Returns (sites, radars without one)."""
    sites, missing = {}, []
    for key in sorted(set(radars)):
        if key in keyed:
            sites[key] = (keyed[key], "option")
        elif key in sites_034:
            sites[key] = (sites_034[key], "cat034")
        else:
            missing.append(key)
    if default is not None:
        if len(missing) > 1:
            raise InputError(f"{len(missing)} radars have no position ("
                             + ", ".join(f"{a}/{b}" for a, b in missing)
                             + "): give --radar-site SAC/SIC=LAT,LON,ALT for each", field="--radar-site")
        if missing:
            sites[missing[0]] = (default, "option")
            missing = []
    return sites, missing


def measurements(plots: Plots, sites: dict, *, day: float | None = None, site_params: dict | None = None):
    """(SensorSite list, MeasurementBatch sorted by time, per-plot identity columns) of the plots of radars
    with a position. Plots of other radars are left out."""
    keys = sorted(sites)
    params = {**RADAR_DEFAULTS, **(site_params or {})}
    sensors = [SensorSite(radar_name(k), "radar", math.radians(sites[k][0][0]), math.radians(sites[k][0][1]),
                          float(sites[k][0][2]), dict(params), index=i) for i, k in enumerate(keys)]
    index = {k: i for i, k in enumerate(keys)}
    sensor = np.asarray([index.get(tuple(k), -1) for k in plots.sac_sic], np.int64)
    keep = sensor >= 0
    n = int(keep.sum())
    t = unix_times(np.asarray(plots.tod, float)[keep], np.asarray(plots.stamp, float)[keep], day)
    s = sensor[keep]
    rng = np.asarray(plots.range_m, float)[keep]
    az = np.asarray(plots.azimuth_rad, float)[keep]
    fl = np.asarray(plots.fl_m, float)[keep]
    site_alt = np.asarray([sensors[i].alt_m for i in s], float) if n else np.zeros(0)
    el = elevation_of_altitude(rng, site_alt, fl) if n else np.zeros(0)
    values = np.column_stack([rng, az, el, np.full(n, np.nan)]) if n else np.zeros((0, 4))
    sig_el = np.where(np.isfinite(el), FL_ALTITUDE_SIGMA_M / np.maximum(rng, 1.0), np.nan)
    sigmas = np.column_stack([np.full(n, params["sigma_range_m"]), np.full(n, params["sigma_azimuth_rad"]),
                              sig_el, np.full(n, np.nan)]) if n else np.zeros((0, 4))
    batch = MeasurementBatch(time=t, sensor=s.astype(np.int32), values=values, sigmas=sigmas,
                             truth=np.full(n, UNKNOWN_TRUTH, np.int32))
    ident = {"icao24": np.asarray(plots.address, object)[keep], "callsign": np.asarray(plots.callsign, object)[keep],
             "squawk": np.asarray(plots.mode3a, object)[keep]}
    order = np.argsort(t, kind="stable")
    return sensors, batch.take(order), {k: v[order] for k, v in ident.items()}


def decode_file(path) -> Cat048Decoder:
    """Read a whole capture (pcap or raw ASTERIX) into a decoder; its counters include the reader's."""
    dec = Cat048Decoder()
    for stamp, payload in read_capture(path, dec.counts):
        dec.feed(stamp, payload)
    return dec
