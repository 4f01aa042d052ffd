"""Coverage study: detection probability and first-detection range per target class over range x altitude
(issue 8 §2), per sensor and for the fused picture, the grid split across Dask workers.

The grid: ground ranges 0..R along ``bearings`` great circles from a reference point (default: the scenario's
first radar), at altitudes above mean sea level from a few metres up (spaced finer near the ground, where the
holes are). At every point and for every target class:

* radar: the single-look Pd of the sensor's own model - the radar equation (``RadarConfig.mean_snr``) with the
  class's mean RCS, the closed-form Swerling Pd at the radar's Pfa (``observability.expected_pd``, the
  curves the simulated detector is tested against), times visibility from ``sensors.radar.look_geometry``:
  range and elevation coverage, the 4/3-earth horizon and the MTI notch. The notch depends on the target's
  radial speed, so Pd is averaged over ``headings`` directions of level flight at the class's cruise speed:
  a target slower than the notch is invisible on every heading, a slightly faster one on some;
* EO tracker: its ``pd`` where ``sensors.eo.look_geometry`` sees the point (range, field of regard, 7/6-earth
  optical line of sight); the same for every class;
* fused (the union of the sensors): ``1 - prod(1 - Pd_sensor)``;
* ADS-B receivers are left out: they hear cooperative transponders, not a class (docs/scaling.md).

``pd_mean`` is the mean over bearings and ``pd_min`` the worst bearing.

First-detection range: a target of the class flies inbound to the reference along each bearing at its cruise
speed and constant altitude from the far end of the grid; each sensor looks once per scan (radar) or update
(EO) with the single-look Pd of that look's geometry (inbound heading, so the MTI sees its true radial speed).
The probability that it has been detected by range r is ``1 - prod(1 - Pd_look)`` over the looks before r
(across all sensors for the fused picture); the first-detection range is where that reaches 0.5 (the median),
NaN if it never does.

Work is split into blocks of altitudes, one task each (``cluster.executor``): in process, on a LocalCluster or
on a remote cluster, with identical numbers.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import geo
from .errors import InputError

FUSED = "fused"
MEDIAN = 0.5
MIN_ALTITUDE_M = 10.0


@dataclass
class CoverageTask:
    sensors: list               # SensorSite (radars and EO trackers)
    classes: list[str]
    reference: tuple[float, float, float]   # lat, lon (rad), alt (m) of the grid origin
    ranges_m: np.ndarray
    altitudes_m: np.ndarray     # this task's block
    bearings_rad: np.ndarray
    headings: int


def _class_table(names: list[str]):
    from .scenario.classes import TARGET_CLASSES

    cls = [TARGET_CLASSES[n] for n in names]
    return (np.array([c.rcs_m2 for c in cls]), np.array([c.swerling for c in cls]),
            np.array([c.cruise_speed_mps for c in cls]))


def _points(reference, ranges_m, altitudes_m, bearings_rad):
    """ECEF of every (altitude, bearing, range) point, shape (A, B, R, 3), and the unit inbound direction (B, R, 3)."""
    lat0, lon0, _ = reference
    lat, lon = geo.destination(lat0, lon0, bearings_rad[:, None], ranges_m[None, :])
    pos = geo.geodetic_to_ecef(lat[None], lon[None], altitudes_m[:, None, None])
    # inbound: towards the reference, i.e. the back bearing from the point, in the point's local level plane
    back = np.arctan2(np.sin(lon0 - lon) * np.cos(lat0),
                      np.cos(lat) * np.sin(lat0) - np.sin(lat) * np.cos(lat0) * np.cos(lon0 - lon))
    return pos, lat, lon, back


def _level_velocity(lat, lon, heading, speed):
    """ECEF velocity of level flight on ``heading`` (rad from north) at ``speed``; lat/lon/heading broadcast."""
    sl, cl, so, co = np.sin(lat), np.cos(lat), np.sin(lon), np.cos(lon)
    east = np.stack(np.broadcast_arrays(-so, co, np.zeros_like(lat)), -1)
    north = np.stack(np.broadcast_arrays(-sl * co, -sl * so, cl), -1)
    h = np.asarray(heading)[..., None]
    return speed * (np.sin(h) * east + np.cos(h) * north)


def _radar_pd(site, pos, lat, lon, headings, rcs, swerling, speed):
    """(C, *pos.shape[:-1]) single-look Pd per class, averaged over ``headings`` (a list of heading values or
    arrays broadcasting to the points) of level flight at each class's ``speed``: the radar equation and the
    Swerling Pd times the radar model's visibility (coverage, horizon, MTI notch at that radial speed)."""
    from .observability import expected_pd
    from .sensors.radar import RadarConfig, look_geometry

    cfg = RadarConfig.from_site(site)
    shape = pos.shape[:-1]
    out = np.zeros((rcs.size,) + shape)
    for c in range(rcs.size):
        seen = np.zeros(shape)
        pd = None
        for h in headings:
            vel = np.broadcast_to(_level_velocity(lat, lon, h, speed[c]), shape + (3,))
            range_m, _, _, _, visible = look_geometry(site, cfg, pos, vel)
            if pd is None:
                with np.errstate(invalid="ignore", divide="ignore"):
                    pd = expected_pd(cfg.mean_snr(range_m, rcs[c]), cfg.pfa, swerling[c])
                pd = np.where(np.isfinite(pd), pd, 0.0)
            seen += visible
        out[c] = pd * seen / len(headings)
    return out


