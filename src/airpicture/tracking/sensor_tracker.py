"""The multi-sensor tracker: asynchronous radar and EO measurements -> tracks in ECEF.

One :class:`SensorTracker` holds every track in a slot-indexed
:class:`~airpicture.tracking.management.TrackTable` (IMM mode states, covariances and
probabilities are per-slot arrays) and consumes time-ordered
:class:`~airpicture.measurements.MeasurementBatch` es::

    tracker = SensorTracker(sensors, TrackerConfig.from_dict(scenario.tracker))
    tracker.process(batch)            # any number of times, time order
    picture = tracker.snapshot(t)     # TrackStates predicted to t; tracks unchanged

A batch is cut into *frames*: consecutive measurements of one sensor within a short
window (a sector of a rotating radar, one EO update). Per frame:

1. Gate: tracks are predicted (mean only) to the frame mid-time and paired with
   measurements by a kd-tree, in a space where the measurement is exact: ECEF for 3D
   radar plots; the slant-range plane (r sin az, r cos az) for 2D plots, which needs no
   assumption about the unknown elevation; unit lines of sight for EO bearings. Radii
   are per track and bound the Mahalanobis gate from outside.
2. Each candidate pair is predicted (IMM mixing + mode-matched prediction) to the
   measurement's *own* time and tested with the chi-square gate in measurement space.
3. Global nearest neighbour (or JPDA) over the gated pairs, cluster by cluster.
4. Updates of the assigned tracks at their measurement times; the other tracks keep
   their state (prediction is lossless, so nothing is stored for a miss).
5. Misses are charged only by a sensor that should have seen the track: inside its
   range/elevation coverage and radar horizon, outside its MTI notch, and - for a
   rotating radar - at an azimuth the beam swept since that sensor's previous frame.
6. Unassigned radar plots start tentative tracks (EO bearings never do); M-of-N
   confirmation, coasting and deletion follow in the table. Bearings update the state
   but are neither hits nor misses there; a firm track kept up by bearings alone coasts
   and is then dropped (range is unobservable from one EO site).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

from .. import geo
from ..errors import InputError
from ..measurements import AZIMUTH, ELEVATION, RANGE, RANGE_RATE, MeasurementBatch, SensorSite
from ..tracks import COASTING, CONFIRMED, TENTATIVE, TrackStates
from . import association, filters, imm
from .filters import POS, STATE_DIM, TURN, VEL, ProcessNoise
from .management import TrackTable, parse_confirm
from .transponder import TransponderMixin, addresses_to_hex

ASSOCIATORS = ("gnn", "jpda")
MOTIONS = ("imm", "cv")


@dataclass
class TrackerConfig:
    """Tracker parameters (SI units). A scenario's ``[tracker]`` table sets any of them.

    See docs/tracking.md for the meaning and the reasoning behind each default.
    """

    confirm: str = "3/4"  # M-of-N confirmation: M hits in the first N scans (frames that could see the track)
    delete_after_misses: int = 4  # consecutive misses that delete a confirmed / coasting track
    max_position_sigma_m: float = 8000.0  # delete a track whose horizontal 1-sigma (per axis) grows beyond this
    gate_probability: float = 0.9995  # chi-square gate in measurement space
    association: str = "gnn"  # "gnn" or "jpda"
    motion: str = "imm"  # "imm" (constant velocity + coordinated turn) or "cv"
    accel_psd_horizontal: float = 1.0  # white acceleration PSD, horizontal, m^2/s^3
    accel_psd_vertical: float = 0.3  # white acceleration PSD, vertical, m^2/s^3
    turn_rate_psd: float = 2e-3  # turn-rate random walk PSD of the CT mode, rad^2/s^3
    manoeuvre_turn_rate_sigma_rps: float = 0.05  # IMM: turn rate a turn may start with (CV holds 0 +- this)
    turn_accel_psd_horizontal: float = 20.0  # IMM: white acceleration PSD of the CT (manoeuvre) mode, horizontal, m^2/s^3
    turn_accel_psd_vertical: float = 5.0  # ... vertical
    manoeuvre_accel_mps2: float = 30.0  # re-acquisition of a firm track that missed its gate: horizontal g (2 sigma); 0 = off
    imm_transition: list = field(default_factory=lambda: [[0.98, 0.02], [0.08, 0.92]])  # per interval below
    imm_transition_interval_s: float = 1.0
    init_speed_sigma_mps: float = 350.0  # horizontal velocity prior of a new track (700 m/s = 2 sigma)
    init_vertical_speed_sigma_mps: float = 100.0
    init_turn_rate_sigma_rps: float = 0.05
    max_speed_mps: float = 1000.0  # gates never reach further; faster tentative tracks are dropped
    assumed_altitude_m: float = 3000.0  # where a 2D-radar plot starts a track
    assumed_altitude_sigma_m: float = 3000.0
    vertical_speed_hold_sigma_mps: float = 10.0  # pseudo-measurement with plots lacking elevation; 0 = off
    vertical_speed_hold_above_m: float = 1000.0  # ... and with plots whose elevation error (range x sigma) exceeds this; 0 = off
    frame_window_s: float = 1.0  # longest frame; capped at 1/4 radar scan and 1/2 EO update period
    pd: float = 0.9  # detection probability used by JPDA
    clutter_density: float | None = None  # JPDA clutter per unit measurement volume; None = from sensor params
    eo_charges_misses: bool = False  # EO takes part in track management: its hits and misses both count
    passive_coast_after_s: float = 5.0  # no radar update for this long: shown COASTING however many bearings arrive
    passive_only_max_s: float = 20.0  # no radar update for this long: deleted (bearings alone leave range unobservable)
    bird_max_speed_mps: float = 25.0
    bird_max_altitude_m: float = 1500.0
    bird_turn_deg: float = 20.0  # a heading this far off the current leg's mean heading starts a new leg (a turn)
    bird_wheel_window_s: float = 30.0  # turns both left and right within this = wheeling about: "bird"
    bird_release_s: float = 12.0  # a slow low track counts as a bird until it holds one leg this long ...
    bird_wheeled_release_s: float = 45.0  # ... or this long once it has been seen wheeling
    bird_heading_sigmas: float = 4.0  # a heading sample counts once the speed is this many velocity sigmas
    bird_min_updates: int = 2
    bird_fast_sigmas: float = 3.0  # "fast" only when speed - this many sigmas >= bird_max_speed_mps
    # transponder (ADS-B) reports, see tracking/transponder.py
    adsb_coast_after_s: float = 15.0  # no report for this long and no radar/EO holding the track: COASTING
    adsb_drop_after_s: float = 60.0  # ... and deleted after this long (readsb/tar1090 keep a position 60 s)
    adsb_reinit_d2: float = 400.0  # a report this far (Mahalanobis^2, position) from its aircraft's track restarts it
    adsb_max_lag_s: float = 2.0  # a report older than its track's state by more than this is not used
    adsb_number_memory_s: float = 900.0  # an aircraft re-appearing within this gets its old track number back
    adsb_update_interval_s: float = 2.0  # an aircraft's reports within this are merged into one update; 0 = each

    def __post_init__(self) -> None:
        self.validate()

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_dict(cls, d: dict | None, *, source: str | None = None) -> "TrackerConfig":
        """Build from a scenario's ``[tracker]`` table; unknown keys or bad values -> InputError."""
        d = dict(d or {})
        known = {f.name: f for f in fields(cls)}
        # Accept the CLI-style aliases too.
        if "delete_after" in d and "delete_after_misses" not in d:
            d["delete_after_misses"] = d.pop("delete_after")
        values = {}
        for key, value in d.items():
            if key not in known:
                raise InputError(f"unknown tracker parameter (known: {', '.join(sorted(known))})",
                                 source=source, field=f"tracker.{key}")
            values[key] = value
        try:
            for key, value in values.items():
                values[key] = _coerce(key, known[key], value)
            return cls(**values)
        except InputError as exc:
            raise InputError(exc.message, source=source, field=exc.field) from None

    def validate(self) -> None:
        def bad(name, why):
            raise InputError(why, field=f"tracker.{name}")

        try:
            parse_confirm(self.confirm)
        except ValueError as exc:
            bad("confirm", str(exc))
        if int(self.delete_after_misses) < 1:
            bad("delete_after_misses", "must be >= 1")
        if not 0.5 < self.gate_probability < 1.0:
            bad("gate_probability", "must be in (0.5, 1)")
        if self.association not in ASSOCIATORS:
            bad("association", f"must be one of {ASSOCIATORS}")
        if self.motion not in MOTIONS:
            bad("motion", f"must be one of {MOTIONS}")
        if not 0 < self.bird_turn_deg < 180:
            bad("bird_turn_deg", "must be in (0, 180)")
        for name in ("max_position_sigma_m", "init_speed_sigma_mps", "max_speed_mps", "init_vertical_speed_sigma_mps",
                     "assumed_altitude_sigma_m", "frame_window_s", "imm_transition_interval_s",
                     "bird_wheel_window_s", "bird_release_s", "bird_wheeled_release_s",
                     "passive_coast_after_s", "passive_only_max_s",
                     "adsb_coast_after_s", "adsb_reinit_d2"):
            if not getattr(self, name) > 0:
                bad(name, "must be positive")
        for name in ("accel_psd_horizontal", "accel_psd_vertical", "turn_rate_psd", "init_turn_rate_sigma_rps",
                     "manoeuvre_turn_rate_sigma_rps", "manoeuvre_accel_mps2", "turn_accel_psd_horizontal",
                     "turn_accel_psd_vertical",
                     "vertical_speed_hold_sigma_mps", "vertical_speed_hold_above_m", "bird_fast_sigmas",
                     "bird_heading_sigmas",
                     "adsb_max_lag_s", "adsb_number_memory_s", "adsb_update_interval_s"):
            if not getattr(self, name) >= 0:
                bad(name, "must be >= 0")
        if not self.adsb_drop_after_s >= self.adsb_coast_after_s:
            bad("adsb_drop_after_s", "must be >= adsb_coast_after_s")
        if not 0 < self.pd <= 1:
            bad("pd", "must be in (0, 1]")
        if self.clutter_density is not None and not self.clutter_density > 0:
            bad("clutter_density", "must be positive")
        try:
            self.mode_set()
        except ValueError as exc:
            bad("imm_transition", str(exc))

    def mode_set(self) -> imm.ModeSet:
        cv_noise = ProcessNoise(self.accel_psd_horizontal, self.accel_psd_vertical, 0.0)
        if self.motion == "cv":
            return imm.ModeSet.single(filters.CV, cv_noise)
        # CV holds the turn rate at 0 +- the manoeuvre spread: the CT mode is mixed mostly
        # from CV in straight flight and must be able to explain a turn as it starts.
        cv_noise = ProcessNoise(self.accel_psd_horizontal, self.accel_psd_vertical, 0.0,
                                self.manoeuvre_turn_rate_sigma_rps**2)
        ct_noise = ProcessNoise(self.turn_accel_psd_horizontal, self.turn_accel_psd_vertical, self.turn_rate_psd)
        return imm.ModeSet((filters.CV, filters.CT), (cv_noise, ct_noise), np.asarray(self.imm_transition, float),
                           self.imm_transition_interval_s)


