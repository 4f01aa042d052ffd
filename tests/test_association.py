"""Gating, cluster-wise GNN and JPDA marginals against brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from airpicture.tracking.association import gate_candidates, gnn_assign, jpda_weights, pair_clusters


# ----------------------------------------------------------------------------------------------- gating
def test_gate_candidates_matches_brute_force_scalar_and_per_track_radius():
    rng = np.random.default_rng(1)
    tracks = rng.uniform(0, 100, (60, 2))
    meas = rng.uniform(0, 100, (90, 2))
    dist = np.linalg.norm(tracks[:, None] - meas[None], axis=2)
    for radius in (7.5, rng.uniform(1, 20, 60)):
        ti, mj, d = gate_candidates(tracks, meas, radius, return_distance=True)
        r = np.broadcast_to(radius, (60,))
        want = set(zip(*np.nonzero(dist <= r[:, None])))
        assert set(zip(ti.tolist(), mj.tolist())) == want
        assert len(ti) == len(want)
        np.testing.assert_allclose(d, dist[ti, mj])


def test_gate_candidates_empty_and_3d():
    ti, mj = gate_candidates(np.zeros((0, 3)), np.ones((4, 3)), 1.0)
    assert ti.size == 0 and mj.size == 0
    ti, mj = gate_candidates(np.zeros((1, 3)), np.array([[0.5, 0, 0], [0, 0, 2.0]]), 1.0)
    assert ti.tolist() == [0] and mj.tolist() == [0]
    # A track with an infinite radius (no gate information) is skipped, not matched to everything.
    ti, mj = gate_candidates(np.zeros((2, 2)), np.zeros((3, 2)), np.array([np.nan, 1.0]))
    assert set(ti.tolist()) == {1}


# ----------------------------------------------------------------------------------------------- clusters
def test_pair_clusters_components():
    # Tracks 0,1 share meas 1; track 2 alone with meas 3; track 3 has no candidates.
    ti = np.array([0, 0, 1, 2])
    mj = np.array([0, 1, 1, 3])
    labels, n, track_label, meas_label = pair_clusters(4, 5, ti, mj)
    assert n == 2
    assert labels[0] == labels[1] == labels[2] != labels[3]
    assert track_label[3] == -1 and meas_label[2] == -1 and meas_label[4] == -1
    assert track_label[0] == track_label[1] == meas_label[0] == meas_label[1]


# ----------------------------------------------------------------------------------------------- GNN
def _brute_force_gnn(n_tracks, n_meas, pairs, miss):
    """Best total cost over every one-to-one assignment (tracks may stay unassigned at miss cost)."""
    cost = {(t, m): c for t, m, c in pairs}
    best = np.inf
    options = [[None] + [m for (t2, m) in cost if t2 == t] for t in range(n_tracks)]
    for combo in itertools.product(*options):
        used = [m for m in combo if m is not None]
        if len(used) != len(set(used)):
            continue
        total = sum(cost[(t, m)] if m is not None else miss[t] for t, m in enumerate(combo))
        best = min(best, total)
    return best


@st.composite
def _assignment_problem(draw):
    n_tracks = draw(st.integers(1, 5))
    n_meas = draw(st.integers(1, 5))
    all_pairs = [(t, m) for t in range(n_tracks) for m in range(n_meas)]
    chosen = draw(st.lists(st.sampled_from(all_pairs), unique=True, max_size=len(all_pairs)))
    costs = draw(st.lists(st.floats(-5, 20, allow_nan=False), min_size=len(chosen), max_size=len(chosen)))
    miss = draw(st.lists(st.floats(0, 15, allow_nan=False), min_size=n_tracks, max_size=n_tracks))
    return n_tracks, n_meas, [(t, m, c) for (t, m), c in zip(chosen, costs)], miss


@settings(max_examples=150, deadline=None)
@given(_assignment_problem())
def test_gnn_is_optimal_against_brute_force(problem):
    n_tracks, n_meas, pairs, miss = problem
    ti = np.array([p[0] for p in pairs], np.int64)
    mj = np.array([p[1] for p in pairs], np.int64)
    cost = np.array([p[2] for p in pairs])
    at, am = gnn_assign(n_tracks, n_meas, ti, mj, cost, miss_cost=np.array(miss))
    assert len(set(at.tolist())) == at.size and len(set(am.tolist())) == am.size
    lookup = {(t, m): c for t, m, c in pairs}
    assert all((t, m) in lookup for t, m in zip(at.tolist(), am.tolist()))
    assigned = dict(zip(at.tolist(), am.tolist()))
    total = sum(lookup[(t, assigned[t])] if t in assigned else miss[t] for t in range(n_tracks))
    assert total == pytest.approx(_brute_force_gnn(n_tracks, n_meas, pairs, miss), abs=1e-9)


@settings(max_examples=100, deadline=None)
@given(_assignment_problem())
def test_gnn_without_miss_cost_maximises_cardinality_then_cost(problem):
    n_tracks, n_meas, pairs, _ = problem
    ti = np.array([p[0] for p in pairs], np.int64)
    mj = np.array([p[1] for p in pairs], np.int64)
    cost = np.array([p[2] for p in pairs])
    at, am = gnn_assign(n_tracks, n_meas, ti, mj, cost)
    lookup = {(t, m): c for t, m, c in pairs}
    big = 1e6
    best = _brute_force_gnn(n_tracks, n_meas, pairs, [big] * n_tracks)
    total = sum(lookup[(t, m)] for t, m in zip(at.tolist(), am.tolist())) + big * (n_tracks - at.size)
    assert total == pytest.approx(best, abs=1e-6)


def test_gnn_contested_cluster_prefers_global_optimum_over_greedy():
    # Greedy would give meas 0 to track 0 (cost 1) and leave track 1 with meas 1 at cost 10: total 11.
    # Optimal: track 0 -> meas 1 (2), track 1 -> meas 0 (2): total 4.
    ti = np.array([0, 0, 1, 1])
    mj = np.array([0, 1, 0, 1])
    cost = np.array([1.0, 2.0, 2.0, 10.0])
    at, am = gnn_assign(2, 2, ti, mj, cost, miss_cost=50.0)
    assert dict(zip(at.tolist(), am.tolist())) == {0: 1, 1: 0}


def test_gnn_many_independent_clusters_in_bulk():
    # 1000 isolated track/measurement pairs plus one contested 2x2 cluster.
    n = 1000
    ti = np.r_[np.arange(n), n, n, n + 1, n + 1]
    mj = np.r_[np.arange(n), n, n + 1, n, n + 1]
    cost = np.r_[np.ones(n), 1.0, 2.0, 2.0, 10.0]
    at, am = gnn_assign(n + 2, n + 2, ti, mj, cost, miss_cost=100.0)
    assert at.size == n + 2
    np.testing.assert_array_equal(am[:n], np.arange(n))
    assert am[n] == n + 1 and am[n + 1] == n


def test_gnn_miss_cost_leaves_track_unassigned():
    at, am = gnn_assign(1, 1, np.array([0]), np.array([0]), np.array([9.0]), miss_cost=5.0)
    assert at.size == 0


# ----------------------------------------------------------------------------------------------- JPDA
def _brute_force_jpda(n_tracks, pairs, pd, pg, clutter):
    weights = {}
    options = [[None] + [(i, m) for i, (t2, m, _) in enumerate(pairs) if t2 == t] for t in range(n_tracks)]
    pair_beta = np.zeros(len(pairs))
    miss_beta = np.zeros(n_tracks)
    events = []
    for combo in itertools.product(*options):
        used = [o[1] for o in combo if o is not None]
        if len(used) != len(set(used)):
            continue
        w = 1.0
        for t, o in enumerate(combo):
            w *= (1 - pd * pg) if o is None else pd * pairs[o[0]][2] / clutter
        events.append((combo, w))
    total = sum(w for _, w in events)
    for combo, w in events:
        for t, o in enumerate(combo):
            if o is None:
                miss_beta[t] += w / total
            else:
                pair_beta[o[0]] += w / total
    del weights
    return pair_beta, miss_beta


@st.composite
def _jpda_problem(draw):
    n_tracks = draw(st.integers(1, 4))
    n_meas = draw(st.integers(1, 4))
    all_pairs = [(t, m) for t in range(n_tracks) for m in range(n_meas)]
    chosen = draw(st.lists(st.sampled_from(all_pairs), unique=True, min_size=1, max_size=len(all_pairs)))
    lik = draw(st.lists(st.floats(1e-4, 5.0), min_size=len(chosen), max_size=len(chosen)))
    return n_tracks, n_meas, [(t, m, l) for (t, m), l in zip(chosen, lik)]


@settings(max_examples=150, deadline=None)
@given(_jpda_problem())
def test_jpda_matches_brute_force_and_sums_to_one(problem):
    n_tracks, n_meas, pairs = problem
    pd, pg, clutter = 0.9, 0.99, 0.3
    ti = np.array([p[0] for p in pairs], np.int64)
    mj = np.array([p[1] for p in pairs], np.int64)
    lik = np.array([p[2] for p in pairs])
    pair_beta, miss_beta = jpda_weights(n_tracks, n_meas, ti, mj, lik, pd, pg, clutter)
    want_pair, want_miss = _brute_force_jpda(n_tracks, pairs, pd, pg, clutter)
    np.testing.assert_allclose(pair_beta, want_pair, atol=1e-12)
    np.testing.assert_allclose(miss_beta, want_miss, atol=1e-12)
    per_track = miss_beta.copy()
    np.add.at(per_track, ti, pair_beta)
    np.testing.assert_allclose(per_track, 1.0, atol=1e-12)


def test_jpda_large_cluster_fallback_is_close_to_exact():
    rng = np.random.default_rng(3)
    n_tracks, n_meas = 6, 7
    ti, mj = np.nonzero(rng.uniform(size=(n_tracks, n_meas)) < 0.6)
    lik = rng.uniform(0.05, 2.0, ti.size)
    exact = jpda_weights(n_tracks, n_meas, ti, mj, lik, 0.9, 0.99, 0.5)
    approx = jpda_weights(n_tracks, n_meas, ti, mj, lik, 0.9, 0.99, 0.5, max_events=1)
    per_track = approx[1].copy()
    np.add.at(per_track, ti, approx[0])
    np.testing.assert_allclose(per_track, 1.0, atol=1e-9)
    np.testing.assert_allclose(approx[0], exact[0], atol=0.05)
    np.testing.assert_allclose(approx[1], exact[1], atol=0.05)


def test_jpda_tracks_without_candidates_are_missed():
    pair_beta, miss_beta = jpda_weights(3, 1, np.array([1]), np.array([0]), np.array([1.0]), 0.9, 1.0, 1.0)
    assert miss_beta[0] == 1.0 and miss_beta[2] == 1.0
    assert pair_beta[0] + miss_beta[1] == pytest.approx(1.0)


def _dense_optimum(n_tracks, n_meas, ti, mj, cost, miss):
    """One global linear_sum_assignment over the whole (tracks x (meas + miss columns)) matrix."""
    from scipy.optimize import linear_sum_assignment

    big = 1e12
    matrix = np.full((n_tracks, n_meas + n_tracks), big)
    matrix[ti, mj] = cost
    matrix[np.arange(n_tracks), n_meas + np.arange(n_tracks)] = miss
    rows, cols = linear_sum_assignment(matrix)
    return float(matrix[rows, cols].sum())


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_cluster_decomposition_matches_one_global_assignment(seed):
    # Points on a line with small gates: many clusters of every size, solved together vs one dense problem.
    rng = np.random.default_rng(seed)
    n_tracks, n_meas = 60, 80
    tracks = rng.uniform(0, 100, (n_tracks, 1))
    meas = rng.uniform(0, 100, (n_meas, 1))
    ti, mj, d = gate_candidates(tracks, meas, 2.5, return_distance=True)
    cost = d**2 + rng.uniform(-1, 1, d.size)
    miss = rng.uniform(3, 7, n_tracks)
    at, am = gnn_assign(n_tracks, n_meas, ti, mj, cost, miss_cost=miss)
    lookup = dict(zip(zip(ti.tolist(), mj.tolist()), cost.tolist()))
    total = sum(lookup[(t, m)] for t, m in zip(at.tolist(), am.tolist()))
    total += miss[np.setdiff1d(np.arange(n_tracks), at)].sum()
    assert total == pytest.approx(_dense_optimum(n_tracks, n_meas, ti, mj, cost, miss), rel=1e-9, abs=1e-9)
    _, n_clusters, _, _ = pair_clusters(n_tracks, n_meas, ti, mj)
    assert n_clusters >= 1
