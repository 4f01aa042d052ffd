"""The live display's service (issue 6 §1, §3, §5), as clients see it: a real uvicorn server on an ephemeral port in
a thread, fed by a real simulated run (the demo, shortened, with a real IFF key store on disk), spoken to over real
HTTP (httpx) and real WebSockets (the websockets library).

No test asserts on wall time; waits have generous timeouts and poll for a state.
"""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import json
import os
import socket
import stat
import threading
import time

import httpx
import pytest
import websockets
from typer.testing import CliRunner

from airpicture.cli import app as cli_app
from airpicture.errors import InputError
from airpicture.identity.keystore import ENV_PASSPHRASE, KeyStore, WrapSource
from airpicture.picture import Controls, Pacer, SinkSet
from airpicture.picture.frame import COLUMNS
from airpicture.pipeline import run_scenario
from airpicture.scenario.loader import load_scenario
from airpicture.web.auth import ROLES, Tokens
from airpicture.web.server import LiveService, check_bind
from airpicture.web.store import PictureStore
from airpicture.web.synthetic import SyntheticPicture

pytestmark = pytest.mark.xdist_group("web_api")  # one service and one demo run for the module (make test)

PASSPHRASE = "correct horse battery staple web"
WAIT_S = 120.0


# -------------------------------------------------------------------------------------------------- fixtures
class Live:
    def __init__(self, service: LiveService, thread: threading.Thread, secrets: dict, result: dict):
        self.service, self.thread, self.secrets, self.result = service, thread, secrets, result
        self.base = service.url.rstrip("/")
        self.ws = self.base.replace("http://", "ws://") + "/ws"

    def token(self, role: str) -> str:
        return self.service.tokens.token(role)

    def get(self, path: str, role: str | None = "viewer", **kw) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token(role)}"} if role else {}
        return httpx.get(self.base + path, headers=headers, timeout=30, **kw)

    def post(self, path: str, role: str | None = "operator", **kw) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token(role)}"} if role else {}
        headers.update(kw.pop("headers", {}))
        return httpx.post(self.base + path, headers=headers, timeout=30, **kw)

    def finished(self) -> "Live":
        self.thread.join(WAIT_S * 3)
        assert not self.thread.is_alive(), "the run did not end"
        assert "error" not in self.result, self.result.get("error")
        _wait(lambda: self.service.store.stats()["published"] > 0 and not self.service.store._dirty)
        return self


