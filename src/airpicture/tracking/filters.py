"""Extended Kalman filtering in ECEF, vectorised over many tracks at once.

State (7 values per track), Earth-centred Earth-fixed, SI units::

    [x, y, z, vx, vy, vz, turn_rate]

The turn rate (rad/s, positive = turning left, i.e. counter-clockwise seen from above)
is used by the coordinated-turn model only; the constant-velocity model drives it to
zero. Keeping one state size for every motion model lets the IMM mix modes with plain
array arithmetic.

Nothing here uses a flat-earth approximation: motion is propagated in ECEF, the
"horizontal" and "vertical" of the process noise and of the turn are taken at each
track's own position (ellipsoid normal), and measurements are predicted through the
exact ECEF -> sensor ENU -> polar chain of each sensor site.

Shapes: ``k`` rows (tracks or track/measurement pairs); ``x`` is (k, 7), ``P`` is
(k, 7, 7). Every function accepts any k, including 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import geo
from ..measurements import AZIMUTH, ELEVATION, N_VALUES, RANGE, RANGE_RATE

STATE_DIM = 7
POS = slice(0, 3)
VEL = slice(3, 6)
TURN = 6

CV, CT = "cv", "ct"
MOTION_MODELS = (CV, CT)

# Below this |turn_rate * dt| the turn formulas switch to their Taylor series: the
# closed forms divide by the turn rate and lose all precision near straight flight.
_SMALL_TURN_ANGLE = 1e-4


@dataclass(frozen=True)
class ProcessNoise:
    """White-noise process noise of one motion model.

    Attributes
    ----------
    accel_psd_horizontal : float
        Power spectral density of the horizontal white acceleration, m^2/s^3 (per axis).
    accel_psd_vertical : float
        Same for the local vertical (aircraft change altitude far more gently).
    turn_rate_psd : float
        Power spectral density of the turn-rate random walk, rad^2/s^3 (CT model only).
    turn_rate_hold_var : float
        CV model only: the turn rate is held at zero with this variance, rad^2/s^2 (the
        spread of turn rates a manoeuvre may start with). CV ignores the turn rate, but in
        an IMM the turning mode is mixed mostly from CV while the target flies straight:
        with a zero variance there, the turning mode cannot explain a turn's onset.
    """

    accel_psd_horizontal: float = 1.0
    accel_psd_vertical: float = 0.1
    turn_rate_psd: float = 0.0
    turn_rate_hold_var: float = 0.0


# --------------------------------------------------------------------------- geometry

def up_vectors(position) -> np.ndarray:
    """Unit local vertical (ellipsoid normal) at ECEF positions (k, 3).

    Bowring's closed-form latitude without the refinement steps of ``geo.ecef_to_geodetic``: at
    aircraft heights it is within 1e-9 rad of the exact normal, and the predictions call this
    several times per update (a third of a transponder update's cost with the iterated form).
    """
    position = np.asarray(position, dtype=float)
    x, y, z = position[..., 0], position[..., 1], position[..., 2]
    p = np.hypot(x, y)
    theta = np.arctan2(z * geo.WGS84_A, p * geo.WGS84_B)
    st, ct = np.sin(theta), np.cos(theta)
    lat = np.arctan2(z + geo.WGS84_EP2 * geo.WGS84_B * st * st * st, p - geo.WGS84_E2 * geo.WGS84_A * ct * ct * ct)
    cl = np.cos(lat)
    p_safe = np.where(p > 0, p, 1.0)
    return np.stack([np.where(p > 0, cl * x / p_safe, cl), np.where(p > 0, cl * y / p_safe, 0.0), np.sin(lat)],
                    axis=-1)


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise a x b for (k, 3) arrays (np.cross costs ~50 us of overhead per call)."""
    out = np.empty(np.broadcast_shapes(a.shape, b.shape))
    out[..., 0] = a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1]
    out[..., 1] = a[..., 2] * b[..., 0] - a[..., 0] * b[..., 2]
    out[..., 2] = a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]
    return out