def _eo_pd(site, pos, n_class):
    from .sensors.eo import EOConfig, look_geometry

    cfg = EOConfig.from_site(site)
    _, _, _, seen = look_geometry(site, cfg, pos)
    return np.broadcast_to(cfg.pd * seen, (n_class,) + seen.shape)


def look_period_s(site) -> float:
    if site.kind == "radar":
        from .sensors.radar import RadarConfig

        return RadarConfig.from_site(site).scan_period_s
    from .sensors.eo import EOConfig

    return EOConfig.from_site(site).update_period_s


def coverage_block(task: CoverageTask) -> dict:
    """One block of altitudes: Pd (mean and min over bearings) and first-detection ranges, per sensor + fused."""
    rcs, swerling, speed = _class_table(task.classes)
    n_class = len(task.classes)
    pos, lat, lon, back = _points(task.reference, task.ranges_m, task.altitudes_m, task.bearings_rad)
    lat = np.broadcast_to(lat, pos.shape[:-1])
    lon = np.broadcast_to(lon, pos.shape[:-1])
    back = np.broadcast_to(back, pos.shape[:-1])
    headings = np.arange(task.headings) * (2 * np.pi / task.headings)
    names = [s.name for s in task.sensors]
    a, b, r = pos.shape[:-1]
    pd_mean = np.zeros((len(names) + 1, n_class, a, r))
    pd_min = np.zeros_like(pd_mean)
    miss_all = np.ones((n_class, a, b, r))
    first = np.full((len(names) + 1, n_class, a, b), np.nan)
    for k, site in enumerate(task.sensors):
        if site.kind == "radar":
            pd = _radar_pd(site, pos, lat, lon, list(headings), rcs, swerling, speed)
            inbound = _radar_pd(site, pos, lat, lon, [back], rcs, swerling, speed)
        else:
            pd = _eo_pd(site, pos, n_class)
            inbound = pd
        pd_mean[k] = pd.mean(axis=2)
        pd_min[k] = pd.min(axis=2)
        miss_all *= 1.0 - pd
        cum_miss = np.stack([_inbound_miss(inbound[c], task.ranges_m, speed[c] * look_period_s(site))
                             for c in range(n_class)])
        first[k] = _first_range(cum_miss, task.ranges_m)
        if k == 0:
            fused_cum = cum_miss
        else:
            fused_cum = fused_cum * cum_miss
    pd_fused = 1.0 - miss_all
    pd_mean[-1] = pd_fused.mean(axis=2)
    pd_min[-1] = pd_fused.min(axis=2)
    first[-1] = _first_range(fused_cum, task.ranges_m) if task.sensors else np.nan
    return {"altitudes_m": task.altitudes_m, "pd_mean": pd_mean, "pd_min": pd_min, "first_detection_m": first}


def _inbound_miss(pd: np.ndarray, ranges_m: np.ndarray, step_m: float) -> np.ndarray:
    """Probability of no detection yet at each grid range, for a target flying inbound from the far end of the grid
    and looked at every ``step_m`` of its path: the product of (1 - Pd) over the looks at ranges >= r.

    ``pd``: (..., R) single-look Pd on the grid ranges. Looks fall at ``far - k step``; those inside a grid cell
    [g_j, g_j+1) are counted exactly and take the Pd at the cell's middle (mean of its two ends), so a radar
    scanning every second against a 12 m/s drone (tens of thousands of looks) costs no more than a slow scan."""
    far = ranges_m[-1]
    looks_at_or_beyond = np.floor((far - ranges_m) / step_m + 1e-9) + 1.0          # N(g): looks with range >= g
    per_cell = looks_at_or_beyond[:-1] - looks_at_or_beyond[1:]                    # looks in [g_j, g_j+1)
    log_keep = np.log1p(-np.clip(pd, 0.0, 1.0 - 1e-15))
    cell = 0.5 * (log_keep[..., :-1] + log_keep[..., 1:]) * per_cell
    log_miss = np.empty_like(pd)
    log_miss[..., -1] = log_keep[..., -1]                                          # the first look, at far
    log_miss[..., :-1] = log_keep[..., -1:] + np.cumsum(cell[..., ::-1], axis=-1)[..., ::-1]
    return np.exp(log_miss)


