"""The Mode S stream filter: differential against rs1090 on the real recording, synthetic frames for each
rejection reason, batches vs one pass."""

from functools import lru_cache

import numpy as np
import rs1090

from airpicture.modes import cpr, crc
from airpicture.modes.phantoms import ModeSFilter, filter_frames
from airpicture.sources import read_file

RECORDING = "/work/shared/data/rs1090_long_flight.csv.gz"
REFERENCE_DEG = (43.6, 1.4)       # Toulouse, where the recorded flight starts


@lru_cache(maxsize=1)
def recording():
    f = read_file(RECORDING).frames
    result, mode_s = filter_frames(f.time, f.frame, reference=np.radians(REFERENCE_DEG))
    decoded = rs1090.decode(list(f.frame), list(f.time), reference=REFERENCE_DEG)
    assert len(decoded) == len(f)
    theirs = {
        "lat": np.array([m.get("latitude", np.nan) for m in decoded], dtype=float),
        "lon": np.array([m.get("longitude", np.nan) for m in decoded], dtype=float),
        "icao": np.array([int(m["icao24"], 16) for m in decoded]),
        "df": np.array([int(m["df"]) for m in decoded]),
        "alt": np.array([m["altitude"] if isinstance(m.get("altitude"), (int, float)) else np.nan
                         for m in decoded], dtype=float) * 0.3048,
    }
    return f, result, mode_s, theirs


def test_recording_positions_and_fields_agree_with_rs1090():
    f, res, mode_s, theirs = recording()
    assert (res.icao24 == theirs["icao"]).all()
    assert (res.df == theirs["df"]).all()
    ours_lat, ours_lon = np.degrees(res.lat), np.degrees(res.lon)
    both = ~np.isnan(ours_lat) & ~np.isnan(theirs["lat"])
    assert both.sum() >= 0.99 * np.count_nonzero(~np.isnan(theirs["lat"]))
    assert np.max(np.abs(ours_lat[both] - theirs["lat"][both])) < 1e-6
    assert np.max(np.abs(ours_lon[both] - theirs["lon"][both])) < 1e-6
    # Where only we decode, the position is consistent with rs1090's nearest position of the same aircraft
    # (airliner speed, 300 m/s) whenever rs1090 has one.
    only = np.flatnonzero(~np.isnan(ours_lat) & np.isnan(theirs["lat"]))
    checked = 0
    for row in only:
        same = np.flatnonzero((theirs["icao"] == res.icao24[row]) & ~np.isnan(theirs["lat"]))
        if same.size == 0:
            continue
        near = same[np.argmin(np.abs(f.time[same] - f.time[row]))]
        dt = abs(f.time[near] - f.time[row])
        dist = np.hypot(ours_lat[row] - theirs["lat"][near],
                        (ours_lon[row] - theirs["lon"][near]) * np.cos(res.lat[row])) * 111_195.0
        assert dist < 300.0 * dt + 100.0
        checked += 1
    assert checked > 50
    alt_both = ~np.isnan(res.altitude_m) & ~np.isnan(theirs["alt"])
    assert alt_both.sum() > 60_000 and np.max(np.abs(res.altitude_m[alt_both] - theirs["alt"][alt_both])) < 1e-6
    assert res.counts.get("crc", 0) == 0 and res.counts.get("impossible_speed", 0) == 0


def test_recording_phantoms_are_the_addresses_never_vouched_for():
    f, res, mode_s, theirs = recording()
    ap = np.isin(theirs["df"], (0, 4, 5, 16, 20, 21))
    vouch = np.isin(theirs["df"], (11, 17, 18))
    # Brute force: an AP reply is genuine when its address was in a DF11/17/18 frame in the 60 s before it.
    expected = np.zeros(len(f), dtype=bool)
    for address in np.unique(theirs["icao"][ap]):
        seen = np.sort(f.time[vouch & (theirs["icao"] == address)])
        rows = np.flatnonzero(ap & (theirs["icao"] == address))
        k = np.searchsorted(seen, f.time[rows], side="right") - 1
        ok = (k >= 0) & (f.time[rows] - seen[np.maximum(k, 0)] <= 60.0)
        expected[rows] = ~ok
    phantom = res.reason == "phantom"
    assert (phantom == expected).all()
    assert phantom.sum() == res.counts["phantom"] == 49
    assert not res.accepted[phantom].any()
    # The recording holds no garbled AP reply (its receiver already dropped replies from unknown addresses):
    # every address rs1090 reports also appears in DF11/17/18. The 49 rejected are the first 4 s of one
    # aircraft (before its first DF11) and 5 replies of another after 100 s without a squitter heard.
    assert set(theirs["icao"][ap].tolist()) <= set(theirs["icao"][vouch].tolist())
    assert set(res.icao24[phantom].tolist()) == {0x3944ED, 0x398101}


