"""A bounded buffer between a live feed's reader thread and the picture, shedding load by priority.

A feed can deliver more frames than decoding and tracking can take (a burst, a flood, a hostile sender). The
reader thread parses what arrives and puts it here; the picture takes everything waiting once per cycle. The
buffer holds at most ``max_frames`` frames: when a new batch would exceed that, frames are dropped - counted,
never silently - **lowest priority first**, until the rest fits; within the one priority that is dropped only
in part, the frames dropped are spread evenly over everything waiting (every k-th), so each aircraft of that
priority keeps getting updates at a lower rate instead of losing a stretch of time:

====  ===========================================================================================
 0    aircraft in the picture in an emergency (squawk 7500 / 7600 / 7700, or an emergency status),
      or marked high-threat by the caller's ``threat`` hook
 1    aircraft in the picture with a known identity (callsign or squawk)
 2    aircraft in the picture, identity not known yet
 3    aircraft heard (an address the decoder accepted) without a track
 4    anything else: new or unknown addresses, frames without a recoverable address (Mode A/C)
====  ===========================================================================================

Priorities are read from a table the picture thread publishes after each cycle (``set_priorities``), so the
reader never touches the picture. The addresses of a queued batch are worked out only when shedding is needed
(no cost while the feed is within the sustainable rate). Memory: ``max_frames`` frames waiting (about 150 bytes
each, Python strings included) plus the batch being processed (at most ``max_frames`` too). See
docs/reliability.md, "Overload".
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque

import numpy as np

from .identity.standard import in_emergency
from .sources.batch import FrameBatch

#: default bound on frames waiting between the reader and the picture (~6 MB; the picture lags the feed by
#: at most about this many frames' processing time: ~1-2 s at the rates measured in BENCHMARKS.md)
DEFAULT_MAX_QUEUE_FRAMES = 50_000
PRIORITY_NAMES = ("emergency_or_threat", "identified", "tracked", "heard", "new_or_unknown")
LOWEST = len(PRIORITY_NAMES) - 1


def frame_addresses(batch: FrameBatch) -> np.ndarray:
    """The 24-bit address of each row (int64; -1 when it has none): AA of DF11/17/18, the AP remainder of
    DF0/4/5/16/20/21 (the address only for an undamaged reply), the ``icao24`` field of SBS / JSON rows."""
    from .modes.crc import crc24_mixed, downlink_format, frames_from_hex
    from .modes.phantoms import AP_DF

    n = len(batch)
    out = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return out
    frames = np.asarray(batch.frame, dtype=object)
    lengths = np.fromiter(map(len, frames), dtype=np.int64, count=n)
    rows = np.flatnonzero((lengths == 14) | (lengths == 28))
    if rows.size:
        data, is_long, valid = frames_from_hex(frames[rows])
        df = downlink_format(data)
        aa = (data[:, 1].astype(np.int64) << 16) | (data[:, 2].astype(np.int64) << 8) | data[:, 3]
        remainder = crc24_mixed(data, is_long).astype(np.int64)
        address = np.where(np.isin(df, AP_DF), remainder, np.where(np.isin(df, (11, 17, 18)), aa, -1))
        out[rows] = np.where(valid, address, -1)
    icao = (batch.fields or {}).get("icao24")
    if icao is not None:
        for i in np.flatnonzero(lengths == 0).tolist():
            try:
                out[i] = int(str(icao[i]), 16) & 0xFFFFFF
            except ValueError:
                pass
    return out


def picture_priorities(picture, threat=None) -> tuple[np.ndarray, np.ndarray]:
    """(sorted addresses, priority of each) from a TransponderPicture: levels 0-3 of the module docstring.

    ``threat(states) -> bool array`` (optional) marks tracks to keep first: the hook for the threat stage."""
    states = picture.states()
    extra = states.extra or {}
    heard = np.asarray(picture.decoder._heard, dtype=np.int64)
    addresses = [heard]
    levels = [np.full(heard.size, 3, dtype=np.int8)]
    if len(states):
        icao = np.asarray(extra.get("icao24", np.full(len(states), "", dtype=object)), dtype=object)
        tracked = np.fromiter((len(a) == 6 for a in icao.tolist()), dtype=bool, count=icao.size)
        address = np.array([int(a, 16) if ok else -1 for a, ok in zip(icao.tolist(), tracked)], dtype=np.int64)
        callsign = np.asarray(extra.get("callsign", np.full(len(states), "", dtype=object)), dtype=object)
        squawk = np.asarray(extra.get("squawk", np.full(len(states), "", dtype=object)), dtype=object)
        emergency = np.asarray(extra.get("emergency", np.full(len(states), "", dtype=object)), dtype=object)
        level = np.where((callsign != "") | (squawk != ""), 1, 2).astype(np.int8)
        urgent = in_emergency(squawk, emergency)
        if threat is not None:
            urgent |= np.asarray(threat(states), dtype=bool)
        level[urgent] = 0
        addresses.append(address[tracked])
        levels.append(level[tracked])
    address = np.concatenate(addresses)
    level = np.concatenate(levels)
    order = np.lexsort((level, address))           # per address, its best (lowest) level first
    address, level = address[order], level[order]
    first = np.r_[True, address[1:] != address[:-1]] if address.size else np.zeros(0, bool)
    return address[first], level[first]


class FrameBuffer:
    """Frames waiting for the picture, at most ``max_frames`` of them (see the module docstring).

    ``put`` (reader thread), ``wait`` / ``take_all`` (picture thread), ``close`` (reader ends, with its error if
    any). ``shed`` counts the frames dropped per priority name; ``peak_frames`` the most ever waiting."""

    def __init__(self, max_frames: int = DEFAULT_MAX_QUEUE_FRAMES, *, problems=None, source: str = "feed"):
        if not int(max_frames) >= 1:
            raise ValueError("max_frames must be at least 1")
        self.max_frames = int(max_frames)
        self.problems = problems
        self.source = source
        self._cond = threading.Condition()
        self._items: deque = deque()        # [arrived, batch, levels or None]
        self._frames = 0
        self._closed = False
        self._error: BaseException | None = None
        self._table = (np.zeros(0, np.int64), np.zeros(0, np.int8))
        self.shed: Counter = Counter()
        self.deepest: Counter = Counter()  # shedding events by the highest priority they had to reach
        self.shed_events = 0
        self.oldest_taken: float | None = None  # arrival time of the oldest batch of the last take_all
        self.peak_frames = 0
        self.put_frames = 0
        self.last_arrival: float | None = None

    @property
    def frames(self) -> int:
        return self._frames

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def done(self) -> bool:
        return self._closed and not self._items

    def set_priorities(self, addresses: np.ndarray, levels: np.ndarray) -> None:
        """The picture's table (sorted addresses, level 0-3 each); anything not in it is level 4."""
        self._table = (np.asarray(addresses, np.int64), np.asarray(levels, np.int8))

    def _levels(self, batch: FrameBatch) -> np.ndarray:
        table_addr, table_level = self._table
        address = frame_addresses(batch)
        level = np.full(len(batch), LOWEST, dtype=np.int8)
        if table_addr.size:
            at = np.minimum(np.searchsorted(table_addr, address), table_addr.size - 1)
            known = (table_addr[at] == address) & (address >= 0)
            level[known] = table_level[at[known]]
        return level

    def put(self, batch: FrameBatch, arrived: float | None = None) -> None:
        n = len(batch)
        if n == 0:
            return
        arrived = time.time() if arrived is None else arrived
        with self._cond:
            self._items.append([arrived, batch, None])
            self._frames += n
            self.put_frames += n
            self.last_arrival = arrived
            if self._frames > self.max_frames:
                self._shed(self._frames - self.max_frames)
            self.peak_frames = max(self.peak_frames, self._frames)
            self._cond.notify_all()

    def _shed(self, excess: int) -> None:
        """Drop ``excess`` frames: lowest level first; within the level that is only partly dropped, frames
        evenly spread over everything waiting (the lock is held)."""
        self.shed_events += 1
        items = self._items
        for item in items:
            if item[2] is None:
                item[2] = self._levels(item[1])
        keep = [np.ones(len(item[1]), dtype=bool) for item in items]
        dropped = Counter()
        for level in range(LOWEST, -1, -1):
            if excess <= 0:
                break
            rows = [np.flatnonzero(item[2] == level) for item in items]
            total = sum(r.size for r in rows)
            if total == 0:
                continue
            if total <= excess:
                pick = None                                   # all of this level
            else:                                             # every (total / excess)-th, oldest to newest
                pick = np.unique(np.floor(np.arange(excess) * (total / excess)).astype(np.int64))
            start = 0
            for k, r in enumerate(rows):
                if r.size == 0:
                    continue
                if pick is None:
                    chosen = r
                else:
                    local = pick[(pick >= start) & (pick < start + r.size)] - start
                    chosen = r[local]
                keep[k][chosen] = False
                start += r.size
            n = total if pick is None else pick.size
            excess -= n
            dropped[PRIORITY_NAMES[level]] += int(n)
            deepest = level
        if dropped:
            self.deepest[PRIORITY_NAMES[deepest]] += 1
        survivors = deque()
        for item, mask in zip(items, keep):
            if not mask.all():
                item[1] = item[1].take(mask)
                item[2] = item[2][mask]
            if len(item[1]):
                survivors.append(item)
        self._items = survivors
        total = sum(dropped.values())
        self._frames -= total
        self.shed.update(dropped)
        if self.problems is not None and total:
            self.problems.add("shed_overload", f"{self.source}: queue over {self.max_frames:,} frames", total)

    def wait(self, timeout: float) -> None:
        """Until frames are waiting, the buffer is closed, or ``timeout`` s passed."""
        with self._cond:
            if not self._items and not self._closed and timeout > 0:
                self._cond.wait(timeout)

    def take_all(self) -> list[FrameBatch]:
        """Everything waiting, oldest first; raises the reader's error once it is reached."""
        with self._cond:
            batches = [item[1] for item in self._items]
            self.oldest_taken = self._items[0][0] if self._items else None
            self._items.clear()
            self._frames = 0
            if not batches and self._error is not None:
                error, self._error = self._error, None
                raise error
            return batches

    def raise_error(self) -> None:
        """Raise the reader's error, if it ended with one (once)."""
        with self._cond:
            error, self._error = self._error, None
        if error is not None:
            raise error

    def close(self, error: BaseException | None = None) -> None:
        with self._cond:
            self._closed = True
            self._error = error
            self._cond.notify_all()

    def summary(self) -> dict:
        return {"max_queue_frames": self.max_frames, "peak_queue_frames": self.peak_frames,
                "frames_in": self.put_frames, "shed_frames": int(sum(self.shed.values())),
                "shed_by_priority": {name: int(self.shed.get(name, 0)) for name in PRIORITY_NAMES},
                "shed_events_reaching": {name: int(self.deepest.get(name, 0)) for name in PRIORITY_NAMES},
                "shed_events": self.shed_events}
