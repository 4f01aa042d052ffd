"""Scenario TOML loading: SI conversion, defaults, and errors that name file, line and field.

Malformed cases mark the offending line with ``#<<`` so the expected line number is read
from the text itself, not typed in by hand.
"""

from __future__ import annotations

import math
import textwrap

import pytest

from airpicture.errors import InputError
from airpicture.scenario.loader import load_scenario, parse_scenario
from airpicture.scenario.toml_lines import format_path, key_lines
from airpicture.sensors.params import SENSOR_TYPES

D = math.pi / 180.0

GOOD = """\
name = "test"
description = "a small scenario"
duration_s = 120
seed = 5

[[sensors]]
name = "r1"
type = "radar"
lat = 37.8
lon = 12.6
alt_m = 200
range_max_km = 100
beamwidth_az_deg = 2.0
{sensor_extra}

[[sensors]]
name = "eo1"
type = "eo"
lat = 37.9
lon = 12.5

[[targets]]
name = "a1"
class = "airliner"
start_time_s = 10
transponder = {{ icao24 = "abc123", squawk = "1200" }}
waypoints = [
  {{ lat = 38.0, lon = 12.0, alt_ft = 35000, speed_kt = 450 }},
  {{ lat = 38.5, lon = 12.5 }},
]

[targets.iff]
mode3a = "1234"

[[targets]]
name = "b1"
class = "small_drone"
rcs_m2 = 0.03
swerling = 3
{target_extra}
waypoints = [
  {{ lat = 37.90, lon = 12.50, alt_m = 100, speed_mps = 10 }},
  {{ lat = 37.91, lon = 12.51 }},
  {{ lat = 37.92, lon = 12.50, alt_m = 80 }},
]

[assets]
[[assets.defended_points]]
name = "base"
lat = 37.91
lon = 12.49
radius_km = 5

[[assets.zones]]
name = "nfz"
kind = "no_fly"
polygon = [[37.0, 12.0], [37.1, 12.0], [37.1, 12.1]]
ceiling_m = 1500

[tracker]
confirm = "3/4"
"""


def good(sensor_extra="", target_extra=""):
    return GOOD.format(sensor_extra=sensor_extra, target_extra=target_extra)


def test_good_scenario_is_converted_to_si_with_defaults():
    sc = parse_scenario(good(), source="t.toml")
    assert sc.name == "test" and sc.duration_s == 120.0 and sc.seed == 5 and sc.truth_step_s == 0.5
    radar, eo, receiver = sc.sensors  # a1 broadcasts ADS-B and no receiver is declared: the default one
    assert (radar.index, eo.index, receiver.index) == (0, 1, 2)
    assert receiver.kind == "adsb" and receiver.name == "adsb" and receiver.params["implicit"] is True
    assert (receiver.lat_rad, receiver.lon_rad, receiver.alt_m) == (radar.lat_rad, radar.lon_rad, radar.alt_m)
    assert receiver.params["range_max_m"] == pytest.approx(463_000.0)
    assert receiver.params["message_loss_probability"] == pytest.approx(0.1)
    assert radar.kind == "radar" and eo.kind == "eo"
    assert radar.lat_rad == pytest.approx(37.8 * D) and radar.alt_m == 200.0
    assert radar.params["range_max_m"] == pytest.approx(100_000.0)
    assert radar.params["beamwidth_az_rad"] == pytest.approx(2.0 * D)
    # Every schema parameter is present under its SI key, defaults converted.
    for kind, site in (("radar", radar), ("eo", eo)):
        for key, (si_key, factor, default, _doc) in SENSOR_TYPES[kind].items():
            assert si_key in site.params, si_key
            if key not in ("range_max_km", "beamwidth_az_deg") and default is not None:
                expected = default * factor if factor is not None else default
                assert site.params[si_key] == pytest.approx(expected), key
    assert eo.params["range_max_m"] == pytest.approx(15_000.0)

    a, b = sc.targets
    assert a.start_time_s == 10.0 and a.target_class == "airliner"
    assert a.waypoints[0].alt_m == pytest.approx(35000 * 0.3048)
    assert a.waypoints[0].speed_mps == pytest.approx(450 * 0.514444)
    assert a.waypoints[1].alt_m == a.waypoints[0].alt_m  # altitude carries over
    assert a.waypoints[1].speed_mps is None
    assert a.attributes["transponder"] == {"icao24": "abc123", "squawk": "1200"}
    assert a.attributes["iff"] == {"mode3a": "1234"}
    assert b.rcs_m2 == 0.03 and b.swerling == 3 and b.waypoints[2].alt_m == 80.0
    assert b.loop is False
    (point,) = sc.defended_points
    assert point.radius_m == 5000.0 and point.alt_m == 0.0
    (zone,) = sc.zones
    assert zone.kind == "no_fly" and zone.floor_m == 0.0 and zone.ceiling_m == 1500.0
    assert list(zone.polygon_lat_rad) == pytest.approx([37.0 * D, 37.1 * D, 37.1 * D])
    assert sc.tracker == {"confirm": "3/4"}
    assert sc.source == "t.toml"


