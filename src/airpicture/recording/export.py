"""``airpicture export``: every table of a recording to one Parquet file each."""

from __future__ import annotations

import time
from pathlib import Path

from ..errors import InputError
from .reader import RecordingReader, _first_line
from .schema import ORDER_BY, TABLES


def export_parquet(path, out_dir, *, progress=None) -> list[dict]:
    """Write ``OUT_DIR/<table>.parquet`` for each table of the recording at ``path`` (zstd); returns one entry per
    file: ``table``, ``rows``, ``path``, ``bytes``. ``progress(done, total, table)`` after each table."""
    import duckdb

    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the folder: {exc.strerror or exc}", source=str(out_dir)) from None
    written = []
    with RecordingReader(path) as reader:
        names = [t for t in TABLES if t in reader.tables]
        counts = reader.counts()
        for k, name in enumerate(names):
            target = out_dir / f"{name}.parquet"
            order = f" ORDER BY {ORDER_BY[name]}" if ORDER_BY.get(name) else ""
            literal = str(target).replace("'", "''")
            t0 = time.perf_counter()
            try:
                reader._con.execute(f"COPY (SELECT * FROM {name}{order}) TO '{literal}' "
                                    "(FORMAT parquet, COMPRESSION zstd)")
            except duckdb.Error as exc:
                raise InputError(f"cannot export table {name}: {_first_line(exc)}", source=str(target)) from None
            written.append({"table": name, "rows": counts.get(name, 0), "path": str(target),
                            "bytes": target.stat().st_size, "s": time.perf_counter() - t0})
            if progress is not None:
                progress(k + 1, len(names), name)
    return written
