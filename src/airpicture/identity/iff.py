"""IFF interrogation (simulated) and authentication (issue 4 §2): per-track IFF evidence for identification.

An interrogator sits with a radar (the radar's ``iff`` table) and turns with its antenna: on the scans it
interrogates, every beam dwell (one azimuth beamwidth of the sweep) is a challenge with a fresh random nonce.
A target with a transponder (its ``iff`` table, or an ADS-B ``transponder`` table: SSR replies) answers when the
beam crosses it and it is in the interrogator's coverage (`sensors.radar.look_geometry`: range, elevation, 4/3
earth horizon; no MTI notch). A reply carries the Mode 3/A code, the Mode C altitude (100 ft steps), the Mode S
address and, in the authenticated mode, ``(platform id, nonce echoed, time slot, tag)`` with the tag from
`keystore.Authenticator.tag`. The interrogator measures the reply's range and azimuth (Gaussian noise), may
lose it (``reply_probability``), associates it with a track by range and azimuth in its own polar frame
(`associate_replies`: gate around each track's position predicted to the reply time, global nearest neighbour),
and verifies the authenticated part with `Authenticator.verify`. Each track keeps its latest codes and its
latest authentication for ``memory_s`` (`IffEvidence`, the ``iff=`` input of `identity.evidence`).

Entry point for the run pipeline, once per evaluation step::

    keys = UnitKeys.for_run(keystore)                  # in-memory day key, a key store, or none (export unit)
    iff = IffSimulation(scenario, keys.authenticator, iff_rng(scenario.seed))
    ...
    evidence = iff.step(t_prev, t, truth, snapshot)   # replies in [t_prev, t), evidence at t for the snapshot
    states = identity_engine.update(snapshot, t, iff=evidence)
    ...
    summary["iff"] = iff.summary(); iff.close(); keys.close()

docs/identity.md, "IFF", is the contract.
"""

from __future__ import annotations

import logging
import math
import secrets
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import ClassVar, Self

import numpy as np

from .. import geo
from ..errors import InputError
from ..measurements import SensorSite
from ..scenario.toml_lines import format_path
from ..sensors import radar as radar_model
from ..tracks import TrackStates
from ..truth import Truth
from .evidence import IFF_COLUMNS
from .iff_schema import (
    MODE_C_MAX_FT,
    MODE_C_MIN_FT,
    InterrogatorConfig,
    TransponderConfig,
    parse_interrogator,
    parse_target_iff,
    resolve_transponders,
)
from .keystore import (
    BAD_MAC,
    DEFAULT_PURPOSE,
    DEFAULT_SLOT_TOLERANCE,
    FAILURES,
    NO_KEYS,
    REPLAYED_NONCE,
    STALE_SLOT,
    UNKNOWN_KEY,
    Authenticator,
    KeyStore,
    WrapSource,
)

log = logging.getLogger(__name__)

NO_REPLY = "no_reply"
REASONS = (BAD_MAC, STALE_SLOT, REPLAYED_NONCE, UNKNOWN_KEY, NO_REPLY)
NONCE_BYTES = 8                 # challenge nonce, fresh per beam dwell (secrets.token_bytes)
IFF_SPAWN_KEY = (0x1030, 0)     # the IFF random stream of a scenario seed (1030 MHz): no sensor uses it
FT = 0.3048
TRACK_SIGMA_FLOOR_M = 50.0      # track position uncertainty assumed at least this (m) in the association gate
# A track's interrogation counts as answered by an authenticated-mode reply received within this fraction of a
# scan before its beam crossing (the reply comes from the target, the crossing is computed from the track).
SAME_LOOK_SCANS = 0.25
# Beam crossings of tracks are judged (answered or `no_reply`) this many dwells late, so a reply the target sends
# a little after the track's predicted crossing is in before the judgement.
JUDGE_LAG_DWELLS = 2.0
_NO_AUTH = "-"                  # a reply without an authenticated part (internal)


def iff_rng(seed: int) -> np.random.Generator:
    """The IFF simulation's random stream for a scenario seed (reply losses and noise); independent of the
    sensors' and the ADS-B transponders' streams."""
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=IFF_SPAWN_KEY))


# ---------------------------------------------------------------------------------------------------------------
# evidence


@dataclass
class IffEvidence:
    """Per-track IFF evidence at one time, aligned with a snapshot: what `identity.evidence.build_evidence` and
    `IdentityEngine.update` take as ``iff=`` (an object with ``track_id`` and attributes named like the
    columns). Missing: '' / NaN / False."""

    track_id: np.ndarray         # (n,) int64
    iff_mode3a: np.ndarray       # (n,) object: latest Mode 3/A code within memory, '' none
    iff_mode_c_m: np.ndarray     # (n,) float: latest Mode C altitude (100 ft steps), m; NaN none
    iff_mode_s: np.ndarray       # (n,) object: latest Mode S address, '' none
    iff_authenticated: np.ndarray  # (n,) bool: an authenticated reply verified within memory
    iff_reply_time: np.ndarray   # (n,) float: time of that reply, s; NaN when not authenticated
    iff_failure: np.ndarray      # (n,) object: the latest authenticated-mode outcome when it failed, else ''
    iff_interrogated: np.ndarray  # (n,) bool: interrogated (in coverage, beam crossed it) within memory

    def __len__(self) -> int:
        return int(self.track_id.shape[0])

    def as_columns(self) -> dict:
        """``{"track_id": ..., "iff_mode3a": ..., ...}``: the columnar form of the ``iff=`` input."""
        return {"track_id": self.track_id, **{k: getattr(self, k) for k in IFF_COLUMNS}}

    def row(self, track_id: int) -> dict:
        i = np.flatnonzero(self.track_id == int(track_id))
        if i.size == 0:
            raise KeyError(track_id)
        return {k: (v[i[0]].item() if hasattr(v[i[0]], "item") else v[i[0]]) for k, v in self.as_columns().items()}

    @classmethod
    def empty(cls) -> IffEvidence:
        return cls(np.zeros(0, np.int64), np.zeros(0, object), np.zeros(0), np.zeros(0, object), np.zeros(0, bool),
                   np.zeros(0), np.zeros(0, object), np.zeros(0, bool))


