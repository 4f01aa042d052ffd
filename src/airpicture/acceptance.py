"""Figures that say whether a run meets the picture's promises, beyond GOSPA and SIAP.

* completeness per target class (observable samples only),
* birds: how long a bird flock was shown as a confirmed track that is *not* classed as a bird,
* late (pop-up) targets such as a sea-skimming cruise missile: how many scans of the
  fastest radar that can see it pass between its rising above that radar's horizon and
  the first confirmed track on it.

All use the same track-to-truth association as SIAP (metrics.associate_tracks_to_truths).
"""

from __future__ import annotations

import numpy as np

from .metrics import associate_tracks_to_truths
from .observability import radar_observable
from .tracks import TrackStates
from .truth import Truth

BIRD_CLASS = "bird_flock"
POP_UP_CLASSES = ("cruise_missile",)


def _coverage(assoc, truth: Truth, eval_times: np.ndarray) -> np.ndarray:
    """(n_targets, T) bool: some confirmed track is associated with the truth at that time."""
    covered = np.zeros((truth.n_targets, len(eval_times)), dtype=bool)
    lo = np.searchsorted(eval_times, assoc.start, side="left")
    hi = np.searchsorted(eval_times, assoc.end, side="right")
    for truth_index, a, b in zip(assoc.truth_id, lo, hi):  # one row per association interval (few)
        covered[int(truth_index), a:b] = True
    return covered


def associate(truth_t, truth_id, truth_pos, tracks: TrackStates, distance_m: float):
    return associate_tracks_to_truths(truth_t, truth_id, truth_pos, tracks.time, tracks.track_id,
                                      tracks.position, threshold=distance_m)


def class_completeness(truth: Truth, eval_times, observable, assoc) -> dict:
    """Completeness (fraction of observable truth samples held by a confirmed track) per class."""
    covered = _coverage(assoc, truth, eval_times)
    classes = np.asarray(truth.target_class)
    result = {}
    for name in sorted(set(classes.tolist())):
        rows = classes == name
        counted = observable[rows]
        n = int(counted.sum())
        result[name] = {
            "targets": int(rows.sum()),
            "observable_s": float(n * (eval_times[1] - eval_times[0]) if len(eval_times) > 1 else n),
            "completeness": None if n == 0 else float((covered[rows] & counted).sum() / n),
        }
    return result


def nearest_truth_per_row(truth_t, truth_id, truth_pos, tracks: TrackStates, distance_m: float) -> np.ndarray:
    """For every track row, the id of the nearest truth at the same time within distance_m, else -1."""
    from .metrics.association import nearest_truth

    times = np.unique(np.concatenate([truth_t, tracks.time]))
    truth_ti = np.searchsorted(times, truth_t)
    track_ti = np.searchsorted(times, tracks.time)
    rows = nearest_truth(track_ti, tracks.position, truth_ti, truth_pos, truth_id, distance_m)
    return np.where(rows >= 0, np.asarray(truth_id)[np.maximum(rows, 0)], -1)


def bird_report(truth: Truth, confirmed: TrackStates, nearest_truth_id: np.ndarray) -> dict:
    """How long each bird flock was shown as a confirmed track not classed as a bird.

    A confirmed track sample counts against a flock when the flock is the nearest truth to it at
    that time (a helicopter track passing a flock is the helicopter's, not the flock's).
    """
    classes = np.asarray(truth.target_class)
    birds = np.flatnonzero(classes == BIRD_CLASS)
    if birds.size == 0:
        return {}
    step = float(np.median(np.diff(np.unique(confirmed.time)))) if len(confirmed) > 1 else 1.0
    not_bird = np.ones(len(confirmed), dtype=bool)
    if confirmed.track_class is not None:
        not_bird = np.asarray(confirmed.track_class) != "bird"
    per_flock = {}
    for b in birds:
        on = nearest_truth_id == b
        per_flock[truth.names[b]] = {"confirmed_not_bird_s": float((on & not_bird).sum()) * step,
                                     "confirmed_as_bird_s": float((on & ~not_bird).sum()) * step,
                                     "tracks": int(np.unique(confirmed.track_id[on]).size)}
    worst = max(v["confirmed_not_bird_s"] for v in per_flock.values())
    return {
        "flocks": len(birds),
        "max_confirmed_not_bird_s": worst,
        "per_flock": per_flock,
        "verdict": f"{len(birds)} flocks; longest shown as a non-bird confirmed track: {worst:.0f} s",
    }


