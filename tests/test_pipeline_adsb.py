"""Issue 3 §3/§4 in the simulation: transponder frames -> receiver -> decoder -> the same tracks as radar/EO.

Receiver physics on hand-built flights; the pipeline on a small scenario with a radar, two receivers, an
aircraft the radar sees first and one outside radar coverage; and the built-in demo's acceptance.
"""

from __future__ import annotations

import math
import textwrap

import numpy as np
import pytest

from airpicture import geo
from airpicture.measurements import SensorSite
from airpicture.pipeline import run_scenario
from airpicture.scenario.loader import load_scenario, parse_scenario
from airpicture.scenario.trajectory import build_truth
from airpicture.sensors.adsb import emit_adsb, transponders_from_truth
from airpicture.sensors.adsb_receiver import SPEED_OF_LIGHT_MPS, emitter_rng, receive_adsb
from airpicture.sensors.simulate import simulate_adsb, simulate_all

# The demo before transponders reached the tracker (radar + EO only; `airpicture demo` at 388f585). Adding a
# target (the ADS-B spoofer, issue 4) changes every radar noise draw, so the comparison below is with the same
# demo run without its transponder tables (the radars see exactly the same plots); these stay a sanity bound.
BEFORE = {"completeness": 0.993, "ambiguity": 1.000, "spuriousness": 0.005}


def _scenario(body: str, duration_s=600, seed=7):
    return parse_scenario(f"name = \"t\"\nduration_s = {duration_s}\nseed = {seed}\n" + textwrap.dedent(body),
                          source="t.toml")


def _receiver(name="rx", lat=38.0, lon=12.0, alt_m=30.0, index=0, **params) -> SensorSite:
    return SensorSite(name, "adsb", math.radians(lat), math.radians(lon), alt_m, params=params, index=index)


def _flights(*targets: str, duration_s=600):
    sc = _scenario("".join(targets), duration_s=duration_s)
    truth = build_truth(sc)
    return sc, truth, emit_adsb(truth, transponders_from_truth(truth), duration_s, emitter_rng(sc.seed))


def _outbound(name, icao, cls, lon0, lon1, alt_ft, speed_kt):
    return f"""
    [[targets]]
    name = "{name}"
    class = "{cls}"
    transponder = {{ icao24 = "{icao}" }}
    waypoints = [ {{ lat = 38.0, lon = {lon0}, alt_ft = {alt_ft}, speed_kt = {speed_kt} }},
                  {{ lat = 38.0, lon = {lon1} }} ]
    """


def _ground_m(site, positions):
    lat, lon, _ = geo.ecef_to_geodetic(positions)
    return geo.haversine_m(site.lat_rad, site.lon_rad, lat, lon)


# ----------------------------------------------------------------------------- receiver physics

def test_radio_horizon_and_range_limit_what_is_heard():
    # A helicopter at 1000 ft flying away from the receiver: heard up to the 4/3-earth radio horizon
    # (22.6 km for the 30 m mast + 72 km for 305 m = ~94 km), not beyond. An airliner at FL350 flying away:
    # its horizon is ~448 km, so the 300 km range limit is what stops it.
    sc, truth, em = _flights(_outbound("HELI", "a00001", "helicopter", 12.85, 13.40, 1000, 130),
                             _outbound("JET", "a00002", "airliner", 14.80, 16.50, 35000, 450))
    site = _receiver(range_max_m=300e3, message_loss_probability=0.0)
    rx = receive_adsb([site], truth, em, [np.random.default_rng(1)])
    pos, _ = truth.state_at(em.time, em.truth_index)
    ground = _ground_m(site, pos)
    slant = np.linalg.norm(pos - site.ecef, axis=1)
    heard = np.zeros(len(em), bool)
    heard[rx.index] = True
    horizon = float(geo.radar_horizon_range_m(30.0, 1000 * 0.3048))
    assert 90e3 < horizon < 98e3
    heli, jet = em.truth_index == 0, em.truth_index == 1
    # Every frame of the helicopter inside its horizon is heard, none outside (the altitude varies by metres).
    assert heard[heli & (ground < horizon - 500)].all() and not heard[heli & (ground > horizon + 500)].any()
    assert (heli & (ground < horizon - 500)).sum() > 1000 and (heli & (ground > horizon + 500)).sum() > 1000
    assert heard[jet & (slant <= 299e3)].all() and not heard[jet & (slant > 300e3)].any()
    assert (jet & (slant > 300e3)).sum() > 1000
    c = rx.counts["rx"]
    assert c["in_reach"] + c["beyond_range"] + c["below_horizon"] == len(em)
    assert c["below_horizon"] > 1000 and c["beyond_range"] > 1000 and c["lost"] == 0
    assert c["received"] == c["first"] == len(rx)
    # Reception time = transmission time + slant range / c; rows in reception order.
    np.testing.assert_allclose(rx.time - em.time[rx.index], slant[rx.index] / SPEED_OF_LIGHT_MPS, rtol=1e-9)
    assert np.all(np.diff(rx.time) >= 0)


