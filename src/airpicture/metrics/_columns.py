"""Validation and tidying of the columnar (time, id, position[, velocity]) inputs every metric takes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError


@dataclass(frozen=True)
class StateColumns:
    """One object's state per row, cleaned: finite positions, one row per (time, id), sorted by (time, id).

    ``row`` maps each kept row back to its index in the caller's arrays.
    """

    time: np.ndarray  # (n,) float64
    object_id: np.ndarray  # (n,) int64
    position: np.ndarray  # (n, k) float64
    velocity: np.ndarray | None  # (n, k) float64 or None
    row: np.ndarray  # (n,) int64 index into the caller's rows

    def __len__(self) -> int:
        return int(self.time.shape[0])


def state_columns(time, object_id, position, velocity=None, *, name: str, dims: int | None = None
                  ) -> StateColumns:
    """Check shapes and clean a set of state columns.

    Rows whose position is not finite (NaN marks "not alive" in :class:`airpicture.truth.Truth`)
    are dropped. When several rows share one (time, id), the last one in input order is kept,
    as Stone Soup does for a track with several states at one timestamp.

    Parameters
    ----------
    time, object_id : array_like, shape (n,)
    position : array_like, shape (n, k), k = 2 or 3
    velocity : array_like, shape (n, k), optional
    name : str
        "truth" or "track", used in error messages.
    dims : int, optional
        Required k (to match the other set of columns).
    """
    time = np.asarray(time, dtype=np.float64).reshape(-1)
    n = time.shape[0]
    object_id = np.asarray(object_id)
    if object_id.shape != (n,):
        raise InputError(f"{name} ids must have shape ({n},), got {object_id.shape}", field=f"{name}_id")
    object_id = object_id.astype(np.int64, copy=False)
    position = np.asarray(position, dtype=np.float64)
    if n == 0 and position.size == 0:
        # An empty set takes the other set's dimension, whatever shape its empty array had.
        natural = position.shape[-1] if position.ndim == 2 and position.shape[-1] in (2, 3) else 3
        position = position.reshape(0, dims or natural)
    if position.ndim != 2 or position.shape[0] != n or position.shape[1] not in (2, 3):
        raise InputError(f"{name} positions must have shape ({n}, 2|3), got {position.shape}",
                         field=f"{name}_position")
    if dims is not None and position.shape[1] != dims:
        raise InputError(f"{name} positions have {position.shape[1]} coordinates, the other set {dims}",
                         field=f"{name}_position")
    if velocity is not None:
        velocity = np.asarray(velocity, dtype=np.float64)
        if n == 0 and velocity.size == 0:
            velocity = velocity.reshape(0, position.shape[1])
        if velocity.shape != position.shape:
            raise InputError(f"{name} velocities must have shape {position.shape}, got {velocity.shape}",
                             field=f"{name}_velocity")
    if not np.all(np.isfinite(time)):
        raise InputError(f"{name} times must be finite", field=f"{name}_time")

    keep = np.all(np.isfinite(position), axis=1)
    rows = np.flatnonzero(keep)
    # Sort by (time, id), latest input row first inside a group, then keep each group's first row.
    order = np.lexsort((-rows, object_id[rows], time[rows]))
    rows = rows[order]
    t, i = time[rows], object_id[rows]
    first = np.ones(rows.shape[0], dtype=bool)
    first[1:] = (t[1:] != t[:-1]) | (i[1:] != i[:-1])
    rows = rows[first]
    return StateColumns(
        time=time[rows],
        object_id=object_id[rows],
        position=position[rows],
        velocity=None if velocity is None else velocity[rows],
        row=rows.astype(np.int64),
    )


def paired_columns(truth_time, truth_id, truth_pos, truth_vel, track_time, track_id, track_pos, track_vel
                   ) -> tuple[StateColumns, StateColumns]:
    """Clean truth and track columns together, checking both have the same dimension k."""
    truth = state_columns(truth_time, truth_id, truth_pos, truth_vel, name="truth")
    if len(truth) == 0:
        track = state_columns(track_time, track_id, track_pos, track_vel, name="track")
        truth = state_columns(truth_time, truth_id, truth_pos, truth_vel, name="truth",
                              dims=track.position.shape[1])
    else:
        track = state_columns(track_time, track_id, track_pos, track_vel, name="track",
                              dims=truth.position.shape[1])
    return truth, track
