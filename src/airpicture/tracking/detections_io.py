"""Reading plain detection lists (CSV) into columns, and writing track lists back, for ``airpicture track``.

Input format
------------
A CSV file with a header line and one detection per line:

- ``time`` (s), non-decreasing down the file; rows with the same time form one scan;
- either ``x,y[,z]`` (m, a local Cartesian frame) or ``lat,lon[,alt]`` (degrees, metres above the WGS-84 ellipsoid);
- optional ``sensor`` (any text; kept for the summary);
- optional per-row standard deviations: ``sigma`` (m, every axis) or ``sigma_x,sigma_y[,sigma_z]``
  (for lat/lon files: ``sigma_x`` east, ``sigma_y`` north, ``sigma_z`` up).

Handling of bad input
---------------------
- A missing column, a cell that is not a number, a line with the wrong number of cells, a non-positive sigma or a
  time that goes backwards raises :class:`airpicture.errors.InputError` naming the file, the line and the column.
- A row whose time or position cell is empty, ``NaN`` or infinite is skipped; the number of such rows and the
  line of the first one are reported (``skipped_rows``, ``first_skipped_line``).

Geodetic input is tracked in an East-North-Up frame tangent to the ellipsoid below the centroid of the data
(3-D when ``alt`` is given; with lat/lon only, in the horizontal E-N plane, with positions kept on the ellipsoid)
and converted back to lat/lon on output.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from airpicture import geo
from airpicture.errors import InputError

__all__ = ["Detections", "read_detections", "LocalFrame", "TrackCsvWriter"]


@dataclass
class LocalFrame:
    """East-North-Up tangent frame for geodetic input (origin on the ellipsoid)."""

    origin_ecef: np.ndarray
    rotation: np.ndarray  # ECEF -> ENU rows
    dim: int  # 2: horizontal only, positions kept on the ellipsoid; 3: full ENU

    @classmethod
    def at_centroid(cls, lat_rad, lon_rad, alt_m, dim: int) -> "LocalFrame":
        ecef = geo.geodetic_to_ecef(lat_rad, lon_rad, alt_m)
        mean = ecef.mean(axis=0)
        lat0, lon0, _ = geo.ecef_to_geodetic(mean[None, :])
        lat0, lon0 = float(np.ravel(lat0)[0]), float(np.ravel(lon0)[0])
        origin = geo.geodetic_to_ecef(np.array([lat0]), np.array([lon0]), np.array([0.0]))[0]
        return cls(origin, geo.enu_rotation(lat0, lon0), dim)

    def to_local(self, lat_rad, lon_rad, alt_m) -> np.ndarray:
        enu = geo.ecef_to_enu(geo.geodetic_to_ecef(lat_rad, lon_rad, alt_m), self.origin_ecef, self.rotation)
        return enu[:, : self.dim]

    def to_geodetic(self, local: np.ndarray):
        """Local positions back to (lat_rad, lon_rad, alt_m)."""
        if self.dim == 3:
            return geo.ecef_to_geodetic(geo.enu_to_ecef(local, self.origin_ecef, self.rotation))
        # 2-D: find the ellipsoid point with these East and North coordinates (Up solved by a few fixed-point
        # steps, each removing the height left over by the previous guess).
        up = np.zeros(local.shape[0])
        for _ in range(4):
            enu = np.column_stack([local[:, 0], local[:, 1], up])
            lat, lon, alt = geo.ecef_to_geodetic(geo.enu_to_ecef(enu, self.origin_ecef, self.rotation))
            up = up - alt
        return lat, lon, np.zeros_like(lat)

    def velocity_to_local_enu(self, velocity: np.ndarray, lat_rad, lon_rad) -> np.ndarray:
        """Frame velocities to East/North(/Up) at each track's own position."""
        v = np.zeros((velocity.shape[0], 3))
        v[:, : self.dim] = velocity
        v_ecef = v @ self.rotation  # ENU(origin) -> ECEF
        sl, cl, so, co = np.sin(lat_rad), np.cos(lat_rad), np.sin(lon_rad), np.cos(lon_rad)
        east = -so * v_ecef[:, 0] + co * v_ecef[:, 1]
        north = -sl * co * v_ecef[:, 0] - sl * so * v_ecef[:, 1] + cl * v_ecef[:, 2]
        up = cl * co * v_ecef[:, 0] + cl * so * v_ecef[:, 1] + sl * v_ecef[:, 2]
        return np.column_stack([east, north, up])[:, : self.dim]