def expect_error(text: str, field: str | None, match: str, source="s.toml") -> InputError:
    """Parse text and check the error: line = the line marked #<<, field and message as given."""
    marked = [i for i, line in enumerate(text.splitlines(), start=1) if "#<<" in line]
    with pytest.raises(InputError) as info:
        parse_scenario(text, source=source)
    err = info.value
    assert err.source == source
    assert err.line == (marked[0] if marked else None), str(err)
    assert err.field == field, str(err)
    assert err.exit_code == 2
    assert match in err.message, err.message
    if marked:
        assert f"{source}:{marked[0]}" in str(err)
    return err


def test_toml_syntax_error_gives_tomllib_line():
    text = good().replace('name = "b1"', 'name = "b1"\nclass = = "x"  #<<')
    expect_error(text, None, "TOML syntax error")


def test_unclosed_array_is_a_syntax_error():
    text = good().replace("rcs_m2 = 0.03", "rcs_m2 = [0.03, #<<")
    err = pytest.raises(InputError, parse_scenario, text, source="s.toml").value
    assert err.line is not None and "TOML syntax error" in err.message


def test_missing_required_top_level_field():
    text = good().replace("duration_s = 120\n", "")
    expect_error(text, None, "missing required key 'duration_s'")


@pytest.mark.parametrize("line, field, match", [
    ('duration_s = "ten"  #<<', "duration_s", "expected a number"),
    ("duration_s = -5  #<<", "duration_s", "outside"),
    ("duration_s = 0  #<<", "duration_s", "outside"),
    ("seed = true  #<<", "seed", "expected an integer"),
    ("seed = 1.5  #<<", "seed", "expected an integer"),
    ("duraton_s = 5  #<<", "duraton_s", "did you mean 'duration_s'"),
])
def test_bad_top_level_values(line, field, match):
    key = line.split("=")[0].strip()
    text = good()
    if key in ("duration_s", "seed"):
        text = text.replace(next(l for l in text.splitlines() if l.startswith(key + " ")), line)
    else:
        text = text.replace("seed = 5", "seed = 5\n" + line)
    expect_error(text, field, match)


def test_truth_step_longer_than_duration():
    text = good().replace("duration_s = 120", "duration_s = 30").replace("seed = 5", "seed = 5\ntruth_step_s = 45  #<<")
    expect_error(text, "truth_step_s", "longer than duration_s")


@pytest.mark.parametrize("extra, field, match", [
    ("scan_period = 4  #<<", "sensors[0].scan_period", "did you mean 'scan_period_s'"),
    ('scan_period_s = "fast"  #<<', "sensors[0].scan_period_s", "expected a number"),
    ("scan_period_s = true  #<<", "sensors[0].scan_period_s", "expected a number"),
    ("scan_period_s = -1  #<<", "sensors[0].scan_period_s", "outside"),
    ("pfa = 2  #<<", "sensors[0].pfa", "outside"),
    ("pfa = 0  #<<", "sensors[0].pfa", "outside"),
    ("dimension = 4  #<<", "sensors[0].dimension", "not one of 2, 3"),
    ("sigma_azimuth_deg = 0  #<<", "sensors[0].sigma_azimuth_deg", "outside"),
    ("range_min_km = 150  #<<", "sensors[0].range_min_km", "must be below range_max_km"),
    ("update_period_s = 1  #<<", "sensors[0].update_period_s", "unknown radar parameter"),
])
def test_bad_sensor_parameters(extra, field, match):
    expect_error(good(sensor_extra=extra), field, match)


