"""The scenario as plain, validated objects (after TOML parsing and unit conversion).

Everything here is SI. The loader (scenario/loader.py) builds these; sensors, the
tracker set-up and later stages (transponders, identity, threat) read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..measurements import SensorSite


@dataclass
class Waypoint:
    lat_rad: float
    lon_rad: float
    alt_m: float
    speed_mps: float | None = None  # None = keep the class's cruise speed / previous speed
    turn_load_factor: float | None = None  # g limit of the turn toward this waypoint (None = class limit)


@dataclass
class TargetSpec:
    name: str
    target_class: str  # key into scenario.classes.TARGET_CLASSES
    start_time_s: float = 0.0
    waypoints: list[Waypoint] = field(default_factory=list)
    trajectory_file: Path | None = None  # recorded CSV time,lat,lon,alt used as truth
    rcs_m2: float | None = None  # override the class's RCS
    swerling: int | None = None  # override the class's Swerling case
    attributes: dict = field(default_factory=dict)  # what later issues add (transponder, iff, ...)
    loop: bool = False  # fly the waypoints round and round until the scenario ends (CAP orbits, birds)
    # Recorded trajectory as read from trajectory_file: (k, 4) time s, lat rad, lon rad, alt m.
    recorded: np.ndarray | None = None


@dataclass
class DefendedPoint:
    name: str
    lat_rad: float
    lon_rad: float
    alt_m: float
    radius_m: float


@dataclass
class Zone:
    name: str
    kind: str  # "no_fly", "control_zone", "corridor", "hostile_area", ...
    polygon_lat_rad: np.ndarray
    polygon_lon_rad: np.ndarray
    floor_m: float
    ceiling_m: float


@dataclass
class Scenario:
    name: str
    description: str
    duration_s: float
    seed: int
    sensors: list[SensorSite]
    targets: list[TargetSpec]
    defended_points: list[DefendedPoint] = field(default_factory=list)
    zones: list[Zone] = field(default_factory=list)
    truth_step_s: float = 0.5
    tracker: dict = field(default_factory=dict)  # optional [tracker] table, passed to the tracker config
    source: str = ""  # file path or "builtin:NAME", for messages
    raw: dict = field(default_factory=dict)  # the parsed TOML, for sections later issues read
