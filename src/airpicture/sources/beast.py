"""Beast binary frames (port 30005): ``0x1A``, a type byte, 6 bytes of 12 MHz counter, 1 signal byte, the frame.

Types: ``'1'`` Mode A/C (2 bytes), ``'2'`` short Mode S (7 bytes), ``'3'`` long Mode S (14 bytes). A 0x1A byte
inside a record is sent twice. The whole buffer is unescaped and cut into records with array operations:

* in a run of consecutive 0x1A bytes, every second byte is an escape duplicate; a run of odd length ends with
  a record start (a doubled payload byte can be followed directly by the next record's 0x1A, never by a type);
* a record is accepted when its unescaped length up to the next start is at least its type's length; bytes
  beyond are junk (counted), fewer means a truncated record (counted) - which is also how a broken escape
  (a single 0x1A in a payload) shows: a truncated record followed by a start with an unknown type.
"""

from __future__ import annotations

import numpy as np

from airpicture.sources.batch import FrameBatch, Problems, object_array
from airpicture.sources.lines import StreamParser, TickClock, frames_batch

ESCAPE = 0x1A
# type byte -> unescaped record length after the type (6 counter + 1 signal + frame)
PAYLOAD_BY_TYPE = {0x31: 9, 0x32: 14, 0x33: 21}


class BeastParser(StreamParser):
    format_name = "beast"

    def __init__(self, problems: Problems | None = None, source: str = "<stream>",
                 start_time: float | None = None):
        super().__init__(problems, source, start_time)
        self.clock = TickClock(self.problems, source, start_time)
        self._rest = b""
        self._rest_offset = 0
        self._in_junk = False  # the previous feed ended inside junk (already counted): its continuation is not new

    def where(self, position) -> str:
        return f"{self.source}: byte {position}"

    def feed(self, data: bytes, now: float | None = None) -> FrameBatch:
        return self._scan(self._rest + data, self._rest_offset, now, final=False)

    def finish(self, now: float | None = None) -> FrameBatch:
        return self._scan(self._rest, self._rest_offset, now, final=True)

    def _count(self, reason: str, raw_positions: np.ndarray, base: int) -> None:
        if len(raw_positions):
            self.problems.add(reason, self.where(base + int(raw_positions[0])), len(raw_positions))

    def _scan(self, buffer: bytes, base: int, now: float | None, final: bool) -> FrameBatch:
        # a trailing run of 0x1A is ambiguous until the next byte arrives (escape or record start): hold it back
        held = 0 if final else len(buffer) - len(buffer.rstrip(b"\x1a"))
        raw = np.frombuffer(buffer, dtype=np.uint8)[:len(buffer) - held]
        m = len(raw)
        is_escape = raw == ESCAPE
        previous = np.concatenate(([False], is_escape[:-1]))
        following = np.concatenate((is_escape[1:], [False]))
        run_starts = np.flatnonzero(is_escape & ~previous)
        run_ends = np.flatnonzero(is_escape & ~following)
        starts_raw = run_ends[(run_ends - run_starts) % 2 == 0]  # odd-length runs end with a record start
        run_start_of = np.zeros(m, dtype=np.int64)
        run_start_of[run_starts] = run_starts
        run_start_of = np.maximum.accumulate(run_start_of) if m else run_start_of
        duplicate = is_escape & ((np.arange(m) - run_start_of) % 2 == 1)
        keep = ~duplicate
        unescaped = raw[keep]
        raw_of = np.flatnonzero(keep)  # unescaped index -> raw index
        starts = np.cumsum(keep)[starts_raw] - 1 if len(starts_raw) else starts_raw

        if len(starts) == 0:
            if not self._in_junk:
                self._count("garbage", np.arange(min(m, 1)), base)
            self._in_junk = self._in_junk or m > 0
            self._rest, self._rest_offset = buffer[m:], base + m
            return FrameBatch.empty()
        if starts[0] > 0 and not self._in_junk:
            self._count("garbage", np.array([0]), base)

        bounds = np.concatenate((starts[1:], [len(unescaped)]))
        available = bounds - starts - 2
        type_byte = np.full(len(starts), -1, dtype=np.int64)
        has_type = starts + 1 < len(unescaped)
        type_byte[has_type] = unescaped[starts[has_type] + 1]
        needed = np.zeros(len(starts), dtype=np.int64)
        for beast_type, length in PAYLOAD_BY_TYPE.items():
            needed[type_byte == beast_type] = length
        known = needed > 0

        # the last record may still be arriving
        if not final and (not known[-1] and not has_type[-1] or known[-1] and available[-1] < needed[-1]):
            cut = raw_of[starts[-1]]
            self._rest, self._rest_offset = buffer[cut:], base + cut
            held_record = True
            starts, available, type_byte, needed, known, has_type = (
                starts[:-1], available[:-1], type_byte[:-1], needed[:-1], known[:-1], has_type[:-1])
        else:
            self._rest, self._rest_offset = buffer[m:], base + m
            held_record = False

        start_raw = raw_of[starts]
        truncated = known & (available < needed)
        junk = known & (available > needed)
        # bytes after the last record given out here that are not a record (junk after it, or the body of a
        # record with a bad type) may go on in the next feed: counted once, with this record
        self._in_junk = not held_record and bool(len(starts)) and bool(junk[-1] or not known[-1])
        self._count("bad_beast_type", start_raw[~known], base)
        self._count("truncated_frame", start_raw[truncated], base)
        self._count("garbage", start_raw[junk], base)
        good = known & ~truncated

        order, frames, ticks, signal = [], [], [], []
        for beast_type, length in PAYLOAD_BY_TYPE.items():
            rows = np.flatnonzero(good & (type_byte == beast_type))
            if len(rows) == 0:
                continue
            payload = unescaped[starts[rows, None] + 2 + np.arange(length)[None, :]]
            frame_bytes = length - 7
            hex_text = payload[:, 7:].tobytes().hex()
            width = 2 * frame_bytes
            frames.extend(hex_text[i * width:(i + 1) * width] for i in range(len(rows)))
            counter = np.zeros(len(rows), dtype=np.int64)
            for k in range(6):
                counter = (counter << 8) | payload[:, k]
            ticks.append(counter)
            signal.append(payload[:, 6].astype(np.float64))
            order.append(rows)
        if not order:
            return FrameBatch.empty()
        rows = np.concatenate(order)
        sort = np.argsort(rows, kind="stable")
        rows = rows[sort]
        ticks = np.concatenate(ticks)[sort]
        offsets = base + start_raw[rows]
        times = self.clock.times(ticks, now, offsets)
        return frames_batch(times, object_array(frames)[sort], offsets,
                            signal=np.concatenate(signal)[sort], ticks=ticks)
