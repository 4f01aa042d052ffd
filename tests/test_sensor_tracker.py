"""The multi-sensor tracker on simulated plots: accuracy at long range, fusion, EO, management."""

import numpy as np
import pytest
from scipy.stats import chi2

from airpicture import geo
from airpicture.errors import InputError
from airpicture.measurements import MeasurementBatch
from airpicture.tracking.filters import up_vectors
from airpicture.tracking.sensor_tracker import SensorTracker, TrackerConfig
from airpicture.tracks import CONFIRMED, COASTING, TENTATIVE

from _tracker_sim import DEG, eo_site, great_circle_truth, radar_site, simulate_eo, simulate_radar


def _run(tracker, batch, t_end, step, states=None):
    """Feed the batch in slices of `step` seconds; snapshot at each slice end."""
    snaps = []
    for t in np.arange(step, t_end + 1e-9, step):
        tracker.process(batch.take((batch.time >= t - step) & (batch.time < t)))
        snaps.append(tracker.snapshot(float(t)))
    return snaps


def _firm(snap):
    return snap.take((snap.status == CONFIRMED) | (snap.status == COASTING))


def _errors_to_truth(snap, state):
    """Per firm track: position error to the nearest truth, and that truth's index."""
    pos, _ = state(snap.time[0])
    d = np.linalg.norm(snap.position[:, None] - pos[None], axis=2)
    idx = np.argmin(d, axis=1)
    return snap.position - pos[idx], idx


# --------------------------------------------------------------------------- configuration

def test_config_from_dict_sets_values_and_rejects_unknown_keys():
    cfg = TrackerConfig.from_dict({"confirm": "2/3", "delete_after": 5, "association": "JPDA",
                                   "accel_psd_vertical": 0.1})
    assert (cfg.confirm, cfg.delete_after_misses, cfg.association, cfg.accel_psd_vertical) == ("2/3", 5, "jpda", 0.1)
    with pytest.raises(InputError) as err:
        TrackerConfig.from_dict({"confirm_rule": "3/4"}, source="demo.toml")
    assert "tracker.confirm_rule" in str(err.value) and "demo.toml" in str(err.value)
    for bad in ({"confirm": "5/3"}, {"gate_probability": 1.5}, {"motion": "ukf"}, {"delete_after_misses": 2.5},
                {"imm_transition": [[0.5, 0.6], [0.1, 0.9]]}, {"accel_psd_horizontal": "fast"}):
        with pytest.raises(InputError):
            TrackerConfig.from_dict(bad)


# --------------------------------------------------------------------------- long range

@pytest.fixture(scope="module")
def long_range_run():
    """40 targets 600 km from a hill-top 3D radar, 10 s scans, 400 s."""
    rng = np.random.default_rng(11)
    site = radar_site("lr", 45.0, 10.0, 2000.0, scan_period_s=10.0, range_max_m=700e3,
                      sigma_range_m=50.0, sigma_azimuth_rad=0.1 * DEG, sigma_elevation_rad=0.2 * DEG)
    n = 40
    bearing = np.linspace(0, 2 * np.pi, n, endpoint=False)
    lat, lon = geo.destination(site.lat_rad, site.lon_rad, bearing, 600e3)
    state = great_circle_truth(lat / DEG, lon / DEG, rng.uniform(0, 360, n), 230.0, 12000.0)
    batch = simulate_radar(site, state, 400.0, rng)
    # The truth flies straight at constant speed: the matched filter is CV with little process noise.
    matched = TrackerConfig(motion="cv", accel_psd_horizontal=0.05, accel_psd_vertical=0.05)
    snaps = _run(SensorTracker([site], matched), batch, 400.0, 10.0)
    imm_snaps = _run(SensorTracker([site], TrackerConfig()), batch, 400.0, 10.0)
    return site, state, snaps, imm_snaps


def _nees_per_scan(snaps, state, n):
    out = []
    for snap in snaps[12:]:
        firm = _firm(snap)
        err, _ = _errors_to_truth(firm, state)
        out.append(np.mean(np.einsum("ki,kij,kj->k", err, np.linalg.inv(firm.position_cov), err)))
    return np.array(out)


