"""The picture as the web service keeps it: a sink (docs/live.md) holding the latest frame, a bounded history of
frames (the time slider's ``?t=`` and the track trails), the state of every alert, and the WebSocket fan-out.

Threads: ``step`` runs in the run's thread and only swaps references and appends to the history (cheap); a
publisher thread turns the newest frame into one delta message (the rows that changed since the previous message,
the tracks gone, the alerts changed), serialised once and shared by every client; the server's event loop hands it
to each client's bounded queue. A client whose queue is full (it does not read fast enough) is dropped, never
buffered without bound. Frames arriving faster than ``min_interval_s`` (a replay at full speed) are coalesced: a
delta always goes from the last message sent to the newest frame, so no client misses a change.
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import threading
import time as _time
from dataclasses import dataclass

import numpy as np
import orjson

from ..picture.frame import COLUMNS, PictureFrame, empty_columns

DEFAULT_HISTORY_ROWS = 300_000   # track rows kept for ?t= and trails (at 100 tracks: 50 min of 1 s frames)
DEFAULT_HISTORY_FRAMES = 86_400  # and at most this many frames (a day of 1 s frames)
DEFAULT_TRAIL_S = 300.0          # a track's trail: its positions over the last 5 minutes of picture time
DEFAULT_MIN_INTERVAL_S = 0.2     # at most 5 messages a second to each client; faster frames are coalesced
DEFAULT_CLIENT_QUEUE = 8         # messages waiting for one client before it is dropped as too slow
HEARTBEAT_S = 1.0                # a client hears something at least this often


def dumps(obj) -> bytes:
    """JSON as the service writes it (orjson: NaN -> null, numpy scalars and arrays accepted)."""
    return orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY)


def ws_frame(payload: bytes) -> bytes:
    """``payload`` as one unmasked, unfragmented WebSocket text frame (RFC 6455 §5.2): what a server sends. Built
    once per message, the same bytes go to every client."""
    n = len(payload)
    if n < 126:
        head = bytes((0x81, n))
    elif n < 1 << 16:
        head = bytes((0x81, 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x81, 127)) + n.to_bytes(8, "big")
    return head + payload


class Message:
    """One message for the clients: its JSON text (``payload``, UTF-8) and the same as a ready WebSocket frame."""

    __slots__ = ("seq", "payload", "frame", "stepped")

    def __init__(self, seq: int, payload: bytes, stepped: float | None = None):
        self.seq, self.payload, self.frame = seq, payload, ws_frame(payload)
        self.stepped = stepped  # wall time (time.time) at which its newest frame reached store.step

    def __len__(self) -> int:
        return len(self.payload)


def records(columns: dict[str, np.ndarray], rows=None) -> list[dict]:
    """``PictureFrame.records()`` of the rows ``rows`` (all when None), vectorised: floats rounded to 6 decimals,
    non-finite -> None; keys in ``COLUMNS`` order."""
    lists = {}
    for name in COLUMNS:
        v = columns[name] if rows is None else columns[name][rows]
        if v.dtype.kind == "f":
            lst = np.round(v, 6).tolist()
            bad = ~np.isfinite(v)
            if bad.any():
                for i in np.flatnonzero(bad).tolist():
                    lst[i] = None
        else:
            lst = v.tolist()
        lists[name] = lst
    keys = list(lists)
    return [dict(zip(keys, row)) for row in zip(*lists.values())]


_TEMPLATE = b"{" + b",".join(b'"%s":%s' % (name.encode(), b'"%b"' if kind == "s" else b"%b")
                              for name, kind in COLUMNS.items()) + b"}"


def _fragments(v: np.ndarray, kind: str, n: int) -> list[bytes] | None:
    """The JSON text of each element of a column (strings without their quotes), from one orjson call."""
    if kind == "s":
        enc = orjson.dumps(v.tolist())
        if not (enc.startswith(b'["') and enc.endswith(b'"]')):
            return None
        # Inside an encoded string every quote is escaped, so '","' only ever separates two elements.
        parts = enc[2:-2].split(b'","')
    else:
        if kind == "f":
            v = np.round(v, 6)
        parts = orjson.dumps(v, option=orjson.OPT_SERIALIZE_NUMPY)[1:-1].split(b",")
    return parts if len(parts) == n else None


def encode_records(columns: dict[str, np.ndarray], rows=None) -> bytes:
    """``dumps(records(columns, rows))``, the same text, without building a dict per track: a column at a time
    through orjson, then one ``%`` per row. As fast, and it allocates no objects the garbage collector tracks (10,000
    dicts a frame set off collections that paused the service for up to a third of a second)."""
    n = int(columns["track_id"].shape[0] if rows is None else len(rows))
    if n == 0:
        return b"[]"
    cols = []
    for name, kind in COLUMNS.items():
        v = columns[name] if rows is None else columns[name][rows]
        frag = _fragments(v, kind, n)
        if frag is None:  # something unusual (a None in a text column): the general path
            return dumps(records(columns, rows))
        cols.append(frag)
    return b"[" + b",".join([_TEMPLATE % row for row in zip(*cols)]) + b"]"


def alert_at(alert: dict, t: float) -> dict | None:
    """An alert as it stood at picture time ``t`` (None: not raised yet)."""
    if alert.get("raised") is None or alert["raised"] > t:
        return None
    out = dict(alert)
    out["timeline"] = [e for e in alert.get("timeline", []) if e.get("time") is None or e["time"] <= t]
    if alert.get("cleared") is not None and alert["cleared"] > t:
        out["cleared"], out["active"] = None, True
    if alert.get("acknowledged") is not None and alert["acknowledged"] > t:
        out["acknowledged"], out["acknowledged_by"] = None, None
    return out


@dataclass
class _Frame:
    """A frame as the store keeps it: columns, and the row order sorting its track ids (for look-ups)."""

    time: float
    epoch_unix: float | None
    columns: dict
    order: np.ndarray  # argsort of track_id
    ids: np.ndarray    # track_id[order]

    @classmethod
    def of(cls, time: float, epoch_unix, columns: dict) -> "_Frame":
        order = np.argsort(columns["track_id"], kind="stable")
        return cls(float(time), epoch_unix, columns, order, columns["track_id"][order])

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def row(self, track_id: int) -> int | None:
        i = int(np.searchsorted(self.ids, track_id))
        return int(self.order[i]) if i < self.ids.shape[0] and self.ids[i] == track_id else None


class Client:
    """One WebSocket client: a bounded queue of :class:`Message`, filled by the event loop."""

    def __init__(self, maxsize: int):
        self.queue: asyncio.Queue = asyncio.Queue(maxsize)
        self.dropped = asyncio.Event()
        self.messages = 0
        self.bytes = 0


def _changed(prev: _Frame, cur: _Frame) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``cur`` that are new or differ from ``prev`` in any column, and the track ids of ``prev`` gone."""
    n = len(cur)
    if len(prev) == 0:
        return np.arange(n), np.zeros(0, np.int64)
    pos = np.minimum(np.searchsorted(prev.ids, cur.ids), len(prev) - 1)
    known = prev.ids[pos] == cur.ids
    rows_c = cur.order[known]
    rows_p = prev.order[pos[known]]
    diff = np.zeros(rows_c.shape[0], bool)
    for name in COLUMNS:
        a, b = cur.columns[name][rows_c], prev.columns[name][rows_p]
        if a.dtype.kind == "f":
            diff |= (a != b) & ~(np.isnan(a) & np.isnan(b))
        else:
            diff |= np.asarray(a != b, bool)
    upsert = np.sort(np.concatenate([cur.order[~known], rows_c[diff]]))
    gone = ~np.isin(prev.ids, cur.ids, assume_unique=True)
    return upsert, prev.ids[gone]


