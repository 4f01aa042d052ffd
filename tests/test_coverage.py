"""Coverage study (issue 8 §2): the physics shows (4/3-earth horizon, MTI notch for slow targets, fused >= every
sensor, first detection inside the horizon), the same numbers in process and on a 2-worker Dask LocalCluster,
the CLI's outputs and bad-input messages."""

import copy
import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from _cli import run_cli
from airpicture import geo
from airpicture.coverage import FUSED, run_coverage
from airpicture.scenario.classes import TARGET_CLASSES
from airpicture.scenario.loader import load_scenario

CLASSES = ["airliner", "bird_flock", "small_drone"]
GRID = dict(ranges=91, range_max_m=180e3, altitudes=14, altitude_max_m=10000.0, bearings=4, headings=12)


@pytest.fixture(scope="module")
def demo():
    return load_scenario("demo")


@pytest.fixture(scope="module")
def study(demo, tmp_path_factory):
    return run_coverage(demo, tmp_path_factory.mktemp("cov"), classes=CLASSES, **GRID)


def _layer(result, name):
    return result["layers"].index(name)


def test_pd_falls_beyond_the_radar_horizon_at_low_altitude(demo, study):
    lr = next(s for s in demo.sensors if s.name == "lr_radar")   # the grid's reference: ranges are from this radar
    arr = study["arrays"]
    ranges, alts = arr["ranges_m"], arr["altitudes_m"]
    pd = arr["pd_mean"][_layer(study, "lr_radar"), CLASSES.index("airliner")]
    low = 0                                                        # 10 m above the sea
    horizon = float(geo.radar_horizon_range_m(lr.alt_m, alts[low]))
    assert 60e3 < horizon < 80e3
    inside = (ranges > 20e3) & (ranges < horizon - 3e3)
    beyond = ranges > horizon + 3e3
    assert pd[low, inside].min() > 0.5                             # an airliner is seen up to its horizon ...
    assert pd[low, beyond].max() == 0.0                            # ... and not at all beyond it
    high = int(np.argmin(np.abs(alts - 10000.0)))                  # at 10 km the horizon is ~ 480 km away
    assert pd[high, beyond & (ranges < 170e3)].min() > 0.5
    # the horizon range grows with altitude: the last range with Pd > 0 moves out
    last = [ranges[np.flatnonzero(pd[i] > 0)[-1]] for i in range(alts.size)]
    assert np.all(np.diff(last) >= 0) and last[-1] > 2 * last[0]


def test_mti_notch_hides_slow_targets(demo, study, tmp_path):
    arr = study["arrays"]
    lr, sr = _layer(study, "lr_radar"), _layer(study, "sr_radar")
    notch = {s.name: s.params["mti_min_radial_speed_mps"] for s in demo.sensors if s.kind == "radar"}
    for cls in ("bird_flock", "small_drone"):                     # cruise 14 and 12 m/s, notch 15 m/s
        assert TARGET_CLASSES[cls].cruise_speed_mps < notch["lr_radar"]
        assert arr["pd_mean"][lr, CLASSES.index(cls)].max() == 0.0
        # the short-range radar's 3 m/s notch lets them through on most headings
        assert arr["pd_mean"][sr, CLASSES.index(cls)].max() > 0.3
    # the cause is the notch: the same radar without it sees birds close in
    no_notch = copy.deepcopy(demo)
    for s in no_notch.sensors:
        if s.name == "lr_radar":
            s.params["mti_min_radial_speed_mps"] = 0.0
    other = run_coverage(no_notch, tmp_path, classes=["bird_flock"], plots=False, **GRID)
    assert other["arrays"]["pd_mean"][_layer(other, "lr_radar"), 0].max() > 0.5


