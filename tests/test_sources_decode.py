"""Decoding through rs1090, checked against the decoded fields jet1090 stored next to each raw frame."""

from __future__ import annotations

import gzip
import math

import numpy as np
import pytest
from _sources_data import FULL_FLIGHT, LONG_FLIGHT, TUTORIAL

from airpicture.sources import decode_frames, make_parser, read_file

DEG = math.pi / 180
TOULOUSE = (43.63, 1.37)  # the tutorial's receiver area
PARIS_CDG = (49.01, 2.55)  # where the short full flight starts, on the ground


@pytest.mark.parametrize("path, reference", [(TUTORIAL, TOULOUSE), (FULL_FLIGHT, PARIS_CDG)],
                         ids=["tutorial", "flight"])
def test_decoding_agrees_with_the_jet1090_reference(path, reference):
    # one test per file, the checks below in turn: decoding a file costs seconds, and xdist would repeat a
    # module fixture on every worker
    frames = read_file(path).frames
    decoded_and_reference = decode_frames(frames.frame, frames.time, reference=reference), frames
    check_every_frame_decodes_and_rows_align(decoded_and_reference)
    check_positions_agree_with_the_reference(decoded_and_reference)
    check_airborne_velocity_identification_and_df17_altitude_agree(decoded_and_reference)
    check_surveillance_replies_agree_where_plausible(decoded_and_reference)


def check_every_frame_decodes_and_rows_align(decoded_and_reference):
    decoded, frames = decoded_and_reference
    assert decoded.decoded.all() and decoded.problems.counts == {}
    np.testing.assert_array_equal(decoded["df"], frames.fields["df"])
    assert list(decoded["icao24"]) == list(frames.fields["icao24"])
    extended = np.isin(frames.fields["df"], (17, 18))  # Comm-B (DF20/21) BDS inference moved between versions
    assert list(decoded["bds"][extended]) == list(frames.fields["bds"][extended])


def check_positions_agree_with_the_reference(decoded_and_reference):
    decoded, frames = decoded_and_reference
    ours, theirs = decoded["latitude_rad"], frames.fields["latitude_rad"]
    both = np.isfinite(ours) & np.isfinite(theirs)
    assert both.sum() >= 0.98 * np.isfinite(theirs).sum()
    assert not (np.isfinite(ours) & ~np.isfinite(theirs)).any()
    tolerance = 1e-6 * DEG
    np.testing.assert_allclose(ours[both], theirs[both], rtol=0, atol=tolerance)
    np.testing.assert_allclose(decoded["longitude_rad"][both], frames.fields["longitude_rad"][both], rtol=0,
                               atol=tolerance)


def check_airborne_velocity_identification_and_df17_altitude_agree(decoded_and_reference):
    decoded, frames = decoded_and_reference
    airborne_velocity = frames.fields["bds"] == "09"
    assert airborne_velocity.sum() > 1000
    for name in ("groundspeed_mps", "track_rad", "vertical_rate_mps"):
        np.testing.assert_array_equal(decoded[name][airborne_velocity], frames.fields[name][airborne_velocity])
    ident = frames.fields["bds"] == "08"
    # one garbled identification in the tutorial reads '#SXIV##M' here and '#SXIV##' in the older reference
    assert np.count_nonzero(decoded["callsign"][ident] != frames.fields["callsign"][ident]) <= 1
    extended = np.isin(frames.fields["df"], (17, 18)) & np.isfinite(frames.fields["altitude_m"])
    np.testing.assert_array_equal(decoded["altitude_m"][extended], frames.fields["altitude_m"][extended])
    # surface movement (BDS 0,6): track identical; ground speed within one step of the coarsest quantisation
    # (the reference came from an older rs1090 whose speed table differs slightly)
    surface = (frames.fields["bds"] == "06") & np.isfinite(frames.fields["groundspeed_mps"])
    np.testing.assert_array_equal(decoded["track_rad"][surface], frames.fields["track_rad"][surface])
    assert np.all(np.abs(decoded["groundspeed_mps"][surface] - frames.fields["groundspeed_mps"][surface])
                  <= 7 * 1852 / 3600)