def test_target_600_km_away_is_tracked_without_bias_and_consistently(long_range_run):
    site, state, snaps, _ = long_range_run
    n = 40
    nees_mean, enu_err = [], []
    for snap in snaps[12:]:  # after the first two minutes
        firm = _firm(snap)
        assert len(firm) == n  # one track per target, no extras
        err, idx = _errors_to_truth(firm, state)
        assert np.unique(idx).size == n
        cov_inv = np.linalg.inv(firm.position_cov)
        nees_mean.append(np.mean(np.einsum("ki,kij,kj->k", err, cov_inv, err)))
        # errors in each target's own local frame (east, north, up)
        up = up_vectors(firm.position)
        east = np.cross([0.0, 0.0, 1.0], up)
        east /= np.linalg.norm(east, axis=1, keepdims=True)
        north = np.cross(up, east)
        enu_err.append(np.column_stack([np.sum(err * east, 1), np.sum(err * north, 1), np.sum(err * up, 1)]))
    nees_mean = np.array(nees_mean)
    lo, hi = chi2.ppf([0.005, 0.995], 3 * n) / n
    inside = np.mean((nees_mean > lo) & (nees_mean < hi))
    assert inside >= 0.85, (nees_mean.round(2), lo, hi)
    assert 2.4 < nees_mean.mean() < 3.6
    # no bias: the mean error is within 4 standard errors of zero in each local axis
    e = np.concatenate(enu_err)
    assert np.all(np.abs(e.mean(axis=0)) < 4 * e.std(axis=0) / np.sqrt(e.shape[0] / 5))


def test_imm_at_600_km_is_not_overconfident(long_range_run):
    site, state, _, imm_snaps = long_range_run
    assert all(len(_firm(s)) == 40 for s in imm_snaps[12:])
    nees = _nees_per_scan(imm_snaps, state, 40)
    # the CV/CT mixture is conservative on straight flight, never optimistic
    assert nees.mean() < chi2.ppf(0.995, 3 * 40) / 40


# --------------------------------------------------------------------------- fusion

def _rmse_horizontal(snaps, state, skip):
    sq = []
    for snap in snaps[skip:]:
        firm = _firm(snap)
        err, _ = _errors_to_truth(firm, state)
        up = up_vectors(firm.position)
        eh = err - np.sum(err * up, axis=1, keepdims=True) * up
        sq.append(np.sum(eh**2, axis=1))
    return np.sqrt(np.mean(np.concatenate(sq)))


def test_asynchronous_two_radar_fusion_beats_either_radar():
    rng = np.random.default_rng(3)
    n = 12
    state = great_circle_truth(np.linspace(50.0, 50.4, n), np.linspace(4.0, 4.6, n), rng.uniform(0, 360, n),
                               200.0, 6000.0)
    a = radar_site("a", 49.6, 3.5, 50.0, index=0, scan_period_s=4.0)
    b = radar_site("b", 50.5, 5.3, 50.0, index=1, scan_period_s=5.0, start_azimuth_rad=1.0)
    meas_a = simulate_radar(a, state, 200.0, rng)
    meas_b = simulate_radar(b, state, 200.0, rng)
    meas_b.sensor[:] = 1
    single = _rmse_horizontal(_run(SensorTracker([a], TrackerConfig()), meas_a, 200.0, 10.0), state, 5)
    both_batch = MeasurementBatch.concatenate([meas_a, meas_b]).sorted_by_time()
    fused_snaps = _run(SensorTracker([a, b], TrackerConfig()), both_batch, 200.0, 10.0)
    fused = _rmse_horizontal(fused_snaps, state, 5)
    assert fused < 0.8 * single, (fused, single)
    assert all(len(_firm(s)) == n for s in fused_snaps[5:])


# --------------------------------------------------------------------------- EO

def _eo_scene(rng):
    n = 4
    state = great_circle_truth(np.full(n, 43.3) + np.arange(n) * 0.02, np.full(n, 5.3), [90, 100, 80, 95],
                               150.0, 2000.0)
    radar = radar_site("sr", 43.1, 5.0, 20.0, index=0, scan_period_s=2.0, sigma_azimuth_rad=0.3 * DEG,
                       sigma_elevation_rad=0.5 * DEG)
    eo = eo_site("eo", 43.33, 5.35, 10.0, index=1, range_max_m=20e3)
    return n, state, radar, eo


