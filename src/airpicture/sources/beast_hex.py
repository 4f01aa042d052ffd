"""Beast frames as hex text, one per line: ``unix_ts,hex`` (rs1090's ``long_flight.csv``).

The hex is a whole Beast record with escapes already removed: ``1a``, the type (``31``/``32``/``33`` = '1'
Mode A/C, '2' short, '3' long Mode S), 6 bytes of 12 MHz counter, 1 signal byte, then the frame.
"""

from __future__ import annotations

import numpy as np

from airpicture.sources.batch import FrameBatch
from airpicture.sources.lines import LineParser, frames_batch, hex_nibbles, nibbles_to_int, parse_floats
from airpicture.sources.timeline import bad_unix_time

HEADER_HEX = 18
# Beast type byte -> frame length in hex digits
FRAME_HEX_BY_TYPE = {0x31: 4, 0x32: 14, 0x33: 28}
_MAX_HEX = HEADER_HEX + 28


class BeastHexParser(LineParser):
    format_name = "beast-hex"
    unix_time = True

    def _parse(self, lines: list[bytes], numbers: np.ndarray, now: float | None) -> FrameBatch:
        parts = [line.split(b",") for line in lines]
        two = np.fromiter((len(p) == 2 for p in parts), dtype=bool, count=len(parts))
        self._reject("bad_row", ~two, numbers)
        if not two.all():
            parts = [p for p, ok in zip(parts, two) if ok]
            numbers = numbers[two]
        times, bad_time = parse_floats([p[0] for p in parts])
        bad_time |= bad_unix_time(times)
        texts = [p[1].strip() for p in parts]
        nibbles, lengths, valid = hex_nibbles(texts, _MAX_HEX)
        if nibbles.shape[1] < HEADER_HEX:  # every line too short for a header: pad so the columns exist
            nibbles = np.pad(nibbles, ((0, 0), (0, HEADER_HEX - nibbles.shape[1])), constant_values=255)
        bad_hex = ~valid | (lengths % 2 == 1)
        kind = (nibbles[:, 2].astype(np.int64) << 4) | (nibbles[:, 3] & 0xF)
        header_ok = (nibbles[:, 0] == 1) & (nibbles[:, 1] == 0xA) & (lengths >= HEADER_HEX)
        expected = np.zeros(len(texts), dtype=np.int64)
        for beast_type, frame_hex in FRAME_HEX_BY_TYPE.items():
            expected[kind == beast_type] = HEADER_HEX + frame_hex
        bad_header = ~bad_hex & ~bad_time & (~header_ok | (expected == 0))
        truncated = ~bad_hex & ~bad_time & ~bad_header & (lengths < expected)
        too_long = ~bad_hex & ~bad_time & ~bad_header & (lengths > expected)
        self._reject("bad_time", bad_time, numbers)
        self._reject("bad_hex", bad_hex & ~bad_time, numbers)
        self._reject("bad_beast_header", bad_header, numbers)
        self._reject("truncated_frame", truncated, numbers)
        self._reject("frame_too_long", too_long, numbers)
        good = ~(bad_time | bad_hex | bad_header | truncated | too_long)
        index = np.flatnonzero(good)
        frames = [texts[i][HEADER_HEX:].decode("ascii").lower() for i in index]
        ticks = nibbles_to_int(nibbles[index, 4:16])
        signal = nibbles_to_int(nibbles[index, 16:18])
        return frames_batch(times[index], frames, numbers[index], signal=signal, ticks=ticks)
