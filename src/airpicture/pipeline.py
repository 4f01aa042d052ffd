"""The run: scenario -> truth -> simulated sensors (and transponder frames) -> tracker -> metrics -> outputs.

This is the imperative shell around the functional stages. It is what `airpicture run`
and `airpicture demo` call, and what a notebook can call directly::

    from airpicture.scenario.loader import load_scenario
    from airpicture.pipeline import run_scenario
    summary = run_scenario(load_scenario("demo"), "out/")
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .measurements import FALSE_ALARM, MeasurementBatch
from .tracks import TrackStates
from .truth import Truth

EVAL_STEP_S = 1.0  # metrics are computed on a 1 s grid (both truth and tracks sampled there)
GOSPA_C_M = 2000.0  # cut-off: a track further than this from any truth is false (long-range radar accuracy)
GOSPA_P = 1
SIAP_ASSOCIATION_M = 2000.0  # track-to-truth association distance for SIAP


def default_out_dir(scenario_name: str) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return Path("airpicture-out") / f"{scenario_name}-{stamp}"


def _truth_samples(truth: Truth, times: np.ndarray):
    """Columnar truth at evaluation times (alive targets only)."""
    n = truth.n_targets
    idx = np.repeat(np.arange(n)[:, None], len(times), axis=1)
    tt = np.broadcast_to(times[None, :], idx.shape)
    pos, vel = truth.state_at(tt, idx)
    alive = np.isfinite(pos[..., 0])
    return tt[alive], idx[alive], pos[alive], vel[alive], alive


def _sensor_counts(sensors, meas: MeasurementBatch, duration_s: float, adsb=None) -> dict:
    from .sensors.simulate import scan_times

    counts = {}
    for site in sensors:
        mine = meas.sensor == site.index
        entry = {
            "type": site.kind,
            "measurements": int(mine.sum()),
            "false_alarms": int((mine & (meas.truth == FALSE_ALARM)).sum()),
        }
        if site.kind == "radar":
            entry["scans"] = int(len(scan_times(site, duration_s)))
        if site.kind == "adsb":  # frames, not plots: what it heard (details in summary["adsb"])
            got = adsb.received.counts.get(site.name, {}) if adsb is not None and adsb.active else {}
            entry["frames_received"] = int(got.get("received", 0))
            entry["implicit"] = bool(site.params.get("implicit", False))
        counts[site.name] = entry
    return counts


def run_scenario(scenario, out_dir, *, show_progress: bool = True, keystore=None, sinks=None, controls=None,
                 record: bool = True, outputs: bool = True, resume_after: float | None = None) -> dict:
    """Run a scenario end to end and write summary.json, tracks.parquet, picture.png, identity.json into out_dir.

    ``outputs=False``: write nothing and return the summary alone (a Monte Carlo replication, montecarlo.py);
    ``out_dir`` may then be None.

    ``sinks``: a ``picture.SinkSet`` (live display, recorder, CoT, ASTERIX, pacer) handed one ``PictureFrame`` per
    step; ``controls``: a ``picture.Controls`` through which an operator acknowledges alerts and overrides
    identities between steps (docs/live.md). ``record``: also record the run into ``OUT/airpicture.duckdb``
    (docs/recording.md). ``resume_after`` (``--resume``): continue the recording already in ``OUT`` - the run is
    simulated again from the start (seeded: the same frames) and only frames after this time (-inf: all) reach the
    sinks, the recorder appending them (recording.resume).

    ``keystore``: None - the unit gets a fresh in-memory IFF day key for this run (never written); "none" - the
    captured export unit without keys (nothing authenticates); a path - that key store (docs/identity.md)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from .acceptance import (associate, bird_report, class_completeness, identity_report, late_target_report,
                             nearest_truth_per_row)
    from .adsb_feed import AdsbFeed
    from .identity.stage import IdentityStage
    from .threat.stage import ThreatStage
    from .metrics import gospa_sequence, id_siap, siap_metrics
    from .observability import ADSB_HOLD_S, observable_mask
    from .outputs.parquet import write_tracks_parquet
    from .outputs.picture import render_picture
    from .picture import Controls, PictureContext, SinkSet, build_frame
    from .picture.frame import measurement_columns
    from .scenario.trajectory import build_truth
    from .sensors.simulate import simulate_all
    from .tracking.sensor_tracker import SensorTracker, TrackerConfig

    wall_start = time.perf_counter()
    out_dir = Path(out_dir) if out_dir is not None else None
    if outputs:
        out_dir.mkdir(parents=True, exist_ok=True)

    truth = build_truth(scenario)
    meas = simulate_all(scenario.sensors, truth, scenario.duration_s, scenario.seed)
    config = TrackerConfig.from_dict(scenario.tracker, source=scenario.source)
    tracker = SensorTracker(scenario.sensors, config)  # adsb receivers included: process_reports feeds them

    eval_times = np.arange(EVAL_STEP_S, scenario.duration_s + 1e-9, EVAL_STEP_S)
    # Transponder frames over the whole run, heard by the adsb receivers; fed below step by step.
    adsb = AdsbFeed(scenario.sensors, truth, scenario.duration_s, scenario.seed, eval_times, source=scenario.source)
    identity = IdentityStage(scenario, keystore=keystore)
    threat = ThreatStage(scenario)
    sinks = sinks if sinks is not None else SinkSet()
    if record and outputs:  # a Monte Carlo replication (outputs=False) writes nothing, no recording either
        from .recording import add_recorder

        add_recorder(sinks, out_dir, append=resume_after is not None)
    controls = controls if controls is not None else Controls()
    controls.attach(alerts=threat.alerts, identity=identity.engine)
    context = PictureContext.of_scenario(scenario, config={"keystore": "none" if keystore == "none" else
                                                            ("day key" if keystore is None else "key store")})
    sinks.open(context)
    names = [s.name for s in scenario.sensors]
    kinds = [s.kind for s in scenario.sensors]
    # Feed measurements in time order, one evaluation step at a time.
    bounds = np.searchsorted(meas.time, eval_times, side="right")
    snapshots: list[TrackStates] = []
    track_wall = 0.0
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed:.0f}/{task.total:.0f} s"),
                  TimeElapsedColumn(), disable=not show_progress, transient=True) as progress:
        task = progress.add_task(f"tracking {scenario.name}", total=float(scenario.duration_s))
        start = 0
        for step, (t, stop) in enumerate(zip(eval_times, bounds)):
            t0 = time.perf_counter()
            with controls.lock:  # operator actions land between steps
                plots = meas.take(slice(start, stop))
                if stop > start:
                    tracker.process(plots)
                # The same slice's ADS-B frames: FrameBatch -> TransponderDecoder -> reports -> the same tracks.
                adsb.feed(step, float(t), tracker)
                snapshot = adsb.annotate(tracker.snapshot(float(t)))
                # Identification: IFF replies, spoof checks, the rule table (identity/stage.py).
                snapshot = identity.step(float(t), truth, snapshot, decoder=adsb.decoder, plots=plots)
                # Threat: CPA/TCPA, zones, scores, alerts (evaluation and alerting only; threat/stage.py).
                snapshot = threat.step(float(t), snapshot)
                controls.time = float(t)
                changed = [a.to_json() for a in threat.changed] + controls.take_changes()
            snapshots.append(snapshot)
            track_wall += time.perf_counter() - t0
            if sinks and (resume_after is None or float(t) > resume_after):  # resumed: frames not yet recorded
                sinks.step(build_frame(snapshot, float(t), alerts=changed, sensor_names=names,
                                       measurements=measurement_columns(plots=plots, reports=adsb.last_reports,
                                                                        sensor_names=names, sensor_kinds=kinds,
                                                                        report_sensor=_adsb_name(scenario))))
            start = stop
            progress.update(task, completed=float(t))
    tracks = TrackStates.concatenate(snapshots)

    # --- metrics --------------------------------------------------------------------
    truth_t, truth_id, truth_pos, truth_vel, alive = _truth_samples(truth, eval_times)
    confirmed = tracks.take(tracks.in_picture())
    gospa = gospa_sequence(truth_t, truth_id, truth_pos, confirmed.time, confirmed.track_id,
                           confirmed.position, c=GOSPA_C_M, p=GOSPA_P)
    observable = observable_mask(scenario.sensors, truth, eval_times)
    counted = observable[alive]
    assoc = associate(truth_t, truth_id, truth_pos, confirmed, SIAP_ASSOCIATION_M)
    siap_args = (truth_t, truth_id, truth_pos, truth_vel, confirmed.time, confirmed.track_id,
                 confirmed.position, confirmed.velocity)
    siap = siap_metrics(*siap_args, association=assoc, truth_mask=counted)
    siap_all = siap_metrics(*siap_args, association=assoc)
    # ID-SIAP: the same association; a truth's true identity is its scenario affiliation
    truth_identity = [a.get("affiliation") for a in truth.extra["attributes"]]
    track_identity = (confirmed.extra or {}).get("identity", np.full(len(confirmed), -1, np.int8))
    id_args = (truth_t, truth_id, truth_pos, confirmed.time, confirmed.track_id, confirmed.position,
               truth_identity, track_identity)
    siap.update(id_siap(*id_args, association=assoc, truth_mask=counted))
    siap_all.update(id_siap(*id_args, association=assoc))

    sensor_counts = _sensor_counts(scenario.sensors, meas, scenario.duration_s, adsb)
    nearest = nearest_truth_per_row(truth_t, truth_id, truth_pos, confirmed, SIAP_ASSOCIATION_M)
    wall_s = time.perf_counter() - wall_start
    summary = {
        "scenario": scenario.name,
        "source": scenario.source,
        "seed": scenario.seed,
        "duration_s": scenario.duration_s,
        "n_truth": int(truth.n_targets),
        "n_tracks": int(np.unique(confirmed.track_id).size),
        "n_tracks_all": int(np.unique(tracks.track_id).size),
        "scans": int(sum(s.get("scans", 0) for s in sensor_counts.values())),
        "wall_s": round(wall_s, 3),
        "tracker_wall_s": round(track_wall, 3),
        "measurements": int(len(meas)),
        "sensors": sensor_counts,
        "gospa": {k: float(v) for k, v in gospa.summary().items()},
        "gospa_params": {"c_m": GOSPA_C_M, "p": GOSPA_P, "alpha": 2, "eval_step_s": EVAL_STEP_S},
        "siap": _clean(siap),
        "siap_all_truths": _clean(siap_all),
        "siap_params": {"association_distance_m": SIAP_ASSOCIATION_M,
                        "id_groups": "friend/assumed_friend/joker/faker; neutral; suspect/hostile; "
                                     "pending/unknown = not identified",
                        "id_unknown_truths": "skip (truths whose affiliation is unknown or absent)",
                        "counted": "truth samples observable by some radar (Pd >= 0.5, above the 4/3-earth "
                                   "horizon, in coverage, outside the MTI notch) for >= 3.5 of its scans, or "
                                   "broadcasting ADS-B within an adsb receiver's line of sight and range for "
                                   f">= {ADSB_HOLD_S:g} s"},
        "by_class": class_completeness(truth, eval_times, observable, assoc),
        "birds": bird_report(truth, confirmed, nearest),
        "late_targets": late_target_report(scenario, truth, assoc),
        "adsb": adsb.summary(tracker, confirmed, nearest, truth),
        "alerts": threat.summary(),
        "identity": {**identity.summary(confirmed),
                     "acceptance": identity_report(scenario, truth, confirmed, nearest, meas)},
        "outputs": {},
    }

    if not outputs:
        identity.close()
    else:
        parquet_path = out_dir / "tracks.parquet"
        write_tracks_parquet(parquet_path, tracks, sensor_names=[s.name for s in scenario.sensors])
        picture_path = out_dir / "picture.png"
        render_picture(picture_path, sensors=scenario.sensors, truth=truth, tracks=tracks,
                       defended_points=scenario.defended_points, zones=scenario.zones,
                       title=f"airpicture - {scenario.name}: truth (grey) vs confirmed tracks")
        identity_path = identity.write(out_dir)
        alerts_path = out_dir / "alerts.json"
        alerts_path.write_text(json.dumps(threat.to_json(), indent=1))
        threat_path = out_dir / "threat.json"
        threat_path.write_text(json.dumps(threat.threat_json(), indent=1))
        identity.close()
        summary["outputs"] = {"summary": str(out_dir / "summary.json"), "tracks": str(parquet_path),
                              "picture": str(picture_path), "identity": str(identity_path),
                              "alerts": str(alerts_path), "threat": str(threat_path)}
    if sinks:
        sinks.close(summary)
        summary["sinks"] = sinks.summary()
    summary["wall_s"] = round(time.perf_counter() - wall_start, 3)
    if outputs:
        (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def _adsb_name(scenario) -> str:
    """The sensor name transponder reports are recorded under (the first ADS-B receiver)."""
    return next((s.name for s in scenario.sensors if s.kind == "adsb"), "adsb")


def _clean(d: dict) -> dict:
    """JSON-safe floats (NaN -> None)."""
    result = {}
    for k, v in d.items():
        if isinstance(v, (float, np.floating)):
            result[k] = None if not np.isfinite(v) else float(v)
        elif isinstance(v, (np.integer,)):
            result[k] = int(v)
        else:
            result[k] = v
    return result


def print_summary(summary: dict, out_dir: Path, console) -> None:
    from rich.table import Table

    table = Table(title=f"airpicture run: {summary['scenario']}", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    table.add_row("truths / confirmed tracks", f"{summary['n_truth']} / {summary['n_tracks']}")
    table.add_row("measurements", f"{summary['measurements']:,} over {summary['scans']} radar scans")
    g = summary["gospa"]
    table.add_row("GOSPA (mean)", f"{g['total']:.0f} (loc {g['localisation']:.0f}, missed {g['missed']:.0f}, "
                  f"false {g['false']:.0f})")
    s = summary["siap"]

    def fmt(x, spec=".3f"):
        return "n/a" if x is None else format(x, spec)

    table.add_row("SIAP completeness", fmt(s.get("completeness")))
    table.add_row("SIAP ambiguity / spuriousness", f"{fmt(s.get('ambiguity'))} / {fmt(s.get('spuriousness'))}")
    table.add_row("SIAP position / velocity accuracy",
                  f"{fmt(s.get('position_accuracy_m'), '.0f')} m / {fmt(s.get('velocity_accuracy_mps'), '.1f')} m/s")
    a = summary.get("adsb") or {}
    if a.get("frames_emitted"):
        table.add_row("ADS-B", f"{a['frames_received']:,} of {a['frames_emitted']:,} frames heard, "
                      f"{a['reports']:,} reports from {a['aircraft_reported']} of {a['aircraft']} aircraft; "
                      f"{a['fused_tracks']} fused tracks, {a['transponder_only_tracks']} transponder-only")
    ident = summary.get("identity") or {}
    if ident:
        by = ident.get("tracks_by_final_identity", {})
        table.add_row("identity (ID-SIAP)", f"completeness {fmt(s.get('id_completeness'))}, correctness "
                      f"{fmt(s.get('id_correctness'))}; tracks: " + ", ".join(f"{v} {k}" for k, v in sorted(by.items())))
        iff = ident.get("iff", {})
        keys = ident.get("keys", {})
        table.add_row("IFF", f"{iff.get('authenticated', 0):,} authenticated of {iff.get('authenticated_mode_replies', 0):,} "
                      f"mode-5 replies; unit keys: {keys.get('keys', 0)} ({keys.get('source', '?')})")
        for name, sp in (ident.get("acceptance", {}).get("spoofers") or {}).items():
            lead = sp.get("lead_s")
            table.add_row(f"spoofer {name}", "not flagged" if lead is None else
                          f"flagged {lead:.1f} s after its first radar plot")
    for name, entry in summary.get("late_targets", {}).items():
        table.add_row(f"late target {name}", entry.get("verdict", ""))
    birds = summary.get("birds", {})
    if birds:
        table.add_row("birds", birds.get("verdict", ""))
    al = summary.get("alerts") or {}
    if al.get("raised_by_kind"):
        kinds = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in al["raised_by_kind"].items() if v)
        table.add_row("alerts", f"{al.get('alerts', 0)} raised ({kinds or 'none'}); {al.get('unacknowledged_active', 0)} "
                      f"active unacknowledged; most raises of one track, kind and zone a minute: "
                      f"{al.get('max_raises_per_track_kind_in_window', 0)}")
        for tid, e in (al.get("hostile_or_suspect_lead_times") or {}).items():
            table.add_row(f"lead time T{tid} ({e.get('identity')})", e.get("verdict", ""))
    table.add_row("wall time", f"{summary['wall_s']:.1f} s (tracker {summary['tracker_wall_s']:.1f} s)")
    table.add_row("outputs", str(out_dir))
    console.print(table)


def print_track_summary(summary: dict, output: Path, console) -> None:
    """What `airpicture track` did: counts, rates and where the output went."""
    rate = summary["detections"] / summary["track_s"] if summary.get("track_s") else float("nan")
    lines = [
        f"[bold]airpicture track[/]: {summary['detections']:,} detections in {summary['scans']:,} scans "
        f"({summary['columns']}), {summary['confirmed_tracks']:,} confirmed tracks, "
        f"{summary['track_rows']:,} track rows",
        f"tracking {summary['ms_per_scan']:.2f} ms/scan (max {summary['max_scan_ms']:.2f}), "
        f"{rate:,.0f} detections/s; whole run {summary['wall_s']:.2f} s",
    ]
    if summary.get("skipped_rows"):
        lines.append(f"[yellow]skipped {summary['skipped_rows']:,} rows with empty or non-finite values "
                     f"(first at line {summary.get('first_skipped_line')})[/]")
    lines.append(f"wrote {output}")
    for line in lines:
        console.print(line, highlight=False)
