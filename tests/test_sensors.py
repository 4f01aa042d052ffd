"""Simulated radar and EO sensors on small hand-built truths (straight lines, no scenario loader)."""

import numpy as np
import pytest
from scipy import stats

from airpicture import geo
from airpicture.errors import InputError
from airpicture.measurements import AZIMUTH, ELEVATION, FALSE_ALARM, RANGE, RANGE_RATE, MeasurementBatch, SensorSite
from airpicture.sensors import detection
from airpicture.sensors.radar import RadarConfig, beam_crossings
from airpicture.sensors.simulate import (
    scan_times,
    simulate_all,
    simulate_chunks,
    simulate_sensor,
    time_slices,
)
from airpicture.truth import Truth

LAT, LON = np.radians(43.5), np.radians(7.1)
DEG = np.pi / 180
# Parameters that make every covered target detected (Pd ~ 1) and no clutter.
SURE = dict(reference_snr_db=60.0, false_alarms_per_scan=0.0, pfa=1e-6)


def radar(name="radar", **params) -> SensorSite:
    return SensorSite(name, "radar", LAT, LON, params.pop("alt_m", 20.0), params=params)


def eo(name="eo", **params) -> SensorSite:
    return SensorSite(name, "eo", LAT, LON, params.pop("alt_m", 20.0), params=params)


def line_truth(site, start_enu, velocity_enu, duration_s, step_s=1.0, rcs_m2=10.0, swerling=0) -> Truth:
    """Straight-line targets in the site's ENU frame, sampled on a uniform grid."""
    start_enu = np.atleast_2d(np.asarray(start_enu, dtype=float))
    velocity_enu = np.broadcast_to(np.asarray(velocity_enu, dtype=float), start_enu.shape)
    n = start_enu.shape[0]
    times = np.arange(0.0, duration_s + step_s / 2, step_s)
    enu = start_enu[:, None, :] + velocity_enu[:, None, :] * times[None, :, None]
    position = site.to_ecef(enu)
    velocity = np.broadcast_to(geo.enu_vectors_to_ecef(velocity_enu, site.rotation)[:, None, :], position.shape)
    return Truth(
        names=[f"t{i}" for i in range(n)], target_class=["test"] * n, times=times,
        position_ecef=position, velocity_ecef=velocity.copy(),
        rcs_m2=np.broadcast_to(np.asarray(rcs_m2, dtype=float), (n,)).copy(),
        swerling=np.broadcast_to(np.asarray(swerling), (n,)).copy(),
    )


def ring(range_m, azimuths_rad, up_m=1000.0):
    az = np.asarray(azimuths_rad, dtype=float)
    return np.column_stack([range_m * np.sin(az), range_m * np.cos(az), np.full(az.shape, up_m)])


def empty_truth(duration_s) -> Truth:
    times = np.arange(0.0, duration_s + 1.0, 1.0)
    return Truth([], [], times, np.zeros((0, times.size, 3)), np.zeros((0, times.size, 3)),
                 np.zeros(0), np.zeros(0, dtype=int))


def polar_truth(site, truth, batch):
    """True (range, azimuth, elevation, range-rate) of each target detection at its time."""
    pos, vel = truth.state_at(batch.time, batch.truth)
    enu = site.to_enu(pos)
    r, az, el = geo.enu_to_polar(enu)
    rr = np.einsum("ij,ij->i", enu, geo.ecef_vectors_to_enu(vel, site.rotation)) / r
    return np.column_stack([r, az, el, rr])


# --- rotating radar: timing -------------------------------------------------------------------

def test_crossing_time_is_when_the_beam_points_at_the_target():
    site = radar(scan_period_s=4.0, start_azimuth_deg=0.0, beamwidth_az_rad=1.5 * DEG,
                 range_min_m=500.0, **SURE)
    # Fast movers at short and long range, some crossing north, one moving with the beam.
    start = np.vstack([ring(2_000.0, [0.1, 3.0]), ring(30_000.0, np.linspace(0, 2 * np.pi, 7)[:-1]),
                       [[-500.0, 3_000.0, 500.0]]])
    velocity = np.array([[300.0, 0, 0], [-250.0, 100.0, 0]] + [[0, 250.0, 0]] * 6 + [[280.0, 0, 10.0]])
    truth = line_truth(site, start, velocity, 80.0)
    batch = simulate_sensor(site, truth, 0.0, 80.0, np.random.default_rng(1))
    cfg = RadarConfig.from_site(site)
    assert np.all(np.diff(batch.time) >= 0)
    pos, _ = truth.state_at(batch.time, batch.truth)
    _, true_az, _ = geo.enu_to_polar(site.to_enu(pos))
    beam = cfg.beam_azimuth(batch.time)
    assert np.max(np.abs(geo.wrap_angle(true_az - beam))) < 1e-6
    assert np.max(np.abs(geo.wrap_angle(batch.values[:, AZIMUTH] - beam))) < cfg.beamwidth_az_rad
    # One look per revolution: 20 revolutions in 80 s, +-1 for a target whose azimuth drifts.
    looks = np.bincount(batch.truth, minlength=truth.n_targets)
    assert np.all(np.abs(looks - 20) <= 1), looks
    for target in range(truth.n_targets):
        gaps = np.diff(batch.time[batch.truth == target])
        assert np.all(gaps > 0.5 * cfg.scan_period_s)


