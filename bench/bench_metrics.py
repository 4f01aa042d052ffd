"""Benchmark: airpicture GOSPA and SIAP against Stone Soup 1.9.1 on the same truths and tracks.

The scene is the issue's 2D benchmark geometry: constant-velocity targets at 100-250 m/s, one per
100 km^2, sampled every 4 s for 25 steps. Tracks are the truths plus 50 m position noise (5 m/s
velocity noise); 5 % of truths have no track, 5 % of tracks change number half way, and 5 % of N
false tracks wander at random. GOSPA: c = 500 m, p = 1. SIAP: TrackToTruth association, threshold
500 m, 3 hits to associate, 2 misses to end.

Stone Soup is timed on its metric computation only (building its objects is not counted).
Writes its table between the bench_metrics markers in BENCHMARKS.md.

    .venv/bin/python bench/bench_metrics.py                # N = 10, 100, 1000 (Stone Soup at N = 1000 takes minutes)
    .venv/bin/python bench/bench_metrics.py --sizes 10 100 --no-write
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the Stone Soup conversion shared with the differential tests

import _metrics_stonesoup as peer  # noqa: E402
from _report import write_marked_section  # noqa: E402

from airpicture.metrics import associate_tracks_to_truths, gospa_sequence, siap_metrics  # noqa: E402

START, END = "<!-- bench_metrics:start -->", "<!-- bench_metrics:end -->"
C, P = 500.0, 1.0
THRESHOLD, CONFIRM_HITS, END_MISSES = 500.0, 3, 2
STEPS, DT = 25, 4.0
LOAD_AT_START = os.getloadavg()[0]


def make_scene(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    side = np.sqrt(n * 100e6)
    times = np.arange(STEPS) * DT
    start = rng.uniform(0, side, (n, 2))
    heading = rng.uniform(0, 2 * np.pi, n)
    speed = rng.uniform(100, 250, n)
    velocity = np.column_stack([speed * np.sin(heading), speed * np.cos(heading)])
    truth_time = np.repeat(times, n)
    truth_id = np.tile(np.arange(n), STEPS)
    truth_vel = np.tile(velocity, (STEPS, 1))
    truth_pos = np.tile(start, (STEPS, 1)) + truth_vel * truth_time[:, None]

    tracked = rng.random(n) >= 0.05
    renumbered = rng.random(n) < 0.05
    keep = tracked[truth_id]
    track_time = truth_time[keep]
    track_id = truth_id[keep] + 1_000_000
    late = renumbered[truth_id[keep]] & (track_time >= times[STEPS // 2])
    track_id[late] += 1_000_000
    track_pos = truth_pos[keep] + rng.normal(0, 50.0, (keep.sum(), 2))
    track_vel = truth_vel[keep] + rng.normal(0, 5.0, (keep.sum(), 2))

    n_false = max(1, n // 20)
    f_start = rng.uniform(0, side, (n_false, 2))
    f_vel = rng.normal(0, 150.0, (n_false, 2))
    f_time = np.repeat(times, n_false)
    f_id = np.tile(np.arange(n_false), STEPS) + 5_000_000
    f_vel_rows = np.tile(f_vel, (STEPS, 1))
    f_pos = np.tile(f_start, (STEPS, 1)) + f_vel_rows * f_time[:, None]
    return (truth_time, truth_id, truth_pos, truth_vel,
            np.r_[track_time, f_time], np.r_[track_id, f_id], np.r_[track_pos, f_pos], np.r_[track_vel, f_vel_rows])


def best_of(fn, repeats):
    best, value = np.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - t0)
    return best, value


def ours_gospa(s):
    return gospa_sequence(s[0], s[1], s[2], s[4], s[5], s[6], c=C, p=P)


def ours_siap(s):
    association = associate_tracks_to_truths(s[0], s[1], s[2], s[4], s[5], s[6], THRESHOLD,
                                             confirm_hits=CONFIRM_HITS, end_misses=END_MISSES)
    return siap_metrics(*s, association)


def stonesoup_gospa(s):
    from stonesoup.metricgenerator.ospametric import GOSPAMetric

    truths = peer.truth_paths(s[0], s[1], s[2])
    tracks = peer.tracks(s[4], s[5], s[6])
    metric = GOSPAMetric(c=C, p=P)
    t0 = time.perf_counter()
    rows = peer._gospa_rows(metric, truths, tracks)
    return time.perf_counter() - t0, rows


def stonesoup_siap(s):
    from stonesoup.metricgenerator.manager import MultiManager
    from stonesoup.metricgenerator.tracktotruthmetrics import SIAPMetrics

    truths = peer.truth_paths(s[0], s[1], s[2], s[3])
    tracks = peer.tracks(s[4], s[5], s[6], s[7])
    position, velocity = peer._position_velocity_measures(2)
    from stonesoup.dataassociator.tracktotrack import TrackToTruth

    associator = TrackToTruth(association_threshold=THRESHOLD, consec_pairs_confirm=CONFIRM_HITS,
                              consec_misses_end=END_MISSES, measure=position)
    manager = MultiManager(generators=[SIAPMetrics(position_measure=position, velocity_measure=velocity)],
                           associator=associator)
    manager.add_data({"groundtruth_paths": truths, "tracks": tracks})
    t0 = time.perf_counter()
    metrics = manager.generate_metrics()["siap_generator"]
    elapsed = time.perf_counter() - t0
    names = {
        "completeness": "SIAP Completeness", "ambiguity": "SIAP Ambiguity", "spuriousness": "SIAP Spuriousness",
        "position_accuracy_m": "SIAP Position Accuracy", "velocity_accuracy_mps": "SIAP Velocity Accuracy",
        "track_number_change_rate": "SIAP Rate of Track Number Change",
        "longest_track_segment": "SIAP Longest Track Segment",
    }
    return elapsed, {key: float(metrics[title].value) for key, title in names.items()}


def run(sizes, peer_max_n, log, after_each=lambda rows: None):
    rows = []
    for n in sizes:
        scene = make_scene(n)
        repeats = 5 if n <= 1000 else 1
        g_time, g = best_of(lambda: ours_gospa(scene), repeats)
        s_time, s = best_of(lambda: ours_siap(scene), repeats)
        row = {"n": n, "n_tracks": len(np.unique(scene[5])), "ours_gospa_s": g_time, "ours_siap_s": s_time,
               "gospa_total": g.summary()["total"], "siap": s}
        log(f"N={n}: ours GOSPA {g_time * 1e3:.2f} ms, SIAP {s_time * 1e3:.2f} ms")
        if n <= peer_max_n:
            ss_g_time, ss_rows = stonesoup_gospa(scene)
            log(f"N={n}: Stone Soup GOSPA {ss_g_time:.2f} s")
            ss_s_time, ss_s = stonesoup_siap(scene)
            log(f"N={n}: Stone Soup SIAP {ss_s_time:.2f} s")
            row.update(ss_gospa_s=ss_g_time, ss_siap_s=ss_s_time, ss_gospa_total=float(ss_rows[:, 1].mean()),
                       gospa_max_abs_diff=float(np.max(np.abs(ss_rows[:, 1] - g.total))), ss_siap=ss_s,
                       siap_max_rel_diff=max(abs(s[k] - ss_s[k]) / max(abs(ss_s[k]), 1e-12) for k in s))
        rows.append(row)
        after_each(rows)
    return rows


def table(rows) -> str:
    lines = [
        "## Metrics: airpicture vs Stone Soup 1.9.1 (`bench/bench_metrics.py`)",
        "",
        f"2D CV targets, one per 100 km^2, {STEPS} steps of {DT:g} s; tracks = truths + 50 m noise, 5 % untracked,"
        " 5 % renumbered half way, N/20 false tracks. GOSPA c = 500 m, p = 1 (mean over steps of the per-step"
        " distance); SIAP with TrackToTruth association (500 m, 3 hits, 2 misses). Stone Soup timed on its metric"
        " call only; ours best of 5 (1 run above N = 1000), from columns.",
        f"Machine: {platform.machine()}, {os.cpu_count()} logical cores, Python {platform.python_version()}, one"
        f" process; 1-min load average {LOAD_AT_START:.1f} at the start, {os.getloadavg()[0]:.1f} at the end"
        " (a shared machine slows both sides alike; the speed-up is the robust figure).",
        "",
        "| N truths | tracks | GOSPA ours | GOSPA Stone Soup | speed-up | SIAP ours | SIAP Stone Soup | speed-up |"
        " GOSPA mean (ours / SS) | max abs diff per step | SIAP max rel diff |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def ms(seconds):
        return f"{seconds * 1e3:.2f} ms" if seconds < 1 else f"{seconds:.2f} s"

    for r in rows:
        if "ss_gospa_s" in r:
            lines.append(
                f"| {r['n']} | {r['n_tracks']} | {ms(r['ours_gospa_s'])} | {ms(r['ss_gospa_s'])} | "
                f"{r['ss_gospa_s'] / r['ours_gospa_s']:.0f}x | {ms(r['ours_siap_s'])} | {ms(r['ss_siap_s'])} | "
                f"{r['ss_siap_s'] / r['ours_siap_s']:.0f}x | {r['gospa_total']:.2f} / {r['ss_gospa_total']:.2f} | "
                f"{r['gospa_max_abs_diff']:.1e} | {r['siap_max_rel_diff']:.1e} |")
        else:
            lines.append(f"| {r['n']} | {r['n_tracks']} | {ms(r['ours_gospa_s'])} | - | - | {ms(r['ours_siap_s'])} |"
                         f" - | - | {r['gospa_total']:.2f} / - | - | - |")
    last = [r for r in rows if "ss_siap" in r]
    if last:
        r = last[-1]
        lines += ["", f"SIAP at N = {r['n']} (ours / Stone Soup):", "",
                  "| metric | airpicture | Stone Soup |", "|---|---:|---:|"]
        lines += [f"| {k} | {r['siap'][k]:.6g} | {r['ss_siap'][k]:.6g} |" for k in r["siap"]]
    return "\n".join(lines)


def write_section(text: str, path: Path) -> None:
    """Replace our marked section of BENCHMARKS.md (or append it), leaving everything else as it is."""
    write_marked_section(path, START, END, text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--peer-max-n", type=int, default=1000, help="largest N to run Stone Soup on")
    parser.add_argument("--no-write", action="store_true", help="print the table, do not touch BENCHMARKS.md")
    args = parser.parse_args()
    def publish(rows):
        # Rewritten after every size, so a long Stone Soup run still leaves the smaller sizes on record.
        if not args.no_write:
            write_section(table(rows), ROOT / "BENCHMARKS.md")

    rows = run(args.sizes, args.peer_max_n, lambda msg: print(msg, flush=True), publish)
    print(table(rows))


if __name__ == "__main__":
    main()
