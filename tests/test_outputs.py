"""Outputs: the TopoJSON base map, picture.png and tracks.parquet."""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow.parquet as pq
import pytest
from matplotlib.image import imread
from matplotlib.path import Path as MplPath

from airpicture import geo
from airpicture.measurements import SensorSite
from airpicture.outputs import basemap, load_base_map, read_tracks_parquet, render_picture, write_tracks_parquet
from airpicture.outputs.picture import TRACK_PALETTE
from airpicture.scenario.model import DefendedPoint, Zone
from airpicture.tracks import COASTING, CONFIRMED, TENTATIVE, TrackStates
from airpicture.truth import Truth

D = np.radians

# A hand-made quantized topology: two unit-ish squares side by side that share the edge
# lon = 10. Quantized units q map to degrees as lon = 10 + 0.5 qx, lat = 20 + 0.25 qy.
#   arc 0: the shared edge, (10,21) -> (10,20)
#   arc 1: east square's outer edge, (10,20) -> (12,20) -> (12,21) -> (10,21)
#   arc 2: west square's outer edge, (10,20) -> (8,20) -> (8,21) -> (10,21)
TINY_TOPOLOGY = {
    "type": "Topology",
    "transform": {"scale": [0.5, 0.25], "translate": [10, 20]},
    "arcs": [
        [[0, 4], [0, -4]],
        [[0, 0], [4, 0], [0, 4], [-4, 0]],
        [[0, 0], [-4, 0], [0, 4], [4, 0]],
    ],
    "objects": {
        "countries": {
            "type": "GeometryCollection",
            "geometries": [
                {"type": "Polygon", "arcs": [[1, 0]], "id": "EAST"},
                # Both arcs walked backwards: ~0 = -1, ~2 = -3.
                {"type": "Polygon", "arcs": [[-1, -3]], "id": "WEST"},
            ],
        }
    },
}


# --------------------------------------------------------------------------- TopoJSON

def test_quantized_arcs_are_delta_decoded_and_scaled():
    arcs = basemap.decode_arcs(TINY_TOPOLOGY)
    np.testing.assert_allclose(arcs[0], [[10, 21], [10, 20]])
    np.testing.assert_allclose(arcs[1], [[10, 20], [12, 20], [12, 21], [10, 21]])
    np.testing.assert_allclose(arcs[2], [[10, 20], [8, 20], [8, 21], [10, 21]])


def test_unquantized_arcs_are_taken_as_they_are():
    topology = {"type": "Topology", "arcs": [[[1.5, 2.5], [3.0, 4.0]]], "objects": {}}
    np.testing.assert_allclose(basemap.decode_arcs(topology)[0], [[1.5, 2.5], [3.0, 4.0]])


def test_polygon_rings_join_arcs_and_reverse_negative_indices():
    arcs = basemap.decode_arcs(TINY_TOPOLOGY)
    east, west = TINY_TOPOLOGY["objects"]["countries"]["geometries"]
    (east_rings,) = basemap.geometry_polygons(arcs, east)
    (west_rings,) = basemap.geometry_polygons(arcs, west)
    np.testing.assert_allclose(east_rings[0], [[10, 20], [12, 20], [12, 21], [10, 21], [10, 20]])
    np.testing.assert_allclose(west_rings[0], [[10, 20], [10, 21], [8, 21], [8, 20], [10, 20]])


def test_multipolygon_and_collection_give_every_polygon():
    arcs = basemap.decode_arcs(TINY_TOPOLOGY)
    multi = {"type": "MultiPolygon", "arcs": [[[1, 0]], [[-1, -3]]]}
    assert len(basemap.geometry_polygons(arcs, multi)) == 2
    assert len(basemap.geometry_polygons(arcs, TINY_TOPOLOGY["objects"]["countries"])) == 2
    assert basemap.geometry_polygons(arcs, {"type": "LineString", "arcs": [0]}) == []


def test_borders_are_the_arcs_two_countries_share():
    geometries = TINY_TOPOLOGY["objects"]["countries"]["geometries"]
    assert basemap.shared_arc_ids(geometries).tolist() == [0]


def test_rings_are_oriented_exterior_ccw_holes_cw():
    exterior = np.array([[0, 0], [0, 4], [4, 4], [4, 0], [0, 0]], float)  # clockwise
    hole = np.array([[1, 1], [2, 1], [2, 2], [1, 2], [1, 1]], float)  # counter-clockwise
    rings = basemap.oriented_rings([[exterior, hole]])
    assert basemap.signed_area(rings[0]) == pytest.approx(16.0)
    assert basemap.signed_area(rings[1]) == pytest.approx(-1.0)


