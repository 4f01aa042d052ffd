"""ADS-B reports -> ECEF measurements: emitted frames against the truth, and the real short flight."""

from __future__ import annotations

import numpy as np
import pytest

from airpicture import geo
from airpicture.fusion import adsb_reports
from airpicture.fusion.adsb_measurements import (EPU_TO_SIGMA, NACP_EPU_M, NUCP_95_M, SOURCE_DEFAULT,
                                                  SOURCE_NACP, SOURCE_NUCP, SOURCE_PRIOR)
from airpicture.sources.decode import Decoded
from airpicture.modes.phantoms import ModeSFilter
from airpicture.sensors.adsb import emit_adsb
from airpicture.sources import decode_frames, read_file
from test_adsb_emitter import FLIGHTS, TABLES, straight_truth

FT = 0.3048
KT = 1852.0 / 3600.0
FPM = FT / 60.0
EPOCH = 1.7e9
DATA = "/work/shared/data/traffic_rs1090_full_flight_short.jsonl.gz"


def decode_emitted(truth, tables, duration_s, seed):
    emitted = emit_adsb(truth, tables, duration_s, np.random.default_rng(seed))
    batch = emitted.to_frame_batch(epoch_s=EPOCH)
    return emitted, batch, decode_frames(batch.frame, batch.time, reference=(52.0, 4.0))


@pytest.fixture(scope="module")
def small():
    truth = straight_truth(FLIGHTS[:6], duration_s=120.0)
    emitted, batch, dec = decode_emitted(truth, TABLES[:6], 120.0, 7)
    return truth, emitted, batch, dec, adsb_reports(dec, batch.frame)


@pytest.fixture(scope="module")
def many():
    """40 aircraft, NACp 8 and 9, 300 s, 10 s error correlation: enough for error statistics."""
    rng = np.random.default_rng(3)
    flights = [(50 + rng.uniform(-2, 2), 5 + rng.uniform(-3, 3), rng.uniform(3000, 11000),
                rng.uniform(-200, 200), rng.uniform(-200, 200), 0.0, 0.0, 1e9) for _ in range(40)]
    tables = [{"icao24": f"{0x400100 + i:06x}", "nacp": 8 + i % 2, "error_correlation_s": 10.0}
              for i in range(40)]
    truth = straight_truth(flights, duration_s=300.0)
    emitted, batch, dec = decode_emitted(truth, tables, 300.0, 11)
    return truth, tables, adsb_reports(dec, batch.frame)


def truth_index(emitted, reports):
    return emitted.truth_index[reports.row]


def horizontal_nees(truth, reports, index):
    """e^T C^-1 e over the east/north block of the ECEF covariance, e = report - truth (ECEF)."""
    p_true, v_true = truth.state_at(reports.time - EPOCH, index)
    err = reports.position_ecef - p_true
    lat, lon, _ = geo.ecef_to_geodetic(p_true)
    sl, cl, so, co = np.sin(lat), np.cos(lat), np.sin(lon), np.cos(lon)
    east = np.stack([-so, co, np.zeros_like(so)], axis=-1)
    north = np.stack([-sl * co, -sl * so, cl], axis=-1)
    up = np.stack([cl * co, cl * so, sl], axis=-1)
    basis = np.stack([east, north], axis=-1)                       # (n, 3, 2)
    e2 = np.einsum("nij,ni->nj", basis, err)
    c2 = np.einsum("nij,nik,nkl->njl", basis, reports.position_cov, basis)
    nees = np.einsum("ni,nij,nj->n", e2, np.linalg.inv(c2), e2)
    return nees, np.einsum("ni,ni->n", up, err), (east, north, up), v_true


def test_positions_follow_the_nacp_error_model(many):
    truth, tables, rep = many
    known = rep.accuracy_source == SOURCE_NACP
    assert known.mean() > 0.95 and len(rep) > 20000
    index = np.array([int(a, 16) - 0x400100 for a in rep.icao24])
    nees, dz, _, _ = horizontal_nees(truth, rep, index)
    nees = nees[known]
    # chi-square(2): mean 2, 99 % quantile -2 ln 0.01 = 9.21 (samples correlated over ~10 s: loose bounds)
    assert 1.8 < nees.mean() < 2.2
    assert 8.0 < np.quantile(nees, 0.99) < 10.5
    nacp = np.array([tables[i]["nacp"] for i in index])
    np.testing.assert_allclose(rep.horizontal_sigma_m[known], NACP_EPU_M[nacp[known]] * EPU_TO_SIGMA)
    # vertical: 25 ft steps, uniform: |error| <= half a step = sqrt(3) sigma
    assert np.all(np.abs(dz) <= 12.5 * FT + 0.01)
    np.testing.assert_allclose(rep.vertical_sigma_m, 25 * FT / np.sqrt(12))
    eig = np.linalg.eigvalsh(rep.position_cov)
    assert np.all(eig > 0)


