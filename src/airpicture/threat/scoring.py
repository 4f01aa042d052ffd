"""Threat scores, levels, reasons and the ranked threat list, from a TOML scoring table (issue 5 §2).

The table (default: ``threat/default_scoring.toml``, package data; format in docs/threat.md) gives points for
a track's identity, class, speed and altitude, its worst defended point (CPA against the point's radius plus
how soon: TCPA) and its worst zone (inside now, or predicted inside within the kind's warning time). The sum is
the score; the level is the highest of ``low`` / ``medium`` / ``high`` whose threshold the score reaches
(``none`` below ``low``). Everything is vectorised over tracks x assets; reason text is formatted only for the
tracks asked for (`ThreatScores.reasons(rows)`, the ranked list).

Every error in a table is an `InputError` naming the file, the line and the field. A threat level is a call
for human attention, never an engagement decision.
"""

from __future__ import annotations


from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from ..errors import read_user_text
from ..identity.standard import CLASSES, IDENTITIES
from ..scenario.toml_lines import did_you_mean, finite_number, kind_of, TomlTableParser
from .geometry import DEFAULT_HORIZON_S, ThreatGeometry

DEFAULT_SCORING = "default_scoring.toml"
LEVELS = ("none", "low", "medium", "high")
NONE, LOW, MEDIUM, HIGH = range(len(LEVELS))

TOP_KEYS = {"description", "horizon_s", "levels", "identity", "class", "speed", "altitude", "cpa", "tcpa", "zone"}
BAND_KEYS = {"bands"}
ZONE_RULE_KEYS = {"inside", "predicted", "warning_s"}


def _zone_kinds() -> set:
    from ..scenario.loader import ZONE_KINDS

    return set(ZONE_KINDS) | {"default"}


@dataclass
class ZoneRule:
    inside: float
    predicted: float
    warning_s: float


