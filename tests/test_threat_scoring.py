"""Threat scoring table: parsing and its errors (file, line, field), scores, levels, reasons, ranking."""

from __future__ import annotations

import math

import numpy as np
import pytest

from airpicture.errors import InputError
from airpicture.geo import enu_rotation, enu_to_ecef, enu_vectors_to_ecef, geodetic_to_ecef
from airpicture.identity.standard import class_code, identity_code
from airpicture.scenario.model import DefendedPoint, Zone
from airpicture.threat.geometry import PointGeometry, ThreatGeometry, ZoneGeometry
from airpicture.threat.scoring import HIGH, LOW, MEDIUM, NONE, ScoringTable, evaluate
from airpicture.tracks import TrackStates

D = math.pi / 180.0
INF = math.inf

TABLE = """\
description = "test table"
horizon_s = 300

[levels]
low = 20
medium = 45
high = 70

[identity]
pending = 10
unknown = 15
assumed_friend = 0
friend = -100
neutral = -10
suspect = 30
hostile = 45
joker = 0
faker = 0

[class]
unknown = 5
fixed_wing = 5
rotary_wing = 5
uav = 15
missile = 40
bird = -100

[speed]
bands = [[0, 0], [80, 5], [200, 10]]

[altitude]
bands = [[-500, 5], [1000, 0]]

[cpa]
bands = [[1.0, 30], [2.0, 15], [4.0, 5]]

[tcpa]
bands = [[60, 15], [180, 10], [300, 5]]

[zone.default]
inside = 20
predicted = 10
warning_s = 180

[zone.corridor]
inside = 0
predicted = 0
warning_s = 0
"""


def expect_error(text: str, field: str | None, match: str) -> InputError:
    """The line is the one marked #<< in the text."""
    marked = [i for i, line in enumerate(text.splitlines(), start=1) if "#<<" in line]
    with pytest.raises(InputError) as info:
        ScoringTable.parse(text, source="score.toml")
    err = info.value
    assert err.source == "score.toml"
    assert err.line == (marked[0] if marked else None), str(err)
    assert err.field == field
    assert match in err.message, err.message
    return err


def test_default_table_is_shipped_and_complete():
    t = ScoringTable.load()
    assert t.source == "builtin:default_scoring.toml"
    assert t.thresholds.tolist() == [20.0, 45.0, 70.0]
    assert t.identity_points[identity_code("friend")] < 0 < t.identity_points[identity_code("hostile")]
    assert t.zone_rule("no_fly").inside > t.zone_rule("corridor").inside == 0
    assert t.zone_rule("danger") is t.zone_rules["default"]


def test_test_table_parses():
    t = ScoringTable.parse(TABLE)
    assert t.horizon_s == 300.0 and t.description == "test table"
    assert t.cpa_bands.tolist() == [[1.0, 30.0], [2.0, 15.0], [4.0, 5.0]]


def test_unknown_identity_names_file_line_and_field(tmp_path):
    text = TABLE.replace("hostile = 45", "hostle = 45  #<<")
    err = expect_error(text, "identity.hostle", "unknown identity 'hostle'")
    assert "did you mean 'hostile'" in err.message
    path = tmp_path / "my_scoring.toml"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        ScoringTable.load(path)
    assert info.value.source == str(path) and info.value.line == err.line
    assert str(path) in str(info.value) and "identity.hostle" in str(info.value)


@pytest.mark.parametrize("old,new,field,match", [
    ("hostile = 45", "hostile = 45\nsuspect = 5  #<<", None, "TOML syntax error"),
    ("uav = 15", 'uav = "lots"  #<<', "class.uav", "expected a finite number"),
    ("uav = 15", "drone = 15  #<<", "class.drone", "unknown class 'drone'"),
    ("medium = 45", "medium = 15  #<<", "levels.medium", "thresholds must rise"),
    ("bands = [[0, 0], [80, 5], [200, 10]]", "bands = [[0, 0], [200, 5], [80, 10]]  #<<", "speed.bands",
     "ascending"),
    ("bands = [[-500, 5], [1000, 0]]", "bands = [[-500, 5], [1000]]  #<<", "altitude.bands",
     "expected [bound, points]"),
    ("[zone.corridor]", "[zone.corridoor]  #<<", "zone.corridoor", "unknown zone kind 'corridoor'"),
    ("warning_s = 0", "warning_s = -5  #<<", "zone.corridor.warning_s", "below the minimum"),
    ('description = "test table"', 'description = "test table"\nweights = 3  #<<', "weights",
     "unknown top-level key"),
    ("horizon_s = 300", "horizon_s = 0  #<<", "horizon_s", "below the minimum"),
])
def test_bad_tables(old, new, field, match):
    assert old in TABLE
    expect_error(TABLE.replace(old, new), field, match)