def test_bad_sensor_type_and_position():
    text = good().replace('type = "eo"', 'type = "lidar"  #<<')
    expect_error(text, "sensors[1].type", "unknown sensor type 'lidar'")
    text = good().replace("lat = 37.9\nlon = 12.5", "lat = 97.9  #<<\nlon = 12.5")
    expect_error(text, "sensors[1].lat", "outside [-90, 90]")
    text = good().replace('name = "eo1"', 'name = "r1"  #<<')
    expect_error(text, "sensors[1].name", "duplicate sensor name")
    text = good().replace("lat = 37.9\nlon = 12.5\n", "lon = 12.5\n").replace(
        '[[sensors]]\nname = "eo1"', '[[sensors]]  #<<\nname = "eo1"')
    expect_error(text, "sensors[1]", "missing required key 'lat'")


@pytest.mark.parametrize("old, new, field, match", [
    ('class = "small_drone"', 'class = "small_drones"  #<<', "targets[1].class", "did you mean 'small_drone'"),
    ('class = "small_drone"', 'class = 3  #<<', "targets[1].class", "expected a string"),
    ("rcs_m2 = 0.03", "rcs_m2 = -1  #<<", "targets[1].rcs_m2", "outside"),
    ("swerling = 3", "swerling = 5  #<<", "targets[1].swerling", "outside"),
    ("swerling = 3", "colour = 3  #<<", "targets[1].colour", "unknown target key"),
    ('name = "b1"', 'name = "a1"  #<<', "targets[1].name", "duplicate target name"),
    ("start_time_s = 10", "start_time_s = 500  #<<", "targets[0].start_time_s", "outside"),
    ("  {{ lat = 37.91, lon = 12.51 }},", "  {{ lat = 95, lon = 12.51 }},  #<<",
     "targets[1].waypoints[1].lat", "outside [-90, 90]"),
    ("  {{ lat = 37.91, lon = 12.51 }},", "  {{ lat = 37.91, lon = 12.51, speed_mps = 40 }},  #<<",
     "targets[1].waypoints[1].speed_mps", "outside"),
    ("  {{ lat = 37.91, lon = 12.51 }},", "  {{ lat = 37.91, lon = 12.51, speed_kt = 9, speed_mps = 4 }},  #<<",
     "targets[1].waypoints[1].speed_mps", "not both"),
    ("  {{ lat = 37.91, lon = 12.51 }},", "  {{ lat = 37.91, lon = 12.51, alt = 9 }},  #<<",
     "targets[1].waypoints[1].alt", "unknown waypoint key"),
    ("  {{ lat = 37.91, lon = 12.51 }},", "  {{ lat = 37.91 }},  #<<",
     "targets[1].waypoints[1]", "missing required key 'lon'"),
    ("  {{ lat = 37.91, lon = 12.51 }},", '  "north",  #<<', "targets[1].waypoints[1]", "expected a table"),
    ("  {{ lat = 38.5, lon = 12.5 }},", "  {{ lat = 38.5, lon = 12.5, alt_m = 20000 }},  #<<",
     "targets[0].waypoints[1].alt_m", "outside"),
    ("  {{ lat = 38.5, lon = 12.5 }},", "  {{ lat = 38.5, lon = 12.5, turn_g = 9 }},  #<<",
     "targets[0].waypoints[1].turn_g", "outside"),
])
def test_bad_targets(old, new, field, match):
    template = GOOD.replace(old, new, 1)
    assert template != GOOD
    expect_error(template.format(sensor_extra="", target_extra=""), field, match)


def test_target_needs_class_and_exactly_one_trajectory():
    text = good().replace('name = "b1"\nclass = "small_drone"\n', 'name = "b1"\n').replace(
        '[[targets]]\nname = "b1"', '[[targets]]  #<<\nname = "b1"')
    expect_error(text, "targets[1]", "missing required key 'class'")
    text = good(target_extra='trajectory_csv = "x.csv"').replace(
        '[[targets]]\nname = "b1"', '[[targets]]  #<<\nname = "b1"')
    expect_error(text, "targets[1]", "exactly one of 'waypoints' or 'trajectory_csv'")
    text = good().replace("waypoints = [\n  {{ lat = 37.90".format(), "waypoints = [  #<<\n  {{ lat = 37.90".format(), 1)
    text = text.replace("  { lat = 37.91, lon = 12.51 },\n  { lat = 37.92, lon = 12.50, alt_m = 80 },\n", "")
    expect_error(text, "targets[1].waypoints", "at least 2 waypoints")