@dataclass
class ScoringTable:
    """A parsed scoring table (see the module docstring and docs/threat.md)."""

    thresholds: np.ndarray  # (3,) low, medium, high
    identity_points: np.ndarray  # (len(IDENTITIES),) by identity code
    class_points: np.ndarray  # (len(CLASSES),) by class code
    speed_bands: np.ndarray  # (k, 2) [from, points] ascending
    altitude_bands: np.ndarray  # (k, 2) [from, points] ascending
    cpa_bands: np.ndarray  # (k, 2) [up_to (x radius), points] ascending
    tcpa_bands: np.ndarray  # (k, 2) [up_to s, points] ascending
    zone_rules: dict = field(default_factory=dict)  # kind -> ZoneRule ("default" always present)
    horizon_s: float = DEFAULT_HORIZON_S
    description: str = ""
    source: str = ""

    @classmethod
    def load(cls, path=None) -> ScoringTable:
        """The table in ``path``; None -> the default table shipped with airpicture."""
        if path is None:
            text = resources.files("airpicture.threat").joinpath(DEFAULT_SCORING).read_text(encoding="utf-8")
            return cls.parse(text, source=f"builtin:{DEFAULT_SCORING}")
        return cls.parse(read_user_text(Path(path), "threat scoring table"), source=str(path))

    @classmethod
    def parse(cls, text: str, source: str = "<string>") -> ScoringTable:
        return _Parser(text, source).table()

    def zone_rule(self, kind: str) -> ZoneRule:
        return self.zone_rules.get(kind, self.zone_rules["default"])

    def score(self, identity, track_class, speed_mps, altitude_m, geometry: ThreatGeometry,
              track_id=None) -> ThreatScores:
        """Scores and levels of n tracks; ``identity`` / ``track_class`` are int8 codes (identity/standard.py)."""
        ident = np.asarray(identity, dtype=np.int64)
        klass = np.asarray(track_class, dtype=np.int64)
        n = ident.shape[0]
        speed = np.asarray(speed_mps, dtype=float)
        alt = np.asarray(altitude_m, dtype=float)
        if ident.min(initial=0) < 0 or ident.max(initial=0) >= len(IDENTITIES):
            raise ValueError("identity codes outside identity/standard.py IDENTITIES")
        if klass.min(initial=0) < 0 or klass.max(initial=0) >= len(CLASSES):
            raise ValueError("class codes outside identity/standard.py CLASSES")
        p_ident = self.identity_points[ident]
        p_class = self.class_points[klass]
        p_speed = _from_bands(self.speed_bands, speed)
        p_alt = _from_bands(self.altitude_bands, alt)

        # defended points: CPA / radius and TCPA, for tracks inside the radius now or approaching within the
        # horizon; worked out only on the (track, point) pairs near enough for any CPA band
        pg = geometry.points
        n_pts = pg.cpa_m.shape[1] if pg.cpa_m.ndim == 2 else 0
        best_point, p_point = np.full(n, -1), np.zeros(n)
        if n_pts and n and self.cpa_bands.shape[0]:
            radius = np.asarray(geometry.point_radius_m, dtype=float)
            reach = radius * max(float(self.cpa_bands[-1, 0]), 1.0)
            ti, pj = np.nonzero(pg.cpa_m <= reach[None, :])
            rng_, cpa_, tcpa_ = pg.range_m[ti, pj], pg.cpa_m[ti, pj], pg.tcpa_s[ti, pj]
            inside_r = rng_ <= radius[pj]
            coming = (tcpa_ > 0.0) & (tcpa_ <= self.horizon_s)
            ratio = np.where(inside_r, rng_, cpa_) / radius[pj]
            cpa_pts = np.where(inside_r | coming, _up_to_bands(self.cpa_bands, ratio), 0.0)
            tcpa_pts = np.where(cpa_pts > 0.0, _up_to_bands(self.tcpa_bands, np.where(inside_r, 0.0, tcpa_)), 0.0)
            total = cpa_pts + tcpa_pts
            # worst point: most points, then the smallest CPA ratio
            _best_per_row(total, total - 1e-6 * np.minimum(ratio, 1e5), ti, pj, best_point, p_point)

        # zones: inside now, or entry predicted within the kind's warning time (pairs only)
        zg = geometry.zones
        n_z = zg.inside.shape[1] if zg.inside.ndim == 2 else 0
        best_zone, p_zone = np.full(n, -1), np.zeros(n)
        if n_z and n:
            rules = [self.zone_rule(k) for k in geometry.zone_kinds]
            z_in = np.array([r.inside for r in rules], dtype=float)
            z_pred = np.array([r.predicted for r in rules], dtype=float)
            z_warn = np.array([r.warning_s for r in rules], dtype=float)
            ti, zj = np.nonzero(zg.entry_s <= np.minimum(z_warn, zg.horizon_s)[None, :])
            inside = zg.inside[ti, zj]
            zp = np.where(inside, z_in[zj], z_pred[zj])
            _best_per_row(zp, zp - 1e-9 * np.minimum(zg.entry_s[ti, zj], 1e6), ti, zj, best_zone, p_zone)

        score = p_ident + p_class + p_speed + p_alt + p_point + p_zone
        level = np.searchsorted(self.thresholds, score, side="right").astype(np.int8)
        ids = np.arange(n, dtype=np.int64) if track_id is None else np.asarray(track_id, dtype=np.int64)
        out = ThreatScores(track_id=ids, score=score, level=level, identity=ident, track_class=klass,
                           point=best_point, zone=best_zone,
                           components={"identity": p_ident, "class": p_class, "speed": p_speed,
                                       "altitude": p_alt, "point": p_point, "zone": p_zone},
                           geometry=geometry)
        return out


