"""Benchmark: threat evaluation of 100,000 tracks x 100 zones and 100 defended points on one core (issue 5 §6).

The scene: tracks spread uniformly over a 670 x 660 km box around 52 N 5 E, altitudes 50 m - 12 km, speeds
10 - 300 m/s on random headings, climb rates N(0, 5 m/s); 100 zones (star-shaped polygons of 4 - 8 vertices,
3 - 15 km from their centre, often concave, bands from the ground up to 1 - 20 km) and 100 defended points
(5 km radius) spread over the same box; the default scoring table (horizon 300 s). One core: the process is pinned
to one CPU and BLAS / OpenMP to one thread before NumPy loads.

Timed, N rounds after one untimed warm-up call (the first call of a process is reported too):
point geometry (CPA, TCPA, range, closing speed: tracks x points), zone geometry (inside now, entry time: tracks x
zones), scoring (levels, worst point and zone) with the ranked list of the 100 first threats and their reasons,
and the three together. Target: the whole <= 1 s. Writes its table between the bench_threat markers of
BENCHMARKS.md.

    .venv/bin/python bench/bench_threat.py               # 100,000 tracks, 5 rounds
    .venv/bin/python bench/bench_threat.py --tracks 10000 --rounds 3 --no-write
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

import argparse  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from _report import machine, write_marked_section  # noqa: E402

from airpicture.geo import geodetic_to_ecef  # noqa: E402
from airpicture.identity.evidence import ZoneSet  # noqa: E402
from airpicture.scenario.model import DefendedPoint, Zone  # noqa: E402
from airpicture.threat.geometry import PointSet, ThreatGeometry, point_geometry, zone_geometry  # noqa: E402
from airpicture.threat.scoring import ScoringTable  # noqa: E402

START, END = "<!-- bench_threat:start -->", "<!-- bench_threat:end -->"
LAT0, LON0 = np.radians(52.0), np.radians(5.0)
SPAN_LAT, SPAN_LON = np.radians(3.0), np.radians(4.8)
TARGET_S = 1.0


def make_scene(n: int, n_zones: int, n_points: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    zones = []
    for j in range(n_zones):
        c_lat = LAT0 + rng.uniform(-SPAN_LAT, SPAN_LAT)
        c_lon = LON0 + rng.uniform(-SPAN_LON, SPAN_LON)
        k = int(rng.integers(4, 9))
        ang = np.sort(rng.uniform(0.0, 2 * np.pi, k))
        r = rng.uniform(3e3, 15e3, k) / 6.371e6
        kind = ("no_fly", "control_zone", "restricted", "corridor")[j % 4]
        zones.append(Zone(f"zone{j}", kind, c_lat + r * np.sin(ang), c_lon + r * np.cos(ang) / np.cos(c_lat),
                          0.0, float(rng.uniform(1e3, 2e4))))
    points = [DefendedPoint(f"point{j}", LAT0 + rng.uniform(-SPAN_LAT, SPAN_LAT),
                            LON0 + rng.uniform(-SPAN_LON, SPAN_LON), 0.0, 5e3) for j in range(n_points)]
    lat = LAT0 + rng.uniform(-SPAN_LAT, SPAN_LAT, n)
    lon = LON0 + rng.uniform(-SPAN_LON, SPAN_LON, n)
    alt = rng.uniform(50.0, 12_000.0, n)
    pos = geodetic_to_ecef(lat, lon, alt).reshape(n, 3)
    speed, heading = rng.uniform(10.0, 300.0, n), rng.uniform(0.0, 2 * np.pi, n)
    sl, cl, so, co = np.sin(lat), np.cos(lat), np.sin(lon), np.cos(lon)
    ve, vn, vu = speed * np.sin(heading), speed * np.cos(heading), rng.normal(0.0, 5.0, n)
    vel = np.stack([-so * ve - sl * co * vn + cl * co * vu, co * ve - sl * so * vn + cl * so * vu, cl * vn + sl * vu],
                   axis=1)
    identity = rng.integers(0, 9, n).astype(np.int8)
    klass = rng.integers(0, 6, n).astype(np.int8)
    return pos, vel, speed, alt, identity, klass, ZoneSet(zones), PointSet(points)


def run_once(scene, table: ScoringTable):
    pos, vel, speed, alt, identity, klass, zs, ps = scene
    t0 = time.perf_counter()
    pg = point_geometry(pos, vel, ps)
    t1 = time.perf_counter()
    zg = zone_geometry(pos, vel, zs, table.horizon_s)
    t2 = time.perf_counter()
    geom = ThreatGeometry(points=pg, zones=zg, point_names=ps.names, zone_names=zs.names, zone_kinds=zs.kinds,
                          point_radius_m=ps.radius_m)
    scores = table.score(identity, klass, speed, alt, geom)
    ranked = scores.ranked(limit=100)
    t3 = time.perf_counter()
    return (t1 - t0, t2 - t1, t3 - t2, t3 - t0), (geom, scores, ranked)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tracks", type=int, default=100_000)
    ap.add_argument("--zones", type=int, default=100)
    ap.add_argument("--points", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)

    load_start = os.getloadavg()
    table = ScoringTable.load()
    scene = make_scene(args.tracks, args.zones, args.points)
    first, (geom, scores, ranked) = run_once(scene, table)
    rounds = [run_once(scene, table)[0] for _ in range(args.rounds)]
    load_end = os.getloadavg()
    times = np.array(rounds)  # (rounds, 4)
    best, median = times.min(axis=0), np.median(times, axis=0)
    names = ["point geometry (CPA, TCPA, range, closing)", "zone geometry (inside now, entry time)",
             "scoring, levels, ranked top 100 with reasons", "**all of it**"]
    n, z, p = args.tracks, args.zones, args.points
    levels = np.bincount(scores.level.astype(np.int64), minlength=4)
    entering = int((np.isfinite(geom.zones.entry_s) & ~geom.zones.inside).sum())
    met = "met" if best[3] <= TARGET_S else "NOT met"
    met_median = "met" if median[3] <= TARGET_S else "NOT met"
    lines = [
        "## Threat evaluation: tracks x zones and defended points on one core (`bench/bench_threat.py`)",
        "",
        f"{n:,} tracks x {z} zones and {p} defended points over a 670 x 660 km box, the default scoring table "
        f"(horizon {table.horizon_s:g} s); one core (process pinned, BLAS one thread). {args.rounds} rounds after "
        f"one untimed warm-up call; best and median per stage. Target: all of it <= {TARGET_S:g} s - {met} "
        f"(best), {met_median} (median).",
        "",
        "| stage | best s | median s | first call s |",
        "|---|---:|---:|---:|",
    ]
    for k, name in enumerate(names):
        b, m, f = (f"{best[k]:.3f}", f"{median[k]:.3f}", f"{first[k]:.3f}")
        if k == 3:
            b, m = f"**{b}**", f"**{m}**"
        lines.append(f"| {name} | {b} | {m} | {f} |")
    lines += [
        "",
        f"Per track-asset pair (best): {best[3] / (n * (z + p)) * 1e9:.1f} ns. The scene: "
        f"{int(geom.zones.inside.sum()):,} track-zone pairs inside now, {entering:,} entering within the horizon, "
        f"{int(((geom.points.tcpa_s > 0) & (geom.points.cpa_m <= 5e3)).sum()):,} track-point pairs with a CPA "
        f"inside the 5 km radius ahead; levels none / low / medium / high: "
        f"{' / '.join(f'{c:,}' for c in levels)}. Top threat: \"{ranked[0]['reason'] if ranked else ''}\".",
        "",
        f"Machine: {machine(' (1 used)')}; Python {platform.python_version()}, NumPy {np.__version__}. Load average "
        f"{load_start[0]:.2f} at the start, {load_end[0]:.2f} at the end (other work on the machine makes the "
        "median and first call noisy; the first call of a process also pays for fresh memory: the (n, assets) "
        "arrays are about 80 MB each).",
    ]
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        write_marked_section(ROOT / "BENCHMARKS.md", START, END, body)
        print(f"\nwritten to {ROOT / 'BENCHMARKS.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
