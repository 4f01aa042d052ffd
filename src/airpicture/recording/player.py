"""Playing a recording: its frames, in order, into a SinkSet, so the live display (a sink) shows a recorded
session as it was; with speed, pause / play and seek for the display's timeline (docs/recording.md,
docs/live.md ``/api/timeline``, ``/api/playback``)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from ..errors import InputError
from ..picture import SinkSet
from .reader import RecordingReader

CHUNK_FRAMES = 64  # frames read per query while playing


class RecordingPlayer:
    """Plays ``recording`` (a path or a :class:`RecordingReader`) into ``sinks``.

    ``speed``: picture seconds per wall second (None or 0: as fast as the sinks take it). ``hold``: at the end,
    wait (paused) for a seek or :meth:`stop` instead of closing - what a display's timeline wants.
    ``start_paused``: wait for :meth:`play`.

    :meth:`run` plays in the calling thread and returns what it played; :meth:`start` runs it in a thread.
    The controls (:meth:`play`, :meth:`pause`, :meth:`seek`, :meth:`set_speed`, :meth:`stop`, :meth:`control`)
    may be called from any thread. After a seek, the first frame's ``alerts`` hold every alert as it stood at
    that frame's time (:meth:`RecordingReader.alerts_at`), so a sink keeping alert state is right again.
    """

    def __init__(self, recording, sinks: SinkSet | None = None, *, speed: float | None = None,
                 hold: bool = False, start_paused: bool = False):
        self.reader = recording if isinstance(recording, RecordingReader) else RecordingReader(recording)
        self.sinks = sinks if sinks is not None else SinkSet()
        self.hold = bool(hold)
        self._speed = self._check_speed(speed)
        self._cond = threading.Condition()
        self._index = 0                 # next frame to play
        self._time: float | None = None  # time of the latest frame played
        self._playing = not start_paused
        self._stopped = False
        self._show_now = False           # a seek while paused: show that frame once
        self._seek_alerts = False        # the next frame carries every alert's state
        self._anchor: tuple[float, float] | None = None  # (wall, picture time) pacing starts from
        self._cache: tuple[int, list] = (0, [])
        self._thread: threading.Thread | None = None
        self.played = 0
        self.seeks = 0
        self.wall_s = 0.0

    @staticmethod
    def _check_speed(speed):
        if speed is None or speed == 0:
            return None
        speed = float(speed)
        if not speed > 0:
            raise InputError("must be positive", field="speed")
        return speed

    # ------------------------------------------------------------------ controls
    def play(self) -> dict:
        with self._cond:
            if self._index >= len(self.reader) and len(self.reader):  # at the end: from the start again
                self._index, self._seek_alerts = 0, True
            self._playing, self._anchor = True, None
            self._cond.notify_all()
        return self.state()

    def pause(self) -> dict:
        with self._cond:
            self._playing = False
            self._cond.notify_all()
        return self.state()

    def seek(self, t: float) -> dict:
        """Continue from the latest frame at or before ``t`` (the first frame if ``t`` is earlier)."""
        with self._cond:
            self._index = max(0, self.reader.index_at(float(t)))
            self._anchor, self._seek_alerts, self._show_now = None, True, not self._playing
            self.seeks += 1
            self._cond.notify_all()
        return self.state()

    def set_speed(self, speed: float | None) -> dict:
        with self._cond:
            self._speed, self._anchor = self._check_speed(speed), None
            self._cond.notify_all()
        return self.state()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    def control(self, action: str, t: float | None = None, speed: float | None = None) -> dict:
        """``/api/playback``: play, pause, seek (``t``) or speed (``speed``); returns the timeline state."""
        if action == "play":
            return self.play()
        if action == "pause":
            return self.pause()
        if action == "seek":
            if t is None:
                raise InputError("seek needs a time", field="t")
            return self.seek(t)
        if action == "speed":
            if speed is None:
                raise InputError("speed needs a value", field="speed")
            return self.set_speed(speed)
        raise InputError(f"unknown playback action '{action}' (play, pause, seek, speed)", field="action")

    def state(self) -> dict:
        """``/api/timeline``: ``mode``, ``start``, ``end``, ``time``, ``playing``, ``speed``."""
        with self._cond:
            return {"mode": "recording", "start": self.reader.start, "end": self.reader.end,
                    "time": self._time if self._time is not None else self.reader.start,
                    "playing": self._playing and not self._stopped and self._index < len(self.reader),
                    "speed": self._speed}

    # ------------------------------------------------------------------ playing
    def context(self):
        """The recorded context as the sinks see it in playback: mode "recording", the file in ``config``."""
        ctx = self.reader.context
        from ..picture import PictureContext

        d = ctx.to_json()
        d["mode"] = "recording"
        d["config"] = {**d.get("config", {}), "recording": str(self.reader.path), "recorded_mode": ctx.mode}
        return PictureContext.from_json(d)

    def _frame(self, i: int):
        start, frames = self._cache
        if not (start <= i < start + len(frames)):
            frames = self.reader.frames(i, i + CHUNK_FRAMES)
            self._cache = (start := i, frames)
        return frames[i - start]

    def _next(self):
        """Wait for the next frame due; (index, with_alert_state) or None to finish."""
        n = len(self.reader)
        with self._cond:
            while True:
                if self._stopped:
                    return None
                if self._show_now and self._index < n:
                    self._show_now = False
                    i = self._index
                    self._index += 1  # play resumes after the frame shown
                    seek, self._seek_alerts = self._seek_alerts, False
                    return i, seek
                if self._index >= n:
                    if not self.hold:
                        return None
                    self._playing = False  # the end: paused there until a seek, play or stop
                    self._cond.wait()
                    continue
                if not self._playing:
                    self._cond.wait()
                    continue
                now = time.monotonic()
                t = float(self.reader.times[self._index])
                if self._speed is not None:
                    if self._anchor is None:
                        self._anchor = (now, t)
                    due = self._anchor[0] + (t - self._anchor[1]) / self._speed
                    if due > now:
                        self._cond.wait(due - now)
                        continue
                i = self._index
                self._index += 1
                seek, self._seek_alerts = self._seek_alerts, False
                return i, seek

    def run(self) -> dict:
        """Open the sinks, play (until the end, or :meth:`stop` with ``hold``), close the sinks; returns what it
        played (also handed to the sinks' ``close``)."""
        started = time.perf_counter()
        self.sinks.open(self.context())
        tracks = set()
        alerts = set()
        try:
            while (nxt := self._next()) is not None:
                i, with_state = nxt
                frame = self._frame(i)
                if with_state:
                    frame = _with_alerts(frame, self.reader.alerts_at(frame.time))
                self.sinks.step(frame)
                tracks.update(frame.columns["track_id"].tolist())
                alerts.update(a.get("id") for a in frame.alerts)
                with self._cond:
                    self._time = frame.time
                self.played += 1
        finally:
            self.wall_s = time.perf_counter() - started
            summary = self.play_summary(len(tracks), len(alerts))
            self.sinks.close(summary)
        summary["sinks"] = self.sinks.summary()
        return summary

    def play_summary(self, n_tracks: int = 0, n_alerts: int = 0) -> dict:
        r = self.reader
        recorded = r.summary
        return {"recording": str(r.path), "name": r.context.name, "recorded_mode": r.context.mode,
                "schema_version": r.schema_version, "frames": len(r), "frames_played": self.played,
                "seeks": self.seeks, "start": r.start, "end": r.end, "tracks": n_tracks, "alerts": n_alerts,
                "speed": self._speed, "wall_s": round(self.wall_s, 3), "complete": recorded is not None,
                "recorded_summary": recorded}

    def start(self) -> threading.Thread:
        """Play in a background thread (``join()`` it, or :meth:`stop`)."""
        self._thread = threading.Thread(target=self.run, name="airpicture-player", daemon=True)
        self._thread.start()
        return self._thread

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)


def _with_alerts(frame, alerts):
    from ..picture import PictureFrame

    return PictureFrame(frame.time, frame.columns, alerts, frame.measurements, frame.epoch_unix)


def play_recording(path: Path, sinks: SinkSet | None = None, *, speed: float | None = None) -> dict:
    """What ``airpicture replay OUT/airpicture.duckdb`` runs: play to the end; returns what was played."""
    player = RecordingPlayer(path, sinks, speed=speed)
    try:
        return player.run()
    finally:
        player.reader.close()
