"""The threat stage of a simulated run: scores and alerts on every identified snapshot.

``pipeline.run_scenario`` builds one :class:`ThreatStage` per run and calls :meth:`ThreatStage.step` after the
identity stage; it returns the snapshot with ``threat_level``, ``threat_score`` and ``threat_reason`` in
``extra`` and feeds the alert engine. Evaluation and alerting only: no weapon assignment, no engagement - a threat
level is a call for human attention.
"""

from __future__ import annotations

import numpy as np

from ..identity.evidence import ZoneSet
from ..identity.standard import HOSTILE, IDENTITIES, SUSPECT
from ..tracks import TrackStates
from .alerts import AlertConfig, AlertEngine, AlertInputs
from .geometry import PointSet
from .scoring import LEVELS, ScoringTable, evaluate

NOT_PROTECTED = ("corridor", "hostile_area", "friendly_area")
LEAD_TARGET_S = 60.0  # the target: hostile and suspect tracks alerted >= 60 s before entering a zone


def lead_time_report(entry: dict, first_seen: float | None, target_s: float = LEAD_TARGET_S) -> dict:
    """One hostile or suspect track's warning lead time, stated against the target.

    ``entry``: a record of `AlertEngine.summary`'s ``lead_times`` (entry time, zone, first alert, lead); first
    seen: when the track first appeared in the picture (confirmed). The target applies only where the sensors
    showed the track at least ``target_s`` before it entered ("where the sensors saw it that early"): a drone
    launched inside the control zone, or a track first seen less than ``target_s`` before entry, is not a miss -
    it is stated as such, with how soon after first sight it was alerted.
    """
    entry_t, alert_t, lead = entry.get("entry_time"), entry.get("first_alert_time"), entry.get("lead_s")
    seen = None if first_seen is None or entry_t is None else entry_t - first_seen
    applies = seen is not None and seen >= target_s
    met = (lead is not None and lead >= target_s) if applies else None
    after_seen = None if alert_t is None or first_seen is None else alert_t - first_seen
    zone = entry.get("zone")
    if seen is None:
        case = "not seen"
    elif seen <= 0.0:
        case = "first seen inside"
    elif not applies:
        case = "seen less than the target before entry"
    else:
        case = "seen at least the target before entry"

    def s_(x):
        return f"{x:.0f} s"

    alert = "never alerted" if alert_t is None else (
        f"alerted {s_(lead)} before entry" if lead >= 0 else f"alerted {s_(-lead)} after entry")
    if applies:
        verdict = f"seen {s_(seen)} before entering {zone}, {alert}: {target_s:.0f} s target " + (
            "met" if met else "missed")
    elif case == "first seen inside":
        verdict = (f"first seen already inside {zone} (launched inside): the {target_s:.0f} s target does not apply; "
                   + ("never alerted" if after_seen is None else f"alerted {s_(after_seen)} after first sight"))
    elif case == "seen less than the target before entry":
        verdict = (f"seen only {s_(seen)} before entering {zone}: the {target_s:.0f} s target does not apply; "
                   + alert + ("" if after_seen is None else f", {s_(after_seen)} after first sight"))
    else:
        verdict = f"entered {zone}, {alert}; never in the picture before"
    return {**entry, "first_seen_s": first_seen, "seen_before_entry_s": seen, "case": case,
            "target_s": target_s, "target_applies": applies, "target_met": met,
            "alert_after_first_seen_s": after_seen, "verdict": verdict}