def _first_range(cum_miss: np.ndarray, ranges_m: np.ndarray) -> np.ndarray:
    """Largest grid range at which the detection probability so far reaches MEDIAN (NaN if never)."""
    detected = (1.0 - cum_miss) >= MEDIAN                      # (..., R), monotone from far to near (0)
    any_ = detected.any(axis=-1)
    last = ranges_m.size - 1 - np.argmax(detected[..., ::-1], axis=-1)
    return np.where(any_, ranges_m[last], np.nan)


def altitude_grid(max_m: float, count: int) -> np.ndarray:
    """Altitudes from MIN_ALTITUDE_M to ``max_m``, quadratically spaced (fine near the ground)."""
    u = np.linspace(0.0, 1.0, count)
    return MIN_ALTITUDE_M + (max_m - MIN_ALTITUDE_M) * u * u


def run_coverage(scenario, out_dir, *, classes: list[str] | None = None, range_max_m: float | None = None,
                 ranges: int = 150, altitude_max_m: float = 12000.0, altitudes: int = 60, bearings: int = 8,
                 headings: int = 12, reference=None, workers: int | None = None, scheduler: str | None = None,
                 blocks: int | None = None, on_progress=None, plots: bool = True) -> dict:
    """The coverage study of ``scenario`` (see the module docstring); writes coverage.parquet,
    first_detection.parquet, coverage.json and the PNGs into ``out_dir``; returns the coverage.json dict."""
    from .cluster import executor
    from .scenario.classes import TARGET_CLASSES

    sensors = [s for s in scenario.sensors if s.kind in ("radar", "eo")]
    if not sensors:
        raise InputError("no radar or EO sensor to map", source=scenario.source or scenario.name)
    if classes is None:
        present = sorted({t.target_class for t in scenario.targets} & set(TARGET_CLASSES))
        classes = present or sorted(TARGET_CLASSES)
    unknown = [c for c in classes if c not in TARGET_CLASSES]
    if unknown:
        raise InputError(f"unknown target class {', '.join(unknown)} (known: {', '.join(sorted(TARGET_CLASSES))})",
                         field="--classes")
    for name, value, low in (("--ranges", ranges, 2), ("--altitudes", altitudes, 2), ("--bearings", bearings, 1),
                             ("--headings", headings, 1)):
        if value < low:
            raise InputError(f"{value}: must be at least {low}", field=name)
    if not altitude_max_m > MIN_ALTITUDE_M:
        raise InputError(f"must be above {MIN_ALTITUDE_M:g} m", field="--altitude-max")
    first_site = next((s for s in sensors if s.kind == "radar"), sensors[0])
    if reference is None:
        reference = (first_site.lat_rad, first_site.lon_rad, first_site.alt_m)
    else:
        reference = (math.radians(reference[0]), math.radians(reference[1]), 0.0)
    if range_max_m is None:
        reach = []
        for s in sensors:
            from .sensors.eo import EOConfig
            from .sensors.radar import RadarConfig

            cfg = RadarConfig.from_site(s) if s.kind == "radar" else EOConfig.from_site(s)
            reach.append(cfg.range_max_m + float(geo.haversine_m(reference[0], reference[1], s.lat_rad, s.lon_rad)))
        range_max_m = max(reach)
    if not range_max_m > 0:
        raise InputError("must be positive", field="--range-max")
    ranges_m = np.linspace(0.0, float(range_max_m), ranges)
    altitudes_m = altitude_grid(altitude_max_m, altitudes)
    bearings_rad = np.arange(bearings) * (2 * np.pi / bearings)
    started = time.perf_counter()
    with executor(workers, scheduler) as ex:
        n_blocks = blocks or max(1, min(altitudes, 4 * ex.workers))
        edges = np.linspace(0, altitudes, n_blocks + 1).astype(int)
        tasks = [CoverageTask(sensors, list(classes), reference, ranges_m, altitudes_m[i:j], bearings_rad, headings)
                 for i, j in zip(edges[:-1], edges[1:]) if j > i]
        parts: list[dict | None] = [None] * len(tasks)
        failed = []
        for i, result, error in ex.run(coverage_block, tasks, key="coverage-block"):
            parts[i] = result
            if error is not None:
                failed.append(error)
            if on_progress is not None:
                on_progress(sum(p is not None for p in parts) - len(failed), len(failed), len(tasks))
        where = ex.where
    if failed:
        from .errors import AirpictureError

        raise AirpictureError(f"{len(failed)} of {len(tasks)} coverage blocks failed; first: {failed[0]}")
    pd_mean = np.concatenate([p["pd_mean"] for p in parts], axis=2)
    pd_min = np.concatenate([p["pd_min"] for p in parts], axis=2)
    first = np.concatenate([p["first_detection_m"] for p in parts], axis=2)
    names = [s.name for s in sensors] + [FUSED]
    result = {
        "format": "airpicture-coverage", "version": 1, "scenario": scenario.name,
        "sensors": [s.name for s in sensors], "layers": names, "classes": list(classes),
        "reference": {"lat_deg": math.degrees(reference[0]), "lon_deg": math.degrees(reference[1])},
        "ranges_km": [float(ranges_m[0] / 1000), float(ranges_m[-1] / 1000), int(ranges)],
        "altitudes_m": [float(x) for x in altitudes_m], "bearings": bearings, "headings": headings,
        "tasks": len(tasks), "where": where, "wall_s": time.perf_counter() - started,
        "grid_points": int(ranges * altitudes * bearings), "pd": "single look; mean over bearings (and headings "
        "for the MTI notch); fused = 1 - prod(1 - Pd)", "first_detection": "median range of first detection, "
        "inbound at cruise speed and constant altitude",
    }
    result["summary"] = _summary(names, classes, altitudes_m, ranges_m, pd_mean, first)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    result["outputs"] = _write(out_dir, names, classes, ranges_m, altitudes_m, bearings_rad, pd_mean, pd_min, first,
                               result, sensors, plots)
    (out_dir / "coverage.json").write_text(json.dumps(result, indent=2) + "\n")
    result["arrays"] = {"pd_mean": pd_mean, "pd_min": pd_min, "first_detection_m": first, "ranges_m": ranges_m,
                        "altitudes_m": altitudes_m}
    return result


