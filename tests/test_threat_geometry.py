"""Threat geometry: CPA / TCPA / closing speed against hand-computed cases and brute-force time sampling; zone
entry times against sampling the same straight-line motion through `ZoneSet.contains`; inside-now."""

from __future__ import annotations

import math

import numpy as np
import pytest

from airpicture.geo import (WGS84_A, WGS84_E2, ecef_to_enu, enu_rotation, enu_to_ecef, enu_vectors_to_ecef,
                            geodetic_to_ecef)
from airpicture.identity.evidence import ZoneSet
from airpicture.scenario.model import DefendedPoint, Zone
from airpicture.threat.geometry import PointSet, point_geometry, threat_geometry, track_rates, zone_geometry

D = math.pi / 180.0
LAT0, LON0 = 52.0 * D, 5.0 * D


def at_point(enu, v_enu, lat=LAT0, lon=LON0, alt=0.0):
    """ECEF position / velocity of tracks given in the ENU frame of (lat, lon, alt)."""
    rot = enu_rotation(lat, lon)
    origin = geodetic_to_ecef(lat, lon, alt).reshape(3)
    return enu_to_ecef(np.atleast_2d(enu), origin, rot), enu_vectors_to_ecef(np.atleast_2d(v_enu), rot)


def base(radius=5000.0):
    return DefendedPoint("Base", LAT0, LON0, 0.0, radius)


def square(name, lat_c, lon_c, half_deg, floor=0.0, ceiling=10_000.0, kind="no_fly"):
    lat = np.array([lat_c - half_deg, lat_c - half_deg, lat_c + half_deg, lat_c + half_deg]) * D
    lon = np.array([lon_c - half_deg, lon_c + half_deg, lon_c + half_deg, lon_c - half_deg]) * D
    return Zone(name, kind, lat, lon, floor, ceiling)


# ------------------------------------------------------------------------------------------------ CPA

def test_cpa_hand_cases():
    pos, vel = at_point([[-10_000.0, 1_000.0, 0.0],   # crossing east, passes 1 km north in 100 s
                         [10_000.0, 1_000.0, 0.0],    # same line, already past: receding
                         [3_000.0, 4_000.0, 500.0],   # standing still
                         [0.0, -20_000.0, 0.0]],      # straight at the point from the south, 200 m/s
                        [[100.0, 0.0, 0.0], [100.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 200.0, 0.0]])
    g = point_geometry(pos, vel, [base()])
    assert g.cpa_m[:, 0] == pytest.approx([1_000.0, math.hypot(10_000, 1_000), math.sqrt(25e6 + 25e4), 0.0],
                                          abs=1e-3)
    assert g.tcpa_s[:, 0] == pytest.approx([100.0, -100.0, 0.0, 100.0], abs=1e-6)
    r0 = math.hypot(10_000, 1_000)
    assert g.closing_mps[:, 0] == pytest.approx([100.0 * 10_000 / r0, -100.0 * 10_000 / r0, 0.0, 200.0],
                                                abs=1e-6)
    assert g.range_m[:, 0] == pytest.approx([r0, r0, math.sqrt(25e6 + 25e4), 20_000.0], abs=1e-3)


def test_cpa_against_time_sampling_on_random_tracks():
    rng = np.random.default_rng(7)
    n = 300
    enu = rng.uniform(-60_000, 60_000, (n, 3)) * [1, 1, 0.1]
    v = rng.normal(0.0, 120.0, (n, 3)) * [1, 1, 0.1]
    points = [base(3000.0), DefendedPoint("Radar hill", LAT0 + 0.2 * D, LON0 - 0.3 * D, 400.0, 2000.0)]
    pos, vel = at_point(enu, v)
    g = point_geometry(pos, vel, points)
    t = np.arange(0.0, 4000.0, 0.25)
    for j, p in enumerate(points):
        rot = enu_rotation(p.lat_rad, p.lon_rad)
        origin = geodetic_to_ecef(p.lat_rad, p.lon_rad, p.alt_m).reshape(3)
        r = ecef_to_enu(pos, origin, rot)  # brute force in the ENU frame at the asset
        vv = (rot @ vel.T).T
        d = np.linalg.norm(r[:, None, :] + vv[:, None, :] * t[None, :, None], axis=2)  # (n, T)
        k = d.argmin(axis=1)
        bounded = k < t.size - 1  # CPA within the sampled window
        assert bounded.mean() > 0.9
        np.testing.assert_allclose(g.cpa_m[bounded, j], d[bounded, k[bounded]], atol=0.5, rtol=1e-6)
        ahead = bounded & (k > 0)
        np.testing.assert_allclose(g.tcpa_s[ahead, j], t[k[ahead]], atol=0.25 + 1e-6)
        behind = k == 0
        assert behind.any() and (g.tcpa_s[behind, j] <= 0.125).all()
        np.testing.assert_allclose(g.range_m[:, j], np.linalg.norm(r, axis=1), rtol=1e-9, atol=1e-3)
        rate = (np.linalg.norm(r + vv * 1e-3, axis=1) - np.linalg.norm(r - vv * 1e-3, axis=1)) / 2e-3
        np.testing.assert_allclose(g.closing_mps[:, j], -rate, atol=1e-3)


