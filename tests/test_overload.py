"""Overload (issue 9): a live feed far faster than the picture can take. The bounded buffer between the reader
and the picture sheds frames lowest priority first and counts them; the picture keeps going and recovers.

The long run (60 s at 10x the measured sustainable rate) is bench/bench_overload.py; here 5 s of a flood over
a real TCP socket, and the shedding policy on real frames.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from _feeds import PacedFeed
from _sources_data import beast_hex_lines, beast_records

from airpicture.errors import InputError
from airpicture.ingest import LiveIngest
from airpicture.shedding import PRIORITY_NAMES, FrameBuffer, frame_addresses
from airpicture.sources import FrameBatch

TOULOUSE = (43.63, 1.37)


def _batch(frames: list[str]) -> FrameBatch:
    n = len(frames)
    return FrameBatch(time=np.arange(n, dtype=float), frame=np.array(frames, dtype=object), signal=np.full(n, np.nan),
                      ticks=np.full(n, -1, np.int64), offset=np.arange(n, dtype=np.int64))


def _df17_by_address(k: int) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for r in beast_records(20_000):
        f = r["frame"]
        if len(f) == 28 and int(f[:2], 16) >> 3 in (17, 18):
            frames = out.setdefault(int(f[2:8], 16), [])
            if f not in frames:   # distinct frames, so that each can be told apart below
                frames.append(f)
    return dict(sorted(out.items(), key=lambda kv: -len(kv[1]))[:k])


def test_frame_addresses_match_the_decoder():
    from airpicture.modes.phantoms import ModeSFilter

    frames = [r["frame"] for r in beast_records(3000)]
    batch = _batch(frames)
    ours = frame_addresses(batch)
    out = ModeSFilter().process(np.asarray([r["time"] for r in beast_records(3000)]), batch.frame)
    ok = out.accepted & (out.icao24 >= 0)
    assert ok.sum() > 1000
    assert np.array_equal(ours[ok], out.icao24[ok])
    assert (ours[[len(f) == 4 for f in frames]] == -1).all()


def test_shedding_takes_the_lowest_priority_first_spread_evenly_within_it():
    by_address = _df17_by_address(4)
    (a0, f0), (a1, f1), (a2, f2), (a3, f3) = by_address.items()
    buffer = FrameBuffer(max_frames=30)
    buffer.set_priorities(np.array(sorted([a0, a1, a2])), np.array([{a0: 0, a1: 1, a2: 2}[a] for a in
                                                                   sorted([a0, a1, a2])], np.int8))
    # a3 is not in the table: level 4 (new / unknown)
    order = []
    for i in range(4):   # 4 batches of 10 frames, each 1 emergency, 2 identified, 3 tracked, 4 unknown
        frames = [f0[i]] + f1[2 * i:2 * i + 2] + f2[3 * i:3 * i + 3] + f3[4 * i:4 * i + 4]
        order.append(frames)
        buffer.put(_batch(frames), arrived=float(i))
    assert buffer.frames == 30 and buffer.peak_frames == 30
    # 40 in, bound 30: the 10 dropped are unknown frames (the 16 waiting, every 1.6th: 0 1 3 4 6 8 9 11 12 14)
    assert buffer.summary()["shed_by_priority"] == {**{n: 0 for n in PRIORITY_NAMES}, "new_or_unknown": 10}
    kept = [f for b in buffer.take_all() for f in b.frame.tolist()]
    dropped = {f3[i] for i in (0, 1, 3, 4, 6, 8, 9, 11, 12, 14)}
    assert set(kept).isdisjoint(dropped) and len(kept) == 30
    assert kept == [f for frames in order for f in frames if f not in dropped]   # input order kept
    # now overflow by more than every unknown and tracked frame: identified go, emergency stays
    for i in range(4):
        buffer.put(_batch([f0[4 + i]] + f1[8 + 2 * i:10 + 2 * i] + f2[12 + 3 * i:15 + 3 * i]), arrived=10.0 + i)
    buffer.max_frames = 5
    buffer.put(_batch([f0[8]]), arrived=20.0)
    kept = [f for b in buffer.take_all() for f in b.frame.tolist()]
    assert sorted(kept) == sorted([f0[4 + i] for i in range(5)])
    summary = buffer.summary()
    shed = summary["shed_by_priority"]
    assert shed["emergency_or_threat"] == 0 and shed["tracked"] == 12 and shed["identified"] == 8
    assert summary["shed_events_reaching"]["new_or_unknown"] == 1 and summary["shed_events_reaching"]["identified"] == 1


def test_bad_queue_bound_is_an_input_error():
    with pytest.raises(InputError, match="max-queue-frames"):
        LiveIngest("127.0.0.1", 1, max_queue_frames=0)


def warm_up(lines) -> None:
    """Compile the tracker's numba kernels before the clock matters (a fresh process spends seconds on it)."""
    from airpicture.replay import TransponderPicture
    from airpicture.sources import make_parser

    parser = make_parser("beast-hex")
    picture = TransponderPicture(reference=TOULOUSE)
    picture.feed(parser.feed(b"\n".join(lines[:5000]) + b"\n"))


