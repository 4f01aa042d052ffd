"""SBS-1 / BaseStation CSV as served on port 30003: ``MSG,type,session,aircraft,HEXIDENT,flight,date,time,
date,time,callsign,altitude,groundspeed,track,lat,lon,vertical_rate,squawk,alert,emergency,spi,on_ground``.

Rows carry decoded fields (feet, knots, degrees, ft/min; converted to SI) and no raw frame. The time is the
"generated" date and time (fields 7-8), read as UTC.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from airpicture.sources.batch import DECODED_COLUMNS, FEET, FEET_PER_MINUTE, KNOTS, FrameBatch, object_array
from airpicture.sources.lines import LineParser, frames_batch, hex_nibbles, parse_floats
from airpicture.sources.timeline import bad_unix_time

SBS_FIELDS = 22
MESSAGE_TYPES = (b"MSG", b"SEL", b"ID", b"AIR", b"STA", b"CLK")
# SBS column -> (decoded column, factor to SI)
_NUMERIC = {11: ("altitude_m", FEET), 12: ("groundspeed_mps", KNOTS), 13: ("track_rad", np.pi / 180),
            14: ("latitude_rad", np.pi / 180), 15: ("longitude_rad", np.pi / 180),
            16: ("vertical_rate_mps", FEET_PER_MINUTE)}


def _unix_times(dates: list[bytes], times: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """Unix seconds from ``YYYY/MM/DD`` and ``HH:MM:SS.fff``; parses each distinct date once."""
    n = len(dates)
    out = np.full(n, np.nan)
    day_start: dict[bytes, float] = {}
    for date in set(dates):
        try:
            day = dt.datetime.strptime(date.decode("ascii").strip(), "%Y/%m/%d").replace(tzinfo=dt.timezone.utc)
            day_start[date] = day.timestamp()
        except (ValueError, UnicodeDecodeError):
            day_start[date] = np.nan
    base = np.array([day_start[d] for d in dates], dtype=np.float64)
    parts = [t.split(b":") for t in times]
    three = np.fromiter((len(p) == 3 for p in parts), dtype=bool, count=n)
    hours, bad_h = parse_floats([p[0] if len(p) == 3 else b"x" for p in parts])
    minutes, bad_m = parse_floats([p[1] if len(p) == 3 else b"x" for p in parts])
    seconds, bad_s = parse_floats([p[2] if len(p) == 3 else b"x" for p in parts])
    ok = three & ~bad_h & ~bad_m & ~bad_s
    ok[ok] &= (hours[ok] >= 0) & (hours[ok] < 24) & (minutes[ok] >= 0) & (minutes[ok] < 60) \
        & (seconds[ok] >= 0) & (seconds[ok] < 61)
    out[ok] = base[ok] + hours[ok] * 3600 + minutes[ok] * 60 + seconds[ok]
    return out, bad_unix_time(out)


class SbsParser(LineParser):
    format_name = "sbs"
    unix_time = True
    field_names = tuple(DECODED_COLUMNS)

    def _parse(self, lines: list[bytes], numbers: np.ndarray, now: float | None) -> FrameBatch:
        rows = [line.split(b",") for line in lines]
        width = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
        known = np.fromiter((r[0].strip() in MESSAGE_TYPES for r in rows), dtype=bool, count=len(rows))
        self._reject("bad_sbs_type", ~known, numbers)
        self._reject("short_sbs_row", known & (width < SBS_FIELDS), numbers)
        self._reject("long_sbs_row", known & (width > SBS_FIELDS), numbers)
        index = np.flatnonzero(known & (width == SBS_FIELDS))
        rows = [rows[i] for i in index]
        numbers = numbers[index]
        icao = [r[4].strip() for r in rows]
        _, icao_len, icao_ok = hex_nibbles(icao, 6)
        bad_icao = ~icao_ok | (icao_len != 6)
        times, bad_time = _unix_times([r[6] for r in rows], [r[7] for r in rows])
        if bad_time.any():  # some feeds fill only the "logged" date and time
            logged, bad_logged = _unix_times([r[8] for r in rows], [r[9] for r in rows])
            times = np.where(bad_time, logged, times)
            bad_time &= bad_logged
        if now is not None:  # live feeds without a usable generated time fall back to the receive time
            times[bad_time] = now
            bad_time[:] = False
        bad_numbers = np.zeros(len(rows), dtype=bool)
        values = {}
        for col, (name, factor) in _NUMERIC.items():
            array, bad = parse_floats([r[col] for r in rows])
            values[name] = array * factor
            bad_numbers |= bad
        for name, limit in (("latitude_rad", np.pi / 2), ("longitude_rad", 2 * np.pi)):  # 95 degrees N: no
            bad_numbers |= np.abs(values[name]) > limit
        self._reject("bad_icao", bad_icao, numbers)
        self._reject("bad_time", bad_time & ~bad_icao, numbers)
        self._reject("bad_number", bad_numbers & ~bad_time & ~bad_icao, numbers)
        good = np.flatnonzero(~bad_icao & ~bad_time & ~bad_numbers)
        n = len(good)
        fields = {name: np.full(n, DECODED_COLUMNS[name][1], dtype=DECODED_COLUMNS[name][0])
                  for name in ("df", "tc")}
        fields["icao24"] = object_array([icao[i].decode("ascii").lower() for i in good])
        fields["bds"] = object_array([""] * n)
        for name, array in values.items():
            fields[name] = array[good]
        fields["callsign"] = object_array([rows[i][10].strip().decode("ascii", "replace") for i in good])
        fields["squawk"] = object_array([rows[i][17].strip().decode("ascii", "replace") for i in good])
        fields = {name: fields[name] for name in DECODED_COLUMNS}
        return frames_batch(times[good], object_array([""] * n), numbers[good], fields=fields)
