"""Bit packing of DF17 extended-squitter ME fields (DO-260B / ICAO Doc 9871), over arrays.

Every function takes arrays (one element per transmission) and returns the 56-bit ME field as ``uint64``.
ME bits are numbered 1..56 from the most significant, as in the standards; a field that ends at ME bit ``b``
is shifted left by ``56 - b``. Quantities come in SI units and are converted to the transmitted units
(feet, knots, ft/min) here, at the edge.
"""

from __future__ import annotations

import numpy as np

FEET = 0.3048
KNOTS = 1852.0 / 3600.0
FEET_PER_MINUTE = FEET / 60.0

DF17_CA5 = (17 << 3) | 5  # first byte of every frame emitted: DF 17, capability 5 (level 2+, airborne)

# 25 ft (Q-bit) altitude code range, ft: N = (alt + 1000) / 25 on 11 bits.
ALT_Q_MIN_FT = -1000.0
ALT_Q_MAX_FT = -1000.0 + 25.0 * 2047  # 50175 ft

# Emergency state (TC 28 subtype 1, 3 bits) by name; names as rs1090 decodes them.
EMERGENCY_STATES = {
    "none": 0, "general": 1, "medical": 2, "minimum_fuel": 3, "no_communication": 4,
    "unlawful_interference": 5, "downed_aircraft": 6,
}

# Identification character set: code -> character ('#' = not allowed).
_CHARSET = "#ABCDEFGHIJKLMNOPQRSTUVWXYZ##### ###############0123456789######"
CALLSIGN_CHARS = frozenset(c for c in _CHARSET if c != "#")
_CHAR_CODE = {c: i for i, c in enumerate(_CHARSET) if c != "#"}


def _field(value, last_bit: int) -> np.ndarray:
    return np.asarray(value, dtype=np.uint64) << np.uint64(56 - last_bit)


def callsign_codes(callsign: str) -> np.ndarray:
    """(8,) 6-bit codes of a callsign padded with spaces. The caller has checked the characters."""
    return np.array([_CHAR_CODE[c] for c in callsign.ljust(8)], dtype=np.uint64)


def identification_me(type_code, category, codes) -> np.ndarray:
    """TC 1-4: type code (4 = set A ... 1 = set D), emitter category 0-7, (n, 8) character codes."""
    codes = np.asarray(codes, dtype=np.uint64)
    me = _field(type_code, 5) | _field(category, 8)
    for k in range(8):
        me = me | _field(codes[:, k], 14 + 6 * k)
    return me


def _hundreds_table() -> np.ndarray:
    """C1 C2 C4 bits (as c1*4 + c2*2 + c4) for each 100 ft step code 1..5 of the Gillham code."""
    table = np.zeros(6, dtype=np.uint64)
    for bits in range(8):
        c1, c2, c4 = (bits >> 2) & 1, (bits >> 1) & 1, bits & 1
        value = (7 if c1 else 0) ^ (3 if c2 else 0) ^ (1 if c4 else 0)  # the 100 ft cycle 1,3,2,6,4 as 1..5
        if value & 5 == 5:
            value ^= 2
        if 1 <= value <= 5:
            table[value] = bits
    return table


_HUNDREDS = _hundreds_table()


