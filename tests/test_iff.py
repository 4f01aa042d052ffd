"""Simulated IFF interrogation and authentication (issue 4 §2): identity/iff.py and the scenario's iff tables.

Tracks are made from truth (exact positions, a 100 m covariance) so that each test sees what the IFF model
does, not the tracker. Replies are never lost unless a test says so (reply_probability = 1).
"""

from __future__ import annotations

import base64
import json
import logging
import math
import pickle

import numpy as np
import pytest

from airpicture import geo
from airpicture.errors import InputError
from airpicture.identity.engine import IdentityEngine
from airpicture.identity.evidence import IFF_COLUMNS, build_evidence
from airpicture.identity.iff import (
    NO_REPLY,
    IffEvidence,
    IffSimulation,
    UnitKeys,
    associate_replies,
    iff_rng,
)
from airpicture.identity.iff_schema import InterrogatorConfig
from airpicture.identity.keystore import (
    BAD_MAC,
    NO_KEYS,
    REPLAYED_NONCE,
    STALE_SLOT,
    UNKNOWN_KEY,
    KeyStore,
)
from airpicture.identity.standard import identity_names
from airpicture.measurements import SensorSite
from airpicture.scenario.loader import load_scenario, parse_scenario
from airpicture.scenario.trajectory import build_truth
from airpicture.tracks import CONFIRMED, TrackStates

D = math.pi / 180.0
RADAR = (38.0, 12.0, 100.0)   # lat, lon deg, alt m
ID0 = 1000                    # track id = ID0 + truth index


def _at(azimuth_deg: float, range_km: float) -> tuple[float, float]:
    lat, lon = geo.destination(RADAR[0] * D, RADAR[1] * D, azimuth_deg * D, range_km * 1000.0)
    return float(lat) / D, float(lon) / D


def _target(name: str, azimuth_deg: float, range_km: float, iff: str | None = None, *, alt_ft: float = 20000,
            extra: str = "", heading_deg: float | None = None) -> str:
    """A fighter flying 60 km tangentially (clockwise) from (azimuth, range), slowly (so it stays put)."""
    lat0, lon0 = _at(azimuth_deg, range_km)
    heading = azimuth_deg + 90.0 if heading_deg is None else heading_deg
    lat1, lon1 = geo.destination(lat0 * D, lon0 * D, heading * D, 60_000.0)
    lines = ['[[targets]]', f'name = "{name}"', 'class = "fighter"']
    if iff is not None:
        lines.append(f"iff = {iff}")
    if extra:
        lines.append(extra)
    lines.append(f"waypoints = [ {{ lat = {lat0:.6f}, lon = {lon0:.6f}, alt_ft = {alt_ft}, speed_mps = 100 }}, "
                 f"{{ lat = {float(lat1) / D:.6f}, lon = {float(lon1) / D:.6f} }} ]")
    return "\n".join(lines) + "\n"


def _scenario(targets: str, radar_iff: str = "{ reply_probability = 1.0 }", *, duration: float = 60.0,
              radar_extra: str = "") -> object:
    text = f"""
name = "iff-test"
duration_s = {duration}
seed = 7

[[sensors]]
name = "radar"
type = "radar"
lat = {RADAR[0]}
lon = {RADAR[1]}
alt_m = {RADAR[2]}
scan_period_s = 10.0
start_azimuth_deg = 0.0
beamwidth_az_deg = 1.4
range_max_km = 300
iff = {radar_iff}
{radar_extra}

{targets}
"""
    return parse_scenario(text, source="iff-test.toml")


def _snapshot(truth, t: float, *, which=None, sigma_m: float = 100.0, offset=None) -> TrackStates:
    idx = np.arange(truth.n_targets) if which is None else np.asarray(which)
    pos, vel = truth.state_at(np.full(idx.size, float(t)), idx)
    ok = np.isfinite(pos[:, 0])
    idx, pos, vel = idx[ok], pos[ok], vel[ok]
    if offset is not None:
        pos = pos + offset[ok]
    n = idx.size
    return TrackStates(time=np.full(n, float(t)), track_id=ID0 + idx, position=pos, velocity=vel,
                       status=np.full(n, CONFIRMED, np.int8),
                       position_cov=np.broadcast_to(np.eye(3) * sigma_m ** 2, (n, 3, 3)).copy(),
                       track_class=np.full(n, "unknown", dtype=object), extra={})


