"""Issue 5 acceptance figures on the demo, as far as they are built: alerts from the threat stage of a run."""

import json

import pytest

from airpicture.pipeline import run_scenario
from airpicture.scenario.loader import load_scenario

RAISE_DWELL_S = 3.0  # intrusion alerts are raised after 3 updates (2 s) of the condition, plus one update


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("threat")
    summary = run_scenario(load_scenario("demo"), out, show_progress=False)
    return summary, json.loads((out / "alerts.json").read_text()), out


def test_hostile_and_suspect_intruders_are_alerted_60_s_ahead_where_seen_that_early(demo):
    summary, _, _ = demo
    leads = summary["alerts"]["hostile_or_suspect_lead_times"]
    assert leads, "the demo has intruders"
    for tid, e in leads.items():
        assert e["lead_s"] is not None, tid
        if e["seen_before_entry_s"] >= RAISE_DWELL_S:
            need = min(60.0, e["seen_before_entry_s"]) - RAISE_DWELL_S
            assert e["lead_s"] >= need, (tid, e)
        else:
            # first seen already inside (the demo's drones, launched inside the control zone): alerted once
            # identified - the tracker first takes a slow, low, erratic drone for a bird (threat none), which
            # is the low-slow-small problem itself; today that costs up to ~32 s
            assert -e["lead_s"] <= 40.0, (tid, e)
    # the cruise missile is seen long before it reaches the airbase's zones
    assert max(e["lead_s"] for e in leads.values()) >= 60.0


def test_no_alert_flaps_more_than_once_per_track_per_minute(demo):
    summary, _, _ = demo
    assert summary["alerts"]["max_raises_per_track_kind_in_window"] <= 1


def test_civil_airliners_raise_no_intrusion_alerts(demo):
    _, alerts, _ = demo
    intrusions = [a for a in alerts["alerts"] if a["kind"] in ("zone_intrusion", "predicted_intrusion")]
    assert intrusions
    assert not [a for a in intrusions if a["identity"] in ("neutral", "friend", "assumed_friend")]
    assert all(a["level"] != "none" for a in intrusions)


def test_explain_shows_the_threat_reasoning_and_the_alerts(demo):
    from airpicture.identity.explain import explain

    _, alerts, out = demo
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

    _, _, out = demo
    table = pq.read_table(out / "tracks.parquet")
    level = np.asarray(table.column("threat_level").to_pylist(), dtype=object)
    assert set(level) <= {"none", "low", "medium", "high"} and "high" in set(level)
    reason = np.asarray(table.column("threat_reason").to_pylist(), dtype=object)
    assert all(r for r in reason[level == "high"])