def _coerce(key, f, value):
    default = f.default if f.default is not f.default_factory else None  # noqa: PLR0124
    try:
        if key == "confirm":
            if isinstance(value, (list, tuple)) and len(value) == 2:
                value = f"{int(value[0])}/{int(value[1])}"
            return str(value)
        if key in ("association", "motion"):
            return str(value).lower()
        if key == "imm_transition":
            arr = np.asarray(value, dtype=float)
            if arr.ndim != 2:
                raise ValueError("must be a square matrix (list of rows)")
            return arr.tolist()
        if key == "clutter_density":
            return None if value is None else float(value)
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise ValueError("must be true or false")
            return value
        if isinstance(default, int):
            if isinstance(value, bool) or float(value) != int(value):
                raise ValueError("must be an integer")
            return int(value)
        if isinstance(value, bool):
            raise ValueError("must be a number")
        return float(value)
    except (TypeError, ValueError) as exc:
        raise InputError(f"bad value {value!r}: {exc}", field=f"tracker.{key}") from None


# --------------------------------------------------------------------------- sensors

@dataclass
class _SensorInfo:
    """What the tracker needs from a sensor site, in SI units, with the sensors' defaults."""

    site: SensorSite
    kind: str
    range_min_m: float
    range_max_m: float
    elevation_min_rad: float
    elevation_max_rad: float
    scan_period_s: float | None  # rotating radar only
    start_azimuth_rad: float
    azimuth_min_rad: float
    azimuth_span_rad: float
    frame_window_s: float
    false_alarms_per_look: float
    measures_elevation: bool
    update_period_s: float
    mti_min_radial_speed_mps: float = 0.0  # radar: slower radial speeds are filtered out by design

    @classmethod
    def from_site(cls, site: SensorSite, config: TrackerConfig) -> "_SensorInfo":
        if site.kind == "radar":
            from ..sensors.radar import RadarConfig

            rc = RadarConfig.from_site(site)
            return cls(site, "radar", rc.range_min_m, rc.range_max_m, rc.elevation_min_rad, rc.elevation_max_rad,
                       rc.scan_period_s, rc.start_azimuth_rad, 0.0, geo.TWO_PI,
                       min(config.frame_window_s, 0.25 * rc.scan_period_s), rc.mean_false_alarms_per_scan,
                       rc.dimension == 3, rc.scan_period_s, rc.mti_min_radial_speed_mps)
        if site.kind == "eo":
            from ..sensors.eo import EOConfig

            ec = EOConfig.from_site(site)
            return cls(site, "eo", 0.0, ec.range_max_m, ec.elevation_min_rad, ec.elevation_max_rad, None, 0.0,
                       ec.azimuth_min_rad, ec.azimuth_span_rad, min(config.frame_window_s, 0.5 * ec.update_period_s),
                       max(ec.false_alarms_per_update, 1e-3), True, ec.update_period_s)
        if site.kind == "adsb":
            # A transponder receiver: reports carry their own positions, no coverage or scan to model.
            period = float(site.params.get("update_period_s", 0.5))
            return cls(site, "adsb", 0.0, np.inf, -np.pi / 2, np.pi / 2, None, 0.0, 0.0, geo.TWO_PI,
                       config.frame_window_s, 1e-3, True, period)
        raise InputError(f"unknown sensor type {site.kind!r} (radar, eo or adsb)", source=site.name, field="type")

    def clutter_density(self, dims: np.ndarray) -> float:
        """False alarms per unit measurement volume (m x rad x rad [x m/s]) for one look."""
        volume = self.azimuth_span_rad * (self.elevation_max_rad - self.elevation_min_rad)
        if self.kind == "radar":
            volume = self.range_max_m * geo.TWO_PI
            if self.measures_elevation:
                volume *= self.elevation_max_rad - self.elevation_min_rad
            if dims.size and dims.max() > (3 if self.measures_elevation else 2):
                volume *= 2000.0  # range-rate span, m/s
        return max(self.false_alarms_per_look, 1e-3) / volume


# --------------------------------------------------------------------------- tracker