def test_bad_assets():
    text = good().replace("radius_km = 5", "radius_km = 0  #<<")
    expect_error(text, "assets.defended_points[0].radius_km", "outside")
    text = good().replace("radius_km = 5\n", "").replace(
        '[[assets.defended_points]]', '[[assets.defended_points]]  #<<')
    expect_error(text, "assets.defended_points[0]", "missing required key 'radius_km'")
    text = good().replace('kind = "no_fly"', 'kind = "nofly"  #<<')
    expect_error(text, "assets.zones[0].kind", "unknown zone kind")
    text = good().replace("polygon = [[37.0, 12.0], [37.1, 12.0], [37.1, 12.1]]",
                          "polygon = [[37.0, 12.0], [37.1, 12.0]]  #<<")
    expect_error(text, "assets.zones[0].polygon", "at least 3 vertices")
    text = good().replace("polygon = [[37.0, 12.0], [37.1, 12.0], [37.1, 12.1]]",
                          "polygon = [\n  [37.0, 12.0],\n  [37.1, 12.0],\n  [37.1, 412.1],  #<<\n]")
    expect_error(text, "assets.zones[0].polygon[2]", "longitude")
    text = good().replace("ceiling_m = 1500", "floor_m = 2000\nceiling_m = 1500  #<<")
    expect_error(text, "assets.zones[0].ceiling_m", "must be above floor")


def test_trajectory_csv_is_read_relative_to_the_scenario_file(tmp_path):
    (tmp_path / "rec.csv").write_text("time,lat,lon,alt\n0,38,12,1000\n10,38.01,12,1000\n20,38.02,12,1000\n")
    text = good(target_extra='trajectory_csv = "rec.csv"')
    text = text.replace("waypoints = [\n  {{ lat = 37.90".format(), "_w = [\n  {{ lat = 37.90".format())
    text = text.replace("_w = [", "").replace(
        "  { lat = 37.90, lon = 12.50, alt_m = 100, speed_mps = 10 },\n  { lat = 37.91, lon = 12.51 },\n"
        "  { lat = 37.92, lon = 12.50, alt_m = 80 },\n]\n", "")
    path = tmp_path / "s.toml"
    path.write_text(text)
    sc = load_scenario(path)
    spec = sc.targets[1]
    assert spec.trajectory_file == tmp_path / "rec.csv"
    assert spec.recorded.shape == (3, 4)
    # A bad CSV row names the CSV file and its line.
    (tmp_path / "rec.csv").write_text("time,lat,lon,alt\n0,38,12,1000\n10,38.01,twelve,1000\n")
    err = pytest.raises(InputError, load_scenario, path).value
    assert err.source == str(tmp_path / "rec.csv") and err.line == 3 and err.field == "lon"
    (tmp_path / "rec.csv").unlink()
    err = pytest.raises(InputError, load_scenario, path).value
    assert "cannot read" in err.message


