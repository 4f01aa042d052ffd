"""Built-in scenarios: each loads and builds truth; the demo is built so issue 2's acceptance is reachable."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from airpicture import geo
from airpicture.scenario.builtin import BUILTIN_DIR, builtin_path, list_builtin
from airpicture.scenario.classes import CATEGORIES, TARGET_CLASSES
from airpicture.scenario.loader import load_scenario
from airpicture.scenario.trajectory import build_truth, read_trajectory_csv
from airpicture.sensors.params import SENSOR_TYPES

D = math.pi / 180.0
NAMES = [name for name, _ in list_builtin()]


def swerling1_pd(snr_linear, pfa):
    """Single-look Swerling 1 detection probability for a square-law detector."""
    return np.exp(np.log(pfa) / (1.0 + snr_linear))


def snr_linear(params, rcs_m2, range_m):
    db = params["reference_snr_db"] + 10 * np.log10(rcs_m2) + 40 * np.log10(params["reference_range_m"] / range_m)
    return 10 ** (db / 10)


def test_builtins_are_listed_with_descriptions():
    assert {"demo", "long_range", "crossing", "real_flight"} <= set(NAMES)
    for name, description in list_builtin():
        assert description and "\n" not in description
        assert builtin_path(name) == BUILTIN_DIR / f"{name}.toml"
    assert builtin_path("../demo") is None and builtin_path("nope") is None


@pytest.mark.parametrize("name", NAMES)
def test_every_builtin_loads_and_builds_truth(name):
    sc = load_scenario(name)
    assert sc.source == f"builtin:{name}" and sc.name == name
    assert sc.sensors and sc.targets
    truth = build_truth(sc)
    assert truth.n_targets == len(sc.targets)
    assert truth.times[-1] <= sc.duration_s and truth.times[-1] > sc.duration_s - sc.truth_step_s
    alive = np.isfinite(truth.position_ecef[..., 0])
    assert alive.any(axis=1).all(), "every target exists at some time"
    np.testing.assert_array_equal(alive, np.isfinite(truth.velocity_ecef[..., 0]))
    _, _, alt = geo.ecef_to_geodetic(truth.position_ecef[alive])
    assert alt.min() > -1.0 and alt.max() < 20_000.0
    # Every target is inside at least one sensor's instrumented range for part of its life.
    for i in range(truth.n_targets):
        p = truth.position_ecef[i, alive[i]]
        reach = [np.linalg.norm(s.to_enu(p), axis=1).min() <= s.params["range_max_m"] for s in sc.sensors]
        assert any(reach), truth.names[i]


@pytest.fixture(scope="module")
def demo():
    sc = load_scenario("demo")
    return sc, build_truth(sc)


def test_demo_has_the_traffic_issue_2_asks_for(demo):
    sc, truth = demo
    assert 30 <= truth.n_targets <= 40
    assert 500 <= sc.duration_s <= 900
    classes = set(truth.target_class)
    assert {"airliner", "fighter", "military_transport", "helicopter", "male_uav", "small_drone",
            "cruise_missile", "bird_flock"} <= classes
    counts = {c: truth.target_class.count(c) for c in classes}
    assert counts["airliner"] >= 8 and 3 <= counts["small_drone"] <= 4 and 3 <= counts["bird_flock"] <= 4
    assert counts["cruise_missile"] == 1
    kinds = {s.name: s.kind for s in sc.sensors}
    assert sorted(kinds.values()) == ["adsb", "eo", "radar", "radar"]
    assert {z.kind for z in sc.zones} >= {"control_zone", "no_fly", "hostile_area"}
    (base,) = sc.defended_points
    assert base.radius_m == pytest.approx(5000.0)
    # Later issues' attributes are there: transponders on civil traffic, IFF on military.
    for spec in sc.targets:
        cls = TARGET_CLASSES[spec.target_class]
        if spec.attributes.get("affiliation") == "neutral":
            assert "transponder" in spec.attributes
        if spec.attributes.get("affiliation") == "friend":
            assert "iff" in spec.attributes
        assert cls.category in CATEGORIES


def sensor(sc, name):
    return next(s for s in sc.sensors if s.name == name)


def test_demo_sensor_roles(demo):
    sc, _ = demo
    lr, sr, eo = sensor(sc, "lr_radar"), sensor(sc, "sr_radar"), sensor(sc, "eo_tower")
    assert 300e3 <= lr.params["range_max_m"] <= 500e3 and lr.params["scan_period_s"] == pytest.approx(10.0)
    assert 100.0 <= lr.alt_m <= 300.0
    assert 30e3 <= sr.params["range_max_m"] <= 50e3 and sr.params["scan_period_s"] == pytest.approx(1.0)
    assert sr.params["sigma_range_rate_mps"] > 0
    assert eo.kind == "eo" and eo.params["range_max_m"] == pytest.approx(15e3)
    base = sc.defended_points[0]
    for site in (sr, eo):
        assert geo.haversine_m(site.lat_rad, site.lon_rad, base.lat_rad, base.lon_rad) < 2000.0


def test_demo_airliners_at_400_km_are_detectable_by_the_long_range_radar(demo):
    sc, truth = demo
    lr = sensor(sc, "lr_radar")
    airliner = TARGET_CLASSES["airliner"]
    pd = swerling1_pd(snr_linear(lr.params, airliner.rcs_m2, 400e3), lr.params["pfa"])
    assert 0.8 <= pd <= 0.92
    # ... and they fly out there, above the radar horizon.
    far = []
    for i, cls in enumerate(truth.target_class):
        if cls != "airliner":
            continue
        p = truth.position_ecef[i]
        ok = np.isfinite(p[:, 0])
        rng = np.linalg.norm(lr.to_enu(p[ok]), axis=1)
        _, _, alt = geo.ecef_to_geodetic(p[ok])
        visible = geo.above_radar_horizon(lr.ecef, lr.alt_m, p[ok], alt)
        far.append(rng.max())
        if alt.min() > 8000:
            assert visible.all(), truth.names[i]
    assert max(far) > 400e3 and min(far) < 200e3


def test_demo_small_drones_only_for_the_short_range_radar(demo):
    sc, truth = demo
    lr, sr = sensor(sc, "lr_radar"), sensor(sc, "sr_radar")
    for i, cls in enumerate(truth.target_class):
        if cls != "small_drone":
            continue
        ok = np.isfinite(truth.position_ecef[i, :, 0])
        p, v = truth.position_ecef[i, ok], truth.velocity_ecef[i, ok]
        # Long-range radar: every radial speed inside its MTI notch -> never reported.
        los = p - lr.ecef
        radial = np.sum(v * los, axis=1) / np.linalg.norm(los, axis=1)
        assert np.abs(radial).max() < lr.params["mti_min_radial_speed_mps"], truth.names[i]
        # Short-range radar: in range and strong.
        rng = np.linalg.norm(sr.to_enu(p), axis=1)
        assert rng.max() < sr.params["range_max_m"]
        pd = swerling1_pd(snr_linear(sr.params, truth.rcs_m2[i], rng.max()), sr.params["pfa"])
        assert pd > 0.9


def first_visible_time(site, truth, i):
    ok = np.isfinite(truth.position_ecef[i, :, 0])
    p = truth.position_ecef[i, ok]
    _, _, alt = geo.ecef_to_geodetic(p)
    visible = geo.above_radar_horizon(site.ecef, site.alt_m, p, alt)
    rng = np.linalg.norm(site.to_enu(p), axis=1)
    k = np.flatnonzero(visible)[0]
    return truth.times[ok][k], rng[k], visible[:k].any(), visible[k:].all(), truth.times[ok]


def test_demo_cruise_missile_rises_above_the_radar_horizons_late(demo):
    sc, truth = demo
    i = truth.target_class.index("cruise_missile")
    lr, sr = sensor(sc, "lr_radar"), sensor(sc, "sr_radar")
    t_lr, r_lr, _, stays_lr, times = first_visible_time(lr, truth, i)
    t_sr, r_sr, _, stays_sr, _ = first_visible_time(sr, truth, i)
    flight = times[-1] - times[0]
    # Long range radar: hidden for most of the flight, visible < 100 km out ("late").
    assert t_lr - times[0] > 0.3 * flight and r_lr < 100e3 and stays_lr
    # Short range radar: it crosses that radar's horizon inside its instrumented range, with a
    # strong enough echo that two 1 s scans suffice to see it.
    assert r_sr < sr.params["range_max_m"] and stays_sr and t_sr > t_lr
    pd = swerling1_pd(snr_linear(sr.params, truth.rcs_m2[i], r_sr), sr.params["pfa"])
    assert 1 - (1 - pd) ** 2 > 0.95
    # It flies low over the sea and ends at the base.
    ok = np.isfinite(truth.position_ecef[i, :, 0])
    lat, lon, alt = geo.ecef_to_geodetic(truth.position_ecef[i, ok])
    assert alt.max() < 100.0
    base = sc.defended_points[0]
    assert geo.haversine_m(lat[-1], lon[-1], base.lat_rad, base.lon_rad) < 1000.0
    assert times[-1] < sc.duration_s


def test_demo_birds_stay_on_the_coast_and_transport_lands(demo):
    sc, truth = demo
    base = sc.defended_points[0]
    for i, cls in enumerate(truth.target_class):
        ok = np.isfinite(truth.position_ecef[i, :, 0])
        lat, lon, alt = geo.ecef_to_geodetic(truth.position_ecef[i, ok])
        if cls == "bird_flock":
            assert ok.all()
            assert geo.haversine_m(lat, lon, base.lat_rad, base.lon_rad).max() < 25e3
            assert alt.max() < 500.0
        if cls == "military_transport":
            assert alt[-1] < 100.0
            assert geo.haversine_m(lat[-1], lon[-1], base.lat_rad, base.lon_rad) < 3000.0
            assert truth.times[ok][-1] < sc.duration_s


def test_real_flight_truth_follows_the_recording():
    sc = load_scenario("real_flight")
    truth = build_truth(sc)
    spec = sc.targets[0]
    rec = read_trajectory_csv(spec.trajectory_file)
    assert spec.trajectory_file.stat().st_size < 200_000
    t = rec[:, 0] - rec[0, 0]
    inside = t <= truth.times[-1]
    pos, _ = truth.state_at(t[inside], np.zeros(inside.sum(), dtype=int))
    rec_xyz = geo.geodetic_to_ecef(rec[inside, 1], rec[inside, 2], rec[inside, 3])
    err = np.linalg.norm(pos - rec_xyz, axis=1)
    assert np.median(err) < 30.0  # smoothing of ADS-B positions, metres
    speed = np.linalg.norm(truth.velocity_ecef[0][np.isfinite(truth.velocity_ecef[0, :, 0])], axis=1)
    assert speed.max() < 320.0  # an airliner, even with the jet stream


def test_long_range_targets_are_300_to_650_km_out():
    sc = load_scenario("long_range")
    truth = build_truth(sc)
    radar = sc.sensors[0]
    for i in range(truth.n_targets):
        p = truth.position_ecef[i][np.isfinite(truth.position_ecef[i, :, 0])]
        rng = np.linalg.norm(radar.to_enu(p), axis=1)
        assert rng.min() > 290e3 and rng.max() <= radar.params["range_max_m"], truth.names[i]
        _, _, alt = geo.ecef_to_geodetic(p)
        assert geo.above_radar_horizon(radar.ecef, radar.alt_m, p, alt).all(), truth.names[i]
    assert max(np.linalg.norm(radar.to_enu(truth.position_ecef[i][np.isfinite(truth.position_ecef[i, :, 0])]),
                              axis=1).max() for i in range(truth.n_targets)) > 590e3


def test_crossing_fighters_cross_and_pull_5_to_7_g():
    sc = load_scenario("crossing")
    truth = build_truth(sc)
    assert truth.n_targets == 2
    sep = np.linalg.norm(truth.position_ecef[0] - truth.position_ecef[1], axis=1)
    assert np.nanmin(sep) < 1000.0
    for i in range(2):
        v = truth.velocity_ecef[i]
        ok = np.isfinite(v[:, 0])
        acc = np.diff(v[ok], axis=0) / truth.dt
        g = np.linalg.norm(acc, axis=1).max() / 9.80665
        load = math.sqrt(g * g + 1.0)  # lateral acceleration of a level turn = g sqrt(n^2 - 1)
        assert 4.9 <= load <= 7.2, truth.names[i]


def test_docs_cover_every_class_and_key():
    doc = (Path(__file__).resolve().parents[1] / "docs" / "scenario.md").read_text()
    for name in TARGET_CLASSES:
        assert f"`{name}`" in doc, name
    for schema in SENSOR_TYPES.values():
        for key in schema:
            assert f"`{key}`" in doc, key
    for key in ("duration_s", "truth_step_s", "seed", "waypoints", "trajectory_csv", "speed_kt", "speed_mps",
                "alt_ft", "turn_g", "loop", "start_time_s", "rcs_m2", "swerling", "radius_km", "polygon",
                "floor_m", "ceiling_m", "affiliation", "callsign", "[tracker]"):
        assert f"`{key}" in doc, key
