"""EKF building blocks: motion models, process noise, polar measurement model, update."""

import numpy as np
import pytest

from airpicture import geo
from airpicture.measurements import SensorSite
from airpicture.tracking import filters as F

DEG = np.pi / 180


def _site(lat=50.0, lon=4.0, alt=30.0):
    return SensorSite("r", "radar", lat * DEG, lon * DEG, alt)


def _states(rng, k=20, site=None, spread=600e3):
    site = site or _site()
    enu = rng.uniform([-spread, -spread, 200], [spread, spread, 12000], size=(k, 3))
    pos = site.to_ecef(enu)
    vel_enu = rng.uniform([-300, -300, -20], [300, 300, 20], size=(k, 3))
    vel = geo.enu_vectors_to_ecef(vel_enu, site.rotation)
    w = rng.uniform(-0.3, 0.3, size=k)
    return np.column_stack([pos, vel, w])


def _numeric_jacobian(fun, x, eps):
    base = fun(x)
    jac = np.zeros(base.shape + (x.shape[1],))
    for j in range(x.shape[1]):
        dx = np.zeros_like(x)
        dx[:, j] = eps[j]
        jac[..., j] = (fun(x + dx) - fun(x - dx)) / (2 * eps[j])
    return jac


EPS = np.array([1.0, 1.0, 1.0, 1e-3, 1e-3, 1e-3, 1e-6])


@pytest.mark.parametrize("dt", [0.3, 10.0])
def test_ct_jacobian_matches_finite_differences(dt):
    rng = np.random.default_rng(1)
    x = _states(rng)
    x[:3, F.TURN] = [0.0, 1e-6, -2e-6]  # the series branch near straight flight
    up = F.up_vectors(x[:, F.POS])
    x[:, F.POS] -= _site().ecef  # the model is translation invariant given `up`; avoids cancellation
    _, jac = F.ct_transition(x, dt, up)
    num = _numeric_jacobian(lambda s: F.ct_transition(s, dt, up)[0], x, EPS)
    np.testing.assert_allclose(jac, num, rtol=1e-5, atol=1e-4)


def test_cv_jacobian_matches_finite_differences():
    rng = np.random.default_rng(2)
    x = _states(rng)
    _, jac = F.cv_transition(x, 4.0)
    num = _numeric_jacobian(lambda s: F.cv_transition(s, 4.0)[0], x, EPS)
    np.testing.assert_allclose(jac, num, atol=1e-5)


def test_polar_jacobian_matches_finite_differences():
    rng = np.random.default_rng(3)
    site = _site()
    x = _states(rng, site=site)
    _, jac = F.polar_measurement(x, site.ecef, site.rotation)

    def meas(s):
        h, _ = F.polar_measurement(s, site.ecef, site.rotation)
        return h

    num = _numeric_jacobian(meas, x, EPS)
    # azimuth derivative across the 0/2pi cut would jump; none of the draws sit on it
    scale = np.array([1.0, 1e-6, 1e-6, 1e-3])[None, :, None]
    np.testing.assert_allclose(jac / scale, num / scale, rtol=1e-5, atol=1e-3)


def test_polar_measurement_agrees_with_geo():
    rng = np.random.default_rng(4)
    site = _site()
    x = _states(rng, site=site)
    h, _ = F.polar_measurement(x, site.ecef, site.rotation)
    r, az, el = geo.enu_to_polar(site.to_enu(x[:, :3]))
    np.testing.assert_allclose(h[:, 0], r, rtol=1e-12)
    np.testing.assert_allclose(h[:, 1], az, atol=1e-12)
    np.testing.assert_allclose(h[:, 2], el, atol=1e-12)
    # range-rate by differencing range along the velocity
    dt = 1e-3
    r2, _, _ = geo.enu_to_polar(site.to_enu(x[:, :3] + dt * x[:, 3:6]))
    np.testing.assert_allclose(h[:, 3], (r2 - r) / dt, atol=1e-2)


def test_coordinated_turn_keeps_speed_and_closes_a_circle():
    site = _site()
    up = site.rotation[2]
    east, north = site.rotation[0], site.rotation[1]
    speed, w = 250.0, 0.1
    pos = site.ecef + 10000 * up
    x = np.concatenate([pos, speed * north + 5.0 * up, [w]])[None, :]
    period = 2 * np.pi / w
    xq, _ = F.ct_transition(x, period / 4)
    v = xq[0, 3:6]
    # left turn (positive rate): heading north -> west after a quarter circle
    np.testing.assert_allclose(v @ east, -speed, atol=1e-6)
    np.testing.assert_allclose(v @ up, 5.0, atol=1e-9)
    xf, _ = F.ct_transition(x, period)
    np.testing.assert_allclose(xf[0, :3], pos + 5.0 * period * up, atol=1e-6)
    np.testing.assert_allclose(xf[0, 3:6], x[0, 3:6], atol=1e-9)


def test_process_noise_splits_horizontal_and_vertical():
    site = _site()
    up = site.rotation[2][None, :]
    q = F.process_noise(2.0, up, F.ProcessNoise(4.0, 0.25, 0.01))[0]
    vv = q[3:6, 3:6]
    assert up[0] @ vv @ up[0] == pytest.approx(0.25 * 2.0)
    east = site.rotation[0]
    assert east @ vv @ east == pytest.approx(4.0 * 2.0)
    assert q[6, 6] == pytest.approx(0.02)
    assert np.all(np.linalg.eigvalsh(q[:6, :6]) > -1e-9)


