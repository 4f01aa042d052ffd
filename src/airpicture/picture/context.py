"""What does not change during a run: sensors with their coverage, zones, defended points - in degrees and
metres, JSON-ready, for the display, the recorder and the outputs."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

# Coverage drawn for a sensor whose parameters give no range (an ADS-B receiver without a range limit).
DEFAULT_COVERAGE_M = {"radar": 100_000.0, "eo": 15_000.0, "adsb": 400_000.0}


@dataclass
class PictureContext:
    """The static part of a picture. ``mode``: "simulation" (run/demo), "replay", "live" (ingest) or
    "recording" (a DuckDB recording played back)."""

    name: str
    mode: str = "simulation"
    sensors: list[dict] = field(default_factory=list)  # name, kind, lat, lon, alt_m, range_m, (eo) azimuth sector
    zones: list[dict] = field(default_factory=list)  # name, kind, polygon [[lat, lon], ...], floor_m, ceiling_m
    defended_points: list[dict] = field(default_factory=list)  # name, lat, lon, alt_m, radius_m
    config: dict = field(default_factory=dict)  # the run's configuration (scenario source, seed, options)
    sensor_names: list[str] = field(default_factory=list)  # bit i of a track's source_mask is sensor_names[i]

    @classmethod
    def of_scenario(cls, scenario, *, mode: str = "simulation", config: dict | None = None) -> "PictureContext":
        return cls(name=scenario.name, mode=mode, sensors=[sensor_entry(s) for s in scenario.sensors],
                   zones=[zone_entry(z) for z in scenario.zones],
                   defended_points=[{"name": p.name, "lat": math.degrees(p.lat_rad), "lon": math.degrees(p.lon_rad),
                                     "alt_m": p.alt_m, "radius_m": p.radius_m} for p in scenario.defended_points],
                   config={"scenario": scenario.name, "source": scenario.source, "seed": scenario.seed,
                           "duration_s": scenario.duration_s, **(config or {})},
                   sensor_names=[s.name for s in scenario.sensors])

    @classmethod
    def of_sensors(cls, name: str, sensors, *, mode: str, config: dict | None = None) -> "PictureContext":
        """A replay or live feed: its receivers only, no assets."""
        return cls(name=name, mode=mode, sensors=[sensor_entry(s) for s in sensors], config=dict(config or {}),
                   sensor_names=[s.name for s in sensors])

    def to_json(self) -> dict:
        return {"name": self.name, "mode": self.mode, "sensors": self.sensors, "zones": self.zones,
                "defended_points": self.defended_points, "config": self.config, "sensor_names": self.sensor_names}

    @classmethod
    def from_json(cls, d: dict) -> "PictureContext":
        return cls(name=d["name"], mode=d.get("mode", "recording"), sensors=list(d.get("sensors", [])),
                   zones=list(d.get("zones", [])), defended_points=list(d.get("defended_points", [])),
                   config=dict(d.get("config", {})), sensor_names=list(d.get("sensor_names", [])))


def sensor_entry(site) -> dict:
    p = site.params or {}
    rng = p.get("range_max_m") or DEFAULT_COVERAGE_M.get(site.kind, 100_000.0)
    entry = {"name": site.name, "kind": site.kind, "lat": math.degrees(site.lat_rad),
             "lon": math.degrees(site.lon_rad), "alt_m": float(site.alt_m), "range_m": float(rng)}
    for key in ("azimuth_min_rad", "azimuth_max_rad"):
        if key in p and p[key] is not None:
            entry[key.replace("_rad", "_deg")] = math.degrees(float(p[key]))
    return entry


def zone_entry(zone) -> dict:
    return {"name": zone.name, "kind": zone.kind,
            "polygon": [[math.degrees(float(a)), math.degrees(float(b))]
                        for a, b in zip(zone.polygon_lat_rad, zone.polygon_lon_rad)],
            "floor_m": float(zone.floor_m), "ceiling_m": float(zone.ceiling_m)}