def _run(scenario, keys: UnitKeys | None, until: float, *, snapshots=None, seed: int = 3):
    truth = build_truth(scenario)
    sim = IffSimulation(scenario, keys.authenticator if keys is not None else NO_KEYS, iff_rng(seed))
    evidence = None
    prev = 0.0
    for t in np.arange(1.0, until + 1e-9, 1.0):
        snap = snapshots(truth, t) if snapshots is not None else _snapshot(truth, t)
        evidence = sim.step(prev, t, truth, snap)
        prev = float(t)
    return sim, truth, evidence


def _row(evidence: IffEvidence, truth, name: str) -> dict:
    return evidence.row(ID0 + truth.names.index(name))


# --------------------------------------------------------------------------------------------------------------
# authentication outcomes


FRIEND = '{ mode3a = "4501", mode5 = true }'


def test_valid_key_authenticates():
    sc = _scenario(_target("F1", 45.0, 100.0, FRIEND))
    with UnitKeys.simulated() as keys:
        sim, truth, ev = _run(sc, keys, 35.0)
        r = _row(ev, truth, "F1")
        assert r["iff_authenticated"] is True and r["iff_failure"] == ""
        assert 25.0 <= r["iff_reply_time"] <= 35.0
        assert r["iff_mode3a"] == "4501" and r["iff_mode_s"] == "" and r["iff_interrogated"] is True
        # Mode C: the altitude in 100 ft steps
        _, _, alt = geo.ecef_to_geodetic(truth.state_at(np.array([r["iff_reply_time"]]), np.array([0]))[0])
        assert r["iff_mode_c_m"] == pytest.approx(round(alt[0] / 0.3048 / 100) * 100 * 0.3048)
        s = sim.summary()
        # the beam crosses F1 (azimuth 45 deg) at 1.25 s, 11.25 s, ...: four looks in 35 s, each authenticated
        assert s["authenticated"] == s["received"] == s["replies"] == 4 and s["lost"] == 0
        assert s["failures"] == {BAD_MAC: 0, STALE_SLOT: 0, REPLAYED_NONCE: 0, UNKNOWN_KEY: 0, NO_REPLY: 0}
        assert s["interrogations"] > 100 and s["tracks_interrogated"] == 4
        assert s["platforms"]["F1"] == {"key": "valid", "replies": 4, "associated": 4, "authenticated": 4}
        sim.close()


def _impostors() -> str:
    return "".join([
        _target("F1", 45.0, 100.0, FRIEND),
        _target("NOKEY", 90.0, 120.0, '{ mode3a = "4502" }'),
        _target("WRONG", 135.0, 120.0, '{ mode3a = "4501", key = "wrong" }'),
        _target("FORGED", 180.0, 120.0, '{ mode3a = "4501", key = "forged" }'),
        _target("LATECLOCK", 200.0, 120.0, '{ mode3a = "4503", mode5 = true, clock_offset_s = 6.0 }'),
        # crosses 3 deg after F1: re-sends F1's reply to this very sweep
        _target("REPLAY_NEAR", 48.0, 110.0, '{ mode3a = "4501", key = "replay", replay_of = "F1" }'),
        # crosses 25 deg before F1: all it holds is F1's reply of the previous sweep, 10 s old
        _target("REPLAY_OLD", 20.0, 110.0, '{ key = "replay" }'),
        _target("SILENT", 250.0, 120.0),
        _target("FAR", 300.0, 400.0, FRIEND.replace("4501", "4504")),
    ])


@pytest.fixture(scope="module")
def impostor_run():
    sc = _scenario(_impostors())
    keys = UnitKeys.simulated()
    sim, truth, ev = _run(sc, keys, 45.0)
    yield sim, truth, ev
    sim.close()
    keys.close()


