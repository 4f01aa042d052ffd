"""The live display's server: uvicorn in a background thread of the run, started and stopped cleanly.

:class:`LiveService` is what a command starts: it checks the address (loopback unless ``allow_remote``), reads or
creates the tokens file, builds the app over a :class:`~airpicture.web.store.PictureStore` (a sink of the run) and
serves it on a socket it binds itself, so a busy port is a clear error before the run starts and port 0 gives an
ephemeral port (tests, benchmarks)::

    service = LiveService(port=0, tokens_path=tmp / "tokens.json", controls=controls).start()
    run_scenario(scenario, out, sinks=SinkSet([service.store]), controls=controls)
    ...
    service.stop()
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time

from ..errors import InputError
from .auth import Tokens
from .store import PictureStore

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
USER_TIMEOUT_MS = 30_000


def is_loopback(host: str) -> bool:
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, allow_remote: bool) -> None:
    """Refuse (InputError, exit 2) to serve on a non-loopback address without an explicit ``--allow-remote``."""
    if not is_loopback(host) and not allow_remote:
        raise InputError(f"refusing to serve the live picture on {host}, which is not a loopback address: anyone "
                         "who can reach it and holds a token sees the picture. Add --allow-remote to do so on "
                         "purpose, or use --host 127.0.0.1", field="--host")


def _bind(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise InputError(f"cannot resolve {host}: {exc}", field="--host") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if hasattr(socket, "TCP_USER_TIMEOUT"):
        # Accepted connections inherit it: a peer that takes no data for this long (a WebSocket client that
        # stopped reading, dropped but still holding its last message in our send buffer) is reset by the kernel.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, USER_TIMEOUT_MS)
    try:
        sock.bind(addr)
    except OSError as exc:
        sock.close()
        hint = "; choose another with --port" if exc.errno in (98, 48) else ""
        raise InputError(f"cannot serve on {host}:{port}: {exc.strerror or exc}{hint}", field="--port") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


class LiveService:
    """Tokens, store, app and server of one run (see the module docstring)."""

    def __init__(self, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, allow_remote: bool = False,
                 tokens_path=None, controls=None, pacer=None, store: PictureStore | None = None,
                 options: dict | None = None, max_clients: int | None = None):
        check_bind(host, allow_remote)
        self.host, self.port, self.allow_remote = host, int(port), bool(allow_remote)
        self.tokens = Tokens.load_or_create(tokens_path)
        self.store = store if store is not None else PictureStore()
        self.controls, self.pacer = controls, pacer
        self.options = dict(options or {})
        self.max_clients = max_clients
        self._server = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        if host in ("0.0.0.0", "[::]"):
            host = socket.gethostname()
        return f"http://{host}:{self.port}/"

    def token_url(self, role: str = "operator") -> str:
        return f"{self.url}?token={self.tokens.token(role)}"

    def start(self, timeout: float = 15.0) -> "LiveService":
        import uvicorn

        from .app import MAX_WS_MESSAGE_BYTES, Service, create_app, wrap

        self._sock = _bind(self.host, self.port)
        self.port = self._sock.getsockname()[1]
        allowed = None
        if not self.allow_remote:  # DNS rebinding guard: only the loopback names of this port
            names = {self.host.strip("[]"), "localhost", "127.0.0.1", "::1"}
            allowed = tuple(f"[{n}]:{self.port}" if ":" in n else f"{n}:{self.port}" for n in names)
            if self.port == 80:
                allowed += tuple(f"[{n}]" if ":" in n else n for n in names)
        service = Service(store=self.store, tokens=self.tokens, controls=self.controls, pacer=self.pacer,
                          options={"host": self.host, "port": self.port, "allow_remote": self.allow_remote,
                                   "tokens_file": str(self.tokens.path), **self.options},
                          allowed_hosts=allowed)
        if self.max_clients is not None:
            service.max_clients = self.max_clients
        self.service = service
        app = wrap(create_app(service), service)
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                ws_max_size=MAX_WS_MESSAGE_BYTES, ws_per_message_deflate=False,
                                ws_ping_interval=20.0, ws_ping_timeout=20.0, timeout_graceful_shutdown=2,
                                limit_concurrency=512, server_header=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]},
                                        name="airpicture-web", daemon=True)
        self._thread.start()
        self.store.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the live display's server did not start")
            time.sleep(0.02)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        if self._server is not None:
            self._server.should_exit = True
            if self._thread is not None:
                self._thread.join(timeout)
                if self._thread.is_alive():
                    self._server.force_exit = True
                    self._thread.join(timeout)
        self.store.stop()
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass

    def __enter__(self) -> "LiveService":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
