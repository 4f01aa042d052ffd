"""IdentityEngine: identity columns on every update, hysteresis, hostile-area memory, operator overrides (who,
when, why; until cleared), history, identity.json, and `airpicture explain`."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from airpicture.errors import InputError
from airpicture.geo import enu_rotation, enu_vectors_to_ecef, geodetic_to_ecef
from airpicture.identity.engine import IdentityEngine
from airpicture.identity.explain import explain
from airpicture.identity.rules import RuleTable
from airpicture.identity.standard import CLASSES, IDENTITIES
from airpicture.scenario.model import Zone
from airpicture.tracks import CONFIRMED, TENTATIVE, TrackStates

D = math.pi / 180.0
ID = {name: i for i, name in enumerate(IDENTITIES)}


def square_zone(name, kind, lat0, lon0, half_deg, floor=0.0, ceiling=15000.0):
    lat = np.array([lat0 - half_deg, lat0 - half_deg, lat0 + half_deg, lat0 + half_deg]) * D
    lon = np.array([lon0 - half_deg, lon0 + half_deg, lon0 + half_deg, lon0 - half_deg]) * D
    return Zone(name, kind, lat, lon, floor, ceiling)


ZONES = [square_zone("Hostile west", "hostile_area", 37.6, 11.0, 0.2),
         square_zone("Safe passage", "corridor", 38.5, 12.5, 0.3, floor=1000.0, ceiling=6000.0)]


def snap(t, rows, status=None):
    """rows: list of dicts track_id, lat, lon, alt, vel (east, north, up) and extra columns."""
    n = len(rows)
    lat = np.array([r["lat"] for r in rows]) * D
    lon = np.array([r["lon"] for r in rows]) * D
    pos = geodetic_to_ecef(lat, lon, np.array([r["alt"] for r in rows], float)).reshape(n, 3)
    vel = np.array([enu_vectors_to_ecef(np.asarray(r["vel"], float), enu_rotation(la, lo))
                    for r, la, lo in zip(rows, lat, lon)]).reshape(n, 3)
    st = np.array([r.get("status", CONFIRMED) for r in rows], np.int8)
    extra = {}
    for k in ("icao24", "callsign", "squawk", "emergency", "category"):
        extra[k] = np.array([r.get(k, "") for r in rows], dtype=object)
    return TrackStates(np.full(n, float(t)), np.array([r["id"] for r in rows], np.int64), pos, vel, st, None,
                       np.array([r.get("hint", "unknown") for r in rows], object), extra)


def fast_low(tid, **kw):
    return dict(id=tid, lat=37.9, lon=12.0, alt=50.0, vel=[250.0, 0.0, 0.0], **kw)


def slow(tid, **kw):
    return dict(id=tid, lat=37.9, lon=12.0, alt=2000.0, vel=[60.0, 0.0, 0.0], **kw)


def airliner(tid, **kw):
    return dict(id=tid, lat=38.0, lon=12.0, alt=11000.0, vel=[200.0, 100.0, 0.0], icao24="4ca7e1",
                callsign="EIN123", category="A3", **kw)


def names(codes):
    return [IDENTITIES[c] for c in codes]


# --------------------------------------------------------------------------------------------- columns

def test_update_adds_identity_columns_and_keeps_input():
    eng = IdentityEngine(None, ZONES)
    s = snap(0.0, [fast_low(1), airliner(2, squawk="7700"), slow(3, status=TENTATIVE)])
    before = dict(s.extra)
    out = eng.update(s, 0.0)
    assert s.extra.keys() == before.keys()  # the input is not changed
    for k in ("identity", "identity_rule", "identity_reason", "identity_override", "track_class_id",
              "emergency_flag", "emergency_reason", "spoof", "spoof_reason"):
        assert out.extra[k].shape == (3,), k
    assert out.extra["identity"].dtype == np.int8 and out.extra["track_class_id"].dtype == np.int8
    assert out.extra["icao24"].tolist() == ["", "4ca7e1", ""]
    # flags at once; identities wait for hysteresis (two updates by default)
    assert out.extra["emergency_flag"].tolist() == [False, True, False]
    assert out.extra["emergency_reason"][1] == "squawk 7700 (general emergency)"
    assert names(out.extra["identity"]) == ["pending"] * 3
    out = eng.update(snap(10.0, [fast_low(1), airliner(2, squawk="7700"), slow(3, status=TENTATIVE)]), 10.0)
    assert names(out.extra["identity"]) == ["hostile", "neutral", "pending"]
    assert out.extra["identity_rule"].tolist() == ["missile-like, no transponder", "civil airway traffic",
                                                   "tentative track"]
    assert out.extra["identity_reason"][0] == "no transponder, 250 m/s at 50 m: missile-like"
    assert [CLASSES[c] for c in out.extra["track_class_id"]] == ["missile", "fixed_wing", "unknown"]


def test_duplicate_track_ids_are_refused():
    eng = IdentityEngine()
    with pytest.raises(ValueError, match="one row per track"):
        eng.update(snap(0.0, [slow(1), slow(1)]), 0.0)


def test_empty_snapshot():
    eng = IdentityEngine()
    out = eng.update(TrackStates.empty(), 5.0)
    assert len(out) == 0 and out.extra["identity"].shape == (0,)


# ------------------------------------------------------------------------------------------- hysteresis

def test_one_noisy_update_does_not_flip_identity():
    eng = IdentityEngine(None, ZONES)
    for t in (0.0, 10.0):
        out = eng.update(snap(t, [slow(1)]), t)
    assert names(out.extra["identity"]) == ["unknown"]
    # speed noise: every other update looks missile-like. Never two in a row: the identity holds.
    for k in range(10):
        t = 20.0 + 10 * k
        row = fast_low(1) if k % 2 == 0 else dict(fast_low(1), vel=[150.0, 0.0, 0.0])
        out = eng.update(snap(t, [row]), t)
        assert names(out.extra["identity"]) == ["unknown"], t
    assert eng.track(1)["proposed"] is None
    # two in a row: taken
    out = eng.update(snap(130.0, [fast_low(1)]), 130.0)
    assert names(out.extra["identity"]) == ["unknown"]
    assert eng.track(1)["proposed"] == {"identity": "hostile", "updates": 1, "since": 130.0}
    out = eng.update(snap(140.0, [fast_low(1)]), 140.0)
    assert names(out.extra["identity"]) == ["hostile"]
    changes = [e for e in eng.history(1) if e["kind"] == "identity"]
    assert [(e["old"], e["new"], e["time"]) for e in changes] == [("pending", "unknown", 10.0),
                                                                  ("unknown", "hostile", 140.0)]


def test_authenticated_iff_is_taken_at_once():
    eng = IdentityEngine(None, ZONES)
    eng.update(snap(0.0, [slow(1)]), 0.0)
    out = eng.update(snap(10.0, [slow(1)]), 10.0)
    assert names(out.extra["identity"]) == ["unknown"]
    iff = {1: {"iff_authenticated": True, "iff_reply_time": 19.5, "iff_mode3a": "4501"}}
    out = eng.update(snap(20.0, [slow(1)]), 20.0, iff=iff)
    assert names(out.extra["identity"]) == ["friend"]
    assert out.extra["identity_reason"][0] == "authenticated IFF (Mode 5 reply at 00:00:19)"


def test_hysteresis_in_updates_and_seconds_from_the_table():
    table = RuleTable.parse("""