def test_fused_is_at_least_every_sensor(study):
    arr = study["arrays"]
    fused = _layer(study, FUSED)
    for k, name in enumerate(study["layers"]):
        if name != FUSED:
            assert np.all(arr["pd_mean"][fused] >= arr["pd_mean"][k] - 1e-12), name
            assert np.all(arr["pd_min"][fused] >= arr["pd_min"][k] - 1e-12), name
    # and strictly more somewhere (two radars and an EO tower overlap near the base)
    singles = np.max(arr["pd_mean"][:fused], axis=0)
    assert (arr["pd_mean"][fused] > singles + 1e-3).any()


def test_first_detection_inside_the_horizon_and_farther_when_higher(demo, study):
    lr = next(s for s in demo.sensors if s.name == "lr_radar")
    arr = study["arrays"]
    first = arr["first_detection_m"][_layer(study, "lr_radar"), CLASSES.index("airliner")]   # (altitudes, bearings)
    alts = arr["altitudes_m"]
    step = arr["ranges_m"][1]
    assert np.all(np.isfinite(first))
    horizon = geo.radar_horizon_range_m(lr.alt_m, alts)
    assert np.all(first <= horizon[:, None] + step)
    assert np.median(first[-1]) > 2 * np.median(first[0])
    # fused first detection is never later (shorter range) than a single sensor's
    fused = arr["first_detection_m"][_layer(study, FUSED)]
    for k in range(len(study["sensors"])):
        single = arr["first_detection_m"][k]
        both = np.isfinite(single)
        assert np.all(fused[both] >= single[both] - 1e-6)


def test_outputs(study):
    out = study["outputs"]
    table = pq.read_table(out["coverage"]).to_pydict()
    n = len(study["layers"]) * len(CLASSES) * GRID["altitudes"] * GRID["ranges"]
    assert len(table["pd_mean"]) == n
    assert set(table["sensor"]) == {"lr_radar", "sr_radar", "eo_tower", FUSED}   # ADS-B is left out
    assert 0.0 <= min(table["pd_min"]) and max(table["pd_mean"]) <= 1.0
    fd = pq.read_table(out["first_detection"]).to_pydict()
    assert len(fd["first_detection_km"]) == len(study["layers"]) * len(CLASSES) * GRID["altitudes"] * GRID["bearings"]
    saved = json.loads(open(out["summary"]).read())
    assert saved["classes"] == CLASSES and saved["layers"][-1] == FUSED
    for png in ("pd_png", "first_detection_png"):
        assert open(out[png], "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_cluster_gives_the_same_maps(demo, study, tmp_path):
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        remote = run_coverage(demo, tmp_path, classes=CLASSES, scheduler=cluster.scheduler_address, blocks=5,
                              plots=False, **GRID)
    assert remote["tasks"] == 5 and "2 workers" in remote["where"]
    for name in ("pd_mean", "pd_min", "first_detection_m"):
        np.testing.assert_array_equal(remote["arrays"][name], study["arrays"][name], err_msg=name)


def _cli(*args):
    return run_cli(*args, timeout=300)


def test_cli_runs_on_a_local_cluster(tmp_path):
    r = _cli("coverage", "crossing", "--workers", "2", "--ranges", "40", "--altitudes", "8", "--bearings", "2",
             "-o", tmp_path)
    assert r.returncode == 0, r.stderr
    assert "LocalCluster (2 worker processes)" in r.stdout and "fused first detection, fighter" in r.stdout
    for name in ("coverage.json", "coverage.parquet", "first_detection.parquet", "coverage_pd.png",
                 "first_detection.png"):
        assert (tmp_path / name).exists(), name


@pytest.mark.parametrize("args, field", [
    (("--classes", "dragon"), "--classes"),
    (("--altitudes", "1"), "--altitudes"),
    (("--workers", "0"), "--workers"),
    (("--reference", "north"), "--reference"),
])
def test_cli_bad_input_is_one_line_and_exit_2(args, field):
    r = _cli("coverage", "crossing", *args)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stdout + r.stderr
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and field in lines[0]
