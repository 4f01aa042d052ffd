"""Sensor parameters accepted in a scenario file: name, unit, default, meaning.

The scenario loader validates `[[sensors]]` tables against these schemas and converts
every value to SI once (km -> m, deg -> rad, dB stays dB). Sensor models read the
converted values from ``SensorSite.params`` under the SI key (the right-hand name).

Each entry: file key -> (SI key, factor to SI, default in file units or None if
required, description). A factor of None means "no conversion" (dimensionless, dB, s).
"""

from __future__ import annotations

import math

DEG = math.pi / 180.0
KM = 1000.0

# Keys shared by every sensor type (site and identity).
COMMON_KEYS = {"name", "type", "lat", "lon", "alt_m"}

RADAR_PARAMS: dict[str, tuple[str, float | None, object, str]] = {
    "dimension": ("dimension", None, 3, "2 (range/azimuth) or 3 (adds elevation)"),
    "scan_period_s": ("scan_period_s", None, 10.0, "time for one antenna revolution, s"),
    "start_azimuth_deg": ("start_azimuth_rad", DEG, 0.0, "beam azimuth at t = 0, deg from north"),
    "beamwidth_az_deg": ("beamwidth_az_rad", DEG, 1.5, "3 dB azimuth beamwidth, deg"),
    "range_max_km": ("range_max_m", KM, 400.0, "instrumented range, km"),
    "range_min_km": ("range_min_m", KM, 0.5, "blind range near the antenna, km"),
    "elevation_min_deg": ("elevation_min_rad", DEG, -2.0, "lowest elevation covered, deg"),
    "elevation_max_deg": ("elevation_max_rad", DEG, 30.0, "highest elevation covered, deg"),
    "range_resolution_m": ("range_resolution_m", 1.0, 150.0, "range cell size, m (false-alarm cell count)"),
    "reference_range_km": ("reference_range_m", KM, 200.0, "range at which a 1 m^2 target has reference_snr_db, km"),
    "reference_snr_db": ("reference_snr_db", None, 13.0, "single-look SNR of a 1 m^2 target at reference_range_km, dB"),
    "pfa": ("pfa", None, 1e-6, "false-alarm probability per resolution cell per scan"),
    "false_alarms_per_scan": ("false_alarms_per_scan", None, None,
                              "mean Poisson false alarms per scan; default = pfa x number of cells"),
    "mti_min_radial_speed_mps": ("mti_min_radial_speed_mps", 1.0, 0.0,
                                 "MTI notch: targets with |radial speed| below this are suppressed, m/s"),
    "sigma_range_m": ("sigma_range_m", 1.0, 50.0, "range noise 1-sigma, m"),
    "sigma_azimuth_deg": ("sigma_azimuth_rad", DEG, 0.15, "azimuth noise 1-sigma, deg"),
    "sigma_elevation_deg": ("sigma_elevation_rad", DEG, 0.3, "elevation noise 1-sigma, deg (3D only)"),
    "sigma_range_rate_mps": ("sigma_range_rate_mps", 1.0, 0.0,
                             "range-rate noise 1-sigma, m/s; 0 = range-rate not reported"),
}

EO_PARAMS: dict[str, tuple[str, float | None, object, str]] = {
    "update_period_s": ("update_period_s", None, 0.5, "time between reports, s"),
    "range_max_km": ("range_max_m", KM, 15.0, "detection range for a nominal target, km"),
    "azimuth_min_deg": ("azimuth_min_rad", DEG, 0.0, "field of regard: first azimuth, deg from north"),
    "azimuth_max_deg": ("azimuth_max_rad", DEG, 360.0, "field of regard: last azimuth (clockwise), deg"),
    "elevation_min_deg": ("elevation_min_rad", DEG, -5.0, "field of regard: lowest elevation, deg"),
    "elevation_max_deg": ("elevation_max_rad", DEG, 60.0, "field of regard: highest elevation, deg"),
    "sigma_azimuth_deg": ("sigma_azimuth_rad", DEG, 0.02, "azimuth noise 1-sigma, deg"),
    "sigma_elevation_deg": ("sigma_elevation_rad", DEG, 0.02, "elevation noise 1-sigma, deg"),
    "pd": ("pd", None, 0.95, "detection probability inside range and field of regard"),
    "false_alarms_per_update": ("false_alarms_per_update", None, 0.0, "mean Poisson false bearings per update"),
}

# ADS-B ground receiver (1090 MHz): hears the DF17 frames of the scenario's transponders (sensors/adsb_receiver.py).
ADSB_PARAMS: dict[str, tuple[str, float | None, object, str]] = {
    "range_max_km": ("range_max_m", KM, 463.0,
                     "longest slant range at which a frame is received, km (463 km = 250 NM)"),
    "message_loss_probability": ("message_loss_probability", None, 0.1,
                                 "probability that a frame in reach is still lost (garbling, FRUIT, fading)"),
}

SENSOR_TYPES = {"radar": RADAR_PARAMS, "eo": EO_PARAMS, "adsb": ADSB_PARAMS}


def si_defaults(schema: dict[str, tuple[str, float | None, object, str]]) -> dict[str, object]:
    """Defaults of a schema under their SI keys, converted to SI (None stays None)."""
    defaults: dict[str, object] = {}
    for si_key, factor, default, _doc in schema.values():
        if default is not None and factor is not None:
            default = float(default) * factor
        defaults[si_key] = default
    return defaults


def with_defaults(params: dict, schema: dict[str, tuple[str, float | None, object, str]]) -> dict[str, object]:
    """SI parameters of one sensor with every missing key filled from the schema's default.

    The scenario loader already fills defaults; this lets sensor models also accept a
    hand-built ``SensorSite`` (tests, notebooks) that names only what it changes.
    """
    merged = si_defaults(schema)
    merged.update({key: value for key, value in params.items() if value is not None or key not in merged})
    return merged
