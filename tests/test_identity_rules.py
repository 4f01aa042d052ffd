"""Identification rule table: parsing (errors name file, line and field), the default rules, first-match order,
vectorised evaluation against a plain per-row evaluation, and the evidence builder (zones, kinematics, IFF input).

Malformed cases mark the offending line with ``#<<`` so the expected line number is read from the text.
"""

from __future__ import annotations

import math
import textwrap

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airpicture.errors import InputError
from airpicture.geo import enu_rotation, enu_vectors_to_ecef, geodetic_to_ecef
from airpicture.identity.evidence import COLUMNS, TrackEvidence, ZoneSet, build_evidence
from airpicture.identity.rules import RuleTable, clock
from airpicture.identity.standard import CLASSES, IDENTITIES
from airpicture.scenario.model import Zone
from airpicture.tracks import CONFIRMED, TENTATIVE, TrackStates

D = math.pi / 180.0


def marked_line(text: str) -> int:
    for i, line in enumerate(text.splitlines(), start=1):
        if "#<<" in line:
            return i
    raise AssertionError("no #<< marker")


def parse_error(text: str, source="rules.toml") -> InputError:
    text = textwrap.dedent(text)
    with pytest.raises(InputError) as info:
        RuleTable.parse(text, source)
    err = info.value
    assert err.source == source
    assert err.line == marked_line(text), str(err)
    return err


# ------------------------------------------------------------------------------------------- parse errors

@pytest.mark.parametrize("text, field, words", [
    ("""\
     [[rule]]
     name = "a"
     identity = "frend"   #<<
     """, "rule[0].identity", ["unknown identity 'frend'"]),
    ("""\
     [[rule]]
     name = "a"
     identity = "friend"

     [[rule]]
     name = "b"
     identity = "hostile"
     class = "jet"   #<<
     """, "rule[1].class", ["unknown track class 'jet'"]),
    ("""\
     [[rule]]
     name = "fast"
     when = { sped_mps = { min = 100 } }   #<<
     identity = "suspect"
     """, "rule[0].when.sped_mps", ["unknown evidence column 'sped_mps'", "did you mean 'speed_mps'"]),
    ("""\
     [[rule]]
     name = "fast"
     when = { not_sped_mps = 3 }   #<<
     identity = "suspect"
     """, "rule[0].when.not_sped_mps", ["unknown evidence column"]),
    ("""\
     [[rule]]
     name = "r"
     when = { speed_mps = { min = 100, mx = 300 } }   #<<
     identity = "suspect"
     """, "rule[0].when.speed_mps.mx", ["{min = .., max = ..}"]),
    ("""\
     [[rule]]
     name = "r"
     when = { speed_mps = { min = 300, max = 100 } }   #<<
     identity = "suspect"
     """, "rule[0].when.speed_mps", ["min 300 is above max 100"]),
    ("""\
     [[rule]]
     name = "r"
     when = { callsign = { min = 1 } }   #<<
     identity = "suspect"
     """, "rule[0].when.callsign", ["range needs a numeric column"]),
    ("""\
     [[rule]]
     name = "r"
     when = { speed_mps = { contains = "x" } }   #<<
     identity = "suspect"
     """, "rule[0].when.speed_mps", ["'contains' needs a text column"]),
    ("""\
     [[rule]]
     name = "r"
     when = { iff_authenticated = "yes" }   #<<
     identity = "friend"
     """, "rule[0].when.iff_authenticated", ["takes true or false"]),
    ("""\
     [[rule]]
     name = "r"
     when = { squawk = 7700 }   #<<
     identity = "unknown"
     """, "rule[0].when.squawk", ["takes text", 'write "7700"']),
    ("""\
     [[rule]]
     name = "r"
     when = { speed_mps = "fast" }   #<<
     identity = "unknown"
     """, "rule[0].when.speed_mps", ["takes a number"]),
    ("""\
     [[rule]]
     name = "r"
     when = { squawk = [] }   #<<
     identity = "unknown"
     """, "rule[0].when.squawk", ["empty list"]),
    ("""\
     [[rule]]
     name = "r"
     when = { squawk = ["7500",
                        7600] }   #<<
     identity = "unknown"
     """, "rule[0].when.squawk[1]", ["takes text"]),
    ("""\
     [[rule]]
     name = "r"
     when = "speed_mps > 3"   #<<
     identity = "unknown"
     """, "rule[0].when", ["must be a table"]),
    ("""\
     [[rule]]
     name = "r"
     identity = "unknown"
     colour = "red"   #<<
     """, "rule[0].colour", ["unknown rule key 'colour'"]),
    ("""\
     [[rule]]   #<<
     name = "r"
     """, "rule[0]", ["missing required key 'identity'"]),
    ("""\
     [[rule]]
     name = "r"
     identity = "unknown"
     [[rule]]
     name = "r"   #<<
     identity = "friend"
     """, "rule[1].name", ["duplicate rule name 'r'"]),
    ("""\
     [[rule]]
     name = "r"
     identity = "unknown"
     reason = "at {altitude:.0f} m"   #<<
     """, "rule[0].reason", ["unknown evidence column 'altitude'", "altitude_m"]),
    ("""\
     [[rule]]
     name = "r"
     identity = "unknown"
     reason = "at {altitude_m:.0q} m"   #<<
     """, "rule[0].reason", ["bad format"]),
    ("""\
     [[rule]]
     name = "r"
     identity = "unknown"
     reason = "{callsign:clock}"   #<<
     """, "rule[0].reason", ["clock"]),
    ("""\
     [[rule]]
     name = "r"
     identity = "unknown"
     [[flag]]
     name = "f"
     flag = "panic"   #<<
     """, "flag[0].flag", ["unknown flag 'panic'"]),
    ("""\
     [hysteresis]
     updates = 0   #<<
     [[rule]]
     name = "r"
     identity = "unknown"
     """, "hysteresis.updates", ["1..1000"]),
    ("""\
     ruels = 3   #<<
     [[rule]]
     name = "r"
     identity = "unknown"
     """, "ruels", ["unknown top-level key 'ruels'"]),
    ("""\
     [[class_rule]]
     name = "c"
     class = "bird"
     [[rule]]
     name = "r"
     identity = "unknown"
     updates = 2.5   #<<
     """, "rule[0].updates", ["whole number"]),
    ("""\
     extends = "strict"   #<<
     [[rule]]
     name = "r"
     identity = "unknown"
     """, "extends", ["only \"default\""]),
])
def test_rule_file_errors_name_line_and_field(text, field, words):
    err = parse_error(text)
    assert err.field == field
    for w in words:
        assert w in str(err), str(err)
    assert str(err).startswith(f"rules.toml:{err.line}, field '{field}'")


