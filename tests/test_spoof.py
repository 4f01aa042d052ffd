"""Issue 4 §5: spoof and inconsistency detection (identity/spoof.py) and the simulated spoofer (sensors/adsb.py).

Each check on hand-built snapshots (fires, and does not on the clean variant), the latch, the address-block
table; the spoofer's frames; every check on simulated traffic through the real tracker (the demo's spoofer
flagged within 30 s of radar contact, a small offset, a clone, a ghost, clean traffic); the real recordings
replayed without a flag; the evidence reaching the identity engine.
"""

from __future__ import annotations

import json
import math
import re
import textwrap

import numpy as np
import pytest

from airpicture import geo
from airpicture.errors import InputError
from airpicture.identity.engine import IdentityEngine
from airpicture.identity.evidence import build_evidence
from airpicture.identity.spoof import (
    ADDRESS_BLOCKS,
    KINDS,
    SpoofConfig,
    SpoofDetector,
    address_state,
    registration_state,
)
from airpicture.identity.standard import IDENTITIES
from airpicture.measurements import MeasurementBatch, SensorSite
from airpicture.scenario.builtin import builtin_path
from airpicture.scenario.loader import parse_scenario
from airpicture.scenario.trajectory import build_truth
from airpicture.sensors.adsb import emit_adsb, transponders_from_truth
from airpicture.sensors.adsb_receiver import emitter_rng
from airpicture.tracks import CONFIRMED, TrackStates

D = math.pi / 180.0
STATE = {name: i for i, (name, *_) in enumerate(ADDRESS_BLOCKS)}


# ----------------------------------------------------------------------------- address blocks, registrations

def test_address_blocks_are_annex10_prefix_blocks_without_overlap():
    first = np.array([b[1] for b in ADDRESS_BLOCKS])
    last = np.array([b[2] for b in ADDRESS_BLOCKS])
    size = last - first + 1
    # a State's block is every address starting with its bit pattern: a power of two, aligned on its size
    assert ((size & (size - 1)) == 0).all() and (first % size == 0).all()
    order = np.argsort(first)
    assert (first[order][1:] > last[order][:-1]).all()
    assert last.max() < 1 << 24 and len({b[0] for b in ADDRESS_BLOCKS}) == len(ADDRESS_BLOCKS)


@pytest.mark.parametrize("address, state", [
    ("3c6544", "Germany"), ("4ca7e1", "Ireland"), ("300512", "Italy"), ("3455c1", "Spain"), ("393322", "France"),
    ("486257", "Netherlands"), ("400f99", "United Kingdom"), ("a12345", "United States"), ("c01234", "Canada"),
    ("0a0042", "Algeria"), ("018043", "Libya"), ("02a1b3", "Tunisia"), ("4d2241", "Malta"), ("4bab12", "Turkey"),
    ("000001", None), ("f00001", None), ("", None), ("zzzzzz", None)])
def test_address_state(address, state):
    (row,) = address_state(np.array([address], dtype=object))
    assert (ADDRESS_BLOCKS[row][0] if row >= 0 else None) == state
    if address and state:
        assert address_state(np.array([int(address, 16)]))[0] == row


@pytest.mark.parametrize("callsign, state, mark", [
    ("FGKXA", "France", "F"), ("F-GKXA", "France", "F"), ("DAIBA", "Germany", "D"), ("GEUPT", "United Kingdom", "G"),
    ("IABCD", "Italy", "I"), ("ECMKX", "Spain", "EC"), ("HBJLA", "Switzerland", "HB"), ("N123AB", "United States", "N"),
    ("N12345", "United States", "N"), ("N1", "United States", "N"), ("CFABC", "Canada", "C"), ("JA8089", "Japan", "JA"),
    ("JA731A", "Japan", "JA"), ("RA12345", "Russia", "RA"), ("VHOQA", "Australia", "VH"), ("9HAEO", "Malta", "9H"),
    ("EIDLA", "Ireland", "EI"), ("PHBXA", "Netherlands", "PH"), ("TCJRE", "Turkey", "TC"), ("ppabc", "Brazil", "PP")])
def test_registration_callsigns(callsign, state, mark):
    row, m = registration_state(callsign)
    assert row >= 0 and ADDRESS_BLOCKS[row][0] == state and m == mark


@pytest.mark.parametrize("callsign", [
    "AFR34ZG", "DLH8VA", "KLM1302", "EZY69TK", "BAW3AK", "RYR45TP", "EJU821V", "VIPER11", "JA", "N0123", "NI23",
    "N123456", "FGKX", "FGKXAB", "D1234", "", "  ", "CSC442", "AZA784"])
def test_airline_and_other_callsigns_are_not_registrations(callsign):
    assert registration_state(callsign) == (-1, "")


# ----------------------------------------------------------------------------- hand-built snapshots

RADAR = SensorSite("radar", "radar", 38.0 * D, 12.0 * D, 100.0, params={
    "scan_period_s": 10.0, "range_max_m": 300e3, "range_min_m": 1e3, "elevation_min_rad": -2 * D, "elevation_max_rad": 30 * D,
    "reference_range_m": 200e3, "reference_snr_db": 18.5, "pfa": 1e-6, "mti_min_radial_speed_mps": 15.0, "dimension": 3,
    "sigma_range_m": 60.0, "sigma_azimuth_rad": 0.12 * D, "sigma_elevation_rad": 0.25 * D}, index=0)
