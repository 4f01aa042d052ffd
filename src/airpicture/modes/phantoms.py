"""A vectorised stream filter over Mode S frames: CRC, phantom addresses, CPR positions, impossible speeds.

``ModeSFilter.process(time, frames)`` takes one batch (a ``FrameBatch``'s ``time`` and ``frame`` columns, in
any order) and keeps what it needs from earlier batches, so a live feed and a whole recording give the same
rows. ``filter_frames`` runs one batch through a fresh filter. Every step works on arrays of frames; the only
Python loops run over byte columns, reasons, or the rounds of the speed check (one per successive rejection
of the same aircraft within a batch, normally none or one).

Rules, in order (a frame gets the first reason that applies):

``not_mode_s``      an empty frame (SBS rows carry none) or a 4-digit Mode A/C reply.
``malformed``       anything else that is not 14 or 28 hex digits.
``unknown_df``      a DF that is not 0/4/5/11/16/17/18/19/20/21/24 (the rest are not assigned in Annex 10).
``unsupported_df``  DF19 (military), DF22, DF24 (Comm-D): not interpreted here.
``bad_length``      a 112-bit DF in a 56-bit frame. (A 56-bit DF in a 112-bit frame is read from its first 56
                    bits, as rs1090 does, and counted in ``counts["short_df_in_long_frame"]``, which is a
                    note, not a rejection.)
``crc``             DF11/17/18 whose parity fails (DF11 may carry the interrogator code in the low 7 bits).
                    ``crc_failures[df]`` counts them per DF.
``phantom``         DF0/4/5/16/20/21 whose address (AP field XOR CRC) was not seen in a DF11 or DF17/18 frame
                    that passed its CRC within the last ``address_memory_s`` (default 60 s: an aircraft in
                    view of a receiver squitters DF11 about once a second and DF17 several times a second, so
                    a minute without one means it is not there; a garbled DF4/5/20/21 yields a random
                    address, which this catches with probability ~1 - (aircraft in view) / 2^24).
``impossible_speed`` a decoded position that lies farther from the aircraft's previous accepted position than
                    ``max_speed_mps * dt + position_tolerance_m`` (default Mach 1.5 at ISA sea level,
                    510 m/s, and 50 m: faster than any civil aircraft, and a wrong CPR zone is hundreds of km
                    off). A global decode that fails is first decoded again alone from the previous accepted
                    position (its pair partner may be the bad message); a position that still fails is
                    rejected with its frame, and the next one is compared with the last accepted position,
                    as a sequential filter would.
``ok``              everything else (including position messages not yet decodable: ``position_source`` 0).

Positions (DF17, and DF18 with CF 0/1/2/5/6; airborne TC 9-18 and 20-22, surface TC 5-8):

* airborne global decode with the latest message of the other CPR format from the same aircraft received within
  ``pair_window_s`` (default 10 s) before it; a pair that straddles a latitude zone boundary is not decoded;
* otherwise a local decode from the aircraft's last accepted position if it is recent enough to be within
  half a zone (180 NM airborne, 45 NM surface) at ``max_speed_mps``, else from the receiver ``reference``
  (the receiver must not hear aircraft beyond ``receiver_range_m``, 180 NM by default; surface: 45 NM);
* surface positions are decoded locally only (a global surface decode needs a reference anyway).

Aircraft are keyed by their 24-bit address; DF18 CF 1 (non-ICAO address) gets a separate key so an anonymous
address never vouches for a DF4/5/20/21 reply. Altitude (``altitude_m``) is given where the frame holds a
pressure altitude, 25 ft (Q = 1) or Gillham 100 ft (Q = 0) coding: DF0/4/16/20 AC field (metric codes left
NaN) and DF17/18 TC 9-18; GNSS heights (TC 20-22) are left NaN.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from airpicture.sources.timeline import MAX_ABS_TIME_S

from airpicture.modes import cpr
from airpicture.modes.crc import crc24_mixed, downlink_format, frames_from_hex, interrogator_code

NM = 1852.0
FEET = 0.3048
SPEED_OF_SOUND_SEA_LEVEL_MPS = 340.29
R_EARTH_M = 6371008.8

REASONS = ("ok", "not_mode_s", "malformed", "unknown_df", "unsupported_df", "bad_length", "crc", "phantom",
           "impossible_speed", "bad_time")
_R = {name: code for code, name in enumerate(REASONS)}

SHORT_DF = (0, 4, 5, 11)
LONG_DF = (16, 17, 18, 19, 20, 21, 24)
UNSUPPORTED_DF = (19, 22, 24)
AP_DF = (0, 4, 5, 16, 20, 21)

# position_source values
NO_POSITION, GLOBAL, LOCAL_AIRCRAFT, LOCAL_RECEIVER = 0, 1, 2, 3
NON_ICAO_FLAG = np.uint32(1 << 24)


@dataclass
class FilterResult:
    """One row per input frame, in input order. Angles in rad, altitude in m, ``icao24`` -1 when unknown."""

    time: np.ndarray
    icao24: np.ndarray          # int64, 24-bit address (AA field, or recovered from AP); -1 malformed
    df: np.ndarray              # int16, -1 malformed
    accepted: np.ndarray        # bool
    reason: np.ndarray          # object: one of REASONS
    lat: np.ndarray             # float64 rad, NaN when no accepted position
    lon: np.ndarray
    altitude_m: np.ndarray      # float64, NaN where absent
    position_source: np.ndarray  # int8: 0 none, 1 global pair, 2 local from aircraft, 3 local from receiver
    counts: dict = field(default_factory=dict)        # this batch, per reason
    crc_failures: dict = field(default_factory=dict)  # this batch, per DF

    def __len__(self) -> int:
        return len(self.time)


def _be_int(columns: np.ndarray) -> np.ndarray:
    """Big-endian unsigned integer of each row of a uint8 array (<= 8 bytes) as uint64."""
    value = np.zeros(columns.shape[0], dtype=np.uint64)
    for k in range(columns.shape[1]):
        value = (value << np.uint64(8)) | columns[:, k].astype(np.uint64)
    return value


def _gray_to_binary(bits: list[np.ndarray]) -> np.ndarray:
    """Binary value of a Gray code given as a list of bit arrays, most significant first."""
    value = np.zeros_like(bits[0])
    current = np.zeros_like(bits[0])
    for bit in bits:
        current = current ^ bit
        value = (value << 1) | current
    return value


def altitude_from_code(code12: np.ndarray) -> np.ndarray:
    """Pressure altitude (m) of 12-bit altitude codes laid out C1 A1 C2 A2 C4 A4 B1 Q B2 D2 B4 D4 (the ME
    altitude field; the 13-bit AC field with its M bit removed). NaN for 0 and invalid codes.

    Q = 1: the 11 other bits are a binary count of 25 ft from -1000 ft. Q = 0: Gillham code, 100 ft steps: the
    500 ft band is the Gray code D2 D4 A1 A2 A4 B1 B2 B4 (D1 is never set below 126,700 ft); C1 C2 C4 is a
    5-state cycle (001 011 010 110 100, read backwards in odd bands) giving the 100 ft step in the band.
    """
    code = np.asarray(code12, dtype=np.int64)
    bit = {name: (code >> (11 - index)) & 1 for index, name in
           enumerate(("C1", "A1", "C2", "A2", "C4", "A4", "B1", "Q", "B2", "D2", "B4", "D4"))}
    n25 = ((code >> 5) << 4) | (code & 0xF)
    feet = np.where(bit["Q"] == 1, n25 * 25.0 - 1000.0, np.nan)
    band = _gray_to_binary([bit[b] for b in ("D2", "D4", "A1", "A2", "A4", "B1", "B2", "B4")])
    step = _gray_to_binary([bit["C1"], bit["C2"], bit["C4"]])
    valid = (step != 0) & (step != 5) & (step != 6)
    step = np.where(step == 7, 5, step)
    step = np.where(band % 2 == 1, 6 - step, step)
    gillham = band * 500.0 + step * 100.0 - 1300.0
    feet = np.where((bit["Q"] == 0) & valid, gillham, feet)
    return np.where(code != 0, feet * FEET, np.nan)


def _distance_m(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance on the mean sphere (m); enough for a speed check."""
    h = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * R_EARTH_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def _group_last(keys_sorted: np.ndarray, flag: np.ndarray) -> np.ndarray:
    """For each row of rows sorted by key, index of the latest earlier-or-same row with ``flag`` and the same
    key, else -1."""
    index = np.arange(keys_sorted.size)
    last = np.maximum.accumulate(np.where(flag, index, -1)) if index.size else index
    same = last >= 0
    same[same] = keys_sorted[last[same]] == keys_sorted[same]
    return np.where(same, last, -1)