def test_toml_syntax_error_has_line():
    err = parse_error("""\
        [[rule]]
        name = "r"
        identity = unknown   #<<
        """)
    assert "TOML syntax error" in str(err)


def test_unknown_identity_name_in_a_file(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('[[rule]]\nname = "r"\nwhen = {}\nidentity = "enemy"\n')
    with pytest.raises(InputError) as info:
        RuleTable.load(path)
    assert info.value.source == str(path)
    assert info.value.line == 4
    assert info.value.field == "rule[0].identity"
    assert "unknown identity 'enemy'" in str(info.value) and "hostile" in str(info.value)


def test_missing_rule_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError) as info:
        RuleTable.load(tmp_path / "nope.toml")
    assert "cannot read rule file" in str(info.value)


def test_a_table_needs_an_identity_rule():
    with pytest.raises(InputError, match="at least one identity rule"):
        RuleTable.parse('[[class_rule]]\nname = "c"\nclass = "bird"\n')


# ------------------------------------------------------------------------------------------ default rules

def ev(n=1, **cols):
    cols.setdefault("confirmed", True)
    return TrackEvidence.from_columns(n=n, **cols)


DEFAULT = RuleTable.default()

# (evidence, identity, rule, words in the reason, class or None)
DEFAULT_CASES = [
    ({"confirmed": False, "speed_mps": 250.0, "altitude_m": 30.0}, "pending", "tentative track", ["not confirmed"], None),
    ({"iff_authenticated": True, "iff_reply_time": 12 * 3600 + 3 * 60 + 4.6, "iff_mode3a": "4501"},
     "friend", "authenticated IFF", ["authenticated IFF (Mode 5 reply at 12:03:04)"], None),
    ({"spoof": True, "spoof_reason": "adsb_radar_offset 4.1 km", "icao24": "4ca7e1", "category": "A3", "speed_mps": 230.0,
          "vertical_rate_mps": 0.0}, "suspect", "spoof flag, not authenticated", ["adsb_radar_offset 4.1 km"], None),
    ({"iff_mode3a": "4501", "mode3a_friendly": True, "in_corridor": "Safe passage south"}, "assumed_friend",
     "friendly code in corridor", ["Mode 3/A 4501", "in corridor Safe passage south"], None),
    ({"icao24": "4ca7e1", "callsign": "EIN123", "category": "A3", "speed_mps": 231.4, "altitude_m": 11277.6,
          "vertical_rate_mps": -0.4}, "neutral", "civil airway traffic",
     ["civil ADS-B 4ca7e1 EIN123 (A3)", "231 m/s at 11278 m", ", +0 m/s vertical", "airway traffic"], None),
    ({"speed_mps": 280.0, "altitude_m": 30.0}, "hostile", "missile-like, no transponder",
     ["no transponder, 280 m/s at 30 m: missile-like"], "missile"),
    ({"speed_mps": 900.0, "altitude_m": 20000.0}, "hostile", "faster than aircraft, no transponder",
     ["900 m/s"], "missile"),
    ({"iff_authenticated": False, "iff_failure": "replayed_nonce", "iff_mode3a": "4520", "speed_mps": 30.0},
     "suspect", "failed IFF authentication", ["failed (replayed_nonce)"], None),
    ({"speed_mps": 12.0, "altitude_m": 110.0, "in_protected_zone": True, "in_zones": "Trapani CTR"}, "suspect",
     "unidentified drone in protected airspace", ["12 m/s at 110 m inside Trapani CTR: unidentified drone"], "uav"),
    ({"speed_mps": 60.0, "altitude_m": 2000.0, "from_hostile_area": True, "in_zones": "Declared hostile area west"},
     "suspect", "from the hostile area", ["declared hostile area", "Declared hostile area west"], None),
    ({"speed_mps": 60.0, "altitude_m": 2000.0}, "unknown", "no identification evidence", ["no identification"], None),
]


