"""Alerts (issue 5 §3): kinds, dwell / hold hysteresis, acknowledgement, timelines, lead times."""

import itertools
import json

import numpy as np
import pytest

from airpicture.errors import InputError
from airpicture.threat.alerts import (
    KINDS,
    AlertConfig,
    AlertEngine,
    AlertInputs,
    Dwell,
)

Z = ("NFZ", "CTR")


def inp(t, ids, *, level=None, inside=None, tte=None, **kw):
    ids = np.asarray(ids, np.int64)
    n = ids.size
    return AlertInputs(
        time=float(t), track_id=ids,
        threat_level=np.asarray(level if level is not None else ["low"] * n, object),
        zones=Z,
        inside=np.zeros((n, 2), bool) if inside is None else np.asarray(inside, bool).reshape(n, 2),
        time_to_entry=np.full((n, 2), np.nan) if tte is None else np.asarray(tte, float).reshape(n, 2),
        **kw)


def run(engine, times, make):
    out = []
    for t in times:
        out += engine.update(make(t))
    return out


def events(alert):
    return [(e["event"], e["time"], e["who"]) for e in alert.timeline]


def test_zone_intrusion_raised_after_dwell_and_cleared_after_hold():
    e = AlertEngine()  # zone_intrusion: raise 3 updates and 2 s, clear 5 updates and 30 s
    run(e, range(20), lambda t: inp(t, [7], inside=[[t >= 5, False]]))
    (a,) = e.alerts(kind="zone_intrusion")
    assert a.id == "zone_intrusion:7:NFZ:1"
    assert a.track_id == 7 and a.zone == "NFZ"
    assert a.raised == 7.0  # inside from t=5: 3rd update at t=7, 2 s held
    assert "inside NFZ (3 updates, 2.0 s)" in a.reason
    run(e, range(20, 80), lambda t: inp(t, [7]))
    assert a.cleared == 50.0  # absent from t=20; 30 s hold
    assert events(a) == [("raised", 7.0, "system"), ("cleared", 50.0, "system")]
    assert "absent on 31 updates" in a.timeline[-1]["reason"]
    assert e.alerts(kind="zone_intrusion") == [a]


def test_predicted_intrusion_reason_and_clear():
    e = AlertEngine(AlertConfig(predict_s=60.0))
    # approaching NFZ at 1 zone-second per second: entry predicted at t=100, turns away at t=80
    run(e, range(80), lambda t: inp(t, [3], level=["medium"], tte=[[100.0 - t, np.nan]]))
    (a,) = e.alerts()
    assert a.kind == "predicted_intrusion" and a.zone == "NFZ"
    assert a.raised == 42.0  # tte <= 60 from t=40; 3 updates / 2 s later
    assert "entry predicted in 58 s into NFZ (threshold 60 s" in a.reason
    assert "threat medium" in a.reason
    run(e, range(80, 120), lambda t: inp(t, [3], level=["medium"]))
    assert not a.active and a.cleared == 110.0


def test_inside_counts_as_predicted_and_friends_exempt():
    e = AlertEngine()
    run(e, range(10), lambda t: inp(t, [1, 2], inside=[[True, False], [True, True]],
                                       identity=np.array(["suspect", "friend"], object)))
    kinds = sorted((a.kind, a.track_id, a.zone) for a in e.alerts())
    assert kinds == [("predicted_intrusion", 1, "NFZ"), ("zone_intrusion", 1, "NFZ")]
    assert "inside now into NFZ" in e.get("predicted_intrusion:1:NFZ:1").reason


@pytest.mark.parametrize("how", ["squawk", "flag"])
def test_emergency_raised_and_cleared(how):
    e = AlertEngine()

    def make(t):
        on = 10 <= t < 20
        if how == "squawk":
            return inp(t, [5, 6], squawk=np.array(["7700" if on else "1200", "1200"], object))
        return inp(t, [5, 6], emergency=np.array([on, False]),
                   emergency_reason=np.array(["ADS-B emergency: medical" if on else "", ""], object))

    run(e, range(60), make)
    (a,) = e.alerts()
    assert a.kind == "emergency" and a.track_id == 5
    assert a.raised == 11.0  # 2 updates
    assert a.cleared == 50.0  # absent from 20, 30 s hold
    assert ("squawk 7700 (general emergency)" if how == "squawk" else "ADS-B emergency: medical") in a.reason


