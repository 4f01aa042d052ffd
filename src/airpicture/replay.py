"""The air picture of a transponder recording or feed: decode, track, summarise, write (issue 3 §5).

``TransponderPicture`` holds a :class:`~airpicture.fusion.decoder.TransponderDecoder` and a
:class:`~airpicture.tracking.sensor_tracker.SensorTracker` with one ``adsb`` site, and is fed
:class:`~airpicture.sources.FrameBatch` es as a reader produces them::

    picture = TransponderPicture(reference=(43.63, 1.37))
    for fmt, batch in iter_file(path, problems=picture.problems):
        picture.feed(batch)            # decode + tracker.process_reports on the whole batch
    picture.advance(now)               # a live feed: let time pass without reports (coast, drop)
    picture.states()                   # TrackStates now, with icao24, callsign, squawk, emergency, category
    picture.summary()                  # counters (docs/replay.md)
    picture.write_outputs(out_dir)     # summary.json, tracks.parquet, picture.png

``replay_file`` is what ``airpicture replay`` runs. See docs/replay.md.
"""

from __future__ import annotations

import dataclasses

import json
import math
import time as _time
from pathlib import Path

import numpy as np

from .fusion.adsb_measurements import AdsbReports
from .fusion.decoder import IDENTITY_FIELDS, TransponderDecoder
from .measurements import SensorSite
from .sources.batch import FrameBatch, Problems
from .sources.timeline import MAX_ABS_TIME_S
from .tracking.sensor_tracker import SensorTracker, TrackerConfig
from .tracking.transponder import addresses_to_int
from .tracks import PICTURE_STATUSES, TrackStates

SITE_NAME = "adsb"


def _usable(times: np.ndarray) -> np.ndarray:
    """Times the decoder accepts (finite, at most MAX_ABS_TIME_S): the only ones that move the picture's clock."""
    return np.abs(times) <= MAX_ABS_TIME_S


