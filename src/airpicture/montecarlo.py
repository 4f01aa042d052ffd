"""Monte Carlo studies: N replications of one scenario with derived seeds, in process or on Dask (issue 8 §1).

Each replication is ``pipeline.run_scenario`` of the scenario with its own seed, writing nothing
(``outputs=False``); it returns a small record: the SIAP / ID-SIAP and GOSPA figures of ``summary.json`` and
the alert lead times of ``summary["alerts"]``, each lead time with the class of the target its track
followed. The study aggregates mean and 95 % confidence interval per metric and writes
``montecarlo.json``, ``runs.parquet`` (one row per run), ``lead_times.parquet`` (one row per zone entry) and
two PNGs (metric distributions; lead time by target class).

Seeds: run i of a study with base seed B gets ``SeedSequence(B, spawn_key=(i,)).generate_state(1, uint64)[0]
>> 1`` (the i-th child of ``SeedSequence(B).spawn(N)``, cut to the scenario's 63-bit seed range). A run's
seed depends on B and i alone - not on N, the order runs finish in, or where they run - so the same study
gives the same per-run figures in process, on a LocalCluster or on a remote cluster (tested).

A run that raises is recorded with its seed and error (``ok = False``) and the study goes on.
"""

from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .errors import InputError

# (summary section, key) -> column name in runs.parquet
SIAP_KEYS = ("completeness", "ambiguity", "spuriousness", "position_accuracy_m", "velocity_accuracy_mps",
             "track_number_change_rate", "longest_track_segment")
ID_SIAP_KEYS = ("id_completeness", "id_correctness", "id_ambiguity")
GOSPA_KEYS = ("total", "localisation", "missed", "false", "ospa")
METRICS = ([f"siap_{k}" for k in SIAP_KEYS] + [f"siap_{k}" for k in ID_SIAP_KEYS]
           + [f"gospa_{k}" for k in GOSPA_KEYS] + ["lead_s_mean", "hostile_lead_s_mean"])
CI_LEVEL = 0.95
MATCH_DISTANCE_M = 2000.0  # a track's target: the nearest truth within this (pipeline.SIAP_ASSOCIATION_M)


def derive_seeds(base_seed: int, runs: int) -> list[int]:
    """Seeds of runs 0..runs-1 (see the module docstring)."""
    return [int(np.random.SeedSequence(int(base_seed), spawn_key=(i,)).generate_state(1, np.uint64)[0] >> 1)
            for i in range(runs)]


@dataclass
class RunTask:
    """One replication: what a worker needs (the scenario travels pickled, ~kB)."""

    scenario: object
    run: int
    seed: int
    duration_s: float | None = None


class _TrackPositions:
    """A picture sink keeping (time, track id, lat, lon, alt) of every confirmed or coasting track per step: where
    a track was when it entered a zone, to name the target it followed."""

    name = "montecarlo-positions"

    def __init__(self):
        self.parts = []

    def open(self, context) -> None:
        pass

    def step(self, frame) -> None:
        c = frame.columns
        if len(frame):
            self.parts.append((np.full(len(frame), frame.time), c["track_id"], c["lat"], c["lon"], c["alt_m"]))

    def close(self, summary) -> None:
        pass

    def columns(self):
        if not self.parts:
            return np.zeros(0), np.zeros(0, np.int64), np.zeros((0, 3))
        t, tid, lat, lon, alt = (np.concatenate(c) for c in zip(*self.parts))
        return t, tid.astype(np.int64), np.column_stack([lat, lon, alt])


def _target_classes(scenario, positions: _TrackPositions, entries: list[dict]) -> list[str]:
    """The class of the truth nearest to each entry's track at its entry time ('unmatched' beyond 2 km)."""
    from .geo import geodetic_to_ecef
    from .scenario.trajectory import build_truth

    if not entries:
        return []
    truth = build_truth(scenario)
    t, tid, lla = positions.columns()
    out = []
    for e in entries:
        rows = np.flatnonzero((tid == int(e["track_id"])) & np.isclose(t, float(e["entry_time"])))
        if rows.size == 0 or truth.n_targets == 0:
            out.append("unmatched")
            continue
        r = rows[0]
        track = geodetic_to_ecef(np.radians(lla[r, 0]), np.radians(lla[r, 1]), lla[r, 2])
        pos, _ = truth.state_at(np.full(truth.n_targets, t[r]), np.arange(truth.n_targets))
        d = np.linalg.norm(pos - track, axis=1)
        d = np.where(np.isfinite(d), d, np.inf)
        k = int(np.argmin(d))
        out.append(str(truth.target_class[k]) if d[k] <= MATCH_DISTANCE_M else "unmatched")
    return out