def altitude_gillham(alt_m) -> np.ndarray:
    """12-bit AC field with Q = 0: Gillham (Mode C) code, 100 ft steps, -1200..126700 ft; 0 outside."""
    alt100 = np.rint(np.asarray(alt_m, dtype=float) / FEET / 100.0)
    inside = np.isfinite(alt100) & (alt100 >= -12) & (alt100 <= 1267)
    v = (np.where(inside, alt100, 0.0) + 13).astype(np.int64)  # = 5 * five_hundreds + hundreds, hundreds 1..5
    five_hundreds = (v - 1) // 5
    hundreds = v - 5 * five_hundreds
    hundreds = np.where(five_hundreds % 2 == 1, 6 - hundreds, hundreds)  # the 100 ft cycle reverses
    gray = (five_hundreds ^ (five_hundreds >> 1)).astype(np.uint64)  # D2 D4 A1 A2 A4 B1 B2 B4, D2 first
    c = _HUNDREDS[hundreds]

    def bit(value, k):
        return (value >> np.uint64(k)) & np.uint64(1)

    d2, d4, a1, a2, a4 = bit(gray, 7), bit(gray, 6), bit(gray, 5), bit(gray, 4), bit(gray, 3)
    b1, b2, b4 = bit(gray, 2), bit(gray, 1), bit(gray, 0)
    c1, c2, c4 = bit(c, 2), bit(c, 1), bit(c, 0)
    # 12-bit order (the 13-bit AC field without M): C1 A1 C2 A2 C4 A4 B1 Q B2 D2 B4 D4.
    code = np.zeros(np.shape(v), dtype=np.uint64)
    for value in (c1, a1, c2, a2, c4, a4, b1, np.zeros_like(c1), b2, d2, b4, d4):
        code = (code << np.uint64(1)) | value
    return np.where(inside, code, np.uint64(0))


def altitude_code(alt_m) -> np.ndarray:
    """12-bit AC field of the airborne position: 25 ft steps (Q = 1) up to 50175 ft, Gillham (100 ft) above."""
    alt_ft = np.asarray(alt_m, dtype=float) / FEET
    fine = np.isfinite(alt_ft) & (alt_ft < ALT_Q_MAX_FT + 12.5)
    return np.where(fine, altitude_q25(alt_m), altitude_gillham(alt_m))


def altitude_q25(alt_m) -> np.ndarray:
    """12-bit AC field with Q = 1 (25 ft steps); 0 (= altitude unavailable) outside -1000..50175 ft."""
    alt_ft = np.asarray(alt_m, dtype=float) / FEET
    inside = np.isfinite(alt_ft) & (alt_ft >= ALT_Q_MIN_FT - 12.5) & (alt_ft < ALT_Q_MAX_FT + 12.5)
    n = np.clip(np.rint((np.where(inside, alt_ft, 0.0) - ALT_Q_MIN_FT) / 25.0), 0, 2047).astype(np.uint64)
    # Bits (MSB first): N10..N4, Q, N3..N0 - the Q bit sits where Gillham code has M/Q.
    code = ((n >> np.uint64(4)) << np.uint64(5)) | np.uint64(1 << 4) | (n & np.uint64(0xF))
    return np.where(inside, code, np.uint64(0))


def airborne_position_me(type_code, surveillance_status, alt_code, odd, lat_cpr, lon_cpr) -> np.ndarray:
    """TC 9-18: SS, NIC-B = 0, 12-bit altitude, T = 0, F (1 = odd), 17-bit CPR latitude and longitude."""
    return (_field(type_code, 5) | _field(surveillance_status, 7) | _field(alt_code, 20)
            | _field(np.asarray(odd, dtype=np.uint64), 22) | _field(lat_cpr, 39) | _field(lon_cpr, 56))