def test_message_loss_rate_and_determinism():
    sc, truth, em = _flights(_outbound("JET", "a00002", "airliner", 12.5, 14.0, 35000, 450), duration_s=300)
    site = _receiver(range_max_m=463e3, message_loss_probability=0.25)
    rx = receive_adsb([site], truth, em, [np.random.default_rng(5)])
    n = len(em)
    lost = rx.counts["rx"]["lost"]
    assert rx.counts["rx"]["in_reach"] == n
    assert abs(lost - 0.25 * n) < 4.5 * math.sqrt(n * 0.25 * 0.75), (lost, n)
    again = receive_adsb([site], truth, em, [np.random.default_rng(5)])
    np.testing.assert_array_equal(rx.index, again.index)
    np.testing.assert_array_equal(rx.time, again.time)


def test_a_network_counts_each_frame_once_from_the_first_receiver():
    sc, truth, em = _flights(_outbound("JET", "a00002", "airliner", 12.5, 14.0, 35000, 450), duration_s=300)
    near = _receiver("near", lon=13.0, index=3, range_max_m=463e3, message_loss_probability=0.3)
    far = _receiver("far", lon=11.0, index=5, range_max_m=463e3, message_loss_probability=0.3)
    rx = receive_adsb([far, near], truth, em, [np.random.default_rng(1), np.random.default_rng(2)])
    assert np.unique(rx.index).size == len(rx)                       # each frame once
    c = rx.counts
    assert c["near"]["first"] + c["far"]["first"] == len(rx)
    # Heard by one or the other: 1 - 0.3^2 of the frames.
    assert abs(len(rx) / len(em) - 0.91) < 0.02
    assert set(np.unique(rx.receiver)) == {3, 5}
    # Where both heard a frame, the one nearer the aircraft heard it first (the aircraft is east of 'near').
    both = c["near"]["received"] + c["far"]["received"] - len(rx)
    assert both > 0.4 * len(em) and c["near"]["first"] > c["far"]["first"]
    batch = rx.frame_batch(slice(10, 20), epoch_s=100.0)
    np.testing.assert_array_equal(batch.frame, em.frame[rx.index[10:20]])
    np.testing.assert_allclose(batch.time, 100.0 + rx.time[10:20])


def test_simulated_receiver_adds_no_measurements_and_leaves_other_sensors_alone():
    sc = load_scenario("demo")
    truth = build_truth(sc)
    kinds = [s.kind for s in sc.sensors]
    assert kinds[-1] == "adsb"
    with_rx = simulate_all(sc.sensors, truth, 60.0, sc.seed)
    without = simulate_all(sc.sensors[:-1], truth, 60.0, sc.seed)
    np.testing.assert_array_equal(with_rx.values, without.values)
    np.testing.assert_array_equal(with_rx.sensor, without.sensor)
    first = simulate_adsb(sc.sensors, truth, 120.0, sc.seed)
    second = simulate_adsb(sc.sensors, truth, 120.0, sc.seed)
    np.testing.assert_array_equal(first[0].frame, second[0].frame)
    np.testing.assert_array_equal(first[1].index, second[1].index)
    # A transponder table and no receiver anywhere (a hand-built sensor list): nothing is simulated.
    assert simulate_adsb(sc.sensors[:-1], truth, 120.0, sc.seed) is None


# ----------------------------------------------------------------------------- pipeline, small scenario

