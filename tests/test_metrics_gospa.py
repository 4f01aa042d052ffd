"""GOSPA / OSPA: differential against Stone Soup 1.9.1, plus a brute-force dense reference and edge cases."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

import _metrics_stonesoup as peer
from airpicture.errors import InputError
from airpicture.metrics.gospa import gospa_sequence


def scene(rng, n_truth, n_track, n_times, dims=2, spread=2000.0, noise=150.0, p_keep=0.85):
    """Truths on random positions; tracks = noisy copies of some truths plus false ones."""
    times = np.arange(n_times) * 4.0
    truth_time = np.repeat(times, n_truth)
    truth_id = np.tile(np.arange(n_truth), n_times)
    truth_pos = rng.uniform(0.0, spread, (truth_time.size, dims))
    keep = rng.random(truth_time.size) < p_keep
    copy = rng.random(truth_time.size) < p_keep
    false_time = np.repeat(times, n_track)
    false_id = np.tile(np.arange(n_track) + 10_000, n_times)
    false_pos = rng.uniform(0.0, spread, (false_time.size, dims))
    false_keep = rng.random(false_time.size) < 0.3
    track_time = np.r_[truth_time[copy], false_time[false_keep]]
    track_id = np.r_[truth_id[copy] + 500, false_id[false_keep]]
    track_pos = np.r_[truth_pos[copy] + rng.normal(0.0, noise, (copy.sum(), dims)), false_pos[false_keep]]
    return truth_time[keep], truth_id[keep], truth_pos[keep], track_time, track_id, track_pos


def assert_matches_stonesoup(columns, c, p):
    ours = gospa_sequence(*columns, c=c, p=p)
    theirs = peer.gospa(*columns, c=c, p=p)
    assert ours.times.shape[0] == theirs.shape[0]
    np.testing.assert_array_equal(ours.times, theirs[:, 0])
    scale = c**p
    np.testing.assert_allclose(ours.total, theirs[:, 1], rtol=1e-9, atol=1e-9 * c)
    np.testing.assert_allclose(ours.localisation, theirs[:, 2], rtol=1e-9, atol=1e-9 * scale)
    np.testing.assert_allclose(ours.missed, theirs[:, 3], rtol=1e-12, atol=1e-9 * scale)
    np.testing.assert_allclose(ours.false, theirs[:, 4], rtol=1e-12, atol=1e-9 * scale)
    return ours


def dense_reference(columns, c, p):
    """GOSPA^p per time by one dense assignment on min(d, c)^p per time step (the textbook form)."""
    truth_time, _, truth_pos, track_time, _, track_pos = columns
    times = np.unique(np.r_[truth_time, track_time])
    out = []
    for t in times:
        x = truth_pos[truth_time == t]
        y = track_pos[track_time == t]
        if len(x) and len(y):
            d = np.linalg.norm(x[:, None, :] - y[None, :, :], axis=2)
            cost = np.minimum(d, c) ** p
            r, k = linear_sum_assignment(cost)
            value = cost[r, k].sum() + c**p / 2 * (len(x) + len(y) - 2 * len(r))
        else:
            value = c**p / 2 * (len(x) + len(y))
        out.append(value)
    return times, np.array(out)


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("dims", [2, 3])
def test_random_scenes_match_stonesoup(p, dims):
    rng = np.random.default_rng(10 * p + dims)
    # Dense enough (spread vs c) that many components are contested.
    columns = scene(rng, n_truth=25, n_track=8, n_times=6, dims=dims, spread=1500.0, noise=120.0)
    ours = assert_matches_stonesoup(columns, c=200.0, p=p)
    assert ours.n_assigned.sum() > 0


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_truth=st.integers(0, 7), n_track=st.integers(0, 7),
       p=st.sampled_from([1.0, 1.5, 2.0, 3.0]), c=st.sampled_from([50.0, 300.0, 5000.0]))
def test_property_matches_stonesoup(seed, n_truth, n_track, p, c):
    rng = np.random.default_rng(seed)
    columns = scene(rng, n_truth, n_track, n_times=3, spread=800.0, noise=100.0)
    if len(columns[0]) + len(columns[3]) == 0:
        return
    assert_matches_stonesoup(columns, c=c, p=p)


@pytest.mark.parametrize("p", [1, 2])
def test_crowded_scene_matches_dense_assignment(p):
    # Everything within c of everything: one large contested component per time step.
    rng = np.random.default_rng(3)
    columns = scene(rng, n_truth=60, n_track=30, n_times=4, spread=400.0, noise=80.0)
    ours = gospa_sequence(*columns, c=150.0, p=p)
    times, gospa_p = dense_reference(columns, c=150.0, p=p)
    np.testing.assert_array_equal(ours.times, times)
    np.testing.assert_allclose(ours.total**p, gospa_p, rtol=1e-9)
    np.testing.assert_allclose(ours.localisation + ours.missed + ours.false, gospa_p, rtol=1e-9)


def test_empty_truths_all_false():
    tracks = (np.array([0.0, 0.0, 4.0]), np.array([1, 2, 1]), np.array([[0.0, 0.0], [10.0, 0.0], [5.0, 5.0]]))
    truths = (np.zeros(0), np.zeros(0, int), np.zeros((0, 2)))
    ours = assert_matches_stonesoup((*truths, *tracks), c=100.0, p=1)
    np.testing.assert_array_equal(ours.false, [100.0, 50.0])
    np.testing.assert_array_equal(ours.missed, [0.0, 0.0])
    np.testing.assert_array_equal(ours.ospa, [100.0, 100.0])


def test_empty_tracks_all_missed():
    truths = (np.array([0.0, 4.0, 4.0]), np.array([1, 1, 2]), np.array([[0.0, 0.0, 0.0], [1.0, 0, 0], [2.0, 0, 0]]))
    tracks = (np.zeros(0), np.zeros(0, int), np.zeros((0, 3)))
    ours = assert_matches_stonesoup((*truths, *tracks), c=10.0, p=2)
    np.testing.assert_allclose(ours.missed, [50.0, 100.0])
    np.testing.assert_allclose(ours.total, np.sqrt([50.0, 100.0]))


def test_both_empty_gives_no_times_and_zero_summary():
    empty = (np.zeros(0), np.zeros(0, int), np.zeros((0, 2)))
    result = gospa_sequence(*empty, *empty, c=10.0, p=1)
    assert result.times.shape == (0,)
    assert result.summary() == {"total": 0.0, "localisation": 0.0, "missed": 0.0, "false": 0.0, "ospa": 0.0}


def test_tracks_beyond_cutoff_count_as_missed_and_false():
    truths = (np.zeros(2), np.array([1, 2]), np.array([[0.0, 0.0], [1000.0, 0.0]]))
    tracks = (np.zeros(2), np.array([7, 8]), np.array([[0.0, 100.0], [1000.0, -150.0]]))  # 100 m = c, 150 m > c
    ours = assert_matches_stonesoup((*truths, *tracks), c=100.0, p=1)
    assert ours.n_assigned.tolist() == [0]
    assert ours.localisation.tolist() == [0.0]
    assert ours.total.tolist() == [200.0]


def test_ties_give_the_same_cost_as_stonesoup():
    # Two truths and three tracks on a square grid: several assignments share the optimal cost.
    truths = (np.zeros(2), np.array([1, 2]), np.array([[0.0, 0.0], [10.0, 0.0]]))
    tracks = (np.zeros(3), np.array([1, 2, 3]), np.array([[5.0, 0.0], [5.0, 5.0], [15.0, 0.0]]))
    for p in (1, 2):
        ours = assert_matches_stonesoup((*truths, *tracks), c=20.0, p=p)
        assert ours.n_assigned.tolist() == [2]


def test_time_only_in_tracks_is_evaluated():
    truths = (np.array([0.0]), np.array([1]), np.array([[0.0, 0.0]]))
    tracks = (np.array([0.0, 1.0]), np.array([5, 5]), np.array([[3.0, 4.0], [0.0, 0.0]]))
    ours = assert_matches_stonesoup((*truths, *tracks), c=10.0, p=1)
    np.testing.assert_allclose(ours.total, [5.0, 5.0])
    np.testing.assert_allclose(ours.summary()["total"], 5.0)
    assert ours.pair_truth_row.tolist() == [0] and ours.pair_track_row.tolist() == [0]
    np.testing.assert_allclose(ours.pair_distance, [5.0])


@pytest.mark.parametrize("c", [100.0, 1000.0])
def test_ospa_matches_stonesoup_for_p1_and_is_optimal_for_p2(c):
    rng = np.random.default_rng(5)
    columns = scene(rng, n_truth=15, n_track=6, n_times=5, spread=1200.0, noise=150.0)
    ours = gospa_sequence(*columns, c=c, p=1)
    theirs = peer.ospa(*columns, c=c, p=1)
    np.testing.assert_allclose(ours.ospa, theirs[:, 1], rtol=1e-9)
    # For p != 1 Stone Soup optimises the un-powered sum, so it can only be >= the true OSPA.
    ours2 = gospa_sequence(*columns, c=c, p=2)
    theirs2 = peer.ospa(*columns, c=c, p=2)
    assert np.all(ours2.ospa <= theirs2[:, 1] + 1e-9)


def test_summary_is_mean_of_per_time_values():
    rng = np.random.default_rng(8)
    columns = scene(rng, n_truth=10, n_track=4, n_times=5)
    result = gospa_sequence(*columns, c=300.0, p=2)
    summary = result.summary()
    assert summary["total"] == pytest.approx(result.total.mean())
    assert summary["missed"] == pytest.approx(result.missed.mean())
    assert set(summary) == {"total", "localisation", "missed", "false", "ospa"}


def test_non_finite_rows_ignored_and_last_duplicate_kept():
    truths = (np.array([0.0, 0.0]), np.array([1, 2]), np.array([[0.0, 0.0], [np.nan, np.nan]]))
    tracks = (np.array([0.0, 0.0]), np.array([3, 3]), np.array([[50.0, 0.0], [1.0, 0.0]]))
    result = gospa_sequence(*truths, *tracks, c=10.0, p=1)
    assert result.n_truth.tolist() == [1] and result.n_tracks.tolist() == [1]
    assert result.total.tolist() == [1.0]
    assert result.pair_track_row.tolist() == [1]


@pytest.mark.parametrize("kwargs, field", [
    ({"c": 0.0}, "c"), ({"c": np.inf}, "c"), ({"p": 0.5}, "p"), ({"p": np.inf}, "p"), ({"alpha": 1.0}, "alpha"),
])
def test_bad_parameters_raise_input_error(kwargs, field):
    one = (np.zeros(1), np.zeros(1, int), np.zeros((1, 2)))
    args = {"c": 10.0, "p": 1.0} | kwargs
    with pytest.raises(InputError) as err:
        gospa_sequence(*one, *one, **args)
    assert err.value.field == field


def test_mismatched_shapes_raise_input_error():
    with pytest.raises(InputError):
        gospa_sequence(np.zeros(2), np.zeros(2, int), np.zeros((3, 2)), np.zeros(1), np.zeros(1, int),
                       np.zeros((1, 2)), c=1.0, p=1)
    with pytest.raises(InputError):
        gospa_sequence(np.zeros(1), np.zeros(1, int), np.zeros((1, 2)), np.zeros(1), np.zeros(1, int),
                       np.zeros((1, 3)), c=1.0, p=1)