class SensorTracker(TransponderMixin):
    """Vectorised multi-sensor, multi-target tracker (see the module docstring).

    Parameters
    ----------
    sensors : list of SensorSite
        ``MeasurementBatch.sensor`` indexes this list.
    config : TrackerConfig, optional
    record_updates : bool
        Keep every track update (the filtered state at its measurement time): :meth:`update_log`.
    """

    def __init__(self, sensors: list[SensorSite], config: TrackerConfig | None = None, *, record_updates=False):
        self.config = config or TrackerConfig()
        self.sensors = list(sensors)
        self._info = [_SensorInfo.from_site(s, self.config) for s in self.sensors]
        self.modes = self.config.mode_set()
        m = self.modes.n_modes
        self.table = TrackTable(confirm=self.config.confirm, delete_after=int(self.config.delete_after_misses))
        t = self.table
        t.add_field("mode_x", (m, STATE_DIM))
        t.add_field("mode_P", (m, STATE_DIM, STATE_DIM))
        t.add_field("mu", (m,))
        t.add_field("x", (STATE_DIM,))
        t.add_field("P", (STATE_DIM, STATE_DIM))
        t.add_field("t", (), np.float64, np.nan)
        t.add_field("last_snr_db", (), np.float64, np.nan)
        t.add_field("last_sensor", (), np.int32, -1)
        t.add_field("n_updates", (), np.int32, 0)
        # bird hint (_record_heading): the current leg (sum of its unit headings, start time), the last turn
        # each way, and the latch (a slow low track is taken for a bird until it has held a course)
        t.add_field("leg_sum", (3,), np.float64, 0.0)
        t.add_field("leg_start", (), np.float64, np.nan)
        t.add_field("turn_left_t", (), np.float64, -np.inf)
        t.add_field("turn_right_t", (), np.float64, -np.inf)
        t.add_field("turn_pending", (), np.int8, 0)  # +1 / -1: the last sample was off the leg to the left / right
        t.add_field("wheeled", (), bool, False)
        t.add_field("erratic", (), bool, True)
        t.add_field("last_hit_by_sensor", (max(len(self.sensors), 1),), np.float64, -np.inf)
        # chi-square quantiles (scipy.special: importing scipy.stats costs seconds)
        self._gate_d2 = {d: filters.chi2_quantile(self.config.gate_probability, d) for d in range(1, 5)}
        self._sweep_end = np.full(len(self.sensors), np.nan)  # time of each sensor's previous frame end
        self._sweep_end_az = np.full(len(self.sensors), np.nan)  # azimuth of its last plot
        self._ranging = np.zeros(max(len(self.sensors), 1), bool)  # sensors that measure range
        self._ranging[:len(self._info)] = [info.kind in ("radar", "adsb") for info in self._info]
        self._periods = np.zeros(self._ranging.size)
        self._periods[:len(self._info)] = [info.update_period_s for info in self._info]
        self.frames_processed = 0
        self.rejected_plots: dict[str, int] = {}  # plots process() left out, by reason (check_plots)
        self._init_transponder()
        self._log: list | None = [] if record_updates else None
        self._log_fresh: list = []  # (log entry, slots) logged since the last record_scan

    # ------------------------------------------------------------------ public API
    def process(self, batch: MeasurementBatch) -> None:
        """Consume measurements (any sensors, time order; an unsorted batch is sorted first)."""
        n = len(batch)
        if n == 0:
            return
        if np.any(np.diff(batch.time) < 0):
            batch = batch.sorted_by_time()
        sensor = np.asarray(batch.sensor, np.int64)
        if sensor.min() < 0 or sensor.max() >= len(self.sensors):
            raise InputError(f"measurement sensor index out of range 0..{len(self.sensors) - 1}", field="sensor")
        if not np.all(np.isfinite(batch.time)):
            raise InputError("measurement time is not finite", field="time")
        if self._adsb[np.unique(sensor)].any():
            raise InputError("transponder reports go to process_reports, not process", field="sensor")
        bad = self.check_plots(batch)
        if bad.any():
            batch = batch.take(~bad)
            sensor = sensor[~bad]
            if len(batch) == 0:
                return
        for start, stop in self._frames(batch.time, sensor):
            self._process_frame(int(sensor[start]), batch.take(slice(start, stop)))

    def check_plots(self, batch: MeasurementBatch) -> np.ndarray:
        """Rows that cannot be used, counted by reason in ``rejected_plots`` (never used, never silently):
        ``non_finite`` (an infinite value or sigma), ``no_position`` (a radar plot without a measured range and
        azimuth, an EO plot without a measured azimuth), ``bad_range`` (range <= 0), ``bad_elevation`` (outside
        +-90 deg). NaN stays what it means in a batch: not measured."""
        values = np.asarray(batch.values, np.float64)
        sigmas = np.asarray(batch.sigmas, np.float64)
        sensor = np.asarray(batch.sensor, np.int64)
        with np.errstate(invalid="ignore"):
            measured = filters.measured_columns(values, sigmas)
            reasons = {"non_finite": np.isinf(values).any(axis=1) | np.isinf(sigmas).any(axis=1)}
            radar = np.array([info.kind == "radar" for info in self._info], bool)[sensor]
            need = np.where(radar, measured[:, 0] & measured[:, 1], measured[:, 1])
            reasons["no_position"] = ~need
            reasons["bad_range"] = measured[:, 0] & ~(values[:, 0] > 0)
            reasons["bad_elevation"] = measured[:, 2] & ~(np.abs(values[:, 2]) <= np.pi / 2)
        bad = np.zeros(len(batch), bool)
        for reason, mask in reasons.items():
            mask = mask & ~bad   # one reason per plot, the first that applies
            if mask.any():
                self.rejected_plots[reason] = self.rejected_plots.get(reason, 0) + int(mask.sum())
            bad |= mask
        return bad

    def snapshot(self, t: float) -> TrackStates:
        """All live tracks predicted to time ``t`` (state, covariance, status, class hint); tracks unchanged."""
        tab = self.table
        slots = tab.active_slots()
        if slots.size == 0:
            return TrackStates.empty()
        dt = float(t) - tab.t[slots]
        mx, mp, c = imm.imm_predict(tab.mode_x[slots], tab.mode_P[slots], tab.mu[slots], dt, self.modes)
        x, p = imm.combine(mx, mp, c)
        return TrackStates(
            time=np.full(slots.size, float(t)),
            track_id=tab.track_id[slots].copy(),
            position=x[:, POS].copy(),
            velocity=x[:, VEL].copy(),
            status=tab.status[slots].copy(),
            position_cov=p[:, POS, POS].copy(),
            track_class=self._track_class(slots, x),
            extra=self._track_sources(slots, float(t)),
        )

    def _track_sources(self, slots, t) -> dict:
        """Address and sources of each track: which sensors fed it lately (bit i = sensor i within 2.5 of its
        update periods, at least 10 s), and whether that is transponders alone."""
        tab = self.table
        hits = tab.last_hit_by_sensor[slots][:, :len(self._info)]
        recent = (t - hits) <= np.maximum(2.5 * self._periods[:hits.shape[1]], 10.0)
        mask = (recent.astype(np.int64) << np.arange(hits.shape[1], dtype=np.int64)).sum(axis=1)
        adsb = self._adsb[:hits.shape[1]]
        only = recent.any(axis=1) & ~np.any(recent & ~adsb, axis=1) & np.any(recent & adsb, axis=1)
        return {"icao24": addresses_to_hex(tab.address[slots]), "source_mask": mask, "transponder_only": only,
                "restarts": tab.restarts[slots].copy(), "last_jump_m": tab.last_jump_m[slots].copy(),
                "last_jump_time": tab.last_jump_time[slots].copy()}

    def update_log(self, clear: bool = False) -> TrackStates:
        """Every state update since construction (or the last ``clear``), in processing order: the filtered
        state at the measurement time, with the track's status then and ``extra["icao24"]``. Needs
        ``record_updates=True``; a track's restart from a transponder report is logged like an update."""
        if self._log is None:
            raise RuntimeError("construct the tracker with record_updates=True to log updates")
        if not self._log:
            return TrackStates.empty()
        t, tid, addr, x, pc, st = (np.concatenate(c) for c in zip(*self._log))
        if clear:
            self._log = []
        return TrackStates(time=t, track_id=tid, position=x[:, :3], velocity=x[:, 3:6], status=st, position_cov=pc,
                           track_class=None, extra={"icao24": addresses_to_hex(addr)})

    def track_details(self) -> dict:
        """Per live track: slot-aligned arrays of id, status, last SNR / sensor, update count, state time."""
        tab = self.table
        slots = tab.active_slots()
        return {
            "track_id": tab.track_id[slots].copy(),
            "status": tab.status[slots].copy(),
            "last_snr_db": tab.last_snr_db[slots].copy(),
            "last_sensor": tab.last_sensor[slots].copy(),
            "n_updates": tab.n_updates[slots].copy(),
            "time": tab.t[slots].copy(),
            "mode_probabilities": tab.mu[slots].copy(),
        }

    def __len__(self) -> int:
        return len(self.table)

    # ------------------------------------------------------------------ frames
    def _frames(self, time: np.ndarray, sensor: np.ndarray):
        """(start, stop) row ranges: runs of one sensor, cut into windows of the sensor's frame length."""
        n = time.size
        new_run = np.r_[True, sensor[1:] != sensor[:-1]]
        run_id = np.cumsum(new_run) - 1
        run_t0 = time[new_run][run_id]
        window = np.array([info.frame_window_s for info in self._info])[sensor]
        sub = np.floor((time - run_t0) / window).astype(np.int64)
        cut = np.r_[True, (run_id[1:] != run_id[:-1]) | (sub[1:] != sub[:-1])]
        starts = np.flatnonzero(cut)
        stops = np.r_[starts[1:], n]
        return zip(starts.tolist(), stops.tolist())

    def _process_frame(self, s: int, batch: MeasurementBatch) -> None:
        info = self._info[s]
        cfg = self.config
        tab = self.table
        t_lo, t_hi = float(batch.time[0]), float(batch.time[-1])
        t_mid = 0.5 * (t_lo + t_hi)
        slots = tab.active_slots()
        n_meas = len(batch)
        values, sigmas = batch.values, batch.sigmas
        measured = filters.measured_columns(values, sigmas)

        hit_slots = np.zeros(0, np.int64)
        meas_used = np.zeros(n_meas, bool)
        if slots.size:
            ti, mj, pred = self._gate(info, batch, measured, slots, t_mid, 0.5 * (t_hi - t_lo))
            if ti.size:
                if cfg.association == "jpda":
                    hit_local, meas_used, hit_meas = self._update_jpda(info, batch, slots, ti, mj, pred)
                else:
                    hit_local, meas_used, hit_meas = self._update_gnn(info, batch, slots, ti, mj, pred)
                hit_slots = slots[hit_local]
                self._record_hit_attributes(hit_slots, s, batch, hit_meas)
        missed = self._charge_misses(info, s, slots, hit_slots, batch, t_lo, t_hi, t_mid)
        if info.kind == "radar" and cfg.manoeuvre_accel_mps2 > 0 and not meas_used.all():
            got, got_meas = self._reacquire_manoeuvring(info, s, batch, slots, hit_slots, meas_used, measured, t_lo,
                                                        t_mid)
            if got.size:
                self._record_hit_attributes(got, s, batch, got_meas)
                meas_used[got_meas] = True
                hit_slots = np.concatenate([hit_slots, got])
                missed = np.setdiff1d(missed, got)
        self._sweep_end[s] = t_hi
        if measured[-1, AZIMUTH]:
            self._sweep_end_az[s] = values[-1, AZIMUTH]

        # Tracks whose uncertainty has exploded are deleted whatever their miss count.
        if hit_slots.size:
            # A tentative track faster than anything that flies is clutter strung together.
            young = hit_slots[tab.status[hit_slots] == TENTATIVE]
            too_fast = young[np.linalg.norm(tab.x[young][:, VEL], axis=1) > cfg.max_speed_mps]
            if too_fast.size:
                tab.free(too_fast)
                hit_slots = np.setdiff1d(hit_slots, too_fast)
        if info.kind == "eo" and not cfg.eo_charges_misses:
            # A bearing refines the state but is no evidence for management: it cannot say
            # where along the line of sight the target is, so it must neither confirm a track
            # nor cancel the misses a radar that should see it keeps charging. Otherwise a
            # track that lost its radar plots to another track lives on, "confirmed", sliding
            # along the line of sight on bearings alone.
            tab.last_update_time[hit_slots] = t_hi
            hit_slots = np.zeros(0, np.int64)
        tab.record_scan(hit_slots, missed, t_hi)
        self._settle_log()
        if missed.size:
            lost = missed[self._horizontal_sigma(missed, t_mid) > cfg.max_position_sigma_m]
            lost = lost[tab.status[lost] != 0]
            if lost.size:
                tab.free(lost)
        self._degrade_passive_only(t_hi)

        if info.kind == "radar":
            new = np.flatnonzero(~meas_used & measured[:, RANGE] & measured[:, AZIMUTH])
            if new.size:
                self._initiate(info, s, batch.take(new))
        self._settle_log()
        self.frames_processed += 1

    def _degrade_passive_only(self, t):
        """Firm tracks sustained by bearings alone: COASTING, then deleted.

        Without range, bearings from one site leave the position along the line of sight
        (and with it the speed) unobservable, and the filter's covariance understates the
        drift. A radar that should see the track charges misses anyway; this covers the
        tracks no radar can see (MTI notch, outside radar coverage). A track updated by a
        bearing since its last radar plot is shown as degraded (COASTING) once that plot is
        older than ``passive_coast_after_s`` and dropped after ``passive_only_max_s`` - both
        at least 1.5 / 2.5 scans of that radar, so a slow radar's own rhythm never counts.
        """
        cfg = self.config
        tab = self.table
        slots = tab.active_slots((CONFIRMED, COASTING))
        if slots.size == 0 or not self._ranging.any():
            return
        hits = tab.last_hit_by_sensor[slots]
        ranged = np.where(self._ranging, hits, -np.inf)
        last_radar = ranged.max(axis=1)
        passive = np.where(self._ranging, -np.inf, hits).max(axis=1) > last_radar
        slots, last_radar = slots[passive], last_radar[passive]
        if slots.size == 0:
            return
        period = self._periods[np.argmax(ranged[passive], axis=1)]
        since = t - last_radar
        coast = (since > np.maximum(cfg.passive_coast_after_s, 1.5 * period)) & (tab.status[slots] == CONFIRMED)
        tab.status[slots[coast]] = COASTING
        stale = slots[since > np.maximum(cfg.passive_only_max_s, 2.5 * period)]
        if stale.size:
            tab.free(stale)

    # ------------------------------------------------------------------ gating
    def _gate(self, info: _SensorInfo, batch: MeasurementBatch, measured, slots, t_mid, half_window):
        """Candidate pairs (local track index, measurement index) inside the chi-square gate.

        Returns the pairs and a dict of per-pair predictions at the measurement times.
        """
        tab = self.table
        site = info.site
        slots_all = slots
        slots = self._near_frame(info, batch, measured, slots, t_mid)
        if info.kind == "eo":
            # A bearing lies on a line running to infinity: without this, a track far beyond
            # the EO's reach that happens to sit on that line takes another target's bearing.
            x = tab.x[slots]
            dt = t_mid - tab.t[slots]
            r = np.linalg.norm(site.to_enu(x[:, POS] + x[:, VEL] * dt[:, None]), axis=1)
            slots = slots[r - 3.0 * np.sqrt(self._position_variance_bound(slots, dt)) <= info.range_max_m]
        x = tab.x[slots]
        dt = t_mid - tab.t[slots]
        pos = x[:, POS] + x[:, VEL] * dt[:, None]
        speed = np.linalg.norm(x[:, VEL], axis=1)
        var_bound = self._position_variance_bound(slots, dt)
        dims = np.count_nonzero(measured, axis=1)
        gamma = self._gate_d2[int(max(dims.max(), 1))]
        # A track started by one plot has no velocity yet; its next plot lies within max speed
        # x elapsed time (plus position errors), far tighter than its Gaussian velocity prior.
        one_plot = tab.n_updates[slots] <= 1
        values = batch.values
        sig = np.where(np.isfinite(batch.sigmas), batch.sigmas, 0.0)
        has_range = measured[:, RANGE]
        has_el = measured[:, ELEVATION]
        enu_tracks = site.to_enu(pos)
        r_t, az_t, el_t = geo.enu_to_polar(enu_tracks)
        ti_parts, mj_parts = [], []
        # Radar plots gate in the slant-range plane (r sin az, r cos az): the plot's own range
        # and azimuth, exact whatever the elevation (unknown for a 2D radar, and kilometres
        # uncertain for a 3D one at long range, which would inflate an ECEF radius); the
        # elevation enters in the exact gate below.
        kinds = [
            ("radar", has_range),
            ("angles", ~has_range & measured[:, AZIMUTH] & has_el),
        ]
        for kind, rows in kinds:
            rows = np.flatnonzero(rows)
            if rows.size == 0:
                continue
            v = values[rows]
            if kind == "radar":
                meas_pts = np.column_stack([v[:, RANGE] * np.sin(v[:, AZIMUTH]), v[:, RANGE] * np.cos(v[:, AZIMUTH])])
                trk_pts = np.column_stack([r_t * np.sin(az_t), r_t * np.cos(az_t)])
                # The plot noise a track's gate must allow for, at the track's own range.
                meas_var = sig[rows, RANGE].max() ** 2 + r_t**2 * sig[rows, AZIMUTH].max() ** 2
                # Track uncertainty along range and across (scaled to the plane's r * az).
                rot_t = site.rotation.T  # ENU -> ECEF columns
                e_r = (enu_tracks / np.maximum(r_t, 1.0)[:, None]) @ rot_t.T
                cross_enu = np.column_stack([np.cos(az_t), -np.sin(az_t), np.zeros_like(az_t)])
                cross_enu /= np.maximum(np.cos(el_t), 0.2)[:, None]
                e_c = cross_enu @ rot_t.T
                plane_dirs = np.stack([e_r, e_c], axis=1)
                plane_var = self._position_variance_bound(slots, dt, plane_dirs)
                radius = np.sqrt(gamma * (plane_var + meas_var)) + speed * half_window
                plane_pos_var = np.einsum("kdi,kij,kdj->k", plane_dirs, tab.P[slots][:, POS, POS], plane_dirs)
                radius = self._speed_limited(radius, one_plot, plane_pos_var, meas_var, dt, half_window, gamma)
            else:
                meas_pts = geo.polar_to_enu(1.0, v[:, AZIMUTH], v[:, ELEVATION])
                trk_pts = enu_tracks / np.maximum(r_t, 1.0)[:, None]
                meas_var = sig[rows, AZIMUTH] ** 2 + sig[rows, ELEVATION] ** 2
                r_safe = np.maximum(r_t, 1.0)
                radius = np.sqrt(gamma * (var_bound / r_safe**2 + meas_var.max())) + speed * half_window / r_safe
                radius = np.minimum(radius, 2.0)  # a chord never exceeds 2
            ti, mj = association.gate_candidates(trk_pts, meas_pts, radius)
            ti_parts.append(ti)
            mj_parts.append(rows[mj])
        ti = np.concatenate(ti_parts) if ti_parts else np.zeros(0, np.int64)
        mj = np.concatenate(mj_parts) if mj_parts else np.zeros(0, np.int64)
        # Back to indices into the caller's slot list.
        ti = np.searchsorted(slots_all, slots[ti])
        slots = slots_all
        if ti.size == 0:
            return ti, mj, {}
        # Exact gate: each pair predicted to its own measurement time.
        ps = slots[ti]
        dt_pair = batch.time[mj] - tab.t[ps]
        mx, mp, c = imm.imm_predict(tab.mode_x[ps], tab.mode_P[ps], tab.mu[ps], dt_pair, self.modes)
        xc, _ = imm.combine(mx, mp, c)
        d2, loglik, dim = self._mixture_statistics(mx, mp, c, batch.values[mj], batch.sigmas[mj], site)
        limit = np.array([np.inf] + [self._gate_d2[d] for d in range(1, 5)])[dim]
        keep = np.isfinite(d2) & (d2 <= limit) & (dim > 0)
        pred = {"mode_x": mx[keep], "mode_P": mp[keep], "c": c[keep], "d2": d2[keep], "loglik": loglik[keep],
                "dim": dim[keep], "x": xc[keep]}
        return ti[keep], mj[keep], pred

    def _reacquire_manoeuvring(self, info, s, batch, slots, hit_slots, meas_used, measured, t_lo, t_mid):
        """Second chance for firm tracks that found no plot in their gate: the manoeuvre gate.

        A slow radar sees a fighter's 2.5 g, 90 degree turn (15 s) on one or two scans; the
        IMM, tuned for the straight flight it sees almost always, predicts the turn's end
        kilometres off and a new track takes the plots (demo: VIPER11 / VIPER12 behind the
        10 s radar, a new number at nearly every corner). Here the firm tracks near the
        frame that no plot updated, that this sensor has not updated within half a
        revolution and that were updated within its last 1.5 scans are offered the plots no
        track took. (Not only the tracks charged a miss: that test reads the swept sector
        and the MTI notch from the track's own, now wrong, prediction - the plot of a
        turning fighter comes from a sector swept before its track's predicted azimuth.)
        Each pair's prediction is widened by an unknown horizontal acceleration of
        ``manoeuvre_accel_mps2`` at 2 sigma held since the last update (position sigma
        a dt^2 / 4, velocity a dt / 2, fully correlated), gated and assigned (GNN) as usual
        and updated with that widened prior, so the velocity follows the turn at once. On a
        1 s radar the widening is metres; only slow scans feel it.

        Returns the re-acquired slots and their plot rows.
        """
        tab = self.table
        site = info.site
        none = np.zeros(0, np.int64)
        rows = np.flatnonzero(~meas_used & measured[:, RANGE] & measured[:, AZIMUTH])
        if rows.size == 0:
            return none, none
        cand = np.setdiff1d(slots, hit_slots, assume_unique=True)
        # Only tracks updated within the last 1.5 scans of this sensor: the widening grows
        # as dt^2, and a long-coasting track would reach for other targets' plots.
        cand = cand[((tab.status[cand] == CONFIRMED) | (tab.status[cand] == COASTING))
                    & (batch.time[-1] - tab.t[cand] <= 1.5 * info.update_period_s)
                    & (tab.last_hit_by_sensor[cand, s] < t_lo - 0.5 * info.update_period_s)]
        cand = self._near_frame(info, batch.take(rows), measured[rows], cand, t_mid)
        if cand.size == 0:
            return none, none
        ti = np.repeat(np.arange(cand.size), rows.size)
        mj = np.tile(rows, cand.size)
        ps = cand[ti]
        dt = batch.time[mj] - tab.t[ps]
        ok = dt > 0
        ti, mj, ps, dt = ti[ok], mj[ok], ps[ok], dt[ok]
        if ti.size == 0:
            return none, none
        mx, mp, c = imm.imm_predict(tab.mode_x[ps], tab.mode_P[ps], tab.mu[ps], dt, self.modes)
        up = filters.up_vectors(mx[:, 0, POS])
        horiz = np.eye(3) - up[:, :, None] * up[:, None, :]
        var_a = (0.5 * self.config.manoeuvre_accel_mps2) ** 2
        widen = np.zeros((dt.size, STATE_DIM, STATE_DIM))
        widen[:, POS, POS] = horiz * (var_a * dt**4 / 4.0)[:, None, None]
        widen[:, POS, VEL] = horiz * (var_a * dt**3 / 2.0)[:, None, None]
        widen[:, VEL, POS] = widen[:, POS, VEL]
        widen[:, VEL, VEL] = horiz * (var_a * dt**2)[:, None, None]
        mp = mp + widen[:, None]
        d2, loglik, dim = self._mixture_statistics(mx, mp, c, batch.values[mj], batch.sigmas[mj], site)
        limit = np.array([np.inf] + [self._gate_d2[d] for d in range(1, 5)])[dim]
        keep = np.isfinite(d2) & (d2 <= limit) & (dim > 0)
        if not keep.any():
            return none, none
        ti, mj, mx, mp, c, loglik = ti[keep], mj[keep], mx[keep], mp[keep], c[keep], loglik[keep]
        pd = self.config.pd
        density = (self.config.clutter_density if self.config.clutter_density is not None
                   else info.clutter_density(dim[keep]))
        cost = -2.0 * loglik + 2.0 * np.log(density / pd)
        at, am = association.gnn_assign(cand.size, len(batch), ti, mj, cost, -2.0 * np.log(max(1.0 - pd, 1e-9)))
        if at.size == 0:
            return none, none
        key = ti * len(batch) + mj
        order = np.argsort(key)
        sel = order[np.searchsorted(key[order], at * len(batch) + am)]
        ux, uP, umu, _ = imm.imm_update(mx[sel], mp[sel], c[sel], batch.values[am], batch.sigmas[am],
                                        site.ecef, site.rotation)
        ux, uP = self._hold_vertical_speed(ux, uP, batch, am)
        self._store(cand[at], ux, uP, umu, batch.time[am])
        return cand[at], am

    def _mixture_statistics(self, mode_x, mode_P, c, values, sigmas, site):
        """Gate distance and likelihood of each pair under the IMM mixture, mode by mode.

        A single Gaussian moment-matched over the modes misjudges a manoeuvre's onset: the
        CV mode (weight ~0.9) predicts straight on with a tight covariance, the CT mode
        (~0.1) predicts the turn broadly, and their combination rejects plots the CT mode
        explains well (demo fighters in 2.5-3 g turns: d2 30-40 combined, <10 under CT).
        The gate is therefore the union of the mode-matched gates (the smallest d2 over
        modes with a predicted probability of at least 1e-3), and the likelihood is the
        mixture's, sum_j c_j N(z; mode j), which also charges a plot that only an unlikely
        mode explains for that mode's improbability.
        """
        k, m = mode_x.shape[:2]
        rep = np.repeat(np.arange(k), m)
        d2, ll, dim = filters.innovation_statistics(mode_x.reshape(k * m, STATE_DIM),
                                                    mode_P.reshape(k * m, STATE_DIM, STATE_DIM),
                                                    values[rep], sigmas[rep], site.ecef, site.rotation)
        d2, ll = d2.reshape(k, m), ll.reshape(k, m)
        d2 = np.where(np.isfinite(d2) & (c >= 1e-3), d2, np.inf).min(axis=1)
        log_w = np.where(np.isfinite(ll), ll, -np.inf) + np.log(np.maximum(c, 1e-300))
        top = log_w.max(axis=1)
        top_safe = np.where(np.isfinite(top), top, 0.0)
        loglik = top_safe + np.log(np.exp(log_w - top_safe[:, None]).sum(axis=1))
        return d2, loglik, dim.reshape(k, m)[:, 0]

    def _near_frame(self, info: _SensorInfo, batch, measured, slots, t_mid):
        """Tracks that could be near this frame's plots: azimuth within the plots' sector plus margin.

        A rotating radar's frame covers a narrow sector, so this cuts the kd-tree work by the
        number of frames per revolution. The margin is generous (10 degrees, or the angle the
        track's 10 km / its uncertainty subtends); exact gating follows anyway.
        """
        plot_az = batch.values[measured[:, AZIMUTH], AZIMUTH]
        if plot_az.size == 0 or slots.size == 0:
            return slots
        # Smallest arc holding every plot: it starts after the largest gap between sorted azimuths.
        ordered = np.sort(np.mod(plot_az, geo.TWO_PI))
        gaps = np.diff(np.r_[ordered, ordered[0] + geo.TWO_PI])
        after = int(np.argmax(gaps))
        a0 = ordered[(after + 1) % ordered.size]
        width = geo.TWO_PI - float(gaps[after])
        if width > np.pi:  # plots all around (EO, or odd data): no preselection
            return slots
        tab = self.table
        x = tab.x[slots]
        pos = x[:, POS] + x[:, VEL] * (t_mid - tab.t[slots])[:, None]
        r, az, _ = geo.enu_to_polar(info.site.to_enu(pos))
        sigma = np.sqrt(self._position_variance_bound(slots, t_mid - tab.t[slots]))
        margin = np.minimum(np.deg2rad(10.0) + (10e3 + 6.0 * sigma) / np.maximum(r, 1.0), np.pi)
        offset = np.mod(az - a0 + margin, geo.TWO_PI)
        return slots[offset <= width + 2 * margin]

    def _speed_limited(self, radius, one_plot, tr_pos, meas_var, dt, half_window, gamma):
        """No target moves faster than max_speed_mps: cap every gate at that distance from the last
        estimate (plus its position and plot errors). Binds for young tracks, whose velocity
        prior is broad, and for long-coasting ones."""
        limit = (self.config.max_speed_mps * (np.abs(dt) + half_window)
                 + np.sqrt(gamma * (tr_pos + meas_var)))
        return np.minimum(radius, limit)

    def _position_variance_bound(self, slots, dt, directions=None):
        """Upper bound on the predicted position variance over dt (cheap, from the stored P).

        Without ``directions``: the trace of the position covariance. With ``directions``
        (k, d, 3): the sum of the variances along those d vectors per track.
        """
        tab = self.table
        p = tab.P[slots]
        if directions is None:
            tr_p = np.trace(p[:, POS, POS], axis1=1, axis2=2)
            tr_v = np.trace(p[:, VEL, VEL], axis1=1, axis2=2)
            weight = 3.0
        else:
            tr_p = np.einsum("kdi,kij,kdj->k", directions, p[:, POS, POS], directions)
            tr_v = np.einsum("kdi,kij,kdj->k", directions, p[:, VEL, VEL], directions)
            weight = np.sum(directions * directions, axis=(1, 2))
        adt = np.abs(dt)
        q = self.modes.noises[-1]
        q_max = max(q.accel_psd_horizontal, q.accel_psd_vertical)
        bound = tr_p + adt**2 * tr_v + 2 * adt * np.sqrt(tr_p * tr_v) + weight * q_max * adt**3 / 3.0
        if self.modes.n_modes > 1:
            # Turn-rate uncertainty bends the path by ~ speed dt^2 sigma_w / 2.
            speed = np.linalg.norm(tab.x[slots][:, VEL], axis=1)
            # weighted by the predicted probability of the turning modes, as in the IMM mixture
            c = np.einsum("ki,kij->kj", tab.mu[slots], self.modes.transition_over(adt))
            turning = np.array([model == filters.CT for model in self.modes.models])
            var_w = p[:, TURN, TURN] + q.turn_rate_psd * adt * c[:, turning].sum(axis=1)
            # A turn cannot take the target further than speed * dt from the straight line.
            bound += np.minimum((speed * adt**2 / 2.0) ** 2 * var_w, (speed * adt) ** 2)
        return bound

    def _horizontal_sigma(self, slots, t):
        """Bound on the horizontal position 1-sigma per axis (m) predicted to t, from the stored P."""
        if slots.size == 0:
            return np.zeros(0)
        tab = self.table
        adt = np.abs(t - tab.t[slots])
        x, p = tab.x[slots], tab.P[slots]
        up = filters.up_vectors(x[:, POS])

        def horizontal_trace(block):
            return np.maximum(np.trace(block, axis1=1, axis2=2) - np.einsum("ki,kij,kj->k", up, block, up), 0.0)

        tr_p, tr_v = horizontal_trace(p[:, POS, POS]), horizontal_trace(p[:, VEL, VEL])
        q = self.modes.noises[-1]
        bound = tr_p + adt**2 * tr_v + 2 * adt * np.sqrt(tr_p * tr_v) + 2 * q.accel_psd_horizontal * adt**3 / 3.0
        return np.sqrt(bound / 2.0)

    # ------------------------------------------------------------------ association + update
    def _update_gnn(self, info, batch, slots, ti, mj, pred):
        n_meas = len(batch)
        # Costs are -2 log likelihood ratios against "the plot is clutter": a pair costs
        # d^2 + ln det(2 pi S) + 2 ln(clutter density / Pd), a miss -2 ln(1 - Pd). A precise
        # track therefore beats a young one with a huge covariance for the same plot (a
        # gate-boundary miss cost would cancel the ln det S terms and let the vaguer track win).
        pd = self.config.pd
        density = (self.config.clutter_density if self.config.clutter_density is not None
                   else info.clutter_density(pred["dim"]))
        cost = -2.0 * pred["loglik"] + 2.0 * np.log(density / pd)
        miss_cost = -2.0 * np.log(max(1.0 - pd, 1e-9))
        at, am = association.gnn_assign(slots.size, n_meas, ti, mj, cost, miss_cost)
        # Back from the assignment to the pair rows holding the predictions.
        key = ti * n_meas + mj
        order = np.argsort(key)
        rows = order[np.searchsorted(key[order], at * n_meas + am)]
        mx, mp, mu, _ = imm.imm_update(pred["mode_x"][rows], pred["mode_P"][rows], pred["c"][rows],
                                       batch.values[am], batch.sigmas[am], self._site_array(batch, am, "ecef"),
                                       self._site_array(batch, am, "rotation"))
        mx, mp = self._hold_vertical_speed(mx, mp, batch, am)
        self._store(slots[at], mx, mp, mu, batch.time[am])
        used = np.zeros(n_meas, bool)
        used[am] = True
        return at, used, am

    def _update_jpda(self, info, batch, slots, ti, mj, pred):
        """JPDA-IMM: per-hypothesis IMM posteriors moment-matched into one per track.

        Each pair's posterior lives at its own measurement time; all hypotheses of a track
        are brought to the latest of its measurement times by mode-matched prediction
        (no extra mixing) and merged per mode with weights beta * mu.
        """
        cfg = self.config
        tab = self.table
        n_meas = len(batch)
        dims = pred["dim"]
        density = cfg.clutter_density if cfg.clutter_density is not None else info.clutter_density(dims)
        likelihood = np.exp(pred["loglik"])
        pair_beta, miss_beta = association.jpda_weights(slots.size, n_meas, ti, mj, likelihood, cfg.pd,
                                                        cfg.gate_probability, density)
        site = info.site
        ux, uP, umu, _ = imm.imm_update(pred["mode_x"], pred["mode_P"], pred["c"], batch.values[mj],
                                        batch.sigmas[mj], site.ecef, site.rotation)
        ux, uP = self._hold_vertical_speed(ux, uP, batch, mj)
        tracks = np.unique(ti)
        t_ref = np.full(slots.size, -np.inf)
        np.maximum.at(t_ref, ti, batch.time[mj])
        # Hypothesis arrays: pairs, then one "missed" hypothesis per track with candidates.
        dt_pairs = t_ref[ti] - batch.time[mj]
        ux, uP = self._mode_matched_predict(ux, uP, dt_pairs)
        ms = slots[tracks]
        mx0, mp0, c0 = imm.imm_predict(tab.mode_x[ms], tab.mode_P[ms], tab.mu[ms], t_ref[tracks] - tab.t[ms],
                                       self.modes)
        hyp_track = np.concatenate([ti, tracks])
        hyp_w = np.concatenate([pair_beta, miss_beta[tracks]])
        hyp_x = np.concatenate([ux, mx0])
        hyp_P = np.concatenate([uP, mp0])
        hyp_mu = np.concatenate([umu, c0])
        local = np.searchsorted(tracks, hyp_track)
        k, m = tracks.size, self.modes.n_modes
        wm = hyp_w[:, None] * hyp_mu  # (h, M)
        mu = np.zeros((k, m))
        np.add.at(mu, local, wm)
        mu_safe = np.maximum(mu, 1e-300)
        wn = wm / mu_safe[local]
        x = np.zeros((k, m, STATE_DIM))
        np.add.at(x, local, wn[..., None] * hyp_x)
        diff = hyp_x - x[local]
        P = np.zeros((k, m, STATE_DIM, STATE_DIM))
        np.add.at(P, local, wn[..., None, None] * (hyp_P + diff[..., :, None] * diff[..., None, :]))
        mu = mu / mu.sum(axis=1, keepdims=True)
        self._store(ms, x, P, mu, t_ref[tracks])
        hit = tracks[miss_beta[tracks] < 0.5]
        assoc = np.zeros(n_meas)
        np.add.at(assoc, mj, pair_beta)
        used = assoc >= 0.5
        best = np.full(slots.size, -1)
        order = np.lexsort((-pair_beta, ti))
        first = np.r_[True, ti[order][1:] != ti[order][:-1]]
        best[ti[order][first]] = mj[order][first]
        return hit, used, best[hit]

    def _hold_vertical_speed(self, mode_x, mode_P, batch, rows):
        """Pseudo-measurement 'vertical speed = 0 +- vertical_speed_hold_sigma_mps' with plots
        that carry no elevation (2D radar, range-only): height is unobservable from them, and
        without this the filter would trade range errors for a vertical speed random walk that
        drags the altitude - and through the slant range, the horizontal position - away."""
        sigma = self.config.vertical_speed_hold_sigma_mps
        no_el = ~filters.measured_columns(batch.values[rows], batch.sigmas[rows])[:, ELEVATION]
        coarse = self.config.vertical_speed_hold_above_m
        if coarse > 0:
            # Far out, the elevation fixes height to kilometres (0.25 deg at 300 km: 1.3 km),
            # and the vertical speed takes minutes to resolve; meanwhile it random-walks
            # the height away. Most air traffic flies level: hold it there too.
            no_el |= np.nan_to_num(batch.values[rows, RANGE] * batch.sigmas[rows, ELEVATION]) > coarse
        if sigma <= 0 or not no_el.any():
            return mode_x, mode_P
        sel = np.flatnonzero(no_el)
        k, m = sel.size, mode_x.shape[1]
        x = mode_x[sel].reshape(k * m, STATE_DIM)
        p = mode_P[sel].reshape(k * m, STATE_DIM, STATE_DIM)
        up = filters.up_vectors(x[:, POS])
        h = np.zeros((k * m, STATE_DIM))
        h[:, VEL] = up
        ph = np.einsum("kij,kj->ki", p, h)
        s = np.einsum("ki,ki->k", h, ph) + sigma**2
        gain = ph / s[:, None]
        x = x - gain * np.einsum("ki,ki->k", h, x)[:, None]
        ikh = np.eye(STATE_DIM) - gain[:, :, None] * h[:, None, :]
        p = ikh @ p @ np.swapaxes(ikh, -1, -2) + sigma**2 * gain[:, :, None] * gain[:, None, :]
        mode_x = mode_x.copy()
        mode_P = mode_P.copy()
        mode_x[sel] = x.reshape(k, m, STATE_DIM)
        mode_P[sel] = p.reshape(k, m, STATE_DIM, STATE_DIM)
        return mode_x, mode_P

    def _mode_matched_predict(self, mode_x, mode_P, dt):
        m = self.modes.n_modes
        k = mode_x.shape[0]
        if k == 0:
            return mode_x, mode_P
        up = filters.up_vectors(mode_x[:, 0, POS])
        out_x = np.empty_like(mode_x)
        out_P = np.empty_like(mode_P)
        for j in range(m):
            out_x[:, j], out_P[:, j] = filters.predict(mode_x[:, j], mode_P[:, j], dt, self.modes.models[j],
                                                       self.modes.noises[j], up)
        return out_x, out_P

    def _site_array(self, batch, rows, name):
        sensors = batch.sensor[rows]
        stack = np.stack([getattr(info.site, name) for info in self._info])
        return stack[sensors]

    def _store(self, slots, mode_x, mode_P, mu, t):
        tab = self.table
        tab.mode_x[slots] = mode_x
        tab.mode_P[slots] = mode_P
        tab.mu[slots] = mu
        x, p = imm.combine(mode_x, mode_P, mu)
        tab.x[slots] = x
        tab.P[slots] = p
        tab.t[slots] = t
        if self._log is not None and slots.size:
            self._log.append((np.broadcast_to(np.asarray(t, np.float64), slots.shape).copy(), tab.track_id[slots].copy(),
                              tab.address[slots].copy(), x[:, :6].copy(), p[:, POS, POS].copy(),
                              tab.status[slots].copy()))
            self._log_fresh.append((len(self._log) - 1, slots.copy()))

    def _settle_log(self) -> None:
        """After a scan's record_scan: the updates it logged take the status the scan left (a track confirmed
        by this very update shows confirmed; one deleted keeps the status it had)."""
        if self._log is None:
            return
        tab = self.table
        for i, slots in self._log_fresh:
            entry = self._log[i]
            now = tab.status[slots]
            self._log[i] = entry[:5] + (np.where(now != 0, now, entry[5]).astype(np.int8),)
        self._log_fresh = []

    def _record_hit_attributes(self, hit_slots, s, batch, hit_meas):
        tab = self.table
        if hit_slots.size == 0:
            return
        if batch.snr_db is not None:
            snr = batch.snr_db[hit_meas]
            ok = np.isfinite(snr)
            tab.last_snr_db[hit_slots[ok]] = snr[ok]
        t_hit = batch.time[hit_meas]
        tab.last_sensor[hit_slots] = s
        tab.last_hit_by_sensor[hit_slots, s] = t_hit
        tab.n_updates[hit_slots] += 1
        self._record_heading(hit_slots, t_hit)

    def _record_heading(self, hit_slots, t_hit):
        """Legs and turns of each hit track's heading, for the bird hint (`_track_class`).

        Only headings the filter has established count: a young track's velocity is mostly its prior (350 m/s
        sigma) and points anywhere - counting those samples made every new slow track "erratic" until its
        heading mean had forgotten them, ~20 s (the demo's drones launched inside the control zone were birds,
        so no threat, for their first 21-29 s). A sample counts once the horizontal speed is
        ``bird_heading_sigmas`` sigmas of the horizontal velocity (heading error below ~15 deg at 4).

        A leg is a stretch of samples within ``bird_turn_deg`` of its own mean heading; a sample beyond that is
        a turn (left or right) and starts a new leg. A flock wheels about, turning both ways again and again;
        a drone flies legs and turns at waypoints, a loop turning always the same way. So: wheeling (turns
        both ways within ``bird_wheel_window_s``) latches "erratic", and one leg held ``bird_release_s``
        without wheeling releases it. New tracks start erratic (a slow low echo is taken for a bird until it
        holds a course); a single turn does not latch, so a drone's corners no longer make it a bird for a
        minute (the old heading mean needed ~60 s to forget a 90 deg turn).
        """
        cfg = self.config
        tab = self.table
        x = tab.x[hit_slots]
        up = filters.up_vectors(x[:, POS])
        v = x[:, VEL]
        vh = v - np.sum(v * up, axis=1, keepdims=True) * up
        speed_h = np.linalg.norm(vh, axis=1)
        p_vel = tab.P[hit_slots][:, VEL, VEL]
        # horizontal velocity variance per axis: (trace - vertical) / 2
        var_h = 0.5 * (np.trace(p_vel, axis1=1, axis2=2) - np.einsum("ki,kij,kj->k", up, p_vel, up))
        ok = speed_h >= cfg.bird_heading_sigmas * np.sqrt(np.maximum(var_h, 0.0))
        s_ok = hit_slots[ok]  # a frame updates each track once
        if s_ok.size == 0:
            return
        unit = vh[ok] / speed_h[ok, None]
        t = np.asarray(t_hit, float)[ok]
        up = up[ok]
        leg = tab.leg_sum[s_ok]
        has_leg = np.isfinite(tab.leg_start[s_ok])
        ref = leg / np.maximum(np.linalg.norm(leg, axis=1, keepdims=True), 1e-12)
        # signed angle from the leg's mean heading to this one, positive to the left (counter-clockwise from above)
        angle = np.arctan2(np.sum(np.cross(ref, unit) * up, axis=1), np.sum(ref * unit, axis=1))
        side = np.where(has_leg & (np.abs(angle) > np.radians(cfg.bird_turn_deg)), np.sign(angle), 0).astype(np.int8)
        # a turn counts when two samples in a row are off the leg the same way: one noisy heading (a drone at
        # 6 m/s reads +-8 deg, now and then 25 deg) would otherwise count as a turn there and one back
        turn = (side != 0) & (tab.turn_pending[s_ok] == side)
        tab.turn_pending[s_ok] = np.where(turn, 0, side)
        left, right = turn & (side > 0), turn & (side < 0)
        tab.turn_left_t[s_ok[left]] = t[left]
        tab.turn_right_t[s_ok[right]] = t[right]
        new_leg = turn | ~has_leg
        within = side == 0
        tab.leg_sum[s_ok] = np.where(new_leg[:, None], unit, np.where(within[:, None], leg + unit, leg))
        tab.leg_start[s_ok[new_leg]] = t[new_leg]
        wheeling = ((t - tab.turn_left_t[s_ok] <= cfg.bird_wheel_window_s)
                    & (t - tab.turn_right_t[s_ok] <= cfg.bird_wheel_window_s))
        wheeled = tab.wheeled[s_ok] | wheeling
        tab.wheeled[s_ok] = wheeled
        held = t - tab.leg_start[s_ok] >= np.where(wheeled, cfg.bird_wheeled_release_s, cfg.bird_release_s)
        tab.erratic[s_ok] = wheeling | (tab.erratic[s_ok] & ~held)

    # ------------------------------------------------------------------ misses
    def _charge_misses(self, info: _SensorInfo, s, slots, hit_slots, batch, t_lo, t_hi, t_mid):
        """Tracks this frame's sensor should have seen but did not: inside coverage and swept sector."""
        cfg = self.config
        tab = self.table
        if slots.size == 0 or (info.kind == "eo" and not cfg.eo_charges_misses):
            return np.zeros(0, np.int64)
        cand = np.setdiff1d(slots, hit_slots, assume_unique=True)
        # Tracks born from this sensor's plots in this frame are allocated afterwards; tracks
        # hit by this sensor within the last half revolution were seen on this pass already.
        recent = info.update_period_s * 0.5
        cand = cand[tab.last_hit_by_sensor[cand, s] < t_lo - recent]
        cand = cand[tab.t[cand] < t_lo]  # born or updated by another sensor inside this frame: leave
        # A transponder that is reporting says the aircraft is there: this radar is blind to it, and its
        # silence must not coast or delete the track.
        cand = cand[~self._transponder_reporting(cand, t_lo)]
        if cand.size == 0:
            return cand
        x = tab.x[cand]
        pos = x[:, POS] + x[:, VEL] * (t_mid - tab.t[cand])[:, None]
        site = info.site
        r, az, el = geo.enu_to_polar(site.to_enu(pos))
        _, _, alt = geo.ecef_to_geodetic(pos)
        inside = (r >= info.range_min_m) & (r <= info.range_max_m)
        inside &= (el >= info.elevation_min_rad) & (el <= info.elevation_max_rad)
        inside &= np.mod(az - info.azimuth_min_rad, geo.TWO_PI) <= info.azimuth_span_rad
        # A firm track another radar keeps updating must be confidently above this one's
        # horizon (2 sigma of its height): the demo's sea-skimmer, tracked by the 10 s radar
        # 50 km out with its height known to ~200 m, was deleted by four misses of the
        # short-range radar, which could not yet see it over the horizon. (Only while the
        # other radar holds it, so no track lives on by being possibly low.)
        others = self._ranging.copy()
        others[s] = False
        held = ((tab.status[cand] == CONFIRMED) | (tab.status[cand] == COASTING)) & np.any(
            (t_mid - tab.last_hit_by_sensor[cand][:, others]) <= 1.5 * self._periods[others], axis=1)
        up = filters.up_vectors(pos)
        sigma_up = np.sqrt(np.maximum(np.einsum("ki,kij,kj->k", up, tab.P[cand][:, POS, POS], up), 0.0))
        low = np.maximum(alt - np.where(held, 2.0 * sigma_up, 0.0), 0.0)
        inside &= geo.above_radar_horizon(site.ecef, site.alt_m, pos, low)
        if info.mti_min_radial_speed_mps > 0:
            # Inside the MTI / Doppler notch the radar rejects the target by design: its
            # silence says nothing about the track.
            vel_enu = geo.ecef_vectors_to_enu(x[:, VEL], site.rotation)
            radial = np.sum(site.to_enu(pos) * vel_enu, axis=1) / np.maximum(r, 1.0)
            # A firm track must be *confidently* outside the notch (2 sigma of its radial
            # speed): a fighter turning from a radial leg onto a tangential one enters the
            # notch while its track, last updated mid-turn, still points along the old leg;
            # charged misses there, it was deleted and the next leg got a new number.
            firm = (tab.status[cand] == CONFIRMED) | (tab.status[cand] == COASTING)
            e_r = (site.to_enu(pos) / np.maximum(r, 1.0)[:, None]) @ site.rotation  # ENU -> ECEF direction
            sigma_radial = np.sqrt(np.maximum(np.einsum("ki,kij,kj->k", e_r, tab.P[cand][:, VEL, VEL], e_r), 0.0))
            inside &= np.abs(radial) - np.where(firm, 2.0 * sigma_radial, 0.0) >= info.mti_min_radial_speed_mps
        if info.scan_period_s is not None:
            inside &= self._in_swept_sector(info, s, batch, t_hi, az)
        return cand[inside]

    def _in_swept_sector(self, info: _SensorInfo, s, batch, t_hi, az):
        """Azimuths the beam of a rotating radar swept since the sensor's previous frame.

        Read from the plots themselves (they lie where the beam pointed), not from the scan
        phase in the sensor parameters, so a real plot feed whose antenna phase is unknown
        works the same: the sector runs clockwise from the previous frame's last plot to this
        frame's last plot, or from this frame's first plot for the sensor's first frame.
        """
        plot_az = batch.values[:, AZIMUTH]
        ok = np.isfinite(plot_az)
        if not ok.any():
            return np.zeros(az.shape, bool)
        first_az, last_az = plot_az[ok][0], plot_az[ok][-1]
        prev_t, prev_az = self._sweep_end[s], self._sweep_end_az[s]
        if np.isfinite(prev_t) and np.isfinite(prev_az):
            if t_hi - prev_t >= info.scan_period_s:
                return np.ones(az.shape, bool)
            start = prev_az
        else:
            start = first_az
        width = np.mod(last_az - start, geo.TWO_PI)
        return np.mod(az - start, geo.TWO_PI) <= width

    # ------------------------------------------------------------------ initiation
    def _initiate(self, info: _SensorInfo, s: int, batch: MeasurementBatch) -> None:
        cfg = self.config
        site = info.site
        k = len(batch)
        pos, cov = filters.polar_to_ecef_position(batch.values, batch.sigmas, site.ecef, site.rotation,
                                                  cfg.assumed_altitude_m, cfg.assumed_altitude_sigma_m, site.alt_m)
        up = filters.up_vectors(pos)
        uu = up[:, :, None] * up[:, None, :]
        x = np.zeros((k, STATE_DIM))
        x[:, POS] = pos
        P = np.zeros((k, STATE_DIM, STATE_DIM))
        P[:, POS, POS] = cov
        P[:, VEL, VEL] = cfg.init_speed_sigma_mps**2 * (np.eye(3) - uu) + cfg.init_vertical_speed_sigma_mps**2 * uu
        P[:, TURN, TURN] = cfg.init_turn_rate_sigma_rps**2
        rr = filters.measured_columns(batch.values, batch.sigmas)[:, RANGE_RATE]
        if rr.any():
            # Range-rate is the one velocity component a single plot gives: use it at once.
            only_rr = np.full_like(batch.values[rr], np.nan)
            only_rr[:, RANGE_RATE] = batch.values[rr, RANGE_RATE]
            res = filters.polar_update(x[rr], P[rr], only_rr, batch.sigmas[rr], site.ecef, site.rotation)
            x[rr], P[rr] = res.x, res.P
        m = self.modes.n_modes
        tab = self.table
        slots = tab.allocate(k, float(batch.time[-1]))
        mode_x = np.repeat(x[:, None], m, axis=1)
        mode_P = np.repeat(P[:, None], m, axis=1)
        self._store(slots, mode_x, mode_P, imm.initial_mode_probabilities(self.modes, k), batch.time)
        tab.last_sensor[slots] = s
        tab.last_hit_by_sensor[slots, s] = batch.time
        tab.n_updates[slots] = 1
        if batch.snr_db is not None:
            tab.last_snr_db[slots] = batch.snr_db

    # ------------------------------------------------------------------ class hint
    def _track_class(self, slots, x) -> np.ndarray:
        """"bird" for slow, low tracks with an erratic heading; "unknown" otherwise.

        Rule: speed minus bird_fast_sigmas (3) times its 1-sigma below bird_max_speed_mps, altitude (above the
        ellipsoid) < bird_max_altitude_m, at least bird_min_updates updates, and an erratic heading
        (`_record_heading`: not yet held one course for bird_release_s, or wheeling - turning both ways within
        bird_wheel_window_s). A slow target whose heading the filter cannot establish counts as erratic too.
        """
        cfg = self.config
        tab = self.table
        speed = np.linalg.norm(x[:, VEL], axis=1)
        # "Slow" unless confidently fast: a young track's speed is still mostly noise. Three
        # sigmas, not two: the demo's flocks start ~50 tracks, and a 2-sigma test fired on the
        # third plot of one (103 m/s, sigma 33 m/s, truth 15 m/s).
        along = x[:, VEL] / np.maximum(speed, 1e-9)[:, None]
        p_vel = self.table.P[slots][:, VEL, VEL]
        speed_sigma = np.sqrt(np.maximum(np.einsum("ki,kij,kj->k", along, p_vel, along), 0.0))
        _, _, alt = geo.ecef_to_geodetic(x[:, POS])
        bird = ((speed - cfg.bird_fast_sigmas * speed_sigma < cfg.bird_max_speed_mps) & (alt < cfg.bird_max_altitude_m)
                & (tab.n_updates[slots] >= cfg.bird_min_updates) & tab.erratic[slots])
        out = np.full(slots.size, "unknown", dtype=object)
        out[bird] = "bird"
        return out