def run_replication(task: RunTask) -> dict:
    """One run of the scenario with the task's seed; returns its record (metrics and lead times), no files."""
    from .picture import SinkSet
    from .pipeline import run_scenario

    scenario = copy.deepcopy(task.scenario)
    scenario.seed = int(task.seed)
    if task.duration_s is not None:
        scenario.duration_s = float(task.duration_s)
    positions = _TrackPositions()
    started = time.perf_counter()
    summary = run_scenario(scenario, None, show_progress=False, outputs=False, sinks=SinkSet([positions]))
    record = {"run": task.run, "seed": task.seed, "ok": True, "error": None}
    siap = summary.get("siap", {})
    for k in SIAP_KEYS + ID_SIAP_KEYS:
        record[f"siap_{k}"] = _number(siap.get(k))
    gospa = summary.get("gospa", {})
    for k in GOSPA_KEYS:
        record[f"gospa_{k}"] = _number(gospa.get(k))
    alerts = summary.get("alerts", {})
    entries = list(alerts.get("lead_times", []))
    hostile = set(alerts.get("hostile_or_suspect_lead_times", {}))
    classes = _target_classes(scenario, positions, entries)
    leads = []
    for e, cls in zip(entries, classes):
        leads.append({"run": task.run, "seed": task.seed, "track_id": int(e["track_id"]), "target_class": cls,
                      "identity": e.get("identity"), "hostile_or_suspect": str(e["track_id"]) in hostile,
                      "zone": e.get("zone"), "entry_time_s": _number(e.get("entry_time")),
                      "first_alert_kind": e.get("first_alert_kind"), "lead_s": _number(e.get("lead_s"))})
    record["lead_s_mean"] = _mean([x["lead_s"] for x in leads])
    record["hostile_lead_s_mean"] = _mean([x["lead_s"] for x in leads if x["hostile_or_suspect"]])
    record["zone_entries"] = len(leads)
    record["n_tracks"] = int(summary.get("n_tracks", 0))
    record["wall_s"] = time.perf_counter() - started
    record["lead_times"] = leads
    return record


def _number(x) -> float:
    return float("nan") if x is None else float(x)


def _mean(values) -> float:
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], float)
    return float(v.mean()) if v.size else float("nan")


def confidence_interval(values, level: float = CI_LEVEL) -> dict:
    """Mean, standard deviation and the Student-t confidence interval of the mean over the finite values."""
    from scipy import stats

    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    n = int(v.size)
    if n == 0:
        return {"n": 0, "mean": None, "std": None, "ci95": None}
    mean = float(v.mean())
    if n == 1:
        return {"n": 1, "mean": mean, "std": None, "ci95": None}
    std = float(v.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * std / math.sqrt(n))
    return {"n": n, "mean": mean, "std": std, "ci95": [mean - half, mean + half]}


def aggregate(records: list[dict]) -> dict:
    """Per-metric mean and 95 % CI over the successful runs; lead times pooled per target class."""
    ok = [r for r in records if r.get("ok")]
    metrics = {m: confidence_interval([r[m] for r in ok]) for m in METRICS}
    leads = [x for r in ok for x in r["lead_times"]]
    by_class = {}
    for cls in sorted({x["target_class"] for x in leads}):
        mine = [x for x in leads if x["target_class"] == cls]
        values = [x["lead_s"] for x in mine]
        by_class[cls] = {**confidence_interval(values), "entries": len(mine),
                         "never_alerted": sum(1 for v in values if not math.isfinite(v))}
    pooled = {
        "all": confidence_interval([x["lead_s"] for x in leads]),
        "hostile_or_suspect": confidence_interval([x["lead_s"] for x in leads if x["hostile_or_suspect"]]),
        "by_target_class": by_class,
        "entries": len(leads),
    }
    return {"metrics": metrics, "lead_times": pooled}


ProgressFn = Callable[[int, int, int], None]


