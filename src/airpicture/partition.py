"""Partitioned replay of transponder recordings on Dask: by file, then by aircraft address (issue 8 §3).

Why by address, and why it is exact
-----------------------------------
A transponder-only picture is a set of independent per-aircraft problems: everything the decoder
(``ModeSFilter``: CRC, the phantom check, CPR pairs, the last position, the impossible-speed check; the NACp,
last-velocity and identity tables) and the tracker (one track per address, identity-first association; a
report never meets another aircraft's track: there are no address-less radar tracks to gate against) keep
between frames is keyed by the aircraft's 24-bit address. So the frames can be split by address across
workers, each replayed as its own recording, and the pieces put back together.

The only catch is *which* address a frame belongs to before it is decoded. DF11/17/18 carry it in the AA
field. DF0/4/5/16/20/21 carry only AP = address XOR CRC, and are accepted when that address was seen in a
DF11/17/18 with a good CRC within the last 60 s (``modes/phantoms.py``). That recovery is a pure function
of the frame (the CRC-24 remainder of the whole frame *is* the address), so :func:`frame_keys` computes it
first, for every frame, without any state: the AP frame lands on the same worker as the DF11/17/18 frames
that vouch for it, and the phantom check there sees exactly what it sees in one process. A garbled AP frame
yields a random address and lands on a random worker; it is a phantom there as it is in one process (its
address was heard nowhere - or, with probability ~ aircraft/2^24, by a real aircraft, on the same worker in
both cases). SBS rows (no frame) are keyed by their ``icao24`` field; anything without a key (malformed, Mode
A/C) goes to partition 0, where it is only counted.

Time is the one thing aircraft share: tracks coast and drop by the clock. ``replay_file`` advances the
picture to the last frame of every chunk it reads (``TransponderPicture.advance``), and every partition reads
the same chunks - it reads the whole file and keeps its own frames - and advances to the same times. Dropping
is monotone in time, so the states are those of one process.

Every worker reads and parses the whole file (cheap next to decoding and tracking; measured in
BENCHMARKS.md) and moves nothing but its results: the input must be readable on every worker (a shared file
system or object store mount on a cluster).

What "equal" means (tested in tests/test_partition.py on the real recordings): the merged result and a
single-process ``replay_file(..., record=False)`` (``airpicture replay --no-record``) of the same input with the
same chunk size have

* the same decoder and tracker counters (messages, decoded, CRC rejected, phantoms, positions, aircraft,
  aircraft with positions, impossible speeds, tracks, tracks started, reports, ...);
* the same set of addresses with tracks; per address the same number of track numbers (restarts) and of
  update rows, with - row by row, in time order - the same times and status, positions within 1e-6 m and
  velocities within 1e-9 m/s, and the same callsign / squawk / emergency / category;
* a recorded replay (the default) is not the reference: it feeds its tracker second by second so that the
  display and the recording see every second, and ADS-B report merging (2 s) then never spans a second
  boundary - fewer merged reports, more updates (docs/recording.md);
* track *numbers* differ: each partition numbers its own; the merge renumbers tracks 1, 2, ... in order of
  their first update (partition, then local number, breaking ties).

Several files are several recordings (receivers, days): each is replayed on its own, its partitions merged
into its own outputs. Time-window partitioning (a large file cut into windows with an overlap, tracks stitched
by address) is not implemented: for transponder input the address split above is exact and needs no overlap.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import InputError
from .modes.crc import crc24_mixed, downlink_format, frames_from_hex
from .modes.phantoms import AP_DF, SHORT_DF
from .sources.batch import FrameBatch, Problems
from .tracks import TrackStates

NO_KEY = -1
# counters that add up over partitions (every frame and every aircraft is in exactly one)
SUMMED = ("messages", "decoded", "crc_rejected", "malformed", "positions", "aircraft", "aircraft_with_positions",
          "tracks", "phantoms", "unknown_df", "unsupported_df", "impossible_speed", "bad_length", "not_mode_s",
          "short_df_in_long_frame", "decoded_by_rs1090", "rs1090_rows", "from_fields", "field_positions",
          "tracks_started", "tracks_now")


def frame_keys(batch: FrameBatch) -> np.ndarray:
    """(n,) int64 aircraft address of each frame as the decoder will key it, NO_KEY when none (see the module
    docstring): AA for DF11/17/18 (and the rest), CRC remainder (= AP XOR CRC = address) for DF0/4/5/16/20/21 -
    from the first 56 bits of a short DF delivered in 112, as ``ModeSFilter`` reads it - ``icao24`` for SBS."""
    n = len(batch)
    keys = np.full(n, NO_KEY, np.int64)
    if n == 0:
        return keys
    frames = np.asarray(batch.frame, dtype=object)
    lengths = np.fromiter((len(h) if isinstance(h, str) else 0 for h in frames), np.int64, count=n)
    framed = (lengths == 14) | (lengths == 28)
    rows = np.flatnonzero(framed)
    if rows.size:
        data, is_long, valid = frames_from_hex(frames[rows])
        df = downlink_format(data).astype(np.int64)
        padded = valid & is_long & np.isin(df, SHORT_DF)
        if padded.any():
            data = data.copy()
            data[padded, 7:] = 0
            is_long = is_long & ~padded
        remainder = crc24_mixed(data, is_long).astype(np.int64)
        aa = (data[:, 1].astype(np.int64) << 16) | (data[:, 2].astype(np.int64) << 8) | data[:, 3]
        k = np.where(np.isin(df, AP_DF), remainder, aa)
        keys[rows] = np.where(valid, k, NO_KEY)
    icao = (batch.fields or {}).get("icao24")
    if icao is not None:
        loose = np.flatnonzero(~framed)
        for i in loose.tolist():
            try:
                keys[i] = int(str(icao[i]), 16)
            except ValueError:
                pass
    return keys


def partition_of(keys: np.ndarray, parts: int) -> np.ndarray:
    """Partition of each key: a multiplicative hash of the address (addresses come in national blocks), NO_KEY
    -> 0."""
    k = np.asarray(keys, np.int64)
    mixed = ((np.where(k >= 0, k, 0).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(40))
    return np.where(k >= 0, (mixed % np.uint64(parts)).astype(np.int64), 0)


@dataclass
class PartitionTask:
    path: str
    part: int
    parts: int
    format: str = "auto"
    reference: tuple | None = None
    chunk_bytes: int = 1 << 22
    config: object = None


def replay_partition(task: PartitionTask) -> dict:
    """Replay the frames of one partition of one file (the worker's side); returns the columns to merge."""
    from .replay import TransponderPicture
    from .sources import iter_file

    started = time.perf_counter()
    picture = TransponderPicture(reference=task.reference, config=task.config)
    reader_problems = Problems()
    used = task.format
    frames = kept = 0
    read_s = split_s = 0.0
    t_read = time.perf_counter()
    for used, batch in iter_file(task.path, task.format, problems=reader_problems, chunk_bytes=task.chunk_bytes):
        t0 = time.perf_counter()
        read_s += t0 - t_read
        mine = partition_of(frame_keys(batch), task.parts) == task.part
        split_s += time.perf_counter() - t0
        frames += len(batch)
        if mine.any():
            sub = batch.take(mine)
            kept += len(sub)
            picture.feed(sub)
        times = np.asarray(batch.time, np.float64)
        times = times[np.isfinite(times)]
        if times.size:
            picture.advance(float(times.max()))     # the chunk's clock, as replay_file's
        t_read = time.perf_counter()
    read_s += time.perf_counter() - t_read
    picture.advance(picture.now)
    summary = picture.summary(wall_s=time.perf_counter() - started)
    log = picture.update_log()
    return {"path": task.path, "part": task.part, "format": used, "frames_read": frames, "frames_kept": kept,
            "summary": summary, "log": log, "reader_problems": (dict(reader_problems.counts),
                                                                dict(reader_problems.first)),
            "first_time": picture.first_time, "last_time": picture.now,
            "stage_s": {"read": read_s, "split": split_s, **picture.stage_s},
            "wall_s": time.perf_counter() - started}


def merge_partitions(parts: list[dict]) -> tuple[TrackStates, dict]:
    """The update logs of one file's partitions as one log (tracks renumbered 1.. by first update) and the
    summed counters."""
    parts = sorted(parts, key=lambda p: p["part"])
    logs, origin = [], []
    for p in parts:
        log = p["log"]
        logs.append(log)
        origin.append(np.full(len(log), p["part"], np.int64))
    log = TrackStates.concatenate(logs)
    if len(log):
        src = np.concatenate(origin)
        # global numbers: (partition, local number) pairs ranked by their first update time
        pair = src * (1 << 32) + log.track_id.astype(np.int64)
        uniq, inverse = np.unique(pair, return_inverse=True)
        first = np.full(uniq.size, np.inf)
        np.minimum.at(first, inverse, log.time)
        rank = np.empty(uniq.size, np.int64)
        rank[np.lexsort((uniq, first))] = np.arange(1, uniq.size + 1)
        log.track_id = rank[inverse.reshape(-1)]
        order = np.argsort(log.time, kind="stable")
        log = log.take(order)
    s0 = parts[0]["summary"]
    summary = {k: int(sum(p["summary"].get(k, 0) or 0 for p in parts)) for k in SUMMED}
    for name in ("crc_rejected_by_df", "rs1090_problems", "tracker"):
        total: dict = {}
        for p in parts:
            for k, v in (p["summary"].get(name) or {}).items():
                total[k] = total.get(k, 0) + v
        summary[name] = dict(sorted(total.items()))
    counts, first = parts[0]["reader_problems"]     # every partition read the whole file: count it once
    summary["problems"] = dict(sorted(counts.items()))
    summary["problems_first"] = dict(sorted(first.items()))
    firsts = [p["first_time"] for p in parts if math.isfinite(p["first_time"])]
    lasts = [p["last_time"] for p in parts if math.isfinite(p["last_time"])]
    summary["time_first"] = min(firsts) if firsts else None
    summary["time_last"] = max(lasts) if lasts else None
    summary["duration_s"] = (summary["time_last"] - summary["time_first"]) if firsts and lasts else None
    summary["reference"] = s0.get("reference")
    summary["batches"] = max(p["summary"].get("batches", 0) for p in parts)
    summary["partitions"] = [{"part": p["part"], "frames_kept": p["frames_kept"], "wall_s": p["wall_s"],
                              "stage_s": p["stage_s"], "aircraft": p["summary"]["aircraft"]} for p in parts]
    summary["frames_read_per_partition"] = parts[0]["frames_read"]
    return log, summary


def replay_files(paths: list, out_dir, *, parts: int | None = None, workers: int | None = None,
                 scheduler: str | None = None, format: str = "auto", reference=None, config=None,
                 chunk_bytes: int = 1 << 22, on_progress=None) -> dict:
    """Replay every file in ``paths`` split into ``parts`` address partitions (default: 2 x the workers), as Dask
    tasks (``cluster.executor``); write each file's merged outputs (one file: into ``out_dir``; several: into
    ``out_dir/<file name>/``) and ``replay.json``; returns the combined report."""
    from .cluster import executor
    from .replay import SITE_NAME, write_picture_outputs
    from .measurements import SensorSite

    paths = [Path(p) for p in paths]
    for p in paths:
        if not p.is_file():
            raise InputError("no such file", source=str(p))
    if parts is not None and parts < 1:
        raise InputError(f"{parts}: must be at least 1", field="--partitions")
    names = _unique_names(paths)
    started = time.perf_counter()
    with executor(workers, scheduler) as ex:
        n_parts = parts or (2 * ex.workers if ex.client is not None else 1)
        tasks = [PartitionTask(str(p), k, n_parts, format, reference, chunk_bytes, config)
                 for p in paths for k in range(n_parts)]
        results: list[dict | None] = [None] * len(tasks)
        errors = []
        for i, result, error in ex.run(replay_partition, tasks, key="replay-partition"):
            if error is not None:
                errors.append(f"{tasks[i].path} part {tasks[i].part}: {error}")
            results[i] = result
            if on_progress is not None:
                on_progress(sum(r is not None for r in results), len(errors), len(tasks))
        where = ex.where
    if errors:
        first = errors[0]
        if "InputError" in first or "no frames" in first:
            raise InputError(first.split(": ", 2)[-1], source=first.split(" part ")[0])
        from .errors import AirpictureError

        raise AirpictureError(f"{len(errors)} of {len(tasks)} replay partitions failed; first: {first}")
    out_dir = Path(out_dir)
    files = []
    site = None
    for path, name in zip(paths, names):
        mine = [r for r in results if r["path"] == str(path)]
        log, summary = merge_partitions(mine)
        if summary["messages"] == 0:
            raise InputError("no frames read", source=str(path))
        summary = {"input": str(path), "format": mine[0]["format"], **summary}
        wall = time.perf_counter() - started
        summary["wall_s"] = wall
        summary["msgs_per_s"] = summary["messages"] / wall if wall > 0 else None
        summary["stage_s"] = {k: sum(r["stage_s"].get(k, 0.0) for r in mine) for k in ("read", "split", "decode",
                                                                                       "track")}
        summary["partitioned"] = {"by": "aircraft address", "partitions": n_parts, "where": where}
        if reference is not None:
            site = SensorSite(name=SITE_NAME, kind="adsb", lat_rad=math.radians(reference[0]),
                              lon_rad=math.radians(reference[1]), alt_m=0.0)
        sensors = [site or SensorSite(name=SITE_NAME, kind="adsb", lat_rad=0.0, lon_rad=0.0, alt_m=0.0)]
        first_time = summary["time_first"] if summary["time_first"] is not None else math.nan
        target = out_dir if len(paths) == 1 else out_dir / name
        summary["tracks_parquet_rows"] = "update log"
        write_picture_outputs(target, log, summary, sensors=sensors, drawn_sites=[site] if site else [],
                              first_time=first_time, title=f"airpicture replay - {path.name} ({n_parts} partitions)")
        summary["outputs"] = {k: str(target / f) for k, f in (("summary", "summary.json"),
                                                              ("tracks", "tracks.parquet"),
                                                              ("picture", "picture.png"))}
        files.append(summary)
    wall = time.perf_counter() - started
    report = {"format": "airpicture-replay-partitioned", "version": 1, "files": files, "partitions": n_parts,
              "tasks": len(tasks), "where": where, "wall_s": wall,
              "messages": sum(f["messages"] for f in files),
              "msgs_per_s": sum(f["messages"] for f in files) / wall if wall > 0 else None}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "replay.json").write_text(json.dumps(_slim(report), indent=2, default=_json_default) + "\n")
    return report


