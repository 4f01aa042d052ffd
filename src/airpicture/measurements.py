"""Columnar measurement batches and sensor sites: the data that flows from sensors to tracking.

A batch is a handful of NumPy arrays with one row per measurement, never a list of
per-measurement objects. Simulated radars and (later) real plot feeds such as ASTERIX
CAT048 produce the same batches.

Measurement values are in the sensor's own polar frame:
column 0 range (m), 1 azimuth (rad, clockwise from north), 2 elevation (rad),
3 range-rate (m/s, positive = opening). A column a sensor does not measure is NaN,
so a 2D radar has NaN elevation and an EO tracker has NaN range and range-rate.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import geo

RANGE, AZIMUTH, ELEVATION, RANGE_RATE = 0, 1, 2, 3
N_VALUES = 4
FALSE_ALARM = -1  # truth id of a clutter detection (simulation only)
UNKNOWN_TRUTH = -2  # truth id for real data, where truth is not known


@dataclass
class SensorSite:
    """One sensor: where it is and what it measures. Parameters are SI units."""

    name: str
    kind: str  # "radar" or "eo"
    lat_rad: float
    lon_rad: float
    alt_m: float
    params: dict = field(default_factory=dict)
    index: int = 0

    def __post_init__(self) -> None:
        self.ecef = geo.geodetic_to_ecef(self.lat_rad, self.lon_rad, self.alt_m)
        self.rotation = geo.enu_rotation(self.lat_rad, self.lon_rad)

    def to_enu(self, xyz):
        return geo.ecef_to_enu(xyz, self.ecef, self.rotation)

    def to_ecef(self, enu):
        return geo.enu_to_ecef(enu, self.ecef, self.rotation)


@dataclass
class MeasurementBatch:
    """Measurements, one row each, sorted by time when produced by a sensor model."""

    time: np.ndarray  # (n,) float64, s since scenario start
    sensor: np.ndarray  # (n,) int32, index into the sensor list
    values: np.ndarray  # (n, 4) float64: range, azimuth, elevation, range-rate (NaN = not measured)
    sigmas: np.ndarray  # (n, 4) float64: 1-sigma noise per column (NaN = not measured)
    truth: np.ndarray  # (n,) int32: truth index, FALSE_ALARM, or UNKNOWN_TRUTH
    snr_db: np.ndarray | None = None  # (n,) optional signal-to-noise ratio

    def __len__(self) -> int:
        return int(self.time.shape[0])

    @classmethod
    def empty(cls) -> "MeasurementBatch":
        return cls(
            time=np.zeros(0),
            sensor=np.zeros(0, dtype=np.int32),
            values=np.zeros((0, N_VALUES)),
            sigmas=np.zeros((0, N_VALUES)),
            truth=np.zeros(0, dtype=np.int32),
            snr_db=np.zeros(0),
        )

    @classmethod
    def concatenate(cls, batches: list["MeasurementBatch"]) -> "MeasurementBatch":
        batches = [b for b in batches if len(b)]
        if not batches:
            return cls.empty()
        snr = None
        if all(b.snr_db is not None for b in batches):
            snr = np.concatenate([b.snr_db for b in batches])
        return cls(
            time=np.concatenate([b.time for b in batches]),
            sensor=np.concatenate([b.sensor for b in batches]).astype(np.int32),
            values=np.concatenate([b.values for b in batches]),
            sigmas=np.concatenate([b.sigmas for b in batches]),
            truth=np.concatenate([b.truth for b in batches]).astype(np.int32),
            snr_db=snr,
        )

    def take(self, index) -> "MeasurementBatch":
        return MeasurementBatch(
            time=self.time[index],
            sensor=self.sensor[index],
            values=self.values[index],
            sigmas=self.sigmas[index],
            truth=self.truth[index],
            snr_db=None if self.snr_db is None else self.snr_db[index],
        )

    def sorted_by_time(self) -> "MeasurementBatch":
        return self.take(np.argsort(self.time, kind="stable"))