def _cross_matrix(u: np.ndarray) -> np.ndarray:
    """[u]x for rows u (k, 3): (k, 3, 3) with [u]x @ v = u x v."""
    k = np.zeros(u.shape[:-1] + (3, 3))
    k[..., 0, 1] = -u[..., 2]
    k[..., 0, 2] = u[..., 1]
    k[..., 1, 0] = u[..., 2]
    k[..., 1, 2] = -u[..., 0]
    k[..., 2, 0] = -u[..., 1]
    k[..., 2, 1] = u[..., 0]
    return k


# --------------------------------------------------------------------------- motion

def cv_transition(x: np.ndarray, dt) -> tuple[np.ndarray, np.ndarray]:
    """Constant velocity: predicted state and Jacobian F (k, 7, 7). Turn rate -> 0."""
    x = np.asarray(x, dtype=float)
    dt = np.broadcast_to(np.asarray(dt, dtype=float), x.shape[:1])
    k = x.shape[0]
    f = np.zeros((k, STATE_DIM, STATE_DIM))
    idx = np.arange(6)
    f[:, idx, idx] = 1.0
    f[:, [0, 1, 2], [3, 4, 5]] = dt[:, None]
    x_new = np.empty_like(x)
    x_new[:, POS] = x[:, POS] + x[:, VEL] * dt[:, None]
    x_new[:, VEL] = x[:, VEL]
    x_new[:, TURN] = 0.0
    return x_new, f


