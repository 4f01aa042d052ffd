"""The identification stage of a simulated run: IFF, spoof checks and rules on every snapshot.

``pipeline.run_scenario`` builds one :class:`IdentityStage` per run and calls :meth:`IdentityStage.step` after
each tracker snapshot; it returns the snapshot with the identity columns (``identity``, ``identity_rule``,
``identity_reason``, ``track_class_id``, ``emergency_flag``, ``spoof``, ``spoof_reason`` ...) in ``extra``.
Keys: ``keystore=None`` gives the unit a fresh in-memory day key (never written anywhere), ``"none"`` is the
captured export unit (nothing authenticates), a path opens that key store (see docs/identity.md).
"""

from __future__ import annotations

import numpy as np

from ..tracks import TrackStates
from .engine import IdentityEngine
from .iff import IffSimulation, UnitKeys, iff_rng
from .spoof import SpoofDetector
from .standard import IDENTITIES


class IdentityStage:
    def __init__(self, scenario, *, keystore=None, friendly_codes=None):
        self.keys = UnitKeys.for_run(keystore)
        self.iff = IffSimulation(scenario, self.keys.authenticator, iff_rng(scenario.seed))
        self.spoof = SpoofDetector(scenario.sensors)
        if friendly_codes is None:
            friendly_codes = _day_codes(scenario)
        self.engine = IdentityEngine(assets=scenario, friendly_codes=friendly_codes)
        self.t_prev = 0.0

    def step(self, t: float, truth, snapshot: TrackStates, *, decoder=None, plots=None) -> TrackStates:
        """IFF replies since the previous step, spoof checks, then the rule table, on one snapshot."""
        iff = self.iff.step(self.t_prev, t, truth, snapshot)
        spoof = self.spoof.update(snapshot, t, decoder=decoder, plots=plots)
        out = self.engine.update(snapshot, t, iff=iff, spoof=spoof)
        self.t_prev = t
        return out

    def summary(self, tracks: TrackStates) -> dict:
        """Identity counts over the run: the last identity of every track, changes, flags, IFF, spoof, keys."""
        extra = tracks.extra or {}
        last: dict[str, int] = {}
        if len(tracks) and "identity" in extra:
            order = np.lexsort((tracks.time, tracks.track_id))
            ids, codes = tracks.track_id[order], np.asarray(extra["identity"])[order]
            final = np.r_[ids[1:] != ids[:-1], True]
            names, counts = np.unique(np.asarray(IDENTITIES, dtype=object)[codes[final]], return_counts=True)
            last = {str(n): int(c) for n, c in zip(names, counts)}
        changes = sum(len(rec.get("history", [])) for rec in self.engine.to_json()["tracks"])
        return {
            "tracks_by_final_identity": last,
            "identity_changes": int(changes),
            "iff": self.iff.summary(),
            "spoof": self.spoof.summary(),
            "keys": self.keys.summary(),
        }

    def write(self, out_dir):
        return self.engine.write_json(out_dir)

    def close(self) -> None:
        self.iff.close()
        self.keys.close()


def _day_codes(scenario) -> list[str]:
    """The day's friendly Mode 3/A codes: those of the scenario's friendly platforms (what a unit is issued
    with its air tasking order)."""
    codes = []
    for spec in getattr(scenario, "targets", []):
        attrs = getattr(spec, "attributes", {}) or {}
        if attrs.get("affiliation") in ("friend", "assumed_friend"):
            table = attrs.get("iff")
            if isinstance(table, dict) and table.get("mode3a"):
                codes.append(str(table["mode3a"]))
    return codes

