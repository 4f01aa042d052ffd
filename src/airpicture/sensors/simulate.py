"""Run the simulated sensors of a scenario over its truth: one time-sorted measurement stream.

Randomness: each sensor draws from its own sub-stream of the scenario seed
(``SeedSequence(seed).spawn``, keyed by the sensor's position in the list), so results are
deterministic for a seed and a sensor's measurements do not change when another sensor is
added after it or re-parameterised.

Time-ordered processing: :func:`simulate_chunks` yields consecutive windows
``[k * chunk_s, (k + 1) * chunk_s)`` with every sensor's measurements merged and sorted
by time; :func:`simulate_all` is the single-window case. Alternatively simulate everything
once and walk it with :func:`time_slices`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from ..errors import InputError
from ..measurements import MeasurementBatch, SensorSite
from ..truth import Truth
from . import eo, radar

SIMULATORS = {"radar": radar.simulate_radar, "eo": eo.simulate_eo}
# Sensors that produce no MeasurementBatch: an ADS-B receiver hears frames (simulate_adsb).
FRAME_SENSORS = {"adsb"}


def _no_measurements(site, truth, t_start, t_end, rng, sensor_index=None) -> MeasurementBatch:
    return MeasurementBatch.empty()


def _simulator(site: SensorSite):
    if site.kind in FRAME_SENSORS:
        return _no_measurements
    try:
        return SIMULATORS[site.kind]
    except KeyError:
        raise InputError(f"unknown sensor type '{site.kind}' (expected one of "
                         f"{sorted(set(SIMULATORS) | FRAME_SENSORS)})", source=site.name, field="type") from None


def simulate_sensor(site: SensorSite, truth: Truth, t_start: float, t_end: float,
                    rng: np.random.Generator, sensor_index: int | None = None) -> MeasurementBatch:
    """Measurements of one sensor over [t_start, t_end), sorted by time.

    ``sensor_index`` fills the batch's ``sensor`` column (default ``site.index``).
    """
    return _simulator(site)(site, truth, float(t_start), float(t_end), rng, sensor_index)


def sensor_generators(seed: int, n_sensors: int) -> list[np.random.Generator]:
    """One independent generator per sensor position, derived from the scenario seed."""
    return [np.random.default_rng(child) for child in np.random.SeedSequence(seed).spawn(n_sensors)]


def simulate_chunks(sites: Sequence[SensorSite], truth: Truth, duration_s: float, seed: int,
                    chunk_s: float) -> Iterator[MeasurementBatch]:
    """Yield the merged, time-sorted measurements of all sensors window by window.

    Windows are ``[k chunk_s, (k + 1) chunk_s)`` clipped to the duration; the ``sensor``
    column is the sensor's position in ``sites``. Results depend on (seed, chunk_s): the
    same pair always gives the same measurements.
    """
    if not chunk_s > 0:
        raise ValueError("chunk_s must be positive")
    for site in sites:
        _simulator(site)  # fail on a bad sensor type before producing anything
    generators = sensor_generators(seed, len(sites))
    n_chunks = max(1, int(np.ceil(duration_s / chunk_s - 1e-12)))
    for k in range(n_chunks):
        t0 = k * chunk_s
        t1 = min((k + 1) * chunk_s, duration_s)
        batch = MeasurementBatch.concatenate([
            simulate_sensor(site, truth, t0, t1, rng, sensor_index=i)
            for i, (site, rng) in enumerate(zip(sites, generators))
        ])
        yield batch.sorted_by_time()


def simulate_all(sites: Sequence[SensorSite], truth: Truth, duration_s: float, seed: int) -> MeasurementBatch:
    """All measurements of all sensors over [0, duration_s), sorted by time (stable across sensors)."""
    return next(simulate_chunks(sites, truth, duration_s, seed, chunk_s=max(float(duration_s), 1e-9)))


def simulate_adsb(sites: Sequence[SensorSite], truth: Truth, duration_s: float, seed: int, *,
                  source: str | None = None):
    """Frames of the scenario's ADS-B transponders over [0, duration_s] and what its ``adsb`` sites hear.

    Returns ``(emitted, received)``: ``sensors.adsb.EmittedFrames`` and ``sensors.adsb_receiver.ReceivedFrames``
    (reception order). Transponders draw from ``adsb_receiver.emitter_rng(seed)``, each receiver's losses from
    its own sensor stream; None when no target broadcasts or no site is an ``adsb`` receiver. Bad
    transponder tables raise InputError (``source`` names the file).
    """
    from .adsb import emit_adsb, transponders_from_truth
    from .adsb_receiver import emitter_rng, receive_adsb

    positions = [i for i, site in enumerate(sites) if site.kind == "adsb"]
    transponders = transponders_from_truth(truth, source=source)
    if not positions or len(transponders) == 0:
        return None
    emitted = emit_adsb(truth, transponders, duration_s, emitter_rng(seed))
    generators = sensor_generators(seed, len(sites))
    receivers = [sites[i] for i in positions]
    if any(site.index != i for site, i in zip(receivers, positions)):  # hand-built lists: index = position
        from dataclasses import replace
        receivers = [replace(site, index=i) for site, i in zip(receivers, positions)]
    return emitted, receive_adsb(receivers, truth, emitted, [generators[i] for i in positions])


def scan_times(site: SensorSite, duration_s: float, t_start: float = 0.0) -> np.ndarray:
    """When a sensor's cycle starts within [t_start, duration_s).

    Radar: the revolution starts (beam at start_azimuth). EO: the report times.
    """
    if site.kind == "radar":
        return radar.scan_start_times(radar.RadarConfig.from_site(site), t_start, duration_s)
    if site.kind == "eo":
        return eo.update_times(eo.EOConfig.from_site(site), t_start, duration_s)
    _simulator(site)
    return np.zeros(0)


def time_slices(batch: MeasurementBatch, step_s: float, t_start: float = 0.0,
                t_end: float | None = None) -> Iterator[tuple[float, float, MeasurementBatch]]:
    """Walk a time-sorted batch in windows [t0, t0 + step_s): yields (t0, t1, sub-batch)."""
    if not step_s > 0:
        raise ValueError("step_s must be positive")
    if t_end is None:
        t_end = float(batch.time[-1]) + step_s if len(batch) else t_start
    edges = np.arange(t_start, t_end, step_s)
    bounds = np.searchsorted(batch.time, np.append(edges, t_end), side="left")
    for i, t0 in enumerate(edges):
        t1 = min(t0 + step_s, t_end)
        yield float(t0), float(t1), batch.take(slice(bounds[i], bounds[i + 1]))
