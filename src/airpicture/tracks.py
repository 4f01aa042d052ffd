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

    def __len__(self) -> int:
        return int(self.time.shape[0])

    @classmethod
    def empty(cls) -> "TrackStates":
        return cls(np.zeros(0), np.zeros(0, np.int64), np.zeros((0, 3)), np.zeros((0, 3)),
                   np.zeros(0, np.int8), np.zeros((0, 3, 3)), np.zeros(0, dtype=object))

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
        )
