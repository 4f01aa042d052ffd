"""Recording (issue 7 §1): a recorded demo replays identically; a kill -9 loses at most the last second; the
Parquet export; playback controls; bad recordings are one-line errors (exit 2)."""

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from _cli import run_cli
from airpicture.picture import Controls, SinkSet
from airpicture.picture.frame import COLUMNS, MEASUREMENT_COLUMNS
from airpicture.recording import FILE_NAME, SCHEMA_VERSION, RecordingPlayer, RecordingReader

ROOT = Path(__file__).resolve().parents[1]
DEMO_S = 120.0


class Probe:
    """A sink keeping every frame in memory."""

    name = "probe"

    def __init__(self):
        self.frames, self.context, self.summary = [], None, None

    def open(self, context):
        self.context = context

    def step(self, frame):
        self.frames.append(frame)

    def close(self, summary):
        self.summary = summary


class Acknowledger:
    """An operator acknowledging the first alert it sees (through Controls, between two steps)."""

    name = "operator"

    def __init__(self, controls):
        self.controls, self.done = controls, None

    def open(self, context):
        pass

    def step(self, frame):
        if self.done is None and frame.alerts:
            self.done = self.controls.acknowledge(frame.alerts[0]["id"], "cdr.smith")

    def close(self, summary):
        pass


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A short demo run recorded (the default) while a probe keeps its frames."""
    from airpicture.pipeline import run_scenario
    from airpicture.scenario.loader import load_scenario

    out = tmp_path_factory.mktemp("demo")
    scenario = load_scenario("demo")
    scenario.duration_s = DEMO_S
    probe = Probe()
    controls = Controls()
    operator = Acknowledger(controls)
    summary = run_scenario(scenario, out, show_progress=False, sinks=SinkSet([probe, operator]), controls=controls)
    return {"out": out, "path": out / FILE_NAME, "probe": probe, "summary": summary, "ack": operator.done}


def play(path, **options):
    probe = Probe()
    player = RecordingPlayer(path, SinkSet([probe]), **options)
    result = player.run()
    player.reader.close()
    return probe.frames, result


def assert_same_frame(a, b):
    assert a.time == b.time and a.epoch_unix == b.epoch_unix
    assert list(a.columns) == list(COLUMNS) == list(b.columns)
    for name, kind in COLUMNS.items():
        x, y = a.columns[name], b.columns[name]
        assert x.dtype == y.dtype, name
        if kind == "f":
            np.testing.assert_allclose(x, y, rtol=0, atol=0, equal_nan=True, err_msg=name)
        else:
            assert x.tolist() == y.tolist(), name
    assert (a.measurements is None) == (b.measurements is None)
    if a.measurements is not None:
        for name in MEASUREMENT_COLUMNS:
            np.testing.assert_array_equal(a.measurements[name], b.measurements[name], err_msg=name)
    assert a.alerts == b.alerts


def test_recorded_demo_replays_identically(demo):
    live = demo["probe"].frames
    played, result = play(demo["path"])
    assert len(live) == int(DEMO_S) == len(played) == result["frames_played"]
    for a, b in zip(live, played):
        assert_same_frame(a, b)
    assert sum(len(f) for f in played) > 1000 and sum(len(f.alerts) for f in played) > 5
    assert played[0].measurements is not None and sum(len(f.measurements["time"]) for f in played) > 1000
    assert demo["probe"].context.name == "demo"
    ctx = RecordingReader(demo["path"]).context
    assert ctx.to_json() == demo["probe"].context.to_json()  # the run's configuration, sensors, zones


def test_reader_frame_at_alerts_at_history_summary(demo):
    live = demo["probe"].frames
    with RecordingReader(demo["path"]) as r:
        assert r.times.tolist() == [f.time for f in live]
        assert r.frame_at(0.5) is None
        assert_same_frame(r.frame_at(60.7), live[59])  # latest frame <= t
        assert_same_frame(r.frame_at(1e9), live[-1])
        # every alert's state as of t, from the frames' alert changes
        state = {}
        for f in live:
            if f.time > 70.0:
                break
            for a in f.alerts:
                state[a["id"]] = a
        assert {a["id"]: a for a in r.alerts_at(70.0)} == state
        # the acknowledgement made through Controls: in the timeline, with who
        ack = demo["ack"]
        assert ack is not None
        events = r.alert_events()
        mine = [e for e in events if e["alert_id"] == ack["id"] and e["event"] == "acknowledged"]
        assert len(mine) == 1 and mine[0]["who"] == "cdr.smith"
        assert {e["event"] for e in events} >= {"raised", "acknowledged"}
        assert r.alerts_at(1e9)[[a["id"] for a in r.alerts_at(1e9)].index(ack["id"])]["acknowledged_by"] == "cdr.smith"
        # one track's history
        tid = int(live[60].columns["track_id"][0])
        h = r.track_history(tid, 30.0, 90.0)
        expected = [(f.time, f.columns["lat"][f.columns["track_id"] == tid][0]) for f in live
                    if 30.0 <= f.time <= 90.0 and tid in f.columns["track_id"]]
        assert list(zip(h["frame_time"].tolist(), h["lat"].tolist())) == expected
        assert set(h) >= {"frame", "frame_time", "identity", "identity_reason", "threat_level"}
        # the summary at close, the run's identity / threat documents, identity history
        summary = r.summary
        assert summary["scenario"] == "demo" and summary["outputs"]["recording"] == str(demo["path"])
        assert r.document("identity")["format"] == "airpicture-identity"
        assert r.document("threat")["format"] == "airpicture-threat"
        counts = r.counts()
        assert counts["identity_history"] > 0 and counts["frames"] == len(live)
        assert counts["tracks"] == sum(len(f) for f in live)
        assert r.meta["format"] == "airpicture-recording" and r.meta["schema_version"] == SCHEMA_VERSION
    # summary.json: where the recording is, the recorder's counters
    written = json.loads((demo["out"] / "summary.json").read_text())
    assert written["outputs"]["recording"] == str(demo["path"])
    rec = written["sinks"]["recorder"]
    assert rec["frames"] == len(live) and rec["errors"] == 0 and rec["bytes"] > 0
    assert rec["rows"] == sum(counts.values()) and 1 <= rec["batches"] <= len(live)
    assert not Path(str(demo["path"]) + ".wal").exists()  # checkpointed at close


def test_player_controls(demo):
    live = demo["probe"].frames
    probe = Probe()
    player = RecordingPlayer(demo["path"], SinkSet([probe]), hold=True, start_paused=True)
    assert player.state() == {"mode": "recording", "start": 1.0, "end": DEMO_S, "time": 1.0, "playing": False,
                              "speed": None}
    player.start()
    state = player.control("seek", t=50.5)  # paused: the frame at 50 s is shown once, with every alert's state
    deadline = time.monotonic() + 30
    while len(probe.frames) < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert state["playing"] is False
    assert probe.frames[0].time == 50.0
    with RecordingReader(demo["path"]) as r:
        assert probe.frames[0].alerts == r.alerts_at(50.0)
    assert player.state()["time"] == 50.0
    assert probe.context.mode == "recording" and probe.context.config["recorded_mode"] == "simulation"
    player.control("speed", speed=400.0)
    player.control("play")
    while player.state()["time"] < DEMO_S and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [f.time for f in probe.frames] == [50.0] + [f.time for f in live[50:]]
    assert player.state()["playing"] is False and player.state()["speed"] == 400.0
    player.seek(10.0)  # held at the end: a seek shows that frame
    while probe.frames[-1].time != 10.0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert player.state()["time"] == 10.0 and player.state()["playing"] is False
    player.stop()
    player.join(30)
    assert probe.summary["frames_played"] == len(probe.frames)
    from airpicture.errors import InputError

    with pytest.raises(InputError):
        player.control("rewind")


def test_paced_playback_takes_picture_time_over_speed(demo):
    frames, result = play(demo["path"], speed=200.0)
    assert len(frames) == int(DEMO_S)
    assert result["wall_s"] >= (DEMO_S - 1.0) / 200.0 * 0.9


def test_replay_file_records_the_transponder_picture(tmp_path):
    from _sources_data import beast_hex_lines

    from airpicture.replay import replay_file

    src = tmp_path / "short.csv"
    src.write_bytes(b"\n".join(beast_hex_lines()[:3000]) + b"\n")
    probe = Probe()
    summary = replay_file(src, tmp_path / "out", sinks=SinkSet([probe]))
    path = tmp_path / "out" / FILE_NAME
    assert summary["outputs"]["recording"] == str(path) and summary["sinks"]["recorder"]["frames"] > 10
    played, _ = play(path)
    assert len(played) == len(probe.frames) > 10
    for a, b in zip(probe.frames, played):
        assert_same_frame(a, b)
    assert played[0].epoch_unix == 0.0 and played[0].measurements is None
    with RecordingReader(path) as r:
        assert r.context.mode == "replay" and r.times[0] > 1e9  # Unix seconds
    replay_file(src, tmp_path / "off", record=False)
    assert not (tmp_path / "off" / FILE_NAME).exists()


# --------------------------------------------------------------------------- kill -9
KILLED_RUN = textwrap.dedent("""
    import sys, time
    from airpicture.picture import Pacer, SinkSet
    from airpicture.pipeline import run_scenario
    from airpicture.scenario.loader import load_scenario

    class Stamp:  # after the recorder: the wall time each frame was handed over
        name = "stamp"
        def open(self, context): pass
        def step(self, frame): print(f"{frame.time} {time.time()}", flush=True)
        def close(self, summary): pass

    scenario = load_scenario("demo")
    scenario.duration_s = 60.0
    run_scenario(scenario, sys.argv[1], show_progress=False, sinks=SinkSet([Pacer(4.0), Stamp()]))
