"""CPR: closed-form NL, encode/decode round trips, global pairs against rs1090 on the real recording."""

from functools import lru_cache

import numpy as np
import rs1090

from airpicture.modes import cpr, crc
from airpicture.sources import read_file

RECORDING = "/work/shared/data/rs1090_long_flight.csv.gz"
R_EARTH = 6371e3


def test_nl_closed_form_and_known_boundaries():
    lat = np.array([0.0, 10.47047129, 10.47047131, 59.95459276, 59.95459278, 86.5353, 86.9, 87.0, 87.01])
    assert cpr.nl(lat).tolist() == [59, 59, 58, 30, 29, 3, 2, 2, 1]
    assert (cpr.nl(-lat) == cpr.nl(lat)).all()
    # Away from the transitions the table equals the literal formula.
    grid = np.linspace(-86.9, 86.9, 20001)
    literal = np.floor(2 * np.pi / np.arccos(1 - (1 - np.cos(np.pi / 30)) / np.cos(np.radians(grid)) ** 2))
    near = np.min(np.abs(grid[:, None] - cpr._TRANSITION[None, :]), axis=1) < 1e-9
    assert (cpr.nl(grid)[~near] == literal[~near]).all()


def _error_m(lat, lon, lat2, lon2):
    dlon = np.angle(np.exp(1j * (lon2 - lon)))
    return np.abs(lat2 - lat) * R_EARTH, np.abs(dlon) * R_EARTH * np.cos(lat)


def test_round_trip_within_resolution():
    rng = np.random.default_rng(7)
    n = 200_000
    lat = np.arcsin(rng.uniform(-1, 1, n)) * 0.999
    lon = rng.uniform(-np.pi, np.pi, n)
    even = cpr.cpr_encode(lat, lon, np.zeros(n, bool))
    odd = cpr.cpr_encode(lat, lon, np.ones(n, bool))
    assert all((c >= 0).all() and (c < 2**17).all() for c in even + odd)
    newer_odd = rng.random(n) < 0.5
    la, lo = cpr.cpr_decode_global(even, odd, newer_odd)
    kept = ~np.isnan(la)
    assert kept.mean() > 0.9999            # only pairs at a zone boundary are refused
    # Half an LSB of the zone used: 360/60/2^18 deg in latitude (~2.5 m); in longitude of the NL zone.
    half_lat = np.radians(360.0 / 59 / 2**18) * R_EARTH * 1.001
    zones = np.maximum(cpr.nl(np.degrees(lat)) - newer_odd, 1)
    half_lon = np.radians(360.0 / zones / 2**18) * R_EARTH * np.cos(lat) * 1.001 + 1e-3
    e_lat, e_lon = _error_m(lat[kept], lon[kept], la[kept], lo[kept])
    assert (e_lat <= half_lat).all() and (e_lon <= half_lon[kept]).all()
    assert np.median(np.hypot(e_lat, e_lon)) < 5.0
    # Local decode from a reference up to 150 NM away gives the same answer.
    bearing = rng.uniform(0, 2 * np.pi, n)
    distance = rng.uniform(0, 150 * 1852, n) / R_EARTH
    ref_lat = np.clip(lat + distance * np.cos(bearing), -1.5, 1.5)
    ref_lon = lon + distance * np.sin(bearing) / np.cos(lat)
    mid = np.abs(lat) < np.radians(80)
    for fmt, code in ((False, even), (True, odd)):
        ll, lo2 = cpr.cpr_decode_local(code[0], code[1], np.full(n, fmt), ref_lat, ref_lon)
        e_lat, e_lon = _error_m(lat[mid], lon[mid], ll[mid], lo2[mid])
        assert (e_lat <= half_lat).all() and (np.hypot(e_lat, e_lon) < 10.0).all()


