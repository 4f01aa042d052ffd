"""Issue 7 acceptance: a recorded demo replays in the live display identically - the same tracks at the same
times - through the real web service, and `airpicture replay OUT/airpicture.duckdb` serves it."""

import json

import httpx
import pytest
from typer.testing import CliRunner

from airpicture.cli import app as cli_app
from airpicture.picture import SinkSet
from airpicture.pipeline import run_scenario
from airpicture.recording import FILE_NAME, RecordingReader
from airpicture.recording.player import play_recording
from airpicture.scenario.loader import load_scenario
from airpicture.web.server import LiveService


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    out = tmp_path_factory.mktemp("rec")
    scenario = load_scenario("demo")
    scenario.duration_s = 60.0
    run_scenario(scenario, out, show_progress=False)
    return out / FILE_NAME


def test_a_recording_played_into_the_display_shows_what_was_recorded(recorded, tmp_path):
    with LiveService(port=0, tokens_path=tmp_path / "tokens.json") as service:
        play_recording(recorded, SinkSet([service.store]))
        token = service.tokens.token("viewer")
        with RecordingReader(recorded) as reader:
            times = list(reader.times)
            assert len(times) == 60
            for t in (times[5], times[30], times[-1]):
                r = httpx.get(service.url.rstrip("/") + "/api/picture", params={"t": t, "token": token}, timeout=30)
                assert r.status_code == 200, r.text
                shown = {rec["track_id"]: rec for rec in r.json()["tracks"]}
                frame = reader.frame_at(t)
                assert r.json()["time"] == frame.time == t
                assert sorted(shown) == sorted(frame.columns["track_id"].tolist())
                for i, tid in enumerate(frame.columns["track_id"].tolist()):
                    for col in ("lat", "lon", "alt_m"):
                        assert shown[tid][col] == pytest.approx(float(frame.columns[col][i]), abs=1e-6)
                    assert shown[tid]["identity"] == frame.columns["identity"][i]
                    assert shown[tid]["threat_level"] == frame.columns["threat_level"][i]


def test_replay_of_a_recording_serves_it(recorded, tmp_path):
    tokens = tmp_path / "tokens.json"
    result = CliRunner().invoke(cli_app, ["replay", str(recorded), "--port", "0", "--speed", "0", "--exit-when-done",
                                          "--tokens", str(tokens)])
    assert result.exit_code == 0, result.output
    assert "60 of 60 frames played" in result.output
    assert f"/?token={json.loads(tokens.read_text())['operator']}" in result.output
