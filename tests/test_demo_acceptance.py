"""Issue 2, section 8: the demo's acceptance figures, measured on a full run of the built-in demo."""

import json

import pytest

from airpicture.pipeline import run_scenario
from airpicture.scenario.loader import load_scenario


@pytest.fixture(scope="module")
def demo_summary(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    summary = run_scenario(load_scenario("demo"), out, show_progress=False)
    # What is on disk is what was returned.
    assert json.loads((out / "summary.json").read_text())["n_truth"] == summary["n_truth"]
    return summary


def test_completeness_for_observable_targets(demo_summary):
    assert demo_summary["siap"]["completeness"] >= 0.95


def test_spuriousness_and_ambiguity(demo_summary):
    siap = demo_summary["siap"]
    assert 0.0 <= siap["spuriousness"] <= 0.05
    assert 1.0 <= siap["ambiguity"] <= 1.05


def test_birds_do_not_become_aircraft(demo_summary):
    birds = demo_summary["birds"]
    assert birds["flocks"] >= 3
    # "No confirmed track on the birds for more than a few scans, or, if tracked, classed as birds":
    # a few scans of the short-range radar (1 s) or one of the long-range radar (10 s).
    assert birds["max_confirmed_not_bird_s"] <= 10.0


def test_cruise_missile_tracked_within_two_short_range_scans(demo_summary):
    late = demo_summary["late_targets"]
    assert late, "the demo must contain a cruise missile"
    for name, entry in late.items():
        assert entry["scans_to_track"] is not None, name
        assert entry["scans_to_track"] <= 2.0, (name, entry)


def test_long_range_radar_sees_missile_only_late(demo_summary):
    """The sea-skimming missile stays below the long-range radar's horizon until it is close."""
    (entry,) = demo_summary["late_targets"].values()
    seen = entry["first_seen_by"]
    long_range = max(seen.values(), key=lambda s: s["range_max_km"])
    assert long_range["range_km"] < 0.4 * long_range["range_max_km"]
    assert demo_summary["by_class"]["cruise_missile"]["completeness"] >= 0.9