@pytest.mark.parametrize("cols, identity, rule, words, cls", DEFAULT_CASES, ids=[c[2] for c in DEFAULT_CASES])
def test_each_default_identity_rule_fires(cols, identity, rule, words, cls):
    res = DEFAULT.evaluate(ev(**cols))
    assert IDENTITIES[res.identity[0]] == identity
    assert res.identity_rule[0] == rule
    for w in words:
        assert w in res.identity_reason[0], res.identity_reason[0]
    if cls is not None:
        assert CLASSES[res.track_class[0]] == cls
    assert rule in DEFAULT.names()


def test_every_default_identity_rule_is_covered():
    assert {c[2] for c in DEFAULT_CASES} == set(DEFAULT.names())


def test_civil_traffic_needs_airway_behaviour():
    base = {"icao24": "4ca7e1", "category": "A3", "speed_mps": 230.0, "altitude_m": 11000.0, "vertical_rate_mps": 0.0}
    assert IDENTITIES[DEFAULT.evaluate(ev(**base)).identity[0]] == "neutral"
    for change in ({"category": "B6"}, {"category": "A6"}, {"vertical_rate_mps": 80.0}, {"speed_mps": 20.0},
                   {"icao24": ""}):
        res = DEFAULT.evaluate(ev(**{**base, **change}))
        assert IDENTITIES[res.identity[0]] != "neutral", change


def test_a_transponder_spares_a_fast_low_track_from_missile_rule():
    for cols in ({"squawk": "4501"}, {"iff_mode3a": "4501"}, {"iff_mode_s": "3c6544"}, {"icao24": "3c6544"}):
        res = DEFAULT.evaluate(ev(speed_mps=250.0, altitude_m=100.0, vertical_rate_mps=50.0, category="A6", **cols))
        assert IDENTITIES[res.identity[0]] != "hostile", cols


@pytest.mark.parametrize("squawk, words", [("7500", "unlawful interference"), ("7600", "radio failure"),
                                           ("7700", "general emergency")])
def test_emergency_squawk_flags_without_changing_identity(squawk, words):
    cols = {"icao24": "4ca7e1", "category": "A3", "speed_mps": 230.0, "altitude_m": 11000.0, "vertical_rate_mps": 0.0}
    plain = DEFAULT.evaluate(ev(**cols))
    res = DEFAULT.evaluate(ev(squawk=squawk, **cols))
    assert res.flags["emergency"][0] and words in res.flag_reason["emergency"][0]
    assert res.identity[0] == plain.identity[0] and res.identity_rule[0] == plain.identity_rule[0]
    assert not plain.flags["emergency"][0]


def test_adsb_emergency_state_flags():
    res = DEFAULT.evaluate(ev(n=3, emergency=np.array(["", "none", "medical"], dtype=object)))
    assert res.flags["emergency"].tolist() == [False, False, True]
    assert res.flag_reason["emergency"][2] == "ADS-B emergency status: medical"


