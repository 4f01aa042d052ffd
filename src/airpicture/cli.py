"""Command-line interface (typer). Thin: every command calls the same API a notebook uses.

Errors reach the user as one line naming what and where, with an exit code (2 for bad
input), never as a traceback; `--debug` (or AIRPICTURE_DEBUG=1) shows the traceback for
bug reports.
"""

from __future__ import annotations

import functools
import os
import traceback
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console

from .errors import AirpictureError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="airpicture: the recognized air picture, built in the open.")
console = Console(stderr=True)
out = Console()


def _reports_errors(func):
    """Turn every failure into a one-line message and an exit code."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except typer.Exit:
            raise
        except AirpictureError as exc:
            console.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True, soft_wrap=True)
            raise typer.Exit(exc.exit_code)
        except KeyboardInterrupt:
            console.print("[yellow]interrupted[/]")
            raise typer.Exit(130)
        except Exception as exc:  # a bug: still no traceback unless asked for
            if os.environ.get("AIRPICTURE_DEBUG"):
                traceback.print_exc()
            console.print(f"[bold red]internal error:[/] {type(exc).__name__}: {exc} "
                          "(set AIRPICTURE_DEBUG=1 for the traceback)", highlight=False)
            raise typer.Exit(1)

    return wrapper


@app.command("scenarios")
@_reports_errors
def scenarios_command() -> None:
    """List the built-in scenarios."""
    from rich.table import Table

    from .scenario.builtin import list_builtin

    table = Table(title="built-in scenarios")
    table.add_column("name", style="bold")
    table.add_column("description")
    for name, description in list_builtin():
        table.add_row(name, description)
    out.print(table)


def _run(scenario_ref: str, out_dir: Optional[Path], no_serve: bool, seed: Optional[int],
         duration: Optional[float], keystore: Optional[Path] = None, no_keys: bool = False,
         cot: Optional[List[str]] = None, asterix: Optional[List[str]] = None, no_record: bool = False,
         serve: Optional[dict] = None, resume: bool = False) -> None:
    from .pipeline import default_out_dir, print_summary, run_scenario
    from .scenario.loader import load_scenario

    scenario = load_scenario(scenario_ref)
    resume_after = None
    if resume:  # docs/recording.md, "Resuming a run": the recorded configuration, the frames after the last one
        from .errors import InputError
        from .recording import FILE_NAME
        from .recording.resume import check_resume

        if out_dir is None:
            raise InputError("needs -o OUT: the folder of the run to continue", field="--resume")
        if no_record:
            raise InputError("--resume continues a recording: not with --no-record", field="--resume")
        point = check_resume(out_dir / FILE_NAME, scenario, seed=seed, duration=duration,
                             keystore="none" if no_keys else ("day key" if keystore is None else "key store"))
        seed, duration = None, None
        resume_after = float("-inf") if point["last_time"] is None else point["last_time"]
        console.print(f"[dim]resuming {out_dir / FILE_NAME}: {point['frames']} frames recorded (to t = "
                      f"{0.0 if point['last_time'] is None else point['last_time']:g} s); seed {scenario.seed}, "
                      f"{scenario.duration_s:g} s[/]", highlight=False, soft_wrap=True)
    if seed is not None:
        scenario.seed = seed
    if duration is not None:
        if duration <= 0:
            from .errors import InputError

            raise InputError("must be positive", field="--duration")
        scenario.duration_s = float(duration)
    if keystore is not None and no_keys:
        from .errors import InputError

        raise InputError("choose one of --keystore and --no-keys", field="--no-keys")
    target = out_dir if out_dir is not None else default_out_dir(scenario.name)
    outputs = _output_sinks(cot, asterix, scenario)
    live = _Live(no_serve, **(serve or {}), what="simulation")
    try:
        summary = run_scenario(scenario, target, show_progress=True, sinks=_joined(live.sinks, outputs),
                               controls=live.controls, record=not no_record, resume_after=resume_after,
                               keystore="none" if no_keys else (None if keystore is None else str(keystore)))
        print_summary(summary, target, out)
        _print_sinks(summary)
        live.serve_on()
    finally:
        live.stop()


# --------------------------------------------------------------------------------------------- live display
class _Live:
    """The live display of one command (docs/web.md): the picture store and pacer as sinks, the operator
    controls, the service on HOST:PORT - or, with --no-serve, at most a pacer (--speed)."""

    def __init__(self, no_serve: bool, *, host: str = "127.0.0.1", port: int = 8080, allow_remote: bool = False,
                 tokens: Optional[Path] = None, speed: Optional[float] = None, exit_when_done: bool = False,
                 what: str = "simulation", pace: bool = True):
        from .errors import InputError
        from .picture import Controls, Pacer, SinkSet

        if speed is not None and not speed >= 0:
            raise InputError("must be >= 0 (0: as fast as it goes)", field="--speed")
        self.service = None
        self.exit_when_done = exit_when_done
        self.controls = None
        if no_serve:
            self.sinks = SinkSet([Pacer(speed)]) if pace and speed else None
            return
        from .web.app import UNPACED
        from .web.server import LiveService, check_bind, is_loopback

        check_bind(host, allow_remote)
        self.controls = Controls() if what == "simulation" else None
        pacer = None
        rate = None
        if pace:
            rate = DEFAULT_SPEED if speed is None else float(speed)
            pacer = Pacer(rate if rate > 0 else UNPACED)
        self.service = LiveService(host=host, port=port, allow_remote=allow_remote, tokens_path=tokens,
                                   controls=self.controls, pacer=pacer,
                                   options={"speed": rate, "exit_when_done": exit_when_done}).start()
        self.sinks = SinkSet([self.service.store] + ([pacer] if pacer is not None else []))
        tokens_file = self.service.tokens.path
        console.print(f"[dim]tokens ({'created' if self.service.tokens.created else 'read'}): {tokens_file} "
                      "(viewer, operator, admin)[/]", highlight=False, soft_wrap=True)
        if not is_loopback(host):
            console.print(f"[bold yellow]warning:[/] serving on {host}: reachable from other machines, and plain "
                          "HTTP sends the tokens in clear; put a TLS reverse proxy in front", highlight=False)
        pace_text = "" if rate is None else (f", {what} at {rate:g}x (--speed)" if rate > 0 else
                                              f", {what} as fast as it goes")
        console.print(f"[bold]live picture:[/] {self.service.token_url('operator')}{pace_text}",
                      highlight=False, soft_wrap=True)

    def serve_on(self) -> None:
        """After the run: keep serving the final picture until Ctrl-C (unless --exit-when-done)."""
        import time

        if self.service is None or self.exit_when_done:
            return
        import signal
        import threading

        previous = None
        if threading.current_thread() is threading.main_thread():
            def on_term(signum, frame):  # SIGTERM (a service manager, `kill`) stops as Ctrl-C does
                raise KeyboardInterrupt

            previous = signal.signal(signal.SIGTERM, on_term)
        try:
            console.print(f"[bold]run finished:[/] serving the final picture and its history at "
                          f"{self.service.url} until Ctrl-C", highlight=False, soft_wrap=True)
            while True:
                time.sleep(1.0)
        except KeyboardInterrupt:
            console.print("[dim]stopping the live display[/]")
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)

    def stop(self) -> None:
        if self.service is not None:
            self.service.stop()
            self.service = None


DEFAULT_SPEED = 10.0  # demo / run / replay: picture time runs 10x wall time while the display is served

SCENARIO_ARG = typer.Argument(..., help="A scenario TOML file or the name of a built-in (see `airpicture scenarios`).")
OUT_OPT = typer.Option(None, "-o", "--out", help="Output folder (default ./airpicture-out/<scenario>-<timestamp>).")
NO_SERVE_OPT = typer.Option(False, "--no-serve", help="Run headless, without serving the live display.")
SEED_OPT = typer.Option(None, "--seed", help="Override the scenario's random seed.")
DURATION_OPT = typer.Option(None, "--duration", help="Override the scenario duration (s).")
KEYSTORE_OPT = typer.Option(None, "--keystore", help="IFF key store of the unit (passphrase from "
                            "$AIRPICTURE_KEYSTORE_PASSPHRASE). Default: a fresh in-memory day key for this run.")
NO_KEYS_OPT = typer.Option(False, "--no-keys", help="Run as an export unit without IFF keys: nothing authenticates.")
COT_OPT = typer.Option(None, "--cot", help="Send the picture as Cursor-on-Target to udp://HOST:PORT, "
                       "tcp://HOST:PORT or tls://HOST:PORT?cert=PEM&key=PEM&ca=PEM (repeatable; docs/interop.md).")
ASTERIX_OPT = typer.Option(None, "--asterix", help="Send the picture as ASTERIX CAT062 to udp://HOST:PORT[?sac=N&sic=N"
                           "&sid=N] (repeatable; docs/interop.md).")
RADAR_SITE_OPT = typer.Option(None, "--radar-site", help="--format asterix: radar position LAT,LON,ALT (deg, deg, m) "
                              "or SAC/SIC=LAT,LON,ALT per radar (repeatable); default: the capture's CAT034 I034/120.")


def _output_sinks(cot, asterix, scenario=None):
    """A SinkSet of the --cot / --asterix / scenario [outputs] sinks, or None when there are none."""
    from .interop import sinks_from_options
    from .picture import SinkSet

    sinks = sinks_from_options(cot=cot or [], asterix=asterix or [], scenario=scenario)
    return SinkSet(sinks) if sinks else None


def _print_sinks(summary: dict) -> None:
    for name, c in (summary.get("sinks") or {}).items():
        if "sent" in c:
            console.print(f"[dim]{name}: {c.get('sent', 0):,} sent, {c.get('dropped', 0):,} dropped, "
                          f"{c.get('errors', 0):,} errors, {c.get('reconnects', 0):,} reconnects"
                          + (f" ({c['first_error']})" if c.get("first_error") else "") + "[/]", highlight=False)
NO_RECORD_OPT = typer.Option(False, "--no-record", help="Do not record the run into OUT/airpicture.duckdb.")
HOST_OPT = typer.Option("127.0.0.1", "--host", help="Serve the live display on this address (loopback unless "
                       "--allow-remote).")
PORT_OPT = typer.Option(8080, "--port", help="Port of the live display (0: any free port).")
ALLOW_REMOTE_OPT = typer.Option(False, "--allow-remote", help="Allow --host to be a non-loopback address (prints a "
                                "warning).")
TOKENS_OPT = typer.Option(None, "--tokens", help="Tokens file of the live display (default "
                          "$XDG_CONFIG_HOME/airpicture/tokens.json, created 0600 at first start).")
SPEED_OPT = typer.Option(None, "--speed", help=f"Picture time per wall time while serving (default {DEFAULT_SPEED:g}; "
                         "0: as fast as it goes). With --no-serve: unpaced unless given.")
RESUME_OPT = typer.Option(False, "--resume", help="Continue the run recorded in -o OUT after a crash: the recorded "
                          "seed and duration, simulated again from the start, the frames not yet recorded appended.")
EXIT_OPT = typer.Option(False, "--exit-when-done", help="Stop serving when the run ends (scripts, tests) instead of "
                        "keeping the final picture up until Ctrl-C.")


@app.command("run")
@_reports_errors
def run_command(scenario: str = SCENARIO_ARG, out_dir: Optional[Path] = OUT_OPT,
                no_serve: bool = NO_SERVE_OPT, seed: Optional[int] = SEED_OPT,
                duration: Optional[float] = DURATION_OPT, keystore: Optional[Path] = KEYSTORE_OPT,
                no_keys: bool = NO_KEYS_OPT, cot: Optional[List[str]] = COT_OPT,
                asterix: Optional[List[str]] = ASTERIX_OPT, no_record: bool = NO_RECORD_OPT,
                host: str = HOST_OPT, port: int = PORT_OPT, allow_remote: bool = ALLOW_REMOTE_OPT,
                tokens: Optional[Path] = TOKENS_OPT, speed: Optional[float] = SPEED_OPT,
                exit_when_done: bool = EXIT_OPT, resume: bool = RESUME_OPT) -> None:
    """Run a scenario: simulate sensors, track, identify, score, serve the live picture (http://127.0.0.1:8080);
    write summary.json, tracks.parquet, picture.png, identity.json, and record it (OUT/airpicture.duckdb)."""
    _run(scenario, out_dir, no_serve, seed, duration, keystore, no_keys, cot, asterix, no_record,
         dict(host=host, port=port, allow_remote=allow_remote, tokens=tokens, speed=speed,
              exit_when_done=exit_when_done), resume=resume)


@app.command("demo")
@_reports_errors
def demo_command(out_dir: Optional[Path] = OUT_OPT, no_serve: bool = NO_SERVE_OPT,
                 seed: Optional[int] = SEED_OPT, keystore: Optional[Path] = KEYSTORE_OPT,
                 no_keys: bool = NO_KEYS_OPT, cot: Optional[List[str]] = COT_OPT,
                 asterix: Optional[List[str]] = ASTERIX_OPT, no_record: bool = NO_RECORD_OPT,
                 host: str = HOST_OPT, port: int = PORT_OPT, allow_remote: bool = ALLOW_REMOTE_OPT,
                 tokens: Optional[Path] = TOKENS_OPT, speed: Optional[float] = SPEED_OPT,
                 exit_when_done: bool = EXIT_OPT, duration: Optional[float] = DURATION_OPT,
                 resume: bool = RESUME_OPT) -> None:
    """Run the built-in demo: a defended coastal airbase, its radars and EO tracker, mixed traffic; the live
    picture at http://127.0.0.1:8080 (10x real time; --speed); recorded into OUT/airpicture.duckdb."""
    _run("demo", out_dir, no_serve, seed, duration, keystore, no_keys, cot, asterix, no_record,
         dict(host=host, port=port, allow_remote=allow_remote, tokens=tokens, speed=speed,
              exit_when_done=exit_when_done), resume=resume)


@app.command("track")
@_reports_errors
def track_command(
    detections: Path = typer.Argument(..., help="CSV of detections: time and x,y[,z] (m) or lat,lon[,alt]."),
    output: Path = typer.Option(..., "-o", "--output", help="Output CSV of confirmed track states."),
    sigma: float = typer.Option(50.0, "--sigma", help="Measurement noise 1-sigma (m) when the file has none."),
    confirm: str = typer.Option("3/3", "--confirm", help="Confirmation rule M/N."),
    delete_after: int = typer.Option(3, "--delete-after", help="Delete a track after this many misses."),
    association: str = typer.Option("gnn", "--association", help="gnn or jpda."),
    q: float = typer.Option(0.2, "--q", help="Process noise: white acceleration 1-sigma (m/s^2); 1-5 for manoeuvring targets."),
    max_speed: float = typer.Option(350.0, "--max-speed", help="Fastest target (m/s), bounds two-point initiation."),
    gate: float = typer.Option(0.999, "--gate", help="Chi-square gate probability (< 1) or gate radius in metres (>= 1)."),
    pd: float = typer.Option(0.9, "--pd", help="Detection probability (JPDA and track score)."),
    score_confirm: Optional[float] = typer.Option(
        None, "--score-confirm", help="Confirm by log-likelihood-ratio track score above this (instead of M hits)."),
    score_delete: float = typer.Option(-3.0, "--score-delete", help="With --score-confirm: delete below this score."),
    as_json: bool = typer.Option(False, "--json", help="Print the run's summary (counts, timings) as JSON on stdout."),
) -> None:
    """Track a plain detection list (how users compare trackers)."""
    from .tracking.track_command import run_track

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    thresholds = None if score_confirm is None else (score_confirm, score_delete)
    with Progress(TextColumn("[bold]tracking scans"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        task = progress.add_task("track", total=None)

        def on_scan(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        summary = run_track(detections, output, sigma_m=sigma, confirm=confirm, delete_after=delete_after,
                            association=association, q=q, max_speed=max_speed, gate=gate, pd=pd,
                            score_thresholds=thresholds, on_scan=on_scan)
    if as_json:
        import json

        print(json.dumps(summary))
        return
    from .pipeline import print_track_summary

    print_track_summary(summary, output, out)


FORMAT_CHOICES = ("auto", "beast", "beast-hex", "avr", "sbs", "jsonl")

WORKERS_OPT = typer.Option(None, "--workers", help="Run on a Dask LocalCluster of this many worker processes "
                           "(default: in this process).")
SCHEDULER_OPT = typer.Option(None, "--scheduler", help="Run on an existing Dask cluster: its scheduler address, "
                             "tcp://HOST:8786 (docs/scaling.md).")


def _task_progress(what: str):
    """A rich progress bar of tasks: done, failed, remaining."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
        TimeRemainingColumn

    return Progress(TextColumn(f"[bold]{what}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[state]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                    console=console, transient=True)




@app.command("replay")
@_reports_errors
def replay_command(
    files: list[Path] = typer.Argument(..., help="Recordings: Beast (binary or hex text), AVR, SBS or jet1090 JSON "
                                                 "lines (gzip read transparently); a pcap / raw file of ASTERIX "
                                                 "CAT048; or an airpicture recording (OUT/airpicture.duckdb), "
                                                 "played back. Several transponder files are several recordings, "
                                                 "each replayed on its own."),
    format: str = typer.Option("auto", "--format", help="auto, beast, beast-hex, avr, sbs, jsonl or asterix "
                                                        "(auto picks asterix for a pcap)."),
    reference: Optional[str] = typer.Option(
        None, "--reference", help="Receiver position LAT,LON (degrees): local CPR decodes and surface positions."),
    out_dir: Optional[Path] = typer.Option(
        None, "-o", "--out", help="Output folder (default ./airpicture-out/replay-<file>-<timestamp>); with several "
                                  "files one sub-folder per file."),
    no_serve: bool = NO_SERVE_OPT,
    radar_site: Optional[List[str]] = RADAR_SITE_OPT,
    cot: Optional[List[str]] = COT_OPT,
    asterix: Optional[List[str]] = ASTERIX_OPT,
    no_record: bool = NO_RECORD_OPT,
    workers: Optional[int] = typer.Option(None, "--workers", help="Split by aircraft address over a Dask "
                                          "LocalCluster of this many worker processes (docs/scaling.md)."),
    scheduler: Optional[str] = SCHEDULER_OPT,
    partitions: Optional[int] = typer.Option(None, "--partitions", help="Address partitions per file (default "
                                             "2 x workers; in process 1)."),
    host: str = HOST_OPT, port: int = PORT_OPT, allow_remote: bool = ALLOW_REMOTE_OPT,
    tokens: Optional[Path] = TOKENS_OPT, speed: Optional[float] = SPEED_OPT, exit_when_done: bool = EXIT_OPT,
) -> None:
    """Replay a transponder recording, an ASTERIX CAT048 radar capture or an airpicture recording (.duckdb): decode,
    track, serve the live picture (10x the recording's time; --speed 0 or --no-serve: as fast as it goes); write
    summary.json, tracks.parquet, picture.png and a recording. With --workers / --scheduler transponder frames are
    split by aircraft address across Dask workers and merged (headless): the same tracks as one process."""
    from .cluster import check_workers
    from .errors import InputError
    from .pipeline import default_out_dir
    from .recording import is_duckdb_file
    from .replay import parse_reference

    if format not in FORMAT_CHOICES + ("asterix",):
        raise InputError(f"unknown format '{format}' (known: {', '.join(FORMAT_CHOICES + ('asterix',))})",
                         field="--format")
    check_workers(workers, scheduler)
    if partitions is not None and partitions < 1:
        raise InputError(f"{partitions}: must be at least 1", field="--partitions")
    file = files[0]
    partitioned = len(files) > 1 or workers is not None or scheduler is not None or partitions is not None
    recording = not partitioned and (file.suffix == ".duckdb" or is_duckdb_file(file))
    asterix_in = not partitioned and not recording and (format == "asterix" or (format == "auto" and _is_pcap(file)))
    if radar_site and not asterix_in:
        raise InputError("only for --format asterix", field="--radar-site")
    if partitioned:
        if format == "asterix":
            raise InputError("a partitioned replay takes transponder recordings only", field="--format")
        _replay_partitioned(files, out_dir, format, parse_reference(reference), partitions, workers, scheduler)
        return
    ref = None if recording or asterix_in else parse_reference(reference)
    stem = file.name.split(".")[0] or "input"
    target = out_dir if out_dir is not None else default_out_dir(f"replay-{stem}")
    live = _Live(no_serve, host=host, port=port, allow_remote=allow_remote, tokens=tokens, speed=speed,
                 exit_when_done=exit_when_done, what="recording" if recording else "replay")
    try:
        outputs = _output_sinks(cot, asterix)
        if recording:  # an airpicture recording, played back through the display and the outputs
            from .recording.cli import replay_recording

            replay_recording(file, sinks=_joined(live.sinks, outputs), console=out)
        elif asterix_in:  # radar plots, not transponder frames
            from .interop.radar_replay import print_asterix_report, replay_asterix

            summary = replay_asterix(file, target, radar_sites=radar_site or [], sinks=_joined(live.sinks, outputs))
            print_asterix_report(summary, out)
            _print_sinks(summary)
        else:
            _replay_one(file, target, format, ref, sinks=_joined(live.sinks, outputs), record=not no_record)
        live.serve_on()
    finally:
        live.stop()


def _replay_partitioned(files, out_dir, format, ref, partitions, workers, scheduler) -> None:
    from .partition import print_report, replay_files
    from .pipeline import default_out_dir

    stem = files[0].name.split(".")[0] or "input"
    target = out_dir if out_dir is not None else default_out_dir(f"replay-{stem}")
    with _task_progress("replaying") as progress:
        task = progress.add_task("partitions", total=None, state="")

        def on_progress(done: int, failed: int, total: int) -> None:
            progress.update(task, completed=done, total=total,
                            state=f"{done - failed} partitions done, {failed} failed, {total - done} remaining")

        report = replay_files(files, target, parts=partitions, workers=workers, scheduler=scheduler,
                              format=format, reference=ref, on_progress=on_progress)
    print_report(report, out)


def _joined(*sets):
    """One SinkSet of the sinks of several (None skipped), or None when there are none."""
    from .picture import SinkSet

    sinks = [s for ss in sets if ss for s in ss.sinks]
    return SinkSet(sinks) if sinks else None


def _replay_one(file: Path, target: Path, format: str, ref, *, sinks=None, record: bool = True) -> None:
    from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn,
                               TransferSpeedColumn)

    from .replay import print_replay_report, replay_file

    with Progress(TextColumn("[bold]replaying"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  TimeElapsedColumn(), console=console, transient=True, disable=not console.is_terminal) as progress:
        task = progress.add_task("replay", total=None)

        def on_chunk(done: int, total) -> None:
            progress.update(task, completed=done, total=total)

        summary = replay_file(file, target, format=format, reference=ref, progress=on_chunk, sinks=sinks,
                              record=record)
    print_replay_report(summary, out)
    _print_sinks(summary)


@app.command("ingest")
@_reports_errors
def ingest_command(
    url: str = typer.Argument(..., help="The live feed: tcp://HOST:PORT (readsb / dump1090: 30002 AVR, 30003 SBS, "
                                        "30005 Beast)."),
    format: str = typer.Option("auto", "--format", help="auto (sniffed on each connection), beast, beast-hex, avr, "
                                                        "sbs or jsonl."),
    reference: Optional[str] = typer.Option(
        None, "--reference", help="Receiver position LAT,LON (degrees): local CPR decodes and surface positions."),
    out_dir: Optional[Path] = typer.Option(
        None, "-o", "--out", help="Output folder (default ./airpicture-out/ingest-<host>-<port>-<timestamp>)."),
    no_serve: bool = NO_SERVE_OPT,
    duration: Optional[float] = typer.Option(None, "--duration", help="Stop after this many seconds."),
    max_messages: Optional[int] = typer.Option(None, "--max-messages", help="Stop after this many messages."),
    read_timeout: float = typer.Option(10.0, "--read-timeout",
                                       help="Reconnect when the feed is silent this long (s)."),
    cot: Optional[List[str]] = COT_OPT,
    asterix: Optional[List[str]] = ASTERIX_OPT,
    no_record: bool = NO_RECORD_OPT,
    host: str = HOST_OPT, port: int = PORT_OPT, allow_remote: bool = ALLOW_REMOTE_OPT,
    tokens: Optional[Path] = TOKENS_OPT, exit_when_done: bool = EXIT_OPT,
    max_queue_frames: int = typer.Option(
        50_000, "--max-queue-frames",
        help="At most this many received frames wait for the picture; beyond it the lowest-priority frames "
             "are shed and counted (new/unknown aircraft first, emergencies and identified tracks last)."),
) -> None:
    """Follow a live transponder feed, keep the picture across reconnects, serve it live; on Ctrl-C / SIGTERM /
    --duration / --max-messages write summary.json, tracks.parquet, picture.png (and the recording)."""
    from .errors import InputError
    from .ingest import ingest_feed, parse_feed_url, print_ingest_report, status_line, status_table
    from .pipeline import default_out_dir
    from .replay import parse_reference

    if format not in FORMAT_CHOICES:
        raise InputError(f"unknown format '{format}' (known: {', '.join(FORMAT_CHOICES)})", field="--format")
    feed_host, feed_port = parse_feed_url(url)
    ref = parse_reference(reference)
    for name, value in (("--duration", duration), ("--max-messages", max_messages), ("--read-timeout", read_timeout),
                        ("--max-queue-frames", max_queue_frames)):
        if value is not None and not value > 0:
            raise InputError("must be positive", field=name)
    target = out_dir if out_dir is not None else default_out_dir(f"ingest-{feed_host.replace(':', '_')}-{feed_port}")
    outputs = _output_sinks(cot, asterix)
    display = _Live(no_serve, host=host, port=port, allow_remote=allow_remote, tokens=tokens,
                    exit_when_done=exit_when_done, what="live", pace=False)
    try:
        sinks = _joined(display.sinks, outputs)
        if console.is_terminal:
            from rich.live import Live

            with Live(console=console, transient=True, refresh_per_second=4) as live:
                summary = ingest_feed(url, target, format=format, reference=ref, duration=duration,
                                      max_messages=max_messages, read_timeout=read_timeout, sinks=sinks,
                                      record=not no_record, max_queue_frames=max_queue_frames,
                                      on_status=lambda status: live.update(status_table(status)))
        else:  # a log: one plain line every 10 s
            summary = ingest_feed(url, target, format=format, reference=ref, duration=duration,
                                  max_messages=max_messages, read_timeout=read_timeout, status_interval_s=10.0,
                                  sinks=sinks, record=not no_record, max_queue_frames=max_queue_frames,
                                  on_status=lambda status: status["final"] or console.print(
                                      status_line(status), highlight=False, markup=False, soft_wrap=True))
        print_ingest_report(summary, out)
        _print_sinks(summary)
        display.serve_on()
    finally:
        display.stop()


def _is_pcap(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError:
        return False
    return head in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")


@app.command("montecarlo")
@_reports_errors
def montecarlo_command(
    scenario: str = SCENARIO_ARG,
    runs: int = typer.Option(..., "--runs", help="Number of replications."),
    workers: Optional[int] = WORKERS_OPT,
    scheduler: Optional[str] = SCHEDULER_OPT,
    out_dir: Optional[Path] = typer.Option(
        None, "-o", "--out", help="Output folder (default ./airpicture-out/montecarlo-<scenario>-<timestamp>)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Base seed (default: the scenario's); run i gets "
                                       "SeedSequence(base, spawn_key=(i,))."),
    duration: Optional[float] = typer.Option(None, "--duration", help="Shorten every run to this many seconds."),
) -> None:
    """Monte Carlo study: N runs of a scenario with derived seeds; mean and 95 % CI of SIAP, ID-SIAP, GOSPA and
    alert lead times; writes montecarlo.json, runs.parquet, lead_times.parquet, metrics.png, lead_times.png."""
    from .cluster import check_workers
    from .errors import InputError
    from .montecarlo import print_report, run_study
    from .pipeline import default_out_dir
    from .scenario.loader import load_scenario

    if runs < 1:
        raise InputError(f"{runs}: must be at least 1", field="--runs")
    check_workers(workers, scheduler)
    sc = load_scenario(scenario)
    target = out_dir if out_dir is not None else default_out_dir(f"montecarlo-{sc.name}")
    with _task_progress(f"montecarlo {sc.name}") as progress:
        task = progress.add_task("runs", total=runs, state="")

        def on_progress(done: int, failed: int, total: int) -> None:
            progress.update(task, completed=done + failed,
                            state=f"{done} done, {failed} failed, {total - done - failed} remaining")

        def on_failure(record: dict) -> None:
            progress.console.print(f"[red]run {record['run']} (seed {record['seed']}) failed:[/] {record['error']}",
                                   highlight=False, soft_wrap=True)

        result = run_study(sc, runs, target, base_seed=seed, duration_s=duration, workers=workers,
                           scheduler=scheduler, on_progress=on_progress, on_failure=on_failure)
    print_report(result, out)
    if result["succeeded"] == 0:
        console.print(f"[bold red]error:[/] all {runs} runs failed; the first: {result['failures'][0]['error']}",
                      highlight=False, soft_wrap=True)
        raise typer.Exit(1)


@app.command("coverage")
@_reports_errors
def coverage_command(
    scenario: str = SCENARIO_ARG,
    workers: Optional[int] = WORKERS_OPT,
    scheduler: Optional[str] = SCHEDULER_OPT,
    out_dir: Optional[Path] = typer.Option(
        None, "-o", "--out", help="Output folder (default ./airpicture-out/coverage-<scenario>-<timestamp>)."),
    classes: Optional[str] = typer.Option(None, "--classes", help="Target classes, comma separated, or 'all' "
                                          "(default: the classes in the scenario)."),
    range_max_km: Optional[float] = typer.Option(None, "--range-max-km", help="Grid range from the reference "
                                                 "(default: the farthest sensor reach)."),
    ranges: int = typer.Option(150, "--ranges", help="Range samples."),
    altitude_max_m: float = typer.Option(12000.0, "--altitude-max-m", help="Highest altitude (m above sea level)."),
    altitudes: int = typer.Option(60, "--altitudes", help="Altitude samples (finer near the ground)."),
    bearings: int = typer.Option(8, "--bearings", help="Bearings from the reference, averaged."),
    reference: Optional[str] = typer.Option(None, "--reference", help="Grid origin LAT,LON (degrees; default: "
                                            "the first radar)."),
) -> None:
    """Coverage study: single-look Pd and first-detection range per target class over range x altitude, per
    sensor and fused; writes coverage.json, coverage.parquet, first_detection.parquet and PNGs."""
    from .cluster import check_workers
    from .coverage import print_report, run_coverage
    from .pipeline import default_out_dir
    from .replay import parse_reference
    from .scenario.classes import TARGET_CLASSES
    from .scenario.loader import load_scenario

    check_workers(workers, scheduler)
    ref = parse_reference(reference)
    sc = load_scenario(scenario)
    chosen = None
    if classes:
        chosen = sorted(TARGET_CLASSES) if classes.strip() == "all" else [c.strip() for c in classes.split(",")
                                                                          if c.strip()]
    target = out_dir if out_dir is not None else default_out_dir(f"coverage-{sc.name}")
    with _task_progress(f"coverage {sc.name}") as progress:
        task = progress.add_task("blocks", total=None, state="")

        def on_progress(done: int, failed: int, total: int) -> None:
            progress.update(task, completed=done + failed, total=total,
                            state=f"{done} blocks done, {failed} failed, {total - done - failed} remaining")

        result = run_coverage(sc, target, classes=chosen,
                              range_max_m=None if range_max_km is None else range_max_km * 1000.0, ranges=ranges,
                              altitude_max_m=altitude_max_m, altitudes=altitudes, bearings=bearings, reference=ref,
                              workers=workers, scheduler=scheduler, on_progress=on_progress)
    print_report(result, out)


@app.command("explain")
@_reports_errors
def explain_command(
    track_id: str = typer.Argument(..., help="Track number (17 or T17)."),
    out_dir: Optional[Path] = typer.Option(
        None, "-o", "--out", help="Run folder (or its identity.json); default: the latest run under ./airpicture-out."),
    as_json: bool = typer.Option(False, "--json", help="Print the track's identity record as JSON."),
) -> None:
    """Why a track has its identity: the rule, the evidence, the class, flags, overrides and history."""
    from .identity.explain import explain

    print(explain(track_id, out_dir, as_json=as_json))


@app.command("export")
@_reports_errors
def export_command(
    recording: Path = typer.Argument(..., help="An airpicture recording (OUT/airpicture.duckdb)."),
    parquet: Path = typer.Option(..., "--parquet", help="Folder to write one Parquet file per table into."),
) -> None:
    """Export a recording's tables (tracks, measurements, alerts, ...) to Parquet."""
    from .recording.cli import export_recording

    export_recording(recording, parquet, console=out, progress_console=console)


from .identity.keys_cli import keys_app  # noqa: E402  (imports no cryptography until a keys command runs)

app.add_typer(keys_app, name="keys")


def main() -> None:
    app()
