"""Bad input is counted per reason, located, and never raises; the good frames around it are kept."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from _sources_data import avr_lines, beast_binary, beast_records, jsonl_records, sbs_rows
from hypothesis import given, settings
from hypothesis import strategies as st

from airpicture.errors import InputError
from airpicture.sources import FORMATS, FrameBatch, decode_frames, make_parser, read_file

RECORDS = 400


def parse(format_name, data, start_time=0.0):
    parser = make_parser(format_name, source="bad", start_time=start_time)
    batch = FrameBatch.concat([parser.feed(data), parser.finish()])
    return batch, parser.problems


def frames_of(records):
    return [r["frame"] for r in records]


def test_beast_truncated_record_is_counted_and_neighbours_kept():
    records = beast_records(RECORDS)
    data, starts = beast_binary(records)
    k = 100
    damaged = data[:starts[k] + 6] + data[starts[k + 1]:]  # record k cut after its counter's 4th byte
    batch, problems = parse("beast", damaged)
    assert problems.counts == {"truncated_frame": 1}
    assert problems.first["truncated_frame"] == f"bad: byte {starts[k]}"
    assert list(batch.frame) == frames_of(records[:k] + records[k + 1:])


def test_beast_broken_escape_is_counted():
    records = beast_records(3000)
    data, starts = beast_binary(records)
    # a record with one doubled 0x1A inside (not at its end, where the next record's start would pair with it)
    k = next(i for i in range(len(records)) if data[starts[i] + 2:starts[i + 1] - 1].count(b"\x1a\x1a") == 1
             and data[starts[i + 1] - 1] != 0x1A)
    record = data[starts[k]:starts[k + 1]]
    broken = record[:2] + record[2:].replace(b"\x1a\x1a", b"\x1a")  # the escape doubling lost
    batch, problems = parse("beast", data[:starts[k]] + broken + data[starts[k + 1]:])
    assert problems.total >= 1
    assert set(problems.counts) <= {"truncated_frame", "bad_beast_type", "garbage"}
    good = frames_of(records[:k] + records[k + 1:])
    assert [f for f in batch.frame if f in set(good)] == good  # all others kept, in order
    assert len(batch) <= len(good) + 1  # at most the damaged record itself, reread short


def test_beast_junk_between_records_and_before_the_first():
    records = beast_records(RECORDS)
    data, starts = beast_binary(records)
    damaged = b"\x00\xff\x13" + data[:starts[50]] + b"\x01\x02\x03" + data[starts[50]:]
    batch, problems = parse("beast", damaged)
    assert problems.counts == {"garbage": 2}
    assert list(batch.frame) == frames_of(records)


def test_beast_unknown_type_is_counted():
    records = beast_records(RECORDS)
    data, starts = beast_binary(records)
    damaged = data[:starts[10]] + b"\x1a\x39" + bytes(20) + data[starts[10]:]
    batch, problems = parse("beast", damaged)
    assert problems.counts == {"bad_beast_type": 1}
    assert list(batch.frame) == frames_of(records)


def test_beast_counter_running_backwards_is_counted_and_time_stays_monotonic_per_segment():
    records = list(beast_records(RECORDS))
    later = [dict(r, ticks=r["ticks"] - records[200]["ticks"] + 5) for r in records[200:]]  # receiver restart
    data, _ = beast_binary(records[:200] + later)
    batch, problems = parse("beast", data, start_time=1000.0)
    assert problems.counts == {"ticks_backwards": 1}
    assert len(batch) == RECORDS
    assert np.all(np.diff(batch.time) >= 0)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=3000), st.sampled_from(FORMATS))
def test_random_bytes_never_raise(blob, format_name):
    parser = make_parser(format_name, source="random", start_time=0.0)
    batch = FrameBatch.concat([parser.feed(blob[:1000]), parser.feed(blob[1000:]), parser.finish()])
    for frame in batch.frame:
        assert frame == "" or len(frame) in (4, 14, 28)
    decode_frames(batch.frame, np.where(np.isfinite(batch.time), batch.time, 0.0))


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.data())
def test_beast_with_random_damage_keeps_the_untouched_records(data):
    records = beast_records(200)
    stream, starts = beast_binary(records)
    position = data.draw(st.integers(0, len(stream) - 1))
    junk = data.draw(st.binary(min_size=1, max_size=30))
    damaged = stream[:position] + junk + stream[position:]
    batch, problems = parse("beast", damaged)
    hit = np.searchsorted(starts, position, side="right") - 1  # the record the junk landed in
    # The record after the damaged one may be lost too: junk that splits an escaped 0x1a 0x1a pair at the
    # end of a record leaves a lone 0x1a that pairs with the next record's start marker (Beast's framing is
    # ambiguous there; any reader resyncs one record later). Everything beyond must survive.
    untouched = frames_of(records[:max(hit, 0)] + records[hit + 2:])
    frames = list(batch.frame)
    it = iter(frames)
    assert all(f in it for f in untouched)  # every untouched record, in order
    assert len(frames) <= len(records) + len(junk)


def test_avr_bad_lines_are_counted_with_line_numbers():
    lines = avr_lines(beast_records(20), "*")
    lines[3] = b"*8D4840D6202CC371C32CE057608G;"  # not hex
    lines[5] = b"*8D4840D6202CC3;"  # 7 bytes is fine
    lines[7] = b"*8D4840D6202CC371C32CE05760;"  # 13 bytes: no such frame
    lines[9] = b"8D4840D6202CC371C32CE0576098;"  # no marker
    lines[11] = b"*8D4840D6202CC371C32CE0576098"  # no ';'
    batch, problems = parse("avr", b"\n".join(lines))
    assert problems.counts == {"bad_hex": 1, "bad_frame_length": 1, "bad_avr_line": 2}
    assert problems.first == {"bad_hex": "bad:4", "bad_frame_length": "bad:8", "bad_avr_line": "bad:10"}
    assert len(batch) == 16


def test_beast_hex_bad_lines():
    good = [f"{r['time']:.6f},1a{r['type']}{r['ticks']:012x}{r['signal']:02x}{r['frame']}".encode()
            for r in beast_records(10)]
    lines = list(good)
    lines[1] = good[1][:-3]  # odd length
    lines[2] = good[2][:-4]  # truncated frame
    lines[3] = good[3].replace(b",1a", b",1b")  # not a Beast header
    lines[4] = b"abc," + good[4].split(b",")[1]  # bad time
    lines[5] = good[5] + b",extra"
    batch, problems = parse("beast-hex", b"\n".join(lines) + b"\n")
    assert problems.counts == {"bad_hex": 1, "truncated_frame": 1, "bad_beast_header": 1, "bad_time": 1,
                               "bad_row": 1}
    assert list(batch.offset) == [1, 7, 8, 9, 10]


def test_sbs_short_rows_and_bad_values():
    pairs = sbs_rows(jsonl_records(limit=200))[:10]
    rows = [row for row, _ in pairs]
    rows[2] = b",".join(rows[2].split(b",")[:12])
    rows[4] = rows[4].replace(b"MSG,", b"XYZ,", 1)
    rows[6] = rows[6].replace(b"2024/", b"2024-")
    rows[8] = b"MSG," + b",".join([b"x"] * 21)
    logged_only = rows[1].split(b",")
    logged_only[6:8] = [b"", b""]  # no generated date and time: the logged ones are used
    rows[1] = b",".join(logged_only)
    batch, problems = parse("sbs", b"\n".join(rows) + b"\n")
    assert problems.counts == {"short_sbs_row": 1, "bad_sbs_type": 1, "bad_time": 1, "bad_icao": 1}
    assert problems.first["short_sbs_row"] == "bad:3"
    assert list(batch.offset) == [1, 2, 4, 6, 8, 10]
    assert abs(batch.time[1] - pairs[1][1]["timestamp"]) < 2e-3


def test_jsonl_bad_records():
    lines = gzip.open(_tutorial()).read().split(b"\n")[:10]
    lines[1] = lines[1][:30]
    lines[3] = b"[1, 2]"
    lines[5] = lines[5].replace(b'"frame":"', b'"frame":"zz')
    lines[7] = b'{"frame": "8d4840d6202cc371c32ce0576098"}'
    batch, problems = parse("jsonl", b"\n".join(lines) + b"\n")
    assert problems.counts == {"bad_json": 2, "bad_frame": 1, "bad_time": 1}
    assert problems.first["bad_json"] == "bad:2"
    assert list(batch.offset) == [1, 3, 5, 7, 9, 10]


def _tutorial():
    from _sources_data import TUTORIAL
    return TUTORIAL


def test_unknown_format_names_the_formats_tried(tmp_path):
    path = tmp_path / "mystery.dat"
    path.write_bytes(b"hello world\nthis is not a feed\n")
    with pytest.raises(InputError) as info:
        read_file(path)
    message = str(info.value)
    assert "mystery.dat" in message
    for name in FORMATS:
        assert name in message


def test_missing_file_and_unknown_format_name_are_input_errors(tmp_path):
    with pytest.raises(InputError):
        read_file(tmp_path / "absent.csv")
    (tmp_path / "a.csv").write_bytes(b"")
    with pytest.raises(InputError):
        read_file(tmp_path / "a.csv", format="asterix")


def test_gzip_cut_short_keeps_what_was_read(tmp_path):
    lines = [f"{r['time']:.6f},1a{r['type']}{r['ticks']:012x}{r['signal']:02x}{r['frame']}".encode()
             for r in beast_records(20000)]
    packed = gzip.compress(b"\n".join(lines) + b"\n")
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(packed[:len(packed) // 2])
    recording = read_file(path, chunk_bytes=1 << 14)
    assert "damaged_gzip" in recording.problems.counts
    assert 0 < len(recording.frames) < 20000
    assert list(recording.frames.frame) == [r["frame"] for r in beast_records(20000)[:len(recording.frames)]]