def test_crossings_of_consecutive_windows_join_without_gaps_or_repeats():
    site = radar(scan_period_s=3.0, **SURE)
    # Movers, plus a target parked due north: on the start azimuth, it is crossed exactly at
    # revolution boundaries, which here are also window edges (6, 30).
    start = np.vstack([ring(5_000.0, np.linspace(0, 2 * np.pi, 9)[:-1]), ring(9_000.0, [0.0])])
    velocity = np.array([[150.0, -200.0, 0]] * 8 + [[0.0, 0.0, 0.0]])
    truth = line_truth(site, start, velocity, 60.0)
    cfg = RadarConfig.from_site(site)
    whole = beam_crossings(site, cfg, truth, 0.0, 60.0)
    assert np.sum(whole[0] == 8) == 20
    edges = (0.0, 6.0, 7.3, 30.0, 31.0, 60.0)
    parts = [beam_crossings(site, cfg, truth, a, b) for a, b in zip(edges[:-1], edges[1:])]
    joined_target = np.concatenate([p[0] for p in parts])
    joined_time = np.concatenate([p[1] for p in parts])
    a = np.lexsort((whole[1], whole[0]))
    b = np.lexsort((joined_time, joined_target))
    assert np.array_equal(whole[0][a], joined_target[b])
    assert np.allclose(whole[1][a], joined_time[b], atol=1e-9)



def test_crossings_agree_with_a_brute_force_search():
    # Sample the beam-minus-target angle on a fine grid and find where it passes zero: every
    # such crossing, and no other, must be reported (fast targets close in included).
    site = radar(scan_period_s=2.0, start_azimuth_deg=37.0, **SURE)
    rng = np.random.default_rng(12)
    n = 120
    start = ring(rng.uniform(800.0, 60e3, n), rng.uniform(0, 2 * np.pi, n), up_m=500.0)
    velocity = rng.normal(0, 200, (n, 3)) * [1, 1, 0.1]
    # Three passes nearly overhead (80, 200, 400 m to the side at 500 m/s): the azimuth flips
    # by almost 180 degrees within a revolution.
    start[:3] = [[-5e3, 80.0, 500.0], [-5e3, -200.0, 500.0], [5e3, 400.0, 500.0]]
    velocity[:3] = [[500.0, 0, 0], [500.0, 0, 0], [-500.0, 0, 0]]
    truth = line_truth(site, start, velocity, 41.0, step_s=0.5)
    cfg = RadarConfig.from_site(site)
    target, time = beam_crossings(site, cfg, truth, 0.0, 40.0)
    dt = 2.0 / 200
    grid = np.arange(0.0, 40.0 + dt / 2, dt)  # up to and including 40 s
    pos, _ = truth.state_at(np.broadcast_to(grid, (n, grid.size)), np.arange(n)[:, None])
    _, az, _ = geo.enu_to_polar(site.to_enu(pos))
    relative = geo.wrap_angle(cfg.beam_azimuth(grid) - az)
    passes = (relative[:, :-1] <= 0) & (relative[:, 1:] > 0) & (np.diff(relative, axis=1) < np.pi)
    rows, cols = np.nonzero(passes)
    assert np.array_equal(np.bincount(rows, minlength=n), np.bincount(target, minlength=n))
    order = np.lexsort((time, target))
    assert np.all(np.abs(time[order] - grid[cols]) <= dt)

# --- rotating radar: noise ---------------------------------------------------------------------

