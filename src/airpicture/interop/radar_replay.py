"""Track a real radar's CAT048 plots: ``airpicture replay capture.pcap --format asterix [--radar-site ...]``.

Reads the capture (interop.asterix048), resolves each radar's position, feeds the plots to a
:class:`~airpicture.tracking.sensor_tracker.SensorTracker` second by second, hands the sinks one frame per second
of capture time and writes ``summary.json``, ``tracks.parquet`` (the update log) and ``picture.png``.

Mode S address, callsign and Mode 3/A of a track: those of the plot that made its latest update (matched by
time and azimuth from the radar's update log).
"""

from __future__ import annotations

import json
import math
import time as _time
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..tracks import CONFIRMED, TENTATIVE
from . import asterix048 as a48


def _jsonable(v):
    from ..replay import _jsonable as j

    return j(v)


class _Labels:
    """Per track id: the latest non-empty address / callsign / squawk of the plots that updated it."""

    def __init__(self, sensors, batch, ident):
        self.sensors, self.batch, self.ident = sensors, batch, ident
        self.by_track: dict[int, dict] = {}

    def update(self, log) -> None:
        if not len(log):
            return
        b = self.batch
        pos = np.asarray(log.position, float)
        for k in range(len(log)):
            t = float(log.time[k])
            lo, hi = np.searchsorted(b.time, [t - 1e-6, t + 1e-6])
            if hi <= lo:
                continue
            rows = np.arange(lo, hi)
            if rows.size > 1:  # several plots at that instant: the one nearest in azimuth from its radar
                az = []
                for r in rows:
                    site = self.sensors[int(b.sensor[r])]
                    e, n, _ = np.asarray(site.to_enu(pos[k][None, :]))[0]
                    az.append(abs((math.atan2(e, n) - b.values[r, 1] + math.pi) % (2 * math.pi) - math.pi))
                rows = rows[[int(np.argmin(az))]]
            r = int(rows[0])
            lab = self.by_track.setdefault(int(log.track_id[k]), {"icao24": "", "callsign": "", "squawk": ""})
            for name in lab:
                if self.ident[name][r]:
                    lab[name] = str(self.ident[name][r])

    def columns(self, track_ids) -> dict:
        out = {name: np.asarray([self.by_track.get(int(t), {}).get(name, "") for t in track_ids], object)
               for name in ("icao24", "callsign", "squawk")}
        return out