@pytest.mark.parametrize("cols, cls, rule", [
    ({"category": "A3"}, "fixed_wing", "ADS-B fixed wing"),
    ({"category": "A1"}, "fixed_wing", "ADS-B fixed wing"),
    ({"category": "A7"}, "rotary_wing", "ADS-B rotorcraft"),
    ({"category": "B6"}, "uav", "ADS-B UAV"),
    ({"class_hint": "bird", "speed_mps": 12.0, "altitude_m": 80.0}, "bird", "bird (tracker)"),
    # birds answer no interrogation: a replayed IFF reply or a squawk makes a bird-like track something else
    ({"class_hint": "bird", "speed_mps": 6.0, "altitude_m": 50.0, "iff_failure": "replayed_nonce"}, "uav",
     "slow, low, no transponder: UAV"),
    ({"class_hint": "bird", "speed_mps": 12.0, "altitude_m": 80.0, "squawk": "7000"}, "unknown", ""),
    # ... but an interrogation nothing answered (every bird the IFF radar sweeps) leaves it a bird
    ({"class_hint": "bird", "speed_mps": 12.0, "altitude_m": 80.0, "iff_failure": "no_reply"}, "bird",
     "bird (tracker)"),
    ({"speed_mps": 200.0, "altitude_m": 8000.0, "squawk": "1234"}, "fixed_wing", "fast: fixed wing"),
    ({"speed_mps": 12.0, "altitude_m": 100.0}, "uav", "slow, low, no transponder: UAV"),
    ({"speed_mps": 60.0, "altitude_m": 300.0, "squawk": "4530"}, "unknown", ""),
])
def test_default_class_rules(cols, cls, rule):
    res = DEFAULT.evaluate(ev(**cols))
    assert CLASSES[res.track_class[0]] == cls
    assert res.class_rule[0] == rule


# ------------------------------------------------------------------------------------------- first match

def test_first_match_wins_in_file_order():
    e = ev(n=3, speed_mps=[300.0, 300.0, 10.0], altitude_m=[100.0, 5000.0, 100.0])
    fast = '[[rule]]\nname = "fast"\nwhen = { speed_mps = { min = 100 } }\nidentity = "suspect"\n'
    low = '[[rule]]\nname = "low"\nwhen = { altitude_m = { max = 500 } }\nidentity = "hostile"\n'
    r1 = RuleTable.parse("[hysteresis]\nupdates = 3\n" + fast + low).evaluate(e)
    r2 = RuleTable.parse(low + fast).evaluate(e)
    assert [IDENTITIES[i] for i in r1.identity] == ["suspect", "suspect", "hostile"]
    assert r1.identity_rule.tolist() == ["fast", "fast", "low"]
    assert [IDENTITIES[i] for i in r2.identity] == ["hostile", "suspect", "hostile"]
    assert r2.identity_rule.tolist() == ["low", "fast", "low"]
    assert RuleTable.parse("[hysteresis]\nupdates = 3\n" + fast).updates == 3


def test_no_rule_matched_falls_back_to_pending_or_unknown():
    t = RuleTable.parse('[[rule]]\nname = "x"\nwhen = { spoof = true }\nidentity = "suspect"\n')
    res = t.evaluate(TrackEvidence.from_columns(confirmed=np.array([True, False])))
    assert [IDENTITIES[i] for i in res.identity] == ["unknown", "pending"]
    assert res.identity_rule.tolist() == ["", ""]
    assert res.identity_reason.tolist() == ["no rule matched"] * 2


def test_authenticated_friend_beats_missile_profile_and_spoof():
    res = DEFAULT.evaluate(ev(iff_authenticated=True, spoof=True, speed_mps=280.0, altitude_m=30.0))
    assert IDENTITIES[res.identity[0]] == "friend"


def test_extends_default_puts_user_rules_first_and_replaces_by_name():
    t = RuleTable.parse(textwrap.dedent("""\
        extends = "default"
        [[rule]]
        name = "drone over the base"
        when = { in_zones = { contains = "Birgi CTR" }, speed_mps = { max = 40 } }
        identity = "hostile"
        class = "uav"
        [[rule]]
        name = "no identification evidence"
        identity = "suspect"
        """))
    names = t.names()
    assert names[:2] == ["drone over the base", "no identification evidence"]
    assert names.count("no identification evidence") == 1
    assert set(DEFAULT.names()) <= set(names)
    assert t.updates == DEFAULT.updates and len(t.flag_rules) == len(DEFAULT.flag_rules)
    assert len(t.class_rules) == len(DEFAULT.class_rules)
    res = t.evaluate(ev(n=2, speed_mps=[10.0, 10.0], altitude_m=[50.0, 50.0],
                        in_zones=np.array(["Other;Birgi CTR", "Birgi CTR2"], object)))
    assert res.identity_rule.tolist() == ["drone over the base", "no identification evidence"]
    assert [IDENTITIES[i] for i in res.identity] == ["hostile", "suspect"]
    assert [CLASSES[i] for i in res.track_class] == ["uav", "uav"]