def test_measurement_noise_is_gaussian_with_the_stated_sigmas():
    site = radar(scan_period_s=1.0, sigma_range_m=40.0, sigma_azimuth_deg=0.2, sigma_elevation_deg=0.3,
                 sigma_range_rate_mps=1.5, **SURE)
    rng = np.random.default_rng(5)
    start = ring(rng.uniform(10e3, 80e3, 50), rng.uniform(0, 2 * np.pi, 50), up_m=3000.0)
    truth = line_truth(site, start, rng.normal(0, 150, (50, 3)) * [1, 1, 0], 200.0)
    batch = simulate_sensor(site, truth, 0.0, 200.0, rng)
    assert len(batch) > 9000
    true = polar_truth(site, truth, batch)
    error = batch.values - true
    error[:, AZIMUTH] = geo.wrap_angle(error[:, AZIMUTH])
    normalised = error / batch.sigmas
    n = len(batch)
    for col in (RANGE, AZIMUTH, ELEVATION, RANGE_RATE):
        z = normalised[:, col]
        assert abs(z.mean()) < 4.5 / np.sqrt(n)
        # Sum of squares of n standard normals is chi-square with n degrees of freedom.
        ss = np.sum(z * z)
        assert stats.chi2.ppf(1e-5, n) < ss < stats.chi2.ppf(1 - 1e-5, n)
    # Independent columns.
    corr = np.corrcoef(normalised.T)
    assert np.max(np.abs(corr - np.eye(4))) < 5 / np.sqrt(n)


def test_2d_radar_has_no_elevation_and_range_rate_only_when_asked():
    truth_site = radar()
    truth = line_truth(truth_site, ring(20e3, [0.5, 2.0]), [[100.0, 0, 0]], 30.0)
    two_d = simulate_sensor(radar(dimension=2, **SURE), truth, 0, 30, np.random.default_rng(0))
    three_d = simulate_sensor(radar(dimension=3, sigma_range_rate_mps=2.0, **SURE), truth, 0, 30,
                              np.random.default_rng(0))
    assert len(two_d) and len(three_d)
    for batch in (two_d, three_d):
        assert np.all(np.isfinite(batch.values[:, [RANGE, AZIMUTH]]))
        assert np.all(np.isfinite(batch.sigmas[:, [RANGE, AZIMUTH]]))
        assert np.all((batch.values[:, AZIMUTH] >= 0) & (batch.values[:, AZIMUTH] < 2 * np.pi))
    assert np.all(np.isnan(two_d.values[:, [ELEVATION, RANGE_RATE]]))
    assert np.all(np.isnan(two_d.sigmas[:, [ELEVATION, RANGE_RATE]]))
    assert np.all(np.isfinite(three_d.values)) and np.all(np.isfinite(three_d.sigmas))


# --- rotating radar: detection ------------------------------------------------------------------

def test_radar_pd_follows_the_radar_equation_and_swerling_1():
    # 500 Swerling-1 targets of 2 m^2 at 150 km: mean SNR from the radar equation, by hand.
    ref_snr_db, ref_range, rcs, rng_m, pfa = 13.0, 200e3, 2.0, 150e3, 1e-6
    site = radar(scan_period_s=2.0, reference_snr_db=ref_snr_db, reference_range_m=ref_range, pfa=pfa,
                 false_alarms_per_scan=0.0)
    snr = 10 ** (ref_snr_db / 10) * rcs * (ref_range / rng_m) ** 4
    truth = line_truth(site, ring(rng_m, np.linspace(0, 2 * np.pi, 501)[:-1], up_m=8000.0), [[0, 0, 0]],
                       100.0, rcs_m2=rcs, swerling=1)
    cfg = RadarConfig.from_site(site)
    looks = beam_crossings(site, cfg, truth, 0.0, 100.0)[0].size
    batch = simulate_sensor(site, truth, 0.0, 100.0, np.random.default_rng(9))
    pd = detection.pd_swerling1(snr, pfa)
    se = np.sqrt(pd * (1 - pd) / looks)
    assert looks == 500 * 50
    assert abs(len(batch) / looks - pd) < 4.5 * se
    # Reported SNR is the measured one: above threshold, centred on the signal-plus-noise level.
    assert np.all(batch.snr_db > 10 * np.log10(-np.log(pfa) - 1))


