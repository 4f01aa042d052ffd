"""A thin, safe layer over rs1090's vectorised decoder: a column of hex frames in, columns of fields out.

rs1090 (the reference Mode S decoder) returns one dict per message it could decode and silently leaves out the
others (CRC failures of DF17/18, unknown formats); it aborts the whole call on a frame that is not hex. So the
frames are checked here first, the dicts are matched back to their input rows, and every frame that gave no
message is counted. CRC/phantom filtering and a CPR strategy of our own are not done here (see docs/sources.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import repeat

import numpy as np
import rs1090

from airpicture.sources.batch import (DECODED_COLUMNS, FEET, FEET_PER_MINUTE, KNOTS, Problems, empty_column,
                                      object_array)
from airpicture.sources.lines import hex_nibbles

MODE_S_HEX_LENGTHS = (14, 28)
_DEG = np.pi / 180
# rs1090 key -> (column, factor to SI or None for text/int columns)
_RS1090_FIELDS = {
    "df": ("df", None), "icao24": ("icao24", None), "tc": ("tc", None), "bds": ("bds", None),
    "latitude": ("latitude_rad", _DEG), "longitude": ("longitude_rad", _DEG), "altitude": ("altitude_m", FEET),
    "groundspeed": ("groundspeed_mps", KNOTS), "track": ("track_rad", _DEG),
    "vertical_rate": ("vertical_rate_mps", FEET_PER_MINUTE), "callsign": ("callsign", None),
    "squawk": ("squawk", None),
}


@dataclass
class Decoded:
    """Decoded fields, one row per input frame (row i is frame i).

    ``decoded`` says whether rs1090 returned a message for the row; ``columns`` holds ``DECODED_COLUMNS``
    (SI units; missing values NaN / -1 / ''); ``messages`` keeps rs1090's dicts for the decoded rows (in
    row order) for fields without a column; ``problems`` counts frames not decoded, per reason.
    """

    decoded: np.ndarray
    columns: dict[str, np.ndarray]
    messages: list[dict] = field(repr=False)
    problems: Problems

    def __len__(self) -> int:
        return len(self.decoded)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]


def _floats(values: list) -> np.ndarray:
    try:
        array = np.array(values, dtype=np.float64)  # None -> NaN
        if array.ndim == 1:
            return array
    except (TypeError, ValueError):
        pass
    out = np.full(len(values), np.nan)
    for i, value in enumerate(values):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[i] = value
    return out


def _texts(values: list) -> list[str]:
    return ["" if value is None else str(value) for value in values]


def _call_rs1090(frames: list[str], times: np.ndarray, rows: np.ndarray, kwargs: dict, batch: int) -> list[dict]:
    return rs1090.decode([frames[i] for i in rows], times[rows].tolist(), batch=batch, **kwargs)


def _decode_guarded(frames, times, rows_in, kwargs, batch, problems, source):
    """rs1090 over the checked rows; a Rust panic (a BaseException) costs only the frames that cause it.

    rs1090 aborts the whole call on a frame it cannot handle. Then each frame is tried alone (without
    positions), the ones that panic are counted as ``decoder_panic`` and the call is repeated without them.
    """
    try:
        return rows_in, _call_rs1090(frames, times, rows_in, kwargs, batch)
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except BaseException:  # pyo3_runtime.PanicException derives from BaseException
        pass
    bad = []
    for i in rows_in:
        try:
            _call_rs1090(frames, times, np.array([i]), {}, batch)
        except (KeyboardInterrupt, SystemExit, GeneratorExit):
            raise
        except BaseException:
            bad.append(i)
    if bad:
        problems.add("decoder_panic", f"{source}: row {bad[0]}", len(bad))
    rows_in = np.setdiff1d(rows_in, bad)
    try:
        return rows_in, _call_rs1090(frames, times, rows_in, kwargs, batch)
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except BaseException:
        problems.add("decoder_panic", source, len(rows_in))
        return rows_in[:0], []


def _align(frames: list[str], times: np.ndarray, rows_in: np.ndarray, messages: list[dict]) -> np.ndarray | None:
    """Input row of each rs1090 message. rs1090 keeps the input order but leaves out what it cannot decode."""
    if len(messages) == len(rows_in):
        return rows_in
    matched, j, n = [], 0, len(rows_in)
    for message in messages:
        frame, t = message.get("frame"), message.get("timestamp")
        while j < n and (frames[rows_in[j]] != frame or times[rows_in[j]] != t):
            j += 1
        if j == n:
            return None
        matched.append(rows_in[j])
        j += 1
    return np.asarray(matched, dtype=np.int64)


def decode_frames(hex_frames, timestamps, reference: tuple[float, float] | None = None, *,
                  batch: int = 1000, source: str = "<frames>") -> Decoded:
    """Decode Mode S frames with rs1090.

    Parameters
    ----------
    hex_frames : sequence of str
        Frames as hex (14 or 28 digits; anything else - Mode A/C, SBS rows' empty frames - is counted and left
        undecoded).
    timestamps : array-like of float
        Unix seconds, one per frame, in time order: rs1090 pairs CPR even/odd frames by time.
    reference : (latitude_deg, longitude_deg), optional
        Receiver or area position, which lets rs1090 decode surface and single CPR positions locally.

    Returns
    -------
    Decoded
        Columns aligned with the input rows.
    """
    frames = [str(f).lower() if f is not None else "" for f in hex_frames]
    times = np.asarray(timestamps, dtype=np.float64)
    n = len(frames)
    if len(times) != n:
        raise ValueError(f"{n} frames but {len(times)} timestamps")
    problems = Problems()
    _, lengths, valid = hex_nibbles([f.encode("ascii", "replace") for f in frames], 28)
    mode_s = valid & np.isin(lengths, MODE_S_HEX_LENGTHS)
    finite = np.isfinite(times)
    for reason, bad in (("not_mode_s", ~mode_s), ("bad_time", mode_s & ~finite)):
        if bad.any():
            problems.add(reason, f"{source}: row {int(np.argmax(bad))}", int(bad.sum()))
    rows_in = np.flatnonzero(mode_s & finite)
    columns = {name: empty_column(name, n) for name in DECODED_COLUMNS}
    decoded = np.zeros(n, dtype=bool)
    if len(rows_in) == 0:
        return Decoded(decoded, columns, [], problems)
    kwargs = {"reference": tuple(map(float, reference))} if reference is not None else {}
    rows_in, messages = _decode_guarded(frames, times, rows_in, kwargs, batch, problems, source)
    rows = _align(frames, times, rows_in, messages)
    if rows is None:  # never seen: rs1090 returned something that is not among the inputs, in order
        problems.add("unaligned_output", source, len(rows_in))
        return Decoded(decoded, columns, [], problems)
    decoded[rows] = True
    missed = np.zeros(n, dtype=bool)
    missed[rows_in] = True
    missed &= ~decoded
    if missed.any():
        problems.add("undecoded", f"{source}: row {int(np.argmax(missed))}", int(missed.sum()))

    for key, (name, factor) in _RS1090_FIELDS.items():
        values = list(map(dict.get, messages, repeat(key)))
        dtype, missing = DECODED_COLUMNS[name]
        if name == "callsign":  # Comm-B identification (DF20/21, BDS 2,0) sits in a nested dict
            values = [v if v is not None else (m.get("bds20") or {}).get("callsign")
                      for v, m in zip(values, messages)]
        if dtype is object:
            columns[name][rows] = object_array(_texts(values))
        elif factor is None:
            array = _floats(values)
            columns[name][rows] = np.where(np.isfinite(array), array, missing).astype(dtype)
        else:
            columns[name][rows] = _floats(values) * factor
    return Decoded(decoded, columns, messages, problems)