@pytest.mark.parametrize("name, reason", [
    ("NOKEY", NO_REPLY), ("WRONG", UNKNOWN_KEY), ("FORGED", BAD_MAC), ("LATECLOCK", STALE_SLOT),
    ("REPLAY_NEAR", REPLAYED_NONCE), ("REPLAY_OLD", STALE_SLOT), ("SILENT", NO_REPLY),
])
def test_failures_have_the_right_reason(impostor_run, name, reason):
    sim, truth, ev = impostor_run
    r = _row(ev, truth, name)
    assert r["iff_authenticated"] is False and np.isnan(r["iff_reply_time"])
    assert r["iff_failure"] == reason and r["iff_interrogated"] is True
    counts = sim.summary()["platforms"].get(name, {})
    if name == "SILENT":
        assert name not in sim.summary()["platforms"]    # no transponder at all
        assert r["iff_mode3a"] == "" and np.isnan(r["iff_mode_c_m"])
        return
    assert counts["replies"] == counts["associated"] >= 4
    assert "authenticated" not in counts
    if reason != NO_REPLY:
        # every authenticated-mode reply failed that way (REPLAY_OLD had nothing to re-send on its first look)
        assert counts[reason] == counts["replies"] - (name == "REPLAY_OLD")
    # the codes still arrive: Mode 3/A and Mode C are not authenticated
    assert r["iff_mode3a"] != "" or name == "REPLAY_OLD"
    assert np.isfinite(r["iff_mode_c_m"])


def test_impostors_do_not_disturb_the_friend(impostor_run):
    sim, truth, ev = impostor_run
    assert _row(ev, truth, "F1")["iff_authenticated"] is True
    far = _row(ev, truth, "FAR")       # 400 km: outside the 300 km interrogator
    assert far["iff_interrogated"] is False and far["iff_mode3a"] == "" and far["iff_failure"] == ""
    s = sim.summary()
    assert s["authenticated"] == s["platforms"]["F1"]["authenticated"] == 5
    assert s["failures"][UNKNOWN_KEY] == s["platforms"]["WRONG"]["replies"]
    assert s["failures"][REPLAYED_NONCE] == s["platforms"]["REPLAY_NEAR"]["replies"]
    log = sim.replies()
    assert set(log["platform"]) == set(s["platforms"]) - {"FAR"}
    assert (log["track_id"] == ID0 + log["truth_index"]).all()   # every reply went to its own track
    assert set(log["outcome"][log["platform"] == "NOKEY"]) == {"-"}


def test_replay_is_a_replay_not_a_forgery():
    """What the spoofer re-sends is F1's genuine reply: its MAC verifies, only freshness refuses it."""
    sc = _scenario(_target("F1", 45.0, 100.0, FRIEND)
                   + _target("SPOOF", 48.0, 110.0, '{ key = "replay", replay_of = "F1" }'))
    with UnitKeys.simulated() as keys:
        sim, _truth, _ev = _run(sc, keys, 25.0)
        log = sim.replies()
        spoof = log["platform"] == "SPOOF"
        assert list(log["outcome"][spoof]) == [REPLAYED_NONCE] * 3
        # the unit's authenticator verified F1's three replies, and none of the re-sent ones
        assert keys.authenticator.counts["authenticated"] == 3 and keys.authenticator.counts[REPLAYED_NONCE] == 3
        sim.close()


def test_a_reply_the_interrogator_missed_cannot_be_relayed():
    """F1's reply lost at the interrogator, re-sent by the spoofer a few dwells later: its MAC verifies and its
    slot is fresh, but it answers another dwell's challenge: replayed_nonce, never authenticated."""
    sc = _scenario(_target("F1", 45.0, 100.0, FRIEND)
                   + _target("SPOOF", 48.0, 110.0, '{ key = "replay", replay_of = "F1" }'),
                   radar_iff="{ reply_probability = 0.4 }", duration=400.0)
    with UnitKeys.simulated() as keys:
        sim, _truth, _ev = _run(sc, keys, 400.0)
        log = sim.replies()
        f1, spoof = log["platform"] == "F1", log["platform"] == "SPOOF"
        relayed = spoof & log["received"] & np.isin(np.round(log["time"] / 10.0), np.round(
            log["time"][f1 & ~log["received"]] / 10.0))
        assert relayed.sum() >= 3                                  # the case happened
        assert set(log["outcome"][relayed]) == {REPLAYED_NONCE}
        assert "authenticated" not in sim.summary()["platforms"]["SPOOF"]
        sim.close()


# --------------------------------------------------------------------------------------------------------------
# no key store: the export unit