def test_eo_bearings_reduce_the_error():
    rng = np.random.default_rng(5)
    n, state, radar, eo = _eo_scene(rng)
    plots = simulate_radar(radar, state, 90.0, rng)
    bearings = simulate_eo(eo, state, 90.0, rng)
    bearings.sensor[:] = 1
    radar_only = _run(SensorTracker([radar, eo], TrackerConfig()), plots, 90.0, 2.0)
    both = MeasurementBatch.concatenate([plots, bearings]).sorted_by_time()
    with_eo = _run(SensorTracker([radar, eo], TrackerConfig()), both, 90.0, 2.0)
    e_radar = _rmse_horizontal(radar_only, state, 15)
    e_eo = _rmse_horizontal(with_eo, state, 15)
    assert e_eo < 0.7 * e_radar, (e_eo, e_radar)
    assert all(len(_firm(s)) == n for s in with_eo[15:])


def test_eo_bearings_never_create_tracks():
    rng = np.random.default_rng(6)
    n, state, radar, eo = _eo_scene(rng)
    bearings = simulate_eo(eo, state, 30.0, rng, extra_bearings=3)
    bearings.sensor[:] = 1
    tracker = SensorTracker([radar, eo], TrackerConfig())
    tracker.process(bearings)
    assert len(tracker) == 0
    assert len(tracker.snapshot(30.0)) == 0


# --------------------------------------------------------------------------- management

def test_track_numbers_stay_stable_through_a_crossing():
    rng = np.random.default_rng(7)
    site = radar_site("sr", 43.0, 5.0, 20.0, scan_period_s=1.0, sigma_azimuth_rad=0.1 * DEG)
    centre_lat, centre_lon = geo.destination(site.lat_rad, site.lon_rad, 0.5, 25e3)
    # Two targets crossing the same point at the same time and height, 60 deg apart.
    starts = [geo.destination(centre_lat, centre_lon, np.pi + h, 200.0 * 60) for h in (0.0, np.pi / 3)]
    state = great_circle_truth([s[0] / DEG for s in starts], [s[1] / DEG for s in starts], [0.0, 60.0],
                               200.0, 3000.0)
    plots = simulate_radar(site, state, 120.0, rng, pd=0.95)
    snaps = _run(SensorTracker([site], TrackerConfig()), plots, 120.0, 1.0)
    ids = {0: set(), 1: set()}
    for snap in snaps[10:]:
        firm = _firm(snap)
        pos, _ = state(snap.time[0])
        if np.linalg.norm(pos[0] - pos[1]) < 1000.0:
            continue  # at the crossing itself "nearest track" says nothing
        for k in (0, 1):
            d = np.linalg.norm(firm.position - pos[k], axis=1)
            ids[k].add(int(firm.track_id[np.argmin(d)]))
    assert len(ids[0]) == 1 and len(ids[1]) == 1 and ids[0] != ids[1], ids


def test_clutter_does_not_make_confirmed_tracks():
    rng = np.random.default_rng(8)
    site = radar_site("lr", 45.0, 10.0, 30.0, scan_period_s=10.0, false_alarms_per_scan=20.0)
    state = great_circle_truth([45.5], [10.5], [90.0], 200.0, 8000.0)
    plots = simulate_radar(site, state, 600.0, rng, clutter_per_scan=20.0)
    tracker = SensorTracker([site], TrackerConfig())
    false_confirmed = set()
    for snap in _run(tracker, plots, 600.0, 10.0):
        firm = _firm(snap)
        pos, _ = state(snap.time[0])
        far = np.linalg.norm(firm.position - pos[0], axis=1) > 5000.0
        false_confirmed |= set(firm.track_id[far].tolist())
    # 60 scans x 20 false plots: at most one false track gets through 3-of-4 confirmation
    assert len(false_confirmed) <= 1, false_confirmed
    assert tracker.table.next_track_id > 500  # clutter did start (and drop) many tentative tracks


