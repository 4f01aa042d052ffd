"""Ground truth of a scenario as arrays: every target sampled on one uniform time grid.

Shapes: n targets x T samples. Positions and velocities are ECEF; NaN where a target
does not exist (before its start or after its end). Sensors ask for states at arbitrary
times (the moment a radar beam crosses a target), answered by interpolation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Truth:
    names: list[str]  # (n,) target names from the scenario
    target_class: list[str]  # (n,) class key, e.g. "airliner", "bird_flock"
    times: np.ndarray  # (T,) uniform sample times, s since scenario start
    position_ecef: np.ndarray  # (n, T, 3) m, NaN where the target does not exist
    velocity_ecef: np.ndarray  # (n, T, 3) m/s
    rcs_m2: np.ndarray  # (n,) mean radar cross-section
    swerling: np.ndarray  # (n,) int Swerling case 0..4
    extra: dict = field(default_factory=dict)  # per-target attributes later issues add

    @property
    def n_targets(self) -> int:
        return len(self.names)

    @property
    def dt(self) -> float:
        return float(self.times[1] - self.times[0]) if len(self.times) > 1 else 1.0

    def alive(self, t) -> np.ndarray:
        """(n, len(t)) bool: which targets exist at times t."""
        pos, _ = self.state_at(np.broadcast_to(np.asarray(t, dtype=float), (self.n_targets, np.size(t))),
                               np.arange(self.n_targets)[:, None])
        return np.isfinite(pos[..., 0])

    def state_at(self, t, target) -> tuple[np.ndarray, np.ndarray]:
        """Interpolated (position, velocity) ECEF for paired arrays of times and target indices.

        ``t`` and ``target`` broadcast together; the result has their shape plus (3,).
        Position uses the velocity at the bracketing samples (cubic Hermite), so the
        interpolated path stays on the curve in turns.
        """
        t = np.asarray(t, dtype=float)
        target = np.asarray(target, dtype=np.int64)
        t, target = np.broadcast_arrays(t, target)
        dt = self.dt
        u = (t - self.times[0]) / dt
        outside = (u < 0) | (u > len(self.times) - 1)
        i0 = np.clip(np.floor(u).astype(np.int64), 0, max(len(self.times) - 2, 0))
        i1 = np.minimum(i0 + 1, len(self.times) - 1)
        s = np.clip(u - i0, 0.0, 1.0)[..., None]
        p0 = self.position_ecef[target, i0]
        p1 = self.position_ecef[target, i1]
        v0 = self.velocity_ecef[target, i0]
        v1 = self.velocity_ecef[target, i1]
        h00 = 2 * s**3 - 3 * s**2 + 1
        h10 = s**3 - 2 * s**2 + s
        h01 = -2 * s**3 + 3 * s**2
        h11 = s**3 - s**2
        pos = h00 * p0 + h10 * dt * v0 + h01 * p1 + h11 * dt * v1
        vel = (1 - s) * v0 + s * v1
        pos[outside] = np.nan
        vel[outside] = np.nan
        return pos, vel