def _identity_as_of(changes: dict, address: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
    """Identity of each (address, time) query as known at that time, from the change log ``changes``
    (columns ``address``, ``time`` and the identity fields, sorted by address then time). ``''`` when nothing
    was known yet. Vectorised: change rows and queries sorted together, the latest change carried forward."""
    n = address.size
    out = {name: np.full(n, "", dtype=object) for name in IDENTITY_FIELDS}
    m = changes["address"].size
    if n == 0 or m == 0:
        return out
    all_addr = np.concatenate([changes["address"], address])
    all_t = np.concatenate([changes["time"], t])
    is_query = np.r_[np.zeros(m, bool), np.ones(n, bool)]
    order = np.lexsort((is_query, all_t, all_addr))        # a change at the query's own time counts
    idx = np.where(~is_query[order], order, -1)
    last = np.maximum.accumulate(idx)
    same = last >= 0
    same[same] = all_addr[last[same]] == all_addr[order][same]
    q = is_query[order]
    rows = order[q] - m
    src = np.where(same[q], last[q], -1)
    ok = src >= 0
    for name in IDENTITY_FIELDS:
        out[name][rows[ok]] = changes[name][src[ok]]
    return out


class TransponderPicture:
    """A recognised air picture from transponder input alone (see the module docstring).

    Parameters
    ----------
    reference : (latitude_deg, longitude_deg), optional
        The receiver's position (local CPR decodes, surface quadrants); also drawn on the picture.
    config : TrackerConfig, optional
    problems : Problems, optional
        The reader's problem counter (pass the same object to ``iter_file``; ``self.problems`` by default).
    record_updates : bool
        Keep the tracker's update log (every filtered state at its report): ``tracks.parquet`` rows. The
        picture drains ``tracker.update_log(clear=True)`` after each batch; read it with :meth:`update_log`.
    **decoder_options :
        Passed to :class:`TransponderDecoder` (and through it to ``ModeSFilter``).
    """

    def __init__(self, reference=None, config: TrackerConfig | None = None, *, problems: Problems | None = None,
                 record_updates: bool = True, **decoder_options):
        self.decoder = TransponderDecoder(reference, problems=problems, **decoder_options)
        self.problems = self.decoder.problems
        self.reference = self.decoder.reference
        lat, lon = (0.0, 0.0) if self.reference is None else self.reference
        self.site = SensorSite(name=SITE_NAME, kind="adsb", lat_rad=math.radians(lat), lon_rad=math.radians(lon),
                               alt_m=0.0)
        self.config = config or TrackerConfig()
        self.tracker = SensorTracker([self.site], self.config, record_updates=record_updates)
        self.record_updates = record_updates
        self.now = -math.inf               # latest time seen (input time base)
        self.first_time = math.inf
        self.stage_s = {"decode": 0.0, "track": 0.0}
        self.batches = 0
        self._created = _time.perf_counter()
        self._confirmed_ids: set[int] = set()
        self._log_parts: list[TrackStates] = []   # the tracker's update log, drained after each batch
        self._changes = {"address": [], "time": [], **{name: [] for name in IDENTITY_FIELDS}}
        self._last_identity: dict[int, tuple] = {}
        self._next_frame: float | None = None     # next frame boundary (input time) when feeding sinks
        self._window_reports: list[AdsbReports] = []  # reports tracked since the last frame (its measurements)
        self._held: AdsbReports | None = None      # reports of the open merging window (feed_framed)

    # ------------------------------------------------------------------ feeding
    def feed(self, batch: FrameBatch) -> AdsbReports:
        """Decode one batch and update the tracks with all its reports at once; returns the reports."""
        self.batches += 1
        t0 = _time.perf_counter()
        reports = self.decoder.process(batch)
        self.stage_s["decode"] += _time.perf_counter() - t0
        if len(reports):
            self._track(reports)
        if len(batch):
            times = np.asarray(batch.time, dtype=np.float64)
            finite = times[_usable(times)]   # a time the decoder rejects (NaN, 1e300) never moves the clock
            if finite.size:
                self.now = max(self.now, float(finite.max()))
                self.first_time = min(self.first_time, float(finite.min()))
        self._note_confirmed()
        return reports

    def feed_framed(self, batch: FrameBatch, sinks, *, step_s: float = 1.0) -> None:
        """Feed a batch and hand ``sinks`` one ``PictureFrame`` at each ``step_s`` boundary of input time crossed
        (the display and the recorder see the picture second by second, as it was). The batch is decoded once.
        Its reports go to the tracker in windows aligned to the report-merging interval (2 s): each aircraft
        still gets one merged update per interval, as in an unframed replay, while a frame in between shows
        the tracks predicted to its time (reports of the open window are held back, ``_held``). Frames carry
        the input's own time base (Unix seconds for a recording with timestamps)."""
        times = np.asarray(batch.time, dtype=np.float64)
        if not len(batch) or not _usable(times).any():
            self.feed(batch)
            self.emit_frames(sinks, self.now, step_s=step_s)
            return
        self.batches += 1
        t0 = _time.perf_counter()
        reports = self.decoder.process(batch)
        self.stage_s["decode"] += _time.perf_counter() - t0
        if self._held is not None:
            reports = _concat_reports([self._held, reports]) if len(reports) else self._held
            self._held = None
        finite = times[_usable(times)]
        input_running = np.maximum.accumulate(finite)
        self.first_time = min(self.first_time, float(finite.min()))
        if self._next_frame is None:
            self._next_frame = math.floor(float(finite.min()) / step_s) * step_s + step_s
        merge_s = max(step_s, float(self.config.adsb_update_interval_s))
        rt = np.asarray(reports.time, dtype=np.float64)
        if rt.size > 1 and (np.diff(rt) < 0).any():  # the decoder may group reports by aircraft: cut by time
            reports = _take_reports(reports, np.argsort(rt, kind="stable"))
            rt = np.asarray(reports.time, dtype=np.float64)
        # a running maximum orders the cuts even when a few stamps step back (they stay in their window)
        running = np.maximum.accumulate(np.where(np.isfinite(rt), rt, -np.inf)) if rt.size else rt
        done = 0
        last_input = float(finite.max())
        while self._next_frame <= last_input:
            boundary = self._next_frame
            cut = math.floor(boundary / merge_s) * merge_s  # reports of closed merging windows only
            stop = int(np.searchsorted(running, cut, side="right"))
            if stop > done:
                self._track_window(_take_reports(reports, slice(done, stop)))
                done = stop
            self.emit_frames(sinks, boundary, step_s=step_s)
            # a silence inside the batch: jump to the boundary before its next frame (report or not)
            after = int(np.searchsorted(input_running, self._next_frame, side="right"))
            nxt = float(input_running[after]) if after < len(input_running) else last_input
            gap_to = math.floor(nxt / step_s) * step_s
            if gap_to > self._next_frame:
                self._next_frame = gap_to
        if done < len(rt):
            self._held = _take_reports(reports, slice(done, None))
        self.now = max(self.now, last_input)
        self._note_confirmed()

    def flush_held(self) -> None:
        """Track the reports held back for an open merging window (the input ended or went quiet)."""
        if self._held is not None:
            held, self._held = self._held, None
            self._track_window(held)
            self._note_confirmed()

    def _track(self, reports: AdsbReports) -> None:
        """The tracker and the identity log take a batch of reports."""
        t1 = _time.perf_counter()
        self.tracker.process_reports(reports)
        self._log_identity_changes(reports)
        self.stage_s["track"] += _time.perf_counter() - t1

    def _track_window(self, reports: AdsbReports) -> None:
        """A window of a framed feed: tracked, and kept as the next frame's measurements."""
        self._window_reports.append(reports)
        self._track(reports)

    def emit_frames(self, sinks, upto: float, *, step_s: float = 1.0) -> None:
        """Frames for every window boundary up to ``upto`` not yet emitted (quiet seconds included, at most
        one frame per boundary; a long silence gives one frame, not thousands)."""
        from .picture import build_frame
        from .picture.frame import measurement_columns

        if not math.isfinite(upto):
            return
        if self._next_frame is None:
            self._next_frame = math.floor(upto / step_s) * step_s + step_s
            return
        if upto < self._next_frame:
            return
        t = math.floor(upto / step_s) * step_s
        self.advance(t)
        parts = [measurement_columns(reports=r, report_sensor=self.site.name) for r in self._window_reports]
        self._window_reports = []
        measured = ({k: np.concatenate([p[k] for p in parts]) for k in parts[0]} if parts else None)
        sinks.step(build_frame(self.states(t), t, epoch_unix=0.0, sensor_names=[self.site.name],
                               measurements=measured))
        self._next_frame = t + step_s

    def advance(self, now: float) -> None:
        """Time passes without reports (a quiet or dead feed): coast and drop transponder tracks."""
        now = float(now)
        if now > self.now:
            self.now = now
        if math.isfinite(self.now):
            self.tracker.expire(self.now)

    # ------------------------------------------------------------------ reading the picture
    def states(self, t: float | None = None) -> TrackStates:
        """Every live track predicted to ``t`` (default: the latest time seen), with ``extra`` columns
        ``icao24``, ``source_mask``, ``sources``, ``transponder_only`` and the aircraft's latest identity
        (``callsign``, ``squawk``, ``emergency``, ``category``; ``''`` unknown)."""
        t = self.now if t is None else float(t)
        if not math.isfinite(t):
            return _with_identity_columns(TrackStates.empty())
        snap = self.tracker.snapshot(t)
        extra = dict(snap.extra or {})
        if not len(snap):
            return _with_identity_columns(snap)
        identity = self.decoder.identity
        icao = np.asarray(extra.get("icao24", np.full(len(snap), "", dtype=object)), dtype=object)
        uniq, inverse = np.unique(icao.astype(str), return_inverse=True)
        for name in IDENTITY_FIELDS:
            values = np.array([identity.get(a, {}).get(name, ("", 0.0))[0] for a in uniq.tolist()], dtype=object)
            extra[name] = values[inverse.reshape(-1)]
        extra["sources"] = self.source_names(extra.get("source_mask", np.zeros(len(snap), np.int64)))
        snap.extra = extra
        return snap

    def update_log(self) -> TrackStates:
        """The tracker's update log (the filtered state at each update, status then) with the identity known
        at each row's time, ``source_mask`` / ``sources`` (the transponder receiver) and ``transponder_only``."""
        if not self.record_updates:
            raise RuntimeError("construct the TransponderPicture with record_updates=True to log updates")
        self._drain_log()
        log = TrackStates.concatenate(self._log_parts)
        if len(self._log_parts) > 1:
            self._log_parts = [log]
        log = log.take(slice(None))
        n = len(log)
        extra = dict(log.extra or {})
        icao = np.asarray(extra.get("icao24", np.full(n, "", dtype=object)), dtype=object)
        changes = self._change_columns()
        extra.update(_identity_as_of(changes, addresses_to_int(icao), np.asarray(log.time, np.float64)))
        mask = np.full(n, 1 << self.tracker.sensors.index(self.site), np.int64)
        extra["source_mask"] = mask
        extra["sources"] = self.source_names(mask)
        extra["transponder_only"] = np.ones(n, bool)
        extra["icao24"] = icao
        log.extra = extra
        return log

    def source_names(self, mask) -> np.ndarray:
        """Sensor names of each ``source_mask`` (bit i = sensor i), joined with '+'; '' for none."""
        from .outputs.parquet import mask_names

        return mask_names(mask, [s.name for s in self.tracker.sensors])

    def summary(self, wall_s: float | None = None) -> dict:
        """Counters of the decoder, the reader and the tracker (docs/replay.md). ``wall_s``: the processing
        time to rate ``msgs_per_s`` by (default: since this picture was made)."""
        counts = self.decoder.counts
        wall = (_time.perf_counter() - self._created) if wall_s is None else float(wall_s)
        live = self.states()
        in_picture = live.in_picture() if len(live) else np.zeros(0, bool)
        first = self.first_time if math.isfinite(self.first_time) else None
        last = self.now if math.isfinite(self.now) else None
        out = {
            "messages": counts["messages"],
            "decoded": counts["decoded"],
            "crc_rejected": counts["crc_rejected"],
            "malformed": counts["malformed"],
            "positions": counts["positions"],
            "aircraft": counts["aircraft"],
            "aircraft_with_positions": counts["aircraft_with_positions"],
            "tracks": self.track_count(),
            "msgs_per_s": counts["messages"] / wall if wall > 0 else None,
        }
        for name in ("phantoms", "unknown_df", "unsupported_df", "impossible_speed", "bad_length", "not_mode_s",
                     "short_df_in_long_frame", "decoded_by_rs1090", "rs1090_rows", "from_fields",
                     "field_positions", "crc_rejected_by_df", "rs1090_problems"):
            out[name] = counts[name]
        out["problems"] = dict(sorted(self.problems.counts.items()))
        out["problems_first"] = dict(sorted(self.problems.first.items()))
        tc = self.tracker.transponder_counts
        out["tracks_started"] = int(tc.get("new_tracks", 0) - tc.get("renumbered", 0))
        out["tracks_now"] = int(np.count_nonzero(in_picture))
        out["tracker"] = dict(self.tracker.transponder_counts)
        out["reference"] = None if self.reference is None else list(self.reference)
        out["time_first"] = first
        out["time_last"] = last
        out["duration_s"] = (last - first) if first is not None and last is not None else None
        out["batches"] = self.batches
        out["wall_s"] = wall
        out["stage_s"] = dict(self.stage_s)
        return out

    def write_outputs(self, out_dir, *, summary: dict | None = None, title: str | None = None) -> dict:
        """Write ``summary.json``, ``tracks.parquet`` (the update log, or the current states without one) and
        ``picture.png`` into ``out_dir``; returns their paths. ``summary`` defaults to :meth:`summary`."""
        rows = self.update_log() if self.record_updates else self.states()
        summary = dict(self.summary() if summary is None else summary)
        summary["tracks_parquet_rows"] = "update log" if self.record_updates else "states"
        return write_picture_outputs(out_dir, rows, summary, sensors=self.tracker.sensors,
                                     drawn_sites=[self.site] if self.reference is not None else [],
                                     first_time=self.first_time, title=title)

    def track_count(self) -> int:
        """Distinct track numbers that were in the picture (confirmed or coasting) at some time: in the update
        log (a track confirmed and dropped within one batch included) and in the live table after each batch."""
        self._drain_log()
        return len(self._confirmed_ids)

    # ------------------------------------------------------------------ internals
    def _drain_log(self) -> None:
        """Move the tracker's new update-log rows here (``update_log(clear=True)``), noting confirmed tracks."""
        if not self.record_updates:
            return
        part = self.tracker.update_log(clear=True)
        if len(part):
            self._log_parts.append(part)
            self._confirmed_ids.update(np.unique(part.track_id[part.in_picture()]).tolist())

    def _note_confirmed(self) -> None:
        self._drain_log()
        tab = self.tracker.table
        slots = tab.active_slots()
        if slots.size:
            ids = tab.track_id[slots][np.isin(tab.status[slots], PICTURE_STATUSES)]
            self._confirmed_ids.update(ids.tolist())

    def _log_identity_changes(self, reports: AdsbReports) -> None:
        """Keep the reports where an aircraft's identity changed: the as-of join of :meth:`update_log`."""
        address = addresses_to_int(reports.icao24)
        order = np.lexsort((reports.time, address))
        a = address[order]
        cols = [np.asarray(getattr(reports, name), dtype=object)[order] for name in IDENTITY_FIELDS]
        changed = np.r_[True, a[1:] != a[:-1]]
        for c in cols:
            changed[1:] |= c[1:] != c[:-1]
        rows = np.flatnonzero(changed)
        # drop the first row of an aircraft when it repeats what the previous batch ended with
        keep = []
        for r in rows.tolist():
            value = tuple(c[r] for c in cols)
            first_of_aircraft = r == 0 or a[r] != a[r - 1]
            if first_of_aircraft and self._last_identity.get(int(a[r])) == value:
                continue
            keep.append(r)
        ends = np.flatnonzero(np.r_[a[1:] != a[:-1], True])
        for r in ends.tolist():
            self._last_identity[int(a[r])] = tuple(c[r] for c in cols)
        if not keep:
            return
        keep = np.asarray(keep)
        self._changes["address"].append(a[keep])
        self._changes["time"].append(np.asarray(reports.time, np.float64)[order][keep])
        for name, c in zip(IDENTITY_FIELDS, cols):
            self._changes[name].append(c[keep])

    def _change_columns(self) -> dict:
        if not self._changes["address"]:
            return {"address": np.zeros(0, np.int64), "time": np.zeros(0),
                    **{name: np.zeros(0, dtype=object) for name in IDENTITY_FIELDS}}
        cols = {k: np.concatenate(v) for k, v in self._changes.items()}
        order = np.lexsort((cols["time"], cols["address"]))
        return {k: v[order] for k, v in cols.items()}


def _take_reports(reports: AdsbReports, index) -> AdsbReports:
    """Rows of a report batch (every per-row column; the per-batch NACp table kept)."""
    n = len(reports)
    cols = {f.name: getattr(reports, f.name) for f in dataclasses.fields(reports)}
    return AdsbReports(**{k: (v[index] if isinstance(v, np.ndarray) and v.shape[:1] == (n,) else v)
                          for k, v in cols.items()})


def write_picture_outputs(out_dir, rows: TrackStates, summary: dict, *, sensors, drawn_sites=(),
                          first_time: float = math.nan, title: str | None = None) -> dict:
    """``tracks.parquet`` (``rows``), ``picture.png`` and ``summary.json`` (``summary`` plus the output paths) of
    a transponder picture into ``out_dir``; returns the paths. ``sensors`` name the ``source_mask`` bits."""
    from .outputs.parquet import write_tracks_parquet
    from .outputs.picture import render_picture

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"summary": out_dir / "summary.json", "tracks": out_dir / "tracks.parquet",
             "picture": out_dir / "picture.png"}
    write_tracks_parquet(paths["tracks"], rows, sensor_names=[s.name for s in sensors])
    labelled = rows.take(slice(None))
    labelled.track_class = None          # no class hints from transponders: labels are number + callsign
    if len(labelled) and math.isfinite(first_time):
        labelled.time = labelled.time - first_time                  # "track time: 0-7058 s"
    render_picture(paths["picture"], sensors=list(drawn_sites), tracks=labelled, title=title or "Transponder picture")
    summary = dict(summary)
    summary["outputs"] = {k: str(v) for k, v in paths.items()}
    paths["summary"].write_text(json.dumps(_jsonable(summary), indent=2) + "\n")
    return paths