def test_velocities_within_quantisation(small):
    truth, emitted, batch, dec, rep = small
    index = truth_index(emitted, rep)
    _, _, (east, north, up), _ = horizontal_nees(truth, rep, index)
    have = rep.has_velocity
    assert have.mean() > 0.99
    assert np.nanmax(rep.velocity_age_s) <= 1.5
    # truth velocity at the velocity message's own time (constant in ENU for these flights)
    _, v_true = truth.state_at(rep.time[have] - EPOCH - rep.velocity_age_s[have], index[have])
    dv = rep.velocity_ecef[have] - v_true
    de, dn, du = (np.einsum("ni,ni->n", b[have], dv) for b in (east, north, up))
    supersonic = np.abs(np.einsum("ni,ni->n", east[have], v_true)) > 1021.5 * KT
    half = np.where(supersonic, 2.0, 0.5) * KT + 0.01   # half a step per component (+ frame rotation)
    assert np.all(np.abs(de) <= half) and np.all(np.abs(dn) <= half)
    assert np.all(np.abs(du) <= 32 * FPM + 0.01)
    # NACv 2 (emitter default): 3 m/s 95 % horizontally
    sig = np.sqrt(np.einsum("ni,nij,nj->n", east[have], rep.velocity_cov[have], east[have]))
    step = np.where(supersonic, 4 * KT, KT)   # the fighter's first pair decodes before rs1090's speed check
    np.testing.assert_allclose(sig, np.hypot(3.0 * EPU_TO_SIGMA, step / np.sqrt(12)), rtol=1e-6)
    assert np.all(np.isnan(rep.velocity_ecef[~have]))


def test_identity_carried_forward(small):
    truth, emitted, batch, dec, rep = small
    defaults = {"squawk": "7000", "emergency": "none", "category": "A3"}
    squawks = {"unlawful_interference": "7500", "general": "7700", "no_communication": "7600"}
    seen = set()
    for i, table in enumerate(TABLES[:6]):
        mine = rep.icao24 == table["icao24"]
        if not mine.any():   # the fighter: rs1090 drops its positions (docs/adsb.md)
            continue
        seen.add(i)
        emergency = table.get("emergency", "none")
        want = {"callsign": table["callsign"], "category": table.get("category", defaults["category"]),
                "squawk": str(table.get("squawk", squawks.get(emergency, "7000"))), "emergency": emergency}
        t = rep.time[mine] - rep.time[mine][0]
        for column, value in want.items():
            got = getattr(rep, column)[mine]
            assert set(got) <= {value, ""}, (column, set(got))
            assert np.all(got[t > 6.0] == value), column   # every type is sent at least every 5.2 s
    assert seen >= {0, 1, 2, 3, 5}


def test_nacp_learned_from_operational_status(small):
    truth, emitted, batch, dec, rep = small
    learned_later = 0
    for table in TABLES[:6]:
        mine = np.flatnonzero(rep.icao24 == table["icao24"])
        if len(mine) < 10:   # the fighter
            continue
        op = (emitted.icao24 == table["icao24"]) & (emitted.type_code == 31)
        first_op = emitted.time[op].min() + EPOCH
        before, after = mine[rep.time[mine] < first_op], mine[rep.time[mine] >= first_op]
        learned_later += len(before) > 0
        assert len(after) > 0
        assert np.all(rep.accuracy_source[before] == SOURCE_DEFAULT)
        np.testing.assert_allclose(rep.horizontal_sigma_m[before], NACP_EPU_M[7] * EPU_TO_SIGMA)
        assert np.all(rep.accuracy_source[after] == SOURCE_NACP)
        nacp = table.get("nacp", 9)
        np.testing.assert_allclose(rep.horizontal_sigma_m[after], NACP_EPU_M[nacp] * EPU_TO_SIGMA)
        assert rep.nacp_by_icao[table["icao24"]] == nacp
    assert learned_later >= 2   # positions (first pair) before the first TC 31 for some aircraft
    # NACp 10 aircraft: the covariance shrinks once NACp is known
    q = rep.icao24 == "7c1234"
    traces = np.trace(rep.position_cov[q], axis1=1, axis2=2)
    assert traces.min() < traces.max() / 100 or rep.time[q][0] >= emitted.time[
        (emitted.icao24 == "7c1234") & (emitted.type_code == 31)].min() + EPOCH


def test_nacp_prior_and_batches(small):
    truth, emitted, batch, dec, rep = small
    table = {t["icao24"]: t.get("nacp", 9) for t in TABLES[:6]}
    prior = adsb_reports(dec, batch.frame, nacp_by_icao=table)
    early = rep.accuracy_source == SOURCE_DEFAULT
    assert early.sum() >= 2
    assert np.all(prior.accuracy_source[early] == SOURCE_PRIOR)
    assert np.all(prior.accuracy_source[~early] == SOURCE_NACP)
    want = np.array([table[a] for a in prior.icao24])
    np.testing.assert_allclose(prior.horizontal_sigma_m, NACP_EPU_M[want] * EPU_TO_SIGMA)
    # two batches, the learned NACp carried from the first into the second: same covariances after the cut
    half = len(batch) // 2
    first = decode_frames(batch.frame[:half], batch.time[:half], reference=(52.0, 4.0))
    second = decode_frames(batch.frame[half:], batch.time[half:], reference=(52.0, 4.0))
    r1 = adsb_reports(first, batch.frame[:half])
    r2 = adsb_reports(second, batch.frame[half:], nacp_by_icao=r1.nacp_by_icao)
    late = rep.row >= half
    keep = np.isin(rep.row[late] - half, r2.row)
    assert keep.mean() > 0.95
    match = np.isin(r2.row, rep.row[late] - half)
    np.testing.assert_allclose(r2.horizontal_sigma_m[match], rep.horizontal_sigma_m[late][keep])


