"""Monte Carlo studies (issue 8 §1): derived seeds, the same per-run figures in process and on a real Dask cluster
(a LocalCluster of 2 worker processes, reached through its scheduler address as `--scheduler` would), failed runs
reported with their seed, outputs, and the CLI's bad-input messages."""

import json
import math

import numpy as np
import pyarrow.parquet as pq
import pytest

from _cli import run_cli
from airpicture.montecarlo import METRICS, confidence_interval, derive_seeds, run_replication, run_study
from airpicture.scenario.loader import load_scenario

DURATION_S = 12.0   # the demo's first 12 s: zone entries (lead times) already happen, ~1.5 s per run


@pytest.fixture(scope="module")
def cluster():
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c:
        yield c


def test_seeds_are_the_spawned_children_of_the_base_seed():
    seeds = derive_seeds(7, 5)
    children = np.random.SeedSequence(7).spawn(5)
    assert seeds == [int(c.generate_state(1, np.uint64)[0] >> 1) for c in children]
    assert derive_seeds(7, 3) == seeds[:3]              # a run's seed does not depend on the study size
    assert len(set(seeds)) == 5 and all(0 <= s < 2 ** 63 for s in seeds)
    assert derive_seeds(8, 5) != seeds


def test_confidence_interval_is_student_t():
    ci = confidence_interval([1.0, 2.0, 3.0, float("nan")])
    assert ci["n"] == 3 and ci["mean"] == 2.0 and ci["std"] == 1.0
    half = 4.3026527297 / math.sqrt(3)                  # t(0.975, 2 dof), tables
    assert ci["ci95"] == pytest.approx([2.0 - half, 2.0 + half], rel=1e-9)
    assert confidence_interval([])["mean"] is None


def test_in_process_and_cluster_give_the_same_runs(tmp_path, cluster):
    scenario = load_scenario("demo")
    local = run_study(scenario, 4, tmp_path / "local", duration_s=DURATION_S, plots=False)
    remote = run_study(scenario, 4, tmp_path / "remote", duration_s=DURATION_S, scheduler=cluster.scheduler_address)
    assert local["where"] == "in process" and "2 workers" in remote["where"]
    assert local["succeeded"] == remote["succeeded"] == 4
    a = pq.read_table(tmp_path / "local" / "runs.parquet").to_pydict()
    b = pq.read_table(tmp_path / "remote" / "runs.parquet").to_pydict()
    assert a["seed"] == b["seed"] == derive_seeds(scenario.seed, 4)
    for m in METRICS:   # exactly the same figures (NaN where a metric is undefined, in both)
        np.testing.assert_array_equal(np.asarray(a[m], float), np.asarray(b[m], float), err_msg=m)
    la = pq.read_table(tmp_path / "local" / "lead_times.parquet").to_pydict()
    lb = pq.read_table(tmp_path / "remote" / "lead_times.parquet").to_pydict()
    order_a = np.lexsort((la["track_id"], la["run"]))
    order_b = np.lexsort((lb["track_id"], lb["run"]))
    assert len(order_a) > 0
    for col in ("run", "track_id", "target_class", "hostile_or_suspect", "zone"):
        assert [la[col][i] for i in order_a] == [lb[col][i] for i in order_b], col
    np.testing.assert_array_equal(np.asarray(la["lead_s"], float)[order_a], np.asarray(lb["lead_s"], float)[order_b])
    # different seeds give different replications
    assert len(set(np.round(np.asarray(a["gospa_total"], float), 9))) > 1
    # the aggregate is what the per-run rows say
    values = np.asarray(a["siap_completeness"], float)
    assert local["metrics"]["siap_completeness"]["mean"] == pytest.approx(values[np.isfinite(values)].mean())
    assert remote["metrics"]["gospa_total"] == local["metrics"]["gospa_total"]
    # lead times carry the class of the target the track followed, and the pooled figures count them
    assert set(la["target_class"]) - {"unmatched"}
    assert local["lead_times"]["entries"] == len(order_a)
    summary = json.loads((tmp_path / "remote" / "montecarlo.json").read_text())
    assert summary["runs"] == 4 and summary["failed"] == 0
    for png in ("metrics.png", "lead_times.png"):
        assert (tmp_path / "remote" / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_failed_runs_are_reported_and_the_study_goes_on(tmp_path, cluster):
    scenario = load_scenario("crossing")
    seeds = derive_seeds(scenario.seed, 6)
    bad = {s for s in seeds if s % 3 == 0} or {seeds[1]}

    # A real run function that fails for some seeds (cloudpickle ships this closure by value to the workers).
    def sometimes_failing(task):
        if task.seed in bad:
            raise ValueError(f"no convergence for seed {task.seed}")
        return run_replication(task)

    result = run_study(scenario, 6, tmp_path, duration_s=10.0, scheduler=cluster.scheduler_address,
                       run=sometimes_failing, plots=False)
    assert result["failed"] == len(bad) and result["succeeded"] == 6 - len(bad)
    assert {f["seed"] for f in result["failures"]} == bad
    assert all(f"seed {f['seed']}" in f["error"] and f["error"].startswith("ValueError") for f in result["failures"])
    runs = pq.read_table(tmp_path / "runs.parquet").to_pydict()
    assert sorted(runs["run"]) == list(range(6))
    failed_rows = [i for i, ok in enumerate(runs["ok"]) if not ok]
    assert {runs["seed"][i] for i in failed_rows} == bad
    assert all(runs["gospa_total"][i] is None for i in failed_rows)
    assert result["metrics"]["gospa_total"]["n"] == 6 - len(bad)


def _cli(*args):
    return run_cli(*args, timeout=300)


def test_cli_local_cluster_writes_outputs(tmp_path):
    r = _cli("montecarlo", "crossing", "--runs", "3", "--duration", "10", "--workers", "2", "-o", tmp_path)
    assert r.returncode == 0, r.stderr
    assert "3 runs (3 ok, 0 failed)" in r.stdout and "LocalCluster (2 worker processes)" in r.stdout
    assert "runs/min" in r.stdout
    for name in ("montecarlo.json", "runs.parquet", "lead_times.parquet", "metrics.png", "lead_times.png"):
        assert (tmp_path / name).exists(), name


@pytest.mark.parametrize("args, field", [
    (("--runs", "0"), "--runs"),
    (("--runs", "2", "--workers", "0"), "--workers"),
    (("--runs", "2", "--scheduler", "not-an-address"), "--scheduler"),
    (("--runs", "2", "--scheduler", "tcp://127.0.0.1:9"), "--scheduler"),   # nothing listens on port 9
    (("--runs", "2", "--duration", "-5"), "--duration"),
])
def test_cli_bad_input_is_one_line_and_exit_2(args, field):
    r = _cli("montecarlo", "crossing", *args)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stdout + r.stderr
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and field in lines[0]
