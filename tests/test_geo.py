"""Geodesy: round trips, and a differential check against PROJ (pyproj)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airpicture import geo

pyproj = pytest.importorskip("pyproj")

lat_deg = st.floats(-89.9, 89.9)
lon_deg = st.floats(-180.0, 180.0)
alt_m = st.floats(-500.0, 40_000.0)


@settings(max_examples=200, deadline=None)
@given(lat_deg, lon_deg, alt_m)
def test_geodetic_ecef_round_trip(lat, lon, alt):
    xyz = geo.geodetic_to_ecef(np.radians(lat), np.radians(lon), alt)
    lat2, lon2, alt2 = geo.ecef_to_geodetic(xyz)
    assert abs(np.degrees(lat2) - lat) < 1e-9
    assert abs(np.mod(np.degrees(lon2) - lon + 180, 360) - 180) < 1e-9
    assert abs(alt2 - alt) < 1e-4


def test_ecef_matches_proj():
    rng = np.random.default_rng(1)
    lat = rng.uniform(-85, 85, 500)
    lon = rng.uniform(-180, 180, 500)
    alt = rng.uniform(0, 20_000, 500)
    transformer = pyproj.Transformer.from_crs("EPSG:4979", "EPSG:4978", always_xy=True)
    x, y, z = transformer.transform(lon, lat, alt)
    ours = geo.geodetic_to_ecef(np.radians(lat), np.radians(lon), alt)
    np.testing.assert_allclose(ours, np.stack([x, y, z], axis=-1), atol=1e-3)


def test_enu_polar_round_trip_and_geometry():
    lat0, lon0 = np.radians(37.0), np.radians(15.0)
    origin = geo.geodetic_to_ecef(lat0, lon0, 100.0)
    rot = geo.enu_rotation(lat0, lon0)
    # A point due north at 10 km, 1 km up.
    enu = np.array([0.0, 10_000.0, 1_000.0])
    r, az, el = geo.enu_to_polar(enu)
    assert az == pytest.approx(0.0, abs=1e-12)
    assert el == pytest.approx(np.arctan2(1000, 10000))
    back = geo.polar_to_enu(r, az, el)
    np.testing.assert_allclose(back, enu, atol=1e-9)
    ecef = geo.enu_to_ecef(enu, origin, rot)
    np.testing.assert_allclose(geo.ecef_to_enu(ecef, origin, rot), enu, atol=1e-6)
    # Due east has azimuth 90 degrees.
    assert geo.enu_to_polar(np.array([5.0, 0.0, 0.0]))[1] == pytest.approx(np.pi / 2)


def test_far_target_drops_below_local_plane():
    """At 600 km, a target at 10 km altitude is below the sensor's tangent plane: no flat earth."""
    lat0, lon0 = np.radians(40.0), np.radians(10.0)
    site = geo.geodetic_to_ecef(lat0, lon0, 0.0)
    lat1, lon1 = geo.destination(lat0, lon0, np.radians(45.0), 600_000.0)
    target = geo.geodetic_to_ecef(lat1, lon1, 10_000.0)
    _, _, el = geo.enu_to_polar(geo.ecef_to_enu(target, site, geo.enu_rotation(lat0, lon0)))
    # Curvature drop at 600 km is ~28 km on the true earth, so the elevation is clearly negative.
    assert np.degrees(el) < -1.0
    assert geo.haversine_m(lat0, lon0, lat1, lon1) == pytest.approx(600_000.0, rel=1e-9)


def test_radar_horizon():
    # 4/3 earth: 10 m antenna, 50 m target -> about 13 + 29 = 42 km.
    d = geo.radar_horizon_range_m(10.0, 50.0)
    assert 40_000 < d < 43_000
    lat0, lon0 = np.radians(35.0), np.radians(14.0)
    site = geo.geodetic_to_ecef(lat0, lon0, 10.0)
    for dist, expected in [(30_000.0, True), (100_000.0, False)]:
        lat1, lon1 = geo.destination(lat0, lon0, 1.0, dist)
        tgt = geo.geodetic_to_ecef(lat1, lon1, 50.0)
        assert bool(geo.above_radar_horizon(site, 10.0, tgt, 50.0)) is expected


def test_wrap_angle():
    a = geo.wrap_angle(np.array([0.0, np.pi + 0.1, -np.pi - 0.1, 2 * np.pi]))
    np.testing.assert_allclose(a, [0.0, -np.pi + 0.1, np.pi - 0.1, 0.0], atol=1e-12)
