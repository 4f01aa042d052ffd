"""Rotating surveillance radar (2D or 3D), simulated from truth.

The antenna turns at a constant rate: beam azimuth ``phi(t) = start_azimuth + 2 pi t / scan_period``
(clockwise from north, t in seconds since scenario start). A target is looked at once per
revolution, at the moment the beam crosses it; that crossing time is solved for every
target and revolution at once (Newton on the azimuth difference, the target keeps moving
while the beam sweeps). Each look then passes through coverage (range, elevation, 4/3-earth
horizon), the MTI notch and a Swerling / square-law detection draw (see ``detection``);
detections get Gaussian noise in the sensor's polar frame. Poisson false alarms are spread
over the coverage, each at the time the beam points at it.

Everything is arrays over targets x revolutions, processed in blocks of revolutions so
memory stays bounded for long scenarios.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import geo
from ..errors import InputError
from ..measurements import FALSE_ALARM, N_VALUES, MeasurementBatch, SensorSite
from ..truth import Truth
from . import detection
from .params import RADAR_PARAMS, with_defaults

TWO_PI = 2.0 * np.pi
NEWTON_ITERATIONS = 3  # from the interpolated guess: ~1e-12 rad even for fast targets at 1 km
EXTRA_ITERATIONS = 12  # for the few that need more (near-overhead passes), on those alone
# A crossing whose azimuth residual is still above this after Newton is dropped (only a
# target orbiting the antenna about as fast as the beam turns, far inside any real range_min).
CROSSING_TOLERANCE_RAD = 1e-6
BOUNDARY_RAD = 1e-9
# A revolution in which a target's azimuth swings by more than this (a pass nearly overhead)
# is re-examined in SUBSTEPS steps, so the azimuth change between samples stays well below pi.
FAST_SWING_RAD = np.pi / 3
SUBSTEPS = 32
GUESS_SLACK = 0.5  # revolutions: how far a first guess may sit from its crossing (measured: < 0.1)
# Simulated false alarms carry a range-rate drawn uniformly up to this magnitude (outside the MTI notch).
FALSE_ALARM_MAX_RANGE_RATE_MPS = 400.0
# Elements (targets x revolutions) handled per block: bounds memory to a few hundred MB.
BLOCK_ELEMENTS = 1 << 19


@dataclass(frozen=True)
class RadarConfig:
    """Radar parameters in SI units, validated (names as the SI keys of ``params.RADAR_PARAMS``)."""

    dimension: int
    scan_period_s: float
    start_azimuth_rad: float
    beamwidth_az_rad: float
    range_max_m: float
    range_min_m: float
    elevation_min_rad: float
    elevation_max_rad: float
    range_resolution_m: float
    reference_range_m: float
    reference_snr_db: float
    pfa: float
    false_alarms_per_scan: float | None
    mti_min_radial_speed_mps: float
    sigma_range_m: float
    sigma_azimuth_rad: float
    sigma_elevation_rad: float
    sigma_range_rate_mps: float

    @classmethod
    def from_site(cls, site: SensorSite) -> "RadarConfig":
        p = with_defaults(site.params, RADAR_PARAMS)
        names = cls.__dataclass_fields__
        try:
            values = {k: (None if p[k] is None else float(p[k])) for k in names}
        except (TypeError, ValueError) as exc:
            raise InputError(f"radar parameter is not a number ({exc})", source=site.name) from None
        values["dimension"] = int(values["dimension"])
        cfg = cls(**values)
        cfg._validate(site.name)
        return cfg

    def _validate(self, source: str) -> None:
        def bad(field: str, why: str):
            raise InputError(why, source=source, field=field)

        if self.dimension not in (2, 3):
            bad("dimension", "must be 2 or 3")
        for field in ("scan_period_s", "beamwidth_az_rad", "range_max_m", "range_resolution_m",
                      "reference_range_m"):
            if not getattr(self, field) > 0:
                bad(field, "must be positive")
        if not 0.0 < self.pfa < 1.0:
            bad("pfa", "must be between 0 and 1 (exclusive)")
        if not 0.0 <= self.range_min_m < self.range_max_m:
            bad("range_min_m", "must be >= 0 and below range_max")
        if not self.elevation_min_rad < self.elevation_max_rad:
            bad("elevation_min_rad", "must be below elevation_max")
        if self.false_alarms_per_scan is not None and not self.false_alarms_per_scan >= 0:
            bad("false_alarms_per_scan", "must be >= 0")
        for field in ("mti_min_radial_speed_mps", "sigma_range_m", "sigma_azimuth_rad",
                      "sigma_elevation_rad", "sigma_range_rate_mps"):
            if not getattr(self, field) >= 0:
                bad(field, "must be >= 0")

    @property
    def rotation_rate_rad_s(self) -> float:
        return TWO_PI / self.scan_period_s

    @property
    def measures_range_rate(self) -> bool:
        return self.sigma_range_rate_mps > 0

    @property
    def resolution_cells(self) -> float:
        """Range cells x azimuth beam positions: the cells each revolution tests for a detection."""
        range_cells = (self.range_max_m - self.range_min_m) / self.range_resolution_m
        return range_cells * (TWO_PI / self.beamwidth_az_rad)

    @property
    def mean_false_alarms_per_scan(self) -> float:
        if self.false_alarms_per_scan is not None:
            return self.false_alarms_per_scan
        return self.pfa * self.resolution_cells

    def beam_azimuth(self, t) -> np.ndarray:
        """Beam azimuth at times t, rad in [0, 2 pi)."""
        return np.mod(self.start_azimuth_rad + self.rotation_rate_rad_s * np.asarray(t, dtype=float), TWO_PI)

    def mean_snr(self, range_m, rcs_m2) -> np.ndarray:
        """Radar equation, linear: reference SNR scaled by RCS (per 1 m^2) and (R_ref / R)^4."""
        return (10.0 ** (self.reference_snr_db / 10.0) * np.asarray(rcs_m2, dtype=float)
                * (self.reference_range_m / np.asarray(range_m, dtype=float)) ** 4)


def scan_start_times(cfg: RadarConfig, t_start: float, t_end: float) -> np.ndarray:
    """Times in [t_start, t_end) at which the beam passes start_azimuth (revolution starts)."""
    first = int(np.ceil(t_start / cfg.scan_period_s - 1e-12))
    last = int(np.ceil(t_end / cfg.scan_period_s - 1e-12))
    return np.arange(first, last) * cfg.scan_period_s


def _enu_state(site: SensorSite, truth: Truth, t, targets):
    # Unknown times (a target not alive at the previous iterate) are asked for before the
    # truth starts, which answers NaN without tripping over a NaN-to-integer cast.
    t = np.where(np.isfinite(t), t, truth.times[0] - 1.0)
    pos, vel = truth.state_at(t, targets)
    return pos, vel, site.to_enu(pos), geo.ecef_vectors_to_enu(vel, site.rotation)


def _azimuth_and_rate(enu, vel_enu):
    east, north = enu[..., 0], enu[..., 1]
    horizontal2 = east * east + north * north
    azimuth = np.arctan2(east, north)
    rate = (vel_enu[..., 0] * north - vel_enu[..., 1] * east) / horizontal2
    return azimuth, rate


def _refine_crossings(site: SensorSite, cfg: RadarConfig, truth: Truth, t, rows):
    """Newton on wrap(target azimuth - beam azimuth) = 0; returns (t, position, velocity, converged).

    Three steps from the interpolated guess reach ~1e-12 rad; a target passing almost
    overhead (azimuth rate comparable to the rotation rate) gets a few more, on its own.
    """
    omega = cfg.rotation_rate_rad_s
    t = np.array(t, dtype=float)
    active = np.arange(t.size)
    for iteration in range(NEWTON_ITERATIONS + EXTRA_ITERATIONS):
        _, _, enu, vel_enu = _enu_state(site, truth, t[active], rows[active])
        az, rate = _azimuth_and_rate(enu, vel_enu)
        residual = geo.wrap_angle(az - cfg.start_azimuth_rad - omega * t[active])
        if iteration >= NEWTON_ITERATIONS:
            pending = ~(np.abs(residual) < CROSSING_TOLERANCE_RAD)  # NaN (not alive) is dropped too
            alive = np.isfinite(residual)
            active, residual, rate = active[pending & alive], residual[pending & alive], rate[pending & alive]
            if active.size == 0:
                break
        # A target sweeping the same way as the beam slows the relative motion; keep the
        # step bounded should its azimuth rate approach the rotation rate.
        t[active] += residual / np.maximum(omega - rate, 0.25 * omega)
    pos, vel, enu, _ = _enu_state(site, truth, t, rows)
    residual = geo.wrap_angle(np.arctan2(enu[..., 0], enu[..., 1]) - cfg.start_azimuth_rad - omega * t)
    return t, pos, vel, np.abs(residual) < CROSSING_TOLERANCE_RAD


def beam_crossings(site: SensorSite, cfg: RadarConfig, truth: Truth, t_start: float,
                   t_end: float) -> tuple[np.ndarray, np.ndarray]:
    """Every time in [t_start, t_end) the beam crosses a live target: (target index, time), sorted by time."""
    target, time, _, _ = _crossings(site, cfg, truth, t_start, t_end)
    return target, time


def _first_guesses(az_begin, az_end, beam_begin, beam_turn, t_begin, duration, use):
    """Crossings inside each interval, first guesses: (row, column, time) of every crossing.

    Over an interval the beam turns by ``beam_turn`` and the beam-minus-target angle by
    ``beam_turn - (target's azimuth change)``; a crossing is where that angle passes a
    multiple of 2 pi. From the start, the beam must first turn ``to_first`` relative to the
    target, then 2 pi more for each further crossing (at most two per interval here). The
    time is interpolated linearly. ``use`` masks the intervals to consider.
    """
    to_first = np.mod(az_begin - beam_begin, TWO_PI)
    relative_turn = beam_turn - geo.wrap_angle(az_end - az_begin)
    # A crossing within BOUNDARY_RAD of an interval boundary belongs to the interval it
    # starts, whichever side rounding puts it: so it is neither lost nor found twice.
    to_first = np.where(to_first > TWO_PI - BOUNDARY_RAD, 0.0, to_first)
    rows, cols, turns = [], [], []
    for lap in (0, 1):
        r, c = np.nonzero(use & (to_first + lap * TWO_PI < relative_turn - BOUNDARY_RAD))
        rows.append(r)
        cols.append(c)
        turns.append(to_first[r, c] + lap * TWO_PI)
    rows, cols, turns = np.concatenate(rows), np.concatenate(cols), np.concatenate(turns)
    t_begin = np.broadcast_to(t_begin, to_first.shape)
    return rows, cols, t_begin[rows, cols] + turns / relative_turn[rows, cols] * duration


def _crossings(site: SensorSite, cfg: RadarConfig, truth: Truth, t_start: float, t_end: float):
    """Every time in [t_start, t_end) the beam crosses a live target: (target index, time).

    Revolution k spans [k T, (k + 1) T) and starts with the beam at start_azimuth. Over it
    the beam-minus-target angle grows by ``2 pi - (target's azimuth change)``; the
    crossings are where that angle passes a multiple of 2 pi, so from the target's azimuth
    at the two ends of the revolution we know how many crossings fall inside (0, 1, or
    rarely 2) and roughly when. Each crossing is counted in exactly one revolution, so
    windows and blocks join without gaps or repeats, even for a target sitting exactly on
    start_azimuth. Newton steps on ``wrap(target azimuth - beam azimuth)`` (derivative:
    target azimuth rate minus rotation rate) then refine the time.
    """
    n = truth.n_targets
    period = cfg.scan_period_s
    if n == 0 or t_end <= t_start:
        return np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros((0, 3)), np.zeros((0, 3))
    # Revolutions overlapping the window; a crossing lies in its revolution up to rounding.
    k_first = int(np.floor(t_start / period - 1e-9))
    k_last = int(np.ceil(t_end / period + 1e-9))
    block = max(1, BLOCK_ELEMENTS // n)
    targets = np.arange(n)[:, None]
    out_target, out_time, out_pos, out_vel = [], [], [], []
    for k0 in range(k_first, k_last, block):
        k1 = min(k0 + block, k_last)
        edges = np.arange(k0, k1 + 1) * period
        _, _, enu, _ = _enu_state(site, truth, np.broadcast_to(edges, (n, edges.size)), targets)
        azimuth = np.arctan2(enu[..., 0], enu[..., 1])
        # A target born or dying inside a revolution: take its azimuth at the end where it exists.
        az_begin = np.where(np.isnan(azimuth[:, :-1]), azimuth[:, 1:], azimuth[:, :-1])
        az_end = np.where(np.isnan(azimuth[:, 1:]), az_begin, azimuth[:, 1:])
        # A target whose azimuth swings by more than FAST_SWING_RAD in one revolution (a pass
        # nearly overhead) is followed on a finer grid, where the swing per step stays below pi.
        swing = np.abs(geo.wrap_angle(az_end - az_begin))
        fast = swing > FAST_SWING_RAD
        rows, cols, t_guess = _first_guesses(az_begin, az_end, cfg.start_azimuth_rad, TWO_PI,
                                             edges[:-1], period, ~fast)
        fast_rows, fast_cols = np.nonzero(fast)
        if fast_rows.size:
            step = np.arange(SUBSTEPS + 1) / SUBSTEPS
            sub_edges = edges[fast_cols][:, None] + step * period
            _, _, sub_enu, _ = _enu_state(site, truth, sub_edges, fast_rows[:, None])
            sub_az = np.arctan2(sub_enu[..., 0], sub_enu[..., 1])
            sub_begin = np.where(np.isnan(sub_az[:, :-1]), sub_az[:, 1:], sub_az[:, :-1])
            sub_end = np.where(np.isnan(sub_az[:, 1:]), sub_begin, sub_az[:, 1:])
            beam_begin = cfg.start_azimuth_rad + TWO_PI * step[:-1]
            r, c, t_sub = _first_guesses(sub_begin, sub_end, beam_begin, TWO_PI / SUBSTEPS,
                                         sub_edges[:, :-1], period / SUBSTEPS, np.ones(sub_begin.shape, bool))
            rows = np.concatenate([rows, fast_rows[r]])
            t_guess = np.concatenate([t_guess, t_sub])
        # Refine only guesses that can end in the window: a guess is within ~0.1 T of its
        # crossing even for 500 m/s passes 100 m from the antenna, so short windows stay cheap.
        near = (t_guess >= t_start - GUESS_SLACK * period) & (t_guess < t_end + GUESS_SLACK * period)
        t, pos, vel, converged = _refine_crossings(site, cfg, truth, t_guess[near], rows[near])
        rows = rows[near]
        keep = converged & (t >= t_start) & (t < t_end)
        out_target.append(rows[keep])
        out_time.append(t[keep])
        out_pos.append(pos[keep])
        out_vel.append(vel[keep])
    target = np.concatenate(out_target)
    time = np.concatenate(out_time)
    pos = np.concatenate(out_pos)
    vel = np.concatenate(out_vel)
    # Safety net: two guesses that Newton took to the same crossing (distinct crossings of
    # one target are about a revolution apart).
    order = np.lexsort((time, target))
    repeat = np.zeros(target.size, dtype=bool)
    repeat[1:] = (target[order][1:] == target[order][:-1]) & (np.diff(time[order]) < 0.25 * period)
    order = order[~repeat]
    order = order[np.lexsort((target[order], time[order]))]
    return target[order], time[order], pos[order], vel[order]


def _noisy_values(cfg: RadarConfig, range_m, azimuth, elevation, range_rate, rng) -> tuple[np.ndarray, np.ndarray]:
    """Add Gaussian noise column by column; unmeasured columns are NaN in values and sigmas."""
    n = range_m.shape[0]
    sigma = np.array([
        cfg.sigma_range_m,
        cfg.sigma_azimuth_rad,
        cfg.sigma_elevation_rad if cfg.dimension == 3 else np.nan,
        cfg.sigma_range_rate_mps if cfg.measures_range_rate else np.nan,
    ])
    noise = rng.standard_normal((n, N_VALUES)) * sigma
    values = np.column_stack([range_m, azimuth, elevation, range_rate]) + noise
    values[:, 1] = np.mod(values[:, 1], TWO_PI)
    return values, np.broadcast_to(sigma, (n, N_VALUES)).copy()


def look_geometry(site: SensorSite, cfg: RadarConfig, pos, vel):
    """Polar geometry of targets at ECEF ``pos``/``vel`` (any leading shape) and whether the radar
    can see them: inside range and elevation coverage, above the 4/3-earth horizon, outside the
    MTI notch. Detection probability is left to the caller.

    Returns (range_m, azimuth, elevation, range_rate, visible). NaN inputs give visible = False.
    """
    enu = site.to_enu(pos)
    vel_enu = geo.ecef_vectors_to_enu(vel, site.rotation)
    range_m, azimuth, elevation = geo.enu_to_polar(enu)
    with np.errstate(invalid="ignore", divide="ignore"):
        range_rate = np.einsum("...j,...j->...", enu, vel_enu) / range_m
        _, _, target_alt = geo.ecef_to_geodetic(pos)
        visible = (
            (range_m >= cfg.range_min_m) & (range_m <= cfg.range_max_m)
            & (elevation >= cfg.elevation_min_rad) & (elevation <= cfg.elevation_max_rad)
            & geo.above_radar_horizon(site.ecef, site.alt_m, pos, target_alt)
            & (np.abs(range_rate) >= cfg.mti_min_radial_speed_mps)
        )
    return range_m, azimuth, elevation, range_rate, visible


def _target_detections(site, cfg, truth, t_start, t_end, rng, sensor_index) -> MeasurementBatch:
    target, t, pos, vel = _crossings(site, cfg, truth, t_start, t_end)
    range_m, azimuth, elevation, range_rate, visible = look_geometry(site, cfg, pos, vel)
    # Every look draws its fluctuation and noise, visible or not, so one target's coverage
    # does not shift the random stream seen by the others.
    detected, z = detection.detect(cfg.mean_snr(range_m, truth.rcs_m2[target]), truth.swerling[target],
                                   cfg.pfa, rng)
    detected &= visible
    values, sigmas = _noisy_values(cfg, range_m, azimuth, elevation, range_rate, rng)
    if cfg.dimension == 2:
        values[:, 2] = np.nan
    if not cfg.measures_range_rate:
        values[:, 3] = np.nan
    return MeasurementBatch(
        time=t[detected],
        sensor=np.full(int(detected.sum()), sensor_index, dtype=np.int32),
        values=values[detected],
        sigmas=sigmas[detected],
        truth=target[detected].astype(np.int32),
        snr_db=detection.measured_snr_db(z[detected]),
    )


def _false_alarms(cfg: RadarConfig, t_start, t_end, rng, sensor_index) -> MeasurementBatch:
    """Poisson false alarms: uniform in time (hence at the beam's azimuth), range and elevation."""
    duration = max(t_end - t_start, 0.0)
    count = int(rng.poisson(cfg.mean_false_alarms_per_scan * duration / cfg.scan_period_s))
    t = np.sort(rng.uniform(t_start, t_end, size=count))
    range_m = rng.uniform(cfg.range_min_m, cfg.range_max_m, size=count)
    elevation = rng.uniform(cfg.elevation_min_rad, cfg.elevation_max_rad, size=count)
    # Noise-only statistic above threshold: exponential noise is memoryless, so it is T + Exp(1).
    z = detection.threshold_from_pfa(cfg.pfa) + rng.exponential(1.0, size=count)
    notch = min(cfg.mti_min_radial_speed_mps, FALSE_ALARM_MAX_RANGE_RATE_MPS)
    speed = rng.uniform(notch, FALSE_ALARM_MAX_RANGE_RATE_MPS, size=count)
    range_rate = np.where(rng.random(count) < 0.5, -speed, speed)
    values, sigmas = _noisy_values(cfg, range_m, cfg.beam_azimuth(t), elevation, range_rate, rng)
    if cfg.dimension == 2:
        values[:, 2] = np.nan
    if not cfg.measures_range_rate:
        values[:, 3] = np.nan
    return MeasurementBatch(
        time=t,
        sensor=np.full(count, sensor_index, dtype=np.int32),
        values=values,
        sigmas=sigmas,
        truth=np.full(count, FALSE_ALARM, dtype=np.int32),
        snr_db=detection.measured_snr_db(z),
    )


def simulate_radar(site: SensorSite, truth: Truth, t_start: float, t_end: float,
                   rng: np.random.Generator, sensor_index: int | None = None) -> MeasurementBatch:
    """Detections and false alarms of one rotating radar over [t_start, t_end), sorted by time.

    Parameters
    ----------
    site : the radar; ``site.params`` holds SI parameters (missing ones take the defaults
        of ``params.RADAR_PARAMS``).
    truth : targets to look at; ``rcs_m2`` and ``swerling`` drive detection.
    t_start, t_end : window, s since scenario start. Beam phase is global (t = 0 at
        start_azimuth), so consecutive windows join without gaps or repeats.
    rng : random generator, consumed in a fixed order.
    sensor_index : value of the ``sensor`` column; defaults to ``site.index``.
    """
    cfg = RadarConfig.from_site(site)
    index = site.index if sensor_index is None else sensor_index
    batch = MeasurementBatch.concatenate([
        _target_detections(site, cfg, truth, t_start, t_end, rng, index),
        _false_alarms(cfg, t_start, t_end, rng, index),
    ])
    return batch.sorted_by_time()