def test_every_identity_must_be_listed():
    text = TABLE.replace("joker = 0\n", "").replace("[identity]\n", "[identity]  #<<\n")
    expect_error(text, "identity", "no points for identity joker")


def test_missing_section_and_default_zone_rule():
    text = TABLE.replace("[tcpa]\nbands = [[60, 15], [180, 10], [300, 5]]\n", "")
    expect_error(text, None, "missing required table [tcpa]")
    start = TABLE.index("[zone.default]")
    text = TABLE[:start] + TABLE[TABLE.index("[zone.corridor]"):].replace("[zone.corridor]", "[zone.corridor]  #<<")
    expect_error(text, "zone", "missing required table [zone.default]")


# ------------------------------------------------------------------------------------- scores and levels

def geometry(cpa_km, tcpa_s, range_km, inside, entry_s, names=("Base",), radius_km=(5.0,),
             zones=("CTR",), kinds=("control_zone",), horizon=300.0):
    """A hand-made ThreatGeometry: one row per track, one column per point / zone."""
    cpa = np.atleast_2d(np.asarray(cpa_km, float)) * 1000.0
    rng = np.atleast_2d(np.asarray(range_km, float)) * 1000.0
    tcpa = np.atleast_2d(np.asarray(tcpa_s, float))
    pg = PointGeometry(range_m=rng, cpa_m=cpa, tcpa_s=tcpa, closing_mps=np.zeros_like(cpa))
    zg = ZoneGeometry(inside=np.atleast_2d(np.asarray(inside, bool)), entry_s=np.atleast_2d(np.asarray(entry_s, float)),
                      horizon_s=horizon)
    return ThreatGeometry(points=pg, zones=zg, point_names=list(names), zone_names=list(zones),
                          zone_kinds=list(kinds), point_radius_m=np.asarray(radius_km, float) * 1000.0)


def codes(idents, classes):
    return (np.array([identity_code(x) for x in idents], np.int8), np.array([class_code(x) for x in classes], np.int8))


def test_score_level_and_reason_of_a_suspect_uav():
    t = ScoringTable.parse(TABLE)
    g = geometry(cpa_km=[[0.8], [30.0]], tcpa_s=[[190.0], [-50.0]], range_km=[[9.0], [60.0]],
                 inside=[[True], [False]], entry_s=[[0.0], [INF]])
    ident, klass = codes(["suspect", "friend"], ["uav", "fixed_wing"])
    s = t.score(ident, klass, [40.0, 230.0], [300.0, 10_000.0], g, track_id=[7, 8])
    # suspect 30 + uav 15 + speed 0 + low altitude 5 + CPA 0.16 radius 30 + TCPA 190 s 5 + inside CTR 20
    assert s.score.tolist() == [105.0, -100 + 5 + 10 + 0]
    assert s.level.tolist() == [HIGH, NONE]
    assert s.components["point"].tolist() == [35.0, 0.0] and s.components["zone"].tolist() == [20.0, 0.0]
    assert s.reasons()[0] == "Suspect UAV, CPA 0.8 km in 190 s to Base, inside the control zone CTR"
    assert s.reasons()[1] == "Friend fixed wing"
    assert s.level_names().tolist() == ["high", "none"]


def test_levels_at_the_thresholds():
    t = ScoringTable.parse(TABLE)
    g = geometry(cpa_km=[[50.0]] * 4, tcpa_s=[[-1.0]] * 4, range_km=[[50.0]] * 4, inside=[[False]] * 4,
                 entry_s=[[INF]] * 4)
    # unknown (15) + class unknown 5 = 20 (low); + uav 10 more = 30; suspect rotary 35; hostile missile 85
    ident, klass = codes(["unknown", "unknown", "suspect", "hostile"], ["unknown", "uav", "rotary_wing", "missile"])
    s = t.score(ident, klass, [10.0] * 4, [2000.0] * 4, g)
    assert s.score.tolist() == [20.0, 30.0, 35.0, 85.0]
    assert s.level.tolist() == [LOW, LOW, LOW, HIGH]
    s = t.score(ident[:1], klass[:1], [10.0], [500.0], geometry([[50.0]], [[-1]], [[50.0]], [[False]], [[INF]]))
    assert s.score.tolist() == [25.0] and s.level.tolist() == [LOW]
    ident, klass = codes(["hostile"], ["unknown"])
    s = t.score(ident, klass, [10.0], [2000.0], geometry([[50.0]], [[-1]], [[50.0]], [[False]], [[INF]]))
    assert s.score.tolist() == [50.0] and s.level.tolist() == [MEDIUM]


