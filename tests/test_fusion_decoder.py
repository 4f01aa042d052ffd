"""TransponderDecoder: our filter first, rs1090 only for contents; the same reports as decoding everything."""

from __future__ import annotations

import numpy as np
import pytest

from _sources_data import LONG_FLIGHT, TUTORIAL, jsonl_records, sbs_rows
from airpicture.fusion import adsb_reports
from airpicture.fusion.decoder import TransponderDecoder
from airpicture.modes.phantoms import ModeSFilter
from airpicture.sources import decode_frames, read_file

TOULOUSE = (43.63, 1.37)


@pytest.fixture(scope="module")
def long_flight():
    frames = read_file(LONG_FLIGHT).frames
    decoder = TransponderDecoder(reference=TOULOUSE)
    return frames, decoder, decoder.process(frames)


def test_same_reports_as_rs1090_on_every_frame(long_flight):
    """rs1090 on every frame + the filter's positions (adsb_reports) against rs1090 on ~3 % of them."""
    frames, decoder, rep = long_flight
    out = ModeSFilter(reference=np.radians(TOULOUSE)).process(frames.time, frames.frame)
    dec = decode_frames(frames.frame, frames.time)
    full = adsb_reports(dec, frames.frame, filtered=out)
    assert len(rep) == len(full) == 12934
    assert np.array_equal(rep.row, full.row) and np.array_equal(rep.icao24, full.icao24)
    np.testing.assert_array_equal(rep.position_ecef, full.position_ecef)
    np.testing.assert_array_equal(rep.position_cov, full.position_cov)
    assert np.array_equal(rep.has_velocity, full.has_velocity)
    np.testing.assert_array_equal(rep.velocity_ecef, full.velocity_ecef)
    np.testing.assert_array_equal(rep.velocity_cov, full.velocity_cov)
    for name in ("squawk", "emergency", "category", "nacp", "accuracy_source"):
        assert np.array_equal(getattr(rep, name), getattr(full, name)), name
    # callsigns: DF17/18 identification only (the full path also reads Comm-B BDS 2,0 replies)
    have = rep.callsign != ""
    assert have.mean() > 0.9 and np.array_equal(rep.callsign[have], full.callsign[have])
    c = decoder.counts
    assert c["messages"] == len(frames) and c["positions"] == len(rep) and c["phantoms"] == 49
    assert c["crc_rejected"] == 0 and c["decoded"] == len(frames) - 49
    assert c["decoded_by_rs1090"] < 0.05 * len(frames)


def test_chunks_give_the_same_reports(long_flight):
    frames, _, rep = long_flight
    decoder = TransponderDecoder(reference=TOULOUSE)
    size = 3001
    parts = [decoder.process(frames.take(slice(i, i + size))) for i in range(0, len(frames), size)]
    row = np.concatenate([p.row + i * size for i, p in zip(range(len(parts)), parts)])
    order = np.argsort(row, kind="stable")
    ref = np.argsort(rep.row, kind="stable")
    assert np.array_equal(row[order], rep.row[ref])
    for name in ("position_ecef", "velocity_ecef", "position_cov"):
        np.testing.assert_allclose(np.concatenate([getattr(p, name) for p in parts])[order],
                                   getattr(rep, name)[ref], rtol=1e-12, atol=1e-6)
    for name in ("has_velocity", "callsign", "squawk", "category", "nacp"):
        assert np.array_equal(np.concatenate([getattr(p, name) for p in parts])[order], getattr(rep, name)[ref]), name
    assert decoder.counts["decoded"] == long_flight[1].counts["decoded"]


def test_identity_table(long_flight):
    _, decoder, rep = long_flight
    table = decoder.identity_table()
    i = list(table["icao24"]).index("486257")
    assert table["callsign"][i] == "KLM1302" and table["category"][i] == "A3"
    assert np.isfinite(table["callsign_time"][i])
    assert set(np.unique(rep.icao24)) <= set(table["icao24"])


def test_sbs_fields_are_used(tmp_path):
    records = jsonl_records(TUTORIAL, 20000)
    rows = sbs_rows(records)
    path = tmp_path / "tutorial.sbs"
    path.write_bytes(b"\n".join(r for r, _ in rows) + b"\n")
    frames = read_file(path).frames
    decoder = TransponderDecoder()
    rep = decoder.process(frames)
    with_pos = [r for _, r in rows if r.get("latitude") is not None and r.get("altitude") is not None]
    assert len(rep) == len(with_pos) > 1000
    np.testing.assert_allclose(np.degrees(rep.latitude_rad), [r["latitude"] for r in with_pos], atol=1e-9)
    assert rep.has_velocity.mean() > 0.5
    assert decoder.counts["from_fields"] == len(frames) and decoder.counts["decoded_by_rs1090"] == 0
    calls = {r["icao24"]: r["callsign"] for _, r in rows if r.get("callsign")}
    for icao, callsign in calls.items():
        assert decoder.identity[icao]["callsign"][0] == callsign