RX = SensorSite("rx", "adsb", 38.0 * D, 12.0 * D, 30.0, index=1)
SENSORS = [RADAR, RX]
RADAR_BIT, ADSB_BIT = 1, 2


def _at(range_m, azimuth_deg, alt_m=10_000.0):
    """ECEF of a point at a ground range and azimuth from the radar."""
    lat, lon = geo.destination(RADAR.lat_rad, RADAR.lon_rad, azimuth_deg * D, range_m)
    return geo.geodetic_to_ecef(lat, lon, alt_m)


def _vel(pos, east, north, up=0.0):
    lat, lon, _ = geo.ecef_to_geodetic(pos)
    return geo.enu_vectors_to_ecef(np.array([east, north, up], float), geo.enu_rotation(float(lat), float(lon)))


def _snap(t, rows):
    """rows: dicts id, pos, vel (ECEF), mask, and extra columns (icao24, callsign, category, restarts, ...)."""
    n = len(rows)
    pos = np.array([r["pos"] for r in rows], float).reshape(n, 3)
    vel = np.array([r["vel"] for r in rows], float).reshape(n, 3)
    cov = np.array([r.get("cov", np.eye(3) * 50.0 ** 2) for r in rows]).reshape(n, 3, 3)
    extra = {
        "icao24": np.array([r.get("icao24", "") for r in rows], object),
        "callsign": np.array([r.get("callsign", "") for r in rows], object),
        "category": np.array([r.get("category", "A3") for r in rows], object),
        "source_mask": np.array([r.get("mask", ADSB_BIT) for r in rows], np.int64),
        "restarts": np.array([r.get("restarts", 0) for r in rows], np.int32),
        "last_jump_m": np.array([r.get("last_jump_m", np.nan) for r in rows], float),
        "last_jump_time": np.array([r.get("last_jump_time", np.nan) for r in rows], float),
    }
    return TrackStates(np.full(n, float(t)), np.array([r["id"] for r in rows], np.int64), pos, vel,
                       np.full(n, CONFIRMED, np.int8), cov, np.full(n, "unknown", object), extra)


def _moving(t, track_id, range_m, azimuth_deg, speed=(0.0, 230.0), **extra):
    """A track flying at ``speed`` (east, north m/s) from its position at t = 0."""
    p0 = _at(range_m, azimuth_deg)
    v = _vel(p0, *speed)
    return dict(id=track_id, pos=p0 + v * t, vel=v, **extra)


def _run(detector, rows_at, times, decoder_at=None, plots_at=None):
    """Evidence at each time; rows_at(t) -> snapshot rows."""
    out = []
    for t in times:
        out.append(detector.update(_snap(t, rows_at(t)), t, decoder_at(t) if decoder_at else None,
                                   plots_at(t) if plots_at else None))
    return out


def _flag(ev, track_id):
    i = int(np.flatnonzero(ev.track_id == track_id)[0])
    return bool(ev.spoof[i]), str(ev.spoof_kinds[i]), str(ev.spoof_reason[i]), float(ev.spoof_offset_m[i])


def test_adsb_track_the_radar_should_see_with_a_radar_track_alongside_is_aff_with_the_offset():
    # The ADS-B track (north-bound, 150 km north-east) gets no plot; a radar track 6 km east of it flies the
    # same way. Expected Pd of an A3 at 150 km ~ 0.95: two looks take ~21 s, then two updates of the latch.
    def rows(t):
        return [_moving(t, 7, 150e3, 45.0, icao24="33a1c4", callsign="AZA784", mask=ADSB_BIT),
                _moving(t, 8, 150e3, 47.3, mask=RADAR_BIT)]

    det = SpoofDetector(SENSORS)
    evs = _run(det, rows, np.arange(0.0, 40.0, 1.0))
    raised_at = [t for t, ev in zip(range(40), evs) if _flag(ev, 7)[0]]
    assert 20 <= raised_at[0] <= 26 and raised_at == list(range(raised_at[0], 40))
    _spoof, kinds, reason, offset = _flag(evs[-1], 7)
    a, b = rows(39.0)
    true_offset = float(np.linalg.norm(b["pos"] - a["pos"]))
    assert kinds == "adsb_radar_offset" and offset == pytest.approx(true_offset, rel=1e-3)
    assert reason.startswith(f"adsb_radar_offset {true_offset / 1000:.1f} km: ADS-B AZA784 (33a1c4)")
    assert "radar track 8" in reason and "expected looks of radar" in reason
    # the radar track: the likely true position, with the same offset; the evidence points each at the other
    spoof_r, kinds_r, reason_r, offset_r = _flag(evs[-1], 8)
    assert spoof_r and kinds_r == "adsb_radar_offset" and offset_r == pytest.approx(offset)
    assert "likely true position of ADS-B AZA784 (33a1c4) (track 7)" in reason_r
    assert evs[-1].related_track.tolist() == [8, 7]
    s = json.loads(json.dumps(det.summary()))  # JSON-ready as it is (summary.json)
    assert s["flagged_tracks"] == 2 and s["tracks_per_check"]["adsb_radar_offset"] == 2
    assert s["tracks"][0]["kinds"]["adsb_radar_offset"]["related_track"] == 8 and s["radars"] == ["radar"]
    assert [(e["track_id"], e["event"]) for e in s["log"]] == [(7, "raised"), (8, "raised")]


