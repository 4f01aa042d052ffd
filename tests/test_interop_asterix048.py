"""CAT048 radar plots in: the real Mode S radar capture, a corrupted copy of it, and a multi-scan capture made
with libasterix that the tracker must confirm."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np
import pytest

from airpicture.errors import InputError
from airpicture.interop import asterix048 as a48
from airpicture.interop.radar_replay import replay_asterix

CAPTURE = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "asterix_cat_034_048.pcap"
needs_capture = pytest.mark.skipif(not CAPTURE.exists(), reason="shared data not present")


@needs_capture
def test_real_capture_plots_and_sites():
    dec = a48.decode_file(CAPTURE)
    c = dec.counts
    assert c["packets"] == 100 and c["cat048_records"] == 128 and c["cat034_records"] == 34
    # every datagram arrives twice (two LANs): 126 reports with a position -> 63 distinct plots
    assert c["duplicates"] == 63 and c["plots"] == 63 and c["no_position"] == 2
    assert not any(k.startswith("malformed") for k in c)
    assert dec.sites_034 == {(25, 12): pytest.approx((43.571026, 16.406064, 780.0), abs=1e-5)}
    i = dec.plots.callsign.index("THY9TX")
    assert dec.plots.address[i] == "4baacd" and dec.plots.sac_sic[i] == (25, 13)
    assert dec.plots.range_m[i] == pytest.approx(194.82 * 1852, abs=10)
    assert math.degrees(dec.plots.azimuth_rad[i]) == pytest.approx(128.76, abs=0.01)


@needs_capture
def test_real_capture_is_tracked(tmp_path):
    s = replay_asterix(CAPTURE, tmp_path)
    # only radar 25/12 announces its position (CAT034 I034/120); the others are skipped and listed
    assert s["radar_sites"]["25/12"]["from"] == "cat034"
    assert set(s["radars_without_position"]) == {"25/11", "25/13", "25/14", "25/201", "25/204", "25/205"}
    assert s["plots_tracked"] == 19 and s["plots_no_site"] == 44
    # the capture is 0.55 s long: one sweep, so every aircraft starts a (tentative) track; none can confirm
    assert s["tracks_started"] == 19 and s["tracks_now"]["tentative"] == 19 and s["tracks_confirmed"] == 0
    assert (tmp_path / "summary.json").exists() and (tmp_path / "tracks.parquet").exists()


@needs_capture
def test_real_capture_with_site_options(tmp_path):
    sites = ["25/13=45.5,16.0,500", "25/201=44.0,15.0,300", "25/204=43.0,17.0,400", "25/11=45.8,15.9,200",
             "25/14=42.6,18.2,100", "25/205=44.9,13.9,100"]
    s = replay_asterix(CAPTURE, tmp_path, radar_sites=sites, write=False)
    assert s["plots_tracked"] == 63 and s["radars_without_position"] == [] and s["tracks_started"] == 63
    with pytest.raises(InputError, match="6 radars have no position"):
        replay_asterix(CAPTURE, tmp_path, radar_sites=["45,16,100"], write=False)


@needs_capture
def test_corrupted_capture_is_skipped_and_counted(tmp_path):
    data = bytearray(CAPTURE.read_bytes())
    # find the CAT048 datablocks (UDP payloads start 42 bytes into each Ethernet/IPv4 packet)
    off, hits = 24, []
    while off + 16 <= len(data):
        incl = struct.unpack("<I", data[off + 8:off + 12])[0]
        payload = off + 16 + 42
        if data[payload] == 48:
            hits.append(payload)
        off += 16 + incl
    for k, p in enumerate(hits[:20]):
        if k % 2 == 0:
            data[p + 1:p + 3] = b"\xff\xff"  # datablock length beyond the datagram
        else:
            data[p + 3] = 0xFF  # FSPEC: every item and an extension that the record cannot hold
            data[p + 4] = 0xFF
            data[p + 5] = 0xFF
            data[p + 6] = 0xFF
    bad = tmp_path / "corrupted.pcap"
    bad.write_bytes(bytes(data))
    dec = a48.decode_file(bad)
    c = dec.counts
    assert c["malformed_datablocks"] == 10
    assert c["malformed_cat048_records"] >= 5
    assert 0 < c["plots"] < 63  # what was intact is still read
    s = replay_asterix(bad, tmp_path / "out", write=False)
    assert s["reader"]["malformed_datablocks"] == 10 and s["tracks_started"] > 0


# ------------------------------------------------------------------- a multi-scan capture made with libasterix

def _pcap(packets) -> bytes:
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for ts, payload in packets:
        udp = struct.pack(">HHHH", 40000, 8600, 8 + len(payload), 0) + payload
        ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, bytes([10, 0, 0, 1]),
                         bytes([232, 1, 1, 1])) + udp
        eth = b"\x01\x00\x5e\x01\x01\x01" + b"\x00\x11\x22\x33\x44\x55" + b"\x08\x00" + ip
        out.append(struct.pack("<IIII", int(ts), int(round((ts % 1) * 1e6)), len(eth), len(eth)) + eth)
    return b"".join(out)


def test_multi_scan_capture_confirms_tracks_with_their_identity(tmp_path):
    import asterix.generated as gen

    from airpicture import geo

    cat048, cat034 = gen.Cat_048_1_31, gen.Cat_034_1_29
    site = (45.0, 15.0, 300.0)
    day = 1_700_000_000 - 1_700_000_000 % 86400
    t_start = day + 36000.0
    site_ecef = geo.geodetic_to_ecef(math.radians(site[0]), math.radians(site[1]), site[2])
    rot = geo.enu_rotation(math.radians(site[0]), math.radians(site[1]))
    packets = [(t_start - 1, cat034.create([cat034.cv_record.create({
        "000": 1, "010": (("SAC", 7), ("SIC", 9)),
        "120": (("HGT", site[2]), ("LAT", (site[0], "°")), ("LON", (site[1], "°")))})]).unparse().to_bytes())]
    targets = [  # (east, north) start km, velocity m/s, FL, address, callsign, squawk
        ((60.0, 40.0), (-200.0, 30.0), 350, 0x4CA123, "RYR12AB", 0o2345),
        ((-30.0, 90.0), (120.0, -180.0), 240, 0x3C6590, "DLH4X", 0o1000),
    ]
    scan = 4.0
    for k in range(8):
        recs = []
        for (e0, n0), (ve, vn), fl, adr, cs, sq in targets:
            t = t_start + k * scan
            e, n = e0 * 1000 + ve * k * scan, n0 * 1000 + vn * k * scan
            alt = fl * 100 * 0.3048
            # the target's ECEF position, then the radar's slant range / azimuth to it
            lat0, lon0, _ = geo.ecef_to_geodetic(geo.enu_to_ecef(np.array([[e, n, 0.0]]), site_ecef, rot))
            tgt = geo.geodetic_to_ecef(float(lat0[0]), float(lon0[0]), alt)
            enu = geo.ecef_to_enu(np.asarray(tgt)[None, :], site_ecef, rot)[0]
            rho = float(np.linalg.norm(enu)) / 1852.0
            theta = math.degrees(math.atan2(enu[0], enu[1])) % 360.0
            recs.append(cat048.cv_record.create({
                "010": (("SAC", 7), ("SIC", 9)), "140": (t % 86400, "s"),
                "020": ((("TYP", 5), ("SIM", 0), ("RDP", 0), ("SPI", 0), ("RAB", 0), None),),
                "040": (("RHO", (rho, "NM")), ("THETA", (theta, "°"))),
                "070": (("V", 0), ("G", 0), ("L", 0), 0, ("MODE3A", sq)),
                "090": (("V", 0), ("G", 0), ("FL", (float(fl), "FL"))),
                "220": adr, "240": cs.ljust(8)}))
        block = cat048.create(recs).unparse().to_bytes()
        packets += [(t_start + k * scan + 0.01, block), (t_start + k * scan + 0.011, block)]  # two LANs
    cap = tmp_path / "scans.pcap"
    cap.write_bytes(_pcap(packets))
    s = replay_asterix(cap, tmp_path / "out")
    assert s["reader"]["duplicates"] == 16 and s["plots"] == 16 and s["radar_sites"]["7/9"]["from"] == "cat034"
    assert s["tracks_started"] == 2 and s["tracks_confirmed"] == 2 and s["tracks_now"]["in_picture"] == 2
    import pyarrow.parquet as pq

    t = pq.read_table(tmp_path / "out" / "tracks.parquet").to_pydict()
    assert set(t["icao24"]) == {"4ca123", "3c6590"}
    last = {}
    for i, tid in enumerate(t["track_id"]):
        last[tid] = i
    final = {t["callsign"][i]: (t["alt"][i], t["squawk"][i], t["status"][i]) for i in last.values()}
    assert final["RYR12AB"][0] == pytest.approx(350 * 30.48, abs=50)  # the height comes from I048/090 via elevation
    assert final["DLH4X"][0] == pytest.approx(240 * 30.48, abs=50)
    assert final["RYR12AB"][1:] == ("2345", "confirmed") and final["DLH4X"][1:] == ("1000", "confirmed")