def airborne_velocity_me(v_east, v_north, v_up, nacv) -> tuple[np.ndarray, np.ndarray]:
    """TC 19 subtype 1 (1 kt steps, up to 1022 kt) or 2 (4 kt steps, supersonic) from ENU velocity, m/s.

    Returns (ME, subtype). Components are sent as sign + (speed + 1), vertical rate as sign + (rate/64 ft/min
    + 1), barometric source; geometric minus barometric height is 0 ft (they are the same in the truth).
    """
    ve_kt = np.asarray(v_east, dtype=float) / KNOTS
    vn_kt = np.asarray(v_north, dtype=float) / KNOTS
    supersonic = np.maximum(np.abs(ve_kt), np.abs(vn_kt)) > 1021.5
    step = np.where(supersonic, 4.0, 1.0)
    subtype = np.where(supersonic, 2, 1).astype(np.uint64)
    vew = np.clip(np.rint(np.abs(ve_kt) / step) + 1, 1, 1023).astype(np.uint64)
    vns = np.clip(np.rint(np.abs(vn_kt) / step) + 1, 1, 1023).astype(np.uint64)
    vr_fpm = np.asarray(v_up, dtype=float) / FEET_PER_MINUTE
    vr = np.clip(np.rint(np.abs(vr_fpm) / 64.0) + 1, 1, 511).astype(np.uint64)
    me = (_field(19, 5) | _field(subtype, 8) | _field(nacv, 13)
          | _field(ve_kt < 0, 14) | _field(vew, 24) | _field(vn_kt < 0, 25) | _field(vns, 35)
          | _field(1, 36) | _field(vr_fpm < 0, 37) | _field(vr, 46)
          | _field(0, 49) | _field(1, 56))
    return me, subtype


def squawk_id13(squawk: str) -> int:
    """The 13-bit identity field of a 4-digit octal Mode A code: C1 A1 C2 A2 C4 A4 X B1 D1 B2 D2 B4 D4."""
    a, b, c, d = (int(ch, 8) for ch in squawk)
    bits = [c & 1, a & 1, (c >> 1) & 1, (a >> 1) & 1, (c >> 2) & 1, (a >> 2) & 1, 0,
            b & 1, d & 1, (b >> 1) & 1, (d >> 1) & 1, (b >> 2) & 1, (d >> 2) & 1]
    value = 0
    for bit in bits:
        value = (value << 1) | bit
    return value


def emergency_status_me(emergency_state, id13) -> np.ndarray:
    """TC 28 subtype 1: emergency/priority state (3 bits) and the Mode A code (13 bits); the rest reserved 0."""
    return _field(28, 5) | _field(1, 8) | _field(emergency_state, 11) | _field(id13, 24)


def operational_status_me(nacp, sil=3, gva=2, nic_baro=1, sda=2) -> np.ndarray:
    """TC 31 subtype 0 (airborne operational status), ADS-B version 2 (DO-260B).

    Capability class and operational mode codes are zero except the system design assurance (SDA, ME 31-32);
    NIC supplement-A 0, NACp (ME 45-48), GVA, SIL, NIC-baro, heading reference true north, SIL per hour.
    """
    return (_field(31, 5) | _field(0, 8) | _field(sda, 32) | _field(2, 43) | _field(0, 44)
            | _field(nacp, 48) | _field(gva, 50) | _field(sil, 52) | _field(nic_baro, 53) | _field(0, 54)
            | _field(0, 55))


def df17_payload(icao24, me) -> np.ndarray:
    """(n, 11) uint8: DF17/CA5 byte, 24-bit address, 56-bit ME - the frame before its parity field."""
    icao = np.asarray(icao24, dtype=np.uint64)
    me = np.asarray(me, dtype=np.uint64)
    out = np.empty((len(me), 11), dtype=np.uint8)
    out[:, 0] = DF17_CA5
    for k in range(3):
        out[:, 1 + k] = ((icao >> np.uint64(16 - 8 * k)) & np.uint64(0xFF)).astype(np.uint8)
    for k in range(7):
        out[:, 4 + k] = ((me >> np.uint64(48 - 8 * k)) & np.uint64(0xFF)).astype(np.uint8)
    return out


def frames_to_hex(frames: np.ndarray) -> np.ndarray:
    """(n, 14) uint8 -> (n,) object array of 28-digit lowercase hex strings."""
    frames = np.ascontiguousarray(frames, dtype=np.uint8)
    n, width = frames.shape
    text = np.frombuffer(frames.tobytes().hex().encode("ascii"), dtype=f"S{2 * width}")
    out = np.empty(n, dtype=object)
    out[:] = text.astype(str) if n else []
    return out
