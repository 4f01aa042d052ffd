"""Compact Position Reporting (CPR), airborne format, vectorised (DO-260B 2.2.3.2.7 / A.1.7).

Positions enter and leave in radians; CPR itself is defined in degrees, so the zone sizes below are degrees.
``yz``/``xz`` are the 17-bit encoded latitude/longitude; ``odd`` is the CPR format bit (F).

NL(lat), the number of longitude zones at a latitude, comes from its closed form

    NL(lat) = floor( 2*pi / arccos( 1 - (1 - cos(pi / (2*NZ))) / cos^2(lat) ) ),   NZ = 15,

with NL = 59 at the equator, 2 up to 87 deg and 1 beyond. Evaluated literally it is fragile at the transition
latitudes (a floor of a ratio that is an integer there), so the same closed form is solved once for the 58
transition latitudes, lat_NL = arccos( sqrt( (1 - cos(pi/(2 NZ))) / (1 - cos(2 pi / NL)) ) ), and NL(lat) is
a ``searchsorted`` in that table: identical to the formula away from the boundaries and exact on them.
"""

from __future__ import annotations

import numpy as np

NZ = 15
NB = 17
SCALE = float(1 << NB)      # 2^17
MASK = (1 << NB) - 1

# Transition latitudes (deg), ascending: NL drops from n to n-1 when |lat| passes _TRANSITION[59 - n].
_NL_VALUES = np.arange(59, 1, -1)                            # 59 .. 2
_TRANSITION = np.degrees(np.arccos(np.sqrt((1.0 - np.cos(np.pi / (2 * NZ))) /
                                           (1.0 - np.cos(2.0 * np.pi / _NL_VALUES)))))
_TRANSITION[-1] = 87.0                                      # NL(87 deg) = 2 by definition; above it 1


def nl(lat_deg) -> np.ndarray:
    """Number of longitude zones (1..59) at latitudes in degrees."""
    lat = np.abs(np.asarray(lat_deg, dtype=np.float64))
    # NL(lat) = 59 - (number of transition latitudes strictly below |lat|); at exactly 87 deg NL is 2.
    count = np.searchsorted(_TRANSITION, lat, side="left")
    return (59 - count).astype(np.int64)


def _dlat(odd, surface=False) -> np.ndarray:
    span = 90.0 if surface else 360.0
    return span / (4 * NZ - np.asarray(odd, dtype=np.int64))