@dataclass
class ThreatScores:
    """Per track (n,): score, level (0 none .. 3 high), worst point / zone index (-1 none), reasons."""

    track_id: np.ndarray
    score: np.ndarray
    level: np.ndarray
    identity: np.ndarray
    track_class: np.ndarray
    point: np.ndarray
    zone: np.ndarray
    components: dict
    geometry: ThreatGeometry

    def __len__(self) -> int:
        return int(self.score.shape[0])

    def level_names(self) -> np.ndarray:
        return np.asarray(LEVELS, dtype=object)[self.level.astype(np.int64)]

    def reasons(self, rows=None) -> np.ndarray:
        """Reason text of the given rows (all when None), e.g.
        "Suspect UAV, CPA 0.8 km in 190 s to Airbase, inside the control zone CTR North"."""
        n = len(self)
        out = np.full(n, "", dtype=object)
        rows = np.arange(n) if rows is None else np.asarray(rows, dtype=np.int64)
        g = self.geometry
        for i in rows:
            out[i] = _reason(self, g, int(i))
        return out

    def ranked(self, min_level: int | str = LOW, limit: int | None = None) -> list[dict]:
        """Tracks at ``min_level`` or above, highest level first, then highest score, then the soonest danger
        (TCPA to the worst point or entry into the worst zone), then track id; the first ``limit`` of them
        (all when None), each with its reason (formatted only for these)."""
        lvl = LEVELS.index(min_level) if isinstance(min_level, str) else int(min_level)
        rows = np.flatnonzero(self.level >= lvl)
        if rows.size == 0:
            return []
        soon = np.full(len(self), np.inf)
        g = self.geometry
        has_p = self.point >= 0
        if has_p.any():
            idx = np.flatnonzero(has_p)
            soon[idx] = np.maximum(g.points.tcpa_s[idx, self.point[idx]], 0.0)
        has_z = self.zone >= 0
        if has_z.any():
            idx = np.flatnonzero(has_z)
            soon[idx] = np.minimum(soon[idx], g.zones.entry_s[idx, self.zone[idx]])
        order = np.lexsort((self.track_id[rows], soon[rows], -self.score[rows], -self.level[rows].astype(int)))
        rows = rows[order][:limit]
        out = []
        for rank, i in enumerate(rows, start=1):
            text = _reason(self, g, int(i))
            out.append({"rank": rank, "track_id": int(self.track_id[i]), "level": LEVELS[int(self.level[i])],
                        "score": float(self.score[i]), "reason": text})
        return out


def _reason(s: ThreatScores, g: ThreatGeometry, i: int) -> str:
    ident = IDENTITIES[int(s.identity[i])].replace("_", " ").capitalize()
    klass = CLASSES[int(s.track_class[i])]
    klass_word = {"uav": "UAV", "unknown": "track", "fixed_wing": "fixed wing", "rotary_wing": "rotary wing"}.get(
        klass, klass)
    parts = [f"{ident} {klass_word}"]
    j = int(s.point[i])
    if j >= 0:
        name = g.point_names[j]
        rng = float(g.points.range_m[i, j])
        if rng <= float(g.point_radius_m[j]):
            parts.append(f"within {g.point_radius_m[j] / 1000:.1f} km of {name} ({rng / 1000:.1f} km)")
        else:
            parts.append(f"CPA {g.points.cpa_m[i, j] / 1000:.1f} km in {g.points.tcpa_s[i, j]:.0f} s to {name}")
    k = int(s.zone[i])
    if k >= 0:
        kind = g.zone_kinds[k].replace("_", " ")
        if g.zones.inside[i, k]:
            parts.append(f"inside the {kind} {g.zone_names[k]}")
        else:
            parts.append(f"entering the {kind} {g.zone_names[k]} in {g.zones.entry_s[i, k]:.0f} s")
    return ", ".join(parts)


def _best_per_row(points, key, rows, cols, best_col, best_points) -> None:
    """For each row, the column of the pair with the highest ``key`` among pairs with points > 0 (in place)."""
    sel = points > 0.0
    if not sel.any():
        return
    rows, cols, key, points = rows[sel], cols[sel], key[sel], points[sel]
    order = np.lexsort((key, rows))
    r = rows[order]
    last = order[np.r_[r[1:] != r[:-1], True]]
    best_col[rows[last]] = cols[last]
    best_points[rows[last]] = points[last]


