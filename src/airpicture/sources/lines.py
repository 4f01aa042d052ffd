"""What the text formats share: a streaming line splitter, vectorised hex and number parsing, tick clocks."""

from __future__ import annotations

import numpy as np

from airpicture.sources.batch import FrameBatch, Problems, object_array
from airpicture.sources.timeline import MAX_TIME_GAP_S, TIME_CONFIRM_RECORDS, TIME_JITTER_S, TimeGuard

TICKS_PER_SECOND = 12e6

# nibble value of every byte; 255 for bytes that are not hex digits (the NUL padding of 'S' arrays included)
_NIBBLE = np.full(256, 255, dtype=np.uint8)
for _i, _c in enumerate(b"0123456789abcdef"):
    _NIBBLE[_c] = _i
for _i, _c in enumerate(b"ABCDEF"):
    _NIBBLE[_c] = 10 + _i


def hex_nibbles(texts: list[bytes], width: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nibble matrix of ASCII hex strings, vectorised.

    Returns ``(nibbles, lengths, valid)``: nibbles (n, w) uint8 (255 where not a hex digit or past the end),
    the length of each text, and whether each text is wholly hex digits. Texts longer than ``width`` are
    reported invalid (and cut) so that one huge garbage line cannot blow up the matrix.
    """
    n = len(texts)
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=n)
    if n == 0:
        return np.zeros((0, 0), np.uint8), lengths, np.zeros(0, bool)
    w = max(1, int(lengths.max()) if width is None else min(width, max(1, int(lengths.max()))))
    raw = np.array(texts, dtype=f"S{w}").view(np.uint8).reshape(n, w)
    nibbles = _NIBBLE[raw]
    inside = np.arange(w)[None, :] < lengths[:, None]
    valid = ~np.any((nibbles == 255) & inside, axis=1) & (lengths <= w)
    return nibbles, lengths, valid


def nibbles_to_int(nibbles: np.ndarray) -> np.ndarray:
    """Big-endian integer (up to 15 nibbles) from each row of a nibble matrix, as int64."""
    out = np.zeros(nibbles.shape[0], dtype=np.int64)
    for k in range(nibbles.shape[1]):
        out = (out << 4) | (nibbles[:, k].astype(np.int64) & 0xF)
    return out


def parse_floats(texts: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """Floats from ASCII texts; empty text -> NaN (missing). Returns (values, bad) where bad marks texts that
    do not parse or are not finite ("nan", "inf", "1e999": never a usable value, unlike an empty field)."""
    n = len(texts)
    bad = np.zeros(n, dtype=bool)
    stripped = [t.strip() for t in texts]
    given = np.fromiter(map(bool, stripped), dtype=bool, count=n)
    cleaned = [t or b"nan" for t in stripped]
    try:
        values = np.array(cleaned, dtype="S").astype(np.float64) if n else np.empty(0)
    except ValueError:
        # rare path: find the offenders one by one
        values = np.empty(n)
        for i, text in enumerate(cleaned):
            try:
                values[i] = float(text)
            except ValueError:
                values[i] = np.nan
                bad[i] = True
    if n and b"\x00" in b"".join(cleaned):
        # numpy's 'S' dtype drops trailing NUL bytes ("1.5\0" would parse here and fail one by one): a text
        # with a NUL never parses, whichever path its neighbours sent it down
        nul = np.fromiter((b"\x00" in t for t in cleaned), dtype=bool, count=n)
        values[nul] = np.nan
        bad |= nul
    bad |= given & ~np.isfinite(values)
    return values, bad


class TickClock:
    """Unix time from a receiver's free-running 12 MHz counter.

    The counter has no epoch: it is anchored to a known time at the first frame (the receive time on a socket,
    the caller's start time for a file). A counter that runs backwards (receiver restart) or jumps ahead by more
    than ``max_gap_s`` is counted and re-anchored: on a file the time goes on from the previous frame, on a
    socket from the receive time.
    """

    def __init__(self, problems: Problems, source: str, start_time: float | None, max_gap_s: float = 600.0):
        self.problems = problems
        self.source = source
        self.start_time = 0.0 if start_time is None else float(start_time)
        self.max_gap_ticks = max_gap_s * TICKS_PER_SECOND
        self.anchor_time: float | None = None
        self.anchor_ticks = 0
        self.last_ticks: int | None = None
        self.last_time = self.start_time

    def times(self, ticks: np.ndarray, now: float | None, where: np.ndarray) -> np.ndarray:
        out = np.empty(len(ticks))
        if len(ticks) == 0:
            return out
        if self.anchor_time is None:
            # a socket anchors to the receive time, never before the caller's start time (TcpFeed passes the
            # previous connection's last frame time, so a reconnect does not step back)
            self.anchor_time = self.start_time if now is None else max(now, self.start_time)
            self.anchor_ticks = self.last_ticks = int(ticks[0])
        step = np.diff(ticks, prepend=self.last_ticks)
        backwards, jumps = step < 0, step > self.max_gap_ticks
        for reason, mask in (("ticks_backwards", backwards), ("ticks_jump", jumps)):
            if mask.any():
                self.problems.add(reason, f"{self.source}:{where[np.argmax(mask)]}", int(mask.sum()))
        resets = np.flatnonzero(backwards | jumps)
        start = 0
        for stop in [*resets, len(ticks)]:
            if stop > start:
                out[start:stop] = self.anchor_time + (ticks[start:stop] - self.anchor_ticks) / TICKS_PER_SECOND
            if stop < len(ticks):
                previous = out[stop - 1] if stop > 0 else self.last_time
                self.anchor_time = previous if now is None else now
                self.anchor_ticks = int(ticks[stop])
            start = stop
        self.last_ticks = int(ticks[-1])
        self.last_time = float(out[-1])
        return out


class StreamParser:
    """A parser fed with bytes as they arrive; frames split across feeds are completed by the next feed.

    Subclasses implement ``feed`` and ``finish``. ``now`` is the receive time of the data (sockets) or None
    (files, where ``start_time`` anchors formats without absolute time).
    """

    format_name = "?"

    def __init__(self, problems: Problems | None = None, source: str = "<stream>",
                 start_time: float | None = None):
        self.problems = problems if problems is not None else Problems()
        self.source = source
        self.start_time = start_time

    def feed(self, data: bytes, now: float | None = None) -> FrameBatch:
        raise NotImplementedError

    def finish(self, now: float | None = None) -> FrameBatch:
        raise NotImplementedError

    def where(self, position) -> str:
        return f"{self.source}:{position}"


class LineParser(StreamParser):
    """Base of the text formats: splits on newlines, keeps a partial last line for the next feed.

    Formats whose records carry a Unix time (``unix_time = True``) pass their frames through a ``TimeGuard``
    (steps back and jumps counted and repaired, times non-decreasing); ``time_jitter_s``, ``max_time_gap_s``
    and ``time_confirm_records`` are its limits.
    """

    max_line = 4096
    field_names: tuple[str, ...] = ()
    unix_time = False

    def __init__(self, problems: Problems | None = None, source: str = "<stream>",
                 start_time: float | None = None, *, time_jitter_s: float = TIME_JITTER_S,
                 max_time_gap_s: float = MAX_TIME_GAP_S, time_confirm_records: int = TIME_CONFIRM_RECORDS):
        super().__init__(problems, source, start_time)
        self._rest = b""
        self._lines_seen = 0
        self._skipping = False  # inside a line too long to keep: drop up to its newline
        self._skip_counted = False  # ... and it was counted as line_too_long (it held more than whitespace)
        self.time_guard = None
        if self.unix_time:
            self.time_guard = TimeGuard(self.problems, self.where, self._empty, jitter_s=time_jitter_s,
                                        max_gap_s=max_time_gap_s, confirm_records=time_confirm_records)

    def feed(self, data: bytes, now: float | None = None) -> FrameBatch:
        if self._skipping:  # the rest of a line too long to keep (it is one record, not two)
            end = data.find(b"\n")
            self._skip(data if end < 0 else data[:end])
            if end < 0:
                return self._empty()
            self._skipping = False
            self._lines_seen += 1
            data = data[end + 1:]
        buffer = self._rest + data
        cut = buffer.rfind(b"\n")
        if cut < 0:
            self._rest = buffer
            if len(buffer) - buffer.count(b"\r") > self.max_line:
                self._rest = b""
                self._skipping, self._skip_counted = True, False
                self._skip(buffer)
            return self._empty()
        self._rest = buffer[cut + 1:]
        return self._lines(buffer[:cut], now)

    def _skip(self, part: bytes) -> None:
        """A piece of a line too long to keep: counted once as line_too_long, unless it is all whitespace (a
        blank line is never a record, however long)."""
        if not self._skip_counted and part.strip():
            self.problems.add("line_too_long", self.where(self._lines_seen + 1))
            self._skip_counted = True

    def finish(self, now: float | None = None) -> FrameBatch:
        rest, self._rest = self._rest, b""
        self._skipping = False
        batch = self._lines(rest, now) if rest.strip() else self._empty()
        if self.time_guard is None:
            return batch
        return FrameBatch.concat([batch, self.time_guard.finish()])

    def end_of_connection(self) -> FrameBatch:
        """A socket closed: a partial last line is counted as ``truncated_frame`` (never parsed as if it were
        whole), and the frames still held by the time guard are decided as at the end of a file."""
        if self._rest.strip():
            self.problems.add("truncated_frame",
                              f"{self.source}: {len(self._rest)} bytes at the end of the connection")
        self._rest = b""
        self._skipping = False
        return self.time_guard.finish() if self.time_guard is not None else self._empty()

    def _lines(self, block: bytes, now: float | None) -> FrameBatch:
        if b"\r" in block:
            block = block.replace(b"\r", b"")
        lines = block.split(b"\n")
        numbers = np.arange(self._lines_seen + 1, self._lines_seen + 1 + len(lines), dtype=np.int64)
        self._lines_seen += len(lines)
        lengths = np.fromiter(map(len, lines), dtype=np.int64, count=len(lines))
        # an empty or all-whitespace line carries nothing: skipped, not counted (a parser never sees one)
        blank = np.fromiter((not line.strip() for line in lines), dtype=bool, count=len(lines))
        long_lines = (lengths > self.max_line) & ~blank
        if long_lines.any():
            self.problems.add("line_too_long", self.where(numbers[long_lines][0]), int(long_lines.sum()))
        drop = blank | long_lines
        if drop.any():
            lines = [line for line, dropped in zip(lines, drop) if not dropped]
            numbers = numbers[~drop]
        if not lines:
            return self._empty()
        batch = self._parse(lines, numbers, now)
        return batch if self.time_guard is None else self.time_guard.process(batch)

    def _parse(self, lines: list[bytes], numbers: np.ndarray, now: float | None) -> FrameBatch:
        raise NotImplementedError

    def _empty(self) -> FrameBatch:
        return FrameBatch.empty(self.field_names)

    def _reject(self, reason: str, bad: np.ndarray, numbers: np.ndarray) -> None:
        """Count rows marked ``bad`` under ``reason`` (first one kept for the message)."""
        count = int(np.count_nonzero(bad))
        if count:
            self.problems.add(reason, self.where(numbers[np.argmax(bad)]), count)


def frames_batch(time, frames, numbers, signal=None, ticks=None, fields=None) -> FrameBatch:
    n = len(time)
    return FrameBatch(time=np.asarray(time, dtype=np.float64),
                      frame=frames if isinstance(frames, np.ndarray) else object_array(frames),
                      signal=np.full(n, np.nan) if signal is None else np.asarray(signal, dtype=np.float64),
                      ticks=np.full(n, -1, dtype=np.int64) if ticks is None else np.asarray(ticks, dtype=np.int64),
                      offset=np.asarray(numbers, dtype=np.int64), fields=fields or {})
