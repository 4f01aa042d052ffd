"""``airpicture track``: track a plain detection list with the Cartesian tracker and write the confirmed tracks.

The CLI is a thin layer over :func:`run_track`; the same function serves notebooks and the benchmark.
"""

from __future__ import annotations

import time as _time
from pathlib import Path

import numpy as np

from airpicture.errors import InputError
from airpicture.tracking.cartesian import CartesianTracker
from airpicture.tracking.detections_io import TrackCsvWriter, read_detections
from airpicture.tracking.management import parse_confirm

__all__ = ["run_track"]


def run_track(input_path, output_path, sigma_m: float = 50.0, confirm: str = "3/3", delete_after: int = 3,
              association: str = "gnn", *, q: float = 0.2, max_speed: float = 350.0, gate: float = 0.999,
              pd: float = 0.9, score_thresholds: tuple[float, float] | None = None,
              on_scan=None) -> dict:
    """Track the detections in ``input_path`` (CSV) and write one row per confirmed track per scan time.

    Parameters
    ----------
    input_path, output_path : path-like
        Detection CSV in, track CSV out (formats: :mod:`airpicture.tracking.detections_io`).
    sigma_m : float
        Measurement standard deviation (m) for rows without their own sigma.
    confirm : "M/N"
        Confirmation rule (the two initiating detections count as hits).
    delete_after : int
        Consecutive missed scans that delete a confirmed track.
    association : "gnn" or "jpda"
    q : float
        Process noise, white acceleration standard deviation (m/s^2). The default suits near-constant-velocity
        traffic scanned every few seconds; raise it (1-5) for manoeuvring targets.
    max_speed : float
        Fastest target (m/s), for two-point initiation.
    gate : float
        Chi-square gate probability (< 1) or Euclidean gate radius in metres (>= 1).
    pd : float
        Detection probability (JPDA and track score).
    on_scan : callable(done, total), optional
        Called after each scan (the CLI drives its progress bar with it).
    score_thresholds : (confirm, delete), optional
        Confirm by log-likelihood-ratio track score instead of M hits (see CartesianTracker); N of ``confirm``
        is then the longest a track may stay tentative.

    Returns
    -------
    dict
        Counts and timings: rows, skipped_rows (empty / NaN / infinite time or position, skipped), scans,
        confirmed_tracks, track_rows, read_s, track_s, write_s, wall_s, ms_per_scan, ...
    """
    wall_start = _time.perf_counter()
    input_path, output_path = Path(input_path), Path(output_path)
    m, n = _parse_confirm_option(confirm)
    if not (isinstance(delete_after, (int, np.integer)) and delete_after >= 1):
        raise InputError("must be a whole number >= 1", field="--delete-after")
    if not (np.isfinite(sigma_m) and sigma_m > 0):
        raise InputError("must be a positive number of metres", field="--sigma")
    if association not in ("gnn", "jpda"):
        raise InputError("must be gnn or jpda", field="--association")
    if not (np.isfinite(q) and q >= 0):
        raise InputError("must be >= 0", field="--q")
    if not (np.isfinite(max_speed) and max_speed > 0):
        raise InputError("must be > 0", field="--max-speed")
    if not (np.isfinite(gate) and gate > 0):
        raise InputError("must be a probability in (0, 1) or a radius >= 1 m", field="--gate")
    if input_path.resolve() == output_path.resolve():
        raise InputError("output would overwrite the input", source=str(output_path))

    t0 = _time.perf_counter()
    det = read_detections(input_path)
    read_s = _time.perf_counter() - t0

    tracker = CartesianTracker(det.dim, sigma_m, q=q, confirm=(m, n), delete_after=int(delete_after), gate=gate,
                               association=association, max_speed=max_speed, pd=pd, keep_history=False,
                               score_thresholds=score_thresholds,
                               capacity=max(1024, _expected_tracks(det)))
    writer = TrackCsvWriter(output_path, det.dim, det.frame)
    track_s = 0.0
    write_s = 0.0
    scan_s = []
    ids_seen: list[np.ndarray] = []
    n_scans = 0
    total_scans = int(np.count_nonzero(np.diff(det.time))) + 1 if det.time.size else 0
    try:
        for scan_time, rows in det.scans():
            t1 = _time.perf_counter()
            for sub in _sensor_sub_scans(det, rows):
                sig = None if det.sigma is None else det.sigma[sub]
                report = tracker.step(scan_time, det.position[sub], sig)
            t2 = _time.perf_counter()
            writer.write(scan_time, report.track_id, report.position, report.velocity)
            t3 = _time.perf_counter()
            ids_seen.append(report.track_id)
            scan_s.append(t2 - t1)
            track_s += t2 - t1
            write_s += t3 - t2
            n_scans += 1
            if on_scan is not None:
                on_scan(n_scans, total_scans)
    finally:
        writer.close()

    confirmed = int(np.unique(np.concatenate(ids_seen)).size) if ids_seen else 0
    summary = {
        "input": str(input_path),
        "output": str(output_path),
        "columns": ",".join((["lat", "lon", "alt"] if det.geodetic else ["x", "y", "z"])[: det.dim]),
        "rows": int(det.time.size + det.skipped_rows),
        "detections": int(det.time.size),
        "skipped_rows": int(det.skipped_rows),
        "first_skipped_line": det.first_skipped_line,
        "sensors": int(np.unique(det.sensor.astype(str)).size) if det.sensor is not None else 1,
        "scans": n_scans,
        "confirmed_tracks": confirmed,
        "track_rows": int(writer.rows),
        "read_s": round(read_s, 4),
        "track_s": round(track_s, 4),
        "write_s": round(write_s, 4),
        "ms_per_scan": round(1000.0 * track_s / n_scans, 3) if n_scans else 0.0,
        "max_scan_ms": round(1000.0 * max(scan_s), 3) if scan_s else 0.0,
        "wall_s": round(_time.perf_counter() - wall_start, 4),
    }
    if summary["first_skipped_line"] is None:
        del summary["first_skipped_line"]
    return summary


def _parse_confirm_option(text) -> tuple[int, int]:
    try:
        return parse_confirm(text)
    except ValueError as exc:
        raise InputError(str(exc), field="--confirm") from None


def _expected_tracks(det) -> int:
    """A capacity guess (detections per scan) so the table rarely has to grow."""
    if det.time.size == 0:
        return 0
    n_scans = int(np.count_nonzero(np.diff(det.time) != 0)) + 1
    return int(det.time.size // n_scans)


def _sensor_sub_scans(det, rows: slice):
    """One scan per sensor when several sensors report at the same time, in order of first appearance."""
    if det.sensor is None:
        yield rows
        return
    sensors = det.sensor[rows]
    if sensors.size == 0 or np.all(sensors == sensors[0]):
        yield rows
        return
    names, first, inverse = np.unique(sensors.astype(str), return_index=True, return_inverse=True)
    for k in np.argsort(first):
        yield rows.start + np.flatnonzero(inverse == k)
