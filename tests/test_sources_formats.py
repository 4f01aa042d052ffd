"""Every input format read from real recordings, from files (plain and gzip) and in odd-sized pieces."""

from __future__ import annotations

import gzip
import math

import numpy as np
import pytest
from _sources_data import (FULL_FLIGHT, LONG_FLIGHT, TUTORIAL, avr_lines, beast_binary, beast_records,
                           jsonl_records, sbs_rows)
from hypothesis import given, settings
from hypothesis import strategies as st

from airpicture.sources import FrameBatch, make_parser, read_file

SLICE = 3000
DEG = math.pi / 180


def feed_in_pieces(format_name, data, cuts, start_time=None):
    parser = make_parser(format_name, source="test", start_time=start_time)
    edges = [0, *sorted(cuts), len(data)]
    batches = [parser.feed(data[a:b]) for a, b in zip(edges[:-1], edges[1:])] + [parser.finish()]
    return FrameBatch.concat(batches), parser.problems


def test_beast_hex_recording_reads_whole_with_the_counts_provenance_gives():
    recording = read_file(LONG_FLIGHT)
    frames = recording.frames
    assert recording.format == "beast-hex"
    assert recording.problems.counts == {}
    assert len(frames) == 172_432
    lengths = np.array([len(f) for f in frames.frame])
    assert np.count_nonzero(lengths == 14) == 71_639
    assert np.count_nonzero(lengths == 28) == 100_793
    reference = beast_records()
    assert list(frames.frame) == [r["frame"] for r in reference]
    np.testing.assert_array_equal(frames.time, [r["time"] for r in reference])
    np.testing.assert_array_equal(frames.ticks, [r["ticks"] for r in reference])
    np.testing.assert_array_equal(frames.signal, [r["signal"] for r in reference])
    np.testing.assert_array_equal(frames.offset, np.arange(1, len(reference) + 1))


def test_beast_binary_equals_the_recording_and_counter_gives_time():
    records = beast_records(SLICE)
    data, starts = beast_binary(records)
    assert data.count(b"\x1a\x1a") > 0  # the slice does exercise escapes
    frames, problems = feed_in_pieces("beast", data, [], start_time=records[0]["time"])
    assert problems.counts == {}
    assert list(frames.frame) == [r["frame"] for r in records]
    np.testing.assert_array_equal(frames.ticks, [r["ticks"] for r in records])
    np.testing.assert_array_equal(frames.signal, [r["signal"] for r in records])
    np.testing.assert_array_equal(frames.offset, starts)
    expected = records[0]["time"] + (np.array([r["ticks"] for r in records]) - records[0]["ticks"]) / 12e6
    np.testing.assert_allclose(frames.time, expected, rtol=0, atol=1e-6)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=60_000), max_size=40))
def test_beast_binary_any_split_gives_the_same_frames(cuts):
    records = beast_records(SLICE)
    data, _ = beast_binary(records)
    frames, problems = feed_in_pieces("beast", data, [c % len(data) for c in cuts])
    assert problems.counts == {}
    assert list(frames.frame) == [r["frame"] for r in records]


def test_beast_binary_every_single_byte_split_of_escaped_records():
    # records whose payload holds 0x1A, cut at every position inside them
    records = [r for r in beast_records(SLICE) if "1a" in r["frame"] or r["ticks"].to_bytes(6, "big").count(26)][:20]
    assert records
    data, _ = beast_binary(records)
    for cut in range(1, len(data)):
        frames, problems = feed_in_pieces("beast", data, [cut])
        assert problems.counts == {}, cut
        assert list(frames.frame) == [r["frame"] for r in records], cut


@pytest.mark.parametrize("style", ["*", "@", "<"])
def test_avr_styles(style):
    records = beast_records(SLICE)
    data = b"\n".join(avr_lines(records, style)) + b"\n"
    frames, problems = feed_in_pieces("avr", data, list(range(7, len(data), 997)), start_time=1000.0)
    assert problems.counts == {}
    assert list(frames.frame) == [r["frame"] for r in records]
    ticks = np.array([r["ticks"] for r in records])
    if style == "*":
        assert np.all(frames.ticks == -1) and np.all(frames.time == 1000.0)
    else:
        np.testing.assert_array_equal(frames.ticks, ticks)
        np.testing.assert_allclose(frames.time, 1000.0 + (ticks - ticks[0]) / 12e6, atol=1e-6)
    if style == "<":
        np.testing.assert_array_equal(frames.signal, [r["signal"] for r in records])
    else:
        assert np.all(np.isnan(frames.signal))


