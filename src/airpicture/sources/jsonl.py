"""jet1090 JSON lines: one object per line with ``timestamp``, raw ``frame`` and rs1090's decoded fields
(``df``, ``icao24``, ``bds``, ``tc``, ``latitude``, ``longitude``, ``altitude``, ``groundspeed``, ``track``,
``vertical_rate``, ``callsign``, ``squawk`` ...; feet, knots, ft/min and degrees, converted to SI here)."""

from __future__ import annotations

import json
import json.scanner

import numpy as np

from airpicture.sources.batch import DECODED_COLUMNS, FEET, FEET_PER_MINUTE, KNOTS, FrameBatch
from airpicture.sources.lines import LineParser, frames_batch, hex_nibbles
from airpicture.sources.timeline import bad_unix_time

# JSON key -> (column, factor to SI); factor None for text columns
JSON_FIELDS = {
    "df": ("df", None), "icao24": ("icao24", None), "tc": ("tc", None), "bds": ("bds", None),
    "latitude": ("latitude_rad", np.pi / 180), "longitude": ("longitude_rad", np.pi / 180),
    "altitude": ("altitude_m", FEET), "groundspeed": ("groundspeed_mps", KNOTS),
    "track": ("track_rad", np.pi / 180), "vertical_rate": ("vertical_rate_mps", FEET_PER_MINUTE),
    "callsign": ("callsign", None), "squawk": ("squawk", None),
}


# the largest magnitude a numeric field can take, in the JSON's units (degrees, ft, kt, ft/min; integers
# must fit their int16 column)
_LIMITS = {"df": 32, "tc": 32, "latitude": 90.0, "longitude": 360.0, "altitude": 300_000.0,
           "groundspeed": 6000.0, "track": 720.0, "vertical_rate": 100_000.0}
_LIMITS = {JSON_FIELDS[key][0]: value for key, value in _LIMITS.items()}


_SCAN = json.scanner.make_scanner(json.JSONDecoder())


def _scan_lines(text: str, n: int) -> list:
    """The JSON value of each of the ``n`` lines of ``text`` (lines stripped); ValueError unless every line is
    exactly one value."""
    records = []
    pos = 0
    for line in text.split("\n"):
        try:
            value, end = _SCAN(text, pos)
        except StopIteration:
            raise ValueError("no JSON value") from None
        if end != pos + len(line):
            raise ValueError("not one value on the line")
        records.append(value)
        pos = end + 1
    if len(records) != n:
        raise ValueError("line count changed")
    return records


def _number(value, missing=np.nan):
    """A JSON value as float; strings of digits (jet1090 writes ``"df": "17"``) accepted; else ``missing``."""
    if value is None or isinstance(value, bool):
        return missing
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return missing


def _nested_callsign(record: dict):
    nested = record.get("bds20")
    return nested.get("callsign") if isinstance(nested, dict) else None


def _numbers(values: list) -> np.ndarray:
    """Floats from JSON values (None -> NaN), element by element only when the fast conversion fails."""
    try:
        array = np.array(values, dtype=np.float64)
        if array.ndim == 1 and not any(v is True or v is False for v in values):
            return array
    except (TypeError, ValueError):
        pass
    return np.array([_number(v) for v in values], dtype=np.float64)


class JsonLinesParser(LineParser):
    format_name = "jsonl"
    unix_time = True
    max_line = 1 << 16
    field_names = tuple(DECODED_COLUMNS)

    def _parse(self, lines: list[bytes], numbers: np.ndarray, now: float | None) -> FrameBatch:
        try:  # one value per line, each ending where its line ends (one array of the joined lines would let
            # a value span lines); the block decoded to text once, then json's C scanner line by line
            records = _scan_lines(b"\n".join(line.strip() for line in lines).decode("utf-8"), len(lines))
            keep = list(range(len(lines)))
        except (ValueError, RecursionError):
            records, keep = [], []
            for i, line in enumerate(lines):
                try:
                    records.append(json.loads(line))
                    keep.append(i)
                except (ValueError, RecursionError):  # JSONDecodeError, UnicodeDecodeError, [[[[... nested
                    self.problems.add("bad_json", self.where(numbers[i]))
        is_dict = [i for i, r in enumerate(records) if isinstance(r, dict)]
        if len(is_dict) != len(records):
            for i, r in enumerate(records):
                if not isinstance(r, dict):
                    self.problems.add("bad_json", self.where(numbers[keep[i]]))
            records = [records[i] for i in is_dict]
            keep = [keep[i] for i in is_dict]
        numbers = numbers[keep]
        times = _numbers([r.get("timestamp") for r in records])
        frames = [r.get("frame") for r in records]
        text_ok = np.fromiter((isinstance(f, str) for f in frames), dtype=bool, count=len(frames))
        frames = [f.lower() if ok else "" for f, ok in zip(frames, text_ok)]
        _, lengths, valid = hex_nibbles([f.encode("ascii", "replace") for f in frames], 28)
        bad_time = bad_unix_time(times)
        bad_frame = ~bad_time & (~text_ok | ~valid | ~np.isin(lengths, (14, 28)))
        self._reject("bad_time", bad_time, numbers)
        self._reject("bad_frame", bad_frame, numbers)
        good = np.flatnonzero(~bad_time & ~bad_frame)
        records = [records[i] for i in good]
        fields = {}
        for key, (column, factor) in JSON_FIELDS.items():
            dtype, missing = DECODED_COLUMNS[column]
            values = [r.get(key) for r in records]
            if column == "callsign":  # Comm-B identification (DF20/21, BDS 2,0) sits in a nested dict
                values = [v if v is not None else _nested_callsign(r) for v, r in zip(values, records)]
            if dtype is object:
                fields[column] = np.array([missing if v is None else str(v) for v in values] or [], dtype=object)
                continue
            array = _numbers(values)
            # a value given but unusable (text, NaN, inf, out of range) is left out and counted: the record
            # itself is kept (its raw frame is what gets decoded)
            limit = _LIMITS.get(column)
            with np.errstate(invalid="ignore"):
                usable = np.isfinite(array) & (np.abs(array) <= limit if limit is not None else True)
            unusable = ~usable
            if int(np.count_nonzero(unusable)) != values.count(None):   # more than the missing ones
                unusable &= np.fromiter((v is not None for v in values), dtype=bool, count=len(values))
            else:
                unusable[:] = False
            if unusable.any():
                self.problems.add("bad_field", self.where(numbers[good[np.argmax(unusable)]]),
                                  int(np.count_nonzero(unusable)))
            if factor is not None:
                fields[column] = np.where(usable, array, np.nan) * factor
            else:
                fields[column] = np.where(usable, array, missing).astype(dtype)
        return frames_batch(times[good], [frames[i] for i in good], numbers[good], fields=fields)