def test_horizon_hides_a_low_target_far_away():
    # 10 m antenna, 50 m target: the 4/3-earth horizon is ~13 + 29 = 42 km.
    site = SensorSite("coastal", "radar", LAT, LON, 10.0,
                      params=dict(scan_period_s=2.0, elevation_min_rad=-2 * DEG, **SURE))
    positions, velocities = [], []
    for distance in (30e3, 100e3):
        lat, lon = geo.destination(LAT, LON, 1.0, distance)
        positions.append(geo.geodetic_to_ecef(lat, lon, 50.0))
    times = np.arange(0.0, 21.0)
    position = np.repeat(np.array(positions)[:, None, :], times.size, axis=1)
    truth = Truth(["near", "far"], ["test"] * 2, times, position, np.zeros_like(position),
                  np.array([10.0, 10.0]), np.array([0, 0]))
    batch = simulate_sensor(site, truth, 0.0, 20.0, np.random.default_rng(2))
    assert set(batch.truth) == {0}
    assert len(batch) == 10
    # Raise the far target well above the horizon and it is seen.
    lat, lon = geo.destination(LAT, LON, 1.0, 100e3)
    truth.position_ecef[1] = geo.geodetic_to_ecef(lat, lon, 3000.0)
    batch = simulate_sensor(site, truth, 0.0, 20.0, np.random.default_rng(2))
    assert set(batch.truth) == {0, 1}


def test_mti_notch_suppresses_slow_radial_motion():
    site = radar(scan_period_s=1.0, mti_min_radial_speed_mps=10.0, **SURE)
    bearing = np.array([0.3, 1.3, 2.3, 3.3])
    start = ring(40e3, bearing)
    radial_speed = np.array([0.0, 5.0, -20.0, 100.0])  # closing negative
    unit = np.column_stack([np.sin(bearing), np.cos(bearing), np.zeros(4)])
    # The first target also moves across the line of sight (100 m/s, 1 km in 10 s at 40 km:
    # at most 2.5 m/s radial): only the radial part counts.
    across = np.column_stack([np.cos(bearing), -np.sin(bearing), np.zeros(4)]) * [[100], [0], [0], [0]]
    truth = line_truth(site, start, unit * radial_speed[:, None] + across, 10.0)
    batch = simulate_sensor(site, truth, 0.0, 10.0, np.random.default_rng(3))
    assert set(batch.truth) == {2, 3}
    no_notch = simulate_sensor(radar(scan_period_s=1.0, **SURE), truth, 0.0, 10.0, np.random.default_rng(3))
    assert set(no_notch.truth) == {0, 1, 2, 3}


def test_range_and_elevation_coverage():
    site = radar(scan_period_s=1.0, range_min_m=2e3, range_max_m=50e3, elevation_max_rad=20 * DEG, **SURE)
    start = np.array([[0, 1_000.0, 100.0], [0, 60e3, 3000.0], [0, 5e3, 5e3], [0, 20e3, 3000.0]])
    truth = line_truth(site, start, [[1.0, 0, 0]], 10.0)
    batch = simulate_sensor(site, truth, 0.0, 10.0, np.random.default_rng(4))
    assert set(batch.truth) == {3}


# --- rotating radar: false alarms ---------------------------------------------------------------

def test_false_alarm_count_follows_pfa_times_resolution_cells():
    site = radar(scan_period_s=1.0, pfa=1e-5, range_min_m=1e3, range_max_m=100e3, range_resolution_m=150.0,
                 beamwidth_az_rad=2 * DEG, elevation_min_rad=0.0, elevation_max_rad=10 * DEG)
    expected_per_scan = 1e-5 * (99e3 / 150.0) * 180.0  # 1.188
    scans = 2000
    batch = simulate_sensor(site, empty_truth(scans), 0.0, float(scans), np.random.default_rng(6))
    assert np.all(batch.truth == FALSE_ALARM)
    counts = np.bincount(np.floor(batch.time).astype(int), minlength=scans)
    assert abs(counts.mean() - expected_per_scan) < 4.5 * np.sqrt(expected_per_scan / scans)
    # Poisson: the variance equals the mean (dispersion within a few standard errors).
    assert counts.var() / counts.mean() == pytest.approx(1.0, abs=4.5 * np.sqrt(2 / scans))
    # Inside coverage, at the beam's azimuth, above threshold.
    cfg = RadarConfig.from_site(site)
    assert np.all(np.abs(geo.wrap_angle(batch.values[:, AZIMUTH] - cfg.beam_azimuth(batch.time)))
                  < 6 * cfg.sigma_azimuth_rad)
    true_range = batch.values[:, RANGE]
    assert np.all((true_range > 1e3 - 6 * cfg.sigma_range_m) & (true_range < 100e3 + 6 * cfg.sigma_range_m))
    assert np.all(np.abs(batch.values[:, ELEVATION] - 5 * DEG) < 5 * DEG + 6 * cfg.sigma_elevation_rad)
    assert np.all(10 ** (batch.snr_db / 10) + 1 > -np.log(1e-5))
    # Uniform in range: a Kolmogorov-Smirnov test on the (noisy) range.
    assert stats.kstest(true_range, stats.uniform(1e3, 99e3).cdf).pvalue > 1e-4


