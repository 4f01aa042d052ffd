"""Tracking: ECEF EKF/IMM filters, kd-tree gating with GNN/JPDA, track management, the sensor tracker.

Public API::

    from airpicture.tracking import SensorTracker, TrackerConfig
    tracker = SensorTracker(sensors, TrackerConfig.from_dict({"confirm": "3/4"}))
    tracker.process(batch)
    states = tracker.snapshot(t)

See docs/tracking.md.
"""

__all__ = ["SensorTracker", "TrackerConfig", "ModeSet", "ProcessNoise", "CV", "CT", "STATE_DIM"]

_HOMES = {"SensorTracker": "sensor_tracker", "TrackerConfig": "sensor_tracker", "ModeSet": "imm",
          "ProcessNoise": "filters", "CV": "filters", "CT": "filters", "STATE_DIM": "filters"}


def __getattr__(name):
    # Lazy: `airpicture track` needs only the Cartesian tracker, and every import is start-up time
    # in the whole-process benchmark.
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
    raise AttributeError(name)