def _concat_reports(parts: list[AdsbReports]) -> AdsbReports:
    """Report batches one after the other (the NACp table of the last)."""
    n = [len(p) for p in parts]
    out = {}
    for f in dataclasses.fields(parts[-1]):
        values = [getattr(p, f.name) for p in parts]
        if all(isinstance(v, np.ndarray) and v.shape[:1] == (k,) for v, k in zip(values, n)):
            out[f.name] = np.concatenate(values)
        else:
            out[f.name] = values[-1]
    return AdsbReports(**out)


def _with_identity_columns(states: TrackStates) -> TrackStates:
    n = len(states)
    extra = dict(states.extra or {})
    for name in ("icao24", "sources", *IDENTITY_FIELDS):
        extra.setdefault(name, np.full(n, "", dtype=object))
    extra.setdefault("source_mask", np.zeros(n, np.int64))
    extra.setdefault("transponder_only", np.zeros(n, bool))
    states.extra = extra
    return states


def _jsonable(value):
    """numpy scalars and non-finite floats made JSON-safe (NaN/inf -> null)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.bool_):
        return bool(value)
    return value


__all__ = ["TransponderPicture"]


# --------------------------------------------------------------------------- the replay command
def parse_reference(text: str | None):
    """``"LAT,LON"`` in degrees -> (lat, lon); None stays None. Bad text -> InputError naming --reference."""
    from .errors import InputError

    if text is None or str(text).strip() == "":
        return None
    parts = str(text).replace(" ", "").split(",")
    try:
        lat, lon = (float(p) for p in parts)
    except ValueError:
        raise InputError(f"'{text}' is not LAT,LON in degrees (e.g. 43.63,1.37)", field="--reference") from None
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 360.0) or not (math.isfinite(lat) and math.isfinite(lon)):
        raise InputError(f"'{text}' is not LAT,LON in degrees (latitude -90..90, longitude -180..360)",
                         field="--reference")
    return lat, lon


def input_size(path) -> int | None:
    """Bytes the readers will see: the file size, or for gzip the uncompressed size from its trailer (ISIZE,
    modulo 4 GiB: None when that cannot be the size)."""
    import os

    try:
        size = os.path.getsize(path)
        with open(path, "rb") as handle:
            if handle.read(2) != b"\x1f\x8b":
                return size
            if size < 18:
                return None
            handle.seek(-4, os.SEEK_END)
            isize = int.from_bytes(handle.read(4), "little")
    except OSError:
        return None
    return isize if isize >= size // 2 else None


def replay_file(path, out_dir, *, format: str = "auto", reference=None, config: TrackerConfig | None = None,
                progress=None, chunk_bytes: int = 1 << 22, title: str | None = None, sinks=None,
                record: bool = True) -> dict:
    """Replay a recording as fast as it goes: read chunk by chunk (``sources.iter_file``), decode, track,
    write ``summary.json``, ``tracks.parquet`` and ``picture.png`` into ``out_dir``; returns the summary.

    ``progress(done_bytes, total_bytes)`` is called after each chunk (bytes of the uncompressed input; the
    total may be None). Bad input raises ``InputError`` after ``summary.json`` was written with the counters
    and an ``error`` line. ``record``: also record the picture, second by second, into ``OUT/airpicture.duckdb``.
    """
    from .errors import InputError
    from .sources import iter_file

    path = Path(path)
    out_dir = Path(out_dir)
    started = _time.perf_counter()
    picture = TransponderPicture(reference=reference, config=config)
    if record:
        from .recording import add_recorder

        sinks = add_recorder(sinks, out_dir)
    if sinks:
        from .picture import PictureContext

        sinks.open(PictureContext.of_sensors(f"replay {path.name}", [picture.site], mode="replay",
                                             config={"input": str(path), "format": format,
                                                     "reference": None if reference is None else list(reference)}))
    total = input_size(path)
    used = format
    done = 0
    read_s = 0.0
    try:
        t_read = _time.perf_counter()
        for used, batch in iter_file(path, format, problems=picture.problems, chunk_bytes=chunk_bytes):
            read_s += _time.perf_counter() - t_read
            if sinks:
                picture.feed_framed(batch, sinks)
            else:
                picture.feed(batch)
            # time has reached the batch's last frame: coast / drop by that clock, not only by the last position
            # report (so a partition of the frames by aircraft, partition.py, expires its tracks identically)
            picture.advance(picture.now)
            done = 4096 if done == 0 else done + chunk_bytes
            if progress is not None:
                progress(min(done, total) if total else done, total)
            t_read = _time.perf_counter()
        read_s += _time.perf_counter() - t_read   # the reader's end (its last records)
        picture.flush_held()   # a framed replay's last open merging window
        picture.advance(picture.now)
        if picture.decoder.counts["messages"] == 0:
            what = "; ".join(picture.problems.describe()) or "the file is empty"
            as_format = f" as {used}" if used != "auto" else ""
            raise InputError(f"no frames read{as_format}: {what}", source=str(path))
    except InputError as exc:
        summary = _replay_summary(picture, path, used, started, read_s)
        summary["error"] = str(exc)
        out_dir.mkdir(parents=True, exist_ok=True)
        if sinks:
            sinks.close(summary)
        (out_dir / "summary.json").write_text(json.dumps(_jsonable(summary), indent=2) + "\n")
        raise
    if progress is not None:
        progress(total or done, total)
    summary = _replay_summary(picture, path, used, started, read_s)
    t_out = _time.perf_counter()
    picture.write_outputs(out_dir, summary=summary, title=title or f"airpicture replay - {path.name}")
    summary["stage_s"]["outputs"] = _time.perf_counter() - t_out
    summary["outputs"] = {name: str(out_dir / f) for name, f in
                          (("summary", "summary.json"), ("tracks", "tracks.parquet"), ("picture", "picture.png"))}
    summary["tracks_parquet_rows"] = "update log"
    if sinks:
        picture.emit_frames(sinks, picture.now + 1.0)
        sinks.close(summary)
        summary["sinks"] = sinks.summary()
    (out_dir / "summary.json").write_text(json.dumps(_jsonable(summary), indent=2) + "\n")
    return summary


def _replay_summary(picture: TransponderPicture, path: Path, fmt: str, started: float, read_s: float) -> dict:
    wall = _time.perf_counter() - started
    summary = {"input": str(path), "format": fmt}
    summary.update(picture.summary(wall_s=wall))
    summary["stage_s"] = {"read": read_s, **picture.stage_s}
    summary["summary_s"] = _time.perf_counter() - started - wall
    return summary


def print_replay_report(summary: dict, console) -> None:
    """The short end report of ``airpicture replay``: counts, rates, where the outputs went."""
    s = summary
    rate = s.get("msgs_per_s")
    stage = s.get("stage_s", {})
    lines = [
        f"[bold]airpicture replay[/]: {s['input']} ({s['format']})",
        f"  {s['messages']:,} messages, {s['decoded']:,} decoded, {s['crc_rejected']:,} CRC rejected, "
        f"{s['phantoms']:,} phantoms, {s['malformed']:,} malformed, {s['unknown_df']:,} unknown DF, "
        f"{s['impossible_speed']:,} impossible speeds",
        f"  {s['positions']:,} positions from {s['aircraft_with_positions']} of {s['aircraft']} aircraft -> "
        f"{s['tracks']} tracks",
        f"  {s['wall_s']:.2f} s, {rate:,.0f} msg/s (read {stage.get('read', 0):.2f} s, decode "
        f"{stage.get('decode', 0):.2f} s, track {stage.get('track', 0):.2f} s)" if rate else
        f"  {s['wall_s']:.2f} s",
    ]
    print_report_tail(s, lines, console)


def print_report_tail(s: dict, lines: list[str], console) -> None:
    """The end of the replay and ingest reports: input problems and where the outputs went; prints it all."""
    problems = s.get("problems") or {}
    if problems:
        lines.append("  input problems: " + ", ".join(f"{k} {v:,}" for k, v in problems.items()))
    outputs = s.get("outputs") or {}
    if outputs:
        lines.append(f"  outputs: {Path(outputs['summary']).parent}/ (summary.json, tracks.parquet, picture.png)")
    console.print("\n".join(lines), highlight=False, soft_wrap=True)
