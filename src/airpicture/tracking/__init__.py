"""Tracking: ECEF EKF/IMM filters, kd-tree gating with GNN/JPDA, track management, the sensor tracker.

Public API::

    from airpicture.tracking import SensorTracker, TrackerConfig
    tracker = SensorTracker(sensors, TrackerConfig.from_dict({"confirm": "3/4"}))
    tracker.process(batch)
    states = tracker.snapshot(t)

See docs/tracking.md.
"""

from .filters import CT, CV, STATE_DIM, ProcessNoise
from .imm import ModeSet
from .sensor_tracker import SensorTracker, TrackerConfig

__all__ = ["SensorTracker", "TrackerConfig", "ModeSet", "ProcessNoise", "CV", "CT", "STATE_DIM"]
