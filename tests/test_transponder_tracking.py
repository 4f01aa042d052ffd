"""Transponder (ADS-B) reports in the multi-sensor tracker: identity-first association, fusion with radar,
transponder-only tracks, number memory, restarts, late reports, report merging."""

from types import SimpleNamespace

import numpy as np
import pytest

from airpicture import geo
from airpicture.errors import InputError
from airpicture.measurements import SensorSite
from airpicture.tracking.sensor_tracker import SensorTracker, TrackerConfig
from airpicture.tracking.transponder import addresses_to_hex, addresses_to_int, compress_reports
from airpicture.tracks import COASTING, CONFIRMED

from _tracker_sim import DEG, great_circle_truth, radar_site, simulate_radar

SIGMA_H = 20.0  # horizontal 1-sigma per axis of the simulated reports, m
SIGMA_V = 8.0


def adsb_site(index=0):
    return SensorSite("adsb", "adsb", 43.6 * DEG, 1.4 * DEG, 150.0, {}, index)


def reports(state, times, address, rng, *, with_velocity=True, sigma_h=SIGMA_H):
    """Noisy ECEF position (and velocity) reports of one aircraft at the given times."""
    times = np.asarray(times, float)
    pos, vel = [], []
    for t in times:
        p, v = state(t)
        pos.append(p[0])
        vel.append(v[0])
    pos, vel = np.array(pos), np.array(vel)
    lat, lon, _ = geo.ecef_to_geodetic(pos)
    basis = np.stack([geo.enu_rotation(a, b) for a, b in zip(lat, lon)])  # rows e, n, u
    cov_enu = np.diag([sigma_h ** 2, sigma_h ** 2, SIGMA_V ** 2])
    cov = np.swapaxes(basis, 1, 2) @ cov_enu @ basis
    noise = np.einsum("kji,kj->ki", basis, rng.normal(size=(times.size, 3)) * [sigma_h, sigma_h, SIGMA_V])
    vcov = np.swapaxes(basis, 1, 2) @ np.diag([1.0, 1.0, 0.5]) @ basis
    vnoise = np.einsum("kji,kj->ki", basis, rng.normal(size=(times.size, 3)) * [1.0, 1.0, 0.5])
    n = times.size
    return SimpleNamespace(
        time=times, address=np.full(n, address, np.int64), position_ecef=pos + noise, position_cov=cov,
        has_velocity=np.full(n, with_velocity), velocity_ecef=np.where(with_velocity, vel + vnoise, np.nan),
        velocity_cov=np.where(with_velocity, vcov, np.nan), truth=pos)


def concat(*parts):
    keys = ("time", "address", "position_ecef", "position_cov", "has_velocity", "velocity_ecef", "velocity_cov",
            "truth")
    return SimpleNamespace(**{k: np.concatenate([getattr(p, k) for p in parts]) for k in keys})


def fly(tracker, plots, adsb, t_end, *, radar_until=np.inf, look_at=None, each_second=None):
    """Radar plots then transponder reports, one second at a time, as the pipeline feeds them. Returns the
    snapshot taken at ``look_at`` (before that second's data)."""
    seen = None
    for t0 in np.arange(0.0, t_end, 1.0):
        if look_at is not None and t0 == look_at:
            seen = tracker.snapshot(t0)
        sl = (plots.time >= t0) & (plots.time < t0 + 1) & (plots.time < radar_until)
        tracker.process(plots.take(np.flatnonzero(sl)))
        rs = (adsb.time >= t0) & (adsb.time < t0 + 1)
        tracker.process_reports(SimpleNamespace(**{k: v[rs] for k, v in vars(adsb).items()}))
        if each_second is not None:
            each_second(t0 + 1)
    return seen


def horizontal_error(snap, state):
    pos, _ = state(float(snap.time[0]))
    return float(np.linalg.norm(snap.position[0] - pos[0]))


