"""AVR text frames, one per line: ``*HEX;``, ``@TTTTTTTTTTTTHEX;`` (12 hex digits of 12 MHz counter first)
and ``<TTTTTTTTTTTTSSHEX;`` (counter and signal byte first, as dump1090-fa and readsb write it)."""

from __future__ import annotations

import numpy as np

from airpicture.sources.batch import FrameBatch, Problems
from airpicture.sources.lines import LineParser, TickClock, frames_batch, hex_nibbles, nibbles_to_int

FRAME_HEX_LENGTHS = (4, 14, 28)  # Mode A/C, short and long Mode S
_PREFIX_HEX = {ord("*"): 0, ord("@"): 12, ord("<"): 14}


class AvrParser(LineParser):
    format_name = "avr"

    def __init__(self, problems: Problems | None = None, source: str = "<stream>",
                 start_time: float | None = None):
        super().__init__(problems, source, start_time)
        self.clock = TickClock(self.problems, source, start_time)

    def _parse(self, lines: list[bytes], numbers: np.ndarray, now: float | None) -> FrameBatch:
        lines = [line.strip() for line in lines]
        marker = np.fromiter((line[0] for line in lines), dtype=np.int64, count=len(lines))
        closed = np.fromiter((line[-1] == 59 for line in lines), dtype=bool, count=len(lines))  # ';'
        prefix = np.full(len(lines), -1, dtype=np.int64)
        for char, width in _PREFIX_HEX.items():
            prefix[marker == char] = width
        bad_marker = (prefix < 0) | ~closed
        self._reject("bad_avr_line", bad_marker, numbers)
        index = np.flatnonzero(~bad_marker)
        bodies = [lines[i][1:-1] for i in index]
        numbers, prefix = numbers[index], prefix[index]
        nibbles, lengths, valid = hex_nibbles(bodies, 14 + 28)
        frame_hex = lengths - prefix
        bad_hex = ~valid | (lengths % 2 == 1)
        bad_length = ~bad_hex & ~np.isin(frame_hex, FRAME_HEX_LENGTHS)
        self._reject("bad_hex", bad_hex, numbers)
        self._reject("bad_frame_length", bad_length, numbers)
        good = np.flatnonzero(~bad_hex & ~bad_length)
        frames = [bodies[i][prefix[i]:].decode("ascii").lower() for i in good]
        nibbles, prefix, numbers = nibbles[good], prefix[good], numbers[good]
        width = nibbles.shape[1]
        if width < 14:
            nibbles = np.pad(nibbles, ((0, 0), (0, 14 - width)))
        ticks = np.where(prefix > 0, nibbles_to_int(nibbles[:, :12]), -1)
        signal = np.where(prefix == 14, nibbles_to_int(nibbles[:, 12:14]).astype(np.float64), np.nan)
        time = np.full(len(good), self.start_time if now is None else now, dtype=np.float64)
        if self.start_time is None and now is None:
            time[:] = np.nan
        timed = ticks >= 0
        if timed.any():
            time[timed] = self.clock.times(ticks[timed], now, numbers[timed])
        return frames_batch(time, frames, numbers, signal=signal, ticks=ticks)
