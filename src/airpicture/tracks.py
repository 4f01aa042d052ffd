"""Track states as columns: what the tracker hands to metrics, outputs and later stages."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TENTATIVE, CONFIRMED, COASTING = 1, 2, 3
STATUS_NAMES = {TENTATIVE: "tentative", CONFIRMED: "confirmed", COASTING: "coasting"}
# What an operator's picture shows: confirmed tracks, including those coasting through a miss.
PICTURE_STATUSES = (CONFIRMED, COASTING)


@dataclass
class TrackStates:
    """One row per (time, track). Positions and velocities ECEF (m, m/s)."""

    time: np.ndarray  # (n,) float64 s
    track_id: np.ndarray  # (n,) int64, stable track number
    position: np.ndarray  # (n, 3)
    velocity: np.ndarray  # (n, 3)
    status: np.ndarray  # (n,) int8: TENTATIVE / CONFIRMED / COASTING
    position_cov: np.ndarray | None = None  # (n, 3, 3), optional
    track_class: np.ndarray | None = None  # (n,) object: class hint ("bird", "unknown", ...), optional
    # Further named (n,) columns, optional: "icao24" (str hex, '' none), "source_mask" (int64 bit per sensor),
    # "transponder_only" (bool), "callsign", "squawk", "emergency", "category" (str, '' unknown) ...
    extra: dict | None = None

    def __len__(self) -> int:
        return int(self.time.shape[0])

    @classmethod
    def empty(cls) -> "TrackStates":
        return cls(np.zeros(0), np.zeros(0, np.int64), np.zeros((0, 3)), np.zeros((0, 3)),
                   np.zeros(0, np.int8), np.zeros((0, 3, 3)), np.zeros(0, dtype=object), {})

    @classmethod
    def concatenate(cls, parts: list["TrackStates"]) -> "TrackStates":
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        cov = None
        if all(p.position_cov is not None for p in parts):
            cov = np.concatenate([p.position_cov for p in parts])
        cls_ = None
        if all(p.track_class is not None for p in parts):
            cls_ = np.concatenate([p.track_class for p in parts])
        return cls(
            np.concatenate([p.time for p in parts]),
            np.concatenate([p.track_id for p in parts]),
            np.concatenate([p.position for p in parts]),
            np.concatenate([p.velocity for p in parts]),
            np.concatenate([p.status for p in parts]),
            cov,
            cls_,
            _concatenate_extra([p.extra or {} for p in parts], [len(p) for p in parts]),
        )

    def in_picture(self) -> np.ndarray:
        """(n,) bool: rows an operator sees (confirmed or coasting), the rows metrics score."""
        return np.isin(self.status, PICTURE_STATUSES)

    def take(self, index) -> "TrackStates":
        return TrackStates(
            self.time[index], self.track_id[index], self.position[index], self.velocity[index],
            self.status[index],
            None if self.position_cov is None else self.position_cov[index],
            None if self.track_class is None else self.track_class[index],
            None if self.extra is None else {k: v[index] for k, v in self.extra.items()},
        )


def _missing_value(dtype):
    """What a column holds where a part lacks it: '' for text, -1 for integers, False, NaN."""
    if dtype == object or dtype.kind in "US":
        return ""
    if dtype.kind in "iu":
        return -1
    if dtype.kind == "b":
        return False
    return np.nan


def _concatenate_extra(extras: list[dict], lengths: list[int]) -> dict:
    """Concatenate the named extra columns; a part without a column gets that column's missing value."""
    names = {}
    for e in extras:
        for k, v in e.items():
            names.setdefault(k, np.asarray(v).dtype)
    out = {}
    for k, dtype in names.items():
        pieces = [e[k] if k in e else np.full(n, _missing_value(dtype), dtype=dtype) for e, n in zip(extras, lengths)]
        out[k] = np.concatenate(pieces) if pieces else np.zeros(0, dtype)
    return out
