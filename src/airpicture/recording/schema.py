"""The tables of a recording (docs/recording.md): names, columns and DuckDB types, in one place for the recorder,
the reader and the Parquet export.

Bump ``SCHEMA_VERSION`` when a table or column changes meaning or disappears; a reader refuses a recording whose
version is newer than its own (an older one it reads, adding columns it lacks as documented)."""

from __future__ import annotations

from ..picture.frame import COLUMNS, MEASUREMENT_COLUMNS

FORMAT = "airpicture-recording"
SCHEMA_VERSION = 1
FILE_NAME = "airpicture.duckdb"

SQL_TYPES = {"f": "DOUBLE", "i": "BIGINT", "b": "BOOLEAN", "s": "VARCHAR"}

# table -> [(column, DuckDB type)], in insertion order. Track and measurement columns follow frame.COLUMNS /
# frame.MEASUREMENT_COLUMNS after the frame keys.
TABLES: dict[str, list[tuple[str, str]]] = {
    "meta": [("format", "VARCHAR"), ("schema_version", "INTEGER"), ("created_utc", "VARCHAR"),
             ("airpicture_version", "VARCHAR"), ("name", "VARCHAR"), ("mode", "VARCHAR")],
    "documents": [("name", "VARCHAR"), ("frames", "BIGINT"), ("written_utc", "VARCHAR"), ("json", "VARCHAR")],
    "frames": [("frame", "BIGINT"), ("time", "DOUBLE"), ("epoch_unix", "DOUBLE"), ("wall_unix", "DOUBLE"),
               ("n_tracks", "INTEGER"), ("n_measurements", "INTEGER"), ("has_measurements", "BOOLEAN"),
               ("n_alerts", "INTEGER")],
    "tracks": [("frame", "BIGINT"), ("frame_time", "DOUBLE"), ("row", "INTEGER")]
              + [(k, SQL_TYPES[t]) for k, t in COLUMNS.items()],
    "measurements": [("frame", "BIGINT"), ("frame_time", "DOUBLE"), ("row", "INTEGER")]
                    + [(k, SQL_TYPES[t]) for k, t in MEASUREMENT_COLUMNS.items()],
    "frame_alerts": [("frame", "BIGINT"), ("frame_time", "DOUBLE"), ("seq", "INTEGER"), ("alert_id", "VARCHAR"),
                     ("json", "VARCHAR")],
    "alert_events": [("frame", "BIGINT"), ("frame_time", "DOUBLE"), ("alert_id", "VARCHAR"), ("kind", "VARCHAR"),
                     ("track_id", "BIGINT"), ("zone", "VARCHAR"), ("level", "VARCHAR"), ("identity", "VARCHAR"),
                     ("event", "VARCHAR"), ("time", "DOUBLE"), ("who", "VARCHAR"), ("reason", "VARCHAR")],
    "identity_history": [("track_id", "BIGINT"), ("time", "DOUBLE"), ("kind", "VARCHAR"), ("old", "VARCHAR"),
                         ("new", "VARCHAR"), ("rule", "VARCHAR"), ("reason", "VARCHAR"), ("who", "VARCHAR"),
                         ("why", "VARCHAR"), ("json", "VARCHAR")],
}

# the order a table is read back / exported in
ORDER_BY = {"meta": "", "documents": "", "frames": "frame", "tracks": 'frame, "row"', "measurements": 'frame, "row"',
            "frame_alerts": "frame, seq", "alert_events": 'frame, "time"', "identity_history": 'track_id, "time"'}


def create_sql() -> list[str]:
    return [f"CREATE TABLE {name} ({', '.join(f'{q(c)} {t}' for c, t in cols)})" for name, cols in TABLES.items()]


def q(identifier: str) -> str:
    """A quoted SQL identifier (``row``, ``time`` ... are words of SQL)."""
    return '"' + identifier.replace('"', '""') + '"'
