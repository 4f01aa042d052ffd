"""Following a live transponder feed: ``airpicture ingest tcp://HOST:PORT`` (issue 3 §5).

A :class:`~airpicture.sources.TcpFeed` runs in a reader thread (it blocks in ``recv`` and reconnects with
backoff when the feed drops); the calling thread decodes and tracks what arrived with one
:class:`~airpicture.replay.TransponderPicture` for the whole run, so the picture - its tracks and their
numbers - survives every reconnect::

    run = LiveIngest("127.0.0.1", 30005, format="auto", reference=(43.63, 1.37))
    summary = run.run(duration=60, on_status=print)   # or max_messages=...; run.stop() from anywhere
    run.write_outputs(out_dir, summary)                # summary.json, tracks.parquet, picture.png

``ingest_feed`` is what the command runs (URL parsing, outputs, the error when the feed never connected).

Time: the picture's time is the input's (Unix time of Beast hex / SBS / JSON lines, or the receive clock
anchored to the receiver's counter for Beast binary and AVR). When no frame has arrived for ``quiet_s``, the
picture is advanced by the receive clock: to the latest input time plus the silence, so tracks whose aircraft
went quiet coast and are dropped as they would be if reports had kept coming for other aircraft. Short gaps
(a reconnect) do not advance it, so the frames that follow a reconnect are processed as in a replay.

See docs/ingest.md.
"""

from __future__ import annotations

import collections
import json
import math
import re
import signal
import threading
import time as _time
from pathlib import Path

import numpy as np

from .errors import InputError
from .replay import TransponderPicture, _jsonable, print_report_tail
from .shedding import DEFAULT_MAX_QUEUE_FRAMES, FrameBuffer, picture_priorities
from .sources.batch import FrameBatch
from .sources.timeline import MAX_ABS_TIME_S

#: reasons TcpFeed counts when a connection ends
CONNECTION_ENDS = ("read_timeout", "connection_closed", "connection_error", "unknown_format")
_URL = re.compile(r"^tcp://(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[A-Za-z0-9._-]+)):(?P<port>[0-9]+)/?$")


def parse_feed_url(text: str) -> tuple[str, int]:
    """``tcp://HOST:PORT`` (IPv6 as ``tcp://[::1]:30005``) -> (host, port); anything else is an InputError."""
    text = str(text).strip()
    m = _URL.match(text)
    if m is None:
        hint = " (add the scheme: tcp://HOST:PORT)" if re.match(r"^[A-Za-z0-9._-]+:[0-9]+$", text) else ""
        raise InputError(f"'{text}' is not tcp://HOST:PORT{hint}", field="URL")
    port = int(m["port"])
    if not 1 <= port <= 65535:
        raise InputError(f"port {port} is not in 1-65535", field="URL")
    return (m["v6"] or m["host"]), port


