"""SIAP (Single Integrated Air Picture) metrics over columnar truths, tracks and their association.

Definitions follow Votruba et al., "Single Integrated Air Picture (SIAP) Metrics Implementation"
(2001) as Stone Soup 1.9.1's ``SIAPMetrics`` implements them, so the numbers are comparable:
at every evaluation time t (every time a truth or a track is sampled),

    J(t)   truths sampled at t            JT(t)  truths with an association active at t
    N(t)   tracks sampled at t            NA(t)  tracks with an association active at t
    PA(t), VA(t)  summed position / velocity error over the associations active at t

and over the whole run

    completeness   = sum JT / sum J
    ambiguity      = sum NA / sum JT
    spuriousness   = sum (N - NA) / sum N
    position / velocity accuracy = sum PA / sum NA,  sum VA / sum NA
    track_number_change_rate     = sum_j (NU_j - 1) / sum_j TT_j   (per second of tracked time)
    longest_track_segment        = sum_j TL_j / sum_j T_j

where, per truth j: T_j is its life (last minus first sample time), TT_j the time covered by its
associations, TL_j the longest time any one track is associated with it, and NU_j the number of
tracks needed to follow it: walk along the truth's sample times; at each time covered by an
association take the association (of those covering it) that lasts longest, count one track, and
jump to the end of that association's span; stop if that span ends at the current time (Stone
Soup's rule, which can undercount when a track takes over exactly as another's span ends).
A quantity whose denominator is zero takes Stone Soup's neutral value (0, or 1 for ambiguity).

An association is *active* at t when t lies in one of its closed spans [start, end]
(see :mod:`airpicture.metrics.association`).
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ._columns import paired_columns
from .association import TrackTruthAssociation

SIAP_KEYS = ("completeness", "ambiguity", "spuriousness", "position_accuracy_m", "velocity_accuracy_mps",
             "track_number_change_rate", "longest_track_segment")


def _ratio(numerator: float, denominator: float, empty: float) -> float:
    return float(numerator) / float(denominator) if denominator != 0 else float(empty)


def _distinct_per_time(time_index, other, n_times: int) -> np.ndarray:
    """Number of distinct ``other`` values per time index."""
    if time_index.shape[0] == 0:
        return np.zeros(n_times, dtype=np.int64)
    width = int(other.max()) + 1
    pairs = np.unique(time_index.astype(np.int64) * width + other)
    return np.bincount(pairs // width, minlength=n_times)


def _union_length(group, start_rank, end_rank, times) -> np.ndarray:
    """Total length of the union of closed intervals [times[start_rank], times[end_rank]], per group.

    Works on integer time ranks so that the running maximum over groups is exact.
    """
    n_groups = int(group.max()) + 1 if group.shape[0] else 0
    if n_groups == 0:
        return np.zeros(0)
    order = np.lexsort((start_rank, group))
    group, start_rank, end_rank = group[order], start_rank[order], end_rank[order]
    first = np.ones(group.shape[0], dtype=bool)
    first[1:] = group[1:] != group[:-1]
    # Furthest end reached by the earlier intervals of the same group (groups kept apart by an offset).
    offset = group.astype(np.int64) * (times.shape[0] + 1)
    reach = np.empty_like(end_rank)
    reach[1:] = (np.maximum.accumulate(end_rank + offset) - offset)[:-1]
    reach[first] = start_rank[first]
    from_rank = np.maximum(start_rank, reach)
    covered = np.where(end_rank > from_rank, times[end_rank] - times[np.minimum(from_rank, end_rank)], 0.0)
    return np.bincount(group, weights=covered, minlength=n_groups)


def _chain_lengths(next_index: np.ndarray) -> np.ndarray:
    """Length of the chain i -> next_index[i] -> ... (-1 ends it) from every node, by pointer doubling."""
    length = np.ones(next_index.shape[0], dtype=np.int64)
    pointer = next_index.copy()
    while True:
        live = np.flatnonzero(pointer >= 0)
        if live.shape[0] == 0:
            return length
        target = pointer[live]
        length[live] += length[target]
        pointer[live] = pointer[target]


def _truth_row_mask(truth_mask, truth_time, truth):
    """The user's per-truth-row mask in the order of the paired columns (None: every row counts)."""
    if truth_mask is None:
        return None
    truth_mask = np.asarray(truth_mask, dtype=bool).reshape(-1)
    n_truth_rows = np.asarray(truth_time).reshape(-1).shape[0]
    if truth_mask.shape[0] != n_truth_rows:
        raise InputError(f"truth_mask must have one entry per truth row ({n_truth_rows}), "
                         f"got {truth_mask.shape[0]}", field="truth_mask")
    return truth_mask[truth.row]


def _time_slots(truth, track):
    """The evaluation times and, per row, the time index and the object's slot (objects in id order)."""
    times = np.unique(np.concatenate([truth.time, track.time]))
    truth_ids, truth_slot = np.unique(truth.object_id, return_inverse=True)
    track_ids, track_slot = np.unique(track.object_id, return_inverse=True)
    return (times, truth_ids, truth_slot, track_ids, track_slot, np.searchsorted(times, truth.time),
            np.searchsorted(times, track.time))


