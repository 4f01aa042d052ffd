"""What the CLI prints for recordings: ``airpicture replay OUT/airpicture.duckdb`` and ``airpicture export``."""

from __future__ import annotations

import time
from pathlib import Path


def replay_recording(path: Path, *, sinks=None, console) -> dict:
    """Play a recording into ``sinks`` (the live display, the outputs, and the ``Pacer`` of ``--speed``, which
    paces it; None: headless and as fast as it goes) and print what was played."""
    from .player import play_recording

    summary = play_recording(path, sinks)
    s = summary
    span = "" if s["start"] is None else f", t = {s['start']:.1f} .. {s['end']:.1f} s"
    lines = [f"[bold]airpicture replay[/]: {s['recording']} (recording of {s['recorded_mode']} '{s['name']}', "
             f"schema {s['schema_version']})",
             f"  {s['frames_played']:,} of {s['frames']:,} frames played{span}; {s['tracks']} tracks, "
             f"{s['alerts']} alerts; {s['wall_s']:.2f} s" + (f" at {s['speed']:g}x" if s["speed"] else "")]
    if not s["complete"]:
        lines.append("  [yellow]the run did not end cleanly: no summary recorded (frames up to its last second "
                     "are here)[/]")
    for line in lines:
        console.print(line, highlight=False, soft_wrap=True)
    return summary


def export_recording(path: Path, out_dir: Path, *, console, progress_console) -> list[dict]:
    """Export every table to Parquet; a progress bar when it takes over a second; print the files written."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from .export import export_parquet

    started = time.perf_counter()
    state = {"progress": None, "task": None}

    def on_table(done: int, total: int, name: str) -> None:
        if state["progress"] is None and time.perf_counter() - started > 1.0 and progress_console.is_terminal:
            state["progress"] = Progress(TextColumn("[bold]exporting"), BarColumn(), MofNCompleteColumn(),
                                         TextColumn("{task.description}"), TimeElapsedColumn(),
                                         console=progress_console, transient=True)
            state["progress"].start()
            state["task"] = state["progress"].add_task(name, total=total)
        if state["progress"] is not None:
            state["progress"].update(state["task"], completed=done, description=name)

    try:
        written = export_parquet(path, out_dir, progress=on_table)
    finally:
        if state["progress"] is not None:
            state["progress"].stop()
    console.print(f"[bold]airpicture export[/]: {path} -> {out_dir} "
                  f"({time.perf_counter() - started:.2f} s)", highlight=False, soft_wrap=True)
    for w in written:
        console.print(f"  {w['path']}: {w['rows']:,} rows, {w['bytes']:,} bytes", highlight=False, soft_wrap=True)
    return written