class ThreatStage:
    def __init__(self, scenario, table: ScoringTable | None = None):
        self.scenario = scenario
        self.table = table or ScoringTable.load()
        self.points = PointSet.of(scenario)
        self.zones = ZoneSet.of(scenario)
        self.protected = [k for k, kind in enumerate(self.zones.kinds) if kind not in NOT_PROTECTED]
        # Intrusion alerts are for tracks nobody vouches for: own aircraft (friend, assumed friend) and
        # identified civil airway traffic (neutral: an airliner cleared through the control zone) raise none.
        self.alerts = AlertEngine(AlertConfig(exempt_identities=("friend", "assumed_friend", "neutral")))
        self._previous = np.zeros(0, np.int64)
        self.changed: list = []
        self._last_level: dict[int, int] = {}
        # per track slot (grown as tracks appear): latest and peak threat, for threat.json / explain
        self._slot_tid = np.zeros(0, np.int64)  # track id of each slot, in order of first appearance
        self._sorted_tid = np.zeros(0, np.int64)  # the same ids sorted, and their slots, to look ids up
        self._sorted_slot = np.zeros(0, np.int64)
        self._t_first = np.zeros(0)  # first time in the picture
        self._t_entry = np.zeros(0)  # first time seen inside a protected zone (NaN: never)
        self._t_last = np.zeros(0)
        self._level = np.zeros(0, np.int8)
        self._score = np.zeros(0)
        self._reason = np.zeros(0, object)
        self._peak_level = np.zeros(0, np.int8)
        self._peak_time = np.zeros(0)
        self._peak_reason = np.zeros(0, object)

    def step(self, t: float, snapshot: TrackStates) -> TrackStates:
        firm = snapshot.take(snapshot.in_picture())
        scores = evaluate(firm, self.scenario, self.table, points=self.points, zones=self.zones)
        g = scores.geometry
        extra = firm.extra or {}
        n = len(firm)
        ids = np.asarray(firm.track_id, np.int64)
        lost = np.setdiff1d(self._previous, ids)
        slots = self._slots(ids, float(t))  # new tracks: first seen now
        k = self.protected
        reasons = scores.reasons()
        # a track the scoring table rates no threat at all (a bird, a slow Unknown far from everything) raises no
        # intrusion alert: it is in the picture, not a call for attention
        in_any = g.zones.inside[:, k].any(axis=1) if k else np.zeros(n, bool)
        first_in = slots[in_any & np.isnan(self._t_entry[slots])]
        self._t_entry[first_in] = float(t)
        inside = g.zones.inside[:, k] & (scores.level > 0)[:, None]
        entry = np.where((scores.level > 0)[:, None], g.zones.entry_s[:, k], np.inf)
        # the alerts this step raised or cleared, for the sinks (the display, the recorder)
        self.changed = self.alerts.update(AlertInputs(
            time=float(t), track_id=ids, threat_level=scores.level, threat_reason=reasons,
            zones=tuple(g.zone_names[i] for i in k), inside=inside, time_to_entry=entry,
            emergency=extra.get("emergency_flag", np.zeros(n, bool)),
            emergency_reason=extra.get("emergency_reason", np.full(n, "", object)),
            squawk=extra.get("squawk", np.full(n, "", object)), spoof=extra.get("spoof", np.zeros(n, bool)),
            spoof_reason=extra.get("spoof_reason", np.full(n, "", object)),
            identity=extra.get("identity", np.full(n, -1, np.int8)), lost=lost))
        self._previous = ids
        self._remember(float(t), ids, scores, reasons)
        # threat columns on the whole snapshot (tentative tracks: none)
        out_level = np.zeros(len(snapshot), np.int8)
        out_score = np.zeros(len(snapshot))
        out_reason = np.full(len(snapshot), "", dtype=object)
        rows = np.flatnonzero(snapshot.in_picture())
        out_level[rows], out_score[rows], out_reason[rows] = scores.level, scores.score, reasons
        new_extra = dict(snapshot.extra or {})
        new_extra.update(threat_level=out_level, threat_score=out_score, threat_reason=out_reason)
        return TrackStates(snapshot.time, snapshot.track_id, snapshot.position, snapshot.velocity, snapshot.status,
                           snapshot.position_cov, snapshot.track_class, new_extra)

    def summary(self) -> dict:
        """Alerts by kind, acknowledgement, flapping, and per hostile or suspect track that entered a protected
        zone: first seen, entry, first alert, lead time, and whether the issue's 60 s target applied and was
        met (`lead_time_report`)."""
        first_seen = dict(zip(self._slot_tid.tolist(), self._t_first.tolist()))
        s = self.alerts.summary(entry_times=self._entry_times())
        leads = {}
        for entry in s["lead_times"]:
            if entry["identity"] in (IDENTITIES[HOSTILE], IDENTITIES[SUSPECT]):  # the alert engine gives names
                tid = int(entry["track_id"])
                leads[str(tid)] = lead_time_report(entry, first_seen.get(tid))
        applies = [e for e in leads.values() if e["target_applies"]]
        target = {
            "lead_s": LEAD_TARGET_S,
            "tracks": len(leads),
            "applies": len(applies),
            "met": sum(e["target_met"] for e in applies),
            "missed": sorted((int(t) for t, e in leads.items() if e["target_applies"] and not e["target_met"])),
            "launched_inside": sum(e["case"] == "first seen inside" for e in leads.values()),
            "seen_late": sum(e["case"] == "seen less than the target before entry" for e in leads.values()),
        }
        return {**s, "hostile_or_suspect_lead_times": leads, "lead_time_target": target, "levels": list(LEVELS)}

    def _remember(self, t, ids, scores, reasons) -> None:
        """Latest and peak threat per track, for threat.json and explain: arrays per track slot, one slot per
        track id, grown when new ids appear (no per-track Python work at 10^5 tracks)."""
        slots = self._slots(ids, t)
        level = np.asarray(scores.level, np.int8)
        self._t_last[slots] = t
        self._level[slots] = level
        self._score[slots] = scores.score
        self._reason[slots] = reasons
        up = level > self._peak_level[slots]
        self._peak_level[slots[up]] = level[up]
        self._peak_time[slots[up]] = t
        self._peak_reason[slots[up]] = reasons[up]

    def _slots(self, ids, t) -> np.ndarray:
        """Slots of these track ids; ids seen for the first time get new slots (first time ``t``)."""
        pos = np.searchsorted(self._sorted_tid, ids)
        known = (pos < self._sorted_tid.size) & (self._sorted_tid[np.minimum(pos, self._sorted_tid.size - 1)]
                                                   == ids) if self._sorted_tid.size else np.zeros(ids.size, bool)
        new = ids[~known]
        if new.size:
            k = new.size
            self._slot_tid = np.concatenate([self._slot_tid, new])
            self._t_first = np.concatenate([self._t_first, np.full(k, float(t))])
            self._t_entry = np.concatenate([self._t_entry, np.full(k, np.nan)])
            self._t_last = np.concatenate([self._t_last, np.full(k, np.nan)])
            self._level = np.concatenate([self._level, np.zeros(k, np.int8)])
            self._score = np.concatenate([self._score, np.zeros(k)])
            self._reason = np.concatenate([self._reason, np.full(k, "", object)])
            self._peak_level = np.concatenate([self._peak_level, np.full(k, -1, np.int8)])
            self._peak_time = np.concatenate([self._peak_time, np.full(k, np.nan)])
            self._peak_reason = np.concatenate([self._peak_reason, np.full(k, "", object)])
            order = np.argsort(self._slot_tid, kind="stable")
            self._sorted_tid, self._sorted_slot = self._slot_tid[order], order
            pos = np.searchsorted(self._sorted_tid, ids)
        return self._sorted_slot[pos]

    def threat_json(self) -> dict:
        """What ``OUT/threat.json`` holds: per track the latest and the peak threat with their reasons."""
        tracks = {}
        for slot in self._sorted_slot.tolist():  # by track id
            peak = int(self._peak_level[slot])
            tracks[str(int(self._slot_tid[slot]))] = {
                "first_time": float(self._t_first[slot]),
                "peak_level": LEVELS[peak] if peak >= 0 else None,
                "time": float(self._t_last[slot]), "level": LEVELS[int(self._level[slot])],
                "score": round(float(self._score[slot]), 2), "reason": str(self._reason[slot]),
                "peak_time": float(self._peak_time[slot]), "peak_reason": str(self._peak_reason[slot])}
        return {"format": "airpicture-threat", "version": 1, "levels": list(LEVELS), "tracks": tracks}

    def to_json(self) -> dict:
        return self.alerts.to_json(entry_times=self._entry_times())

    def _entry_times(self) -> dict:
        """Track id -> first time the picture showed it inside a protected zone (the lead times' entry)."""
        ok = np.isfinite(self._t_entry)
        return dict(zip(self._slot_tid[ok].tolist(), self._t_entry[ok].tolist()))