def test_every_emergency_squawk():
    e = AlertEngine(AlertConfig(dwell={"emergency": Dwell(1, 0.0, 1, 0.0)}))
    out = e.update(inp(0, [1, 2, 3, 4], squawk=np.array(["7500", "7600", "7700", "7000"], object)))
    assert sorted(a.track_id for a in out) == [1, 2, 3]
    assert "unlawful interference" in e.get("emergency:1:1").reason
    assert "radio failure" in e.get("emergency:2:1").reason


def test_spoof_raised_and_cleared():
    e = AlertEngine()
    run(e, range(100), lambda t: inp(t, [9], spoof=np.array([5 <= t < 15]),
                                        spoof_reason=np.array(["adsb_radar_offset 4.1 km" if 5 <= t < 15 else ""],
                                                              object)))
    (a,) = e.alerts()
    assert a.kind == "spoof" and a.raised == 6.0 and a.cleared == 75.0  # spoof hold is 60 s
    assert "adsb_radar_offset 4.1 km" in a.reason


def test_new_high_threat_raised_and_cleared():
    e = AlertEngine()
    lv = lambda t: "medium" if t < 10 or t >= 30 else "high"
    run(e, range(80), lambda t: inp(t, [4], level=[lv(t)],
                                       threat_reason=np.array(["Suspect UAV, CPA 0.8 km in 190 s"], object)))
    (a,) = e.alerts()
    assert a.kind == "new_high_threat" and a.raised == 12.0 and a.cleared == 60.0
    assert "threat high (was medium" in a.reason and "CPA 0.8 km in 190 s" in a.reason
    assert a.level == "high"


def test_track_lost_only_for_medium_or_high():
    e = AlertEngine()
    run(e, range(10), lambda t: inp(t, [1, 2, 3, 4], level=["none", "low", "medium", "high"],
                                       inside=[[False, False]] * 3 + [[True, False]]))
    assert [a.id for a in e.alerts()] == ["zone_intrusion:4:NFZ:1", "predicted_intrusion:4:NFZ:1",
                                          "new_high_threat:4:1"]
    out = e.update(inp(10, [], lost=[1, 2, 3, 4, 99]))
    lost = e.alerts(kind="track_lost")
    assert sorted(a.track_id for a in lost) == [3, 4]
    assert all(a.raised == 10.0 for a in lost)
    assert "as a high threat" in e.get("track_lost:4:1").reason
    # the lost track's other alerts end with it
    assert all(not a.active for a in e.alerts(track_id=4) if a.kind != "track_lost")
    assert e.get("zone_intrusion:4:NFZ:1").timeline[-1]["reason"] == "track 4 lost"
    assert len(out) == 5
    # a lost track that comes back: its lost alert clears
    e.update(inp(11, [3], level=["medium"]))
    assert e.get("track_lost:3:1").cleared == 11.0
    assert e.get("track_lost:3:1").timeline[-1]["reason"] == "track re-acquired"
    assert e.get("track_lost:4:1").active
    assert e.summary()["active_by_kind"]["track_lost"] == 1


def test_track_lost_expires_when_configured():
    e = AlertEngine(AlertConfig(lost_clear_s=30.0))
    e.update(inp(0, [1], level=["high"]))
    e.update(inp(1, [2], lost=[1]))
    run(e, range(2, 40), lambda t: inp(t, [2]))
    a = e.get("track_lost:1:1")
    assert a.cleared == 31.0 and "not re-acquired within 30 s" in a.timeline[-1]["reason"]


def _jitter_inputs(seed, sigma_m=40.0):
    """A suspect drone loitering 10 m outside the NFZ boundary; noise of sigma_m moves it across the line."""
    rng = np.random.default_rng(seed)
    dist = -10.0 + rng.normal(0.0, sigma_m, 600)  # signed: > 0 inside
    return lambda t: inp(t, [42], level=["medium"], identity=np.array(["suspect"], object),
                         inside=[[dist[t] > 0, False]],
                         tte=[[np.nan if dist[t] > 0 else 0.0 if dist[t] > -30 else np.nan, np.nan]])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_jitter_across_a_boundary_does_not_flap(seed):
    e = AlertEngine()
    run(e, range(600), _jitter_inputs(seed))
    intr = e.alerts(kind="zone_intrusion")
    assert len(intr) == 1  # raised once, held for the whole loiter
    s = e.summary()
    assert s["max_raises_per_track_kind_in_window"] <= 1
    for kind in KINDS:  # no more than one raise per track and kind per minute
        times = [a.raised for a in e.alerts(kind=kind)]
        assert all(b - a >= 60.0 for a, b in itertools.pairwise(times))