def test_no_key_store_nothing_authenticates_everything_runs():
    sc = _scenario(_impostors())
    for keys in (UnitKeys.export_unit(), UnitKeys.for_run("none"), None):
        sim, truth, ev = _run(sc, keys, 45.0)
        assert not ev.iff_authenticated.any()
        f1 = _row(ev, truth, "F1")
        assert f1["iff_failure"] == UNKNOWN_KEY and f1["iff_mode3a"] == "4501"  # codes still arrive
        s = sim.summary()
        assert s["authenticated"] == 0 and s["unit_keys"] == {"keys": 0, "can_sign": False, "slot_tolerance": 1}
        assert s["failures"][UNKNOWN_KEY] == s["authenticated_mode_replies"] > 0
        # identity: nothing is Friend by IFF
        snap = _snapshot(truth, 45.0)
        states = IdentityEngine(assets=sc).update(snap, 45.0, iff=ev)
        assert "friend" not in set(identity_names(states.extra["identity"]))
        sim.close()


def test_with_keys_the_engine_calls_the_friend_friend(impostor_run):
    _sim, truth, ev = impostor_run
    snap = _snapshot(truth, 45.0)
    engine = IdentityEngine()
    states = engine.update(snap, 45.0, iff=ev)
    names = dict(zip(states.track_id.tolist(), identity_names(states.extra["identity"])))
    assert names[ID0 + truth.names.index("F1")] == "friend"
    assert [n for t, n in names.items() if n == "friend"] == ["friend"]
    # the evidence builder takes every form of the input
    for form in (ev, ev.as_columns()):
        e = build_evidence(snap, iff=form)
        assert (e["iff_authenticated"] == ev.iff_authenticated).all()
        assert list(e["iff_failure"]) == list(ev.iff_failure)


# --------------------------------------------------------------------------------------------------------------
# association


def _site() -> SensorSite:
    return SensorSite(name="r", kind="radar", lat_rad=RADAR[0] * D, lon_rad=RADAR[1] * D, alt_m=RADAR[2])


def _tracks_at(site: SensorSite, ranges_km, azimuths_deg, sigma_m=50.0, t=10.0) -> TrackStates:
    enu = geo.polar_to_enu(np.asarray(ranges_km) * 1000.0, np.asarray(azimuths_deg) * D, np.full(len(ranges_km),
                                                                                                 0.02))
    pos = site.to_ecef(enu)
    n = len(ranges_km)
    return TrackStates(np.full(n, t), np.arange(n, dtype=np.int64) + 7, pos, np.zeros((n, 3)),
                       np.full(n, CONFIRMED, np.int8), np.broadcast_to(np.eye(3) * sigma_m ** 2, (n, 3, 3)).copy())


def test_association_is_global_nearest_neighbour():
    site = _site()
    tracks = _tracks_at(site, [100.0, 100.6], [45.0, 45.0])
    kw = {"sigma_range_m": 200.0, "sigma_azimuth_rad": 0.1 * D, "gate_sigmas": 4.0}
    # reply 0 is nearer track 1 (250 m vs 350 m), but giving it track 1 leaves reply 1 outside every gate
    rows = associate_replies(site, [10.0, 10.0], [100_350.0, 100_950.0], [45.0 * D, 45.0 * D], tracks, **kw)
    assert rows.tolist() == [0, 1]
    # one reply alone goes to the nearest; a reply far from both, to none
    assert associate_replies(site, [10.0], [100_350.0], [45 * D], tracks, **kw).tolist() == [1]
    assert associate_replies(site, [10.0], [103_000.0], [45 * D], tracks, **kw).tolist() == [-1]
    assert associate_replies(site, [10.0], [100_000.0], [47 * D], tracks, **kw).tolist() == [-1]
    # a track's own uncertainty widens its gate
    loose = _tracks_at(site, [100.0], [45.0], sigma_m=2000.0)
    assert associate_replies(site, [10.0], [103_000.0], [45 * D], loose, **kw).tolist() == [0]
    assert associate_replies(site, [10.0], [103_000.0], [45 * D], _tracks_at(site, [100.0], [45.0]),
                             **kw).tolist() == [-1]
    # tracks are predicted to the reply time: 2 s before its snapshot the track was 1.2 km nearer
    moving = _tracks_at(site, [100.0], [45.0], t=12.0)
    moving.velocity[:] = site.to_ecef(geo.polar_to_enu(600.0, 45 * D, 0.0)) - site.to_ecef(np.zeros(3))
    assert associate_replies(site, [10.0], [98_800.0], [45 * D], moving, **kw).tolist() == [0]
    assert associate_replies(site, [12.0], [98_800.0], [45 * D], moving, **kw).tolist() == [-1]
    assert associate_replies(site, [], [], [], tracks, **kw).tolist() == []
    assert associate_replies(site, [10.0], [1.0], [1.0], TrackStates.empty(), **kw).tolist() == [-1]


