"""Unix times of the text formats (Beast hex, SBS, JSON lines) checked for steps back and jumps ahead.

A stream's time is expected to move forward. What it may do instead, and what ``TimeGuard`` makes of it:

* a small step back (up to ``jitter_s``: merged receivers, jitter) - the record is kept and its time raised to
  the latest time so far (``time_restamped``);
* a record far from the stream's time - more than ``jitter_s`` behind or more than ``max_gap_s`` ahead - starts
  a *candidate* time base. If the stream comes back to its time base before ``confirm_records`` consecutive
  records agree with the candidate, the candidate's records are outliers: dropped and counted
  (``time_backwards`` / ``time_ahead``). Once ``confirm_records`` agree, the clock has really moved: counted once
  (``time_jump`` ahead, followed as it is; ``time_reset`` back, the new base shifted to go on from the latest
  time so that times never decrease) and the candidate's records are kept.
* at the start of a stream there is no base yet: the first records form a provisional one, released once
  ``confirm_records`` agree; a candidate that gets there first wins (the provisional records are then the
  outliers). At the end, a pending candidate is dropped, and a provisional base is kept unless a larger
  candidate contradicts it.

So the times given out never decrease within a stream. The state carries over from one ``process`` call to
the next, and each decision depends only on the records before it plus at most ``confirm_records - 1`` after
an off record: a stream split anywhere gives the same frames, times and counts as the whole. Only records
in an unconfirmed run (at most ``confirm_records - 1``, and the first records of a stream) are held back
between calls. The common case - every record within the limits of the latest time - is handled with array
operations over the whole batch; records are looked at one by one only around an off record.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from airpicture.sources.batch import FrameBatch, Problems

# A step back up to this is normal (multi-receiver merges, network jitter): kept, re-stamped to the latest time.
# The real recordings have no step back at all (docs/sources.md, "Time").
#: Unix times a reception can have (1970 to 2286); anything else is ``bad_time`` (1e300 would also wreck the
#: precision of every time difference after it)
UNIX_TIME_RANGE = (0.0, 1e10)
#: the largest time magnitude the decoder and tracker accept (Unix or scenario seconds); beyond it: bad_time
MAX_ABS_TIME_S = 1e10


def bad_unix_time(times) -> np.ndarray:
    """True where a Unix time is not finite or outside ``UNIX_TIME_RANGE``."""
    times = np.asarray(times, dtype=np.float64)
    return ~((times >= UNIX_TIME_RANGE[0]) & (times <= UNIX_TIME_RANGE[1]))


TIME_JITTER_S = 2.0
# A step ahead over this is a jump (same limit as the Beast/AVR counter's ``ticks_jump``). The real recordings'
# largest gap between consecutive records is 245 s (sparse traffic at the start of the tutorial file).
MAX_TIME_GAP_S = 600.0
# Consecutive records that must agree with each other, off the current time, before they are believed as a
# new time base; fewer, and then back to the old time, are outliers.
TIME_CONFIRM_RECORDS = 4

_INITIAL_RUN = 64  # block of the vectorised scan after an off record; doubled while no other one is met


class _Run:
    """Records whose fate is not decided yet (a candidate time base, or the provisional one at the start)."""

    def __init__(self) -> None:
        self.rows: list[tuple[FrameBatch, int]] = []
        self.times: list[float] = []
        self.top = -np.inf

    def __len__(self) -> int:
        return len(self.rows)

    def add(self, batch: FrameBatch, index: int, time: float) -> None:
        self.rows.append((batch, index))
        self.times.append(time)
        self.top = max(self.top, time)

    def agrees(self, time: float, jitter_s: float, max_gap_s: float) -> bool:
        return bool(self.rows) and self.top - jitter_s <= time <= self.top + max_gap_s

    def first_offset(self) -> int:
        batch, index = self.rows[0]
        return int(batch.offset[index])

    def frames(self) -> FrameBatch:
        pieces, start = [], 0
        while start < len(self.rows):  # consecutive rows of one batch taken together
            batch = self.rows[start][0]
            stop = start
            while stop < len(self.rows) and self.rows[stop][0] is batch:
                stop += 1
            pieces.append(batch.take(np.array([i for _, i in self.rows[start:stop]], dtype=np.int64)))
            start = stop
        return FrameBatch.concat(pieces)


class TimeGuard:
    """Checks and repairs the Unix times of one stream, batch by batch (see the module docstring).

    Parameters
    ----------
    problems : Problems
        Where ``time_restamped``, ``time_backwards``, ``time_ahead``, ``time_jump``, ``time_reset`` are counted.
    where : callable
        Record offset (line number) -> place shown in ``Problems.first``.
    empty : callable
        An empty ``FrameBatch`` with the parser's columns.
    jitter_s, max_gap_s, confirm_records
        The limits; defaults ``TIME_JITTER_S``, ``MAX_TIME_GAP_S``, ``TIME_CONFIRM_RECORDS``.
    """

    def __init__(self, problems: Problems, where: Callable[[int], str], empty: Callable[[], FrameBatch], *,
                 jitter_s: float = TIME_JITTER_S, max_gap_s: float = MAX_TIME_GAP_S,
                 confirm_records: int = TIME_CONFIRM_RECORDS):
        if not (jitter_s >= 0 and max_gap_s > 0 and confirm_records >= 1):
            raise ValueError("jitter_s >= 0, max_gap_s > 0 and confirm_records >= 1 are required")
        self.problems = problems
        self.where = where
        self.empty = empty
        self.jitter_s = float(jitter_s)
        self.max_gap_s = float(max_gap_s)
        self.confirm_records = int(confirm_records)
        self.offset = 0.0            # added to the input times (changes at a time_reset)
        self.last: float | None = None  # latest time given out; None while the base is provisional
        self.provisional = _Run()    # the first records, before they are confirmed
        self.candidate = _Run()      # records off the current base, not yet confirmed
        self._out: list[FrameBatch] = []

    # --- public -------------------------------------------------------------------------------------------
    def process(self, batch: FrameBatch) -> FrameBatch:
        """The frames of ``batch`` that are decided now (with repaired times), plus held ones decided by it."""
        n = len(batch)
        offset = self.offset
        times = batch.time + offset if offset else batch.time
        i, block = 0, max(n, 1)  # the whole batch at once first: usually every record agrees
        while i < n:
            if self.last is not None and not len(self.candidate):
                stop = self._agreeing_run(times, i, block)
                if stop > i:
                    self._accept(batch.take(slice(i, stop)) if (i, stop) != (0, n) else batch, times[i:stop])
                    block = 2 * block if stop == min(n, i + block) else _INITIAL_RUN
                    i = stop
                    continue
                block = _INITIAL_RUN
            self._one(batch, i, float(times[i]))
            if self.offset != offset:  # a time_reset moved the base: the rows after it get the new offset
                offset = self.offset
                times = batch.time + offset
            i += 1
        return self._take_out()

    def finish(self) -> FrameBatch:
        """End of the stream: a pending candidate is dropped, a provisional base kept unless outnumbered."""
        if self.last is None and len(self.candidate) > len(self.provisional):
            self._confirm()
        else:
            self._drop(self.candidate, self._reference())
            self.candidate = _Run()
            if len(self.provisional):
                self._settle()
        return self._take_out()

    # --- decisions ----------------------------------------------------------------------------------------
    def _reference(self) -> float | None:
        if self.last is not None:
            return self.last
        return self.provisional.top if len(self.provisional) else None

    def _agrees(self, time: float, reference: float) -> bool:
        return reference - self.jitter_s <= time <= reference + self.max_gap_s

    def _agreeing_run(self, times: np.ndarray, start: int, block: int) -> int:
        """End of the run of records from ``start`` that each agree with the latest time before them."""
        x = times[start:start + block]
        before = np.maximum.accumulate(np.concatenate(([self.last], x)))[:-1]
        off = (x < before - self.jitter_s) | (x > before + self.max_gap_s)
        return start + (int(np.argmax(off)) if off.any() else len(x))

    def _one(self, batch: FrameBatch, index: int, time: float) -> None:
        reference = self._reference()
        if reference is None:
            self.provisional.add(batch, index, time)
            if len(self.provisional) >= self.confirm_records:
                self._settle()
        elif self._agrees(time, reference):
            self._drop(self.candidate, reference)  # back on the base: the candidate was an outlier
            self.candidate = _Run()
            if self.last is not None:
                self._accept(batch.take(np.array([index])), np.array([time]))
            else:
                self.provisional.add(batch, index, time)
                if len(self.provisional) >= self.confirm_records:
                    self._settle()
        elif self.candidate.agrees(time, self.jitter_s, self.max_gap_s):
            self.candidate.add(batch, index, time)
            if len(self.candidate) >= self.confirm_records:
                self._confirm()
        else:
            self._drop(self.candidate, reference)
            self.candidate = _Run()
            self.candidate.add(batch, index, time)
            if len(self.candidate) >= self.confirm_records:
                self._confirm()

    def _settle(self) -> None:
        """The provisional base is believed: its records go out."""
        run, self.provisional = self.provisional, _Run()
        self._accept(run.frames(), np.array(run.times))

    def _confirm(self) -> None:
        """The candidate is a new time base: a jump or reset on an established base, else the start."""
        run, self.candidate = self.candidate, _Run()
        times = np.array(run.times)
        if self.last is None:
            self._drop(self.provisional, run.times[0])
            self.provisional = _Run()
        elif times[0] > self.last:
            where = self.where(run.first_offset())
            self.problems.add("time_jump", f"{where} (+{times[0] - self.last:.3f} s)")
        else:
            shift = self.last - times.min()
            where = self.where(run.first_offset())
            self.problems.add("time_reset", f"{where} (back {self.last - times[0]:.3f} s; shifted +{shift:.3f} s)")
            self.offset += shift
            times = times + shift
        self._accept(run.frames(), times)

    def _drop(self, run: _Run, reference: float | None) -> None:
        """Records of a run that did not become the time base: outliers."""
        if not len(run):
            return
        behind = reference is not None and run.times[0] < reference
        self.problems.add("time_backwards" if behind else "time_ahead", self.where(run.first_offset()), len(run))

    def _accept(self, frames: FrameBatch, times: np.ndarray) -> None:
        """Frames go out in order; a time below the latest is raised to it (counted)."""
        start = times[0] if self.last is None else self.last
        running = np.maximum.accumulate(np.concatenate(([start], times)))
        raised = times < running[:-1]
        if raised.any():
            self.problems.add("time_restamped", self.where(int(frames.offset[np.argmax(raised)])),
                              int(np.count_nonzero(raised)))
        out = FrameBatch(time=running[1:], frame=frames.frame, signal=frames.signal, ticks=frames.ticks,
                         offset=frames.offset, fields=frames.fields)
        self.last = float(running[-1])
        self._out.append(out)

    def _take_out(self) -> FrameBatch:
        out, self._out = self._out, []
        if not out:
            return self.empty()
        return out[0] if len(out) == 1 else FrameBatch.concat(out)