def test_jitter_without_hold_would_flap():
    """The anti-flap test above can fail: with the dwell and hold switched off the same input flaps."""
    no_hold = Dwell(1, 0.0, 1, 0.0)
    e = AlertEngine(AlertConfig(dwell={"zone_intrusion": no_hold}))
    run(e, range(600), _jitter_inputs(1))
    assert len(e.alerts(kind="zone_intrusion")) > 20
    assert e.summary()["max_raises_per_track_kind_in_window"] > 1
    assert e.summary()["worst_flapper"] == {"track_id": 42, "kind": "zone_intrusion", "zone": "NFZ"}


def test_acknowledgement_and_timeline():
    e = AlertEngine()
    run(e, range(10), lambda t: inp(t, [8], inside=[[False, True]]))
    a = e.get("zone_intrusion:8:CTR:1")
    assert a.acknowledged is None
    e.acknowledge(a.id, "op. Meyer", 12.5)
    assert a.acknowledged == 12.5 and a.acknowledged_by == "op. Meyer"
    with pytest.raises(InputError, match="already acknowledged by op. Meyer"):
        e.acknowledge(a.id, "op. Klein", 13.0)
    with pytest.raises(InputError, match="unknown alert"):
        e.acknowledge("zone_intrusion:8:CTR:2", "op. Klein", 13.0)
    with pytest.raises(InputError) as exc:
        e.acknowledge(a.id, "  ", 13.0)
    assert exc.value.field == "who"
    assert a.active  # acknowledging does not clear
    run(e, range(10, 60), lambda t: inp(t, [8]))
    assert events(a) == [("raised", 2.0, "system"), ("acknowledged", 12.5, "op. Meyer"),
                         ("cleared", 40.0, "system")]
    s = e.summary()
    assert s["acknowledged_by_kind"]["zone_intrusion"] == 1
    assert s["acknowledged_by_kind"]["predicted_intrusion"] == 0
    assert s["acknowledged"] == 1 and s["unacknowledged"] == s["alerts"] - 1
    # the zone alert is acknowledged and cleared; what waits for an operator is the other active alerts
    assert s["unacknowledged_active_by_kind"]["zone_intrusion"] == 0
    assert s["unacknowledged_active"] == sum(s["active_by_kind"].values())
    # a later intrusion of the same track and zone is a new alert with the next stable id
    run(e, range(60, 70), lambda t: inp(t, [8], inside=[[False, True]]))
    assert [x.id for x in e.alerts(kind="zone_intrusion")] == ["zone_intrusion:8:CTR:1", "zone_intrusion:8:CTR:2"]


def test_ids_are_stable_and_deterministic():
    def play(order):
        e = AlertEngine()
        for t in range(10):
            ids = np.array(order)
            e.update(inp(t, ids, level=["high"] * len(ids), inside=[[True, False]] * len(ids)))
        return sorted(a.id for a in e.alerts()), [a.id for a in e.alerts()]

    s1, o1 = play([5, 3, 11])
    s2, o2 = play([11, 5, 3])
    assert s1 == s2 and o1 == o2  # row order of the inputs does not matter
    assert "zone_intrusion:11:NFZ:1" in s1


def test_lead_time():
    e = AlertEngine()  # predict_s 120
    # hostile approaching NFZ, entry at t=150 (seen from t=0); alert when tte <= 120 (t=30) + dwell 2 s
    def make(t):
        return inp(t, [1, 2], level=["medium", "low"], identity=np.array(["hostile", "neutral"], object),
                   inside=[[t >= 150, False], [False, False]],
                   tte=[[max(150.0 - t, 0.0), np.nan], [np.nan, np.nan]])

    run(e, range(200), make)
    s = e.summary()
    (rec,) = s["lead_times"]
    assert rec["track_id"] == 1 and rec["entry_time"] == 150.0 and rec["zone"] == "NFZ"
    assert rec["first_alert_id"] == "predicted_intrusion:1:NFZ:1" and rec["first_alert_time"] == 32.0
    assert rec["lead_s"] == pytest.approx(118.0)
    assert rec["identity"] == "hostile"
    # entry times given by the caller (e.g. from truth); a track never alerted gets None; late alert < 0
    s2 = e.summary(entry_times={1: 20.0, 2: 100.0})
    by = {r["track_id"]: r for r in s2["lead_times"]}
    assert by[1]["lead_s"] == pytest.approx(-12.0)
    assert by[2]["lead_s"] is None and by[2]["first_alert_id"] is None