def _summary(names, classes, altitudes_m, ranges_m, pd_mean, first) -> dict:
    """Per layer and class: the longest range with Pd >= 0.5 at a few altitudes, and the median first-detection
    range there (km)."""
    out = {}
    picks = sorted({int(np.argmin(np.abs(altitudes_m - h))) for h in (30.0, 100.0, 1000.0, 10000.0)})
    for k, name in enumerate(names):
        out[name] = {}
        for c, cls in enumerate(classes):
            rows = {}
            for i in picks:
                good = np.flatnonzero(pd_mean[k, c, i] >= 0.5)
                fd = first[k, c, i]
                fd = fd[np.isfinite(fd)]
                rows[f"{altitudes_m[i]:.0f} m"] = {
                    "max_range_pd50_km": round(float(ranges_m[good[-1]] / 1000), 2) if good.size else None,
                    "first_detection_km": round(float(np.median(fd) / 1000), 2) if fd.size else None}
            out[name][cls] = rows
    return out


def _write(out_dir, names, classes, ranges_m, altitudes_m, bearings_rad, pd_mean, pd_min, first, result, sensors,
           plots) -> dict:
    import pyarrow as pa
    import pyarrow.parquet as pq

    k, c, a, r = np.meshgrid(np.arange(len(names)), np.arange(len(classes)), np.arange(altitudes_m.size),
                             np.arange(ranges_m.size), indexing="ij")
    table = pa.table({
        "sensor": pa.array(np.asarray(names, object)[k.ravel()], pa.string()),
        "target_class": pa.array(np.asarray(classes, object)[c.ravel()], pa.string()),
        "altitude_m": altitudes_m[a.ravel()], "range_km": ranges_m[r.ravel()] / 1000.0,
        "pd_mean": pd_mean.ravel(), "pd_min": pd_min.ravel()})
    paths = {"summary": out_dir / "coverage.json", "coverage": out_dir / "coverage.parquet",
             "first_detection": out_dir / "first_detection.parquet"}
    pq.write_table(table, paths["coverage"])
    k, c, a, b = np.meshgrid(np.arange(len(names)), np.arange(len(classes)), np.arange(altitudes_m.size),
                             np.arange(bearings_rad.size), indexing="ij")
    pq.write_table(pa.table({
        "sensor": pa.array(np.asarray(names, object)[k.ravel()], pa.string()),
        "target_class": pa.array(np.asarray(classes, object)[c.ravel()], pa.string()),
        "altitude_m": altitudes_m[a.ravel()], "bearing_deg": np.degrees(bearings_rad)[b.ravel()],
        "first_detection_km": first.ravel() / 1000.0}), paths["first_detection"])
    if plots:
        paths["pd_png"] = out_dir / "coverage_pd.png"
        paths["first_detection_png"] = out_dir / "first_detection.png"
        _plot_pd(paths["pd_png"], names, classes, ranges_m, altitudes_m, pd_mean, result, sensors)
        _plot_first(paths["first_detection_png"], names, classes, altitudes_m, first, result)
    return {k: str(v) for k, v in paths.items()}


