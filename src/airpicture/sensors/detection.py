"""Radar detection physics: Swerling target fluctuation and a square-law threshold detector.

One *look* is the dwell of the beam on a target during one antenna revolution. The
scenario gives the look's SNR (after whatever pulse integration the radar does) through
the radar equation; here that SNR is turned into a detection decision by drawing what a
square-law detector would see:

* noise is complex Gaussian with unit power, so noise alone gives a detection statistic
  ``z = |n|^2`` that is exponential with mean 1, and the threshold for a false-alarm
  probability ``pfa`` is ``T = -ln(pfa)``;
* the target's echo is a complex amplitude with power ``SNR * f``, where ``f`` is the
  Swerling RCS fluctuation factor (mean 1), added to the noise: ``z = |sqrt(SNR f) + n|^2``;
* the target is detected when ``z > T``.

Swerling cases and the single look
----------------------------------
* 0 (and 5): constant RCS, ``f = 1``.
* 1 and 2: RCS exponential (chi-square, 2 degrees of freedom), ``f ~ Exp(1)``.
* 3 and 4: RCS chi-square with 4 degrees of freedom, ``f ~ Gamma(2, 1/2)``.

Cases 1/3 decorrelate scan to scan and 2/4 pulse to pulse. A look is modelled as one
sample of the detector (the integrated SNR of the dwell), and every revolution draws a
new ``f``: so scan-to-scan decorrelation is exact, and for a single look 2 behaves as 1
and 4 as 3 (the diversity gain of pulse-to-pulse fluctuation within a dwell is not
modelled). The resulting Pd follows the single-look Swerling curves, given in closed form
below for tests and documentation.
"""

from __future__ import annotations

import numpy as np

SQRT_HALF = np.sqrt(0.5)


def threshold_from_pfa(pfa) -> np.ndarray:
    """Square-law detection threshold in noise-power units: noise alone exceeds it with probability pfa."""
    return -np.log(np.asarray(pfa, dtype=float))


def rcs_fluctuation(swerling, rng: np.random.Generator) -> np.ndarray:
    """Mean-one RCS factor per look for each Swerling case (array of ints 0..4)."""
    swerling = np.asarray(swerling)
    n = swerling.shape[0]
    # Draw both families for every look so the stream layout does not depend on the mix of cases.
    exponential = rng.exponential(1.0, size=n)
    chi2_4 = rng.gamma(2.0, 0.5, size=n)
    factor = np.ones(n)
    factor = np.where((swerling == 1) | (swerling == 2), exponential, factor)
    factor = np.where((swerling == 3) | (swerling == 4), chi2_4, factor)
    return factor


def detect(mean_snr, swerling, pfa: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draw one look per element: (detected bool, detection statistic z in noise-power units).

    Parameters
    ----------
    mean_snr : (n,) linear SNR of the look for the target's mean RCS.
    swerling : (n,) Swerling case per look.
    pfa : false-alarm probability per resolution cell.
    rng : random generator.

    Returns
    -------
    detected : (n,) bool, ``z > -ln(pfa)``.
    z : (n,) the square-law detector output (signal plus noise over noise power).
    """
    mean_snr = np.asarray(mean_snr, dtype=float)
    n = mean_snr.shape[0]
    signal_power = mean_snr * rcs_fluctuation(swerling, rng)
    noise = rng.standard_normal((2, n)) * SQRT_HALF
    z = (np.sqrt(signal_power) + noise[0]) ** 2 + noise[1] ** 2
    return z > threshold_from_pfa(pfa), z


def measured_snr_db(z) -> np.ndarray:
    """SNR estimate from the detector output, dB: signal power is z minus the unit noise power.

    Floored at -30 dB so a (rare) statistic barely above noise still gives a finite value.
    """
    return 10.0 * np.log10(np.maximum(np.asarray(z, dtype=float) - 1.0, 1e-3))


def pd_swerling0(snr, pfa) -> np.ndarray:
    """Single-look Pd for a steady target: 2z is non-central chi-square (2 dof, nc = 2 SNR)."""
    from scipy import stats  # imported here: scipy.stats costs ~1 s to import and only this needs it

    snr = np.asarray(snr, dtype=float)
    return stats.ncx2.sf(2.0 * threshold_from_pfa(pfa), 2, 2.0 * snr)


def pd_swerling1(snr, pfa) -> np.ndarray:
    """Single-look Pd for Swerling 1 (and 2): ``pfa ** (1 / (1 + SNR))``."""
    return np.asarray(pfa, dtype=float) ** (1.0 / (1.0 + np.asarray(snr, dtype=float)))


def pd_swerling3(snr, pfa) -> np.ndarray:
    """Single-look Pd for Swerling 3 (and 4).

    ``(1 + 2/S)^-1 (1 + T/(1 + S/2) + 2/S) exp(-T/(1 + S/2))`` with ``T = -ln pfa``, written
    as ``(1 + T a / (1 + a)^2) exp(-T / (1 + a))`` with ``a = S/2`` so that S = 0 gives pfa.
    """
    a = np.asarray(snr, dtype=float) / 2.0
    t = threshold_from_pfa(pfa)
    return (1.0 + t * a / (1.0 + a) ** 2) * np.exp(-t / (1.0 + a))


def pd_single_look(snr, pfa, swerling: int) -> np.ndarray:
    """Closed-form single-look Pd for a Swerling case (0..4)."""
    if swerling in (1, 2):
        return pd_swerling1(snr, pfa)
    if swerling in (3, 4):
        return pd_swerling3(snr, pfa)
    return pd_swerling0(snr, pfa)
