"""ID-SIAP: differential against Stone Soup 1.9.1's IDSIAPMetrics, hand-worked cases, edge cases, bad input."""

from __future__ import annotations

import _metrics_stonesoup as peer
import numpy as np
import pytest

from airpicture.errors import InputError
from airpicture.identity.standard import (
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
)
from airpicture.metrics import (
    ID_SIAP_KEYS,
    associate_tracks_to_truths,
    id_siap,
    id_siap_metrics,
    identity_group,
)
from airpicture.metrics.idsiap import NO_IDENTITY

KEY = "identity"  # Stone Soup metadata key of the truth's and the tracks' identity
AFFILIATIONS = ["friend", "assumed_friend", "neutral", "suspect", "hostile", "unknown", None]
GROUP_NAME = {FRIEND: "friend", NEUTRAL: "neutral", HOSTILE: "hostile", NO_IDENTITY: None}


# ------------------------------------------------------------------------ Stone Soup as the peer

def stonesoup_id_siap(tt, ti, tp, tv, kt, ki, kp, kv, truth_value, track_value, threshold, confirm_hits,
                      end_misses, changes_only=False):
    """Stone Soup IDSIAPMetrics with TrackToTruth: ({id_completeness, id_correctness, id_ambiguity}, rows).

    ``truth_value``: {truth id: metadata value}; a truth missing from it has no identity key in its
    metadata (Stone Soup reads None). ``track_value``: one metadata value per track row (None = no
    identity). Track states are Updates whose detection carries {KEY: value}, which is how Stone Soup
    tracks get metadata; with ``changes_only`` a state carries the key only when its value changes
    (Stone Soup's track metadata is cumulative, so the identity at every state is the same).
    """
    from stonesoup.metricgenerator.manager import MultiManager
    from stonesoup.metricgenerator.tracktotruthmetrics import IDSIAPMetrics
    from stonesoup.types.array import StateVector
    from stonesoup.types.detection import Detection
    from stonesoup.types.groundtruth import GroundTruthPath, GroundTruthState
    from stonesoup.types.hypothesis import SingleHypothesis
    from stonesoup.types.track import Track
    from stonesoup.types.update import StateUpdate

    dims = tp.shape[1]
    truths = []
    for j in np.unique(ti):
        rows = np.flatnonzero(ti == j)
        rows = rows[np.argsort(tt[rows], kind="stable")]
        meta = {KEY: truth_value[int(j)]} if int(j) in truth_value else {}
        truths.append(GroundTruthPath(
            [GroundTruthState(StateVector(np.r_[tp[r], tv[r]]), timestamp=peer.timestamp(tt[r]), metadata=dict(meta))
             for r in rows], id=str(int(j))))
    tracks = []
    for k in np.unique(ki):
        rows = np.flatnonzero(ki == k)
        rows = rows[np.argsort(kt[rows], kind="stable")]
        states, previous = [], object()
        for r in rows:
            vector = StateVector(np.r_[kp[r], kv[r]])
            value = track_value[r]
            meta = {} if changes_only and value == previous else {KEY: value}
            previous = value
            detection = Detection(vector, timestamp=peer.timestamp(kt[r]), metadata=meta)
            states.append(StateUpdate(vector, SingleHypothesis(None, detection), timestamp=peer.timestamp(kt[r])))
        tracks.append(Track(states, id=str(int(k))))
    associator, _ = peer.track_to_truth(truths, tracks, dims, threshold, confirm_hits, end_misses)
    position, velocity = peer._position_velocity_measures(dims)
    generator = IDSIAPMetrics(position_measure=position, velocity_measure=velocity, truth_id=KEY, track_id=KEY)
    manager = MultiManager(generators=[generator], associator=associator)
    manager.add_data({"groundtruth_paths": truths, "tracks": tracks})
    metrics = manager.generate_metrics()["Id_siap_generator"]
    names = {"id_completeness": "SIAP ID Completeness", "id_correctness": "SIAP ID Correctness",
             "id_ambiguity": "SIAP ID Ambiguity"}
    return ({key: float(metrics[title].value) for key, title in names.items()},
            peer.association_rows(manager.association_set))


# ------------------------------------------------------------------------ random scenes

