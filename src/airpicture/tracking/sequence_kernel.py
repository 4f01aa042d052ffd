"""One track, many transponder reports in a row: the IMM predict/update cycle compiled with numba.

Why: a transponder reports twice a second, and the reports of one aircraft can only be used one after the
other. The vectorised NumPy path (``imm.imm_predict`` + ``imm.imm_update_cartesian``) spends ~1 ms per call on
NumPy overhead whatever the number of rows, so an aircraft heard for two hours (14,000 reports; the long flight
recorded on board an airliner is mostly its own ship) costs seconds. Here the same equations run as scalar
loops: microseconds per report.

This is a second implementation of the same mathematics as ``filters.predict`` (CV and coordinated turn in
ECEF, velocity transport, white-acceleration noise), ``imm.mix`` / ``imm.ModeSet.transition_over``,
``filters.cartesian_update`` and ``imm._posterior``. The NumPy path stays the reference:
tests/test_transponder_tracking.py runs both on the same reports and requires the same states to 1e-6.
Keep them in step when either changes.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .. import geo

CV_CODE, CT_CODE = 0, 1
UPDATED, RESTARTED, TOO_LATE = 0, 1, 2
_A, _B, _E2, _EP2 = geo.WGS84_A, geo.WGS84_B, geo.WGS84_E2, geo.WGS84_EP2
_SMALL_TURN_ANGLE = 1e-4  # as filters._SMALL_TURN_ANGLE
_LOG_2PI = math.log(2.0 * math.pi)


@njit(cache=True)
def _up(p):
    x, y, z = p[0], p[1], p[2]
    pp = math.hypot(x, y)
    theta = math.atan2(z * _A, pp * _B)
    st, ct = math.sin(theta), math.cos(theta)
    lat = math.atan2(z + _EP2 * _B * st * st * st, pp - _E2 * _A * ct * ct * ct)
    cl = math.cos(lat)
    u = np.empty(3)
    if pp > 0:
        u[0] = cl * x / pp
        u[1] = cl * y / pp
    else:
        u[0] = cl
        u[1] = 0.0
    u[2] = math.sin(lat)
    return u


@njit(cache=True)
def _cross(a, b):
    out = np.empty(3)
    out[0] = a[1] * b[2] - a[2] * b[1]
    out[1] = a[2] * b[0] - a[0] * b[2]
    out[2] = a[0] * b[1] - a[1] * b[0]
    return out


@njit(cache=True)
def _cross_matrix(u):
    k = np.zeros((3, 3))
    k[0, 1] = -u[2]
    k[0, 2] = u[1]
    k[1, 0] = u[2]
    k[1, 2] = -u[0]
    k[2, 0] = -u[1]
    k[2, 1] = u[0]
    return k


@njit(cache=True)
def _predict_mode(x, P, dt, model, qh, qv, qturn, qhold, up):
    F = np.zeros((7, 7))
    xn = np.empty(7)
    if model == CV_CODE:
        for i in range(6):
            F[i, i] = 1.0
        for i in range(3):
            F[i, i + 3] = dt
            xn[i] = x[i] + x[i + 3] * dt
            xn[i + 3] = x[i + 3]
        xn[6] = 0.0
    else:
        w = x[6]
        v = x[3:6].copy()
        uu = np.outer(up, up)
        horiz = np.eye(3) - uu
        cross = _cross_matrix(up)
        a = w * dt
        s, c = math.sin(a), math.cos(a)
        if abs(a) < _SMALL_TURN_ANGLE:
            sin_over_w = dt * (1.0 - a * a / 6.0)
            omc_over_w = dt * a / 2.0
            d_sin = -w * dt ** 3 / 3.0
            d_omc = dt * dt / 2.0
        else:
            sin_over_w = s / w
            omc_over_w = (1.0 - c) / w
            d_sin = (dt * c * w - s) / w ** 2
            d_omc = (dt * s * w - (1.0 - c)) / w ** 2
        v_h = horiz @ v
        v_u = v - v_h
        v_x = _cross(up, v)
        for i in range(3):
            xn[i] = x[i] + v_u[i] * dt + v_h[i] * sin_over_w + v_x[i] * omc_over_w
            xn[i + 3] = v_u[i] + v_h[i] * c + v_x[i] * s
            F[i, i] = 1.0
            for j in range(3):
                F[i, j + 3] = uu[i, j] * dt + horiz[i, j] * sin_over_w + cross[i, j] * omc_over_w
                F[i + 3, j + 3] = uu[i, j] + horiz[i, j] * c + cross[i, j] * s
            F[i, 6] = v_h[i] * d_sin + v_x[i] * d_omc
            F[i + 3, 6] = -v_h[i] * dt * s + v_x[i] * dt * c
        xn[6] = w
        F[6, 6] = 1.0
    # velocity transported with the local vertical (filters._transport_velocity)
    up_new = _up(xn[0:3])
    axis = _cross(up, up_new)
    cc = up[0] * up_new[0] + up[1] * up_new[1] + up[2] * up_new[2]
    kx = _cross_matrix(axis)
    rot = np.eye(3) + kx + (kx @ kx) / (1.0 + cc)
    xn[3:6] = rot @ np.ascontiguousarray(xn[3:6])
    F[3:6, :] = rot @ np.ascontiguousarray(F[3:6, :])
    # continuous white-acceleration noise (filters.process_noise)
    adt = abs(dt)
    uu = np.outer(up, up)
    sigma = qh * (np.eye(3) - uu) + qv * uu
    Q = np.zeros((7, 7))
    Q[0:3, 0:3] = sigma * (adt ** 3 / 3.0)
    Q[0:3, 3:6] = sigma * (adt ** 2 / 2.0)
    Q[3:6, 0:3] = sigma * (adt ** 2 / 2.0)
    Q[3:6, 3:6] = sigma * adt
    Q[6, 6] = qturn * adt + qhold
    Pn = F @ np.ascontiguousarray(P) @ np.ascontiguousarray(F.T) + Q
    return xn, 0.5 * (Pn + Pn.T)


@njit(cache=True)
def _transition(dt, eigval, eigvec, eigvec_inv, interval):
    m = eigval.size
    powers = np.empty(m, np.complex128)
    for j in range(m):
        powers[j] = eigval[j] ** (abs(dt) / interval)
    pi = np.empty((m, m))
    for i in range(m):
        for k in range(m):
            acc = 0.0 + 0.0j
            for j in range(m):
                acc += eigvec[i, j] * powers[j] * eigvec_inv[j, k]
            pi[i, k] = max(acc.real, 0.0)
        total = pi[i].sum()
        for k in range(m):
            pi[i, k] /= total
    return pi


@njit(cache=True)
def _imm_predict(mode_x, mode_P, mu, dt, models, noises, eigval, eigvec, eigvec_inv, interval):
    m = mu.size
    if m == 1:
        x0, p0, c = mode_x.copy(), mode_P.copy(), mu.copy()
    else:
        pi = _transition(dt, eigval, eigvec, eigvec_inv, interval)
        c = np.zeros(m)
        for j in range(m):
            for i in range(m):
                c[j] += mu[i] * pi[i, j]
        x0 = np.zeros((m, 7))
        p0 = np.zeros((m, 7, 7))
        for j in range(m):
            cs = max(c[j], 1e-300)
            for i in range(m):
                w = mu[i] * pi[i, j] / cs
                x0[j] += w * mode_x[i]
            for i in range(m):
                w = mu[i] * pi[i, j] / cs
                d = mode_x[i] - x0[j]
                p0[j] += w * (mode_P[i] + np.outer(d, d))
    centre = np.zeros(3)
    for j in range(m):
        centre += c[j] * x0[j, 0:3]
    up = _up(centre)
    xn = np.empty((m, 7))
    pn = np.empty((m, 7, 7))
    for j in range(m):
        xn[j], pn[j] = _predict_mode(x0[j], p0[j], dt, models[j], noises[j, 0], noises[j, 1], noises[j, 2],
                                     noises[j, 3], up)
    return xn, pn, c


@njit(cache=True)
def _combine(mode_x, mode_P, mu):
    x = np.zeros(7)
    for j in range(mu.size):
        x += mu[j] * mode_x[j]
    P = np.zeros((7, 7))
    for j in range(mu.size):
        d = mode_x[j] - x
        P += mu[j] * (mode_P[j] + np.outer(d, d))
    return x, P


@njit(cache=True)
def _cartesian_update(x, P, z, R):
    d = z.size
    nu = z - x[:d]
    S = P[:d, :d] + R
    S = 0.5 * (S + S.T)
    L = np.linalg.cholesky(S)
    y = np.linalg.solve(L, nu)
    d2 = (y * y).sum()
    logdet = 0.0
    for i in range(d):
        logdet += 2.0 * math.log(L[i, i])
    loglik = -0.5 * (d2 + logdet + d * _LOG_2PI)
    K = np.linalg.solve(S, np.ascontiguousarray(P[:, :d].T)).T
    K = np.ascontiguousarray(K)
    xn = x + K @ nu
    ikh = np.eye(7)
    ikh[:, :d] -= K
    Pn = ikh @ np.ascontiguousarray(P) @ np.ascontiguousarray(ikh.T) + K @ np.ascontiguousarray(R) @ np.ascontiguousarray(K.T)
    return xn, 0.5 * (Pn + Pn.T), loglik


@njit(cache=True)
def run_sequence(mode_x, mode_P, mu, t_state, times, pos, pos_cov, has_v, vel, vel_cov, models, noises, eigval,
                 eigvec, eigvec_inv, interval, reinit_d2, max_lag, init_mu, speed_var_h, speed_var_v, turn_var):
    """Apply reports (time order) to one track. Returns the final (mode_x, mode_P, mu, t_state) and per
    report: flag (UPDATED / RESTARTED / TOO_LATE), late (carried forward), stored time, combined state (7) and
    position covariance (3, 3) after it, and the distance of the (carried) report from the prediction - the same decisions as ``TransponderMixin._update_with_reports``."""
    n = times.size
    m = mu.size
    flags = np.zeros(n, np.int8)
    late = np.zeros(n, np.bool_)
    t_out = np.empty(n)
    x_out = np.empty((n, 7))
    p_out = np.empty((n, 3, 3))
    jump = np.full(n, np.nan)
    mode_x = mode_x.copy()
    mode_P = mode_P.copy()
    mu = mu.copy()
    for k in range(n):
        dt = times[k] - t_state
        lag = min(dt, 0.0)
        mx, mp, c = _imm_predict(mode_x, mode_P, mu, max(dt, 0.0), models, noises, eigval, eigvec, eigvec_inv,
                                 interval)
        if lag < -max_lag:
            flags[k] = TOO_LATE
            t_out[k] = np.nan
            xc, pc = _combine(mode_x, mode_P, mu)
            x_out[k] = xc
            p_out[k] = pc[0:3, 0:3]
            continue
        xc, pc = _combine(mx, mp, c)
        p = pos[k].copy()
        pcov = pos_cov[k].copy()
        if lag < 0:
            late[k] = True
            if has_v[k]:
                v, vc = vel[k], vel_cov[k]
            else:
                v, vc = xc[3:6], pc[3:6, 3:6]
            p -= v * lag
            pcov += vc * (lag * lag)
        diff = p - xc[0:3]
        jump[k] = math.sqrt(diff @ diff)
        s = pc[0:3, 0:3] + pcov
        d2 = diff @ np.linalg.solve(s, diff)
        if d2 > reinit_d2:
            # restart from the report as it came (TransponderMixin._start_state)
            flags[k] = RESTARTED
            u = _up(pos[k])
            uu = np.outer(u, u)
            x = np.zeros(7)
            P = np.zeros((7, 7))
            x[0:3] = pos[k]
            P[0:3, 0:3] = pos_cov[k]
            if has_v[k]:
                x[3:6] = vel[k]
                P[3:6, 3:6] = vel_cov[k]
            else:
                P[3:6, 3:6] = speed_var_h * (np.eye(3) - uu) + speed_var_v * uu
            P[6, 6] = turn_var
            for j in range(m):
                mode_x[j] = x
                mode_P[j] = P
            mu = init_mu.copy()
            t_state = times[k]
        else:
            if has_v[k]:
                z = np.empty(6)
                z[0:3] = p
                z[3:6] = vel[k]
                R = np.zeros((6, 6))
                R[0:3, 0:3] = pcov
                R[3:6, 3:6] = vel_cov[k]
            else:
                z = p
                R = pcov
            loglik = np.empty(m)
            for j in range(m):
                mode_x[j], mode_P[j], loglik[j] = _cartesian_update(mx[j], mp[j], z, R)
            # mode probabilities (imm._posterior)
            log_w = np.empty(m)
            for j in range(m):
                ll = loglik[j] if math.isfinite(loglik[j]) else 0.0
                log_w[j] = math.log(max(c[j], 1e-300)) + ll
            top = log_w.max()
            w = np.exp(log_w - top)
            mu = w / w.sum()
            mu = np.maximum(mu, 1e-6)
            mu = mu / mu.sum()
            t_state = max(times[k], t_state)
        t_out[k] = t_state
        xc, pc = _combine(mode_x, mode_P, mu)
        x_out[k] = xc
        p_out[k] = pc[0:3, 0:3]
    return mode_x, mode_P, mu, t_state, flags, late, t_out, x_out, p_out, jump