def run_study(scenario, runs: int, out_dir, *, base_seed: int | None = None, duration_s: float | None = None,
              workers: int | None = None, scheduler: str | None = None, run: Callable = run_replication,
              on_progress: ProgressFn | None = None, on_failure: Callable[[dict], None] | None = None,
              plots: bool = True) -> dict:
    """Run ``runs`` replications (in process, ``workers`` local Dask workers, or the cluster at ``scheduler``),
    aggregate, write the outputs into ``out_dir``; returns what ``montecarlo.json`` holds.

    ``run``: the function each task calls with a :class:`RunTask` (default :func:`run_replication`; it must be
    importable or picklable by value on the workers). ``on_progress(done, failed, total)`` after every run;
    ``on_failure(record)`` for each failed run."""
    from .cluster import executor

    if runs is None or runs < 1:
        raise InputError(f"{runs}: must be at least 1", field="--runs")
    if duration_s is not None and not duration_s > 0:
        raise InputError("must be positive", field="--duration")
    base = int(scenario.seed if base_seed is None else base_seed)
    if not 0 <= base < 2 ** 63:
        raise InputError(f"{base}: must be in 0 .. 2^63 - 1", field="--seed")
    seeds = derive_seeds(base, runs)
    tasks = [RunTask(scenario, i, s, duration_s) for i, s in enumerate(seeds)]
    records: list[dict | None] = [None] * runs
    done = failed = 0
    started = time.perf_counter()
    with executor(workers, scheduler) as ex:
        where = ex.where
        for i, result, error in ex.run(run, tasks, key="montecarlo-run"):
            if error is None:
                records[i] = result
                done += 1
            else:
                records[i] = {"run": i, "seed": seeds[i], "ok": False, "error": error, "lead_times": []}
                failed += 1
                if on_failure is not None:
                    on_failure(records[i])
            if on_progress is not None:
                on_progress(done, failed, runs)
    wall = time.perf_counter() - started
    result = {
        "format": "airpicture-montecarlo", "version": 1,
        "scenario": scenario.name, "source": getattr(scenario, "source", None),
        "duration_s": float(scenario.duration_s if duration_s is None else duration_s),
        "base_seed": base,
        "seed_derivation": "seed_i = SeedSequence(base_seed, spawn_key=(i,)).generate_state(1, uint64)[0] >> 1",
        "runs": runs, "succeeded": done, "failed": failed,
        "failures": [{"run": r["run"], "seed": r["seed"], "error": r["error"]} for r in records if not r["ok"]],
        "where": where, "wall_s": wall, "runs_per_minute": 60.0 * runs / wall if wall > 0 else None,
        "confidence_level": CI_LEVEL,
        **aggregate(records),
    }
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    result["outputs"] = write_outputs(out_dir, records, result, plots=plots)
    (out_dir / "montecarlo.json").write_text(json.dumps(_jsonable(result), indent=2) + "\n")
    return result


