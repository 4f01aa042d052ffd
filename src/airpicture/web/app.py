"""The live display's HTTP / WebSocket API (docs/live.md has the table; docs/web.md the rest).

``create_app(service)`` builds the FastAPI app over a :class:`Service`: the picture store (a sink of the run), the
tokens, the run's ``Controls`` (acknowledgements, identity overrides) and its ``Pacer`` (playback). FastAPI
generates the OpenAPI description at ``/openapi.json`` (and the interactive page at ``/docs``).
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from fastapi import Depends, FastAPI, HTTPException, Path as PathParam, Query, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.security import APIKeyQuery, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.staticfiles import StaticFiles

from ..errors import InputError
from .auth import ROLES, Tokens
from .store import HEARTBEAT_S, PictureStore, dumps, records

STATIC_DIR = Path(__file__).with_name("static")
MAX_BODY_BYTES = 64 * 1024      # request bodies above this get 413
# a track number is a 64-bit integer: a larger one in a path is a 422, not an OverflowError (500) in the engines
TRACK_ID = PathParam(..., ge=-(2**63), le=2**63 - 1, description="track number")
MAX_WS_MESSAGE_BYTES = 64 * 1024
MAX_CLIENTS = 200               # WebSocket clients at once
MAX_TEXT = 500                  # characters of a who / why / identity text
# The page's scripts, styles, images and WebSocket come from this service only; no inline script (text from
# outside - callsigns, rule reasons - can never run). Inline styles stay: Leaflet positions its layers with them.
CSP = (b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
       b"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       b"frame-ancestors 'none'")
UNPACED = 1e6                   # a pacer this fast never sleeps: "as fast as it goes", but pausable
RAW_FRAMES = True               # write each message's shared, pre-built frame to the socket (see _Sender)


class JSONResponse(Response):
    """JSON through orjson (NaN -> null; fast for big pictures)."""

    media_type = "application/json"

    def render(self, content) -> bytes:
        return dumps(content)


@dataclass
class Service:
    """What the app serves: the store, the tokens, the run's controls and pacer, the service's options."""

    store: PictureStore
    tokens: Tokens
    controls: object | None = None      # picture.Controls
    pacer: object | None = None         # picture.Pacer
    options: dict = field(default_factory=dict)   # host, port, allow_remote, ... (shown to admins)
    allowed_hosts: tuple | None = None  # Host headers accepted (loopback binding: DNS rebinding guard)
    cursor: float | None = None         # playback: the time sought to (None: following the newest frame)
    max_clients: int = MAX_CLIENTS


# ------------------------------------------------------------------------------------------------ bodies
class AckBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    who: str | None = Field(None, max_length=MAX_TEXT, description="who acknowledges (default: the role)")


class IdentityBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    identity: str = Field(..., max_length=64, description="friend, hostile, ... (identity/standard.py)")
    why: str = Field(..., min_length=1, max_length=MAX_TEXT)
    track_class: str | None = Field(None, max_length=64)
    who: str | None = Field(None, max_length=MAX_TEXT)


class PlaybackBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["play", "pause", "seek", "speed"]
    t: float | None = Field(None, description="seek: the picture time to show")
    speed: float | None = Field(None, gt=0, le=UNPACED, description="speed: picture time per wall time")


# ------------------------------------------------------------------------------------------ middleware
class Guard:
    """Pure ASGI middleware: request body limit (413), Host check (loopback binding), security headers."""

    def __init__(self, app, *, max_body: int, allowed_hosts=None):
        self.app, self.max_body = app, int(max_body)
        self.allowed_hosts = None if allowed_hosts is None else {h.lower() for h in allowed_hosts}

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if self.allowed_hosts is not None and headers.get("host", "").lower() not in self.allowed_hosts:
            return await _plain(scope, receive, send, 421, "unexpected Host header (this service answers "
                                                           "on its loopback address only)")
        if scope["type"] == "websocket":
            return await self.app(scope, receive, send)
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                return await _plain(scope, receive, send, 400, "bad Content-Length")
            if int(length) > self.max_body:
                return await _plain(scope, receive, send, 413, f"request body over {self.max_body} bytes")
        if scope.get("method") in ("POST", "PUT", "PATCH", "DELETE"):
            # Read the body here, at most max_body bytes (chunked bodies have no length to check first), and
            # hand it on whole: the app never sees more than the limit.
            chunks, size = [], 0
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self.max_body:
                    return await _plain(scope, receive, send, 413, f"request body over {self.max_body} bytes")
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
            body = b"".join(chunks)
            delivered = False

            async def replay():
                nonlocal delivered
                if not delivered:
                    delivered = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()
        else:
            replay = receive

        async def guarded_send(message):
            if message["type"] == "http.response.start":
                extra = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                         (b"x-frame-options", b"DENY"), (b"content-security-policy", CSP)]
                if scope["path"].startswith(("/api", "/data", "/openapi")):
                    extra.append((b"cache-control", b"no-store"))
                message = {**message, "headers": list(message.get("headers", [])) + extra}
            await send(message)

        await self.app(scope, replay, guarded_send)


async def _plain(scope, receive, send, status: int, detail: str):
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008, "reason": detail[:120]})
        return
    body = dumps({"detail": detail})
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


# ------------------------------------------------------------------------------------------------ auth
_bearer = HTTPBearer(auto_error=False, description="a token from the tokens file (docs/web.md)")
_query = APIKeyQuery(name="token", auto_error=False, description="the same token in the URL (the page, the WS)")


def _role(tokens: Tokens, bearer: HTTPAuthorizationCredentials | None, query: str | None) -> str | None:
    token = bearer.credentials if bearer is not None else query
    return tokens.role_of(token)


def create_app(service: Service) -> FastAPI:
    store, tokens = service.store, service.tokens
    # No /docs or /redoc pages: they load their scripts from a CDN, and the service loads nothing from outside.
    app = FastAPI(title="airpicture live picture", version="1", default_response_class=JSONResponse,
                  docs_url=None, redoc_url=None,
                  description="The recognised air picture of a run: tracks, alerts, identities, playback. "
                              "Roles: viewer < operator < admin (docs/web.md).")

    @app.exception_handler(RequestValidationError)
    async def invalid(request, exc: RequestValidationError):
        # Our own rendering: the default one echoes the input and fails (500) on NaN / lone surrogates.
        errors = [{"loc": [str(x) for x in e.get("loc", ())], "msg": _safe(str(e.get("msg", ""))),
                   "type": str(e.get("type", ""))} for e in exc.errors()]
        return JSONResponse({"detail": errors}, status_code=422)

    def need(role: str):
        def check(bearer: HTTPAuthorizationCredentials | None = Depends(_bearer),
                  token: str | None = Depends(_query)) -> str:
            got = _role(tokens, bearer, token)
            if got is None:
                raise HTTPException(401, "a valid token is needed (Authorization: Bearer TOKEN or ?token=TOKEN)",
                                    headers={"WWW-Authenticate": "Bearer"})
            if not Tokens.allows(got, role):
                raise HTTPException(403, f"this needs the {role} role (the token is {got})")
            return got

        return check

    viewer, operator, admin = (Depends(need(r)) for r in ROLES)

    def mode() -> str | None:
        return None if store.context is None else store.context.mode

    # --------------------------------------------------------------------------------- picture
    @app.get("/api/health", tags=["service"])
    def health():
        return {"status": "ok"}

    @app.get("/api/picture", tags=["picture"])
    def picture(t: float | None = Query(None, description="a past picture time (the history kept)"),
                _role: str = viewer):
        if t is None:
            f, recs = store.latest_records()
            alerts = store.alerts_at()
        else:
            f = _frame_at(store, t)
            recs, alerts = records(f.columns), store.alerts_at(t)
        return {"time": f.time, "epoch_unix": f.epoch_unix, "mode": mode(), "tracks": recs, "alerts": alerts}

    @app.get("/api/tracks", tags=["picture"])
    def tracks(_role: str = viewer):
        f = store.frame_at(None)
        score = np.nan_to_num(np.asarray(f.columns["threat_score"], float), nan=-np.inf)
        return records(f.columns, np.argsort(-score, kind="stable"))

    @app.get("/api/tracks/{track_id}", tags=["picture"])
    def track(track_id: int = TRACK_ID, _role: str = viewer):
        f = store.frame_at(None)
        r = f.row(track_id)
        if r is None:
            raise HTTPException(404, f"track {track_id} is not in the picture")
        rec = records(f.columns, np.array([r]))[0]
        identity = None
        controls = service.controls
        if controls is not None and getattr(controls, "identity", None) is not None:
            with controls.lock:
                try:
                    identity = controls.identity.track(track_id)
                except InputError:
                    identity = None
        return {"track": rec, "history": store.trail(track_id), "identity": identity,
                "threat": {"level": rec["threat_level"], "score": rec["threat_score"], "reason": rec["threat_reason"]},
                "alerts": [a for a in store.alerts_at() if a.get("track_id") == track_id]}

    @app.get("/api/alerts", tags=["alerts"])
    def alerts(active: bool | None = Query(None, description="true: only active alerts; false: only cleared"),
               _role: str = viewer):
        return store.alerts_at(active=active)

    @app.post("/api/alerts/{alert_id}/ack", tags=["alerts"],
              responses={404: {"description": "unknown alert"}, 409: {"description": "already acknowledged"}})
    def acknowledge(alert_id: str, body: AckBody | None = None, role: str = operator):
        controls = service.controls
        who = (body.who if body is not None and body.who and body.who.strip() else role)
        if controls is None or getattr(controls, "alerts", None) is None:
            raise HTTPException(404, f"unknown alert {alert_id!r} (this picture raises no alerts)")
        with controls.lock:
            try:
                existing = controls.alerts.get(alert_id)
            except InputError:
                raise HTTPException(404, f"unknown alert {alert_id!r}") from None
            if existing.acknowledged is not None:
                raise HTTPException(409, f"alert {alert_id} was already acknowledged by {existing.acknowledged_by} "
                                         f"at t = {existing.acknowledged:g} s")
            try:
                alert = controls.acknowledge(alert_id, who)
            except InputError as exc:
                raise HTTPException(422, str(exc)) from None
        store.note_alert(alert)
        return alert

    @app.post("/api/tracks/{track_id}/identity", tags=["identity"],
              responses={404: {"description": "unknown track"}, 409: {"description": "no identification"}})
    def override(body: IdentityBody, track_id: int = TRACK_ID, role: str = operator):
        controls = service.controls
        if controls is None or getattr(controls, "identity", None) is None:
            raise HTTPException(409, "this picture has no identification to override (a transponder replay or "
                                     "feed)")
        who = body.who if body.who and body.who.strip() else role
        with controls.lock:
            try:
                record = controls.override(track_id, body.identity, who, body.why, track_class=body.track_class)
            except InputError as exc:
                raise HTTPException(404 if exc.field == "track_id" else 422, str(exc)) from None
        store.patch_track(track_id, identity=record.get("identity"), identity_reason=record.get("identity_reason"),
                          track_class=record.get("class"))
        return record

    @app.get("/api/sensors", tags=["context"])
    def sensors(_role: str = viewer):
        return [] if store.context is None else store.context.sensors

    @app.get("/api/zones", tags=["context"])
    def zones(_role: str = viewer):
        c = store.context
        return {"zones": [] if c is None else c.zones, "defended_points": [] if c is None else c.defended_points}

    # --------------------------------------------------------------------------------- playback
    def timeline() -> dict:
        start, end = store.time_range()
        pacer = service.pacer
        latest = store.frame_at(None).time
        speed = None if pacer is None or pacer.speed >= UNPACED else pacer.speed
        paused = pacer is not None and pacer.paused.is_set()
        return {"mode": mode(), "start": start, "end": end,
                "time": service.cursor if service.cursor is not None else (end if end is not None else latest),
                "playing": bool(store.live and not paused and service.cursor is None), "speed": speed,
                "live": store.live, "paused": paused, "following": service.cursor is None,
                "can_pause": pacer is not None}

    @app.get("/api/timeline", tags=["playback"])
    def get_timeline(_role: str = viewer):
        return timeline()

    @app.post("/api/playback", tags=["playback"])
    def playback(body: PlaybackBody, _role: str = operator):
        pacer = service.pacer
        if body.action == "play":
            service.cursor = None
            if pacer is not None:
                pacer.paused.clear()
        elif body.action == "pause":
            if pacer is None:
                raise HTTPException(409, "a live feed cannot be paused (seek to look at the past)")
            pacer.paused.set()
        elif body.action == "seek":
            if body.t is None or not math.isfinite(body.t):
                raise HTTPException(422, "seek needs a finite 't' (picture time, s)")
            start, end = store.time_range()
            if start is None or not start <= body.t <= end:
                raise HTTPException(422, f"t = {body.t:g} is outside the picture's history "
                                         f"[{start}, {end}] (GET /api/timeline)")
            service.cursor = float(body.t)
        else:  # speed
            if body.speed is None:
                raise HTTPException(422, "speed needs 'speed' (> 0)")
            if pacer is None:
                raise HTTPException(409, "a live feed runs at its own pace")
            pacer.speed = float(body.speed)
            pacer._start_wall = None  # re-anchor: the new speed counts from the next frame
        return timeline()

    @app.get("/api/config", tags=["service"])
    def config(_role: str = admin):
        c = store.context
        return {"name": None if c is None else c.name, "mode": mode(), "config": {} if c is None else c.config,
                "service": dict(service.options), "store": {"history_rows": store.history_rows,
                                                            "history_frames": store.history_frames,
                                                            "trail_s": store.trail_s,
                                                            "min_interval_s": store.min_interval_s,
                                                            "client_queue": store.client_queue,
                                                            **store.stats()}}

    # ----------------------------------------------------------------------------- interop outputs
    def latest_frame():
        from ..picture import PictureFrame

        f = store.frame_at(None)
        return PictureFrame(f.time, f.columns, [], None, f.epoch_unix)

    @app.get("/data/aircraft.json", tags=["outputs"])
    def aircraft_json(_role: str = viewer):
        from ..interop.tar1090 import aircraft_json as readsb_aircraft

        return readsb_aircraft(latest_frame(), store.context)

    @app.get("/api/geojson", tags=["outputs"])
    def geojson(_role: str = viewer):
        from ..interop.geojson import picture_geojson

        return picture_geojson(latest_frame(), store.context)

    # ---------------------------------------------------------------------------------- websocket
    @app.websocket("/ws")
    async def ws(websocket: WebSocket):
        token = websocket.query_params.get("token")
        auth = websocket.headers.get("authorization", "")
        if not token and auth.lower().startswith("bearer "):
            token = auth[7:].strip()
        if tokens.role_of(token) is None:
            await websocket.send_denial_response(JSONResponse({"detail": "a valid token is needed (?token=TOKEN)"},
                                                              status_code=401))
            return
        if len(store.clients) >= service.max_clients:
            await websocket.send_denial_response(JSONResponse({"detail": "too many clients"}, status_code=503))
            return
        await websocket.accept()
        client = store.add_client()
        sender = _Sender(websocket)
        tasks = []
        try:
            snapshot = await asyncio.to_thread(store.snapshot)
            await sender.send(snapshot)
            client.messages += 1
            client.bytes += len(snapshot)
            tasks = [asyncio.create_task(_send_loop(sender, store, client, snapshot.seq)),
                     asyncio.create_task(_receive_loop(websocket)),
                     asyncio.create_task(client.dropped.wait())]
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            if tasks[2] in done:  # too slow: say so if the socket still takes it, and go
                tasks[0].cancel()
                try:
                    await asyncio.wait_for(websocket.close(code=1013, reason="client too slow"), 2.0)
                except Exception:
                    pass
        except Exception:  # the client went away (or the server is stopping)
            pass
        finally:
            for t in tasks:
                t.cancel()
            store.remove_client(client)

    # ---------------------------------------------------------------------------------------- page
    @app.get("/", include_in_schema=False)
    def index():
        page = STATIC_DIR / "index.html"
        if page.is_file():
            return FileResponse(page, media_type="text/html")
        return HTMLResponse(PLACEHOLDER)

    app.mount("/", StaticFiles(directory=STATIC_DIR, html=True, check_dir=False), name="static")
    return app


def wrap(app, service: Service):
    """The app behind the guard (body limit, Host check, headers): what the server runs."""
    return Guard(app, max_body=MAX_BODY_BYTES, allowed_hosts=service.allowed_hosts)


def _safe(text: str) -> str:
    return text.encode("utf-8", "replace").decode("utf-8")[:300]


def _frame_at(store: PictureStore, t: float):
    if not math.isfinite(t):
        raise HTTPException(422, "t must be a finite picture time (s)")
    f = store.frame_at(t)
    if f is None:
        start, end = store.time_range()
        raise HTTPException(404, f"no picture at t = {t:g}: the history kept covers [{start}, {end}]")
    return f


class _Sender:
    """Sends :class:`~airpicture.web.store.Message` s to one client.

    Under uvicorn's sans-I/O websockets protocol (the one ``uvicorn[standard]`` runs) it writes the message's
    pre-built frame - the same bytes object for every client - to the connection's transport, after the same
    flow-control wait and state checks uvicorn's own ``send`` makes. That saves the per-client encode, framing and
    joins (four copies of a 6 MB delta, times 50 clients). Anything else (another server or protocol, or
    ``RAW_FRAMES = False``) goes through ``send_text``."""

    def __init__(self, websocket: WebSocket):
        self.websocket = websocket
        self.proto = _uvicorn_protocol(websocket) if RAW_FRAMES else None

    async def send(self, message) -> None:
        proto = self.proto
        if proto is None:
            await self.websocket.send_text(message.payload.decode())
            return
        await proto.writable.wait()
        if proto.disconnected or proto.close_sent or proto.transport.is_closing() or proto.conn.state.name != "OPEN":
            raise ConnectionError("the client went away")
        proto.transport.write(message.frame)


def _uvicorn_protocol(websocket: WebSocket):
    """The uvicorn protocol object under a WebSocket's ASGI ``send`` (through Starlette's wrappers), when it is the
    sans-I/O websockets one whose attributes _Sender relies on; else None."""
    f = getattr(websocket, "_send", None)
    for _ in range(8):
        proto = getattr(f, "__self__", None)
        if proto is not None:
            ok = (type(proto).__name__ == "WebSocketsSansIOProtocol"
                  and all(hasattr(proto, a) for a in ("transport", "writable", "disconnected", "close_sent", "conn")))
            return proto if ok else None
        cells = [c.cell_contents for c in (getattr(f, "__closure__", None) or ()) if callable(c.cell_contents)]
        if len(cells) != 1:
            return None
        f = cells[0]
    return None


async def _send_loop(sender: _Sender, store: PictureStore, client, last_seq: int) -> None:
    while True:
        try:
            message = await asyncio.wait_for(client.queue.get(), HEARTBEAT_S)
        except (TimeoutError, asyncio.TimeoutError):
            message = store.heartbeat()
        else:
            if message.seq <= last_seq:  # already in the snapshot
                continue
            last_seq = message.seq
        await sender.send(message)
        if message.stepped is not None:
            store.written_s.append(time.time() - message.stepped)
        client.messages += 1
        client.bytes += len(message)


async def _receive_loop(websocket: WebSocket) -> None:
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return


PLACEHOLDER = """<!doctype html><html><head><meta charset="utf-8"><title>airpicture</title></head>
<body><h1>airpicture live picture</h1><p>The front end is not built in this installation
(<code>make setup</code>). The API answers: <code>/openapi.json</code>, <code>/api/picture?token=...</code>,
WebSocket <code>/ws?token=...</code>.</p></body></html>"""
