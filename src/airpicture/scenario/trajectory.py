"""Truth trajectories: every target of a scenario flown on one uniform time grid.

Two kinds of target:

* **Waypoint targets** fly a guidance law toward their next waypoint within their
  class envelope (:mod:`airpicture.scenario.classes`): coordinated turns whose heading
  rate is limited by the bank angle (omega = g tan(bank) / v) and by a roll-in time,
  climbs and descents within the climb/descent limits on a straight altitude profile
  toward the next waypoint, speed changes within the acceleration limit. All waypoint
  targets advance together, one time step at a time, as arrays.
* **Recorded targets** replay a CSV file ``time,lat,lon,alt`` (s, deg, deg, m),
  resampled onto the grid and smoothed; velocity is the derivative of the same
  smoothing fit, so position and velocity agree.

Positions are integrated in geodetic coordinates with the WGS-84 radii of curvature at
each step (d lat = d north / (M + h), d lon = d east / ((N + h) cos lat)), so a 600 km
leg ends where it should; the ECEF velocity is the local east/north/up velocity rotated
at the same point, which is exactly the derivative of that position.

Randomness (bird wandering) comes from one NumPy generator per target, derived from the
scenario seed and the target's *name*, so adding or reordering targets leaves the
others unchanged.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from .. import geo
from ..errors import InputError, read_user_text
from ..truth import Truth
from .classes import G0, TARGET_CLASSES
from .model import Scenario, TargetSpec

DEG = np.pi / 180.0
# Descent/climb rate is commanded to meet the next waypoint's altitude, but never faster
# than this time constant closes the remaining height error (avoids chasing it at the end).
VERTICAL_TIME_CONSTANT_S = 5.0


# --------------------------------------------------------------------------- helpers

def target_rng(seed: int, name: str) -> np.random.Generator:
    """The random stream of one target: depends only on the scenario seed and the target name."""
    return np.random.default_rng(np.random.SeedSequence(entropy=int(seed),
                                                        spawn_key=(zlib.crc32(name.encode("utf-8")),)))


def time_grid(duration_s: float, step_s: float) -> np.ndarray:
    """Sample times 0, step, 2 step, ... up to and including duration (when it falls on the grid)."""
    n = int(np.floor(duration_s / step_s + 1e-9)) + 1
    return np.arange(n) * step_s


def _radii(lat):
    """Meridian (M) and prime-vertical (N) radii of curvature of WGS-84 at latitude lat."""
    s2 = np.sin(lat) ** 2
    w = np.sqrt(1.0 - geo.WGS84_E2 * s2)
    n = geo.WGS84_A / w
    m = geo.WGS84_A * (1.0 - geo.WGS84_E2) / (w * w * w)
    return m, n


def _bearing(lat1, lon1, lat2, lon2):
    """Initial great-circle bearing (rad, clockwise from north) from point 1 to point 2."""
    dlon = lon2 - lon1
    y = np.sin(dlon) * np.cos(lat2)
    x = np.cos(lat1) * np.sin(lat2) - np.sin(lat1) * np.cos(lat2) * np.cos(dlon)
    return np.arctan2(y, x)


def _wrap(angle):
    """Wrap to [-pi, pi) (inner-loop version of geo.wrap_angle, without its conversions)."""
    return np.mod(angle + np.pi, 2.0 * np.pi) - np.pi


def _clip(x, low, high):
    return np.minimum(np.maximum(x, low), high)


def _distance_bearing(lat1, lon1, lat2, lon2):
    """Great-circle distance (m, mean sphere) and initial bearing (rad) sharing one set of trig calls."""
    dlon = lon2 - lon1
    s1, c1, s2, c2 = np.sin(lat1), np.cos(lat1), np.sin(lat2), np.cos(lat2)
    sd, cd = np.sin(dlon), np.cos(dlon)
    hav = np.sin(0.5 * (lat2 - lat1)) ** 2 + c1 * c2 * np.sin(0.5 * dlon) ** 2
    dist = 2.0 * geo.EARTH_MEAN_RADIUS_M * np.arcsin(np.sqrt(_clip(hav, 0.0, 1.0)))
    bearing = np.arctan2(sd * c2, c1 * s2 - s1 * c2 * cd)
    return dist, bearing


def enu_velocity_to_ecef(lat, lon, v_east, v_north, v_up) -> np.ndarray:
    """Local east/north/up velocity components at (lat, lon) to an ECEF vector (..., 3)."""
    sl, cl = np.sin(lat), np.cos(lat)
    so, co = np.sin(lon), np.cos(lon)
    vx = -so * v_east - sl * co * v_north + cl * co * v_up
    vy = co * v_east - sl * so * v_north + cl * so * v_up
    vz = cl * v_north + sl * v_up
    return np.stack([vx, vy, vz], axis=-1)


def _wander_noise(rng: np.random.Generator, n: int, dt: float, tau: float, smooth_s: float = 3.0) -> np.ndarray:
    """Smooth unit-variance random sequence of length n with correlation time ~ tau.

    A first-order Gauss-Markov (Ornstein-Uhlenbeck) process, passed through a second
    first-order low-pass of time constant ``smooth_s``: the first gives the slow
    wandering, the second removes the step-to-step jitter a flying animal does not have.
    """
    phi1 = np.exp(-dt / max(tau, dt))
    phi2 = np.exp(-dt / max(smooth_s, dt))
    drive = rng.standard_normal(n) * np.sqrt(1.0 - phi1 * phi1)
    out = np.empty(n)
    x = drive[0] / np.sqrt(1.0 - phi1 * phi1)  # start in the stationary distribution
    y = x
    for k in range(n):  # a few birds x T samples: cheap, and avoids importing scipy.signal (slow)
        x = phi1 * x + drive[k]
        y = phi2 * y + (1.0 - phi2) * x
        out[k] = y
    # Stationary variance of the low-passed AR(1), to scale back to unit variance.
    var = (1.0 - phi2) ** 2 * (1.0 + phi1 * phi2) / ((1.0 - phi2 * phi2) * (1.0 - phi1 * phi2))
    return out / np.sqrt(var)


def _polynomial_smoother(y: np.ndarray, window: int, dt: float, order: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Savitzky-Golay smoothing of y (n, c) and its time derivative, local polynomial fits.

    Interior samples use the centred window; the first and last half-windows are taken
    from the polynomial fitted to the first / last full window, as ``savgol_filter(mode="interp")``.
    """
    n = y.shape[0]
    half = window // 2
    offsets = np.arange(-half, half + 1, dtype=float)
    vander = offsets[:, None] ** np.arange(order + 1)[None, :]
    fit = np.linalg.pinv(vander)  # (order+1, window): polynomial coefficients from samples
    smooth = np.empty_like(y)
    deriv = np.empty_like(y)
    # Interior: coefficients 0 and 1 of the centred fit, as a sliding dot product.
    windows = np.lib.stride_tricks.sliding_window_view(y, window, axis=0)  # (n-window+1, c, window)
    smooth[half:n - half] = windows @ fit[0]
    deriv[half:n - half] = windows @ fit[1] / dt
    powers = np.arange(order + 1)
    for start, rows in ((0, np.arange(half)), (n - window, np.arange(window - half, window))):
        coef = fit @ y[start:start + window]  # (order+1, c) polynomial of that edge window
        x = offsets[rows, None]
        smooth[start + rows] = (x ** powers[None, :]) @ coef
        deriv[start + rows] = ((powers[None, 1:] * x ** powers[None, :-1]) @ coef[1:]) / dt
    return smooth, deriv


