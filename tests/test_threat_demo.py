"""Issue 5 acceptance figures on the demo: alerts from the threat stage of a run, lead times, birds, and an
operator's acknowledgement."""

import json

import numpy as np
import pytest

from airpicture.pipeline import run_scenario
from airpicture.scenario.loader import load_scenario
from airpicture.tracking.sensor_tracker import TrackerConfig

RAISE_DWELL_S = 3.0  # intrusion alerts are raised after 3 updates (2 s) of the condition, plus one update
# A slow low echo is taken for a bird until it has held one course this long (the tracker's bird hint), then
# the identity hysteresis (2 updates) and the alert dwell (3 updates) follow: the drones launched inside the
# control zone are alerted 10-16 s after they are first seen (21-32 s before the bird hint was reworked).
LAUNCHED_INSIDE_ALERT_S = TrackerConfig().bird_release_s + 8.0


class _Operator:
    """A sink standing in for the operator at the display: acknowledges the first high-threat alert it is shown,
    through the run's Controls (as the live service does), between two steps."""

    name = "operator"

    def __init__(self, controls):
        self.controls = controls
        self.acknowledged: list[tuple[str, float]] = []

    def open(self, context):
        pass

    def step(self, frame):
        for a in frame.alerts:
            if not self.acknowledged and a["kind"] == "new_high_threat" and a["acknowledged"] is None:
                self.controls.acknowledge(a["id"], "op. Test")
                self.acknowledged.append((a["id"], self.controls.time))

    def close(self, summary):
        pass


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from airpicture.picture.sinks import Controls, SinkSet

    out = tmp_path_factory.mktemp("threat")
    scenario = load_scenario("demo")
    controls = Controls()
    operator = _Operator(controls)
    summary = run_scenario(scenario, out, show_progress=False, sinks=SinkSet([operator]), controls=controls)
    summary["_acknowledged"] = operator.acknowledged
    return summary, json.loads((out / "alerts.json").read_text()), out, scenario


def test_hostile_and_suspect_intruders_are_alerted_60_s_ahead_where_seen_that_early(demo):
    summary, _, _, _ = demo
    leads = summary["alerts"]["hostile_or_suspect_lead_times"]
    assert leads, "the demo has intruders"
    for tid, e in leads.items():
        assert e["lead_s"] is not None, tid
        seen = e["seen_before_entry_s"]
        assert e["target_applies"] is (seen >= 60.0), (tid, e)
        if e["target_applies"]:
            assert e["target_met"] is True and e["lead_s"] >= 60.0, (tid, e)
            assert "target met" in e["verdict"]
        elif seen >= RAISE_DWELL_S:
            assert e["case"] == "seen less than the target before entry" and e["target_met"] is None
            assert e["lead_s"] >= seen - RAISE_DWELL_S, (tid, e)
        else:
            # first seen already inside (the demo's four drones, launched inside the control zone): stated as
            # such, not counted as a miss; alerted once the tracker no longer takes them for birds
            assert e["case"] == "first seen inside" and e["target_met"] is None, (tid, e)
            assert "launched inside" in e["verdict"]
            assert 0.0 <= e["alert_after_first_seen_s"] <= LAUNCHED_INSIDE_ALERT_S, (tid, e)
    target = summary["alerts"]["lead_time_target"]
    assert target["missed"] == [] and target["met"] == target["applies"] >= 1
    assert target["launched_inside"] == 4  # DRONE-1..4
    # the cruise missile is seen long before it reaches the airbase's zones
    assert max(e["lead_s"] for e in leads.values()) >= 60.0