class LiveIngest:
    """One live feed decoded and tracked into one picture (see the module docstring).

    Parameters
    ----------
    host, port : the feed (readsb: 30002 AVR, 30003 SBS, 30005 Beast).
    format : ``auto`` (sniffed on each connection) or a format of ``airpicture.sources.FORMATS``.
    reference : (lat, lon) degrees of the receiver, optional.
    config : TrackerConfig, optional.
    read_timeout, backoff_initial, backoff_max : passed to ``TcpFeed`` (a silent connection is dropped after
        ``read_timeout`` and re-opened; the wait between attempts doubles up to ``backoff_max``).
    batch_interval_s : what arrived is decoded and tracked at most this often, all at once (a live feed gives
        one small batch per socket read; tracking them one by one would cost more than the data).
    quiet_s : with no frame for this long, the picture is advanced with the receive clock.
    clock : the receive clock (``time.time``).
    max_queue_frames : at most this many frames wait between the reader and the picture; beyond it frames are
        shed lowest priority first and counted (``airpicture.shedding``; summary ``overload``).
    threat : optional ``threat(states) -> bool array``: tracks whose frames are kept first under overload.
    """

    def __init__(self, host: str, port: int, *, format: str = "auto", reference=None, config=None,
                 read_timeout: float = 10.0, backoff_initial: float = 0.5, backoff_max: float = 30.0,
                 batch_interval_s: float = 0.1, quiet_s: float = 5.0, clock=_time.time, sinks=None,
                 max_queue_frames: int = DEFAULT_MAX_QUEUE_FRAMES, threat=None):
        from .sources import TcpFeed

        if isinstance(max_queue_frames, bool) or not isinstance(max_queue_frames, int) or max_queue_frames < 1:
            raise InputError(f"must be a whole number of frames >= 1, not {max_queue_frames!r}",
                             field="--max-queue-frames")

        self.clock = clock
        self._stop_event = threading.Event()
        self.feed = TcpFeed(host, port, format, read_timeout=read_timeout, backoff_initial=backoff_initial,
                            backoff_max=backoff_max, clock=clock, sleep=self._stop_event.wait)
        self.format = format
        self.picture = TransponderPicture(reference=reference, config=config, problems=self.feed.problems)
        self.sinks = sinks  # picture.SinkSet: one frame per second of input time (the display, the recorder)
        if sinks:
            from .picture import PictureContext

            sinks.open(PictureContext.of_sensors(f"ingest {host}:{port}", [self.picture.site], mode="live",
                                                 config={"input": f"tcp://{host}:{port}", "format": format}))
        self.batch_interval_s = float(batch_interval_s)
        self.quiet_s = float(quiet_s)
        self.stopped_by: str | None = None
        self.messages = 0                  # frames given to the picture
        self.input_time = -math.inf        # latest frame time fed (input time base)
        self.last_arrival = None           # receive clock of the latest batch with frames
        self.advanced_to = None            # latest time the picture was advanced to without frames
        self.started = None
        self.wall_s = 0.0
        self.buffer = FrameBuffer(max_queue_frames, problems=self.feed.problems, source=self.feed.url)
        self.threat = threat
        self.shed_pause_s = 0.005
        self._priorities_at = -math.inf    # receive clock of the last priority table given to the buffer
        self.lag_s = None                  # receive clock at the end of the last feed - arrival of its oldest frame
        self.max_lag_s = 0.0
        self._thread: threading.Thread | None = None
        self._rate = collections.deque()   # (clock, messages) samples of the last 5 s: the recent rate

    @property
    def url(self) -> str:
        return self.feed.url

    # ------------------------------------------------------------------ control
    def stop(self, reason: str = "stopped") -> None:
        """End :meth:`run` (from any thread or a signal handler): the frames already received are used."""
        if self.stopped_by is None:
            self.stopped_by = reason
        self._stop_event.set()
        self.feed.stop()

    @property
    def stopping(self) -> bool:
        return self._stop_event.is_set()

    def _reader(self) -> None:
        error = None
        try:
            for batch in self.feed.batches():
                events = self.buffer.shed_events
                self.buffer.put(batch, self.clock())
                if self.buffer.shed_events != events:
                    # overloaded: give the picture thread the interpreter for a moment instead of parsing more
                    # frames only to shed them; the socket's backpressure slows the sender meanwhile
                    self._stop_event.wait(self.shed_pause_s)
                if self._stop_event.is_set():
                    break
        except BaseException as exc:  # a bug in the reader reaches the caller, not a silent thread
            error = exc
        finally:
            self.buffer.close(error)

    # ------------------------------------------------------------------ the loop
    def run(self, *, duration: float | None = None, max_messages: int | None = None, on_status=None,
            status_interval_s: float = 0.5, handle_signals: bool = True, stop_grace_s: float = 0.25) -> dict:
        """Follow the feed until :meth:`stop`, SIGINT / SIGTERM (when called from the main thread and
        ``handle_signals``), ``duration`` seconds or ``max_messages`` frames; returns :meth:`summary`.

        ``on_status(status_dict)`` is called every ``status_interval_s`` and once at the end (``final`` True).
        """
        if duration is not None and not duration > 0:
            raise InputError("must be positive", field="--duration")
        if max_messages is not None and not max_messages > 0:
            raise InputError("must be positive", field="--max-messages")
        previous = self._install_signals() if handle_signals else {}
        self.started = self.clock()
        t_wall = _time.perf_counter()
        self._thread = threading.Thread(target=self._reader, name=f"airpicture-ingest {self.url}", daemon=True)
        self._thread.start()
        pending: list[FrameBatch] = []
        last_feed = -math.inf
        next_status = self.started
        reader_done = False
        try:
            while True:
                now = self.clock()
                if duration is not None and now - self.started >= duration:
                    self.stop("duration")
                if self.stopping:
                    break
                wait = self.batch_interval_s
                if duration is not None:
                    wait = max(0.0, min(wait, self.started + duration - now))
                if self.buffer.frames and not self.buffer.closed:
                    # frames are waiting: let more come (in the bounded buffer) until the next feed is due
                    self._stop_event.wait(max(0.0, min(wait, last_feed + self.batch_interval_s - now)))
                else:
                    self.buffer.wait(wait)
                reader_done = self.buffer.closed or reader_done
                if self.buffer.last_arrival is not None:
                    self.last_arrival = self.buffer.last_arrival
                now = self.clock()
                if self.buffer.frames and (now - last_feed >= self.batch_interval_s or reader_done):
                    self._collect(pending, 0.0)
                    oldest = self.buffer.oldest_taken
                    self._feed(pending, max_messages)
                    pending = []
                    last_feed = now
                    if oldest is not None:
                        self.lag_s = self.clock() - oldest
                        self.max_lag_s = max(self.max_lag_s, self.lag_s)
                    self._publish_priorities(now)
                if max_messages is not None and self.messages >= max_messages:
                    self.stop("max_messages")
                if reader_done and not self.stopping:
                    self.stop("feed ended")
                self._advance_if_quiet(now)
                if on_status is not None and now >= next_status:
                    on_status(self.status())
                    next_status = now + status_interval_s
            # stopping: the reader ends after its current read; use what it has delivered by then
            if self.stopped_by != "max_messages" and self._thread.is_alive() and not reader_done:
                self._thread.join(stop_grace_s)
            self._collect(pending, 0.0)
            if pending and not (max_messages is not None and self.messages >= max_messages):
                self._feed(pending, max_messages)
            self._advance_if_quiet(self.clock())
            if self.sinks:  # the reports of the open merging window, and the last frame
                self.picture.flush_held()
                self.picture.emit_frames(self.sinks, self.picture.now + 1.0)
            self.buffer.raise_error()   # a bug in the reader reaches the caller, not a silent thread
        finally:
            self.feed.stop()
            self._stop_event.set()
            self._restore_signals(previous)
            self.wall_s = _time.perf_counter() - t_wall
        if on_status is not None:
            on_status({**self.status(), "final": True})
        return self.summary()

    def _publish_priorities(self, now: float, every_s: float = 0.5) -> None:
        """Give the buffer the picture's priority table (who is tracked, identified, in an emergency), at most
        every ``every_s``: the reader sheds by it under overload."""
        if now - self._priorities_at >= every_s:
            self.buffer.set_priorities(*picture_priorities(self.picture, self.threat))
            self._priorities_at = now

    def _collect(self, pending: list, wait: float) -> bool:
        """Move what the reader delivered into ``pending`` (waiting up to ``wait`` for the first frames).
        True when the reader has ended. Frames wait in the bounded buffer, not here: ``run`` calls this only
        when it is time to feed (or to see whether the reader ended)."""
        self.buffer.wait(wait)
        done = self.buffer.done
        pending.extend(self.buffer.take_all())
        if self.buffer.last_arrival is not None:
            self.last_arrival = self.buffer.last_arrival
        return done or self.buffer.done

    def _feed(self, pending: list[FrameBatch], max_messages: int | None) -> None:
        # batches of one kind (same field columns) are concatenated; a format change starts a new group
        groups: list[list[FrameBatch]] = []
        for b in pending:
            if groups and tuple(groups[-1][0].fields) == tuple(b.fields):
                groups[-1].append(b)
            else:
                groups.append([b])
        for group in groups:
            batch = FrameBatch.concat(group) if len(group) > 1 else group[0]
            if max_messages is not None:
                room = max_messages - self.messages
                if room <= 0:
                    return
                if len(batch) > room:
                    batch = batch.take(slice(0, room))
            if self.sinks:
                self.picture.feed_framed(batch, self.sinks)
            else:
                self.picture.feed(batch)
            self.messages += len(batch)
            times = np.asarray(batch.time, np.float64)
            times = times[np.abs(times) <= MAX_ABS_TIME_S]
            if times.size:
                self.input_time = max(self.input_time, float(times.max()))
        self._sample(self.clock())

    def _sample(self, now: float) -> None:
        """Keep (clock, messages) samples covering the last 5 s (at every feed and every status)."""
        self._rate.append((now, self.messages))
        while len(self._rate) > 2 and now - self._rate[1][0] >= 5.0:
            self._rate.popleft()

    def _advance_if_quiet(self, now: float) -> None:
        if self.last_arrival is None or not math.isfinite(self.input_time):
            return
        silence = now - self.last_arrival
        if silence >= self.quiet_s:
            self.advanced_to = self.input_time + silence
            self.picture.advance(self.advanced_to)
            if self.sinks:
                self.picture.flush_held()
                self.picture.emit_frames(self.sinks, self.advanced_to)

    # ------------------------------------------------------------------ signals
    def _install_signals(self) -> dict:
        if threading.current_thread() is not threading.main_thread():
            return {}
        previous = {}

        def on_signal(signum, frame):
            name = signal.Signals(signum).name
            if self.stopping and signum == signal.SIGINT:   # a second Ctrl-C: give up at once
                raise KeyboardInterrupt
            self.stop("interrupted (Ctrl-C)" if signum == signal.SIGINT else name)

        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                previous[sig] = signal.signal(sig, on_signal)
            except (ValueError, OSError):
                pass
        return previous

    @staticmethod
    def _restore_signals(previous: dict) -> None:
        for sig, handler in previous.items():
            try:
                signal.signal(sig, handler)
            except (ValueError, OSError, TypeError):
                pass

    # ------------------------------------------------------------------ reading the run
    def connection_state(self) -> str:
        feed = self.feed
        ends = sum(feed.problems.counts.get(k, 0) for k in CONNECTION_ENDS)
        if feed.connections > ends:
            return "connected"
        return "reconnecting" if feed.connections else "connecting"

    def status(self) -> dict:
        """What the live display shows: counts, rates, connection state, problems."""
        now = self.clock()
        counts = self.picture.decoder.counts
        elapsed = now - self.started if self.started is not None else 0.0
        self._sample(now)
        t0, m0 = self._rate[0]
        rate = (self.messages - m0) / (now - t0) if now - t0 > 0.2 else None
        tab = self.picture.tracker.table
        slots = tab.active_slots()
        from .tracks import PICTURE_STATUSES

        tracks_now = int(np.count_nonzero(np.isin(tab.status[slots], PICTURE_STATUSES))) if slots.size else 0
        problems = dict(self.feed.problems.counts)
        rejected = {k: counts[k] for k in ("crc_rejected", "phantoms", "malformed", "unknown_df",
                                           "impossible_speed") if counts[k]}
        return {
            "url": self.url, "format": self.feed.detected or self.format, "state": self.connection_state(),
            "connections": self.feed.connections, "reconnects": max(0, self.feed.connections - 1),
            "connect_attempts": self.feed.attempts, "messages": self.messages, "decoded": counts["decoded"],
            "positions": counts["positions"], "aircraft": counts["aircraft"],
            "aircraft_with_positions": counts["aircraft_with_positions"], "tracks": self.picture.track_count(),
            "tracks_now": tracks_now, "rate": rate, "average_rate": self.messages / elapsed if elapsed > 0 else None,
            "elapsed_s": elapsed, "problems": problems, "rejected": rejected,
            "silent_s": None if self.last_arrival is None else now - self.last_arrival,
            "lag_s": self.lag_s, "queued": self.buffer.frames, "shed": int(sum(self.buffer.shed.values())),
            "stopped_by": self.stopped_by, "final": False,
        }

    def summary(self) -> dict:
        """The replay summary's fields (``TransponderPicture.summary``) plus the connection counters."""
        feed = self.feed
        summary = {"input": self.url, "format": feed.detected or self.format}
        summary.update(self.picture.summary(wall_s=self.wall_s or None))
        summary.update({
            "connections": feed.connections,
            "reconnects": max(0, feed.connections - 1),
            "connect_attempts": feed.attempts,
            "connect_failures": feed.problems.counts.get("connect_failed", 0),
            "disconnects": {k: feed.problems.counts[k] for k in CONNECTION_ENDS if k in feed.problems.counts},
            "stopped_by": self.stopped_by,
            "advanced_to": self.advanced_to,
            "overload": {**self.buffer.summary(), "max_lag_s": self.max_lag_s,
                         "left_at_stop": self.buffer.put_frames - self.messages - self.buffer.summary()["shed_frames"]},
        })
        summary["stage_s"] = dict(self.picture.stage_s)
        return summary

    def write_outputs(self, out_dir, summary: dict | None = None, *, title: str | None = None) -> dict:
        """``summary.json``, ``tracks.parquet``, ``picture.png`` into ``out_dir``; returns the summary written."""
        out_dir = Path(out_dir)
        summary = dict(self.summary() if summary is None else summary)
        t_out = _time.perf_counter()
        self.picture.write_outputs(out_dir, summary=summary, title=title or f"airpicture ingest - {self.url}")
        summary["stage_s"] = {**summary.get("stage_s", {}), "outputs": _time.perf_counter() - t_out}
        summary["outputs"] = {name: str(out_dir / f) for name, f in
                              (("summary", "summary.json"), ("tracks", "tracks.parquet"), ("picture", "picture.png"))}
        summary["tracks_parquet_rows"] = "update log" if self.picture.record_updates else "states"
        if self.sinks:
            self.sinks.close(summary)
            summary["sinks"] = self.sinks.summary()
        (out_dir / "summary.json").write_text(json.dumps(_jsonable(summary), indent=2) + "\n")
        return summary