def late_target_report(scenario, truth: Truth, assoc, step_s: float = 0.25) -> dict:
    """Pop-up targets: scans of the fastest radar that sees them between rising and being tracked."""
    from .sensors.radar import RadarConfig

    classes = np.asarray(truth.target_class)
    radars = [s for s in scenario.sensors if s.kind == "radar"]
    pop_ups = np.flatnonzero(np.isin(classes, POP_UP_CLASSES))
    if not radars or pop_ups.size == 0:
        return {}
    fine_times = np.arange(0.0, scenario.duration_s + 1e-9, step_s)
    # One observability pass per radar, shared by every pop-up target.
    seen_by = [(site, RadarConfig.from_site(site), radar_observable(site, truth, fine_times)) for site in radars]
    result = {}
    for target in pop_ups:
        best = None
        first_seen = {}
        for site, cfg, seen in seen_by:
            hits = np.flatnonzero(seen[target])
            if hits.size:
                rise = float(fine_times[hits[0]])
                pos, _ = truth.state_at(rise, target)
                first_seen[site.name] = {"t_s": rise,
                                         "range_km": float(np.linalg.norm(pos - site.ecef)) / 1000.0,
                                         "range_max_km": cfg.range_max_m / 1000.0}
                period = cfg.scan_period_s
                if best is None or period < best[2]:
                    best = (site.name, rise, period)
        rows = np.flatnonzero(assoc.truth_id == target)
        first_track = float(assoc.start[rows].min()) if rows.size else None
        name = truth.names[target]
        if best is None:
            result[name] = {"verdict": "never above any radar's horizon"}
            continue
        radar_name, rise, period = best
        entry = {"radar": radar_name, "rises_s": rise, "scan_period_s": period, "first_confirmed_track_s": first_track,
                 "first_seen_by": first_seen}
        if first_track is None:
            entry["scans_to_track"] = None
            entry["verdict"] = f"never tracked after rising above {radar_name}'s horizon at {rise:.0f} s"
        else:
            scans = max(first_track - rise, 0.0) / period
            entry["scans_to_track"] = scans
            entry["verdict"] = (f"tracked {scans:.1f} {radar_name} scans after it could first see it "
                                f"(t = {rise:.1f} s)")
        result[name] = entry
    return result


def identity_report(scenario, truth: Truth, confirmed: TrackStates, nearest_truth_id: np.ndarray, meas) -> dict:
    """Issue 4 acceptance on a simulated run: friendlies never shown Suspect/Hostile, Friend only by
    authenticated IFF, and how soon each spoofing transponder was flagged after the radar first saw it.

    A track row speaks for the truth nearest to it (``nearest_truth_id``); a spoofer's false-position track is
    found by the address it broadcasts instead, since it is nowhere near the aircraft.
    """
    from .identity.standard import FRIEND, HOSTILE, IDENTITIES, SUSPECT

    extra = confirmed.extra or {}
    if "identity" not in extra:
        return {}
    ident = np.asarray(extra["identity"])
    rule = np.asarray(extra.get("identity_rule", np.full(len(confirmed), "", object)), dtype=object)
    attrs = truth.extra.get("attributes", [{}] * truth.n_targets)
    friendly = [i for i, a in enumerate(attrs) if a.get("affiliation") in ("friend", "assumed_friend")]
    bad = []
    for i in friendly:
        rows = nearest_truth_id == i
        shown = set(np.asarray(IDENTITIES, dtype=object)[ident[rows & np.isin(ident, (SUSPECT, HOSTILE))]])
        if shown:
            bad.append({"target": truth.names[i], "shown": sorted(shown)})
    friend_rows = ident == FRIEND
    friend_rules = sorted(set(rule[friend_rows].tolist()))
    spoofers = {}
    icao = np.asarray(extra.get("icao24", np.full(len(confirmed), "", object)), dtype=object)
    flag = np.asarray(extra.get("spoof", np.zeros(len(confirmed), bool)), dtype=bool)
    for i, spec in enumerate(scenario.targets):
        table = (spec.attributes or {}).get("transponder") or {}
        if not any(k.startswith("spoof") for k in table):
            continue
        address = str(table.get("spoof_icao24", table.get("icao24", ""))).lower()
        radar_sensors = [k for k, s in enumerate(scenario.sensors) if s.kind == "radar"]
        seen = np.isin(meas.sensor, radar_sensors) & (meas.truth == i)
        contact = float(meas.time[seen].min()) if seen.any() else None
        rows = (icao == address) | (nearest_truth_id == i)
        flagged = rows & flag
        first = float(confirmed.time[flagged].min()) if flagged.any() else None
        spoofers[truth.names[i]] = {
            "broadcast_icao24": address, "radar_contact_s": contact, "first_flagged_s": first,
            "lead_s": None if first is None or contact is None else round(first - contact, 1),
            "identities_shown": sorted(set(np.asarray(IDENTITIES, dtype=object)[ident[rows]].tolist())),
        }
    return {"friendlies_shown_suspect_or_hostile": bad, "rules_giving_friend": friend_rules,
            "spoofers": spoofers}
