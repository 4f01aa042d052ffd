"""The recorder: a sink that writes every frame of a run into one DuckDB file (docs/recording.md).

``step`` only keeps a reference to the frame (a frame's arrays are never changed after it is built); a writer
thread turns what arrived in the last ``flush_interval_s`` of wall time into one Arrow table per table and
inserts them in one transaction. A committed transaction is in DuckDB's write-ahead log, which DuckDB replays
when the file is next opened: a crash (``kill -9``) loses at most the frames of the last interval. ``close``
writes the summary (and the run's identity, alerts and threat JSON when the run wrote them), checkpoints the
log into the file and closes it.
"""

from __future__ import annotations

import atexit
import json
import os
import math
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..picture.frame import COLUMNS, MEASUREMENT_COLUMNS
from .schema import FILE_NAME, FORMAT, SCHEMA_VERSION, TABLES, create_sql

# the run's JSON outputs kept in the recording at close (summary["outputs"] names them)
CLOSE_DOCUMENTS = ("identity", "alerts", "threat")
MAX_DOCUMENT_BYTES = 64 << 20


def _utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _json_default(x):
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, Path):
        return str(x)
    if isinstance(x, (set, tuple)):
        return list(x)
    return str(x)


def dumps(obj) -> str:
    """JSON text of a document or an alert (NaN / inf -> null)."""
    return json.dumps(_finite(obj), default=_json_default, allow_nan=False)


def _finite(obj):
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if isinstance(obj, np.floating):
        return _finite(float(obj))
    return obj


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("airpicture")
    except Exception:  # not installed (PYTHONPATH=src)
        return "unknown"


