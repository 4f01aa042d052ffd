"""Mode S CRC-24 over arrays of frames (ICAO Annex 10 Vol. IV, 3.1.2.3.3).

Frames are rows of a uint8 array: ``(n, 7)`` for 56-bit replies, ``(n, 14)`` for 112-bit ones (bit arrays
``(n, 56)`` / ``(n, 112)`` of 0/1 are packed first). The CRC is a polynomial division by the generator
``0x1FFF409`` (x^24 + x^23 + ... + x^10 + x^3 + 1) with a zero initial register. It is computed a byte column at
a time with a 256-entry table, so the Python loop runs over the 7 or 14 byte positions, never over frames.

Because the register starts at zero, leading zero bytes do not change the result: a 56-bit frame padded on the
left with 7 zero bytes has the same CRC as the frame alone. ``frames_from_hex`` puts frames of both lengths
into one ``(n, 14)`` array with short frames *left*-aligned (byte 0 is the DF for both); ``crc24_mixed``
right-aligns them for the division.

Vocabulary used here:

* ``parity(payload)``: the CRC of the data bits, i.e. what the encoder puts in the last 24 bits.
* ``crc24(frame)``: the remainder of the whole frame, data *and* parity field, i.e. ``parity(data) XOR field``.

  - DF17/18: 0 for an undamaged frame.
  - DF11: the interrogator code (IC, 7 bits: code label and II/SI code) of the interrogation answered, in the
    low 7 bits; 0 for acquisition squitters. DF11 passes when the upper 17 bits are zero. In the recording
    ``rs1090_long_flight.csv.gz`` 26,229 of 38,456 DF11 replies carry a non-zero code, so a check for a
    zero remainder would throw away two thirds of them.
  - DF0/4/5/16/20/21 (Address/Parity field): the aircraft address when the frame is undamaged, and a random
    24-bit number when it is not (the phantom filter in ``phantoms.py`` sorts these out). DF20/21 replies
    with a Data Parity overlay (the BDS code XORed into the AP field) are not handled; they would show a
    wrong address and be dropped as phantoms.
"""

from __future__ import annotations

import numpy as np

GENERATOR = 0x1FFF409

# PI/AP-field formats by downlink format.
PI_FORMATS = (11, 17, 18)               # parity/interrogator identifier: checkable
AP_FORMATS = (0, 4, 5, 16, 20, 21)      # address/parity: the address is recovered, not checked
IC_MASK = 0x7F                          # DF11: interrogator code may sit in the low 7 bits


def _byte_table() -> np.ndarray:
    table = np.zeros(256, dtype=np.uint32)
    for value in range(256):
        register = value << 16
        for _ in range(8):
            register <<= 1
            if register & 0x1000000:
                register ^= GENERATOR
        table[value] = register & 0xFFFFFF
    return table


_TABLE = _byte_table()


def as_bytes(frames) -> np.ndarray:
    """``frames`` as a 2-D uint8 array of bytes; a 0/1 array of 56 or 112 columns is packed."""
    array = np.asarray(frames)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2:
        raise ValueError("frames must be a 2-D array (n, bytes) or (n, bits)")
    if array.shape[1] in (56, 112, 32, 88) and (array.dtype == bool or array.size == 0 or array.max() <= 1):
        array = np.packbits(array.astype(np.uint8), axis=1)
    return np.ascontiguousarray(array, dtype=np.uint8)


def _register(data: np.ndarray) -> np.ndarray:
    """CRC register after shifting all bytes of each row through (uint32, 24 bits)."""
    register = np.zeros(data.shape[0], dtype=np.uint32)
    for column in range(data.shape[1]):
        register = ((register << 8) & 0xFFFFFF) ^ _TABLE[((register >> 16) ^ data[:, column]) & 0xFF]
    return register


def interrogator_code(remainder: np.ndarray) -> np.ndarray:
    """DF11 interrogator code (low 7 bits of the remainder); -1 where the upper 17 bits are not zero."""
    remainder = np.asarray(remainder, dtype=np.uint32)
    ok = (remainder & ~np.uint32(IC_MASK)) == 0
    return np.where(ok, remainder & IC_MASK, -1).astype(np.int16)


def crc24(frames) -> np.ndarray:
    """Remainder of whole frames (data and parity field): 0 for an undamaged DF17/18.

    Parameters
    ----------
    frames : (n, 7) or (n, 14) uint8, or (n, 56) / (n, 112) bits. Short frames right-aligned in a
        (n, 14) array (7 leading zero bytes) give the same result.

    Returns
    -------
    uint32 (n,): the 24-bit remainder; for AP-field formats this is the address.
    """
    data = as_bytes(frames)
    field = (data[:, -3].astype(np.uint32) << 16) | (data[:, -2].astype(np.uint32) << 8) | data[:, -1]
    return _register(data[:, :-3]) ^ field