@pytest.mark.parametrize("case", ["radar_supported", "tangential_in_notch", "below_horizon", "out_of_range",
                                  "partner_diverges", "partner_has_address", "tiny_offset"])
def test_no_aff_when_the_radar_is_not_expected_to_see_it_or_nothing_contradicts(case):
    kw = {"icao24": "33a1c4", "callsign": "AZA784", "mask": ADSB_BIT}
    partner = {"mask": RADAR_BIT}
    r_track, az, speed, _alt = 150e3, 45.0, (0.0, 230.0), 10_000.0
    if case == "radar_supported":
        kw["mask"] = ADSB_BIT | RADAR_BIT
    if case == "tangential_in_notch":
        speed = (230.0 * math.cos(45 * D), -230.0 * math.sin(45 * D))  # across the line of sight: radial ~0
    if case == "out_of_range":
        r_track = 320e3
    if case == "partner_has_address":
        partner["icao24"] = "4ca7e1"

    def rows(t):
        a = _moving(t, 7, r_track, az, speed, **kw)
        b = _moving(t, 8, r_track, az + 2.3, speed if case != "partner_diverges" else (150.0, 0.0), **partner)
        if case == "below_horizon":
            a["pos"] = _at(280e3, az, 300.0) + a["vel"] * t
            b["pos"] = _at(280e3, az + 2.3, 300.0) + b["vel"] * t
        if case == "tiny_offset":  # 30 m apart, positions known to 50 m: one aircraft, two tracks for a moment
            b["pos"] = a["pos"] + _vel(a["pos"], 30.0, 0.0)
            b["vel"] = a["vel"]
        return [a, b]

    det = SpoofDetector(SENSORS)
    evs = _run(det, rows, np.arange(0.0, 40.0, 1.0))
    flags = {k for ev in evs for k in ev.spoof_kinds[ev.spoof]}
    # a diverging partner is no explanation: after 6 looks without a plot the ADS-B track is a ghost instead
    assert flags == set(), (case, flags)


def test_adsb_track_no_radar_sees_and_nothing_alongside_is_not_seen_by_radar():
    det = SpoofDetector(SENSORS)
    evs = _run(det, lambda t: [_moving(t, 3, 120e3, 10.0, icao24="4ca123", callsign="EIDLA", mask=ADSB_BIT)],
               np.arange(0.0, 90.0, 1.0))
    raised = [t for t, ev in enumerate(evs) if ev.spoof[0]]
    assert 55 <= raised[0] <= 70  # six expected looks at Pd ~0.97 and 10 s scans, then two updates
    _spoof, kinds, reason, offset = _flag(evs[-1], 3)
    assert kinds == "adsb_not_seen_by_radar" and math.isnan(offset)
    assert re.fullmatch(r"adsb_not_seen_by_radar: no radar plot on ADS-B EIDLA \(4ca123\) in \d+ expected looks "
                        r"of radar, and no radar track moves alongside within 50 km", reason)
    assert "in 6 expected looks" in det.log[0]["reason"]
    # a light aircraft (A1, 1 m^2) 290 km out is only Pd ~0.45 for this radar: not expected, not flagged
    det = SpoofDetector(SENSORS)
    evs = _run(det, lambda t: [_moving(t, 3, 290e3, 10.0, icao24="4ca123", category="A1", mask=ADSB_BIT)],
               np.arange(0.0, 90.0, 1.0))
    assert not any(ev.spoof.any() for ev in evs)


def _plots(t, pos, vel, offset_m, rng):
    """One plot of the radar per scan (t multiple of 10) at the aircraft position plus offset (m, east/north)."""
    if t % 10:
        return MeasurementBatch.empty()
    p = pos + _vel(pos, *offset_m)
    r, az, el = geo.enu_to_polar(RADAR.to_enu(p))
    values = np.array([[r + rng.normal(0, 60.0), az + rng.normal(0, 0.12 * D), el, np.nan]])
    sigmas = np.array([[60.0, 0.12 * D, 0.25 * D, np.nan]])
    return MeasurementBatch(np.array([float(t)]), np.array([0], np.int32), values, sigmas, np.array([0], np.int32))


@pytest.mark.parametrize("offset_m, flagged", [((520.0, -300.0), True), ((300.0, 0.0), True), ((0.0, 0.0), False),
                                                ((0.0, 100.0), False)])
def test_radar_plots_persistently_off_a_fused_adsb_track(offset_m, flagged):
    rng = np.random.default_rng(4)

    def row(t):
        return _moving(t, 5, 100e3, 30.0, icao24="3c6544", callsign="DLH8VA", mask=ADSB_BIT | RADAR_BIT)

    det = SpoofDetector(SENSORS)
    evs = _run(det, lambda t: [row(t)], np.arange(0.0, 120.0, 1.0),
               plots_at=lambda t: _plots(t, row(t)["pos"], row(t)["vel"], offset_m, rng))
    spoof, kinds, reason, offset = _flag(evs[-1], 5)
    assert spoof == flagged
    if flagged:
        assert kinds == "adsb_radar_offset" and "radar plots sit" in reason
        assert offset == pytest.approx(math.hypot(*offset_m), abs=120.0)
        first = next(t for t, ev in enumerate(evs) if ev.spoof[0])
        assert 30 <= first <= 70  # at least four plots (10 s scans)
    # without plots the check cannot see it
    det = SpoofDetector(SENSORS)
    assert not any(ev.spoof.any() for ev in _run(det, lambda t: [row(t)], np.arange(0.0, 120.0, 1.0)))