def test_bird_flocks_raise_no_alerts(demo):
    """Every confirmed track that follows a bird flock (within 500 m of it for most of its life) raises no alert
    of any kind: a bird is in the picture without calling for attention."""
    import pyarrow.parquet as pq

    from airpicture import geo
    from airpicture.scenario.trajectory import build_truth

    summary, alerts, out, scenario = demo
    assert summary["birds"]["flocks"] == 4
    truth = build_truth(scenario)
    flocks = [k for k, c in enumerate(truth.target_class) if c == "bird_flock"]
    table = pq.read_table(out / "tracks.parquet", columns=["time", "track_id", "lat", "lon", "alt", "status"])
    col = {c: np.asarray(table.column(c).to_pylist()) for c in table.column_names}
    firm = col["status"] != "tentative"
    pos = geo.geodetic_to_ecef(np.radians(col["lat"][firm]), np.radians(col["lon"][firm]), col["alt"][firm])
    t, tid = col["time"][firm], col["track_id"][firm]
    near = np.zeros(t.size, bool)
    for k in flocks:
        p, _ = truth.state_at(t, np.full(t.size, k))
        near |= np.linalg.norm(pos - p, axis=1) < 500.0
    ids, rows = np.unique(tid, return_counts=True)
    on_birds = np.bincount(np.searchsorted(ids, tid[near]), minlength=ids.size)
    bird_tracks = set(ids[on_birds > 0.5 * rows].tolist())
    assert len(bird_tracks) >= 4
    assert not [a["id"] for a in alerts["alerts"] if a["track_id"] in bird_tracks]


def test_no_alert_flaps_more_than_once_per_track_per_minute(demo):
    summary, _, _, _ = demo
    assert summary["alerts"]["max_raises_per_track_kind_in_window"] <= 1


def test_civil_airliners_raise_no_intrusion_alerts(demo):
    _, alerts, _, _ = demo
    intrusions = [a for a in alerts["alerts"] if a["kind"] in ("zone_intrusion", "predicted_intrusion")]
    assert intrusions
    assert not [a for a in intrusions if a["identity"] in ("neutral", "friend", "assumed_friend")]
    assert all(a["level"] != "none" for a in intrusions)
    # nor is identified civil traffic a high threat (the departure from the base passes 0.9 km from it, low)
    high = [a for a in alerts["alerts"] if a["kind"] == "new_high_threat"]
    assert high and not [a["id"] for a in high if a["identity"] in ("neutral", "friend", "assumed_friend")]


def test_explain_shows_the_threat_reasoning_and_the_alerts(demo):
    from airpicture.identity.explain import explain

    _, alerts, out, _ = demo
    missile = next(a["track_id"] for a in alerts["alerts"] if a["kind"] == "new_high_threat"
                   and a["identity"] == "hostile")
    text = explain(missile, out)
    assert "HOSTILE, missile" in text
    assert "threat    HIGH" in text and "Hostile missile" in text
    assert f"new_high_threat:{missile}:1: raised" in text and "zone_intrusion" in text
    threat = json.loads((out / "threat.json").read_text())
    assert threat["tracks"][str(missile)]["peak_level"] == "high"


def test_tracks_parquet_carries_the_threat(demo):
    import numpy as np
    import pyarrow.parquet as pq

    _, _, out, _ = demo
    table = pq.read_table(out / "tracks.parquet")
    level = np.asarray(table.column("threat_level").to_pylist(), dtype=object)
    assert set(level) <= {"none", "low", "medium", "high"} and "high" in set(level)
    reason = np.asarray(table.column("threat_reason").to_pylist(), dtype=object)
    assert all(r for r in reason[level == "high"])


def test_acknowledgement_shows_in_alerts_json_and_the_summary(demo):
    summary, alerts, _, _ = demo
    ((aid, t),) = summary["_acknowledged"]
    a = next(x for x in alerts["alerts"] if x["id"] == aid)
    assert a["acknowledged"] == t and a["acknowledged_by"] == "op. Test"
    events = [(e["event"], e["who"]) for e in a["timeline"]]
    assert events[:2] == [("raised", "system"), ("acknowledged", "op. Test")]
    assert a["timeline"][1]["time"] == t >= a["raised"]
    s = summary["alerts"]
    assert s["acknowledged"] == 1 and s["acknowledged_by_kind"]["new_high_threat"] == 1
    assert s["unacknowledged"] == s["alerts"] - 1
    active_unacked = sum(1 for x in alerts["alerts"] if x["active"] and x["acknowledged"] is None)
    assert s["unacknowledged_active"] == active_unacked
    assert alerts["summary"]["acknowledged"] == 1