""")


def test_kill_9_loses_at_most_the_last_second(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(KILLED_RUN)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path / "out")], stdout=subprocess.PIPE, text=True,
                            env=env)
    stamps = []
    try:
        for line in proc.stdout:  # 4 frames per wall second; kill once ~5 s of wall time were recorded
            t, wall = map(float, line.split())
            stamps.append((t, wall))
            if t >= 24.0:
                break
        killed_at = time.time()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
        stamps += [tuple(map(float, line.split())) for line in proc.stdout.read().splitlines() if line.strip()]
    finally:
        proc.kill()
        proc.wait(30)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    assert len(stamps) >= 20, "the run did not get going"
    path = tmp_path / "out" / FILE_NAME
    assert Path(str(path) + ".wal").exists()  # never checkpointed: what is there comes from the log
    copy = tmp_path / "copy"  # read a copy, as after a crash (the reader never writes)
    copy.mkdir()
    shutil.copy(path, copy / FILE_NAME)
    shutil.copy(str(path) + ".wal", copy / (FILE_NAME + ".wal"))
    with RecordingReader(path) as r:
        times = r.times.tolist()
        assert r.summary is None  # the run never closed
        assert r.counts()["tracks"] > 0
        frame = r.frame_at(times[-1])
        assert len(frame) > 0
    # a contiguous prefix of the frames handed over, and every frame older than ~1 s before the kill is there
    # (1 s flush interval; 1 s slack for a commit in progress on a loaded 2-core machine)
    assert times == [t for t, _ in stamps[:len(times)]]
    lost = [killed_at - wall for t, wall in stamps if t not in set(times)]
    print(f"kill -9: {len(stamps)} frames handed over, {len(times)} recorded, lost frames aged {lost}")
    assert max(lost, default=0.0) < 2.0, lost
    assert len(times) >= len(stamps) - 8  # 4 frames a second: at most ~2 s of frames
    with RecordingReader(copy / FILE_NAME) as r:
        assert r.times.tolist() == times


# --------------------------------------------------------------------------- CLI
def airpicture(*args, cwd=None):
    return run_cli(*args, cwd=cwd, env={"PYTHONPATH": str(ROOT / "src")})


def assert_one_line_error(result, name):
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "error" in lines[0] and name in lines[0], result.stderr


def test_cli_replay_and_export(demo, tmp_path):
    result = airpicture("replay", demo["path"], "--no-serve", "--speed", "1000")
    assert result.returncode == 0, result.stderr
    assert f"{int(DEMO_S)} of {int(DEMO_S)} frames played" in result.stdout
    result = airpicture("export", demo["path"], "--parquet", tmp_path / "pq")
    assert result.returncode == 0, result.stderr
    with RecordingReader(demo["path"]) as r:
        counts = r.counts()
    for table, rows in counts.items():
        f = tmp_path / "pq" / f"{table}.parquet"
        assert str(f) in result.stdout.replace("\n", "")
        assert pq.read_metadata(f).num_rows == rows
    tracks = pq.read_table(tmp_path / "pq" / "tracks.parquet")
    assert tracks.column_names[:3] == ["frame", "frame_time", "row"] and "identity_reason" in tracks.column_names


def test_cli_garbage_and_truncated_recordings(demo, tmp_path):
    garbage = tmp_path / "garbage.duckdb"
    garbage.write_bytes(os.urandom(20_000))
    assert_one_line_error(airpicture("replay", garbage, "--no-serve"), "garbage.duckdb")
    data = demo["path"].read_bytes()
    for cut in (len(data) // 10, len(data) // 2, len(data) - 4096):
        truncated = tmp_path / f"cut{cut}.duckdb"
        truncated.write_bytes(data[:cut])
        assert_one_line_error(airpicture("replay", truncated, "--no-serve"), truncated.name)
    header_only = tmp_path / "head.duckdb"
    header_only.write_bytes(data[:100])
    assert_one_line_error(airpicture("export", header_only, "--parquet", tmp_path / "pq"), "head.duckdb")


def test_cli_newer_schema_version(demo, tmp_path):
    import duckdb

    newer = tmp_path / "newer.duckdb"
    shutil.copy(demo["path"], newer)
    con = duckdb.connect(str(newer))
    con.execute("UPDATE meta SET schema_version = ?", [SCHEMA_VERSION + 1])
    con.close()
    result = airpicture("replay", newer, "--no-serve")
    assert_one_line_error(result, "newer.duckdb")
    assert "newer" in result.stderr and "schema version" in result.stderr
    other = tmp_path / "other.duckdb"  # a DuckDB database, not a recording
    con = duckdb.connect(str(other))
    con.execute("CREATE TABLE t (x INTEGER)")
    con.close()
    assert_one_line_error(airpicture("export", other, "--parquet", tmp_path / "pq"), "other.duckdb")


def test_interrupted_run_keeps_what_it_recorded(tmp_path):
    """An exception ends the process without close: the pending frames are written and checkpointed at exit."""
    script = tmp_path / "interrupted.py"
    script.write_text(textwrap.dedent("""
        import sys
        from airpicture.picture import PictureContext, PictureFrame, SinkSet
        from airpicture.recording import Recorder

        sinks = SinkSet([Recorder(sys.argv[1], flush_interval_s=60.0)])
        sinks.open(PictureContext(name="interrupted"))
        for t in range(5):
            sinks.step(PictureFrame.empty(float(t)))
        raise RuntimeError("the run failed")
    """))
    path = tmp_path / "rec.duckdb"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    result = subprocess.run([sys.executable, str(script), str(path)], capture_output=True, text=True, env=env,
                            timeout=120)
    assert result.returncode == 1 and "the run failed" in result.stderr
    assert not Path(str(path) + ".wal").exists()
    with RecordingReader(path) as r:
        assert r.times.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0] and r.summary is None
        assert r.context.name == "interrupted" and len(r.frame_at(4.0)) == 0
