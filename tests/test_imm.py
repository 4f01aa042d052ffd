"""IMM: mixing algebra, reduction to an EKF, and a 6 g turn tracked better than by CV alone."""

import numpy as np
import pytest

from airpicture import geo
from airpicture.measurements import SensorSite
from airpicture.tracking import filters as F
from airpicture.tracking import imm

DEG = np.pi / 180
G = 9.80665


def _site():
    return SensorSite("r", "radar", 43.0 * DEG, 5.0 * DEG, 50.0)


def _turn_truth(dt=1.0, speed=300.0, g_load=6.0):
    """Straight north, 180 deg left turn at g_load, straight south; sensor ENU, analytic."""
    w = g_load * G / speed
    t_turn = np.pi / w
    t = np.arange(0.0, 30.0 + t_turn + 30.0, dt)
    start = np.array([30000.0, 20000.0])
    radius = speed / w
    pos = np.zeros((t.size, 2))
    vel = np.zeros((t.size, 2))
    for i, ti in enumerate(t):
        if ti <= 30:
            pos[i] = start + [0.0, speed * ti]
            vel[i] = [0.0, speed]
        elif ti <= 30 + t_turn:
            a = w * (ti - 30)
            centre = start + [-radius, speed * 30]
            pos[i] = centre + radius * np.array([np.cos(a), np.sin(a)])
            vel[i] = speed * np.array([-np.sin(a), np.cos(a)])
        else:
            end = start + [-2 * radius, speed * 30]
            pos[i] = end + [0.0, -speed * (ti - 30 - t_turn)]
            vel[i] = [0.0, -speed]
    turning = (t > 30 + 3) & (t <= 30 + t_turn)
    enu = np.column_stack([pos, np.full(t.size, 6000.0)])
    venu = np.column_stack([vel, np.zeros(t.size)])
    return t, enu, venu, turning


def _run(modes, n_runs=30, seed=0):
    site = _site()
    t, enu, venu, turning = _turn_truth()
    truth_pos = site.to_ecef(enu)
    truth_vel = geo.enu_vectors_to_ecef(venu, site.rotation)
    sig = np.array([20.0, 0.1 * DEG, 0.2 * DEG, np.nan])
    rng = np.random.default_rng(seed)
    r, az, el = geo.enu_to_polar(enu)
    m = n_runs
    x = np.zeros((m, 7))
    x[:, :3] = truth_pos[0] + rng.normal(0, 50, (m, 3))
    x[:, 3:6] = truth_vel[0] + rng.normal(0, 10, (m, 3))
    P0 = np.diag([50.0**2] * 3 + [10.0**2] * 3 + [0.01])
    n = modes.n_modes
    mode_x = np.repeat(x[:, None], n, axis=1)
    mode_P = np.tile(P0, (m, n, 1, 1))
    mu = imm.initial_mode_probabilities(modes, m)
    err2 = np.zeros((m, t.size))
    mu_hist = np.zeros((m, t.size, n))
    for k in range(1, t.size):
        mode_x, mode_P, c = imm.imm_predict(mode_x, mode_P, mu, t[k] - t[k - 1], modes)
        z = np.column_stack([r[k] + rng.normal(0, sig[0], m), az[k] + rng.normal(0, sig[1], m),
                             el[k] + rng.normal(0, sig[2], m), np.full(m, np.nan)])
        mode_x, mode_P, mu, _ = imm.imm_update(mode_x, mode_P, c, z, np.tile(sig, (m, 1)), site.ecef, site.rotation)
        xc, _ = imm.combine(mode_x, mode_P, mu)
        err2[:, k] = np.sum((xc[:, :3] - truth_pos[k]) ** 2, axis=1)
        mu_hist[:, k] = mu
    return err2, mu_hist, turning, t


def test_transition_over_time_composes():
    modes = imm.ModeSet()
    p1 = modes.transition_over(np.array([1.0]))[0]
    np.testing.assert_allclose(p1, modes.transition, atol=1e-12)
    p3 = modes.transition_over(np.array([3.0]))[0]
    np.testing.assert_allclose(p3, np.linalg.matrix_power(modes.transition, 3), atol=1e-12)
    p_half = modes.transition_over(np.array([0.5]))[0]
    np.testing.assert_allclose(p_half @ p_half, modes.transition, atol=1e-12)


