"""ADS-B ground receivers: which of the frames the simulated transponders broadcast are heard, and when.

A scenario's ``[[sensors]] type = "adsb"`` sites listen on 1090 MHz. A frame sent by a transponder
(``sensors.adsb.emit_adsb``) reaches a receiver when, at its transmission time, the aircraft is

* within radio line of sight: above the 4/3-earth horizon of the antenna (1090 MHz bends in the standard
  atmosphere as radar frequencies do; ``geo.above_radar_horizon``, terrain not modelled), and
* within the receiver's maximum slant range ``range_max_m`` (the link budget: transmitter power, antenna
  gains and receiver sensitivity fold into one figure; 250 NM by default),

and it is then still lost with probability ``message_loss_probability`` (garbling by overlapping replies,
FRUIT, multipath and fading), one independent draw per frame and receiver. A received frame is stamped at
its reception time: transmission time + slant range / c (1.5 ms at 450 km).

Several receivers form a network: a frame heard by more than one counts once, with the earliest reception,
attributed to the receiver that heard it first (a frame is one measurement whatever the number of antennas;
feeding it twice would count its position error twice).

Randomness: the transponders draw from a stream of their own (``emitter_rng``: the scenario seed with spawn
key ``EMITTER_SPAWN_KEY``, which no sensor's stream uses); each receiver's losses come from that sensor's
stream (``simulate.sensor_generators``, keyed by its position in the sensor list), as for radar and EO.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import geo
from ..measurements import SensorSite
from ..truth import Truth
from .adsb import ON_GROUND_HEIGHT_M, ON_GROUND_SPEED_MPS, EmittedFrames, _enu_velocity
from .params import ADSB_PARAMS, with_defaults

SPEED_OF_LIGHT_MPS = 299_792_458.0
EMITTER_SPAWN_KEY = (0x1090, 0)  # two levels: never equal to a sensor's (i,) key


@dataclass(frozen=True)
class ReceiverConfig:
    """An ADS-B receiver's parameters, SI (see sensors/params.py ADSB_PARAMS)."""

    range_max_m: float
    message_loss_probability: float
    implicit: bool = False  # added by the loader, not declared in the scenario

    @classmethod
    def from_site(cls, site: SensorSite) -> "ReceiverConfig":
        p = with_defaults(site.params or {}, ADSB_PARAMS)
        return cls(range_max_m=float(p["range_max_m"]), message_loss_probability=float(p["message_loss_probability"]),
                   implicit=bool(p.get("implicit", False)))


def emitter_rng(seed: int) -> np.random.Generator:
    """The transponders' random stream for a scenario seed (independent of every sensor's)."""
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=EMITTER_SPAWN_KEY))


def reach(site: SensorSite, cfg: ReceiverConfig, position_ecef: np.ndarray):
    """Slant range and the reasons a position is out of reach: (range_m, beyond_range, below_horizon).

    NaN positions (no aircraft) are neither beyond range nor below the horizon; callers test finiteness.
    """
    pos = np.asarray(position_ecef, dtype=float)
    range_m = np.linalg.norm(pos - site.ecef, axis=-1)
    finite = np.isfinite(range_m)
    below = np.zeros(range_m.shape, dtype=bool)
    if finite.any():
        _, _, alt = geo.ecef_to_geodetic(pos[finite])
        below[finite] = ~geo.above_radar_horizon(site.ecef, site.alt_m, pos[finite], alt)
    with np.errstate(invalid="ignore"):
        beyond = finite & (range_m > cfg.range_max_m)
    return range_m, beyond, below


def transmitting(truth: Truth, position_ecef: np.ndarray, velocity_ecef: np.ndarray) -> np.ndarray:
    """Where an ADS-B transponder at this state is sending: alive and airborne (the emitter's rule: not lower
    than 15 m with a ground speed under 30 m/s)."""
    pos = np.asarray(position_ecef, dtype=float)
    out = np.zeros(pos.shape[:-1], dtype=bool)
    finite = np.isfinite(pos[..., 0])
    if finite.any():
        lat, lon, alt = geo.ecef_to_geodetic(pos[finite])
        ve, vn, _ = _enu_velocity(lat, lon, np.asarray(velocity_ecef, dtype=float)[finite])
        out[finite] = ~((alt < ON_GROUND_HEIGHT_M) & (np.hypot(ve, vn) < ON_GROUND_SPEED_MPS))
    return out


