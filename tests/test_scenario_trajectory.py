"""Truth generation: geometry on long legs, envelope limits, consistency, determinism, recordings."""

from __future__ import annotations

import math

import numpy as np
import pytest

from airpicture import geo
from airpicture.errors import InputError
from airpicture.scenario.classes import G0, TARGET_CLASSES
from airpicture.scenario.model import Scenario, TargetSpec, Waypoint
from airpicture.scenario.trajectory import (
    _polynomial_smoother,
    build_truth,
    read_trajectory_csv,
    resample_recorded,
    time_grid,
)

D = math.pi / 180.0


@pytest.fixture(scope="module")
def demo_scenario():
    from airpicture.scenario.loader import load_scenario

    return load_scenario("demo")


@pytest.fixture(scope="module")
def demo_truth(demo_scenario):
    return build_truth(demo_scenario)


def wp(lat, lon, alt, speed=None, g=None):
    return Waypoint(lat * D, lon * D, alt, speed, g)


def scenario(targets, duration=600.0, seed=1, step=0.5):
    return Scenario(name="t", description="", duration_s=duration, seed=seed, sensors=[], targets=targets,
                    truth_step_s=step)


def alive_index(truth, i):
    return np.flatnonzero(np.isfinite(truth.position_ecef[i, :, 0]))


def enu_velocity(truth, i):
    """Velocity of target i in its own local east/north/up frame, (T, 3)."""
    idx = alive_index(truth, i)
    lat, lon, alt = geo.ecef_to_geodetic(truth.position_ecef[i, idx])
    out = np.empty((len(idx), 3))
    for k, (la, lo) in enumerate(zip(lat, lon)):
        out[k] = geo.enu_rotation(la, lo) @ truth.velocity_ecef[i, idx[k]]
    return idx, lat, lon, alt, out


# ------------------------------------------------------------------ geometry

@pytest.mark.parametrize("end", [(38.0, 12.0 + 6.85), (38.0 + 5.4, 12.0), (33.5, 16.0)],
                         ids=["east", "north", "south-east"])
def test_600_km_leg_ends_at_its_waypoint(end):
    start = (38.0, 12.0)
    length = float(geo.haversine_m(start[0] * D, start[1] * D, end[0] * D, end[1] * D))
    assert 550e3 < length < 700e3
    speed = 250.0
    truth = build_truth(scenario([TargetSpec("a", "airliner", 0.0, [wp(*start, 10_000, speed), wp(*end, 10_000)])],
                                 duration=3000))
    idx = alive_index(truth, 0)
    last = truth.position_ecef[0, idx[-1]]
    goal = geo.geodetic_to_ecef(end[0] * D, end[1] * D, 10_000.0)
    # It stops within one step of the waypoint (the next step would pass it).
    assert np.linalg.norm(last - goal) <= speed * truth.dt + 1.0
    # Distance flown (sum of 115 m chords) is speed x time: the geodetic integration uses the right radii.
    p = truth.position_ecef[0, idx]
    flown = np.linalg.norm(np.diff(p, axis=0), axis=1).sum()
    elapsed = truth.times[idx[-1]] - truth.times[idx[0]]
    assert flown == pytest.approx(speed * elapsed, rel=1e-4)
    # ... and about the great-circle distance (mean-sphere haversine is within ~0.5 % of the ellipsoid).
    assert flown + np.linalg.norm(last - goal) == pytest.approx(length, rel=6e-3)
    # Altitude held.
    _, _, alt = geo.ecef_to_geodetic(p)
    assert np.abs(alt - 10_000.0).max() < 1e-3


