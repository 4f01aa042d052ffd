"""Unix times of the text formats (Beast hex, SBS, JSON lines): steps back, outliers and jumps are counted and
repaired, the frames around them kept, the times given out never decrease, and a split stream reads as whole."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading

import numpy as np
import pytest
from _sources_data import FULL_FLIGHT, LONG_FLIGHT, TUTORIAL, beast_hex_lines, jsonl_records, sbs_rows
from hypothesis import given, settings
from hypothesis import strategies as st

from airpicture.errors import InputError
from airpicture.sources import FrameBatch, TcpFeed, make_parser, read_file
from airpicture.sources.timeline import MAX_TIME_GAP_S, TIME_CONFIRM_RECORDS, TIME_JITTER_S

T0 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
FRAME = "8d4840d6202cc371c32ce0576098"
TEXT_FORMATS = ("beast-hex", "sbs", "jsonl")


def line(format_name: str, t: float, k: int) -> bytes:
    """One record at Unix time ``T0 + t``; ``k`` makes the Beast-hex records distinct (their counter)."""
    if format_name == "beast-hex":
        return f"{T0 + t:.6f},1a33{k:012x}c8{FRAME}".encode()
    if format_name == "jsonl":
        return json.dumps({"timestamp": T0 + t, "frame": FRAME, "df": 17, "icao24": "4840d6"}).encode()
    when = dt.datetime.fromtimestamp(T0 + t, dt.timezone.utc)
    date, clock = when.strftime("%Y/%m/%d"), when.strftime("%H:%M:%S.%f")[:-3]
    return f"MSG,3,1,1,4840D6,1,{date},{clock},{date},{clock},,35000,,,43.6,1.4,,,0,0,0,0".encode()


def stream(format_name: str, times) -> bytes:
    return b"".join(line(format_name, t, k) + b"\n" for k, t in enumerate(times))


def read(format_name: str, data: bytes, cuts=(), **limits):
    parser = make_parser(format_name, source="t", **limits)
    edges = [0, *sorted(cuts), len(data)]
    batches = [parser.feed(data[a:b]) for a, b in zip(edges[:-1], edges[1:])] + [parser.finish()]
    return FrameBatch.concat(batches), parser.problems


def check(format_name, times, kept_lines, out_times, counts, first=None, **limits):
    """Read ``times`` as a stream: exactly ``kept_lines`` (1-based) survive, at ``out_times``, with ``counts``."""
    batch, problems = read(format_name, stream(format_name, times), **limits)
    assert problems.counts == counts
    assert list(batch.offset) == kept_lines
    np.testing.assert_allclose(batch.time - T0, out_times, rtol=0, atol=1e-6)
    assert np.all(np.diff(batch.time) >= 0)
    for reason, where in (first or {}).items():
        assert problems.first[reason].startswith(where), problems.first[reason]
    return batch, problems


def test_the_documented_limits():
    assert (TIME_JITTER_S, MAX_TIME_GAP_S, TIME_CONFIRM_RECORDS) == (2.0, 600.0, 4)


@pytest.mark.parametrize("format_name", TEXT_FORMATS)
def test_small_steps_back_are_kept_and_restamped(format_name):
    check(format_name, [0, 1, 2, 1.5, 3, 2.25, 1.0, 4],
          kept_lines=[1, 2, 3, 4, 5, 6, 7, 8], out_times=[0, 1, 2, 2, 3, 3, 3, 4],
          counts={"time_restamped": 3}, first={"time_restamped": "t:4"})


@pytest.mark.parametrize("format_name", TEXT_FORMATS)
def test_a_step_back_of_exactly_the_jitter_limit_is_jitter_and_just_over_it_an_outlier(format_name):
    check(format_name, [0, 1, 3, 1, 4, 0.75, 5],
          kept_lines=[1, 2, 3, 4, 5, 7], out_times=[0, 1, 3, 3, 4, 5],
          counts={"time_restamped": 1, "time_backwards": 1}, first={"time_backwards": "t:6"})


@pytest.mark.parametrize("format_name", TEXT_FORMATS)
def test_a_large_step_back_once_is_an_outlier_dropped(format_name):
    check(format_name, [0, 1, 2, 3, -100, 4, 5],
          kept_lines=[1, 2, 3, 4, 6, 7], out_times=[0, 1, 2, 3, 4, 5],
          counts={"time_backwards": 1}, first={"time_backwards": "t:5"})


@pytest.mark.parametrize("format_name", TEXT_FORMATS)
def test_a_single_outlier_ahead_does_not_rebase_the_frames_after_it(format_name):
    check(format_name, [0, 1, 2, 3, 3600, 4, 5, 6, 7, 8],
          kept_lines=[1, 2, 3, 4, 6, 7, 8, 9, 10], out_times=[0, 1, 2, 3, 4, 5, 6, 7, 8],
          counts={"time_ahead": 1}, first={"time_ahead": "t:5"})


@pytest.mark.parametrize("format_name", TEXT_FORMATS)
def test_three_agreeing_outliers_are_still_outliers_four_are_a_jump(format_name):
    check(format_name, [0, 1, 2, 3, 3600, 3601, 3602, 4, 5],
          kept_lines=[1, 2, 3, 4, 8, 9], out_times=[0, 1, 2, 3, 4, 5],
          counts={"time_ahead": 3}, first={"time_ahead": "t:5"})
    check(format_name, [0, 1, 2, 3, 3600, 3601, 3602, 3603, 4, 3604],
          kept_lines=[1, 2, 3, 4, 5, 6, 7, 8, 10], out_times=[0, 1, 2, 3, 3600, 3601, 3602, 3603, 3604],
          counts={"time_jump": 1, "time_backwards": 1}, first={"time_jump": "t:5 (+3597.000 s)",
                                                              "time_backwards": "t:9"})


@pytest.mark.parametrize("format_name", TEXT_FORMATS)
def test_a_persistent_jump_ahead_is_counted_once_and_followed(format_name):
    times = [0, 1, 2, 3] + [3600 + k for k in range(20)]
    check(format_name, times, kept_lines=list(range(1, 25)), out_times=times,
          counts={"time_jump": 1}, first={"time_jump": "t:5 (+3597.000 s)"})


@pytest.mark.parametrize("format_name", TEXT_FORMATS)
def test_a_gap_below_the_jump_limit_is_no_problem(format_name):
    times = [0, 1, 2, 3, 3 + MAX_TIME_GAP_S, 4 + MAX_TIME_GAP_S]
    check(format_name, times, kept_lines=[1, 2, 3, 4, 5, 6], out_times=times, counts={})


@pytest.mark.parametrize("format_name", TEXT_FORMATS)
def test_a_persistent_step_back_is_counted_once_and_shifted_to_go_on(format_name):
    # the clock goes back by 93 s and stays: the new base is shifted by +93 s, intervals kept, never decreasing
    check(format_name, [100, 101, 102, 103, 10, 11, 10.5, 12, 13],
          kept_lines=list(range(1, 10)), out_times=[100, 101, 102, 103, 103, 104, 104, 105, 106],
          counts={"time_reset": 1, "time_restamped": 1},
          first={"time_reset": "t:5 (back 93.000 s; shifted +93.000 s)"})


@pytest.mark.parametrize("format_name", TEXT_FORMATS)
def test_a_bad_first_record_does_not_become_the_time_base(format_name):
    check(format_name, [5000, 0, 1, 2, 3, 4], kept_lines=[2, 3, 4, 5, 6], out_times=[0, 1, 2, 3, 4],
          counts={"time_ahead": 1}, first={"time_ahead": "t:1"})
    check(format_name, [-5000, 0, 1, 2, 3, 4], kept_lines=[2, 3, 4, 5, 6], out_times=[0, 1, 2, 3, 4],
          counts={"time_backwards": 1}, first={"time_backwards": "t:1"})
    check(format_name, [0, 5000, 1, 2, 3], kept_lines=[1, 3, 4, 5], out_times=[0, 1, 2, 3],
          counts={"time_ahead": 1}, first={"time_ahead": "t:2"})


@pytest.mark.parametrize("format_name", TEXT_FORMATS)
def test_short_streams_and_unconfirmed_runs_at_the_end(format_name):
    check(format_name, [0, 1], kept_lines=[1, 2], out_times=[0, 1], counts={})
    check(format_name, [0], kept_lines=[1], out_times=[0], counts={})
    check(format_name, [0, 5000], kept_lines=[1], out_times=[0], counts={"time_ahead": 1})  # a tie: the first wins
    check(format_name, [5000, 0, 1, 2], kept_lines=[2, 3, 4], out_times=[0, 1, 2], counts={"time_ahead": 1})
    check(format_name, [0, 1, 2, 3, 4, 3600, 3601], kept_lines=[1, 2, 3, 4, 5], out_times=[0, 1, 2, 3, 4],
          counts={"time_ahead": 2}, first={"time_ahead": "t:6"})


@pytest.mark.parametrize("format_name", TEXT_FORMATS)
def test_outliers_that_disagree_with_each_other_are_each_dropped(format_name):
    check(format_name, [0, 1, 2, 3, 9000, -9000, 20000, 4, 5],
          kept_lines=[1, 2, 3, 4, 8, 9], out_times=[0, 1, 2, 3, 4, 5],
          counts={"time_ahead": 2, "time_backwards": 1}, first={"time_ahead": "t:5", "time_backwards": "t:6"})


@pytest.mark.parametrize("format_name", TEXT_FORMATS)
def test_rows_without_a_time_are_counted_apart_and_do_not_break_a_run(format_name):
    bad = {"beast-hex": b"x,1a33000000000000c8" + FRAME.encode(), "jsonl": b'{"timestamp": null, "frame": "8d"}',
           "sbs": b"MSG,3,1,1,4840D6,1,2023/99/99,xx,,,,35000,,,43.6,1.4,,,0,0,0,0"}[format_name]
    lines = [line(format_name, t, k) for k, t in enumerate([0, 1, 2, 3, 3600, 3601, 3602, 3603, 3604])]
    data = b"\n".join(lines[:6] + [bad] + lines[6:]) + b"\n"
    batch, problems = read(format_name, data)
    assert problems.counts == {"bad_time": 1, "time_jump": 1}
    assert list(batch.offset) == [1, 2, 3, 4, 5, 6, 8, 9, 10]


def test_the_limits_are_parameters():
    check("jsonl", [0, 1, 0.75, 0.5, 2, 3], kept_lines=[1, 2, 3, 5, 6], out_times=[0, 1, 1, 2, 3],
          counts={"time_restamped": 1, "time_backwards": 1}, time_jitter_s=0.3)
    check("jsonl", [0, 1, 2, 3, 100, 101, 102], kept_lines=[1, 2, 3, 4, 5, 6, 7], out_times=[0, 1, 2, 3, 100, 101, 102],
          counts={"time_jump": 1}, max_time_gap_s=60, time_confirm_records=2)
    # believing every off record at once: the step back after the jump is a reset, shifted to go on
    check("jsonl", [0, 1, 2, 3, 100, 4], kept_lines=[1, 2, 3, 4, 5, 6], out_times=[0, 1, 2, 3, 100, 100],
          counts={"time_jump": 1, "time_reset": 1}, max_time_gap_s=60, time_confirm_records=1)
    with pytest.raises(InputError):
        make_parser("beast", time_jitter_s=1.0)
    with pytest.raises(ValueError):
        make_parser("sbs", time_confirm_records=0)


# Every case above in one short stream.
MIXED = [5000, 0, 1, 2, 1.5, 3, -100, 4, 3600, 5, 6, 3600, 3601, 3602, 3603, 3602.5, 3604,
         1000, 1001, 1002, 1003, 1004, 0, 1005]


@pytest.mark.parametrize("format_name", TEXT_FORMATS)
def test_mixed_stream_expected_result(format_name):
    check(format_name, MIXED,
          kept_lines=[2, 3, 4, 5, 6, 8, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 24],
          out_times=[0, 1, 2, 2, 3, 4, 5, 6, 3600, 3601, 3602, 3603, 3603, 3604, 3604, 3605, 3606, 3607, 3608, 3609],
          counts={"time_ahead": 2, "time_backwards": 2, "time_restamped": 2, "time_jump": 1, "time_reset": 1},
          first={"time_ahead": "t:1", "time_backwards": "t:7", "time_restamped": "t:5", "time_jump": "t:12",
                 "time_reset": "t:18"})


@pytest.mark.parametrize("format_name", TEXT_FORMATS)
def test_split_at_every_byte_and_every_pair_of_lines_reads_as_whole(format_name):
    data = stream(format_name, MIXED)
    whole, whole_problems = read(format_name, data)
    ends = [i + 1 for i, byte in enumerate(data) if byte == 0x0A]
    cut_sets = [[c] for c in range(1, len(data))]
    cut_sets += [[a, b] for a in ends for b in ends if a < b]
    cut_sets.append(ends)  # one line per feed
    for cuts in cut_sets:
        batch, problems = read(format_name, data, cuts)
        assert problems.counts == whole_problems.counts and problems.first == whole_problems.first, cuts
        np.testing.assert_array_equal(batch.offset, whole.offset)
        np.testing.assert_array_equal(batch.time, whole.time)


def test_records_are_held_only_while_undecided():
    parser = make_parser("jsonl", source="t")
    data = [line("jsonl", t, k) + b"\n" for k, t in enumerate([0, 1, 2, 3, 4, 3600, 5, 3600, 3601, 3602, 3603])]
    got = [len(parser.feed(d)) for d in data]
    # the first three wait for the fourth to confirm the base; an off record waits for the next one
    assert got == [0, 0, 0, 4, 1, 0, 1, 0, 0, 0, 4]
    assert parser.problems.counts == {"time_ahead": 1, "time_jump": 1}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.floats(0.0, 5.0), st.floats(-2.0, 0.0), st.floats(-1e5, 1e5)), min_size=1,
                max_size=60),
       st.lists(st.integers(1, 10_000), max_size=6), st.sampled_from(TEXT_FORMATS))
def test_any_time_sequence_is_accounted_for_ordered_and_split_invariant(steps, cuts, format_name):
    times = np.round(np.cumsum(steps) * 8) / 8  # exact in binary and in SBS's milliseconds
    data = stream(format_name, times)
    whole, problems = read(format_name, data)
    split, split_problems = read(format_name, data, [c for c in cuts if c < len(data)])
    assert np.all(np.diff(whole.time) >= 0)
    dropped = sum(problems.counts.get(k, 0) for k in ("time_backwards", "time_ahead"))
    assert len(whole) + dropped == len(times)  # each record kept or counted as dropped
    assert split_problems.counts == problems.counts
    np.testing.assert_array_equal(split.offset, whole.offset)
    np.testing.assert_array_equal(split.time, whole.time)
    raw = times[whole.offset - 1] + T0
    untouched = np.isclose(whole.time, raw, rtol=0, atol=1e-6)
    restamped = problems.counts.get("time_restamped", 0)
    if "time_reset" not in problems.counts:  # only re-stamped records moved
        assert np.count_nonzero(~untouched) == restamped


# --- the real recordings ---------------------------------------------------------------------------------

@pytest.mark.parametrize("path", [LONG_FLIGHT, TUTORIAL, FULL_FLIGHT], ids=["long_flight", "tutorial", "full_flight"])
def test_real_recordings_have_no_time_problem_and_keep_their_times(path):
    recording = read_file(path)
    assert recording.problems.counts == {}
    raw = [float(x.split(b",")[0]) for x in beast_hex_lines()] if path == LONG_FLIGHT else \
        [r["timestamp"] for r in jsonl_records(path)]
    np.testing.assert_array_equal(recording.frames.time, raw)  # monotonic already: not one time changed
    assert np.all(np.diff(recording.frames.time) >= 0)


def test_real_sbs_has_no_time_problem():
    rows = sbs_rows(jsonl_records())
    batch, problems = read("sbs", b"\n".join(row for row, _ in rows) + b"\n")
    assert problems.counts == {} and len(batch) == len(rows) == 44_750
    assert np.all(np.diff(batch.time) >= 0)


def test_real_recording_with_clock_faults_keeps_everything_else(tmp_path):
    """The long flight (172,432 lines, read in 4 MiB chunks) with an outlier ahead, three outliers behind,
    jitter, a persistent reset and a persistent jump: exactly those are counted, everything else is kept."""
    lines = [x.split(b",") for x in beast_hex_lines()]
    times = np.array([float(stamp) for stamp, _ in lines])
    faulty = times.copy()
    faulty[50_000] += 7200  # one record far ahead
    faulty[80_000:80_003] -= 30  # three records 30 s behind
    faulty[90_000] = faulty[89_999] - 1.0  # one second of jitter
    faulty[120_000:] -= 3600  # the clock goes back one hour and stays ...
    faulty[150_000:] += 7200  # ... then forward two hours and stays
    path = tmp_path / "faulty.csv"
    path.write_bytes(b"".join(f"{t:.6f},".encode() + hexes + b"\n" for t, (_, hexes) in zip(faulty, lines)))
    recording = read_file(path, chunk_bytes=1 << 22)
    counts, first = recording.problems.counts, recording.problems.first
    assert counts == {"time_ahead": 1, "time_backwards": 3, "time_restamped": 1, "time_reset": 1, "time_jump": 1}
    assert first["time_ahead"] == f"{path}:50001" and first["time_backwards"] == f"{path}:80001"
    assert first["time_reset"].startswith(f"{path}:120001 (back ")
    assert first["time_jump"].startswith(f"{path}:150001 (+")
    frames = recording.frames
    kept = np.setdiff1d(np.arange(len(times)), [50_000, 80_000, 80_001, 80_002])
    np.testing.assert_array_equal(frames.offset, kept + 1)
    assert np.all(np.diff(frames.time) >= 0)
    out = dict(zip(frames.offset - 1, frames.time))
    before = kept[kept < 120_000]
    np.testing.assert_array_equal([out[i] for i in before if i != 90_000], times[before[before != 90_000]])
    assert out[90_000] == times[89_999]  # re-stamped to the time before it
    # after the reset: the true intervals, shifted so that the first record follows the last one before it;
    # the jump forward is followed as it is (+7200 s on top of that shift)
    back = times[119_999] - times[120_000]
    for lo, hi, shift in ((120_000, 150_000, back), (150_000, len(times), back + 7200)):
        rows = kept[(kept >= lo) & (kept < hi)]
        np.testing.assert_allclose(np.array([out[i] for i in rows]) - times[rows], shift, rtol=0, atol=1e-5)


# --- live feeds --------------------------------------------------------------------------------------------

def serve_once(data: bytes) -> int:
    listener = socket.create_server(("127.0.0.1", 0))

    def run():
        with listener:
            connection, _ = listener.accept()
            with connection:
                connection.sendall(data)

    threading.Thread(target=run, daemon=True).start()
    return listener.getsockname()[1]


def test_feed_end_of_connection_decides_held_records():
    # three records (fewer than a confirmed base) and a cut last line: the three come out when the feed closes
    data = stream("jsonl", [0, 1, 2]) + line("jsonl", 3, 3)[:20]
    feed = TcpFeed("127.0.0.1", serve_once(data), read_timeout=2.0, backoff_initial=0.01, max_connections=1)
    batches = list(feed.batches())
    batch = FrameBatch.concat(batches)
    assert list(batch.offset) == [1, 2, 3]
    assert feed.problems.counts == {"truncated_frame": 1, "connection_closed": 1}


def test_parser_end_of_connection_drops_an_unconfirmed_run():
    parser = make_parser("beast-hex", source="c")
    first = parser.feed(stream("beast-hex", [0, 1, 2, 3, 4, 3600, 3601]))
    assert list(first.offset) == [1, 2, 3, 4, 5]
    assert len(parser.end_of_connection()) == 0
    assert parser.problems.counts == {"time_ahead": 2}