def test_a_track_outside_a_sensors_coverage_is_not_charged_misses_by_it():
    rng = np.random.default_rng(9)
    lr = radar_site("lr", 45.0, 10.0, 30.0, index=0, scan_period_s=10.0)
    sr = radar_site("sr", 45.0, 10.0, 30.0, index=1, scan_period_s=1.0, range_max_m=40e3)
    near_lat, near_lon = geo.destination(lr.lat_rad, lr.lon_rad, 1.0, 20e3)
    far_lat, far_lon = geo.destination(lr.lat_rad, lr.lon_rad, 2.0, 120e3)
    state = great_circle_truth([near_lat / DEG, far_lat / DEG], [near_lon / DEG, far_lon / DEG], [0.0, 180.0],
                               150.0, 3000.0)
    # The long-range radar sees the far target only; the short-range one sees the near one.
    far_only = lambda t: tuple(a[1:] for a in state(np.broadcast_to(t, (2,))))  # noqa: E731
    near_only = lambda t: tuple(a[:1] for a in state(np.broadcast_to(t, (2,))))  # noqa: E731
    plots = MeasurementBatch.concatenate([simulate_radar(lr, far_only, 120.0, rng),
                                          simulate_radar(sr, near_only, 120.0, rng)])
    plots.sensor[len(simulate_radar(lr, far_only, 120.0, np.random.default_rng(0))):] = 1
    tracker = SensorTracker([lr, sr], TrackerConfig())
    snaps = _run(tracker, plots.sorted_by_time(), 120.0, 10.0)
    far_pos, _ = state(120.0)
    firm = _firm(snaps[-1])
    d = np.linalg.norm(firm.position - far_pos[1], axis=1)
    assert d.min() < 3000.0
    assert firm.status[np.argmin(d)] == CONFIRMED
    assert len(firm) == 2


def test_two_dimensional_radar_tracks_horizontally():
    rng = np.random.default_rng(10)
    site = radar_site("2d", 45.0, 10.0, 30.0, scan_period_s=5.0, dimension=2)
    n = 6
    state = great_circle_truth(45.3 + 0.1 * np.arange(n), np.full(n, 10.4), np.full(n, 45.0), 220.0, 5000.0)
    plots = simulate_radar(site, state, 150.0, rng)
    assert np.all(np.isnan(plots.values[:, 2]))
    snaps = _run(SensorTracker([site], TrackerConfig(assumed_altitude_m=4000.0)), plots, 150.0, 5.0)
    assert all(len(_firm(s)) == n for s in snaps[8:])
    # The unknown height costs little horizontally: compare with the same radar measuring elevation.
    site3 = radar_site("3d", 45.0, 10.0, 30.0, scan_period_s=5.0, dimension=3)
    plots3 = simulate_radar(site3, state, 150.0, np.random.default_rng(10))
    snaps3 = _run(SensorTracker([site3], TrackerConfig()), plots3, 150.0, 5.0)
    assert _rmse_horizontal(snaps, state, 10) < 1.5 * _rmse_horizontal(snaps3, state, 10)
    # and the height stays near the assumption instead of wandering off
    _, _, alt = geo.ecef_to_geodetic(_firm(snaps[-1]).position)
    assert np.all(np.abs(alt - 4000.0) < 3000.0)


def test_range_rate_initiates_the_radial_velocity():
    site = radar_site("rr", 45.0, 10.0, 30.0, sigma_range_rate_mps=1.0)
    state = great_circle_truth([45.5], [10.0], [0.0], 300.0, 5000.0)  # flying away from the radar
    plots = simulate_radar(site, state, 4.0, np.random.default_rng(1))
    tracker = SensorTracker([site], TrackerConfig())
    tracker.process(plots)
    snap = tracker.snapshot(float(plots.time[0]))
    los = snap.position[0] - site.ecef
    los /= np.linalg.norm(los)
    assert snap.velocity[0] @ los == pytest.approx(plots.values[0, 3], abs=3.0)
    assert snap.status[0] == TENTATIVE


def test_snapshot_does_not_change_the_tracks():
    rng = np.random.default_rng(12)
    site = radar_site("r", 45.0, 10.0, 30.0)
    state = great_circle_truth([45.2, 45.3], [10.1, 10.2], [10.0, 200.0], 200.0, 5000.0)
    plots = simulate_radar(site, state, 60.0, rng)
    a, b = SensorTracker([site]), SensorTracker([site])
    a.process(plots.take(plots.time < 30))
    b.process(plots.take(plots.time < 30))
    s1 = a.snapshot(45.0)
    a.snapshot(100.0)
    s2 = a.snapshot(45.0)
    np.testing.assert_array_equal(s1.position, s2.position)
    a.process(plots.take(plots.time >= 30))
    b.process(plots.take(plots.time >= 30))
    np.testing.assert_array_equal(a.snapshot(60.0).position, b.snapshot(60.0).position)


