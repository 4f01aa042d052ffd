"""A small hand-made picture for the interoperability tests: frames built column by column."""

from __future__ import annotations

import numpy as np

from airpicture.picture import PictureContext, PictureFrame
from airpicture.picture.frame import COLUMNS

ROWS = [
    dict(track_id=7, status="confirmed", lat=43.5712345, lon=16.4061234, alt_m=10668.0, v_east_mps=120.0,
         v_north_mps=-160.0, v_up_mps=-5.08, sigma_h_m=35.0, sigma_v_m=60.0, identity="neutral",
         identity_reason="civil transponder, on airway", track_class="fixed_wing", icao24="4baacd",
         callsign="THY9TX", squawk="2345", sources="radar_north,adsb", transponder_only=False),
    dict(track_id=12, status="confirmed", lat=43.2, lon=16.9, alt_m=150.0, v_east_mps=-30.0, v_north_mps=10.0,
         v_up_mps=0.0, sigma_h_m=80.0, sigma_v_m=np.nan, identity="hostile", identity_reason="no IFF, inbound",
         track_class="uav", threat_level="high", threat_score=0.91, threat_reason="closing on the airbase",
         sources="radar_north", spoof=False),
    dict(track_id=31, status="coasting", lat=-33.95, lon=-151.25, alt_m=3000.0, v_east_mps=0.0, v_north_mps=50.0,
         v_up_mps=2.0, sigma_h_m=np.nan, sigma_v_m=np.nan, identity="assumed_friend", track_class="rotary_wing",
         icao24="c0ffee", callsign="", squawk="7700", emergency=True, spoof=True,
         spoof_reason="position jumps", sources="adsb", transponder_only=True),
]


def make_frame(t: float = 1000.0, rows=ROWS, epoch_unix=None) -> PictureFrame:
    defaults = {"f": np.nan, "i": 0, "b": False, "s": ""}
    cols = {}
    for name, kind in COLUMNS.items():
        vals = [r.get(name, defaults[kind]) for r in rows]
        if name == "time":
            vals = [t] * len(rows)
        dtype = {"f": float, "i": np.int64, "b": bool, "s": object}[kind]
        cols[name] = np.asarray(vals, dtype=dtype)
    for r_i, r in enumerate(rows):
        cols["threat_level"][r_i] = r.get("threat_level", "none")
        cols["threat_score"][r_i] = r.get("threat_score", 0.0)
    cols["speed_mps"] = np.hypot(cols["v_east_mps"], cols["v_north_mps"])
    cols["course_deg"] = np.degrees(np.arctan2(cols["v_east_mps"], cols["v_north_mps"])) % 360.0
    return PictureFrame(float(t), cols, epoch_unix=epoch_unix)


def make_context(name: str = "test-picture") -> PictureContext:
    return PictureContext(name=name, mode="replay", sensors=[{"name": "radar_north", "kind": "radar", "lat": 43.57,
                                                               "lon": 16.40, "alt_m": 780.0, "range_m": 250e3}],
                          zones=[{"name": "airbase", "kind": "no_fly",
                                  "polygon": [[43.5, 16.3], [43.6, 16.3], [43.6, 16.5], [43.5, 16.5]],
                                  "floor_m": 0.0, "ceiling_m": 3000.0}],
                          defended_points=[{"name": "base", "lat": 43.54, "lon": 16.30, "alt_m": 20.0,
                                            "radius_m": 5000.0}])
