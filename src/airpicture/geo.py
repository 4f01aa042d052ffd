"""WGS-84 geodesy, vectorised: geodetic <-> ECEF <-> local ENU <-> sensor polar.

Everything inside airpicture is SI (metres, seconds, radians). Degrees, feet and knots
appear only at the edges (scenario files, CLI, outputs) and are converted once.

Conventions
-----------
* ECEF: Earth-centred, Earth-fixed, metres.
* ENU: local east/north/up at a reference point (a sensor site), metres.
* Polar: range (m), azimuth (rad, clockwise from north, in [0, 2*pi)), elevation (rad,
  above the local horizontal plane of the sensor).

Tracks live in ECEF so that a 600 km surveillance radar has no flat-earth error: the ENU
plane of a site 600 km away is tilted by ~5.4 degrees from the track's local horizontal.
"""

from __future__ import annotations

import numpy as np

WGS84_A = 6_378_137.0  # semi-major axis, m
WGS84_F = 1.0 / 298.257223563
WGS84_B = WGS84_A * (1.0 - WGS84_F)
WGS84_E2 = WGS84_F * (2.0 - WGS84_F)  # first eccentricity squared
WGS84_EP2 = WGS84_E2 / (1.0 - WGS84_E2)  # second eccentricity squared
EARTH_MEAN_RADIUS_M = 6_371_008.8
EFFECTIVE_EARTH_FACTOR = 4.0 / 3.0  # standard refraction model for radar horizon
TWO_PI = 2.0 * np.pi


def geodetic_to_ecef(lat_rad, lon_rad, alt_m) -> np.ndarray:
    """Geodetic latitude/longitude (rad) and height above the ellipsoid (m) to ECEF (..., 3)."""
    lat = np.asarray(lat_rad, dtype=float)
    lon = np.asarray(lon_rad, dtype=float)
    alt = np.asarray(alt_m, dtype=float)
    sin_lat = np.sin(lat)
    cos_lat = np.cos(lat)
    n = WGS84_A / np.sqrt(1.0 - WGS84_E2 * sin_lat * sin_lat)
    x = (n + alt) * cos_lat * np.cos(lon)
    y = (n + alt) * cos_lat * np.sin(lon)
    z = (n * (1.0 - WGS84_E2) + alt) * sin_lat
    return np.stack(np.broadcast_arrays(x, y, z), axis=-1)


def ecef_to_geodetic(xyz) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ECEF (..., 3) to geodetic (lat rad, lon rad, alt m).

    Bowring's closed form with one refinement step: sub-millimetre for heights from
    the Earth's surface up to well beyond any aircraft.
    """
    xyz = np.asarray(xyz, dtype=float)
    x, y, z = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    lon = np.arctan2(y, x)
    p = np.hypot(x, y)
    theta = np.arctan2(z * WGS84_A, p * WGS84_B)
    lat = np.arctan2(
        z + WGS84_EP2 * WGS84_B * np.sin(theta) ** 3,
        p - WGS84_E2 * WGS84_A * np.cos(theta) ** 3,
    )
    for _ in range(2):  # refinement keeps the error far below a millimetre
        sin_lat = np.sin(lat)
        n = WGS84_A / np.sqrt(1.0 - WGS84_E2 * sin_lat * sin_lat)
        lat = np.arctan2(z + n * WGS84_E2 * sin_lat, p)
    sin_lat = np.sin(lat)
    cos_lat = np.cos(lat)
    n = WGS84_A / np.sqrt(1.0 - WGS84_E2 * sin_lat * sin_lat)
    # Height: use the better-conditioned formula away from the poles.
    alt = np.where(
        np.abs(cos_lat) > 1e-3,
        p / np.where(np.abs(cos_lat) > 1e-3, cos_lat, 1.0) - n,
        np.abs(z) - WGS84_B,
    )
    return lat, lon, alt


def enu_rotation(lat_rad: float, lon_rad: float) -> np.ndarray:
    """Rotation matrix R (3x3) with enu = R @ (ecef - origin). Rows are east, north, up."""
    sl, cl = np.sin(lat_rad), np.cos(lat_rad)
    so, co = np.sin(lon_rad), np.cos(lon_rad)
    return np.array(
        [
            [-so, co, 0.0],
            [-sl * co, -sl * so, cl],
            [cl * co, cl * so, sl],
        ]
    )


def ecef_to_enu(xyz, origin_ecef, rotation) -> np.ndarray:
    """ECEF points (..., 3) to ENU about origin with rotation from :func:`enu_rotation`."""
    return (np.asarray(xyz, dtype=float) - origin_ecef) @ rotation.T


def enu_to_ecef(enu, origin_ecef, rotation) -> np.ndarray:
    """ENU points (..., 3) back to ECEF."""
    return np.asarray(enu, dtype=float) @ rotation + origin_ecef


def ecef_vectors_to_enu(vectors, rotation) -> np.ndarray:
    """Free vectors (velocities) from ECEF to ENU: rotation only, no translation."""
    return np.asarray(vectors, dtype=float) @ rotation.T


def enu_vectors_to_ecef(vectors, rotation) -> np.ndarray:
    return np.asarray(vectors, dtype=float) @ rotation


def enu_to_polar(enu) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ENU (..., 3) to (range m, azimuth rad clockwise from north in [0, 2pi), elevation rad)."""
    enu = np.asarray(enu, dtype=float)
    e, n, u = enu[..., 0], enu[..., 1], enu[..., 2]
    horizontal = np.hypot(e, n)
    rng = np.sqrt(horizontal * horizontal + u * u)
    az = np.mod(np.arctan2(e, n), TWO_PI)
    el = np.arctan2(u, horizontal)
    return rng, az, el