@dataclass
class Detections:
    """Detections as columns, in file order, with bad rows removed."""

    source: str
    time: np.ndarray  # (n,) s
    position: np.ndarray  # (n, dim) m, in the local frame
    sigma: np.ndarray | None  # (n,) or (n, dim) m, or None
    row: np.ndarray  # (n,) index of each kept row among the file's data rows
    dim: int
    geodetic: bool
    frame: LocalFrame | None
    sensor: np.ndarray | None = None  # (n,) str
    skipped_rows: int = 0
    first_skipped_line: int | None = None
    columns: list[str] = field(default_factory=list)

    def scans(self):
        """Yield (time, row slice) for each scan: maximal runs of identical time."""
        t = self.time
        if t.size == 0:
            return
        starts = np.flatnonzero(np.r_[True, t[1:] != t[:-1]])
        ends = np.r_[starts[1:], t.size]
        for s, e in zip(starts, ends):
            yield float(t[s]), slice(int(s), int(e))


_NUMERIC = ("time", "x", "y", "z", "lat", "lon", "alt", "sigma", "sigma_x", "sigma_y", "sigma_z")


def read_detections(path) -> Detections:
    """Read a detection CSV (see module docstring). Raises InputError on bad input."""
    path = Path(path)
    source = str(path)
    if path.is_dir():
        raise InputError("is a folder, not a detection CSV file", source=source)
    if not path.is_file():
        raise InputError("no such file", source=source)
    header = _read_header(path, source)
    names = [h.strip() for h in header]
    lowered = [n.lower() for n in names]
    if len(set(lowered)) != len(lowered):
        dup = next(n for n in lowered if lowered.count(n) > 1)
        raise InputError("column appears twice in the header", source=source, line=1, field=dup)
    cols = set(lowered)
    if "time" not in cols:
        raise InputError("missing column (need time and x,y[,z] or lat,lon[,alt])", source=source, line=1,
                         field="time")
    if {"x", "y"} <= cols:
        geodetic = False
        pos_names = ["x", "y"] + (["z"] if "z" in cols else [])
    elif {"lat", "lon"} <= cols:
        geodetic = True
        pos_names = ["lat", "lon"] + (["alt"] if "alt" in cols else [])
    else:
        missing = next(c for c in ("x", "y") if c not in cols) if ("x" in cols or "y" in cols) else (
            next(c for c in ("lat", "lon") if c not in cols) if ("lat" in cols or "lon" in cols) else "x")
        raise InputError("missing position column (need x,y[,z] or lat,lon[,alt])", source=source, line=1,
                         field=missing)
    dim = len(pos_names)
    if "sigma_x" in cols or "sigma_y" in cols:
        sigma_names = ["sigma_x", "sigma_y"] + (["sigma_z"] if dim == 3 else [])
        for s in sigma_names:
            if s not in cols:
                raise InputError("per-axis sigma columns must come together", source=source, line=1, field=s)
    elif "sigma" in cols:
        sigma_names = ["sigma"]
    else:
        sigma_names = []
    wanted = ["time"] + pos_names + sigma_names
    types = {names[lowered.index(w)]: pa.float64() for w in wanted}
    sensor_name = names[lowered.index("sensor")] if "sensor" in cols else None
    if sensor_name is not None:
        types[sensor_name] = pa.string()
    include = [names[lowered.index(w)] for w in wanted] + ([sensor_name] if sensor_name else [])

    bad_rows: list = []

    def on_invalid(row):
        bad_rows.append(row)
        return "skip"

    parse = pacsv.ParseOptions(invalid_row_handler=on_invalid)
    convert = pacsv.ConvertOptions(column_types=types, include_columns=include,
                                   null_values=["", "NaN", "nan", "NA", "null"], strings_can_be_null=True)
    try:
        table = pacsv.read_csv(path, parse_options=parse, convert_options=convert)
    except pa.ArrowInvalid as exc:
        _raise_first_bad_cell(path, source, include, types, str(exc))
        raise InputError(f"cannot read CSV: {exc}", source=source) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read file: {exc}", source=source) from None
    if bad_rows:
        row = bad_rows[0]
        line = row.number if row.number is not None and row.number > 0 else _first_ragged_line(path, len(names))
        raise InputError(f"expected {row.expected_columns} cells, found {row.actual_columns}", source=source,
                         line=line)

    n = table.num_rows
    rows = np.arange(n)
    line_cache: list = []

    def line_of(row: int) -> int:
        # Line numbers need a pass over the raw file: only done when something is reported.
        if not line_cache:
            line_cache.append(_data_line_numbers(path, n))
        return int(line_cache[0][row])

    def column(name):
        arr = table.column(names[lowered.index(name)])
        return arr.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)

    time = column("time")
    pos_columns = [column(c) for c in pos_names]
    # Column by column: reductions along a short axis of a long array are slow in NumPy.
    finite = np.isfinite(time)
    for values in pos_columns:
        finite &= np.isfinite(values)
    pos_raw = np.column_stack(pos_columns) if n else np.zeros((0, dim))
    sigma = None
    if sigma_names:
        sig_columns = [column(c) for c in sigma_names]
        non_positive = np.zeros(n, bool)
        for values in sig_columns:
            finite &= np.isfinite(values)
            non_positive |= values <= 0
        sig = np.column_stack(sig_columns) if n else np.zeros((0, len(sigma_names)))
        bad = finite & non_positive
        if bad.any():
            r = int(np.flatnonzero(bad)[0])
            c = sigma_names[int(np.flatnonzero(sig[r] <= 0)[0])]
            raise InputError(f"sigma must be > 0, got {sig[r][sigma_names.index(c)]:g}", source=source,
                             line=line_of(r), field=c)
        sigma = sig[:, 0] if len(sigma_names) == 1 else sig
    skipped = int(n - np.count_nonzero(finite))
    first_skipped = line_of(int(np.flatnonzero(~finite)[0])) if skipped else None
    keep = rows[finite]
    time, pos_raw = time[keep], pos_raw[keep]
    if sigma is not None:
        sigma = sigma[keep]
    back = np.flatnonzero(np.diff(time) < 0)
    if back.size:
        r = int(back[0]) + 1
        raise InputError(f"time goes backwards ({time[r]:g} s after {time[r - 1]:g} s); "
                         "sort the file by time", source=source, line=line_of(int(keep[r])), field="time")
    sensor = None
    if sensor_name is not None:
        sensor = np.asarray(table.column(sensor_name).to_numpy(zero_copy_only=False), dtype=object)[keep]

    frame = None
    if geodetic:
        lat, lon = pos_raw[:, 0], pos_raw[:, 1]
        bad = (np.abs(lat) > 90) | (np.abs(lon) > 360)
        if bad.any():
            r = int(np.flatnonzero(bad)[0])
            fld = "lat" if abs(lat[r]) > 90 else "lon"
            raise InputError("latitude must be within +-90 deg and longitude within +-360 deg", source=source,
                             line=line_of(int(keep[r])), field=fld)
        alt = pos_raw[:, 2] if dim == 3 else np.zeros(lat.size)
        lat_r, lon_r = np.radians(lat), np.radians(lon)
        if lat.size:
            frame = LocalFrame.at_centroid(lat_r, lon_r, alt, dim)
            position = frame.to_local(lat_r, lon_r, alt)
        else:
            position = np.zeros((0, dim))
    else:
        position = pos_raw
    return Detections(source, time, np.ascontiguousarray(position), sigma, keep, dim, geodetic, frame, sensor,
                      skipped, first_skipped, names)


