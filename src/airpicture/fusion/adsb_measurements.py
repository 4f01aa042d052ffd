"""ADS-B reports -> columnar ECEF measurements with covariances (issue 3 §4, first piece).

One report per accepted DF17/18 airborne barometric position (TC 9-18): ECEF position and its 3x3 covariance
(horizontal from NACp, else NUCp, else a default; vertical from the altitude quantisation), the aircraft's
latest velocity within ``velocity_window_s`` rotated to ECEF at the position (covariance from NACv plus
quantisation), and identity (callsign, squawk, emergency, category) carried forward per aircraft.
The rules and defaults are in docs/fusion.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from airpicture import geo

FT = 0.3048
KT = 1852.0 / 3600.0
FPM = FT / 60.0
NM = 1852.0
# 95 % circle -> per-axis sigma of a circular Gaussian (Rayleigh), as the emitter uses (docs/adsb.md)
EPU_TO_SIGMA = 1.0 / np.sqrt(-2.0 * np.log(0.05))
# 95 % one-dimensional bound -> sigma
BOUND_TO_SIGMA_1D = 1.0 / 1.959964
# NACp -> EPU (95 % horizontal), m (DO-260B); NACp 0 ("unknown or >= 10 NM") taken as 20 NM
NACP_EPU_M = np.array([20 * NM, 10 * NM, 4 * NM, 2 * NM, 1 * NM, 0.5 * NM, 0.3 * NM, 0.1 * NM, 0.05 * NM,
                       30.0, 10.0, 3.0])
# version 0: airborne position TC -> NUCp = 18 - TC; NUCp -> 95 % horizontal accuracy (RCP-like "mu"), m.
# NUCp 0 ("unknown") taken as 20 NM
NUCP_95_M = np.array([20 * NM, 10 * NM, 5 * NM, 1 * NM, 0.5 * NM, 0.25 * NM, 0.1 * NM, 0.05 * NM, 10.0, 3.0])
# NACv -> 95 % horizontal velocity bound (m/s) and vertical rate bound (m/s); NACv 0 "unknown" -> 10 m/s, 50 ft/s
NACV_HORIZONTAL_95_MPS = np.array([10.0, 10.0, 3.0, 1.0, 0.3])
NACV_VERTICAL_95_MPS = np.array([50 * FT, 50 * FT, 15 * FT, 5 * FT, 1.5 * FT])

DEFAULT_NACP = 7                 # no TC 31 seen yet and no prior: EPU 185.2 m (sigma 75.7 m)
DEFAULT_NACV = 1                 # velocity message without NACv: 10 m/s 95 %
VELOCITY_WINDOW_S = 1.5          # a position takes the aircraft's latest velocity at most this old
MISSING_VERTICAL_RATE_SIGMA_MPS = 20.0  # vertical rate absent: v_up = 0 with this sigma
SURFACE_VERTICAL_SIGMA_M = 300.0  # surface positions have no height: a loose vertical constraint
SURFACE_SPEED_SIGMA_MPS = 1.0     # movement field: 0.125-5 kt steps, plus the 2.8 deg ground-track step
SURFACE_SPEED_RELATIVE_SIGMA = 0.05
SURFACE_VERTICAL_RATE_SIGMA_MPS = 0.5
SOURCE_NACP, SOURCE_NUCP, SOURCE_DEFAULT, SOURCE_PRIOR = 0, 1, 2, 3
_CATEGORY_SET = {4: "A", 3: "B", 2: "C", 1: "D"}


@dataclass
class AdsbReports:
    """One row per ADS-B position report, in time order (SI, ECEF)."""

    time: np.ndarray              # float64 s (the input's time base)
    icao24: np.ndarray            # object str
    latitude_rad: np.ndarray
    longitude_rad: np.ndarray
    altitude_m: np.ndarray        # barometric (pressure) altitude used as height
    position_ecef: np.ndarray     # (n, 3)
    position_cov: np.ndarray      # (n, 3, 3) ECEF
    horizontal_sigma_m: np.ndarray  # per-axis sigma east/north
    vertical_sigma_m: np.ndarray
    accuracy_source: np.ndarray   # int8: SOURCE_NACP / SOURCE_NUCP / SOURCE_DEFAULT / SOURCE_PRIOR
    nacp: np.ndarray              # int8, -1 unknown
    has_velocity: np.ndarray      # bool
    velocity_ecef: np.ndarray     # (n, 3), NaN without velocity
    velocity_cov: np.ndarray      # (n, 3, 3), NaN without velocity
    velocity_age_s: np.ndarray    # position time - velocity time (NaN without)
    callsign: np.ndarray          # object str, '' unknown
    squawk: np.ndarray            # object str, '' unknown
    emergency: np.ndarray         # object str, '' unknown ('none', 'general', ...)
    category: np.ndarray          # object str, '' unknown ('A3', ...)
    row: np.ndarray               # int64 input row of the position
    on_ground: np.ndarray = None  # bool: a surface position (TC 5-8), placed at surface_height_m
    nacp_by_icao: dict = field(default_factory=dict)  # latest NACp per aircraft after this batch

    def __len__(self) -> int:
        return len(self.time)


def _ffill(valid: np.ndarray, group_start: np.ndarray) -> np.ndarray:
    """For sorted rows grouped contiguously: index of the latest row <= i of the same group with ``valid``,
    else -1. ``group_start[i]`` is the first row of i's group."""
    idx = np.where(valid, np.arange(len(valid)), -1)
    idx = np.maximum.accumulate(idx) if len(idx) else idx
    return np.where(idx >= group_start, idx, -1)