def test_address_conversions_round_trip():
    hexes = np.array(["4ca216", "", "zz", "000001", "4ca216"], dtype=object)
    ints = addresses_to_int(hexes)
    assert ints.tolist() == [0x4CA216, -1, -1, 1, 0x4CA216]
    assert addresses_to_hex(ints).tolist() == ["4ca216", "", "", "000001", "4ca216"]


def test_merged_reports_follow_a_turn_exactly_under_constant_acceleration():
    # A 3 deg/s level turn at 230 m/s, sampled at 2 Hz: velocity changes linearly over a short window, so
    # carrying each report along the mean of its and the last velocity lands on the true position.
    w, v0 = 3 * DEG, 230.0
    t = np.arange(0.0, 10.0, 0.5)
    a = v0 * w  # centripetal acceleration magnitude

    def truth(tt):
        # constant-acceleration approximation over the whole run (exact for the test's own model)
        return np.stack([v0 * tt, 0.5 * a * tt ** 2, np.zeros_like(tt)], axis=-1), np.stack(
            [np.full_like(tt, v0), a * tt, np.zeros_like(tt)], axis=-1)

    pos, vel = truth(t)
    n = t.size
    cov = np.repeat(np.eye(3)[None] * 100.0, n, axis=0)
    out = compress_reports(t, np.full(n, 7, np.int64), pos + 6.4e6 * np.array([0, 0, 1.0]), cov, np.ones(n, bool),
                           vel, cov * 0.01, 2.0)
    tm, addr, mpos, mcov, hv, mvel, _ = out
    assert tm.tolist() == [1.5, 3.5, 5.5, 7.5, 9.5]  # windows [0, 2), [2, 4) ... closed by their last report
    exp_pos, exp_vel = truth(tm)
    np.testing.assert_allclose(mpos - [0, 0, 6.4e6], exp_pos, atol=1e-6)
    np.testing.assert_allclose(mvel, exp_vel, atol=1e-9)
    np.testing.assert_allclose(mcov, cov[:5])  # not divided by the number of reports merged
    assert hv.all() and (addr == 7).all()


def test_a_window_without_velocity_keeps_its_last_report_alone():
    t = np.array([0.0, 0.5, 1.0, 1.5])
    pos = np.array([[0.0, 0, 0], [100, 0, 0], [200, 0, 0], [290, 0, 0]]) + [6.4e6, 0, 0]
    cov = np.repeat(np.eye(3)[None], 4, axis=0)
    tm, _, mpos, _, hv, mvel, _ = compress_reports(t, np.zeros(4, np.int64), pos, cov, np.zeros(4, bool),
                                                   np.full((4, 3), np.nan), np.full((4, 3, 3), np.nan), 2.0)
    assert tm.tolist() == [1.5]
    np.testing.assert_allclose(mpos[0], pos[-1])
    assert not hv[0] and np.isnan(mvel).all()


def test_one_aircraft_gives_one_confirmed_transponder_only_track_with_its_address():
    rng = np.random.default_rng(1)
    state = great_circle_truth(43.8, 1.6, 70.0, 220.0, 9000.0)
    tr = SensorTracker([adsb_site()], TrackerConfig())
    tr.process_reports(reports(state, np.arange(0, 120, 0.5), 0x4CA216, rng))
    snap = tr.snapshot(120.0)
    assert len(snap) == 1
    assert snap.status[0] == CONFIRMED
    assert snap.extra["icao24"][0] == "4ca216"
    assert bool(snap.extra["transponder_only"][0])
    assert snap.extra["source_mask"][0] == 1
    # merged reports keep one report's covariance, so the error is around one report's, well under 3 sigma
    assert horizontal_error(snap, state) < 3 * SIGMA_H * np.sqrt(2)
    c = tr.transponder_counts
    assert c["reports"] == 240 and c["new_tracks"] == 1 and c["merged"] == 240 - 60 and c["updates"] == 59


