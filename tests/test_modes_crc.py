"""CRC-24: real frames from the rs1090 long-flight recording, bit flips, addresses against rs1090."""

from functools import lru_cache

import numpy as np
import pytest
import rs1090

from airpicture.modes import crc
from airpicture.sources import read_file

RECORDING = "/work/shared/data/rs1090_long_flight.csv.gz"


@lru_cache(maxsize=1)
def frames():
    f = read_file(RECORDING).frames
    data, is_long, valid = crc.frames_from_hex(f.frame)
    assert valid.all()
    return f, data, is_long, crc.downlink_format(data)


def test_known_frame_and_append_crc():
    frame = bytes.fromhex("8d406b902015a678d4d220aa4bda")
    data = np.frombuffer(frame, dtype=np.uint8)[None, :]
    assert crc.crc24(data)[0] == 0
    assert crc.parity(data[:, :11])[0] == 0xAA4BDA
    assert (crc.append_crc(data[:, :11]) == data).all()
    bits = np.unpackbits(data, axis=1)
    assert crc.crc24(bits)[0] == 0
    wrong = data.copy()
    wrong[0, 5] ^= 0x10
    assert crc.crc24(wrong)[0] != 0


def test_every_df17_df18_and_df11_passes_and_any_single_flip_fails():
    f, data, is_long, df = frames()
    long_rows = np.flatnonzero(is_long)
    ext = long_rows[np.isin(df[long_rows], (17, 18))]
    assert ext.size == 31395 + 18990
    assert crc.parity_ok(data[ext]).all()
    assert (crc.crc24(data[ext]) == 0).all()
    df11 = np.flatnonzero(df == 11)
    assert crc.parity_ok(data[df11, :7]).all()
    codes = crc.interrogator_code(crc.crc24(data[df11, :7]))
    assert (codes >= 0).all() and (codes == 0).sum() == 12227   # the rest answer interrogators with an IC
    # Flip every one of the 112 bits of 500 frames: no remainder survives as 0.
    sample = data[ext[:: max(1, ext.size // 500)]]
    flips = np.unpackbits(sample, axis=1)[:, None, :] ^ np.eye(112, dtype=np.uint8)[None, :, :]
    flipped = np.packbits(flips.reshape(-1, 112), axis=1)
    assert not crc.parity_ok(flipped).any()
    # A single flip in a DF11 (outside its DF and the 7 code bits) never leaves only a code in the low 7 bits.
    short = data[df11[:: max(1, df11.size // 300)], :7]
    flips = np.unpackbits(short, axis=1)[:, None, :] ^ np.eye(56, dtype=np.uint8)[None, 5:49, :]
    flipped = np.packbits(flips.reshape(-1, 56), axis=1)
    assert not crc.df11_remainder_ok(crc.crc24(flipped)).any()


def test_mixed_lengths_in_one_array_equal_separate():
    f, data, is_long, df = frames()
    mixed = crc.crc24_mixed(data, is_long)
    assert (mixed[is_long] == crc.crc24(data[is_long])).all()
    assert (mixed[~is_long] == crc.crc24(data[~is_long, :7])).all()


def test_recovered_addresses_equal_rs1090():
    f, data, is_long, df = frames()
    rows = np.flatnonzero(np.isin(df, (4, 5, 20, 21)))
    rows = rows[:: max(1, rows.size // 20000)]
    address = crc.crc24_mixed(data[rows], is_long[rows])
    decoded = rs1090.decode(list(f.frame[rows]))
    assert len(decoded) == rows.size
    theirs = np.array([int(m["icao24"], 16) for m in decoded])
    assert (address == theirs).all()


def test_bad_shapes():
    with pytest.raises(ValueError):
        crc.crc24(np.zeros((2, 3, 4), dtype=np.uint8))
    data, valid = crc.hex_to_bytes(np.array(["zz" * 7, "8d" * 7, "8d" * 6], dtype=object), 7)
    assert valid.tolist() == [False, True, False]