def _take(values: np.ndarray, idx: np.ndarray, missing):
    out = np.full(len(idx), missing, dtype=values.dtype)
    ok = idx >= 0
    out[ok] = values[idx[ok]]
    return out


def _enu_basis(lat, lon) -> np.ndarray:
    """(n, 3, 3) matrices whose columns are east, north, up in ECEF."""
    sl, cl, so, co = np.sin(lat), np.cos(lat), np.sin(lon), np.cos(lon)
    z = np.zeros_like(sl)
    east = np.stack([-so, co, z], axis=-1)
    north = np.stack([-sl * co, -sl * so, cl], axis=-1)
    up = np.stack([cl * co, cl * so, sl], axis=-1)
    return np.stack([east, north, up], axis=-1)


def _cov_ecef(basis, sigma_e, sigma_n, sigma_u) -> np.ndarray:
    variances = np.stack([sigma_e ** 2, sigma_n ** 2, sigma_u ** 2], axis=-1)
    return np.einsum("nij,nj,nkj->nik", basis, variances, basis)


def _message_ints(messages, rows, n, key) -> np.ndarray:
    out = np.full(n, -1, dtype=np.int64)
    vals = [m.get(key) for m in messages]
    have = np.array([isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in vals], dtype=bool)
    if have.any():
        out[rows[have]] = np.array([v for v, h in zip(vals, have) if h], dtype=np.int64)
    return out


def _message_texts(messages, rows, n, key) -> np.ndarray:
    out = np.full(n, "", dtype=object)
    vals = [m.get(key) for m in messages]
    have = np.array([isinstance(v, str) and v != "" for v in vals], dtype=bool)
    if have.any():
        out[rows[have]] = np.array([v for v, h in zip(vals, have) if h], dtype=object)
    return out


