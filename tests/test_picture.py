"""The picture handed to sinks (docs/live.md): frame columns from a snapshot, the sink fan-out that counts
failures, operator controls, and one frame per second of input time from a transponder replay."""

import math
import threading

import numpy as np
import pytest

from airpicture import geo
from airpicture.errors import InputError
from airpicture.identity.standard import IDENTITIES
from airpicture.picture import Controls, PictureFrame, SinkSet, build_frame
from airpicture.picture.frame import COLUMNS, measurement_columns
from airpicture.threat.alerts import AlertEngine, AlertInputs
from airpicture.tracks import COASTING, CONFIRMED, TENTATIVE, TrackStates


def _snapshot(lat_deg, lon_deg, alt_m, v_enu, cov_enu=None, status=CONFIRMED, extra=None):
    lat, lon = np.radians(lat_deg), np.radians(lon_deg)
    pos = geo.geodetic_to_ecef(lat, lon, alt_m)[None]
    rot = geo.enu_rotation(lat, lon)
    vel = geo.enu_vectors_to_ecef(np.asarray(v_enu, float)[None], rot)
    cov = None if cov_enu is None else (rot.T @ np.asarray(cov_enu, float) @ rot)[None]
    return TrackStates(np.array([10.0]), np.array([7]), pos, vel, np.array([status], np.int8), cov,
                       np.array(["unknown"], object), extra or {})


def test_frame_geodetic_speed_course_and_sigmas():
    # 100 m/s toward the north-east, climbing 5 m/s; horizontal variances 400 and 100 m^2, vertical 900 m^2
    snap = _snapshot(37.9, 12.5, 3000.0, [70.7107, 70.7107, 5.0], np.diag([400.0, 100.0, 900.0]))
    frame = build_frame(snap, 10.0)
    (rec,) = frame.records()
    assert list(rec) == list(COLUMNS)
    assert rec["lat"] == pytest.approx(37.9, abs=1e-9) and rec["lon"] == pytest.approx(12.5, abs=1e-9)
    assert rec["alt_m"] == pytest.approx(3000.0, abs=1e-3)
    assert rec["speed_mps"] == pytest.approx(100.0, rel=1e-4)
    assert rec["course_deg"] == pytest.approx(45.0, abs=1e-3)
    assert rec["v_up_mps"] == pytest.approx(5.0, abs=1e-6)
    assert rec["sigma_h_m"] == pytest.approx(20.0, rel=1e-6)  # the larger horizontal axis
    assert rec["sigma_v_m"] == pytest.approx(30.0, rel=1e-6)
    # no identity or threat stage (a transponder replay): pending, none
    assert rec["identity"] == "pending" and rec["threat_level"] == "none" and rec["status"] == "confirmed"


def test_frame_keeps_only_the_operators_picture_and_names_codes():
    parts = [_snapshot(38.0, 12.0 + k, 1000.0, [0, 50, 0], status=s) for k, s in
             enumerate((TENTATIVE, CONFIRMED, COASTING))]
    snap = TrackStates.concatenate(parts)
    snap.track_id = np.array([1, 2, 3])
    snap.extra = {"identity": np.array([IDENTITIES.index("hostile"), IDENTITIES.index("suspect"),
                                        IDENTITIES.index("neutral")], np.int8),
                  "threat_level": np.array([3, 2, 0], np.int8), "threat_score": np.array([90.0, 55.0, 0.0]),
                  "squawk": np.array(["", "7700", "1200"], object),
                  "emergency": np.array(["", "none", "lifeguard"], object)}
    frame = build_frame(snap, 10.0)
    assert frame.columns["track_id"].tolist() == [2, 3]  # the tentative track is not in the picture
    assert frame.columns["identity"].tolist() == ["suspect", "neutral"]
    assert frame.columns["threat_level"].tolist() == ["medium", "none"]
    assert frame.columns["status"].tolist() == ["confirmed", "coasting"]
    # squawk 7700 is an emergency; a declared emergency state other than 'none' is one too
    assert frame.columns["emergency"].tolist() == [True, True]
    assert math.isnan(frame.records()[0]["sigma_h_m"] or math.nan)  # no covariance: None in JSON