def check_surveillance_replies_agree_where_plausible(decoded_and_reference):
    # DF4/5/20/21 carry no CRC of their own (the address is in the parity), so garbled replies decode to
    # nonsense in either version; the great majority must agree.
    decoded, frames = decoded_and_reference
    for name, dfs in (("altitude_m", (0, 4, 20)), ("squawk", (5, 21))):
        rows = np.isin(frames.fields["df"], dfs)
        ours, theirs = decoded[name][rows], frames.fields[name][rows]
        if ours.dtype == object:
            both = (ours != "") & (theirs != "")
        else:
            both = np.isfinite(ours) & np.isfinite(theirs) & (theirs != 0)
        assert both.sum() > 100
        assert np.mean(ours[both] == theirs[both]) > 0.99


def test_beast_hex_recording_decodes_fully_with_thirty_aircraft():
    frames = read_file(LONG_FLIGHT).frames
    assert len(frames) == 172_432
    decoded = decode_frames(frames.frame, frames.time)
    assert decoded.decoded.sum() == 172_432
    addressed = np.isin(decoded["df"], (11, 17, 18))
    assert len(set(decoded["icao24"][addressed])) == 30
    assert "486257" in set(decoded["icao24"])  # KLM1302, the receiver's own aircraft
    dfs = set(np.unique(decoded["df"]).tolist())
    assert dfs == {0, 4, 5, 11, 16, 17, 18, 20, 21}
    own = (decoded["icao24"] == "486257") & np.isfinite(decoded["latitude_rad"])
    assert own.sum() > 1000
    # Toulouse -> Amsterdam
    assert decoded["latitude_rad"][own][0] < 45 * DEG < 52 * DEG < decoded["latitude_rad"][own][-1] + 1 * DEG


def test_bad_rows_are_counted_and_rows_stay_aligned():
    good = "8d4840d6202cc371c32ce0576098"  # identification, KLM1023 (a well-known test frame)
    crc_broken = "8d4840d6202cc371c32ce0576099"
    frames = ["zz", good, "8d48", None, crc_broken, "8d4840d6202cc371c32ce057609", good, "", good]
    times = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, np.nan, 8.0, 9.0]
    decoded = decode_frames(frames, times)
    assert list(decoded.decoded) == [False, True, False, False, False, False, False, False, True]
    assert decoded.problems.counts == {"not_mode_s": 5, "bad_time": 1, "undecoded": 1}
    assert decoded["callsign"][1] == decoded["callsign"][8] == "KLM1023"
    assert decoded["icao24"][1] == "4840d6" and decoded["icao24"][4] == ""
    assert decoded["df"][8] == 17 and decoded["df"][4] == -1


def test_frame_and_time_counts_must_match():
    with pytest.raises(ValueError):
        decode_frames(["8d4840d6202cc371c32ce0576098"], [1.0, 2.0])


class FakePanic(BaseException):
    """Stands for pyo3_runtime.PanicException, which derives from BaseException."""


def test_a_decoder_panic_costs_only_the_frame_that_causes_it(monkeypatch):
    import airpicture.sources.decode as decode_module

    real = decode_module.rs1090.decode
    poison = "8d4840d6202cc371c32ce0576098"

    def fragile(messages, *args, **kwargs):
        if poison in messages:
            raise FakePanic("called `Result::unwrap()` on an `Err` value")
        return real(messages, *args, **kwargs)

    monkeypatch.setattr(decode_module.rs1090, "decode", fragile)
    parser = make_parser("jsonl", source="tutorial")
    frames = parser.feed(b"\n".join(gzip.open(TUTORIAL).read(200_000).split(b"\n")[:300]) + b"\n")
    assert len(frames) == 300
    hexes = list(frames.frame)
    hexes[17] = poison
    decoded = decode_frames(hexes, frames.time)
    assert decoded.problems.counts == {"decoder_panic": 1}
    assert decoded.problems.first["decoder_panic"].endswith("row 17")
    assert not decoded.decoded[17] and decoded.decoded.sum() == 299
    assert list(decoded["icao24"][:17]) == list(frames.fields["icao24"][:17])
    assert list(decoded["icao24"][18:]) == list(frames.fields["icao24"][18:])
