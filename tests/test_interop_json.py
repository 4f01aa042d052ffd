"""aircraft.json (readsb field names, types, units) and GeoJSON of a hand-made picture."""

from __future__ import annotations

import json

import pytest

from _interop_frames import make_context, make_frame
from airpicture.interop.geojson import picture_geojson
from airpicture.interop.tar1090 import aircraft_json

# readsb README-json.md, aircraft.json: every key an aircraft may carry, with its JSON type
READSB_AIRCRAFT_KEYS = {
    "hex": str, "type": str, "flight": str, "alt_baro": (int, str), "alt_geom": int, "gs": float, "ias": int,
    "tas": int, "mach": float, "track": float, "track_rate": float, "roll": float, "mag_heading": float,
    "true_heading": float, "baro_rate": int, "geom_rate": int, "squawk": str, "emergency": str, "category": str,
    "nav_qnh": float, "nav_altitude_mcp": int, "nav_altitude_fms": int, "nav_heading": float, "nav_modes": list,
    "lat": float, "lon": float, "nic": int, "rc": int, "seen_pos": float, "version": int, "nic_baro": int,
    "nac_p": int, "nac_v": int, "sil": int, "sil_type": str, "gva": int, "sda": int, "mlat": list, "tisb": list,
    "messages": int, "seen": float, "rssi": float, "alert": int, "spi": int, "wd": int, "ws": int, "oat": int,
    "tat": int, "r": str, "t": str, "desc": str, "dbFlags": int, "lastPosition": dict, "rr_lat": float,
    "rr_lon": float,
}
READSB_TYPES = {"adsb_icao", "adsb_icao_nt", "adsr_icao", "tisb_icao", "adsc", "mlat", "other", "mode_s",
                "adsb_other", "adsr_other", "tisb_other", "tisb_trackfile", "unknown"}
READSB_EMERGENCY = {"none", "general", "lifeguard", "minfuel", "nordo", "unlawful", "downed", "reserved"}


def test_aircraft_json_fields_types_and_units():
    frame = make_frame(1000.0, epoch_unix=1_700_000_000.0)
    doc = json.loads(json.dumps(aircraft_json(frame, make_context(), messages=42)))
    assert set(doc) == {"now", "messages", "aircraft"}
    assert doc["now"] == pytest.approx(1_700_001_000.0) and doc["messages"] == 42
    assert len(doc["aircraft"]) == 3
    for a in doc["aircraft"]:
        for k, v in a.items():
            assert k in READSB_AIRCRAFT_KEYS, k
            want = READSB_AIRCRAFT_KEYS[k]
            want = want if isinstance(want, tuple) else (want,)
            assert isinstance(v, want + ((int,) if float in want else ())), (k, v)
        assert a["type"] in READSB_TYPES and a.get("emergency", "none") in READSB_EMERGENCY
    by_hex = {a["hex"]: a for a in doc["aircraft"]}
    thy = by_hex["4baacd"]  # fused radar + ADS-B
    assert thy["type"] == "adsb_icao" and thy["flight"] == "THY9TX  " and thy["squawk"] == "2345"
    assert thy["alt_geom"] == 35000  # 10668 m
    assert thy["gs"] == pytest.approx(388.8, abs=0.1)  # 200 m/s in knots
    assert thy["track"] == pytest.approx(143.13, abs=0.01)
    assert thy["geom_rate"] == -1000  # -5.08 m/s in ft/min
    assert thy["nac_p"] == 8 and thy["emergency"] == "none" and thy["seen"] == 0
    radar = by_hex["~00000c"]  # radar-only track 12: a non-ICAO address from its track number
    assert radar["type"] == "other" and "flight" not in radar and "emergency" not in radar
    sos = by_hex["c0ffee"]
    assert sos["emergency"] == "general" and sos["type"] == "adsb_icao" and "nac_p" not in sos
    # a later 'now' ages the positions
    later = aircraft_json(frame, None, now=1_700_001_004.5)
    assert {a["seen_pos"] for a in later["aircraft"]} == {4.5}


def test_geojson_points_and_zone_polygon_in_lon_lat_order():
    frame = make_frame(1000.0)
    doc = json.loads(json.dumps(picture_geojson(frame, make_context())))
    assert doc["type"] == "FeatureCollection"
    tracks = [f for f in doc["features"] if f["properties"]["kind"] == "track"]
    assert len(tracks) == 3
    t7 = next(f for f in tracks if f["properties"]["track_id"] == 7)
    assert t7["geometry"] == {"type": "Point", "coordinates": [16.406123, 43.571235, 10668.0]}  # lon, lat, alt
    assert t7["properties"]["identity"] == "neutral"
    zone = next(f for f in doc["features"] if f["properties"]["kind"] == "zone")
    ring = zone["geometry"]["coordinates"][0]
    assert ring[0] == ring[-1] and len(ring) == 5
    assert all(16 < lon < 17 and 43 < lat < 44 for lon, lat in ring)  # [lon, lat], not [lat, lon]
    area2 = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:]))
    assert area2 > 0  # counter-clockwise exterior ring (RFC 7946)
    kinds = {f["properties"]["kind"] for f in doc["features"]}
    assert kinds == {"track", "zone", "defended_point", "sensor"}