def test_reports_are_used_one_by_one_when_merging_is_off():
    rng = np.random.default_rng(2)
    state = great_circle_truth(43.8, 1.6, 70.0, 220.0, 9000.0)
    tr = SensorTracker([adsb_site()], TrackerConfig(adsb_update_interval_s=0.0), record_updates=True)
    tr.process_reports(reports(state, np.arange(0, 30, 0.5), 0x10, rng))
    log = tr.update_log()
    assert len(log) == 60 and set(log.extra["icao24"]) == {"000010"}
    np.testing.assert_array_equal(log.time, np.arange(0, 30, 0.5))


def test_aircraft_are_kept_apart_by_address_even_when_close():
    rng = np.random.default_rng(3)
    a = great_circle_truth(43.8, 1.6, 90.0, 220.0, 9000.0)
    b = great_circle_truth(43.8005, 1.6, 90.0, 220.0, 9100.0)  # 55 m north, 100 m above: inside any gate
    t = np.arange(0, 60, 0.5)
    tr = SensorTracker([adsb_site()], TrackerConfig())
    tr.process_reports(concat(reports(a, t, 1, rng), reports(b, t + 0.25, 2, rng)))
    snap = tr.snapshot(60.0)
    assert sorted(snap.extra["icao24"]) == ["000001", "000002"]
    assert len(set(snap.track_id)) == 2


def test_radar_track_takes_the_address_and_both_sensors_feed_it():
    rng = np.random.default_rng(4)
    radar = radar_site("r", 43.6, 1.4, 100.0, index=0)
    state = great_circle_truth(43.9, 1.8, 200.0, 200.0, 6000.0)
    tr = SensorTracker([radar, adsb_site(index=1)], TrackerConfig())
    plots = simulate_radar(radar, state, 200.0, rng)
    adsb = reports(state, np.arange(60.0, 200.0, 0.5), 0x3C6444, rng)
    seen = fly(tr, plots, adsb, 200.0, look_at=60.0)
    assert len(seen) == 1 and seen.extra["icao24"][0] == ""
    radar_id = seen.track_id[0]
    snap = tr.snapshot(200.0)
    assert len(snap) == 1
    assert snap.track_id[0] == radar_id  # the radar track kept its number and took the address
    assert snap.extra["icao24"][0] == "3c6444"
    assert snap.extra["source_mask"][0] == 0b11 and not snap.extra["transponder_only"][0]
    assert tr.transponder_counts["radar_tracks_identified"] == 1
    assert tr.transponder_counts["new_tracks"] == 0


def test_radar_silence_does_not_coast_a_track_whose_transponder_reports():
    rng = np.random.default_rng(5)
    radar = radar_site("r", 43.6, 1.4, 100.0, index=0)
    state = great_circle_truth(43.9, 1.8, 200.0, 200.0, 6000.0)
    tr = SensorTracker([radar, adsb_site(index=1)], TrackerConfig())
    plots = simulate_radar(radar, state, 200.0, rng)
    adsb = reports(state, np.arange(0.0, 200.0, 0.5), 0x3C6444, rng)
    statuses = []
    # the radar loses the aircraft after 80 s (e.g. a low-RCS target): only empty scans from then on
    fly(tr, plots, adsb, 200.0, radar_until=80.0,
        each_second=lambda t: statuses.append(tr.snapshot(t).status.tolist()) if t > 100 else None)
    assert len(statuses) == 100 and all(s == [CONFIRMED] for s in statuses)
    snap = tr.snapshot(200.0)
    assert bool(snap.extra["transponder_only"][0])  # the radar no longer feeds it


