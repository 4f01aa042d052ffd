"""The simulated ADS-B path of a scenario run: transponder frames -> receiver -> decoder -> the tracker.

The scenario's transponders broadcast genuine DF17 frames (``sensors.adsb.emit_adsb``); its ``adsb``
receivers hear those in reach (``sensors.adsb_receiver``). The received frames then take the path of a
recording: a ``sources.FrameBatch`` per evaluation step, ``fusion.decoder.TransponderDecoder.process`` ->
``AdsbReports``, ``SensorTracker.process_reports`` - the same tracks the radar and EO plots update. The
pipeline calls :meth:`AdsbFeed.feed` after each step's radar/EO slice and before the snapshot::

    feed = AdsbFeed(scenario.sensors, truth, scenario.duration_s, scenario.seed, eval_times, source=...)
    for step, t in enumerate(eval_times):
        tracker.process(radar_slice)
        feed.feed(step, t, tracker)
        snapshots.append(feed.annotate(tracker.snapshot(t)))
    summary["adsb"] = feed.summary(tracker, picture, nearest_truth_id, truth, eval_times)

Everything is deterministic for a scenario seed (see ``sensors.adsb_receiver`` for the random streams).
"""

from __future__ import annotations

import time as _time
from types import SimpleNamespace

import numpy as np

from .tracks import TrackStates
from .truth import Truth

# The frames are stamped epoch + scenario time, as a receiver logs Unix time; reports come back in that base
# and are shifted back to scenario time for the tracker.
SIM_EPOCH_S = 0.0
IDENTITY_COLUMNS = ("callsign", "squawk", "emergency", "category")
# "After the first few seconds": an aircraft's picture is judged from this long after its first report on
# (first even/odd pair, then 3-of-4 confirmation; a radar track that already holds it takes the address).
GRACE_S = 10.0
LOCAL_DECODE_RANGE_M = 180 * 1852.0  # half an airborne CPR zone: the farthest a receiver-reference decode is safe