def test_garbled_replies_on_the_recording_are_exactly_the_phantoms():
    f, res, mode_s, theirs = recording()
    rng = np.random.default_rng(11)
    ap_rows = np.flatnonzero(np.isin(theirs["df"], (4, 5, 20, 21)))[::10]
    data, is_long, _ = crc.frames_from_hex(f.frame[ap_rows])
    n_bits = np.where(is_long, 112, 56)
    bit = rng.integers(5, n_bits)                       # any bit but the DF
    data[np.arange(ap_rows.size), bit // 8] ^= (0x80 >> (bit % 8)).astype(np.uint8)
    garbled = np.array([bytes(r[: 14 if long_ else 7]).hex() for r, long_ in zip(data, is_long)], dtype=object)
    time = np.concatenate([f.time, f.time[ap_rows] + 1e-4])
    result, _ = filter_frames(time, np.concatenate([f.frame, garbled]), reference=np.radians(REFERENCE_DEG))
    g = result.reason[len(f):]
    their_address = np.array([int(m["icao24"], 16) for m in rs1090.decode(list(garbled))])
    assert (result.icao24[len(f):] == their_address).all()
    vouched = set(theirs["icao"][np.isin(theirs["df"], (11, 17, 18))].tolist())
    never = np.array([a not in vouched for a in their_address.tolist()])
    assert never.sum() >= 0.99 * ap_rows.size
    assert (never == (g == "phantom")).all()
    assert set(their_address[g == "phantom"].tolist()) == set(their_address[never].tolist())
    # The genuine frames are filtered as before.
    assert (result.reason[: len(f)] == res.reason).all()


def _df17_positions(icao, lat, lon, alt_ft, odd, tc=11):
    n = lat.size
    yz, xz = cpr.cpr_encode(lat, lon, odd)
    n25 = np.round((alt_ft + 1000) / 25).astype(np.int64)
    alt = ((n25 >> 4) << 5) | 0x10 | (n25 & 0xF)
    me = (np.int64(tc) << 51) | (alt << 36) | (odd.astype(np.int64) << 34) | (yz << 17) | xz
    payload = np.zeros((n, 11), dtype=np.uint8)
    payload[:, 0] = 0x8D
    payload[:, 1:4] = [(icao >> 16) & 0xFF, (icao >> 8) & 0xFF, icao & 0xFF]
    for k in range(7):
        payload[:, 4 + k] = (me >> (8 * (6 - k))) & 0xFF
    return crc.append_crc(payload)


def _short(df_byte, field24, address_for_ap=None):
    n = len(field24)
    payload = np.zeros((n, 4), dtype=np.uint8)
    payload[:, 0] = df_byte
    payload[:, 1] = (field24 >> 16) & 0xFF
    payload[:, 2] = (field24 >> 8) & 0xFF
    payload[:, 3] = field24 & 0xFF
    frames = crc.append_crc(payload)
    if address_for_ap is not None:
        ap = crc.parity(payload) ^ np.uint32(address_for_ap)
        frames[:, 4], frames[:, 5], frames[:, 6] = (ap >> 16) & 0xFF, (ap >> 8) & 0xFF, ap & 0xFF
    return frames


def _hex(rows):
    return np.array([bytes(r).hex() for r in rows], dtype=object)


def test_synthetic_rejections_one_per_reason():
    icao = 0x3C4B26
    n = 40
    time = np.arange(n) * 0.5
    # Straight flight north-east at 250 m/s from 48.0N 2.0E, FL350; one position replaced by a jump of 1 deg.
    lat = np.radians(48.0) + 250.0 * time * 0.7 / 6.371e6
    lon = np.radians(2.0) + 250.0 * time * 0.7 / (6.371e6 * np.cos(np.radians(48.0)))
    lat_sent = lat.copy()
    lat_sent[25] += np.radians(1.0)
    frames = _hex(_df17_positions(icao, lat_sent, lon, np.full(n, 35000.0), time * 2 % 2 == 1))
    bad_crc = list(frames[5])
    bad_crc[20] = "f" if bad_crc[20] != "f" else "0"
    # DF4 surveillance replies: one from our aircraft, one from an address nobody has seen.
    df4_ours = _hex(_short(0x20, np.array([0x000B18]), address_for_ap=icao))[0]
    df4_ghost = _hex(_short(0x20, np.array([0x000B18]), address_for_ap=0xABCDEF))[0]
    extra = np.array(["".join(bad_crc), "zz" * 7, "08000000000000", "8d4840d6202cc371c32ce0576098"[:14],
                      df4_ours, df4_ghost, df4_ours, "", "7700"], dtype=object)
    extra_time = np.array([5.1, 5.2, 5.3, 5.4, 10.0, 10.0, 100.0, 100.1, 100.2])
    result, mode_s = filter_frames(np.concatenate([time, extra_time]), np.concatenate([frames, extra]))
    reason = result.reason
    assert reason[25] == "impossible_speed" and not result.accepted[25] and np.isnan(result.lat[25])
    assert (reason[:n][np.arange(n) != 25] == "ok").all()
    decoded = ~np.isnan(result.lat[:n])
    assert decoded.sum() == n - 2                                  # the first (no pair) and the jump
    err = np.abs(result.lat[:n][decoded] - lat[decoded]) * 6.371e6
    assert err.max() < 3.0
    assert np.allclose(result.altitude_m[:n], 35000 * 0.3048)
    assert list(reason[n:]) == ["crc", "malformed", "unknown_df", "bad_length", "ok", "phantom", "phantom",
                              "not_mode_s", "not_mode_s"]
    assert result.icao24[n + 4] == icao and result.icao24[n + 5] == 0xABCDEF
    assert mode_s.crc_failures == {17: 1}
    assert mode_s.impossible_by_key == {icao: 1}
    assert mode_s.counts == {"ok": n - 1 + 1, "impossible_speed": 1, "crc": 1, "malformed": 1, "unknown_df": 1,
                             "bad_length": 1, "phantom": 2, "not_mode_s": 2}


def test_df11_vouches_and_memory_expires():
    address = 0x4CA7B6
    df11 = _hex(_short(0x5D, np.array([address])))[0]
    df11_ic = _hex(crc.append_crc(np.array([[0x5D, 0x4C, 0xA7, 0xB6]], dtype=np.uint8)))[0]
    # Interrogator code 13 in the low bits of the parity field.
    df11_ic = df11_ic[:-2] + f"{int(df11_ic[-2:], 16) ^ 13:02x}"
    df5 = _hex(_short(0x28, np.array([0x001234]), address_for_ap=address))[0]
    frames = np.array([df5, df11_ic, df5, df5, df11, df5], dtype=object)
    time = np.array([0.0, 1.0, 2.0, 62.0, 70.0, 71.0])
    result, _ = filter_frames(time, frames, address_memory_s=60.0)
    assert list(result.reason) == ["phantom", "ok", "ok", "phantom", "ok", "ok"]
    # The same frames in two batches, and in shuffled order inside one batch.
    mode_s = ModeSFilter()
    first = mode_s.process(time[:3], frames[:3])
    second = mode_s.process(time[3:], frames[3:])
    assert list(first.reason) + list(second.reason) == list(result.reason)
    shuffle = np.array([5, 3, 0, 4, 2, 1])
    again, _ = filter_frames(time[shuffle], frames[shuffle])
    assert list(again.reason) == list(result.reason[shuffle])


def test_batches_give_the_same_rows_as_one_pass():
    f, res, _, _ = recording()
    rng = np.random.default_rng(3)
    cuts = np.sort(rng.choice(np.arange(1, len(f)), size=60, replace=False))
    mode_s = ModeSFilter(reference=np.radians(REFERENCE_DEG))
    parts = [mode_s.process(f.time[a:b], f.frame[a:b]) for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(f)])]
    reason = np.concatenate([p.reason for p in parts])
    lat = np.concatenate([p.lat for p in parts])
    assert (reason == res.reason).all()
    same = (lat == res.lat) | (np.isnan(lat) & np.isnan(res.lat))
    assert same.mean() > 0.9999
    assert mode_s.counts == res.counts