FRINGE = """
[[sensors]]
name = "radar"
type = "radar"
lat = 38.0
lon = 12.0
alt_m = 100
scan_period_s = 5.0
range_max_km = 150
reference_range_km = 150
reference_snr_db = 22

[[sensors]]
name = "rx_radar"
type = "adsb"
lat = 38.0
lon = 12.0
alt_m = 30
range_max_km = 80

[[sensors]]
name = "rx_remote"
type = "adsb"
lat = 38.0
lon = 15.0
alt_m = 30
range_max_km = 150

# Inbound from ~123 km west: the radar holds it first, the co-sited receiver hears it inside 80 km.
[[targets]]
name = "INBOUND"
class = "airliner"
callsign = "INB001"
transponder = { icao24 = "aaa001", squawk = "4321" }
waypoints = [ { lat = 38.0, lon = 10.6, alt_ft = 30000, speed_kt = 450 }, { lat = 38.0, lon = 12.4 } ]

# 200+ km east of the radar (beyond its 150 km), near the remote receiver: transponders only.
[[targets]]
name = "REMOTE"
class = "airliner"
callsign = "REM002"
transponder = { icao24 = "bbb002" }
waypoints = [ { lat = 38.5, lon = 14.5, alt_ft = 36000, speed_kt = 450 }, { lat = 37.5, lon = 15.6 } ]
"""


@pytest.fixture(scope="module")
def fringe(tmp_path_factory):
    sc = _scenario(FRINGE, duration_s=300, seed=11)
    out = tmp_path_factory.mktemp("fringe")
    summary = run_scenario(sc, out, show_progress=False)
    summary["_out"] = out
    return sc, build_truth(sc), summary


def test_frames_take_the_recording_path_into_the_tracker(fringe):
    sc, truth, s = fringe
    a = s["adsb"]
    assert a["aircraft"] == 2 and a["aircraft_reported"] == 2
    assert 0 < a["frames_received"] < a["frames_emitted"]
    # every received frame went through the decoder, every report it made went to the tracker
    assert a["decoder"]["messages"] == a["frames_received"] and a["decoder"]["crc_rejected"] == 0
    assert a["reports"] == a["decoder"]["positions"] == a["tracker"]["reports"] > 0
    rx = a["receivers"]
    assert set(rx) == {"rx_radar", "rx_remote"} and not rx["rx_radar"]["implicit"]
    assert rx["rx_radar"]["beyond_range"] > 0 and rx["rx_remote"]["first"] > 0
    assert rx["rx_radar"]["first"] + rx["rx_remote"]["first"] == a["frames_received"]
    assert s["sensors"]["rx_remote"]["type"] == "adsb" and s["sensors"]["rx_remote"]["measurements"] == 0


def test_radar_track_takes_the_icao_address_when_the_aircraft_comes_into_reception(fringe):
    sc, truth, s = fringe
    a = s["adsb"]
    inbound = a["per_aircraft"]["aaa001"]
    # First heard where it crosses 80 km from the co-sited receiver (the radar held it long before).
    pos, _ = truth.state_at(truth.times, np.zeros(truth.times.size, int))
    slant = np.linalg.norm(pos - sc.sensors[1].ecef, axis=1)
    enters = float(truth.times[np.argmax(slant <= 80e3)])
    assert enters - 1.0 <= inbound["first_report_s"] <= enters + 3.0
    assert len(inbound["tracks"]) == 1
    assert a["radar_tracks_took_icao24"] >= 1 and a["tracker"]["radar_tracks_identified"] >= 1
    assert inbound["fused_s"] >= 0.9 * (300.0 - inbound["first_report_s"] - 5.0)
    assert inbound["other_track_s"] == 0.0 and inbound["several_tracks_s"] == 0.0
    assert inbound["callsign"] == "INB001"


def test_aircraft_outside_radar_coverage_gets_a_transponder_only_track(fringe):
    sc, truth, s = fringe
    a = s["adsb"]
    remote = a["per_aircraft"]["bbb002"]
    assert len(remote["tracks"]) == 1 and remote["fused_s"] == 0.0
    life = 300.0 - remote["first_report_s"]
    assert remote["transponder_only_s"] >= life - 10.0
    assert remote["with_icao24_s"] == remote["transponder_only_s"]
    assert a["transponder_only_tracks"] == 1 and a["fused_tracks"] == 1
    # It is in the picture and scored: counted observable (heard), held by its track.
    assert s["siap"]["completeness"] >= 0.95 and s["siap"]["spuriousness"] <= 0.02


