"""Reading a recording back: the context, the frame times, the picture at any time, alert states, one track's
history, the summary (docs/recording.md).

Every problem with the file (missing, not DuckDB, truncated, not a recording, a newer schema) is an
``InputError`` naming the file: one line for the user, never a traceback."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..picture.context import PictureContext
from ..picture.frame import COLUMNS, MEASUREMENT_COLUMNS, PictureFrame
from .schema import FORMAT, SCHEMA_VERSION, TABLES, q

DUCKDB_MAGIC = b"DUCK"  # bytes 8..12 of a DuckDB database file
_DTYPES = {"f": np.float64, "i": np.int64, "b": bool, "s": object}


def is_duckdb_file(path) -> bool:
    """A DuckDB database by its header (``DUCK`` at byte 8)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(12)
    except OSError:
        return False
    return len(head) >= 12 and head[8:12] == DUCKDB_MAGIC


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class RecordingReader:
    """An airpicture recording opened read-only. A recording whose run was killed is read as far as it was
    committed (DuckDB replays its write-ahead log in memory; the file is not changed)."""

    def __init__(self, path):
        import duckdb

        self.path = Path(path)
        self._lock = threading.RLock()  # one connection, used by the player's and the web service's threads
        src = str(self.path)
        if not self.path.is_file():
            raise InputError("no such recording", source=src)
        if not is_duckdb_file(self.path):
            raise InputError("not an airpicture recording: no DuckDB header (truncated, or another kind of file)",
                             source=src)
        try:
            self._con = duckdb.connect(src, read_only=True)
        except duckdb.Error as exc:
            raise InputError(f"cannot open the recording: {_first_line(exc)}", source=src) from None
        try:
            self._check()
            self.times = self._query("SELECT time FROM frames ORDER BY frame")["time"].astype(float)
            self.context = PictureContext.from_json(self.document("context") or {"name": self.path.stem})
        except InputError:
            self.close()
            raise
        except duckdb.Error as exc:
            self.close()
            raise InputError(f"cannot read the recording (damaged or truncated?): {_first_line(exc)}",
                             source=src) from None
        self._frame_rows: np.ndarray | None = None

    def _check(self) -> None:
        tables = {r[0] for r in self._con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        if "meta" not in tables:
            raise InputError("not an airpicture recording: a DuckDB file without a 'meta' table", source=str(self.path))
        rows = self._con.execute("SELECT format, schema_version FROM meta").fetchall()
        if not rows or rows[0][0] != FORMAT:
            raise InputError(f"not an airpicture recording: meta.format is {rows[0][0] if rows else None!r}",
                             source=str(self.path))
        version = rows[0][1]
        if version is None or int(version) > SCHEMA_VERSION:
            raise InputError(f"recording schema version {version} is newer than this airpicture reads "
                             f"({SCHEMA_VERSION}); upgrade airpicture", source=str(self.path))
        self.schema_version = int(version)
        missing = [t for t in ("frames", "tracks", "documents") if t not in tables]
        if missing:
            raise InputError(f"recording lacks table(s) {', '.join(missing)}", source=str(self.path))
        self.tables = sorted(tables)

    # ------------------------------------------------------------------ plumbing
    def close(self) -> None:
        con, self._con = getattr(self, "_con", None), None
        if con is not None:
            con.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _query(self, sql: str, params=()) -> dict[str, np.ndarray]:
        import duckdb

        try:
            with self._lock:
                return self._con.execute(sql, list(params)).fetchnumpy()
        except duckdb.Error as exc:
            raise InputError(f"cannot read the recording: {_first_line(exc)}", source=str(self.path)) from None

    def document(self, name: str):
        """A JSON document (``context``, ``summary``, ``identity``, ``alerts``, ``threat``), or None."""
        with self._lock:
            rows = self._con.execute("SELECT json FROM documents WHERE name = ? ORDER BY frames DESC LIMIT 1",
                                     [name]).fetchall()
        return json.loads(rows[0][0]) if rows else None

    @property
    def summary(self) -> dict | None:
        """The run's summary, written at close (None: the run did not end cleanly)."""
        return self.document("summary")

    @property
    def meta(self) -> dict:
        with self._lock:
            cur = self._con.execute("SELECT * FROM meta")
            return dict(zip([d[0] for d in cur.description], cur.fetchone()))

    def counts(self) -> dict[str, int]:
        """Rows per table."""
        with self._lock:
            return {t: int(self._con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in TABLES
                    if t in self.tables}

    def __len__(self) -> int:
        return int(self.times.size)

    @property
    def start(self) -> float | None:
        return float(self.times[0]) if len(self.times) else None

    @property
    def end(self) -> float | None:
        return float(self.times[-1]) if len(self.times) else None

    def index_at(self, t: float) -> int:
        """Index of the latest frame at or before ``t`` (-1: before the first)."""
        return int(np.searchsorted(self.times, float(t), side="right")) - 1

    # ------------------------------------------------------------------ frames
    def frame_at(self, t: float) -> PictureFrame | None:
        """The frame of the latest frame time <= ``t`` (None before the first), with that frame's alert changes."""
        i = self.index_at(t)
        return None if i < 0 else self.frames(i, i + 1)[0]

    def frames(self, start: int, stop: int) -> list[PictureFrame]:
        """Frames ``start`` .. ``stop - 1`` (indices into ``times``), read in one query per table."""
        start, stop = max(0, int(start)), min(len(self), int(stop))
        if stop <= start:
            return []
        meta = self._query("SELECT frame, time, epoch_unix, has_measurements FROM frames "
                           "WHERE frame >= ? AND frame < ? ORDER BY frame", (start, stop))
        track_cols = ", ".join(q(c) for c in COLUMNS)
        tracks = self._query(f"SELECT frame, {track_cols} FROM tracks WHERE frame >= ? AND frame < ? "
                             'ORDER BY frame, "row"', (start, stop))
        meas = None
        if "measurements" in self.tables:
            meas_cols = ", ".join(q(c) for c in MEASUREMENT_COLUMNS)
            meas = self._query(f"SELECT frame, {meas_cols} FROM measurements WHERE frame >= ? AND frame < ? "
                               'ORDER BY frame, "row"', (start, stop))
        alerts = self._query("SELECT frame, json FROM frame_alerts WHERE frame >= ? AND frame < ? "
                             "ORDER BY frame, seq", (start, stop))
        frame_ids = np.asarray(meta["frame"], np.int64)
        t_split = _splitter(tracks["frame"], frame_ids)
        m_split = _splitter(meas["frame"], frame_ids) if meas is not None else None
        a_split = _splitter(alerts["frame"], frame_ids)
        out = []
        for k, fid in enumerate(frame_ids.tolist()):
            lo, hi = t_split[k], t_split[k + 1]
            columns = {c: _column(tracks[c][lo:hi], kind) for c, kind in COLUMNS.items()}
            measurements = None
            if bool(meta["has_measurements"][k]):
                measurements = ({c: _column(meas[c][m_split[k]:m_split[k + 1]], kind)
                                 for c, kind in MEASUREMENT_COLUMNS.items()} if meas is not None else
                                {c: np.zeros(0, _DTYPES[kind]) for c, kind in MEASUREMENT_COLUMNS.items()})
            epoch = meta["epoch_unix"][k]
            epoch = None if np.ma.is_masked(epoch) or epoch is None or not np.isfinite(epoch) else float(epoch)
            out.append(PictureFrame(float(meta["time"][k]), columns,
                                    [json.loads(j) for j in alerts["json"][a_split[k]:a_split[k + 1]]],
                                    measurements, epoch))
        return out

    # ------------------------------------------------------------------ alerts and tracks
    def alerts_at(self, t: float) -> list[dict]:
        """Every alert raised up to ``t`` as it stood at ``t`` (its latest change in a frame at or before ``t``),
        in the order they were raised."""
        rows = self._query("SELECT alert_id, arg_max(json, frame * 100000 + seq) AS json, min(frame) AS first "
                           "FROM frame_alerts WHERE frame_time <= ? GROUP BY alert_id ORDER BY first, alert_id",
                           (float(t),))
        return [json.loads(j) for j in rows["json"]]

    def alert_events(self, t0: float | None = None, t1: float | None = None) -> list[dict]:
        """The alert timelines as events (raised / acknowledged / cleared) with frame time in [t0, t1]."""
        cols = [c for c, _ in TABLES["alert_events"]]
        rows = self._query(f"SELECT {', '.join(q(c) for c in cols)} FROM alert_events "
                           "WHERE frame_time >= ? AND frame_time <= ? ORDER BY frame, \"time\"",
                           (-np.inf if t0 is None else float(t0), np.inf if t1 is None else float(t1)))
        return [dict(zip(cols, r)) for r in zip(*(_plain(rows[c]) for c in cols))]

    def track_history(self, track_id: int, t0: float | None = None, t1: float | None = None,
                      columns=None) -> dict[str, np.ndarray]:
        """One track's rows with frame time in [t0, t1] (default: all), as columns: ``frame``, ``frame_time`` and
        ``columns`` (default: every frame column)."""
        names = list(COLUMNS) if columns is None else [c for c in columns if c in COLUMNS]
        rows = self._query(f"SELECT frame, frame_time, {', '.join(q(c) for c in names)} FROM tracks "
                           "WHERE track_id = ? AND frame_time >= ? AND frame_time <= ? ORDER BY frame",
                           (int(track_id), -np.inf if t0 is None else float(t0),
                            np.inf if t1 is None else float(t1)))
        out = {"frame": np.asarray(rows["frame"], np.int64), "frame_time": np.asarray(rows["frame_time"], float)}
        out.update({c: _column(rows[c], COLUMNS[c]) for c in names})
        return out

    def table(self, name: str) -> dict[str, np.ndarray]:
        """A whole table as columns (for analysis; a big recording's tracks are better queried with SQL)."""
        if name not in self.tables:
            raise InputError(f"no table '{name}' in the recording", source=str(self.path))
        from .schema import ORDER_BY

        order = f" ORDER BY {ORDER_BY[name]}" if ORDER_BY.get(name) else ""
        return self._query(f"SELECT * FROM {name}{order}")

    def sql(self, query: str, params=()):
        """Run a read-only SQL query; returns DuckDB's result as columns."""
        return self._query(query, params)


def _splitter(frame_col, frame_ids: np.ndarray) -> np.ndarray:
    """Row boundaries of each frame in a result sorted by frame."""
    col = np.asarray(frame_col, np.int64)
    return np.searchsorted(col, np.r_[frame_ids, frame_ids[-1] + 1 if len(frame_ids) else 0], side="left")


def _column(values, kind: str) -> np.ndarray:
    if isinstance(values, np.ma.MaskedArray):
        fill = {"f": np.nan, "i": 0, "b": False, "s": ""}[kind]
        values = values.filled(fill) if kind != "s" else np.asarray(
            [fill if m else v for v, m in zip(values.data, np.ma.getmaskarray(values))], object)
    if kind == "s":
        return np.asarray(values, dtype=object)
    return np.asarray(values, dtype=_DTYPES[kind])


def _plain(col):
    if isinstance(col, np.ma.MaskedArray):
        return [None if m else (v.item() if isinstance(v, np.generic) else v)
                for v, m in zip(col.data, np.ma.getmaskarray(col))]
    return [v.item() if isinstance(v, np.generic) else v for v in col]
