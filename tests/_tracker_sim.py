"""Small, independent measurement simulator for the tracker tests (numpy + geo only)."""

from __future__ import annotations

import numpy as np

from airpicture import geo
from airpicture.measurements import FALSE_ALARM, MeasurementBatch, SensorSite

DEG = np.pi / 180


def great_circle_truth(lat_deg, lon_deg, heading_deg, speed, alt):
    """Targets flying great circles at constant height: f(t) -> (pos (n,3), vel (n,3)) ECEF."""
    lat0 = np.atleast_1d(np.asarray(lat_deg, float)) * DEG
    lon0 = np.atleast_1d(np.asarray(lon_deg, float)) * DEG
    hdg = np.atleast_1d(np.asarray(heading_deg, float)) * DEG
    speed = np.broadcast_to(np.asarray(speed, float), lat0.shape)
    alt = np.broadcast_to(np.asarray(alt, float), lat0.shape)

    def position(t):
        lat, lon = geo.destination(lat0, lon0, hdg, speed * t)
        return geo.geodetic_to_ecef(lat, lon, alt)

    def state(t):
        t = np.broadcast_to(np.asarray(t, float), lat0.shape)
        h = 0.01
        return position(t), (position(t + h) - position(t - h)) / (2 * h)

    return state


def radar_site(name, lat_deg, lon_deg, alt, index=0, **params):
    base = {"scan_period_s": 4.0, "range_max_m": 400e3, "range_min_m": 500.0, "elevation_min_rad": -5 * DEG,
            "elevation_max_rad": 60 * DEG, "sigma_range_m": 50.0, "sigma_azimuth_rad": 0.15 * DEG,
            "sigma_elevation_rad": 0.3 * DEG, "sigma_range_rate_mps": 0.0, "dimension": 3,
            "start_azimuth_rad": 0.0, "false_alarms_per_scan": 0.0}
    base.update(params)
    return SensorSite(name, "radar", lat_deg * DEG, lon_deg * DEG, alt, base, index)


def eo_site(name, lat_deg, lon_deg, alt, index=0, **params):
    base = {"update_period_s": 0.5, "range_max_m": 15e3, "sigma_azimuth_rad": 0.02 * DEG,
            "sigma_elevation_rad": 0.02 * DEG}
    base.update(params)
    return SensorSite(name, "eo", lat_deg * DEG, lon_deg * DEG, alt, base, index)


def simulate_radar(site: SensorSite, state, t_end, rng, pd=1.0, clutter_per_scan=0.0, t_start=0.0):
    """Plots of a rotating radar: one look per target and revolution at the beam crossing."""
    p = site.params
    period = p["scan_period_s"]
    omega = 2 * np.pi / period
    dim3 = p.get("dimension", 3) == 3
    sig = np.array([p["sigma_range_m"], p["sigma_azimuth_rad"], p["sigma_elevation_rad"] if dim3 else np.nan,
                    p["sigma_range_rate_mps"] if p.get("sigma_range_rate_mps", 0) > 0 else np.nan])
    rows, times, truth = [], [], []
    for t0 in np.arange(np.ceil(t_start / period) * period, t_end, period):
        pos, _ = state(t0)
        az = geo.enu_to_polar(site.to_enu(pos))[1]
        beam0 = p["start_azimuth_rad"] + omega * t0
        tc = t0 + np.mod(az - beam0, 2 * np.pi) / omega
        for _ in range(3):  # the target moves while the beam turns
            pos, _ = state(tc)
            az = geo.enu_to_polar(site.to_enu(pos))[1]
            tc = t0 + np.mod(az - beam0, 2 * np.pi) / omega
        pos, vel = state(tc)
        enu = site.to_enu(pos)
        r, az, el = geo.enu_to_polar(enu)
        venu = geo.ecef_vectors_to_enu(vel, site.rotation)
        rr = np.sum(enu * venu, axis=1) / r
        seen = (rng.random(r.size) < pd) & (r <= p["range_max_m"]) & (tc < t_end) & (tc >= t_start)
        z = np.column_stack([r, az, el, rr]) + rng.normal(size=(r.size, 4)) * np.nan_to_num(sig)
        rows.append(z[seen])
        times.append(tc[seen])
        truth.append(np.flatnonzero(seen))
        n_fa = rng.poisson(clutter_per_scan)
        if n_fa:
            fa = np.column_stack([rng.uniform(1e3, p["range_max_m"], n_fa), rng.uniform(0, 2 * np.pi, n_fa),
                                  rng.uniform(0, 5 * DEG, n_fa), rng.normal(0, 100, n_fa)])
            rows.append(fa)
            times.append(t0 + np.mod(fa[:, 1] - beam0, 2 * np.pi) / omega)
            truth.append(np.full(n_fa, FALSE_ALARM))
    values = np.concatenate(rows)
    values[:, np.isnan(sig)] = np.nan
    values[:, 1] = np.mod(values[:, 1], 2 * np.pi)
    n = values.shape[0]
    batch = MeasurementBatch(time=np.concatenate(times), sensor=np.full(n, site.index, np.int32), values=values,
                             sigmas=np.tile(sig, (n, 1)), truth=np.concatenate(truth).astype(np.int32),
                             snr_db=np.full(n, 20.0))
    keep = batch.time < t_end
    return batch.take(keep).sorted_by_time()


def simulate_eo(site: SensorSite, state, t_end, rng, t_start=0.0, extra_bearings=0):
    """Bearings of every target within range, every update period (plus optional random false bearings)."""
    p = site.params
    sig = np.array([np.nan, p["sigma_azimuth_rad"], p["sigma_elevation_rad"], np.nan])
    rows, times, truth = [], [], []
    for t in np.arange(t_start, t_end, p["update_period_s"]):
        pos, _ = state(t)
        r, az, el = geo.enu_to_polar(site.to_enu(pos))
        seen = r <= p["range_max_m"]
        z = np.column_stack([r, az, el, np.zeros_like(r)]) + rng.normal(size=(r.size, 4)) * np.nan_to_num(sig)
        rows.append(z[seen])
        times.append(np.full(seen.sum(), t))
        truth.append(np.flatnonzero(seen))
        if extra_bearings:
            fa = np.column_stack([np.zeros(extra_bearings), rng.uniform(0, 2 * np.pi, extra_bearings),
                                  rng.uniform(0, 0.3, extra_bearings), np.zeros(extra_bearings)])
            rows.append(fa)
            times.append(np.full(extra_bearings, t))
            truth.append(np.full(extra_bearings, FALSE_ALARM))
    values = np.concatenate(rows)
    values[:, [0, 3]] = np.nan
    values[:, 1] = np.mod(values[:, 1], 2 * np.pi)
    n = values.shape[0]
    return MeasurementBatch(time=np.concatenate(times), sensor=np.full(n, site.index, np.int32), values=values,
                            sigmas=np.tile(sig, (n, 1)), truth=np.concatenate(truth).astype(np.int32),
                            snr_db=np.full(n, np.nan)).sorted_by_time()


def track_errors(tracker_states, state, truth_ids=None):
    """Nearest-truth position errors of a TrackStates snapshot (n_tracks, 3) and the truth index."""
    pos, _ = state(tracker_states.time[0]) if len(tracker_states) else (None, None)
    d = np.linalg.norm(tracker_states.position[:, None, :] - pos[None, :, :], axis=2)
    idx = np.argmin(d, axis=1)
    return tracker_states.position - pos[idx], idx