def write_outputs(out_dir: Path, records: list[dict], result: dict, *, plots: bool = True) -> dict:
    """``runs.parquet``, ``lead_times.parquet`` and (``plots``) ``metrics.png``, ``lead_times.png``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    paths = {"summary": out_dir / "montecarlo.json", "runs": out_dir / "runs.parquet",
             "lead_times": out_dir / "lead_times.parquet"}
    cols = {"run": pa.array([r["run"] for r in records], pa.int64()),
            "seed": pa.array([r["seed"] for r in records], pa.uint64()),
            "ok": pa.array([bool(r["ok"]) for r in records]),
            "error": pa.array([r["error"] for r in records], pa.string())}
    for m in METRICS + ["zone_entries", "n_tracks", "wall_s"]:
        cols[m] = pa.array([float(r.get(m, float("nan"))) if r["ok"] else None for r in records], pa.float64())
    pq.write_table(pa.table(cols), paths["runs"])
    leads = [x for r in records for x in r["lead_times"]]
    names = ("run", "seed", "track_id", "target_class", "identity", "hostile_or_suspect", "zone", "entry_time_s",
             "first_alert_kind", "lead_s")
    types = (pa.int64(), pa.uint64(), pa.int64(), pa.string(), pa.string(), pa.bool_(), pa.string(), pa.float64(),
             pa.string(), pa.float64())
    pq.write_table(pa.table({n: pa.array([x[n] for x in leads], t) for n, t in zip(names, types)}),
                   paths["lead_times"])
    if plots:
        paths["metrics_png"] = out_dir / "metrics.png"
        paths["lead_times_png"] = out_dir / "lead_times.png"
        _plot_metrics(paths["metrics_png"], records, result)
        _plot_lead_times(paths["lead_times_png"], leads, result)
    return {k: str(v) for k, v in paths.items()}


def _plot_metrics(path: Path, records: list[dict], result: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in records if r["ok"]]
    shown = [m for m in METRICS if any(math.isfinite(r[m]) for r in ok)]
    ncol = 4
    nrow = max(1, math.ceil(len(shown) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(4 * ncol, 2.8 * nrow), squeeze=False)
    for ax, m in zip(axes.ravel(), shown):
        v = np.asarray([r[m] for r in ok], float)
        v = v[np.isfinite(v)]
        ax.hist(v, bins=min(20, max(5, v.size // 2)), color="#4c72b0", alpha=0.85)
        stats = result["metrics"][m]
        ax.axvline(stats["mean"], color="k", lw=1)
        if stats["ci95"]:
            ax.axvspan(*stats["ci95"], color="orange", alpha=0.3, zorder=0)
        ax.set_title(m, fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in axes.ravel()[len(shown):]:
        ax.axis("off")
    fig.suptitle(f"{result['scenario']}: {result['succeeded']} runs ({result['failed']} failed) - mean (line), "
                 "95 % CI of the mean (band)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _plot_lead_times(path: Path, leads: list[dict], result: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    classes = sorted({x["target_class"] for x in leads})
    for k, cls in enumerate(classes):
        mine = [x for x in leads if x["target_class"] == cls and math.isfinite(x["lead_s"])]
        y = np.asarray([x["lead_s"] for x in mine], float)
        jitter = np.random.default_rng(k).uniform(-0.15, 0.15, y.size)
        red = np.asarray([x["hostile_or_suspect"] for x in mine], bool)
        ax.scatter(k + jitter[~red], y[~red], s=12, color="#4c72b0", alpha=0.7)
        ax.scatter(k + jitter[red], y[red], s=12, color="#c44e52", alpha=0.8)
        if y.size:
            ax.hlines(y.mean(), k - 0.3, k + 0.3, color="k")

    ax.axhline(0.0, color="grey", lw=0.8, ls="--")
    labels = [f"{cls}\n{sum(1 for x in leads if x['target_class'] == cls and math.isfinite(x['lead_s']))} of "
              f"{sum(1 for x in leads if x['target_class'] == cls)} alerted" for cls in classes]
    ax.set_xticks(range(len(classes)), labels, fontsize=8)
    ax.set_ylabel("alert lead time before zone entry (s)")
    if not classes:
        ax.text(0.5, 0.5, "no zone entries in these runs", ha="center", va="center", transform=ax.transAxes)
    ax.set_title(f"{result['scenario']}: lead time by target class (red: hostile/suspect; bar: mean)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def print_report(result: dict, console) -> None:
    """The end report of ``airpicture montecarlo``."""
    m = result["metrics"]

    def fmt(name, spec=".3f"):
        s = m[name]
        if s["mean"] is None:
            return "n/a"
        ci = "" if not s["ci95"] else f" [{format(s['ci95'][0], spec)}, {format(s['ci95'][1], spec)}]"
        return f"{format(s['mean'], spec)}{ci}"

    rate = result.get("runs_per_minute")
    lines = [f"[bold]airpicture montecarlo[/]: {result['scenario']}, {result['runs']} runs "
             f"({result['succeeded']} ok, {result['failed']} failed), base seed {result['base_seed']}, "
             f"{result['where']}",
             f"  {result['wall_s']:.1f} s, {rate:.1f} runs/min" if rate else f"  {result['wall_s']:.1f} s",
             f"  SIAP completeness {fmt('siap_completeness')}, spuriousness {fmt('siap_spuriousness')}, "
             f"position accuracy {fmt('siap_position_accuracy_m', '.0f')} m (mean [95 % CI])",
             f"  ID-SIAP completeness {fmt('siap_id_completeness')}, correctness {fmt('siap_id_correctness')}",
             f"  GOSPA {fmt('gospa_total', '.0f')}"]
    lt = result["lead_times"]
    if lt["entries"]:
        a, h = lt["all"], lt["hostile_or_suspect"]
        lines.append(f"  alert lead time: {lt['entries']} zone entries, mean {a['mean']:.1f} s"
                     + (f"; hostile/suspect mean {h['mean']:.1f} s (n={h['n']})" if h["n"] else ""))
    for f in result["failures"][:5]:
        lines.append(f"  [red]run {f['run']} (seed {f['seed']}) failed:[/] {f['error']}")
    if len(result["failures"]) > 5:
        lines.append(f"  ... {len(result['failures']) - 5} more failures in montecarlo.json")
    lines.append(f"  outputs: {Path(result['outputs']['summary']).parent}/ (montecarlo.json, runs.parquet, "
                 "lead_times.parquet, metrics.png, lead_times.png)")
    console.print("\n".join(lines), highlight=False, soft_wrap=True)