def test_a_silent_transponder_track_coasts_then_goes_and_gets_its_number_back():
    rng = np.random.default_rng(6)
    state = great_circle_truth(43.8, 1.6, 70.0, 220.0, 9000.0)
    cfg = TrackerConfig(adsb_coast_after_s=15.0, adsb_drop_after_s=60.0)
    tr = SensorTracker([adsb_site()], cfg)
    tr.process_reports(reports(state, np.arange(0, 30, 0.5), 0xABC, rng))
    number = tr.snapshot(30.0).track_id[0]
    tr.expire(40.0)
    assert tr.snapshot(40.0).status.tolist() == [CONFIRMED]
    tr.expire(50.0)
    assert tr.snapshot(50.0).status.tolist() == [COASTING]
    tr.expire(91.0)
    assert len(tr.snapshot(91.0)) == 0
    tr.process_reports(reports(state, np.arange(200, 230, 0.5), 0xABC, rng))
    snap = tr.snapshot(230.0)
    assert snap.track_id.tolist() == [number]
    assert tr.transponder_counts["renumbered"] == 1


def test_a_report_far_from_its_track_restarts_the_state_and_keeps_the_number():
    rng = np.random.default_rng(7)
    a = great_circle_truth(43.8, 1.6, 70.0, 220.0, 9000.0)
    b = great_circle_truth(44.5, 2.5, 250.0, 220.0, 9000.0)  # ~110 km away
    tr = SensorTracker([adsb_site()], TrackerConfig())
    tr.process_reports(reports(a, np.arange(0, 30, 0.5), 5, rng))
    number = tr.snapshot(30.0).track_id[0]
    tr.process_reports(reports(b, np.arange(30, 60, 0.5), 5, rng))
    snap = tr.snapshot(60.0)
    assert snap.track_id.tolist() == [number]
    assert horizontal_error(snap, b) < 200.0
    assert tr.transponder_counts["restarted"] == 1
    assert snap.extra["restarts"].tolist() == [1]
    assert 80e3 < snap.extra["last_jump_m"][0] < 150e3 and 30.0 <= snap.extra["last_jump_time"][0] < 32.0


def test_a_report_older_than_its_track_is_carried_forward_not_predicted_backwards():
    rng = np.random.default_rng(8)
    state = great_circle_truth(43.8, 1.6, 70.0, 220.0, 9000.0)
    tr = SensorTracker([adsb_site()], TrackerConfig(adsb_update_interval_s=0.0), record_updates=True)
    tr.process_reports(reports(state, np.arange(0, 20, 0.5), 9, rng))
    tr.process_reports(reports(state, [19.2], 9, rng))  # 0.3 s older than the track's state
    tr.process_reports(reports(state, [15.0], 9, rng))  # 4.5 s older: beyond adsb_max_lag_s
    c = tr.transponder_counts
    assert c["late"] == 1 and c["too_late"] == 1
    log = tr.update_log()
    assert np.all(np.diff(log.time) >= 0)  # no state ever went back in time
    assert horizontal_error(tr.snapshot(19.5), state) < 3 * SIGMA_H * np.sqrt(2)


def test_transponder_reports_need_an_adsb_site_and_stay_out_of_process():
    rng = np.random.default_rng(9)
    state = great_circle_truth(43.8, 1.6, 70.0, 220.0, 9000.0)
    radar = radar_site("r", 43.6, 1.4, 100.0)
    with pytest.raises(InputError, match="no 'adsb' sensor"):
        SensorTracker([radar]).process_reports(reports(state, [0.0], 1, rng))
    tr = SensorTracker([radar, adsb_site(index=1)])
    plots = simulate_radar(radar, state, 8.0, rng)
    plots.sensor[:] = 1
    with pytest.raises(InputError, match="process_reports"):
        tr.process(plots)
    bad = reports(state, [0.0, 1.0], 1, rng)
    bad.position_ecef[1] = np.nan
    with pytest.raises(InputError, match="1 transponder report"):
        tr.process_reports(bad)


