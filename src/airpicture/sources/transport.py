"""Where bytes come from: files (gzip read transparently) and live TCP feeds (timeout, reconnect, backoff)."""

from __future__ import annotations

import gzip
import os
import socket
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

import numpy as np

from airpicture.errors import InputError
from airpicture.sources.batch import FrameBatch, Problems
from airpicture.sources.detect import FORMATS, detect_format, make_parser
from airpicture.sources.lines import LineParser

GZIP_MAGIC = b"\x1f\x8b"
SNIFF_BYTES = 4096
CHUNK_BYTES = 1 << 22


@dataclass
class Recording:
    """Everything read from one file: the frames, the problems met, the format used."""

    frames: FrameBatch
    problems: Problems
    format: str
    source: str


def open_binary(path: str | os.PathLike) -> BinaryIO:
    """Open a file for reading bytes, decompressing it when its first bytes are the gzip magic."""
    path = Path(path)
    try:
        handle = open(path, "rb")
    except OSError as exc:
        raise InputError(f"cannot open: {exc.strerror or exc}", source=str(path)) from None
    if handle.read(2) == GZIP_MAGIC:
        handle.close()
        return gzip.open(path, "rb")
    handle.seek(0)
    return handle


def iter_file(path: str | os.PathLike, format: str = "auto", *, start_time: float | None = None,
              problems: Problems | None = None, chunk_bytes: int = CHUNK_BYTES) -> Iterator[tuple[str, FrameBatch]]:
    """Read a recording chunk by chunk; yields ``(format, frames)`` per chunk.

    ``start_time`` places formats whose receiver counter has no date (Beast binary, AVR); by default the
    file's modification time is used as the time of its first frame.
    """
    for used, batch in _iter_file(path, format, start_time=start_time, problems=problems, chunk_bytes=chunk_bytes):
        if batch is not None:
            yield used, batch


def _iter_file(path, format, *, start_time, problems, chunk_bytes):
    """``iter_file`` that first yields ``(format, None)`` once the format is known (read_file reports it even
    when no frame is accepted)."""
    problems = problems if problems is not None else Problems()
    source = str(path)
    if start_time is None:
        try:
            start_time = os.path.getmtime(path)
        except OSError:
            start_time = None
    with open_binary(path) as handle:
        try:
            head = handle.read(SNIFF_BYTES)
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(f"unreadable (damaged gzip?): {exc}", source=source) from None
        if format == "auto":
            format = detect_format(head, source)
        elif format not in FORMATS:
            raise InputError(f"unknown format '{format}' (known: auto, {', '.join(FORMATS)})", field="format")
        parser = make_parser(format, problems, source, start_time)
        yield format, None
        data = head
        while data:
            batch = parser.feed(data)
            if len(batch):
                yield format, batch
            try:
                data = handle.read(chunk_bytes)
            except (OSError, EOFError, zlib.error):
                # a gzip cut short still gives the frames before the damage
                problems.add("damaged_gzip", f"{source}: after byte {handle.tell() if hasattr(handle, 'tell') else '?'}")
                break
        batch = parser.finish()
        if len(batch):
            yield format, batch


def read_file(path: str | os.PathLike, format: str = "auto", *, start_time: float | None = None,
              chunk_bytes: int = CHUNK_BYTES) -> Recording:
    """Read a whole recording into one ``FrameBatch``.

    Parameters
    ----------
    path : path-like
        The file; gzip-compressed files are recognised by their magic bytes.
    format : str
        ``auto`` (from the first bytes and the file name) or one of ``FORMATS``.
    start_time : float, optional
        Unix time of the first frame for formats without a date (Beast binary, AVR); default: the file's
        modification time.

    Returns
    -------
    Recording
        ``frames`` (columnar), ``problems`` (bad input counted per reason), ``format``, ``source``.
    """
    problems = Problems()
    batches, used = [], format
    for used, batch in _iter_file(path, format, start_time=start_time, problems=problems, chunk_bytes=chunk_bytes):
        if batch is not None:
            batches.append(batch)
    if used == "auto":  # nothing was read at all: an empty file
        used = detect_format(b"", str(path)) or "beast-hex"
    frames = FrameBatch.concat(batches) if batches else _empty_for(used)
    return Recording(frames=frames, problems=problems, format=used, source=str(path))


def _empty_for(format_name: str) -> FrameBatch:
    return make_parser(format_name)._empty() if format_name in ("sbs", "jsonl") else FrameBatch.empty()


