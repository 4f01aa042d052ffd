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
        self._first_seen: dict[int, float] = {}
        self._entry: dict[int, float] = {}  # first time each track was seen inside a protected zone
        self._tracks: dict[int, dict] = {}  # per track: latest and peak threat, for threat.json / explain

    def step(self, t: float, snapshot: TrackStates) -> TrackStates:
        firm = snapshot.take(snapshot.in_picture())
        scores = evaluate(firm, self.scenario, self.table, points=self.points, zones=self.zones)
        g = scores.geometry
        extra = firm.extra or {}
        n = len(firm)
        ids = np.asarray(firm.track_id, np.int64)
        lost = np.setdiff1d(self._previous, ids)
        for tid in np.setdiff1d(ids, self._previous).tolist():
            self._first_seen.setdefault(int(tid), float(t))
        k = self.protected
        reasons = scores.reasons()
        # a track the scoring table rates no threat at all (a bird, a slow Unknown far from everything) raises no
        # intrusion alert: it is in the picture, not a call for attention
        in_any = g.zones.inside[:, k].any(axis=1) if k else np.zeros(n, bool)
        for tid in ids[in_any].tolist():
            self._entry.setdefault(int(tid), float(t))
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
        """Alerts by kind, flapping, lead times (hostile or suspect tracks entering a protected zone)."""
        s = self.alerts.summary(entry_times=self._entry)
        hostile = {}
        for entry in s["lead_times"]:
            name = entry["identity"]  # the alert engine gives names
            if name in (IDENTITIES[HOSTILE], IDENTITIES[SUSPECT]):
                tid = int(entry["track_id"])
                first = self._first_seen.get(tid)
                seen = None if first is None or entry.get("entry_time") is None else entry["entry_time"] - first
                # the target: alerted >= 60 s before entry, where the sensors saw the track that early
                hostile[str(tid)] = {**entry, "identity": name, "first_seen_s": first, "seen_before_entry_s": seen}
        return {**s, "hostile_or_suspect_lead_times": hostile, "levels": list(LEVELS)}

    def _remember(self, t, ids, scores, reasons) -> None:
        """Latest and peak threat per track, for threat.json and explain (a dict update per track and step: fine
        at picture sizes, a per-track Python loop at 10^5 tracks)."""
        levels = scores.level.tolist()
        for i, tid in enumerate(ids.tolist()):
            rec = self._tracks.get(tid)
            level = int(levels[i])
            if rec is None:
                rec = self._tracks[tid] = {"first_time": t, "peak_level": -1}
            rec.update(time=t, level=LEVELS[level], score=round(float(scores.score[i]), 2), reason=str(reasons[i]))
            if level > rec["peak_level"]:
                rec.update(peak_level=level, peak_time=t, peak_reason=str(reasons[i]))

    def threat_json(self) -> dict:
        """What ``OUT/threat.json`` holds: per track the latest and the peak threat with their reasons."""
        tracks = {}
        for tid, rec in sorted(self._tracks.items()):
            out = dict(rec)
            out["peak_level"] = LEVELS[rec["peak_level"]] if rec["peak_level"] >= 0 else None
            tracks[str(tid)] = out
        return {"format": "airpicture-threat", "version": 1, "levels": list(LEVELS), "tracks": tracks}

    def to_json(self) -> dict:
        return self.alerts.to_json(entry_times=self._entry)