def test_contains_matches_whole_zone_names_and_negation():
    t = RuleTable.parse(textwrap.dedent("""\
        [[rule]]
        name = "in ctr"
        when = { in_zones = { contains = "Birgi CTR" } }
        identity = "suspect"
        [[rule]]
        name = "not slow"
        when = { not_speed_mps = { max = 50 } }
        identity = "hostile"
        [[rule]]
        name = "rest"
        identity = "unknown"
        """))
    e = ev(n=4, in_zones=np.array(["Other;Birgi CTR", "Birgi CTR2", "", ""], object),
           speed_mps=[10.0, 10.0, np.nan, 30.0])
    res = t.evaluate(e)
    assert res.identity_rule.tolist() == ["in ctr", "rest", "not slow", "rest"]


def test_reason_without_template_lists_the_evidence():
    t = RuleTable.parse('[[rule]]\nname = "fast low"\nwhen = { speed_mps = { min = 1 }, transponder = false,'
                        ' squawk = "" }\nidentity = "suspect"\n')
    res = t.evaluate(ev(speed_mps=281.26, altitude_m=3.0))
    assert res.identity_reason[0] == "fast low: speed_mps 281, transponder no, squawk none"


def test_values_in_reasons():
    from airpicture.identity.rules import format_value

    assert format_value(-0.4, "float", "+.0f") == "+0" and format_value(-0.6, "float", "+.0f") == "-1"
    assert format_value(-0.4, "float", ".0f") == "0" and format_value(99.96, "float") == "100"
    assert format_value(-0.04, "float") == "-0.04" and format_value(-0.0001, "float", ".1f") == "0.0"
    assert format_value(1234.5, "float") == "1234" and format_value(12.34, "float") == "12.3"
    assert format_value(np.nan, "float", ".0f") == "?" and format_value("", "str") == "none"
    assert format_value(True, "bool") == "yes" and format_value(7, "int") == "7"


def test_clock():
    assert clock(0) == "00:00:00"
    assert clock(12 * 3600 + 3 * 60 + 4.9) == "12:03:04"
    assert clock(1_700_000_000) == "22:13:20"  # a Unix time: UTC time of day
    assert clock(float("nan")) == "?"


# ------------------------------------------------------------------- vectorised == per-row (hypothesis)

def _row_value_ok(cond, v) -> bool:
    """The documented semantics, one value at a time."""
    if cond.op == "eq":
        ok = v == cond.value
    elif cond.op == "in":
        ok = any(v == x for x in cond.value)
    elif cond.op == "range":
        lo, hi = cond.value
        ok = v is not None and not (isinstance(v, float) and math.isnan(v)) and \
            (lo is None or v >= lo) and (hi is None or v <= hi)
    else:
        ok = cond.value in str(v).split(";")
    return (not ok) if cond.negate else bool(ok)


def _row_first(rules, row):
    for i, r in enumerate(rules):
        if all(_row_value_ok(c, row[c.column]) for c in r.conditions):
            return i
    return -1


def per_row(table: RuleTable, e: TrackEvidence):
    out = []
    for i in range(len(e)):
        row = e.row(i)
        k = _row_first(table.rules, row)
        if k >= 0:
            r = table.rules[k]
            ident, name, reason = r.identity, r.name, r.reason.render(e, np.array([i]))[0]
            cls = r.track_class
        else:
            ident = IDENTITIES.index("unknown" if row["confirmed"] else "pending")
            name, reason, cls = "", "no rule matched", None
        if cls is None:
            c = _row_first(table.class_rules, row)
            cls = table.class_rules[c].track_class if c >= 0 else 0
        flags = {}
        for f in table.flag_names():
            rules = [r for r in table.flag_rules if r.flag == f]
            flags[f] = _row_first(rules, row) >= 0
        out.append((ident, name, reason, cls, flags))
    return out


FLOATS = st.sampled_from([np.nan, 0.0, 3.0, 35.0, 40.0, 95.0, 180.0, 250.0, 320.0, 650.0, 900.0, -40.0, 1000.0,
                          11000.0])