def test_velocity_is_the_derivative_of_position_for_every_demo_target(demo_truth):
    truth = demo_truth
    for i in range(truth.n_targets):
        idx = alive_index(truth, i)
        p, v = truth.position_ecef[i, idx], truth.velocity_ecef[i, idx]
        assert np.all(np.diff(idx) == 1), "a target exists over one contiguous interval"
        chord_velocity = np.diff(p, axis=0) / truth.dt
        mean_velocity = 0.5 * (v[1:] + v[:-1])
        err = np.linalg.norm(chord_velocity - mean_velocity, axis=1)
        speed = np.linalg.norm(mean_velocity, axis=1)
        # Over a step the target turns by dpsi: the chord and the mean of the end
        # velocities then differ by ~ v dpsi^2 / 8 (agile drones turn ~ 30 deg per step);
        cos_turn = np.sum(v[1:] * v[:-1], axis=1) / np.maximum(
            np.linalg.norm(v[1:], axis=1) * np.linalg.norm(v[:-1], axis=1), 1e-9)
        dpsi = np.arccos(np.clip(cos_turn, -1.0, 1.0))
        # A speed change dv during the turn adds ~ |dv| dpsi / 4.
        dv = np.abs(np.diff(np.linalg.norm(v, axis=1)))
        assert np.all(err <= speed * (dpsi**2 / 8 + 0.003) + dv * dpsi / 4 + 0.02), truth.names[i]
        # Central differences agree too (looser: they straddle changes of turn or climb rate).
        central = (p[2:] - p[:-2]) / (2 * truth.dt)
        err_c = np.linalg.norm(central - v[1:-1], axis=1)
        assert np.median(err_c) <= 0.01 * np.median(speed) + 0.05, truth.names[i]


def test_hermite_interpolation_between_samples_stays_on_the_turn():
    # A constant 6 g turn: the truth's cubic interpolation must stay on the circle.
    spec = TargetSpec("f", "fighter", 0.0, [wp(38, 12, 6000, 280), wp(38.05, 12.0, 6000, None, 6),
                                             wp(38.05, 11.90, 6000, None, 6)])
    truth = build_truth(scenario([spec], duration=120))
    t_mid = truth.times[:-1] + 0.25
    pos, _ = truth.state_at(t_mid, np.zeros_like(t_mid, dtype=int))
    ok = np.isfinite(pos[:, 0]) & np.isfinite(truth.position_ecef[0, 1:, 0])
    straight = 0.5 * (truth.position_ecef[0, :-1] + truth.position_ecef[0, 1:])
    # Midpoint of the chord is inside the arc by v^2 dt^2 omega / 8 ~ a few m; Hermite is much closer.
    sag = np.linalg.norm(pos[ok] - straight[ok], axis=1)
    assert sag.max() > 0.5  # we are really turning
    assert sag.max() < 10.0


# ------------------------------------------------------------------ envelope

def horizontal_kinematics(truth, i):
    idx, lat, lon, alt, venu = enu_velocity(truth, i)
    ground = np.hypot(venu[:, 0], venu[:, 1])
    heading = np.unwrap(np.arctan2(venu[:, 0], venu[:, 1]))
    return idx, alt, venu, ground, heading


@pytest.mark.parametrize("name", sorted(TARGET_CLASSES))
def test_every_class_flies_within_its_envelope(name):
    cls = TARGET_CLASSES[name]
    start_speed = max(cls.min_speed_mps, 0.5 * cls.cruise_speed_mps)
    # A zig-zag with climbs and descents and a speed change; spacing scaled to the class speed.
    step_deg = max(cls.cruise_speed_mps * 40.0 / 111e3, 0.004)
    alt0 = min(cls.default_altitude_m, 0.8 * cls.max_altitude_m)
    pts = [wp(38.0, 12.0, alt0, start_speed),
           wp(38.0 + step_deg, 12.0, alt0 + 300.0, cls.max_speed_mps),
           wp(38.0 + step_deg, 12.0 + 2 * step_deg, alt0 - 100.0),
           wp(38.0 - step_deg, 12.0 + step_deg, alt0 + 50.0, cls.cruise_speed_mps),
           wp(38.0, 12.0 + 3 * step_deg, alt0)]
    truth = build_truth(scenario([TargetSpec("x", name, 0.0, pts, loop=cls.category == "bird")], duration=300))
    idx, alt, venu, ground, heading = horizontal_kinematics(truth, 0)
    speed = np.linalg.norm(venu, axis=1)
    dt = truth.dt
    tol = 1e-6
    assert speed.max() <= cls.max_speed_mps + tol
    assert speed.min() >= cls.min_speed_mps - tol
    assert venu[:, 2].max() <= cls.max_climb_mps + tol
    assert venu[:, 2].min() >= -cls.max_descent_mps - tol
    assert np.abs(np.diff(speed)).max() / dt <= cls.max_accel_mps2 + 1e-6
    assert np.abs(np.diff(venu[:, 2])).max() / dt <= cls.max_vertical_accel_mps2 + 1e-6
    # Heading rate: within the yaw limit and the coordinated-turn limit at the bank limit.
    rate = np.abs(np.diff(heading)) / dt
    mean_ground = 0.5 * (ground[1:] + ground[:-1])
    limit = np.minimum(cls.max_turn_rate_rps, G0 * np.tan(cls.max_bank_rad) / np.maximum(np.minimum(
        ground[1:], ground[:-1]), 1.0))
    assert np.all(rate <= limit * 1.02 + 1e-6)
    assert np.all(mean_ground >= 0)


