"""Passive electro-optical tracker: azimuth and elevation only, short range, fine accuracy.

Every ``update_period_s`` (on a global grid, t = 0, P, 2P, ...) the sensor reports each
target that is within ``range_max_m``, inside its field of regard (an azimuth sector
clockwise from ``azimuth_min`` to ``azimuth_max``, which may wrap through north, and an
elevation band) and in line of sight over the horizon, with probability ``pd``. Range and
range-rate are not measured (NaN). Optional Poisson false bearings are spread uniformly
over the field of regard.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import geo
from ..errors import InputError
from ..measurements import FALSE_ALARM, N_VALUES, MeasurementBatch, SensorSite
from ..truth import Truth
from .params import EO_PARAMS, with_defaults

TWO_PI = 2.0 * np.pi
# Optical line of sight bends less than radar: the usual effective-earth factor for light is ~7/6.
OPTICAL_EARTH_FACTOR = 7.0 / 6.0
BLOCK_ELEMENTS = 1 << 19


@dataclass(frozen=True)
class EOConfig:
    """EO parameters in SI units, validated (names as the SI keys of ``params.EO_PARAMS``)."""

    update_period_s: float
    range_max_m: float
    azimuth_min_rad: float
    azimuth_max_rad: float
    elevation_min_rad: float
    elevation_max_rad: float
    sigma_azimuth_rad: float
    sigma_elevation_rad: float
    pd: float
    false_alarms_per_update: float

    @classmethod
    def from_site(cls, site: SensorSite) -> "EOConfig":
        p = with_defaults(site.params, EO_PARAMS)
        try:
            values = {k: float(p[k]) for k in cls.__dataclass_fields__}
        except (TypeError, ValueError) as exc:
            raise InputError(f"EO parameter is not a number ({exc})", source=site.name) from None
        cfg = cls(**values)
        for field in ("update_period_s", "range_max_m"):
            if not getattr(cfg, field) > 0:
                raise InputError("must be positive", source=site.name, field=field)
        if not 0.0 <= cfg.pd <= 1.0:
            raise InputError("must be between 0 and 1", source=site.name, field="pd")
        if not cfg.elevation_min_rad < cfg.elevation_max_rad:
            raise InputError("must be below elevation_max", source=site.name, field="elevation_min_rad")
        for field in ("sigma_azimuth_rad", "sigma_elevation_rad", "false_alarms_per_update"):
            if not getattr(cfg, field) >= 0:
                raise InputError("must be >= 0", source=site.name, field=field)
        return cfg

    @property
    def azimuth_span_rad(self) -> float:
        """Width of the azimuth sector, clockwise from azimuth_min; a span of 0 or >= 360 deg is the full circle."""
        span = self.azimuth_max_rad - self.azimuth_min_rad
        if span >= TWO_PI - 1e-12:
            return TWO_PI
        span = float(np.mod(span, TWO_PI))
        return TWO_PI if span == 0.0 else span

    def in_azimuth_sector(self, azimuth) -> np.ndarray:
        return np.mod(np.asarray(azimuth, dtype=float) - self.azimuth_min_rad, TWO_PI) <= self.azimuth_span_rad


def update_times(cfg: EOConfig, t_start: float, t_end: float) -> np.ndarray:
    """Report times in [t_start, t_end) on the global grid k * update_period."""
    first = int(np.ceil(t_start / cfg.update_period_s - 1e-12))
    last = int(np.ceil(t_end / cfg.update_period_s - 1e-12))
    return np.arange(first, last) * cfg.update_period_s


def _sigmas(cfg: EOConfig, n: int) -> np.ndarray:
    sigma = np.array([np.nan, cfg.sigma_azimuth_rad, cfg.sigma_elevation_rad, np.nan])
    return np.broadcast_to(sigma, (n, N_VALUES)).copy()


def look_geometry(site: SensorSite, cfg: EOConfig, pos):
    """Azimuth / elevation of targets at ECEF ``pos`` (any leading shape) and whether the tracker can see them:
    within range, inside the field of regard, in optical line of sight (7/6 earth). Returns
    (range_m, azimuth, elevation, seen); NaN positions are not seen. Detection (``pd``) is left to the caller."""
    range_m, azimuth, elevation = geo.enu_to_polar(site.to_enu(pos))
    _, _, target_alt = geo.ecef_to_geodetic(pos)
    with np.errstate(invalid="ignore"):
        seen = (
            np.isfinite(range_m) & (range_m <= cfg.range_max_m)
            & cfg.in_azimuth_sector(azimuth)
            & (elevation >= cfg.elevation_min_rad) & (elevation <= cfg.elevation_max_rad)
            & geo.above_radar_horizon(site.ecef, site.alt_m, pos, target_alt, k=OPTICAL_EARTH_FACTOR)
        )
    return range_m, azimuth, elevation, seen


def _target_reports(site, cfg, truth, times, rng, sensor_index) -> MeasurementBatch:
    n = truth.n_targets
    if n == 0 or times.size == 0:
        return MeasurementBatch.empty()
    block = max(1, BLOCK_ELEMENTS // n)
    pieces = []
    for j0 in range(0, times.size, block):
        t = np.broadcast_to(times[None, j0:j0 + block], (n, min(block, times.size - j0)))
        target = np.broadcast_to(np.arange(n)[:, None], t.shape)
        pos, _ = truth.state_at(t, target)
        range_m, azimuth, elevation, seen = look_geometry(site, cfg, pos)
        # Draw for every (target, time) so coverage of one target leaves the others' draws unchanged.
        seen &= rng.random(t.shape) < cfg.pd
        noise = rng.standard_normal((2,) + t.shape)
        # Column-major order of (time, target) keeps the output sorted by time.
        cols, rows = np.nonzero(seen.T)
        count = rows.size
        values = np.full((count, N_VALUES), np.nan)
        values[:, 1] = np.mod(azimuth[rows, cols] + cfg.sigma_azimuth_rad * noise[0, rows, cols], TWO_PI)
        values[:, 2] = elevation[rows, cols] + cfg.sigma_elevation_rad * noise[1, rows, cols]
        pieces.append(MeasurementBatch(
            time=t[rows, cols].copy(),
            sensor=np.full(count, sensor_index, dtype=np.int32),
            values=values,
            sigmas=_sigmas(cfg, count),
            truth=rows.astype(np.int32),
            snr_db=np.full(count, np.nan),
        ))
    return MeasurementBatch.concatenate(pieces)


def _false_bearings(cfg: EOConfig, times, rng, sensor_index) -> MeasurementBatch:
    counts = rng.poisson(cfg.false_alarms_per_update, size=times.size)
    t = np.repeat(times, counts)
    count = t.size
    values = np.full((count, N_VALUES), np.nan)
    values[:, 1] = np.mod(cfg.azimuth_min_rad + rng.uniform(0.0, cfg.azimuth_span_rad, size=count), TWO_PI)
    values[:, 2] = rng.uniform(cfg.elevation_min_rad, cfg.elevation_max_rad, size=count)
    return MeasurementBatch(
        time=t,
        sensor=np.full(count, sensor_index, dtype=np.int32),
        values=values,
        sigmas=_sigmas(cfg, count),
        truth=np.full(count, FALSE_ALARM, dtype=np.int32),
        snr_db=np.full(count, np.nan),
    )


def simulate_eo(site: SensorSite, truth: Truth, t_start: float, t_end: float,
                rng: np.random.Generator, sensor_index: int | None = None) -> MeasurementBatch:
    """Bearings (azimuth, elevation) of one EO tracker over [t_start, t_end), sorted by time.

    Parameters as :func:`airpicture.sensors.radar.simulate_radar`; ``site.params`` follows
    ``params.EO_PARAMS``.
    """
    cfg = EOConfig.from_site(site)
    index = site.index if sensor_index is None else sensor_index
    times = update_times(cfg, t_start, t_end)
    batch = MeasurementBatch.concatenate([
        _target_reports(site, cfg, truth, times, rng, index),
        _false_bearings(cfg, times, rng, index),
    ])
    return batch.sorted_by_time()
