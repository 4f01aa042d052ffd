"""Benchmark: live ingest held at 10x its sustainable rate (issue 9, "Overload").

A real TCP server on 127.0.0.1 (tests/_feeds.py ``PacedFeed``) serves the Beast-hex recording
``../shared/data/rs1090_long_flight.csv.gz`` in a loop (each loop steps back in time; the time guard counts a
``time_reset`` and carries the time on) to ``airpicture.ingest.LiveIngest`` (default queue bound):

1. sustainable rate: the feed as fast as the socket takes it for ``--sustain-s``; the rate the picture
   processes (decodes and tracks) frames while the reader keeps up with the socket is the sustainable rate R;
2. overload: a fresh run, the feed paced at ``--factor`` x R for ``--overload-s``, then at R / 2 for
   ``--recovery-s``. Sampled every second: frames processed and shed, frames queued, lag (receive clock at the
   end of a feed minus the arrival of the oldest frame in it), process RSS, tracks in the picture.

Reported: offered / sent / received / processed rates, frames shed by priority (and the share of each
priority's waiting frames that was shed), peak queue against its bound, RSS, lag during and after the
overload, shedding after the load ends.

    .venv/bin/python bench/bench_overload.py                      # ~2 minutes; writes BENCHMARKS.md
    .venv/bin/python bench/bench_overload.py --overload-s 10 --no-write
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from _feeds import PacedFeed  # noqa: E402
from _report import machine, write_marked_section  # noqa: E402
from _sources_data import beast_hex_lines  # noqa: E402

REFERENCE = (43.63, 1.37)
START, END = "<!-- bench_overload:start -->", "<!-- bench_overload:end -->"


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def warm_up(lines) -> None:
    from airpicture.replay import TransponderPicture
    from airpicture.sources import make_parser

    TransponderPicture(reference=REFERENCE).feed(make_parser("beast-hex").feed(b"\n".join(lines[:20000]) + b"\n"))


def run(lines, schedule, duration, max_queue_frames):
    from airpicture.ingest import LiveIngest

    feed = PacedFeed(lines, schedule)
    ingest = LiveIngest("127.0.0.1", feed.port, format="beast-hex", reference=REFERENCE, read_timeout=30,
                        max_queue_frames=max_queue_frames)
    samples = []

    def on_status(s):
        samples.append({"t": s["elapsed_s"], "messages": s["messages"], "shed": s["shed"], "queued": s["queued"],
                        "lag_s": s["lag_s"], "rss_mb": rss_mb(), "tracks_now": s["tracks_now"],
                        "final": s["final"]})

    try:
        summary = ingest.run(duration=duration, handle_signals=False, status_interval_s=1.0, on_status=on_status)
    finally:
        feed.close()
    starts = [t - ingest.started for t in feed.phase_start]
    return summary, samples, feed, starts


def main(argv=None) -> int:
    from airpicture.shedding import DEFAULT_MAX_QUEUE_FRAMES

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sustain-s", type=float, default=20.0)
    ap.add_argument("--overload-s", type=float, default=60.0)
    ap.add_argument("--recovery-s", type=float, default=20.0)
    ap.add_argument("--factor", type=float, default=10.0)
    ap.add_argument("--max-queue-frames", type=int, default=DEFAULT_MAX_QUEUE_FRAMES)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)

    lines = list(beast_hex_lines())
    load0 = os.getloadavg()[0]
    warm_up(lines)
    rss0 = rss_mb()

    s1, samples1, feed1, _ = run(lines, [(args.sustain_s, None)], args.sustain_s, args.max_queue_frames)
    sustainable = s1["messages"] / s1["wall_s"]
    received1 = s1["overload"]["frames_in"] / s1["wall_s"]

    offered = args.factor * sustainable
    schedule = [(args.overload_s, offered), (args.recovery_s, sustainable / 2)]
    total = args.overload_s + args.recovery_s
    s2, samples2, feed2, starts = run(lines, schedule, total + 1.0, args.max_queue_frames)
    o = s2["overload"]
    end_overload = starts[1] if len(starts) > 1 else total
    during = [x for x in samples2 if x["t"] <= end_overload and not x["final"]]
    after = [x for x in samples2 if x["t"] >= end_overload + 5.0]
    shed_after = (after[-1]["shed"] - after[0]["shed"]) if len(after) > 1 else None
    processed = [(b["messages"] - a["messages"]) / max(1e-9, b["t"] - a["t"])
                 for a, b in zip(during, during[1:])]
    result = {
        "machine": machine(), "load_average_start": load0, "load_average_end": os.getloadavg()[0],
        "max_queue_frames": args.max_queue_frames,
        "sustainable_frames_per_s": sustainable, "flood_received_frames_per_s": received1,
        "flood_shed": s1["overload"]["shed_frames"],
        "offered_frames_per_s": offered, "overload_s": args.overload_s, "recovery_s": args.recovery_s,
        "sent_during_overload": feed2.sent[0] if feed2.sent else 0,
        "sent_frames_per_s": (feed2.sent[0] / args.overload_s) if feed2.sent else 0,
        "received_frames": o["frames_in"], "processed_frames": s2["messages"], "shed_frames": o["shed_frames"],
        "left_at_stop": o["left_at_stop"],
        "processed_frames_per_s_during_overload": (sorted(processed)[len(processed) // 2] if processed else None),
        "shed_by_priority": o["shed_by_priority"],
        "shed_events_reaching": o["shed_events_reaching"], "shed_events": o["shed_events"],
        "peak_queue_frames": o["peak_queue_frames"], "rss_mb_before": rss0,
        "rss_mb_peak": max(x["rss_mb"] for x in samples2), "max_lag_s": o["max_lag_s"],
        "lag_s_end": samples2[-1]["lag_s"], "shed_after_recovery_5s": shed_after,
        "tracks_now_min_during": min((x["tracks_now"] for x in during), default=None),
        "tracks_now_end": s2["tracks_now"], "tracks": s2["tracks"], "samples": samples2,
        "problems": s2["problems"],
    }
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    share_text = ", ".join(f"{k} {v:,}" for k, v in o["shed_by_priority"].items() if v) + "; of the " + \
        f"{o['shed_events']:,} shedding events, the highest priority reached: " + \
        ", ".join(f"{k} {v:,}" for k, v in o["shed_events_reaching"].items() if v)
    rows = [
        ("sustainable rate R (flood for %.0f s: processed while the reader kept up with the socket)" % args.sustain_s,
         f"{sustainable:,.0f} frames/s (received {received1:,.0f}/s, shed {s1['overload']['shed_frames']:,})"),
        (f"offered: {args.factor:g} x R for {args.overload_s:.0f} s, then R/2 for {args.recovery_s:.0f} s",
         f"{offered:,.0f} frames/s; the server got {result['sent_frames_per_s']:,.0f}/s onto the socket (the rest "
         "held back by TCP backpressure: the reader parsed no faster)"),
        ("received / processed / shed / left at the stop (frames)",
         f"{o['frames_in']:,} / {s2['messages']:,} / {o['shed_frames']:,} / {o['left_at_stop']:,}"),
        ("processed during the overload (median of 1 s samples)",
         f"{result['processed_frames_per_s_during_overload'] or 0:,.0f} frames/s"),
        ("shed by priority (lowest first in each event)", share_text),
        ("queue: peak / bound (frames)", f"{o['peak_queue_frames']:,} / {args.max_queue_frames:,}"),
        ("process RSS: after warm-up / peak", f"{rss0:,.0f} MB / {result['rss_mb_peak']:,.0f} MB"),
        ("lag (oldest frame of a feed, arrival to processed): max / at the end", f"{o['max_lag_s']:.2f} s / "
         f"{result['lag_s_end'] if result['lag_s_end'] is not None else float('nan'):.2f} s"),
        ("frames shed from 5 s after the load ended", f"{shed_after}"),
        ("tracks in the picture: lowest during the overload / at the end; track numbers so far (the recording "
         "holds about one aircraft with positions at a time, and served ~1000x faster than real time)",
         f"{result['tracks_now_min_during']} / {s2['tracks_now']}; {s2['tracks']}"),
    ]
    body = "\n".join([
        "## Overload: live ingest at 10x its sustainable rate (`bench/bench_overload.py`)",
        "",
        f"{machine()}; load average {load0:.1f} at the start, {result['load_average_end']:.1f} at the end (the "
        "cores are shared: rates move with the load). The long flight (Beast hex) served in a loop by a local "
        "TCP server; `LiveIngest` with the default queue bound. Command: `.venv/bin/python "
        f"bench/bench_overload.py{' --overload-s %g' % args.overload_s if args.overload_s != 60 else ''}`.",
        "",
        "| figure | value |",
        "|---|---|",
        *[f"| {a} | {b} |" for a, b in rows],
    ])
    print(body)
    if not args.no_write:
        write_marked_section(ROOT / "BENCHMARKS.md", START, END, body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
