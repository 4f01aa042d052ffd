"""Transponder reports (ADS-B positions) in the multi-sensor tracker: one fused track per aircraft.

A report is an ECEF position with its full covariance (from NACp/NUCp), optionally an ECEF velocity
(from NACv), and the aircraft's 24-bit address. Reports update the same IMM tracks as radar plots and
EO bearings, with a linear Kalman update (``filters.cartesian_update``). Association is by identity
first, by kinematics only when identity says nothing:

1. A report whose address a live track already carries updates that track. If it lies implausibly
   far from it (Mahalanobis^2 of the position above ``adsb_reinit_d2``: the address was taken by the
   wrong radar track, or the aircraft was lost long enough for the prediction to be meaningless), the
   track's state restarts from the report and keeps its number.
2. A report of an address no track carries is gated (chi-square, position and velocity) against live
   tracks without an address - radar tracks - and assigned by global nearest neighbour: the radar
   track takes the address and from then on is fed by both.
3. Otherwise the report starts a transponder-only track. It is confirmed by the table's M-of-N rule
   counted in reports, and it gets back the track number the same aircraft had within
   ``adsb_number_memory_s`` (an aircraft that fades out of reception for a while keeps its number).

Reports are processed in *rounds*: the k-th report of every aircraft in the batch in round k, so the
loop runs over reports per aircraft, never over aircraft.

Time: a report older than the state of its track (a radar plot of the same aircraft was processed
first) is carried forward to the track's time with its velocity (or the track's), its covariance
grown by the velocity uncertainty over the lag - no filter ever predicts backwards. A report more
than ``adsb_max_lag_s`` older than its track is counted ``adsb_too_late`` and not used.

Management: radar misses are not charged to a track whose transponder is reporting (the aircraft is
there; the radar is blind to it). A track no radar or EO holds and whose last report is older than
``adsb_coast_after_s`` is shown COASTING (TENTATIVE ones are dropped), and dropped after
``adsb_drop_after_s``. See docs/fusion.md.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from ..errors import InputError
from ..tracks import COASTING, CONFIRMED, TENTATIVE
from . import association, imm
from .filters import POS, STATE_DIM, TURN, VEL, chi2_quantile, up_vectors

NO_ADDRESS = -1


def addresses_to_int(icao24) -> np.ndarray:
    """Hex ICAO addresses (str) -> int64, -1 where empty or not hex; one conversion per distinct address."""
    arr = np.asarray(icao24, dtype=object)
    if arr.size == 0:
        return np.zeros(0, np.int64)
    uniq, inverse = np.unique(arr.astype(str), return_inverse=True)
    values = np.empty(uniq.size, np.int64)
    for i, text in enumerate(uniq.tolist()):
        try:
            values[i] = int(text, 16) if text else NO_ADDRESS
        except ValueError:
            values[i] = NO_ADDRESS
    return values[inverse.reshape(-1)]


def addresses_to_hex(address) -> np.ndarray:
    """int64 addresses -> 6-digit lowercase hex strings ('' for -1); one conversion per distinct address."""
    address = np.asarray(address, np.int64)
    out = np.full(address.shape, "", dtype=object)
    have = address >= 0
    if have.any():
        uniq, inverse = np.unique(address[have], return_inverse=True)
        out[have] = np.array([f"{a:06x}" for a in uniq.tolist()], dtype=object)[inverse.reshape(-1)]
    return out


def compress_reports(time, address, pos, pos_cov, has_v, vel, vel_cov, interval_s):
    """Merge each aircraft's reports within ``interval_s`` into one, at the time of the last of them.

    Why: the fused track is updated sequentially per aircraft, so its cost is per update, and a transponder
    reports position twice a second - far more often than any radar scans. Each report of a window is
    carried to the window's last time along the average of its own velocity and the last one (exact under
    constant acceleration, so turns are followed), and the positions are averaged, which removes the CPR and
    altitude quantisation. The covariance stays the last report's: GNSS errors are correlated over minutes,
    so averaging half a dozen reports must not claim a smaller error. The velocity is the last report's. A
    report without a velocity is carried with the window's last velocity; a window with no velocity keeps
    its last report alone. Windows start at each aircraft's first report of the batch.

    Returns the merged arrays, in time order.
    """
    n = time.size
    order = np.lexsort((time, address))
    a, t = address[order], time[order]
    new_aircraft = np.r_[True, a[1:] != a[:-1]]
    t0 = t[np.maximum.accumulate(np.where(new_aircraft, np.arange(n), 0))]
    window = np.floor((t - t0) / interval_s).astype(np.int64)
    starts = np.flatnonzero(new_aircraft | np.r_[True, window[1:] != window[:-1]])
    ends = np.r_[starts[1:], n] - 1
    group = np.repeat(np.arange(starts.size), np.diff(np.r_[starts, n]))
    last = order[ends]  # input rows of each window's last report
    # latest velocity inside each window (a window without one keeps its last report alone)
    hv = has_v[order]
    idx = np.where(hv, np.arange(n), -1)
    idx = np.maximum.accumulate(idx)
    v_row = np.where(idx[ends] >= starts, order[np.maximum(idx[ends], 0)], -1)
    carry = v_row >= 0
    v_end = np.where(carry[:, None], vel[np.maximum(v_row, 0)], 0.0)[group]
    v_own = np.where(hv[:, None], vel[order], v_end)
    lead = (t[ends][group] - t)[:, None]
    carried = pos[order] + 0.5 * (v_own + v_end) * lead
    use = carry[group] | (np.arange(n) == ends[group])
    counts = np.bincount(group, weights=use, minlength=starts.size)
    merged = np.stack([np.bincount(group, weights=np.where(use, carried[:, i], 0.0), minlength=starts.size)
                       for i in range(3)], axis=1) / counts[:, None]
    out_v = np.where(carry[:, None], vel[np.maximum(v_row, 0)], np.nan)
    out_vc = np.where(carry[:, None, None], vel_cov[np.maximum(v_row, 0)], np.nan)
    keep = np.argsort(time[last], kind="stable")
    return (time[last][keep], address[last][keep], merged[keep], pos_cov[last][keep], carry[keep], out_v[keep],
            out_vc[keep])


class TransponderMixin:
    """The transponder half of :class:`~airpicture.tracking.sensor_tracker.SensorTracker` (see module doc)."""

    def _init_transponder(self) -> None:
        tab = self.table
        tab.add_field("address", (), np.int64, NO_ADDRESS)
        # restarts from a report far from the track (impossible jumps: evidence for spoof detection)
        tab.add_field("restarts", (), np.int32, 0)
        tab.add_field("last_jump_m", (), np.float64, np.nan)
        tab.add_field("last_jump_time", (), np.float64, np.nan)
        self._adsb = np.array([info.kind == "adsb" for info in self._info] or [False], bool)
        self._number_by_address: dict[int, tuple[int, float]] = {}  # address -> (track number, last report)
        # an aircraft's reports after its first in a batch: the compiled sequence (False: round by round, the
        # NumPy reference path the tests compare it with)
        self.sequence_kernel = True
        self._gate_d2_6 = chi2_quantile(self.config.gate_probability, 6)
        self.transponder_counts = {
            "reports": 0, "updates": 0, "new_tracks": 0, "radar_tracks_identified": 0, "restarted": 0,
            "renumbered": 0, "late": 0, "too_late": 0, "merged": 0,
        }

    # ------------------------------------------------------------------ public API
    def process_reports(self, reports, sensor: int | None = None) -> None:
        """Consume transponder position reports (any order; sorted by time here).

        ``reports`` has ``time`` (n,), ``address`` (n,) int64 (or ``icao24`` hex strings),
        ``position_ecef`` (n, 3), ``position_cov`` (n, 3, 3), ``has_velocity`` (n,) bool,
        ``velocity_ecef`` (n, 3) and ``velocity_cov`` (n, 3, 3) - an
        :class:`airpicture.fusion.adsb_measurements.AdsbReports` qualifies. ``sensor`` is the index of the
        ``adsb`` site in the tracker's sensor list (default: the first such site).
        """
        n = len(reports.time)
        if n == 0:
            return
        s = self._adsb_sensor(sensor)
        time = np.asarray(reports.time, np.float64)
        address = (np.asarray(reports.address, np.int64) if hasattr(reports, "address")
                   else addresses_to_int(reports.icao24))
        pos = np.asarray(reports.position_ecef, np.float64)
        pos_cov = np.asarray(reports.position_cov, np.float64)
        has_v = np.asarray(reports.has_velocity, bool)
        vel = np.asarray(reports.velocity_ecef, np.float64)
        vel_cov = np.asarray(reports.velocity_cov, np.float64)
        usable = (address >= 0) & np.isfinite(time) & np.all(np.isfinite(pos), axis=1) & np.all(
            np.isfinite(pos_cov), axis=(1, 2))
        if not usable.all():
            raise InputError(f"{int(np.count_nonzero(~usable))} transponder report(s) without address, time or "
                             "finite position", field="reports")
        has_v &= np.all(np.isfinite(vel), axis=1) & np.all(np.isfinite(vel_cov), axis=(1, 2))
        self.transponder_counts["reports"] += n
        if self.config.adsb_update_interval_s > 0:
            time, address, pos, pos_cov, has_v, vel, vel_cov = compress_reports(
                time, address, pos, pos_cov, has_v, vel, vel_cov, self.config.adsb_update_interval_s)
            self.transponder_counts["merged"] += n - time.size
            n = time.size
        # Rounds: the k-th report of each aircraft (time order inside each aircraft) goes to round k.
        order = np.lexsort((time, address))
        a_sorted = address[order]
        first = np.r_[True, a_sorted[1:] != a_sorted[:-1]]
        start = np.maximum.accumulate(np.where(first, np.arange(n), 0))
        rank = np.empty(n, np.int64)
        rank[order] = np.arange(n) - start
        by_round = np.argsort(rank, kind="stable")
        last_round = rank.max() if not self.sequence_kernel else min(rank.max(), 0)
        bounds = np.searchsorted(rank[by_round], np.arange(rank.max() + 2))
        for r in range(last_round + 1):
            rows = by_round[bounds[r]:bounds[r + 1]]
            rows = rows[np.argsort(time[rows], kind="stable")]
            self._report_round(s, time[rows], address[rows], pos[rows], pos_cov[rows], has_v[rows], vel[rows],
                               vel_cov[rows])
        if last_round < rank.max():
            # Every aircraft has its track after round 0: the rest of each one's reports in one compiled run.
            rest = order[rank[order] >= 1]  # by address, then time
            cut = np.flatnonzero(np.r_[True, address[rest][1:] != address[rest][:-1], True])
            for a, b in zip(cut[:-1].tolist(), cut[1:].tolist()):
                rows = rest[a:b]
                self._report_sequence(s, time[rows], int(address[rows[0]]), pos[rows], pos_cov[rows], has_v[rows],
                                      vel[rows], vel_cov[rows])
        self.expire(float(time.max()))

    def expire(self, t: float) -> None:
        """Coast and drop transponder-fed tracks no radar or EO holds whose reports stopped (see module doc).
        Called by :meth:`process_reports`; call it too when time passes without reports (a dead feed)."""
        if not self._adsb.any():
            return
        cfg = self.config
        tab = self.table
        slots = tab.active_slots()
        if slots.size == 0:
            return
        hits = tab.last_hit_by_sensor[slots]
        adsb = self._adsb[:hits.shape[1]]
        last_report = np.where(adsb, hits, -np.inf).max(axis=1)
        fed = np.isfinite(last_report)
        other = np.where(adsb, -np.inf, hits)
        held = np.any(t - other <= np.maximum(2.5 * self._periods[:hits.shape[1]], 1.0), axis=1)
        since = t - last_report
        loose = fed & ~held
        stale = loose & (since > cfg.adsb_coast_after_s)
        status = tab.status[slots]
        tab.status[slots[stale & (status == CONFIRMED)]] = COASTING
        drop = (stale & (status == TENTATIVE)) | (loose & (since > cfg.adsb_drop_after_s))
        if drop.any():
            tab.free(slots[drop])

    # ------------------------------------------------------------------ internals
    def _report_sequence(self, s, t, address, pos, pos_cov, has_v, vel, vel_cov) -> None:
        """Reports (time order) of one aircraft whose track exists: ``sequence_kernel.run_sequence``."""
        from . import sequence_kernel as sk

        tab = self.table
        cfg = self.config
        counts = self.transponder_counts
        active = tab.active_slots()
        mine = active[tab.address[active] == address]
        if mine.size != 1:  # the track went (cannot happen within a batch today): the round by round path
            for k in range(t.size):
                self._report_round(s, t[k:k + 1], np.array([address]), pos[k:k + 1], pos_cov[k:k + 1],
                                   has_v[k:k + 1], vel[k:k + 1], vel_cov[k:k + 1])
            return
        slot = int(mine[0])
        modes = self.modes
        if not hasattr(self, "_kernel_modes"):
            self._kernel_modes = (
                np.array([sk.CV_CODE if mdl == "cv" else sk.CT_CODE for mdl in modes.models], np.int64),
                np.array([[q.accel_psd_horizontal, q.accel_psd_vertical, q.turn_rate_psd, q.turn_rate_hold_var]
                          for q in modes.noises], np.float64),
                np.ascontiguousarray(modes._eigval), np.ascontiguousarray(modes._eigvec),
                np.ascontiguousarray(modes._eigvec_inv), float(modes.transition_interval_s),
                imm.initial_mode_probabilities(modes, 1)[0])
        models, noises, eigval, eigvec, eigvec_inv, interval, init_mu = self._kernel_modes
        vel = np.where(has_v[:, None], vel, 0.0)
        vel_cov = np.where(has_v[:, None, None], vel_cov, 0.0)
        mode_x, mode_P, mu, t_state, flags, late, t_out, x_out, p_out, jump = sk.run_sequence(
            tab.mode_x[slot], tab.mode_P[slot], tab.mu[slot], float(tab.t[slot]), t, pos, pos_cov, has_v, vel,
            vel_cov, models, noises, eigval, eigvec, eigvec_inv, interval, float(cfg.adsb_reinit_d2),
            float(cfg.adsb_max_lag_s), init_mu, cfg.init_speed_sigma_mps ** 2, cfg.init_vertical_speed_sigma_mps ** 2,
            cfg.init_turn_rate_sigma_rps ** 2)
        hit = flags != sk.TOO_LATE
        counts["too_late"] += int(np.count_nonzero(~hit))
        counts["late"] += int(np.count_nonzero(late & hit))
        restarted = np.flatnonzero(flags == sk.RESTARTED)
        counts["restarted"] += restarted.size
        if restarted.size:
            tab.restarts[slot] += restarted.size
            tab.last_jump_m[slot] = jump[restarted[-1]]
            tab.last_jump_time[slot] = t[restarted[-1]]
        if not hit.any():
            return
        # the table holds the final state; the log gets every update, with the status it had then
        x_final, p_final = imm.combine(mode_x[None], mode_P[None], mu[None])
        tab.mode_x[slot], tab.mode_P[slot], tab.mu[slot] = mode_x, mode_P, mu
        tab.x[slot], tab.P[slot], tab.t[slot] = x_final[0], p_final[0], t_state
        hit_times = np.maximum.accumulate(t_out[hit])  # as the round path: max(report time, state time)
        statuses = self._record_consecutive_hits(slot, hit_times)
        if self._log is not None:
            k = int(np.count_nonzero(hit))
            self._log.append((t_out[hit], np.full(k, tab.track_id[slot]), np.full(k, address, np.int64),
                              x_out[hit][:, :6], p_out[hit], statuses))
        self._record_hit_attributes(np.array([slot]), s, SimpleNamespace(time=hit_times[-1:], snr_db=None),
                                    np.array([0]))
        tab.n_updates[slot] += hit_times.size - 1
        counts["updates"] += hit_times.size
        self._number_by_address[address] = (int(tab.track_id[slot]), float(t_state))

    def _record_consecutive_hits(self, slot, times) -> np.ndarray:
        """One scan per hit for one track; returns its status after each (what the round path logs).

        Scan by scan until the track is confirmed with no misses past its first N scans, then all the rest at
        once: from there on each further hit only ages the history."""
        tab = self.table
        n = times.size
        statuses = np.full(n, CONFIRMED, np.int8)
        one = np.array([slot])
        none = np.zeros(0, np.int64)
        i = 0
        while i < n and not (tab.status[slot] == CONFIRMED and tab.misses[slot] == 0
                             and tab.age_scans[slot] >= tab.confirm_n):
            tab.record_scan(one, none, float(times[i]))
            statuses[i] = tab.status[slot]
            i += 1
        r = n - i
        if r > 0:
            shift = np.uint64(min(r, 64))
            ones = np.uint64((1 << 64) - 1) if r >= 64 else np.uint64((1 << r) - 1)
            tab.hit_bits[slot] = (np.uint64(tab.hit_bits[slot]) << shift if r < 64 else np.uint64(0)) | ones
            tab.age_scans[slot] += r
            tab.n_hits[slot] += r
            tab.last_update_time[slot] = times[-1]
        return statuses

    def _adsb_sensor(self, sensor):
        if sensor is not None:
            if not (0 <= int(sensor) < len(self.sensors)) or self._info[int(sensor)].kind != "adsb":
                raise InputError(f"sensor {sensor} is not an 'adsb' site of this tracker", field="sensor")
            return int(sensor)
        found = np.flatnonzero(self._adsb[:len(self._info)])
        if found.size == 0:
            raise InputError("the tracker has no 'adsb' sensor site for transponder reports", field="sensors")
        return int(found[0])

    def _transponder_reporting(self, slots, t) -> np.ndarray:
        """(k,) bool: tracks whose transponder reported within ``adsb_coast_after_s`` of t."""
        if not self._adsb.any() or slots.size == 0:
            return np.zeros(slots.size, bool)
        hits = self.table.last_hit_by_sensor[slots][:, self._adsb[:len(self._info)]]
        return hits.max(axis=1) >= t - self.config.adsb_coast_after_s

    def _report_round(self, s, t, address, pos, pos_cov, has_v, vel, vel_cov) -> None:
        """At most one report per aircraft: update the tracks they name, identify radar tracks, start the rest."""
        tab = self.table
        cfg = self.config
        counts = self.transponder_counts
        active = tab.active_slots()
        tab_addr = tab.address[active]
        named = active[tab_addr >= 0]
        named = named[np.argsort(tab.address[named])]
        named_addr = tab.address[named]
        pos_in = np.searchsorted(named_addr, address)
        found = (pos_in < named.size) & (named_addr[np.minimum(pos_in, max(named.size - 1, 0))] == address) \
            if named.size else np.zeros(address.size, bool)
        slot = np.full(address.size, -1, np.int64)
        slot[found] = named[pos_in[found]]

        # 2. unknown addresses: radar tracks without an address, by kinematics
        unknown = np.flatnonzero(~found)
        if unknown.size:
            free_tracks = active[tab_addr < 0]
            got_t, got_r = self._identify_radar_tracks(free_tracks, t[unknown], pos[unknown], pos_cov[unknown],
                                                       has_v[unknown], vel[unknown], vel_cov[unknown])
            if got_r.size:
                rows = unknown[got_r]
                slot[rows] = got_t
                tab.address[got_t] = address[rows]
                counts["radar_tracks_identified"] += got_r.size

        # 1. + 2. update
        upd = np.flatnonzero(slot >= 0)
        hit_slots, hit_times = np.zeros(0, np.int64), np.zeros(0)
        if upd.size:
            hit_slots, hit_times, restart, jump = self._update_with_reports(
                slot[upd], t[upd], pos[upd], pos_cov[upd], has_v[upd], vel[upd], vel_cov[upd])
            if restart.size:
                r = upd[restart]
                tab.restarts[slot[r]] += 1
                tab.last_jump_m[slot[r]] = jump
                tab.last_jump_time[slot[r]] = t[r]
                self._start_state(slot[r], t[r], pos[r], pos_cov[r], has_v[r], vel[r], vel_cov[r])
                counts["restarted"] += r.size

        # 3. new transponder-only tracks
        new = np.flatnonzero(slot < 0)
        if new.size:
            new_slots = tab.allocate(new.size, float(t[new].max()))
            tab.address[new_slots] = address[new]
            # an aircraft heard again within the number memory gets its old number back - before the first
            # state is logged, so that the update log never shows the number it would have had
            memory = cfg.adsb_number_memory_s
            for sl, a, tt in zip(new_slots.tolist(), address[new].tolist(), t[new].tolist()):
                known = self._number_by_address.get(a)
                if known is not None and tt - known[1] <= memory and not np.any(tab.track_id[active] == known[0]):
                    tab.track_id[sl] = known[0]
                    counts["renumbered"] += 1
            self._start_state(new_slots, t[new], pos[new], pos_cov[new], has_v[new], vel[new], vel_cov[new])
            tab.n_updates[new_slots] = 1
            tab.last_sensor[new_slots] = s
            tab.last_hit_by_sensor[new_slots, s] = t[new]
            counts["new_tracks"] += new.size

        if hit_slots.size:
            self._record_hit_attributes(hit_slots, s, SimpleNamespace(time=hit_times, snr_db=None),
                                        np.arange(hit_slots.size))
            counts["updates"] += hit_slots.size
            tab.record_scan(hit_slots, np.zeros(0, np.int64), hit_times)  # each track its own time
        self._settle_log()
        mine = np.r_[slot[slot >= 0], new_slots] if new.size else slot[slot >= 0]
        alive = mine[tab.status[mine] != 0]
        for a, tid, tt in zip(tab.address[alive].tolist(), tab.track_id[alive].tolist(), tab.t[alive].tolist()):
            self._number_by_address[a] = (tid, tt)

    def _predict_slots(self, slots, t):
        """IMM prediction of each slot to its time t, never backwards: (mode_x, mode_P, c, lag <= 0)."""
        tab = self.table
        dt = t - tab.t[slots]
        mx, mp, c = imm.imm_predict(tab.mode_x[slots], tab.mode_P[slots], tab.mu[slots], np.maximum(dt, 0.0),
                                    self.modes)
        return mx, mp, c, np.minimum(dt, 0.0)

    @staticmethod
    def _carry_forward(lag, pos, pos_cov, has_v, vel, vel_cov, track_vel, track_vel_cov):
        """Reports older than their track (lag < 0) moved forward to the track's time with a velocity."""
        late = lag < 0
        if not late.any():
            return pos, pos_cov
        pos, pos_cov = pos.copy(), pos_cov.copy()
        v = np.where(has_v[:, None], vel, track_vel)
        vc = np.where(has_v[:, None, None], vel_cov, track_vel_cov)
        pos[late] -= v[late] * lag[late, None]
        pos_cov[late] += vc[late] * (lag[late] ** 2)[:, None, None]
        return pos, pos_cov

    def _measurement(self, pos, pos_cov, has_v, vel, vel_cov, rows):
        """(z, R) for rows that all have, or all lack, a velocity."""
        if has_v[rows[0]] if rows.size else False:
            z = np.concatenate([pos[rows], vel[rows]], axis=1)
            R = np.zeros((rows.size, 6, 6))
            R[:, :3, :3] = pos_cov[rows]
            R[:, 3:, 3:] = vel_cov[rows]
            return z, R
        return pos[rows], pos_cov[rows]

    def _update_with_reports(self, slots, t, pos, pos_cov, has_v, vel, vel_cov):
        """Update each slot with its report; returns (hit slots, hit times, rows to restart, their jumps in m)."""
        cfg = self.config
        counts = self.transponder_counts
        mx, mp, c, lag = self._predict_slots(slots, t)
        xc, pc = imm.combine(mx, mp, c)
        too_late = lag < -cfg.adsb_max_lag_s
        counts["late"] += int(np.count_nonzero((lag < 0) & ~too_late))
        counts["too_late"] += int(np.count_nonzero(too_late))
        pos, pos_cov = self._carry_forward(lag, pos, pos_cov, has_v, vel, vel_cov, xc[:, VEL], pc[:, VEL, VEL])
        # Position distance of the report from its own aircraft's prediction.
        diff = pos - xc[:, POS]
        s = pc[:, POS, POS] + pos_cov
        d2 = np.einsum("ki,ki->k", diff, np.linalg.solve(s, diff[..., None])[..., 0])
        restart = np.flatnonzero(~too_late & (d2 > cfg.adsb_reinit_d2))
        ok = ~too_late & (d2 <= cfg.adsb_reinit_d2)
        done = []
        for with_v in (True, False):
            rows = np.flatnonzero(ok & (has_v == with_v))
            if rows.size == 0:
                continue
            z, R = self._measurement(pos, pos_cov, has_v, vel, vel_cov, rows)
            ux, uP, umu, _ = imm.imm_update_cartesian(mx[rows], mp[rows], c[rows], z, R)
            self._store(slots[rows], ux, uP, umu, np.maximum(t[rows], self.table.t[slots[rows]]))
            done.append(rows)
        rows = np.concatenate(done) if done else np.zeros(0, np.int64)
        hit = np.concatenate([rows, restart])
        return (slots[hit], np.maximum(t[hit], self.table.t[slots[hit]]), restart,
                np.linalg.norm(diff[restart], axis=1))

    def _identify_radar_tracks(self, cand, t, pos, pos_cov, has_v, vel, vel_cov):
        """GNN between reports of unknown aircraft and tracks without an address. Returns (slots, report rows)."""
        none = np.zeros(0, np.int64)
        if cand.size == 0:
            return none, none
        tab = self.table
        t_mid = float(np.median(t))
        dt = t_mid - tab.t[cand]
        pred = tab.x[cand][:, POS] + tab.x[cand][:, VEL] * dt[:, None]
        gamma = self._gate_d2_6
        meas_var = np.trace(pos_cov, axis1=1, axis2=2).max()
        spread = float(t.max() - t.min())
        speed = np.linalg.norm(tab.x[cand][:, VEL], axis=1)
        radius = np.sqrt(gamma * (self._position_variance_bound(cand, dt) + meas_var)) + speed * spread
        radius = self._speed_limited(radius, tab.n_updates[cand] <= 1, np.trace(tab.P[cand][:, POS, POS], axis1=1,
                                     axis2=2), meas_var, dt, spread, gamma)
        ti, mj = association.gate_candidates(pred, pos, radius)
        if ti.size == 0:
            return none, none
        ps = cand[ti]
        mx, mp, c, lag = self._predict_slots(ps, t[mj])
        xc, pc = imm.combine(mx, mp, c)
        p_pos, p_cov = self._carry_forward(lag, pos[mj], pos_cov[mj], has_v[mj], vel[mj], vel_cov[mj], xc[:, VEL],
                                           pc[:, VEL, VEL])
        d2 = np.full(ti.size, np.inf)
        for with_v in (True, False):
            rows = np.flatnonzero(has_v[mj] == with_v)
            if rows.size == 0:
                continue
            z, R = self._measurement(p_pos, p_cov, has_v[mj], vel[mj], vel_cov[mj], rows)
            d = z.shape[1]
            nu = z - xc[rows, :d]
            S = pc[rows, :d, :d] + R
            dd = np.einsum("ki,ki->k", nu, np.linalg.solve(S, nu[..., None])[..., 0])
            limit = gamma if with_v else self._gate_d2[3]
            d2[rows] = np.where(dd <= limit, dd / limit, np.inf)  # normalised so both kinds compare
        keep = np.isfinite(d2)
        if not keep.any():
            return none, none
        at, am = association.gnn_assign(cand.size, len(t), ti[keep], mj[keep], d2[keep], 1.0)
        return cand[at], am

    def _start_state(self, slots, t, pos, pos_cov, has_v, vel, vel_cov) -> None:
        """(Re)start the state of slots from reports: position, velocity where reported, else the prior."""
        cfg = self.config
        k = slots.size
        up = up_vectors(pos)
        uu = up[:, :, None] * up[:, None, :]
        x = np.zeros((k, STATE_DIM))
        x[:, POS] = pos
        P = np.zeros((k, STATE_DIM, STATE_DIM))
        P[:, POS, POS] = pos_cov
        prior = cfg.init_speed_sigma_mps ** 2 * (np.eye(3) - uu) + cfg.init_vertical_speed_sigma_mps ** 2 * uu
        x[:, VEL] = np.where(has_v[:, None], vel, 0.0)
        P[:, VEL, VEL] = np.where(has_v[:, None, None], vel_cov, prior)
        P[:, TURN, TURN] = cfg.init_turn_rate_sigma_rps ** 2
        m = self.modes.n_modes
        self._store(slots, np.repeat(x[:, None], m, axis=1), np.repeat(P[:, None], m, axis=1),
                    imm.initial_mode_probabilities(self.modes, k), t)