class AdsbFeed:
    """Frames over the whole run, fed to a decoder and a tracker one evaluation step at a time (module doc)."""

    def __init__(self, sensors, truth: Truth, duration_s: float, seed: int, eval_times, *, source=None):
        from .sensors.simulate import simulate_adsb

        self.sensors = list(sensors)
        self.receivers = [s for s in self.sensors if s.kind == "adsb"]
        self.last_reports = None
        self.eval_times = np.asarray(eval_times, dtype=float)
        self.emitted = self.received = self.decoder = None
        self.report_time: list[np.ndarray] = []
        self.report_icao: list[np.ndarray] = []
        self.identity: dict[str, list[str]] = {}
        self.wall_s = {"simulate": 0.0, "decode": 0.0, "track": 0.0}
        t0 = _time.perf_counter()
        sim = simulate_adsb(self.sensors, truth, duration_s, seed, source=source)
        self.wall_s["simulate"] = _time.perf_counter() - t0
        if sim is None:
            return
        self.emitted, self.received = sim
        self.decoder = _make_decoder(self.receivers)
        self.bounds = np.searchsorted(self.received.time, self.eval_times, side="right")
        self._start = 0

    @property
    def active(self) -> bool:
        return self.decoder is not None

    # ------------------------------------------------------------------ per step
    def feed(self, step: int, t: float, tracker) -> None:
        """Frames received up to eval_times[step] (and after the previous step): decode, hand to the tracker."""
        if not self.active:
            return
        stop = int(self.bounds[step])
        start, self._start = self._start, stop
        self.last_reports = None  # what this step decoded, for the recorder (picture.frame.measurement_columns)
        if stop > start:
            batch = self.received.frame_batch(slice(start, stop), epoch_s=SIM_EPOCH_S)
            t0 = _time.perf_counter()
            reports = self.decoder.process(batch)
            t1 = _time.perf_counter()
            self.wall_s["decode"] += t1 - t0
            n = len(reports.time)
            if n:
                self.last_reports = reports
                self._remember(reports)
                self._to_tracker(reports, start, tracker)
            self.wall_s["track"] += _time.perf_counter() - t1
        tracker.expire(float(t))  # transponder-only tracks whose aircraft went silent coast and go

    def _remember(self, reports) -> None:
        """Report times and addresses for the summary; the latest identity of each aircraft (the reports carry
        it forward within a batch, so each aircraft's last report holds what is known)."""
        icao = np.asarray(reports.icao24, dtype=object)
        self.report_time.append(np.asarray(reports.time, dtype=float) - SIM_EPOCH_S)
        self.report_icao.append(icao)
        columns = [getattr(reports, name, None) for name in IDENTITY_COLUMNS]
        uniq, from_end = np.unique(icao[::-1].astype(str), return_index=True)
        for a, i in zip(uniq.tolist(), (len(icao) - 1 - from_end).tolist()):
            entry = self.identity.setdefault(a, ["", "", "", ""])
            for k, column in enumerate(columns):
                if column is not None and column[i]:
                    entry[k] = str(column[i])

    def _to_tracker(self, reports, start: int, tracker) -> None:
        view = SimpleNamespace(time=np.asarray(reports.time, dtype=float) - SIM_EPOCH_S, icao24=reports.icao24,
                               position_ecef=reports.position_ecef, position_cov=reports.position_cov,
                               has_velocity=reports.has_velocity, velocity_ecef=reports.velocity_ecef,
                               velocity_cov=reports.velocity_cov)
        if len(self.receivers) == 1:
            tracker.process_reports(view, sensor=self.receivers[0].index)
            return
        # A network: each report is credited to the receiver that heard its position frame first.
        receiver = self.received.receiver[start + np.asarray(reports.row, dtype=np.int64)]
        for index in np.unique(receiver):
            mine = receiver == index
            tracker.process_reports(SimpleNamespace(**{k: np.asarray(v)[mine] for k, v in vars(view).items()}),
                                    sensor=int(index))

    def annotate(self, states: TrackStates) -> TrackStates:
        """Add the identity the reports carried (callsign, squawk, emergency, category) as ``extra`` columns
        of the tracks that hold an ICAO address ('' elsewhere and before it was heard)."""
        if not self.active or states.extra is None or "icao24" not in states.extra:
            return states
        icao = states.extra["icao24"]
        for k, name in enumerate(IDENTITY_COLUMNS):
            column = np.full(len(states), "", dtype=object)
            for i, a in enumerate(icao):
                if a:
                    entry = self.identity.get(a)
                    if entry is not None:
                        column[i] = entry[k]
            states.extra[name] = column
        return states

    # ------------------------------------------------------------------ summary
    def summary(self, tracker, picture: TrackStates, nearest_truth_id: np.ndarray, truth: Truth) -> dict:
        """The ``adsb`` section of summary.json (docs/fusion.md, "The simulation")."""
        from .sensors.adsb_receiver import ReceiverConfig

        receivers = {}
        for site in self.receivers:
            cfg = ReceiverConfig.from_site(site)
            receivers[site.name] = {
                "lat_deg": round(float(np.degrees(site.lat_rad)), 6), "lon_deg": round(float(np.degrees(site.lon_rad)), 6),
                "alt_m": site.alt_m, "range_max_km": cfg.range_max_m / 1000.0,
                "message_loss_probability": cfg.message_loss_probability, "implicit": cfg.implicit,
                **(self.received.counts.get(site.name, {}) if self.active else {}),
            }
        if not self.active:  # no transponder broadcasts, or no receiver: the same keys, all empty
            return {"receivers": receivers, "frames_emitted": 0, "frames_received": 0, "decoder": {}, "reports": 0,
                    "tracker": dict(tracker.transponder_counts), "aircraft": 0, "aircraft_received": 0,
                    "aircraft_reported": 0, "tracks_with_icao24": 0, "fused_tracks": 0, "transponder_only_tracks": 0,
                    "radar_tracks_took_icao24": 0, "radar_tracks_identified": 0, "grace_s": GRACE_S,
                    "wall_s": {k: round(v, 3) for k, v in self.wall_s.items()}, "per_aircraft": {}}
        em, rx = self.emitted, self.received
        rep_t = np.concatenate(self.report_time) if self.report_time else np.zeros(0)
        rep_a = np.concatenate(self.report_icao) if self.report_icao else np.zeros(0, dtype=object)
        extra = picture.extra or {}
        n = len(picture)
        icao = extra.get("icao24", np.full(n, "", dtype=object))
        mask = np.asarray(extra.get("source_mask", np.zeros(n, np.int64)), dtype=np.int64)
        only = np.asarray(extra.get("transponder_only", np.zeros(n, bool)), dtype=bool)
        adsb_bits = sum(1 << s.index for s in self.receivers)
        sensor_bits = sum(1 << i for i, s in enumerate(self.sensors) if s.kind != "adsb")
        fused_row = (mask & adsb_bits != 0) & (mask & sensor_bits != 0)
        step = float(np.median(np.diff(self.eval_times))) if len(self.eval_times) > 1 else 1.0

        def ids(rows) -> list[int]:
            return sorted(int(x) for x in np.unique(picture.track_id[rows]))

        fed_by_sensor = set(np.unique(picture.track_id[mask & sensor_bits != 0]).tolist())
        with_icao = ids(icao != "")
        fused = ids(fused_row)
        only_ids = [i for i in with_icao if i not in fed_by_sensor]
        took = []
        for tid in with_icao:
            rows = np.flatnonzero(picture.track_id == tid)
            if (icao[rows] == "").any() and (mask[rows] & sensor_bits != 0).any():
                took.append(tid)

        per_aircraft = {}
        for target in np.unique(em.truth_index):
            a = str(em.icao24[np.flatnonzero(em.truth_index == target)[0]])
            mine_rep = rep_t[rep_a == a]
            first = float(mine_rep.min()) if mine_rep.size else None
            carrying = icao == a
            near = nearest_truth_id == target
            entry = {
                "target": truth.names[target],
                "callsign": self.identity.get(a, [""])[0],
                "frames_emitted": int((em.truth_index == target).sum()),
                "frames_received": int((rx.truth_index == target).sum()),
                "reports": int(mine_rep.size),
                "first_report_s": first,
                "tracks": ids(carrying),
                "with_icao24_s": float(np.unique(picture.time[carrying]).size * step),
                "fused_s": float(np.unique(picture.time[carrying & fused_row]).size * step),
                "transponder_only_s": float(np.unique(picture.time[carrying & only]).size * step),
            }
            # After the grace period: times with more than one track carrying the address, and times with a
            # picture track on the aircraft that does not carry it (a duplicate radar-only track).
            if first is not None:
                late = picture.time >= first + GRACE_S
                _, c_car = np.unique(picture.time[carrying & late], return_counts=True)
                entry["several_tracks_s"] = float((c_car > 1).sum() * step)
                other = near & ~carrying & late
                entry["other_track_s"] = float(np.unique(picture.time[other]).size * step)
                entry["other_tracks"] = ids(other)
            per_aircraft[a] = entry

        return {
            "receivers": receivers,
            "frames_emitted": int(len(em)),
            "frames_received": int(len(rx)),
            "decoder": _decoder_counts(self.decoder),
            "reports": int(rep_t.size),
            "tracker": dict(tracker.transponder_counts),
            "aircraft": int(np.unique(em.truth_index).size),
            "aircraft_received": int(np.unique(rx.truth_index).size),
            "aircraft_reported": int(np.unique(rep_a).size),
            "tracks_with_icao24": len(with_icao),
            "fused_tracks": len(fused),
            "transponder_only_tracks": len(only_ids),
            "radar_tracks_took_icao24": len(took),
            "radar_tracks_identified": int(tracker.transponder_counts.get("radar_tracks_identified", 0)),
            "grace_s": GRACE_S,
            "wall_s": {k: round(v, 3) for k, v in self.wall_s.items()},
            "per_aircraft": per_aircraft,
        }


def _make_decoder(receivers):
    """The decoder a recording goes through. A receiver that hears no farther than half an airborne CPR zone
    (180 NM) is the reference for local decodes of an aircraft's first message; one that hears farther (the
    250 NM default) would make such decodes ambiguous, so the decoder then gets no reference and positions
    start from even/odd pairs (as for a receiver whose position is unknown)."""
    from .fusion.decoder import TransponderDecoder
    from .sensors.adsb_receiver import ReceiverConfig

    reach = max(ReceiverConfig.from_site(s).range_max_m for s in receivers)
    if len(receivers) == 1 and reach <= LOCAL_DECODE_RANGE_M:
        site = receivers[0]
        return TransponderDecoder(reference=(float(np.degrees(site.lat_rad)), float(np.degrees(site.lon_rad))),
                                  receiver_range_m=reach)
    return TransponderDecoder()


def _decoder_counts(decoder) -> dict:
    counts = getattr(decoder, "counts", None)
    if callable(counts):
        counts = counts()
    if not isinstance(counts, dict):
        return {}
    return {str(k): (int(v) if isinstance(v, (int, np.integer)) else v) for k, v in counts.items()}