def test_turn_uses_the_coordinated_turn_rate_at_the_requested_load_factor():
    v = 250.0
    spec = TargetSpec("f", "fighter", 0.0, [wp(38, 12, 6000, v), wp(38.1, 12.0, 6000, None, 5.0),
                                             wp(38.1, 12.3, 6000, None, 5.0)])
    truth = build_truth(scenario([spec], duration=200))
    _, _, _, ground, heading = horizontal_kinematics(truth, 0)
    rate = np.abs(np.diff(heading)) / truth.dt
    expected = G0 * math.sqrt(5.0**2 - 1.0) / v  # level turn at n g: omega = g sqrt(n^2 - 1) / v
    assert rate.max() == pytest.approx(expected, rel=0.03)
    # The 90-degree turn ends on the new course (east) without overshooting it by more than a degree.
    final = np.mod(heading[-1], 2 * np.pi)
    assert abs(geo.wrap_angle(final - math.pi / 2)) < 2 * D


def test_speed_and_altitude_changes_reach_their_targets_within_limits():
    cls = TARGET_CLASSES["airliner"]
    spec = TargetSpec("a", "airliner", 0.0, [wp(38, 12, 3000, 150.0), wp(39.5, 12.0, 9000, 230.0)])
    truth = build_truth(scenario([spec], duration=900))
    idx, alt, venu, ground, heading = horizontal_kinematics(truth, 0)
    speed = np.linalg.norm(venu, axis=1)
    # 80 m/s at <= 1 m/s^2 takes >= 80 s, and it gets there.
    reached = np.flatnonzero(np.abs(speed - 230.0) < 0.01)
    assert reached.size and truth.times[idx[reached[0]]] >= 80.0 - 1e-9
    assert speed.max() <= 230.0 + 1e-9
    # Climb within limits and the altitude is reached by the end.
    assert venu[:, 2].max() <= cls.max_climb_mps + 1e-9
    assert abs(alt[-1] - 9000.0) < 50.0


def test_target_exists_from_start_time_until_its_last_waypoint():
    spec = TargetSpec("a", "airliner", 100.0, [wp(38, 12, 9000, 200.0), wp(38.5, 12, 9000)])
    truth = build_truth(scenario([spec], duration=600))
    idx = alive_index(truth, 0)
    assert truth.times[idx[0]] == 100.0
    assert np.all(np.isnan(truth.position_ecef[0, : idx[0]]))
    assert np.all(np.isnan(truth.velocity_ecef[0, idx[-1] + 1:]))
    # ~55.6 km at 200 m/s: ends after ~278 s of flight.
    assert truth.times[idx[-1]] - 100.0 == pytest.approx(55.6e3 / 200.0, abs=5.0)
    assert truth.extra["end_time_s"][0] == truth.times[idx[-1]]
    # Start times off the grid are rounded up to the next sample.
    truth = build_truth(scenario([TargetSpec("b", "airliner", 10.2, spec.waypoints)], duration=60))
    assert truth.times[alive_index(truth, 0)[0]] == 10.5


def test_looping_target_flies_until_the_end():
    spec = TargetSpec("cap", "fighter", 0.0, [wp(38, 12, 7000, 220, 2.5), wp(38.3, 12, 7000, None, 2.5),
                                               wp(38.3, 12.15, 7000, None, 2.5)], loop=True)
    truth = build_truth(scenario([spec], duration=900))
    idx = alive_index(truth, 0)
    assert idx[-1] == len(truth.times) - 1
    lat, lon, _ = geo.ecef_to_geodetic(truth.position_ecef[0, idx])
    # Around the triangle more than once, never far from it.
    assert lat.min() > 37.95 * D and lat.max() < 38.35 * D
    assert lon.min() > 11.95 * D and lon.max() < 12.2 * D
    near_start = geo.haversine_m(lat, lon, 38 * D, 12 * D) < 7000  # fly-by cuts a 150 deg corner by ~6 km
    assert np.count_nonzero(np.diff(near_start.astype(int)) == 1) >= 2


