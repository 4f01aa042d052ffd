"""The identification stage: evidence -> rule table -> identity per track, with memory.

`IdentityEngine.update` is called with each tracker snapshot. Per track it keeps

* the current identity and class, with the rule and the reason that gave them;
* hysteresis: a new identity (or class) proposed by the rules replaces the current one only once it has been
  proposed on ``updates`` consecutive updates of that track and for at least ``hold_s`` seconds (the rule table's
  ``[hysteresis]``, or the proposing rule's own ``updates`` / ``hold_s``). A proposal that wavers (hostile,
  unknown, hostile...) restarts the count, so one noisy update never flips an identity. Flags (emergency) are
  shown at once;
* whether it was ever inside a declared hostile area (the ``from_hostile_area`` evidence);
* operator overrides: who, when, why; the override is shown instead of the automatic identity until cleared,
  while the automatic identity keeps being evaluated underneath;
* the history of changes: time, kind (identity, class, flag, override, override_cleared), old, new, rule, reason.

`to_json` is what a run writes to ``OUT/identity.json`` (`write_json`), what ``airpicture explain`` reads.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..tracks import TrackStates
from .evidence import ZoneSet, build_evidence, normalise_codes
from .rules import RuleTable, clock, load_rules
from .standard import (
    CLASS_UNKNOWN,
    CLASSES,
    IDENTITIES,
    PENDING,
    class_code,
    identity_code,
)

IDENTITY_FILE = "identity.json"
FORMAT = "airpicture-identity"
VERSION = 1
OVERRIDE_RULE = "operator override"


def _num(x):
    """A JSON number or null."""
    x = float(x)
    return x if math.isfinite(x) else None


# per-track arrays: name -> (dtype, value of a new track)
_FIELDS = {
    "track_id": (np.int64, -1), "first_time": (np.float64, np.nan), "last_time": (np.float64, np.nan),
    "confirmed": (np.bool_, False),
    "ident": (np.int8, PENDING), "rule": (object, ""), "reason": (object, "new track, not evaluated yet"),
    "since": (np.float64, np.nan),
    "cand": (np.int8, -1), "cand_count": (np.int64, 0), "cand_t0": (np.float64, np.nan),
    "cls": (np.int8, CLASS_UNKNOWN), "cls_rule": (object, ""), "cls_reason": (object, ""),
    "cls_cand": (np.int8, -1), "cls_count": (np.int64, 0), "cls_t0": (np.float64, np.nan),
    "hostile": (np.bool_, False),
    "ov_ident": (np.int8, -1), "ov_cls": (np.int8, -1), "ov_who": (object, ""), "ov_why": (object, ""),
    "ov_t": (np.float64, np.nan),
}


class IdentityEngine:
    """Identity, class and flags of every track, kept across updates.

    Parameters
    ----------
    rules : RuleTable, path of a rule TOML file, or None for the default table.
    assets : Scenario, list of Zone, ZoneSet or None: the zones (corridors, hostile areas) the evidence needs.
    friendly_codes : the day's friendly Mode 3/A codes (4 octal digits each).
    """

    def __init__(self, rules=None, assets=None, *, friendly_codes=()):
        self.rules = rules if isinstance(rules, RuleTable) else load_rules(rules)
        self.zones = ZoneSet.of(assets)
        self.friendly_codes = normalise_codes(friendly_codes)
        self.flag_names = self.rules.flag_names()
        self.time = math.nan
        self._n = 0
        self._ids_sorted = np.zeros(0, np.int64)
        self._slot_sorted = np.zeros(0, np.int64)
        self._a: dict[str, np.ndarray] = {}
        self._history: list[list[dict]] = []
        self._overrides: list[list[dict]] = []
        self._grow(64)

    # ------------------------------------------------------------------------------------- storage

    def _grow(self, need: int) -> None:
        cap = len(self._a["track_id"]) if self._a else 0
        if need <= cap:
            return
        new = max(need, 2 * cap, 64)
        for name, (dtype, missing) in _FIELDS.items():
            arr = np.full(new, missing, dtype=dtype)
            if cap:
                arr[:cap] = self._a[name]
            self._a[name] = arr
        for flag in self.flag_names:
            for name, (dtype, missing) in ((f"flag_{flag}", (np.bool_, False)), (f"flagr_{flag}", (object, ""))):
                arr = np.full(new, missing, dtype=dtype)
                if cap:
                    arr[:cap] = self._a[name]
                self._a[name] = arr

    def _find(self, ids: np.ndarray) -> np.ndarray:
        """Slots of ``ids`` (-1 unknown)."""
        if self._ids_sorted.size == 0:
            return np.full(ids.shape[0], -1, np.int64)
        pos = np.searchsorted(self._ids_sorted, ids)
        pos_c = np.minimum(pos, self._ids_sorted.size - 1)
        hit = self._ids_sorted[pos_c] == ids
        return np.where(hit, self._slot_sorted[pos_c], -1)

    def _slots(self, ids: np.ndarray, t: float) -> np.ndarray:
        slots = self._find(ids)
        new = slots < 0
        if new.any():
            k = int(new.sum())
            self._grow(self._n + k)
            fresh = np.arange(self._n, self._n + k)
            slots[new] = fresh
            self._a["track_id"][fresh] = ids[new]
            self._a["first_time"][fresh] = t
            self._a["since"][fresh] = t
            self._n += k
            self._history.extend([] for _ in range(k))
            self._overrides.extend([] for _ in range(k))
            all_ids = self._a["track_id"][:self._n]
            order = np.argsort(all_ids, kind="stable")
            self._ids_sorted = all_ids[order]
            self._slot_sorted = order.astype(np.int64)
        return slots

    def _slot(self, track_id) -> int:
        s = int(self._find(np.array([int(track_id)], np.int64))[0])
        if s < 0:
            raise InputError(f"unknown track {track_id} (the identity stage has not seen it)", field="track_id")
        return s

    # -------------------------------------------------------------------------------------- update
    def update(self, states: TrackStates, t: float | None = None, iff=None, spoof=None) -> TrackStates:
        """Evaluate the rules on a snapshot (one row per track) and return it with identity columns in ``extra``:

        ``identity`` (int8 code, the override when there is one), ``identity_rule``, ``identity_reason``,
        ``identity_override`` (bool), ``track_class_id`` (int8 code), ``emergency_flag`` (bool),
        ``emergency_reason``, and ``spoof`` / ``spoof_reason`` (the evidence used).
        """
        a = self._a
        ids = np.asarray(states.track_id, dtype=np.int64)
        if np.unique(ids).size != ids.size:
            raise ValueError("IdentityEngine.update takes a snapshot: one row per track (duplicate track ids)")
        if t is None:
            t = float(states.time[0]) if len(states) else self.time
        t = float(t)
        self.time = t
        slots = self._slots(ids, t)
        ev = build_evidence(states, self.zones, iff=iff, spoof=spoof, friendly_codes=self.friendly_codes,
                            from_hostile_area=a["hostile"][slots], time=t)
        a["hostile"][slots] |= ev["in_hostile_area"]
        a["last_time"][slots] = t
        a["confirmed"][slots] = ev["confirmed"]
        res = self.rules.evaluate(ev)

        self._step("identity", slots, t, res.identity, res.identity_rule, res.identity_reason, res.updates,
                   res.hold_s, ("ident", "rule", "reason", "cand", "cand_count", "cand_t0"), IDENTITIES)
        n = len(ids)
        self._step("class", slots, t, res.track_class, res.class_rule, res.class_reason,
                   np.full(n, self.rules.updates), np.full(n, self.rules.hold_s),
                   ("cls", "cls_rule", "cls_reason", "cls_cand", "cls_count", "cls_t0"), CLASSES)
        for flag in self.flag_names:
            on, why, rule = res.flags[flag], res.flag_reason[flag], res.flag_rule[flag]
            before = a[f"flag_{flag}"][slots]
            for i in np.flatnonzero(on != before).tolist():
                s = int(slots[i])
                self._history[s].append({
                    "time": t, "kind": "flag", "flag": flag, "old": bool(before[i]), "new": bool(on[i]),
                    "rule": rule[i] if on[i] else "", "reason": why[i] if on[i] else f"{flag} cleared"})
            a[f"flag_{flag}"][slots] = on
            a[f"flagr_{flag}"][slots] = why

        ident, rule, reason, cls_, overridden = self._shown(slots)
        extra = dict(states.extra or {})
        extra["identity"] = ident
        extra["identity_rule"] = rule
        extra["identity_reason"] = reason
        extra["identity_override"] = overridden
        extra["track_class_id"] = cls_
        for flag in self.flag_names:
            extra[f"{flag}_flag"] = a[f"flag_{flag}"][slots].copy()
            extra[f"{flag}_reason"] = a[f"flagr_{flag}"][slots].copy()
        extra["spoof"] = ev["spoof"].copy()
        extra["spoof_reason"] = ev["spoof_reason"].copy()
        return dataclasses.replace(states, extra=extra)

    def _step(self, kind, slots, t, prop, prop_rule, prop_reason, need_updates, need_hold, names, labels):
        """Hysteresis for one attribute (identity or class) over the rows of an update."""
        a = self._a
        cur_n, rule_n, reason_n, cand_n, count_n, t0_n = names
        cur = a[cur_n][slots]
        same = prop == cur
        s_same = slots[same]
        a[rule_n][s_same] = prop_rule[same]
        a[reason_n][s_same] = prop_reason[same]
        a[cand_n][s_same] = -1
        a[count_n][s_same] = 0
        a[t0_n][s_same] = np.nan

        diff = ~same
        cont = diff & (a[cand_n][slots] == prop)
        count = np.where(cont, a[count_n][slots] + 1, 1)
        t0 = np.where(cont, a[t0_n][slots], t)
        change = diff & (count >= need_updates) & (t - t0 >= need_hold)
        wait = diff & ~change
        s_wait = slots[wait]
        a[cand_n][s_wait] = prop[wait]
        a[count_n][s_wait] = count[wait]
        a[t0_n][s_wait] = t0[wait]

        rows = np.flatnonzero(change)
        if rows.size:
            s_chg = slots[rows]
            for i, s in zip(rows.tolist(), s_chg.tolist()):
                entry = {"time": t, "kind": kind, "old": labels[int(cur[i])], "new": labels[int(prop[i])],
                         "rule": prop_rule[i], "reason": prop_reason[i]}
                if kind == "identity" and a["ov_ident"][s] >= 0:
                    entry["under_override"] = True
                self._history[s].append(entry)
            a[cur_n][s_chg] = prop[rows]
            a[rule_n][s_chg] = prop_rule[rows]
            a[reason_n][s_chg] = prop_reason[rows]
            a[cand_n][s_chg] = -1
            a[count_n][s_chg] = 0
            a[t0_n][s_chg] = np.nan
            if kind == "identity":
                a["since"][s_chg] = t

    def _shown(self, slots):
        """What the picture shows: the override where there is one, else the automatic identity."""
        a = self._a
        ov = a["ov_ident"][slots]
        overridden = ov >= 0
        ident = np.where(overridden, ov, a["ident"][slots]).astype(np.int8)
        rule = a["rule"][slots].copy()
        reason = a["reason"][slots].copy()
        if overridden.any():
            s = slots[overridden]
            rule[overridden] = OVERRIDE_RULE
            reason[overridden] = [self._override_text(int(k)) for k in s.tolist()]
        ov_cls = a["ov_cls"][slots]
        cls_ = np.where(ov_cls >= 0, ov_cls, a["cls"][slots]).astype(np.int8)
        return ident, rule, reason, cls_, overridden

    def _override_text(self, s: int) -> str:
        a = self._a
        return f"operator override by {a['ov_who'][s]} at {clock(a['ov_t'][s])}: {a['ov_why'][s]}"

    # ----------------------------------------------------------------------------------- operator
    def override(self, track_id, identity, who: str, why: str, t: float, track_class: str | None = None) -> None:
        """Set a track's identity (and optionally class) by hand; shown until `clear_override`."""
        code = identity_code(identity, field="identity") if not isinstance(identity, (int, np.integer)) \
            else self._code_in_range(identity)
        cls_code = None if track_class is None else class_code(track_class, field="track_class")
        who, why = self._text(who, "who"), self._text(why, "why")
        s = self._slot(track_id)
        a = self._a
        old = IDENTITIES[int(a["ov_ident"][s] if a["ov_ident"][s] >= 0 else a["ident"][s])]
        if a["ov_ident"][s] >= 0:
            self._overrides[s][-1]["replaced"] = {"time": float(t), "who": who}
        a["ov_ident"][s] = code
        a["ov_cls"][s] = -1 if cls_code is None else cls_code
        a["ov_who"][s], a["ov_why"][s], a["ov_t"][s] = who, why, float(t)
        record = {"time": float(t), "identity": IDENTITIES[code], "class": None if cls_code is None else
                  CLASSES[cls_code], "who": who, "why": why, "cleared": None}
        self._overrides[s].append(record)
        self._history[s].append({"time": float(t), "kind": "override", "old": old, "new": IDENTITIES[code],
                                 "rule": OVERRIDE_RULE, "reason": self._override_text(s), "who": who, "why": why})

    def clear_override(self, track_id, who: str, t: float, why: str = "") -> None:
        """End a track's override: the automatic identity is shown again."""
        who = self._text(who, "who")
        s = self._slot(track_id)
        a = self._a
        if a["ov_ident"][s] < 0:
            raise InputError(f"track {track_id} has no override to clear", field="track_id")
        old = IDENTITIES[int(a["ov_ident"][s])]
        self._overrides[s][-1]["cleared"] = {"time": float(t), "who": who, "why": str(why)}
        a["ov_ident"][s] = -1
        a["ov_cls"][s] = -1
        a["ov_who"][s] = a["ov_why"][s] = ""
        a["ov_t"][s] = np.nan
        reason = f"override cleared by {who}" + (f": {why}" if why else "") + f"; automatic: {a['reason'][s]}"
        self._history[s].append({"time": float(t), "kind": "override_cleared", "old": old,
                                 "new": IDENTITIES[int(a["ident"][s])], "rule": a["rule"][s], "reason": reason,
                                 "who": who, "why": str(why)})

    @staticmethod
    def _text(value, name: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise InputError(f"an override needs '{name}' (non-empty text)", field=name)
        return value.strip()

    @staticmethod
    def _code_in_range(code) -> int:
        if not 0 <= int(code) < len(IDENTITIES):
            raise InputError(f"identity code {code} outside 0..{len(IDENTITIES) - 1}", field="identity")
        return int(code)

    # ------------------------------------------------------------------------------------- reading
    def history(self, track_id) -> list[dict]:
        """Changes of one track, oldest first: dicts with time, kind, old, new, rule, reason (and who / why)."""
        return [dict(e) for e in self._history[self._slot(track_id)]]

    def overrides(self, track_id) -> list[dict]:
        """Every override of one track, with who / when / why and when (and by whom) it was cleared."""
        return [dict(e) for e in self._overrides[self._slot(track_id)]]

    def track(self, track_id) -> dict:
        """One track's identity record, as in `to_json`."""
        return self._record(self._slot(track_id))

    def track_ids(self) -> np.ndarray:
        return self._a["track_id"][:self._n].copy()

    def _record(self, s: int) -> dict:
        a = self._a
        slots = np.array([s])
        ident, rule, reason, cls_, overridden = self._shown(slots)
        override = None
        if overridden[0]:
            override = {"identity": IDENTITIES[int(a["ov_ident"][s])], "who": a["ov_who"][s],
                        "why": a["ov_why"][s], "time": _num(a["ov_t"][s]),
                        "class": None if a["ov_cls"][s] < 0 else CLASSES[int(a["ov_cls"][s])]}
        pending = None
        if a["cand"][s] >= 0:
            pending = {"identity": IDENTITIES[int(a["cand"][s])], "updates": int(a["cand_count"][s]),
                       "since": _num(a["cand_t0"][s])}
        return {
            "track_id": int(a["track_id"][s]),
            "first_time": _num(a["first_time"][s]),
            "last_time": _num(a["last_time"][s]),
            "confirmed": bool(a["confirmed"][s]),
            "identity": IDENTITIES[int(ident[0])],
            "identity_rule": rule[0],
            "identity_reason": reason[0],
            "identity_since": _num(a["ov_t"][s] if overridden[0] else a["since"][s]),
            "automatic_identity": IDENTITIES[int(a["ident"][s])],
            "automatic_rule": a["rule"][s],
            "automatic_reason": a["reason"][s],
            "proposed": pending,
            "class": CLASSES[int(cls_[0])],
            "class_rule": a["cls_rule"][s],
            "class_reason": a["cls_reason"][s],
            "flags": {f: (a[f"flagr_{f}"][s] if a[f"flag_{f}"][s] else None) for f in self.flag_names},
            "from_hostile_area": bool(a["hostile"][s]),
            "override": override,
            "overrides": [dict(e) for e in self._overrides[s]],
            "history": [dict(e) for e in self._history[s]],
        }

    def to_json(self) -> dict:
        """The whole identity picture as a JSON-ready dict (what ``OUT/identity.json`` holds)."""
        order = np.argsort(self._a["track_id"][:self._n], kind="stable")
        return {
            "format": FORMAT,
            "version": VERSION,
            "time": _num(self.time),
            "rules": self.rules.to_json(),
            "friendly_codes": len(self.friendly_codes),
            "tracks": [self._record(int(s)) for s in order.tolist()],
        }

    def write_json(self, out_dir) -> Path:
        """Write `to_json` to ``out_dir/identity.json``; returns the path."""
        path = Path(out_dir) / IDENTITY_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=1, allow_nan=False), encoding="utf-8")
        tmp.replace(path)
        return path