def test_explicit_false_alarm_rate_overrides_pfa():
    site = radar(scan_period_s=2.0, false_alarms_per_scan=5.0, dimension=2)
    scans = 400
    batch = simulate_sensor(site, empty_truth(2 * scans), 0.0, 2.0 * scans, np.random.default_rng(8))
    assert abs(len(batch) / scans - 5.0) < 4.5 * np.sqrt(5.0 / scans)
    assert np.all(np.isnan(batch.values[:, ELEVATION]))


# --- determinism and streams -------------------------------------------------------------------

def _scene():
    site = radar(scan_period_s=2.0, pfa=1e-4, sigma_range_rate_mps=1.0)
    rng = np.random.default_rng(0)
    truth = line_truth(site, ring(rng.uniform(5e3, 150e3, 40), rng.uniform(0, 2 * np.pi, 40)),
                       rng.normal(0, 100, (40, 3)) * [1, 1, 0], 60.0, swerling=rng.integers(0, 5, 40))
    return site, truth


def _same(a, b):
    return (np.array_equal(a.time, b.time) and np.array_equal(a.truth, b.truth)
            and np.array_equal(a.values, b.values, equal_nan=True) and np.array_equal(a.sensor, b.sensor))


def test_same_seed_same_measurements_and_sensors_are_independent():
    site, truth = _scene()
    e = eo(range_max_m=200e3, false_alarms_per_update=0.5)
    first = simulate_all([site], truth, 60.0, seed=42)
    again = simulate_all([site], truth, 60.0, seed=42)
    other = simulate_all([site], truth, 60.0, seed=43)
    assert _same(first, again)
    assert not _same(first, other)
    both = simulate_all([site, e], truth, 60.0, seed=42)
    assert _same(first, both.take(both.sensor == 0))
    assert set(np.unique(both.sensor)) == {0, 1}
    assert np.all(np.diff(both.time) >= 0)


def test_chunks_are_time_ordered_and_deterministic():
    site, truth = _scene()
    chunks = list(simulate_chunks([site, eo(range_max_m=100e3)], truth, 60.0, seed=1, chunk_s=7.0))
    assert len(chunks) == 9
    for k, chunk in enumerate(chunks):
        assert np.all(np.diff(chunk.time) >= 0)
        assert np.all((chunk.time >= 7.0 * k) & (chunk.time < min(7.0 * (k + 1), 60.0)))
    again = list(simulate_chunks([site, eo(range_max_m=100e3)], truth, 60.0, seed=1, chunk_s=7.0))
    assert all(_same(a, b) for a, b in zip(chunks, again))
    sliced = list(time_slices(simulate_all([site], truth, 60.0, seed=1), 10.0, 0.0, 60.0))
    assert [s[0] for s in sliced] == [0.0, 10.0, 20.0, 30.0, 40.0, 50.0]
    assert all(np.all((b.time >= t0) & (b.time < t1)) for t0, t1, b in sliced)


def test_scan_times():
    assert np.allclose(scan_times(radar(scan_period_s=4.0), 20.0), [0, 4, 8, 12, 16])
    assert np.allclose(scan_times(eo(update_period_s=0.5), 2.0), [0, 0.5, 1.0, 1.5])


def test_bad_parameters_raise_input_error_naming_the_field():
    truth = empty_truth(10)
    with pytest.raises(InputError, match="dimension"):
        simulate_sensor(radar(dimension=4), truth, 0, 10, np.random.default_rng())
    with pytest.raises(InputError, match="pfa"):
        simulate_sensor(radar(pfa=2.0), truth, 0, 10, np.random.default_rng())
    with pytest.raises(InputError, match="type"):
        simulate_sensor(SensorSite("x", "sonar", LAT, LON, 0.0), truth, 0, 10, np.random.default_rng())


# --- EO -----------------------------------------------------------------------------------------