@pytest.mark.parametrize("interval", [0.0, 2.0])
def test_compiled_sequence_equals_the_numpy_rounds(interval):
    # Three aircraft: one straight, one turning at 3 deg/s, one with a restart and late / too-late reports,
    # some without velocity - the compiled per-aircraft sequence must take the same decisions and reach the
    # same states as the NumPy round-by-round reference path.
    rng = np.random.default_rng(10)
    a = great_circle_truth(43.8, 1.6, 70.0, 220.0, 9000.0)
    b_lat, b_lon = 44.0 * DEG, 1.0 * DEG

    def b(t):  # a level 3 deg/s turn of 180 m/s radius ~3.4 km around (b_lat, b_lon)
        w, r = 3 * DEG, 180.0 / (3 * DEG)
        ang = w * np.asarray(t, float)
        e, n = r * np.cos(ang), r * np.sin(ang)
        ve, vn = -r * w * np.sin(ang), r * w * np.cos(ang)
        rot = geo.enu_rotation(b_lat, b_lon)
        origin = geo.geodetic_to_ecef(b_lat, b_lon, 5000.0)
        return (origin + np.array([e, n, 0.0]) @ rot)[None], (np.array([ve, vn, 0.0]) @ rot)[None]

    c = great_circle_truth(44.5, 2.5, 250.0, 220.0, 9000.0)
    t = np.arange(0, 90, 0.5)
    ra = reports(a, t, 1, rng)
    rb = reports(b, t + 0.1, 2, rng, with_velocity=True)
    rb.has_velocity[::7] = False
    rb.velocity_ecef[::7] = np.nan
    rb.velocity_cov[::7] = np.nan
    rc1 = reports(c, t[:60], 3, rng)
    rc2 = reports(a, t[60:], 3, rng)  # address 3 jumps onto another path: a restart
    first = concat(ra, rb, rc1, rc2)
    second = concat(reports(a, [89.2, 85.0, 95.0], 1, rng), reports(b, [95.0, 96.0], 2, rng))  # late, too late
    results = []
    for kernel in (False, True):
        tr = SensorTracker([adsb_site()], TrackerConfig(adsb_update_interval_s=interval), record_updates=True)
        tr.sequence_kernel = kernel
        tr.process_reports(first)
        tr.process_reports(second)
        results.append((tr.snapshot(100.0), tr.update_log(), dict(tr.transponder_counts), tr))
    (s0, l0, c0, t0), (s1, l1, c1, t1) = results
    assert c0 == c1
    assert c0["restarted"] >= 1 and c0["late"] >= 1 and c0["too_late"] >= 1
    np.testing.assert_array_equal(s0.track_id, s1.track_id)
    np.testing.assert_array_equal(s0.status, s1.status)
    np.testing.assert_allclose(s1.position, s0.position, rtol=0, atol=1e-6)
    np.testing.assert_allclose(s1.velocity, s0.velocity, rtol=0, atol=1e-8)
    np.testing.assert_allclose(s1.position_cov, s0.position_cov, rtol=1e-7, atol=1e-8)
    # the same updates, with the same times, states and statuses (the order differs: rounds vs aircraft)
    k0 = np.lexsort((l0.time, l0.track_id))
    k1 = np.lexsort((l1.time, l1.track_id))
    assert len(l0) == len(l1)
    np.testing.assert_array_equal(l0.track_id[k0], l1.track_id[k1])
    np.testing.assert_allclose(l1.time[k1], l0.time[k0], atol=0)
    np.testing.assert_array_equal(l0.status[k0], l1.status[k1])
    np.testing.assert_allclose(l1.position[k1], l0.position[k0], rtol=0, atol=1e-6)
    np.testing.assert_allclose(t1.table.mu[t1.table.active_slots()], t0.table.mu[t0.table.active_slots()],
                               atol=1e-9)
    np.testing.assert_allclose(s1.extra["last_jump_m"], s0.extra["last_jump_m"], rtol=1e-9)
    np.testing.assert_array_equal(s1.extra["restarts"], s0.extra["restarts"])
    for name in ("n_hits", "age_scans", "hit_bits", "misses", "n_updates", "last_update_time"):
        np.testing.assert_array_equal(t1.table[name][t1.table.active_slots()],
                                      t0.table[name][t0.table.active_slots()], err_msg=name)