def ingest_feed(url: str, out_dir, *, format: str = "auto", reference=None, duration: float | None = None,
                max_messages: int | None = None, on_status=None, status_interval_s: float = 0.5,
                handle_signals: bool = True, record: bool = True, **options) -> dict:
    """What ``airpicture ingest`` runs: follow ``url`` until stopped, then write the outputs into ``out_dir``.

    A feed that never connected raises an ``InputError`` naming the URL and why, after writing ``summary.json``
    with the counters and the error (a feed that connected but sent nothing still gets its outputs).
    ``options`` go to :class:`LiveIngest`. ``record``: also record the picture into ``OUT/airpicture.duckdb``.
    """
    host, port = parse_feed_url(url)
    if record:
        from .recording import add_recorder

        options["sinks"] = add_recorder(options.get("sinks"), out_dir)
    run = LiveIngest(host, port, format=format, reference=reference, **options)
    summary = run.run(duration=duration, max_messages=max_messages, on_status=on_status,
                      status_interval_s=status_interval_s, handle_signals=handle_signals)
    if run.feed.connections == 0:
        first = run.feed.problems.first.get("connect_failed", "")
        why = first.split(": ", 1)[1] if ": " in first else "no answer"
        message = (f"never connected: {run.feed.attempts} attempt(s) in {run.wall_s:.1f} s, "
                   f"{why} ({summary['stopped_by']})")
        summary["error"] = message
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        if run.sinks:
            run.sinks.close(summary)
        (out_dir / "summary.json").write_text(json.dumps(_jsonable(summary), indent=2) + "\n")
        raise InputError(message, source=run.url)
    return run.write_outputs(out_dir, summary)