class Recorder:
    """A sink recording a run into ``path`` (DuckDB). An existing file there is replaced (``append``: continued).

    ``flush_interval_s``: how often the writer thread commits what arrived (the most a crash loses).
    ``measurements``: also record each frame's measurements (plots and reports).
    ``append``: continue the recording already at ``path`` (``--resume``) instead of replacing it."""

    name = "recorder"

    def __init__(self, path, *, flush_interval_s: float = 1.0, measurements: bool = True, append: bool = False):
        self.path = Path(path)
        self.append = bool(append)
        self.flush_interval_s = float(flush_interval_s)
        self.record_measurements = bool(measurements)
        self._con = None
        self._pending: list[tuple[int, float, object]] = []  # (frame index, wall_unix, frame)
        self._buf_lock = threading.Lock()
        self._db_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._frames = 0
        self._seen_events: dict[str, int] = {}  # alert id -> timeline events recorded
        self._error: Exception | None = None
        self.counts = {"frames": 0, "batches": 0, "rows": 0, "bytes": 0, "write_s": 0.0, "dropped_frames": 0,
                       "write_errors": 0}
        self.rows = {name: 0 for name in TABLES}
        self.closed = False

    # ------------------------------------------------------------------ the sink
    def open(self, context) -> None:
        import duckdb

        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.append:
            self._open_append(duckdb)
        else:
            self._create(duckdb, context)
        self._thread = threading.Thread(target=self._writer, name="airpicture-recorder", daemon=True)
        self._thread.start()
        atexit.register(self._at_exit)  # an interrupted run (Ctrl-C, an exception) keeps what it recorded

    def _create(self, duckdb, context) -> None:
        """A new recording, built under a temporary name and renamed into place once it holds its schema, meta
        and context: a kill at any moment leaves either no file or a readable recording (never a DuckDB file
        without tables)."""
        wal = self.path.with_name(self.path.name + ".wal")
        part = self.path.with_name(self.path.name + ".part")
        for p in (self.path, wal, part, part.with_name(part.name + ".wal")):
            if p.exists():
                p.unlink()
        con = duckdb.connect(str(part))
        try:
            con.execute("BEGIN")
            for sql in create_sql():
                con.execute(sql)
            con.execute("INSERT INTO meta VALUES (?, ?, ?, ?, ?, ?)",
                        [FORMAT, SCHEMA_VERSION, _utc_now(), _version(), context.name, context.mode])
            con.execute("INSERT INTO documents VALUES ('context', 0, ?, ?)", [_utc_now(), dumps(context.to_json())])
            con.execute("COMMIT")
            con.execute("CHECKPOINT")
        finally:
            con.close()
        os.replace(part, self.path)
        self._con = duckdb.connect(str(self.path))
        self.rows["meta"] += 1
        self.rows["documents"] += 1

    def _open_append(self, duckdb) -> None:
        """``--resume``: continue an existing recording (DuckDB replays its log on open): the next frame index
        after the last recorded one, the alert events already recorded, the row counts so far."""
        from ..errors import InputError

        if not self.path.is_file():
            raise InputError("no recording to resume", source=str(self.path))
        self._con = con = duckdb.connect(str(self.path))
        self._frames = int(con.execute("SELECT coalesce(max(frame) + 1, 0) FROM frames").fetchone()[0])
        self._seen_events = {aid: int(n) for aid, n in con.execute(
            "SELECT alert_id, count(*) FROM alert_events GROUP BY alert_id").fetchall()}
        for name in TABLES:
            self.rows[name] = int(con.execute(f"SELECT count(*) FROM {name}").fetchone()[0])
        self.counts["frames"] = self._frames
        con.execute("INSERT INTO documents VALUES ('resumed', ?, ?, ?)",
                    [self._frames, _utc_now(), dumps({"from_frame": self._frames})])
        self.rows["documents"] += 1

    def _at_exit(self) -> None:
        """The interpreter exits without ``close``: write what is pending and checkpoint (no summary)."""
        if self._con is None or self.closed:
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
        try:
            self.flush()
            with self._db_lock:
                self._con.execute("CHECKPOINT")
                self._con.close()
            self.closed = True
        except Exception:  # exiting anyway: the log holds what was committed
            pass

    def step(self, frame) -> None:
        if self._con is None:
            raise RuntimeError(f"recorder {self.path} is not open")
        with self._buf_lock:
            self._pending.append((self._frames, time.time(), frame))
            self._frames += 1
            error, self._error = self._error, None
        if error is not None:  # a failed write shows up in the sink's error count
            raise error

    def close(self, summary: dict) -> None:
        if self._con is None or self.closed:
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.flush()
        if isinstance(summary, dict):
            summary.setdefault("outputs", {})["recording"] = str(self.path)
        docs = [("summary", summary)]
        outputs = summary.get("outputs", {}) if isinstance(summary, dict) else {}
        for name in CLOSE_DOCUMENTS:  # the run's identity / alerts / threat JSON, when it wrote them
            doc = _read_json(outputs.get(name))
            if doc is not None:
                docs.append((name, doc))
        with self._db_lock:
            con = self._con
            con.execute("BEGIN")
            for name, doc in docs:
                con.execute("INSERT INTO documents VALUES (?, ?, ?, ?)", [name, self._frames, _utc_now(), dumps(doc)])
                self.rows["documents"] += 1
            history = _identity_history(dict(docs).get("identity"))
            if history is not None and len(history):
                con.register("_history", history)
                con.execute("INSERT INTO identity_history SELECT * FROM _history")
                con.unregister("_history")
                self.rows["identity_history"] += len(history)
            con.execute("COMMIT")
            con.execute("CHECKPOINT")
            con.close()
        self.closed = True
        atexit.unregister(self._at_exit)
        self.counts["bytes"] = self.path.stat().st_size if self.path.exists() else 0
        self.counts["rows"] = sum(self.rows.values())

    def stats(self) -> dict:
        with self._buf_lock:
            pending = len(self._pending)
        return {**self.counts, "write_s": round(self.counts["write_s"], 3), "pending_frames": pending,
                "tables": dict(self.rows), "path": str(self.path)}

    # ------------------------------------------------------------------ writing
    def _writer(self) -> None:
        while not self._stop.wait(self.flush_interval_s):
            try:
                self.flush()
            except Exception as exc:  # kept for the next step (counted by the SinkSet), never kills the thread
                with self._buf_lock:
                    self._error = self._error or exc

    def flush(self) -> None:
        """Write what arrived since the last flush, in one transaction."""
        with self._buf_lock:
            batch, self._pending = self._pending, []
        if not batch:
            return
        t0 = time.perf_counter()
        try:
            tables = self._tables(batch)
            with self._db_lock:
                con = self._con
                con.execute("BEGIN")
                try:
                    for name, table in tables.items():
                        if table is not None and table.num_rows:
                            con.register("_batch", table)
                            con.execute(f"INSERT INTO {name} SELECT * FROM _batch")
                            con.unregister("_batch")
                    con.execute("COMMIT")
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
        except Exception:
            self.counts["write_errors"] += 1
            self.counts["dropped_frames"] += len(batch)
            raise
        for name, table in tables.items():
            if table is not None:
                self.rows[name] += table.num_rows
        self.counts["frames"] += len(batch)
        self.counts["batches"] += 1
        self.counts["rows"] = sum(self.rows.values())
        self.counts["write_s"] += time.perf_counter() - t0

    def _tables(self, batch) -> dict:
        """One Arrow table per table of the schema, from a batch of frames."""
        import pyarrow as pa

        index = np.array([i for i, _, _ in batch], np.int64)
        frames = [f for _, _, f in batch]
        ftime = np.array([f.time for f in frames], float)
        n_tracks = np.array([len(f) for f in frames], np.int64)
        has_meas = np.array([f.measurements is not None and self.record_measurements for f in frames], bool)
        n_meas = np.array([len(f.measurements["time"]) if h else 0 for f, h in zip(frames, has_meas)], np.int64)
        out = {"frames": pa.table({
            "frame": index, "time": ftime,
            "epoch_unix": pa.array([f.epoch_unix for f in frames], pa.float64()),
            "wall_unix": np.array([w for _, w, _ in batch], float),
            "n_tracks": n_tracks.astype(np.int32), "n_measurements": n_meas.astype(np.int32),
            "has_measurements": has_meas, "n_alerts": np.array([len(f.alerts) for f in frames], np.int32)})}
        out["tracks"] = _rows_table(index, ftime, n_tracks, [f.columns for f in frames], COLUMNS, "tracks")
        if self.record_measurements:
            mf = [f for f, h in zip(frames, has_meas) if h]
            keep = has_meas
            out["measurements"] = _rows_table(index[keep], ftime[keep], n_meas[keep], [f.measurements for f in mf],
                                              MEASUREMENT_COLUMNS, "measurements")
        out.update(self._alert_tables(index, ftime, frames))
        return out

    def _alert_tables(self, index, ftime, frames) -> dict:
        import pyarrow as pa

        fa = {"frame": [], "frame_time": [], "seq": [], "alert_id": [], "json": []}
        ev = {c: [] for c, _ in TABLES["alert_events"]}
        for i, t, f in zip(index.tolist(), ftime.tolist(), frames):
            for seq, alert in enumerate(f.alerts):
                aid = str(alert.get("id", ""))
                for k, v in (("frame", i), ("frame_time", t), ("seq", seq), ("alert_id", aid),
                             ("json", dumps(alert))):
                    fa[k].append(v)
                timeline = alert.get("timeline") or []
                done = self._seen_events.get(aid, 0)
                for e in timeline[done:]:  # the events new since this alert was last seen
                    row = {"frame": i, "frame_time": t, "alert_id": aid, "kind": alert.get("kind"),
                           "track_id": alert.get("track_id"), "zone": alert.get("zone"), "level": alert.get("level"),
                           "identity": alert.get("identity"), "event": e.get("event"), "time": e.get("time"),
                           "who": e.get("who"), "reason": e.get("reason")}
                    for k in ev:
                        ev[k].append(row[k])
                self._seen_events[aid] = max(done, len(timeline))
        types = {"BIGINT": pa.int64(), "DOUBLE": pa.float64(), "VARCHAR": pa.string(), "INTEGER": pa.int32()}

        def table(name, cols):
            return pa.table({c: pa.array(cols[c], types[t]) for c, t in TABLES[name]})

        return {"frame_alerts": table("frame_alerts", fa), "alert_events": table("alert_events", ev)}