def me_header(data: np.ndarray, is_long: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ME type code, the 3 bits after it (subtype / category) and the altitude Q bit of frames given as bytes
    (``modes.crc.frames_from_hex`` layout); -1 for short frames."""
    is_long = np.asarray(is_long, dtype=bool)
    first = data[:, 4].astype(np.int64) if len(data) else np.zeros(0, np.int64)
    tc = np.where(is_long, first >> 3, -1)
    sub = np.where(is_long, first & 7, -1)
    q = np.where(is_long, (data[:, 5].astype(np.int64) & 1) if len(data) else first, -1)
    return tc, sub, q


def _me_header(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``me_header`` of hex frames (anything but 28 hex digits gives -1)."""
    from airpicture.modes.crc import frames_from_hex

    frames = np.asarray(frames, dtype=object)
    if len(frames) == 0:
        return (np.zeros(0, np.int64),) * 3
    text = np.array([f if isinstance(f, str) else "" for f in frames], dtype=object)
    data, is_long, valid = frames_from_hex(text)
    return me_header(data, is_long & valid)


@dataclass
class MessageColumns:
    """What the reports are built from: one row per message (any order), SI units, missing = NaN / -1 / ''.

    ``position`` marks the rows that are position reports (latitude, longitude and altitude finite), ``surface``
    the surface ones among them (their altitude is replaced by ``surface_height_m``), ``velocity`` the airborne
    velocity rows (ground speed and track finite). ``me_tc`` is the ME type code (-1 unknown: then the
    position's type code says nothing about accuracy), ``me_sub`` the velocity subtype (2 = supersonic, 4 kt
    steps), ``q_bit`` the altitude Q bit (0 = Gillham 100 ft steps; anything else 25 ft steps).
    ``row`` is reported back for position rows (the caller's row numbering).
    """

    time: np.ndarray
    icao24: np.ndarray
    position: np.ndarray
    surface: np.ndarray
    velocity: np.ndarray
    latitude_rad: np.ndarray
    longitude_rad: np.ndarray
    altitude_m: np.ndarray
    groundspeed_mps: np.ndarray
    track_rad: np.ndarray
    vertical_rate_mps: np.ndarray
    me_tc: np.ndarray
    me_sub: np.ndarray
    q_bit: np.ndarray
    nacp: np.ndarray          # TC 31 NACp, -1 elsewhere
    version: np.ndarray       # TC 31 ADS-B version, -1 elsewhere
    nacv: np.ndarray          # velocity NACv, -1 elsewhere
    callsign: np.ndarray
    squawk: np.ndarray
    emergency: np.ndarray
    category: np.ndarray
    row: np.ndarray

    def __len__(self) -> int:
        return len(self.time)

    def take(self, index) -> "MessageColumns":
        return MessageColumns(**{name: getattr(self, name)[index] for name in self.__dataclass_fields__})

    @classmethod
    def concat(cls, parts: list["MessageColumns"]) -> "MessageColumns":
        return cls(**{name: np.concatenate([getattr(p, name) for p in parts]) for name in cls.__dataclass_fields__})


def category_codes(me_tc: np.ndarray, me_sub: np.ndarray, ident: np.ndarray) -> np.ndarray:
    """Emitter category ('A3', 'B6', ...) of identification rows (TC 4/3/2/1 = set A/B/C/D), '' elsewhere."""
    out = np.full(len(me_tc), "", dtype=object)
    ident = ident & (me_tc >= 1) & (me_tc <= 4)
    if ident.any():
        table = np.array([[f"{_CATEGORY_SET[a]}{b}" for b in range(8)] for a in (1, 2, 3, 4)], dtype=object)
        out[ident] = table[me_tc[ident] - 1, me_sub[ident] & 7]
    return out


def adsb_reports(decoded, frames=None, nacp_by_icao: dict | None = None, *, filtered=None,
                 velocity_window_s: float = VELOCITY_WINDOW_S, default_nacp: int = DEFAULT_NACP,
                 default_nacv: int = DEFAULT_NACV, extra_vertical_sigma_m: float = 0.0,
                 surface_height_m: float = 0.0, surface_vertical_sigma_m: float = SURFACE_VERTICAL_SIGMA_M
                 ) -> AdsbReports:
    """ADS-B position reports as ECEF measurements.

    Parameters
    ----------
    decoded : airpicture.sources.decode.Decoded
        ``decode_frames`` output; its rows are the input frames.
    frames : sequence of str, optional
        The hex frames of those rows (for the ME type code, velocity subtype, category and altitude Q bit, which
        rs1090 does not return in a column); taken from ``decoded.messages`` (key ``frame``) when omitted.
    nacp_by_icao : dict, optional
        NACp already known per aircraft (e.g. from an earlier batch: pass ``reports.nacp_by_icao``); used until
        a TC 31 of this batch says otherwise.
    filtered : airpicture.modes.phantoms.FilterResult, optional
        ``ModeSFilter`` output for the same rows: only its accepted positions are used, with its lat/lon and
        (where rs1090 has none) altitude; rows rs1090 did not decode still give reports from the filter's
        columns (``icao24``, ``df``, ``time``, ``lat``, ``lon``, ``altitude_m``).
    velocity_window_s : float
        A position takes the aircraft's latest velocity no older than this.
    default_nacp, default_nacv : int
        Categories assumed while unknown (see docs/fusion.md).
    extra_vertical_sigma_m : float
        Added in quadrature to the altitude quantisation (pressure altitude vs. geometric height).
    surface_height_m, surface_vertical_sigma_m : float
        Surface positions (TC 5-8) carry no height: they are placed at this height (the receiver's or the
        airport's) with this vertical sigma, so they constrain the horizontal position only.
    """
    n = len(decoded)
    rows = np.flatnonzero(decoded.decoded)
    messages = decoded.messages
    if frames is None:
        frames = np.full(n, "", dtype=object)
        frames[rows] = np.array([m.get("frame", "") for m in messages], dtype=object)
    frames = np.asarray(frames, dtype=object)
    time_all = np.full(n, np.nan)
    time_all[rows] = np.array([m.get("timestamp", np.nan) for m in messages], dtype=np.float64)
    df = np.asarray(decoded["df"]).astype(np.int64)
    icao = np.asarray(decoded["icao24"], dtype=object).copy()
    lat_all = np.asarray(decoded["latitude_rad"], dtype=np.float64)
    lon_all = np.asarray(decoded["longitude_rad"], dtype=np.float64)
    alt_all = np.asarray(decoded["altitude_m"], dtype=np.float64)
    if filtered is not None:
        f_time = np.asarray(filtered.time, dtype=np.float64)
        time_all = np.where(np.isfinite(time_all), time_all, f_time)
        f_icao = np.asarray(filtered.icao24, dtype=np.int64)
        accepted = np.asarray(filtered.accepted, dtype=bool)
        missing = (icao == "") & accepted & (f_icao >= 0)
        if missing.any():
            uniq, inverse = np.unique(f_icao[missing], return_inverse=True)
            icao[missing] = np.array([f"{a:06x}" for a in uniq.tolist()], dtype=object)[inverse]
        df = np.where(df >= 0, df, np.asarray(filtered.df, dtype=np.int64))
        accepted &= np.isfinite(filtered.lat)
        lat_all = np.where(accepted, filtered.lat, np.nan)
        lon_all = np.where(accepted, filtered.lon, np.nan)
        alt_all = np.where(np.isfinite(alt_all), alt_all, filtered.altitude_m)
        known_row = np.asarray(decoded.decoded, dtype=bool) | accepted
    else:
        known_row = np.asarray(decoded.decoded, dtype=bool)

    me_tc, me_sub, q_bit = _me_header(frames)
    es = np.isin(df, (17, 18))
    nacp_msg = _message_ints(messages, rows, n, "NACp")
    version_msg = _message_ints(messages, rows, n, "version")
    nacv_msg = _message_ints(messages, rows, n, "NACv")
    emergency_msg = _message_texts(messages, rows, n, "emergency_state")
    is_op_status = es & (me_tc == 31)
    nacp_msg[~is_op_status] = -1
    version_msg[~is_op_status] = -1
    gs = np.asarray(decoded["groundspeed_mps"], dtype=np.float64)
    trk = np.asarray(decoded["track_rad"], dtype=np.float64)
    surface = es & (me_tc >= 5) & (me_tc <= 8)
    position = es & (((me_tc >= 9) & (me_tc <= 18)) | surface)
    velocity = es & (me_tc == 19) & np.isin(me_sub, (1, 2)) & np.isfinite(gs) & np.isfinite(trk)
    keep = np.flatnonzero(known_row & (icao != "") & np.isfinite(time_all))
    cols = MessageColumns(
        time=time_all, icao24=icao, position=position, surface=surface, velocity=velocity,
        latitude_rad=lat_all, longitude_rad=lon_all, altitude_m=alt_all, groundspeed_mps=gs, track_rad=trk,
        vertical_rate_mps=np.asarray(decoded["vertical_rate_mps"], dtype=np.float64), me_tc=me_tc, me_sub=me_sub,
        q_bit=q_bit, nacp=nacp_msg, version=version_msg, nacv=nacv_msg,
        callsign=np.asarray(decoded["callsign"], dtype=object), squawk=np.asarray(decoded["squawk"], dtype=object),
        emergency=emergency_msg, category=category_codes(me_tc, me_sub, es), row=np.arange(n, dtype=np.int64),
    ).take(keep)
    return reports_from_columns(cols, nacp_by_icao, velocity_window_s=velocity_window_s,
                                default_nacp=default_nacp, default_nacv=default_nacv,
                                extra_vertical_sigma_m=extra_vertical_sigma_m, surface_height_m=surface_height_m,
                                surface_vertical_sigma_m=surface_vertical_sigma_m)


def reports_from_columns(cols: MessageColumns, nacp_by_icao: dict | None = None, *,
                         velocity_window_s: float = VELOCITY_WINDOW_S, default_nacp: int = DEFAULT_NACP,
                         default_nacv: int = DEFAULT_NACV, extra_vertical_sigma_m: float = 0.0,
                         surface_height_m: float = 0.0, surface_vertical_sigma_m: float = SURFACE_VERTICAL_SIGMA_M
                         ) -> AdsbReports:
    """The reports of :func:`adsb_reports` from message columns (every row a message of a known aircraft
    with a time). Identity, NACp and velocities are carried forward per aircraft within ``cols``."""
    m = len(cols)
    icao = np.asarray(cols.icao24, dtype=object)
    time_all = np.asarray(cols.time, dtype=np.float64)
    order = np.lexsort((time_all, icao.astype(str))) if m else np.zeros(0, np.int64)
    g_icao = icao[order].astype(str)
    new_group = np.ones(m, dtype=bool)
    if m > 1:
        new_group[1:] = g_icao[1:] != g_icao[:-1]
    group_start = np.maximum.accumulate(np.where(new_group, np.arange(m), 0)) if m else np.zeros(0, np.int64)
    t = time_all[order]

    def carried(values, valid, missing):
        return _take(values[order], _ffill(valid[order], group_start), missing)

    nacp_msg = np.asarray(cols.nacp, dtype=np.int64)
    nacp = carried(nacp_msg, nacp_msg >= 0, -1)
    version = carried(np.asarray(cols.version, np.int64), np.asarray(cols.version) >= 0, -1)
    texts = {}
    for name in ("callsign", "squawk", "emergency", "category"):
        values = np.asarray(getattr(cols, name), dtype=object)
        texts[name] = carried(values, values != "", "")

    me_tc = np.asarray(cols.me_tc, dtype=np.int64)
    me_sub = np.asarray(cols.me_sub, dtype=np.int64)
    gs = np.asarray(cols.groundspeed_mps, dtype=np.float64).copy()
    trk_all = np.asarray(cols.track_rad, dtype=np.float64)
    vel = np.asarray(cols.velocity, dtype=bool) & np.isfinite(gs) & np.isfinite(trk_all)
    gs[vel & (me_sub == 2)] *= 4.0  # rs1090 0.7 reads subtype 2 in 1 kt units; the step is 4 kt (docs/adsb.md)
    vel_idx = _ffill(vel[order], group_start)

    lat_all = np.asarray(cols.latitude_rad, dtype=np.float64)
    lon_all = np.asarray(cols.longitude_rad, dtype=np.float64)
    surface_all = np.asarray(cols.surface, dtype=bool)
    alt_all = np.where(surface_all, surface_height_m, np.asarray(cols.altitude_m, dtype=np.float64))
    pos_all = (np.asarray(cols.position, dtype=bool) & np.isfinite(lat_all) & np.isfinite(lon_all)
               & np.isfinite(alt_all))
    sel = np.flatnonzero(pos_all[order])
    sel = sel[np.argsort(t[sel], kind="stable")]
    r = order[sel]
    k = len(r)
    lat, lon, alt = lat_all[r], lon_all[r], alt_all[r]

    # horizontal accuracy
    prior = np.full(k, -1, dtype=np.int64)
    if nacp_by_icao and k:
        uniq, inverse = np.unique(icao[r].astype(str), return_inverse=True)
        prior = np.array([int(nacp_by_icao.get(a, -1)) for a in uniq.tolist()], dtype=np.int64)[inverse]
    nacp_k = nacp[sel]
    nacp_used = np.where(nacp_k >= 0, nacp_k, prior)
    on_ground = surface_all[r]
    tc_r = me_tc[r]
    tc_known = tc_r >= 0
    nucp = np.clip(np.where(on_ground, 14 - tc_r, 18 - tc_r), 0, 9)
    sigma_nacp = NACP_EPU_M[np.clip(nacp_used, 0, 11)] * EPU_TO_SIGMA
    sigma_nucp = np.where(tc_known, NUCP_95_M[nucp] * EPU_TO_SIGMA, 0.0)
    sigma_default = NACP_EPU_M[default_nacp] * EPU_TO_SIGMA
    is_v0 = (version[sel] == 0) & tc_known
    source = np.where(nacp_k >= 0, SOURCE_NACP, np.where(prior >= 0, SOURCE_PRIOR,
                                                         np.where(is_v0, SOURCE_NUCP, SOURCE_DEFAULT)))
    sigma_h = np.where(nacp_used >= 0, sigma_nacp,
                       np.where(is_v0, sigma_nucp, np.maximum(sigma_default, sigma_nucp)))
    # vertical: uniform over the altitude step (25 ft with Q = 1, 100 ft Gillham)
    step = np.where(np.asarray(cols.q_bit)[r] == 0, 100 * FT, 25 * FT)
    sigma_v = np.where(on_ground, surface_vertical_sigma_m, np.sqrt(step ** 2 / 12.0 + extra_vertical_sigma_m ** 2))

    basis = _enu_basis(lat, lon)
    position = geo.geodetic_to_ecef(lat, lon, alt).reshape(k, 3)
    position_cov = _cov_ecef(basis, sigma_h, sigma_h, sigma_v)

    # pair with the latest velocity of the aircraft within the window
    vi = vel_idx[sel]
    vrow = np.where(vi >= 0, order[np.maximum(vi, 0)], -1)
    age = np.where(vrow >= 0, t[sel] - time_all[np.maximum(vrow, 0)], np.nan) if k else np.zeros(0)
    has_v = (vrow >= 0) & (age <= velocity_window_s)
    vr_ = np.maximum(vrow, 0)
    g, trk = (gs[vr_], trk_all[vr_]) if m else (np.zeros(k), np.zeros(k))
    vz = np.asarray(cols.vertical_rate_mps, dtype=np.float64)[vr_] if m else np.zeros(k)
    vz_ok = np.isfinite(vz)
    enu_v = np.stack([g * np.sin(trk), g * np.cos(trk), np.where(vz_ok, vz, 0.0)], axis=-1)
    velocity = np.einsum("nij,nj->ni", basis, enu_v)
    nacv = np.asarray(cols.nacv, dtype=np.int64)[vr_] if m else np.zeros(k, np.int64)
    nacv = np.where((nacv >= 1) & (nacv <= 4), nacv, default_nacv)
    quant_h = np.where((me_sub[vr_] if m else np.zeros(k)) == 2, 4 * KT, KT) / np.sqrt(12.0)
    sh = np.sqrt((NACV_HORIZONTAL_95_MPS[nacv] * EPU_TO_SIGMA) ** 2 + quant_h ** 2)
    sv = np.where(vz_ok, np.sqrt((NACV_VERTICAL_95_MPS[nacv] * BOUND_TO_SIGMA_1D) ** 2 + (64 * FPM) ** 2 / 12.0),
                  MISSING_VERTICAL_RATE_SIGMA_MPS)
    # a surface position carries its own movement and ground track (BDS 0,6)
    surf_v = on_ground & np.isfinite(gs[r]) & np.isfinite(trk_all[r]) if m else np.zeros(k, bool)
    if surf_v.any():
        g_s, trk_s = gs[r][surf_v], trk_all[r][surf_v]
        enu_v[surf_v] = np.stack([g_s * np.sin(trk_s), g_s * np.cos(trk_s), np.zeros_like(g_s)], axis=-1)
        velocity[surf_v] = np.einsum("nij,nj->ni", basis[surf_v], enu_v[surf_v])
        sh = np.where(surf_v, 0.0, sh)
        sh[surf_v] = np.maximum(SURFACE_SPEED_SIGMA_MPS, SURFACE_SPEED_RELATIVE_SIGMA * g_s)
        sv = np.where(surf_v, SURFACE_VERTICAL_RATE_SIGMA_MPS, sv)
        has_v = has_v | surf_v
        age = np.where(surf_v, 0.0, age)
    velocity_cov = _cov_ecef(basis, sh, sh, sv)
    velocity[~has_v] = np.nan
    velocity_cov[~has_v] = np.nan
    age[~has_v] = np.nan

    learned = dict(nacp_by_icao or {})
    have = np.flatnonzero(nacp_msg[order] >= 0)          # aircraft/time order
    latest = have[np.r_[g_icao[have][1:] != g_icao[have][:-1], True]] if len(have) else have
    learned.update(zip(g_icao[latest].tolist(), nacp_msg[order][latest].tolist()))

    return AdsbReports(
        time=time_all[r], icao24=icao[r], latitude_rad=lat, longitude_rad=lon, altitude_m=alt,
        position_ecef=position, position_cov=position_cov, horizontal_sigma_m=sigma_h, vertical_sigma_m=sigma_v,
        accuracy_source=source.astype(np.int8), nacp=nacp_used.astype(np.int8), has_velocity=has_v,
        velocity_ecef=velocity, velocity_cov=velocity_cov, velocity_age_s=age, on_ground=on_ground,
        callsign=texts["callsign"][sel], squawk=texts["squawk"][sel], emergency=texts["emergency"][sel],
        category=texts["category"][sel], row=np.asarray(cols.row, dtype=np.int64)[r],
        nacp_by_icao=learned)
