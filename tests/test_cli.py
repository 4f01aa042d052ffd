"""The CLI as a user meets it: real subprocesses, exit codes, messages, no tracebacks."""

import json
from pathlib import Path

from _cli import run_cli


ROOT = Path(__file__).resolve().parents[1]


def airpicture(*args, cwd=None):
    return run_cli(*args, cwd=cwd)


def assert_no_traceback(result):
    assert "Traceback" not in result.stdout + result.stderr


def test_scenarios_lists_builtins():
    result = airpicture("scenarios")
    assert result.returncode == 0, result.stderr
    for name in ("demo", "long_range", "crossing"):
        assert name in result.stdout


def test_unknown_scenario_is_a_clear_error(tmp_path):
    result = airpicture("run", "no_such_scenario", "--no-serve", "-o", tmp_path / "o")
    assert result.returncode == 2
    assert "no_such_scenario" in result.stderr
    assert_no_traceback(result)


def test_malformed_scenario_names_file_line_and_field(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(
        'name = "bad"\n'
        "duration_s = 60\n"
        "seed = 1\n"
        "\n"
        "[[sensors]]\n"
        'name = "r1"\n'
        'type = "radar"\n'
        "lat = 123.0\n"
        "lon = 15.0\n"
        "alt_m = 10\n"
    )
    result = airpicture("run", bad, "--no-serve", "-o", tmp_path / "o")
    assert result.returncode == 2
    assert "bad.toml:8" in result.stderr
    assert "lat" in result.stderr
    assert_no_traceback(result)


def test_toml_syntax_error(tmp_path):
    bad = tmp_path / "syntax.toml"
    bad.write_text('name = "x"\nduration_s = = 3\n')
    result = airpicture("run", bad, "--no-serve", "-o", tmp_path / "o")
    assert result.returncode == 2
    assert "syntax.toml:2" in result.stderr
    assert_no_traceback(result)


def test_run_writes_summary_tracks_and_picture(tmp_path):
    out = tmp_path / "run"
    result = airpicture("run", "crossing", "--no-serve", "-o", out)
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())
    for key in ("n_truth", "n_tracks", "scans", "wall_s", "gospa", "siap"):
        assert key in summary
    assert set(summary["gospa"]) >= {"total", "localisation", "missed", "false"}
    assert set(summary["siap"]) >= {"completeness", "ambiguity", "spuriousness", "position_accuracy_m",
                                    "velocity_accuracy_mps", "track_number_change_rate", "longest_track_segment"}
    assert summary["n_tracks"] >= 1
    assert (out / "tracks.parquet").stat().st_size > 0
    png = (out / "picture.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