class PictureStore:
    """A sink (``name = "web"``) keeping what the live display serves. See the module docstring."""

    name = "web"

    def __init__(self, *, history_rows: int = DEFAULT_HISTORY_ROWS, history_frames: int = DEFAULT_HISTORY_FRAMES,
                 trail_s: float = DEFAULT_TRAIL_S, min_interval_s: float = DEFAULT_MIN_INTERVAL_S,
                 client_queue: int = DEFAULT_CLIENT_QUEUE):
        self.history_rows, self.history_frames = int(history_rows), int(history_frames)
        self.trail_s, self.min_interval_s, self.client_queue = float(trail_s), float(min_interval_s), int(client_queue)
        self.context = None
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._latest = _Frame.of(0.0, None, empty_columns())   # newest frame stepped
        self._published = self._latest                          # the state the last message left clients in
        self._seq = 0
        self._dirty = False
        self._reset = False
        self._stepped: float | None = None
        self._pending_alerts: dict[str, dict] = {}
        self.alerts: dict[str, dict] = {}                        # every alert seen, latest state, by id
        self._hist: list[_Frame] = []
        self._hist_t: list[float] = []
        self._hist_rows = 0
        self._snapshot_cache: Message | None = None
        self._snapshot_lock = threading.Lock()
        self._records_cache: tuple[_Frame, list] | None = None
        self.live = False           # a run is feeding frames (between open and close)
        self.frames = 0
        self.summary: dict | None = None
        self._publisher: threading.Thread | None = None
        self._stopping = False
        self._last_publish = 0.0
        self.loop: asyncio.AbstractEventLoop | None = None
        self.clients: set[Client] = set()
        self.publish_ms: collections.deque = collections.deque(maxlen=1000)  # time to build each delta
        self.written_s: collections.deque = collections.deque(maxlen=100_000)  # step -> handed to a client socket
        self.counts = {"messages": 0, "published": 0, "dropped_clients": 0, "clients_served": 0,
                       "bytes_sent": 0, "history_trimmed": 0}

    # ------------------------------------------------------------------------------------------ the sink
    def open(self, context) -> None:
        with self._lock:
            self.context = context
            self.live = True
            self._latest = self._published = _Frame.of(0.0, None, empty_columns())
            self._hist, self._hist_t, self._hist_rows = [], [], 0
            self.alerts, self._pending_alerts = {}, {}
            self._reset = True  # clients connected before: a fresh snapshot (with the context) replaces theirs
            self._dirty = True
            self._cond.notify_all()
        self.start()

    def step(self, frame: PictureFrame) -> None:
        f = _Frame.of(frame.time, frame.epoch_unix, frame.columns)
        with self._cond:
            self._latest = f
            self._stepped = _time.time()
            for a in frame.alerts:
                self.alerts[a["id"]] = a
                self._pending_alerts[a["id"]] = a
            self._remember(f)
            self.frames += 1
            self._dirty = True
            self._cond.notify_all()

    def close(self, summary: dict) -> None:
        with self._cond:
            self.live = False
            self.summary = {"frames": self.frames}
            self._dirty = True
            self._cond.notify_all()

    def stats(self) -> dict:
        with self._lock:
            return {**self.counts, "clients": len(self.clients), "history_frames": len(self._hist),
                    "history_rows": self._hist_rows}

    # ----------------------------------------------------------------------------------- history
    def _remember(self, f: _Frame) -> None:
        if self._hist_t and f.time < self._hist_t[-1]:  # time went back (a new input): start the history again
            self._hist, self._hist_t, self._hist_rows = [], [], 0
        if self._hist_t and f.time == self._hist_t[-1]:
            self._hist_rows -= len(self._hist[-1])
            self._hist[-1] = f
        else:
            self._hist.append(f)
            self._hist_t.append(f.time)
        self._hist_rows += len(f)
        drop = 0
        rows = self._hist_rows
        while len(self._hist) - drop > 1 and (rows > self.history_rows or len(self._hist) - drop > self.history_frames):
            rows -= len(self._hist[drop])
            drop += 1
        if drop:
            del self._hist[:drop]
            del self._hist_t[:drop]
            self._hist_rows = rows
            self.counts["history_trimmed"] += drop

    def time_range(self) -> tuple[float | None, float | None]:
        with self._lock:
            return (self._hist_t[0], self._hist_t[-1]) if self._hist_t else (None, None)

    def frame_at(self, t: float | None) -> _Frame | None:
        """The newest frame (t None), or the frame shown at picture time ``t`` (the last one at or before it);
        None when ``t`` is before the history kept."""
        with self._lock:
            if t is None:
                return self._latest
            i = bisect.bisect_right(self._hist_t, float(t)) - 1
            return self._hist[i] if i >= 0 else None

    def trail(self, track_id: int, *, t: float | None = None) -> list[dict]:
        """A track's positions over the last ``trail_s`` of picture time (up to ``t``), oldest first."""
        with self._lock:
            end = len(self._hist) if t is None else bisect.bisect_right(self._hist_t, float(t))
            if end == 0:
                return []
            t_end = self._hist_t[end - 1]
            start = bisect.bisect_left(self._hist_t, t_end - self.trail_s, 0, end)
            frames = self._hist[start:end]
        out = []
        for f in frames:
            r = f.row(int(track_id))
            if r is not None:
                c = f.columns
                out.append({"time": float(c["time"][r]), "lat": float(c["lat"][r]), "lon": float(c["lon"][r]),
                            "alt_m": float(c["alt_m"][r])})
        return out

    # ----------------------------------------------------------------------------------- reading
    def latest_records(self) -> tuple[_Frame, list[dict]]:
        """The newest frame and its records (cached per frame)."""
        with self._lock:
            f = self._latest
        cache = self._records_cache
        if cache is not None and cache[0] is f:
            return f, cache[1]
        recs = records(f.columns)
        self._records_cache = (f, recs)
        return f, recs

    def alerts_at(self, t: float | None = None, *, active: bool | None = None) -> list[dict]:
        with self._lock:
            items = list(self.alerts.values())
        if t is not None:
            items = [a for a in (alert_at(x, t) for x in items) if a is not None]
        if active is not None:
            items = [a for a in items if bool(a.get("active")) == active]
        return sorted(items, key=lambda a: (a.get("raised") or 0.0, a["id"]))

    def note_alert(self, alert: dict) -> None:
        """An alert changed outside a frame (an acknowledgement): keep it and push it to the clients now."""
        with self._cond:
            self.alerts[alert["id"]] = alert
            self._pending_alerts[alert["id"]] = alert
            self._dirty = True
            self._cond.notify_all()

    def patch_track(self, track_id: int, **values) -> bool:
        """Change columns of one track in the newest frame (an identity override shown before the next frame)."""
        with self._cond:
            f = self._latest
            r = f.row(int(track_id))
            if r is None:
                return False
            cols = dict(f.columns)
            for name, value in values.items():
                if name in cols:
                    cols[name] = cols[name].copy()
                    cols[name][r] = value
            self._latest = _Frame(f.time, f.epoch_unix, cols, f.order, f.ids)
            if self._hist and self._hist[-1] is f:
                self._hist[-1] = self._latest
            self._dirty = True
            self._cond.notify_all()
            return True

    # ---------------------------------------------------------------------------- publication
    def start(self) -> None:
        with self._lock:
            if self._publisher is not None and self._publisher.is_alive():
                return
            self._stopping = False
            self._publisher = threading.Thread(target=self._publish_loop, name="airpicture-web-publisher",
                                               daemon=True)
            self._publisher.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._publisher is not None:
            self._publisher.join(timeout=5.0)

    def _publish_loop(self) -> None:
        while True:
            with self._cond:
                while not self._dirty and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                wait = self._last_publish + self.min_interval_s - _time.monotonic()
                if wait > 0:  # coalesce: frames arriving in the meantime go into the same message
                    self._cond.wait(wait)
                    if self._stopping:
                        return
                cur, prev, stepped = self._latest, self._published, self._stepped
                alerts = list(self._pending_alerts.values())
                self._pending_alerts = {}
                self._dirty = False
                reset, self._reset = self._reset, False
            try:
                if reset:
                    self._publish_snapshot(cur)
                else:
                    self._publish(prev, cur, alerts, stepped)
            except Exception:  # never let one bad frame stop the display
                import logging

                logging.getLogger(__name__).exception("web: publishing a frame failed")
            self._last_publish = _time.monotonic()

    def _publish(self, prev: _Frame, cur: _Frame, alerts: list[dict], stepped: float | None = None) -> None:
        t0 = _time.perf_counter()
        upsert, remove = _changed(prev, cur)
        with self._lock:
            self._seq += 1
            seq = self._seq
            self._published = cur
        head = dumps({"type": "delta", "seq": seq, "time": cur.time})[:-1]
        message = Message(seq, head + b',"upsert":' + encode_records(cur.columns, upsert) + b',"remove":'
                          + dumps(remove) + b',"alerts":' + dumps(alerts) + b"}", stepped)
        self.publish_ms.append(1e3 * (_time.perf_counter() - t0))
        self.counts["published"] += 1
        loop = self.loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._fanout, message)
            except RuntimeError:  # the loop closed meanwhile (shutdown)
                pass

    def _publish_snapshot(self, cur: _Frame) -> None:
        """A new run opened: every client gets a snapshot of it (replacing what it had)."""
        with self._lock:
            self._seq += 1
            self._published = cur
        message = self.snapshot()
        self.counts["published"] += 1
        loop = self.loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._fanout, message)
            except RuntimeError:
                pass

    def _fanout(self, message: Message) -> None:
        """In the event loop: queue a message for every client; drop a client whose queue is full."""
        for c in list(self.clients):
            if c.dropped.is_set():
                continue
            try:
                c.queue.put_nowait(message)
            except asyncio.QueueFull:
                c.dropped.set()
                self.counts["dropped_clients"] += 1

    # ------------------------------------------------------------------------------- clients
    def add_client(self) -> Client:
        """Register a client (in the event loop) before taking its snapshot, so it misses no delta."""
        self.loop = asyncio.get_running_loop()
        c = Client(self.client_queue)
        with self._lock:
            self.clients.add(c)
            self.counts["clients_served"] += 1
        return c

    def remove_client(self, c: Client) -> None:
        with self._lock:
            self.clients.discard(c)
            self.counts["messages"] += c.messages
            self.counts["bytes_sent"] += c.bytes

    def snapshot(self) -> Message:
        """The snapshot message of the state the last delta left clients in (cached; clients arriving together
        wait for one build)."""
        with self._snapshot_lock:
            return self._snapshot()

    def _snapshot(self) -> Message:
        with self._lock:
            seq, f = self._seq, self._published
            alerts = list(self.alerts.values())
            context = self.context
            cache = self._snapshot_cache
        if cache is not None and cache.seq == seq:
            return cache
        head = dumps({"type": "snapshot", "seq": seq, "time": f.time, "epoch_unix": f.epoch_unix,
                      "mode": None if context is None else context.mode, "alerts": alerts,
                      "context": None if context is None else context.to_json()})[:-1]
        out = Message(seq, head + b',"tracks":' + encode_records(f.columns) + b"}")
        self._snapshot_cache = out
        return out

    def heartbeat(self) -> Message:
        with self._lock:
            seq, t = self._seq, self._published.time
        return Message(seq, dumps({"type": "delta", "seq": seq, "time": t, "upsert": [], "remove": [],
                                   "alerts": [], "heartbeat": True}))