def test_birds_wander_but_stay_near_their_waypoints():
    pts = [wp(37.87, 12.435, 80), wp(37.85, 12.445, 80), wp(37.86, 12.46, 80)]
    truth = build_truth(scenario([TargetSpec("birds", "bird_flock", 0.0, pts, loop=True)], duration=1800))
    idx, alt, venu, ground, heading = horizontal_kinematics(truth, 0)
    cls = TARGET_CLASSES["bird_flock"]
    speed = np.linalg.norm(venu, axis=1)
    assert speed.min() >= cls.min_speed_mps - 1e-9 and speed.max() <= cls.max_speed_mps + 1e-9
    assert speed.std() > 0.5  # speed changes
    lat, lon, _ = geo.ecef_to_geodetic(truth.position_ecef[0, idx])
    dist = np.min([geo.haversine_m(lat, lon, w.lat_rad, w.lon_rad) for w in pts], axis=0)
    assert dist.max() < 5_000.0
    # Erratic: heading changes of more than 90 degrees over a minute happen often.
    window = int(60 / truth.dt)
    swing = np.abs(heading[window:] - heading[:-window])
    assert np.mean(swing > math.pi / 2) > 0.1
    assert np.abs(alt - 80.0).max() < 150.0


# ------------------------------------------------------------------ determinism

def test_same_seed_same_truth_and_targets_are_independent(demo_scenario):
    a = build_truth(demo_scenario)
    b = build_truth(demo_scenario)
    np.testing.assert_array_equal(a.position_ecef, b.position_ecef)
    np.testing.assert_array_equal(a.velocity_ecef, b.velocity_ecef)

    # Another seed changes the birds only.
    import copy

    other = copy.copy(demo_scenario)
    other.seed = demo_scenario.seed + 1
    c = build_truth(other)
    birds = np.array([cls == "bird_flock" for cls in a.target_class])
    assert birds.any()
    np.testing.assert_array_equal(a.position_ecef[~birds], c.position_ecef[~birds])
    assert not np.allclose(np.nan_to_num(a.position_ecef[birds]), np.nan_to_num(c.position_ecef[birds]))

    # Adding and reordering targets leaves every other target's truth unchanged.
    extra = TargetSpec("NEW-BIRDS", "bird_flock", 0.0, [wp(37.9, 12.3, 100)], loop=True)
    shuffled = copy.copy(demo_scenario)
    shuffled.targets = [extra] + list(reversed(demo_scenario.targets))
    d = build_truth(shuffled)
    for i, name in enumerate(a.names):
        j = d.names.index(name)
        np.testing.assert_array_equal(a.position_ecef[i], d.position_ecef[j], err_msg=name)


# ------------------------------------------------------------------ recorded trajectories

def write_csv(path, rows, header="time,lat,lon,alt"):
    path.write_text(header + "\n" + "\n".join(",".join(str(x) for x in r) for r in rows) + "\n")
    return path


def test_recorded_trajectory_reproduces_the_flight_it_was_recorded_from(tmp_path):
    # Record a waypoint flight every 4 s (as ADS-B would), replay it, compare with the original.
    spec = TargetSpec("orig", "airliner", 0.0, [wp(38, 12, 8000, 220.0), wp(38.3, 12.2, 9000),
                                                 wp(38.3, 12.8, 9000)])
    original = build_truth(scenario([spec], duration=600))
    idx = alive_index(original, 0)[::8]
    lat, lon, alt = geo.ecef_to_geodetic(original.position_ecef[0, idx])
    rows = [(f"{original.times[k]:.1f}", f"{la / D:.7f}", f"{lo / D:.7f}", f"{h:.2f}")
            for k, la, lo, h in zip(idx, lat, lon, alt)]
    csv = write_csv(tmp_path / "rec.csv", rows)
    recorded = read_trajectory_csv(csv)
    assert recorded.shape == (len(rows), 4)
    replay_spec = TargetSpec("replay", "airliner", 0.0, trajectory_file=csv)
    replay = build_truth(scenario([replay_spec], duration=600))
    both = np.isfinite(replay.position_ecef[0, :, 0]) & np.isfinite(original.position_ecef[0, :, 0])
    assert both.sum() > 0.9 * len(idx) * 8
    pos_err = np.linalg.norm(replay.position_ecef[0, both] - original.position_ecef[0, both], axis=1)
    vel_err = np.linalg.norm(replay.velocity_ecef[0, both] - original.velocity_ecef[0, both], axis=1)
    assert np.median(pos_err) < 2.0 and pos_err.max() < 30.0
    assert np.median(vel_err) < 0.5 and vel_err.max() < 10.0
    # The replay's own velocity agrees with its position derivative.
    p, v = replay.position_ecef[0, both], replay.velocity_ecef[0, both]
    fd = (p[2:] - p[:-2]) / (2 * replay.dt)
    assert np.median(np.linalg.norm(fd - v[1:-1], axis=1)) < 0.5