class TcpFeed:
    """A live feed over TCP, parsed as it arrives.

    Each connection gets a fresh parser (a receiver restart resets its counter); problems accumulate over all
    connections. A read that waits longer than ``read_timeout`` or a closed connection ends the connection: a
    partial record left in the parser is counted as ``truncated_frame``, and the feed reconnects after a
    backoff that doubles from ``backoff_initial`` up to ``backoff_max`` and falls back once data flows again.

    Parameters
    ----------
    host, port : where the feed listens (readsb: 30002 AVR, 30003 SBS, 30005 Beast).
    format : ``auto`` (sniffed from the first bytes of each connection) or one of ``FORMATS``.
    max_connections : stop after this many connections (None: follow for ever, until ``stop()``).
    """

    def __init__(self, host: str, port: int, format: str = "auto", *, read_timeout: float = 10.0,
                 backoff_initial: float = 0.5, backoff_max: float = 30.0, max_connections: int | None = None,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep):
        if format != "auto" and format not in FORMATS:
            raise InputError(f"unknown format '{format}' (known: auto, {', '.join(FORMATS)})", field="format")
        self.host, self.port, self.format = host, int(port), format
        self.read_timeout = read_timeout
        self.backoff_initial, self.backoff_max = backoff_initial, backoff_max
        self.max_connections = max_connections
        self.clock, self.sleep = clock, sleep
        self.problems = Problems()
        self.connections = 0
        self._last_time = -np.inf  # latest frame time given out, over all connections
        self.attempts = 0
        self.detected: str | None = None
        self._stopped = False

    @property
    def url(self) -> str:
        return f"tcp://{self.host}:{self.port}"

    def stop(self) -> None:
        """Ask ``batches()`` to end after the current read."""
        self._stopped = True

    def batches(self) -> Iterator[FrameBatch]:
        """Frames as they arrive, one batch per read (empty reads are not yielded)."""
        backoff = self.backoff_initial
        while not self._stopped and (self.max_connections is None or self.connections < self.max_connections):
            self.attempts += 1
            try:
                connection = socket.create_connection((self.host, self.port), timeout=self.read_timeout)
            except OSError as exc:
                self.problems.add("connect_failed", f"{self.url}: {exc.strerror or exc}")
                self.sleep(backoff)
                backoff = min(2 * backoff, self.backoff_max)
                continue
            self.connections += 1
            got_data = False
            with connection:
                for batch in self._follow(connection):
                    got_data = True
                    yield batch
            if got_data:
                backoff = self.backoff_initial
            if self._stopped or (self.max_connections is not None and self.connections >= self.max_connections):
                break
            self.sleep(backoff)
            backoff = min(2 * backoff, self.backoff_max)

    def _new_parser(self, format_name: str, source: str):
        """A parser for one connection. The Beast binary receiver counter has no date and is anchored to the
        receive time; a later connection is anchored no earlier than the previous one's last frame, so a feed
        served faster than real time (a recording) does not step back in time on a reconnect."""
        anchor = None
        if format_name == "beast" and self._last_time > self.clock():
            anchor = self._last_time
        return make_parser(format_name, self.problems, source, anchor)

    def _follow(self, connection: socket.socket) -> Iterator[FrameBatch]:
        source = f"{self.url} (connection {self.connections})"
        parser = None if self.format == "auto" else self._new_parser(self.format, source)
        head = b""
        while not self._stopped:
            try:
                data = connection.recv(1 << 16)
            except socket.timeout:
                self.problems.add("read_timeout", source)
                break
            except OSError as exc:
                self.problems.add("connection_error", f"{source}: {exc.strerror or exc}")
                break
            if not data:
                self.problems.add("connection_closed", source)
                break
            now = self.clock()
            if parser is None:
                head += data
                try:
                    found = detect_format(head, final=len(head) >= SNIFF_BYTES)
                except InputError:
                    self.problems.add("unknown_format", f"{source}: first bytes {head[:40]!r}")
                    break
                if found is None:
                    continue
                self.detected = found
                parser = self._new_parser(found, source)
                data, head = head, b""
            batch = parser.feed(data, now)
            if len(batch):
                self._last_time = max(self._last_time, float(np.max(batch.time)))
                yield batch
        if parser is None:
            return
        if isinstance(parser, LineParser):
            # a line cut by the end of the connection is counted, never parsed as if it were whole; frames the
            # time guard still holds (an unconfirmed run of off times) are decided
            batch = parser.end_of_connection()
        else:
            batch = parser.finish(self.clock())  # emits complete records, counts a cut one as truncated_frame
        if len(batch):
            self._last_time = max(self._last_time, float(np.max(batch.time)))
            yield batch