def test_association_picks_the_right_track_among_close_tracks():
    """Three transponders within 1.2 km, plus decoy tracks between and beside them, in shuffled order."""
    sc = _scenario(_target("A", 60.0, 80.0, '{ mode3a = "1111" }')
                   + _target("B", 60.0, 80.8, '{ mode3a = "2222" }')
                   + _target("C", 60.5, 80.0, '{ mode3a = "3333" }')
                   + _target("BIRD", 60.3, 80.4), radar_iff="{ reply_probability = 1.0, sigma_range_m = 30 }")
    rng = np.random.default_rng(0)

    def snapshots(truth, t):
        s = _snapshot(truth, t)
        order = rng.permutation(len(s))
        return s.take(order)

    sim, truth, ev = _run(sc, None, 32.0, snapshots=snapshots)
    for name, code in (("A", "1111"), ("B", "2222"), ("C", "3333"), ("BIRD", "")):
        assert _row(ev, truth, name)["iff_mode3a"] == code, name
    log = sim.replies()
    assert (log["track_id"] == ID0 + log["truth_index"]).all() and log["track_id"].size == 12


def test_unassociated_replies_are_counted():
    sc = _scenario(_target("F1", 45.0, 100.0, FRIEND))
    with UnitKeys.simulated() as keys:
        sim, _truth, ev = _run(sc, keys, 25.0, snapshots=lambda truth, t: TrackStates.empty())
        s = sim.summary()
        assert len(ev) == 0 and s["unassociated"] == s["received"] == 3 and s["associated"] == 0
        # verified all the same: authentication does not depend on a track
        assert s["authenticated"] == 3
        sim.close()


# --------------------------------------------------------------------------------------------------------------
# coverage, schedule, losses, memory


def test_coverage_horizon_and_schedule():
    # a low target 150 km out is below the 4/3-earth horizon of a 100 m antenna (~63 km for 300 m)
    sc = _scenario(_target("LOW", 90.0, 150.0, FRIEND, alt_ft=1000) + _target("HIGH", 100.0, 150.0, FRIEND),
                   radar_iff="{ reply_probability = 1.0, period_s = 20 }")
    with UnitKeys.simulated() as keys:
        sim, truth, ev = _run(sc, keys, 60.0)
        assert _row(ev, truth, "LOW")["iff_interrogated"] is False and _row(ev, truth, "LOW")["iff_failure"] == ""
        assert _row(ev, truth, "HIGH")["iff_authenticated"] is True
        # every other scan: the looks at 2.8, 22.8, 42.8 s
        assert sim.summary()["replies"] == 3
        sim.close()
    off = _scenario(_target("HIGH", 100.0, 150.0, FRIEND), radar_iff="{ interrogate = false }")
    sim, truth, ev = _run(off, None, 30.0)
    s = sim.summary()
    assert s["replies"] == s["interrogations"] == s["tracks_interrogated"] == 0
    assert not ev.iff_interrogated.any()


def test_lost_replies_and_memory():
    sc = _scenario(_target("F1", 45.0, 100.0, FRIEND), radar_iff="{ reply_probability = 0.5, memory_s = 15 }",
                   duration=300.0)
    with UnitKeys.simulated() as keys:
        sim, truth, _ev = _run(sc, keys, 300.0)
        s = sim.summary()
        assert s["replies"] == 30 and 5 <= s["lost"] <= 25 and s["received"] + s["lost"] == 30
        assert s["failures"][NO_REPLY] == s["lost"]        # each lost reply: a look without an answer
        log = sim.replies()
        last = float(log["time"][log["received"]][-1])
        snap = _snapshot(truth, 300.0)
        # the evidence ages: 15 s after the last authenticated reply it is gone
        assert sim.evidence(snap, last + 14.9).iff_authenticated[0]
        later = sim.evidence(snap, last + 15.1)
        assert not later.iff_authenticated[0] and later.iff_mode3a[0] == "" and np.isnan(later.iff_reply_time[0])
        sim.close()


