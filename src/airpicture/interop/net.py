"""Sending picture messages to a network destination without ever holding up the picture.

A :class:`Sender` owns one destination (``udp://``, ``tcp://`` or ``tls://``) and a background thread. A sink hands
it one frame's messages (:meth:`Sender.submit`) and returns at once; the thread sends them. When the destination
cannot be reached (connection refused, reset, no route) the messages of that frame are dropped and counted, and
the connection is retried with exponential backoff (``backoff_s``: first and longest delay). A queue of
``max_frames`` frames absorbs a slow peer; beyond it the oldest frame is dropped (counted).

Counters (:meth:`Sender.stats`): ``messages`` handed in, ``sent``, ``bytes``, ``dropped`` (never sent),
``errors`` (send / connect failures), ``connects`` (successful connections), ``reconnects`` (connections after
the first), ``connected`` (now).
"""

from __future__ import annotations



import os
import socket
import ssl
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from ..errors import InputError

SCHEMES = ("udp", "tcp", "tls")
TLS_OPTIONS = ("cert", "key", "ca", "insecure")
KEY_PASSWORD_ENV = "AIRPICTURE_TLS_KEY_PASSWORD"


@dataclass
class Destination:
    """A parsed output URL: ``scheme://host:port[?cert=PEM&key=PEM&ca=PEM&insecure=1]`` (TLS options only)."""

    scheme: str
    host: str
    port: int
    options: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"


def parse_destination(url: str, *, schemes=SCHEMES, field: str = "url", source: str | None = None,
                      line: int | None = None) -> Destination:
    """``udp://host:port`` / ``tcp://host:port`` / ``tls://host:port?cert=..&key=..&ca=..`` or an InputError."""

    def bad(why: str) -> InputError:
        return InputError(f"{why} in {url!r} (expected {' / '.join(s + '://HOST:PORT' for s in schemes)})",
                          source=source, line=line, field=field)

    if not isinstance(url, str) or "://" not in url:
        raise bad("no scheme")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise bad(str(exc)) from None
    scheme = parts.scheme.lower()
    if scheme not in schemes:
        raise bad(f"unsupported scheme '{scheme}'")
    if not parts.hostname:
        raise bad("no host")
    if port is None or not 0 < port < 65536:
        raise bad("no port (1-65535)")
    query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    if query and scheme != "tls":
        raise bad("options are only for tls://")
    unknown = sorted(set(query) - set(TLS_OPTIONS))
    if unknown:
        raise bad(f"unknown option '{unknown[0]}' (known: {', '.join(TLS_OPTIONS)})")
    for k in ("cert", "key", "ca"):
        if k in query and not os.path.isfile(query[k]):
            raise bad(f"{k} file not found: {query[k]}")
    return Destination(scheme, parts.hostname, int(port), query)


def tls_context(dest: Destination) -> ssl.SSLContext:
    """Client TLS context: the peer is verified against ``ca`` (or the system store) unless ``insecure=1``;
    ``cert`` / ``key`` present a client certificate (TAK servers require one). The key's password, if any, is
    read from $AIRPICTURE_TLS_KEY_PASSWORD, never from the URL or the configuration."""
    o = dest.options
    ctx = ssl.create_default_context(cafile=o.get("ca") or None)
    if o.get("insecure", "").lower() in ("1", "true", "yes"):
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if o.get("cert"):
        ctx.load_cert_chain(o["cert"], o.get("key") or None, password=os.environ.get(KEY_PASSWORD_ENV))
    return ctx