TEXTS = {
    "icao24": ["", "4ca7e1", "3c6544"], "callsign": ["", "EIN123"], "squawk": ["", "7500", "7600", "7700", "4501"],
    "emergency": ["", "none", "general"], "category": ["", "A1", "A3", "A6", "A7", "B6"],
    "class_hint": ["unknown", "bird"], "iff_mode3a": ["", "4501"], "iff_mode_s": ["", "3c6544"],
    "iff_failure": ["", "bad_mac", "no_reply"], "in_corridor": ["", "South"],
    "in_zones": ["", "A", "A;B", "B;Declared hostile area"], "spoof_reason": ["", "impossible_jump"],
}


@st.composite
def evidence(draw):
    n = draw(st.integers(0, 25))
    cols = {}
    for name, kind in COLUMNS.items():
        if name in ("track_id", "adsb", "transponder"):
            continue
        if kind == "float":
            cols[name] = np.array(draw(st.lists(FLOATS, min_size=n, max_size=n)), dtype=float)
        elif kind == "bool":
            cols[name] = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
        elif kind == "str":
            cols[name] = np.array(draw(st.lists(st.sampled_from(TEXTS.get(name, ["", "x"])), min_size=n,
                                                max_size=n)), dtype=object)
    return TrackEvidence.from_columns(n=n, **cols)


def _toml_literal(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v + '"'
    return repr(float(v))


@st.composite
def condition_text(draw):
    column = draw(st.sampled_from([c for c in COLUMNS if c != "track_id"]))
    kind = COLUMNS[column]
    neg = "not_" if draw(st.booleans()) else ""
    if kind == "bool":
        return f"{neg}{column} = {_toml_literal(draw(st.booleans()))}"
    if kind == "str":
        pool = TEXTS.get(column, ["", "x"])
        shape = draw(st.sampled_from(["eq", "in", "contains"]))
        if shape == "eq":
            return f"{neg}{column} = {_toml_literal(draw(st.sampled_from(pool)))}"
        if shape == "in":
            vals = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3))
            return f"{neg}{column} = [{', '.join(map(_toml_literal, vals))}]"
        return f"{neg}{column} = {{ contains = {_toml_literal(draw(st.sampled_from(pool + ['B'])))} }}"
    if kind == "int":
        return f"{neg}{column} = {draw(st.integers(-1, 3))}"
    lo = draw(st.one_of(st.none(), st.sampled_from([0.0, 35.0, 180.0, 650.0])))
    hi = draw(st.one_of(st.none(), st.sampled_from([40.0, 320.0, 1000.0, 11000.0])))
    if lo is None and hi is None or (lo is not None and hi is not None and lo > hi):
        return f"{neg}{column} = {draw(st.sampled_from([0.0, 250.0, 900.0]))}"
    parts = ([f"min = {lo}"] if lo is not None else []) + ([f"max = {hi}"] if hi is not None else [])
    return f"{neg}{column} = {{ {', '.join(parts)} }}"


@st.composite
def rule_table(draw):
    lines = []
    for kind, count in (("rule", draw(st.integers(1, 6))), ("class_rule", draw(st.integers(0, 3))),
                        ("flag", draw(st.integers(0, 3)))):
        for i in range(count):
            conds = draw(st.lists(condition_text(), min_size=0, max_size=3, unique_by=lambda s: s.split(" =")[0]))
            lines.append(f"[[{kind}]]")
            lines.append(f'name = "{kind} {i}"')
            lines.append("when = { " + ", ".join(conds) + " }")
            if kind == "rule":
                lines.append(f'identity = "{draw(st.sampled_from(IDENTITIES))}"')
                if draw(st.booleans()):
                    lines.append(f'class = "{draw(st.sampled_from(CLASSES))}"')
                if draw(st.booleans()):
                    lines.append('reason = "v {speed_mps:.1f} at {iff_reply_time:clock}, {in_zones} {spoof}"')
            elif kind == "class_rule":
                lines.append(f'class = "{draw(st.sampled_from(CLASSES))}"')
            else:
                lines.append('flag = "emergency"')
    return RuleTable.parse("\n".join(lines) + "\n")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=st.one_of(st.just(DEFAULT), rule_table()), e=evidence())
def test_vectorised_evaluation_equals_per_row(table, e):
    res = table.evaluate(e)
    expected = per_row(table, e)
    assert len(res) == len(e)
    for i, (ident, name, reason, cls, flags) in enumerate(expected):
        assert res.identity[i] == ident, (i, e.row(i))
        assert res.identity_rule[i] == name
        assert res.identity_reason[i] == reason
        assert res.track_class[i] == cls
        for f, on in flags.items():
            assert res.flags[f][i] == on


# ---------------------------------------------------------------------------------------------- evidence

