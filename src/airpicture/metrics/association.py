"""Track-to-truth association for SIAP: which truth each track represents, and over which time span.

The rule is the one Stone Soup's ``TrackToTruth`` associator applies (so SIAP numbers are
comparable with Stone Soup's), run for all tracks at once, one time step at a time:

* At each of its sample times a track *hits* the nearest truth sampled at the same time, if that
  truth is closer than ``threshold`` (strictly); otherwise it hits nothing.
* A track with no truth becomes associated with a truth after ``confirm_hits`` consecutive hits on
  it; the association starts at the first of those hits.
* An associated track that misses its truth (hits nothing, or another truth) ``end_misses`` times
  in a row loses it; the association ends at the last hit. If, meanwhile, another truth has been
  hit ``confirm_hits`` times in a row, the track is associated with it from its first hit on.
  A single miss inside an association is bridged.
* A track is associated with at most one truth at a time; a truth may have several tracks
  (that is what SIAP ambiguity measures).

Two details follow Stone Soup 1.9.1 exactly so that the numbers agree: the run of hits on a new
candidate truth keeps counting across the end of the previous association, and the miss counter is
not reset when a new association starts through a switch, so that association ends at its first
miss unless it has had a hit since. Ties (two truths at exactly the same distance) go to the lower
truth id; Stone Soup takes whichever its set yields first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ._columns import paired_columns
from .gospa import close_pairs


@dataclass(frozen=True)
class TrackTruthAssociation:
    """Association intervals, one row per (track, truth, closed time span [start, end]).

    A track appears in several rows when it changes truth or loses and regains one; its rows
    never overlap in time.
    """

    track_id: np.ndarray  # (a,) int64
    truth_id: np.ndarray  # (a,) int64
    start: np.ndarray  # (a,) float64 s, time of the first hit
    end: np.ndarray  # (a,) float64 s, time of the last hit
    threshold: float
    confirm_hits: int
    end_misses: int

    def __len__(self) -> int:
        return int(self.track_id.shape[0])


def nearest_truth(track_time_index, track_pos, truth_time_index, truth_pos, truth_order_key, threshold):
    """For every track row, the truth row nearest at the same time within ``threshold`` (strict), else -1.

    Exact ties go to the truth with the smallest ``truth_order_key``.
    """
    k, j, distance = close_pairs(track_time_index, track_pos, truth_time_index, truth_pos, threshold)
    nearest = np.full(track_pos.shape[0], -1, dtype=np.int64)
    if k.shape[0]:
        order = np.lexsort((truth_order_key[j], distance, k))
        k, j = k[order], j[order]
        first = np.ones(k.shape[0], dtype=bool)
        first[1:] = k[1:] != k[:-1]
        nearest[k[first]] = j[first]
    return nearest


def associate_tracks_to_truths(truth_time, truth_id, truth_pos, track_time, track_id, track_pos,
                               threshold: float, *, confirm_hits: int = 3, end_misses: int = 2
                               ) -> TrackTruthAssociation:
    """Associate tracks with truths over time (the rule in the module docstring).

    Parameters
    ----------
    truth_time, truth_id, truth_pos : truth columns, shapes (n,), (n,), (n, k)
    track_time, track_id, track_pos : track columns, shapes (m,), (m,), (m, k)
    threshold : float
        Distance (m) under which a track can hit a truth.
    confirm_hits : int
        Consecutive hits needed to start an association (Stone Soup's ``consec_pairs_confirm``).
    end_misses : int
        Consecutive misses that end an association (Stone Soup's ``consec_misses_end``).

    Returns
    -------
    TrackTruthAssociation
    """
    threshold = float(threshold)
    if not (np.isfinite(threshold) and threshold > 0):
        raise InputError(f"association threshold must be a finite distance > 0, got {threshold}",
                         field="threshold")
    if int(confirm_hits) < 1:
        raise InputError(f"confirm_hits must be >= 1, got {confirm_hits}", field="confirm_hits")
    if int(end_misses) < 1:
        raise InputError(f"end_misses must be >= 1, got {end_misses}", field="end_misses")
    confirm_hits, end_misses = int(confirm_hits), int(end_misses)
    truth, track = paired_columns(truth_time, truth_id, truth_pos, None, track_time, track_id, track_pos, None)

    times = np.unique(np.concatenate([truth.time, track.time]))
    nearest_row = nearest_truth(np.searchsorted(times, track.time), track.position,
                                np.searchsorted(times, truth.time), truth.position, truth.object_id, threshold)
    truth_ids, truth_slot = np.unique(truth.object_id, return_inverse=True)
    hit_truth_slot = np.where(nearest_row >= 0, truth_slot[nearest_row] if len(truth) else -1, -1)

    track_ids, track_slot = np.unique(track.object_id, return_inverse=True)
    n_slots = track_ids.shape[0]
    current = np.full(n_slots, -1, dtype=np.int64)
    candidate = np.full(n_slots, -1, dtype=np.int64)
    candidate_hits = np.zeros(n_slots, dtype=np.int64)
    misses = np.zeros(n_slots, dtype=np.int64)
    candidate_start = np.full(n_slots, np.nan)
    start = np.full(n_slots, np.nan)
    end = np.full(n_slots, np.nan)
    emitted: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    # Track rows are sorted by time: one vectorised state update per sample time.
    bounds = np.flatnonzero(np.diff(track.time)) + 1
    for rows in np.split(np.arange(len(track)), bounds) if len(track) else []:
        t = track.time[rows[0]]
        slot = track_slot[rows]
        hit = hit_truth_slot[rows]

        free = current[slot] == -1
        s, h = slot[free], hit[free]
        nothing = h == -1
        same = ~nothing & (candidate[s] == h)
        new = ~nothing & ~same
        candidate_hits[s[nothing]] = 0
        candidate[s[nothing]] = -1
        candidate_start[s[nothing]] = np.nan
        candidate_hits[s[same]] += 1
        candidate[s[new]] = h[new]
        candidate_hits[s[new]] = 1
        candidate_start[s[new]] = t
        confirmed = s[candidate_hits[s] >= confirm_hits]
        current[confirmed] = candidate[confirmed]
        start[confirmed] = candidate_start[confirmed]
        end[confirmed] = t
        candidate[confirmed] = -1
        candidate_hits[confirmed] = 0
        candidate_start[confirmed] = np.nan

        s, h = slot[~free], hit[~free]
        on_truth = h == current[s]
        misses[s[on_truth]] = 0
        end[s[on_truth]] = t
        s, h = s[~on_truth], h[~on_truth]
        misses[s] += 1
        repeat = (h != -1) & (h == candidate[s])
        candidate_hits[s[repeat]] += 1
        fresh = s[~repeat]
        candidate[fresh] = h[~repeat]
        candidate_start[fresh] = t
        candidate_hits[fresh] = 1
        lost = s[misses[s] >= end_misses]
        emitted.append((lost, current[lost].copy(), start[lost].copy(), end[lost].copy()))
        switch = lost[candidate_hits[lost] >= confirm_hits]
        drop = lost[candidate_hits[lost] < confirm_hits]
        current[switch] = candidate[switch]
        start[switch] = candidate_start[switch]
        end[switch] = t
        current[drop] = -1
        start[drop] = np.nan
        end[drop] = np.nan

    still = np.flatnonzero(current >= 0)
    emitted.append((still, current[still], start[still], end[still]))
    slot = np.concatenate([e[0] for e in emitted]).astype(np.int64)
    truth_slot = np.concatenate([e[1] for e in emitted]).astype(np.int64)
    span_start = np.concatenate([e[2] for e in emitted])
    span_end = np.concatenate([e[3] for e in emitted])
    valid = truth_slot >= 0  # a switch to "no candidate" (possible when confirm_hits == 1)
    slot, truth_slot, span_start, span_end = slot[valid], truth_slot[valid], span_start[valid], span_end[valid]
    order = np.lexsort((span_start, track_ids[slot]))
    return TrackTruthAssociation(
        track_id=track_ids[slot[order]], truth_id=truth_ids[truth_slot[order]],
        start=span_start[order], end=span_end[order],
        threshold=threshold, confirm_hits=confirm_hits, end_misses=end_misses,
    )