def _read_header(path: Path, source: str) -> list[str]:
    try:
        with open(path, "r", encoding="utf-8", newline="") as fh:
            for line in fh:
                if line.strip():
                    return next(csv.reader([line.rstrip("\r\n")]))
    except UnicodeDecodeError:
        raise InputError("not a UTF-8 text file", source=source, line=1) from None
    raise InputError("empty file (need a header line: time,x,y or time,lat,lon)", source=source, line=1)


def _first_ragged_line(path: Path, n_columns: int) -> int | None:
    """Error path only: the first line whose number of cells differs from the header's."""
    with open(path, "r", encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        for row in reader:
            if row and len(row) != n_columns:
                return reader.line_num
    return None


def _data_line_numbers(path: Path, n_rows: int) -> np.ndarray:
    """1-based file line of each data row, allowing for blank lines (which the CSV reader skips)."""
    raw = np.fromfile(path, dtype=np.uint8)
    newline = np.flatnonzero(raw == 10)
    # Line k (1-based) spans from the end of line k-1 to newline k-1; it is blank if it holds only '\r' or nothing.
    starts = np.r_[0, newline + 1]
    ends = np.r_[newline, raw.size]
    length = ends - starts
    blank = (length == 0) | ((length == 1) & (raw[np.minimum(starts, raw.size - 1)] == 13))
    blank[-1] |= starts[-1] >= raw.size
    content_lines = np.flatnonzero(~blank) + 1
    data_lines = content_lines[1:]  # the first non-blank line is the header
    if data_lines.size >= n_rows:
        return data_lines[:n_rows].astype(np.int64)
    # Quoted multi-line cells: fall back to the plain row count.
    return np.arange(2, n_rows + 2, dtype=np.int64)


def _raise_first_bad_cell(path: Path, source: str, include: list[str], types: dict, message: str) -> None:
    """Error path only: find the first cell that is not a number and raise InputError with its line."""
    as_text = {name: pa.string() for name in include}
    try:
        table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types=as_text,
                                                                          include_columns=include))
    except pa.ArrowInvalid:
        return
    lines = _data_line_numbers(path, table.num_rows)
    nulls = {"", "nan", "na", "null"}
    first = None
    for name in include:
        if types.get(name) != pa.float64():
            continue
        values = table.column(name).to_pylist()
        for i, v in enumerate(values):
            if first is not None and i >= first[0]:
                break
            if v is None or v.strip().lower() in nulls:
                continue
            try:
                float(v)
            except ValueError:
                first = (i, name, v)
                break
    if first is not None:
        i, name, v = first
        raise InputError(f"not a number: {v!r}", source=source, line=int(lines[i]), field=name)