def test_tracks_parquet_rows_carry_the_address_and_the_mark(fringe):
    import pyarrow.parquet as pq

    _, _, s = fringe
    t = pq.read_table(s["_out"] / "tracks.parquet").to_pydict()
    rows = [i for i, a in enumerate(t["icao24"]) if a == "bbb002" and t["status"][i] in ("confirmed", "coasting")]
    assert len(rows) >= 200
    assert all(t["transponder_only"][i] for i in rows)
    # the callsign once an identification message came (0.2 Hz), empty before
    assert all(t["callsign"][i] == "REM002" for i in rows[6:]) and {t["callsign"][i] for i in rows} <= {"", None, "REM002"}
    assert all(t["sources"][i] == "rx_remote" for i in rows[5:]), {t["sources"][i] for i in rows}
    inbound = [i for i, a in enumerate(t["icao24"]) if a == "aaa001"]
    assert inbound and not any(t["transponder_only"][i] for i in inbound[-100:])


def test_snapshots_carry_address_identity_and_the_transponder_only_mark(fringe):
    """The AdsbFeed as the pipeline drives it, looking at the TrackStates themselves."""
    from airpicture.adsb_feed import AdsbFeed
    from airpicture.tracking.sensor_tracker import SensorTracker, TrackerConfig

    sc, truth, _ = fringe
    meas = simulate_all(sc.sensors, truth, sc.duration_s, sc.seed)
    tracker = SensorTracker(sc.sensors, TrackerConfig.from_dict(sc.tracker))
    times = np.arange(1.0, 301.0)
    feed = AdsbFeed(sc.sensors, truth, sc.duration_s, sc.seed, times)
    bounds = np.searchsorted(meas.time, times, side="right")
    start = 0
    last = None
    for step, (t, stop) in enumerate(zip(times, bounds)):
        if stop > start:
            tracker.process(meas.take(slice(start, stop)))
        start = stop
        feed.feed(step, float(t), tracker)
        last = feed.annotate(tracker.snapshot(float(t)))
    x = last.extra
    shown = last.in_picture()
    remote = shown & (x["icao24"] == "bbb002")
    inbound = shown & (x["icao24"] == "aaa001")
    assert remote.sum() == 1 and inbound.sum() == 1
    assert x["transponder_only"][remote].all() and not x["transponder_only"][inbound].any()
    adsb_bits = (1 << 1) | (1 << 2)
    assert x["source_mask"][remote][0] & ~adsb_bits == 0 and x["source_mask"][remote][0] & (1 << 2)
    assert x["source_mask"][inbound][0] & 1 and x["source_mask"][inbound][0] & (1 << 1)
    assert x["callsign"][remote][0] == "REM002" and x["callsign"][inbound][0] == "INB001"
    assert x["squawk"][inbound][0] == "4321" and x["squawk"][remote][0] == "7000"
    assert x["category"][inbound][0] == "A3" and x["emergency"][inbound][0] in ("none", "")
    assert (x["callsign"][x["icao24"] == ""] == "").all()


# ----------------------------------------------------------------------------- the demo

@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    sc = load_scenario("demo")
    return sc, run_scenario(sc, tmp_path_factory.mktemp("demo_adsb"), show_progress=False)


def _demo_spoofers(sc) -> set[str]:
    """Addresses the demo's ADS-B spoofers broadcast (issue 4 §5): a false track by design."""
    return {spec.attributes["transponder"]["spoof_icao24"] for spec in sc.targets
            if isinstance(spec.attributes.get("transponder"), dict) and "spoof_icao24" in spec.attributes["transponder"]}