def test_version_0_uses_nucp(small):
    """Operational status saying version 0 without NACp: the position type code's NUCp sets the covariance."""
    truth, emitted, batch, dec, rep = small
    messages = [dict(m) for m in dec.messages]
    for m in messages:
        if "version" in m:
            m["version"] = 0
            m.pop("NACp")
    v0 = adsb_reports(Decoded(dec.decoded, dec.columns, messages, dec.problems))   # frames from the messages
    assert np.array_equal(v0.row, rep.row)
    learned = rep.accuracy_source == SOURCE_NACP
    assert np.all(v0.accuracy_source[learned] == SOURCE_NUCP) and np.all(v0.nacp == -1)
    tc = np.array([int(f[8:10], 16) >> 3 for f in batch.frame[v0.row]])
    np.testing.assert_allclose(v0.horizontal_sigma_m[learned], NUCP_95_M[18 - tc[learned]] * EPU_TO_SIGMA)
    # before any status: the default, never tighter than the type code allows
    np.testing.assert_allclose(v0.horizontal_sigma_m[~learned], np.maximum(
        NACP_EPU_M[7], NUCP_95_M[18 - tc[~learned]]) * EPU_TO_SIGMA)
    assert v0.nacp_by_icao == {}


def test_filtered_positions(small):
    truth, emitted, batch, dec, rep = small
    out = ModeSFilter(reference=(np.radians(52.0), np.radians(4.0))).process(batch.time, batch.frame)
    ours = adsb_reports(dec, batch.frame, filtered=out)
    assert np.all(out.accepted[ours.row])
    # the North Sea flight, within the receiver's range of the reference (52 N 4 E)
    near = (ours.icao24 == "4ca7b5").sum()
    assert near >= 0.98 * (rep.icao24 == "4ca7b5").sum()
    # (the others fly 1000s of km from the reference, beyond the filter's receiver range: its receiver-reference
    # local decodes are wrong there by design, docs/sources.md)
    common, a, b = np.intersect1d(ours.row[ours.icao24 == "4ca7b5"], rep.row, return_indices=True)
    a = np.flatnonzero(ours.icao24 == "4ca7b5")[a]
    assert len(common) >= 0.98 * near
    np.testing.assert_allclose(ours.position_ecef[a], rep.position_ecef[b], atol=0.5)


def test_real_recording_reports_are_sane():
    frames = read_file(DATA).frames
    n = 20000
    dec = decode_frames(frames.frame[:n], frames.time[:n], reference=(49.0, 2.55))
    rep = adsb_reports(dec, frames.frame[:n])
    assert len(rep) > 500
    assert np.all(np.diff(rep.time) >= 0)
    assert np.all(np.isfinite(rep.position_ecef)) and np.all(np.isfinite(rep.position_cov))
    assert np.all(np.linalg.eigvalsh(rep.position_cov) > 0)
    np.testing.assert_allclose(rep.position_cov, np.swapaxes(rep.position_cov, 1, 2))
    v = rep.has_velocity
    assert v.mean() > 0.9
    assert np.all(np.isfinite(rep.velocity_cov[v])) and np.all(np.linalg.eigvalsh(rep.velocity_cov[v]) > 0)
    # near Paris CDG, below 45,000 ft, subsonic
    assert np.all(geo.haversine_m(rep.latitude_rad, rep.longitude_rad, np.radians(49.0), np.radians(2.55)) < 400e3)
    assert np.all((rep.altitude_m > -500) & (rep.altitude_m < 14000))
    assert np.all(np.linalg.norm(rep.velocity_ecef[v], axis=1) < 350)
    assert set(rep.icao24) == {"393322"} and set(rep.callsign) <= {"AFR34ZG", ""}
    assert np.all(rep.horizontal_sigma_m > 0) and np.all(rep.horizontal_sigma_m < 40e3)


def test_no_positions():
    """Empty input, a lone TC 31 (NACp learned, no report), a DF11: empty columns of the right shapes."""
    for frames, learned in (([], {}), (["8d4ca7b5f80000020049b869af4b"], {"4ca7b5": 9}), (["5d4ca7b5abcdef"], {})):
        dec = decode_frames(frames, np.arange(len(frames), dtype=float) + EPOCH)
        rep = adsb_reports(dec, frames)
        assert len(rep) == 0 and rep.position_cov.shape == (0, 3, 3) and rep.velocity_ecef.shape == (0, 3)
        assert rep.nacp_by_icao == learned
