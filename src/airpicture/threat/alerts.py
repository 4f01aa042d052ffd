"""Alerts on the recognised air picture (issue 5 §3, the alert part of §4).

A functional module: `AlertEngine.update(AlertInputs)` is called once per picture update (time ``t``) with one
row per track - the threat level, the per-zone inside flags and times to entry, the emergency and spoof flags and
the identity - and the ids of the tracks lost since the previous update. It keeps, vectorised over tracks (and
tracks x zones), the state of every alert condition and raises / clears alerts with hysteresis:

* a condition must hold on ``raise_updates`` consecutive updates of the track *and* for ``raise_s`` seconds before
  its alert is raised (minimum dwell);
* an active alert is cleared only after its condition has been absent on ``clear_updates`` consecutive updates
  and for ``clear_s`` seconds (a longer hold), so a track jittering across a zone line raises once and stays raised
  instead of flapping.

Kinds (`KINDS`): ``zone_intrusion`` (inside a protected zone; one alert per track and zone),
``predicted_intrusion`` (predicted to be inside a zone within ``predict_s`` seconds; inside counts as 0 s),
``emergency`` (squawk 7500 / 7600 / 7700 or an ADS-B emergency), ``spoof`` (spoof / inconsistency flag),
``track_lost`` (a medium or high threat track was lost; raised at once, cleared when the track comes back) and
``new_high_threat`` (the track's threat level became high).

Every alert has a stable id (``kind:track_id[:zone]:occurrence``, the same for the same inputs, never reused), a
reason text with numbers, and a timeline of events (raised, acknowledged, cleared: time, who, reason). An operator
acknowledges with `AlertEngine.acknowledge`. `summary` gives counts by kind, the flapping figure (most raises of
one track and kind within any 60 s) and the warning lead time per track (first alert to zone entry); `to_json` is
the summary plus every alert, for ``summary.json`` and the recording.

A threat level or an alert is a call for human attention; nothing here assigns, cues or engages.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..errors import InputError
from ..identity.rules import clock
from ..identity.standard import EMERGENCY_SQUAWKS, IDENTITIES, identity_code

FORMAT = "airpicture-alerts"
VERSION = 1

KINDS = ("zone_intrusion", "predicted_intrusion", "emergency", "spoof", "track_lost", "new_high_threat")
ZONE_KINDS = ("zone_intrusion", "predicted_intrusion")
LEVELS = ("none", "low", "medium", "high")
NONE, LOW, MEDIUM, HIGH = range(len(LEVELS))
SYSTEM = "system"

_ZMAX = 1 << 20  # keys: track slot * _ZMAX + zone index (0 for per-track kinds)


def level_code(name, *, field: str = "threat_level") -> int:
    """Code of a threat level name (none / low / medium / high)."""
    key = str(name).strip().lower()
    if key not in LEVELS:
        raise InputError(f"unknown threat level {name!r} (known: {', '.join(LEVELS)})", field=field)
    return LEVELS.index(key)


def _num(x):
    x = float(x)
    return x if math.isfinite(x) else None


def _secs(x: float) -> str:
    return f"{x:.0f} s" if abs(x) >= 10 else f"{x:.1f} s"


@dataclasses.dataclass(frozen=True)
class Dwell:
    """Hysteresis of one alert kind: raise after the condition held on ``raise_updates`` consecutive updates and
    for ``raise_s`` s; clear after it has been absent on ``clear_updates`` consecutive updates and for ``clear_s``
    s. Both counts and both durations must be met."""

    raise_updates: int = 3
    raise_s: float = 2.0
    clear_updates: int = 5
    clear_s: float = 30.0

    def check(self, kind: str) -> None:
        if self.raise_updates < 1 or self.clear_updates < 1:
            raise InputError(f"alert kind {kind}: raise_updates and clear_updates must be >= 1", field=kind)
        if not (self.raise_s >= 0 and self.clear_s >= 0):
            raise InputError(f"alert kind {kind}: raise_s and clear_s must be >= 0 s", field=kind)


def _default_dwell() -> dict:
    return {
        "zone_intrusion": Dwell(3, 2.0, 5, 30.0),
        "predicted_intrusion": Dwell(3, 2.0, 5, 30.0),
        "emergency": Dwell(2, 0.0, 5, 30.0),
        "spoof": Dwell(2, 0.0, 5, 60.0),
        "new_high_threat": Dwell(3, 2.0, 5, 30.0),
    }


@dataclasses.dataclass(frozen=True)
class AlertConfig:
    """Alert settings.

    predict_s : a predicted intrusion is alerted when the time to entry is at most this (s).
    dwell : kind -> `Dwell` (kinds not given keep the defaults; ``track_lost`` has none: it is an event).
    exempt_identities : identities that raise no (predicted) zone intrusion alerts (their own aircraft).
    lost_levels : threat levels whose loss is alerted (medium and high).
    lost_clear_s : a track-lost alert also clears this long after it was raised (None: only when the track
        comes back).
    flap_window_s : the window of the summary's flapping figure.
    """

    predict_s: float = 120.0
    dwell: dict = dataclasses.field(default_factory=dict)
    exempt_identities: tuple = ("friend", "assumed_friend")
    lost_levels: tuple = ("medium", "high")
    lost_clear_s: float | None = None
    flap_window_s: float = 60.0

    def __post_init__(self):
        if not self.predict_s > 0:
            raise InputError(f"predict_s must be > 0 s, got {self.predict_s}", field="predict_s")
        unknown = set(self.dwell) - (set(KINDS) - {"track_lost"})
        if unknown:
            raise InputError(f"no dwell for alert kind(s) {sorted(unknown)} (known: "
                             f"{', '.join(k for k in KINDS if k != 'track_lost')})", field="dwell")
        merged = _default_dwell()
        for kind, d in self.dwell.items():
            merged[kind] = d if isinstance(d, Dwell) else Dwell(**d)
        for kind, d in merged.items():
            d.check(kind)
        object.__setattr__(self, "dwell", merged)
        object.__setattr__(self, "_exempt", tuple(identity_code(x, field="exempt_identities")
                                                  for x in self.exempt_identities))
        object.__setattr__(self, "_lost", tuple(level_code(x, field="lost_levels") for x in self.lost_levels))

    def to_json(self) -> dict:
        return {"predict_s": self.predict_s,
                "dwell": {k: dataclasses.asdict(d) for k, d in self.dwell.items()},
                "exempt_identities": list(self.exempt_identities), "lost_levels": list(self.lost_levels),
                "lost_clear_s": self.lost_clear_s, "flap_window_s": self.flap_window_s}


@dataclasses.dataclass
class AlertInputs:
    """One update of the picture, one row per track (arrays aligned with ``track_id``).

    ============== ======================= =================================================================
    column          dtype / shape           meaning (missing value)
    ============== ======================= =================================================================
    time            float                   update time, s
    track_id        int64 (n,)              track ids, unique
    threat_level    int8 (n,)               threat level code, `LEVELS` order (0 none .. 3 high); names accepted
    threat_reason   object (n,)             the threat module's reason text ('' none), quoted in the alert reason
    zones           tuple of str (m,)       names of the protected zones (columns of the two matrices below)
    inside          bool (n, m)             the track is inside the zone now
    time_to_entry   float64 (n, m)          predicted time to entering the zone, s (NaN: not predicted to enter;
                                            rows inside may hold 0 or NaN - inside counts as 0)
    emergency       bool (n,)               ADS-B emergency / identity stage ``emergency_flag`` (False)
    emergency_reason object (n,)            e.g. ``ADS-B emergency: general`` ('')
    squawk          object (n,)             Mode 3/A code, 4 digits ('' none); 7500 / 7600 / 7700 raise an
                                            emergency alert even without the flag
    spoof           bool (n,)               spoof / inconsistency flag (identity stage ``spoof``) (False)
    spoof_reason    object (n,)             e.g. ``adsb_radar_offset 4.1 km`` ('')
    identity        int8 (n,)               identity code (``identity.standard``; -1 unknown); names accepted
    lost            int64 (k,)              ids of the tracks lost (deleted by the tracker) since the previous
                                            update; they need no row
    ============== ======================= =================================================================

    Only ``time`` and ``track_id`` are required; every other column defaults to its missing value. `AlertInputs.of`
    checks and normalises (the engine calls it).
    """

    time: float
    track_id: np.ndarray
    threat_level: np.ndarray | None = None
    threat_reason: np.ndarray | None = None
    zones: tuple = ()
    inside: np.ndarray | None = None
    time_to_entry: np.ndarray | None = None
    emergency: np.ndarray | None = None
    emergency_reason: np.ndarray | None = None
    squawk: np.ndarray | None = None
    spoof: np.ndarray | None = None
    spoof_reason: np.ndarray | None = None
    identity: np.ndarray | None = None
    lost: np.ndarray | None = None

    @classmethod
    def empty(cls, time: float, lost=()) -> AlertInputs:
        return cls(time=time, track_id=np.zeros(0, np.int64), lost=np.asarray(lost, np.int64)).normalised()

    def normalised(self) -> AlertInputs:
        """A copy with every column present, of the documented dtype and shape (InputError naming the field)."""
        t = float(self.time)
        if not math.isfinite(t):
            raise InputError(f"alert inputs: time must be finite, got {self.time}", field="time")
        ids = np.asarray(self.track_id, dtype=np.int64).reshape(-1)
        n = ids.size
        if np.unique(ids).size != n:
            raise InputError("alert inputs: duplicate track ids (one row per track)", field="track_id")
        zones = tuple(str(z) for z in self.zones)
        m = len(zones)
        if len(set(zones)) != m:
            raise InputError(f"alert inputs: duplicate zone names in {zones}", field="zones")

        def col(name, value, dtype, missing, shape=(n,)):
            if value is None:
                return np.full(shape, missing, dtype=dtype)
            arr = np.asarray(value)
            if arr.shape != shape:
                raise InputError(f"alert inputs: column {name} has shape {arr.shape}, expected {shape}", field=name)
            return arr.astype(dtype, copy=True)

        def codes(name, value, parse, lo, hi):
            if value is None:
                return np.full(n, -1 if name == "identity" else NONE, np.int8)
            arr = np.asarray(value)
            if arr.shape != (n,):
                raise InputError(f"alert inputs: column {name} has shape {arr.shape}, expected {(n,)}", field=name)
            if arr.dtype.kind in "OUS":
                arr = np.array([parse(x, field=name) for x in arr.tolist()], np.int64)
            arr = arr.astype(np.int64)
            bad = (arr < lo) | (arr > hi)
            if bad.any():
                raise InputError(f"alert inputs: {name} code {int(arr[bad][0])} outside {lo}..{hi}", field=name)
            return arr.astype(np.int8)

        lost = np.unique(np.asarray(self.lost if self.lost is not None else (), np.int64).reshape(-1))
        return AlertInputs(
            time=t, track_id=ids,
            threat_level=codes("threat_level", self.threat_level, level_code, 0, len(LEVELS) - 1),
            threat_reason=col("threat_reason", self.threat_reason, object, ""),
            zones=zones,
            inside=col("inside", self.inside, np.bool_, False, (n, m)),
            time_to_entry=col("time_to_entry", self.time_to_entry, np.float64, np.nan, (n, m)),
            emergency=col("emergency", self.emergency, np.bool_, False),
            emergency_reason=col("emergency_reason", self.emergency_reason, object, ""),
            squawk=col("squawk", self.squawk, object, ""),
            spoof=col("spoof", self.spoof, np.bool_, False),
            spoof_reason=col("spoof_reason", self.spoof_reason, object, ""),
            identity=codes("identity", self.identity, identity_code, -1, len(IDENTITIES) - 1),
            lost=lost,
        )


@dataclasses.dataclass
class Alert:
    """One alert and its timeline (events: raised, acknowledged, cleared; each with time, who, reason)."""

    id: str
    kind: str
    track_id: int
    zone: str | None
    raised: float
    reason: str
    level: str
    identity: str
    timeline: list
    cleared: float | None = None
    acknowledged: float | None = None
    acknowledged_by: str | None = None

    @property
    def active(self) -> bool:
        return self.cleared is None

    def to_json(self) -> dict:
        return {"id": self.id, "kind": self.kind, "track_id": self.track_id, "zone": self.zone,
                "active": self.active, "raised": self.raised, "acknowledged": self.acknowledged,
                "acknowledged_by": self.acknowledged_by, "cleared": self.cleared, "level": self.level,
                "identity": self.identity, "reason": self.reason, "timeline": [dict(e) for e in self.timeline]}


class _Latch:
    """Hysteresis state of one alert kind, one row per key (track slot x zone index), grown as keys appear."""

    def __init__(self, dwell: Dwell):
        self.dwell = dwell
        self.key = np.zeros(0, np.int64)
        self.run = np.zeros(0, np.int64)       # >0: present on that many consecutive updates; <0: absent; 0 new
        self.t_run = np.zeros(0, np.float64)   # time of the first update of the current run
        self.alert = np.zeros(0, np.int64)     # index of the active alert (-1 none)
        self._sorted = np.zeros(0, np.int64)
        self._order = np.zeros(0, np.int64)

    def find(self, keys: np.ndarray) -> np.ndarray:
        if self._sorted.size == 0:
            return np.full(keys.size, -1, np.int64)
        pos = np.minimum(np.searchsorted(self._sorted, keys), self._sorted.size - 1)
        return np.where(self._sorted[pos] == keys, self._order[pos], -1)

    def add(self, keys: np.ndarray) -> None:
        k = keys.size
        if not k:
            return
        self.key = np.concatenate([self.key, keys])
        self.run = np.concatenate([self.run, np.zeros(k, np.int64)])
        self.t_run = np.concatenate([self.t_run, np.full(k, np.nan)])
        self.alert = np.concatenate([self.alert, np.full(k, -1, np.int64)])
        self._order = np.argsort(self.key, kind="stable")
        self._sorted = self.key[self._order]

    def step(self, t: float, watched: np.ndarray, present_keys: np.ndarray):
        """One update. ``watched(keys)``: bool per key - observed this update; ``present_keys``: sorted unique keys
        whose condition holds now (each watched). Returns (rows to raise, rows to clear)."""
        self.add(present_keys[self.find(present_keys) < 0])
        rows = np.flatnonzero(watched(self.key))
        if not rows.size:
            return rows, rows
        keys = self.key[rows]
        pos = np.minimum(np.searchsorted(present_keys, keys), max(present_keys.size - 1, 0))
        p = present_keys[pos] == keys if present_keys.size else np.zeros(rows.size, bool)
        run = self.run[rows]
        cont = np.where(p, run > 0, run < 0)
        run = np.where(cont, run + np.where(p, 1, -1), np.where(p, 1, -1))
        t_run = np.where(cont, self.t_run[rows], t)
        self.run[rows] = run
        self.t_run[rows] = t_run
        on = self.alert[rows] >= 0
        d = self.dwell
        up = ~on & p & (run >= d.raise_updates) & (t - t_run >= d.raise_s)
        down = on & ~p & (-run >= d.clear_updates) & (t - t_run >= d.clear_s)
        return rows[up], rows[down]


class AlertEngine:
    """Alerts of every track, kept across updates (see the module doc).

    ``engine.update(inputs)`` -> list of the alerts raised or cleared at that update; ``acknowledge(alert_id, who,
    t)``; ``alerts()`` / ``active()`` / ``get(id)``; ``summary(entry_times=None)``; ``to_json(entry_times=None)``.
    """

    def __init__(self, config: AlertConfig | None = None):
        self.config = config or AlertConfig()
        self.time = math.nan
        self._alerts: list[Alert] = []
        self._by_id: dict[str, int] = {}
        self._occurrence: dict[tuple, int] = {}
        self._zones: dict[str, int] = {}
        self._zone_names: list[str] = []
        self._latch = {k: _Latch(self.config.dwell[k]) for k in KINDS if k != "track_lost"}
        # per-track table (slot = dense index in order of first appearance)
        self._tid = np.zeros(0, np.int64)
        self._level = np.zeros(0, np.int8)
        self._ident = np.zeros(0, np.int8)
        self._last_t = np.zeros(0, np.float64)
        self._entry_t = np.zeros(0, np.float64)   # first time seen inside any zone
        self._entry_zone: list[str | None] = []
        self._lost_alert = np.zeros(0, np.int64)  # index of the active track-lost alert (-1 none)
        self._below_high = np.zeros(0, np.int8)   # last threat level below high (-1: never seen below high)
        self._sorted = np.zeros(0, np.int64)
        self._order = np.zeros(0, np.int64)

    # ------------------------------------------------------------------------------------- storage
    def _find(self, ids: np.ndarray) -> np.ndarray:
        if self._sorted.size == 0:
            return np.full(ids.size, -1, np.int64)
        pos = np.minimum(np.searchsorted(self._sorted, ids), self._sorted.size - 1)
        return np.where(self._sorted[pos] == ids, self._order[pos], -1)

    def _slots(self, ids: np.ndarray) -> np.ndarray:
        slots = self._find(ids)
        new = slots < 0
        if new.any():
            k = int(new.sum())
            n0 = self._tid.size
            slots[new] = np.arange(n0, n0 + k)
            self._tid = np.concatenate([self._tid, ids[new]])
            self._level = np.concatenate([self._level, np.zeros(k, np.int8)])
            self._ident = np.concatenate([self._ident, np.full(k, -1, np.int8)])
            self._last_t = np.concatenate([self._last_t, np.full(k, np.nan)])
            self._entry_t = np.concatenate([self._entry_t, np.full(k, np.nan)])
            self._entry_zone.extend([None] * k)
            self._lost_alert = np.concatenate([self._lost_alert, np.full(k, -1, np.int64)])
            self._below_high = np.concatenate([self._below_high, np.full(k, -1, np.int8)])
            self._order = np.argsort(self._tid, kind="stable")
            self._sorted = self._tid[self._order]
        return slots

    def _zone_index(self, names: tuple) -> np.ndarray:
        for z in names:
            if z not in self._zones:
                self._zones[z] = len(self._zone_names)
                self._zone_names.append(z)
        return np.array([self._zones[z] for z in names], np.int64)

    # -------------------------------------------------------------------------------------- update
    def update(self, inputs: AlertInputs) -> list[Alert]:
        """Process one update; returns the alerts raised or cleared by it (raised ones first)."""
        x = inputs.normalised()
        t = x.time
        if math.isfinite(self.time) and t < self.time:
            raise InputError(f"alert inputs go back in time ({t} after {self.time})", field="time")
        self.time = t
        changed: list[Alert] = []
        cfg = self.config

        # tracks lost since the previous update: their conditions end, medium/high ones get a track-lost alert
        if x.lost.size:
            lost_slots = self._find(x.lost)
            lost_slots = lost_slots[lost_slots >= 0]
            self._on_lost(t, lost_slots, changed)

        ids = x.track_id
        slots = self._slots(ids)
        n = ids.size
        below = x.threat_level < HIGH
        self._below_high[slots[below]] = x.threat_level[below]
        prev_level = self._below_high[slots].copy()
        self._level[slots] = x.threat_level
        self._ident[slots] = x.identity
        self._last_t[slots] = t
        # a lost track that comes back: its track-lost alert clears
        back = slots[self._lost_alert[slots] >= 0]
        for s in back.tolist():
            a = self._alerts[int(self._lost_alert[s])]
            self._clear(a, t, "track re-acquired", changed)
            self._lost_alert[s] = -1
        if cfg.lost_clear_s is not None:
            for s in np.flatnonzero(self._lost_alert >= 0).tolist():
                a = self._alerts[int(self._lost_alert[s])]
                if t - a.raised >= cfg.lost_clear_s:
                    self._clear(a, t, f"not re-acquired within {_secs(cfg.lost_clear_s)}", changed)
                    self._lost_alert[s] = -1

        watched_track = np.zeros(self._tid.size, bool)
        watched_track[slots] = True
        zg = self._zone_index(x.zones)
        col_of_zone = np.full(len(self._zone_names), -1, np.int64)
        col_of_zone[zg] = np.arange(zg.size)

        def watched_zone(keys):
            return watched_track[keys // _ZMAX] & (col_of_zone[keys % _ZMAX] >= 0)

        def watched_one(keys):
            return watched_track[keys // _ZMAX]

        # entry into a protected zone (first time inside any zone) for the lead times
        inside_any = x.inside.any(axis=1) if x.inside.size else np.zeros(n, bool)
        first = inside_any & ~np.isfinite(self._entry_t[slots])
        for i in np.flatnonzero(first).tolist():
            s = int(slots[i])
            self._entry_t[s] = t
            self._entry_zone[s] = x.zones[int(np.flatnonzero(x.inside[i])[0])]

        not_exempt = ~np.isin(x.identity, np.asarray(cfg._exempt, np.int8))
        tte = np.where(x.inside, 0.0, x.time_to_entry)
        with np.errstate(invalid="ignore"):
            predicted = (tte <= cfg.predict_s) & not_exempt[:, None]
        intrusion = x.inside & not_exempt[:, None]
        sq_emerg = np.isin(x.squawk, list(EMERGENCY_SQUAWKS))
        per_track = {
            "emergency": x.emergency | sq_emerg,
            "spoof": x.spoof,
            "new_high_threat": x.threat_level == HIGH,
        }
        ctx = {"x": x, "slots": slots, "tte": tte, "prev_level": prev_level, "sq_emerg": sq_emerg}
        row_of_slot = np.full(self._tid.size, -1, np.int64)
        row_of_slot[slots] = np.arange(n)
        ctx["row_of_slot"] = row_of_slot
        ctx["col_of_zone"] = col_of_zone

        raised: list[Alert] = []
        for kind, cond in (("zone_intrusion", intrusion), ("predicted_intrusion", predicted)):
            r, c = np.nonzero(cond)
            keys = np.unique(slots[r] * _ZMAX + zg[c])
            self._step(kind, t, watched_zone, keys, ctx, raised, changed)
        for kind, cond in per_track.items():
            keys = np.unique(slots[cond] * _ZMAX)
            self._step(kind, t, watched_one, keys, ctx, raised, changed)
        return raised + [a for a in changed if a not in raised]

    def _step(self, kind, t, watched, keys, ctx, raised, changed):
        latch = self._latch[kind]
        up, down = latch.step(t, watched, keys)
        for r in down.tolist():
            a = self._alerts[int(latch.alert[r])]
            d = latch.dwell
            self._clear(a, t, f"condition absent on {-int(latch.run[r])} updates since "
                              f"{clock(latch.t_run[r])} ({_secs(t - latch.t_run[r])}, hold {_secs(d.clear_s)})",
                        changed)
            latch.alert[r] = -1
        if not up.size:
            return
        # deterministic order: by track id, then zone name
        keys_up = latch.key[up]
        tids = self._tid[keys_up // _ZMAX]
        znames = [self._zone_names[int(z)] if kind in ZONE_KINDS else "" for z in (keys_up % _ZMAX).tolist()]
        order = sorted(range(up.size), key=lambda j: (int(tids[j]), znames[j]))
        x = ctx["x"]
        for j in order:
            r = int(up[j])
            s = int(keys_up[j] // _ZMAX)
            i = int(ctx["row_of_slot"][s])
            zone = znames[j] if kind in ZONE_KINDS else None
            held = f"{int(latch.run[r])} updates, {_secs(t - latch.t_run[r])}"
            reason = self._reason(kind, x, i, zone, ctx, held)
            a = self._raise(kind, s, zone, t, reason)
            latch.alert[r] = self._by_id[a.id]
            raised.append(a)
            changed.append(a)

    def _reason(self, kind, x, i, zone, ctx, held) -> str:
        lvl = LEVELS[int(x.threat_level[i])]
        ident = IDENTITIES[int(x.identity[i])] if x.identity[i] >= 0 else "unknown"
        who = f"{ident} track, threat {lvl}"
        tr = f"; {x.threat_reason[i]}" if x.threat_reason[i] else ""
        if kind == "zone_intrusion":
            return f"inside {zone} ({held}); {who}{tr}"
        if kind == "predicted_intrusion":
            c = ctx["col_of_zone"][self._zones[zone]]
            tte = float(ctx["tte"][i, c])
            when = "inside now" if tte == 0 else f"entry predicted in {_secs(tte)}"
            return f"{when} into {zone} (threshold {_secs(self.config.predict_s)}; {held}); {who}{tr}"
        if kind == "emergency":
            parts = []
            sq = x.squawk[i]
            if ctx["sq_emerg"][i]:
                parts.append(f"squawk {sq} ({EMERGENCY_SQUAWKS[sq]})")
            if x.emergency[i]:
                parts.append(x.emergency_reason[i] or "emergency flag")
            return f"{'; '.join(parts)} ({held}); {who}"
        if kind == "spoof":
            return f"spoof / inconsistency: {x.spoof_reason[i] or 'flag set'} ({held}); {who}"
        if kind == "new_high_threat":
            p = int(ctx["prev_level"][i])
            was = f"was {LEVELS[p]}" if p >= 0 else "high since first seen"
            return f"threat high ({was}; {held}); {ident} track{tr}"
        raise AssertionError(kind)

    def _on_lost(self, t, lost_slots, changed):
        gone = np.zeros(self._tid.size, bool)
        gone[lost_slots] = True
        for latch in self._latch.values():
            rows = np.flatnonzero(gone[latch.key // _ZMAX])
            for r in rows[latch.alert[rows] >= 0].tolist():
                a = self._alerts[int(latch.alert[r])]
                self._clear(a, t, f"track {a.track_id} lost", changed)
                latch.alert[r] = -1
            latch.run[rows] = 0
            latch.t_run[rows] = np.nan
        for s in lost_slots.tolist():
            lvl = int(self._level[s])
            if lvl in self.config._lost and self._lost_alert[s] < 0:
                ident = IDENTITIES[int(self._ident[s])] if self._ident[s] >= 0 else "unknown"
                reason = (f"track lost at {clock(t)}; last seen {clock(self._last_t[s])} "
                          f"({_secs(t - self._last_t[s])} before) as a {LEVELS[lvl]} threat, {ident}")
                a = self._raise("track_lost", s, None, t, reason)
                self._lost_alert[s] = self._by_id[a.id]
                changed.append(a)

    def _raise(self, kind, s, zone, t, reason) -> Alert:
        tid = int(self._tid[s])
        key = (kind, tid, zone)
        k = self._occurrence.get(key, 0) + 1
        self._occurrence[key] = k
        aid = f"{kind}:{tid}" + (f":{zone}" if zone is not None else "") + f":{k}"
        lvl = LEVELS[int(self._level[s])]
        ident = IDENTITIES[int(self._ident[s])] if self._ident[s] >= 0 else "unknown"
        a = Alert(id=aid, kind=kind, track_id=tid, zone=zone, raised=t, reason=reason, level=lvl, identity=ident,
                  timeline=[{"event": "raised", "time": t, "who": SYSTEM, "reason": reason}])
        self._by_id[aid] = len(self._alerts)
        self._alerts.append(a)
        return a

    @staticmethod
    def _clear(a: Alert, t: float, reason: str, changed: list) -> None:
        a.cleared = t
        a.timeline.append({"event": "cleared", "time": t, "who": SYSTEM, "reason": reason})
        changed.append(a)

    # ----------------------------------------------------------------------------------- operator
    def acknowledge(self, alert_id: str, who: str, t: float) -> Alert:
        """An operator acknowledges an alert (active or already cleared); recorded in its timeline."""
        if not isinstance(who, str) or not who.strip():
            raise InputError("an acknowledgement needs 'who' (non-empty text)", field="who")
        a = self.get(alert_id)
        if a.acknowledged is not None:
            raise InputError(f"alert {alert_id} was already acknowledged by {a.acknowledged_by} at "
                             f"{clock(a.acknowledged)}", field="alert_id")
        t = float(t)
        a.acknowledged, a.acknowledged_by = t, who.strip()
        a.timeline.append({"event": "acknowledged", "time": t, "who": a.acknowledged_by,
                           "reason": f"acknowledged by {a.acknowledged_by} at {clock(t)}"})
        return a

    # ------------------------------------------------------------------------------------- reading
    def get(self, alert_id: str) -> Alert:
        if alert_id not in self._by_id:
            raise InputError(f"unknown alert {alert_id!r}", field="alert_id")
        return self._alerts[self._by_id[alert_id]]

    def alerts(self, track_id=None, kind: str | None = None) -> list[Alert]:
        """Every alert ever raised, in order of raising (optionally of one track and / or kind)."""
        return [a for a in self._alerts if (track_id is None or a.track_id == int(track_id))
                and (kind is None or a.kind == kind)]

    def active(self) -> list[Alert]:
        return [a for a in self._alerts if a.active]

    def entry_times(self) -> dict:
        """Track id -> first time it was seen inside any of the zones given in the inputs."""
        ok = np.isfinite(self._entry_t)
        return {int(i): float(e) for i, e in zip(self._tid[ok].tolist(), self._entry_t[ok].tolist())}

    def summary(self, entry_times: dict | None = None) -> dict:
        """Counts by kind, flapping and the warning lead time per track.

        entry_times : track id -> time it entered a protected zone (default: the first time the inputs showed it
            inside a zone, `entry_times`). The lead time is entry time minus the time of the track's first alert
            of any kind (negative: alerted after entry; None: never alerted).
        """
        raised = {k: 0 for k in KINDS}
        active = {k: 0 for k in KINDS}
        acked = {k: 0 for k in KINDS}
        unacked_active = {k: 0 for k in KINDS}
        first: dict[int, Alert] = {}
        raises: dict[tuple, list] = {}
        for a in self._alerts:
            raised[a.kind] += 1
            active[a.kind] += a.active
            acked[a.kind] += a.acknowledged is not None
            unacked_active[a.kind] += a.active and a.acknowledged is None
            first.setdefault(a.track_id, a)
            raises.setdefault((a.track_id, a.kind, a.zone), []).append(a.raised)
        w = self.config.flap_window_s
        worst = 1 if raises else 0
        worst_key = None
        for key, times in raises.items():
            ts = np.asarray(times)
            most = int((np.searchsorted(ts, ts + w, side="left") - np.arange(ts.size)).max())
            if most > worst and most > 1:
                worst, worst_key = most, key
        entries = self.entry_times() if entry_times is None else {int(k): float(v) for k, v in entry_times.items()}
        lead = []
        for tid in sorted(entries):
            e = entries[tid]
            a = first.get(tid)
            s = self._find(np.array([tid], np.int64))[0]
            rec = {"track_id": tid, "entry_time": e,
                   "zone": self._entry_zone[s] if s >= 0 else None,
                   "identity": (IDENTITIES[int(self._ident[s])] if s >= 0 and self._ident[s] >= 0 else "unknown"),
                   "first_alert_id": a.id if a else None, "first_alert_kind": a.kind if a else None,
                   "first_alert_time": a.raised if a else None, "lead_s": (e - a.raised) if a else None}
            lead.append(rec)
        return {
            "alerts": len(self._alerts),
            "raised_by_kind": raised,
            "active_by_kind": active,
            "acknowledged_by_kind": acked,
            # what still waits for an operator: active and not acknowledged
            "unacknowledged_active_by_kind": unacked_active,
            "acknowledged": sum(acked.values()),
            "unacknowledged": len(self._alerts) - sum(acked.values()),
            "unacknowledged_active": sum(unacked_active.values()),
            "max_raises_per_track_kind_in_window": worst,
            "flap_window_s": w,
            "worst_flapper": None if worst_key is None else
            {"track_id": worst_key[0], "kind": worst_key[1], "zone": worst_key[2]},
            "lead_times": lead,
        }

    def to_json(self, entry_times: dict | None = None) -> dict:
        """The summary and every alert with its timeline, JSON-ready (no NaN)."""
        return {"format": FORMAT, "version": VERSION, "time": _num(self.time) if self.time == self.time else None,
                "config": self.config.to_json(), "summary": self.summary(entry_times),
                "alerts": [a.to_json() for a in self._alerts]}
