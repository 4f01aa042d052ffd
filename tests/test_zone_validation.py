"""Scenario zones (issue 5 §7): a self-intersecting polygon, fewer than 3 vertices, an altitude band with
floor above ceiling are rejected naming the file, the line (marked #<<), the field and the zone."""

from __future__ import annotations

import math

import numpy as np
import pytest

from airpicture.errors import InputError
from airpicture.scenario.loader import parse_scenario, polygon_self_intersection

D = math.pi / 180.0

SCENARIO = """\
name = "zones"
duration_s = 60

[[sensors]]
name = "r1"
type = "radar"
lat = 37.8
lon = 12.6
range_max_km = 100

[assets]
[[assets.zones]]
name = "Airbase CTR"
kind = "control_zone"
{zone}
"""


def expect(zone: str, field: str, match: str) -> InputError:
    text = SCENARIO.format(zone=zone)
    marked = [i for i, line in enumerate(text.splitlines(), start=1) if "#<<" in line]
    with pytest.raises(InputError) as info:
        parse_scenario(text, source="z.toml")
    err = info.value
    assert err.source == "z.toml"
    assert err.line == marked[0], str(err)
    assert err.field == field
    assert "Airbase CTR" in err.message
    assert match in err.message, err.message
    return err


def test_a_simple_zone_loads():
    sc = parse_scenario(SCENARIO.format(zone="polygon = [[37.0, 12.0], [37.0, 12.2], [37.2, 12.2], [37.2, 12.0]]\n"
                                             "floor_m = 0\nceiling_m = 3000"))
    assert len(sc.zones) == 1 and sc.zones[0].ceiling_m == 3000.0


def test_self_intersecting_polygon_is_rejected():
    err = expect("polygon = [[37.0, 12.0], [37.2, 12.2], [37.0, 12.2], [37.2, 12.0]]  #<<",
                 "assets.zones[0].polygon", "crosses itself")
    assert "vertex 1 to 2" in err.message and "vertex 3 to 4" in err.message


def test_polygon_over_several_lines_points_at_the_key():
    expect("polygon = [  #<<\n  [37.0, 12.0],\n  [37.2, 12.2],\n  [37.0, 12.2],\n  [37.2, 12.0],\n]",
           "assets.zones[0].polygon", "crosses itself")


def test_too_few_vertices_and_bad_band():
    expect("polygon = [[37.0, 12.0], [37.2, 12.2]]  #<<", "assets.zones[0].polygon", "at least 3 vertices")
    expect("polygon = [[37.0, 12.0], [37.0, 12.2], [37.2, 12.2]]\nfloor_m = 3000\nceiling_m = 1000  #<<",
           "assets.zones[0].ceiling_m", "must be above floor")


@pytest.mark.parametrize("lat,lon,expected", [
    ([0, 0, 1, 1], [0, 1, 1, 0], None),  # square
    ([0, 1, 0, 1], [0, 1, 1, 0], (0, 2)),  # bow tie
    ([0, 0, 0], [0, 1, 2], (0, 2)),  # flat triangle: the closing edge folds back
    ([0, 0, 1, 1, 0.5], [0, 2, 2, 0, 2], (1, 3)),  # vertex 5 touches edge 2-3
    ([0, 0, 1, 1], [179.5, -179.5, -179.5, 179.5], None),  # across the antimeridian
    ([0, 0, 0, 1], [0, 1, 1, 0], (1, 2)),  # repeated vertex
    ([0, 0, 2, 2, 1, 1, 3, 3], [0, 3, 3, 1, 1, 2, 2, 0], (2, 5)),  # edge 6-7 crosses edge 3-4
])
def test_self_intersection_cases(lat, lon, expected):
    assert polygon_self_intersection(np.array(lat) * D, np.array(lon) * D) == expected