def test_no_points_or_no_tracks():
    pos, vel = at_point([[0.0, 1.0, 0.0]], [[1.0, 0.0, 0.0]])
    assert point_geometry(pos, vel, []).cpa_m.shape == (1, 0)
    assert point_geometry(np.zeros((0, 3)), np.zeros((0, 3)), [base()]).cpa_m.shape == (0, 1)
    assert zone_geometry(np.zeros((0, 3)), np.zeros((0, 3)), [square("z", 52, 5, 0.1)]).entry_s.shape == (0, 1)


# ------------------------------------------------------------------------------------------------ zones

def meridian_radius(lat, alt):
    w = 1.0 - WGS84_E2 * math.sin(lat) ** 2
    return WGS84_A * (1.0 - WGS84_E2) / w ** 1.5 + alt


def test_zone_entry_hand_cases():
    north = square("North box", 52.15, 5.0, 0.05, floor=0.0, ceiling=5000.0)  # 0.1 deg north of the track
    pos, vel = at_point([[0.0, 0.0, 1000.0],   # flying north at 100 m/s: enters in 0.1 deg / (100 m/s)
                         [0.0, 0.0, 1000.0],   # flying south: never
                         [0.0, 0.0, 8000.0],   # flying north above the ceiling: never
                         [0.0, 0.0, 8000.0]],  # flying north, descending through the ceiling after entry
                        [[0.0, 100.0, 0.0], [0.0, -100.0, 0.0], [0.0, 100.0, 0.0], [0.0, 100.0, -20.0]])
    g = zone_geometry(pos, vel, [north], horizon_s=600.0)
    t_edge = 0.1 * D * meridian_radius(LAT0, 1000.0) / 100.0
    assert g.entry_s[0, 0] == pytest.approx(t_edge, rel=1e-3)
    assert g.entry_s[1, 0] == math.inf and g.entry_s[2, 0] == math.inf
    assert g.entry_s[3, 0] == pytest.approx(3000.0 / 20.0, rel=1e-3)  # horizontally inside from ~112 s
    assert not g.inside.any()
    # the horizon cuts: entry at ~112 s is not seen with a 100 s horizon
    assert zone_geometry(pos[:1], vel[:1], [north], horizon_s=100.0).entry_s[0, 0] == math.inf


def test_inside_now_and_climbing_into_the_band():
    here = square("Here", 52.0, 5.0, 0.05, floor=2000.0, ceiling=4000.0, kind="control_zone")
    pos, vel = at_point([[0.0, 0.0, 3000.0], [0.0, 0.0, 1000.0], [0.0, 0.0, 1000.0], [0.0, 0.0, 5000.0]],
                        [[50.0, 0.0, 0.0], [0.0, 0.0, 10.0], [0.0, 0.0, 0.0], [0.0, 0.0, -10.0]])
    g = zone_geometry(pos, vel, [here])
    assert g.inside[:, 0].tolist() == [True, False, False, False]
    assert g.entry_s[:, 0] == pytest.approx([0.0, 100.0, math.inf, 100.0], rel=1e-3)
    assert (g.inside == ZoneSet([here]).contains(*track_rates(pos, vel)[:3])).all()