def square_zone(name, kind, lat0, lon0, half_deg, floor=0.0, ceiling=10000.0):
    lat = np.array([lat0 - half_deg, lat0 - half_deg, lat0 + half_deg, lat0 + half_deg]) * D
    lon = np.array([lon0 - half_deg, lon0 + half_deg, lon0 + half_deg, lon0 - half_deg]) * D
    return Zone(name, kind, lat, lon, floor, ceiling)


def states_at(lat_deg, lon_deg, alt_m, enu_vel, status=None, extra=None, track_class=None):
    lat = np.asarray(lat_deg, float) * D
    lon = np.asarray(lon_deg, float) * D
    n = lat.size
    pos = geodetic_to_ecef(lat, lon, np.asarray(alt_m, float))
    vel = np.array([enu_vectors_to_ecef(np.asarray(v, float), enu_rotation(la, lo))
                    for v, la, lo in zip(enu_vel, lat, lon)]).reshape(n, 3)
    status = np.full(n, CONFIRMED, np.int8) if status is None else np.asarray(status, np.int8)
    return TrackStates(np.zeros(n), np.arange(10, 10 + n, dtype=np.int64), pos, vel, status, None,
                       track_class, extra)


def test_build_evidence_kinematics_and_adsb_columns():
    s = states_at([37.9, 38.0], [12.5, 12.0], [30.0, 11000.0], [[150.0, 200.0, 5.0], [0.0, 0.0, -12.0]],
                  status=[CONFIRMED, TENTATIVE],
                  extra={"icao24": np.array(["", "4ca7e1"], object), "squawk": np.array(["", "7700"], object),
                         "transponder_only": np.array([False, True])},
                  track_class=np.array(["bird", "unknown"], object))
    e = build_evidence(s)
    np.testing.assert_allclose(e.speed_mps, [np.sqrt(150**2 + 200**2 + 25), 12.0], rtol=1e-9)
    np.testing.assert_allclose(e.altitude_m, [30.0, 11000.0], atol=1e-3)
    np.testing.assert_allclose(e.vertical_rate_mps, [5.0, -12.0], atol=1e-6)
    assert e.confirmed.tolist() == [True, False]
    assert e.class_hint.tolist() == ["bird", "unknown"]
    assert e.icao24.tolist() == ["", "4ca7e1"] and e.callsign.tolist() == ["", ""]
    assert e.adsb.tolist() == [False, True] and e.transponder.tolist() == [False, True]
    assert e.transponder_only.tolist() == [False, True]
    assert np.isnan(e.iff_mode_c_m).all() and e.iff_authenticated.tolist() == [False, False]


def test_build_evidence_zones_corridor_hostile_area_and_friendly_codes():
    zones = [square_zone("Safe passage", "corridor", 38.0, 12.0, 0.2, floor=1000.0, ceiling=6000.0),
             square_zone("CTR", "control_zone", 38.0, 12.0, 0.5, ceiling=3000.0),
             square_zone("Hostile west", "hostile_area", 37.6, 11.0, 0.2)]
    s = states_at([38.0, 38.0, 38.3, 37.6, 40.0], [12.0, 12.0, 12.0, 11.0, 14.0],
                  [2000.0, 500.0, 2000.0, 100.0, 2000.0], [[100.0, 0, 0]] * 5,
                  extra={"squawk": np.array(["4501", "", "", "", "4501"], object)})
    iff = {"track_id": np.array([11, 12, 99]), "iff_mode3a": np.array(["4501", "4502", "4501"], object),
           "iff_authenticated": np.array([True, False, True])}
    e = build_evidence(s, zones, iff=iff, friendly_codes=["4501", 2400])
    assert e.in_corridor.tolist() == ["Safe passage", "", "", "", ""]
    assert e.in_zones.tolist() == ["Safe passage;CTR", "CTR", "CTR", "Hostile west", ""]
    assert e.in_hostile_area.tolist() == [False, False, False, True, False]
    assert e.from_hostile_area.tolist() == [False, False, False, True, False]
    assert e.iff_mode3a.tolist() == ["", "4501", "4502", "", ""]
    assert e.iff_authenticated.tolist() == [False, True, False, False, False]
    assert e.mode3a_friendly.tolist() == [True, True, False, False, True]
    assert e.transponder.tolist() == [True, True, True, False, True]
    e2 = build_evidence(s, zones, from_hostile_area=np.array([False, True, False, False, False]))
    assert e2.from_hostile_area.tolist() == [False, True, False, True, False]