def test_jet1090_files_agree_with_their_stored_fields():
    """The two jet1090 files carry rs1090's fields next to each frame: addresses everywhere, positions."""
    files = (("traffic_rs1090_full_flight_short.jsonl.gz", (49.0, 2.55), 21018),
             ("traffic_docs_tutorial.jsonl.gz", (43.6, 1.4), 0))
    for name, reference, padded in files:
        g = read_file(f"/work/shared/data/{name}").frames
        result, mode_s = filter_frames(g.time, g.frame, reference=np.radians(reference))
        stored = np.array([int(a, 16) if a else -1 for a in g.fields["icao24"]])
        assert (stored == result.icao24).all()
        assert mode_s.counts.get("short_df_in_long_frame", 0) == padded   # DF0/4/5 padded to 112 bits
        assert mode_s.counts.get("crc", 0) == 0 and mode_s.counts.get("impossible_speed", 0) == 0
        lat, lon = g.fields["latitude_rad"], g.fields["longitude_rad"]
        both = ~np.isnan(lat) & ~np.isnan(result.lat)
        assert both.sum() >= 0.999 * np.count_nonzero(~np.isnan(lat))
        assert np.degrees(np.max(np.abs(lat[both] - result.lat[both]))) < 1e-6
        assert np.degrees(np.max(np.abs(lon[both] - result.lon[both]))) < 1e-6