[hysteresis]
updates = 3
hold_s = 25
[[rule]]
name = "fast"
when = { speed_mps = { min = 200 } }
identity = "suspect"
[[rule]]
name = "quick"
when = { speed_mps = { min = 100 } }
identity = "hostile"
updates = 1
[[rule]]
name = "rest"
identity = "unknown"
""")
    eng = IdentityEngine(table)
    got = []
    for t in (0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0):
        got.append(names(eng.update(snap(t, [fast_low(1)]), t).extra["identity"])[0])
    # 3 updates reached at t=10, but 25 s only at t=25
    assert got == ["pending", "pending", "pending", "pending", "pending", "suspect", "suspect"]
    # a rule with its own updates = 1 (and the table's hold_s, 25 s)
    quick = dict(fast_low(1), vel=[150.0, 0.0, 0.0])
    got = [names(eng.update(snap(t, [quick]), t).extra["identity"])[0] for t in (40.0, 50.0, 60.0, 65.0)]
    assert got == ["suspect", "suspect", "suspect", "hostile"]


def test_class_has_hysteresis_too():
    eng = IdentityEngine()
    first = eng.update(snap(0.0, [slow(1, category="A7")]), 0.0)
    assert [CLASSES[c] for c in first.extra["track_class_id"]] == ["unknown"]
    out = eng.update(snap(1.0, [slow(1, category="A7")]), 1.0)
    assert [CLASSES[c] for c in out.extra["track_class_id"]] == ["rotary_wing"]
    out = eng.update(snap(2.0, [slow(1, category="A3")]), 2.0)
    assert [CLASSES[c] for c in out.extra["track_class_id"]] == ["rotary_wing"]
    kinds = [(e["kind"], e["old"], e["new"]) for e in eng.history(1)]
    assert ("class", "unknown", "rotary_wing") in kinds


# ------------------------------------------------------------------------------------------- evidence memory

def test_from_hostile_area_is_remembered_after_leaving():
    eng = IdentityEngine(None, ZONES)
    inside = {"id": 7, "lat": 37.6, "lon": 11.0, "alt": 3000.0, "vel": [60.0, 0.0, 0.0]}
    outside = dict(inside, lat=37.95, lon=11.8)
    for t in (0.0, 10.0):
        out = eng.update(snap(t, [inside]), t)
    assert names(out.extra["identity"]) == ["suspect"]
    assert "came from the declared hostile area (now in: Hostile west)" == out.extra["identity_reason"][0]
    for t in (20.0, 30.0, 40.0):
        out = eng.update(snap(t, [outside]), t)
    assert names(out.extra["identity"]) == ["suspect"]
    assert out.extra["identity_reason"][0] == "came from the declared hostile area (now in: none)"
    assert eng.track(7)["from_hostile_area"]
    # a track never there is unknown
    other = IdentityEngine(None, ZONES)
    for t in (0.0, 10.0):
        out = other.update(snap(t, [dict(outside, id=8)]), t)
    assert names(out.extra["identity"]) == ["unknown"]


def test_friendly_code_in_corridor_and_spoof():
    eng = IdentityEngine(None, ZONES, friendly_codes=["4501"])
    in_corridor = {"id": 1, "lat": 38.5, "lon": 12.5, "alt": 3000.0, "vel": [120.0, 0.0, 0.0]}
    rows = [in_corridor, dict(in_corridor, id=2, lat=38.0), airliner(3)]
    iff = {"track_id": [1, 2], "iff_mode3a": ["4501", "4501"]}
    spoof = {3: {"spoof": True, "spoof_reason": "adsb_radar_offset 4.1 km", "spoof_offset_m": 4100.0}}
    for t in (0.0, 10.0):
        out = eng.update(snap(t, rows), t, iff=iff, spoof=spoof)
    assert names(out.extra["identity"]) == ["assumed_friend", "unknown", "suspect"]
    assert out.extra["identity_reason"][0] == ("Mode 3/A 4501 / squawk none on the friendly list, in corridor "
                                               "Safe passage")
    assert out.extra["spoof"].tolist() == [False, False, True]
    assert out.extra["identity_reason"][2] == "spoof/inconsistency flag without authentication: adsb_radar_offset 4.1 km"


# ------------------------------------------------------------------------------------------------ overrides

def test_override_records_who_when_why_and_stays_until_cleared():
    eng = IdentityEngine(None, ZONES)
    for t in (0.0, 10.0):
        eng.update(snap(t, [fast_low(1), slow(2)]), t)
    eng.override(1, "Assumed Friend", who="ops.bianchi", why="visual ID: friendly helicopter", t=15.0)
    for t in (20.0, 30.0, 40.0, 50.0):
        out = eng.update(snap(t, [fast_low(1), slow(2)]), t)
        assert names(out.extra["identity"]) == ["assumed_friend", "unknown"]
        assert out.extra["identity_override"].tolist() == [True, False]
        assert out.extra["identity_rule"][0] == "operator override"
        assert out.extra["identity_reason"][0] == ("operator override by ops.bianchi at 00:00:15: visual ID: "
                                                   "friendly helicopter")
    rec = eng.track(1)
    assert rec["identity"] == "assumed_friend" and rec["automatic_identity"] == "hostile"
    assert rec["override"] == {"identity": "assumed_friend", "who": "ops.bianchi",
                               "why": "visual ID: friendly helicopter", "time": 15.0, "class": None}
    last = eng.history(1)[-1]
    assert (last["kind"], last["time"], last["old"], last["new"], last["who"], last["why"]) == (
        "override", 15.0, "hostile", "assumed_friend", "ops.bianchi", "visual ID: friendly helicopter")
    # the automatic identity keeps being evaluated underneath
    for t in (60.0, 70.0):
        out = eng.update(snap(t, [slow(1), slow(2)]), t)
    assert names(out.extra["identity"]) == ["assumed_friend", "unknown"]
    assert eng.track(1)["automatic_identity"] == "unknown"
    auto = [e for e in eng.history(1) if e["kind"] == "identity"][-1]
    assert (auto["time"], auto["old"], auto["new"], auto["under_override"]) == (70.0, "hostile", "unknown", True)
    # cleared: the automatic identity again, recorded with who / when
    eng.clear_override(1, who="ops.rossi", t=75.0, why="helicopter landed")
    out = eng.update(snap(80.0, [slow(1), slow(2)]), 80.0)
    assert names(out.extra["identity"]) == ["unknown", "unknown"]
    assert not out.extra["identity_override"].any()
    h = eng.history(1)[-1]
    assert (h["kind"], h["time"], h["old"], h["new"], h["who"]) == ("override_cleared", 75.0, "assumed_friend",
                                                                    "unknown", "ops.rossi")
    assert eng.overrides(1) == [{"time": 15.0, "identity": "assumed_friend", "class": None, "who": "ops.bianchi",
                                 "why": "visual ID: friendly helicopter",
                                 "cleared": {"time": 75.0, "who": "ops.rossi", "why": "helicopter landed"}}]
    assert eng.track(1)["override"] is None


def test_override_with_class_and_replacing_an_override():
    eng = IdentityEngine()
    eng.update(snap(0.0, [slow(1)]), 0.0)
    eng.override(1, "suspect", "a", "first look", 1.0)
    eng.override(1, "hostile", "b", "armed", 2.0, track_class="uav")
    out = eng.update(snap(3.0, [slow(1)]), 3.0)
    assert names(out.extra["identity"]) == ["hostile"]
    assert [CLASSES[c] for c in out.extra["track_class_id"]] == ["uav"]
    ov = eng.overrides(1)
    assert [o["identity"] for o in ov] == ["suspect", "hostile"] and ov[0]["replaced"] == {"time": 2.0, "who": "b"}


@pytest.mark.parametrize("call, field", [
    (lambda e: e.override(1, "enemy", "a", "b", 1.0), "identity"),
    (lambda e: e.override(1, "hostile", "", "b", 1.0), "who"),
    (lambda e: e.override(1, "hostile", "a", "  ", 1.0), "why"),
    (lambda e: e.override(1, "hostile", "a", "b", 1.0, track_class="jet"), "track_class"),
    (lambda e: e.override(99, "hostile", "a", "b", 1.0), "track_id"),
    (lambda e: e.clear_override(1, "a", 1.0), "track_id"),
    (lambda e: e.history(99), "track_id"),
])
def test_override_errors(call, field):
    eng = IdentityEngine()
    eng.update(snap(0.0, [slow(1)]), 0.0)
    with pytest.raises(InputError) as info:
        call(eng)
    assert info.value.field == field
    assert eng.overrides(1) == [] and eng.track(1)["override"] is None


def test_unknown_identity_name_names_the_known_ones():
    eng = IdentityEngine()
    eng.update(snap(0.0, [slow(1)]), 0.0)
    with pytest.raises(InputError, match="unknown identity 'frend'.*assumed_friend"):
        eng.override(1, "frend", "a", "b", 1.0)


# ---------------------------------------------------------------------------------------- history / JSON

def test_history_records_time_old_new_rule_reason_and_flags():
    eng = IdentityEngine(None, ZONES)
    seq = [(0.0, airliner(5, status=TENTATIVE)), (10.0, airliner(5)), (20.0, airliner(5)),
           (30.0, airliner(5, squawk="7600")), (40.0, airliner(5))]
    for t, row in seq:
        eng.update(snap(t, [row]), t)
    h = eng.history(5)
    ident = [e for e in h if e["kind"] == "identity"]
    assert ident == [{"time": 20.0, "kind": "identity", "old": "pending", "new": "neutral",
                      "rule": "civil airway traffic", "reason": ident[0]["reason"]}]
    assert ident[0]["reason"].startswith("civil ADS-B 4ca7e1 EIN123 (A3), 224 m/s at 11000 m")
    flags = [(e["time"], e["new"], e["reason"]) for e in h if e["kind"] == "flag"]
    assert flags == [(30.0, True, "squawk 7600 (radio failure)"), (40.0, False, "emergency cleared")]
    assert [e["time"] for e in h] == sorted(e["time"] for e in h)
    eng.history(5).clear()  # a copy
    assert len(eng.history(5)) == len(h)


def test_to_json_and_write(tmp_path):
    eng = IdentityEngine(None, ZONES, friendly_codes=["4501", "4502"])
    for t in (0.0, 10.0):
        eng.update(snap(t, [fast_low(3), slow(1)]), t)
    doc = eng.to_json()
    json.dumps(doc, allow_nan=False)
    assert doc["format"] == "airpicture-identity" and doc["time"] == 10.0
    assert doc["friendly_codes"] == 2  # how many, never the codes themselves
    assert [r["track_id"] for r in doc["tracks"]] == [1, 3]
    assert doc["rules"]["rules"][1]["name"] == "authenticated IFF"
    path = eng.write_json(tmp_path / "run")
    assert path == tmp_path / "run" / "identity.json"
    assert json.loads(path.read_text()) == doc


# ---------------------------------------------------------------------------------------------- explain

def _run_folder(tmp_path):
    eng = IdentityEngine(None, ZONES)
    for t in (3600.0, 3610.0):
        eng.update(snap(t, [fast_low(17), airliner(4, squawk="7700")]), t)
    eng.override(4, "suspect", "ops.bianchi", "no flight plan", 3615.0)
    eng.update(snap(3620.0, [fast_low(17), airliner(4, squawk="7700")]), 3620.0)
    return eng.write_json(tmp_path / "run").parent


def test_explain_prints_identity_reason_and_history(tmp_path):
    run = _run_folder(tmp_path)
    text = explain(17, run)
    assert text.splitlines()[0] == "track 17: HOSTILE, missile"
    assert "rule      missile-like, no transponder" in text
    assert "reason    no transponder, 250 m/s at 50 m: missile-like" in text
    assert "01:00:10  identity: pending -> hostile  [missile-like, no transponder]" in text
    assert "flags     none" in text
    text = explain("T4", run)
    assert "track 4: SUSPECT, fixed wing" in text
    assert "override  suspect by ops.bianchi at 01:00:15" in text and "no flight plan" in text
    assert "automatic: neutral" in text
    assert "flags     emergency: squawk 7700 (general emergency)" in text
    assert "01:00:15  override: neutral -> suspect" in text
    assert "overrides\n  01:00:15  suspect by ops.bianchi: no flight plan; active" in text
    assert json.loads(explain(4, run / "identity.json", as_json=True))["override"]["who"] == "ops.bianchi"


def test_explain_errors(tmp_path):
    run = _run_folder(tmp_path)
    with pytest.raises(InputError, match="no track 99 in this run; 2 tracks, nearest: 4, 17"):
        explain(99, run)
    with pytest.raises(InputError, match="not a track number"):
        explain("x1", run)
    with pytest.raises(InputError, match="no identity.json"):
        explain(4, tmp_path)
    with pytest.raises(InputError, match="no such run"):
        explain(4, tmp_path / "missing")
    bad = tmp_path / "bad.json"
    bad.write_text("{\n  \"format\": \n")
    with pytest.raises(InputError) as info:
        explain(4, bad)
    assert info.value.source == str(bad) and info.value.line is not None
    bad.write_text('{"format": "other", "tracks": []}')
    with pytest.raises(InputError, match="not an identity file"):
        explain(4, bad)


def test_explain_sections_hook(tmp_path, monkeypatch):
    from airpicture.identity import explain as mod

    run = _run_folder(tmp_path)
    monkeypatch.setattr(mod, "SECTIONS", [lambda tid, folder: [f"threat for {tid} from {folder.name}"]])
    assert "threat for 17 from run" in explain(17, run)


def test_explain_cli(tmp_path):
    run = _run_folder(tmp_path)
    env = dict(os.environ, COLUMNS="200")
    ok = subprocess.run([sys.executable, "-m", "airpicture", "explain", "17", "--out", str(run)],
                        capture_output=True, text=True, env=env, check=False)
    assert ok.returncode == 0, ok.stderr
    assert "track 17: HOSTILE, missile" in ok.stdout
    assert "no transponder, 250 m/s at 50 m: missile-like" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "airpicture", "explain", "99", "--out", str(run)],
                         capture_output=True, text=True, env=env, check=False)
    assert bad.returncode == 2
    assert "no track 99" in bad.stderr and "Traceback" not in bad.stderr
    # no --out: the latest run under ./airpicture-out
    latest = tmp_path / "cwd" / "airpicture-out" / "demo-1"
    latest.mkdir(parents=True)
    (latest / "identity.json").write_text((run / "identity.json").read_text())
    ok = subprocess.run([sys.executable, "-m", "airpicture", "explain", "4"], capture_output=True, text=True,
                        env=env, cwd=tmp_path / "cwd", check=False)
    assert ok.returncode == 0, ok.stderr
    assert "track 4: SUSPECT" in ok.stdout