def test_mixing_preserves_the_mixture_moments():
    rng = np.random.default_rng(1)
    mode_x = rng.normal(size=(4, 2, 7))
    a = rng.normal(size=(4, 2, 7, 7))
    mode_P = a @ np.swapaxes(a, -1, -2) + np.eye(7)
    mu = rng.dirichlet([1, 1], size=4)
    # With an identity transition, mixing changes nothing.
    x0, p0, c = imm.mix(mode_x, mode_P, mu, np.tile(np.eye(2), (4, 1, 1)))
    np.testing.assert_allclose(x0, mode_x)
    np.testing.assert_allclose(p0, mode_P)
    np.testing.assert_allclose(c, mu)
    # With any transition, the overall mixture mean and covariance are preserved.
    pi = np.tile(np.array([[0.7, 0.3], [0.4, 0.6]]), (4, 1, 1))
    x0, p0, c = imm.mix(mode_x, mode_P, mu, pi)
    xa, pa = imm.combine(mode_x, mode_P, mu)
    xb, pb = imm.combine(x0, p0, c)
    np.testing.assert_allclose(xb, xa, atol=1e-12)
    np.testing.assert_allclose(pb, pa, atol=1e-10)


def test_single_mode_imm_is_the_ekf():
    rng = np.random.default_rng(2)
    site = _site()
    noise = F.ProcessNoise(2.0, 0.5)
    modes = imm.ModeSet.single(F.CV, noise)
    x = np.concatenate([site.to_ecef(np.array([[20e3, 30e3, 5e3]])), [[100.0, -50.0, 0.0, 0.0]]], axis=1)
    P = np.diag([1e4] * 3 + [1e2] * 3 + [0.0])[None]
    xp, pp = F.predict(x, P, 2.0, F.CV, noise)
    mx, mp, c = imm.imm_predict(x[:, None], P[:, None], np.ones((1, 1)), 2.0, modes)
    np.testing.assert_allclose(mx[:, 0], xp)
    np.testing.assert_allclose(mp[:, 0], pp)
    h, _ = F.polar_measurement(xp, site.ecef, site.rotation)
    z = h + rng.normal(0, 1, h.shape) * [20, 1e-3, 1e-3, 1]
    sig = np.array([[20, 1e-3, 1e-3, 1.0]])
    ekf = F.polar_update(xp, pp, z, sig, site.ecef, site.rotation)
    ux, up_, mu, ll = imm.imm_update(mx, mp, c, z, sig, site.ecef, site.rotation)
    np.testing.assert_allclose(ux[:, 0], ekf.x)
    np.testing.assert_allclose(up_[:, 0], ekf.P)
    np.testing.assert_allclose(ll, ekf.log_likelihood)


@pytest.fixture(scope="module")
def turn_runs():
    cv_noise = F.ProcessNoise(1.0, 0.3)
    cv = imm.ModeSet.single(F.CV, cv_noise)
    both = imm.ModeSet()
    return _run(cv), _run(both)


def test_imm_beats_cv_in_a_6g_turn(turn_runs):
    (err_cv, _, turning, t), (err_imm, _, _, _) = turn_runs
    rmse_cv = np.sqrt(err_cv[:, turning].mean())
    rmse_imm = np.sqrt(err_imm[:, turning].mean())
    assert rmse_imm < 0.6 * rmse_cv, (rmse_imm, rmse_cv)
    # and it does not pay for that in straight flight
    straight = (t > 10) & (t < 30)
    assert np.sqrt(err_imm[:, straight].mean()) < 1.3 * np.sqrt(err_cv[:, straight].mean())


def test_imm_switches_to_the_turn_mode(turn_runs):
    _, (_, mu, turning, t) = turn_runs
    before = (t > 10) & (t < 30)
    assert mu[:, before, 1].mean() < 0.3
    assert mu[:, turning, 1].mean() > 0.7