# --------------------------------------------------------------------------- display
def _rate_text(value) -> str:
    return "-" if value is None else f"{value:,.0f} msg/s"


def status_table(status: dict):
    """The live status as a rich renderable."""
    from rich.table import Table

    s = status
    colour = {"connected": "green", "reconnecting": "yellow", "connecting": "yellow"}.get(s["state"], "white")
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    table.add_row("feed", f"{s['url']} ({s['format']}) [{colour}]{s['state']}[/]")
    table.add_row("connections", f"{s['connections']} ({s['reconnects']} reconnect(s), {s['connect_attempts']} "
                                 "attempt(s))")
    table.add_row("messages", f"{s['messages']:,} ({s['decoded']:,} decoded, {s['positions']:,} positions)")
    table.add_row("rate", f"{_rate_text(s['rate'])} now, {_rate_text(s['average_rate'])} on average")
    table.add_row("aircraft", f"{s['aircraft']} heard, {s['aircraft_with_positions']} with positions")
    table.add_row("tracks", f"{s['tracks_now']} in the picture, {s['tracks']} so far")
    problems = ", ".join(f"{k} {v:,}" for k, v in sorted(s["problems"].items())) or "none"
    rejected = ", ".join(f"{k} {v:,}" for k, v in s["rejected"].items())
    table.add_row("problems", problems + (f"; rejected: {rejected}" if rejected else ""))
    if s.get("shed"):
        lag = s.get("lag_s")
        table.add_row("overload", f"[yellow]{s['shed']:,} frames shed[/] (lowest priority first), "
                                  f"{s.get('queued', 0):,} queued" + (f", lag {lag:.1f} s" if lag is not None else ""))
    silent = s.get("silent_s")
    quiet = f", silent for {silent:.0f} s" if silent is not None and silent >= 2 else ""
    table.add_row("elapsed", f"{s['elapsed_s']:.0f} s{quiet} - Ctrl-C stops and writes the outputs")
    return table