def test_recorded_trajectory_starts_at_start_time_and_is_nan_outside(tmp_path):
    rows = [(100.0 + 5 * k, 38.0 + 0.01 * k, 12.0, 1000.0) for k in range(21)]  # 100 s of data
    csv = write_csv(tmp_path / "r.csv", rows)
    rec = read_trajectory_csv(csv)
    times = time_grid(300.0, 0.5)
    pos, vel = resample_recorded(rec, 50.0, times)
    alive = np.isfinite(pos[:, 0])
    assert times[alive][0] == 50.0 and times[alive][-1] == 150.0
    assert np.all(np.isnan(vel[~alive]))
    first = geo.geodetic_to_ecef(38.0 * D, 12.0 * D, 1000.0)
    assert np.linalg.norm(pos[alive][0] - first) < 1.0


@pytest.mark.parametrize("content, line, field", [
    ("time,lat,lon,alt\n0,38,12,100\n5,38.1,12,abc\n", 3, "alt"),
    ("time,lat,lon,alt\n0,38,12,100\n5,38.1,12\n", 3, None),
    ("time,lat,lon,alt\n0,38,12,100\n5,95,12,100\n", 3, "lat"),
    ("time,lat,lon,alt\n0,38,12,100\n5,38,12,100\n5,38,12,100\n", 4, "time"),
    ("# comment\n\ntime,lat,lon,alt\n0,38,12,100\n-1,38,12,100\n", 5, "time"),
    ("t,lat,lon,alt\n0,38,12,100\n", 1, None),
    ("time,lat,lon,alt\n0,38,12,nan\n", 2, "alt"),
    ("time,lat,lon,alt\n0,38,12,100\n", None, None),
    ("", None, None),
])
def test_bad_csv_rows_name_file_line_and_column(tmp_path, content, line, field):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(InputError) as info:
        read_trajectory_csv(path)
    err = info.value
    assert err.source == str(path)
    assert err.line == line
    assert err.field == field
    assert "bad.csv" in str(err)


def test_missing_csv_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        read_trajectory_csv(tmp_path / "nope.csv")


def test_polynomial_smoother_matches_scipy_savgol():
    from scipy.signal import savgol_filter

    rng = np.random.default_rng(3)
    y = np.cumsum(rng.normal(size=(80, 3)), axis=0)
    for window in (5, 9, 17):
        smooth, deriv = _polynomial_smoother(y, window, 0.5)
        np.testing.assert_allclose(smooth, savgol_filter(y, window, 2, axis=0, mode="interp"), atol=1e-9)
        np.testing.assert_allclose(deriv, savgol_filter(y, window, 2, deriv=1, delta=0.5, axis=0, mode="interp"),
                                   atol=1e-9)