def replay_asterix(path, out_dir, *, radar_sites=(), config=None, sinks=None, day: float | None = None,
                   site_params: dict | None = None, step_s: float = 1.0, write: bool = True) -> dict:
    """Track the CAT048 plots of ``path``; see the module docstring. Returns the summary (also summary.json)."""
    from ..outputs.parquet import mask_names
    from ..picture import PictureContext, build_frame
    from ..tracking.sensor_tracker import SensorTracker, TrackerConfig
    from ..tracks import TrackStates

    started = _time.perf_counter()
    path, out_dir = Path(path), Path(out_dir)
    keyed, default = a48.parse_radar_sites(radar_sites)
    dec = a48.decode_file(path)
    if dec.counts["plots"] == 0:
        raise InputError("no CAT048 target reports with a position in the input ("
                         + ", ".join(f"{k} {v}" for k, v in sorted(dec.counts.items())) + ")", source=str(path))
    sites, missing = a48.resolve_sites(dec.plots.sac_sic, keyed, default, dec.sites_034)
    if not sites:
        raise InputError("no radar position: CAT048 does not carry one and the capture has no CAT034 I034/120 for "
                         + ", ".join(f"{a}/{b}" for a, b in missing)
                         + "; give --radar-site LAT,LON,ALT (or SAC/SIC=LAT,LON,ALT)", field="--radar-site")
    sensors, batch, ident = a48.measurements(dec.plots, sites, day=day, site_params=site_params)
    no_site = int(sum(1 for k in dec.plots.sac_sic if tuple(k) not in sites))
    cfg = config if config is not None else TrackerConfig()
    tracker = SensorTracker(sensors, cfg, record_updates=True)
    names = [s.name for s in sensors]
    labels = _Labels(sensors, batch, ident)
    context = PictureContext.of_sensors(f"replay {path.name}", sensors, mode="replay",
                                        config={"input": str(path), "format": "asterix",
                                                "radar_sites": {f"{k[0]}/{k[1]}": {"lat": v[0][0], "lon": v[0][1],
                                                                                  "alt_m": v[0][2], "from": v[1]}
                                                                for k, v in sites.items()}})
    if sinks:
        sinks.open(context)
    logs = []

    def states(t):
        snap = tracker.snapshot(t)
        if len(snap):
            extra = dict(snap.extra or {})
            extra.update(labels.columns(snap.track_id))
            extra["sources"] = mask_names(extra.get("source_mask", np.zeros(len(snap), np.int64)), names)
            snap.extra = extra
        return snap

    t0 = float(batch.time[0]) if len(batch) else math.nan
    if len(batch):
        edges = np.arange(math.floor(t0 / step_s) * step_s + step_s, float(batch.time[-1]) + step_s, step_s)
        start = 0
        for edge in edges:
            stop = int(np.searchsorted(batch.time, edge, side="left"))
            if stop > start:
                tracker.process(batch.take(slice(start, stop)))
                log = tracker.update_log(clear=True)
                labels.update(log)
                logs.append(log)
            start = stop
            if sinks:
                sinks.step(build_frame(states(edge), edge, epoch_unix=0.0, sensor_names=names))
    log = TrackStates.concatenate(logs) if logs else TrackStates.empty()
    status = np.asarray(log.status) if len(log) else np.zeros(0, np.int8)
    ids = np.asarray(log.track_id) if len(log) else np.zeros(0, np.int64)
    t_last = float(batch.time[-1]) if len(batch) else math.nan
    live = tracker.snapshot(t_last) if len(batch) else TrackStates.empty()
    counts = dict(sorted(dec.counts.items()))
    summary = {
        "input": str(path), "format": "asterix",
        "reader": counts,
        "plots": int(dec.counts["plots"]),
        "plots_tracked": len(batch),
        "plots_no_site": no_site,
        "radars": {f"{k[0]}/{k[1]}": int(sum(1 for x in dec.plots.sac_sic if tuple(x) == k))
                   for k in sorted(set(map(tuple, dec.plots.sac_sic)))},
        "radars_without_position": [f"{a}/{b}" for a, b in missing],
        "radar_sites": context.config["radar_sites"],
        "tracks_started": int(np.unique(ids).size),
        "tracks_confirmed": int(np.unique(ids[status == CONFIRMED]).size),
        "tracks_now": {"tentative": int(np.count_nonzero(live.status == TENTATIVE)) if len(live) else 0,
                       "in_picture": int(np.count_nonzero(live.in_picture())) if len(live) else 0},
        "time_first": t0 if math.isfinite(t0) else None,
        "time_last": t_last if math.isfinite(t_last) else None,
        "duration_s": (t_last - t0) if len(batch) else None,
        "wall_s": _time.perf_counter() - started,
    }
    if write:
        from ..outputs.parquet import write_tracks_parquet
        from ..outputs.picture import render_picture

        out_dir.mkdir(parents=True, exist_ok=True)
        if len(log):
            log.extra = {**(log.extra or {}), **labels.columns(log.track_id)}
        write_tracks_parquet(out_dir / "tracks.parquet", log, sensor_names=names)
        shown = live.take(slice(None)) if len(live) else live
        render_picture(out_dir / "picture.png", sensors=sensors, tracks=shown if len(shown) else None,
                       title=f"airpicture replay - {path.name} (CAT048)")
        summary["outputs"] = {n: str(out_dir / f) for n, f in (("summary", "summary.json"),
                                                               ("tracks", "tracks.parquet"),
                                                               ("picture", "picture.png"))}
    if sinks:
        sinks.close(summary)
        summary["sinks"] = sinks.summary()
    if write:
        (out_dir / "summary.json").write_text(json.dumps(_jsonable(summary), indent=2) + "\n")
    return summary


def print_asterix_report(summary: dict, console) -> None:
    s = summary
    r = s["reader"]
    lines = [f"[bold]airpicture replay[/]: {s['input']} (asterix)",
             f"  {r.get('datagrams', 0):,} datagrams, {r.get('cat048_records', 0):,} CAT048 records -> {s['plots']:,} "
             f"plots ({r.get('duplicates', 0):,} duplicates, {r.get('no_position', 0):,} without position, "
             + ", ".join(f"{k} {v:,}" for k, v in r.items() if k.startswith("malformed")) + ")",
             "  radars: " + ", ".join(f"{k} ({n} plots)" for k, n in s["radars"].items())
             + (f"; without a position (skipped): {', '.join(s['radars_without_position'])}"
                if s["radars_without_position"] else ""),
             f"  {s['plots_tracked']:,} plots tracked -> {s['tracks_started']} tracks started, "
             f"{s['tracks_confirmed']} confirmed ({s['duration_s'] or 0:.1f} s of capture)"]
    if s.get("outputs"):
        lines.append(f"  outputs: {Path(s['outputs']['summary']).parent}/ (summary.json, tracks.parquet, picture.png)")
    console.print("\n".join(lines), highlight=False, soft_wrap=True)