def cpr_encode(lat_rad, lon_rad, odd, surface: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Encode positions (rad) into 17-bit CPR ``(yz, xz)`` (int64) for the even/odd format given by ``odd``.

    ``surface=True`` uses the 90-degree surface zones (positions then decode only with a reference within
    45 NM, see ``cpr_decode_local``).
    """
    lat = np.degrees(np.asarray(lat_rad, dtype=np.float64))
    lon = np.degrees(np.asarray(lon_rad, dtype=np.float64))
    odd = np.asarray(odd, dtype=np.int64)
    span = 90.0 if surface else 360.0
    dlat = _dlat(odd, surface)
    yz = np.floor(SCALE * np.mod(lat, dlat) / dlat + 0.5)
    rlat = dlat * (yz / SCALE + np.floor(lat / dlat))
    dlon = span / np.maximum(nl(rlat) - odd, 1)
    xz = np.floor(SCALE * np.mod(lon, dlon) / dlon + 0.5)
    return yz.astype(np.int64) & MASK, xz.astype(np.int64) & MASK


def cpr_decode_global(even, odd, most_recent_is_odd, surface: bool = False, ref_lat_rad=None,
                      ref_lon_rad=None) -> tuple[np.ndarray, np.ndarray]:
    """Globally unambiguous decode of even/odd pairs (airborne; surface with a reference).

    Parameters
    ----------
    even, odd : (yz, xz) tuples of int arrays, the even and the odd message of each pair.
    most_recent_is_odd : bool array, which of the two is newer (its position is returned).
    surface : surface format. Its zones span 90 deg, so a pair fixes the position only up to the hemisphere
        and a 90-deg longitude quadrant; the candidate nearest to ``ref_lat_rad``/``ref_lon_rad`` (any point
        within ~45 deg of the aircraft: the receiver, or the aircraft's last position) is returned.

    Returns
    -------
    lat, lon in rad (lon in [-pi, pi)); NaN where the two messages lie in different latitude zones (NL
    differs: the pair straddles a zone boundary and must wait for the next pair).
    """
    yz0 = np.asarray(even[0], dtype=np.float64)
    xz0 = np.asarray(even[1], dtype=np.float64)
    yz1 = np.asarray(odd[0], dtype=np.float64)
    xz1 = np.asarray(odd[1], dtype=np.float64)
    newer_odd = np.asarray(most_recent_is_odd, dtype=bool)
    span = 90.0 if surface else 360.0
    dlat0, dlat1 = span / 60.0, span / 59.0
    j = np.floor((59.0 * yz0 - 60.0 * yz1) / SCALE + 0.5)
    lat0 = dlat0 * (np.mod(j, 60.0) + yz0 / SCALE)
    lat1 = dlat1 * (np.mod(j, 59.0) + yz1 / SCALE)
    if surface:
        # [0, 90): the northern answer, or 90 deg less; keep the one nearer the reference.
        ref_lat = np.degrees(np.asarray(ref_lat_rad, dtype=np.float64))
        south = np.abs(lat0 - 90.0 - ref_lat) < np.abs(lat0 - ref_lat)
        lat0 = np.where(south, lat0 - 90.0, lat0)
        lat1 = np.where(south, lat1 - 90.0, lat1)
    else:
        lat0 = np.where(lat0 >= 270.0, lat0 - 360.0, lat0)
        lat1 = np.where(lat1 >= 270.0, lat1 - 360.0, lat1)
    nl0 = nl(lat0)
    same_zone = (nl0 == nl(lat1)) & (np.abs(lat0) <= 90.0) & (np.abs(lat1) <= 90.0)
    lat = np.where(newer_odd, lat1, lat0)
    nl_lat = nl0  # equal to nl(lat1) wherever the result is kept
    n_zones = np.maximum(nl_lat - newer_odd.astype(np.int64), 1).astype(np.float64)
    m = np.floor((xz0 * (nl_lat - 1) - xz1 * nl_lat) / SCALE + 0.5)
    xz = np.where(newer_odd, xz1, xz0)
    lon = (span / n_zones) * (np.mod(m, n_zones) + xz / SCALE)
    if surface:
        # One of four longitudes 90 deg apart: the one nearest the reference.
        ref_lon = np.degrees(np.asarray(ref_lon_rad, dtype=np.float64))
        quadrant = np.round(np.mod(ref_lon - lon, 360.0) / 90.0)
        lon = lon + 90.0 * quadrant
    lon = np.mod(lon + 180.0, 360.0) - 180.0
    lat_rad = np.where(same_zone, np.radians(lat), np.nan)
    lon_rad = np.where(same_zone, np.radians(lon), np.nan)
    return lat_rad, lon_rad


def cpr_decode_local(yz, xz, odd, ref_lat_rad, ref_lon_rad, surface: bool = False):
    """Locally unambiguous decode of single messages near a reference position (rad in, rad out).

    Correct when the aircraft is within half a zone of the reference: 180 NM airborne (45 NM surface); the
    caller chooses references that guarantee it (last known position of the aircraft, or the receiver).
    """
    yz = np.asarray(yz, dtype=np.float64)
    xz = np.asarray(xz, dtype=np.float64)
    odd = np.asarray(odd, dtype=np.int64)
    ref_lat = np.degrees(np.asarray(ref_lat_rad, dtype=np.float64))
    ref_lon = np.degrees(np.asarray(ref_lon_rad, dtype=np.float64))
    span = 90.0 if surface else 360.0
    dlat = _dlat(odd, surface)
    j = np.floor(ref_lat / dlat) + np.floor(0.5 + np.mod(ref_lat, dlat) / dlat - yz / SCALE)
    lat = dlat * (j + yz / SCALE)
    dlon = span / np.maximum(nl(lat) - odd, 1)
    m = np.floor(ref_lon / dlon) + np.floor(0.5 + np.mod(ref_lon, dlon) / dlon - xz / SCALE)
    lon = dlon * (m + xz / SCALE)
    lon = np.mod(lon + 180.0, 360.0) - 180.0
    return np.radians(lat), np.radians(lon)