def scene(rng, n_truth=6, n_false=2, n_times=24, dims=2):
    """Truths with contiguous lives; 1-4 tracks per truth (segments of its life: gaps, overlaps, duplicates,
    swaps between close truths) plus false tracks. Every track is sampled at each time of its own life
    (Stone Soup needs a track sample at every time an association covers)."""
    truth_parts, track_parts = [], []
    for j in range(n_truth):
        a = rng.integers(0, n_times // 2)
        b = rng.integers(a + 3, n_times + 1)
        t = np.arange(a, b) * 2.0
        p0, v = rng.uniform(0, 2000, dims), rng.normal(0, 10, dims)
        truth_parts.append((t, np.full(t.size, j), p0 + t[:, None] * v, np.tile(v, (t.size, 1))))
    next_id = 100
    for t, _, pos, vel in truth_parts:
        for _ in range(rng.integers(1, 5)):
            c0 = rng.integers(0, t.size - 1)
            c1 = min(t.size, c0 + rng.integers(2, t.size + 2))
            noise = rng.choice([5.0, 40.0, 120.0])
            track_parts.append((t[c0:c1], np.full(c1 - c0, next_id),
                                pos[c0:c1] + rng.normal(0, noise, (c1 - c0, dims)),
                                vel[c0:c1] + rng.normal(0, 3, (c1 - c0, dims))))
            next_id += 1
    for _ in range(n_false):
        a = rng.integers(0, n_times - 2)
        t = np.arange(a, rng.integers(a + 1, n_times + 1)) * 2.0
        track_parts.append((t, np.full(t.size, next_id), rng.uniform(0, 2000, (t.size, dims)),
                            rng.normal(0, 20, (t.size, dims))))
        next_id += 1
    truth = [np.concatenate(c) for c in zip(*truth_parts)]
    track = [np.concatenate(c) for c in zip(*track_parts)]
    return (*truth, *track)


def random_track_identities(rng, track_time, track_id, choices):
    """Per track row: each track holds a value from ``choices`` and changes it at 0-3 random times."""
    out = np.empty(track_time.shape[0], dtype=object)
    for k in np.unique(track_id):
        rows = np.flatnonzero(track_id == k)
        rows = rows[np.argsort(track_time[rows], kind="stable")]
        cuts = np.sort(rng.choice(rows.size, size=min(rows.size, rng.integers(0, 4)), replace=False))
        values = [choices[rng.integers(len(choices))] for _ in range(cuts.size + 1)]
        out[rows] = [values[np.searchsorted(cuts, i, side="right")] for i in range(rows.size)]
    return out


CONFIGS = [(100.0, 3, 2), (300.0, 2, 1), (200.0, 2, 3), (150.0, 2, 2)]  # threshold, confirm_hits, end_misses


@pytest.mark.parametrize("seed", range(10))
def test_standard_identities_match_stonesoup(seed):
    """Standard identities (track codes, truth affiliations) through id_siap == Stone Soup on the groups."""
    rng = np.random.default_rng(seed)
    threshold, confirm_hits, end_misses = CONFIGS[seed % len(CONFIGS)]
    tt, ti, tp, tv, kt, ki, kp, kv = scene(rng, dims=2 + seed % 2)
    affiliation = {int(j): AFFILIATIONS[rng.integers(len(AFFILIATIONS))] for j in np.unique(ti)}
    codes = random_track_identities(rng, kt, ki, list(range(len(IDENTITIES))) + [-1]).astype(np.int64)
    association = associate_tracks_to_truths(tt, ti, tp, kt, ki, kp, threshold, confirm_hits=confirm_hits,
                                             end_misses=end_misses)
    ours = id_siap(tt, ti, tp, kt, ki, kp, affiliation, codes.astype(np.int8), association,
                   unknown_truths="count")

    truth_group = identity_group(np.array(list(affiliation.values()), dtype=object))
    truth_value = {j: GROUP_NAME[int(g)] for j, g in zip(affiliation, truth_group) if g != NO_IDENTITY}
    track_value = [GROUP_NAME[int(g)] for g in identity_group(codes)]
    theirs, their_rows = stonesoup_id_siap(tt, ti, tp, tv, kt, ki, kp, kv, truth_value, track_value, threshold,
                                           confirm_hits, end_misses, changes_only=bool(seed % 2))
    our_rows = sorted(zip(association.track_id.tolist(), association.truth_id.tolist(),
                          association.start.tolist(), association.end.tolist()))
    assert our_rows == their_rows
    assert len(association) > 0
    for key in ID_SIAP_KEYS:
        assert ours[key] == pytest.approx(theirs[key], rel=1e-12, abs=1e-15), key


@pytest.mark.parametrize("seed", range(10, 18))
def test_plain_labels_match_stonesoup(seed):
    """Integer labels through id_siap_metrics == Stone Soup with the same labels (None for negative)."""
    rng = np.random.default_rng(seed)
    threshold, confirm_hits, end_misses = CONFIGS[seed % len(CONFIGS)]
    tt, ti, tp, tv, kt, ki, kp, kv = scene(rng, n_truth=8, dims=2 + seed % 2)
    # Few labels, so that duplicates often agree or disagree; -1 = no identity.
    truth_label = {int(j): int(rng.integers(-1, 3)) for j in np.unique(ti)}
    labels = random_track_identities(rng, kt, ki, [-1, 0, 1, 2]).astype(np.int64)
    association = associate_tracks_to_truths(tt, ti, tp, kt, ki, kp, threshold, confirm_hits=confirm_hits,
                                             end_misses=end_misses)
    ours = id_siap_metrics(tt, ti, tp, kt, ki, kp, truth_label, labels, association)
    theirs, their_rows = stonesoup_id_siap(
        tt, ti, tp, tv, kt, ki, kp, kv,
        {j: (None if v < 0 else v) for j, v in truth_label.items() if v >= 0 or seed % 2},
        [None if v < 0 else int(v) for v in labels], threshold, confirm_hits, end_misses,
        changes_only=bool(seed % 3 == 0))
    assert sorted(zip(association.track_id.tolist(), association.truth_id.tolist(), association.start.tolist(),
                      association.end.tolist())) == their_rows
    for key in ID_SIAP_KEYS:
        assert ours[key] == pytest.approx(theirs[key], rel=1e-12, abs=1e-15), key


def test_random_scenes_cover_every_class():
    """The random scenes above do produce unidentified, correct, incorrect and ambiguous truth samples."""
    from airpicture.metrics.idsiap import _id_counts

    total = {"JU": 0, "JC": 0, "JI": 0, "JA": 0}
    for seed in range(10):
        rng = np.random.default_rng(seed)
        threshold, confirm_hits, end_misses = CONFIGS[seed % len(CONFIGS)]
        tt, ti, tp, _, kt, ki, kp, _ = scene(rng, dims=2 + seed % 2)
        affiliation = {int(j): AFFILIATIONS[rng.integers(len(AFFILIATIONS))] for j in np.unique(ti)}
        codes = random_track_identities(rng, kt, ki, list(range(len(IDENTITIES))) + [-1]).astype(np.int64)
        association = associate_tracks_to_truths(tt, ti, tp, kt, ki, kp, threshold, confirm_hits=confirm_hits,
                                                 end_misses=end_misses)
        counts = _id_counts(tt, ti, tp, kt, ki, kp, affiliation, codes, association, None, "count",
                            identity_group, identity_group)
        for key in total:
            total[key] += counts[key]
    assert all(v >= 10 for v in total.values()), total


# ------------------------------------------------------------------------ hand-worked cases

def line(t, p0, v):
    t = np.asarray(t, float)
    return t, np.asarray(p0, float) + t[:, None] * np.asarray(v, float)


def two_tracks_on_one_truth(n=10):
    """Truth 1 on t = 0..n-1, tracks 10 and 11 on it all the time (10 m either side)."""
    t, tp = line(np.arange(float(n)), [0.0, 0.0], [100.0, 0.0])
    ti = np.ones(n, int)
    kt, ki, kp = np.r_[t, t], np.repeat([10, 11], n), np.r_[tp + [0.0, 10.0], tp - [0.0, 10.0]]
    return t, ti, tp, kt, ki, kp


def test_hand_worked_one_track_identified_late():
    """Truth hostile, t = 0..9; its one track is pending (t 0-1), unknown (2-3), suspect (4-9).

    JT = 10 truth samples tracked; JU = 4 (pending, unknown = no identity), JC = 6 (suspect is in the
    hostile group): completeness 6/10, correctness 6/10; one track is never ambiguous.
    """
    t, tp = line(np.arange(10.0), [0.0, 0.0], [100.0, 0.0])
    ti = np.ones(10, int)
    identity = np.array([PENDING] * 2 + [UNKNOWN] * 2 + [SUSPECT] * 6, np.int8)
    association = associate_tracks_to_truths(t, ti, tp, t, ti + 9, tp + 5.0, 50.0)
    result = id_siap(t, ti, tp, t, ti + 9, tp + 5.0, {1: "hostile"}, identity, association)
    assert result == {"id_completeness": pytest.approx(0.6), "id_correctness": pytest.approx(0.6),
                      "id_ambiguity": 0.0}


def test_hand_worked_duplicate_tracks_disagree():
    """Truth friend; track 10 friend throughout, track 11 assumed friend (t 0-4) then hostile (5-9).

    t 0-4: both in the friend group, correct (5); t 5-9: friend and hostile, ambiguous (5).
    completeness 1, correctness 0.5, ambiguity 0.5.
    """
    t, ti, tp, kt, ki, kp = two_tracks_on_one_truth()
    identity = np.r_[[FRIEND] * 10, [ASSUMED_FRIEND] * 5, [HOSTILE] * 5].astype(np.int8)
    association = associate_tracks_to_truths(t, ti, tp, kt, ki, kp, 50.0)
    assert len(association) == 2
    result = id_siap(t, ti, tp, kt, ki, kp, ["unknown", "friend"], identity, association)
    assert result == {"id_completeness": 1.0, "id_correctness": 0.5, "id_ambiguity": 0.5}


def test_hand_worked_two_different_wrong_identities_are_incorrect_not_ambiguous():
    """Truth neutral; track 10 hostile, track 11 friend: every track wrong -> incorrect (Stone Soup's rule),
    so correctness 0 and ambiguity 0 while completeness is 1."""
    t, ti, tp, kt, ki, kp = two_tracks_on_one_truth()
    identity = np.repeat(["hostile", "friend"], 10).astype(object)
    association = associate_tracks_to_truths(t, ti, tp, kt, ki, kp, 50.0)
    result = id_siap(t, ti, tp, kt, ki, kp, {1: "neutral"}, identity, association)
    assert result == {"id_completeness": 1.0, "id_correctness": 0.0, "id_ambiguity": 0.0}


def test_hand_worked_unidentified_duplicate_makes_a_correct_truth_ambiguous():
    """Truth hostile; track 10 hostile for t 0-9, track 11 unknown for t 0-5 and hostile for t 6-9.

    t 0-5: one identified right, one not -> ambiguous (6); t 6-9 correct (4).
    completeness 1 (some track has an identity), correctness 0.4, ambiguity 0.6.
    """
    t, ti, tp, kt, ki, kp = two_tracks_on_one_truth()
    identity = np.r_[[HOSTILE] * 10, [UNKNOWN] * 6, [HOSTILE] * 4]
    association = associate_tracks_to_truths(t, ti, tp, kt, ki, kp, 50.0)
    result = id_siap(t, ti, tp, kt, ki, kp, {1: "hostile"}, identity, association)
    assert result == {"id_completeness": 1.0, "id_correctness": pytest.approx(0.4),
                      "id_ambiguity": pytest.approx(0.6)}


def test_hand_worked_untracked_truths_and_false_tracks_do_not_count():
    """Truth 1 (neutral) tracked and identified right; truth 2 (hostile) never tracked; track 30 is false
    and hostile. Only truth 1's samples are in JT: 1, 1, 0."""
    t, p1 = line(np.arange(8.0), [0.0, 0.0], [100.0, 0.0])
    _, p2 = line(np.arange(8.0), [0.0, 50_000.0], [100.0, 0.0])
    tt, ti, tp = np.r_[t, t], np.repeat([1, 2], 8), np.r_[p1, p2]
    kt, ki, kp = np.r_[t, t], np.repeat([20, 30], 8), np.r_[p1 + 3.0, p1 + [0.0, 20_000.0]]
    identity = np.repeat([NEUTRAL, HOSTILE], 8)
    association = associate_tracks_to_truths(tt, ti, tp, kt, ki, kp, 100.0)
    assert association.track_id.tolist() == [20]
    result = id_siap(tt, ti, tp, kt, ki, kp, {1: "neutral", 2: "hostile"}, identity, association)
    assert result == {"id_completeness": 1.0, "id_correctness": 1.0, "id_ambiguity": 0.0}


def test_hand_worked_truth_without_true_identity():
    """Truth 1 neutral, identified neutral by track 20 (8 samples); truth 2 of unknown affiliation, called
    suspect by track 21 (8 samples).

    count (Stone Soup): JT = 16, JC = 8, JI = 8 (an identity on a truth with none is wrong):
    completeness 1, correctness 0.5, ambiguity 0. skip (default): truth 2 left out: 1, 1, 0.
    """
    t, p1 = line(np.arange(8.0), [0.0, 0.0], [100.0, 0.0])
    _, p2 = line(np.arange(8.0), [0.0, 50_000.0], [100.0, 0.0])
    tt, ti, tp = np.r_[t, t], np.repeat([1, 2], 8), np.r_[p1, p2]
    kt, ki, kp = tt, ti + 19, tp + 3.0
    identity = np.repeat([NEUTRAL, SUSPECT], 8)
    association = associate_tracks_to_truths(tt, ti, tp, kt, ki, kp, 100.0)
    truths = {1: "neutral", 2: "unknown"}
    counted = id_siap(tt, ti, tp, kt, ki, kp, truths, identity, association, unknown_truths="count")
    assert counted == {"id_completeness": 1.0, "id_correctness": 0.5, "id_ambiguity": 0.0}
    skipped = id_siap(tt, ti, tp, kt, ki, kp, truths, identity, association)
    assert skipped == {"id_completeness": 1.0, "id_correctness": 1.0, "id_ambiguity": 0.0}
    # A track that leaves it unidentified: JU = 8 under "count", so completeness 8/16.
    quiet = np.repeat([NEUTRAL, UNKNOWN], 8)
    counted = id_siap(tt, ti, tp, kt, ki, kp, truths, quiet, association, unknown_truths="count")
    assert counted == {"id_completeness": 0.5, "id_correctness": 0.5, "id_ambiguity": 0.0}
    # Only truths without identity, skipped: nothing to score, Stone Soup's neutral 0.
    alone = id_siap(tt, ti, tp, kt, ki, kp, {1: None, 2: "pending"}, identity, association)
    assert alone == {key: 0.0 for key in ID_SIAP_KEYS}


def test_hand_worked_mask_counts_only_observable_samples():
    """The one-track case above with the truth's first 4 samples masked out (not observable): the
    pending / unknown samples drop out, leaving 6 correctly identified samples: 1, 1, 0."""
    t, tp = line(np.arange(10.0), [0.0, 0.0], [100.0, 0.0])
    ti = np.ones(10, int)
    identity = np.array([PENDING] * 2 + [UNKNOWN] * 2 + [HOSTILE] * 6)
    association = associate_tracks_to_truths(t, ti, tp, t, ti + 9, tp + 5.0, 50.0)
    mask = t >= 4
    result = id_siap(t, ti, tp, t, ti + 9, tp + 5.0, {1: "hostile"}, identity, association, truth_mask=mask)
    assert result == {"id_completeness": 1.0, "id_correctness": 1.0, "id_ambiguity": 0.0}
    # Masking the identified part instead: 4 samples, none identified.
    result = id_siap(t, ti, tp, t, ti + 9, tp + 5.0, {1: "hostile"}, identity, association, truth_mask=~mask)
    assert result == {"id_completeness": 0.0, "id_correctness": 0.0, "id_ambiguity": 0.0}


def test_hand_worked_track_identity_carried_between_its_samples():
    """Truth sampled every 1 s (t 0..8), its track every 2 s: hostile at 0, 2; unknown at 4; hostile at 6, 8.

    The association covers t 0..8, so the truth is tracked at 9 evaluation times. At odd times the
    track has no sample and its last reported identity counts: t 0-3 hostile, 4-5 unknown, 6-8 hostile.
    JT 9, JU 2, JC 7: completeness 7/9, correctness 7/9. Stone Soup cannot compute this case.
    """
    t, tp = line(np.arange(9.0), [0.0, 0.0], [100.0, 0.0])
    ti = np.ones(9, int)
    kt, kp = t[::2], tp[::2] + 5.0
    ki = np.full(5, 3)
    identity = np.array(["hostile", "hostile", "unknown", "hostile", "hostile"])
    association = associate_tracks_to_truths(t, ti, tp, kt, ki, kp, 50.0)
    assert association.start.tolist() == [0.0] and association.end.tolist() == [8.0]
    result = id_siap(t, ti, tp, kt, ki, kp, {1: "hostile"}, identity, association)
    assert result == {"id_completeness": pytest.approx(7 / 9), "id_correctness": pytest.approx(7 / 9),
                      "id_ambiguity": 0.0}
    with pytest.raises(IndexError):
        stonesoup_id_siap(t, ti, tp, np.zeros_like(tp), kt, ki, kp, np.zeros_like(kp), {1: "hostile"},
                          ["hostile", "hostile", None, "hostile", "hostile"], 50.0, 3, 2)


def test_exercise_identities_are_friends_and_groups():
    assert identity_group(np.arange(len(IDENTITIES))).tolist() == [
        NO_IDENTITY, NO_IDENTITY, FRIEND, FRIEND, NEUTRAL, HOSTILE, HOSTILE, FRIEND, FRIEND]
    assert identity_group(np.array(["Assumed Friend", "faker", "", None, "joker", "suspect"], object)).tolist() \
        == [FRIEND, FRIEND, NO_IDENTITY, NO_IDENTITY, FRIEND, HOSTILE]
    assert identity_group(np.array([np.nan, 6.0, -1.0])).tolist() == [NO_IDENTITY, HOSTILE, NO_IDENTITY]
    t, ti, tp, kt, ki, kp = two_tracks_on_one_truth()
    association = associate_tracks_to_truths(t, ti, tp, kt, ki, kp, 50.0)
    identity = np.repeat([JOKER, FAKER], 10)
    assert id_siap(t, ti, tp, kt, ki, kp, {1: "friend"}, identity, association)["id_correctness"] == 1.0


def test_plain_labels_are_compared_exactly():
    """id_siap_metrics does not group: suspect (5) is not hostile (6); the same pair through id_siap is."""
    t, tp = line(np.arange(6.0), [0.0, 0.0], [100.0, 0.0])
    ti = np.zeros(6, int)
    association = associate_tracks_to_truths(t, ti, tp, t, ti + 1, tp, 50.0)
    labels = np.full(6, SUSPECT)
    assert id_siap_metrics(t, ti, tp, t, ti + 1, tp, [HOSTILE], labels, association)["id_correctness"] == 0.0
    assert id_siap(t, ti, tp, t, ti + 1, tp, [HOSTILE], labels, association)["id_correctness"] == 1.0
    # None / negative / missing key all mean "no identity".
    for truth in ({0: None}, {}, [-1], np.array([-3])):
        result = id_siap_metrics(t, ti, tp, t, ti + 1, tp, truth, np.full(6, -1), association)
        assert result == {"id_completeness": 0.0, "id_correctness": 0.0, "id_ambiguity": 0.0}


def test_input_forms_agree():
    """Codes (any int width) and names for tracks; mapping and sequence (by truth id) for truths."""
    t, ti, tp, kt, ki, kp = two_tracks_on_one_truth()
    codes = np.r_[[FRIEND] * 10, [UNKNOWN] * 3, [ASSUMED_FRIEND] * 7]  # t 0-2 ambiguous, t 3-9 correct
    association = associate_tracks_to_truths(t, ti, tp, kt, ki, kp, 50.0)
    expected = id_siap(t, ti, tp, kt, ki, kp, {1: "friend"}, codes, association)
    names = np.array(IDENTITIES)[codes]
    for truth in ({1: "friend"}, {1: FRIEND}, ["hostile", "friend"], np.array([-1, ASSUMED_FRIEND])):
        for track in (codes.astype(np.int8), names, names.astype(object), codes.astype(float)):
            assert id_siap(t, ti, tp, kt, ki, kp, truth, track, association) == expected
    assert expected == {"id_completeness": 1.0, "id_correctness": pytest.approx(0.7),
                        "id_ambiguity": pytest.approx(0.3)}


def test_duplicate_rows_last_one_counts_and_nan_rows_are_ignored():
    t, tp = line(np.arange(6.0), [0.0, 0.0], [100.0, 0.0])
    ti = np.zeros(6, int)
    kt, ki, kp = np.r_[t, t[:3]], np.zeros(9, int) + 4, np.r_[tp, tp[:3]]
    identity = np.r_[[HOSTILE] * 6, [NEUTRAL] * 3]  # t 0-2 given twice: the later rows (neutral) count
    association = associate_tracks_to_truths(t, ti, tp, kt, ki, kp, 50.0)
    result = id_siap(t, ti, tp, kt, ki, kp, ["neutral"], identity, association)
    assert result == {"id_completeness": 1.0, "id_correctness": 0.5, "id_ambiguity": 0.0}
    # A NaN track row is no sample: its identity is not used (the previous sample's is).
    kp2 = tp.copy()
    kp2[3] = np.nan
    association = associate_tracks_to_truths(t, ti, tp, t, ti + 4, kp2, 50.0)
    identity = np.array([HOSTILE] * 3 + [NEUTRAL] + [HOSTILE] * 2)
    result = id_siap(t, ti, tp, t, ti + 4, kp2, ["hostile"], identity, association)
    assert result["id_correctness"] == 1.0


@pytest.mark.parametrize("which", ["truths", "tracks", "both"])
def test_empty_inputs_give_zeros(which):
    t, tp = line(np.arange(4.0), [0.0, 0.0], [10.0, 0.0])
    ti = np.zeros(4, int)
    empty = (np.zeros(0), np.zeros(0, int), np.zeros((0, 2)))
    truth = empty if which in ("truths", "both") else (t, ti, tp)
    track = empty if which in ("tracks", "both") else (t, ti + 5, tp)
    association = associate_tracks_to_truths(*truth, *track, 10.0)
    identity = np.full(len(track[0]), HOSTILE, np.int8)
    result = id_siap(*truth, *track, {0: "hostile"}, identity, association)
    assert result == {key: 0.0 for key in ID_SIAP_KEYS}


def test_bad_inputs_raise_input_error():
    t, tp = line(np.arange(4.0), [0.0, 0.0], [10.0, 0.0])
    ti = np.zeros(4, int)
    association = associate_tracks_to_truths(t, ti, tp, t, ti + 1, tp, 10.0)
    ok = np.full(4, HOSTILE)

    def run(truth=None, track=ok, **kw):
        truth = {0: "hostile"} if truth is None else truth
        return id_siap(t, ti, tp, t, ti + 1, tp, truth, track, association, **kw)

    run()
    with pytest.raises(InputError, match="one entry per track row"):
        run(track=ok[:3])
    with pytest.raises(InputError, match="unknown identity 'hostle'"):
        run(track=np.array(["hostle"] * 4))
    with pytest.raises(InputError, match="unknown identity"):
        run(truth={0: "foe"})
    with pytest.raises(InputError, match="unknown identity code 9"):
        run(track=np.full(4, 9))
    with pytest.raises(InputError, match="integers"):
        run(track=np.full(4, 2.5))
    with pytest.raises(InputError, match="indexed by truth id"):
        id_siap(t, ti + 3, tp, t, ti + 1, tp, ["hostile"], ok,
                associate_tracks_to_truths(t, ti + 3, tp, t, ti + 1, tp, 10.0))
    with pytest.raises(InputError, match="unknown_truths"):
        run(unknown_truths="ignore")
    with pytest.raises(InputError, match="truth_mask"):
        run(truth_mask=np.ones(3, bool))
    with pytest.raises(InputError, match="integers"):
        id_siap_metrics(t, ti, tp, t, ti + 1, tp, {0: 1}, np.array(["a"] * 4), association)
    with pytest.raises(InputError, match="association"):
        id_siap(t, ti, tp, t, ti + 2, tp, {0: "hostile"}, ok, association)  # names unknown track 1