def test_load_by_path_and_by_name(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(good())
    sc = load_scenario(str(path))
    assert sc.source == str(path) and sc.name == "test"
    demo = load_scenario("demo")
    assert demo.source == "builtin:demo"
    err = pytest.raises(InputError, load_scenario, "no_such_builtin").value
    assert "demo" in err.message  # lists the built-ins
    err = pytest.raises(InputError, load_scenario, str(tmp_path / "missing.toml")).value
    assert "no such scenario file" in err.message and err.exit_code == 2
    # Errors in a file point at that file.
    path.write_text(good(sensor_extra="pfa = 7"))
    err = pytest.raises(InputError, load_scenario, path).value
    assert err.source == str(path) and err.field == "sensors[0].pfa"
    assert path.read_text().splitlines()[err.line - 1].startswith("pfa = 7")


def test_name_defaults_to_file_stem(tmp_path):
    path = tmp_path / "stem_name.toml"
    path.write_text(good().replace('name = "test"\n', ""))
    assert load_scenario(path).name == "stem_name"


# ------------------------------------------------------------------ the line locator

def test_key_lines_follow_toml_structure():
    text = textwrap.dedent('''\
        # comment with [brackets] and key = value
        title = "x = [1, 2]"            #<< title
        multi = """
        [not a table]
        a = 1
        """
        lit = 'it''s'                   #<< lit
        "quoted key" = 1                #<< quoted key
        dotted.key.path = 2             #<< dotted.key.path
        nested = [[1, 2], [3, [4, 5]]]  #<< nested[1][1][0]
        [[fleet]]                       #<< fleet[0]
        n = 1
        [[fleet]]                       #<< fleet[1]
        n = 2                           #<< fleet[1].n
        [fleet.engine]                  #<< fleet[1].engine
        thrust = 3                      #<< fleet[1].engine.thrust
        [[fleet.crew]]                  #<< fleet[1].crew[0]
        role = "pilot"
        [[fleet.crew]]
        role = "nav"                    #<< fleet[1].crew[1].role
        [table]
        items = [
          { a = 1, b = { c = 2 } },
          { a = 3,                      #<< table.items[1]
            b = { c = 4 } },            #<< table.items[1].b.c
        ]
        ''')
    # tomllib (TOML 1.0) rejects newlines inside inline tables; the locator tolerates them.
    lines = key_lines(text)
    for number, line in enumerate(text.splitlines(), start=1):
        if "#<<" in line:
            path_text = line.split("#<<")[1].strip()
            found = [p for p in lines if format_path(p) == path_text]
            assert found, path_text
            assert lines[found[0]] == number, path_text


def test_format_path():
    assert format_path(("targets", 3, "waypoints", 1, "lat")) == "targets[3].waypoints[1].lat"
    assert format_path(()) == ""


def test_waypoints_as_array_of_tables_and_sub_table_lines():
    text = textwrap.dedent('''\
        duration_s = 60
        [[targets]]
        name = "a"
        class = "airliner"
        [[targets.waypoints]]
        lat = 38
        lon = 12
        [[targets.waypoints]]
        lat = 38.1
        lon = 12
        speed_kt = 900  #<<
        [targets.transponder]
        icao24 = "abc"
        ''')
    err = expect_error(text, "targets[0].waypoints[1].speed_kt", "outside")
    assert "kt" in err.message


def test_wrong_section_types():
    expect_error("duration_s = 60\nsensors = 5  #<<\n", "sensors", "expected an array of tables")
    expect_error("duration_s = 60\nassets = 5  #<<\n", "assets", "expected a table")
    expect_error("duration_s = 60\ntracker = [1]  #<<\n", "tracker", "expected a table")
    expect_error('duration_s = 60\n[[targets]]\nclass = "fighter"\nwaypoints = 3  #<<\n',
                 "targets[0].waypoints", "expected an array of inline tables")


def test_empty_scenario_builds_empty_truth():
    from airpicture.scenario.trajectory import build_truth

    sc = parse_scenario("duration_s = 10\n")
    truth = build_truth(sc)
    assert truth.n_targets == 0 and truth.position_ecef.shape == (0, 21, 3)


# ------------------------------------------------------------------ locator property test

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_keys = st.sampled_from(["a", "b", "lat", "lon", "name", "x-y", "k_2", "two words", "dot.ted", "é"])
_scalars = st.one_of(st.integers(-10**6, 10**6), st.booleans(),
                     st.floats(allow_nan=False, allow_infinity=False, width=32),
                     st.text(alphabet='ab[]{}=#,."\'\\ \n', max_size=8))


def _toml_key(k: str) -> str:
    return k if all(c.isalnum() and c.isascii() or c in "_-" for c in k) else '"' + k + '"'


def _toml_scalar(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class _Writer:
    """A TOML writer that remembers on which line it wrote every leaf."""

    def __init__(self, draw):
        self.draw = draw
        self.lines: list[str] = []
        self.expected: dict[tuple, int] = {}

    def emit(self, line: str) -> int:
        self.lines.append(line)
        return len(self.lines)

    def inline(self, value) -> str:
        if isinstance(value, dict):
            return "{ " + ", ".join(f"{_toml_key(k)} = {self.inline(v)}" for k, v in value.items()) + " }"
        if isinstance(value, list):
            return "[" + ", ".join(self.inline(v) for v in value) + "]"
        return _toml_scalar(value)

    def leaves(self, path, value, line):
        self.expected[path] = line
        if isinstance(value, dict):
            for k, v in value.items():
                self.leaves(path + (k,), v, line)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                self.leaves(path + (i,), v, line)

    def table(self, path: tuple, table: dict):
        deferred = []
        for k, v in table.items():
            here = path + (k,)
            if isinstance(v, dict) and self.draw(st.booleans()):
                deferred.append((k, v, "table"))
            elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v) and self.draw(st.booleans()):
                deferred.append((k, v, "aot"))
            elif isinstance(v, list) and self.draw(st.booleans()):
                line = self.emit(f"{_toml_key(k)} = [  # multi-line")
                self.expected[here] = line
                for i, item in enumerate(v):
                    self.leaves(here + (i,), item, self.emit("  " + self.inline(item) + ","))
                self.emit("]")
            else:
                self.leaves(here, v, self.emit(f"{_toml_key(k)} = {self.inline(v)}  # c [x] = 1"))
        for k, v, how in deferred:
            here = path + (k,)
            header = ".".join(_toml_key(p) for p in here if isinstance(p, str))  # [[a]] then [a.b]: last a
            if how == "table":
                self.expected[here] = self.emit(f"[{header}]")
                self.table(here, v)
            else:
                for i, item in enumerate(v):
                    line = self.emit(f"[[{header}]]")
                    self.expected.setdefault(here, line)
                    self.expected[here + (i,)] = line
                    self.table(here + (i,), item)


_values = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(_keys, inner, max_size=3)), max_leaves=12)
_documents = st.dictionaries(_keys, _values, max_size=5)