def test_plots_nearer_another_track_do_not_count_against_the_adsb_track():
    # an address-less radar track 400 m north of the ADS-B track takes the plots made at its own position
    rng = np.random.default_rng(5)

    def rows(t):
        a = _moving(t, 5, 100e3, 30.0, icao24="3c6544", mask=ADSB_BIT | RADAR_BIT)
        b = dict(a, id=6, pos=a["pos"] + _vel(a["pos"], 0.0, 1500.0), icao24="", mask=RADAR_BIT)
        return [a, b]

    det = SpoofDetector(SENSORS)
    evs = _run(det, rows, np.arange(0.0, 120.0, 1.0),
               plots_at=lambda t: _plots(t, rows(t)[1]["pos"], rows(t)[1]["vel"], (0.0, 0.0), rng))
    assert not any(ev.spoof.any() for ev in evs)


def test_tracker_restarts_far_while_fed_are_impossible_jumps_and_many_are_two_places():
    def rows(t, restarts, jump):
        return [_moving(t, 4, 80e3, 200.0, icao24="4ca7e1", callsign="RYR45TP", mask=ADSB_BIT | RADAR_BIT,
                        restarts=restarts(t), last_jump_m=jump, last_jump_time=float(t) - 0.5)]

    times = np.arange(0.0, 40.0, 1.0)
    # one restart: one event, no flag
    det = SpoofDetector(SENSORS)
    evs = _run(det, lambda t: rows(t, lambda t: int(t >= 10), 25e3), times)
    assert not any(ev.spoof.any() for ev in evs)
    # two restarts 25 km off within a minute: impossible_jump
    det = SpoofDetector(SENSORS)
    evs = _run(det, lambda t: rows(t, lambda t: int(t >= 10) + int(t >= 20), 25e3), times)
    _spoof, kinds, reason, _ = _flag(evs[-1], 4)
    assert kinds == "impossible_jump" and "2 restarts of its track from reports 25.0 km off" in reason
    assert [e["time"] for e in det.log] == [21.0]
    # restarts only 1 km off are not impossible
    det = SpoofDetector(SENSORS)
    evs = _run(det, lambda t: rows(t, lambda t: int(t // 5), 1000.0), times)
    assert not any(ev.spoof.any() for ev in evs)
    # a restart every 5 s, 25 km off: the address is in two places
    det = SpoofDetector(SENSORS)
    evs = _run(det, lambda t: rows(t, lambda t: int(t // 5), 25e3), times)
    assert _flag(evs[-1], 4)[1] == "impossible_jump;address_in_two_places"


def test_impossible_speed_rejections_of_the_address():
    def rows(t):
        both = ADSB_BIT | RADAR_BIT
        return [_moving(t, 4, 80e3, 200.0, icao24="4ca7e1", mask=both),
                _moving(t, 9, 90e3, 150.0, icao24="3c6544", mask=both)]

    times = np.arange(0.0, 200.0, 1.0)
    key = 0x4CA7E1

    def counts(schedule):
        return lambda t: {key: int(np.sum(np.asarray(schedule) <= t))}

    det = SpoofDetector(SENSORS)  # one rejection: noise
    assert not any(ev.spoof.any() for ev in _run(det, rows, times, decoder_at=counts([30.0])))
    det = SpoofDetector(SENSORS)  # two within a minute: impossible_jump, held, then cleared a minute after
    evs = _run(det, rows, times, decoder_at=counts([30.0, 40.0]))
    on = [t for t, ev in zip(times, evs) if _flag(ev, 4)[0]]
    # raised on the 2nd update with two events in the window; the window loses the first event at 90 s (last
    # true at 89 s); the flag holds 60 s more
    assert on[0] == 41.0 and on[-1] == 148.0 and len(on) == 148 - 41 + 1
    assert "2 positions faster than 510 m/s from the previous one" in _flag(evs[50], 4)[2]
    assert not any(_flag(ev, 9)[0] for ev in evs)  # the other address is not touched
    det = SpoofDetector(SENSORS)  # two per second: two transmitters with one address
    evs = _run(det, rows, times, decoder_at=lambda t: {key: int(2 * max(t - 20.0, 0.0))})
    _spoof, kinds, reason, _ = _flag(evs[30], 4)
    assert kinds == "impossible_jump;address_in_two_places"
    assert reason.endswith("address_in_two_places 4ca7e1: 20 of its positions contradict the previous ones "
                           "(impossible speed) in the last 60 s")


def test_two_tracks_carrying_one_address():
    def rows(t, same):
        return [_moving(t, 4, 80e3, 200.0, icao24="4ca7e1", mask=ADSB_BIT),
                _moving(t, 5, 150e3, 100.0, icao24="4ca7e1" if same(t) else "", mask=RADAR_BIT)]

    det = SpoofDetector(SENSORS)
    evs = _run(det, lambda t: rows(t, lambda t: t == 5.0), np.arange(0.0, 20.0, 1.0))  # one update: nothing
    assert not any(ev.spoof.any() for ev in evs)
    det = SpoofDetector(SENSORS)
    evs = _run(det, lambda t: rows(t, lambda t: t >= 5.0), np.arange(0.0, 20.0, 1.0))
    assert [_flag(evs[k], 4)[0] for k in (5, 6)] == [False, True]
    assert _flag(evs[-1], 5)[2] == "address_in_two_places 4ca7e1: tracks 4 and 5 both carry the address"


def test_address_block_against_registration_nationality():
    def rows(t):
        return [{"id": 1, "pos": _at(50e3, 0.0), "vel": _vel(_at(50e3, 0.0), 0, 200), "icao24": "300512", "callsign": "FGKXA"},
                {"id": 2, "pos": _at(60e3, 0.0), "vel": _vel(_at(60e3, 0.0), 0, 200), "icao24": "380abc", "callsign": "FGKXA"},
                {"id": 3, "pos": _at(70e3, 0.0), "vel": _vel(_at(70e3, 0.0), 0, 200), "icao24": "300513", "callsign": "AZA812"},
                {"id": 4, "pos": _at(80e3, 0.0), "vel": _vel(_at(80e3, 0.0), 0, 200), "icao24": "f00abc", "callsign": "FGKXA"},
                {"id": 5, "pos": _at(90e3, 0.0), "vel": _vel(_at(90e3, 0.0), 0, 200), "icao24": "a4b1c2", "callsign": "N377UA"}]

    det = SpoofDetector([])  # no radar: only the identity checks
    evs = _run(det, rows, [0.0, 1.0])
    assert evs[0].spoof.tolist() == [False] * 5  # one update does not raise
    assert evs[1].spoof.tolist() == [True, False, False, False, False]
    assert evs[1].spoof_reason[0] == ("address_nationality: address 300512 is in the block of Italy (300000-33ffff) "
                                      "but callsign FGKXA is a France registration (F-)")
    # the callsign from the decoder's identity table when the snapshot has none
    snap = _snap(2.0, rows(2.0))
    snap.extra["callsign"] = np.full(5, "", object)
    decoder = type("D", (), {"identity": {"300512": {"callsign": ("FGKXA", 1.0)}}})()
    assert SpoofDetector([]).update(snap, 2.0, decoder).spoof.sum() == 0  # new detector: first update
    det2 = SpoofDetector([])
    det2.update(snap, 2.0, decoder)
    assert det2.update(snap, 3.0, decoder).spoof.tolist() == [True, False, False, False, False]


def test_latch_holds_through_a_noisy_update_and_clears_after_the_hold():
    cfg = SpoofConfig(clear_after_s=10.0)
    det = SpoofDetector([], cfg)

    def rows(callsign):
        return [{"id": 1, "pos": _at(50e3, 0.0), "vel": _vel(_at(50e3, 0.0), 0, 200), "icao24": "300512", "callsign": callsign}]

    pattern = ["FGKXA", "FGKXA", "AZA1", "FGKXA"] + ["AZA1"] * 15
    shown = [bool(det.update(_snap(t, rows(cs)), float(t)).spoof[0]) for t, cs in enumerate(pattern)]
    # raised on the 2nd update; one clean update (t=2) does not clear; cleared 10 s (and >= 2 updates) after t=3
    assert shown == [False, True, True, True] + [True] * 9 + [False] * 6
    assert [(e["event"], e["time"]) for e in det.log] == [("raised", 1.0), ("cleared", 13.0)]
    assert det.summary()["tracks"][0]["kinds"]["address_nationality"] == {
        "raised": [1.0], "cleared": [13.0], "reason": det.log[0]["reason"]}


def test_bad_input():
    with pytest.raises(InputError, match="unknown spoof setting 'hold'"):
        SpoofDetector([], {"hold": 3})
    with pytest.raises(InputError, match="not a non-negative number"):
        SpoofConfig.from_dict({"clear_after_s": -1})
    det = SpoofDetector(SENSORS)
    snap = _snap(0.0, [_moving(0, 1, 50e3, 0.0), _moving(0, 1, 60e3, 0.0)])
    with pytest.raises(ValueError, match="one row per track"):
        det.update(snap, 0.0)
    assert len(det.update(TrackStates.empty(), 1.0)) == 0


def test_evidence_makes_the_identity_suspect():
    def rows(t):
        return [_moving(t, 7, 150e3, 45.0, icao24="33a1c4", callsign="AZA784", mask=ADSB_BIT),
                _moving(t, 8, 150e3, 47.3, mask=RADAR_BIT), _moving(t, 9, 100e3, 0.0, icao24="4ca7e1",
                                                                     callsign="RYR45TP", mask=ADSB_BIT | RADAR_BIT)]

    det = SpoofDetector(SENSORS)
    engine = IdentityEngine()
    for t in np.arange(0.0, 40.0, 1.0):
        snap = _snap(t, rows(t))
        ev = det.update(snap, t)
        out = engine.update(snap, t, spoof=ev)
    names = [IDENTITIES[c] for c in out.extra["identity"]]
    assert names == ["suspect", "suspect", "neutral"]
    assert out.extra["identity_reason"][0].startswith("spoof/inconsistency flag without authentication: "
                                                      "adsb_radar_offset 6.")
    evidence = build_evidence(snap, spoof=ev.columns())
    assert evidence.spoof.tolist() == [True, True, False]
    assert np.isfinite(evidence.spoof_offset_m[:2]).all() and math.isnan(evidence.spoof_offset_m[2])
    annotated = ev.annotate(snap)
    assert annotated.extra["spoof"].tolist() == [True, True, False] and "spoof" not in snap.extra


# ----------------------------------------------------------------------------- the simulated spoofer

def _demo_text() -> str:
    return builtin_path("demo").read_text()


def _demo_sensors() -> str:
    text = _demo_text()
    return text[:text.index("# ---------------------------------------------------------------- assets")]


def _demo_spoofer(start_time_s: float) -> str:
    """The demo's [[targets]] block named SPOOFER, starting at ``start_time_s``."""
    text = _demo_text()
    blocks = re.split(r"(?m)^(?=\[\[targets\]\])", text)
    (block,) = [b for b in blocks if re.search(r'(?m)^name = "SPOOFER"$', b)]
    block = block[:block.index("]\n", block.index("waypoints")) + 2]
    return re.sub(r"(?m)^start_time_s = .*$", f"start_time_s = {start_time_s:g}", block)


HONEST = """
[[targets]]
name = "AZA812"
class = "airliner"
callsign = "AZA812"
transponder = { icao24 = "300512", squawk = "2261" }
waypoints = [ { lat = 38.6, lon = 12.3, alt_ft = 37000, speed_kt = 470 }, { lat = 37.134, lon = 10.95 } ]
"""


def _spoofer(transponder: str, start_time_s=10):
    return textwrap.dedent(f"""
    [[targets]]
    name = "SPOOFER"
    class = "business_jet"
    affiliation = "hostile"
    start_time_s = {start_time_s}
    transponder = {transponder}
    waypoints = [ {{ lat = 37.0, lon = 11.2, alt_ft = 33000, speed_kt = 450 }}, {{ lat = 38.6, lon = 13.4 }} ]
    """)


def _simulate(targets: str, duration_s: float, seed=11):
    """The pipeline's loop (pipeline.run_scenario) with the detector and the identity engine called each step."""
    from airpicture.adsb_feed import AdsbFeed
    from airpicture.sensors.simulate import simulate_all
    from airpicture.tracking.sensor_tracker import SensorTracker, TrackerConfig

    text = _demo_sensors().replace("duration_s = 600", f"duration_s = {duration_s:g}").replace(
        "seed = 20240706", f"seed = {seed}") + targets
    sc = parse_scenario(text, source="spoof-test.toml")
    truth = build_truth(sc)
    meas = simulate_all(sc.sensors, truth, sc.duration_s, sc.seed)
    tracker = SensorTracker(sc.sensors, TrackerConfig.from_dict(sc.tracker))
    times = np.arange(1.0, sc.duration_s + 1e-9, 1.0)
    feed = AdsbFeed(sc.sensors, truth, sc.duration_s, sc.seed, times)
    detector = SpoofDetector(sc.sensors)
    engine = IdentityEngine(assets=sc)
    bounds = np.searchsorted(meas.time, times, side="right")
    start, snaps = 0, []
    for step, (t, stop) in enumerate(zip(times, bounds)):
        plots = meas.take(slice(start, stop))
        if stop > start:
            tracker.process(plots)
        feed.feed(step, float(t), tracker)
        snap = feed.annotate(tracker.snapshot(float(t)))
        spoof = detector.update(snap, float(t), feed.decoder, plots=plots)
        snaps.append(spoof.annotate(engine.update(snap, float(t), spoof=spoof)))
        start = stop
    return truth, meas, detector, TrackStates.concatenate(snaps)


def _nearest_truth(truth, tracks, track_id):
    rows = np.flatnonzero(tracks.track_id == track_id)
    r = rows[len(rows) // 2]
    p, _ = truth.state_at(np.full(truth.n_targets, tracks.time[r]), np.arange(truth.n_targets))
    d = np.linalg.norm(p - tracks.position[r], axis=1)
    k = int(np.nanargmin(d))
    return truth.names[k], float(d[k])


def test_the_demo_spoofer_is_flagged_within_30_s_of_radar_contact():
    truth, meas, det, tracks = _simulate(_demo_spoofer(10) + HONEST, 90)
    spoofer = truth.names.index("SPOOFER")
    contact = float(meas.time[meas.truth == spoofer].min())
    raised = [e for e in det.log if e["event"] == "raised"]
    assert {e["kind"] for e in raised} == {"adsb_radar_offset"} and len(raised) == 2
    adsb, radar = sorted(raised, key=lambda e: "likely" in e["reason"])
    assert adsb["time"] - contact <= 30.0, (adsb, contact)
    # the ADS-B track is the spoofer's broadcast 6.4 km off; the radar track beside it is the real aircraft
    assert "ADS-B AZA784 (33a1c4)" in adsb["reason"]
    assert _nearest_truth(truth, tracks, adsb["track_id"]) == ("SPOOFER", pytest.approx(6403.0, abs=150.0))
    assert _nearest_truth(truth, tracks, radar["track_id"])[0] == "SPOOFER"
    assert _nearest_truth(truth, tracks, radar["track_id"])[1] < 1500.0
    assert radar["related_track"] == adsb["track_id"] and adsb["related_track"] == radar["track_id"]
    last = tracks.time == tracks.time.max()
    i = np.flatnonzero(last & (tracks.track_id == adsb["track_id"]))[0]
    assert tracks.extra["spoof_offset_m"][i] == pytest.approx(6403.0, rel=0.1)
    flagged = np.unique(tracks.track_id[tracks.extra["spoof"]])
    assert sorted(flagged.tolist()) == sorted([adsb["track_id"], radar["track_id"]])  # the airliner is clean
    # and both are Suspect by the end
    for tid in flagged:
        j = np.flatnonzero(last & (tracks.track_id == tid))[0]
        assert IDENTITIES[tracks.extra["identity"][j]] == "suspect"


def test_clean_simulated_traffic_raises_no_flag():
    _, _, det, tracks = _simulate(HONEST + _spoofer('{ icao24 = "3c4dd2", callsign = "IFA21" }'), 90)
    assert det.log == [] and not tracks.extra["spoof"].any()


def test_a_small_offset_fused_with_the_radar_shows_as_plots_off_the_track():
    # 300 m north: the plots still gate with the ADS-B track and update it, persistently off
    _truth, _, det, _tracks = _simulate(_spoofer('{ spoof_icao24 = "33a1c4", spoof_offset_m = [0, 300] }'), 120)
    (e,) = [e for e in det.log if e["event"] == "raised"]
    assert e["kind"] == "adsb_radar_offset" and "radar plots sit" in e["reason"]
    latest = det.flagged()[e["track_id"]]["kinds"]["adsb_radar_offset"]
    assert latest["offset_m"] == pytest.approx(300.0, abs=250.0)  # 0.12 deg at 150 km: 314 m per plot across


def test_a_clone_of_an_airliners_address_is_in_two_places():
    # the spoofer broadcasts AZA812's address and callsign 100 km from it
    _truth, _, det, tracks = _simulate(HONEST + _spoofer('{ spoof_icao24 = "300512", spoof_callsign = "AZA812" }'), 40)
    raised = {(e["kind"], e["track_id"]) for e in det.log if e["event"] == "raised"}
    (tid,) = {tid for _, tid in raised}
    assert {k for k, _ in raised} == {"impossible_jump", "address_in_two_places"}
    assert tracks.extra["icao24"][tracks.track_id == tid][0] == "300512"


def test_a_ghost_broadcast_is_not_seen_by_radar():
    transponder = ('{ spoof_icao24 = "4ca123", spoof_callsign = "EIDLA", '
                   'spoof_track = { lat = 37.5, lon = 12.0, alt_ft = 30000, speed_kt = 400, heading_deg = 45 } }')
    _truth, _, det, _tracks = _simulate(_spoofer(transponder), 90)
    (e,) = [e for e in det.log if e["event"] == "raised"]
    assert e["kind"] == "adsb_not_seen_by_radar" and "EIDLA (4ca123)" in e["reason"]


# ----------------------------------------------------------------------------- real recordings

DATA = __import__("pathlib").Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.mark.parametrize("name, aircraft", [("rs1090_long_flight.csv.gz", 8), ("traffic_docs_tutorial.jsonl.gz", 3)])
def test_real_recordings_raise_no_flag(name, aircraft):
    from airpicture.replay import TransponderPicture
    from airpicture.sources import iter_file

    picture = TransponderPicture(reference=(43.63, 1.37), record_updates=False)
    det = SpoofDetector(picture.tracker.sensors)
    tracks_seen = set()
    for _, batch in iter_file(DATA / name, "auto", problems=picture.problems, chunk_bytes=1 << 16):
        picture.feed(batch)
        states = picture.states()
        ev = det.update(states, picture.now, picture.decoder)
        tracks_seen.update(states.track_id[states.extra["icao24"] != ""].tolist())
        assert not ev.spoof.any(), ev.spoof_reason[ev.spoof]
    assert det.updates > 100 and len(tracks_seen) >= aircraft
    assert det.summary()["flagged_tracks"] == 0 and picture.decoder.counts["impossible_speed"] == 0


# ----------------------------------------------------------------------------- the emitter's spoof options

def _emit(transponder: str, duration_s=60):
    sc = parse_scenario(f'name = "t"\nduration_s = {duration_s}\nseed = 3\n' + _spoofer(transponder, 0),
                        source="t.toml")
    truth = build_truth(sc)
    tp = transponders_from_truth(truth)
    return truth, tp, emit_adsb(truth, tp, duration_s, emitter_rng(sc.seed))


def _decoded(truth, emitted):
    from airpicture.fusion.decoder import TransponderDecoder

    decoder = TransponderDecoder()
    reports = decoder.process(emitted.to_frame_batch())
    return decoder, reports


def test_spoof_offset_moves_every_broadcast_position_and_the_identity_is_false():
    truth, tp, em = _emit('{ spoof_icao24 = "33a1c4", spoof_callsign = "AZA784", spoof_offset_m = [5000, -4000, 100] }')
    assert tp.spoofing.tolist() == [True] and tp.own_icao24.tolist() == [-1]
    assert set(em.icao24) == {"33a1c4"}
    decoder, reports = _decoded(truth, em)
    assert decoder.identity["33a1c4"]["callsign"][0] == "AZA784"
    pos, vel = truth.state_at(reports.time, np.zeros(len(reports), np.int64))
    lat, lon, _alt = geo.ecef_to_geodetic(pos)
    enu = np.array([geo.ecef_to_enu(reports.position_ecef[i], pos[i], geo.enu_rotation(lat[i], lon[i]))
                    for i in range(len(reports))])
    assert len(reports) > 50
    # offset within the NACp 9 error (12 m per axis) and the altitude's 25 ft steps
    assert np.abs(np.median(enu, axis=0) - [5000.0, -4000.0, 100.0]).max() < 30.0
    # velocities are the aircraft's own
    have = reports.has_velocity
    assert np.abs(reports.velocity_ecef[have] - vel[have]).max() < 2.0


def test_spoof_track_broadcasts_a_separate_great_circle():
    truth, _tp, em = _emit('{ spoof_icao24 = "4ca123", spoof_track = { lat = 37.5, lon = 12.0, alt_m = 9000, '
                          'speed_mps = 200, heading_deg = 90 } }')
    _, reports = _decoded(truth, em)
    lat, lon, alt = geo.ecef_to_geodetic(reports.position_ecef)
    start = float(em.time.min()) - 0.6  # the target appears at 0
    dist = geo.haversine_m(37.5 * D, 12.0 * D, lat, lon) * (geo.EARTH_MEAN_RADIUS_M + 9000) / geo.EARTH_MEAN_RADIUS_M
    t = reports.time
    assert np.abs(dist - 200.0 * np.maximum(t, 0.0)).max() < 150.0 + 200.0 * max(start, 0.6)
    assert np.abs(alt - 9000.0).max() < 10.0
    speed = np.linalg.norm(reports.velocity_ecef[reports.has_velocity], axis=1)
    assert np.abs(speed - 200.0).max() < 2.0
    # east-bound: the velocity points east at the start
    first = np.flatnonzero(reports.has_velocity)[0]
    east = geo.ecef_vectors_to_enu(reports.velocity_ecef[first], geo.enu_rotation(lat[first], lon[first]))
    assert east[0] > 199.0 and abs(east[1]) < 5.0


@pytest.mark.parametrize("transponder, field, message", [
    ('{ callsign = "X" }', "transponder.icao24", "required"),
    ('{ spoof_icao24 = "xyz" }', "transponder.spoof_icao24", "not 6 hex digits"),
    ('{ spoof_icao24 = "33a1c4", spoof_offset_m = [1] }', "transponder.spoof_offset_m", "east, north"),
    (('{ spoof_icao24 = "33a1c4", spoof_offset_m = [1, 2], spoof_track = { lat = 1, lon = 2, alt_m = 1, '
     'speed_mps = 1, heading_deg = 0 } }'), "transponder.spoof_track", "at most one"),
    ('{ spoof_icao24 = "33a1c4", spoof_track = { lat = 1, lon = 2, alt_m = 1, speed_mps = 1 } }',
     "transponder.spoof_track", "missing required key 'heading_deg'"),
    (('{ spoof_icao24 = "33a1c4", spoof_track = { lat = 1, lon = 2, alt_m = 1, alt_ft = 3, speed_mps = 1, '
     'heading_deg = 0 } }'), "transponder.spoof_track", "exactly one of 'alt_m' or 'alt_ft'"),
    (('{ spoof_icao24 = "33a1c4", spoof_track = { lat = 1, lon = 2, alt_m = 1, speed_mps = 1, heading_deg = 0, '
     'turn = 1 } }'), "transponder.spoof_track.turn", "unknown key 'turn'"),
    ('{ icao24 = "33a1c4", adsb = false, spoof_callsign = "X" }', "transponder.spoof_callsign", "adsb = true"),
    ('{ spoof_icao24 = "33a1c4", spoof_callsign = "TOO-LONG-1" }', "transponder.spoof_callsign", "at most 8"),
])
def test_spoof_options_are_validated_by_the_loader_with_the_line(transponder, field, message):
    text = 'name = "t"\nduration_s = 60\n' + _spoofer(transponder)
    with pytest.raises(InputError) as info:
        parse_scenario(text, source="t.toml")
    err = info.value
    assert err.field == f"targets[0].{field}" and message in err.message, str(err)
    assert err.line == text.splitlines().index(f"transponder = {transponder}") + 1


def test_a_clone_may_repeat_another_targets_address_but_own_addresses_stay_unique():
    text = 'name = "t"\nduration_s = 60\n' + HONEST + _spoofer('{ spoof_icao24 = "300512" }')
    sc = parse_scenario(text, source="t.toml")
    tp = transponders_from_truth(build_truth(sc))
    assert tp.icao24.tolist() == [0x300512, 0x300512] and tp.own_icao24.tolist() == [0x300512, -1]
    with pytest.raises(InputError, match="already used by targets"):
        parse_scenario(text.replace('spoof_icao24 = "300512"', 'icao24 = "300512"'), source="t.toml")


def test_kinds_are_the_documented_reason_codes():
    doc = (__import__("pathlib").Path(__file__).resolve().parents[1] / "docs" / "identity.md").read_text()
    section = doc[doc.index("## Spoof and inconsistency detection"):]
    for kind in KINDS:
        assert f"`{kind}`" in section, kind
