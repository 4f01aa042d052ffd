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
    return summary, json.loads((out / "alerts.json").read_text())


def test_hostile_and_suspect_intruders_are_alerted_60_s_ahead_where_seen_that_early(demo):
    summary, _ = demo
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
    summary, _ = demo
    assert summary["alerts"]["max_raises_per_track_kind_in_window"] <= 1


def test_civil_airliners_raise_no_intrusion_alerts(demo):
    _, alerts = demo
    intrusions = [a for a in alerts["alerts"] if a["kind"] in ("zone_intrusion", "predicted_intrusion")]
    assert intrusions
    assert not [a for a in intrusions if a["identity"] in ("neutral", "friend", "assumed_friend")]
    assert all(a["level"] != "none" for a in intrusions)