def _plot_pd(path, names, classes, ranges_m, altitudes_m, pd_mean, result, sensors) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    nrow, ncol = len(classes), len(names)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.2 * ncol, 2.4 * nrow), squeeze=False, sharex=True, sharey=True)
    km = ranges_m / 1000.0
    mesh = None
    for c, cls in enumerate(classes):
        for k, name in enumerate(names):
            ax = axes[c, k]
            mesh = ax.pcolormesh(km, altitudes_m / 1000.0, pd_mean[k, c], vmin=0, vmax=1, cmap="viridis",
                                 shading="nearest")
            if k < len(sensors) and sensors[k].kind == "radar":   # 4/3-earth horizon of that radar from its site
                ax.plot(geo.radar_horizon_range_m(sensors[k].alt_m, altitudes_m) / 1000.0, altitudes_m / 1000.0,
                        "w--", lw=0.8)
            ax.set_xlim(km[0], km[-1])
            ax.set_yscale("log")         # the low-altitude holes get room
            if c == 0:
                ax.set_title(name, fontsize=9)
            if k == 0:
                ax.set_ylabel(f"{cls}\naltitude (km)", fontsize=8)
            if c == nrow - 1:
                ax.set_xlabel("ground range (km)", fontsize=8)
            ax.tick_params(labelsize=7)
    fig.colorbar(mesh, ax=axes, shrink=0.6, label="single-look Pd (mean over bearings)")
    fig.suptitle(f"{result['scenario']}: single-look Pd by ground range from {names[0] if sensors else 'the reference'}"
                 " and altitude (log scale; dashed: the radar's 4/3-earth horizon)", fontsize=10)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def _plot_first(path, names, classes, altitudes_m, first, result) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ncol = min(4, len(classes))
    nrow = math.ceil(len(classes) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.6 * ncol, 3.0 * nrow), squeeze=False, sharey=True)
    for c, cls in enumerate(classes):
        ax = axes.ravel()[c]
        for k, name in enumerate(names):
            with np.errstate(all="ignore"):
                fd = first[k, c]
                med = np.full(fd.shape[0], np.nan)
                ok = np.isfinite(fd).any(axis=-1)
                med[ok] = np.nanmedian(fd[ok], axis=-1) / 1000.0
            ax.plot(med, altitudes_m / 1000.0, lw=2.0 if name == FUSED else 1.0,
                    color="k" if name == FUSED else None, label=name)
        ax.set_title(cls, fontsize=9)
        ax.set_yscale("log")
        ax.set_xlabel("first-detection range (km, median)", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0, 0].set_ylabel("altitude (km)")
    axes[0, 0].legend(fontsize=7)
    for ax in axes.ravel()[len(classes):]:
        ax.axis("off")
    fig.suptitle(f"{result['scenario']}: first-detection range, inbound at cruise speed", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def print_report(result: dict, console) -> None:
    lines = [f"[bold]airpicture coverage[/]: {result['scenario']}, {len(result['sensors'])} sensors "
             f"({', '.join(result['sensors'])}) + fused, {len(result['classes'])} classes, "
             f"{result['grid_points']:,} grid points ({result['ranges_km'][2]} ranges to "
             f"{result['ranges_km'][1]:.0f} km x {len(result['altitudes_m'])} altitudes x {result['bearings']} "
             f"bearings) in {result['tasks']} tasks, {result['where']}, {result['wall_s']:.1f} s"]
    fused = result["summary"][FUSED]
    for cls, rows in fused.items():
        parts = [f"{alt}: {v['first_detection_km'] if v['first_detection_km'] is not None else '-'} km"
                 for alt, v in rows.items()]
        lines.append(f"  fused first detection, {cls}: " + ", ".join(parts))
    lines.append(f"  outputs: {Path(result['outputs']['summary']).parent}/ (coverage.json, coverage.parquet, "
                 "first_detection.parquet, coverage_pd.png, first_detection.png)")
    console.print("\n".join(lines), highlight=False, soft_wrap=True)


__all__ = ["run_coverage", "coverage_block", "CoverageTask", "altitude_grid", "FUSED"]