# ---------------------------------------------------------------- waypoint targets

def fly_waypoints(specs: list[TargetSpec], times: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """Fly waypoint targets over the grid; every returned array is (m, T), NaN when not alive.

    Returns a dict with ``lat``, ``lon`` (rad), ``alt`` (m), ``heading`` (rad from north),
    ``ground_speed`` (horizontal, m/s) and ``climb_rate`` (m/s).
    """
    m, n_t = len(specs), len(times)
    out = {key: np.full((m, n_t), np.nan) for key in ("lat", "lon", "alt", "heading", "ground_speed", "climb_rate")}
    if m == 0 or n_t == 0:
        return out
    dt = float(times[1] - times[0]) if n_t > 1 else 1.0
    classes = [TARGET_CLASSES[s.target_class] for s in specs]

    def per_class(attr):
        return np.array([getattr(c, attr) for c in classes], dtype=float)

    v_min, v_max, v_cruise = per_class("min_speed_mps"), per_class("max_speed_mps"), per_class("cruise_speed_mps")
    climb, descent = per_class("max_climb_mps"), per_class("max_descent_mps")
    yaw_limit, bank_limit = per_class("max_turn_rate_rps"), per_class("max_bank_rad")
    accel, vaccel, roll_time = per_class("max_accel_mps2"), per_class("max_vertical_accel_mps2"), per_class("roll_in_time_s")

    # Waypoints padded into (m, K) tables.
    n_wp = np.array([len(s.waypoints) for s in specs])
    k_max = int(n_wp.max())
    wlat, wlon, walt = (np.zeros((m, k_max)) for _ in range(3))
    wspeed, wbank = np.full((m, k_max), np.nan), np.full((m, k_max), np.nan)
    for i, s in enumerate(specs):
        for k, w in enumerate(s.waypoints):
            wlat[i, k], wlon[i, k], walt[i, k] = w.lat_rad, w.lon_rad, w.alt_m
            if w.speed_mps is not None:
                wspeed[i, k] = w.speed_mps
            if w.turn_load_factor is not None:
                wbank[i, k] = np.arccos(1.0 / max(w.turn_load_factor, 1.0))
    loop = np.array([s.loop for s in specs])
    # Outgoing leg of each waypoint (to the next one, or to the first when looping): its
    # bearing and length set how early to start the turn (fly-by).
    nxt = np.where(np.arange(k_max)[None, :] + 1 < n_wp[:, None], np.arange(k_max)[None, :] + 1,
                   np.where(loop[:, None], 0, -1))
    has_out = nxt >= 0
    nxt_c = np.maximum(nxt, 0)
    rows = np.arange(m)[:, None]
    out_bearing = _bearing(wlat, wlon, wlat[rows, nxt_c], wlon[rows, nxt_c])
    out_length = geo.haversine_m(wlat, wlon, wlat[rows, nxt_c], wlon[rows, nxt_c])

    # Random wandering (birds): heading offset, speed factor and altitude offset over time.
    wander_psi, wander_speed, wander_alt = (np.zeros((m, n_t)) for _ in range(3))
    start_heading_noise = np.zeros(m)
    for i, (s, c) in enumerate(zip(specs, classes)):
        if c.wander_heading_rad > 0 or c.wander_speed_fraction > 0 or c.wander_altitude_m > 0 or n_wp[i] == 1:
            rng = target_rng(seed, s.name)
            start_heading_noise[i] = rng.uniform(-np.pi, np.pi)
            tau = c.wander_time_s or 20.0
            wander_psi[i] = c.wander_heading_rad * _wander_noise(rng, n_t, dt, tau)
            wander_speed[i] = c.wander_speed_fraction * _wander_noise(rng, n_t, dt, tau)
            wander_alt[i] = c.wander_altitude_m * _wander_noise(rng, n_t, dt, 3.0 * tau)

    start_index = np.array([int(np.ceil((s.start_time_s - times[0]) / dt - 1e-9)) for s in specs])

    lat, lon, alt = wlat[:, 0].copy(), wlon[:, 0].copy(), walt[:, 0].copy()
    heading = np.where(n_wp > 1, _bearing(wlat[:, 0], wlon[:, 0], wlat[rows[:, 0], np.minimum(1, n_wp - 1)],
                                          wlon[rows[:, 0], np.minimum(1, n_wp - 1)]), start_heading_noise)
    speed_cmd = np.clip(np.where(np.isnan(wspeed[:, 0]), v_cruise, wspeed[:, 0]), v_min, v_max)
    speed = speed_cmd.copy()
    climb_rate = np.zeros(m)
    turn_rate = np.zeros(m)
    target_wp = np.where(n_wp > 1, 1, 0)
    active = np.zeros(m, dtype=bool)
    finished = np.zeros(m, dtype=bool)
    idx = np.arange(m)

    for k in range(n_t):
        active |= (start_index == k) & ~finished
        if not active.any():
            if not ((start_index > k) & ~finished).any():
                break
            continue
        ground = np.sqrt(np.maximum(speed * speed - climb_rate * climb_rate, 0.0))
        a = active
        out["lat"][a, k], out["lon"][a, k], out["alt"][a, k] = lat[a], lon[a], alt[a]
        out["heading"][a, k] = np.mod(heading[a], 2 * np.pi)
        out["ground_speed"][a, k], out["climb_rate"][a, k] = ground[a], climb_rate[a]
        if k == n_t - 1:
            break

        # Waypoint passage: switch to the next waypoint (fly-by, turn anticipated), or end.
        j = target_wp
        dist, bearing = _distance_bearing(lat, lon, wlat[idx, j], wlon[idx, j])
        bank = np.where(np.isnan(wbank[idx, j]), bank_limit, np.minimum(wbank[idx, j], bank_limit))
        omega_limit = np.minimum(yaw_limit, G0 * np.tan(bank) / np.maximum(ground, 1.0))
        radius = ground / np.maximum(omega_limit, 1e-6)
        turn_angle = np.abs(_wrap(out_bearing[idx, j] - bearing))
        lead = np.where(has_out[idx, j], radius * np.tan(np.minimum(turn_angle, 150 * DEG) / 2.0), 0.0)
        lead = np.minimum(lead, 0.5 * out_length[idx, j])
        step_len = np.maximum(ground * dt, 1.0)
        behind = (np.abs(_wrap(bearing - heading)) > np.pi / 2) & (dist < 2.0 * radius + step_len)
        arrived = active & ((dist <= np.maximum(lead, step_len)) | behind)
        ends = arrived & ~has_out[idx, j]
        finished |= ends
        active &= ~ends
        moving_on = arrived & has_out[idx, j]
        target_wp = np.where(moving_on, nxt_c[idx, j], target_wp)
        if not active.any():
            continue
        j = target_wp
        if moving_on.any():
            dist, bearing = _distance_bearing(lat, lon, wlat[idx, j], wlon[idx, j])
            bank = np.where(np.isnan(wbank[idx, j]), bank_limit, np.minimum(wbank[idx, j], bank_limit))

        # Speed: the waypoint's speed (sticky until another waypoint sets one), within
        # the envelope and the acceleration limit.
        speed_cmd = np.where(np.isnan(wspeed[idx, j]), speed_cmd, wspeed[idx, j])
        wanted = _clip(speed_cmd * (1.0 + wander_speed[:, k]), v_min, v_max)
        new_speed = speed + _clip(wanted - speed, -accel * dt, accel * dt)

        # Heading: coordinated turn toward the waypoint. The turn rate ramps at most at
        # omega_limit / roll_in_time and is commanded so it can be unwound in time
        # (sqrt law), so turns end on the new heading without overshoot.
        new_ground_guess = np.sqrt(np.maximum(new_speed * new_speed - climb_rate * climb_rate, 0.0))
        # The faster of the two ground speeds of the step sets the bank-limited rate (conservative).
        omega_limit = np.minimum(yaw_limit, G0 * np.tan(bank) / np.maximum(np.maximum(new_ground_guess, ground), 1.0))
        alpha = omega_limit / roll_time
        error = _wrap(bearing + wander_psi[:, k] - heading)
        mag = np.minimum(np.minimum(omega_limit, np.sqrt(2.0 * alpha * np.abs(error))),
                         np.abs(error) / np.maximum(roll_time, 2.0 * dt))
        omega_wanted = np.sign(error) * mag
        new_turn = turn_rate + _clip(omega_wanted - turn_rate, -alpha * dt, alpha * dt)
        new_turn = _clip(new_turn, -omega_limit, omega_limit)

        # Vertical: straight altitude profile to the waypoint, within climb/descent limits.
        height_error = walt[idx, j] + wander_alt[:, k] - alt
        time_to_go = np.maximum(dist / np.maximum(ground, 1.0), VERTICAL_TIME_CONSTANT_S)
        vz_wanted = height_error / time_to_go
        vz_wanted = np.sign(vz_wanted) * np.minimum(np.abs(vz_wanted), np.sqrt(2.0 * vaccel * np.abs(height_error)))
        vz_wanted = _clip(vz_wanted, -descent, climb)
        vz_wanted = _clip(vz_wanted, -0.95 * new_speed, 0.95 * new_speed)
        new_climb = climb_rate + _clip(vz_wanted - climb_rate, -vaccel * dt, vaccel * dt)
        new_climb = _clip(new_climb, -0.95 * new_speed, 0.95 * new_speed)

        # Integrate one step: an arc of constant turn rate, in geodetic coordinates.
        new_ground = np.sqrt(np.maximum(new_speed * new_speed - new_climb * new_climb, 0.0))
        mean_ground = 0.5 * (ground + new_ground)
        dpsi = new_turn * dt
        half = 0.5 * dpsi
        chord = mean_ground * dt * np.where(np.abs(half) > 1e-9, np.sin(half) / np.where(half == 0, 1.0, half), 1.0)
        direction = heading + 0.5 * dpsi
        d_north, d_east = chord * np.cos(direction), chord * np.sin(direction)
        d_up = 0.5 * (climb_rate + new_climb) * dt
        h_mid = alt + 0.5 * d_up
        m_r, _ = _radii(lat)
        lat_mid = lat + 0.5 * d_north / (m_r + h_mid)
        m_r, n_r = _radii(lat_mid)
        new_lat = lat + d_north / (m_r + h_mid)
        new_lon = lon + d_east / ((n_r + h_mid) * np.cos(lat_mid))

        upd = active
        lat = np.where(upd, new_lat, lat)
        lon = np.where(upd, _wrap(new_lon), lon)
        alt = np.where(upd, alt + d_up, alt)
        heading = np.where(upd, _wrap(heading + dpsi), heading)
        speed = np.where(upd, new_speed, speed)
        climb_rate = np.where(upd, new_climb, climb_rate)
        turn_rate = np.where(upd, new_turn, turn_rate)
    return out


# ---------------------------------------------------------------- recorded targets

def read_trajectory_csv(path: str | Path) -> np.ndarray:
    """Read a recorded trajectory ``time,lat,lon,alt`` (s, deg, deg, m; header line required).

    Returns an array (k, 4): time s, lat rad, lon rad, alt m. Blank lines and lines that
    start with ``#`` are skipped. Any bad row raises :class:`InputError` naming the file,
    the line and the column.
    """
    path = Path(path)
    text = read_user_text(path, "trajectory file")
    columns = ("time", "lat", "lon", "alt")
    rows: list[tuple[float, float, float, float]] = []
    header_seen = False
    last_time = -np.inf
    for line_no, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        cells = [c.strip() for c in line.split(",")]
        if not header_seen:
            if [c.lower() for c in cells] != list(columns):
                raise InputError(f"expected the header 'time,lat,lon,alt', found '{line}'",
                                 source=str(path), line=line_no)
            header_seen = True
            continue
        if len(cells) != 4:
            raise InputError(f"expected 4 values (time,lat,lon,alt), found {len(cells)}",
                             source=str(path), line=line_no)
        values = []
        for name, cell in zip(columns, cells):
            try:
                value = float(cell)
            except ValueError:
                raise InputError(f"'{cell}' is not a number", source=str(path), line=line_no, field=name) from None
            if not np.isfinite(value):
                raise InputError(f"'{cell}' is not a finite number", source=str(path), line=line_no,
                                 field=name)
            values.append(value)
        t, la, lo, al = values
        if not -90.0 <= la <= 90.0:
            raise InputError(f"latitude {la} outside [-90, 90] deg", source=str(path), line=line_no, field="lat")
        if not -180.0 <= lo <= 360.0:
            raise InputError(f"longitude {lo} outside [-180, 360] deg", source=str(path), line=line_no,
                             field="lon")
        if not -1_000.0 <= al <= 100_000.0:
            raise InputError(f"altitude {al} m outside [-1000, 100000] m", source=str(path), line=line_no,
                             field="alt")
        if t <= last_time:
            raise InputError(f"time {t} s does not increase (previous row {last_time} s)", source=str(path),
                             line=line_no, field="time")
        last_time = t
        rows.append((t, la * DEG, lo * DEG, al))
    if not header_seen:
        raise InputError("empty trajectory file (expected the header 'time,lat,lon,alt' and rows)", source=str(path))
    if len(rows) < 2:
        raise InputError("a recorded trajectory needs at least 2 rows", source=str(path))
    return np.array(rows)


def resample_recorded(recorded: np.ndarray, start_time_s: float, times: np.ndarray,
                      smoothing_s: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Position and velocity (T, 3) ECEF of a recorded trajectory on the grid ``times``.

    The recording's first row is placed at scenario time ``start_time_s``. Samples are
    converted to ECEF, interpolated linearly onto the grid, then smoothed with a
    quadratic Savitzky-Golay filter whose derivative gives the velocity; the span is
    about two recording intervals (``smoothing_s`` overrides it). NaN outside the record.
    """
    n_t = len(times)
    pos = np.full((n_t, 3), np.nan)
    vel = np.full((n_t, 3), np.nan)
    t_rec = recorded[:, 0] - recorded[0, 0] + start_time_s
    inside = (times >= t_rec[0] - 1e-9) & (times <= t_rec[-1] + 1e-9)
    if inside.sum() == 0:
        return pos, vel
    dt = float(times[1] - times[0]) if n_t > 1 else 1.0
    xyz = geo.geodetic_to_ecef(recorded[:, 1], recorded[:, 2], recorded[:, 3])
    tg = times[inside]
    grid = np.stack([np.interp(tg, t_rec, xyz[:, c]) for c in range(3)], axis=-1)
    n = len(tg)
    span = smoothing_s if smoothing_s is not None else 2.0 * float(np.median(np.diff(t_rec)))
    window = 2 * int(round(max(span, 2.0 * dt) / (2.0 * dt))) + 1
    window = min(window, n if n % 2 else n - 1)
    if window >= 5:
        pos[inside], vel[inside] = _polynomial_smoother(grid, window, dt)
    else:
        pos[inside] = grid
        vel[inside] = np.gradient(grid, dt, axis=0) if n > 1 else 0.0
    return pos, vel


# ---------------------------------------------------------------- the whole scenario

def build_truth(scenario: Scenario) -> Truth:
    """Truth of every target of ``scenario`` on the grid 0, truth_step_s, ..., duration_s.

    Deterministic for a given scenario (seed included). Targets appear at their
    start time (rounded up to the grid) and disappear after reaching their last
    waypoint (or the end of their recording); looping targets fly until the end.
    """
    times = time_grid(scenario.duration_s, scenario.truth_step_s)
    specs = scenario.targets
    n, n_t = len(specs), len(times)
    position = np.full((n, n_t, 3), np.nan)
    velocity = np.full((n, n_t, 3), np.nan)

    flown = [i for i, s in enumerate(specs) if s.recorded is None and s.trajectory_file is None]
    if flown:
        f = fly_waypoints([specs[i] for i in flown], times, scenario.seed)
        position[flown] = geo.geodetic_to_ecef(f["lat"], f["lon"], f["alt"])
        v_east = f["ground_speed"] * np.sin(f["heading"])
        v_north = f["ground_speed"] * np.cos(f["heading"])
        velocity[flown] = enu_velocity_to_ecef(f["lat"], f["lon"], v_east, v_north, f["climb_rate"])
    for i, s in enumerate(specs):
        if i in flown:
            continue
        recorded = s.recorded if s.recorded is not None else read_trajectory_csv(s.trajectory_file)
        position[i], velocity[i] = resample_recorded(recorded, s.start_time_s, times)

    classes = [TARGET_CLASSES[s.target_class] for s in specs]
    alive = np.isfinite(position[..., 0])
    first = np.where(alive.any(axis=1), alive.argmax(axis=1), -1)
    last = np.where(alive.any(axis=1), n_t - 1 - alive[:, ::-1].argmax(axis=1), -1)
    extra = {
        "category": [c.category for c in classes],
        "start_time_s": np.where(first >= 0, times[np.maximum(first, 0)], np.nan),
        "end_time_s": np.where(last >= 0, times[np.maximum(last, 0)], np.nan),
        "attributes": [dict(s.attributes) for s in specs],
    }
    return Truth(
        names=[s.name for s in specs],
        target_class=[s.target_class for s in specs],
        times=times,
        position_ecef=position,
        velocity_ecef=velocity,
        rcs_m2=np.array([s.rcs_m2 if s.rcs_m2 is not None else c.rcs_m2 for s, c in zip(specs, classes)],
                        dtype=float),
        swerling=np.array([s.swerling if s.swerling is not None else c.swerling for s, c in zip(specs, classes)],
                          dtype=np.int64),
        extra=extra,
    )