class ModeSFilter:
    """Stateful filter; see the module docstring for the rules and defaults.

    Parameters
    ----------
    reference : (lat_rad, lon_rad) of the receiver, or None (then single messages decode only near the
        aircraft's own last position).
    """

    def __init__(self, reference=None, address_memory_s: float = 60.0, pair_window_s: float = 10.0,
                 max_speed_mps: float = 1.5 * SPEED_OF_SOUND_SEA_LEVEL_MPS, position_tolerance_m: float = 50.0,
                 receiver_range_m: float = 180 * NM, max_surface_speed_mps: float = 100 * NM / 3600):
        self.reference = None if reference is None else (float(reference[0]), float(reference[1]))
        self.address_memory_s = float(address_memory_s)
        self.pair_window_s = float(pair_window_s)
        self.max_speed_mps = float(max_speed_mps)
        self.position_tolerance_m = float(position_tolerance_m)
        self.receiver_range_m = float(receiver_range_m)
        self.max_surface_speed_mps = float(max_surface_speed_mps)
        self.counts: dict[str, int] = {}
        self.provisional_replaced = 0  # provisional (receiver-reference) positions a global pair contradicted
        self.impossible_by_key: dict[int, int] = {}  # impossible-speed rejections per aircraft key (address)
        self.crc_failures: dict[int, int] = {}
        self.frames = 0
        # Per-aircraft state, rows aligned with the sorted key array.
        self._keys = np.empty(0, dtype=np.uint32)
        self._state: dict[str, np.ndarray] = {}
        self._state_defaults = {
            "seen": -np.inf, "pos_time": -np.inf, "pos_lat": np.nan, "pos_lon": np.nan, "pos_provisional": 0.0,
            "cpr_time_0": -np.inf, "cpr_yz_0": -1.0, "cpr_xz_0": -1.0,
            "cpr_time_1": -np.inf, "cpr_yz_1": -1.0, "cpr_xz_1": -1.0,
            "scpr_time_0": -np.inf, "scpr_yz_0": -1.0, "scpr_xz_0": -1.0,
            "scpr_time_1": -np.inf, "scpr_yz_1": -1.0, "scpr_xz_1": -1.0,
        }
        for name, default in self._state_defaults.items():
            self._state[name] = np.empty(0)

    # ----- state keyed by aircraft
    def _slots(self, keys: np.ndarray, create: bool) -> np.ndarray:
        """State rows of ``keys`` (creating missing ones when ``create``); -1 for unknown keys otherwise."""
        keys = keys.astype(np.uint32)
        if create:
            new = np.setdiff1d(np.unique(keys), self._keys, assume_unique=True)
            if new.size:
                merged = np.concatenate([self._keys, new])
                order = np.argsort(merged, kind="stable")
                self._keys = merged[order]
                for name, default in self._state_defaults.items():
                    self._state[name] = np.concatenate([self._state[name], np.full(new.size, default)])[order]
        index = np.searchsorted(self._keys, keys)
        index = np.minimum(index, max(self._keys.size - 1, 0))
        found = (self._keys.size > 0) & (self._keys[index] == keys) if self._keys.size else np.zeros(keys.size, bool)
        return np.where(found, index, -1)

    def _count(self, reason_codes: np.ndarray) -> dict:
        batch = {}
        for code, n in zip(*np.unique(reason_codes, return_counts=True)):
            batch[REASONS[code]] = int(n)
            self.counts[REASONS[code]] = self.counts.get(REASONS[code], 0) + int(n)
        return batch

    # ----- one batch
    def process(self, time, frames) -> FilterResult:
        time_in = np.asarray(time, dtype=np.float64)
        frames = np.asarray(frames, dtype=object)
        n = time_in.size
        order = np.argsort(time_in, kind="stable")
        t = time_in[order]
        data, is_long, valid = frames_from_hex(frames[order])
        self.frames += n

        reason = np.zeros(n, dtype=np.int8)
        df = np.where(valid, downlink_format(data), -1).astype(np.int16)
        reason[~valid] = _R["malformed"]
        lengths = np.fromiter((len(h) if isinstance(h, str) else -1 for h in frames[order]), dtype=np.int64, count=n)
        reason[(lengths == 0) | (lengths == 4)] = _R["not_mode_s"]      # SBS rows, Mode A/C replies
        known = np.isin(df, SHORT_DF + LONG_DF + (22,))
        reason[valid & ~known] = _R["unknown_df"]
        reason[valid & np.isin(df, UNSUPPORTED_DF)] = _R["unsupported_df"]
        # NaN / inf / 1e300 reception time: unusable (a parser rejects these first; this guards direct callers)
        reason[(reason == 0) & ~(np.abs(t) <= MAX_ABS_TIME_S)] = _R["bad_time"]
        checked = reason == 0
        # A 56-bit DF delivered in 112 bits (some receivers pad short frames with stale buffer bytes, as in
        # traffic_rs1090_full_flight_short.jsonl.gz): use the first 56 bits, as rs1090 does, and count it.
        padded = checked & is_long & np.isin(df, SHORT_DF)
        if padded.any():
            is_long = is_long & ~padded
            data[padded, 7:] = 0
            self.counts["short_df_in_long_frame"] = self.counts.get("short_df_in_long_frame", 0) + int(padded.sum())
        wrong_length = checked & (np.isin(df, SHORT_DF) == is_long)
        reason[wrong_length] = _R["bad_length"]
        checked &= ~wrong_length

        remainder = crc24_mixed(data, is_long)
        aa = ((data[:, 1].astype(np.uint32) << 16) | (data[:, 2].astype(np.uint32) << 8) | data[:, 3])
        pi = checked & np.isin(df, (11, 17, 18))
        pi_ok = pi & np.where(df == 11, interrogator_code(remainder) >= 0, remainder == 0)
        crc_fail = pi & ~pi_ok
        reason[crc_fail] = _R["crc"]
        batch_crc = {}
        for value, count in zip(*np.unique(df[crc_fail], return_counts=True)):
            batch_crc[int(value)] = int(count)
            self.crc_failures[int(value)] = self.crc_failures.get(int(value), 0) + int(count)

        ap = checked & np.isin(df, AP_DF)
        icao = np.where(ap, remainder, aa).astype(np.int64)
        icao[~valid] = -1

        # DF18 control field: CF 1 is a non-ICAO address (own key); CF 0/1/2/5/6 carry ADS-B-format MEs.
        cf = data[:, 0] & 7
        key = aa.copy()
        key[(df == 18) & (cf == 1)] |= NON_ICAO_FLAG

        # ----- phantom check: the AP address must have been seen (DF11/17/18, CRC ok) in the last N s.
        seen_rows = np.flatnonzero(pi_ok & (key < NON_ICAO_FLAG))
        ap_rows = np.flatnonzero(ap)
        self._slots(key[seen_rows], create=True)
        if ap_rows.size:
            rows = np.concatenate([seen_rows, ap_rows])
            is_seen = np.concatenate([np.ones(seen_rows.size, bool), np.zeros(ap_rows.size, bool)])
            row_key = np.concatenate([key[seen_rows], remainder[ap_rows]])
            by = np.lexsort((~is_seen, t[rows], row_key))  # key, time, seen before query at equal time
            rows, is_seen, row_key = rows[by], is_seen[by], row_key[by]
            last = _group_last(row_key, is_seen)
            seen_time = np.where(last >= 0, t[rows[np.maximum(last, 0)]], -np.inf)
            slot = self._slots(row_key, create=False)
            # (an empty address table: every slot is -1 and there is nothing to index, e.g. a feed whose
            # first batch holds only AP replies)
            state_seen = (np.where(slot >= 0, self._state["seen"][np.maximum(slot, 0)], -np.inf)
                          if self._state["seen"].size else np.full(slot.size, -np.inf))
            seen_time = np.maximum(seen_time, state_seen)
            query = ~is_seen
            phantom = query & ~(t[rows] - seen_time <= self.address_memory_s)
            reason[rows[phantom]] = _R["phantom"]
        if seen_rows.size:
            slot = self._slots(key[seen_rows], create=False)
            np.maximum.at(self._state["seen"], slot, t[seen_rows])

        # ----- altitude
        altitude = np.full(n, np.nan)
        ac = checked & np.isin(df, (0, 4, 16, 20))
        ac13 = ((data[:, 2].astype(np.int64) & 0x1F) << 8) | data[:, 3]
        metric = (ac13 & 0x40) != 0
        # drop the M bit (0x40): 12 bits with Q at 0x10 -> the same layout as the ME altitude field
        ac12 = ((ac13 >> 7) << 6) | (ac13 & 0x3F)
        altitude[ac & ~metric] = altitude_from_code(ac12[ac & ~metric])
        tc = (data[:, 4] >> 3).astype(np.int64)
        adsb = pi_ok & ((df == 17) | ((df == 18) & np.isin(cf, (0, 1, 2, 5, 6)))) & is_long
        baro = adsb & (tc >= 9) & (tc <= 18)
        me_alt = (data[:, 5].astype(np.int64) << 4) | (data[:, 6] >> 4)
        altitude[baro] = altitude_from_code(me_alt[baro])

        # ----- positions
        lat_out = np.full(n, np.nan)
        lon_out = np.full(n, np.nan)
        source = np.zeros(n, dtype=np.int8)
        airborne = adsb & (((tc >= 9) & (tc <= 18)) | ((tc >= 20) & (tc <= 22)))
        surface = adsb & (tc >= 5) & (tc <= 8)
        pos_rows = np.flatnonzero(airborne | surface)
        if pos_rows.size:
            self._positions(pos_rows, t, data, key, airborne, reason, lat_out, lon_out, source)

        accepted = reason == 0
        counts = self._count(reason)
        out_reason = np.asarray(REASONS, dtype=object)[reason]
        inverse = np.empty(n, dtype=np.int64)
        inverse[order] = np.arange(n)
        return FilterResult(time=time_in, icao24=icao[inverse], df=df[inverse], accepted=accepted[inverse],
                            reason=out_reason[inverse], lat=lat_out[inverse], lon=lon_out[inverse],
                            altitude_m=altitude[inverse], position_source=source[inverse], counts=counts,
                            crc_failures=batch_crc)

    def _positions(self, pos_rows, t, data, key, airborne, reason, lat_out, lon_out, source) -> None:
        me = _be_int(data[pos_rows, 4:11])
        odd = ((me >> np.uint64(34)) & np.uint64(1)).astype(bool)
        yz = ((me >> np.uint64(17)) & np.uint64(0x1FFFF)).astype(np.float64)
        xz = (me & np.uint64(0x1FFFF)).astype(np.float64)
        air = airborne[pos_rows]
        k = key[pos_rows]
        tt = t[pos_rows]
        slot = self._slots(k, create=True)
        by = np.lexsort((tt, k))
        pos_rows, odd, yz, xz, air, k, tt, slot = (a[by] for a in (pos_rows, odd, yz, xz, air, k, tt, slot))
        m = pos_rows.size
        lat = np.full(m, np.nan)
        lon = np.full(m, np.nan)
        src = np.zeros(m, dtype=np.int8)
        st = self._state

        # A position decoded locally from the receiver's reference (or chained from one) is provisional: the
        # reference is only right within half a zone of the receiver, which a moving receiver (the long flight)
        # or one hearing beyond 180 NM breaks. A global pair that disagrees with it replaces it.
        prov = np.zeros(m, dtype=bool)

        def previous(mask):
            """Time/lat/lon/provisional of the latest earlier row of the same aircraft with ``mask``, else the
            state."""
            last = _group_last(k, mask)
            prev = np.concatenate([[-1], last[:-1]])
            prev = np.where((prev >= 0) & (np.concatenate([[0], k[:-1]]) == k), prev, -1)
            p = np.maximum(prev, 0)
            inside = prev >= 0
            return (np.where(inside, tt[p], st["pos_time"][slot]), np.where(inside, lat[p], st["pos_lat"][slot]),
                    np.where(inside, lon[p], st["pos_lon"][slot]),
                    np.where(inside, prov[p], st["pos_provisional"][slot] > 0))

        # Global pairs: latest earlier message of the other format, same aircraft and kind, in the window.
        partner_time = np.full(m, -np.inf)
        p_yz = np.full(m, np.nan)
        p_xz = np.full(m, np.nan)
        for kind, prefix in ((air, "cpr"), (~air, "scpr")):
            for fmt in (0, 1):
                mine = kind & (odd == bool(1 - fmt))        # rows whose partner has format fmt
                last = _group_last(k, kind & (odd == bool(fmt)))
                inside = mine & (last >= 0)
                partner_time[inside] = tt[last[inside]]
                p_yz[inside] = yz[last[inside]]
                p_xz[inside] = xz[last[inside]]
                from_state = mine & (last < 0) & (st[f"{prefix}_yz_{fmt}"][slot] >= 0)
                partner_time[from_state] = st[f"{prefix}_time_{fmt}"][slot[from_state]]
                p_yz[from_state] = st[f"{prefix}_yz_{fmt}"][slot[from_state]]
                p_xz[from_state] = st[f"{prefix}_xz_{fmt}"][slot[from_state]]
        paired = tt - partner_time <= self.pair_window_s
        e_yz, e_xz = np.where(odd, p_yz, yz), np.where(odd, p_xz, xz)
        o_yz, o_xz = np.where(odd, yz, p_yz), np.where(odd, xz, p_xz)
        rows = paired & air
        if rows.any():
            g_lat, g_lon = cpr.cpr_decode_global((e_yz[rows], e_xz[rows]), (o_yz[rows], o_xz[rows]), odd[rows])
            lat[rows], lon[rows] = g_lat, g_lon
            src[rows] = np.where(np.isnan(g_lat), 0, GLOBAL)
        # Surface pairs need a point within ~45 deg to pick the quadrant: the aircraft's last position (any
        # age), else the receiver.
        rows = paired & ~air
        if rows.any():
            _, q_lat, q_lon, _ = previous(src > 0)
            if self.reference is not None:
                q_lat = np.where(np.isnan(q_lat), self.reference[0], q_lat)
                q_lon = np.where(np.isnan(q_lon), self.reference[1], q_lon)
            rows &= ~np.isnan(q_lat)
            g_lat, g_lon = cpr.cpr_decode_global((e_yz[rows], e_xz[rows]), (o_yz[rows], o_xz[rows]), odd[rows],
                                                 surface=True, ref_lat_rad=q_lat[rows], ref_lon_rad=q_lon[rows])
            lat[rows], lon[rows] = g_lat, g_lon
            src[rows] = np.where(np.isnan(g_lat), 0, GLOBAL)

        # Local decode from the aircraft's previous decoded position when it cannot be half a zone away yet;
        # a few rounds so that single messages chain from one another within a batch.
        zone_half = np.where(air, 180 * NM, 45 * NM)
        speed = np.where(air, self.max_speed_mps, self.max_surface_speed_mps)
        for _ in range(3):
            ref_time, ref_lat, ref_lon, ref_prov = previous(src > 0)
            local = (src == 0) & ((tt - ref_time) * speed < zone_half) & ~np.isnan(ref_lat)
            if not local.any():
                break
            l_lat, l_lon = self._local(yz, xz, odd, air, local, ref_lat, ref_lon)
            lat[local], lon[local] = l_lat, l_lon
            src[local] = LOCAL_AIRCRAFT
            prov[local] = ref_prov[local]
        # Airborne single messages of aircraft with no position yet: local decode from the receiver, provisional.
        if self.reference is not None:
            rx = (src == 0) & air
            if rx.any():
                r_lat, r_lon = self._local(yz, xz, odd, air, rx, np.full(m, self.reference[0]),
                                           np.full(m, self.reference[1]))
                near = _distance_m(r_lat, r_lon, self.reference[0], self.reference[1]) <= self.receiver_range_m
                rows = np.flatnonzero(rx)[near]
                lat[rows], lon[rows] = r_lat[near], r_lon[near]
                src[rows] = LOCAL_RECEIVER
                prov[rows] = True

        # Speed check against the previous accepted position, sequentially per aircraft (rounds: each
        # rejects the first violation of every aircraft, then the rest are compared again).
        kept = src > 0
        for _ in range(1000):
            last_kept = _group_last(k, kept)
            prev_kept = np.concatenate([[-1], last_kept[:-1]])
            prev_kept = np.where((prev_kept >= 0) & (np.concatenate([[0], k[:-1]]) == k), prev_kept, -1)
            p = np.maximum(prev_kept, 0)
            p_time = np.where(prev_kept >= 0, tt[p], st["pos_time"][slot])
            p_lat = np.where(prev_kept >= 0, lat[p], st["pos_lat"][slot])
            p_lon = np.where(prev_kept >= 0, lon[p], st["pos_lon"][slot])
            p_prov = np.where(prev_kept >= 0, prov[p], st["pos_provisional"][slot] > 0)
            # a global pair is not checked against a provisional position: it replaces it
            check = kept & ~np.isnan(p_lat) & ~((src == GLOBAL) & p_prov)
            dist = _distance_m(p_lat, p_lon, lat, lon)
            allowed = self.max_speed_mps * np.abs(tt - p_time) + self.position_tolerance_m
            bad = np.flatnonzero(check & (dist > allowed))
            if bad.size == 0:
                break
            _, first = np.unique(k[bad], return_index=True)
            bad = bad[first]
            # A global decode may have been spoilt by its partner (the other message of the pair): decode the
            # message alone from the previous accepted position and check it again next round.
            retry = bad[(src[bad] == GLOBAL) & ~np.isnan(p_lat[bad])]
            if retry.size:
                mask = np.zeros(m, dtype=bool)
                mask[retry] = True
                lat[retry], lon[retry] = self._local(yz, xz, odd, air, mask, p_lat, p_lon)
                src[retry] = LOCAL_AIRCRAFT
            kept[np.setdiff1d(bad, retry)] = False
        # (the last round compared every kept row with its final predecessor)
        self.provisional_replaced += int(np.count_nonzero(
            kept & (src == GLOBAL) & p_prov & ~np.isnan(p_lat) & (dist > allowed)))
        rejected = (src > 0) & ~kept
        if rejected.any():
            # per aircraft: one address whose positions keep contradicting each other is two transmitters
            for key_value, count in zip(*np.unique(k[rejected], return_counts=True)):
                key_value = int(key_value)
                self.impossible_by_key[key_value] = self.impossible_by_key.get(key_value, 0) + int(count)
        reason[pos_rows[rejected]] = _R["impossible_speed"]
        lat[~kept] = np.nan
        lon[~kept] = np.nan
        src[~kept] = 0
        lat_out[pos_rows], lon_out[pos_rows], source[pos_rows] = lat, lon, src

        # State: last CPR message of each format (airborne) and last accepted position, per aircraft.
        for kind, prefix in ((air, "cpr"), (~air, "scpr")):
            for fmt in (0, 1):
                rows = np.flatnonzero(kind & (odd == bool(fmt)))
                if rows.size:
                    last_of = rows[np.r_[k[rows][1:] != k[rows][:-1], True]]
                    s = slot[last_of]
                    st[f"{prefix}_time_{fmt}"][s] = tt[last_of]
                    st[f"{prefix}_yz_{fmt}"][s] = yz[last_of]
                    st[f"{prefix}_xz_{fmt}"][s] = xz[last_of]
        rows = np.flatnonzero(kept)
        if rows.size:
            last_of = rows[np.r_[k[rows][1:] != k[rows][:-1], True]]
            s = slot[last_of]
            st["pos_time"][s] = tt[last_of]
            st["pos_lat"][s] = lat[last_of]
            st["pos_lon"][s] = lon[last_of]
            st["pos_provisional"][s] = prov[last_of].astype(float)

    @staticmethod
    def _local(yz, xz, odd, air, rows, ref_lat, ref_lon):
        out_lat = np.empty(int(rows.sum()))
        out_lon = np.empty(int(rows.sum()))
        for surface in (False, True):
            sel = rows & (air != surface)
            sub = sel[rows]
            if sel.any():
                out_lat[sub], out_lon[sub] = cpr.cpr_decode_local(yz[sel], xz[sel], odd[sel], ref_lat[sel],
                                                                  ref_lon[sel], surface=surface)
        return out_lat, out_lon


def filter_frames(time, frames, reference=None, **options) -> tuple[FilterResult, ModeSFilter]:
    """One batch through a fresh ``ModeSFilter``: the result and the filter (for its totals)."""
    mode_s = ModeSFilter(reference=reference, **options)
    return mode_s.process(time, frames), mode_s