def test_edge_geometries_antimeridian_pole_duplicate_waypoints_late_start():
    targets = [
        TargetSpec("anti", "airliner", 0.0, [wp(50, 179.5, 10_000, 230), wp(50.2, -179.2, 10_000)]),
        TargetSpec("dup", "helicopter", 0.0, [wp(38, 12, 300, 30), wp(38, 12, 300), wp(38.02, 12, 300),
                                               wp(38.02, 12, 300)]),
        TargetSpec("polar", "airliner", 0.0, [wp(89.5, 0, 10_000, 230), wp(89.5, 180, 10_000)]),
        TargetSpec("late", "airliner", 700.0, [wp(38, 12, 300, 100), wp(38.1, 12, 300)]),
    ]
    truth = build_truth(scenario(targets, duration=600))
    ends = [(50.2, -179.2), (38.02, 12.0), (89.5, 180.0)]
    for i, (lat_end, lon_end) in enumerate(ends):
        idx = alive_index(truth, i)
        assert idx.size > 10 and idx[-1] < len(truth.times) - 1, truth.names[i]
        last_alt = geo.ecef_to_geodetic(truth.position_ecef[i, idx[-1]])[2]
        goal = geo.geodetic_to_ecef(lat_end * D, lon_end * D, last_alt)
        speed = np.linalg.norm(truth.velocity_ecef[i, idx[-1]])
        assert np.linalg.norm(truth.position_ecef[i, idx[-1]] - goal) <= speed * truth.dt + 1.0, truth.names[i]
        p, v = truth.position_ecef[i, idx], truth.velocity_ecef[i, idx]
        err = np.linalg.norm(np.diff(p, axis=0) / truth.dt - 0.5 * (v[1:] + v[:-1]), axis=1)
        assert err.max() < 0.05, truth.names[i]
    # Starting after the end of the scenario: never alive.
    assert alive_index(truth, 3).size == 0 and np.isnan(truth.extra["start_time_s"][3])


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=25, deadline=None)
@given(name=st.sampled_from(sorted(TARGET_CLASSES)), data=st.data())
def test_random_waypoint_plans_stay_in_the_envelope_and_consistent(name, data):
    cls = TARGET_CLASSES[name]
    n = data.draw(st.integers(2, 5))
    span = cls.cruise_speed_mps * 60.0 / 111e3  # about a minute of flight between waypoints
    pts = []
    for _ in range(n):
        lat = 38.0 + data.draw(st.floats(-span, span))
        lon = 12.0 + data.draw(st.floats(-span, span))
        alt = data.draw(st.floats(50.0, 0.9 * cls.max_altitude_m))
        speed = data.draw(st.one_of(st.none(), st.floats(max(cls.min_speed_mps, 1.0), cls.max_speed_mps)))
        g = data.draw(st.one_of(st.none(), st.floats(1.01, cls.max_load_factor)))
        pts.append(wp(lat, lon, alt, speed, g))
    truth = build_truth(scenario([TargetSpec("x", name, 0.0, pts, loop=data.draw(st.booleans()))], duration=200))
    idx, alt, venu, ground, heading = horizontal_kinematics(truth, 0)
    assert np.all(np.diff(idx) == 1)
    speed = np.linalg.norm(venu, axis=1)
    assert speed.max() <= cls.max_speed_mps + 1e-6 and speed.min() >= cls.min_speed_mps - 1e-6
    assert venu[:, 2].max() <= cls.max_climb_mps + 1e-6 and venu[:, 2].min() >= -cls.max_descent_mps - 1e-6
    rate = np.abs(np.diff(heading)) / truth.dt
    limit = np.minimum(cls.max_turn_rate_rps,
                       G0 * np.tan(cls.max_bank_rad) / np.maximum(np.minimum(ground[1:], ground[:-1]), 1.0))
    bad = np.flatnonzero(rate > limit * 1.02 + 1e-6)
    assert bad.size == 0, (rate[bad], limit[bad], ground[bad], venu[bad])
    p, v = truth.position_ecef[0, idx], truth.velocity_ecef[0, idx]
    err = np.linalg.norm(np.diff(p, axis=0) / truth.dt - 0.5 * (v[1:] + v[:-1]), axis=1)
    # Vertical motion is integrated exactly (trapezoid of a linear climb rate); horizontally a
    # step is an arc of heading change dpsi with the ground speed changing by dg, for which
    # chord and mean end velocity differ by <= g dpsi^2 / 12 + |dg| dpsi / 4.
    mean_ground = 0.5 * (ground[1:] + ground[:-1])
    turn = rate * truth.dt
    dg = np.abs(np.diff(ground))
    bad = np.flatnonzero(err > mean_ground * (turn**2 / 8 + 0.003) + dg * turn / 4 + 0.02)
    assert bad.size == 0, (err[bad], mean_ground[bad], turn[bad], dg[bad])