def test_prediction_is_consistent_when_split_into_steps():
    rng = np.random.default_rng(5)
    x = _states(rng, k=5)
    P = np.tile(np.diag([100.0, 100, 100, 10, 10, 10, 1e-4]), (5, 1, 1))
    noise = F.ProcessNoise(2.0, 0.5, 1e-4)
    x1, p1 = F.predict(x, P, 3.0, F.CV, noise)
    xa, pa = F.predict(x, P, 1.0, F.CV, noise)
    xb, pb = F.predict(xa, pa, 2.0, F.CV, noise)
    np.testing.assert_allclose(xb, x1, atol=1e-6)
    # equal up to the change of the local vertical along the path
    np.testing.assert_allclose(pb[:, :6, :6], p1[:, :6, :6], rtol=1e-5, atol=1e-3)


def test_update_drops_nan_columns_and_groups_rows():
    rng = np.random.default_rng(6)
    site = _site()
    x = _states(rng, k=6, site=site)
    P = np.tile(np.diag([1e6, 1e6, 1e6, 1e4, 1e4, 1e4, 1e-2]), (6, 1, 1))
    h, _ = F.polar_measurement(x, site.ecef, site.rotation)
    sig = np.array([50.0, 0.002, 0.004, 2.0])
    sigmas = np.tile(sig, (6, 1))
    values = h.copy()
    values[0:2, 2] = np.nan  # 2D radar rows
    values[0:2, 3] = np.nan
    values[2:4, [0, 3]] = np.nan  # EO rows: angles only
    res = F.polar_update(x, P, values, sigmas, site.ecef, site.rotation)
    np.testing.assert_array_equal(res.dim, [2, 2, 2, 2, 4, 4])
    assert np.all(np.isfinite(res.x)) and np.all(np.isfinite(res.P))
    # a perfect measurement gives zero innovation: the state must not move
    np.testing.assert_allclose(res.x, x, atol=1e-6)
    np.testing.assert_allclose(res.mahalanobis2, 0.0, atol=1e-12)
    # the update reduces uncertainty, and a one-row update equals the grouped one
    assert np.all(np.trace(res.P, axis1=1, axis2=2) < np.trace(P, axis1=1, axis2=2))
    one = F.polar_update(x[2:3], P[2:3], values[2:3], sigmas[2:3], site.ecef, site.rotation)
    np.testing.assert_allclose(one.P[0], res.P[2], rtol=1e-9)


def test_update_wraps_azimuth_innovations():
    site = _site()
    enu = np.array([[-1.0, 50000.0, 3000.0]])  # just west of north: azimuth ~ 2 pi
    pos = site.to_ecef(enu)
    x = np.concatenate([pos, np.zeros((1, 4))], axis=1)
    P = np.diag([1e4, 1e4, 1e4, 1.0, 1, 1, 1e-6])[None]
    h, _ = F.polar_measurement(x, site.ecef, site.rotation)
    values = h.copy()
    values[0, 1] = 0.0005  # just east of north
    values[0, 3] = np.nan
    res = F.polar_update(x, P, values, np.array([[50, 0.001, 0.002, np.nan]]), site.ecef, site.rotation)
    assert res.mahalanobis2[0] < 10  # a small innovation, not ~2 pi
    assert (site.to_enu(res.x[:, :3])[0, 0]) > -1.0  # moved east


def test_polar_conversion_3d_and_2d():
    site = _site()
    rng = np.random.default_rng(7)
    enu = rng.uniform([-300e3, -300e3, 8000], [300e3, 300e3, 8000], size=(50, 3))
    truth = site.to_ecef(enu)
    r, az, el = geo.enu_to_polar(enu)
    values = np.column_stack([r, az, el, np.full(50, np.nan)])
    sig = np.tile([50.0, 0.002, 0.004, np.nan], (50, 1))
    pos, cov = F.polar_to_ecef_position(values, sig, site.ecef, site.rotation, 3000.0, 3000.0, site.alt_m)
    np.testing.assert_allclose(pos, truth, atol=1e-5)
    assert np.all(np.linalg.eigvalsh(cov) > 0)
    # 2D: elevation unknown, placed at the assumed altitude (here the true one)
    lat, lon = geo.destination(site.lat_rad, site.lon_rad, rng.uniform(0, 2 * np.pi, 50),
                               rng.uniform(5e3, 400e3, 50))
    truth = geo.geodetic_to_ecef(lat, lon, 8000.0)
    r, az, el = geo.enu_to_polar(site.to_enu(truth))
    values = np.column_stack([r, az, np.full(50, np.nan), np.full(50, np.nan)])
    pos2, cov2 = F.polar_to_ecef_position(values, sig, site.ecef, site.rotation, 8000.0, 3000.0, site.alt_m)
    _, _, alt = geo.ecef_to_geodetic(pos2)
    np.testing.assert_allclose(alt, 8000.0, atol=1.0)
    np.testing.assert_allclose(pos2, truth, atol=50.0)
    up = F.up_vectors(pos2)
    assert np.all(np.einsum("ki,kij,kj->k", up, cov2, up) > 2900.0**2)
