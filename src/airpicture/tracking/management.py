"""Track management over a slot-indexed table: allocation, M-of-N or score confirmation, coasting, deletion.

The table holds one row ("slot") per live track in plain NumPy arrays. Slots are recycled; track numbers are not:
``track_id`` comes from a counter that only grows, so a number always means the same track.

Life cycle
----------
- ``allocate`` creates TENTATIVE tracks; the detections that started them count as their first hits
  (``initial_hits``, 1 for one-point initiation, 2 for two-point).
- ``record_scan`` tells the table which tracks were updated (hit) and which were not (missed) on a scan.
- M-of-N confirmation (default 3 of 3): a tentative track is confirmed as soon as it has M hits within its first N
  scans (birth scans included). It is deleted as soon as that can no longer happen, i.e. when
  ``hits + scans left in the first N < M``.
- Score confirmation (``score_confirm`` set): the caller adds a log-likelihood-ratio increment per hit and per
  miss (``record_scan(..., hit_score=..., miss_score=...)``); a tentative track is confirmed when its score reaches
  ``score_confirm`` and deleted when it falls to ``score_delete`` (Wald's sequential test), or when it has spent
  N scans tentative.
- A confirmed track that misses becomes COASTING; a hit makes it CONFIRMED again; ``delete_after`` consecutive
  misses delete it.

Extra per-slot arrays (state, covariance, IMM mode probabilities, ...) are registered with ``add_field`` and grow
with the table. Growth re-allocates, so do not keep references to ``table.<field>`` across ``allocate``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from airpicture.tracks import COASTING, CONFIRMED, TENTATIVE

FREE = 0

__all__ = ["TrackTable", "ScanOutcome", "FREE", "TENTATIVE", "CONFIRMED", "COASTING", "parse_confirm"]

_CORE_FIELDS = {
    # name: (dtype, fill)
    "track_id": (np.int64, -1),
    "status": (np.int8, FREE),
    "hit_bits": (np.uint64, 0),  # bit 0 = most recent scan; 1 = hit
    "age_scans": (np.int32, 0),  # scans since birth, birth scan(s) included
    "misses": (np.int32, 0),  # consecutive misses
    "n_hits": (np.int32, 0),
    "birth_time": (np.float64, np.nan),
    "last_update_time": (np.float64, np.nan),
    "score": (np.float64, 0.0),
}


def parse_confirm(text: str) -> tuple[int, int]:
    """Parse ``"M/N"`` into (M, N) with 1 <= M <= N <= 64."""
    try:
        m_text, n_text = str(text).split("/")
        m, n = int(m_text), int(n_text)
    except ValueError:
        raise ValueError(f"confirmation rule must look like M/N (e.g. 3/3), got {text!r}") from None
    if not 1 <= m <= n <= 64:
        raise ValueError(f"confirmation rule M/N needs 1 <= M <= N <= 64, got {text!r}")
    return m, n


@dataclass
class ScanOutcome:
    """What ``record_scan`` changed. Slots of deleted tracks are freed but keep their data until re-allocated."""

    confirmed: np.ndarray  # slots newly confirmed on this scan
    deleted: np.ndarray  # slots deleted (now free) on this scan
    deleted_track_id: np.ndarray  # their track numbers


class TrackTable:
    """Slot-indexed track bookkeeping with geometric capacity growth.

    Parameters
    ----------
    confirm : (M, N) or "M/N"
        M-of-N confirmation rule; default 3 of 3.
    delete_after : int
        Consecutive misses that delete a confirmed track.
    capacity : int
        Initial number of slots.
    score_confirm, score_delete : float, optional
        Use a log-likelihood track score for confirmation instead of M hits (see module docstring).
    first_track_id : int
        The first track number handed out.
    """

    def __init__(self, confirm=(3, 3), delete_after: int = 3, capacity: int = 1024, *,
                 score_confirm: float | None = None, score_delete: float | None = None,
                 first_track_id: int = 1):
        if isinstance(confirm, str):
            confirm = parse_confirm(confirm)
        m, n = int(confirm[0]), int(confirm[1])
        if not 1 <= m <= n <= 64:
            raise ValueError("confirmation M/N needs 1 <= M <= N <= 64")
        if delete_after < 1:
            raise ValueError("delete_after must be >= 1")
        self.confirm_m, self.confirm_n = m, n
        self.delete_after = int(delete_after)
        self.score_confirm = score_confirm
        self.score_delete = -np.inf if score_delete is None else float(score_delete)
        self.capacity = max(int(capacity), 1)
        self.next_track_id = int(first_track_id)
        self._high = 0  # slots >= _high have never been used
        self._fields: dict[str, tuple[tuple[int, ...], np.dtype, object]] = {}
        self._arrays: dict[str, np.ndarray] = {}
        for name, (dtype, fill) in _CORE_FIELDS.items():
            self.add_field(name, (), dtype, fill)

    # ------------------------------------------------------------------ fields
    def add_field(self, name: str, shape=(), dtype=np.float64, fill=0) -> np.ndarray:
        """Register a per-slot array of shape ``(capacity, *shape)`` that grows with the table."""
        if name in self._arrays:
            raise ValueError(f"field {name!r} already exists")
        if name.startswith("_") or hasattr(type(self), name):
            raise ValueError(f"field name {name!r} is reserved")
        shape = (int(shape),) if np.isscalar(shape) else tuple(int(s) for s in shape)
        self._fields[name] = (shape, np.dtype(dtype), fill)
        self._arrays[name] = np.full((self.capacity,) + shape, fill, dtype=dtype)
        return self._arrays[name]

    def __getattr__(self, name: str) -> np.ndarray:
        arrays = self.__dict__.get("_arrays")
        if arrays is not None and name in arrays:
            return arrays[name]
        raise AttributeError(name)

    def __getitem__(self, name: str) -> np.ndarray:
        return self._arrays[name]

    def __setitem__(self, name: str, value) -> None:
        self._arrays[name][...] = value

    @property
    def field_names(self) -> list[str]:
        return list(self._arrays)

    def _grow(self, needed: int) -> None:
        new_cap = self.capacity
        while new_cap < needed:
            new_cap *= 2
        if new_cap == self.capacity:
            return
        for name, (shape, dtype, fill) in self._fields.items():
            grown = np.full((new_cap,) + shape, fill, dtype=dtype)
            grown[: self.capacity] = self._arrays[name]
            self._arrays[name] = grown
        self.capacity = new_cap

    # ------------------------------------------------------------------ slots
    def allocate(self, k: int, time=np.nan, *, initial_hits: int = 1) -> np.ndarray:
        """Create ``k`` tentative tracks (confirmed at once if ``initial_hits >= M``); return their slots.

        Registered fields of the new slots are reset to their fill value; ``initial_hits`` is how many scans of
        evidence the initiator used (1 or 2 typically), all counted as hits.
        """
        k = int(k)
        if k <= 0:
            return np.zeros(0, np.int64)
        initial_hits = int(initial_hits)
        if not 1 <= initial_hits <= 64:
            raise ValueError("initial_hits must be in 1..64")
        free = np.flatnonzero(self._arrays["status"][: self._high] == FREE)
        if free.size >= k:
            slots = free[:k].astype(np.int64)
        else:
            extra = k - free.size
            self._grow(self._high + extra)
            slots = np.concatenate([free, np.arange(self._high, self._high + extra)]).astype(np.int64)
            self._high += extra
        for name, (shape, dtype, fill) in self._fields.items():
            self._arrays[name][slots] = fill
        a = self._arrays
        a["track_id"][slots] = np.arange(self.next_track_id, self.next_track_id + k, dtype=np.int64)
        self.next_track_id += k
        a["status"][slots] = TENTATIVE
        a["hit_bits"][slots] = np.uint64((1 << initial_hits) - 1)
        a["age_scans"][slots] = initial_hits
        a["n_hits"][slots] = initial_hits
        a["misses"][slots] = 0
        a["birth_time"][slots] = time
        a["last_update_time"][slots] = time
        a["score"][slots] = 0.0
        if self.score_confirm is None and initial_hits >= self.confirm_m:
            a["status"][slots] = CONFIRMED
        return slots

    def free(self, slots) -> None:
        """Release slots (their data stay readable until the slots are re-allocated)."""
        slots = np.asarray(slots, np.int64)
        self._arrays["status"][slots] = FREE

    def active_slots(self, status=None) -> np.ndarray:
        """Slots in use, ascending; optionally only those whose status is in ``status`` (int or sequence)."""
        st = self._arrays["status"][: self._high]
        if status is None:
            return np.flatnonzero(st != FREE)
        wanted = np.zeros(st.shape, bool)
        for value in np.atleast_1d(status):  # a few comparisons beat np.isin's sorting
            wanted |= st == value
        return np.flatnonzero(wanted)

    @property
    def high_water(self) -> int:
        """Slots at or beyond this index have never been used: ``[:high_water]`` covers every live track."""
        return self._high

    def __len__(self) -> int:
        return int(np.count_nonzero(self._arrays["status"][: self._high]))

    # ------------------------------------------------------------------ scans
    def record_scan(self, hit_slots, missed_slots, time=np.nan, *, hit_score=None, miss_score=None,
                    free_deleted: bool = True) -> ScanOutcome:
        """Record one scan's hits and misses, then apply confirmation and deletion.

        Parameters
        ----------
        hit_slots, missed_slots : int arrays
            Disjoint sets of active slots updated / not updated on this scan. Slots in neither are left as they
            are (e.g. tracks outside this sensor's coverage).
        time : float
            Scan time, stored as ``last_update_time`` of the hit tracks.
        hit_score, miss_score : float or arrays aligned with hit_slots / missed_slots, optional
            Track score increments (log-likelihood ratios) to add.
        free_deleted : bool
            Free deleted slots (default). If False, their status is left for the caller to free.
        """
        a = self._arrays
        hit = np.asarray(hit_slots, np.int64)
        miss = np.asarray(missed_slots, np.int64)
        one = np.uint64(1)
        a["hit_bits"][hit] = (a["hit_bits"][hit] << one) | one
        a["hit_bits"][miss] = a["hit_bits"][miss] << one
        a["age_scans"][hit] += 1
        a["age_scans"][miss] += 1
        a["n_hits"][hit] += 1
        a["misses"][hit] = 0
        a["misses"][miss] += 1
        a["last_update_time"][hit] = time
        if hit_score is not None:
            a["score"][hit] += hit_score
        if miss_score is not None:
            a["score"][miss] += miss_score

        touched = np.concatenate([hit, miss])
        status = a["status"][touched]
        tentative = touched[status == TENTATIVE]
        m, n = self.confirm_m, self.confirm_n
        age = a["age_scans"][tentative]
        if self.score_confirm is None:
            # Hits inside the first N scans: the low min(age, N) bits of the history, read from the oldest end.
            window_hits = _hits_in_first_n(a["hit_bits"][tentative], age, n)
            confirm_now = window_hits >= m
            left = np.maximum(n - age, 0)
            kill_tentative = ~confirm_now & (window_hits + left < m)
        else:
            score = a["score"][tentative]
            confirm_now = score >= self.score_confirm
            kill_tentative = ~confirm_now & ((score <= self.score_delete) | (age >= n))
        newly_confirmed = tentative[confirm_now]
        a["status"][newly_confirmed] = CONFIRMED

        firm = touched[(status == CONFIRMED) | (status == COASTING)]
        firm_hit = firm[a["misses"][firm] == 0]
        firm_miss = firm[a["misses"][firm] > 0]
        a["status"][firm_hit] = CONFIRMED
        a["status"][firm_miss] = COASTING
        kill_firm = firm_miss[a["misses"][firm_miss] >= self.delete_after]

        deleted = np.concatenate([tentative[kill_tentative], kill_firm])
        deleted_ids = a["track_id"][deleted].copy()
        if free_deleted:
            self.free(deleted)
        return ScanOutcome(newly_confirmed, deleted, deleted_ids)


def _hits_in_first_n(hit_bits: np.ndarray, age: np.ndarray, n: int) -> np.ndarray:
    """Number of hits among the first ``n`` scans of each track's life (bit age-1 is the birth scan)."""
    age = age.astype(np.int64)
    # Drop the (age - n) most recent scans, when the track is older than n scans.
    shift = np.maximum(age - n, 0).astype(np.uint64)
    bits = hit_bits >> shift
    window = np.minimum(age, n).astype(np.uint64)
    mask = np.where(window >= 64, np.uint64(0xFFFFFFFFFFFFFFFF),
                    (np.uint64(1) << np.minimum(window, 63)) - np.uint64(1))
    return np.bitwise_count(bits & mask).astype(np.int64)
