"""Interacting Multiple Model (IMM) filter over arrays of tracks.

Every mode shares the 7-value ECEF state of :mod:`airpicture.tracking.filters`, so mixing
is plain weighted sums. Arrays: ``mode_x`` (m, M, 7), ``mode_P`` (m, M, 7, 7), mode
probabilities ``mu`` (m, M) for m tracks and M modes.

One IMM cycle to a measurement time is: :func:`imm_predict` (mixing with the Markov
transition over the elapsed time, then mode-matched prediction) followed by
:func:`imm_update` (mode-matched EKF updates and the mode-probability update).
:func:`combine` gives the moment-matched single Gaussian used for gating, output and
display.

Sensors are asynchronous, so the Markov chain is defined per unit of time rather than
per update: ``transition`` is the matrix for ``transition_interval_s`` and the matrix for
an elapsed dt is its (dt / interval)-th power, computed from its eigen-decomposition.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .filters import (CT, CV, MOTION_MODELS, POS, STATE_DIM, ProcessNoise, cartesian_update, polar_update, predict,
                      up_vectors)

DEFAULT_MODELS = (CV, CT)


def _default_noises():
    return (ProcessNoise(1.0, 0.3, 0.0), ProcessNoise(1.0, 0.3, 2e-3))


def _default_transition():
    # Per second: leave straight flight every ~50 s on average, a turn every ~12 s.
    return np.array([[0.98, 0.02], [0.08, 0.92]])


@dataclass
class ModeSet:
    """The motion models of an IMM and the Markov chain between them.

    Parameters
    ----------
    models : tuple of "cv" / "ct"
    noises : tuple of ProcessNoise, one per model
    transition : (M, M) row-stochastic matrix over ``transition_interval_s`` seconds
    transition_interval_s : float
    """

    models: tuple = DEFAULT_MODELS
    noises: tuple = field(default_factory=_default_noises)
    transition: np.ndarray = field(default_factory=_default_transition)
    transition_interval_s: float = 1.0

    def __post_init__(self) -> None:
        self.models = tuple(self.models)
        self.noises = tuple(self.noises)
        self.transition = np.asarray(self.transition, dtype=float)
        m = len(self.models)
        if m == 0 or any(model not in MOTION_MODELS for model in self.models):
            raise ValueError(f"models must be a non-empty sequence of {MOTION_MODELS}")
        if len(self.noises) != m:
            raise ValueError("one ProcessNoise per model is needed")
        if self.transition.shape != (m, m):
            raise ValueError(f"transition must be {m}x{m}")
        if np.any(self.transition < 0) or not np.allclose(self.transition.sum(axis=1), 1.0, atol=1e-9):
            raise ValueError("transition rows must be probabilities summing to 1")
        if not self.transition_interval_s > 0:
            raise ValueError("transition_interval_s must be positive")
        eigval, eigvec = np.linalg.eig(self.transition)
        if np.any(np.abs(eigval) < 1e-12):
            raise ValueError("transition matrix must be invertible (strong self-transition)")
        self._eigval = eigval.astype(complex)
        self._eigvec = eigvec.astype(complex)
        self._eigvec_inv = np.linalg.inv(self._eigvec)

    @property
    def n_modes(self) -> int:
        return len(self.models)

    @classmethod
    def single(cls, model: str = CV, noise: ProcessNoise | None = None) -> "ModeSet":
        """A one-mode set: the IMM then reduces exactly to an EKF."""
        return cls((model,), (noise or ProcessNoise(),), np.ones((1, 1)), 1.0)

    def transition_over(self, dt) -> np.ndarray:
        """(m, M, M) transition matrices for elapsed times dt (m,)."""
        dt = np.atleast_1d(np.abs(np.asarray(dt, dtype=float)))
        powers = self._eigval[None, :] ** (dt[:, None] / self.transition_interval_s)
        pi = np.real(np.einsum("ij,kj,jl->kil", self._eigvec, powers, self._eigvec_inv))
        pi = np.clip(pi, 0.0, None)
        return pi / pi.sum(axis=2, keepdims=True)


def initial_mode_probabilities(modes: ModeSet, m: int) -> np.ndarray:
    """Mode probabilities of new tracks (m, M).

    New tracks start with the first model favoured (0.8) and the rest sharing 0.2, which
    is what a surveillance picture looks like; the chain corrects it within a few updates.
    """
    if modes.n_modes == 1:
        return np.ones((m, 1))
    mu = np.full(modes.n_modes, 0.2 / (modes.n_modes - 1))
    mu[0] = 0.8
    return np.tile(mu, (m, 1))


def mix(mode_x, mode_P, mu, pi):
    """IMM interaction step.

    Returns mixed mode states (m, M, 7), covariances (m, M, 7, 7) and predicted mode
    probabilities c (m, M) = mu @ pi.
    """
    k, m = mu.shape
    n = mode_x.shape[-1]
    c = np.einsum("ki,kij->kj", mu, pi)
    c_safe = np.maximum(c, 1e-300)
    w = mu[:, :, None] * pi / c_safe[:, None, :]  # w[k, i, j] = P(mode i before | mode j now)
    wt = np.swapaxes(w, 1, 2)  # (k, j, i)
    x0 = wt @ mode_x  # (k, j, n)
    p0 = (wt @ mode_P.reshape(k, m, n * n)).reshape(k, m, n, n)
    diff = mode_x[:, None, :, :] - x0[:, :, None, :]  # (k, j, i, n)
    p0 += np.swapaxes(diff * wt[..., None], -1, -2) @ diff
    return x0, p0, c


def imm_predict(mode_x, mode_P, mu, dt, modes: ModeSet):
    """Mix over dt, then predict each mode with its own model. Returns (x, P, c)."""
    mode_x = np.asarray(mode_x, dtype=float)
    m = mode_x.shape[0]
    dt = np.broadcast_to(np.asarray(dt, dtype=float), (m,))
    if modes.n_modes == 1:
        x0, p0, c = mode_x, np.asarray(mode_P, dtype=float), np.asarray(mu, dtype=float)
    else:
        x0, p0, c = mix(mode_x, np.asarray(mode_P, dtype=float), np.asarray(mu, dtype=float),
                        modes.transition_over(dt))
    # The local vertical depends on position only; all modes share it up to metres.
    up = up_vectors(np.einsum("kj,kjn->kn", c, x0)[:, POS]) if m else np.zeros((0, 3))
    x_new = np.empty_like(x0)
    p_new = np.empty_like(p0)
    for j, (model, noise) in enumerate(zip(modes.models, modes.noises)):
        x_new[:, j], p_new[:, j] = predict(x0[:, j], p0[:, j], dt, model, noise, up)
    return x_new, p_new, c


def imm_update(mode_x, mode_P, c, values, sigmas, site_ecef, site_rotation):
    """Mode-matched EKF updates and the mode-probability update.

    Parameters
    ----------
    mode_x, mode_P, c : predicted modes and mode probabilities from :func:`imm_predict`.
    values, sigmas : (m, 4) one measurement per track (NaN columns = not measured).
    site_ecef, site_rotation : (m, 3), (m, 3, 3) or broadcastable: each row's sensor site.

    Returns
    -------
    mode_x, mode_P, mu : updated arrays.
    log_likelihood : (m,) log of the mixture likelihood of each measurement.
    """
    m, n_modes = mode_x.shape[:2]
    site_ecef = np.broadcast_to(np.asarray(site_ecef, dtype=float), (m, 3))
    site_rotation = np.broadcast_to(np.asarray(site_rotation, dtype=float), (m, 3, 3))
    rep = np.repeat(np.arange(m), n_modes)
    res = polar_update(mode_x.reshape(m * n_modes, STATE_DIM), mode_P.reshape(m * n_modes, STATE_DIM, STATE_DIM),
                       values[rep], sigmas[rep], site_ecef[rep], site_rotation[rep])
    return _posterior(res, c, m, n_modes)


def imm_update_cartesian(mode_x, mode_P, c, z, R):
    """As :func:`imm_update`, for ECEF position (d = 3) or position + velocity (d = 6) reports ``z`` (m, d)
    with full covariances ``R`` (m, d, d) - ADS-B."""
    m, n_modes = mode_x.shape[:2]
    rep = np.repeat(np.arange(m), n_modes)
    res = cartesian_update(mode_x.reshape(m * n_modes, STATE_DIM), mode_P.reshape(m * n_modes, STATE_DIM, STATE_DIM),
                           z[rep], R[rep])
    return _posterior(res, c, m, n_modes)


def _posterior(res, c, m, n_modes):
    """Mode-matched posteriors reshaped per track, the mode-probability update and the mixture log-likelihood."""
    loglik = res.log_likelihood.reshape(m, n_modes)
    loglik = np.where(np.isfinite(loglik), loglik, 0.0)  # nothing measured: likelihood carries no information
    log_w = np.log(np.maximum(c, 1e-300)) + loglik
    top = log_w.max(axis=1, keepdims=True)
    w = np.exp(log_w - top)
    total = w.sum(axis=1, keepdims=True)
    mu = w / total
    # Keep every mode alive: a mode at exactly zero could never come back.
    mu = np.maximum(mu, 1e-6)
    mu /= mu.sum(axis=1, keepdims=True)
    mix_loglik = top[:, 0] + np.log(total[:, 0])
    return (res.x.reshape(m, n_modes, STATE_DIM), res.P.reshape(m, n_modes, STATE_DIM, STATE_DIM), mu,
            mix_loglik)


def combine(mode_x, mode_P, mu):
    """Moment-matched mean (m, 7) and covariance (m, 7, 7) of the mode mixture."""
    x = np.einsum("kj,kjn->kn", mu, mode_x)
    diff = mode_x - x[:, None, :]
    p = np.einsum("kj,kjab->kab", mu, mode_P + diff[..., :, None] * diff[..., None, :])
    return x, p
