"""Threat geometry, vectorised over all tracks x all assets (issue 5 §2).

For n tracks (ECEF position and velocity, straight-line extrapolation) and the scenario's assets:

* defended points (p of them): range now, CPA distance, TCPA and closing speed, each (n, p);
* zones (z of them): inside now and time to entering, each (n, z).

**CPA / TCPA.** The relative position r = track - point and the track velocity v in a local ENU frame at the
point; straight line r(t) = r + v t. TCPA = -(r.v)/|v|^2; CPA = |r(TCPA)| when TCPA > 0, else (receding or
standing still) the current range |r|. The ENU frame is a rotation of ECEF about the point, which keeps
distances and straight lines, so the sums are done directly on ECEF differences (with one common origin
subtracted first for precision), as inner products: matrix products over tracks x points. Slant distances (3-D).
Closing speed = -d|r|/dt = -(r.v)/|r| (positive while approaching).

**Zone entry.** The same model the zone test uses (`identity.evidence.ZoneSet`): polygon in the
(longitude, latitude) plane with straight edges, altitude band ``floor_m <= alt <= ceiling_m``. The track
moves on a straight line in that plane (its east/north speed turned into longitude/latitude rates at the track,
constant course) with a constant climb rate. The line is cut by every polygon edge; the crossings along it
split it into inside/outside intervals (even-odd rule, along the track's own direction), each is intersected
with the interval in which the altitude is inside the band, and the first instant in ``[0, horizon]`` is the
entry time. Inside now (`ZoneSet.contains`) -> 0; no entry within the horizon -> inf. A zone is only worked
out for the (track, zone) pairs whose swept box over the horizon meets the zone's box (a cut over
tracks x zones, then per candidate pair x edges), so far tracks cost a few comparisons.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..geo import WGS84_A, WGS84_E2, ecef_to_geodetic, geodetic_to_ecef
from ..identity.evidence import ZoneSet

DEFAULT_HORIZON_S = 300.0


def _wrap(x):
    return (np.asarray(x) + np.pi) % (2.0 * np.pi) - np.pi


# --------------------------------------------------------------------------------------- defended points

class PointSet:
    """Defended points prepared once: names, ECEF positions (p, 3), radii (p,)."""

    def __init__(self, points=()):
        points = list(points)
        self.names = [str(p.name) for p in points]
        self.radius_m = np.array([float(p.radius_m) for p in points], dtype=float)
        if points:
            self.ecef = geodetic_to_ecef(np.array([p.lat_rad for p in points], dtype=float),
                                         np.array([p.lon_rad for p in points], dtype=float),
                                         np.array([p.alt_m for p in points], dtype=float)).reshape(-1, 3)
        else:
            self.ecef = np.zeros((0, 3))

    @classmethod
    def of(cls, assets) -> PointSet:
        """From a PointSet, a `Scenario` (``.defended_points``), a list of `DefendedPoint`, or None."""
        if isinstance(assets, PointSet):
            return assets
        if assets is None:
            return cls(())
        if hasattr(assets, "defended_points"):
            return cls(assets.defended_points)
        return cls(assets)

    def __len__(self) -> int:
        return len(self.names)


@dataclass
class PointGeometry:
    """Tracks x defended points, each (n, p)."""

    range_m: np.ndarray  # slant range now
    cpa_m: np.ndarray  # closest approach (current range when TCPA <= 0)
    tcpa_s: np.ndarray  # time to closest approach (< 0: receding; 0: not moving)
    closing_mps: np.ndarray  # -d(range)/dt, > 0 approaching


def point_geometry(position, velocity, points) -> PointGeometry:
    """CPA, TCPA, range and closing speed of every track to every defended point (no Python loop)."""
    pts = PointSet.of(points)
    pos = np.asarray(position, dtype=float).reshape(-1, 3)
    vel = np.asarray(velocity, dtype=float).reshape(-1, 3)
    n, p = pos.shape[0], len(pts)
    if n == 0 or p == 0:
        z = np.zeros((n, p))
        return PointGeometry(z, z.copy(), z.copy(), z.copy())
    origin = pts.ecef.mean(axis=0)
    a = pts.ecef - origin  # (p, 3)
    x = pos - origin  # (n, 3)
    vv = np.einsum("ij,ij->i", vel, vel)  # (n,)
    xv = np.einsum("ij,ij->i", x, vel)
    xx = np.einsum("ij,ij->i", x, x)
    aa = np.einsum("ij,ij->i", a, a)
    # four (n, p) arrays in all, computed in place (at 100,000 x 100 each is 80 MB)
    rv = vel @ a.T  # a.v, then r.v = x.v - a.v
    np.subtract(xv[:, None], rv, out=rv)
    rr = x @ a.T  # x.a, then |r|^2 = |x|^2 - 2 x.a + |a|^2
    rr *= -2.0
    rr += xx[:, None]
    rr += aa[None, :]
    np.maximum(rr, 0.0, out=rr)
    inv_vv = np.zeros_like(vv)
    np.divide(1.0, vv, out=inv_vv, where=vv > 0.0)
    tcpa = rv * (-inv_vv)[:, None]  # 0 for a track that does not move
    cpa = rv * tcpa  # CPA^2 = |r|^2 - (r.v)^2/|v|^2 = |r|^2 + (r.v) TCPA
    cpa += rr
    np.maximum(cpa, 0.0, out=cpa)
    np.sqrt(cpa, out=cpa)
    rng = np.sqrt(rr, out=rr)
    np.copyto(cpa, rng, where=tcpa <= 0.0)  # receding or standing: the closest is now
    closing = rv  # -(r.v)/|r|
    np.divide(rv, rng, out=closing, where=rng > 0.0)
    closing[rng <= 0.0] = 0.0
    np.negative(closing, out=closing)
    return PointGeometry(range_m=rng, cpa_m=cpa, tcpa_s=tcpa, closing_mps=closing)


# ------------------------------------------------------------------------------------------------ zones

@dataclass
class ZoneGeometry:
    """Tracks x zones, each (n, z)."""

    inside: np.ndarray  # bool: inside now (polygon and altitude band)
    entry_s: np.ndarray  # time to entering: 0 inside now, inf not within the horizon
    horizon_s: float


def _padded_edges(zs: ZoneSet):
    """(z, m) edge start/end vertices of every zone in its unwrapped (lon, lat) plane; short polygons padded
    with zero-length edges (which no line crosses)."""
    z = len(zs)
    m = max((len(x) for x in zs._x), default=0)
    ax = np.zeros((z, m))
    ay = np.zeros((z, m))
    bx = np.zeros((z, m))
    by = np.zeros((z, m))
    for j in range(z):  # once per ZoneSet (preparation), not per evaluation
        vx, vy = zs._x[j], zs._y[j]
        k = len(vx)
        ax[j, :] = vx[0]
        ay[j, :] = vy[0]
        bx[j, :] = vx[0]
        by[j, :] = vy[0]
        ax[j, :k], ay[j, :k] = vx, vy
        bx[j, :k], by[j, :k] = np.roll(vx, -1), np.roll(vy, -1)
    box = np.array(zs._box, dtype=float).reshape(z, 4)
    return ax, ay, bx, by, box, np.asarray(zs._ref, dtype=float)


def _prepared(zs: ZoneSet):
    cached = getattr(zs, "_threat_edges", None)
    if cached is None:
        cached = _padded_edges(zs)
        zs._threat_edges = cached
    return cached


def track_rates(position, velocity):
    """Per track: lat, lon, alt and their rates (rad/s, rad/s, m/s) from the ECEF velocity."""
    pos = np.asarray(position, dtype=float).reshape(-1, 3)
    vel = np.asarray(velocity, dtype=float).reshape(-1, 3)
    lat, lon, alt = ecef_to_geodetic(pos)
    sl, cl = np.sin(lat), np.cos(lat)
    so, co = np.sin(lon), np.cos(lon)
    ve = -so * vel[:, 0] + co * vel[:, 1]
    vn = -sl * co * vel[:, 0] - sl * so * vel[:, 1] + cl * vel[:, 2]
    vu = cl * co * vel[:, 0] + cl * so * vel[:, 1] + sl * vel[:, 2]
    w = 1.0 - WGS84_E2 * sl * sl
    n_rad = WGS84_A / np.sqrt(w)
    m_rad = WGS84_A * (1.0 - WGS84_E2) / (w * np.sqrt(w))
    dlat = vn / (m_rad + alt)
    dlon = ve / ((n_rad + alt) * np.maximum(cl, 1e-9))
    return lat, lon, alt, dlat, dlon, vu


def zone_geometry(position, velocity, zones, horizon_s: float = DEFAULT_HORIZON_S) -> ZoneGeometry:
    """Inside-now and time to entering every zone within ``horizon_s``, for every track (module docstring)."""
    zs = ZoneSet.of(zones)
    horizon = float(horizon_s)
    lat, lon, alt, dlat, dlon, vu = track_rates(position, velocity)
    n, nz = lat.shape[0], len(zs)
    inside = zs.contains(lat, lon, alt) if n and nz else np.zeros((n, nz), dtype=bool)
    entry = np.full((n, nz), np.inf)
    entry[inside] = 0.0
    if n == 0 or nz == 0:
        return ZoneGeometry(inside, entry, horizon)
    ax, ay, bx, by, box, ref = _prepared(zs)

    # 1. cut over tracks x zones: latitude swept over the horizon against the zone's box (no wrapping) ...
    lat_end = lat + dlat * horizon
    la0, la1 = np.minimum(lat, lat_end), np.maximum(lat, lat_end)
    ti, zj = np.nonzero((la0[:, None] <= box[None, :, 3]) & (la1[:, None] >= box[None, :, 2]))
    # ... then, on the candidate pairs, not inside now, altitude swept against the band and longitude
    # (unwrapped around the zone's first vertex) against the box
    alt_end = alt[ti] + vu[ti] * horizon
    keep = ((np.minimum(alt[ti], alt_end) <= zs.ceiling_m[zj]) & (np.maximum(alt[ti], alt_end) >= zs.floor_m[zj])
            & ~inside[ti, zj])
    ti, zj = ti[keep], zj[keep]
    px = ref[zj] + _wrap(lon[ti] - ref[zj])
    px_end = px + dlon[ti] * horizon
    keep = (np.minimum(px, px_end) <= box[zj, 1]) & (np.maximum(px, px_end) >= box[zj, 0])
    ti, zj, px = ti[keep], zj[keep], px[keep]
    if ti.size == 0:
        return ZoneGeometry(inside, entry, horizon)

    # 2. per candidate pair x edge: where the track's line crosses the edge
    py = lat[ti]
    dx, dy = dlon[ti], dlat[ti]
    still = (dx == 0.0) & (dy == 0.0)
    rx = np.where(still, 1.0, dx)[:, None]  # a standing track: any ray serves the even-odd test
    ry = np.where(still, 0.0, dy)[:, None]
    eax, eay = ax[zj] - px[:, None], ay[zj] - py[:, None]
    ebx, eby = bx[zj] - px[:, None], by[zj] - py[:, None]
    side_a = rx * eay - ry * eax
    side_b = rx * eby - ry * ebx
    crosses = (side_a > 0.0) != (side_b > 0.0)
    ex, ey = ebx - eax, eby - eay
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (eax * ey - eay * ex) / (rx * ey - ry * ex)
    t = np.where(crosses & (t > 0.0), t, np.inf)
    in0 = (np.count_nonzero(np.isfinite(t), axis=1) % 2) == 1  # horizontally inside now
    t[still] = np.inf  # a standing track never crosses an edge
    t.sort(axis=1)
    # inside intervals along the line: [0, t0], [t1, t2] ... when inside now; [t0, t1], [t2, t3] ... otherwise
    k = t.shape[0]
    q = np.where(in0[:, None], np.concatenate([np.zeros((k, 1)), t], axis=1),
                 np.concatenate([t, np.full((k, 1), np.inf)], axis=1))
    if q.shape[1] % 2:
        q = np.concatenate([q, np.full((k, 1), np.inf)], axis=1)
    starts, ends = q[:, 0::2], q[:, 1::2]

    # 3. the altitude band as an interval of time
    floor, ceil = zs.floor_m[zj], zs.ceiling_m[zj]
    a0, w = alt[ti], vu[ti]
    with np.errstate(divide="ignore", invalid="ignore"):
        t_floor = (floor - a0) / w
        t_ceil = (ceil - a0) / w
    in_band = (a0 >= floor) & (a0 <= ceil)
    lo = np.where(w > 0, t_floor, np.where(w < 0, t_ceil, np.where(in_band, -np.inf, np.inf)))
    hi = np.where(w > 0, t_ceil, np.where(w < 0, t_floor, np.where(in_band, np.inf, -np.inf)))

    first = np.maximum(np.maximum(starts, lo[:, None]), 0.0)
    last = np.minimum(np.minimum(ends, hi[:, None]), horizon)
    ok = np.isfinite(first) & (first <= last)
    entry_pair = np.where(ok, first, np.inf).min(axis=1)
    entry[ti, zj] = entry_pair
    return ZoneGeometry(inside, entry, horizon)


# ------------------------------------------------------------------------------------------------ both

@dataclass
class ThreatGeometry:
    points: PointGeometry
    zones: ZoneGeometry
    point_names: list
    zone_names: list
    zone_kinds: list
    point_radius_m: np.ndarray


def threat_geometry(position, velocity, assets, horizon_s: float = DEFAULT_HORIZON_S, *, points=None,
                    zones=None) -> ThreatGeometry:
    """Points and zones of ``assets`` (a `Scenario`), or pass prepared ``points=PointSet``, ``zones=ZoneSet``."""
    pts = PointSet.of(points if points is not None else assets)
    zs = ZoneSet.of(zones if zones is not None else assets)
    return ThreatGeometry(points=point_geometry(position, velocity, pts),
                          zones=zone_geometry(position, velocity, zs, horizon_s),
                          point_names=list(pts.names), zone_names=list(zs.names), zone_kinds=list(zs.kinds),
                          point_radius_m=pts.radius_m)