def polar_to_enu(range_m, azimuth_rad, elevation_rad) -> np.ndarray:
    r = np.asarray(range_m, dtype=float)
    az = np.asarray(azimuth_rad, dtype=float)
    el = np.asarray(elevation_rad, dtype=float)
    horizontal = r * np.cos(el)
    return np.stack(
        np.broadcast_arrays(horizontal * np.sin(az), horizontal * np.cos(az), r * np.sin(el)),
        axis=-1,
    )


def wrap_angle(angle) -> np.ndarray:
    """Wrap to (-pi, pi]: used for azimuth innovations."""
    return np.pi - np.mod(np.pi - np.asarray(angle, dtype=float), TWO_PI)


def local_up(xyz) -> np.ndarray:
    """Unit 'up' (ellipsoid normal) at ECEF points (..., 3)."""
    lat, lon, _ = ecef_to_geodetic(xyz)
    cl = np.cos(lat)
    return np.stack([cl * np.cos(lon), cl * np.sin(lon), np.sin(lat)], axis=-1)


def radar_horizon_range_m(sensor_height_m, target_height_m, k: float = EFFECTIVE_EARTH_FACTOR):
    """Line-of-sight limit on a k-earth sphere (4/3 for standard atmospheric refraction).

    d = sqrt(2 k Re h_s + h_s^2) + sqrt(2 k Re h_t + h_t^2). Heights are above the
    surface (sea level here; terrain is not modelled), negative heights count as zero.
    """
    re = k * EARTH_MEAN_RADIUS_M
    hs = np.maximum(np.asarray(sensor_height_m, dtype=float), 0.0)
    ht = np.maximum(np.asarray(target_height_m, dtype=float), 0.0)
    return np.sqrt(2.0 * re * hs + hs * hs) + np.sqrt(2.0 * re * ht + ht * ht)


def above_radar_horizon(sensor_ecef, sensor_height_m, target_ecef, target_height_m,
                        k: float = EFFECTIVE_EARTH_FACTOR) -> np.ndarray:
    """True where the target is within line of sight of the sensor on a k-earth sphere.

    Uses the great-circle ground distance between the two points, which is what the
    horizon formula is written in; computed on the mean sphere (error << 1 km).
    """
    s = np.asarray(sensor_ecef, dtype=float)
    t = np.asarray(target_ecef, dtype=float)
    su = s / np.linalg.norm(s, axis=-1, keepdims=True)
    tu = t / np.linalg.norm(t, axis=-1, keepdims=True)
    cos_angle = np.clip(np.sum(su * tu, axis=-1), -1.0, 1.0)
    ground_m = EARTH_MEAN_RADIUS_M * np.arccos(cos_angle)
    return ground_m <= radar_horizon_range_m(sensor_height_m, target_height_m, k)


def haversine_m(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance on the mean sphere (m); inputs in radians."""
    dlat = np.asarray(lat2) - np.asarray(lat1)
    dlon = np.asarray(lon2) - np.asarray(lon1)
    a = np.sin(dlat / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin(dlon / 2) ** 2
    return 2.0 * EARTH_MEAN_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def destination(lat_rad, lon_rad, bearing_rad, distance_m):
    """Point reached from (lat, lon) along a great circle (mean sphere): (lat, lon) rad."""
    d = np.asarray(distance_m, dtype=float) / EARTH_MEAN_RADIUS_M
    lat1 = np.asarray(lat_rad, dtype=float)
    lat2 = np.arcsin(np.sin(lat1) * np.cos(d) + np.cos(lat1) * np.sin(d) * np.cos(bearing_rad))
    lon2 = np.asarray(lon_rad) + np.arctan2(
        np.sin(bearing_rad) * np.sin(d) * np.cos(lat1), np.cos(d) - np.sin(lat1) * np.sin(lat2)
    )
    return lat2, np.mod(lon2 + np.pi, TWO_PI) - np.pi
