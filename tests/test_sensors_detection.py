"""Swerling / square-law detection draws against the closed-form single-look Pd curves."""

import numpy as np
import pytest
from scipy import integrate, stats

from airpicture.sensors import detection

PFA = 1e-6
LOOKS = 40_000
# Tolerance in binomial standard errors: with ~20 comparisons a true model fails < 1e-4 of the time.
Z_TOL = 4.5


def _check_pd(detected: np.ndarray, expected_pd: float) -> None:
    n = detected.size
    se = np.sqrt(max(expected_pd * (1 - expected_pd), 1.0 / n) / n)
    assert abs(detected.mean() - expected_pd) < Z_TOL * se, (detected.mean(), expected_pd, se)


@pytest.mark.parametrize("snr_db", [8.0, 12.0, 15.0, 20.0])
@pytest.mark.parametrize("swerling", [0, 1, 2, 3, 4])
def test_detection_draws_follow_swerling_curves(swerling, snr_db):
    rng = np.random.default_rng(1000 + 10 * swerling + int(snr_db))
    snr = 10 ** (snr_db / 10)
    detected, _ = detection.detect(np.full(LOOKS, snr), np.full(LOOKS, swerling), PFA, rng)
    _check_pd(detected, float(detection.pd_single_look(snr, PFA, swerling)))


def test_swerling1_closed_form_is_pfa_power():
    # The textbook form Pd = Pfa^(1/(1+SNR)), checked independently of our implementation.
    for snr in (1.0, 10.0, 100.0):
        assert detection.pd_swerling1(snr, PFA) == pytest.approx(PFA ** (1 / (1 + snr)))


@pytest.mark.parametrize("snr", [2.0, 10.0, 40.0])
def test_fluctuating_closed_forms_match_integral_over_rcs(snr):
    # Pd for a fluctuating target is the steady-target Pd averaged over the RCS distribution.
    steady = lambda s: stats.ncx2.sf(2 * -np.log(PFA), 2, 2 * s)  # noqa: E731
    sw1 = integrate.quad(lambda x: steady(snr * x) * stats.expon.pdf(x), 0, np.inf)[0]
    sw3 = integrate.quad(lambda x: steady(snr * x) * stats.gamma.pdf(x, 2, scale=0.5), 0, np.inf)[0]
    assert detection.pd_swerling1(snr, PFA) == pytest.approx(sw1, rel=1e-6)
    assert detection.pd_swerling3(snr, PFA) == pytest.approx(sw3, rel=1e-6)


def test_noise_alone_crosses_threshold_at_pfa():
    pfa = 1e-2
    rng = np.random.default_rng(7)
    detected, _ = detection.detect(np.zeros(200_000), np.zeros(200_000, dtype=int), pfa, rng)
    _check_pd(detected, pfa)


def test_rcs_fluctuation_moments():
    rng = np.random.default_rng(3)
    n = 200_000
    for case, variance in ((0, 0.0), (1, 1.0), (2, 1.0), (3, 0.5), (4, 0.5)):
        f = detection.rcs_fluctuation(np.full(n, case), rng)
        assert abs(f.mean() - 1.0) < 5 * np.sqrt(max(variance, 1e-12) / n) + 1e-12
        assert f.var() == pytest.approx(variance, abs=0.03)


def test_measured_snr_tracks_true_snr_for_strong_targets():
    rng = np.random.default_rng(11)
    snr_db = 30.0
    _, z = detection.detect(np.full(10_000, 10 ** (snr_db / 10)), np.zeros(10_000, dtype=int), PFA, rng)
    measured = detection.measured_snr_db(z)
    # Noise of unit power against a 1000x signal: the estimate wanders by ~0.2 dB.
    assert abs(np.median(measured) - snr_db) < 0.1


@pytest.mark.parametrize("swerling", [0, 1, 3])
def test_closed_forms_give_pfa_without_signal(swerling):
    assert detection.pd_single_look(np.array([0.0]), PFA, swerling)[0] == pytest.approx(PFA, rel=1e-6)