def ct_transition(x: np.ndarray, dt, up: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Coordinated turn about the local vertical at each track: state and Jacobian.

    The horizontal velocity rotates at the turn rate about the ellipsoid normal ``up``
    taken at the track's current position; the vertical velocity is kept. The normal
    is treated as constant over one prediction (it turns by dt*speed/6.4e6 rad).
    """
    x = np.asarray(x, dtype=float)
    k = x.shape[0]
    dt = np.broadcast_to(np.asarray(dt, dtype=float), (k,))
    if up is None:
        up = up_vectors(x[:, POS])
    w = x[:, TURN]
    v = x[:, VEL]
    uu = up[:, :, None] * up[:, None, :]
    horiz = np.eye(3) - uu
    cross = _cross_matrix(up)
    a = w * dt
    small = np.abs(a) < _SMALL_TURN_ANGLE
    w_safe = np.where(small, 1.0, w)
    s, c = np.sin(a), np.cos(a)
    # sin(wT)/w, (1-cos wT)/w and their derivatives with respect to w
    sin_over_w = np.where(small, dt * (1.0 - a * a / 6.0), s / w_safe)
    omc_over_w = np.where(small, dt * a / 2.0, (1.0 - c) / w_safe)
    d_sin_over_w = np.where(small, -w * dt**3 / 3.0, (dt * c * w - s) / w_safe**2)
    d_omc_over_w = np.where(small, dt * dt / 2.0, (dt * s * w - (1.0 - c)) / w_safe**2)

    v_h = np.einsum("kij,kj->ki", horiz, v)
    v_u = v - v_h
    v_x = _cross(up, v)  # = up x v_h
    x_new = np.empty_like(x)
    x_new[:, POS] = x[:, POS] + v_u * dt[:, None] + v_h * sin_over_w[:, None] + v_x * omc_over_w[:, None]
    x_new[:, VEL] = v_u + v_h * c[:, None] + v_x * s[:, None]
    x_new[:, TURN] = w

    f = np.zeros((k, STATE_DIM, STATE_DIM))
    eye3 = np.eye(3)
    f[:, POS, POS] = eye3
    f[:, POS, VEL] = (uu * dt[:, None, None] + horiz * sin_over_w[:, None, None]
                      + cross * omc_over_w[:, None, None])
    f[:, VEL, VEL] = uu + horiz * c[:, None, None] + cross * s[:, None, None]
    f[:, POS, TURN] = v_h * d_sin_over_w[:, None] + v_x * d_omc_over_w[:, None]
    f[:, VEL, TURN] = -v_h * (dt * s)[:, None] + v_x * (dt * c)[:, None]
    f[:, TURN, TURN] = 1.0
    return x_new, f


def process_noise(dt, up: np.ndarray, noise: ProcessNoise) -> np.ndarray:
    """Continuous white-noise acceleration Q (k, 7, 7), horizontal/vertical split per track.

    The local-frame acceleration density diag(qh, qh, qv) rotated into ECEF is
    ``qh (I - u u^T) + qv u u^T`` at the track's local vertical ``u``. The continuous form
    (rather than a per-step one) makes predicting t0 -> t1 -> t2 equal to t0 -> t2,
    which matters with asynchronous sensors.
    """
    up = np.asarray(up, dtype=float)
    k = up.shape[0]
    dt = np.abs(np.broadcast_to(np.asarray(dt, dtype=float), (k,)))
    uu = up[:, :, None] * up[:, None, :]
    sigma = noise.accel_psd_horizontal * (np.eye(3) - uu) + noise.accel_psd_vertical * uu
    q = np.zeros((k, STATE_DIM, STATE_DIM))
    q[:, POS, POS] = sigma * (dt**3 / 3.0)[:, None, None]
    q[:, POS, VEL] = sigma * (dt**2 / 2.0)[:, None, None]
    q[:, VEL, POS] = q[:, POS, VEL]
    q[:, VEL, VEL] = sigma * dt[:, None, None]
    q[:, TURN, TURN] = noise.turn_rate_psd * dt + noise.turn_rate_hold_var
    return q


def _transport_velocity(x_new, f, up_old):
    """Turn the velocity with the local vertical from the old position to the new one.

    A straight line in ECEF leaves the ellipsoid: a level target's velocity turns with the
    earth (by distance / radius, 3.6e-4 rad per 10 s at 230 m/s), a fixed ECEF velocity
    tilts upwards instead. Left alone, the tilt adds up scan after scan into a climb the
    weak elevation plots of a distant radar correct only slowly: a lag of ~100 m in height
    at 600 km. The rotation (Rodrigues, up_old -> up_new) is treated as constant in the
    Jacobian: it depends on position through distance / earth radius only.
    """
    up_new = up_vectors(x_new[:, POS])
    axis = _cross(up_old, up_new)
    c = np.einsum("ki,ki->k", up_old, up_new)
    kx = _cross_matrix(axis)
    rot = np.eye(3) + kx + (kx @ kx) / (1.0 + c)[:, None, None]
    x_new = x_new.copy()
    x_new[:, VEL] = np.einsum("kij,kj->ki", rot, x_new[:, VEL])
    f = f.copy()
    f[:, VEL, :] = rot @ f[:, VEL, :]
    return x_new, f


def predict(x: np.ndarray, P: np.ndarray, dt, model: str, noise: ProcessNoise,
            up: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """EKF prediction of (k, 7) states and (k, 7, 7) covariances over dt (scalar or (k,))."""
    x = np.asarray(x, dtype=float)
    if up is None:
        up = up_vectors(x[:, POS])
    if model == CV:
        x_new, f = cv_transition(x, dt)
    elif model == CT:
        x_new, f = ct_transition(x, dt, up)
    else:
        raise ValueError(f"unknown motion model {model!r}")
    x_new, f = _transport_velocity(x_new, f, up)
    p_new = f @ P @ np.swapaxes(f, -1, -2) + process_noise(dt, up, noise)
    return x_new, 0.5 * (p_new + np.swapaxes(p_new, -1, -2))


# --------------------------------------------------------------------------- measurements

def polar_measurement(x: np.ndarray, site_ecef, site_rotation) -> tuple[np.ndarray, np.ndarray]:
    """Predicted polar measurement and its Jacobian for every row.

    Parameters
    ----------
    x : (k, 7) states.
    site_ecef : (3,) or (k, 3) sensor positions.
    site_rotation : (3, 3) or (k, 3, 3) ECEF -> ENU rotations (rows east, north, up).

    Returns
    -------
    h : (k, 4) range m, azimuth rad in [0, 2pi), elevation rad, range-rate m/s.
    H : (k, 4, 7) analytic Jacobian d h / d x.
    """
    x = np.asarray(x, dtype=float)
    rot = np.broadcast_to(np.asarray(site_rotation, dtype=float), x.shape[:1] + (3, 3))
    d = np.einsum("kij,kj->ki", rot, x[:, POS] - site_ecef)
    w = np.einsum("kij,kj->ki", rot, x[:, VEL])
    e, n, u = d[:, 0], d[:, 1], d[:, 2]
    h2 = e * e + n * n
    hor = np.sqrt(h2)
    r2 = h2 + u * u
    r = np.sqrt(r2)
    # Guards keep the Jacobian finite for a track sitting on the sensor (never in practice).
    r_safe = np.maximum(r, 1e-6)
    h2_safe = np.maximum(h2, 1e-12)
    hor_safe = np.maximum(hor, 1e-6)
    rr = np.sum(d * w, axis=1) / r_safe

    k = x.shape[0]
    meas = np.empty((k, N_VALUES))
    meas[:, RANGE] = r
    meas[:, AZIMUTH] = np.mod(np.arctan2(e, n), geo.TWO_PI)
    meas[:, ELEVATION] = np.arctan2(u, hor)
    meas[:, RANGE_RATE] = rr

    # Jacobians with respect to the ENU offset d, then chained through the rotation.
    jd = np.zeros((k, N_VALUES, 3))
    jd[:, RANGE] = d / r_safe[:, None]
    jd[:, AZIMUTH, 0] = n / h2_safe
    jd[:, AZIMUTH, 1] = -e / h2_safe
    r2_safe = r_safe * r_safe
    jd[:, ELEVATION, 0] = -e * u / (hor_safe * r2_safe)
    jd[:, ELEVATION, 1] = -n * u / (hor_safe * r2_safe)
    jd[:, ELEVATION, 2] = hor / r2_safe
    jd[:, RANGE_RATE] = w / r_safe[:, None] - (rr / r2_safe)[:, None] * d
    jac = np.zeros((k, N_VALUES, STATE_DIM))
    jac[:, :, POS] = jd @ rot
    jac[:, RANGE_RATE, VEL] = np.einsum("ki,kij->kj", d / r_safe[:, None], rot)
    return meas, jac


def measured_columns(values: np.ndarray, sigmas: np.ndarray) -> np.ndarray:
    """(n, 4) bool: which columns a row measured (finite value and positive sigma)."""
    with np.errstate(invalid="ignore"):
        return np.isfinite(values) & np.isfinite(sigmas) & (sigmas > 0)


def column_groups(mask: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Rows grouped by measured-column pattern: [(row indices, column indices), ...].

    Rows with nothing measured are left out. At most 15 groups, so the loop over
    groups is not a loop over measurements.
    """
    code = mask.astype(np.int64) @ (1 << np.arange(mask.shape[1]))
    groups = []
    for c in np.unique(code):
        if c == 0:
            continue
        cols = np.flatnonzero((int(c) >> np.arange(mask.shape[1])) & 1)
        groups.append((np.flatnonzero(code == c), cols))
    return groups


def innovation(z: np.ndarray, h: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """z - h for the given measurement columns, azimuth wrapped to (-pi, pi]."""
    nu = z - h
    az = np.flatnonzero(cols == AZIMUTH)
    if az.size:
        nu[:, az] = geo.wrap_angle(nu[:, az])
    return nu


@dataclass
class UpdateResult:
    """Posterior plus the innovation statistics of each row."""

    x: np.ndarray  # (k, 7)
    P: np.ndarray  # (k, 7, 7)
    mahalanobis2: np.ndarray  # (k,) nu^T S^-1 nu (NaN where nothing was measured)
    log_likelihood: np.ndarray  # (k,) log N(nu; 0, S)
    dim: np.ndarray  # (k,) number of measured columns


def innovation_statistics(x, P, values, sigmas, site_ecef, site_rotation):
    """Mahalanobis distance^2, log det(2 pi S) and dimension for each row, without updating.

    Rows pair a predicted state with one measurement; columns that are NaN are left out.
    """
    res = polar_update(x, P, values, sigmas, site_ecef, site_rotation, statistics_only=True)
    return res.mahalanobis2, res.log_likelihood, res.dim


def polar_update(x, P, values, sigmas, site_ecef, site_rotation, *, statistics_only=False) -> UpdateResult:
    """EKF update of each row with its own polar measurement (NaN columns dropped).

    Parameters
    ----------
    x, P : (k, 7), (k, 7, 7) predicted states at the measurement times.
    values, sigmas : (k, 4) measurement rows (see measurements.MeasurementBatch).
    site_ecef, site_rotation : (k, 3), (k, 3, 3) the site of each row's sensor.

    Rows are grouped by measured-column pattern and each group is updated as one batch.
    The covariance uses the Joseph form, which stays symmetric positive definite with the
    very elongated polar uncertainty (50 m in range, km across at long range).
    """
    x = np.asarray(x, dtype=float)
    P = np.asarray(P, dtype=float)
    k = x.shape[0]
    values = np.asarray(values, dtype=float)
    sigmas = np.asarray(sigmas, dtype=float)
    site_ecef = np.broadcast_to(np.asarray(site_ecef, dtype=float), (k, 3))
    site_rotation = np.broadcast_to(np.asarray(site_rotation, dtype=float), (k, 3, 3))
    x_out = x.copy()
    p_out = P.copy()
    d2 = np.full(k, np.nan)
    loglik = np.full(k, np.nan)
    dim = np.zeros(k, dtype=np.int64)
    if k == 0:
        return UpdateResult(x_out, p_out, d2, loglik, dim)
    h_all, jac_all = polar_measurement(x, site_ecef, site_rotation)
    for rows, cols in column_groups(measured_columns(values, sigmas)):
        m = cols.size
        xr, pr = x[rows], P[rows]
        h = h_all[rows][:, cols]
        jac = jac_all[rows][:, cols, :]
        nu = innovation(values[rows][:, cols], h, cols)
        r_diag = sigmas[rows][:, cols] ** 2
        pht = pr @ np.swapaxes(jac, -1, -2)  # (g, 7, m)
        s = jac @ pht
        s[:, np.arange(m), np.arange(m)] += r_diag
        chol = np.linalg.cholesky(s)
        # S^-1 nu via the Cholesky factor; log det S from its diagonal.
        y = np.linalg.solve(chol, nu[..., None])[..., 0]
        d2[rows] = np.sum(y * y, axis=1)
        logdet = 2.0 * np.sum(np.log(np.diagonal(chol, axis1=-2, axis2=-1)), axis=1)
        loglik[rows] = -0.5 * (d2[rows] + logdet + m * np.log(2.0 * np.pi))
        dim[rows] = m
        if statistics_only:
            continue
        gain = np.swapaxes(np.linalg.solve(s, np.swapaxes(pht, -1, -2)), -1, -2)  # (g, 7, m)
        x_out[rows] = xr + np.einsum("kij,kj->ki", gain, nu)
        ikh = np.eye(STATE_DIM) - gain @ jac
        p_new = ikh @ pr @ np.swapaxes(ikh, -1, -2) + (gain * r_diag[:, None, :]) @ np.swapaxes(gain, -1, -2)
        p_out[rows] = 0.5 * (p_new + np.swapaxes(p_new, -1, -2))
    return UpdateResult(x_out, p_out, d2, loglik, dim)


# --------------------------------------------------------------------------- initiation

def elevation_for_altitude(range_m, site_alt_m, target_alt_m) -> np.ndarray:
    """Elevation (rad) at which a slant range reaches a given height, on the local sphere.

    Law of cosines on a sphere of the mean Earth radius: used to place 2D-radar plots
    (no elevation measured) at an assumed altitude; the ellipsoid/sphere difference
    is tens of metres, far inside the vertical uncertainty such a plot carries.
    """
    re = geo.EARTH_MEAN_RADIUS_M
    rs = re + np.asarray(site_alt_m, dtype=float)
    rt = re + np.asarray(target_alt_m, dtype=float)
    r = np.maximum(np.asarray(range_m, dtype=float), 1.0)
    sin_el = (rt * rt - rs * rs - r * r) / (2.0 * r * rs)
    return np.arcsin(np.clip(sin_el, -1.0, 1.0))


def polar_to_ecef_position(values: np.ndarray, sigmas: np.ndarray, site_ecef, site_rotation,
                           assumed_alt_m, assumed_alt_sigma_m: float, site_alt_m
                           ) -> tuple[np.ndarray, np.ndarray]:
    """Convert radar plots (range, azimuth[, elevation]) to ECEF positions and covariances.

    A plot without elevation (2D radar) is placed at ``assumed_alt_m`` and given a
    vertical standard deviation ``assumed_alt_sigma_m`` along the local vertical.

    Returns (k, 3) positions and (k, 3, 3) covariances (first-order conversion; at the
    accuracies of surveillance radars the conversion bias r*sigma_az^2 is metres).
    """
    values = np.asarray(values, dtype=float)
    sigmas = np.asarray(sigmas, dtype=float)
    k = values.shape[0]
    site_ecef = np.broadcast_to(np.asarray(site_ecef, dtype=float), (k, 3))
    rot = np.broadcast_to(np.asarray(site_rotation, dtype=float), (k, 3, 3))
    r, az = values[:, RANGE], values[:, AZIMUTH]
    has_el = np.isfinite(values[:, ELEVATION])
    el = np.where(has_el, values[:, ELEVATION],
                  elevation_for_altitude(r, site_alt_m, assumed_alt_m))
    enu = geo.polar_to_enu(r, az, el)
    pos = np.einsum("kji,kj->ki", rot, enu) + site_ecef
    if (~has_el).any():
        # One correction step onto the assumed ellipsoid height.
        _, _, alt = geo.ecef_to_geodetic(pos[~has_el])
        el2 = el[~has_el] + (np.broadcast_to(assumed_alt_m, (k,))[~has_el] - alt) / np.maximum(
            r[~has_el] * np.cos(el[~has_el]), 1.0)
        el[~has_el] = el2
        enu = geo.polar_to_enu(r, az, el)
        pos = np.einsum("kji,kj->ki", rot, enu) + site_ecef
    ce, se = np.cos(el), np.sin(el)
    ca, sa = np.cos(az), np.sin(az)
    # d enu / d (r, az, el)
    jac = np.zeros((k, 3, 3))
    jac[:, 0] = np.stack([ce * sa, r * ce * ca, -r * se * sa], axis=1)
    jac[:, 1] = np.stack([ce * ca, -r * ce * sa, -r * se * ca], axis=1)
    jac[:, 2] = np.stack([se, np.zeros(k), r * ce], axis=1)
    var = np.zeros((k, 3))
    var[:, 0] = sigmas[:, RANGE] ** 2
    var[:, 1] = sigmas[:, AZIMUTH] ** 2
    var[:, 2] = np.where(has_el, np.nan_to_num(sigmas[:, ELEVATION]) ** 2, 0.0)
    cov_enu = (jac * var[:, None, :]) @ np.swapaxes(jac, -1, -2)
    cov = np.swapaxes(rot, -1, -2) @ cov_enu @ rot
    if (~has_el).any():
        up = up_vectors(pos[~has_el])
        cov[~has_el] += assumed_alt_sigma_m**2 * up[:, :, None] * up[:, None, :]
    return pos, 0.5 * (cov + np.swapaxes(cov, -1, -2))


# --------------------------------------------------------------------------- Cartesian reports

def cartesian_update(x, P, z, R, *, statistics_only=False) -> UpdateResult:
    """Linear Kalman update with ECEF position (3) or position + velocity (6) reports.

    Parameters
    ----------
    x, P : (k, 7), (k, 7, 7) predicted states at the report times.
    z : (k, d) reported ECEF position (d = 3) or position and velocity (d = 6).
    R : (k, d, d) their full covariance (ADS-B accuracy is an ellipse in local east/north/up,
        so it is not diagonal in ECEF).

    The measurement matrix picks the first d state components, so no linearisation is involved.
    """
    x = np.asarray(x, dtype=float)
    P = np.asarray(P, dtype=float)
    z = np.asarray(z, dtype=float)
    R = np.asarray(R, dtype=float)
    k, d = z.shape
    x_out, p_out = x.copy(), P.copy()
    if k == 0:
        return UpdateResult(x_out, p_out, np.zeros(0), np.zeros(0), np.zeros(0, np.int64))
    nu = z - x[:, :d]
    pht = P[:, :, :d]  # P H^T: the first d columns
    s = P[:, :d, :d] + R
    s = 0.5 * (s + np.swapaxes(s, -1, -2))
    chol = np.linalg.cholesky(s)
    y = np.linalg.solve(chol, nu[..., None])[..., 0]
    d2 = np.sum(y * y, axis=1)
    logdet = 2.0 * np.sum(np.log(np.diagonal(chol, axis1=-2, axis2=-1)), axis=1)
    loglik = -0.5 * (d2 + logdet + d * np.log(2.0 * np.pi))
    dim = np.full(k, d, dtype=np.int64)
    if statistics_only:
        return UpdateResult(x_out, p_out, d2, loglik, dim)
    gain = np.swapaxes(np.linalg.solve(s, np.swapaxes(pht, -1, -2)), -1, -2)  # (k, 7, d)
    x_out = x + np.einsum("kij,kj->ki", gain, nu)
    ikh = np.repeat(np.eye(STATE_DIM)[None], k, axis=0)
    ikh[:, :, :d] -= gain
    p_new = ikh @ P @ np.swapaxes(ikh, -1, -2) + gain @ R @ np.swapaxes(gain, -1, -2)
    p_out = 0.5 * (p_new + np.swapaxes(p_new, -1, -2))
    return UpdateResult(x_out, p_out, d2, loglik, dim)


# --------------------------------------------------------------------------- gates

def chi2_quantile(probability: float, dof: int) -> float:
    """Chi-square quantile by bisection on the closed-form CDF (any integer dof).

    The regularised lower incomplete gamma P(d/2, x/2) has closed forms for integer and half-integer
    arguments: 1 - e^-y sum_{k<m} y^k / k! for d = 2m, and erf(sqrt y) - e^-y sum_{k=1}^{(d-1)/2}
    y^(k-1/2) / Gamma(k+1/2) for odd d. Kept free of scipy.special / scipy.stats, whose imports cost half a
    second to a second of start-up.
    """
    dof = int(dof)
    if dof < 1 or not 0.0 < probability < 1.0:
        raise ValueError("chi2_quantile needs dof >= 1 and 0 < probability < 1")
    if dof == 2:
        return float(-2.0 * math.log1p(-probability))

    def cdf(x):
        y = 0.5 * x
        if dof % 2 == 0:
            term, total = 1.0, 1.0
            for k in range(1, dof // 2):
                term *= y / k
                total += term
            return 1.0 - math.exp(-y) * total
        total = 0.0
        term = math.sqrt(y) / math.gamma(1.5)
        for k in range(1, (dof - 1) // 2 + 1):
            total += term
            term *= y / (k + 0.5)  # Gamma(k + 3/2) = (k + 1/2) Gamma(k + 1/2)
        return math.erf(math.sqrt(y)) - math.exp(-y) * total

    low, high = 0.0, 1.0
    while cdf(high) < probability:
        high *= 2.0
    for _ in range(200):
        mid = 0.5 * (low + high)
        if cdf(mid) < probability:
            low = mid
        else:
            high = mid
    return 0.5 * (low + high)
