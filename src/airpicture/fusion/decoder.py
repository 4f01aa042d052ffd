"""Frames in, ADS-B reports out: our Mode S filter first, rs1090 only for the contents we do not decode.

``TransponderDecoder.process(batch)`` takes one :class:`~airpicture.sources.FrameBatch` (any size, any order,
from a file or a socket) and returns :class:`~airpicture.fusion.adsb_measurements.AdsbReports` ready for
``SensorTracker.process_reports``. State carries over between calls, so a recording read chunk by chunk and
the same recording in one piece give the same reports.

Per batch:

1. ``modes.phantoms.ModeSFilter`` on every frame: malformed and unknown formats, CRC, phantom addresses, CPR
   positions (global pairs, local decodes) with the impossible-speed check. Positions (airborne TC 9-18,
   surface TC 5-8) and their pressure altitudes come from here; rs1090 is not asked for them.
2. rs1090 (``sources.decode.decode_frames``) only on accepted frames whose contents we need and do not decode
   ourselves: DF17/18 identification (TC 1-4), airborne velocity (TC 19), surface movement and track (TC 5-8),
   emergency/status (TC 28), operational status (TC 31), and the squawk of DF5/21. Frames whose decode cannot
   differ are decoded once: DF17/18 by their first byte and ME field (the address does not change the
   content), DF5/21 by their 13-bit identity code; decodes are also cached across calls. On the long flight
   this leaves ~5,600 of 172,432 frames for rs1090.
3. SBS rows (no frame) use the fields the reader already decoded (``FrameBatch.fields``): positions,
   velocities, callsign, squawk. JSON lines carry a frame on every row and go through 1-2.
4. ``fusion.adsb_measurements.reports_from_columns``: covariances from NACp / NUCp / NACv, velocity pairing,
   identity carried forward. Across calls the decoder keeps each aircraft's NACp, its last velocity message
   (so a position at the start of a batch still pairs with a velocity from the end of the previous one) and
   an identity table (callsign, squawk, emergency, category; latest known with its time), which fills the
   identity of reports whose batch has not said it yet.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from airpicture.fusion.adsb_measurements import (DEFAULT_NACP, DEFAULT_NACV, SURFACE_VERTICAL_SIGMA_M,
                                                 VELOCITY_WINDOW_S, AdsbReports, MessageColumns, category_codes,
                                                 me_header, reports_from_columns)
from airpicture.modes.crc import frames_from_hex
from airpicture.modes.phantoms import ModeSFilter
from airpicture.sources.batch import FrameBatch, Problems
from airpicture.sources.decode import decode_frames
from airpicture.sources.timeline import MAX_ABS_TIME_S
from airpicture.tracking.transponder import addresses_to_hex

IDENTITY_FIELDS = ("callsign", "squawk", "emergency", "category")
# DF17/18 type codes whose content comes from rs1090
RS1090_TYPE_CODES = (1, 2, 3, 4, 5, 6, 7, 8, 19, 28, 31)
ADSB_DF18_CF = (0, 1, 2, 5, 6)     # DF18 control fields carrying ADS-B-format ME fields
_CACHE_LIMIT = 200_000
# value slots of a cached decode
_VALUES = ("groundspeed_mps", "track_rad", "vertical_rate_mps", "callsign", "squawk", "nacp", "version", "nacv",
           "emergency")
_DTYPES = {"groundspeed_mps": np.float64, "track_rad": np.float64, "vertical_rate_mps": np.float64,
           "callsign": object, "squawk": object, "nacp": np.int64, "version": np.int64, "nacv": np.int64,
           "emergency": object}


@dataclass
class _Cache:
    """Decoded contents by key (see ``_keys``), as parallel lists indexed through ``index``."""

    index: dict = field(default_factory=dict)
    values: dict = field(default_factory=lambda: {name: [] for name in _VALUES})

    def __len__(self) -> int:
        return len(self.index)

    def clear(self) -> None:
        self.index.clear()
        for column in self.values.values():
            column.clear()


def _message_values(decoded) -> dict:
    """Columns of ``_VALUES`` for the rows of one ``decode_frames`` call (rs1090 dicts read once per row)."""
    n = len(decoded)
    out = {name: decoded[name].copy() for name in ("groundspeed_mps", "track_rad", "vertical_rate_mps",
                                                    "callsign", "squawk")}
    rows = np.flatnonzero(decoded.decoded)
    ints = {"nacp": "NACp", "version": "version", "nacv": "NACv"}
    for name, key in ints.items():
        column = np.full(n, -1, dtype=np.int64)
        values = [m.get(key) for m in decoded.messages]
        have = np.fromiter((type(v) is int for v in values), dtype=bool, count=len(values))
        if have.any():
            column[rows[have]] = [v for v, h in zip(values, have) if h]
        out[name] = column
    emergency = np.full(n, "", dtype=object)
    values = [m.get("emergency_state") for m in decoded.messages]
    have = np.fromiter((isinstance(v, str) for v in values), dtype=bool, count=len(values))
    if have.any():
        emergency[rows[have]] = [v for v, h in zip(values, have) if h]
    out["emergency"] = emergency
    return out


_ICAO_HEX = re.compile(r"[0-9a-fA-F]{6}")
# decoded-field columns -> the range a value can take (SI); anything else (inf, 1e300, latitude 7 rad) is dropped
_FIELD_LIMITS = {"latitude_rad": (-math.pi / 2, math.pi / 2), "longitude_rad": (-math.pi, 2 * math.pi),
                 "altitude_m": (-2000.0, 100_000.0), "groundspeed_mps": (0.0, 3000.0),
                 "track_rad": (-2 * math.pi, 2 * math.pi), "vertical_rate_mps": (-500.0, 500.0)}


class TransponderDecoder:
    """Stateful decoder of transponder input: frames (and SBS fields) -> ADS-B position reports.

    Parameters
    ----------
    reference : (latitude_deg, longitude_deg), optional
        The receiver's position: single CPR messages of aircraft without a position yet decode locally from
        it (within the filter's receiver range). Leave it out for a moving receiver: positions then come from
        even/odd pairs and from the aircraft's own last position.
    velocity_window_s, default_nacp, default_nacv, extra_vertical_sigma_m, surface_height_m,
    surface_vertical_sigma_m :
        Passed to ``reports_from_columns`` (docs/fusion.md).
    problems : Problems, optional
        The reader's problem counter (give the same object to ``iter_file`` or use ``TcpFeed.problems``); it
        is reported in :attr:`counts` under ``problems``.
    **filter_options :
        ``ModeSFilter`` options (``address_memory_s``, ``pair_window_s``, ``max_speed_mps``, ...).
    """

    def __init__(self, reference=None, *, velocity_window_s: float = VELOCITY_WINDOW_S,
                 default_nacp: int = DEFAULT_NACP, default_nacv: int = DEFAULT_NACV,
                 extra_vertical_sigma_m: float = 0.0, surface_height_m: float = 0.0,
                 surface_vertical_sigma_m: float = SURFACE_VERTICAL_SIGMA_M, problems: Problems | None = None,
                 **filter_options):
        if reference is not None:
            lat, lon = (float(v) for v in reference)
            if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 360.0):
                from airpicture.errors import InputError

                raise InputError(f"reference {lat}, {lon} is not a latitude, longitude in degrees",
                                 field="reference")
            reference = (lat, lon)
        self.reference = reference
        self.filter = ModeSFilter(reference=None if reference is None else np.radians(reference), **filter_options)
        self.report_options = dict(velocity_window_s=velocity_window_s, default_nacp=default_nacp,
                                   default_nacv=default_nacv, extra_vertical_sigma_m=extra_vertical_sigma_m,
                                   surface_height_m=surface_height_m,
                                   surface_vertical_sigma_m=surface_vertical_sigma_m)
        self.problems = problems if problems is not None else Problems()
        self.decode_problems = Problems()        # rs1090's (undecoded, decoder_panic)
        self.nacp_by_icao: dict[str, int] = {}
        self.identity: dict[str, dict[str, tuple[str, float]]] = {}   # icao24 -> field -> (value, time)
        self._carry: MessageColumns | None = None  # last velocity message per aircraft
        # the message columns of the last batch (carried rows have row -1): what the reports were built from
        self.last_columns: MessageColumns | None = None
        self._cache = _Cache()
        self._heard = np.zeros(0, np.int64)        # addresses of accepted frames (DF11/17/18 and vouched AP)
        self._positioned: set[str] = set()        # aircraft that gave a position report
        self._field_heard: set[str] = set()       # addresses of SBS rows
        self._n = {"messages": 0, "decoded": 0, "positions": 0, "decoded_by_rs1090": 0, "rs1090_rows": 0,
                   "from_fields": 0, "field_positions": 0, "field_rows_bad_address": 0,
                   "field_rows_bad_time": 0, "field_values_rejected": 0}

    # ------------------------------------------------------------------ public
    @property
    def counts(self) -> dict:
        """Totals since construction (see docs/replay.md for each counter)."""
        fc = self.filter.counts
        out = dict(self._n)
        out.update({
            "crc_rejected": int(sum(self.filter.crc_failures.values())),
            "crc_rejected_by_df": {str(k): v for k, v in sorted(self.filter.crc_failures.items())},
            "phantoms": fc.get("phantom", 0), "unknown_df": fc.get("unknown_df", 0),
            "unsupported_df": fc.get("unsupported_df", 0), "malformed": fc.get("malformed", 0),
            "bad_length": fc.get("bad_length", 0), "not_mode_s": fc.get("not_mode_s", 0),
            "impossible_speed": fc.get("impossible_speed", 0), "bad_time": fc.get("bad_time", 0),
            "short_df_in_long_frame": fc.get("short_df_in_long_frame", 0),
            "aircraft": int(np.union1d(self._heard, self._field_addresses()).size),
            "aircraft_with_positions": len(self._positioned),
            "rs1090_problems": dict(self.decode_problems.counts),
            "problems": dict(self.problems.counts),
        })
        return out

    def _field_addresses(self) -> np.ndarray:
        out = []
        for a in self._field_heard:
            try:
                out.append(int(a, 16) & 0xFFFFFF)
            except ValueError:
                pass
        return np.asarray(out, np.int64)

    def identity_table(self) -> dict[str, np.ndarray]:
        """The identity table as columns: ``icao24`` and, per field, the value and its time (NaN if none)."""
        icao = np.array(sorted(self.identity), dtype=object)
        out = {"icao24": icao}
        for name in IDENTITY_FIELDS:
            entries = [self.identity[a].get(name, ("", np.nan)) for a in icao]
            out[name] = np.array([e[0] for e in entries], dtype=object)
            out[f"{name}_time"] = np.array([e[1] for e in entries], dtype=np.float64)
        return out

    def process(self, batch: FrameBatch) -> AdsbReports:
        """Decode one batch; returns its position reports in time order (``row``: row in ``batch``)."""
        n = len(batch)
        self._n["messages"] += n
        time = np.asarray(batch.time, dtype=np.float64)
        frames = np.asarray(batch.frame, dtype=object)
        lengths = np.fromiter(map(len, frames), dtype=np.int64, count=n) if n else np.zeros(0, np.int64)
        framed = lengths > 0
        parts = []
        if framed.any():
            rows = np.arange(n) if framed.all() else np.flatnonzero(framed)
            parts.append(self._from_frames(time[rows], frames[rows], rows))
        fields = batch.fields or {}
        if (~framed).any() and fields:
            parts.append(self._from_fields(batch, np.flatnonzero(~framed)))
        parts = [p for p in parts if p is not None and len(p)]
        if self._carry is not None and len(self._carry):
            parts.insert(0, self._carry)
        if not parts:
            self.last_columns = _empty_columns()
            return reports_from_columns(_empty_columns(), self.nacp_by_icao, **self.report_options)
        cols = MessageColumns.concat(parts) if len(parts) > 1 else parts[0]
        self.last_columns = cols
        reports = reports_from_columns(cols, self.nacp_by_icao, **self.report_options)
        self.nacp_by_icao = reports.nacp_by_icao
        self._fill_identity(reports)
        self._learn_identity(cols)
        self._keep_last_velocity(cols)
        self._n["positions"] += len(reports)
        if len(reports):
            self._positioned.update(np.unique(reports.icao24.astype(str)).tolist())
        return reports

    # ------------------------------------------------------------------ frames
    def _from_frames(self, time, frames, rows) -> MessageColumns | None:
        out = self.filter.process(time, frames)
        accepted = out.accepted
        heard = np.unique(out.icao24[accepted & (out.icao24 >= 0)])
        if heard.size:
            self._heard = np.union1d(self._heard, heard)
        self._n["decoded"] += int(np.count_nonzero(accepted))
        df = out.df.astype(np.int64)
        candidates = np.flatnonzero(accepted & np.isin(df, (5, 17, 18, 21)))
        position = accepted & np.isfinite(out.lat)
        if candidates.size == 0:
            return None
        data, is_long, valid = frames_from_hex(frames[candidates])
        c_df = df[candidates]
        tc, sub, q = me_header(data, is_long & valid)
        cf = data[:, 0] & 7
        es = ((c_df == 17) | ((c_df == 18) & np.isin(cf, ADSB_DF18_CF))) & is_long
        squawk_reply = np.isin(c_df, (5, 21))
        content = (es & np.isin(tc, RS1090_TYPE_CODES)) | squawk_reply
        keep = content | position[candidates]
        c = candidates[keep]
        data, tc, sub, q, es, content, squawk_reply = (a[keep] for a in (data, tc, sub, q, es, content,
                                                                          squawk_reply))
        m = c.size
        values = {
            "groundspeed_mps": np.full(m, np.nan), "track_rad": np.full(m, np.nan),
            "vertical_rate_mps": np.full(m, np.nan), "callsign": np.full(m, "", dtype=object),
            "squawk": np.full(m, "", dtype=object), "nacp": np.full(m, -1, np.int64),
            "version": np.full(m, -1, np.int64), "nacv": np.full(m, -1, np.int64),
            "emergency": np.full(m, "", dtype=object),
        }
        k = np.flatnonzero(content)
        if k.size:
            decoded = self._contents(data[k], squawk_reply[k], frames[c[k]], time[c[k]])
            for name, column in decoded.items():
                values[name][k] = column
        # each content belongs to its message kind only
        op = es & (tc == 31)
        values["nacp"][~op] = -1
        values["version"][~op] = -1
        values["nacv"][~(es & (tc == 19))] = -1
        ident = es & (tc >= 1) & (tc <= 4)
        values["callsign"][~ident] = ""
        values["squawk"][~((es & (tc == 28)) | squawk_reply)] = ""
        values["emergency"][~(es & (tc == 28))] = ""
        surface = es & (tc >= 5) & (tc <= 8)
        airborne_v = es & (tc == 19) & np.isin(sub, (1, 2))
        motion = airborne_v | surface
        for name in ("groundspeed_mps", "track_rad", "vertical_rate_mps"):
            values[name][~motion] = np.nan
        return MessageColumns(
            time=time[c], icao24=addresses_to_hex(out.icao24[c]), position=position[c], surface=surface & position[c],
            velocity=airborne_v, latitude_rad=out.lat[c], longitude_rad=out.lon[c], altitude_m=out.altitude_m[c],
            groundspeed_mps=values["groundspeed_mps"], track_rad=values["track_rad"],
            vertical_rate_mps=values["vertical_rate_mps"], me_tc=np.where(es, tc, -1), me_sub=np.where(es, sub, -1),
            q_bit=np.where(es, q, -1), nacp=values["nacp"], version=values["version"], nacv=values["nacv"],
            callsign=values["callsign"], squawk=values["squawk"], emergency=values["emergency"],
            category=category_codes(tc, sub, ident), row=rows[c].astype(np.int64))

    @staticmethod
    def _keys(data: np.ndarray, squawk_reply: np.ndarray) -> np.ndarray:
        """uint64 key per frame, equal for frames whose decode cannot differ: DF17/18 first byte (DF, CA/CF) and
        7-byte ME field; DF5/21 the 13-bit identity code (its first byte is 0, which no DF17/18 key has)."""
        es_bytes = np.ascontiguousarray(data[:, [0, 4, 5, 6, 7, 8, 9, 10]])
        key = es_bytes.view(">u8").reshape(-1).astype(np.uint64)
        identity = ((data[:, 2].astype(np.uint64) & np.uint64(0x1F)) << np.uint64(8)) | data[:, 3].astype(np.uint64)
        return np.where(squawk_reply, identity, key)

    def _contents(self, data, squawk_reply, frames, time) -> dict:
        """rs1090's contents for these frames: one decode per distinct key, cached across calls."""
        keys = self._keys(data, squawk_reply)
        uniq, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        inverse = inverse.reshape(-1)
        cache = self._cache
        if len(cache) > _CACHE_LIMIT:
            cache.clear()
        index = cache.index
        slots = np.fromiter((index.get(key, -1) for key in uniq.tolist()), dtype=np.int64, count=uniq.size)
        missing = np.flatnonzero(slots < 0)
        if missing.size:
            rep = first[missing]
            decoded = decode_frames(frames[rep], time[rep], source="transponder decoder")
            self.decode_problems.merge(decoded.problems)
            self._n["decoded_by_rs1090"] += int(np.count_nonzero(decoded.decoded))
            columns = _message_values(decoded)
            start = len(cache)
            for name in _VALUES:
                cache.values[name].extend(columns[name].tolist())
            index.update(zip(uniq[missing].tolist(), range(start, start + missing.size)))
            slots[missing] = np.arange(start, start + missing.size)
        self._n["rs1090_rows"] += len(keys)
        picked = slots.tolist()
        return {name: np.array([cache.values[name][i] for i in picked], dtype=_DTYPES[name])[inverse]
                for name in _VALUES}

    # ------------------------------------------------------------------ SBS fields
    def _from_fields(self, batch: FrameBatch, rows: np.ndarray) -> MessageColumns | None:
        f = batch.fields
        icao = np.asarray(f["icao24"], dtype=object)[rows]
        # a row is used only with a 24-bit address (6 hex digits) and a finite time; the others are counted,
        # never dropped silently (SBS / JSON lines readers already reject them: this guards direct callers)
        ok = np.fromiter((isinstance(a, str) and _ICAO_HEX.fullmatch(a) is not None for a in icao.tolist()),
                         dtype=bool, count=icao.size)
        self._n["field_rows_bad_address"] += int(np.count_nonzero(~ok))
        timed = np.abs(np.asarray(batch.time, dtype=np.float64)[rows]) <= MAX_ABS_TIME_S
        self._n["field_rows_bad_time"] += int(np.count_nonzero(ok & ~timed))
        ok &= timed
        rows, icao = rows[ok], icao[ok]
        m = rows.size
        if m == 0:
            return None
        self._n["from_fields"] += m
        self._field_heard.update(np.unique(icao.astype(str)).tolist())
        self._n["decoded"] += m
        take = {name: np.array(f[name], dtype=np.float64)[rows] for name in _FIELD_LIMITS}
        for name, (low, high) in _FIELD_LIMITS.items():  # infinite or impossible values: missing, and counted
            values = take[name]
            bad = ~np.isnan(values) & ~((values >= low) & (values <= high))
            if bad.any():
                self._n["field_values_rejected"] += int(np.count_nonzero(bad))
                values[bad] = np.nan
        position = (np.isfinite(take["latitude_rad"]) & np.isfinite(take["longitude_rad"])
                    & np.isfinite(take["altitude_m"]))
        self._n["field_positions"] += int(np.count_nonzero(position))
        velocity = np.isfinite(take["groundspeed_mps"]) & np.isfinite(take["track_rad"])
        minus = np.full(m, -1, np.int64)
        return MessageColumns(
            time=np.asarray(batch.time, dtype=np.float64)[rows], icao24=np.char.lower(icao.astype(str)).astype(object),
            position=position, surface=np.zeros(m, bool), velocity=velocity, latitude_rad=take["latitude_rad"],
            longitude_rad=take["longitude_rad"], altitude_m=take["altitude_m"],
            groundspeed_mps=take["groundspeed_mps"], track_rad=take["track_rad"],
            vertical_rate_mps=take["vertical_rate_mps"], me_tc=minus, me_sub=minus, q_bit=minus, nacp=minus,
            version=minus, nacv=minus, callsign=np.asarray(f["callsign"], dtype=object)[rows],
            squawk=np.asarray(f["squawk"], dtype=object)[rows], emergency=np.full(m, "", dtype=object),
            category=np.full(m, "", dtype=object), row=rows.astype(np.int64))

    # ------------------------------------------------------------------ state across calls
    def _fill_identity(self, reports: AdsbReports) -> None:
        """Reports whose batch has not given a field yet take the identity table's (from earlier batches)."""
        if len(reports) == 0 or not self.identity:
            return
        uniq, inverse = np.unique(reports.icao24.astype(str), return_inverse=True)
        for name in IDENTITY_FIELDS:
            column = getattr(reports, name)
            empty = column == ""
            if not empty.any():
                continue
            known = np.array([self.identity.get(a, {}).get(name, ("", 0.0))[0] for a in uniq.tolist()],
                             dtype=object)
            column[empty] = known[inverse[empty]]

    def _learn_identity(self, cols: MessageColumns) -> None:
        """Latest non-empty value of each identity field per aircraft into the table."""
        for name in IDENTITY_FIELDS:
            values = np.asarray(getattr(cols, name), dtype=object)
            rows = np.flatnonzero(values != "")
            if rows.size == 0:
                continue
            icao = cols.icao24[rows].astype(str)
            order = rows[np.lexsort((cols.time[rows], icao))]
            icao = cols.icao24[order].astype(str)
            last = order[np.r_[icao[1:] != icao[:-1], True]]
            for a, v, t in zip(cols.icao24[last].tolist(), values[last].tolist(), cols.time[last].tolist()):
                entry = self.identity.setdefault(a, {})
                if name not in entry or entry[name][1] <= t:
                    entry[name] = (v, t)
        # every aircraft that gave a position is in the table, identified or not
        for a in np.unique(cols.icao24[np.asarray(cols.position, bool)].astype(str)).tolist():
            self.identity.setdefault(a, {})

    def _keep_last_velocity(self, cols: MessageColumns) -> None:
        rows = np.flatnonzero(np.asarray(cols.velocity, bool))
        if rows.size == 0:
            return
        icao = cols.icao24[rows].astype(str)
        order = rows[np.lexsort((cols.time[rows], icao))]
        icao = cols.icao24[order].astype(str)
        last = order[np.r_[icao[1:] != icao[:-1], True]]
        # an aircraft silent for long needs no velocity carried (a position pairs with one at most
        # velocity_window_s old): keep the state small on a feed that runs for days
        recent = cols.time[last] >= cols.time[last].max() - max(60.0, 10 * self.report_options["velocity_window_s"])
        last = last[recent]
        carry = cols.take(last)
        carry.position = np.zeros(last.size, bool)
        carry.surface = np.zeros(last.size, bool)
        carry.row = np.full(last.size, -1, np.int64)
        for name in ("callsign", "squawk", "emergency", "category"):
            setattr(carry, name, np.full(last.size, "", dtype=object))
        carry.nacp = np.full(last.size, -1, np.int64)
        carry.version = np.full(last.size, -1, np.int64)
        self._carry = carry


def _empty_columns() -> MessageColumns:
    z = np.zeros(0)
    zi = np.zeros(0, np.int64)
    zb = np.zeros(0, bool)
    zo = np.zeros(0, dtype=object)
    return MessageColumns(time=z, icao24=zo, position=zb, surface=zb, velocity=zb, latitude_rad=z, longitude_rad=z,
                          altitude_m=z, groundspeed_mps=z, track_rad=z, vertical_rate_mps=z, me_tc=zi, me_sub=zi,
                          q_bit=zi, nacp=zi, version=zi, nacv=zi, callsign=zo, squawk=zo, emergency=zo, category=zo,
                          row=zi)