def test_empty_inputs():
    e = AlertEngine()
    assert e.update(AlertInputs(time=0.0, track_id=np.zeros(0, np.int64))) == []
    assert e.update(AlertInputs.empty(1.0, lost=[3])) == []  # unknown lost track: nothing
    assert e.update(inp(2.0, [])) == []
    s = e.summary()
    assert s["alerts"] == 0 and s["lead_times"] == [] and s["max_raises_per_track_kind_in_window"] == 0
    assert set(s["raised_by_kind"]) == set(KINDS) and not any(s["raised_by_kind"].values())
    doc = json.loads(json.dumps(e.to_json(), allow_nan=False))
    assert doc["format"] == "airpicture-alerts" and doc["alerts"] == []
    assert AlertEngine().to_json()["time"] is None


def test_to_json_holds_timelines():
    e = AlertEngine()
    run(e, range(10), lambda t: inp(t, [1], level=["high"], inside=[[True, False]]))
    e.acknowledge("zone_intrusion:1:NFZ:1", "op", 10.0)
    doc = json.loads(json.dumps(e.to_json(), allow_nan=False))
    a = {x["id"]: x for x in doc["alerts"]}["zone_intrusion:1:NFZ:1"]
    assert [ev["event"] for ev in a["timeline"]] == ["raised", "acknowledged"]
    assert a["active"] and a["acknowledged_by"] == "op" and a["acknowledged"] == 10.0
    assert doc["summary"]["raised_by_kind"]["zone_intrusion"] == 1
    assert doc["summary"]["acknowledged"] == 1
    assert doc["summary"]["unacknowledged_active"] == doc["summary"]["alerts"] - 1


def test_bad_inputs_name_the_field():
    e = AlertEngine()
    with pytest.raises(InputError) as exc:
        e.update(AlertInputs(time=0.0, track_id=np.array([1, 2]), zones=("A",), inside=np.zeros((2, 2), bool)))
    assert exc.value.field == "inside"
    with pytest.raises(InputError) as exc:
        e.update(AlertInputs(time=0.0, track_id=np.array([1]), threat_level=np.array(["severe"], object)))
    assert exc.value.field == "threat_level"
    with pytest.raises(InputError) as exc:
        e.update(AlertInputs(time=0.0, track_id=np.array([1, 1])))
    assert exc.value.field == "track_id"
    e.update(inp(5.0, [1]))
    with pytest.raises(InputError) as exc:
        e.update(inp(4.0, [1]))
    assert exc.value.field == "time"
    with pytest.raises(InputError) as exc:
        AlertConfig(dwell={"track_lost": Dwell()})
    assert exc.value.field == "dwell"
    with pytest.raises(InputError):
        AlertConfig(dwell={"spoof": Dwell(0, 0.0, 1, 0.0)})


def test_zones_may_change_between_updates():
    e = AlertEngine(AlertConfig(dwell={"zone_intrusion": Dwell(1, 0.0, 1, 0.0)}))
    e.update(AlertInputs(time=0.0, track_id=np.array([1]), zones=("A",), inside=np.array([[True]])))
    # zone A not evaluated at t=1 (only B): its alert is neither renewed nor cleared
    e.update(AlertInputs(time=1.0, track_id=np.array([1]), zones=("B",), inside=np.array([[False]])))
    assert e.get("zone_intrusion:1:A:1").active
    e.update(AlertInputs(time=2.0, track_id=np.array([1]), zones=("B", "A"), inside=np.array([[False, False]])))
    assert not e.get("zone_intrusion:1:A:1").active


def test_infinite_time_to_entry_is_not_predicted():
    """threat.geometry's convention: entry_s is 0 inside, inf beyond the horizon."""
    e = AlertEngine(AlertConfig(dwell={"predicted_intrusion": Dwell(1, 0.0, 1, 0.0)}))
    out = e.update(inp(0, [1, 2, 3], tte=[[np.inf, np.inf], [0.0, np.inf], [119.0, 121.0]]))
    assert sorted(a.id for a in out) == ["predicted_intrusion:2:NFZ:1", "predicted_intrusion:3:NFZ:1"]