class _Probe:
    def __init__(self, name, fail_on=()):
        self.name, self.fail_on, self.frames, self.closed = name, set(fail_on), [], None

    def open(self, context):
        self.context = context

    def step(self, frame):
        if frame.time in self.fail_on:
            raise ConnectionRefusedError("destination unreachable")
        self.frames.append(frame.time)

    def close(self, summary):
        self.closed = summary

    def stats(self):
        return {"sent": len(self.frames)}


def test_a_failing_sink_is_counted_and_never_stops_the_others():
    good, bad = _Probe("good"), _Probe("bad", fail_on={1.0, 2.0})
    sinks = SinkSet([bad, good])
    sinks.open(None)
    for t in range(4):
        sinks.step(PictureFrame.empty(float(t)))
    sinks.close({"done": True})
    s = sinks.summary()
    assert good.frames == [0.0, 1.0, 2.0, 3.0] and bad.frames == [0.0, 3.0]
    assert s["bad"]["errors"] == 2 and s["bad"]["frames"] == 2 and s["bad"]["sent"] == 2
    assert "ConnectionRefusedError: destination unreachable" in s["bad"]["first_error"]
    assert s["good"] == {"frames": 4, "errors": 0, "first_error": None, "sent": 4}
    assert good.closed == {"done": True}


def test_controls_acknowledge_between_steps_and_report_the_change():
    engine = AlertEngine()
    controls = Controls()
    controls.attach(alerts=engine)
    for t in range(5):
        with controls.lock:
            engine.update(AlertInputs(time=float(t), track_id=np.array([4]), threat_level=np.array(["high"], object),
                                      zones=("NFZ",), inside=np.array([[True]]), time_to_entry=np.array([[0.0]]),
                                      identity=np.array(["hostile"], object)))
            controls.time = float(t)
    alert_id = engine.alerts(kind="zone_intrusion")[0].id
    done = []
    worker = threading.Thread(target=lambda: done.append(controls.acknowledge(alert_id, "op1")))
    worker.start()
    worker.join()
    assert done[0]["acknowledged_by"] == "op1" and done[0]["acknowledged"] == 4.0
    assert [a["id"] for a in controls.take_changes()] == [alert_id]
    assert controls.take_changes() == []
    with pytest.raises(InputError, match="already acknowledged"):
        controls.acknowledge(alert_id, "op2")
    with pytest.raises(InputError, match="unknown alert"):
        controls.acknowledge("zone_intrusion:99:NFZ:1", "op1")


def test_measurement_columns_join_plots_and_reports():
    from airpicture.measurements import MeasurementBatch

    plots = MeasurementBatch(time=np.array([1.0, 1.5]), sensor=np.array([0, 1], np.int32),
                             values=np.array([[1000.0, np.pi / 2, 0.1, np.nan], [2000.0, 0.0, np.nan, np.nan]]),
                             sigmas=np.ones((2, 4)), truth=np.array([3, -1], np.int32))
    cols = measurement_columns(plots=plots, sensor_names=["r1", "eo"], sensor_kinds=["radar", "eo"])
    assert cols["sensor"].tolist() == ["r1", "eo"] and cols["kind"].tolist() == ["radar", "eo"]
    assert cols["azimuth_deg"][0] == pytest.approx(90.0)
    assert np.isnan(cols["lat"]).all() and cols["truth"].tolist() == [3, -1]


def test_replay_hands_one_frame_per_second_of_input_time(tmp_path):
    from airpicture.replay import replay_file

    probe = _Probe("probe")
    sinks = SinkSet([probe])
    summary = replay_file("../shared/data/traffic_rs1090_full_flight_short.jsonl.gz", tmp_path, sinks=sinks)
    times = np.array(probe.frames)
    assert times.size > 1000
    steps = np.diff(times)
    assert (steps >= 1.0).all() and np.allclose(times, np.round(times))  # whole seconds, strictly increasing
    # this recording has silent seconds: they give no frames of their own (a silence is one frame, not one per s)
    assert steps.max() > 1.0
    assert summary["sinks"]["probe"]["frames"] == times.size
    assert probe.context.mode == "replay"