def _wait(cond, timeout: float = WAIT_S, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """The demo (40 s of it, at 20x) with a real key store, served on an ephemeral port."""
    base = tmp_path_factory.mktemp("web")
    store_path = base / "unit.apks"
    ks = KeyStore.create(store_path, WrapSource.passphrase(PASSPHRASE), scrypt_log2_n=14)
    secrets = ks._raw_secrets_for_tests()
    ks.close()
    old = os.environ.get(ENV_PASSPHRASE)
    os.environ[ENV_PASSPHRASE] = PASSPHRASE
    controls, pacer = Controls(), Pacer(20.0)
    service = LiveService(port=0, tokens_path=base / "tokens.json", controls=controls, pacer=pacer,
                          options={"speed": 20.0}).start()
    scenario = load_scenario("demo")
    scenario.duration_s = 40.0
    result: dict = {}

    def run():
        try:
            result["summary"] = run_scenario(scenario, base / "out", show_progress=False, keystore=str(store_path),
                                             sinks=SinkSet([service.store, pacer]), controls=controls)
        except BaseException as exc:  # reported by Live.finished
            result["error"] = repr(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield Live(service, thread, secrets, result)
    thread.join(WAIT_S * 3)
    service.stop()
    if old is None:
        os.environ.pop(ENV_PASSPHRASE, None)
    else:
        os.environ[ENV_PASSPHRASE] = old


async def _recv_json(ws, timeout: float = 30.0) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


# ----------------------------------------------------------------------------------------- WebSocket
def test_websocket_sends_a_snapshot_then_deltas_that_rebuild_the_picture(tmp_path):
    """Its own short run (crossing, 60 s at 15x): a client connected from the start applies every delta to its
    snapshot and ends with exactly the picture /api/picture serves."""
    controls, pacer = Controls(), Pacer(15.0)
    with LiveService(port=0, tokens_path=tmp_path / "tokens.json", controls=controls, pacer=pacer) as service:
        url = service.url.replace("http://", "ws://") + "ws?token=" + service.tokens.token("viewer")
        scenario = load_scenario("crossing")
        scenario.duration_s = 60.0
        done = threading.Event()

        async def client():
            async with websockets.connect(url, max_size=None) as ws:
                snap = await _recv_json(ws)
                assert snap["type"] == "snapshot"
                assert {"time", "epoch_unix", "mode", "tracks", "alerts", "context"} <= set(snap)
                tracks = {r["track_id"]: r for r in snap["tracks"]}
                deltas, upserts, last_time, seen_done, contexts = 0, 0, snap["time"], 0, [snap["context"]]
                while seen_done < 3:  # after the run: three more messages (heartbeats at least)
                    msg = await _recv_json(ws)
                    if msg["type"] == "snapshot":  # the run opened: its snapshot replaces the picture
                        contexts.append(msg["context"])
                        tracks = {r["track_id"]: r for r in msg["tracks"]}
                        last_time = msg["time"]
                        continue
                    assert msg["type"] == "delta"
                    assert {"time", "upsert", "remove", "alerts"} <= set(msg)
                    assert msg["time"] >= last_time
                    last_time = msg["time"]
                    for tid in msg["remove"]:
                        tracks.pop(tid, None)
                    for r in msg["upsert"]:
                        assert list(r) == list(COLUMNS)
                        tracks[r["track_id"]] = r
                    deltas += 1
                    upserts += len(msg["upsert"])
                    if done.is_set():
                        seen_done += 1
                assert contexts[-1]["name"] == "crossing" and contexts[-1]["mode"] == "simulation"
                assert contexts[0] is None or len(contexts) == 1  # connected before the run opened, or after
                return tracks, deltas, upserts

        result = {}
        t = threading.Thread(target=lambda: result.update(zip(("tracks", "deltas", "upserts"),
                                                               asyncio.run(client()))))
        t.start()
        _wait(lambda: len(service.store.clients) == 1, what="the client")
        run_scenario(scenario, tmp_path / "out", show_progress=False, sinks=SinkSet([service.store, pacer]),
                     controls=controls)
        _wait(lambda: not service.store._dirty, what="the last publication")
        done.set()
        t.join(WAIT_S)
        assert result, "the client failed"
        picture = httpx.get(service.url + "api/picture", params={"token": service.tokens.token("viewer")}).json()
        assert picture["time"] == 60.0
        assert result["deltas"] >= 10 and result["upserts"] > 0
        assert result["tracks"] == {r["track_id"]: r for r in picture["tracks"]}
        assert len(picture["tracks"]) > 0


def test_websocket_needs_a_token(live):
    async def attempt(url):
        with pytest.raises(websockets.exceptions.InvalidStatus) as err:
            async with websockets.connect(url):
                pass
        return err.value.response.status_code

    assert asyncio.run(attempt(live.ws)) == 401
    assert asyncio.run(attempt(live.ws + "?token=wrong-token-wrong-token")) == 401


@pytest.mark.parametrize("raw", [True, False], ids=["shared-frames", "send_text"])
def test_websocket_heartbeat_when_nothing_changes(live, raw, monkeypatch):
    monkeypatch.setattr("airpicture.web.app.RAW_FRAMES", raw)
    live.finished()

    async def client():
        async with websockets.connect(f"{live.ws}?token={live.token('viewer')}", max_size=None) as ws:
            assert (await _recv_json(ws))["type"] == "snapshot"
            beats = [await _recv_json(ws, 10.0) for _ in range(2)]
            return beats

    for beat in asyncio.run(client()):
        assert beat["type"] == "delta" and beat["upsert"] == [] and beat["remove"] == [] and beat["alerts"] == []


@pytest.mark.parametrize("raw", [True, False], ids=["shared-frames", "send_text"])
def test_slow_websocket_client_is_dropped_not_buffered(tmp_path, raw, monkeypatch):
    """A client that never reads (tiny receive buffer) while the picture changes fast: its queue fills and the
    server drops it; a client that reads keeps receiving (both ways of sending: the shared pre-built frames and
    Starlette's send_text)."""
    monkeypatch.setattr("airpicture.web.app.RAW_FRAMES", raw)
    store = PictureStore(min_interval_s=0.02, client_queue=4)
    with LiveService(port=0, tokens_path=tmp_path / "tokens.json", store=store) as service:
        token = service.tokens.token("viewer")
        slow = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.connect(("127.0.0.1", service.port))
        key = base64.b64encode(os.urandom(16)).decode()
        slow.sendall((f"GET /ws?token={token} HTTP/1.1\r\nHost: 127.0.0.1:{service.port}\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
                     .encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += slow.recv(1)  # the handshake only; then this client never reads again
        assert head.startswith(b"HTTP/1.1 101")

        received = []
        stop = threading.Event()

        async def reader():
            async with websockets.connect(f"ws://127.0.0.1:{service.port}/ws?token={token}", max_size=None) as ws:
                while not stop.is_set():
                    try:
                        received.append(len(await asyncio.wait_for(ws.recv(), 1.0)))
                    except asyncio.TimeoutError:
                        pass

        def read():
            try:
                asyncio.run(reader())
            except Exception as exc:  # noted, the test fails below
                received.append(exc)

        rt = threading.Thread(target=read)
        rt.start()
        _wait(lambda: len(store.clients) == 2, what="both clients")
        store.open(_context())
        picture = SyntheticPicture(3000)
        step = 0
        deadline = time.monotonic() + WAIT_S
        while store.stats()["dropped_clients"] == 0:
            assert time.monotonic() < deadline, "the slow client was never dropped"
            step += 1
            store.step(picture.frame(float(step)))
            time.sleep(0.01)
        _wait(lambda: len(store.clients) == 1, what="the slow client to go")
        before = len(received)
        for _ in range(5):
            step += 1
            store.step(picture.frame(float(step)))
            time.sleep(0.05)
        _wait(lambda: len(received) > before, what="the reading client")
        stop.set()
        rt.join(WAIT_S)
        slow.close()
        assert store.stats()["dropped_clients"] == 1
        assert all(isinstance(x, int) and x > 0 for x in received), [x for x in received if not isinstance(x, int)]


def _context():
    from airpicture.picture import PictureContext

    return PictureContext(name="synthetic", mode="simulation")


# ------------------------------------------------------------------------------------------- access
VIEWER_GETS = ["/api/picture", "/api/tracks", "/api/alerts", "/api/alerts?active=true", "/api/sensors",
               "/api/zones", "/api/timeline", "/data/aircraft.json", "/api/geojson"]


@pytest.mark.parametrize("path", VIEWER_GETS + ["/api/config"])
def test_reading_needs_a_valid_token(live, path):
    assert live.get(path, role=None).status_code == 401
    r = httpx.get(live.base + path, headers={"Authorization": "Bearer not-a-token-at-all-0000"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert httpx.get(live.base + path, params={"token": "x" * 32}).status_code == 401


def test_aircraft_json_and_geojson_carry_the_picture(live):
    """readsb's aircraft.json and the GeoJSON snapshot hold every track of the API's picture."""
    live.finished()  # the picture no longer changes between the requests
    tracks = live.get("/api/tracks", role="viewer").json()
    ac = live.get("/data/aircraft.json", role="viewer").json()
    assert len(ac["aircraft"]) == len(tracks) > 0
    radar_only = [a for a in ac["aircraft"] if a["hex"].startswith("~")]
    assert radar_only and all(a["type"] == "other" for a in radar_only)
    gj = live.get("/api/geojson", role="viewer").json()
    points = [f for f in gj["features"] if f["properties"].get("kind") == "track"]
    assert gj["type"] == "FeatureCollection" and len(points) == len(tracks)


@pytest.mark.parametrize("path", VIEWER_GETS)
def test_every_role_reads_the_picture(live, path):
    for role in ROLES:
        r = live.get(path, role=role)
        assert r.status_code == 200, (role, r.text)
        # the token in the URL works the same
        assert httpx.get(live.base + path, params={"token": live.token(role)}).status_code == r.status_code


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def test_configuration_is_for_admins_only(live):
    assert live.get("/api/config", role="viewer").status_code == 403
    assert live.get("/api/config", role="operator").status_code == 403
    r = live.get("/api/config", role="admin")
    assert r.status_code == 200
    body = r.json()
    assert body["config"]["scenario"] == "demo" and body["config"]["keystore"] == "key store"
    assert body["service"]["port"] == live.service.port


def test_operator_actions_are_refused_to_viewers(live):
    assert live.post("/api/alerts/nope/ack", role="viewer", json={}).status_code == 403
    assert live.post("/api/alerts/nope/ack", role=None, json={}).status_code == 401
    assert live.post("/api/tracks/1/identity", role="viewer",
                     json={"identity": "hostile", "why": "x"}).status_code == 403
    assert live.post("/api/playback", role="viewer", json={"action": "play"}).status_code == 403
    assert live.post("/api/playback", role=None, json={"action": "play"}).status_code == 401
    for role in ("operator", "admin"):  # allowed: the answer is about the alert, not the role
        assert live.post("/api/alerts/nope/ack", role=role, json={}).status_code == 404


def test_health_page_and_openapi_need_no_token(live):
    assert httpx.get(live.base + "/api/health").json() == {"status": "ok"}
    page = httpx.get(live.base + "/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    spec = httpx.get(live.base + "/openapi.json").json()
    for path in ("/api/picture", "/api/tracks", "/api/tracks/{track_id}", "/api/alerts", "/api/alerts/{alert_id}/ack",
                 "/api/tracks/{track_id}/identity", "/api/sensors", "/api/zones", "/api/timeline", "/api/playback",
                 "/api/config", "/data/aircraft.json", "/api/geojson"):
        assert path in spec["paths"], path


def test_responses_carry_protective_headers_and_foreign_hosts_are_refused(live):
    r = live.get("/api/picture")
    assert r.headers["referrer-policy"] == "no-referrer"  # the page's URL holds its token
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cache-control"] == "no-store"
    r = httpx.get(live.base + "/api/health", headers={"Host": "attacker.example:8080"})
    assert r.status_code == 421


# ---------------------------------------------------------------------------------------- the picture
def test_picture_tracks_and_a_track_in_detail(live):
    live.finished()
    picture = live.get("/api/picture").json()
    assert picture["time"] == 40.0 and picture["mode"] == "simulation"
    assert len(picture["tracks"]) > 5
    assert all(list(r) == list(COLUMNS) for r in picture["tracks"])
    tracks = live.get("/api/tracks").json()
    assert sorted(r["track_id"] for r in tracks) == sorted(r["track_id"] for r in picture["tracks"])
    scores = [r["threat_score"] for r in tracks]
    assert scores == sorted(scores, reverse=True)
    tid = tracks[0]["track_id"]
    detail = live.get(f"/api/tracks/{tid}").json()
    assert detail["track"]["track_id"] == tid
    assert len(detail["history"]) >= 3 and set(detail["history"][0]) == {"time", "lat", "lon", "alt_m"}
    assert [h["time"] for h in detail["history"]] == sorted(h["time"] for h in detail["history"])
    assert detail["identity"]["track_id"] == tid and "identity_reason" in detail["identity"]
    assert detail["threat"]["level"] == tracks[0]["threat_level"]
    assert all(a["track_id"] == tid for a in detail["alerts"])
    assert live.get("/api/tracks/999999").status_code == 404
    assert live.get("/api/tracks/abc").status_code == 422


def test_picture_at_a_past_time(live):
    live.finished()
    timeline = live.get("/api/timeline").json()
    assert timeline["start"] == 1.0 and timeline["end"] == 40.0 and timeline["mode"] == "simulation"
    assert timeline["live"] is False and timeline["playing"] is False
    past = live.get("/api/picture", params={"t": 20.5}).json()
    assert past["time"] == 20.0
    assert all(r["time"] <= 20.0 for r in past["tracks"])
    for a in past["alerts"]:
        assert a["raised"] <= 20.5
        assert all(e["time"] <= 20.5 for e in a["timeline"])
    assert live.get("/api/picture", params={"t": -5}).status_code == 404
    assert live.get("/api/picture", params={"t": "nan"}).status_code == 422
    assert live.get("/api/picture", params={"t": "soon"}).status_code == 422


def test_sensors_and_zones(live):
    sensors = live.get("/api/sensors").json()
    assert sensors and {"name", "kind", "lat", "lon", "range_m"} <= set(sensors[0])
    zones = live.get("/api/zones").json()
    assert zones["zones"] and zones["defended_points"]
    assert {"name", "kind", "polygon", "floor_m", "ceiling_m"} <= set(zones["zones"][0])


# -------------------------------------------------------------------------------------------- controls
def test_acknowledging_an_alert_shows_in_the_alerts_and_the_next_delta(live):
    live.finished()
    alerts = live.get("/api/alerts").json()
    assert alerts, "the demo raises alerts in its first 40 s"
    target = next(a for a in alerts if a["acknowledged"] is None)

    async def flow():
        async with websockets.connect(f"{live.ws}?token={live.token('viewer')}", max_size=None) as ws:
            snap = await _recv_json(ws)
            assert any(a["id"] == target["id"] and a["acknowledged"] is None for a in snap["alerts"])
            r = await asyncio.to_thread(live.post, f"/api/alerts/{target['id']}/ack", json={"who": "op1"})
            assert r.status_code == 200, r.text
            assert r.json()["acknowledged_by"] == "op1"
            while True:
                msg = await _recv_json(ws)
                if msg.get("heartbeat"):
                    continue
                return msg

    delta = asyncio.run(flow())
    assert [a["id"] for a in delta["alerts"]] == [target["id"]]
    got = delta["alerts"][0]
    assert got["acknowledged_by"] == "op1" and got["acknowledged"] == 40.0
    assert got["timeline"][-1]["event"] == "acknowledged"
    now = {a["id"]: a for a in live.get("/api/alerts").json()}
    assert now[target["id"]]["acknowledged_by"] == "op1"
    again = live.post(f"/api/alerts/{target['id']}/ack", json={"who": "op2"})
    assert again.status_code == 409 and "already acknowledged by op1" in again.json()["detail"]
    assert live.post("/api/alerts/no-such-alert/ack", json={}).status_code == 404
    # no body: the role is who
    other = next((a for a in live.get("/api/alerts").json() if a["acknowledged"] is None), None)
    if other is not None:
        r = live.post(f"/api/alerts/{other['id']}/ack")
        assert r.status_code == 200 and r.json()["acknowledged_by"] == "operator"
    active = live.get("/api/alerts", params={"active": "true"}).json()
    assert all(a["active"] for a in active)


def test_identity_override(live):
    live.finished()
    tid = live.get("/api/tracks").json()[-1]["track_id"]
    r = live.post(f"/api/tracks/{tid}/identity", json={"identity": "hostile", "why": "visual ID", "who": "op1"})
    assert r.status_code == 200, r.text
    record = r.json()
    assert record["identity"] == "hostile" and record["override"]["who"] == "op1"
    assert record["override"]["why"] == "visual ID"
    shown = live.get(f"/api/tracks/{tid}").json()
    assert shown["track"]["identity"] == "hostile" and shown["identity"]["identity"] == "hostile"
    assert live.post(f"/api/tracks/{tid}/identity", json={"identity": "martian", "why": "x"}).status_code == 422
    assert live.post(f"/api/tracks/{tid}/identity", json={"identity": "friend"}).status_code == 422
    assert live.post("/api/tracks/999999/identity", json={"identity": "friend", "why": "x"}).status_code == 404
    assert live.post(f"/api/tracks/{tid}/identity",
                     json={"identity": "friend", "why": "x", "track_class": "zeppelin"}).status_code == 422


def test_playback(live):
    live.finished()
    r = live.post("/api/playback", json={"action": "seek", "t": 12.0})
    assert r.status_code == 200 and r.json()["time"] == 12.0 and r.json()["following"] is False
    assert live.post("/api/playback", json={"action": "seek", "t": 1e9}).status_code == 422
    assert live.post("/api/playback", json={"action": "seek"}).status_code == 422
    r = live.post("/api/playback", json={"action": "pause"})
    assert r.status_code == 200 and r.json()["paused"] is True
    assert live.service.pacer.paused.is_set()
    r = live.post("/api/playback", json={"action": "speed", "speed": 4})
    assert r.status_code == 200 and r.json()["speed"] == 4.0
    assert live.post("/api/playback", json={"action": "speed", "speed": -1}).status_code == 422
    assert live.post("/api/playback", json={"action": "rewind"}).status_code == 422
    r = live.post("/api/playback", json={"action": "play"})
    assert r.status_code == 200 and r.json()["paused"] is False and r.json()["following"] is True
    assert r.json()["time"] == 40.0
    assert not live.service.pacer.paused.is_set()


# ------------------------------------------------------------------------------------------ bad input
def test_oversized_bodies_get_413(live):
    big = "x" * (65 * 1024)
    assert live.post("/api/alerts/a/ack", json={"who": big}).status_code == 413
    assert live.post("/api/playback", content=b"{" * 70_000,
                     headers={"content-type": "application/json"}).status_code == 413

    def chunks():  # no Content-Length: counted as it arrives
        for _ in range(20):
            yield b" " * 8192

    r = live.post("/api/playback", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


@pytest.mark.parametrize("body", [b"{", b"not json", b"[]", b"null", b'{"who": 5}', b'{"who": "a", "x": 1}',
                                  b"\xff\xfe", b'{"who": "' + b"\\ud800" + b'"}', b"1e999999"])
def test_malformed_bodies_get_4xx_never_5xx(live, body):
    for path in ("/api/alerts/x/ack", "/api/tracks/1/identity", "/api/playback"):
        r = live.post(path, content=body, headers={"content-type": "application/json"})
        assert 400 <= r.status_code < 500, (path, body, r.status_code, r.text)


@pytest.mark.parametrize("path", ["/api/tracks/99999999999999999999999", "/api/tracks/-1", "/api/picture?t=1e400",
                                  "/api/picture?t=", "/api/alerts?active=maybe", "/api/tracks/%00",
                                  "/api/alerts/%2e%2e%2fetc/ack"])
def test_odd_urls_get_4xx_never_5xx(live, path):
    r = httpx.get(live.base + path, headers={"Authorization": f"Bearer {live.token('operator')}"})
    assert r.status_code < 500, (path, r.status_code, r.text)
    r = httpx.post(live.base + path, headers={"Authorization": f"Bearer {live.token('operator')}"}, json={})
    assert r.status_code < 500, (path, r.status_code, r.text)


# -------------------------------------------------------------------------------------------- secrets
def _leak_forms(secret: bytes) -> list[bytes]:
    forms = [secret[i:i + 8] for i in range(0, len(secret) - 7, 4)]
    h = secret.hex()
    forms += [h[i:i + 16].encode() for i in range(0, len(h) - 15, 8)]
    forms += [h[i:i + 16].upper().encode() for i in range(0, len(h) - 15, 8)]
    b64 = base64.b64encode(secret)
    forms += [b64[i:i + 12] for i in range(0, len(b64) - 11, 8)]
    return forms


def test_no_key_material_is_served_in_any_role(live):
    live.finished()
    assert live.secrets, "the run used a key store with keys"
    bodies = []
    for role in ROLES:
        for path in VIEWER_GETS + ["/api/config", "/openapi.json", "/"]:
            bodies.append(live.get(path, role=role).content)
        for track in live.get("/api/tracks").json():
            bodies.append(live.get(f"/api/tracks/{track['track_id']}", role=role).content)

    async def snapshot():
        async with websockets.connect(f"{live.ws}?token={live.token('admin')}", max_size=None) as ws:
            return (await ws.recv()).encode()

    bodies.append(asyncio.run(snapshot()))
    blob = b"\n".join(bodies)
    assert PASSPHRASE.encode() not in blob
    for key_id, secret in live.secrets.items():
        for form in _leak_forms(secret):
            assert form not in blob, key_id
    for role in ROLES:  # nor the tokens
        assert live.token(role).encode() not in blob


# ----------------------------------------------------------------------------------------------- tokens
def test_tokens_file_is_created_private_and_reused(tmp_path):
    path = tmp_path / "conf" / "tokens.json"
    first = Tokens.load_or_create(path)
    assert first.created and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    second = Tokens.load_or_create(path)
    assert not second.created
    for role in ROLES:
        assert second.token(role) == first.token(role) and len(first.token(role)) >= 32
        assert first.role_of(first.token(role)) == role
    assert first.role_of(None) is None and first.role_of("") is None
    assert first.role_of(first.token("admin")[:-1]) is None
    assert first.token("admin") not in repr(first)
    os.chmod(path, 0o644)
    with pytest.raises(InputError, match="readable by others"):
        Tokens.load_or_create(path)
    os.chmod(path, 0o600)
    path.write_text('{"viewer": "short"}')
    with pytest.raises(InputError, match="delete it"):
        Tokens.load_or_create(path)


def test_default_tokens_path_follows_xdg(monkeypatch, tmp_path):
    from airpicture.web.auth import default_tokens_path

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert default_tokens_path() == tmp_path / "airpicture" / "tokens.json"


# ------------------------------------------------------------------------------------------------- CLI
def test_binding_beyond_loopback_needs_allow_remote(tmp_path):
    result = CliRunner().invoke(cli_app, ["demo", "--host", "0.0.0.0", "-o", str(tmp_path / "o"),
                                          "--tokens", str(tmp_path / "t.json")])
    assert result.exit_code == 2
    assert "--allow-remote" in result.output and "0.0.0.0" in result.output
    assert not (tmp_path / "o").exists()  # refused before running
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.5"):
        check_bind(host, False)
    check_bind("0.0.0.0", True)
    with pytest.raises(InputError):
        check_bind("192.168.1.10", False)


def test_a_busy_port_is_a_clear_error(tmp_path):
    with LiveService(port=0, tokens_path=tmp_path / "t.json") as service:
        with pytest.raises(InputError, match="choose another with --port"):
            LiveService(port=service.port, tokens_path=tmp_path / "t.json").start()


def test_run_serves_prints_the_operator_url_and_exits_when_done(tmp_path):
    tokens = tmp_path / "tokens.json"
    result = CliRunner().invoke(cli_app, ["run", "crossing", "--duration", "10", "--port", "0", "--speed", "0",
                                          "--exit-when-done", "--tokens", str(tokens), "-o", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    operator = json.loads(tokens.read_text())["operator"]
    assert f"/?token={operator}" in result.output and str(tokens) in result.output
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["sinks"]["web"]["frames"] == 10 and summary["sinks"]["web"]["errors"] == 0


def test_replay_serves_its_picture_and_exits_when_done(tmp_path):
    """`airpicture replay` with the service: the store gets the replay's frames (mode "replay")."""
    from _sources_data import LONG_FLIGHT, beast_hex_lines

    if not LONG_FLIGHT.exists():
        pytest.skip(f"{LONG_FLIGHT} is not here")
    path = tmp_path / "short.csv"
    path.write_bytes(b"\n".join(beast_hex_lines()[:3000]) + b"\n")
    tokens = tmp_path / "tokens.json"
    result = CliRunner().invoke(cli_app, ["replay", str(path), "--reference", "43.63,1.37", "--port", "0",
                                          "--speed", "0", "--exit-when-done", "--tokens", str(tokens),
                                          "-o", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert "replay as fast as it goes" in result.output
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    web = summary["sinks"]["web"]
    assert web["frames"] > 10 and web["errors"] == 0 and web["history_rows"] > 0


def test_ingest_serves_its_live_picture(tmp_path):
    """`airpicture ingest` with the service: a feed (beast-hex lines over TCP) becomes frames in the store."""
    from _sources_data import LONG_FLIGHT, beast_hex_lines

    if not LONG_FLIGHT.exists():
        pytest.skip(f"{LONG_FLIGHT} is not here")
    data = b"\n".join(beast_hex_lines()[:3000]) + b"\n"
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def feed():
        conn, _ = listener.accept()
        with conn:
            conn.sendall(data)
            stop.wait(WAIT_S)

    t = threading.Thread(target=feed, daemon=True)
    t.start()
    tokens = tmp_path / "tokens.json"
    try:
        result = CliRunner().invoke(cli_app, ["ingest", f"tcp://127.0.0.1:{port}", "--reference", "43.63,1.37",
                                              "--max-messages", "3000", "--port", "0", "--exit-when-done",
                                              "--tokens", str(tokens), "-o", str(tmp_path / "o")])
    finally:
        stop.set()
        listener.close()
    assert result.exit_code == 0, result.output
    assert "/?token=" in result.output
    web = json.loads((tmp_path / "o" / "summary.json").read_text())["sinks"]["web"]
    assert web["frames"] > 10 and web["errors"] == 0


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_after_the_run_the_final_picture_stays_up_until_interrupted(tmp_path, sig):
    """The command as a user runs it: once the run ends the service keeps answering, and Ctrl-C (or SIGTERM)
    stops it cleanly (exit 0)."""
    import re
    import signal
    import subprocess
    import sys

    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "config"))
    env.pop("AIRPICTURE_DEBUG", None)
    proc = subprocess.Popen([sys.executable, "-m", "airpicture", "run", "crossing", "--duration", "20", "--port", "0",
                             "--speed", "0", "-o", str(tmp_path / "o")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        err = ""
        while "until Ctrl-C" not in err:
            line = proc.stderr.readline()
            assert line, f"the command ended early: {err}"
            err += line
        url = re.search(r"(http://127\.0\.0\.1:\d+)/\?token=([\w-]+)", err)
        assert url and (tmp_path / "config" / "airpicture" / "tokens.json").exists()
        picture = httpx.get(url.group(1) + "/api/picture", params={"token": url.group(2)}, timeout=30).json()
        assert picture["time"] == 20.0
        proc.send_signal(getattr(signal, sig))
        _, rest = proc.communicate(timeout=WAIT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, rest
    assert "stopping the live display" in rest


def test_a_track_in_detail_needs_a_token_and_any_role_reads_it(live):
    live.finished()
    tid = live.get("/api/tracks").json()[0]["track_id"]
    assert live.get(f"/api/tracks/{tid}", role=None).status_code == 401
    assert httpx.get(f"{live.base}/api/tracks/{tid}", params={"token": "nope" * 8}).status_code == 401
    for role in ROLES:
        assert live.get(f"/api/tracks/{tid}", role=role).status_code == 200

    async def with_header():  # the WebSocket also takes the token as a Bearer header
        async with websockets.connect(live.ws, additional_headers={"Authorization": f"Bearer {live.token('admin')}"},
                                      max_size=None) as ws:
            return (await _recv_json(ws))["type"]

    assert asyncio.run(with_header()) == "snapshot"


def test_the_page_is_served_under_a_content_security_policy(live):
    """No inline or evaluated script may run in the page (outside text - callsigns, reasons - is shown there);
    the browser tests run the real page under this policy without a console error."""
    r = httpx.get(live.base + "/")
    csp = r.headers["content-security-policy"]
    assert r.status_code == 200 and "script-src 'self';" in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp and "connect-src 'self'" in csp