def test_jpda_option_tracks_in_clutter():
    rng = np.random.default_rng(13)
    site = radar_site("r", 45.0, 10.0, 30.0, scan_period_s=2.0, range_max_m=60e3, false_alarms_per_scan=10.0)
    n = 5
    state = great_circle_truth(45.1 + 0.05 * np.arange(n), np.full(n, 10.1), np.full(n, 90.0), 200.0, 4000.0)
    plots = simulate_radar(site, state, 80.0, rng, pd=0.9, clutter_per_scan=10.0)
    snaps = _run(SensorTracker([site], TrackerConfig(association="jpda")), plots, 80.0, 2.0)
    final = _firm(snaps[-1])
    err, idx = _errors_to_truth(final, state)
    good = np.linalg.norm(err, axis=1) < 500.0
    assert np.unique(idx[good]).size == n
    assert np.count_nonzero(~good) == 0


def test_bird_class_hint_for_slow_low_erratic_tracks():
    rng = np.random.default_rng(14)
    site = radar_site("sr", 45.0, 10.0, 30.0, scan_period_s=1.0, sigma_azimuth_rad=0.1 * DEG)
    # A wandering bird (heading random walk) and a steady fast aircraft, both low.
    dt = 0.1
    t_grid = np.arange(0, 200.0 + dt, dt)
    heading = np.cumsum(rng.normal(0, 0.35 * np.sqrt(dt), t_grid.size))
    bird_en = np.cumsum(12.0 * dt * np.column_stack([np.sin(heading), np.cos(heading)]), axis=0)
    start = site.to_enu(geo.geodetic_to_ecef(*geo.destination(site.lat_rad, site.lon_rad, 0.7, 8e3), 300.0))

    def state(t):
        t = np.broadcast_to(np.asarray(t, float), (2,))
        pos = np.zeros((2, 3))
        vel = np.zeros((2, 3))
        i = np.clip((t[0] / dt).astype(int), 0, t_grid.size - 2)
        en = bird_en[i] + (bird_en[i + 1] - bird_en[i]) * (t[0] / dt - i)
        pos[0] = site.to_ecef(start + [en[0], en[1], 0.0])
        vel[0] = geo.enu_vectors_to_ecef(np.r_[(bird_en[i + 1] - bird_en[i]) / dt, 0.0], site.rotation)
        pos[1] = site.to_ecef(start + [-3000.0 + 150.0 * t[1], 2000.0, 0.0])
        vel[1] = geo.enu_vectors_to_ecef(np.array([150.0, 0.0, 0.0]), site.rotation)
        return pos, vel

    plots = simulate_radar(site, state, 200.0, rng)
    snaps = _run(SensorTracker([site], TrackerConfig()), plots, 200.0, 10.0)
    last = _firm(snaps[-1])
    pos, _ = state(200.0)
    bird = np.argmin(np.linalg.norm(last.position - pos[0], axis=1))
    plane = np.argmin(np.linalg.norm(last.position - pos[1], axis=1))
    assert last.track_class[bird] == "bird"
    assert last.track_class[plane] == "unknown"