def test_a_flood_is_shed_by_priority_and_the_picture_recovers():
    """6 s: 2.5 s of the long flight as fast as the socket takes it, then 3.5 s at 200 frames/s. What the socket
    buffers still hold when the flood ends arrives in the slow phase's first second or so."""
    lines = list(beast_hex_lines()[:40_000])
    warm_up(lines)
    feed = PacedFeed(lines, [(2.5, None), (3.5, 200)])
    run = LiveIngest("127.0.0.1", feed.port, format="beast-hex", reference=TOULOUSE, max_queue_frames=3000,
                     batch_interval_s=0.2, read_timeout=30)
    samples = []
    try:
        summary = run.run(duration=6.0, handle_signals=False, status_interval_s=0.1,
                          on_status=lambda s: samples.append(s))
    finally:
        feed.close()
    o = summary["overload"]
    # the flood overflowed the bound: frames were shed and counted, and the queue never held more than it
    assert o["shed_frames"] > 0 and o["peak_queue_frames"] <= 3000
    assert summary["problems"]["shed_overload"] == o["shed_frames"]
    # every frame the reader gave is accounted for: processed, shed, or left at the stop
    assert o["frames_in"] == summary["messages"] + o["shed_frames"] + o["left_at_stop"] and o["left_at_stop"] >= 0
    # by priority (each event empties lower priorities first: tested exactly above): every event is counted
    # with the highest priority it had to reach, and a priority is shed only in events that reached it
    reach = o["shed_events_reaching"]
    assert sum(reach.values()) == o["shed_events"]
    highest = min(PRIORITY_NAMES.index(n) for n, v in reach.items() if v)
    for k, name in enumerate(PRIORITY_NAMES):
        assert (o["shed_by_priority"][name] == 0) if k < highest else True, (name, reach)
    assert o["shed_by_priority"][PRIORITY_NAMES[highest]] > 0
    # the picture lived through it and recovered: tracks, and no more shedding in the slow phase's last second
    assert summary["tracks"] > 0 and summary["messages"] > 0
    slow_start = feed.phase_start[1]
    late = [s for s in samples if not s["final"] and s["elapsed_s"] + run.started >= slow_start + 2.5]
    assert late and late[0]["shed"] == samples[-1]["shed"]
    assert samples[-1]["messages"] > late[0]["messages"] or feed.sent[1] == 0


def test_an_error_in_the_reader_reaches_the_caller():
    """The reader thread's exception is raised by run() (never a silent thread), after the frames before it."""
    lines = list(beast_hex_lines()[:2000])
    feed = PacedFeed(lines, [(0.5, None)])
    run = LiveIngest("127.0.0.1", feed.port, format="beast-hex", reference=TOULOUSE, read_timeout=30)
    real_batches = run.feed.batches

    def batches():
        yield from itertools.islice(real_batches(), 3)
        raise RuntimeError("reader bug")

    run.feed.batches = batches
    try:
        with pytest.raises(RuntimeError, match="reader bug"):
            run.run(duration=20, handle_signals=False)
    finally:
        feed.close()
    assert run.messages > 0