def test_same_seed_same_outcome():
    sc = _scenario(_impostors(), radar_iff="{ reply_probability = 0.7 }")
    runs = []
    for _ in range(2):
        with UnitKeys.simulated() as keys:   # fresh keys and nonces each time: the outcome does not depend on them
            sim, _truth, ev = _run(sc, keys, 40.0, seed=11)
            runs.append((sim.summary(), {k: v.tolist() for k, v in ev.as_columns().items()}))
            sim.close()
    assert json.dumps(runs[0], sort_keys=True, default=str) == json.dumps(runs[1], sort_keys=True, default=str)


def test_civil_transponders_answer_ssr_modes():
    sc = _scenario(_target("CIVIL", 45.0, 100.0, extra='transponder = { icao24 = "4ca7e1", squawk = "6621" }')
                   + _target("MIL", 70.0, 100.0, FRIEND, extra='transponder = { icao24 = "3c6544", adsb = false }'))
    with UnitKeys.simulated() as keys:
        sim, truth, ev = _run(sc, keys, 15.0)
        civil, mil = _row(ev, truth, "CIVIL"), _row(ev, truth, "MIL")
        assert (civil["iff_mode3a"], civil["iff_mode_s"], civil["iff_failure"]) == ("6621", "4ca7e1", NO_REPLY)
        assert (mil["iff_mode3a"], mil["iff_mode_s"], mil["iff_authenticated"]) == ("4501", "3c6544", True)
        assert sim.platforms["CIVIL"]["implicit"] is True and sim.platforms["MIL"]["implicit"] is False
        sim.close()


# --------------------------------------------------------------------------------------------------------------
# key material never shown


def _leak_forms(secret: bytes) -> list[bytes]:
    forms = [secret[i:i + 8] for i in range(0, len(secret) - 7, 4)]
    h = secret.hex()
    forms += [h[i:i + 16].encode() for i in range(0, len(h) - 15, 8)]
    forms += [h[i:i + 16].upper().encode() for i in range(0, len(h) - 15, 8)]
    forms += [base64.b64encode(secret)[:20], base64.urlsafe_b64encode(secret)[:20], base64.b32encode(secret)[:20]]
    return forms


def _assert_no_key(secrets: dict, *texts) -> None:
    assert secrets
    for text in texts:
        blob = text if isinstance(text, bytes) else str(text).encode("utf-8", "surrogateescape")
        for key_id, secret in secrets.items():
            for form in _leak_forms(secret):
                assert form not in blob, f"key {key_id} material found"


def test_key_bytes_never_in_summary_evidence_or_logs(caplog):
    caplog.set_level(logging.DEBUG)
    sc = _scenario(_impostors())
    keys = UnitKeys.simulated()
    sim, truth, ev = _run(sc, keys, 45.0)
    secrets = dict(keys._store._raw_secrets_for_tests())
    for i, store in enumerate(sim._private):          # the simulation's own keys (coalition, other unit, forged)
        secrets.update({f"private{i}-{k}": v for k, v in store._raw_secrets_for_tests().items()})
    assert len(secrets) == 3       # the unit's day key (the friendlies sign with it), another unit's, a forgery
    log = sim.replies()
    shown = [json.dumps(sim.summary()), json.dumps(keys.summary()), repr(sim), repr(keys), repr(ev),
             json.dumps({k: v.tolist() for k, v in ev.as_columns().items()}),
             repr(log), json.dumps({k: v.tolist() for k, v in log.items()}), json.dumps(sim.platforms)]
    engine = IdentityEngine()
    engine.update(_snapshot(truth, 45.0), 45.0, iff=ev)
    shown.append(json.dumps(engine.to_json()))
    _assert_no_key(secrets, *shown, caplog.text)
    # and the scan can fail
    with pytest.raises(AssertionError):
        _assert_no_key(secrets, next(iter(secrets.values())).hex())
    for obj in (sim, keys):
        with pytest.raises(TypeError, match="cannot be pickled"):
            pickle.dumps(obj)
    sim.close()
    keys.close()
    assert keys.authenticator.key_ids == []      # wiped