def _slim(report: dict) -> dict:
    out = dict(report)
    out["files"] = [{k: v for k, v in f.items() if k != "partitions"} for f in report["files"]]
    return out


def _json_default(x):
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return float(x) if math.isfinite(x) else None
    return str(x)


def _unique_names(paths: list[Path]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for p in paths:
        stem = p.name.split(".")[0] or "input"
        seen[stem] = seen.get(stem, 0) + 1
        out.append(stem if seen[stem] == 1 else f"{stem}-{seen[stem]}")
    return out


def print_report(report: dict, console) -> None:
    lines = [f"[bold]airpicture replay[/]: {len(report['files'])} file(s) in {report['partitions']} address "
             f"partitions each, {report['tasks']} tasks, {report['where']}: {report['messages']:,} messages in "
             f"{report['wall_s']:.2f} s ({report['msgs_per_s']:,.0f} msg/s)"]
    for f in report["files"]:
        lines.append(f"  {f['input']} ({f['format']}): {f['messages']:,} messages, {f['decoded']:,} decoded, "
                     f"{f['crc_rejected']:,} CRC rejected, {f['phantoms']:,} phantoms; {f['positions']:,} positions "
                     f"from {f['aircraft_with_positions']} of {f['aircraft']} aircraft -> {f['tracks']} tracks")
        lines.append(f"    outputs: {Path(f['outputs']['summary']).parent}/ (summary.json, tracks.parquet, "
                     "picture.png)")
    console.print("\n".join(lines), highlight=False, soft_wrap=True)
