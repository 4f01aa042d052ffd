"""Partitioned replay (issue 8 §3): frames split by aircraft address across a real 2-worker Dask LocalCluster and
merged give what one process gives, on the real recordings in ../shared/data.

"Equal" (partition.py's docstring): the same decoder and tracker counters; the same addresses with tracks; per
address the same number of track numbers and update rows; row by row in time order the same time, status and
identity, positions within ~1e-4 m (1e-9 deg) and 1e-6 m, velocities within 1e-9 m/s. Track numbers are the
only thing allowed to differ (each partition numbers its own)."""

import gzip
import os

import numpy as np
import pyarrow.parquet as pq
import pytest

from _cli import run_cli
from _sources_data import FULL_FLIGHT, LONG_FLIGHT, TUTORIAL, beast_binary, beast_records, jsonl_records, sbs_rows
from airpicture.modes.phantoms import ModeSFilter
from airpicture.partition import SUMMED, frame_keys, partition_of, replay_files
from airpicture.replay import replay_file
from airpicture.sources import FrameBatch, iter_file

REFERENCE = (43.63, 1.37)           # Toulouse: the receivers of the recordings
CHUNK = 1 << 18                     # small chunks: many batch boundaries for the tracks to cross
# rs1090 calls: each partition caches distinct message contents on its own, so these count work, not results
WORK_COUNTERS = {"decoded_by_rs1090", "rs1090_rows"}


@pytest.fixture(scope="module")
def cluster():
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c:
        yield c


def assert_same_replay(single: dict, single_dir, merged: dict, merged_dir):
    for key in SUMMED:
        if key not in WORK_COUNTERS:
            assert single[key] == merged[key], key
    for key in ("tracker", "problems", "crc_rejected_by_df", "time_first", "time_last"):
        assert single[key] == merged[key], key
    a = pq.read_table(single_dir / "tracks.parquet").to_pydict()
    b = pq.read_table(merged_dir / "tracks.parquet").to_pydict()
    assert len(a["time"]) == len(b["time"]) > 100
    assert set(a["icao24"]) == set(b["icao24"]) and len(set(a["icao24"])) >= 1
    ka = np.lexsort((a["time"], a["icao24"]))       # stable: processing order kept within an address and time
    kb = np.lexsort((b["time"], b["icao24"]))
    for col in ("icao24", "time", "status", "callsign", "squawk", "emergency", "category", "transponder_only"):
        assert np.array_equal(np.asarray(a[col], object)[ka], np.asarray(b[col], object)[kb]), col
    for col, tol in (("lat", 1e-9), ("lon", 1e-9), ("alt", 1e-6), ("vx", 1e-9), ("vy", 1e-9), ("vz", 1e-9)):
        np.testing.assert_allclose(np.asarray(b[col], float)[kb], np.asarray(a[col], float)[ka], rtol=0, atol=tol,
                                   err_msg=col)

    def numbers_per_address(t):
        out = {}
        for address, tid in zip(t["icao24"], t["track_id"]):
            out.setdefault(address, set()).add(tid)
        return {k: len(v) for k, v in out.items()}

    assert numbers_per_address(a) == numbers_per_address(b)
    # the merge numbers tracks 1.. by first update
    ids = np.asarray(b["track_id"])
    assert set(ids.tolist()) == set(range(1, len(set(ids.tolist())) + 1))


def test_frame_keys_are_the_addresses_the_filter_accepts():
    batch = FrameBatch.concat([b for _, b in iter_file(LONG_FLIGHT, chunk_bytes=1 << 22)])
    keys = frame_keys(batch)
    out = ModeSFilter().process(batch.time, batch.frame)
    df = out.df
    ok = out.accepted
    assert ok.sum() > 10000 and np.isin(df[ok], (0, 4, 5, 16, 20, 21)).sum() > 1000   # AP replies among them
    np.testing.assert_array_equal(keys[ok], out.icao24[ok])
    parts = partition_of(keys, 4)
    assert set(parts.tolist()) == {0, 1, 2, 3}
    # every aircraft's frames in one partition
    for address in np.unique(keys[ok]):
        assert np.unique(parts[keys == address]).size == 1


def test_first_batch_of_ap_replies_only_is_a_phantom_not_a_crash():
    # a partition (or a live feed) may open on DF4/5/20/21 replies before any DF11/17/18 of their aircraft
    out = ModeSFilter().process(np.array([1.0, 2.0]), np.array(["20000f1f684a6c", "20000f1f684a6c"], dtype=object))
    assert list(out.reason) == ["phantom", "phantom"]