def test_unit_keys_from_a_store(tmp_path, monkeypatch):
    from airpicture.identity.keystore import WrapSource

    path = tmp_path / "keys.apks"
    KeyStore.create(path, WrapSource.passphrase("correct horse battery"), scrypt_log2_n=14).close()
    monkeypatch.setenv("AIRPICTURE_KEYSTORE_PASSPHRASE", "correct horse battery")
    sc = _scenario(_target("F1", 45.0, 100.0, FRIEND))
    with UnitKeys.for_run(path) as keys:
        assert keys.summary()["keys"] == 1 and str(path) in keys.source
        sim, _truth, ev = _run(sc, keys, 15.0)
        assert ev.iff_authenticated.all()
        sim.close()


# --------------------------------------------------------------------------------------------------------------
# scenario files


def test_loader_keeps_the_interrogator_in_si():
    sc = _scenario(_target("F1", 45.0, 100.0, FRIEND),
                   radar_iff="{ sigma_azimuth_deg = 0.2, range_max_km = 250, slot_s = 1.5 }")
    cfg = sc.sensors[0].params["iff"]
    assert isinstance(cfg, InterrogatorConfig)
    assert cfg.sigma_azimuth_rad == pytest.approx(0.2 * D) and cfg.range_max_m == 250_000.0
    assert cfg.period_s == 10.0 and cfg.slot_s == 1.5 and cfg.reply_probability == 0.95 and cfg.memory_s == 30.0
    assert sc.targets[0].attributes["iff"] == {"mode3a": "4501", "mode5": True}   # kept as written


def test_demo_has_an_interrogator_and_impostors():
    sc = load_scenario("demo")
    (lr,) = [s for s in sc.sensors if "iff" in s.params]
    assert lr.name == "lr_radar" and lr.params["iff"].interrogate
    sim = IffSimulation(sc, NO_KEYS)
    keys = {name: p["key"] for name, p in sim.platforms.items()}
    assert keys["UAV-MALE"] == "wrong" and keys["DRONE-4"] == "replay"
    assert sim.platforms["DRONE-4"]["replay_of"] == "RESCUE7"
    assert {k for k, v in keys.items() if v == "valid"} == {"VIPER11", "VIPER12", "TIGER21", "TIGER22", "ROMAN41",
                                                            "RESCUE7"}
    sim.close()
    with UnitKeys.simulated() as unit:
        sim, truth, ev = _run(sc, unit, 260.0)
        by_name = {n: _row(ev, truth, n) for n in ("VIPER11", "RESCUE7", "TIGER21", "UAV-MALE", "DRONE-4")}
        assert all(by_name[n]["iff_authenticated"] for n in ("VIPER11", "RESCUE7", "TIGER21"))
        assert not by_name["UAV-MALE"]["iff_authenticated"] and not by_name["DRONE-4"]["iff_authenticated"]
        assert by_name["UAV-MALE"]["iff_failure"] == UNKNOWN_KEY and by_name["UAV-MALE"]["iff_mode3a"] == "4501"
        assert by_name["DRONE-4"]["iff_failure"] in (REPLAYED_NONCE, STALE_SLOT)
        drone = sim.summary()["platforms"]["DRONE-4"]
        refused = drone.get(REPLAYED_NONCE, 0) + drone.get(STALE_SLOT, 0)
        assert "authenticated" not in drone and drone["replies"] - 1 <= refused <= drone["replies"] and refused > 0
        sim.close()


def _error(text: str) -> InputError:
    with pytest.raises(InputError) as err:
        parse_scenario(text, source="bad.toml")
    return err.value