def test_altitude_codes_gillham_and_25ft_against_rs1090():
    from airpicture.modes.phantoms import altitude_from_code

    # Hand-made codes (layout C1 A1 C2 A2 C4 A4 B1 Q B2 D2 B4 D4).
    q = 1 << 4
    assert altitude_from_code(np.array([q | 0]))[0] == -1000 * 0.3048
    n = (38000 + 1000) // 25
    assert altitude_from_code(np.array([((n >> 4) << 5) | q | (n & 0xF)]))[0] == 38000 * 0.3048
    assert np.isnan(altitude_from_code(np.array([0]))[0])
    # Gillham: C4 alone (001) = step 1 in band 0 -> -1200 ft; C1 alone (100) = step 5 -> -800 ft; C2 C4 (011,
    # step 2) with B4 (band 1, odd: steps reflected, 6 - 2) -> 500 + 400 - 1300 = -400 ft.
    assert altitude_from_code(np.array([0b000010000000]))[0] == -1200 * 0.3048
    assert altitude_from_code(np.array([0b100000000000]))[0] == -800 * 0.3048
    assert altitude_from_code(np.array([0b001010000010]))[0] == -400 * 0.3048
    # The Gillham (Q = 0) replies of the long flight, against rs1090 (the jet1090 files hold none with an
    # altitude but one DF4 at -100 ft that rs1090 leaves out).
    f, result, _, theirs = recording()
    ac13 = np.array([int(h[4:8], 16) & 0x1FFF if len(h) >= 8 else 0 for h in f.frame])
    gillham = np.isin(result.df, (0, 4, 16, 20)) & ((ac13 & 0x50) == 0) & (ac13 != 0) & result.accepted
    assert gillham.sum() >= 2
    assert np.allclose(result.altitude_m[gillham], theirs["alt"][gillham], atol=1e-6)


def test_a_pair_replaces_a_wrong_first_position_decoded_from_a_far_receiver():
    # A receiver that hears 260 NM (beyond half a CPR zone): the aircraft's first, lone message decodes from
    # the receiver's reference into the wrong zone, ~680 km off. The global pair that follows must replace
    # that provisional position, not be rejected against it as an impossible jump.
    icao = 0x4CA216
    n = 20
    time = np.arange(n) * 0.5
    lat = np.full(n, np.radians(48.0))
    lon = np.radians(2.0) + 230.0 * time / (6.371e6 * np.cos(np.radians(48.0)))
    odd = np.arange(n) % 2 == 1
    frames = _hex(_df17_positions(icao, lat, lon, np.full(n, 35000.0), odd))
    receiver = (np.radians(48.0), np.radians(2.0) + 480e3 / (6.371e6 * np.cos(np.radians(48.0))))  # 480 km east
    flt = ModeSFilter(reference=receiver, receiver_range_m=260 * 1852.0)
    out = flt.process(time, frames)
    assert out.position_source[0] == 3  # the lone first message: from the receiver, into the wrong zone
    assert abs(out.lon[0] - lon[0]) * 6.371e6 * np.cos(np.radians(48.0)) > 300e3
    assert (out.accepted[1:]).all() and (out.reason[1:] == "ok").all()
    err = np.hypot(out.lat[1:] - lat[1:], (out.lon[1:] - lon[1:]) * np.cos(lat[1:])) * 6.371e6
    assert err.max() < 10.0  # every later message decodes where the aircraft is
    assert flt.provisional_replaced == 1
    # without the receiver reference nothing is wrong, only later
    plain = ModeSFilter().process(time, frames)
    assert np.isnan(plain.lat[0]) and flt.counts.get("impossible_speed", 0) == 0