def _rows_table(index, ftime, counts, column_sets, spec: dict, name: str):
    """The rows of many frames as one Arrow table: frame keys, then each column concatenated."""
    import pyarrow as pa

    total = int(counts.sum())
    if total == 0:
        return None
    cols = {"frame": np.repeat(index, counts), "frame_time": np.repeat(ftime, counts),
            "row": (np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)).astype(np.int32)}
    arrow = {"f": pa.float64(), "i": pa.int64(), "b": pa.bool_(), "s": pa.string()}
    for col, kind in spec.items():
        parts = [np.asarray(c[col]) for c in column_sets if col in c and len(c[col])]
        values = np.concatenate(parts) if parts else np.zeros(0)
        if len(values) != total:
            raise ValueError(f"{name}: column '{col}' has {len(values)} rows, expected {total}")
        if kind == "s":
            try:
                cols[col] = pa.array(values, pa.string())
            except (pa.ArrowInvalid, pa.ArrowTypeError):  # not all str: text of each
                cols[col] = pa.array(["" if v is None else str(v) for v in values.tolist()], pa.string())
        else:
            cols[col] = pa.array(values, arrow[kind], from_pandas=False)
    return pa.table(cols)


def _read_json(path):
    if not path:
        return None
    p = Path(path)
    try:
        if p.suffix != ".json" or not p.is_file() or p.stat().st_size > MAX_DOCUMENT_BYTES:
            return None
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _identity_history(doc):
    """identity.json's per-track history (identity, class, flag and override changes) as one Arrow table."""
    import pyarrow as pa

    if not isinstance(doc, dict) or not isinstance(doc.get("tracks"), list):
        return None
    cols = {c: [] for c, _ in TABLES["identity_history"]}

    def text(v):
        return None if v is None else (v if isinstance(v, str) else dumps(v))

    for rec in doc["tracks"]:
        for e in rec.get("history") or []:
            row = {"track_id": rec.get("track_id"), "time": e.get("time"), "kind": e.get("kind"),
                   "old": text(e.get("old")), "new": text(e.get("new")), "rule": e.get("rule"),
                   "reason": e.get("reason"), "who": e.get("who"), "why": e.get("why"), "json": dumps(e)}
            for k in cols:
                cols[k].append(row[k])
    types = {"BIGINT": pa.int64(), "DOUBLE": pa.float64(), "VARCHAR": pa.string()}
    return pa.table({c: pa.array(cols[c], types[t]) for c, t in TABLES["identity_history"]})


def recorder_for(out_dir, **options) -> Recorder:
    """The recorder of a run writing into ``out_dir``: ``OUT/airpicture.duckdb``."""
    return Recorder(Path(out_dir) / FILE_NAME, **options)


def add_recorder(sinks, out_dir, **options):
    """``sinks`` (a SinkSet, or None for a new one) with a recorder into ``out_dir`` added; returns the SinkSet."""
    from ..picture import SinkSet

    sinks = sinks if sinks is not None else SinkSet()
    sinks.add(recorder_for(out_dir, **options))
    return sinks
