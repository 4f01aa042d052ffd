"""Where each step's picture goes: the live display, the recorder, CoT, ASTERIX ... (docs/live.md).

A run (``pipeline.run_scenario``, ``replay_file``, ``ingest_feed``) opens a :class:`SinkSet` with the run's
:class:`PictureContext`, hands it one :class:`PictureFrame` per step and closes it with the summary. A sink that
fails (an unreachable CoT server, a full disk) never stops the picture: the failure is counted per sink, the
first message kept, and the sink is called again next step (it retries on its own terms).

Operator actions arrive from another thread (the web service): :class:`Controls` serialises them with the run's
steps under one lock, so an acknowledgement lands between two steps and shows in the next frame's alerts.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol, runtime_checkable

from .context import PictureContext
from .frame import PictureFrame


@runtime_checkable
class Sink(Protocol):
    name: str

    def open(self, context: PictureContext) -> None: ...

    def step(self, frame: PictureFrame) -> None: ...

    def close(self, summary: dict) -> None: ...


class SinkSet:
    """Fan-out of frames to sinks; failures counted, never raised (except KeyboardInterrupt / SystemExit)."""

    def __init__(self, sinks=()):
        self.sinks = list(sinks)
        self.counts = {s.name: {"frames": 0, "errors": 0, "first_error": None} for s in self.sinks}
        self.context: PictureContext | None = None

    def add(self, sink) -> None:
        self.sinks.append(sink)
        self.counts[sink.name] = {"frames": 0, "errors": 0, "first_error": None}
        if self.context is not None:
            self._call(sink, "open", self.context)

    def __bool__(self) -> bool:
        return bool(self.sinks)

    def _call(self, sink, method: str, arg) -> None:
        try:
            getattr(sink, method)(arg)
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:  # a sink's failure is counted and reported, the picture goes on
            c = self.counts[sink.name]
            c["errors"] += 1
            if c["first_error"] is None:
                c["first_error"] = f"{method}: {type(exc).__name__}: {exc}"
        else:
            if method == "step":
                self.counts[sink.name]["frames"] += 1

    def open(self, context: PictureContext) -> None:
        self.context = context
        for s in self.sinks:
            self._call(s, "open", context)

    def step(self, frame: PictureFrame) -> None:
        for s in self.sinks:
            self._call(s, "step", frame)

    def close(self, summary: dict) -> None:
        for s in self.sinks:
            self._call(s, "close", summary)
        extra = {}
        for s in self.sinks:  # a sink may report its own counters (sent, retried, dropped ...)
            stats = getattr(s, "stats", None)
            if callable(stats):
                try:
                    extra[s.name] = stats()
                except Exception as exc:  # counters are best effort; never lose the summary for them
                    extra[s.name] = {"stats_error": str(exc)}
        for name, c in self.counts.items():
            c.update(extra.get(name, {}))

    def summary(self) -> dict:
        return {name: dict(c) for name, c in self.counts.items()}


class Pacer:
    """A sink that paces the run: picture time advances at ``speed`` x wall time (``--speed``)."""

    name = "pacer"

    def __init__(self, speed: float):
        if not speed > 0:
            raise ValueError("speed must be positive")
        self.speed = float(speed)
        self._start_wall: float | None = None
        self._start_t: float | None = None
        self.paused = threading.Event()  # set = paused (the display's pause)

    def open(self, context) -> None:
        self._start_wall = None

    def step(self, frame: PictureFrame) -> None:
        now = time.monotonic()
        if self._start_wall is None:
            self._start_wall, self._start_t = now, frame.time
            return
        if self.paused.is_set():
            while self.paused.is_set():
                time.sleep(0.05)
            now = time.monotonic()
            self._start_wall, self._start_t = now, frame.time  # resume from here, without catching up
        due = self._start_wall + (frame.time - self._start_t) / self.speed
        if due > now:
            time.sleep(due - now)

    def close(self, summary: dict) -> None:
        pass


class Controls:
    """Operator actions on a running picture, serialised with its steps (``with controls.lock:`` around a step).

    The run registers its engines with :meth:`attach`; the web service calls :meth:`acknowledge` and
    :meth:`override`. Changes made here are queued and handed out with the next frame (:meth:`take_changes`),
    so sinks (the recorder) see them in order."""

    def __init__(self):
        self.lock = threading.RLock()
        self.alerts = None  # threat.alerts.AlertEngine
        self.identity = None  # identity.engine.IdentityEngine
        self.time = 0.0  # picture time of the latest step
        self._changes: list[dict] = []

    def attach(self, *, alerts=None, identity=None) -> None:
        with self.lock:
            self.alerts, self.identity = alerts, identity

    def acknowledge(self, alert_id: str, who: str) -> dict:
        """Acknowledge an alert; returns it (JSON). InputError for an unknown or already acknowledged alert."""
        from ..errors import InputError

        with self.lock:
            if self.alerts is None:
                raise InputError("this picture has no alerts to acknowledge", field="alert_id")
            alert = self.alerts.acknowledge(alert_id, who, self.time).to_json()
            self._changes.append(alert)
            return alert

    def override(self, track_id: int, identity: str, who: str, why: str, track_class: str | None = None) -> dict:
        """An operator sets a track's identity (and class); returns the track's identity record."""
        from ..errors import InputError

        with self.lock:
            if self.identity is None:
                raise InputError("this picture has no identification to override", field="identity")
            self.identity.override(int(track_id), identity, who, why, self.time, track_class=track_class)
            return self.identity.track(int(track_id))

    def take_changes(self) -> list[dict]:
        with self.lock:
            out, self._changes = self._changes, []
            return out
