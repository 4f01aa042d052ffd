"""Synthetic pictures for load tests of the live display (bench/bench_web.py, tests/test_web_api.py): n tracks
flying straight lines around 52 N 5 E, every column of a frame filled, each step moving every track."""

from __future__ import annotations

import numpy as np

from ..picture.frame import COLUMNS, PictureFrame

IDENTITIES = np.array(["friend", "neutral", "unknown", "suspect", "hostile", "pending"], object)
LEVELS = np.array(["none", "low", "medium", "high"], object)


class SyntheticPicture:
    """``frame(t)``: the picture of ``n`` tracks at time ``t`` (s); positions advance with ``t``."""

    def __init__(self, n: int, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.n = n
        self.ids = np.arange(1, n + 1, dtype=np.int64)
        self.lat0 = 52.0 + rng.uniform(-3, 3, n)
        self.lon0 = 5.0 + rng.uniform(-5, 5, n)
        self.alt = rng.uniform(100, 12_000, n)
        speed = rng.uniform(50, 250, n)
        course = rng.uniform(0, 360, n)
        self.ve, self.vn = speed * np.sin(np.radians(course)), speed * np.cos(np.radians(course))
        self.speed, self.course = speed, course
        self.identity = IDENTITIES[rng.integers(0, len(IDENTITIES), n)]
        self.level = LEVELS[rng.integers(0, len(LEVELS), n)]
        self.score = rng.uniform(0, 1, n)
        self.icao = np.array([f"{x:06x}" for x in rng.integers(0, 1 << 24, n)], object)
        self.callsign = np.array([f"TST{i:04d}" for i in range(n)], object)

    def frame(self, t: float) -> PictureFrame:
        n = self.n
        lat = self.lat0 + self.vn * t / 111_000.0
        lon = self.lon0 + self.ve * t / (111_000.0 * np.cos(np.radians(self.lat0)))
        empty = np.full(n, "", object)
        cols = {
            "track_id": self.ids, "time": np.full(n, float(t)), "status": np.full(n, "confirmed", object),
            "lat": lat, "lon": lon, "alt_m": self.alt, "v_east_mps": self.ve, "v_north_mps": self.vn,
            "v_up_mps": np.zeros(n), "speed_mps": self.speed, "course_deg": self.course,
            "sigma_h_m": np.full(n, 150.0), "sigma_v_m": np.full(n, 80.0),
            "identity": self.identity, "identity_reason": np.full(n, "synthetic", object),
            "track_class": np.full(n, "fixed_wing", object), "class_hint": empty,
            "threat_level": self.level, "threat_score": self.score, "threat_reason": empty,
            "icao24": self.icao, "callsign": self.callsign, "squawk": np.full(n, "1000", object),
            "emergency": np.zeros(n, bool), "spoof": np.zeros(n, bool), "spoof_reason": empty,
            "sources": np.full(n, "radar", object), "transponder_only": np.zeros(n, bool),
        }
        assert list(cols) == list(COLUMNS)
        return PictureFrame(float(t), cols)