def siap_metrics(truth_time, truth_id, truth_pos, truth_vel, track_time, track_id, track_pos, track_vel,
                 association: TrackTruthAssociation, truth_mask=None) -> dict[str, float]:
    """SIAP metrics of tracks against truths, given their association.

    Parameters
    ----------
    truth_time, truth_id, truth_pos, truth_vel : truth columns (n,), (n,), (n, k), (n, k) or None
    track_time, track_id, track_pos, track_vel : track columns (m,), (m,), (m, k), (m, k) or None
    association : TrackTruthAssociation
        From :func:`airpicture.metrics.association.associate_tracks_to_truths` on the same columns.
    truth_mask : (n,) bool, optional
        Which truth samples count (e.g. targets above the radar horizon at that time). Masked-out
        samples are left out of completeness, ambiguity and the accuracies: J(t) and JT(t) count
        only samples with mask True, NA(t), PA(t), VA(t) only tracks associated with those. A track
        associated with a masked-out truth is still not spurious. The continuity measures
        (track-number changes, longest segment) follow whole truth lives and ignore the mask.

    Returns
    -------
    dict with keys ``completeness``, ``ambiguity``, ``spuriousness``, ``position_accuracy_m``,
    ``velocity_accuracy_mps`` (NaN when velocities are not given), ``track_number_change_rate``
    (per second), ``longest_track_segment`` (0..1).

    Notes
    -----
    Position and velocity errors are summed over active associations where both the track and
    the truth have a sample at t (Stone Soup requires that; here a missing sample is skipped).
    ID-SIAP (identity completeness / correctness / ambiguity, :mod:`airpicture.metrics.idsiap`)
    reuses the active (time, track, truth) triples built here; see ``_active_associations``.
    """
    truth, track = paired_columns(truth_time, truth_id, truth_pos, truth_vel, track_time, track_id, track_pos,
                                  track_vel)
    have_velocity = truth.velocity is not None and track.velocity is not None
    mask = _truth_row_mask(truth_mask, truth_time, truth)
    times, truth_ids, truth_slot, track_ids, track_slot, truth_t, track_t = _time_slots(truth, track)
    n_times = times.shape[0]

    active = _active_associations(association, times, truth_ids, track_ids)
    entry_t, entry_track, entry_truth, entry_interval = active

    # Rows are sorted by (time, id) and slots follow id order, so these keys are sorted.
    truth_key = truth_t * max(len(truth_ids), 1) + truth_slot
    track_key = track_t * max(len(track_ids), 1) + track_slot
    truth_row = _lookup(truth_key, entry_t * max(len(truth_ids), 1) + entry_truth)
    track_row = _lookup(track_key, entry_t * max(len(track_ids), 1) + entry_track)

    n_truth_at = np.bincount(truth_t, weights=None if mask is None else mask.astype(float), minlength=n_times)
    n_tracks_at = np.bincount(track_t, minlength=n_times)
    if mask is None:
        counted = np.ones(entry_t.shape[0], dtype=bool)
    else:
        counted = truth_row >= 0
        counted[counted] = mask[truth_row[counted]]
    associated_truths_at = _distinct_per_time(entry_t[counted], entry_truth[counted], n_times)
    associated_tracks_at = _distinct_per_time(entry_t[counted], entry_track[counted], n_times)
    any_associated_tracks_at = _distinct_per_time(entry_t, entry_track, n_times)

    measured = counted & (truth_row >= 0) & (track_row >= 0)
    position_error = np.linalg.norm(track.position[track_row[measured]] - truth.position[truth_row[measured]],
                                    axis=1)
    n_measured = int(measured.sum())
    if have_velocity:
        velocity_error = np.linalg.norm(track.velocity[track_row[measured]] - truth.velocity[truth_row[measured]],
                                        axis=1)
        velocity_accuracy = _ratio(velocity_error.sum(), n_measured, 0.0)
    else:
        velocity_accuracy = float("nan")

    sum_j, sum_jt = n_truth_at.sum(), associated_truths_at.sum()
    sum_n, sum_na = n_tracks_at.sum(), any_associated_tracks_at.sum()
    result = {
        "completeness": _ratio(sum_jt, sum_j, 0.0),
        "ambiguity": _ratio(associated_tracks_at.sum(), sum_jt, 1.0),
        "spuriousness": _ratio(sum_n - sum_na, sum_n, 0.0),
        "position_accuracy_m": _ratio(position_error.sum(), n_measured, 0.0),
        "velocity_accuracy_mps": velocity_accuracy,
    }
    result.update(_continuity(association, times, truth_ids, track_ids, truth_t, truth_slot, truth.time,
                              active, truth_row))
    return result


def _lookup(sorted_keys, query) -> np.ndarray:
    """Index of each query in sorted_keys, -1 where absent."""
    if sorted_keys.shape[0] == 0:
        return np.full(query.shape[0], -1, dtype=np.int64)
    pos = np.minimum(np.searchsorted(sorted_keys, query), sorted_keys.shape[0] - 1)
    return np.where(sorted_keys[pos] == query, pos, -1).astype(np.int64)