def status_line(status: dict) -> str:
    """The live status as one plain line (for logs, when stderr is not a terminal)."""
    s = status
    problems = sum(s["problems"].values())
    return (f"ingest {s['url']} {s['state']}: {s['messages']:,} messages, {_rate_text(s['rate'])}, "
            f"{s['aircraft']} aircraft, {s['tracks_now']} tracks now ({s['tracks']} so far), "
            f"{s['connections']} connection(s), {problems:,} problem(s)"
            + (f", {s['shed']:,} shed under overload" if s.get("shed") else "") + f", {s['elapsed_s']:.0f} s")


def print_ingest_report(summary: dict, console) -> None:
    """The end report of ``airpicture ingest``."""
    s = summary
    rate = s.get("msgs_per_s")
    stage = s.get("stage_s", {})
    disconnects = ", ".join(f"{k} {v}" for k, v in (s.get("disconnects") or {}).items())
    lines = [
        f"[bold]airpicture ingest[/]: {s['input']} ({s['format']}), stopped by {s['stopped_by']}",
        f"  {s['connections']} connection(s), {s['reconnects']} reconnect(s), {s['connect_attempts']} attempt(s)"
        + (f"; ends: {disconnects}" if disconnects else ""),
        (f"  {s['messages']:,} messages, {s['decoded']:,} decoded, {s['crc_rejected']:,} CRC rejected, "
         f"{s['phantoms']:,} phantoms, {s['malformed']:,} malformed, {s['unknown_df']:,} unknown DF, "
         f"{s['impossible_speed']:,} impossible speeds"),
        (f"  {s['positions']:,} positions from {s['aircraft_with_positions']} of {s['aircraft']} aircraft -> "
         f"{s['tracks']} tracks ({s['tracks_now']} in the picture at the end)"),
        *([f"  overload: {s['overload']['shed_frames']:,} frames shed (queue bound "
            f"{s['overload']['max_queue_frames']:,}, peak {s['overload']['peak_queue_frames']:,}): "
            + ", ".join(f"{k} {v:,}" for k, v in s["overload"]["shed_by_priority"].items() if v)]
          if s.get("overload", {}).get("shed_frames") else []),
        f"  {s['wall_s']:.1f} s, {rate:,.0f} msg/s received (decode {stage.get('decode', 0):.2f} s, track "
        f"{stage.get('track', 0):.2f} s)" if rate else f"  {s['wall_s']:.1f} s",
    ]
    print_report_tail(s, lines, console)


__all__ = ["LiveIngest", "ingest_feed", "parse_feed_url", "print_ingest_report", "status_line", "status_table"]