def test_cpa_counts_only_when_approaching_within_the_horizon_or_inside_the_radius():
    t = ScoringTable.parse(TABLE)
    ident, klass = codes(["unknown"] * 4, ["unknown"] * 4)
    g = geometry(cpa_km=[[1.0], [1.0], [2.0], [3.0]], tcpa_s=[[400.0], [-20.0], [-5.0], [30.0]],
                 range_km=[[40.0], [9.0], [2.0], [9.0]], inside=[[False]] * 4, entry_s=[[INF]] * 4)
    s = t.score(ident, klass, [100.0] * 4, [2000.0] * 4, g)
    # beyond the horizon: 0; receding outside the radius: 0; receding inside it: 30 + 15 (now); 3 km in 30 s
    assert s.components["point"].tolist() == [0.0, 0.0, 45.0, 45.0]
    assert s.reasons([2])[2] == "Unknown track, within 5.0 km of Base (2.0 km)"


def test_predicted_zone_entry_and_worst_zone():
    t = ScoringTable.parse(TABLE)
    ident, klass = codes(["unknown"] * 3, ["uav"] * 3)
    g = geometry(cpa_km=[[99.0]] * 3, tcpa_s=[[-1.0]] * 3, range_km=[[99.0]] * 3,
                 inside=[[False, True], [False, False], [False, False]],
                 entry_s=[[90.0, 0.0], [90.0, 120.0], [200.0, INF]],
                 zones=("CTR", "Airway 7"), kinds=("control_zone", "corridor"))
    s = t.score(ident, klass, [50.0] * 3, [2000.0] * 3, g)
    assert s.components["zone"].tolist() == [10.0, 10.0, 0.0]  # corridors score nothing; 200 s > warning 180 s
    assert s.zone.tolist() == [0, 0, -1]
    assert s.reasons()[0] == "Unknown UAV, entering the control zone CTR in 90 s"


def test_ranking_orders_by_level_score_then_soonest():
    t = ScoringTable.parse(TABLE)
    ident, klass = codes(["hostile", "suspect", "suspect", "friend", "unknown"],
                         ["missile", "uav", "uav", "fixed_wing", "uav"])
    g = geometry(cpa_km=[[9.0], [0.5], [0.5], [0.1], [30.0]], tcpa_s=[[-1.0], [200.0], [100.0], [10.0], [-1]],
                 range_km=[[20.0], [12.0], [8.0], [1.0], [30.0]], inside=[[False]] * 5, entry_s=[[INF]] * 5)
    s = t.score(ident, klass, [300.0, 30.0, 30.0, 200.0, 30.0], [2000.0] * 5, g, track_id=[11, 12, 13, 14, 15])
    ranked = s.ranked()
    assert [r["track_id"] for r in ranked] == [11, 13, 12, 15]  # 13 and 12 tie on score: 13 comes sooner
    assert [r["rank"] for r in ranked] == [1, 2, 3, 4]
    assert ranked[0]["level"] == "high" and ranked[-1]["level"] == "low"
    assert ranked[1]["reason"] == "Suspect UAV, CPA 0.5 km in 100 s to Base"
    assert [r["track_id"] for r in s.ranked(min_level="high")] == [11, 13, 12]
    assert [r["track_id"] for r in s.ranked(limit=2)] == [11, 13]


def test_evaluate_a_snapshot():
    lat0, lon0 = 52.0 * D, 5.0 * D
    rot = enu_rotation(lat0, lon0)
    origin = geodetic_to_ecef(lat0, lon0, 0.0).reshape(3)
    enu = np.array([[-20_000.0, 800.0, 0.0], [0.0, 80_000.0, 10_000.0]])
    v = np.array([[40.0, 0.0, 0.0], [0.0, 230.0, 0.0]])
    pos, vel = enu_to_ecef(enu, origin, rot), enu_vectors_to_ecef(v, rot)
    ctr = Zone("CTR", "control_zone", np.array([51.9, 51.9, 52.1, 52.1]) * D,
               np.array([4.6, 5.4, 5.4, 4.6]) * D, 0.0, 3000.0)

    class Assets:
        defended_points = [DefendedPoint("Base", lat0, lon0, 0.0, 5000.0)]
        zones = [ctr]

    ident, klass = codes(["suspect", "friend"], ["uav", "fixed_wing"])
    states = TrackStates(time=np.zeros(2), track_id=np.array([3, 4]), position=pos, velocity=vel,
                         status=np.ones(2, np.int8), extra={"identity": ident, "track_class_id": klass})
    s = evaluate(states, Assets())
    assert s.level.tolist() == [HIGH, NONE]
    reason = s.ranked()[0]["reason"]
    assert reason.startswith("Suspect UAV, CPA 0.8 km in 500 s to Base") is False  # 500 s is beyond 300 s
    assert reason == "Suspect UAV, inside the control zone CTR"
    s = evaluate(states, Assets(), ScoringTable.parse(TABLE.replace("horizon_s = 300", "horizon_s = 600")))
    assert s.ranked()[0]["reason"] == "Suspect UAV, CPA 0.8 km in 500 s to Base, inside the control zone CTR"