def _active_associations(association: TrackTruthAssociation, times, truth_ids, track_ids):
    """(time index, track slot, truth slot, interval index) for every evaluation time inside every span."""
    a_track = np.asarray(association.track_id, dtype=np.int64)
    a_truth = np.asarray(association.truth_id, dtype=np.int64)
    track_slot = np.searchsorted(track_ids, a_track)
    truth_slot = np.searchsorted(truth_ids, a_truth)
    known = (track_slot < len(track_ids)) & (truth_slot < len(truth_ids))
    known[known] = (track_ids[track_slot[known]] == a_track[known]) & (truth_ids[truth_slot[known]] == a_truth[known])
    if not np.all(known):
        raise InputError("the association names tracks or truths that are not in the columns given",
                         field="association")
    lo = np.searchsorted(times, association.start, side="left")
    hi = np.searchsorted(times, association.end, side="right")
    count = np.maximum(hi - lo, 0)
    interval = np.repeat(np.arange(count.shape[0]), count)
    offset = np.arange(interval.shape[0]) - np.repeat(np.cumsum(count) - count, count)
    return lo[interval] + offset, track_slot[interval], truth_slot[interval], interval


def _continuity(association, times, truth_ids, track_ids, truth_t, truth_slot, truth_time, active, truth_row):
    """track_number_change_rate and longest_track_segment (whole truth lives, no mask)."""
    n_truths = truth_ids.shape[0]
    if n_truths == 0:
        return {"track_number_change_rate": 0.0, "longest_track_segment": 0.0}
    first = np.full(n_truths, np.inf)
    last = np.full(n_truths, -np.inf)
    np.minimum.at(first, truth_slot, truth_time)
    np.maximum.at(last, truth_slot, truth_time)
    life = last - first

    start_rank = np.searchsorted(times, np.asarray(association.start, dtype=float))
    end_rank = np.searchsorted(times, np.asarray(association.end, dtype=float))
    a_truth = np.searchsorted(truth_ids, association.truth_id)
    a_track = np.searchsorted(track_ids, association.track_id)
    tracked_time = _union_length(a_truth, start_rank, end_rank, times).sum()
    pair = a_track * n_truths + a_truth
    pairs, pair_index = np.unique(pair, return_inverse=True)
    per_pair = _union_length(pair_index, start_rank, end_rank, times)
    longest = np.zeros(n_truths)
    np.maximum.at(longest, pairs % n_truths, per_pair)

    tracks_needed = _tracks_needed(association, times, a_truth, a_track, pair_index, active, truth_row,
                                   truth_t, truth_slot, n_truths)
    changes = np.sum(np.maximum(tracks_needed - 1, 0))
    return {
        "track_number_change_rate": _ratio(changes, tracked_time, 0.0),
        "longest_track_segment": _ratio(longest.sum(), life.sum(), 0.0),
    }


def _tracks_needed(association, times, a_truth, a_track, pair_index, active, truth_row, truth_t, truth_slot,
                   n_truths) -> np.ndarray:
    """NU_j per truth slot (see the module docstring), vectorised over truths."""
    entry_t, _, _, entry_interval = active
    needed = np.zeros(n_truths, dtype=np.int64)
    on_sample = truth_row >= 0  # only the truth's own sample times are walked
    if not np.any(on_sample):
        return needed
    e_interval = entry_interval[on_sample]
    e_row = truth_row[on_sample]
    # Of the associations covering a truth sample, take the one whose last span ends latest; among
    # equals (Stone Soup leaves that to set order) the one whose span around the sample ends latest,
    # then the lower track id. Its span containing the sample says where to jump.
    span_end = np.asarray(association.end, dtype=float)
    pair_last = np.full(pair_index.max() + 1, -np.inf)
    np.maximum.at(pair_last, pair_index, span_end)
    order = np.lexsort((a_track[e_interval], -span_end[e_interval], -pair_last[pair_index[e_interval]], e_row))
    e_row, e_interval = e_row[order], e_interval[order]
    keep = np.ones(e_row.shape[0], dtype=bool)
    keep[1:] = e_row[1:] != e_row[:-1]
    row, interval = e_row[keep], e_interval[keep]
    # Covered samples in (truth, time) order.
    n_t1 = times.shape[0] + 1
    key = truth_slot[row] * n_t1 + truth_t[row]
    order = np.argsort(key)
    row, interval, key = row[order], interval[order], key[order]
    end_t = np.searchsorted(times, np.asarray(association.end, dtype=float)[interval])
    here = truth_t[row]
    slot = truth_slot[row]
    nxt = np.searchsorted(key, slot * n_t1 + end_t, side="right")
    valid = (nxt < key.shape[0]) & (end_t != here)
    valid[valid] = truth_slot[row[nxt[valid]]] == slot[valid]
    next_index = np.where(valid, nxt, -1)
    length = _chain_lengths(next_index)
    first = np.ones(key.shape[0], dtype=bool)
    first[1:] = slot[1:] != slot[:-1]
    needed[slot[first]] = length[first]
    return needed
