"""ID-SIAP: identity completeness, correctness and ambiguity over the SIAP track-to-truth association.

Definitions follow Votruba et al., "Single Integrated Air Picture (SIAP) Metrics Implementation"
(2001) as Stone Soup 1.9.1's ``IDSIAPMetrics`` implements them. At every evaluation time t (every
time a truth or a track is sampled), for every truth j with at least one association active at t,
take the identities of the tracks associated with j at t and classify j:

    unidentified  (JU)  every one of those tracks has no identity
    correct       (JC)  j has a true identity and every track has exactly that identity
    incorrect     (JI)  every track has an identity and none of them is j's true identity
    ambiguous     (JA)  anything else: JA = JT - JU - JC - JI

where JT(t) is the number of truths with an active association (the same JT as SIAP
completeness). Over the whole run

    id_completeness = sum (JT - JU) / sum JT
    id_correctness  = sum JC / sum JT
    id_ambiguity    = sum JA / sum JT

each 0 when sum JT is 0. Truths with no active association do not take part at all. Note what
Stone Soup's rule implies: one track per truth is never ambiguous; two tracks with two different
wrong identities are *incorrect*, not ambiguous; a truth with no true identity is never correct
(unidentified if its tracks have no identity, otherwise incorrect or ambiguous).

Two layers:

* :func:`id_siap_metrics` compares plain integer labels (negative = no identity), exactly Stone
  Soup's rule with ``==``; this is what the differential test checks.
* :func:`id_siap` takes standard identities (STANAG 1241 codes of
  :mod:`airpicture.identity.standard`, or names, e.g. a scenario target's ``affiliation``) and
  compares them by group (:data:`ID_GROUP`): friend / assumed friend / joker / faker are the
  friend group, neutral the neutral group, suspect / hostile the hostile group, pending / unknown
  are "no identity". It is what the pipeline calls.

See docs/metrics.md, section ID-SIAP.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..errors import InputError
from ..identity.standard import (
    ASSUMED_FRIEND,
    FAKER,
    FRIEND,
    HOSTILE,
    IDENTITIES,
    JOKER,
    NEUTRAL,
    PENDING,
    SUSPECT,
    UNKNOWN,
    identity_code,
)
from ._columns import paired_columns
from .association import TrackTruthAssociation
from .siap import _active_associations, _lookup, _ratio, _time_slots, _truth_row_mask

ID_SIAP_KEYS = ("id_completeness", "id_correctness", "id_ambiguity")
NO_IDENTITY = -1

# Standard identity code -> the group ID-SIAP compares (a standard code standing for the group), or
# NO_IDENTITY. Joker and faker are friendly aircraft playing suspect / hostile in an exercise: friends.
ID_GROUP = np.full(len(IDENTITIES), NO_IDENTITY, dtype=np.int64)
ID_GROUP[[ASSUMED_FRIEND, FRIEND, JOKER, FAKER]] = FRIEND
ID_GROUP[NEUTRAL] = NEUTRAL
ID_GROUP[[SUSPECT, HOSTILE]] = HOSTILE
ID_GROUP[[PENDING, UNKNOWN]] = NO_IDENTITY

_UNKNOWN_TRUTHS = ("count", "skip")


# ------------------------------------------------------------------------ identities -> groups

def _is_blank(value) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "") or \
        (isinstance(value, float) and np.isnan(value))


def identity_group(identities, *, field: str = "identity") -> np.ndarray:
    """ID-SIAP group of each identity: FRIEND, NEUTRAL, HOSTILE (standard codes) or NO_IDENTITY (-1).

    ``identities`` holds standard identity codes (integers; negative = none, the tracks' missing
    value; in a float array NaN = none) or names ('friend', 'Assumed Friend', ...; None / '' = none).
    An unknown name or code is an InputError naming ``field``.
    """
    values = np.asarray(identities)
    if values.dtype.kind == "f":
        finite = np.isfinite(values)
        if np.any(values[finite] != np.round(values[finite])):
            raise InputError("identity codes must be integers", field=field)
        values = np.where(finite, values, NO_IDENTITY).astype(np.int64)
    if values.dtype.kind in "iu":
        codes = values.astype(np.int64)
        bad = codes >= len(IDENTITIES)
        if np.any(bad):
            raise InputError(f"unknown identity code {int(codes[bad][0])} (codes 0..{len(IDENTITIES) - 1}, "
                             f"negative = none)", field=field)
        return np.where(codes < 0, NO_IDENTITY, ID_GROUP[np.maximum(codes, 0)])
    if values.dtype.kind in "US":
        # One conversion per distinct name, whatever the number of rows.
        uniques, inverse = np.unique(values.reshape(-1), return_inverse=True)
        groups = np.array([_group_of(str(u), field) for u in uniques], dtype=np.int64)
        return groups[inverse].reshape(values.shape)
    if values.dtype != object:
        raise InputError(f"identities must be standard codes (integers) or names, got dtype {values.dtype}",
                         field=field)
    cache: dict = {}
    flat = values.reshape(-1)
    out = np.empty(flat.shape[0], dtype=np.int64)
    for i, value in enumerate(flat):
        key = None if _is_blank(value) else value
        if key not in cache:
            cache[key] = _group_of(value, field)
        out[i] = cache[key]
    return out.reshape(values.shape)


def _group_of(value, field: str) -> int:
    if _is_blank(value):
        return NO_IDENTITY
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if value < 0:
            return NO_IDENTITY
        if value >= len(IDENTITIES):
            raise InputError(f"unknown identity code {value}", field=field)
        return int(ID_GROUP[value])
    return int(ID_GROUP[identity_code(str(value), field=field)])


def _per_truth(values, truth_ids: np.ndarray, field: str, convert) -> np.ndarray:
    """One converted value per truth id in ``truth_ids``: from a mapping {truth id: value} (missing id =
    no identity) or from a sequence indexed by truth id (entry k is truth id k)."""
    if isinstance(values, Mapping):
        picked = np.empty(truth_ids.shape[0], dtype=object)
        picked[:] = [values.get(int(i)) for i in truth_ids]
        return convert(picked)
    array = np.asarray(values)
    if array.ndim != 1:
        raise InputError(f"the true identities must be a mapping {{truth id: identity}} or a sequence indexed "
                         f"by truth id, got shape {array.shape}", field=field)
    converted = convert(array)
    if truth_ids.shape[0] and (truth_ids.min() < 0 or truth_ids.max() >= array.shape[0]):
        raise InputError(f"a sequence of true identities is indexed by truth id, but it has {array.shape[0]} "
                         f"entries and the truth ids run from {int(truth_ids.min())} to {int(truth_ids.max())}",
                         field=field)
    return converted[truth_ids]


def _labels(values, field: str) -> np.ndarray:
    """Integer labels (negative = no identity -> NO_IDENTITY) of the plain-label layer."""
    array = np.asarray(values)
    if array.dtype == object and all(
            v is None or (isinstance(v, (int, np.integer)) and not isinstance(v, bool)) for v in array.flat):
        array = np.array([NO_IDENTITY if v is None else int(v) for v in array.flat], dtype=np.int64)
    if array.dtype.kind not in "iu":
        raise InputError(f"identity labels must be integers (negative = no identity), got dtype {array.dtype}",
                         field=field)
    array = array.astype(np.int64)
    return np.where(array < 0, NO_IDENTITY, array)


# ------------------------------------------------------------------------ the metrics

def id_siap_metrics(truth_time, truth_id, truth_pos, track_time, track_id, track_pos, truth_label, track_label,
                    association: TrackTruthAssociation, truth_mask=None, *, unknown_truths: str = "count"
                    ) -> dict[str, float]:
    """ID-SIAP of tracks against truths over their association, comparing integer identity labels.

    Parameters
    ----------
    truth_time, truth_id, truth_pos : truth columns (n,), (n,), (n, k), as for :func:`siap_metrics`
    track_time, track_id, track_pos : track columns (m,), (m,), (m, k)
    truth_label : mapping {truth id: label} or sequence indexed by truth id
        The true identity of each truth (one per truth, constant over its life). A negative label,
        None, or a truth id missing from the mapping means "no true identity".
    track_label : (m,) integers
        The identity each track row assigns (negative = none), one per track row: the identity
        as of that sample.
    association : TrackTruthAssociation
        From :func:`airpicture.metrics.association.associate_tracks_to_truths` on the same columns.
    truth_mask : (n,) bool, optional
        Which truth samples count, as in :func:`siap_metrics`: only truths with a counted sample
        at t take part at t.
    unknown_truths : "count" or "skip"
        "count" (Stone Soup): a truth with no true identity takes part and can never be correct.
        "skip": such truths are left out, as if masked.

    Returns
    -------
    dict with keys ``id_completeness``, ``id_correctness``, ``id_ambiguity`` (0..1 each).

    Notes
    -----
    A track's identity at t is that of its sample at t. Where an active association lacks a track
    sample at t (Stone Soup raises an error there), the track's latest sample before t is used:
    its identity as last reported. Several rows with the same (time, track): the last counts.
    """
    counts = _id_counts(truth_time, truth_id, truth_pos, track_time, track_id, track_pos, truth_label,
                        track_label, association, truth_mask, unknown_truths,
                        lambda v: _labels(v, "truth_identity"), lambda v: _labels(v, "track_identity"))
    return _id_ratios(counts)


def id_siap(truth_time, truth_id, truth_pos, track_time, track_id, track_pos, truth_identity, track_identity,
            association: TrackTruthAssociation, truth_mask=None, *, unknown_truths: str = "skip"
            ) -> dict[str, float]:
    """ID-SIAP with standard identities compared by group (the pipeline's entry point).

    Parameters
    ----------
    truth_time, truth_id, truth_pos, track_time, track_id, track_pos :
        The same columns as given to :func:`siap_metrics` (velocities are not needed).
    truth_identity : mapping {truth id: identity} or sequence indexed by truth id
        The true identity of each truth: a name ('friend', 'assumed_friend', 'neutral', 'suspect',
        'hostile', 'unknown', ...; a scenario target's ``affiliation``) or a standard code. None,
        '', 'unknown' and 'pending' mean "no true identity".
    track_identity : (m,) standard identity codes (int, negative = none) or names, one per track row
        The identity each track row carries (e.g. ``TrackStates.extra["identity"]``).
    association : TrackTruthAssociation
    truth_mask : (n,) bool, optional
        As for :func:`siap_metrics` (e.g. the observable truth samples).
    unknown_truths : "skip" (default) or "count"
        What to do with truths that have no true identity. "skip" leaves them out of all three
        numbers (nothing can be correct about them); "count" keeps them as Stone Soup does (their
        tracks are unidentified, incorrect or ambiguous, never correct).

    Returns
    -------
    dict with keys ``id_completeness``, ``id_correctness``, ``id_ambiguity``.

    Identities are compared by :data:`ID_GROUP`: friend, assumed friend, joker and faker are one
    group (friend); neutral; suspect and hostile are one group (hostile); pending and unknown are
    "not identified".
    """
    counts = _id_counts(truth_time, truth_id, truth_pos, track_time, track_id, track_pos, truth_identity,
                        track_identity, association, truth_mask, unknown_truths,
                        lambda v: identity_group(v, field="truth_identity"),
                        lambda v: identity_group(v, field="track_identity"))
    return _id_ratios(counts)


def _id_ratios(counts: dict[str, int]) -> dict[str, float]:
    jt = counts["JT"]
    return {
        "id_completeness": _ratio(jt - counts["JU"], jt, 0.0),
        "id_correctness": _ratio(counts["JC"], jt, 0.0),
        "id_ambiguity": _ratio(counts["JA"], jt, 0.0),
    }


def _id_counts(truth_time, truth_id, truth_pos, track_time, track_id, track_pos, truth_identity, track_identity,
               association, truth_mask, unknown_truths, truth_convert, track_convert) -> dict[str, int]:
    """Sums over evaluation times of JT, JU, JC, JI, JA (see the module docstring)."""
    if unknown_truths not in _UNKNOWN_TRUTHS:
        raise InputError(f"unknown_truths must be 'count' or 'skip', got {unknown_truths!r}", field="unknown_truths")
    truth, track = paired_columns(truth_time, truth_id, truth_pos, None, track_time, track_id, track_pos, None)
    n_track_rows = np.asarray(track_time).reshape(-1).shape[0]
    track_identity = np.asarray(track_identity)
    if track_identity.shape != (n_track_rows,):
        raise InputError(f"track identities must have one entry per track row ({n_track_rows},), "
                         f"got {track_identity.shape}", field="track_identity")
    track_value = track_convert(track_identity)[track.row]
    mask = _truth_row_mask(truth_mask, truth_time, truth)
    times, truth_ids, truth_slot, track_ids, track_slot, truth_t, track_t = _time_slots(truth, track)
    n_times = times.shape[0]
    truth_value = _per_truth(truth_identity, truth_ids, "truth_identity", truth_convert)

    entry_t, entry_track, entry_truth, _ = _active_associations(association, times, truth_ids, track_ids)
    counted = np.ones(entry_t.shape[0], dtype=bool)
    if mask is not None:
        n_truths = max(len(truth_ids), 1)
        truth_row = _lookup(truth_t * n_truths + truth_slot, entry_t * n_truths + entry_truth)
        counted = truth_row >= 0
        counted[counted] = mask[truth_row[counted]]
    if unknown_truths == "skip":
        counted &= truth_value[entry_truth] != NO_IDENTITY
    entry_t, entry_track, entry_truth = entry_t[counted], entry_track[counted], entry_truth[counted]

    # Identity of each associated track at t: its sample at t, else its latest sample before t.
    order = np.lexsort((track_t, track_slot))
    key = track_slot[order].astype(np.int64) * n_times + track_t[order]
    at = np.searchsorted(key, entry_track.astype(np.int64) * n_times + entry_t, side="right") - 1
    found = at >= 0
    found[found] = track_slot[order[at[found]]] == entry_track[found]
    label = np.full(entry_t.shape[0], NO_IDENTITY, dtype=np.int64)
    label[found] = track_value[order[at[found]]]

    # Classify every (t, truth) with an active association.
    n_truths = max(len(truth_ids), 1)
    pair, group = np.unique(entry_t.astype(np.int64) * n_truths + entry_truth, return_inverse=True)
    true_value = truth_value[pair % n_truths] if pair.shape[0] else np.zeros(0, np.int64)
    none = label == NO_IDENTITY
    match = label == truth_value[entry_truth]  # "no identity" equals "no identity", as None == None
    n_tracks = np.bincount(group, minlength=pair.shape[0])
    n_none = np.bincount(group, weights=none, minlength=pair.shape[0])
    n_match = np.bincount(group, weights=match, minlength=pair.shape[0])
    jt = int(pair.shape[0])
    ju = int(np.sum(n_none == n_tracks))
    jc = int(np.sum((true_value != NO_IDENTITY) & (n_match == n_tracks)))
    ji = int(np.sum((n_none == 0) & (n_match == 0)))
    return {"JT": jt, "JU": ju, "JC": jc, "JI": ji, "JA": jt - ju - jc - ji}