def test_iff_and_spoof_input_forms_agree():
    s = states_at([38.0, 38.1, 38.2], [12.0, 12.0, 12.0], [1000.0] * 3, [[100.0, 0, 0]] * 3)
    per_track = {12: {"spoof": True, "spoof_reason": "impossible_jump", "spoof_offset_m": 4100.0}}
    columnar = {"track_id": [12], "spoof": [True], "spoof_reason": ["impossible_jump"], "spoof_offset_m": [4100.0]}
    a = build_evidence(s, spoof=per_track)
    b = build_evidence(s, spoof=columnar)
    from_extra = build_evidence(TrackStates(s.time, s.track_id, s.position, s.velocity, s.status, extra={
        "spoof": np.array([False, False, True]), "spoof_reason": np.array(["", "", "impossible_jump"], object),
        "spoof_offset_m": np.array([np.nan, np.nan, 4100.0])}))
    for e in (a, b, from_extra):
        assert e.spoof.tolist() == [False, False, True]
        assert e.spoof_reason.tolist() == ["", "", "impossible_jump"]
        np.testing.assert_array_equal(e.spoof_offset_m, [np.nan, np.nan, 4100.0])
    with pytest.raises(ValueError, match="unknown spoof column"):
        build_evidence(s, spoof={"track_id": [12], "spooof": [True]})
    with pytest.raises(ValueError, match="unknown iff column"):
        build_evidence(s, iff={12: {"mode5": True}})
    with pytest.raises(ValueError, match="duplicate"):
        build_evidence(s, iff={"track_id": [12, 12], "iff_authenticated": [True, False]})


def test_friendly_codes_must_be_octal():
    s = states_at([38.0], [12.0], [1000.0], [[100.0, 0, 0]])
    with pytest.raises(InputError) as info:
        build_evidence(s, friendly_codes=["4501", "4598"])
    assert info.value.field == "friendly_codes" and "'4598'" in str(info.value)


def test_empty_snapshot():
    e = build_evidence(TrackStates.empty(), [square_zone("z", "corridor", 38.0, 12.0, 0.2)])
    assert len(e) == 0
    res = DEFAULT.evaluate(e)
    assert len(res) == 0 and res.flags["emergency"].shape == (0,)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), m=st.integers(3, 9), across=st.booleans())
def test_point_in_polygon_matches_matplotlib(seed, m, across):
    from matplotlib.path import Path as MplPath

    rng = np.random.default_rng(seed)
    # a star-shaped (simple) polygon around a centre, possibly straddling the antimeridian
    lat0, lon0 = rng.uniform(-60, 60), (180.0 if across else rng.uniform(-170, 170))
    ang = np.sort(rng.uniform(0, 2 * np.pi, m))
    rad = rng.uniform(0.2, 1.0, m)
    plat = lat0 + rad * np.sin(ang)
    plon = lon0 + rad * np.cos(ang)
    zone = Zone("z", "no_fly", plat * D, ((plon + 180.0) % 360.0 - 180.0) * D, 0.0, 5000.0)
    qlat = lat0 + rng.uniform(-1.2, 1.2, 400)
    qlon = lon0 + rng.uniform(-1.2, 1.2, 400)
    alt = rng.uniform(-100.0, 6000.0, 400)
    got = ZoneSet([zone]).contains(qlat * D, ((qlon + 180.0) % 360.0 - 180.0) * D, alt)[:, 0]
    path = MplPath(np.c_[plon, plat])
    want = path.contains_points(np.c_[qlon, qlat]) & (alt >= 0.0) & (alt <= 5000.0)
    # points within a hair of an edge may go either way
    near_edge = path.contains_points(np.c_[qlon, qlat], radius=1e-9) != path.contains_points(
        np.c_[qlon, qlat], radius=-1e-9)
    assert np.array_equal(got[~near_edge], want[~near_edge])


def test_the_drone_rule_leaves_birds_transponders_and_fast_aircraft_alone():
    base = {"speed_mps": 12.0, "altitude_m": 110.0, "in_protected_zone": True, "in_zones": "Trapani CTR"}
    for change in ({"class_hint": "bird"}, {"icao24": "4ca7e1"}, {"iff_mode3a": "7000"}, {"speed_mps": 80.0},
                   {"in_protected_zone": False, "in_zones": ""}):
        res = DEFAULT.evaluate(ev(**{**base, **change}))
        assert res.identity_rule[0] != "unidentified drone in protected airspace", change
    # an unknown key is not a failed authentication: a coalition partner on another key list looks the same
    res = DEFAULT.evaluate(ev(iff_authenticated=False, iff_failure="unknown_key", iff_mode3a="4501", speed_mps=30.0))
    assert res.identity_rule[0] != "failed IFF authentication"