class _Memory:
    """Per-track IFF state as columns over sorted track ids; every value has the time it was set."""

    _MISSING: ClassVar[dict] = {"mode3a": "", "mode_s": "", "failure": ""}

    def __init__(self):
        self.ids = np.zeros(0, np.int64)
        self.cols: dict[str, np.ndarray] = {}
        for name in ("mode3a", "mode_s", "failure"):
            self.cols[name] = np.zeros(0, object)
        for name in ("mode3a_t", "mode_c_m", "mode_c_t", "mode_s_t", "auth_t", "outcome_t", "failure_t",
                     "interrogated_t", "seen_t"):
            self.cols[name] = np.zeros(0)

    def _missing(self, name: str):
        return self._MISSING.get(name, np.nan)

    def rows(self, ids: np.ndarray) -> np.ndarray:
        """Rows of ``ids``, adding the new ones."""
        ids = np.asarray(ids, dtype=np.int64)
        new = np.setdiff1d(ids, self.ids)
        if new.size:
            merged = np.concatenate([self.ids, new])
            order = np.argsort(merged, kind="stable")
            self.ids = merged[order]
            for name, col in self.cols.items():
                grown = np.concatenate([col, np.full(new.size, self._missing(name), dtype=col.dtype)])
                self.cols[name] = grown[order]
        return np.searchsorted(self.ids, ids)

    def lookup(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ids = np.asarray(ids, dtype=np.int64)
        pos = np.searchsorted(self.ids, ids)
        pos_c = np.minimum(pos, max(self.ids.size - 1, 0))
        found = (pos < self.ids.size) & (self.ids[pos_c] == ids) if self.ids.size else np.zeros(ids.size, bool)
        return pos_c, found

    def put(self, time_col: str, ids, times, **values) -> None:
        """Per track the newest of the given rows, if newer than what is stored: ``time_col`` and ``values``."""
        ids = np.asarray(ids, dtype=np.int64)
        times = np.asarray(times, dtype=float)
        if ids.size == 0:
            return
        order = np.lexsort((times, ids))
        last = np.ones(order.size, bool)
        last[:-1] = ids[order][1:] != ids[order][:-1]
        sel = order[last]
        rows = self.rows(ids[sel])
        newer = ~(self.cols[time_col][rows] > times[sel])  # NaN (never set) is older
        rows, sel = rows[newer], sel[newer]
        self.cols[time_col][rows] = times[sel]
        for name, v in values.items():
            self.cols[name][rows] = np.asarray(v)[sel]

    def value(self, name: str, rows, found) -> np.ndarray:
        col = self.cols[name]
        out = np.full(found.size, self._missing(name), dtype=col.dtype)
        out[found] = col[rows[found]]
        return out

    def prune(self, before: float) -> None:
        """Forget tracks last seen before ``before``."""
        keep = ~(self.cols["seen_t"] < before)
        if not keep.all():
            self.ids = self.ids[keep]
            self.cols = {k: v[keep] for k, v in self.cols.items()}


# ---------------------------------------------------------------------------------------------------------------
# association


def _track_polar_variance(site: SensorSite, tracks: TrackStates) -> tuple[np.ndarray, np.ndarray]:
    """(range variance m², azimuth variance rad²) of each track's position seen from ``site``, with a floor of
    ``TRACK_SIGMA_FLOOR_M`` per axis."""
    n = len(tracks)
    enu = site.to_enu(np.asarray(tracks.position, dtype=float).reshape(n, 3))
    horizontal = np.maximum(np.hypot(enu[:, 0], enu[:, 1]), 1.0)
    floor = TRACK_SIGMA_FLOOR_M ** 2
    if tracks.position_cov is None:
        return np.full(n, floor), floor / horizontal ** 2
    rot = site.rotation
    cov = np.einsum("ij,njk,lk->nil", rot, np.asarray(tracks.position_cov, dtype=float).reshape(n, 3, 3), rot)
    los = enu / np.maximum(np.linalg.norm(enu, axis=1, keepdims=True), 1.0)
    az = np.arctan2(enu[:, 0], enu[:, 1])
    across = np.stack([np.cos(az), -np.sin(az), np.zeros(n)], axis=1)  # direction of increasing azimuth
    var_r = np.einsum("ni,nij,nj->n", los, cov, los)
    var_x = np.einsum("ni,nij,nj->n", across, cov, across)
    var_r = np.where(np.isfinite(var_r), np.maximum(var_r, floor), floor)
    var_x = np.where(np.isfinite(var_x), np.maximum(var_x, floor), floor)
    return var_r, var_x / horizontal ** 2


def associate_replies(site: SensorSite, reply_time, reply_range_m, reply_azimuth_rad, tracks: TrackStates, *,
                      sigma_range_m: float, sigma_azimuth_rad: float, gate_sigmas: float) -> np.ndarray:
    """The row of ``tracks`` each reply belongs to, -1 for none: (R,) int64.

    Every track is predicted (constant velocity) from its snapshot time to each reply's time and seen in the
    interrogator's polar frame. The normalised distance ``d² = Δr² / (σr² + var_r) + Δaz² / (σaz² + var_az)``
    (reply noise plus the track's position covariance along the line of sight and across it) must be at most
    ``gate_sigmas²``; among the pairs inside the gate the assignment with the smallest total d² wins, one reply
    per track (global nearest neighbour, `scipy.optimize.linear_sum_assignment`). Call it with the replies of
    one sweep: a track answers once per sweep.
    """
    reply_time = np.asarray(reply_time, dtype=float)
    r_rep = np.asarray(reply_range_m, dtype=float)
    a_rep = np.asarray(reply_azimuth_rad, dtype=float)
    n_rep, n_trk = reply_time.size, len(tracks)
    out = np.full(n_rep, -1, dtype=np.int64)
    if n_rep == 0 or n_trk == 0:
        return out
    pos = np.asarray(tracks.position, dtype=float).reshape(n_trk, 3)
    vel = np.asarray(tracks.velocity, dtype=float).reshape(n_trk, 3)
    dt = reply_time[:, None] - np.asarray(tracks.time, dtype=float)[None, :]
    predicted = pos[None, :, :] + vel[None, :, :] * dt[..., None]           # (R, N, 3)
    r_trk, a_trk, _ = geo.enu_to_polar(site.to_enu(predicted))
    var_r, var_a = _track_polar_variance(site, tracks)
    d2 = ((r_rep[:, None] - r_trk) ** 2 / (sigma_range_m ** 2 + var_r[None, :])
          + geo.wrap_angle(a_rep[:, None] - a_trk) ** 2 / (sigma_azimuth_rad ** 2 + var_a[None, :]))
    gated = d2 <= gate_sigmas ** 2                                              # NaN -> outside
    rows = np.flatnonzero(gated.any(axis=1))
    cols = np.flatnonzero(gated.any(axis=0))
    if rows.size == 0:
        return out
    from scipy.optimize import linear_sum_assignment

    sub_gated = gated[np.ix_(rows, cols)]
    big = float(gate_sigmas) ** 2 * (rows.size + cols.size + 1) * 10.0 + 1.0  # worse than any set of gated pairs
    cost = np.where(sub_gated, d2[np.ix_(rows, cols)], big)
    r, c = linear_sum_assignment(cost)
    ok = sub_gated[r, c]
    out[rows[r[ok]]] = cols[c[ok]]
    return out


# ---------------------------------------------------------------------------------------------------------------
# the unit's keys


class UnitKeys:
    """The unit's IFF keys for one run: the authenticator its interrogators verify with (and the simulated
    friendly platforms sign with when the unit holds the day key). Never written anywhere by this class.

    * `UnitKeys.simulated()`: an in-memory store with one fresh random day key, generated per run (the demo's
      default: no human, no file, nothing to leak into OUT);
    * `UnitKeys.open(path, wrap)`: a key store on disk (``airpicture keys``), e.g. ``--keystore PATH``;
    * `UnitKeys.export_unit()`: no key store (the captured export unit): `keystore.NO_KEYS`.
    """

    def __init__(self, authenticator: Authenticator, store: KeyStore | None, source: str):
        self.authenticator = authenticator
        self._store = store
        self.source = source

    @classmethod
    def simulated(cls, *, purpose: str = DEFAULT_PURPOSE, slot_tolerance: int = DEFAULT_SLOT_TOLERANCE) -> UnitKeys:
        store = KeyStore.in_memory()
        store.add_key(purpose)
        return cls(store.authenticator(purpose, slot_tolerance=slot_tolerance), store,
                   "in-memory day key generated for this run (never written)")

    @classmethod
    def open(cls, path, wrap: WrapSource, *, purpose: str = DEFAULT_PURPOSE,
             slot_tolerance: int = DEFAULT_SLOT_TOLERANCE) -> UnitKeys:
        store = KeyStore.open(path, wrap)
        return cls(store.authenticator(purpose, slot_tolerance=slot_tolerance), store, f"key store {Path(path)}")

    @classmethod
    def export_unit(cls) -> UnitKeys:
        return cls(NO_KEYS, None, "no key store (export unit)")

    @classmethod
    def for_run(cls, keystore=None, wrap: WrapSource | None = None, **kw) -> UnitKeys:
        """``None``: `simulated`; ``"none"`` / ``False``: `export_unit`; a path: `open` with ``wrap`` (default:
        the passphrase in ``$AIRPICTURE_KEYSTORE_PASSPHRASE``)."""
        if keystore is None:
            return cls.simulated(**kw)
        if keystore is False or str(keystore).lower() == "none":
            return cls.export_unit()
        return cls.open(keystore, wrap if wrap is not None else WrapSource.from_env(), **kw)

    def summary(self) -> dict:
        """Where the keys came from and how many: no key material, no fingerprints."""
        return {"source": self.source, "keys": len(self.authenticator.key_ids),
                "can_sign": bool(self.authenticator.can_tag),
                "slot_tolerance": self.authenticator.slot_tolerance}

    def close(self) -> None:
        if self._store is not None:
            self._store.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"UnitKeys({self.source!r}, keys={len(self.authenticator.key_ids)})"

    def __reduce__(self):
        raise TypeError("key material cannot be pickled")


# ---------------------------------------------------------------------------------------------------------------
# the simulation


@dataclass
class _Interrogator:
    site: SensorSite
    radar: radar_model.RadarConfig
    cfg: InterrogatorConfig
    look: radar_model.RadarConfig                  # coverage: IFF range, no MTI notch
    n_dwells: int                                  # beam dwells (challenges) per revolution
    dwell_s: float
    nonces: dict = field(default_factory=dict)     # global dwell index -> nonce (this and the last revolution)
    counts: Counter = field(default_factory=Counter)

    def interrogated_scan(self, scan) -> np.ndarray:
        """For each multiple of period_s, the first scan starting at or after it (every scan when period_s <=
        the scan period): scan k when a multiple lies in ((k - 1) T, k T]."""
        scan = np.asarray(scan, dtype=np.int64)
        if not self.cfg.interrogate:
            return np.zeros(scan.shape, bool)
        period, T = self.cfg.period_s, self.radar.scan_period_s
        if period <= T * (1 + 1e-9):
            return np.ones(scan.shape, bool)
        return np.floor(scan * T / period + 1e-9) > np.floor((scan - 1) * T / period + 1e-9)

    def challenge(self, dwell: int) -> bytes:
        nonce = self.nonces.get(dwell)
        if nonce is None:
            nonce = self.nonces[dwell] = secrets.token_bytes(NONCE_BYTES)
        return nonce

    def forget_before(self, dwell: int) -> None:
        for d in [d for d in self.nonces if d < dwell]:
            del self.nonces[d]

    def dwells_issued(self, t0: float, t1: float) -> int:
        """Challenges issued in [t0, t1): dwells starting there, on interrogated scans."""
        first, last = math.ceil(t0 / self.dwell_s - 1e-9), math.ceil(t1 / self.dwell_s - 1e-9)
        if last <= first:
            return 0
        scans = np.arange(first, last) // self.n_dwells
        return int(self.interrogated_scan(scans).sum())


@dataclass
class _Platforms:
    """The transponders, one row each (truth order)."""

    truth_index: np.ndarray      # (k,) int64
    names: list[str]
    configs: list[TransponderConfig]
    pid: list[str]               # platform identity in the authenticated reply
    mode3a: np.ndarray           # (k,) object
    mode_c: np.ndarray           # (k,) bool
    mode_s: np.ndarray           # (k,) object
    key: np.ndarray              # (k,) object
    reply: np.ndarray            # (k,) bool
    clock_offset_s: np.ndarray   # (k,) float
    victim: np.ndarray           # (k,) int64: row replayed by a replay spoofer, -1
    is_victim: np.ndarray        # (k,) bool

    def __len__(self) -> int:
        return int(self.truth_index.size)


class IffSimulation:
    """Simulated IFF for a scenario: interrogators on its radars, transponders on its targets.

    Parameters
    ----------
    scenario : Scenario
        Radars with an ``iff`` table interrogate (``params["iff"]``: a table or `InterrogatorConfig`); targets
        with an ``iff`` or ADS-B ``transponder`` table reply (``attributes``).
    authenticator : keystore.Authenticator
        The unit's (`UnitKeys`): interrogators verify with it. When it can sign, the simulated friendly platforms
        (``key = "valid"``) sign with it (they hold the day key); when it cannot (`NO_KEYS`, the export unit) they
        sign with a coalition key the unit does not hold, so nothing authenticates and everything runs.
    rng : numpy Generator
        Reply losses and noise (`iff_rng(seed)`). Nonces come from `secrets`, not from it.
    """

    def __init__(self, scenario, authenticator: Authenticator = NO_KEYS, rng: np.random.Generator | None = None):
        self.source = getattr(scenario, "source", None) or None
        self.authenticator = authenticator
        self.rng = rng if rng is not None else np.random.default_rng()
        self._interrogators = [self._interrogator(site) for site in scenario.sensors
                               if site.kind == "radar" and site.params.get("iff") not in (None, False)]
        self._platforms = self._parse_platforms(scenario.targets)
        self.memory_s = max((i.cfg.memory_s for i in self._interrogators), default=30.0)
        # The platforms' keys: the unit's day key when the unit holds it, else a coalition key it lost; another
        # unit's / an adversary's key (`wrong`); a made-up key under the signing key's id (`forged`).
        self._private: list[KeyStore] = []
        self._friend = authenticator if authenticator.can_tag else self._private_auth("coalition")
        self._wrong = self._private_auth("other")
        signing = self._friend.summary()["signing_key"]
        self._forged = self._private_auth(signing)
        self._recorded: dict[int, tuple] = {}       # victim row -> (time, pid, nonce, slot, tag)
        self._memory = _Memory()
        self._sub_truth: tuple | None = None
        self._log: list[dict] = []
        self.counts: Counter = Counter()
        self._by_platform: dict[str, Counter] = {}
        self._t_last: float | None = None

    # -- set-up -----------------------------------------------------------------------------------------------

    def _private_auth(self, key_id: str) -> Authenticator:
        store = KeyStore.in_memory()
        store.add_key(DEFAULT_PURPOSE, key_id=key_id)
        self._private.append(store)
        return store.authenticator(DEFAULT_PURPOSE)

    def _fail(self, path: tuple, message: str) -> InputError:
        return InputError(message, source=self.source, field=format_path(path))

    def _interrogator(self, site: SensorSite) -> _Interrogator:
        radar_cfg = radar_model.RadarConfig.from_site(site)
        cfg = parse_interrogator(site.params["iff"], lambda sub, msg: self._fail(
            ("sensors", site.index, "iff") + sub, msg), scan_period_s=radar_cfg.scan_period_s,
            range_max_m=radar_cfg.range_max_m)
        look = replace(radar_cfg, mti_min_radial_speed_mps=0.0, range_max_m=cfg.range_max_m,
                       range_min_m=min(radar_cfg.range_min_m, 0.5 * cfg.range_max_m))
        n_dwells = max(1, math.ceil(2 * math.pi / radar_cfg.beamwidth_az_rad - 1e-9))
        return _Interrogator(site=site, radar=radar_cfg, cfg=cfg, look=look, n_dwells=n_dwells,
                             dwell_s=radar_cfg.scan_period_s / n_dwells)

    def _parse_platforms(self, targets) -> _Platforms:
        names = [t.name for t in targets]
        configs = []
        for i, t in enumerate(targets):
            attrs = t.attributes or {}
            configs.append(parse_target_iff(attrs.get("iff"), lambda sub, msg, i=i: self._fail(
                ("targets", i, "iff") + sub, msg), transponder=attrs.get("transponder")))
        configs = resolve_transponders(configs, names, lambda i, sub, msg: self._fail(
            ("targets", i, "iff") + sub, msg))
        rows = [i for i, c in enumerate(configs) if c is not None]
        cfgs = [configs[i] for i in rows]
        row_of = {names[i]: k for k, i in enumerate(rows)}
        victim = np.array([row_of[c.replay_of] if c.key == "replay" else -1 for c in cfgs], dtype=np.int64)
        is_victim = np.zeros(len(rows), bool)
        is_victim[victim[victim >= 0]] = True
        return _Platforms(
            truth_index=np.array(rows, dtype=np.int64), names=[names[i] for i in rows], configs=cfgs,
            pid=[c.platform_id or names[i] for c, i in zip(cfgs, rows)],
            mode3a=np.array([c.mode3a for c in cfgs], dtype=object), mode_c=np.array([c.mode_c for c in cfgs], bool),
            mode_s=np.array([c.mode_s for c in cfgs], dtype=object), key=np.array([c.key for c in cfgs], object),
            reply=np.array([c.reply for c in cfgs], bool),
            clock_offset_s=np.array([c.clock_offset_s for c in cfgs], float), victim=victim, is_victim=is_victim)

    def _replying_truth(self, truth: Truth) -> Truth:
        """The truth of the transponders alone (beam crossings are solved for them only); built once."""
        if self._sub_truth is None or self._sub_truth[0] is not truth:
            idx = self._platforms.truth_index
            sub = Truth(names=[truth.names[i] for i in idx], target_class=[truth.target_class[i] for i in idx],
                        times=truth.times, position_ecef=truth.position_ecef[idx],
                        velocity_ecef=truth.velocity_ecef[idx], rcs_m2=truth.rcs_m2[idx],
                        swerling=truth.swerling[idx])
            self._sub_truth = (truth, sub)
        return self._sub_truth[1]

    @property
    def interrogators(self) -> list[str]:
        return [i.site.name for i in self._interrogators]

    @property
    def platforms(self) -> dict[str, dict]:
        """Each transponder's set-up (codes, key mode, victim): simulation truth, never key material."""
        p = self._platforms
        return {name: {"mode3a": p.mode3a[k], "mode_c": bool(p.mode_c[k]), "mode_s": p.mode_s[k],
                       "key": p.key[k], "replay_of": p.configs[k].replay_of, "reply": bool(p.reply[k]),
                       "implicit": p.configs[k].implicit}
                for k, name in enumerate(p.names)}

    # -- one step ---------------------------------------------------------------------------------------------

    def step(self, t0: float, t1: float, truth: Truth, snapshot: TrackStates | None) -> IffEvidence:
        """Interrogate over [t0, t1), associate the replies with the tracks of ``snapshot`` (the tracker's
        snapshot at t1), verify them, and return the evidence of every snapshot row at t1."""
        t0, t1 = float(t0), float(t1)
        snapshot = snapshot if snapshot is not None else TrackStates.empty()
        if t1 > t0 and self._interrogators:
            replies = self._transmit(t0, t1, truth)
            self._authenticate(replies)
            self._associate(replies, snapshot)
            self._remember(replies)
            self._judge_crossings(t0, t1, snapshot)
            self._keep_log(replies)
            for itg in self._interrogators:
                n = itg.dwells_issued(t0, t1)
                itg.counts["interrogations"] += n
                self.counts["interrogations"] += n
                itg.forget_before(math.floor(t1 / itg.dwell_s) - 2 * itg.n_dwells)
        self._t_last = t1
        if len(snapshot):
            self._memory.rows(snapshot.track_id)
            self._memory.put("seen_t", snapshot.track_id, np.full(len(snapshot), t1))
        self._memory.prune(t1 - 2.0 * self.memory_s)
        return self.evidence(snapshot, t1)

    def _transmit(self, t0: float, t1: float, truth: Truth) -> dict:
        """Every beam crossing of a transponder in [t0, t1): whether it replied and was received, what it
        measured; then, in time order, the authenticated parts. Columnar, sorted by time."""
        p = self._platforms
        parts = []
        for k, itg in enumerate(self._interrogators):
            if len(p) == 0:
                break
            sub = self._replying_truth(truth)
            row, tc = radar_model.beam_crossings(itg.site, itg.radar, sub, t0, t1)
            pos, vel = sub.state_at(tc, row)
            rng_m, az, _el, _rr, visible = radar_model.look_geometry(itg.site, itg.look, pos, vel)
            n = row.size
            u = self.rng.random(n)                              # drawn for every crossing: a stable stream
            noise = self.rng.standard_normal((n, 2))
            scan = np.floor(tc / itg.radar.scan_period_s + 1e-12).astype(np.int64)
            sent = visible & itg.interrogated_scan(scan) & p.reply[row]
            _, _, alt = geo.ecef_to_geodetic(pos)
            alt_ft = np.round(alt / FT / 100.0) * 100.0
            mode_c = np.where(p.mode_c[row] & (alt_ft >= MODE_C_MIN_FT) & (alt_ft <= MODE_C_MAX_FT),
                              alt_ft * FT, np.nan)
            parts.append({
                "time": tc, "interrogator": np.full(n, k, np.int64), "row": row, "scan": scan,
                "dwell": np.floor(tc / itg.dwell_s + 1e-12).astype(np.int64), "sent": sent,
                "received": sent & (u < itg.cfg.reply_probability),
                "range_m": rng_m + noise[:, 0] * itg.cfg.sigma_range_m,
                "azimuth_rad": np.mod(az + noise[:, 1] * itg.cfg.sigma_azimuth_rad, 2 * np.pi),
                "mode3a": p.mode3a[row], "mode_c_m": mode_c, "mode_s": p.mode_s[row],
            })
        if not parts:
            return _empty_replies()
        replies = {k: np.concatenate([part[k] for part in parts]) for k in parts[0]}
        keep = replies["sent"]
        replies = {k: v[keep] for k, v in replies.items()}
        order = np.argsort(replies["time"], kind="stable")
        return {k: v[order] for k, v in replies.items()}

    def _authenticate(self, replies: dict) -> None:
        """The authenticated part of each sent reply (in time order: a spoofer can only replay what it heard
        before), verified at the interrogator when received. Sets ``replies["outcome"]``: '' authenticated, a
        reason, or '-' (no authenticated part)."""
        p = self._platforms
        n = replies["time"].size
        outcome = np.full(n, _NO_AUTH, dtype=object)
        for j in range(n):
            row = int(replies["row"][j])
            mode = p.key[row]
            if mode == "none":
                continue
            t = float(replies["time"][j])
            itg = self._interrogators[int(replies["interrogator"][j])]
            slot_s = itg.cfg.slot_s
            nonce = itg.challenge(int(replies["dwell"][j]))
            received = bool(replies["received"][j])
            if mode == "replay":
                recorded = self._recorded.get(int(p.victim[row]))
                if recorded is None or not recorded[0] < t:
                    continue                     # nothing heard yet: no authenticated reply to send
                _, pid, r_nonce, r_slot, tag = recorded
            else:
                if not received and not p.is_victim[row]:
                    continue                     # lost and nobody records it: no need to compute it
                pid = p.pid[row]
                r_nonce = nonce
                r_slot = math.floor((t + p.clock_offset_s[row]) / slot_s)
                signer = {"valid": self._friend, "wrong": self._wrong, "forged": self._forged}[mode]
                tag = signer.tag(pid, r_nonce, r_slot)
                if mode == "valid" and p.is_victim[row]:
                    self._recorded[row] = (t, pid, r_nonce, r_slot, tag)
            if not received:
                continue
            reason = self.authenticator.verify(pid, r_nonce, r_slot, tag, now_slot=math.floor(t / slot_s))
            if reason == "" and r_nonce != nonce:
                reason = REPLAYED_NONCE          # a genuine, fresh reply, but to another challenge: re-sent
            outcome[j] = reason
        replies["outcome"] = outcome

    def _associate(self, replies: dict, snapshot: TrackStates) -> None:
        """``replies["track_id"]``: the track each received reply belongs to (-1: none), per sweep."""
        n = replies["time"].size
        track = np.full(n, -1, dtype=np.int64)
        received = np.flatnonzero(replies["received"])
        if received.size and len(snapshot):
            key = replies["interrogator"][received] * (1 << 40) + replies["scan"][received]
            for group in np.unique(key):
                idx = received[key == group]
                itg = self._interrogators[int(replies["interrogator"][idx[0]])]
                rows = associate_replies(itg.site, replies["time"][idx], replies["range_m"][idx],
                                         replies["azimuth_rad"][idx], snapshot, sigma_range_m=itg.cfg.sigma_range_m,
                                         sigma_azimuth_rad=itg.cfg.sigma_azimuth_rad,
                                         gate_sigmas=itg.cfg.gate_sigmas)
                ok = rows >= 0
                track[idx[ok]] = np.asarray(snapshot.track_id)[rows[ok]]
        replies["track_id"] = track

    def _remember(self, replies: dict) -> None:
        m = self._memory
        got = replies["track_id"] >= 0
        ids, t = replies["track_id"][got], replies["time"][got]
        code, mode_c, mode_s, outcome = (replies[k][got] for k in ("mode3a", "mode_c_m", "mode_s", "outcome"))
        m.put("interrogated_t", ids, t)
        has = code != ""
        m.put("mode3a_t", ids[has], t[has], mode3a=code[has])
        has = np.isfinite(mode_c)
        m.put("mode_c_t", ids[has], t[has], mode_c_m=mode_c[has])
        has = mode_s != ""
        m.put("mode_s_t", ids[has], t[has], mode_s=mode_s[has])
        has = outcome != _NO_AUTH
        m.put("outcome_t", ids[has], t[has])
        m.put("failure_t", ids[has], t[has], failure=outcome[has])
        ok = has & (outcome == "")
        m.put("auth_t", ids[ok], t[ok])
        # counts
        p = self._platforms
        self.counts["replies"] += int(replies["time"].size)
        self.counts["received"] += int(replies["received"].sum())
        self.counts["lost"] += int((~replies["received"]).sum())
        self.counts["associated"] += int(got.sum())
        self.counts["unassociated"] += int((replies["received"] & ~got).sum())
        auth_part = replies["received"] & (replies["outcome"] != _NO_AUTH)
        self.counts["authenticated_mode"] += int(auth_part.sum())
        for reason in replies["outcome"][auth_part]:
            self.counts[reason or "authenticated"] += 1
        for j in np.flatnonzero(replies["received"]):
            c = self._by_platform.setdefault(p.names[int(replies["row"][j])], Counter())
            c["replies"] += 1
            if replies["track_id"][j] >= 0:
                c["associated"] += 1
            o = replies["outcome"][j]
            if o != _NO_AUTH:
                c[o or "authenticated"] += 1
        for itg_index, itg in enumerate(self._interrogators):
            mine = replies["interrogator"] == itg_index
            itg.counts["replies"] += int(mine.sum())
            itg.counts["received"] += int((mine & replies["received"]).sum())

    def _judge_crossings(self, t0: float, t1: float, snapshot: TrackStates) -> None:
        """Tracks the beam of an interrogating scan crossed in coverage: interrogated; those without an
        authenticated-mode reply at that look get ``no_reply``. Judged ``JUDGE_LAG_DWELLS`` late."""
        n = len(snapshot)
        if n == 0:
            return
        ids = np.asarray(snapshot.track_id, dtype=np.int64)
        pos = np.asarray(snapshot.position, dtype=float).reshape(n, 3)
        vel = np.asarray(snapshot.velocity, dtype=float).reshape(n, 3)
        t_snap = np.asarray(snapshot.time, dtype=float)
        for itg in self._interrogators:
            lag = JUDGE_LAG_DWELLS * itg.dwell_s
            a, b = t0 - lag, t1 - lag
            omega = itg.radar.rotation_rate_rad_s
            mid = 0.5 * (a + b)
            enu = itg.site.to_enu(pos + vel * (mid - t_snap)[:, None])
            az = np.mod(np.arctan2(enu[:, 0], enu[:, 1]), 2 * np.pi)
            tc = a + np.mod(az - itg.radar.beam_azimuth(a), 2 * np.pi) / omega
            crossed = tc < b
            if not crossed.any():
                continue
            pc = pos + vel * (tc - t_snap)[:, None]
            _, _, _, _, visible = radar_model.look_geometry(itg.site, itg.look, pc, vel)
            scan = np.floor(tc / itg.radar.scan_period_s + 1e-12).astype(np.int64)
            asked = crossed & visible & itg.interrogated_scan(scan)
            if not asked.any():
                continue
            self._memory.put("interrogated_t", ids[asked], tc[asked])
            rows, found = self._memory.lookup(ids[asked])
            answered = self._memory.value("outcome_t", rows, found) >= tc[asked] - SAME_LOOK_SCANS * \
                itg.radar.scan_period_s
            silent = ~answered
            itg.counts["tracks_interrogated"] += int(asked.sum())
            self.counts["tracks_interrogated"] += int(asked.sum())
            self.counts[NO_REPLY] += int(silent.sum())
            self._memory.put("failure_t", ids[asked][silent], tc[asked][silent],
                             failure=np.full(int(silent.sum()), NO_REPLY, dtype=object))

    def _keep_log(self, replies: dict) -> None:
        p = self._platforms
        if replies["time"].size == 0:
            return
        self._log.append({
            "time": replies["time"], "interrogator": np.array([self._interrogators[i].site.name
                                                               for i in replies["interrogator"]], dtype=object),
            "platform": np.array([p.names[r] for r in replies["row"]], dtype=object),
            "truth_index": p.truth_index[replies["row"]], "received": replies["received"],
            "range_m": replies["range_m"], "azimuth_rad": replies["azimuth_rad"],
            "mode3a": replies["mode3a"], "mode_c_m": replies["mode_c_m"], "mode_s": replies["mode_s"],
            "outcome": replies["outcome"], "track_id": replies["track_id"]})

    # -- results ----------------------------------------------------------------------------------------------

    def evidence(self, snapshot: TrackStates, t: float | None = None) -> IffEvidence:
        """The IFF evidence of every row of ``snapshot`` at ``t`` (default: the last step's end)."""
        if snapshot is None or len(snapshot) == 0:
            return IffEvidence.empty()
        t = float(t if t is not None else (self._t_last if self._t_last is not None else snapshot.time[0]))
        ids = np.asarray(snapshot.track_id, dtype=np.int64)
        m = self._memory
        rows, found = m.lookup(ids)
        with np.errstate(invalid="ignore"):
            def recent(name):
                return (t - m.value(name, rows, found)) <= self.memory_s
            auth = recent("auth_t")
            has3a, has_c, has_s, has_fail = recent("mode3a_t"), recent("mode_c_t"), recent("mode_s_t"), \
                recent("failure_t")
            return IffEvidence(
                track_id=ids.copy(),
                iff_mode3a=np.where(has3a, m.value("mode3a", rows, found), "").astype(object),
                iff_mode_c_m=np.where(has_c, m.value("mode_c_m", rows, found), np.nan),
                iff_mode_s=np.where(has_s, m.value("mode_s", rows, found), "").astype(object),
                iff_authenticated=auth,
                iff_reply_time=np.where(auth, m.value("auth_t", rows, found), np.nan),
                iff_failure=np.where(has_fail, m.value("failure", rows, found), "").astype(object),
                iff_interrogated=recent("interrogated_t"),
            )

    def replies(self) -> dict:
        """Every reply sent so far, columnar: time, interrogator, platform, truth_index, received, range_m,
        azimuth_rad (measured), mode3a, mode_c_m, mode_s, outcome ('' authenticated, a reason, '-' no
        authenticated part), track_id (-1 none). No nonces, no tags."""
        if not self._log:
            names = ("time", "interrogator", "platform", "truth_index", "received", "range_m", "azimuth_rad",
                     "mode3a", "mode_c_m", "mode_s", "outcome", "track_id")
            return {k: np.zeros(0) for k in names}
        return {k: np.concatenate([part[k] for part in self._log]) for k in self._log[0]}

    def summary(self) -> dict:
        """Counts for summary.json: interrogations, replies, authenticated, failures by reason, per interrogator
        and per platform (simulation truth). No key material, no nonces, no tags."""
        c = self.counts
        return {
            "interrogators": {i.site.name: {"period_s": i.cfg.period_s, "range_max_km": i.cfg.range_max_m / 1000.0,
                                            "slot_s": i.cfg.slot_s, "reply_probability": i.cfg.reply_probability,
                                            "interrogations": int(i.counts["interrogations"]),
                                            "tracks_interrogated": int(i.counts["tracks_interrogated"]),
                                            "replies": int(i.counts["replies"]),
                                            "received": int(i.counts["received"])}
                              for i in self._interrogators},
            "unit_keys": {"keys": len(self.authenticator.key_ids), "can_sign": bool(self.authenticator.can_tag),
                          "slot_tolerance": self.authenticator.slot_tolerance},
            "memory_s": self.memory_s,
            "interrogations": int(c["interrogations"]),
            "tracks_interrogated": int(c["tracks_interrogated"]),
            "replies": int(c["replies"]),
            "received": int(c["received"]),
            "lost": int(c["lost"]),
            "associated": int(c["associated"]),
            "unassociated": int(c["unassociated"]),
            "authenticated_mode_replies": int(c["authenticated_mode"]),
            "authenticated": int(c["authenticated"]),
            "failures": {reason: int(c[reason]) for reason in REASONS},
            "platforms": {name: {"key": self._platforms.key[k], **{r: int(v) for r, v in
                                                                     sorted(self._by_platform.get(name, {}).items())}}
                          for k, name in enumerate(self._platforms.names)},
        }

    def close(self) -> None:
        """Wipe the simulation's private keys (coalition, other unit, forged). The unit's keys are the caller's."""
        for store in self._private:
            store.close()
        self._private.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"IffSimulation(interrogators={self.interrogators}, transponders={len(self._platforms)}, "
                f"unit keys={len(self.authenticator.key_ids)})")

    def __reduce__(self):
        raise TypeError("key material cannot be pickled")


def _empty_replies() -> dict:
    z = np.zeros(0)
    return {"time": z, "interrogator": np.zeros(0, np.int64), "row": np.zeros(0, np.int64),
            "scan": np.zeros(0, np.int64), "dwell": np.zeros(0, np.int64), "sent": np.zeros(0, bool),
            "received": np.zeros(0, bool), "range_m": z, "azimuth_rad": z, "mode3a": np.zeros(0, object),
            "mode_c_m": z, "mode_s": np.zeros(0, object)}


__all__ = ["FAILURES", "NO_REPLY", "REASONS", "IffEvidence", "IffSimulation", "UnitKeys", "associate_replies",
           "iff_rng"]