def test_drone_flying_legs_is_no_bird_after_one_held_leg_and_stays_so_through_its_corners():
    """The bird hint's presumption ends once a slow low track holds a course (bird_release_s); turns always the
    same way (a drone's loop) do not bring it back, while a wandering flock (turning both ways) stays a bird."""
    rng = np.random.default_rng(15)
    # a short-range radar like the demo's (1 s, 15 m, 1 m/s range rate): a 50 m range sigma leaves an 8 m/s
    # target's heading unknown
    site = radar_site("sr", 45.0, 10.0, 30.0, scan_period_s=1.0, sigma_azimuth_rad=0.1 * DEG, sigma_range_m=15.0,
                      sigma_range_rate_mps=1.0)
    dt = 0.1
    t_grid = np.arange(0, 240.0 + dt, dt)
    # drone: 8 m/s, a square loop of 50 s legs (right turns of 90 deg at 45 deg/s)
    turn = np.where(np.mod(t_grid, 52.0) >= 50.0, 45.0 * DEG * dt, 0.0)
    drone_heading = np.cumsum(turn)
    drone_en = np.cumsum(8.0 * dt * np.column_stack([np.sin(drone_heading), np.cos(drone_heading)]), axis=0)
    bird_heading = np.cumsum(rng.normal(0, 0.35 * np.sqrt(dt), t_grid.size))
    bird_en = np.cumsum(12.0 * dt * np.column_stack([np.sin(bird_heading), np.cos(bird_heading)]), axis=0)
    starts = [site.to_enu(geo.geodetic_to_ecef(*geo.destination(site.lat_rad, site.lon_rad, b, 6e3), 80.0))
              for b in (0.7, 2.5)]

    def state(t):
        t = np.broadcast_to(np.asarray(t, float), (2,))
        pos, vel = np.zeros((2, 3)), np.zeros((2, 3))
        for k, en_all in enumerate((drone_en, bird_en)):
            i = int(np.clip(t[k] / dt, 0, t_grid.size - 2))
            en = en_all[i] + (en_all[i + 1] - en_all[i]) * (t[k] / dt - i)
            pos[k] = site.to_ecef(starts[k] + [en[0], en[1], 0.0])
            vel[k] = geo.enu_vectors_to_ecef(np.r_[(en_all[i + 1] - en_all[i]) / dt, 0.0], site.rotation)
        return pos, vel

    plots = simulate_radar(site, state, 240.0, rng)
    snaps = _run(SensorTracker([site], TrackerConfig()), plots, 240.0, 1.0)
    drone_class, bird_class = [], []
    for snap in snaps:
        firm = _firm(snap)
        if len(firm) == 0:
            continue
        pos, _ = state(snap.time[0])
        for k, out in ((0, drone_class), (1, bird_class)):
            d = np.linalg.norm(firm.position - pos[k], axis=1)
            if d.min() < 300.0:
                out.append((snap.time[0], firm.track_class[np.argmin(d)]))
    drone_t = np.array([t for t, c in drone_class if c != "bird"])
    release = TrackerConfig().bird_release_s
    # a bird while its first leg is young, then not: within release + a few s of convergence, and never again
    # through four right-angle corners
    assert drone_t.size and drone_t[0] <= release + 10.0
    assert all(c != "bird" for t, c in drone_class if t > drone_t[0])
    assert [c for _, c in drone_class].count("bird") >= 3
    assert all(c == "bird" for _, c in bird_class)


def test_last_snr_and_sensor_are_kept():
    site = radar_site("r", 45.0, 10.0, 30.0)
    state = great_circle_truth([45.3], [10.3], [0.0], 200.0, 5000.0)
    plots = simulate_radar(site, state, 20.0, np.random.default_rng(2))
    plots.snr_db[:] = np.arange(len(plots)) + 10.0
    tracker = SensorTracker([site])
    tracker.process(plots)
    details = tracker.track_details()
    assert details["last_snr_db"][0] == plots.snr_db[-1]
    assert details["last_sensor"][0] == 0
    assert details["n_updates"][0] == len(plots)


# --------------------------------------------------------------------------- bearings alone

def _notch_scene(mti_mps):
    """Target 0: slow, 8 km north of a 1 s radar, flying east (radial speed ~0). Target 1: an
    aircraft 10 km south flying away (keeps the radar's frames coming). An EO next to the radar."""
    radar = radar_site("sr", 45.0, 10.0, 20.0, index=0, scan_period_s=1.0, mti_min_radial_speed_mps=mti_mps)
    eo = eo_site("eo", 45.0005, 10.0005, 20.0, index=1, range_max_m=12e3)
    lat, lon = geo.destination(radar.lat_rad, radar.lon_rad, np.array([0.0, np.pi]), np.array([8e3, 10e3]))
    state = great_circle_truth(lat / DEG, lon / DEG, [90.0, 180.0], [12.0, 150.0], [300.0, 2000.0])
    return radar, eo, state


def _bearings_after_radar_stops(radar, eo, state, radar_until, t_end, seed):
    """Radar plots of both targets, target 0's only until radar_until; bearings of target 0 throughout."""
    rng = np.random.default_rng(seed)
    plots = simulate_radar(radar, state, t_end, rng)
    plots = plots.take((plots.truth != 0) | (plots.time < radar_until))
    bearings = simulate_eo(eo, state, t_end, rng)
    bearings = bearings.take(bearings.truth == 0)
    bearings.sensor[:] = 1
    return MeasurementBatch.concatenate([plots, bearings]).sorted_by_time()


