"""The picture as GeoJSON (RFC 7946): a FeatureCollection of the tracks (Points ``[lon, lat, alt_m]`` with the
frame record as properties), and from the context the zones (Polygons, exterior ring counter-clockwise and
closed), defended points and sensors (Points). Every feature's ``properties.kind`` says which it is."""

from __future__ import annotations

import math


def _ring(polygon_lat_lon) -> list[list[float]]:
    ring = [[float(lon), float(lat)] for lat, lon in polygon_lat_lon]
    if ring and ring[0] != ring[-1]:
        ring.append(list(ring[0]))
    area2 = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:]))
    return ring[::-1] if area2 < 0 else ring  # RFC 7946 3.1.6: exterior rings counter-clockwise


def _point(lat, lon, alt=None) -> dict:
    c = [float(lon), float(lat)]
    if alt is not None and math.isfinite(float(alt)):
        c.append(float(alt))
    return {"type": "Point", "coordinates": c}


def picture_geojson(frame, context=None, *, zones: bool = True) -> dict:
    features = []
    for rec in frame.records():
        if rec.get("lat") is None or rec.get("lon") is None:
            continue
        features.append({"type": "Feature", "id": f"T{rec['track_id']}",
                         "geometry": _point(rec["lat"], rec["lon"], rec.get("alt_m")),
                         "properties": {"kind": "track", **rec}})
    if context is not None and zones:
        for z in context.zones:
            features.append({"type": "Feature", "id": f"zone:{z['name']}",
                             "geometry": {"type": "Polygon", "coordinates": [_ring(z["polygon"])]},
                             "properties": {"kind": "zone", "name": z["name"], "zone_kind": z.get("kind"),
                                            "floor_m": z.get("floor_m"), "ceiling_m": z.get("ceiling_m")}})
        for p in context.defended_points:
            features.append({"type": "Feature", "id": f"point:{p['name']}",
                             "geometry": _point(p["lat"], p["lon"], p.get("alt_m")),
                             "properties": {"kind": "defended_point", "name": p["name"],
                                            "radius_m": p.get("radius_m")}})
        for s in context.sensors:
            features.append({"type": "Feature", "id": f"sensor:{s['name']}",
                             "geometry": _point(s["lat"], s["lon"], s.get("alt_m")),
                             "properties": {**{k: v for k, v in s.items() if k not in ("lat", "lon", "alt_m", "kind")},
                                            "kind": "sensor", "sensor_kind": s.get("kind")}})
    return {"type": "FeatureCollection", "features": features,
            "properties": {"time": frame.time, "epoch_unix": frame.epoch_unix,
                           "name": None if context is None else context.name}}