class TrackCsvWriter:
    """Writes confirmed track states scan by scan: ``time,track_id,x,y[,z],vx,vy[,vz]`` or the lat/lon form.

    For geodetic input the columns are ``time,track_id,lat,lon[,alt],vx,vy[,vz]`` with the velocity in East,
    North(, Up) components (m/s) at the track's own position.
    """

    def __init__(self, path, dim: int, frame: LocalFrame | None):
        self.path = Path(path)
        self.dim = dim
        self.frame = frame
        axes = ["x", "y", "z"][:dim]
        pos_names = (["lat", "lon", "alt"][:dim]) if frame is not None else axes
        self.names = ["time", "track_id"] + pos_names + ["v" + a for a in axes]
        fields = [pa.field("time", pa.float64()), pa.field("track_id", pa.int64())]
        fields += [pa.field(n, pa.float64()) for n in self.names[2:]]
        self.schema = pa.schema(fields)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # The header is written by hand: pyarrow quotes column names, which some readers keep.
            self._file = open(self.path, "wb")
            self._file.write((",".join(self.names) + "\n").encode())
            self._writer = pacsv.CSVWriter(self._file, self.schema,
                                           write_options=pacsv.WriteOptions(include_header=False))
        except OSError as exc:
            raise InputError(f"cannot write output: {exc}", source=str(self.path)) from None
        self.rows = 0

    def write(self, time: float, track_id, position, velocity) -> None:
        k = int(np.asarray(track_id).shape[0])
        if k == 0:
            return
        # Rounded to a millimetre (1e-9 degree, ~0.1 mm) and a mm/s: the numbers print shorter and faster, and
        # no tracker is that accurate.
        if self.frame is None:
            pos_cols = [np.round(position[:, i], 3) for i in range(self.dim)]
            vel = velocity
        else:
            lat, lon, alt = self.frame.to_geodetic(position)
            pos_cols = [np.round(np.degrees(lat), 9), np.round(np.degrees(lon), 9)]
            pos_cols += [np.round(alt, 3)] if self.dim == 3 else []
            vel = self.frame.velocity_to_local_enu(velocity, lat, lon)
        vel = np.round(vel, 3)
        arrays = [pa.array(np.full(k, time)), pa.array(np.asarray(track_id, np.int64))]
        arrays += [pa.array(np.ascontiguousarray(c, dtype=np.float64)) for c in pos_cols]
        arrays += [pa.array(np.ascontiguousarray(vel[:, i], dtype=np.float64)) for i in range(self.dim)]
        self._writer.write_table(pa.Table.from_arrays(arrays, schema=self.schema))
        self.rows += k

    def close(self) -> None:
        self._writer.close()
        self._file.close()