class Sender:
    """Background sending to one destination; see the module docstring."""

    def __init__(self, dest: Destination, *, backoff_s=(0.5, 30.0), max_frames: int = 8,
                 connect_timeout_s: float = 3.0, name: str = "sender"):
        self.dest = dest
        self.backoff_min, self.backoff_max = float(backoff_s[0]), float(backoff_s[1])
        self.connect_timeout_s = float(connect_timeout_s)
        self.counts = {"messages": 0, "sent": 0, "bytes": 0, "dropped": 0, "errors": 0, "connects": 0,
                       "reconnects": 0}
        self.first_error: str | None = None
        self._queue: deque = deque()
        self._max_frames = int(max_frames)
        self._cv = threading.Condition()
        self._stop = False
        self._sock: socket.socket | None = None
        self._addr = None
        self._backoff = self.backoff_min
        self._retry_at = 0.0
        self._ssl = tls_context(dest) if dest.scheme == "tls" else None
        self._thread = threading.Thread(target=self._run, name=f"airpicture-{name}", daemon=True)
        self._thread.start()

    # ---------------------------------------------------------------- producer side (the run's thread)
    def submit(self, messages: list[bytes]) -> None:
        with self._cv:
            self.counts["messages"] += len(messages)
            if not messages:
                return
            while len(self._queue) >= self._max_frames:
                self.counts["dropped"] += len(self._queue.popleft())
            self._queue.append(messages)
            self._cv.notify()

    def close(self, timeout_s: float = 3.0) -> None:
        """Send what is queued (up to ``timeout_s``), then stop; what is left is counted as dropped."""
        deadline = time.monotonic() + timeout_s
        with self._cv:
            while self._queue and time.monotonic() < deadline and self._thread.is_alive():
                self._cv.wait(0.05)
            self._stop = True
            self.counts["dropped"] += sum(len(m) for m in self._queue)
            self._queue.clear()
            self._cv.notify_all()
        self._thread.join(max(deadline - time.monotonic(), 0.5))
        self._disconnect()

    def stats(self) -> dict:
        with self._cv:
            out = dict(self.counts)
        out.update(destination=self.dest.url, connected=self._sock is not None, first_error=self.first_error)
        return out

    # ---------------------------------------------------------------- sending thread
    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._queue and not self._stop:
                    self._cv.wait()
                if self._stop:
                    return
                messages = self._queue.popleft()
                self._cv.notify_all()
            try:
                self._send_frame(messages)
            except Exception as exc:  # never let the sending thread die: count it and go on
                self._error(exc, "sending to")
                self._disconnect()
                with self._cv:
                    self.counts["dropped"] += len(messages)

    def _error(self, exc: BaseException, what: str) -> None:
        with self._cv:
            self.counts["errors"] += 1
            if self.first_error is None:
                self.first_error = f"{what} {self.dest.url}: {type(exc).__name__}: {exc}"

    def _send_frame(self, messages: list[bytes]) -> None:
        if self._sock is None and not self._connect():
            with self._cv:
                self.counts["dropped"] += len(messages)
            return
        for i, msg in enumerate(messages):
            try:
                if self.dest.scheme == "udp":
                    self._sock.sendto(msg, self._addr)
                else:
                    self._sock.sendall(msg)
            except OSError as exc:
                self._error(exc, "send to")
                if self.dest.scheme != "udp":  # a broken stream: drop the rest, reconnect later
                    self._disconnect()
                    self._retry_at = time.monotonic() + self._backoff
                    with self._cv:
                        self.counts["dropped"] += len(messages) - i
                    return
                with self._cv:
                    self.counts["dropped"] += 1
                continue
            with self._cv:
                self.counts["sent"] += 1
                self.counts["bytes"] += len(msg)

    def _connect(self) -> bool:
        now = time.monotonic()
        if now < self._retry_at:
            return False
        d = self.dest
        sock = None
        try:
            info = socket.getaddrinfo(d.host, d.port, type=socket.SOCK_DGRAM if d.scheme == "udp"
                                      else socket.SOCK_STREAM)[0]
            family, kind, proto, _, addr = info
            sock = socket.socket(family, kind, proto)
            if d.scheme != "udp":
                sock.settimeout(self.connect_timeout_s)
                sock.connect(addr)
                if self._ssl is not None:
                    sock = self._ssl.wrap_socket(sock, server_hostname=d.host)
                sock.settimeout(self.connect_timeout_s)  # a stalled peer must not block the thread forever
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except (OSError, ssl.SSLError) as exc:
            if sock is not None:
                sock.close()
            self._error(exc, "connect to")
            self._retry_at = now + self._backoff
            self._backoff = min(self._backoff * 2.0, self.backoff_max)
            return False
        self._sock, self._addr = sock, addr
        self._backoff = self.backoff_min
        with self._cv:
            self.counts["connects"] += 1
            if self.counts["connects"] > 1:
                self.counts["reconnects"] += 1
        return True

    def _disconnect(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass


class FrameClock:
    """The Unix time of a frame: the input's own (``epoch_unix`` + time, a recording) or, for a simulation
    (no epoch), anchored to the wall clock at the first frame seen - so receivers get current times."""

    def __init__(self):
        self._epoch: float | None = None

    def __call__(self, frame) -> float:
        if frame.epoch_unix is not None:
            return float(frame.epoch_unix) + float(frame.time)
        if self._epoch is None:
            self._epoch = time.time() - float(frame.time)
        return self._epoch + float(frame.time)