def test_eo_field_of_regard_wraps_through_north():
    site = eo(azimuth_min_rad=300 * DEG, azimuth_max_rad=60 * DEG, update_period_s=1.0, pd=1.0)
    bearings = np.radians([330.0, 30.0, 90.0, 270.0, 0.0])
    truth = line_truth(site, ring(5e3, bearings, up_m=300.0), [[0, 0, 0]], 10.0)
    batch = simulate_sensor(site, truth, 0.0, 10.0, np.random.default_rng(0))
    assert set(batch.truth) == {0, 1, 4}
    assert np.all(np.isnan(batch.values[:, [RANGE, RANGE_RATE]]))
    assert np.all(np.isfinite(batch.values[:, [AZIMUTH, ELEVATION]]))
    assert len(batch) == 3 * 10


def test_eo_range_elevation_horizon_and_pd():
    site = eo(update_period_s=0.5, pd=0.7, range_max_m=15e3, elevation_max_rad=30 * DEG)
    start = np.array([[0, 10e3, 500.0], [0, 20e3, 500.0], [0, 1e3, 1e3], [0, 5e3, 300.0]])
    truth = line_truth(site, start, [[0, 0, 0]], 300.0)
    batch = simulate_sensor(site, truth, 0.0, 300.0, np.random.default_rng(1))
    assert set(batch.truth) <= {0, 3}
    updates = 600
    for target in (0, 3):
        seen = np.sum(batch.truth == target)
        assert abs(seen / updates - 0.7) < 4.5 * np.sqrt(0.21 / updates)
    # Low and far: below the optical horizon from a 20 m mast even though within range_max.
    lat, lon = geo.destination(LAT, LON, 0.0, 14e3)
    low = geo.geodetic_to_ecef(lat, lon, -20.0)  # a boat's mast top below sea level is out of sight
    truth.position_ecef[1] = low
    batch = simulate_sensor(eo(update_period_s=0.5, pd=1.0, alt_m=5.0), truth, 0.0, 10.0,
                            np.random.default_rng(1))
    assert 1 not in set(batch.truth)


def test_eo_noise_and_false_bearings():
    site = eo(update_period_s=0.2, pd=1.0, sigma_azimuth_deg=0.05, sigma_elevation_deg=0.03,
              false_alarms_per_update=0.3, azimuth_min_rad=10 * DEG, azimuth_max_rad=100 * DEG)
    truth = line_truth(site, ring(8e3, np.radians([40.0, 70.0]), up_m=800.0), [[30.0, -20.0, 1.0]], 100.0)
    batch = simulate_sensor(site, truth, 0.0, 100.0, np.random.default_rng(3))
    real = batch.take(batch.truth >= 0)
    true = polar_truth(site, truth, real)
    for col in (AZIMUTH, ELEVATION):
        err = real.values[:, col] - true[:, col]
        if col == AZIMUTH:
            err = geo.wrap_angle(err)
        z = err / real.sigmas[:, col]
        n = z.size
        assert stats.chi2.ppf(1e-5, n) < np.sum(z * z) < stats.chi2.ppf(1 - 1e-5, n)
    false = batch.take(batch.truth == FALSE_ALARM)
    assert abs(len(false) / 500 - 0.3) < 4.5 * np.sqrt(0.3 / 500)
    assert np.all((false.values[:, AZIMUTH] >= 10 * DEG) & (false.values[:, AZIMUTH] <= 100 * DEG))


def test_every_parameter_is_documented():
    from pathlib import Path

    from airpicture.sensors.params import ADSB_PARAMS, EO_PARAMS, RADAR_PARAMS

    text = (Path(__file__).resolve().parents[1] / "docs" / "sensors.md").read_text()
    for schema in (RADAR_PARAMS, EO_PARAMS, ADSB_PARAMS):
        for file_key, (si_key, *_rest) in schema.items():
            assert f"`{file_key}`" in text and f"`{si_key}`" in text, file_key


def test_chunked_simulation_sees_the_same_looks_as_one_window():
    site = radar(scan_period_s=10.0, **SURE)
    rng = np.random.default_rng(21)
    truth = line_truth(site, ring(rng.uniform(2e3, 100e3, 60), rng.uniform(0, 2 * np.pi, 60)),
                       rng.normal(0, 200, (60, 3)) * [1, 1, 0], 120.0)
    whole = simulate_all([site], truth, 120.0, seed=3)
    for chunk_s in (1.0, 10.0, 7.5):
        parts = MeasurementBatch.concatenate(list(simulate_chunks([site], truth, 120.0, seed=3, chunk_s=chunk_s)))
        assert np.array_equal(parts.truth, whole.truth)
        assert np.allclose(parts.time, whole.time, rtol=0, atol=1e-9)
