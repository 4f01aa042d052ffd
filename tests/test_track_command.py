"""``airpicture track``: formats in and out, and bad input reported with file, line and column."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from airpicture import geo
from airpicture.errors import InputError
from airpicture.tracking.track_command import run_track


def _targets(n_scans=8, dt=4.0):
    """Two straight-flying targets in a local x/y frame (m)."""
    times = np.arange(n_scans) * dt
    p0 = np.array([[0.0, 0.0], [20_000.0, 5_000.0]])
    v = np.array([[150.0, 50.0], [-100.0, 120.0]])
    return times, p0[None] + times[:, None, None] * v[None], v


def _write(path: Path, header: list[str], rows) -> Path:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def _read(path: Path):
    with open(path) as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
    return reader.fieldnames, rows


def _xy_rows(seed=0, with_sigma=False):
    rng = np.random.default_rng(seed)
    times, pos, _ = _targets()
    rows = []
    for t, p in zip(times, pos):
        for q in p + rng.normal(0, 20, p.shape):
            rows.append([t, q[0], q[1]] + ([20.0] if with_sigma else []))
    return rows


def test_xy_file_tracks_both_targets(tmp_path):
    src = _write(tmp_path / "det.csv", ["time", "x", "y"], _xy_rows())
    out = tmp_path / "tracks.csv"
    summary = run_track(src, out, sigma_m=20.0)
    names, rows = _read(out)
    assert names == ["time", "track_id", "x", "y", "vx", "vy"]
    assert summary["confirmed_tracks"] == 2 and summary["scans"] == 8 and summary["skipped_rows"] == 0
    assert summary["track_rows"] == len(rows) == 2 * 6  # confirmed from the third scan on
    times, pos, v = _targets()
    last = [r for r in rows if float(r["time"]) == times[-1]]
    for r in last:
        d = np.linalg.norm(pos[-1] - [float(r["x"]), float(r["y"])], axis=1)
        k = int(np.argmin(d))
        assert d[k] < 60.0
        assert np.linalg.norm(v[k] - [float(r["vx"]), float(r["vy"])]) < 15.0


def test_latlon_file_round_trips_to_latlon(tmp_path):
    # Place the x/y targets on an East-North plane near 52N 4E and write them as lat/lon.
    lat0, lon0 = np.radians(52.0), np.radians(4.0)
    origin = geo.geodetic_to_ecef(lat0, lon0, 0.0)
    rot = geo.enu_rotation(lat0, lon0)
    times, pos, v = _targets()
    rng = np.random.default_rng(1)
    rows = []
    for t, p in zip(times, pos):
        enu = np.column_stack([p + rng.normal(0, 10, p.shape), np.zeros(2)])
        lat, lon, _ = geo.ecef_to_geodetic(geo.enu_to_ecef(enu, origin, rot))
        for a, b in zip(np.degrees(lat), np.degrees(lon)):
            rows.append([t, a, b, "radar1"])
    src = _write(tmp_path / "det.csv", ["time", "lat", "lon", "sensor"], rows)
    out = tmp_path / "tracks.csv"
    summary = run_track(src, out, sigma_m=10.0)
    names, got = _read(out)
    assert names == ["time", "track_id", "lat", "lon", "vx", "vy"]
    assert summary["confirmed_tracks"] == 2 and summary["sensors"] == 1
    last = [r for r in got if float(r["time"]) == times[-1]]
    truth_enu = np.column_stack([pos[-1], np.zeros(2)])
    t_lat, t_lon, _ = geo.ecef_to_geodetic(geo.enu_to_ecef(truth_enu, origin, rot))
    for r in last:
        d = geo.haversine_m(np.radians(float(r["lat"])), np.radians(float(r["lon"])), t_lat, t_lon)
        k = int(np.argmin(d))
        assert d[k] < 40.0
        # Velocity is East/North at the track: close to the plane's velocity this near the origin.
        assert np.linalg.norm(v[k] - [float(r["vx"]), float(r["vy"])]) < 10.0


def test_xyz_with_per_row_sigma(tmp_path):
    rows = [r[:3] + [1000.0 + 2.0 * r[0], 20.0] for r in _xy_rows()]
    src = _write(tmp_path / "det.csv", ["time", "x", "y", "z", "sigma"], rows)
    out = tmp_path / "tracks.csv"
    summary = run_track(src, out, sigma_m=500.0)
    names, got = _read(out)
    assert names == ["time", "track_id", "x", "y", "z", "vx", "vy", "vz"]
    assert summary["confirmed_tracks"] == 2
    assert all(abs(float(r["vz"]) - 2.0) < 5.0 for r in got[-2:])


def test_nan_and_empty_rows_are_skipped_and_counted(tmp_path):
    rows = _xy_rows()
    rows.insert(3, [rows[3][0], "NaN", 5.0])
    rows.insert(6, [rows[6][0], "", 5.0])
    src = _write(tmp_path / "det.csv", ["time", "x", "y"], rows)
    summary = run_track(src, tmp_path / "tracks.csv", sigma_m=20.0)
    assert summary["skipped_rows"] == 2
    assert summary["first_skipped_line"] == 5  # header is line 1, the NaN row is the 4th data row
    assert summary["confirmed_tracks"] == 2


def _expect_error(tmp_path, text, line=None, field=None, **kwargs):
    src = tmp_path / "bad.csv"
    src.write_text(text)
    with pytest.raises(InputError) as info:
        run_track(src, tmp_path / "out.csv", **kwargs)
    err = info.value
    assert err.source == str(src)
    if line is not None:
        assert err.line == line
    if field is not None:
        assert err.field == field
    assert str(src) in str(err)
    return err


def test_missing_columns(tmp_path):
    _expect_error(tmp_path, "time,x,z\n0,1,2\n", line=1, field="y")
    _expect_error(tmp_path, "t,x,y\n0,1,2\n", line=1, field="time")
    _expect_error(tmp_path, "time,lat\n0,1\n", line=1, field="lon")
    _expect_error(tmp_path, "", line=1)


def test_non_numeric_cell_names_line_and_column(tmp_path):
    # A blank line before the bad row: line numbers count physical lines.
    _expect_error(tmp_path, "time,x,y\n0,1,2\n\n4,abc,3\n", line=4, field="x")
    _expect_error(tmp_path, "time,x,y\n0,1,2\n4,1,2\nsoon,1,2\n", line=4, field="time")


def test_wrong_number_of_cells(tmp_path):
    _expect_error(tmp_path, "time,x,y\n0,1,2\n4,1\n8,1,2\n", line=3)


def test_time_going_backwards(tmp_path):
    _expect_error(tmp_path, "time,x,y\n0,1,2\n4,1,2\n\n2,1,2\n", line=5, field="time")


def test_non_positive_sigma_and_bad_latitude(tmp_path):
    _expect_error(tmp_path, "time,x,y,sigma\n0,1,2,10\n4,1,2,0\n", line=3, field="sigma")
    _expect_error(tmp_path, "time,lat,lon\n0,10,20\n4,95,20\n", line=3, field="lat")


def test_bad_options(tmp_path):
    src = _write(tmp_path / "det.csv", ["time", "x", "y"], _xy_rows())
    for kwargs, field in [({"confirm": "3"}, "--confirm"), ({"confirm": "4/3"}, "--confirm"),
                          ({"delete_after": 0}, "--delete-after"), ({"sigma_m": -1.0}, "--sigma"),
                          ({"association": "mht"}, "--association")]:
        with pytest.raises(InputError) as info:
            run_track(src, tmp_path / "out.csv", **kwargs)
        assert info.value.field == field


def test_two_sensors_reporting_at_the_same_times(tmp_path):
    rows = []
    for r in _xy_rows(seed=2):
        rows.append(r + ["a"])
    for r in _xy_rows(seed=3):
        rows.append(r + ["b"])
    rows.sort(key=lambda r: r[0])
    src = _write(tmp_path / "det.csv", ["time", "x", "y", "sensor"], rows)
    summary = run_track(src, tmp_path / "tracks.csv", sigma_m=20.0)
    assert summary["sensors"] == 2
    assert summary["confirmed_tracks"] == 2


def test_cli_exit_code_and_message(tmp_path):
    typer_testing = pytest.importorskip("typer.testing")
    from airpicture.cli import app

    if not any(getattr(c, "name", None) == "track" for c in app.registered_commands):
        pytest.skip("the track command is not wired into the CLI")
    src = tmp_path / "bad.csv"
    src.write_text("time,x,y\n0,1,2\n4,oops,2\n")
    result = typer_testing.CliRunner().invoke(app, ["track", str(src), "-o", str(tmp_path / "o.csv")])
    assert result.exit_code == 2
    text = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert "Traceback" not in text
    assert f"{src}:3" in text.replace("\n", "")