def _line(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize("target_iff, field, message", [
    ('{ mode3a = "4509" }', "targets[0].iff.mode3a", "4 octal digits"),
    ('{ mode3a = 12345 }', "targets[0].iff.mode3a", "4 octal digits"),
    ('{ mode3 = "4501" }', "targets[0].iff.mode3", "did you mean 'mode3a'"),
    ('{ key = "stolen" }', "targets[0].iff.key", "unknown key mode 'stolen'"),
    ('{ mode5 = false, key = "wrong" }', "targets[0].iff.key", "but mode5 = false"),
    ('{ mode5 = true, key = "none" }', "targets[0].iff.key", "contradicts mode5 = true"),
    ('{ mode5 = "yes" }', "targets[0].iff.mode5", "expected true or false"),
    ('{ mode_s = "xyz" }', "targets[0].iff.mode_s", "6 hex digits"),
    ('{ mode_s = true }', "targets[0].iff.mode_s", "needs an address"),
    ('{ replay_of = "F2" }', "targets[0].iff.replay_of", 'only for key = "replay"'),
    ('{ key = "replay", replay_of = "NOPE" }', "targets[0].iff.replay_of", "no target named 'NOPE'"),
    ('{ key = "replay", replay_of = "F3" }', "targets[0].iff.replay_of", "sends no valid authenticated reply"),
    ('{ key = "replay", replay_of = "T0" }', "targets[0].iff.replay_of", "cannot replay its own"),
    ('{ platform_id = "P2" }', "targets[1].iff.platform_id", "already used by targets[0]"),
    ('{ clock_offset_s = "late" }', "targets[0].iff.clock_offset_s", "expected a number"),
    ('5', "targets[0].iff", "expected a table"),
])
def test_target_iff_errors_name_file_line_and_field(target_iff, field, message):
    text = (_target("T0", 10.0, 50.0, target_iff)
            + _target("F2", 20.0, 50.0, '{ mode5 = true, platform_id = "P2" }')
            + _target("F3", 30.0, 50.0, '{ mode3a = "4501" }'))
    text = _scenario_text(text)
    err = _error(text)
    assert err.source == "bad.toml" and err.field == field and message in err.message, str(err)
    expected_line = _line(text, 'mode5 = true, platform_id = "P2"') if field.startswith("targets[1]") else \
        _line(text, f"iff = {target_iff}")
    assert err.line == expected_line, str(err)


def test_replay_needs_someone_to_record():
    err = _error(_scenario_text(_target("S", 10.0, 50.0, '{ key = "replay" }')))
    assert err.field == "targets[0].iff.key" and "needs a platform with a valid key" in err.message


@pytest.mark.parametrize("radar_iff, field, message", [
    ("{ reply_probability = 1.5 }", "sensors[0].iff.reply_probability", "outside [0, 1]"),
    ("{ slot_s = 0 }", "sensors[0].iff.slot_s", "outside (0, 3600]"),
    ("{ slot = 2 }", "sensors[0].iff.slot", "did you mean 'slot_s'"),
    ("{ interrogate = 1 }", "sensors[0].iff.interrogate", "expected true or false"),
    ("{ sigma_azimuth_deg = -0.1 }", "sensors[0].iff.sigma_azimuth_deg", "outside"),
    ('"yes"', "sensors[0].iff", "expected a table"),
])
def test_interrogator_errors_name_file_line_and_field(radar_iff, field, message):
    text = _scenario_text(_target("T0", 10.0, 50.0), radar_iff)
    err = _error(text)
    assert err.field == field and message in err.message and err.line == _line(text, "iff = "), str(err)


def test_only_a_radar_interrogates():
    text = _scenario_text("", "{}").replace('type = "radar"', 'type = "eo"').replace("scan_period_s = 10.0", "") \
        .replace("beamwidth_az_deg = 1.4", "").replace("start_azimuth_deg = 0.0", "")
    err = _error(text)
    assert err.field == "sensors[0].iff" and "sits with a radar" in err.message


def _scenario_text(targets: str, radar_iff: str = "{ reply_probability = 1.0 }") -> str:
    return f"""name = "bad"
duration_s = 60

[[sensors]]
name = "radar"
type = "radar"
lat = {RADAR[0]}
lon = {RADAR[1]}
scan_period_s = 10.0
start_azimuth_deg = 0.0
beamwidth_az_deg = 1.4
iff = {radar_iff}

{targets}
"""


def test_iff_columns_are_the_evidence_columns():
    assert tuple(IffEvidence.empty().as_columns())[1:] == IFF_COLUMNS