@lru_cache(maxsize=1)
def positions():
    f = read_file(RECORDING).frames
    data, is_long, valid = crc.frames_from_hex(f.frame)
    df = crc.downlink_format(data)
    tc = data[:, 4] >> 3
    rows = np.flatnonzero(is_long & (df == 17) & (tc >= 9) & (tc <= 18))
    me = data[rows, 4:11].astype(np.uint64)
    word = np.zeros(rows.size, dtype=np.uint64)
    for k in range(7):
        word = (word << np.uint64(8)) | me[:, k]
    odd = ((word >> np.uint64(34)) & np.uint64(1)).astype(bool)
    yz = ((word >> np.uint64(17)) & np.uint64(0x1FFFF)).astype(np.int64)
    xz = (word & np.uint64(0x1FFFF)).astype(np.int64)
    icao = ((data[rows, 1].astype(np.int64) << 16) | (data[rows, 2].astype(np.int64) << 8) | data[rows, 3])
    decoded = rs1090.decode(list(f.frame[rows]), list(f.time[rows]), reference=(43.6, 1.4))
    lat = np.array([m.get("latitude", np.nan) for m in decoded], dtype=float)
    lon = np.array([m.get("longitude", np.nan) for m in decoded], dtype=float)
    return f.time[rows], icao, odd, yz, xz, lat, lon


def test_global_pairs_match_rs1090_positions():
    time, icao, odd, yz, xz, their_lat, their_lon = positions()
    order = np.lexsort((time, icao))
    time, icao, odd, yz, xz = time[order], icao[order], odd[order], yz[order], xz[order]
    their_lat, their_lon = their_lat[order], their_lon[order]
    index = np.arange(time.size)
    # Latest earlier message of the other format, same aircraft, within 10 s.
    last_odd = np.maximum.accumulate(np.where(odd, index, -1))
    last_even = np.maximum.accumulate(np.where(~odd, index, -1))
    partner = np.where(odd, last_even, last_odd)
    ok = (partner >= 0)
    partner = np.where(ok, partner, 0)
    ok &= (icao[partner] == icao) & (time - time[partner] <= 10.0)
    even_rows = np.where(odd, partner, index)
    odd_rows = np.where(odd, index, partner)
    lat, lon = cpr.cpr_decode_global((yz[even_rows], xz[even_rows]), (yz[odd_rows], xz[odd_rows]), odd)
    lat, lon = np.degrees(lat), np.degrees(lon)
    both = ok & ~np.isnan(lat) & ~np.isnan(their_lat)
    assert both.sum() > 0.9 * np.count_nonzero(~np.isnan(their_lat))
    assert np.max(np.abs(lat[both] - their_lat[both])) < 1e-6
    assert np.max(np.abs(lon[both] - their_lon[both])) < 1e-6
    # Local decode of every message from rs1090's previous position of the same aircraft agrees too.
    prev = np.maximum.accumulate(np.where(~np.isnan(their_lat), index, -1))
    prev = np.concatenate([[-1], prev[:-1]])
    has = (prev >= 0) & ~np.isnan(their_lat)
    has &= icao[np.maximum(prev, 0)] == icao
    ll, lo = cpr.cpr_decode_local(yz[has], xz[has], odd[has], np.radians(their_lat[prev[has]]),
                                  np.radians(their_lon[prev[has]]))
    assert has.sum() > 1000
    assert np.max(np.abs(np.degrees(ll) - their_lat[has])) < 1e-6
    assert np.max(np.abs(np.degrees(lo) - their_lon[has])) < 1e-6


def test_surface_round_trip_with_reference_quadrant():
    rng = np.random.default_rng(5)
    n = 50_000
    lat = np.radians(rng.uniform(-80, 80, n))
    lon = rng.uniform(-np.pi, np.pi, n)
    even = cpr.cpr_encode(lat, lon, np.zeros(n, bool), surface=True)
    odd = cpr.cpr_encode(lat, lon, np.ones(n, bool), surface=True)
    # A reference up to 20 deg away still picks the right hemisphere and quadrant.
    ref_lat = lat + np.radians(rng.uniform(-20, 20, n))
    ref_lon = lon + np.radians(rng.uniform(-20, 20, n))
    la, lo = cpr.cpr_decode_global(even, odd, rng.random(n) < 0.5, surface=True, ref_lat_rad=ref_lat,
                                   ref_lon_rad=ref_lon)
    kept = ~np.isnan(la)
    assert kept.mean() > 0.999
    e_lat, e_lon = _error_m(lat[kept], lon[kept], la[kept], lo[kept])
    assert e_lat.max() < 0.7 and e_lon.max() < 1.3          # 1.25 m zones / 2 (90-deg zones, 17 bits)
    local_lat, local_lon = cpr.cpr_decode_local(odd[0], odd[1], np.ones(n, bool), lat + 0.005, lon - 0.005,
                                                surface=True)
    e_lat, e_lon = _error_m(lat, lon, local_lat, local_lon)
    assert e_lat.max() < 0.7 and e_lon.max() < 1.3