def _head(path, lines: int, tmp_path):
    """The first ``lines`` records of a real gzip recording, as a file of the same format."""
    out = tmp_path / path.name
    out.write_bytes(gzip.compress(b"".join(gzip.open(path).readlines()[:lines])))
    return out


@pytest.mark.parametrize("source, lines", [(LONG_FLIGHT, 70000), (TUTORIAL, 72000)], ids=["beast-hex", "jsonl"])
def test_partitioned_on_a_cluster_equals_one_process(source, lines, cluster, tmp_path):
    path = _head(source, lines, tmp_path)       # the long flight's first 70,000 frames; all the tutorial
    single = replay_file(path, tmp_path / "single", reference=REFERENCE, chunk_bytes=CHUNK, record=False)
    report = replay_files([path], tmp_path / "merged", parts=3, scheduler=cluster.scheduler_address,
                          reference=REFERENCE, chunk_bytes=CHUNK)
    assert report["tasks"] == 3 and "2 workers" in report["where"]
    merged = report["files"][0]
    assert len(merged["partitions"]) == 3 and all(p["frames_kept"] > 0 for p in merged["partitions"])
    assert sum(p["frames_kept"] for p in merged["partitions"]) == merged["messages"] == single["messages"]
    assert single["tracks"] >= 3
    assert_same_replay(single, tmp_path / "single", merged, tmp_path / "merged")


@pytest.mark.parametrize("kind", ["beast-binary", "sbs", "jsonl-full-flight"])
def test_partitioned_in_process_equals_one_process(kind, tmp_path):
    if kind == "beast-binary":
        path = tmp_path / "long_flight.bin"
        path.write_bytes(beast_binary(beast_records(60000))[0])
        os.utime(path, (1698140940.0, 1698140940.0))          # the recording's start: times from mtime + ticks
    elif kind == "sbs":
        path = tmp_path / "tutorial.sbs"
        path.write_bytes(b"\n".join(row for row, _ in sbs_rows(jsonl_records(TUTORIAL, 40000))) + b"\n")
    else:
        path = _head(FULL_FLIGHT, 30000, tmp_path)
    single = replay_file(path, tmp_path / "single", reference=REFERENCE, chunk_bytes=1 << 16, record=False)
    report = replay_files([path], tmp_path / "merged", parts=4, reference=REFERENCE, chunk_bytes=1 << 16)
    assert report["where"] == "in process"
    assert_same_replay(single, tmp_path / "single", report["files"][0], tmp_path / "merged")


def _cli(*args):
    return run_cli(*args, timeout=300)


def test_cli_two_files_in_address_partitions(tmp_path):
    # (--workers K runs the same replay_files on a LocalCluster: the cluster path is tested above through
    # --scheduler's code, and the CLI's --workers in test_montecarlo.py / test_coverage.py)
    lines = gzip.open(FULL_FLIGHT).readlines()
    first, second = tmp_path / "first.jsonl.gz", tmp_path / "second.jsonl"
    first.write_bytes(gzip.compress(b"".join(lines[:8000])))
    second.write_bytes(b"".join(lines[8000:16000]))
    r = _cli("replay", first, second, "--partitions", "2", "--reference", "43.63,1.37", "-o", tmp_path / "out",
             "--no-serve")
    assert r.returncode == 0, r.stderr
    assert "2 file(s) in 2 address partitions each, 4 tasks, in process" in r.stdout
    for name in ("first", "second"):
        for f in ("summary.json", "tracks.parquet", "picture.png"):
            assert (tmp_path / "out" / name / f).exists(), (name, f)
    assert (tmp_path / "out" / "replay.json").exists()


@pytest.mark.parametrize("args, field", [
    (("--workers", "0"), "--workers"),
    (("--partitions", "0"), "--partitions"),
    (("--workers", "2", "--scheduler", "tcp://127.0.0.1:9"), "--scheduler"),
])
def test_cli_bad_input_is_one_line_and_exit_2(args, field):
    r = _cli("replay", FULL_FLIGHT, *args, "--no-serve")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stdout + r.stderr
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and field in lines[0]


def test_cli_missing_file_named(tmp_path):
    r = _cli("replay", FULL_FLIGHT, tmp_path / "nope.jsonl", "--workers", "2", "--no-serve")
    assert r.returncode == 2 and "nope.jsonl" in r.stderr and "Traceback" not in r.stderr
