"""Recording a run into DuckDB and reading / playing it back (issue 7, docs/recording.md).

* :class:`Recorder` - a sink: every frame's tracks, measurements and alert changes, the context and summary;
  batched, committed once per second of wall time (a crash loses at most that second).
* :class:`RecordingReader` - the context, frame times, the frame at a time, alert states, a track's history.
* :class:`RecordingPlayer` - plays a recording's frames into a SinkSet (speed, pause, seek), for the display.
* :func:`export_parquet` - every table to Parquet (``airpicture export``).
"""

from .export import export_parquet
from .player import RecordingPlayer, play_recording
from .reader import RecordingReader, is_duckdb_file
from .recorder import Recorder, add_recorder, recorder_for
from .schema import FILE_NAME, FORMAT, SCHEMA_VERSION

__all__ = ["Recorder", "RecordingReader", "RecordingPlayer", "add_recorder", "recorder_for", "export_parquet",
           "play_recording", "is_duckdb_file", "FILE_NAME", "FORMAT", "SCHEMA_VERSION"]