def _on_target0(snap, state):
    pos, _ = state(snap.time[0]) if len(snap) else (np.zeros((2, 3)), None)
    return snap.take(np.linalg.norm(snap.position - pos[0], axis=1) < np.linalg.norm(snap.position - pos[1], axis=1))


def test_bearings_do_not_keep_a_track_the_radar_keeps_missing():
    # The radar loses target 0 at 15 s although nothing stops it from seeing it (no notch):
    # its misses must count whatever bearings keep arriving.
    radar, eo, state = _notch_scene(0.0)
    batch = _bearings_after_radar_stops(radar, eo, state, 15.0, 60.0, 21)
    snaps = [_on_target0(s, state) for s in _run(SensorTracker([radar, eo], TrackerConfig()), batch, 60.0, 1.0)]
    assert len(_firm(snaps[13])) == 1  # tracked while the radar saw it
    # delete_after_misses (4) radar scans later the track is gone, bearings or not
    assert all(len(s) == 0 for s in snaps[22:]), [(s.time[0], s.status) for s in snaps[22:] if len(s)]


def test_a_target_in_the_mti_notch_sustained_by_bearings_coasts_then_is_dropped():
    # The same slow crossing target inside the radar's 3 m/s MTI notch after 15 s: the radar's
    # silence is no miss, but bearings alone do not fix its range, so the track is shown as
    # degraded (COASTING) and then dropped instead of staying a confident confirmed track.
    radar, eo, state = _notch_scene(3.0)
    batch = _bearings_after_radar_stops(radar, eo, state, 15.0, 80.0, 22)
    cfg = TrackerConfig()
    snaps = [_on_target0(s, state) for s in _run(SensorTracker([radar, eo], cfg), batch, 80.0, 1.0)]
    assert len(_firm(snaps[13])) == 1
    # not charged misses by the radar: still held, degraded, well past delete_after_misses scans
    held = snaps[int(15 + cfg.passive_coast_after_s) + 3]
    assert len(held) == 1 and held.status[0] == COASTING, held.status
    err = np.linalg.norm(held.position[0] - state(held.time[0])[0][0])
    assert err < 500.0, err  # the bearings kept it on the target meanwhile
    t_coast, t_drop = 15.0 + cfg.passive_coast_after_s + 1.0, 15.0 + cfg.passive_only_max_s + 1.0
    assert all(np.all(s.status != CONFIRMED) for s in snaps if len(s) and s.time[0] >= t_coast)
    assert all(len(s) == 0 for s in snaps[int(t_drop):])


def test_prediction_keeps_a_level_velocity_level():
    # A straight ECEF line leaves the earth: the predicted velocity must turn with the local vertical.
    from airpicture.tracking import filters

    pos = geo.geodetic_to_ecef(np.array([45.0 * DEG]), np.array([10.0 * DEG]), np.array([10000.0]))
    up = up_vectors(pos)
    east = np.cross([0.0, 0.0, 1.0], up)
    x = np.zeros((1, 7))
    x[:, :3] = pos
    x[:, 3:6] = 250.0 * east / np.linalg.norm(east)
    noise = filters.ProcessNoise(1.0, 0.3, 0.0)
    x1, _ = filters.predict(x, np.eye(7)[None], 120.0, filters.CV, noise)
    vertical = float(np.dot(x1[0, 3:6], up_vectors(x1[:, :3])[0]))
    assert abs(vertical) < 0.05, vertical  # untransported: 250 m/s x 30 km / 6371 km = 1.2 m/s
    assert np.isclose(np.linalg.norm(x1[0, 3:6]), 250.0)


def test_a_track_beyond_the_eo_range_takes_no_bearings():
    # Two targets on the same bearing from the EO, 8 km and 60 km out; the EO reaches 12 km.
    radar = radar_site("sr", 45.0, 10.0, 20.0, index=0, scan_period_s=1.0, range_max_m=100e3)
    eo = eo_site("eo", 45.0005, 10.0005, 20.0, index=1, range_max_m=12e3)
    lat, lon = geo.destination(eo.lat_rad, eo.lon_rad, np.zeros(2), np.array([8e3, 60e3]))
    state = great_circle_truth(lat / DEG, lon / DEG, [0.0, 0.0], [100.0, 100.0], [500.0, 4000.0])
    rng = np.random.default_rng(23)
    plots = simulate_radar(radar, state, 20.0, rng)
    bearings = simulate_eo(eo, state, 20.0, rng)
    bearings.sensor[:] = 1
    tracker = SensorTracker([radar, eo], TrackerConfig())
    tracker.process(MeasurementBatch.concatenate([plots, bearings]).sorted_by_time())
    assert np.all(bearings.truth == 0)  # the simulated EO sees the near target only
    details = tracker.track_details()
    snap = tracker.snapshot(20.0)
    far = np.argmin(np.linalg.norm(snap.position - state(20.0)[0][1], axis=1))
    assert details["n_updates"][far] == np.count_nonzero(plots.truth == 1)


