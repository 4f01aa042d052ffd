"""Which truths a sensor could see, and since when: the denominator of fair track metrics.

SIAP completeness "for targets above the radar horizon" must not charge the tracker for
a cruise missile hidden below the horizon or a drone 200 km from the only radar that
could see it. A truth sample counts as *observable* when some radar's physics gives it
a decent single-look detection probability (inside range and elevation coverage, above
the 4/3-earth horizon, outside the MTI notch, expected Pd >= ``min_pd``), and it has been
so for long enough to confirm a track (``confirm_scans`` scans of that radar). A target that
broadcasts ADS-B also counts while an ``adsb`` receiver hears it (airborne, within the receiver's
line of sight and range; sensors/adsb_receiver.py) and has done so for ``ADSB_HOLD_S`` seconds:
enough for the first even/odd position pair and a confirmed transponder track.
"""

from __future__ import annotations

import numpy as np

from .measurements import SensorSite
from .truth import Truth

ADSB_HOLD_S = 5.0  # receivable this long before it counts (positions at 2 Hz, 10 % lost, 3-of-4 confirmation)


def expected_pd(snr_linear, pfa: float, swerling) -> np.ndarray:
    """Single-look detection probability, per element, for mixed Swerling cases.

    Delegates to the closed forms the radar model itself is tested against
    (sensors/detection.py), so the denominator and the simulation agree.
    """
    from .sensors.detection import pd_single_look

    snr = np.asarray(snr_linear, dtype=float)
    sw = np.broadcast_to(np.asarray(swerling), snr.shape)
    pd = np.zeros_like(snr)
    for case in np.unique(sw):
        sel = sw == case
        pd[sel] = pd_single_look(snr[sel], pfa, int(case))
    return np.clip(pd, 0.0, 1.0)


def radar_observable(site: SensorSite, truth: Truth, times: np.ndarray, min_pd: float = 0.5) -> np.ndarray:
    """(n_targets, len(times)) bool: the radar would detect the target with Pd >= min_pd.

    Coverage, horizon and MTI come from the radar model itself (sensors.radar.look_geometry), so
    this denominator and the simulation cannot drift apart.
    """
    from .sensors.radar import RadarConfig, look_geometry

    cfg = RadarConfig.from_site(site)
    idx = np.repeat(np.arange(truth.n_targets)[:, None], len(times), axis=1)
    pos, vel = truth.state_at(np.broadcast_to(times[None, :], idx.shape), idx)
    range_m, _, _, _, visible = look_geometry(site, cfg, pos, vel)
    with np.errstate(invalid="ignore", divide="ignore"):
        pd = expected_pd(cfg.mean_snr(range_m, truth.rcs_m2[:, None]), cfg.pfa, truth.swerling[:, None])
    return visible & (pd >= min_pd)


def _held_for(flags: np.ndarray, times: np.ndarray, hold_s: float) -> np.ndarray:
    """True where ``flags`` has been continuously True for at least hold_s seconds."""
    out = np.zeros_like(flags)
    if flags.shape[1] == 0:
        return out
    # Start time of the current run of True values, per row.
    run_start = np.full(flags.shape[0], np.nan)
    for j, t in enumerate(times):  # loop over time only (a few hundred steps), vectorised over targets
        col = flags[:, j]
        run_start = np.where(col, np.where(np.isnan(run_start), t, run_start), np.nan)
        out[:, j] = col & (t - run_start >= hold_s)
    return out


def observable_mask(sensors: list[SensorSite], truth: Truth, times: np.ndarray, *,
                    confirm_scans: int = 3, min_pd: float = 0.5) -> np.ndarray:
    """(n_targets, len(times)): observable by at least one radar, or heard by an ADS-B receiver, for long
    enough to confirm (see the module doc)."""
    from .sensors.radar import RadarConfig

    mask = np.zeros((truth.n_targets, len(times)), dtype=bool)
    broadcasting = None
    for site in sensors:
        if site.kind == "radar":
            seen = radar_observable(site, truth, times, min_pd)
            hold = (confirm_scans + 0.5) * RadarConfig.from_site(site).scan_period_s
        elif site.kind == "adsb":
            from .sensors.adsb_receiver import broadcasting_targets, receivable

            if broadcasting is None:
                broadcasting = broadcasting_targets(truth)
            seen = receivable(site, truth, times, broadcasting)
            hold = ADSB_HOLD_S
        else:
            continue
        mask |= _held_for(seen, times, hold)
    return mask


def first_observable_time(sensor: SensorSite, truth: Truth, target: int, times: np.ndarray,
                          min_pd: float = 0.5) -> float | None:
    """First time the given radar could detect the target (None if never)."""
    seen = radar_observable(sensor, truth, times, min_pd)[target]
    hits = np.flatnonzero(seen)
    return float(times[hits[0]]) if hits.size else None