@dataclass
class ReceivedFrames:
    """The frames a receiver network heard, one row per frame, in reception-time order.

    ``index`` rows of ``emitted``; ``time`` reception time (scenario s); ``receiver`` the sensor index of the
    receiver that heard it first; ``counts`` per receiver name: frames ``in_reach``, ``beyond_range``,
    ``below_horizon``, ``lost`` (in reach, dropped by the loss draw), ``received`` (by this receiver) and
    ``first`` (received here first: what it contributes to the network).
    """

    emitted: EmittedFrames
    index: np.ndarray
    time: np.ndarray
    receiver: np.ndarray
    counts: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.index)

    @property
    def frame(self) -> np.ndarray:
        return self.emitted.frame[self.index]

    @property
    def truth_index(self) -> np.ndarray:
        return self.emitted.truth_index[self.index]

    def frame_batch(self, rows=slice(None), epoch_s: float = 0.0):
        """Received rows (a slice or index of this table) as a ``sources.FrameBatch``, as a receiver would log
        them: time = epoch_s + reception time, no signal level or counter, offset = 1-based row here."""
        from ..sources.batch import FrameBatch

        sel = np.arange(len(self))[rows]
        n = sel.size
        return FrameBatch(time=epoch_s + self.time[sel], frame=self.emitted.frame[self.index[sel]].copy(),
                          signal=np.full(n, np.nan), ticks=np.full(n, -1, dtype=np.int64),
                          offset=(sel + 1).astype(np.int64))


def receive_adsb(receivers: list[SensorSite], truth: Truth, emitted: EmittedFrames,
                 rngs: list[np.random.Generator]) -> ReceivedFrames:
    """The frames of ``emitted`` that the ``receivers`` (adsb sites, one generator each) hear (module doc)."""
    n = len(emitted)
    position, _ = truth.state_at(emitted.time, emitted.truth_index)
    best_time = np.full(n, np.inf)
    best_receiver = np.full(n, -1, dtype=np.int64)
    got = []
    counts = {}
    for site, rng in zip(receivers, rngs):
        cfg = ReceiverConfig.from_site(site)
        range_m, beyond, below = reach(site, cfg, position)
        in_reach = np.isfinite(range_m) & ~beyond & ~below
        lost = rng.random(n) < cfg.message_loss_probability  # one draw per frame, in reach or not
        heard = in_reach & ~lost
        t_rx = emitted.time + range_m / SPEED_OF_LIGHT_MPS
        first = heard & (t_rx < best_time)
        best_time[first] = t_rx[first]
        best_receiver[first] = site.index
        got.append(heard)
        counts[site.name] = {"in_reach": int(in_reach.sum()), "beyond_range": int(beyond.sum()),
                             "below_horizon": int((below & ~beyond).sum()), "lost": int((in_reach & lost).sum()),
                             "received": int(heard.sum())}
    for site in receivers:
        counts[site.name]["first"] = int((best_receiver == site.index).sum())
    rows = np.flatnonzero(best_receiver >= 0)
    order = np.argsort(best_time[rows], kind="stable")
    rows = rows[order]
    return ReceivedFrames(emitted=emitted, index=rows, time=best_time[rows], receiver=best_receiver[rows],
                          counts=counts)


def receivable(site: SensorSite, truth: Truth, times: np.ndarray, broadcasting: np.ndarray) -> np.ndarray:
    """(n_targets, len(times)) bool: the target broadcasts ADS-B (``broadcasting`` (n_targets,) bool), is
    airborne and alive, and is within the receiver's line of sight and range at that time."""
    times = np.asarray(times, dtype=float)
    out = np.zeros((truth.n_targets, times.size), dtype=bool)
    rows = np.flatnonzero(np.asarray(broadcasting, dtype=bool))
    if rows.size == 0 or times.size == 0:
        return out
    idx = np.repeat(rows[:, None], times.size, axis=1)
    pos, vel = truth.state_at(np.broadcast_to(times[None, :], idx.shape), idx)
    range_m, beyond, below = reach(site, ReceiverConfig.from_site(site), pos)
    out[rows] = transmitting(truth, pos, vel) & np.isfinite(range_m) & ~beyond & ~below
    return out


def broadcasting_targets(truth: Truth) -> np.ndarray:
    """(n_targets,) bool: targets whose transponder table broadcasts ADS-B (validated; InputError if bad)."""
    from .adsb import transponders_from_truth

    out = np.zeros(truth.n_targets, dtype=bool)
    out[transponders_from_truth(truth).truth_index] = True
    return out