def test_coastlines_leave_out_the_edges_cut_along_the_antimeridian():
    ring = np.array([[179, 0], [180, 0], [180, 1], [179, 1], [179, 0]], float)
    pieces = basemap.split_at_cut_edges(ring)
    np.testing.assert_allclose(pieces[0], [[179, 0], [180, 0]])
    np.testing.assert_allclose(pieces[1], [[180, 1], [179, 1], [179, 0]])
    inland = ring - [10, 0]
    assert len(basemap.split_at_cut_edges(inland)) == 1


def test_crop_lines_keeps_the_inside_run_and_one_neighbour_each_side():
    line = np.column_stack([np.arange(11.0), np.zeros(11)])
    (cropped,) = basemap.crop_lines([line], (2.5, -1, 5.5, 1))
    np.testing.assert_allclose(cropped[:, 0], [2, 3, 4, 5, 6])
    assert basemap.crop_lines([line], (20, 20, 30, 30)) == []


# --------------------------------------------------------------------------- real Natural Earth data

needs_natural_earth = pytest.mark.skipif(basemap.data_file(basemap.LAND_FILE) is None,
                                         reason="Natural Earth files not installed (make web)")


def _land_ring_count(rings, lon, lat):
    return sum(MplPath(ring).contains_point((lon, lat)) for ring in rings)


@needs_natural_earth
def test_real_land_file_decodes_to_plausible_coastlines():
    world = load_base_map()
    everything = np.concatenate(world.land)
    assert everything[:, 1].min() >= -90.0 and everything[:, 1].max() <= 90.0
    # Rings crossing the antimeridian are unwrapped: each starts in [-180, 180) and is
    # no wider than the globe.
    west = np.array([ring[:, 0].min() for ring in world.land])
    east = np.array([ring[:, 0].max() for ring in world.land])
    assert (west >= -180.0).all() and (west < 180.0).all() and (east - west <= 360.0).all()
    assert (east > 180.0).any()  # Chukotka / Fiji continue east of the antimeridian
    # Land under cities, sea under oceans (even-odd: a point in a hole counts twice).
    for lon, lat in [(12.50, 41.90), (2.35, 48.86), (-104.99, 39.74), (149.13, -35.28), (37.6, 55.75)]:
        assert _land_ring_count(world.land, lon, lat) % 2 == 1, (lon, lat)
    for lon, lat in [(-40.0, 35.0), (12.0, 40.0), (-150.0, 0.0), (80.0, -10.0), (51.0, 42.0)]:
        assert _land_ring_count(world.land, lon, lat) % 2 == 0, (lon, lat)  # 51E 42N: Caspian Sea


@needs_natural_earth
def test_real_borders_pass_between_neighbours_and_crop_to_the_box():
    bbox = (5.0, 42.0, 10.0, 47.0)  # France / Italy / Switzerland
    cropped = load_base_map(bbox)
    points = np.concatenate(cropped.borders)
    # The French-Italian border reaches the sea at Menton / Ventimiglia (7.53E 43.78N).
    assert np.hypot(points[:, 0] - 7.53, points[:, 1] - 43.78).min() < 0.1
    # Cropped lines stay within the box, give or take one neighbouring vertex.
    lines = cropped.coastlines + cropped.borders
    for line in lines:
        assert (line[1:-1, 0] >= bbox[0]).all() and (line[1:-1, 0] <= bbox[2]).all()
    assert len(cropped.land) < len(load_base_map().land)


@needs_natural_earth
def test_base_map_across_the_antimeridian_has_no_world_spanning_lines():
    # Fiji: a view from 176E to 176W, written as 176..184 deg east.
    fiji = load_base_map((176.0, -20.0, 184.0, -15.0))
    points = np.concatenate(fiji.land + fiji.coastlines)
    assert (points[:, 0] > 180.0).any() and (points[:, 0] < 180.0).any()
    for line in fiji.coastlines + fiji.land:
        assert np.abs(np.diff(line[:, 0])).max() < 10.0
    # The same islands when the view is written in western longitudes.
    west = load_base_map((-184.0, -20.0, -176.0, -15.0))
    assert len(west.land) == len(fiji.land)
    # Antarctica is closed round the South Pole: the pole is inside it.
    south = load_base_map((-180.0, -90.0, 180.0, -60.0))
    assert any(MplPath(ring).contains_point((0.0, -89.5)) for ring in south.land)