def random_zones(rng, k, span_deg=0.6):
    zones = []
    for j in range(k):
        c_lat = 52.0 + rng.uniform(-span_deg, span_deg)
        c_lon = 5.0 + rng.uniform(-span_deg, span_deg)
        m = int(rng.integers(3, 9))
        ang = np.sort(rng.uniform(0.0, 2 * np.pi, m))
        r = rng.uniform(0.03, 0.15, m)  # star-shaped, often concave
        zones.append(Zone(f"z{j}", "no_fly", (c_lat + r * np.sin(ang)) * D, (c_lon + r * np.cos(ang) * 1.6) * D,
                          float(rng.uniform(0, 2000)), float(rng.uniform(3000, 12000))))
    return zones


def test_zone_entry_against_time_sampling():
    rng = np.random.default_rng(11)
    n, horizon, dt = 400, 600.0, 0.5
    zones = random_zones(rng, 12)
    lat = (52.0 + rng.uniform(-0.8, 0.8, n)) * D
    lon = (5.0 + rng.uniform(-0.8, 0.8, n)) * D
    alt = rng.uniform(0.0, 13_000.0, n)
    speed, heading = rng.uniform(20.0, 300.0, n), rng.uniform(0.0, 2 * np.pi, n)
    v_enu = np.stack([speed * np.sin(heading), speed * np.cos(heading), rng.normal(0.0, 10.0, n)], axis=1)
    pos = geodetic_to_ecef(lat, lon, alt).reshape(n, 3)
    vel = np.stack([enu_vectors_to_ecef(v_enu[i:i + 1], enu_rotation(lat[i], lon[i]))[0] for i in range(n)])
    zs = ZoneSet(zones)
    g = zone_geometry(pos, vel, zs, horizon_s=horizon)
    # brute force: the same constant-rate motion, sampled, through the scenario's own inside test
    la, lo, al, dla, dlo, vu = track_rates(pos, vel)
    t = np.arange(0.0, horizon + dt / 2, dt)
    first = np.full((n, len(zones)), np.inf)
    for k in range(t.size - 1, -1, -1):
        inside = zs.contains(la + dla * t[k], lo + dlo * t[k], al + vu * t[k])
        first[inside] = t[k]
    assert np.isfinite(first).sum() > 30 and (first > 0).any()
    both = np.isfinite(first) & np.isfinite(g.entry_s)
    assert (g.entry_s[both] <= first[both] + 1e-6).all()
    assert (first[both] - g.entry_s[both] <= dt + 1e-6).all()
    only_sampled = np.isfinite(first) & ~np.isfinite(g.entry_s)
    assert not only_sampled.any()
    only_exact = ~np.isfinite(first) & np.isfinite(g.entry_s)  # a pass shorter than the sampling step
    assert only_exact.sum() <= 2
    assert (g.inside == (first == 0.0)).all()


def test_zone_across_the_antimeridian():
    lat = np.array([-0.1, -0.1, 0.1, 0.1]) * D
    lon = np.array([179.9, -179.9, -179.9, 179.9]) * D
    z = Zone("Dateline", "restricted", lat, lon, 0.0, 10_000.0)
    pos, vel = at_point([[0.0, 0.0, 100.0]], [[100.0, 0.0, 0.0]], lat=0.0, lon=179.7 * D)
    g = zone_geometry(pos, vel, [z], horizon_s=600.0)
    # 0.2 deg of longitude at the equator
    assert g.entry_s[0, 0] == pytest.approx(0.2 * D * (WGS84_A + 100.0) / 100.0, rel=1e-3)


def test_threat_geometry_from_a_scenario_like_object():
    class Assets:
        defended_points = [base()]
        zones = [square("North box", 52.15, 5.0, 0.05)]

    pos, vel = at_point([[0.0, -10_000.0, 1000.0]], [[0.0, 100.0, 0.0]])
    g = threat_geometry(pos, vel, Assets(), horizon_s=600.0)
    assert g.point_names == ["Base"] and g.zone_names == ["North box"] and g.zone_kinds == ["no_fly"]
    assert g.points.tcpa_s[0, 0] == pytest.approx(100.0, abs=1e-3)
    assert np.isfinite(g.zones.entry_s[0, 0])
    assert PointSet.of(Assets()).radius_m.tolist() == [5000.0]
