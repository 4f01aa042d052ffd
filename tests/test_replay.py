"""`airpicture replay` as a user meets it: every input format, gzip, bad input; the outputs it writes."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from _cli import run_cli
from _sources_data import (TUTORIAL, avr_lines, beast_binary, beast_hex_lines, beast_records,
                           jsonl_records, sbs_rows)

N_LONG = 40_000      # the first 40,000 frames of the long flight (~30 min)
N_TUTORIAL = 20_000
TOULOUSE = "43.63,1.37"
SUMMARY_KEYS = ("messages", "decoded", "crc_rejected", "malformed", "positions", "aircraft", "tracks",
                "msgs_per_s", "phantoms", "unknown_df", "impossible_speed", "decoded_by_rs1090", "problems",
                "tracker", "wall_s", "stage_s", "format")
TRACK_COLUMNS = ("time", "track_id", "lat", "lon", "alt", "status", "icao24", "callsign", "squawk", "emergency",
                 "category", "transponder_only", "sources")
FORMATS = ("beast", "beast-hex", "avr", "sbs", "jsonl")


def airpicture(*args):
    return run_cli(*args, columns=100)   # narrower than the messages: they must not wrap


def replay(path, out, *extra):
    result = airpicture("replay", path, "-o", out, "--no-serve", *extra)
    assert "Traceback" not in result.stdout + result.stderr
    summary = json.loads((out / "summary.json").read_text()) if (out / "summary.json").exists() else None
    return result, summary


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The real recordings written in every format (tests/_sources_data.py), plain and gzip."""
    d = tmp_path_factory.mktemp("inputs")
    records = beast_records(N_LONG)
    lines = beast_hex_lines()[:N_LONG]
    out = {"beast-hex": d / "long.csv", "beast": d / "long.bin", "avr": d / "long.avr",
           "jsonl": d / "tutorial.jsonl", "sbs": d / "tutorial.sbs"}
    out["beast-hex"].write_bytes(b"\n".join(lines) + b"\n")
    out["beast"].write_bytes(beast_binary(records)[0])
    out["avr"].write_bytes(b"\n".join(avr_lines(records, "@")) + b"\n")
    tutorial = jsonl_records(TUTORIAL, N_TUTORIAL)
    out["jsonl"].write_text("".join(json.dumps(r) + "\n" for r in tutorial))
    out["sbs"].write_bytes(b"\n".join(row for row, _ in sbs_rows(tutorial)) + b"\n")
    out["beast-hex.gz"] = d / "long.csv.gz"
    out["beast-hex.gz"].write_bytes(gzip.compress(out["beast-hex"].read_bytes()))
    out["sbs-count"] = len(sbs_rows(tutorial))
    return out


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_replays(files, fmt, tmp_path):
    expected = {"beast": N_LONG, "beast-hex": N_LONG, "avr": N_LONG, "jsonl": N_TUTORIAL, "sbs": files["sbs-count"]}
    result, summary = replay(files[fmt], tmp_path / "auto")
    assert result.returncode == 0, result.stderr
    for key in SUMMARY_KEYS:
        assert key in summary, key
    assert summary["format"] == fmt
    assert summary["messages"] == expected[fmt]
    assert summary["problems"] == {} and summary["malformed"] == 0 and summary["crc_rejected"] == 0
    assert summary["positions"] > 1000 and summary["tracks"] >= 1 and summary["aircraft"] >= summary["tracks"]
    assert summary["msgs_per_s"] > 0
    # the end report: counts, rate and where the outputs went, one line each
    assert f"{expected[fmt]:,} messages" in result.stdout and "msg/s" in result.stdout
    assert str(tmp_path / "auto") in result.stdout
    assert "live display not available yet" not in result.stderr       # --no-serve
    table = pq.read_table(tmp_path / "auto" / "tracks.parquet")
    for column in TRACK_COLUMNS:
        assert column in table.column_names, column
    assert table.num_rows > 100
    icao = set(table.column("icao24").to_pylist())
    assert None not in icao and all(len(a) == 6 for a in icao)
    assert set(table.column("sources").to_pylist()) == {"adsb"}
    assert all(table.column("transponder_only").to_pylist())
    png = (tmp_path / "auto" / "picture.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    from matplotlib.image import imread

    img = imread(tmp_path / "auto" / "picture.png")  # a drawn picture (base map, tracks), not a blank canvas
    assert img.shape[0] > 500 and (img[..., :3] < 0.95).any(axis=-1).mean() > 0.05
    # the format named explicitly gives the same picture
    result2, summary2 = replay(files[fmt], tmp_path / "named", "--format", fmt)
    assert result2.returncode == 0, result2.stderr
    for key in ("messages", "decoded", "positions", "aircraft", "tracks"):
        assert summary2[key] == summary[key], key
    if fmt == "sbs":     # no frames: the reader's decoded fields are the reports
        assert summary["from_fields"] == summary["messages"] and summary["decoded_by_rs1090"] == 0
    else:                # rs1090 only for contents we do not decode ourselves
        assert 0 < summary["decoded_by_rs1090"] < 0.15 * summary["messages"]


def test_formats_of_the_same_frames_agree(files, tmp_path):
    """Beast binary and AVR (times from the 12 MHz counter) against Beast hex (Unix times): same decode."""
    got = {}
    for fmt in ("beast-hex", "beast", "avr"):
        result, summary = replay(files[fmt], tmp_path / fmt)
        assert result.returncode == 0, result.stderr
        got[fmt] = summary
    for fmt in ("beast", "avr"):
        for key in ("messages", "decoded", "phantoms", "aircraft", "aircraft_with_positions", "tracks"):
            assert got[fmt][key] == got["beast-hex"][key], (fmt, key)
        assert abs(got[fmt]["positions"] - got["beast-hex"]["positions"]) <= 0.002 * got["beast-hex"]["positions"]


def test_gzip_is_transparent(files, tmp_path):
    _, plain = replay(files["beast-hex"], tmp_path / "plain")
    result, packed = replay(files["beast-hex.gz"], tmp_path / "gz")
    assert result.returncode == 0, result.stderr
    for key in ("messages", "decoded", "positions", "aircraft", "tracks", "phantoms", "tracker"):
        assert packed[key] == plain[key], key
    a = pq.read_table(tmp_path / "plain" / "tracks.parquet")
    b = pq.read_table(tmp_path / "gz" / "tracks.parquet")
    assert a.equals(b)


def test_garbage_file_is_one_clear_line(tmp_path):
    garbage = tmp_path / "noise.dat"
    garbage.write_bytes(np.random.default_rng(1).integers(0, 256, 20_000, dtype=np.uint8).tobytes())
    result, summary = replay(garbage, tmp_path / "out")
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "noise.dat" in lines[0] and "beast, beast-hex, avr, sbs, jsonl" in lines[0] and "--format" in lines[0]
    assert summary["messages"] == 0 and "error" in summary and "problems" in summary


def test_unknown_format_option_and_bad_reference(files, tmp_path):
    result, _ = replay(files["jsonl"], tmp_path / "a", "--format", "ads-c")
    assert result.returncode == 2 and "--format" in result.stderr and "beast-hex" in result.stderr
    result, _ = replay(files["jsonl"], tmp_path / "b", "--reference", "43.6")
    assert result.returncode == 2 and "--reference" in result.stderr
    result, _ = replay(tmp_path / "missing.csv", tmp_path / "c")
    assert result.returncode == 2 and "missing.csv" in result.stderr


def test_bad_records_are_counted_and_the_rest_used(tmp_path):
    """Broken lines, non-hex, odd-length hex and an unknown DF inside a good Beast-hex file."""
    lines = list(beast_hex_lines()[30_000:35_000])    # airborne: positions from global pairs
    bad = [b"not a frame at all", b",1a33zz", b",1a32000000000000ff8d40621d58c3",
           b",1a32000000000000ff" + b"38" + b"000000000000"]      # DF7: not assigned
    for i, line in enumerate(bad):
        at = 200 + 50 * i
        lines.insert(at, (lines[at - 1].split(b",")[0] if line.startswith(b",") else b"") + line)
    path = tmp_path / "damaged.csv"
    path.write_bytes(b"\n".join(lines) + b"\n")
    result, summary = replay(path, tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert summary["messages"] == 5001           # the four bad lines: three dropped by the reader, DF7 counted
    assert sum(summary["problems"].values()) == 3
    assert summary["unknown_df"] == 1
    assert summary["positions"] > 100 and summary["tracks"] >= 1
    assert "input problems" in result.stdout
