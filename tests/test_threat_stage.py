"""The threat stage's bookkeeping: per-track latest / peak threat (threat.json) and the lead-time statement."""

import json
from types import SimpleNamespace

import numpy as np
import pytest

from airpicture.scenario.loader import load_scenario
from airpicture.threat.scoring import LEVELS
from airpicture.threat.stage import LEAD_TARGET_S, ThreatStage, lead_time_report


def _reference_threat_json(steps) -> dict:
    """threat.json as the stage wrote it with one dict per track, updated in a Python loop (before it kept
    arrays per track slot): the vectorised bookkeeping must give the same document, byte for byte."""
    tracks: dict[int, dict] = {}
    for t, ids, level, score, reasons in steps:
        for i, tid in enumerate(ids.tolist()):
            rec = tracks.get(tid)
            lv = int(level[i])
            if rec is None:
                rec = tracks[tid] = {"first_time": t, "peak_level": -1}
            rec.update(time=t, level=LEVELS[lv], score=round(float(score[i]), 2), reason=str(reasons[i]))
            if lv > rec["peak_level"]:
                rec.update(peak_level=lv, peak_time=t, peak_reason=str(reasons[i]))
    out = {}
    for tid, rec in sorted(tracks.items()):
        rec = dict(rec)
        rec["peak_level"] = LEVELS[rec["peak_level"]] if rec["peak_level"] >= 0 else None
        out[str(tid)] = rec
    return {"format": "airpicture-threat", "version": 1, "levels": list(LEVELS), "tracks": out}


def test_threat_json_is_the_same_as_the_per_track_loop_gave():
    rng = np.random.default_rng(5)
    stage = ThreatStage(load_scenario("demo"))
    steps = []
    pool = rng.choice(10_000, size=300, replace=False)  # ids appear and vanish in no particular order
    for k in range(80):
        ids = rng.choice(pool, size=int(rng.integers(0, 120)), replace=False).astype(np.int64)
        level = rng.integers(0, 4, ids.size).astype(np.int8)
        score = rng.normal(40.0, 30.0, ids.size) + 0.005  # rounding to 2 places must agree too
        reasons = np.array([f"r{k}-{i}" for i in ids.tolist()], dtype=object)
        t = float(k)
        steps.append((t, ids, level, score, reasons))
        stage._remember(t, ids, SimpleNamespace(level=level, score=score), reasons)
    got = json.dumps(stage.threat_json(), indent=1)
    assert got == json.dumps(_reference_threat_json(steps), indent=1)
    assert len(json.loads(got)["tracks"]) > 200


def _entry(entry_time, alert_time, zone="CTR"):
    return {"track_id": 7, "entry_time": entry_time, "zone": zone, "identity": "suspect",
            "first_alert_id": None if alert_time is None else "x:7:1", "first_alert_kind": None,
            "first_alert_time": alert_time, "lead_s": None if alert_time is None else entry_time - alert_time}


@pytest.mark.parametrize("first_seen, entry_time, alert_time, case, applies, met", [
    (0.0, 200.0, 100.0, "seen at least the target before entry", True, True),   # 100 s ahead
    (0.0, 200.0, 170.0, "seen at least the target before entry", True, False),  # 30 s ahead: a miss
    (0.0, 200.0, None, "seen at least the target before entry", True, False),   # never alerted: a miss
    (150.0, 200.0, 160.0, "seen less than the target before entry", False, None),
    (3.0, 3.0, 18.0, "first seen inside", False, None),                          # launched inside
])
def test_lead_time_report_states_whether_the_target_applied_and_was_met(first_seen, entry_time, alert_time,
                                                                        case, applies, met):
    r = lead_time_report(_entry(entry_time, alert_time), first_seen)
    assert r["case"] == case and r["target_applies"] is applies and r["target_met"] is met
    assert r["seen_before_entry_s"] == entry_time - first_seen and r["target_s"] == LEAD_TARGET_S
    if alert_time is not None:
        assert r["alert_after_first_seen_s"] == alert_time - first_seen
    if case == "first seen inside":
        assert "launched inside" in r["verdict"] and "does not apply" in r["verdict"]
        assert "alerted 15 s after first sight" in r["verdict"]
    elif applies:
        assert r["verdict"].endswith("met" if met else "missed")
