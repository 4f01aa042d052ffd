"""Spoof and inconsistency detection (issue 4 §5): per-track flags from the fused picture.

`SpoofDetector.update(snapshot, t, decoder, plots=None)` is called once per evaluation step, after the tracker's
snapshot and before the identity engine. It returns a `SpoofEvidence` - the ``spoof``, ``spoof_reason`` and
``spoof_offset_m`` columns ``identity.evidence.build_evidence(spoof=...)`` and ``IdentityEngine.update(spoof=...)``
accept - aligned with the snapshot's rows. Five checks, vectorised over tracks:

``adsb_radar_offset`` (the ASTERIX CAT062 AFF flag: ADS-B inconsistent with other surveillance)
    a) An ADS-B track that a radar should see - inside its coverage, above its 4/3-earth horizon, outside its
       MTI notch (with a margin), expected Pd >= ``min_pd`` for an aircraft of the claimed emitter category -
       gets no plot from that radar for ``min_unsupported_looks`` expected looks (scans weighted by Pd), while a
       radar track without an address moves alongside it (speed within ``pair_max_speed_diff_mps``, farther
       than the two tracks' position uncertainty allows, within ``pair_max_distance_m``). That is how a
       spoofer broadcasting a position kilometres from where it is shows in the fused tracker: its reports
       start a transponder-only track, and the radar's plots of the real aircraft build an address-less track
       beside it. The ADS-B track is flagged with the offset between the two; the radar track is flagged as its
       likely true position, with the same offset.
    b) With radar plots (``plots``): plots of a radar persistently off the ADS-B-fed track they fall nearest
       to, when the offset is small enough for the plots to update that track. The radar-minus-track offset is
       estimated by weighted least squares in the track's horizontal plane (range residuals weighted by the
       range sigma, azimuth residuals by range x azimuth sigma), with exponential forgetting
       (``bias_time_constant_s``); flagged when it is at least ``bias_min_m`` and ``bias_chi2`` (about 4.5
       sigma) from zero over at least ``bias_min_plots`` plots.
``adsb_not_seen_by_radar``
    An ADS-B track that a radar should see (as in a) gets no plot for ``min_unsupported_looks_alone`` expected
    looks and no radar track moves alongside: a ghost (a false track broadcast from elsewhere), or an aircraft
    much smaller than it claims. No offset (NaN).
``impossible_jump``
    The tracker restarted the track from a report far from it (``restarts`` / ``last_jump_m`` in the
    snapshot) by at least ``jump_min_m`` while transponder reports were feeding it, and/or the decoder's Mode S
    filter rejected positions of the address as faster than Mach 1.5 (``ModeSFilter.impossible_by_key``):
    together at least ``jump_min_events`` such events within ``event_window_s``. One bad report is one event
    and does not raise the flag.
``address_in_two_places``
    One ICAO address whose positions keep contradicting each other: at least ``two_places_rejections``
    impossible-speed rejections or ``two_places_restarts`` restarts within ``event_window_s`` (two transmitters
    with one address alternate), or two live tracks carrying the address at once.
``address_nationality``
    The address lies in one State's block (ICAO Annex 10 Vol III, Part I, Chapter 9, Appendix, Table 9-1;
    `ADDRESS_BLOCKS` below, the major States) while the callsign is an aircraft registration of another
    (nationality marks of ICAO Annex 7: F-GKXA sent as FGKXA, D-AIBA as DAIBA, G-EUPT, N123AB, EC-MKX ...).
    Only where both are known: an airline callsign (three-letter designator and a flight number) or an address
    outside the table says nothing.

Latching: a check's flag is raised once its condition held on ``raise_updates`` consecutive updates of the
track, and cleared once the condition has been absent for ``clear_after_s`` seconds and at least
``raise_updates`` consecutive updates: one noisy update neither raises nor clears a flag. Event checks
(jumps, rejections) hold their condition while enough events lie within ``event_window_s``. While the
condition holds the reason text shows the latest numbers; afterwards the flag keeps the last ones.

Inputs the detector reads (all optional except the snapshot): ``snapshot.extra`` columns ``icao24``,
``callsign``, ``category``, ``source_mask`` (bit i: sensor i updated the track lately), ``restarts``,
``last_jump_m``, ``last_jump_time``; the snapshot's position, velocity, position covariance and class hint;
the decoder's ``filter.impossible_by_key`` (and its identity table when the snapshot has no callsign); the radar
plots of the step. Everything else comes from the sensor list given at construction (radar geometry: the
simulation's own `sensors.radar.look_geometry`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from .. import geo
from ..scenario.toml_lines import finite_number
from ..tracks import TrackStates
from .rules import clock

KINDS = ("adsb_radar_offset", "adsb_not_seen_by_radar", "impossible_jump", "address_in_two_places",
         "address_nationality")
AFF, GHOST, JUMP, TWO_PLACES, NATIONALITY = range(len(KINDS))

# Radar cross-section assumed for an aircraft of the emitter category it broadcasts, m^2: on the small side
# of each category, so "a radar should see it" is not claimed for a small aircraft.
CATEGORY_RCS_M2 = {"A1": 1.0, "A2": 2.0, "A3": 5.0, "A4": 5.0, "A5": 10.0, "A6": 1.0, "A7": 2.0}
DEFAULT_RCS_M2 = 1.0       # unknown category (and B/C/D categories: gliders, balloons, UAVs: 0.1)
SMALL_RCS_M2 = 0.1


# ------------------------------------------------------------------------ address blocks and registrations
#
# ICAO Annex 10 Vol III, Part I, Chapter 9, Appendix, Table 9-1 allocates the 24-bit addresses to States in
# blocks (a State's block is the addresses that start with its bit pattern). Only the States below are known
# here: the major ones, and those around the scenarios' airspace. Each row: State, first and last address of
# its block, its nationality marks (ICAO Annex 7), and the registration form after the mark, as a regular
# expression on the flight identification without the hyphen ("L3" = three letters, the common form).
#
# Body forms: L3 three letters (EC-MKX -> ECMKX), L4 four letters (F-GKXA -> FGKXA), CA Canada (C-FABC, C-GABC),
# US N-numbers (N1 to N99999, N1A to N9999Z, N1AB to N999ZZ; no I or O), JA Japan (JA8089, JA731A, JA01XJ),
# D5 five digits (RA-12345), D4 four digits (HL7611).
_BODY = {
    "L3": "[A-Z]{3}",
    "L4": "[A-Z]{4}",
    "CA": "[FG][A-Z]{3}",
    "US": "[1-9][0-9]{0,4}|[1-9][0-9]{0,3}[A-HJ-NP-Z]|[1-9][0-9]{0,2}[A-HJ-NP-Z]{2}",
    "JA": "[0-9]{4}|[0-9]{3}[A-Z]|[0-9]{2}[A-Z]{2}",
    "D5": "[0-9]{5}",
    "D4": "[0-9]{4}",
}
ADDRESS_BLOCKS: tuple[tuple[str, int, int, tuple[str, ...], str], ...] = (
    # State                 first      last       marks                        body
    ("South Africa",        0x008000, 0x00FFFF, ("ZS", "ZT", "ZU"),          "L3"),
    ("Egypt",               0x010000, 0x017FFF, ("SU",),                     "L3"),
    ("Libya",               0x018000, 0x01FFFF, ("5A",),                     "L3"),
    ("Morocco",             0x020000, 0x027FFF, ("CN",),                     "L3"),
    ("Tunisia",             0x028000, 0x02FFFF, ("TS",),                     "L3"),
    ("Algeria",             0x0A0000, 0x0A7FFF, ("7T",),                     "L3"),
    ("Mexico",              0x0D0000, 0x0D7FFF, ("XA", "XB", "XC"),          "L3"),
    ("Russia",              0x100000, 0x1FFFFF, ("RA", "RF"),                "D5"),
    ("Italy",               0x300000, 0x33FFFF, ("I",),                      "L4"),
    ("Spain",               0x340000, 0x37FFFF, ("EC", "EM"),                "L3"),
    ("France",              0x380000, 0x3BFFFF, ("F",),                      "L4"),
    ("Germany",             0x3C0000, 0x3FFFFF, ("D",),                      "L4"),
    ("United Kingdom",      0x400000, 0x43FFFF, ("G",),                      "L4"),
    ("Austria",             0x440000, 0x447FFF, ("OE",),                     "L3"),
    ("Belgium",             0x448000, 0x44FFFF, ("OO",),                     "L3"),
    ("Bulgaria",            0x450000, 0x457FFF, ("LZ",),                     "L3"),
    ("Denmark",             0x458000, 0x45FFFF, ("OY",),                     "L3"),
    ("Finland",             0x460000, 0x467FFF, ("OH",),                     "L3"),
    ("Greece",              0x468000, 0x46FFFF, ("SX",),                     "L3"),
    ("Hungary",             0x470000, 0x477FFF, ("HA",),                     "L3"),
    ("Norway",              0x478000, 0x47FFFF, ("LN",),                     "L3"),
    ("Netherlands",         0x480000, 0x487FFF, ("PH",),                     "L3"),
    ("Poland",              0x488000, 0x48FFFF, ("SP",),                     "L3"),
    ("Portugal",            0x490000, 0x497FFF, ("CS",),                     "L3"),
    ("Czech Republic",      0x498000, 0x49FFFF, ("OK",),                     "L3"),
    ("Romania",             0x4A0000, 0x4A7FFF, ("YR",),                     "L3"),
    ("Sweden",              0x4A8000, 0x4AFFFF, ("SE",),                     "L3"),
    ("Switzerland",         0x4B0000, 0x4B7FFF, ("HB",),                     "L3"),
    ("Turkey",              0x4B8000, 0x4BFFFF, ("TC",),                     "L3"),
    ("Serbia",              0x4C0000, 0x4C7FFF, ("YU",),                     "L3"),
    ("Cyprus",              0x4C8000, 0x4C83FF, ("5B",),                     "L3"),
    ("Ireland",             0x4CA000, 0x4CAFFF, ("EI", "EJ"),                "L3"),
    ("Iceland",             0x4CC000, 0x4CCFFF, ("TF",),                     "L3"),
    ("Luxembourg",          0x4D0000, 0x4D03FF, ("LX",),                     "L3"),
    ("Malta",               0x4D2000, 0x4D2FFF, ("9H",),                     "L3"),
    ("Monaco",              0x4D4000, 0x4D43FF, ("3A",),                     "L3"),
    ("Croatia",             0x501C00, 0x501FFF, ("9A",),                     "L3"),
    ("Latvia",              0x502C00, 0x502FFF, ("YL",),                     "L3"),
    ("Lithuania",           0x503C00, 0x503FFF, ("LY",),                     "L3"),
    ("Slovakia",            0x505C00, 0x505FFF, ("OM",),                     "L3"),
    ("Slovenia",            0x506C00, 0x506FFF, ("S5",),                     "L3"),
    ("Ukraine",             0x508000, 0x50FFFF, ("UR",),                     "L3"),
    ("Estonia",             0x511000, 0x5113FF, ("ES",),                     "L3"),
    ("Saudi Arabia",        0x710000, 0x717FFF, ("HZ",),                     "L3"),
    ("South Korea",         0x718000, 0x71FFFF, ("HL",),                     "D4"),
    ("Israel",              0x738000, 0x73FFFF, ("4X",),                     "L3"),
    ("Singapore",           0x768000, 0x76FFFF, ("9V",),                     "L3"),
    ("Australia",           0x7C0000, 0x7FFFFF, ("VH",),                     "L3"),
    ("India",               0x800000, 0x83FFFF, ("VT",),                     "L3"),
    ("Japan",               0x840000, 0x87FFFF, ("JA",),                     "JA"),
    ("Thailand",            0x880000, 0x887FFF, ("HS",),                     "L3"),
    ("United Arab Emirates", 0x896000, 0x896FFF, ("A6",),                    "L3"),
    ("Qatar",               0x06A000, 0x06A3FF, ("A7",),                     "L3"),
    ("United States",       0xA00000, 0xAFFFFF, ("N",),                      "US"),
    ("Canada",              0xC00000, 0xC3FFFF, ("C",),                      "CA"),
    ("New Zealand",         0xC80000, 0xC87FFF, ("ZK",),                     "L3"),
    ("Argentina",           0xE00000, 0xE3FFFF, ("LV", "LQ"),                "L3"),
    ("Brazil",              0xE40000, 0xE7FFFF, ("PP", "PR", "PS", "PT", "PU"), "L3"),
)
_BLOCK_FIRST = np.array([b[1] for b in ADDRESS_BLOCKS], dtype=np.int64)
_BLOCK_LAST = np.array([b[2] for b in ADDRESS_BLOCKS], dtype=np.int64)
_REGISTRATION = re.compile("|".join(
    f"(?P<s{i}>(?:{'|'.join(marks)})(?:{_BODY[body]}))" for i, (_, _, _, marks, body) in enumerate(ADDRESS_BLOCKS)))


def address_state(icao24) -> np.ndarray:
    """(n,) int: row of `ADDRESS_BLOCKS` whose block holds each address (hex text or int), -1 outside them."""
    arr = np.asarray(icao24)
    if arr.dtype.kind in "iu":
        value = arr.astype(np.int64)
    else:
        value = _hex_to_int(arr.astype(object))
    inside = (value[:, None] >= _BLOCK_FIRST[None, :]) & (value[:, None] <= _BLOCK_LAST[None, :])
    return np.where(inside.any(axis=1), inside.argmax(axis=1), -1) if value.size else np.zeros(0, np.int64)


def registration_state(callsign: str) -> tuple[int, str]:
    """(row of `ADDRESS_BLOCKS`, nationality mark) when the callsign is a registration of a known form, else
    (-1, ''). The whole callsign must match (an airline callsign has a three-letter designator and a flight
    number, so never matches)."""
    text = (callsign or "").strip().upper().replace("-", "")
    m = _REGISTRATION.fullmatch(text)
    if m is None:
        return -1, ""
    row = int(m.lastgroup[1:])
    mark = next(mk for mk in sorted(ADDRESS_BLOCKS[row][3], key=len, reverse=True) if text.startswith(mk))
    return row, mark


def _hex_to_int(text: np.ndarray) -> np.ndarray:
    """Hex address text -> int64, -1 where empty or not hex; one conversion per distinct value."""
    if text.size == 0:
        return np.zeros(0, np.int64)
    uniq, inverse = np.unique(text.astype(str), return_inverse=True)
    out = np.full(uniq.size, -1, np.int64)
    for i, s in enumerate(uniq.tolist()):
        try:
            out[i] = int(s, 16) if s else -1
        except ValueError:
            pass
    return out[inverse.reshape(-1)]


# ------------------------------------------------------------------------------------------- configuration

@dataclass
class SpoofConfig:
    """Thresholds of the checks (module docstring); defaults are what the demo and the tests use."""

    raise_updates: int = 2                # consecutive updates a condition must hold to raise a flag
    clear_after_s: float = 60.0           # ... and be absent (also for raise_updates updates) to clear it
    event_window_s: float = 60.0          # events (restarts, rejections) count for this long
    min_unsupported_looks: float = 2.0    # expected radar looks without a plot, with a radar track alongside
    min_unsupported_looks_alone: float = 6.0  # ... without one
    min_pd: float = 0.5                   # a look counts when the expected Pd is at least this
    notch_margin_mps: float = 5.0         # outside the MTI notch by this much
    max_look_interval_s: float = 60.0     # a longer gap between updates counts as this long
    pair_max_distance_m: float = 50_000.0
    pair_max_speed_diff_mps: float = 60.0  # horizontal velocity difference of a radar track moving alongside
    pair_min_d2: float = 25.0             # Mahalanobis^2 of the two positions: separate, not one track twice
    offset_time_constant_s: float = 20.0  # the reported offset is smoothed over this time
    bias_min_m: float = 250.0             # radar plots off the ADS-B track by at least this ...
    bias_chi2: float = 25.0               # ... and significantly (2 degrees of freedom: 5 sigma)
    bias_min_plots: float = 4.0           # ... over at least this many plots (exponentially weighted)
    bias_time_constant_s: float = 60.0
    plot_gate_d2: float = 25.0            # a plot belongs to its nearest track within this normalised distance^2
    jump_min_m: float = 3000.0            # a restart's jump counts when at least this far
    jump_min_events: int = 2              # restarts + impossible-speed rejections within the window
    two_places_rejections: int = 6        # impossible-speed rejections within the window: two transmitters
    two_places_restarts: int = 3

    @classmethod
    def from_dict(cls, d: Mapping | None) -> SpoofConfig:
        from ..errors import InputError

        d = dict(d or {})
        names = {f.name for f in cls.__dataclass_fields__.values()}
        for key, value in d.items():
            if key not in names:
                raise InputError(f"unknown spoof setting '{key}'; known: {', '.join(sorted(names))}",
                                 field=f"spoof.{key}")
            if not finite_number(value) or value < 0:
                raise InputError(f"{value!r} is not a non-negative number", field=f"spoof.{key}")
        return cls(**d)


@dataclass
class SpoofEvidence:
    """Per-track spoof evidence, rows aligned with the snapshot given to `SpoofDetector.update`.

    ``track_id``, ``spoof``, ``spoof_reason`` and ``spoof_offset_m`` are the columns
    ``identity.evidence`` reads (pass the object as ``spoof=``). ``spoof_kinds`` lists the raised checks
    (';'-joined names of `KINDS`); ``related_track`` is, for an ADS-B track flagged with a radar track
    alongside, that radar track (its likely true position), and for that radar track the ADS-B track; -1
    otherwise.
    """

    track_id: np.ndarray
    spoof: np.ndarray
    spoof_reason: np.ndarray
    spoof_offset_m: np.ndarray
    spoof_kinds: np.ndarray
    related_track: np.ndarray

    def __len__(self) -> int:
        return int(self.track_id.shape[0])

    def columns(self) -> dict:
        """The columnar form ``{"track_id": ..., "spoof": ..., "spoof_reason": ..., "spoof_offset_m": ...}``."""
        return {"track_id": self.track_id, "spoof": self.spoof, "spoof_reason": self.spoof_reason,
                "spoof_offset_m": self.spoof_offset_m}

    def annotate(self, states: TrackStates) -> TrackStates:
        """``states`` (the same rows) with the columns added to ``extra`` (a shallow copy)."""
        extra = dict(states.extra or {})
        extra.update(spoof=self.spoof, spoof_reason=self.spoof_reason, spoof_offset_m=self.spoof_offset_m)
        out = states.take(slice(None))
        out.extra = extra
        return out


# per-track state: name -> (trailing shape, dtype, value of a new track). K = len(KINDS), R = radars.
def _fields(k: int, r: int) -> dict:
    return {
        "run": ((k,), np.int64, 0), "off_run": ((k,), np.int64, 0), "raised": ((k,), np.bool_, False),
        "last_true": ((k,), np.float64, -np.inf), "since": ((k,), np.float64, np.nan),
        "reason": ((k,), object, ""), "offset": ((k,), np.float64, np.nan), "related": ((k,), np.int64, -1),
        "looks": ((r,), np.float64, 0.0),
        "partner": ((), np.int64, -1), "offset_vec": ((3,), np.float64, np.nan),
        "bias_j": ((2, 2), np.float64, 0.0), "bias_g": ((2,), np.float64, 0.0), "bias_n": ((), np.float64, 0.0),
        "restarts": ((), np.int64, -1), "adsb_before": ((), np.bool_, False),
    }


@dataclass
class _Radar:
    index: int      # sensor index (bit in source_mask)
    name: str
    site: object
    cfg: object
    period_s: float


@dataclass
class _Events:
    """Event times per ICAO address (int): impossible-speed rejections and far restarts."""

    rejections: dict = field(default_factory=dict)  # address -> list of times (one entry per rejection)
    restarts: dict = field(default_factory=dict)    # address -> list of (time, jump_m)

    def prune(self, t: float, window: float) -> None:
        for table in (self.rejections, self.restarts):
            for a in list(table):
                kept = [e for e in table[a] if (e if isinstance(e, float) else e[0]) > t - window]
                if kept:
                    table[a] = kept
                else:
                    del table[a]


class SpoofDetector:
    """Spoof and inconsistency flags per track, kept across updates (module docstring).

    Parameters
    ----------
    sensors : list of SensorSite
        The scenario's sensors, in the tracker's order (``source_mask`` bit i is sensor i); radars among them
        give the "a radar should see it" geometry. Pass ``[]`` (or transponder receivers only) for a
        transponder recording: the radar checks then never fire.
    config : SpoofConfig, dict or None
    """

    def __init__(self, sensors=(), config: SpoofConfig | Mapping | None = None):
        from ..sensors.radar import RadarConfig

        self.config = config if isinstance(config, SpoofConfig) else SpoofConfig.from_dict(config)
        self.sensors = list(sensors)
        self.radars = [_Radar(i, s.name, s, cfg := RadarConfig.from_site(s), float(cfg.scan_period_s))
                       for i, s in enumerate(self.sensors) if s.kind == "radar"]
        self._radar_of_sensor = np.full(max(len(self.sensors), 1), -1, np.int64)
        for k, radar in enumerate(self.radars):
            self._radar_of_sensor[radar.index] = k
        self._adsb_bits = sum(1 << i for i, s in enumerate(self.sensors) if s.kind == "adsb")
        self._radar_bits = sum(1 << r.index for r in self.radars)
        self._fields = _fields(len(KINDS), len(self.radars))
        self._ids = np.zeros(0, np.int64)
        self._st = {name: np.full((0, *shape), fill, dtype=dtype) for name, (shape, dtype, fill)
                    in self._fields.items()}
        self._events = _Events()
        self._rejections_seen: dict[int, int] = {}
        self._registration_cache: dict[str, tuple[int, str]] = {}
        self.time = math.nan
        self.updates = 0
        self.log: list[dict] = []          # raised / cleared, oldest first
        self._records: dict[int, dict] = {}  # per flagged track: what summary() reports

    # ------------------------------------------------------------------------------------------ state

    def _align(self, ids: np.ndarray) -> None:
        """Per-track state rows in the order of ``ids`` (new tracks: defaults; vanished tracks dropped)."""
        n = ids.shape[0]
        order = np.argsort(self._ids, kind="stable")
        sorted_ids = self._ids[order]
        pos = np.searchsorted(sorted_ids, ids)
        pos_c = np.minimum(pos, max(sorted_ids.size - 1, 0))
        found = (pos < sorted_ids.size) & (sorted_ids[pos_c] == ids) if sorted_ids.size else np.zeros(n, bool)
        src = order[pos_c[found]] if sorted_ids.size else np.zeros(0, np.int64)
        new = {}
        for name, (shape, dtype, fill) in self._fields.items():
            arr = np.full((n, *shape), fill, dtype=dtype)
            arr[found] = self._st[name][src]
            new[name] = arr
        self._st = new
        self._ids = ids.copy()

    # ----------------------------------------------------------------------------------------- update

    def update(self, snapshot: TrackStates, t: float | None = None, decoder=None, plots=None) -> SpoofEvidence:
        """Evaluate the checks on one snapshot (one row per track) and return the latched flags.

        ``decoder``: the `TransponderDecoder` (or its `ModeSFilter`, or a mapping address -> cumulative
        impossible-speed rejections) that produced the transponder reports, or None. ``plots``: the radar
        plots (`MeasurementBatch`, sensor indices of the sensor list) since the previous update, or None.
        """
        cfg = self.config
        n = len(snapshot)
        t = float(t) if t is not None else (float(snapshot.time[0]) if n else self.time)
        dt = t - self.time if math.isfinite(self.time) else 0.0
        dt = min(max(dt, 0.0), cfg.max_look_interval_s)
        ids = np.asarray(snapshot.track_id, dtype=np.int64)
        if np.unique(ids).size != n:
            raise ValueError("spoof detection needs one row per track (duplicate track ids in the snapshot)")
        self._align(ids)
        st = self._st
        view = _View.of(snapshot, decoder, self._registration_cache)

        cond = np.zeros((n, len(KINDS)), bool)
        reason = np.full((n, len(KINDS)), "", dtype=object)
        offset = np.full((n, len(KINDS)), np.nan)
        related = np.full((n, len(KINDS)), -1, np.int64)

        self._radar_checks(view, t, dt, cond, reason, offset, related)
        if self.radars:
            self._plot_bias(view, t, dt, plots, cond, reason, offset)
        self._jump_checks(view, t, decoder, cond, reason)
        self._nationality(view, cond, reason)
        self._latch(t, cond, reason, offset, related)
        self.time = t
        self.updates += 1

        raised = st["raised"]
        spoof = raised.any(axis=1)
        out_reason = np.full(n, "", dtype=object)
        out_kinds = np.full(n, "", dtype=object)
        out_offset = np.full(n, np.nan)
        out_related = np.full(n, -1, np.int64)
        for i in np.flatnonzero(spoof).tolist():
            ks = np.flatnonzero(raised[i]).tolist()
            out_reason[i] = "; ".join(st["reason"][i, k] for k in ks)
            out_kinds[i] = ";".join(KINDS[k] for k in ks)
            if raised[i, AFF]:
                out_offset[i] = st["offset"][i, AFF]
                out_related[i] = st["related"][i, AFF]
        return SpoofEvidence(track_id=ids.copy(), spoof=spoof, spoof_reason=out_reason, spoof_offset_m=out_offset,
                             spoof_kinds=out_kinds, related_track=out_related)

    # ------------------------------------------------------------------------------- radar vs ADS-B

    def _radar_checks(self, v: _View, t, dt, cond, reason, offset, related) -> None:
        """Expected radar looks without a plot on ADS-B tracks; radar tracks alongside (checks a, ghost)."""
        cfg = self.config
        st = self._st
        n = v.n
        if n == 0 or not self.radars:
            return
        from ..observability import expected_pd
        from ..sensors.radar import look_geometry

        rcs = v.assumed_rcs()
        for k, radar in enumerate(self.radars):
            range_m, _, _, range_rate, visible = look_geometry(radar.site, radar.cfg, v.pos, v.vel)
            with np.errstate(invalid="ignore", divide="ignore"):
                pd = expected_pd(radar.cfg.mean_snr(range_m, rcs), radar.cfg.pfa, np.ones(n, np.int64))
                visible &= np.abs(range_rate) >= radar.cfg.mti_min_radial_speed_mps + cfg.notch_margin_mps
            supported = (v.mask & (1 << radar.index)) != 0
            looking = visible & (pd >= cfg.min_pd) & ~supported
            st["looks"][:, k] = np.where(supported, 0.0, st["looks"][:, k] + np.where(looking, pd * dt / radar.period_s,
                                                                                       0.0))
        looks = st["looks"].sum(axis=1)
        adsb_fed = v.addressed & ((v.mask & self._adsb_bits) != 0)
        radar_fed = (v.mask & self._radar_bits) != 0
        a = np.flatnonzero(adsb_fed & ~radar_fed & (looks >= min(cfg.min_unsupported_looks,
                                                                  cfg.min_unsupported_looks_alone)))
        st["partner"][~np.isin(np.arange(n), a)] = -1
        if a.size == 0:
            return
        b = np.flatnonzero(~v.addressed & radar_fed & (v.track_class != "bird"))
        partner = np.full(a.size, -1, np.int64)
        dist = np.full(a.size, np.nan)
        if b.size:
            diff = v.pos[b][None, :, :] - v.pos[a][:, None, :]                  # (a, b, 3) radar - ADS-B
            d = np.linalg.norm(diff, axis=2)
            up = v.up[a][:, None, :]
            dv = v.vel[b][None, :, :] - v.vel[a][:, None, :]
            dv_h = dv - np.sum(dv * up, axis=2, keepdims=True) * up
            cov = v.cov[a][:, None] + v.cov[b][None, :]                         # (a, b, 3, 3)
            with np.errstate(invalid="ignore"):
                d2 = np.einsum("abi,abi->ab", diff, np.linalg.solve(cov + np.eye(3) * 1e-6, diff[..., None])[..., 0])
            speed_diff = np.linalg.norm(dv_h, axis=2)
            apart = (d <= cfg.pair_max_distance_m) & (d2 >= cfg.pair_min_d2)
            ok = apart & (speed_diff <= cfg.pair_max_speed_diff_mps)
            best = np.argmin(np.where(ok, d, np.inf), axis=1)
            # an established pair holds while the radar track's velocity wobbles (a radar-only track on 10 s
            # scans at long range): twice the speed tolerance for the partner of the previous update
            found, col = _lookup(v.ids[b], st["partner"][a])
            keep = found & (st["partner"][a] >= 0)
            rows_k = np.flatnonzero(keep)
            keep[rows_k] = apart[rows_k, col[rows_k]] & (speed_diff[rows_k, col[rows_k]]
                                                         <= 2.0 * cfg.pair_max_speed_diff_mps)
            best = np.where(keep, col, best)
            ok[np.flatnonzero(keep), col[keep]] = True
            has = ok.any(axis=1)
            partner[has] = v.ids[b[best[has]]]
            dist[has] = d[has, best[has]]
            # the offset, smoothed while the pair holds
            vec = diff[np.arange(a.size), best]
            same = has & (st["partner"][a] == partner) & np.isfinite(st["offset_vec"][a, 0])
            alpha = 1.0 - math.exp(-dt / cfg.offset_time_constant_s) if cfg.offset_time_constant_s > 0 else 1.0
            smooth = np.where(same[:, None], st["offset_vec"][a] + alpha * (vec - st["offset_vec"][a]), vec)
            st["offset_vec"][a] = np.where(has[:, None], smooth, np.nan)
        st["partner"][a] = partner
        paired = (partner >= 0) & (looks[a] >= cfg.min_unsupported_looks)
        alone = (partner < 0) & (looks[a] >= cfg.min_unsupported_looks_alone)
        names = self._unsupported_names(a)
        row_of = {int(x): i for i, x in enumerate(v.ids.tolist())}
        for j in np.flatnonzero(paired).tolist():
            i = int(a[j])
            r = row_of[int(partner[j])]
            off = float(np.linalg.norm(st["offset_vec"][i]))
            cond[i, AFF] = True
            offset[i, AFF] = off
            related[i, AFF] = v.ids[r]
            reason[i, AFF] = (f"adsb_radar_offset {off / 1000:.1f} km: ADS-B {v.label(i)} is {off / 1000:.1f} km from "
                              f"radar track {v.ids[r]} moving alongside; no radar plot on the ADS-B position in "
                              f"{looks[i]:.0f} expected looks of {names[j]}")
            # the radar track: the aircraft's likely true position (an AFF flag too: its data contradict the
            # ADS-B); the nearest ADS-B track wins when two point at it
            if not cond[r, AFF] or off < offset[r, AFF]:
                cond[r, AFF] = True
                offset[r, AFF] = off
                related[r, AFF] = v.ids[i]
                reason[r, AFF] = (f"adsb_radar_offset {off / 1000:.1f} km: likely true position of ADS-B "
                                  f"{v.label(i)} (track {v.ids[i]}), which the radar does not see there")
        for j in np.flatnonzero(alone).tolist():
            i = int(a[j])
            cond[i, GHOST] = True
            reason[i, GHOST] = (f"adsb_not_seen_by_radar: no radar plot on ADS-B {v.label(i)} in {looks[i]:.0f} "
                                f"expected looks of {names[j]}, and no radar track moves alongside within "
                                f"{cfg.pair_max_distance_m / 1000:.0f} km")

    def _unsupported_names(self, rows) -> list[str]:
        looks = self._st["looks"][rows]
        return [" and ".join(r.name for k, r in enumerate(self.radars) if looks[j, k] > 0) or "the radars"
                for j in range(len(rows))]

    def _plot_bias(self, v: _View, t, dt, plots, cond, reason, offset) -> None:
        """Radar plots persistently off the ADS-B-fed track they fall nearest to (check b)."""
        cfg = self.config
        st = self._st
        decay = math.exp(-dt / cfg.bias_time_constant_s) if cfg.bias_time_constant_s > 0 else 0.0
        st["bias_j"] *= decay
        st["bias_g"] *= decay
        st["bias_n"] *= decay
        if v.n and plots is not None and len(plots):
            sensor = np.asarray(plots.sensor, dtype=np.int64)
            ok = (sensor >= 0) & (sensor < self._radar_of_sensor.size)
            radar_k = np.where(ok, self._radar_of_sensor[np.where(ok, sensor, 0)], -1)
            values = np.asarray(plots.values, dtype=float)
            sigmas = np.asarray(plots.sigmas, dtype=float)
            use = (radar_k >= 0) & np.isfinite(values[:, 0]) & np.isfinite(values[:, 1]) \
                & (sigmas[:, 0] > 0) & (sigmas[:, 1] > 0)
            candidates = v.addressed & ((v.mask & self._adsb_bits) != 0)
            for k, radar in enumerate(self.radars):
                rows = np.flatnonzero(use & (radar_k == k))
                if rows.size and candidates.any():
                    self._accumulate_bias(v, t, radar, plots.time[rows], values[rows], sigmas[rows], candidates)
        j, g, w = st["bias_j"], st["bias_g"], st["bias_n"]
        det = j[:, 0, 0] * j[:, 1, 1] - j[:, 0, 1] * j[:, 1, 0]
        good = (w >= cfg.bias_min_plots) & (det > 0)
        if not good.any():
            return
        rows = np.flatnonzero(good)
        est = np.linalg.solve(j[rows], g[rows][..., None])[..., 0]            # (m, 2) radar - ADS-B, east/north
        size = np.linalg.norm(est, axis=1)
        chi2 = np.einsum("mi,mij,mj->m", est, j[rows], est)
        hit = (size >= cfg.bias_min_m) & (chi2 >= cfg.bias_chi2)
        for m in np.flatnonzero(hit).tolist():
            i = int(rows[m])
            if cond[i, AFF]:
                continue  # a radar track alongside already explains it
            cond[i, AFF] = True
            offset[i, AFF] = float(size[m])
            reason[i, AFF] = (f"adsb_radar_offset {size[m] / 1000:.2f} km: radar plots sit {size[m]:.0f} m off "
                              f"ADS-B {v.label(i)} (about {w[i]:.0f} plots, {math.sqrt(chi2[m]):.0f} sigma)")

    def _accumulate_bias(self, v: _View, t, radar: _Radar, times, values, sigmas, candidates) -> None:
        """Plots of one radar: nearest track (all tracks compete); plots nearest to an ADS-B-fed track add to
        its offset estimate (information matrix and vector in its local east/north plane)."""
        cfg = self.config
        st = self._st
        site = radar.site
        lag = (times - t)[:, None, None]                                      # (m, 1, 1)
        pred = v.pos[None, :, :] + v.vel[None, :, :] * lag                     # (m, n, 3)
        enu = site.to_enu(pred)
        r_p, az_p, el_p = geo.enu_to_polar(enu)
        ground = r_p * np.cos(el_p)
        d_range = values[:, 0:1] - r_p
        d_cross = ground * geo.wrap_angle(values[:, 1:2] - az_p)
        s_range = sigmas[:, 0:1]
        s_cross = np.maximum(ground * sigmas[:, 1:2], 1.0)
        d2 = (d_range / s_range) ** 2 + (d_cross / s_cross) ** 2
        nearest = np.argmin(d2, axis=1)
        m = np.arange(values.shape[0])
        take = (d2[m, nearest] <= cfg.plot_gate_d2) & candidates[nearest]
        if not take.any():
            return
        m, i = m[take], nearest[take]
        # line of sight and horizontal cross direction (ECEF) at the track, projected on its east/north
        los = pred[m, i] - site.ecef
        los /= np.linalg.norm(los, axis=1, keepdims=True)
        up = v.up[i]
        cross = np.cross(up, los)
        cross /= np.maximum(np.linalg.norm(cross, axis=1, keepdims=True), 1e-12)
        east, north = v.east[i], v.north[i]
        h = np.stack([np.stack([np.sum(los * east, axis=1), np.sum(los * north, axis=1)], axis=1),
                      np.stack([np.sum(cross * east, axis=1), np.sum(cross * north, axis=1)], axis=1)], axis=1)
        # azimuth grows clockwise (east of north): a positive azimuth residual lies along -cross (up x los
        # points anticlockwise, seen from above)
        z = np.stack([d_range[m, i], -d_cross[m, i]], axis=1)
        w = 1.0 / np.stack([s_range[m, 0], s_cross[m, i]], axis=1) ** 2      # (k, 2)
        info = np.einsum("kri,kr,krj->kij", h, w, h)
        vec = np.einsum("kri,kr,kr->ki", h, w, z)
        np.add.at(st["bias_j"], i, info)
        np.add.at(st["bias_g"], i, vec)
        np.add.at(st["bias_n"], i, 1.0)

    # ------------------------------------------------------------------------- jumps, two places

    def _jump_checks(self, v: _View, t, decoder, cond, reason) -> None:
        cfg = self.config
        st = self._st
        ev = self._events
        # tracker restarts: a restart since the previous update, far, while reports were feeding the track
        restarts = v.restarts
        prev = st["restarts"]
        jumped = (prev >= 0) & (restarts > prev) & (v.last_jump_m >= cfg.jump_min_m) & st["adsb_before"]
        for i in np.flatnonzero(jumped & v.addressed).tolist():
            a = int(v.address[i])
            when = float(v.last_jump_time[i]) if np.isfinite(v.last_jump_time[i]) else t
            ev.restarts.setdefault(a, []).extend([(when, float(v.last_jump_m[i]))] * int(restarts[i] - prev[i]))
        st["restarts"] = restarts.copy()
        st["adsb_before"] = (v.mask & self._adsb_bits) != 0
        # the decoder's impossible-speed rejections per address (cumulative counts)
        counts = _rejection_counts(decoder)
        for key, total in counts.items():
            new = total - self._rejections_seen.get(key, 0)
            if new > 0:
                ev.rejections.setdefault(key & 0xFFFFFF, []).extend([t] * new)
            self._rejections_seen[key] = total
        ev.prune(t, cfg.event_window_s)

        n = v.n
        n_rej = np.zeros(n, np.int64)
        n_res = np.zeros(n, np.int64)
        far = np.zeros(n)
        when = np.full(n, np.nan)
        if ev.rejections or ev.restarts:
            for table, out in ((ev.rejections, n_rej), (ev.restarts, n_res)):
                if table:
                    keys = np.fromiter(table.keys(), np.int64, len(table))
                    cnt = np.fromiter((len(x) for x in table.values()), np.int64, len(table))
                    hit, where = _lookup(keys, v.address)
                    out[hit] = cnt[where[hit]]
            if ev.restarts:
                for i in np.flatnonzero(n_res > 0).tolist():
                    last = ev.restarts[int(v.address[i])][-1]
                    when[i], far[i] = last
        jump = v.addressed & (n_rej + n_res >= cfg.jump_min_events)
        two = v.addressed & ((n_rej >= cfg.two_places_rejections) | (n_res >= cfg.two_places_restarts))
        # two live tracks carrying one address
        dup = np.zeros(n, bool)
        others = np.full(n, "", dtype=object)
        if v.addressed.sum() > 1:
            addr = v.address[v.addressed]
            _, inverse, count = np.unique(addr, return_inverse=True, return_counts=True)
            rows = np.flatnonzero(v.addressed)
            dup[rows] = count[inverse.reshape(-1)] > 1
            for i in np.flatnonzero(dup).tolist():
                same = np.flatnonzero(v.addressed & (v.address == v.address[i]))
                others[i] = " and ".join(str(v.ids[j]) for j in same)
        window = f"{cfg.event_window_s:.0f} s"
        for i in np.flatnonzero(jump).tolist():
            parts = []
            if n_res[i]:
                parts.append(f"{n_res[i]} restart{'s' if n_res[i] > 1 else ''} of its track from reports "
                             f"{far[i] / 1000:.1f} km off (last at {clock(when[i])})")
            if n_rej[i]:
                parts.append(f"{n_rej[i]} position{'s' if n_rej[i] > 1 else ''} faster than "
                             f"{_max_speed(decoder):.0f} m/s from the previous one")
            cond[i, JUMP] = True
            reason[i, JUMP] = f"impossible_jump: ADS-B {v.label(i)}: {' and '.join(parts)} in the last {window}"
        for i in np.flatnonzero(two | dup).tolist():
            if dup[i]:
                text = f"tracks {others[i]} both carry the address"
            else:
                parts = []
                if n_rej[i]:
                    parts.append(f"{n_rej[i]} of its positions contradict the previous ones (impossible speed)")
                if n_res[i]:
                    parts.append(f"its track restarted {n_res[i]} times from reports up to {far[i] / 1000:.1f} km "
                                 f"off")
                text = f"{' and '.join(parts)} in the last {window}"
            cond[i, TWO_PLACES] = True
            reason[i, TWO_PLACES] = f"address_in_two_places {v.icao[i]}: {text}"

    def _nationality(self, v: _View, cond, reason) -> None:
        have = v.addressed & (v.callsign != "")
        if not have.any():
            return
        rows = np.flatnonzero(have)
        block = address_state(v.address[rows])
        for j, i in enumerate(rows.tolist()):
            if block[j] < 0:
                continue
            reg, mark = v.registration(i)
            if reg < 0 or reg == block[j]:
                continue
            b = ADDRESS_BLOCKS[block[j]]
            cond[i, NATIONALITY] = True
            reason[i, NATIONALITY] = (f"address_nationality: address {v.icao[i]} is in the block of {b[0]} "
                                      f"({b[1]:06x}-{b[2]:06x}) but callsign {v.callsign[i]} is a "
                                      f"{ADDRESS_BLOCKS[reg][0]} registration ({mark}-)")

    # ---------------------------------------------------------------------------------------- latch

    def _latch(self, t, cond, reason, offset, related) -> None:
        cfg = self.config
        st = self._st
        st["run"] = np.where(cond, st["run"] + 1, 0)
        st["off_run"] = np.where(cond, 0, st["off_run"] + 1)
        st["last_true"] = np.where(cond, t, st["last_true"])
        raised = st["raised"]
        up = ~raised & (st["run"] >= max(cfg.raise_updates, 1))
        down = raised & ~cond & (st["off_run"] >= max(cfg.raise_updates, 1)) & (t - st["last_true"] >= cfg.clear_after_s)
        # while the condition holds, the latest text and numbers
        st["reason"] = np.where(cond, reason, st["reason"])
        st["offset"] = np.where(cond, offset, st["offset"])
        st["related"] = np.where(cond, related, st["related"])
        st["raised"] = (raised | up) & ~down
        st["since"] = np.where(up, t, np.where(down, np.nan, st["since"]))
        for i, k in zip(*np.nonzero(up | down)):
            tid = int(self._ids[i])
            entry = {"time": t, "track_id": tid, "kind": KINDS[k], "event": "raised" if up[i, k] else "cleared",
                     "reason": st["reason"][i, k]}
            if np.isfinite(st["offset"][i, k]):
                entry["offset_m"] = round(float(st["offset"][i, k]), 1)
            if st["related"][i, k] >= 0:
                entry["related_track"] = int(st["related"][i, k])
            self.log.append(entry)
            rec = self._records.setdefault(tid, {"track_id": tid, "first_raised": t, "kinds": {}})
            kind = rec["kinds"].setdefault(KINDS[k], {"raised": [], "cleared": []})
            kind["raised" if up[i, k] else "cleared"].append(t)
        for i, k in zip(*np.nonzero(st["raised"])):
            rec = self._records.get(int(self._ids[i]))
            if rec is not None:
                kind = rec["kinds"][KINDS[k]]
                kind["reason"] = st["reason"][i, k]
                if np.isfinite(st["offset"][i, k]):
                    kind["offset_m"] = round(float(st["offset"][i, k]), 1)
                if st["related"][i, k] >= 0:
                    kind["related_track"] = int(st["related"][i, k])
                rec["last_time"] = t

    # -------------------------------------------------------------------------------------- summary

    def summary(self) -> dict:
        """What was flagged: counts per check and, per flagged track, when each check was raised / cleared,
        its latest reason, offset and related track. JSON-ready."""
        per_kind = {k: 0 for k in KINDS}
        for rec in self._records.values():
            for k in rec["kinds"]:
                per_kind[k] += 1
        return {
            "updates": self.updates,
            "time": None if not math.isfinite(self.time) else self.time,
            "flagged_tracks": len(self._records),
            "tracks_per_check": per_kind,
            "settings": {k: getattr(self.config, k) for k in self.config.__dataclass_fields__},
            "radars": [r.name for r in self.radars],
            "tracks": [self._records[k] for k in sorted(self._records)],
            "log": list(self.log),
        }

    def flagged(self) -> dict[int, dict]:
        """Per flagged track (ever): its record (see `summary`)."""
        return dict(self._records)


# ------------------------------------------------------------------------------------------- helpers

class _View:
    """The snapshot columns the checks read, computed once per update."""

    def __init__(self, snapshot: TrackStates, registration_cache: dict):
        n = len(snapshot)
        self.n = n
        extra = snapshot.extra or {}
        self.ids = np.asarray(snapshot.track_id, dtype=np.int64)
        self.pos = np.asarray(snapshot.position, dtype=float).reshape(n, 3)
        self.vel = np.asarray(snapshot.velocity, dtype=float).reshape(n, 3)
        cov = snapshot.position_cov
        self.cov = np.asarray(cov, dtype=float).reshape(n, 3, 3) if cov is not None else \
            np.broadcast_to(np.eye(3) * 100.0 ** 2, (n, 3, 3))
        self.track_class = np.asarray(snapshot.track_class, dtype=object) if snapshot.track_class is not None \
            else np.full(n, "unknown", dtype=object)

        def col(name, fill, dtype):
            value = extra.get(name)
            return np.full(n, fill, dtype=dtype) if value is None else np.asarray(value).astype(dtype)

        self.icao = col("icao24", "", object)
        self.icao[np.equal(self.icao, None)] = ""
        self.address = _hex_to_int(self.icao)
        self.addressed = self.address >= 0
        self.mask = col("source_mask", 0, np.int64)
        self.restarts = col("restarts", 0, np.int64)
        self.last_jump_m = col("last_jump_m", np.nan, np.float64)
        self.last_jump_time = col("last_jump_time", np.nan, np.float64)
        self.callsign = col("callsign", "", object)
        self.category = col("category", "", object)
        lat, lon, _ = geo.ecef_to_geodetic(self.pos) if n else (np.zeros(0), np.zeros(0), None)
        sl, cl, so, co = np.sin(lat), np.cos(lat), np.sin(lon), np.cos(lon)
        self.up = np.stack([cl * co, cl * so, sl], axis=-1)
        self.east = np.stack([-so, co, np.zeros_like(so)], axis=-1)
        self.north = np.stack([-sl * co, -sl * so, cl], axis=-1)
        self._cache = registration_cache

    @classmethod
    def of(cls, snapshot, decoder, cache) -> _View:
        v = cls(snapshot, cache)
        identity = getattr(decoder, "identity", None)
        if isinstance(identity, dict) and v.n and (v.callsign == "").any():
            # the decoder's identity table fills callsigns the snapshot does not carry
            rows = np.flatnonzero((v.callsign == "") & v.addressed)
            for i in rows.tolist():
                entry = identity.get(v.icao[i], {}).get("callsign")
                if entry:
                    v.callsign[i] = entry[0]
        return v

    def label(self, i: int) -> str:
        cs = str(self.callsign[i]).strip()
        return f"{cs} ({self.icao[i]})" if cs else str(self.icao[i])

    def registration(self, i: int) -> tuple[int, str]:
        cs = str(self.callsign[i])
        if cs not in self._cache:
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[cs] = registration_state(cs)
        return self._cache[cs]

    def assumed_rcs(self) -> np.ndarray:
        cat = self.category.astype(str)
        out = np.full(self.n, DEFAULT_RCS_M2)
        for name, value in CATEGORY_RCS_M2.items():
            out[cat == name] = value
        out[np.char.startswith(cat, "B") | np.char.startswith(cat, "C") | np.char.startswith(cat, "D")] = SMALL_RCS_M2
        return out


def _lookup(keys: np.ndarray, values: np.ndarray):
    """(found, index into keys) for each value."""
    order = np.argsort(keys)
    sk = keys[order]
    pos = np.searchsorted(sk, values)
    pos_c = np.minimum(pos, max(sk.size - 1, 0))
    found = (pos < sk.size) & (sk[pos_c] == values) if sk.size else np.zeros(values.shape, bool)
    return found, order[pos_c]


def _rejection_counts(decoder) -> dict[int, int]:
    if decoder is None:
        return {}
    if isinstance(decoder, Mapping):
        return {int(k, 16) if isinstance(k, str) else int(k): int(v) for k, v in decoder.items()}
    source = getattr(decoder, "filter", decoder)
    counts = getattr(source, "impossible_by_key", None)
    return dict(counts) if isinstance(counts, dict) else {}


def _max_speed(decoder) -> float:
    source = getattr(decoder, "filter", decoder)
    return float(getattr(source, "max_speed_mps", 510.4))