def test_jsonl_fields_in_si_columns():
    recording = read_file(TUTORIAL)
    records = jsonl_records(TUTORIAL)
    frames = recording.frames
    assert recording.format == "jsonl" and recording.problems.counts == {}
    assert len(frames) == len(records) == 71_939
    assert list(frames.frame) == [r["frame"] for r in records]
    np.testing.assert_array_equal(frames.time, [r["timestamp"] for r in records])
    fields = frames.fields
    np.testing.assert_array_equal(fields["df"], [int(r["df"]) for r in records])
    assert list(fields["icao24"]) == [r["icao24"] for r in records]
    lat = np.array([np.nan if r.get("latitude") is None else r["latitude"] for r in records])
    np.testing.assert_allclose(fields["latitude_rad"], lat * DEG, rtol=1e-15)
    alt = np.array([np.nan if r.get("altitude") is None else r["altitude"] for r in records], dtype=float)
    np.testing.assert_allclose(fields["altitude_m"], alt * 0.3048)
    gs = np.array([np.nan if r.get("groundspeed") is None else r["groundspeed"] for r in records], dtype=float)
    np.testing.assert_allclose(fields["groundspeed_mps"], gs * 1852 / 3600)
    vr = np.array([np.nan if r.get("vertical_rate") is None else r["vertical_rate"] for r in records], dtype=float)
    np.testing.assert_allclose(fields["vertical_rate_mps"], vr * 0.3048 / 60)
    squawks = [r.get("squawk") or "" for r in records]
    assert list(fields["squawk"]) == squawks
    top_callsigns = [i for i, r in enumerate(records) if r.get("callsign")]
    assert [fields["callsign"][i] for i in top_callsigns] == [records[i]["callsign"] for i in top_callsigns]


def test_sbs_rows_from_real_traffic():
    rows = sbs_rows(jsonl_records(FULL_FLIGHT, 20_000))
    data = b"\r\n".join(row for row, _ in rows) + b"\r\n"
    frames, problems = feed_in_pieces("sbs", data, list(range(13, len(data), 4099)))
    assert problems.counts == {}
    assert len(frames) == len(rows)
    sources = [r for _, r in rows]
    np.testing.assert_allclose(frames.time, [r["timestamp"] for r in sources], atol=1.5e-3)
    assert list(frames.fields["icao24"]) == [r["icao24"] for r in sources]
    assert set(frames.frame) == {""}
    position = np.array([r.get("latitude") is not None for r in sources])
    np.testing.assert_allclose(frames.fields["latitude_rad"][position],
                               [r["latitude"] * DEG for r in sources if r.get("latitude") is not None])
    assert np.all(np.isnan(frames.fields["latitude_rad"][~position]))
    velocity = np.array([r.get("latitude") is None and r.get("vertical_rate") is not None for r in sources])
    np.testing.assert_allclose(frames.fields["groundspeed_mps"][velocity],
                               [r["groundspeed"] * 1852 / 3600 for r, v in zip(sources, velocity) if v])
    callsign = [(i, r["callsign"]) for i, r in enumerate(sources) if r.get("callsign") and r.get("latitude") is None
                and r.get("vertical_rate") is None]
    assert callsign and all(frames.fields["callsign"][i] == c.strip() for i, c in callsign)


@pytest.mark.parametrize("name", ["rec.csv", "rec.bin", "rec.avr", "rec.sbs", "rec.jsonl", "rec.txt"])
def test_gzip_is_transparent_and_detection_by_content(tmp_path, name):
    records = beast_records(500)
    by_format = {
        "beast-hex": b"\n".join(beast_records_lines(records)) + b"\n",
        "beast": beast_binary(records)[0],
        "avr": b"\n".join(avr_lines(records, "@")) + b"\n",
        "sbs": b"\n".join(row for row, _ in sbs_rows(jsonl_records(TUTORIAL, 600))[:500]) + b"\n",
        "jsonl": b"\n".join(gzip.open(TUTORIAL).read().split(b"\n")[:500]) + b"\n",
    }
    for format_name, data in by_format.items():
        plain = tmp_path / name
        plain.write_bytes(data)
        packed = tmp_path / (name + ".gz")
        packed.write_bytes(gzip.compress(data))
        a, b = read_file(plain), read_file(packed)
        assert a.format == b.format == format_name
        assert a.problems.counts == b.problems.counts == {}
        assert len(a.frames) == len(b.frames) == 500
        assert list(a.frames.frame) == list(b.frames.frame)
        forced = read_file(packed, format=format_name)
        assert list(forced.frames.frame) == list(a.frames.frame)


def beast_records_lines(records):
    return [f"{r['time']:.6f},1a{r['type']}{r['ticks']:012x}{r['signal']:02x}{r['frame']}".encode()
            for r in records]


def test_beast_mode_ac_and_short_records():
    # a Mode A/C reply (type '1', 2 bytes) between two Mode S records; counter bytes hold an escaped 0x1A
    mode_ac = b"\x1a1" + bytes([0, 0, 0, 0x1a, 0x1a, 0, 5]) + b"\x42" + bytes([0x12, 0x34])  # counter 00001a0005
    short = b"\x1a2" + bytes([0, 0, 0, 0, 9, 7]) + b"\x30" + bytes.fromhex("5d4840d6b4c7a1")
    later = b"\x1a2" + bytes([0, 0, 0, 0x1b, 0, 0]) + b"\x31" + bytes.fromhex("5d4840d6b4c7a1")
    frames, problems = feed_in_pieces("beast", short + mode_ac + later, [5, 17], start_time=0.0)
    assert problems.counts == {}
    assert list(frames.frame) == ["5d4840d6b4c7a1", "1234", "5d4840d6b4c7a1"]
    assert list(frames.ticks) == [0x0907, 0x1a0005, 0x1b0000]
    assert list(frames.signal) == [0x30, 0x42, 0x31]