def test_demo_every_transponder_aircraft_has_exactly_one_track_with_its_address(demo):
    sc, s = demo
    a = s["adsb"]
    spoofers = _demo_spoofers(sc)
    expected = {spec.attributes["transponder"].get("icao24") for spec in sc.targets
                if isinstance(spec.attributes.get("transponder"), dict)
                and spec.attributes["transponder"].get("adsb", True)} - {None}
    assert len(expected) == 15 and len(spoofers) == 1
    assert set(a["per_aircraft"]) == expected | spoofers
    for icao in spoofers:
        # the spoofer's broadcast positions are kilometres from where it is: one transponder-only track, never
        # fused with the radar track of the real aircraft (identity/spoof.py flags both)
        entry = a["per_aircraft"][icao]
        assert len(entry["tracks"]) == 1 and entry["fused_s"] == 0.0, (icao, entry)
        assert entry["transponder_only_s"] >= s["duration_s"] - entry["first_report_s"] - 10.0, (icao, entry)
    for icao, entry in a["per_aircraft"].items():
        if icao in spoofers:
            continue
        assert len(entry["tracks"]) == 1, (icao, entry)
        # after the first few seconds: never two tracks with the address, never another picture track on it
        assert entry["several_tracks_s"] == 0.0, (icao, entry)
        assert entry["other_track_s"] == 0.0, (icao, entry)
        # the address is on the picture from its first reports to the end, fused with the radar
        heard_s = s["duration_s"] - entry["first_report_s"]
        assert entry["with_icao24_s"] >= heard_s - 5.0, (icao, entry)
        assert entry["fused_s"] >= 0.9 * entry["with_icao24_s"], (icao, entry)
    assert a["fused_tracks"] == 15 and a["transponder_only_tracks"] == len(spoofers)
    assert a["tracks_with_icao24"] == 15 + len(spoofers)
    # the real decoder path: every frame heard was decoded, nothing rejected
    assert a["decoder"]["messages"] == a["frames_received"] > 0.85 * a["frames_emitted"]
    assert a["decoder"]["crc_rejected"] == 0 and a["decoder"]["impossible_speed"] == 0
    assert a["receivers"]["adsb_base"]["implicit"] is False


@pytest.fixture(scope="module")
def demo_radar_alone(tmp_path_factory):
    """The demo with every transponder table removed: same targets, same radar and EO plots, no ADS-B."""
    import re

    from airpicture.scenario.builtin import builtin_path

    text = re.sub(r"(?m)^transponder = .*$", "", builtin_path("demo").read_text())
    sc = parse_scenario(text, source="demo-radar-alone.toml")
    return run_scenario(sc, tmp_path_factory.mktemp("demo_radar_alone"), show_progress=False)


def test_demo_siap_is_not_worse_than_radar_alone(demo, demo_radar_alone):
    import pyarrow.parquet as pq

    sc, s = demo
    siap, alone = s["siap"], demo_radar_alone["siap"]
    assert demo_radar_alone["adsb"]["frames_emitted"] == 0 and demo_radar_alone["n_truth"] == s["n_truth"]
    assert alone["completeness"] >= BEFORE["completeness"] - 0.01 and alone["spuriousness"] <= 0.02
    assert siap["completeness"] >= alone["completeness"]
    assert siap["ambiguity"] <= alone["ambiguity"] + 1e-9
    # The ADS-B spoofer's track is false by design (its positions are 6.4 km off): apart from its samples,
    # spuriousness is not worse than radar alone.
    rows = pq.read_table(s["outputs"]["tracks"], columns=["status", "icao24"]).to_pydict()
    shown = np.isin(rows["status"], ["confirmed", "coasting"])
    spoofed = shown & np.isin(rows["icao24"], sorted(_demo_spoofers(sc)))
    assert spoofed.sum() > 0
    assert siap["spuriousness"] <= alone["spuriousness"] + spoofed.sum() / shown.sum() + 1e-9
    # and the picture is more accurate (radar + EO alone: 300 m, 11.8 m/s)
    assert siap["position_accuracy_m"] < 150.0 and siap["velocity_accuracy_mps"] < 8.0
    # no more tracks than radar alone, apart from the spoofer's false ADS-B track
    assert s["n_tracks"] <= demo_radar_alone["n_tracks"] + len(_demo_spoofers(sc))


def test_a_scenario_without_transponders_has_an_empty_adsb_section(tmp_path):
    sc = _scenario("""
    [[sensors]]
    name = "radar"
    type = "radar"
    lat = 38.0
    lon = 12.0
    scan_period_s = 5.0
    range_max_km = 100

    [[targets]]
    name = "QUIET"
    class = "airliner"
    waypoints = [ { lat = 38.0, lon = 11.5, alt_ft = 30000 }, { lat = 38.0, lon = 12.5 } ]
    """, duration_s=60)
    assert [s.kind for s in sc.sensors] == ["radar"]  # nothing broadcasts: no default receiver
    a = run_scenario(sc, tmp_path, show_progress=False)["adsb"]
    assert a["frames_emitted"] == 0 and a["reports"] == 0 and a["per_aircraft"] == {} and a["receivers"] == {}