def test_missing_files_give_no_base_map(monkeypatch):
    basemap._world_layers.cache_clear()
    monkeypatch.setattr(basemap, "data_file", lambda name: None)
    try:
        assert load_base_map((0, 0, 10, 10)) is None
    finally:
        monkeypatch.undo()
        basemap._world_layers.cache_clear()


def test_countries_file_alone_gives_coastlines(monkeypatch, tmp_path):
    # Without land-50m, the outer arcs of the countries are the coastline.
    tiny = tmp_path / "countries.json"
    tiny.write_text(json.dumps(TINY_TOPOLOGY))

    class FakeFile:
        def __init__(self, p):
            self.p = p

        def read_text(self, encoding="utf-8"):
            return self.p.read_text(encoding=encoding)

    basemap._world_layers.cache_clear()
    monkeypatch.setattr(basemap, "data_file",
                        lambda name: FakeFile(tiny) if name == basemap.COUNTRIES_FILE else None)
    try:
        layers = load_base_map()
        assert len(layers.borders) == 1 and len(layers.coastlines) == 2 and len(layers.land) == 2
    finally:
        monkeypatch.undo()
        basemap._world_layers.cache_clear()


# --------------------------------------------------------------------------- picture

def _scene(n_targets=4, n_scans=30, seed=0):
    """Sensors near Sicily, targets flying straight lines, noisy tracks on them."""
    rng = np.random.default_rng(seed)
    sensors = [
        SensorSite("LRR", "radar", D(37.6), D(14.5), 800.0, {"range_max_m": 300e3}),
        SensorSite("EO", "eo", D(37.4), D(14.9), 30.0,
                   {"range_max_m": 15e3, "azimuth_min_rad": D(90), "azimuth_max_rad": D(270)}),
    ]
    times = np.arange(0.0, 600.0, 2.0)
    start_lat = D(36.5 + rng.uniform(0, 1.5, n_targets))
    start_lon = D(13.0 + rng.uniform(0, 3, n_targets))
    bearing = rng.uniform(0, 2 * np.pi, n_targets)
    lat, lon = geo.destination(start_lat[:, None], start_lon[:, None], bearing[:, None], 200.0 * times[None, :])
    position = geo.geodetic_to_ecef(lat, lon, np.full(lat.shape, 9000.0))
    velocity = np.gradient(position, times, axis=1)
    position[0, : len(times) // 3] = np.nan  # a target that appears later
    truth = Truth([f"t{i}" for i in range(n_targets)], ["airliner"] * n_targets, times, position, velocity,
                  np.ones(n_targets), np.zeros(n_targets, int))
    parts = []
    for k, t in enumerate(np.linspace(0.0, 590.0, n_scans)):
        p, v = truth.state_at(np.full(n_targets, t), np.arange(n_targets))
        alive = np.isfinite(p[:, 0])
        status = np.full(alive.sum(), CONFIRMED if k >= 3 else TENTATIVE, np.int8)
        parts.append(TrackStates(np.full(alive.sum(), t), np.flatnonzero(alive).astype(np.int64) + 1,
                                 p[alive] + rng.normal(0, 100, (alive.sum(), 3)), v[alive], status))
    zones = [Zone("R1", "no_fly", D(np.array([37.0, 37.2, 37.1])), D(np.array([15.3, 15.6, 15.9])), 0, 5e3)]
    defended = [DefendedPoint("Base", D(37.4), D(14.92), 0.0, 20e3)]
    return sensors, truth, TrackStates.concatenate(parts), defended, zones


def _has_colour(image, rgb, tolerance=0.02):
    return bool((np.abs(image[..., :3] - np.asarray(rgb)[:3]).max(axis=-1) < tolerance).any())


def test_picture_is_a_png_of_the_requested_size_and_not_blank(tmp_path):
    sensors, truth, tracks, defended, zones = _scene()
    out = render_picture(tmp_path / "sub" / "picture.png", sensors=sensors, truth=truth, tracks=tracks,
                         defended_points=defended, zones=zones, title="test", size_px=(900, 600), dpi=100)
    assert out.exists() and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = imread(out)
    assert image.shape[:2] == (600, 900)
    assert image[..., :3].std() > 0.05
    # Every confirmed track's colour made it onto the picture.
    for track_id in np.unique(tracks.track_id[tracks.status == CONFIRMED]):
        assert _has_colour(image, TRACK_PALETTE[track_id % len(TRACK_PALETTE)]), track_id


def test_picture_copes_with_nothing_to_draw(tmp_path):
    out = render_picture(tmp_path / "empty.png", size_px=(400, 300))
    assert imread(out).shape[:2] == (300, 400)
    truth = Truth([], [], np.arange(3.0), np.zeros((0, 3, 3)), np.zeros((0, 3, 3)), np.zeros(0), np.zeros(0, int))
    out = render_picture(tmp_path / "empty2.png", sensors=[], truth=truth, tracks=TrackStates.empty(),
                         size_px=(400, 300))
    assert imread(out).shape[:2] == (300, 400)


def test_picture_without_base_map_still_renders(tmp_path, monkeypatch):
    sensors, truth, tracks, defended, zones = _scene(n_targets=2)
    basemap._world_layers.cache_clear()
    monkeypatch.setattr(basemap, "data_file", lambda name: None)
    try:
        out = render_picture(tmp_path / "nomap.png", sensors=sensors, truth=truth, tracks=tracks,
                             size_px=(500, 400))
    finally:
        monkeypatch.undo()
        basemap._world_layers.cache_clear()
    assert imread(out)[..., :3].std() > 0.02


def test_picture_draws_thousands_of_tracks(tmp_path):
    # Only confirmed rows are drawn; tentative-only and coasting rows must not break it.
    rng = np.random.default_rng(3)
    n_tracks, n_scans = 2000, 10
    track_id = np.repeat(np.arange(n_tracks), n_scans)
    time = np.tile(np.arange(n_scans) * 4.0, n_tracks)
    lat = D(36 + rng.uniform(0, 2, n_tracks))[track_id] + time * 1e-6
    lon = D(13 + rng.uniform(0, 3, n_tracks))[track_id] + time * 1e-6
    position = geo.geodetic_to_ecef(lat, lon, np.full(lat.shape, 5000.0))
    status = rng.choice([TENTATIVE, CONFIRMED, COASTING], size=track_id.size).astype(np.int8)
    tracks = TrackStates(time, track_id, position, np.zeros_like(position), status)
    out = render_picture(tmp_path / "many.png", tracks=tracks, size_px=(800, 600))
    assert imread(out)[..., :3].std() > 0.05


# --------------------------------------------------------------------------- parquet

def _tracks_with_known_enu_velocity():
    lat = D(np.array([37.5, -33.9, 0.0, 60.0]))
    lon = D(np.array([14.9, 151.2, -45.0, -170.0]))
    alt = np.array([9000.0, 12.345, 0.0, 35000.0])
    # East, north, up (m/s) chosen so heading and speed are known by hand.
    enu = np.array([[100.0, 0.0, 5.0], [0.0, -250.0, 0.0], [-30.0, 30.0, -2.0], [0.0, 0.0, 0.0]])
    heading = np.array([90.0, 180.0, 315.0, 0.0])
    speed = np.array([100.0, 250.0, math.hypot(30, 30), 0.0])
    position = geo.geodetic_to_ecef(lat, lon, alt)
    velocity = np.array([geo.enu_vectors_to_ecef(v, geo.enu_rotation(la, lo)) for v, la, lo in zip(enu, lat, lon)])
    tracks = TrackStates(
        time=np.array([0.0, 4.0, 4.0, 8.5]),
        track_id=np.array([7, 8, 9, 7], dtype=np.int64),
        position=position,
        velocity=velocity,
        status=np.array([TENTATIVE, CONFIRMED, COASTING, CONFIRMED], dtype=np.int8),
        position_cov=None,
        track_class=np.array(["airliner", None, "bird", "unknown"], dtype=object),
    )
    return tracks, np.degrees(lat), np.degrees(lon), alt, enu, heading, speed


def test_parquet_columns_hold_geodetic_position_and_enu_velocity(tmp_path):
    tracks, lat, lon, alt, enu, heading, speed = _tracks_with_known_enu_velocity()
    path = write_tracks_parquet(tmp_path / "out" / "tracks.parquet", tracks)
    table = pq.read_table(path)
    assert table.column_names == ["time", "track_id", "lat", "lon", "alt", "vx", "vy", "vz",
                                  "speed_mps", "heading_deg", "status", "track_class"]
    col = {name: table.column(name).to_pylist() for name in table.column_names}
    np.testing.assert_allclose(col["lat"], lat, atol=1e-9)
    np.testing.assert_allclose(col["lon"], lon, atol=1e-9)
    np.testing.assert_allclose(col["alt"], alt, atol=1e-3)
    np.testing.assert_allclose(np.column_stack([col["vx"], col["vy"], col["vz"]]), enu, atol=1e-9)
    np.testing.assert_allclose(col["speed_mps"], speed, atol=1e-9)
    np.testing.assert_allclose(col["heading_deg"], heading, atol=1e-9)
    assert col["status"] == ["tentative", "confirmed", "coasting", "confirmed"]
    assert col["track_class"] == ["airliner", None, "bird", "unknown"]
    assert col["track_id"] == [7, 8, 9, 7] and col["time"] == [0.0, 4.0, 4.0, 8.5]
    assert table.schema.field("vx").metadata[b"unit"] == b"m/s east"


def test_parquet_round_trip_restores_the_ecef_tracks(tmp_path):
    tracks, *_ = _tracks_with_known_enu_velocity()
    back = read_tracks_parquet(write_tracks_parquet(tmp_path / "t.parquet", tracks))
    np.testing.assert_array_equal(back.time, tracks.time)
    np.testing.assert_array_equal(back.track_id, tracks.track_id)
    np.testing.assert_array_equal(back.status, tracks.status)
    np.testing.assert_allclose(back.position, tracks.position, atol=1e-3)  # millimetre
    np.testing.assert_allclose(back.velocity, tracks.velocity, atol=1e-9)
    assert list(back.track_class) == list(tracks.track_class)


def test_parquet_without_class_and_empty(tmp_path):
    tracks, *_ = _tracks_with_known_enu_velocity()
    tracks.track_class = None
    table = pq.read_table(write_tracks_parquet(tmp_path / "a.parquet", tracks))
    assert "track_class" not in table.column_names
    assert read_tracks_parquet(tmp_path / "a.parquet").track_class is None
    empty = read_tracks_parquet(write_tracks_parquet(tmp_path / "e.parquet", TrackStates.empty()))
    assert len(empty) == 0 and empty.position.shape == (0, 3)


def test_close_up_is_centred_on_the_defended_point_and_only_when_it_helps():
    from airpicture.outputs.picture import _build_scene, _inset_view

    sensors, truth, tracks, defended, zones = _scene(n_targets=2)
    scene = _build_scene(sensors, truth, tracks, defended, zones)
    (x0, x1), (y0, y1) = _inset_view(scene, (12.0, 17.0), (35.0, 39.0))
    assert 0.5 * (x0 + x1) == pytest.approx(14.92, abs=1e-6)
    assert 0.5 * (y0 + y1) == pytest.approx(37.4, abs=1e-6)
    # Defended radius 20 km > the EO's 15 km: the box holds the defended circle.
    assert (y1 - y0) / 2 * 111_195.0 >= 20e3
    # On a map barely larger than the defended area, no close-up.
    assert _inset_view(scene, (14.6, 15.2), (37.2, 37.6)) is None


def test_confirmed_lines_group_rows_by_track_in_time_order_with_class_labels():
    from airpicture.outputs.picture import _confirmed_lines

    lat = D(np.array([37.0, 37.1, 37.2, 36.0, 36.5, 38.0]))
    lon = D(np.array([14.0, 14.1, 14.2, 13.0, 13.5, 15.0]))
    tracks = TrackStates(
        time=np.array([8.0, 4.0, 12.0, 4.0, 8.0, 4.0]),
        track_id=np.array([5, 5, 5, 6, 6, 7], np.int64),
        position=geo.geodetic_to_ecef(lat, lon, np.zeros(6)),
        velocity=np.zeros((6, 3)),
        status=np.array([CONFIRMED, CONFIRMED, CONFIRMED, CONFIRMED, COASTING, TENTATIVE], np.int8),
        track_class=np.array(["unknown", "unknown", "bird", None, "fighter", "bird"], dtype=object),
    )
    ids, lines, labels = _confirmed_lines(tracks)
    assert ids.tolist() == [5, 6]
    np.testing.assert_allclose(lines[0], [[14.1, 37.1], [14.0, 37.0], [14.2, 37.2]], atol=1e-9)  # by time
    # A coasting row stays in the picture (the operator still sees the track); tentative ones do not.
    np.testing.assert_allclose(lines[1], [[13.0, 36.0], [13.5, 36.5]], atol=1e-9)
    assert labels == ["T5 bird", "T6 fighter"]