@settings(max_examples=150, deadline=None)
@given(doc=_documents, data=st.data())
def test_key_lines_property(doc, data):
    import tomllib

    writer = _Writer(data.draw)
    writer.table((), doc)
    text = "\n".join(writer.lines) + "\n"
    assert tomllib.loads(text) == doc  # the writer wrote valid TOML for this document
    lines = key_lines(text)
    for path, line in writer.expected.items():
        assert lines.get(path) == line, (format_path(path), text)


def test_adsb_receiver_sensor_and_the_default_receiver():
    declared = good(target_extra="").replace('''[[sensors]]
name = "eo1"''', '''[[sensors]]
name = "rx"
type = "adsb"
lat = 37.7
lon = 12.4
alt_m = 30
range_max_km = 250
message_loss_probability = 0.2

[[sensors]]
name = "eo1"''')
    sc = parse_scenario(declared, source="t.toml")
    assert [(s.name, s.kind, s.index) for s in sc.sensors] == [("r1", "radar", 0), ("rx", "adsb", 1),
                                                                ("eo1", "eo", 2)]
    rx = sc.sensors[1]
    assert rx.params == {"range_max_m": pytest.approx(250_000.0), "message_loss_probability": pytest.approx(0.2)}
    assert rx.alt_m == 30.0 and "implicit" not in rx.params
    # No transponder that broadcasts: no default receiver.
    silent = good().replace('squawk = "1200" }', 'squawk = "1200", adsb = false }')
    assert [s.kind for s in parse_scenario(silent).sensors] == ["radar", "eo"]
    without = good().replace('transponder = { icao24 = "abc123", squawk = "1200" }\n', "")
    assert [s.kind for s in parse_scenario(without).sensors] == ["radar", "eo"]
    # The name 'adsb' taken by another sensor: the default receiver takes the next free one.
    renamed = good().replace('name = "eo1"', 'name = "adsb"')
    assert [s.name for s in parse_scenario(renamed).sensors] == ["r1", "adsb", "adsb1"]


@pytest.mark.parametrize("key, value, match", [
    ("message_loss_probability", "1.0", "1 is outside [0, 1)"),
    ("message_loss_probability", "-0.1", "-0.1 is outside [0, 1)"),
    ("range_max_km", "0", "0 is outside (0, 5000]"),
    ("range_km", "100", "unknown adsb parameter 'range_km' (did you mean 'range_max_km'?)"),
])
def test_adsb_receiver_parameters_are_checked(key, value, match):
    text = good().replace('''[[sensors]]
name = "eo1"''', f'''[[sensors]]
name = "rx"
type = "adsb"
lat = 37.7
lon = 12.4
{key} = {value}  #<<

[[sensors]]
name = "eo1"''')
    expect_error(text, f"sensors[1].{key}", match)
