"""CartesianTracker: confirmation timing, stable numbers, crossing targets in clutter, coasting/deletion, 3-D, JPDA."""

from __future__ import annotations

import numpy as np
import pytest

from airpicture.metrics.gospa import gospa_sequence
from airpicture.tracking.cartesian import CartesianTracker, chi2_quantile
from airpicture.tracking.management import COASTING, CONFIRMED


def _straight(p0, v, times):
    return np.asarray(p0, float)[None, :] + np.asarray(times, float)[:, None] * np.asarray(v, float)[None, :]


def _crossing_scenario(seed, n_scans=20, dt=4.0, sigma=30.0, clutter_per_scan=20, pd=1.0):
    """Two targets whose paths cross at 90 degrees near the middle scan (1 s apart, so that "which is which" stays
    defined), plus uniform clutter over a 40 x 40 km box."""
    rng = np.random.default_rng(seed)
    times = np.arange(n_scans) * dt
    mid = times[n_scans // 2]
    v_a, v_b = np.array([200.0, 0.0]), np.array([0.0, 150.0])
    truth = np.stack([_straight(-v_a * mid, v_a, times), _straight(-v_b * (mid + 1.0), v_b, times)], axis=1)
    scans = []
    for k, t in enumerate(times):
        seen = rng.uniform(size=2) < pd
        z = truth[k][seen] + rng.normal(0, sigma, (int(seen.sum()), 2))
        clutter = rng.uniform(-20_000, 20_000, (rng.poisson(clutter_per_scan), 2))
        scans.append((t, np.concatenate([z, clutter])))
    return times, truth, scans


def test_single_target_confirms_on_third_scan_and_estimates_velocity():
    tracker = CartesianTracker(dim=2, sigma_m=10.0, q=0.1)
    times = np.arange(10) * 2.0
    truth = _straight([1000.0, -500.0], [120.0, 80.0], times)
    rng = np.random.default_rng(0)
    reports = [tracker.step(t, p[None, :] + rng.normal(0, 10.0, (1, 2))) for t, p in zip(times, truth)]
    assert [len(r) for r in reports[:3]] == [0, 0, 1]
    assert all(len(r) == 1 for r in reports[2:])
    assert len({int(r.track_id[0]) for r in reports[2:]}) == 1
    last = reports[-1]
    assert np.linalg.norm(last.position[0] - truth[-1]) < 30.0
    assert np.linalg.norm(last.velocity[0] - [120.0, 80.0]) < 10.0
    assert last.status[0] == CONFIRMED


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_crossing_targets_in_clutter_keep_their_numbers(seed):
    times, truth, scans = _crossing_scenario(seed)
    tracker = CartesianTracker(dim=2, sigma_m=30.0, q=0.2)
    for t, z in scans:
        tracker.step(t, z)
    h = tracker.history()
    # For each truth, the id of the nearest confirmed track at every scan from the 4th on must be one number.
    for target in range(2):
        ids = []
        for k, t in enumerate(times[3:], start=3):
            rows = np.flatnonzero(h["time"] == t)
            d = np.linalg.norm(h["position"][rows] - truth[k, target], axis=1)
            assert d.min() < 150.0, f"target {target} lost at scan {k}"
            ids.append(int(h["track_id"][rows[np.argmin(d)]]))
        assert len(set(ids)) == 1
    g = gospa_sequence(np.repeat(times, 2), np.tile([0, 1], times.size), truth.reshape(-1, 2),
                       h["time"], h["track_id"], h["position"], c=500.0, p=1.0)
    # After confirmation: no false tracks at most scans, localisation of the order of sigma.
    assert np.mean(g.false[3:] == 0) >= 0.9
    assert np.mean(g.localisation[3:] / 2) < 60.0


def test_lost_target_coasts_then_is_deleted_and_numbers_are_not_reused():
    tracker = CartesianTracker(dim=2, sigma_m=10.0, q=0.1, delete_after=3)
    times = np.arange(12) * 1.0
    truth = _straight([0.0, 0.0], [100.0, 0.0], times)
    statuses, counts, ids = [], [], set()
    for k, (t, p) in enumerate(zip(times, truth)):
        points = p[None, :] if k < 5 or k >= 9 else np.zeros((0, 2))
        r = tracker.step(t, points)
        counts.append(len(r))
        statuses.append(r.status.tolist())
        ids.update(r.track_id.tolist())
    # Confirmed at scans 2-4, coasting at 5, 6, deleted on the third miss (scan 7), nothing at 8,
    # then a new track (new number) confirmed at 11 after the target comes back at 9.
    assert counts == [0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1]
    assert statuses[5] == [COASTING] and statuses[6] == [COASTING]
    assert len(ids) == 2


def test_three_dimensional_tracking_with_per_detection_sigmas():
    rng = np.random.default_rng(5)
    times = np.arange(8) * 5.0
    truth = _straight([0.0, 0.0, 3000.0], [150.0, -50.0, 5.0], times)
    tracker = CartesianTracker(dim=3, sigma_m=100.0, q=0.1)
    sig = np.array([[20.0, 20.0, 60.0]])
    for t, p in zip(times, truth):
        r = tracker.step(t, p[None, :] + rng.normal(0, 1, (1, 3)) * sig, sigmas=sig)
    assert len(r) == 1
    # The filter used the 20 m horizontal sigma, not the 100 m default.
    assert np.all(r.position_std[0, :2] < 25.0)
    assert np.linalg.norm(r.position[0] - truth[-1]) < 150.0


def test_jpda_tracks_crossing_targets():
    times, truth, scans = _crossing_scenario(7, clutter_per_scan=10)
    tracker = CartesianTracker(dim=2, sigma_m=30.0, q=0.2, association="jpda", pd=0.95)
    for t, z in scans:
        r = tracker.step(t, z)
    d = np.linalg.norm(r.position[:, None, :] - truth[-1][None, :, :], axis=2)
    assert np.all(d.min(axis=0) < 150.0)


def test_two_sensors_at_the_same_time_do_not_duplicate_or_kill_tracks():
    rng = np.random.default_rng(9)
    times = np.arange(6) * 4.0
    truth = _straight([0.0, 0.0], [200.0, 0.0], times)
    tracker = CartesianTracker(dim=2, sigma_m=20.0, q=0.1)
    for t, p in zip(times, truth):
        tracker.step(t, p[None, :] + rng.normal(0, 20, (1, 2)))  # sensor A
        r = tracker.step(t, p[None, :] + rng.normal(0, 20, (1, 2)))  # sensor B, same time
    assert len(r) == 1


def test_rejects_bad_input():
    tracker = CartesianTracker()
    tracker.step(10.0, np.zeros((1, 2)))
    with pytest.raises(ValueError):
        tracker.step(5.0, np.zeros((1, 2)))
    with pytest.raises(ValueError):
        tracker.step(11.0, np.array([[np.nan, 0.0]]))
    with pytest.raises(ValueError):
        CartesianTracker(dim=4)
    with pytest.raises(ValueError):
        CartesianTracker(association="mht")


def test_chi2_quantile_matches_scipy():
    from scipy.stats import chi2

    for dof in (1, 2, 3, 4, 5, 6, 7, 9):
        for p in (0.5, 0.9, 0.99, 0.999, 0.9995):
            assert chi2_quantile(p, dof) == pytest.approx(chi2.ppf(p, dof), rel=1e-9)


def test_clutter_does_not_explode_candidate_tracks():
    # Pure clutter at the benchmark density (2 per 100 km^2): the live table stays proportional to the clutter.
    rng = np.random.default_rng(11)
    side = 300_000.0
    n_clutter = int(2 * side * side / 100e6)
    tracker = CartesianTracker(dim=2, sigma_m=50.0, q=0.2)
    sizes = []
    for k in range(8):
        tracker.step(4.0 * k, rng.uniform(0, side, (n_clutter, 2)))
        sizes.append(len(tracker.table))
    assert max(sizes) < 0.5 * n_clutter


@pytest.mark.parametrize("association", ["gnn", "jpda"])
def test_score_confirmation_confirms_targets_and_rarely_clutter(association):
    times, truth, scans = _crossing_scenario(13, clutter_per_scan=40)
    area = 40_000.0**2
    tracker = CartesianTracker(dim=2, sigma_m=30.0, q=0.2, association=association, confirm=(3, 6), pd=0.95,
                               clutter_density=40 / area, score_thresholds=(np.log(1000.0), np.log(0.1)))
    for t, z in scans:
        r = tracker.step(t, z)
    d = np.linalg.norm(r.position[:, None, :] - truth[-1][None, :, :], axis=2)
    assert np.all(d.min(axis=0) < 150.0)  # both targets confirmed
    assert len(r) <= 3  # at most one clutter-born track alive at the end
    assert np.all(tracker.table.score[tracker.table.active_slots(CONFIRMED)] > 0)