def _from_bands(bands: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Points of the last band whose `from` the value reaches (0 below the first band, or NaN values)."""
    if bands.shape[0] == 0:
        return np.zeros(values.shape)
    idx = np.searchsorted(bands[:, 0], np.nan_to_num(values, nan=-np.inf), side="right") - 1
    return np.where(idx >= 0, bands[np.maximum(idx, 0), 1], 0.0)


def _up_to_bands(bands: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Points of the first band whose `up_to` the value does not exceed (0 above the last, or NaN)."""
    if bands.shape[0] == 0:
        return np.zeros(values.shape)
    idx = np.searchsorted(bands[:, 0], np.nan_to_num(values, nan=np.inf), side="left")
    return np.where(idx < bands.shape[0], bands[np.minimum(idx, bands.shape[0] - 1), 1], 0.0)


# ------------------------------------------------------------------------------------------------ parsing

_finite_number = finite_number


class _Parser(TomlTableParser):

    def sub(self, key: str) -> dict:
        if key not in self.raw:
            raise self.fail((), f"missing required table [{key}]")
        value = self.raw[key]
        if not isinstance(value, dict):
            raise self.fail((key,), f"expected a table, found {kind_of(value)}")
        return value

    def number(self, table: dict, key: str, path: tuple, *, low=-np.inf, required=True, default=None) -> float:
        if key not in table:
            if required:
                raise self.fail(path, f"missing required key '{key}'")
            return default
        value = table[key]
        if not _finite_number(value):
            raise self.fail(path + (key,), f"expected a finite number, found {kind_of(value)} {value!r}")
        if value < low:
            raise self.fail(path + (key,), f"{value!r} is below the minimum {low:g}")
        return float(value)

    def points_by_name(self, key: str, names: tuple, what: str) -> np.ndarray:
        table = self.sub(key)
        out = np.zeros(len(names))
        canon = {}
        for name in table:
            c = str(name).strip().lower().replace(" ", "_").replace("-", "_")
            if c not in names:
                raise self.fail((key, name), f"unknown {what} '{name}'{did_you_mean(c, names)}; "
                                             f"known: {', '.join(names)}")
            if c in canon:
                raise self.fail((key, name), f"{what} '{c}' listed twice ('{canon[c]}' and '{name}')")
            canon[c] = name
            out[names.index(c)] = self.number(table, name, (key,))
        missing = [n for n in names if n not in canon]
        if missing:
            raise self.fail((key,), f"no points for {what} {', '.join(missing)} (every {what} must be listed)")
        return out

    def bands(self, key: str) -> np.ndarray:
        table = self.sub(key)
        self.check_keys(table, BAND_KEYS, (key,), f"[{key}] key")
        path = (key, "bands")
        if "bands" not in table:
            raise self.fail((key,), "missing required key 'bands' ([[bound, points], ...])")
        raw = table["bands"]
        if not isinstance(raw, list):
            raise self.fail(path, f"expected an array of [bound, points], found {kind_of(raw)}")
        rows = []
        for k, band in enumerate(raw):
            if (not isinstance(band, list) or len(band) != 2
                    or not all(_finite_number(x) for x in band)):
                raise self.fail(path, f"band {k + 1} is {band!r}; expected [bound, points], two finite numbers")
            if rows and band[0] <= rows[-1][0]:
                raise self.fail(path, f"band {k + 1} bound {band[0]!r} must be above band {k}'s {rows[-1][0]!r} "
                                      "(ascending bounds)")
            rows.append((float(band[0]), float(band[1])))
        return np.array(rows, dtype=float).reshape(-1, 2)

    def table(self) -> ScoringTable:
        raw = self.raw
        self.check_keys(raw, TOP_KEYS, (), "top-level key")
        description = raw.get("description", "")
        if not isinstance(description, str):
            raise self.fail(("description",), f"expected text, found {kind_of(description)}")
        horizon = self.number(raw, "horizon_s", (), low=1.0, required=False, default=DEFAULT_HORIZON_S)
        levels = self.sub("levels")
        self.check_keys(levels, {"low", "medium", "high"}, ("levels",), "level")
        th = [self.number(levels, k, ("levels",)) for k in ("low", "medium", "high")]
        if not th[0] < th[1] < th[2]:
            field_ = "medium" if th[1] <= th[0] else "high"
            raise self.fail(("levels", field_), f"thresholds must rise: low {th[0]:g} < medium {th[1]:g} "
                                                f"< high {th[2]:g}")
        identity = self.points_by_name("identity", IDENTITIES, "identity")
        klass = self.points_by_name("class", CLASSES, "class")
        speed, altitude = self.bands("speed"), self.bands("altitude")
        cpa, tcpa = self.bands("cpa"), self.bands("tcpa")
        for key, arr in (("cpa", cpa), ("tcpa", tcpa)):
            if arr.size and arr[0, 0] < 0:
                raise self.fail((key, "bands"), f"bounds must be >= 0, found {arr[0, 0]:g}")
        kinds = _zone_kinds()
        zone_tab = self.sub("zone")
        rules = {}
        for kind, rule in zone_tab.items():
            here = ("zone", kind)
            if kind not in kinds:
                raise self.fail(here, f"unknown zone kind '{kind}'{did_you_mean(kind, kinds)}; "
                                      f"known: {', '.join(sorted(kinds))}")
            if not isinstance(rule, dict):
                raise self.fail(here, f"expected a table, found {kind_of(rule)}")
            self.check_keys(rule, ZONE_RULE_KEYS, here, "zone rule key")
            rules[kind] = ZoneRule(inside=self.number(rule, "inside", here),
                                   predicted=self.number(rule, "predicted", here),
                                   warning_s=self.number(rule, "warning_s", here, low=0.0))
        if "default" not in rules:
            raise self.fail(("zone",), "missing required table [zone.default]")
        return ScoringTable(thresholds=np.array(th), identity_points=identity, class_points=klass,
                            speed_bands=speed, altitude_bands=altitude, cpa_bands=cpa, tcpa_bands=tcpa,
                            zone_rules=rules, horizon_s=horizon, description=description, source=self.source)


def load_scoring(path=None) -> ScoringTable:
    return ScoringTable.load(path)


# ---------------------------------------------------------------------------------------- convenience

def evaluate(states, assets, table: ScoringTable | None = None, *, points=None, zones=None) -> ThreatScores:
    """Geometry and scores of a `TrackStates` snapshot: ``extra["identity"]`` and ``extra["track_class_id"]``
    (int8 codes; missing -> unknown), speed and geodetic altitude from the state."""
    from ..geo import ecef_to_geodetic
    from ..identity.standard import CLASS_UNKNOWN, UNKNOWN
    from .geometry import threat_geometry

    table = table or ScoringTable.load()
    n = len(states)
    pos = np.asarray(states.position, dtype=float).reshape(n, 3)
    vel = np.asarray(states.velocity, dtype=float).reshape(n, 3)
    extra = states.extra or {}
    ident = np.asarray(extra.get("identity", np.full(n, UNKNOWN)), dtype=np.int64)
    klass = np.asarray(extra.get("track_class_id", np.full(n, CLASS_UNKNOWN)), dtype=np.int64)
    geom = threat_geometry(pos, vel, assets, table.horizon_s, points=points, zones=zones)
    _, _, alt = ecef_to_geodetic(pos) if n else (None, None, np.zeros(0))
    return table.score(ident, klass, np.linalg.norm(vel, axis=1), alt, geom, track_id=states.track_id)