def parity(payload) -> np.ndarray:
    """CRC of the data bits only: what an encoder puts in the 24-bit parity field. ``(n, 4)`` or ``(n, 11)``."""
    return _register(as_bytes(payload))


def append_crc(payload) -> np.ndarray:
    """Full frames from ``(n, 4)`` or ``(n, 11)`` payload bytes: payload followed by its 24-bit parity."""
    data = as_bytes(payload)
    pi = parity(data)
    tail = np.stack([(pi >> 16) & 0xFF, (pi >> 8) & 0xFF, pi & 0xFF], axis=1).astype(np.uint8)
    return np.concatenate([data, tail], axis=1)


def downlink_format(frames) -> np.ndarray:
    """DF of each frame (first 5 bits; DF 24..31 all read as 24). ``frames`` must be left-aligned."""
    first = as_bytes(frames)[:, 0] >> 3
    return np.where(first >= 24, 24, first).astype(np.int16)


def parity_ok(frames, df=None) -> np.ndarray:
    """Whether frames pass the parity check.

    DF17/18: remainder 0. DF11: the upper 17 bits of the remainder are 0 (the low 7 bits hold the interrogator
    code of the interrogation answered, 0 for acquisition squitters). Other formats
    carry the address in their parity field and cannot be checked alone: False here (see ``recover_address``
    and ``phantoms.filter_frames``).
    """
    data = as_bytes(frames)
    if df is None:
        df = downlink_format(data)
    remainder = crc24(data)
    ok = np.zeros(data.shape[0], dtype=bool)
    ok |= np.isin(df, (17, 18)) & (remainder == 0)
    ok |= (df == 11) & df11_remainder_ok(remainder)
    return ok


def df11_remainder_ok(remainder: np.ndarray) -> np.ndarray:
    """DF11 remainder holds only an interrogator code (upper 17 bits zero)."""
    remainder = np.asarray(remainder, dtype=np.uint32)
    return (remainder & ~np.uint32(IC_MASK)) == 0


def recover_address(frames) -> np.ndarray:
    """Address of Address/Parity replies (DF0/4/5/16/20/21): the AP field XOR the CRC of the rest (uint32)."""
    return crc24(frames)


_NIBBLE = np.full(256, 255, dtype=np.uint8)
for _i, _c in enumerate(b"0123456789abcdef"):
    _NIBBLE[_c] = _i
for _i, _c in enumerate(b"ABCDEF"):
    _NIBBLE[_c] = 10 + _i


def hex_to_bytes(hex_frames, n_bytes: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``2*n_bytes`` hex digits -> ``(n, n_bytes)`` uint8 and a mask of valid rows (others zero)."""
    hex_frames = np.asarray(hex_frames, dtype=object)
    n = len(hex_frames)
    out = np.zeros((n, n_bytes), dtype=np.uint8)
    lengths = np.fromiter((len(h) for h in hex_frames), dtype=np.int64, count=n)
    rows = np.flatnonzero(lengths == 2 * n_bytes)
    valid = np.zeros(n, dtype=bool)
    if rows.size:
        text = "".join(hex_frames[rows]).encode("ascii", errors="replace")
        digits = _NIBBLE[np.frombuffer(text, dtype=np.uint8)].reshape(rows.size, 2 * n_bytes)
        good = (digits != 255).all(axis=1)
        out[rows] = ((digits[:, 0::2] << 4) | (digits[:, 1::2] & 0x0F)).astype(np.uint8)
        out[rows[~good]] = 0
        valid[rows] = good
    return out, valid


def frames_from_hex(hex_frames) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mixed 14/28-digit hex frames -> ``(n, 14)`` bytes, long-frame mask, valid mask.

    Long frames fill the row; short frames are *left*-aligned in the first 7 bytes (so that byte 0 is the DF
    for both); use ``crc24_mixed`` for their CRC.
    """
    short, short_ok = hex_to_bytes(hex_frames, 7)
    long_, long_ok = hex_to_bytes(hex_frames, 14)
    data = long_
    data[short_ok, :7] = short[short_ok]
    return data, long_ok, short_ok | long_ok


def crc24_mixed(data: np.ndarray, is_long: np.ndarray) -> np.ndarray:
    """``crc24`` of rows laid out as by ``frames_from_hex`` (short frames left-aligned, zero after)."""
    aligned = data.copy()
    short = ~is_long
    aligned[short] = 0
    aligned[short, 7:] = data[short, :7]
    return crc24(aligned)