# --------------------------------------------------------------------------- manoeuvres

def _turning_truth(site, start_enu, speed, g_load, t_straight, turn_deg, alt):
    """One target flying north in the site's ENU plane, a level left turn at g_load through
    turn_deg after t_straight, then straight on: f(t) -> (pos (1,3), vel (1,3)) ECEF."""
    w = g_load * 9.80665 / speed
    t_turn = np.deg2rad(turn_deg) / w
    radius = speed / w
    centre = np.asarray(start_enu, float) + [-radius, speed * t_straight]

    def state(t):
        t = np.atleast_1d(np.asarray(t, float))[:1]
        a = w * np.clip(t - t_straight, 0.0, t_turn)
        heading = np.column_stack([-np.sin(a), np.cos(a)])
        if t[0] <= t_straight:
            pos2 = np.asarray(start_enu, float) + np.column_stack([0.0 * t, speed * t])
        else:
            after = max(t[0] - t_straight - t_turn, 0.0)
            pos2 = centre + radius * np.column_stack([np.cos(a), np.sin(a)]) + heading * after
        enu = np.column_stack([pos2, [alt]])
        venu = np.column_stack([speed * heading, [0.0]])
        return site.to_ecef(enu), geo.enu_vectors_to_ecef(venu, site.rotation)

    return state


def _track_numbers_on(site, state, t_end, step, seed):
    """Numbers of the firm tracks nearest the target (within 2 km) over the run."""
    plots = simulate_radar(site, state, t_end, np.random.default_rng(seed))
    snaps = _run(SensorTracker([site], TrackerConfig()), plots, t_end, step)
    ids = set()
    for snap in snaps:
        firm = _firm(snap)
        if len(firm):
            d = np.linalg.norm(firm.position - state(snap.time[0])[0], axis=1)
            if d.min() < 2000.0:
                ids.add(int(firm.track_id[np.argmin(d)]))
    return ids


@pytest.mark.parametrize("seed", [0, 1])
def test_a_fighter_in_a_3g_turn_keeps_its_number_on_a_1s_radar_with_range_rate(seed):
    # The demo's scramble: 160 m/s, 3 g (0.18 rad/s), 9 km from a 1 s radar measuring range-rate
    # to 1 m/s. The combined CV+CT Gaussian rejected the turn's first plots (d2 ~ 38).
    site = radar_site("sr", 38.0, 12.5, 12.0, scan_period_s=1.0, range_max_m=40e3, sigma_range_m=15.0,
                      sigma_azimuth_rad=0.3 * DEG, sigma_elevation_rad=0.3 * DEG, sigma_range_rate_mps=1.0)
    state = _turning_truth(site, [6000.0, 4000.0], 160.0, 3.0, 30.0, 180.0, 3000.0)
    ids = _track_numbers_on(site, state, 90.0, 1.0, seed)
    assert len(ids) == 1, ids


@pytest.mark.parametrize("seed", [0, 1])
def test_a_fighter_turning_a_corner_between_10s_scans_keeps_its_number(seed):
    # The demo's combat air patrol: 216 m/s, 2.5 g, 90 deg corner (14 s) 100 km from a 10 s radar;
    # one plot falls mid-turn and the next km off any straight or single-turn prediction.
    site = radar_site("lr", 38.0, 12.5, 260.0, scan_period_s=10.0, range_max_m=450e3, sigma_range_m=60.0,
                      sigma_azimuth_rad=0.12 * DEG, sigma_elevation_rad=0.25 * DEG)
    state = _turning_truth(site, [-100e3, 0.0], 216.0, 2.5, 100.0, 90.0, 7600.0)
    ids = _track_numbers_on(site, state, 300.0, 10.0, seed)
    assert len(ids) == 1, ids
