"""The identification rule table: declarative TOML, evaluated over all tracks at once.

A table has three lists of rules (docs/identity.md gives the file format):

* ``[[rule]]``: identity rules, in order, first match wins. Each gives an identity and optionally a class.
* ``[[class_rule]]``: class rules, first match wins, for rows whose identity rule gave no class.
* ``[[flag]]``: flags shown next to the identity without changing it (``emergency``); for each flag the first
  matching rule gives the reason.

A rule's ``when`` table holds conditions on evidence columns (`evidence.COLUMNS`), all of which must hold:

* ``column = literal``: equality (a bool column takes true/false, a text column text, a numeric column a number);
* ``column = [a, b, ...]``: one of;
* ``column = { min = .., max = .. }``: numeric range, bounds included, either may be left out; NaN fails;
* ``column = { contains = "name" }``: a ';'-joined text column (``in_zones``) has that element;
* ``not_column = ...``: the negation of any of these (so a missing number passes ``not_x = {min = ..}``).

``reason`` is a template: ``{column}`` or ``{column:spec}`` with a Python format spec or ``clock`` (HH:MM:SS of a
time in seconds), e.g. ``"no transponder, {speed_mps:.0f} m/s at {altitude_m:.0f} m: missile-like"``. Without
one, the reason is the rule name with the values of the columns its conditions use.

Every error in a file is an `InputError` naming the file, the line and the field.
"""

from __future__ import annotations

import math
import re
import string
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from ..errors import InputError, read_user_text
from ..scenario.toml_lines import did_you_mean, finite_number, kind_of, line_of, TomlTableParser
from .evidence import COLUMNS, TrackEvidence
from .standard import (
    CLASS_UNKNOWN,
    CLASSES,
    IDENTITIES,
    PENDING,
    UNKNOWN,
    class_code,
    identity_code,
)

FLAGS = ("emergency",)
DEFAULT_RULES = "default_rules.toml"

TOP_KEYS = {"description", "extends", "hysteresis", "rule", "class_rule", "flag"}
RULE_KEYS = {"name", "when", "identity", "class", "reason", "updates", "hold_s"}
CLASS_RULE_KEYS = {"name", "when", "class", "reason"}
FLAG_KEYS = {"name", "when", "flag", "reason"}
HYSTERESIS_KEYS = {"updates", "hold_s"}
DEFAULT_UPDATES = 2
DEFAULT_HOLD_S = 0.0


# ------------------------------------------------------------------------------------------ values

def clock(seconds: float) -> str:
    """HH:MM:SS of a time in seconds (of the day: Unix times give UTC), '?' when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "?"
    s = math.floor(seconds) % 86400
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def format_value(value, kind: str, spec: str = "") -> str:
    """One evidence value as reason text: '' -> 'none', NaN -> '?', bools yes/no, numbers rounded sensibly
    (fixed decimals of the spec; without a spec none from 100 up, one from 1 up, else 3 significant digits)."""
    if spec == "clock":
        return clock(float(value))
    if kind == "bool":
        return format("yes" if value else "no", spec)
    if kind == "str":
        return format(value if value != "" else "none", spec)
    if kind == "float":
        value = float(_rounded(np.array([value], dtype=np.float64), spec)[0])
        if not math.isfinite(value):
            return "?"
    if spec:
        return format(value, spec)
    if kind == "int":
        return str(int(value))
    a = abs(value)
    return f"{value:.0f}" if a >= 100 else f"{value:.1f}" if a >= 1 else f"{value:.3g}"


_FIXED = re.compile(r"^[+\- ]?\.(\d)f$")


def _rounded(v: np.ndarray, spec: str) -> np.ndarray:
    """Floats rounded the way they print (so -0.4 shown without decimals is 0, not -0)."""
    fixed = _FIXED.match(spec)
    if fixed:
        v = np.round(v, int(fixed.group(1)))
    elif not spec:
        a = np.abs(v)
        v = np.where(a >= 100, np.round(v), np.where(a >= 1, np.round(v, 1), v))
    return v + 0.0  # -0.0 -> 0.0


class Template:
    """A reason template, checked when the rule file is read and rendered for many rows."""

    def __init__(self, text: str, fail):
        self.text = text
        self.parts: list[tuple[str, str | None, str]] = []  # (literal, column or None, spec)
        try:
            parsed = list(string.Formatter().parse(text))
        except ValueError as exc:
            raise fail(f"bad reason template: {exc}") from None
        for literal, name, spec, conversion in parsed:
            if name is None:
                self.parts.append((literal, None, ""))
                continue
            if conversion:
                raise fail(f"'!{conversion}' is not allowed in a reason; use {{column}} or {{column:spec}}")
            if name not in COLUMNS:
                raise fail(f"unknown evidence column '{name}' in reason{did_you_mean(name, COLUMNS)}")
            kind = COLUMNS[name]
            if spec and spec != "clock":
                sample = {"float": 1.5, "int": 1, "bool": "yes", "str": "x"}[kind]
                try:
                    format(sample, spec)
                except (ValueError, TypeError) as exc:
                    raise fail(f"bad format '{spec}' for {kind} column '{name}': {exc}") from None
            elif spec == "clock" and kind not in ("float", "int"):
                raise fail(f"'clock' formats a time in seconds; '{name}' is {kind}")
            self.parts.append((literal, name, spec))
        self.columns = tuple(dict.fromkeys(p[1] for p in self.parts if p[1]))

    def render(self, evidence: TrackEvidence, rows: np.ndarray) -> list[str]:
        pieces = []
        for literal, name, spec in self.parts:
            if literal:
                pieces.append([literal] * len(rows))
            if name is not None:
                pieces.append(_render_column(evidence[name][rows], COLUMNS[name], spec))
        if not pieces:
            return [""] * len(rows)
        return ["".join(t) for t in zip(*pieces)]


def _render_column(values: np.ndarray, kind: str, spec: str) -> list[str]:
    """`format_value` over a column, each distinct (rounded) value formatted once."""
    if kind == "float":
        v = _rounded(np.asarray(values, dtype=np.float64), spec)
        keys = np.where(np.isfinite(v), v, np.inf).tolist()  # one key for every non-finite value
    else:
        keys = values.tolist()
    memo: dict = {}
    out = []
    for k in keys:
        text = memo.get(k)
        if text is None:
            text = memo[k] = format_value(math.nan if k == math.inf else k, kind, spec)
        out.append(text)
    return out


# ---------------------------------------------------------------------------------------- conditions

@dataclass(frozen=True)
class Condition:
    """``column op value``, optionally negated. ``op``: 'eq', 'in' (value a tuple), 'range' (value (min, max),
    either None) or 'contains' (value one element of a ';'-joined text)."""

    column: str
    op: str
    value: object
    negate: bool = False

    def describe(self) -> str:
        if self.op == "eq":
            text = f"{self.column} = {self.value!r}"
        elif self.op == "in":
            text = f"{self.column} in {list(self.value)!r}"
        elif self.op == "contains":
            text = f"{self.column} contains {self.value!r}"
        else:
            lo, hi = self.value
            text = " and ".join(x for x in (lo is not None and f"{self.column} >= {lo:g}",
                                            hi is not None and f"{self.column} <= {hi:g}") if x)
        return f"not ({text})" if self.negate else text

    def mask(self, evidence: TrackEvidence, cache: dict) -> np.ndarray:
        key = (self.column, self.op, self.value)
        m = cache.get(key)
        if m is None:
            m = self._evaluate(evidence, cache)
            cache[key] = m
        return ~m if self.negate else m

    def _evaluate(self, evidence: TrackEvidence, cache: dict) -> np.ndarray:
        col = evidence[self.column]
        if self.op == "eq":
            return np.asarray(col == self.value, dtype=bool)
        if self.op == "in":
            if col.dtype == object:
                m = np.zeros(col.shape[0], dtype=bool)
                for v in self.value:
                    m |= np.asarray(col == v, dtype=bool)
                return m
            return np.isin(col, np.asarray(self.value))
        if self.op == "range":
            lo, hi = self.value
            m = np.isfinite(col) if col.dtype.kind == "f" else np.ones(col.shape[0], dtype=bool)
            if lo is not None:
                m &= col >= lo
            if hi is not None:
                m &= col <= hi
            return m
        # contains: decide once per distinct text
        ukey = ("unique", self.column)
        if ukey not in cache:
            if col.shape[0]:
                uniq, inverse = np.unique(col.astype(str), return_inverse=True)
            else:
                uniq, inverse = np.zeros(0, dtype=str), np.zeros(0, dtype=np.int64)
            cache[ukey] = (uniq, inverse.reshape(-1))
        uniq, inverse = cache[ukey]
        hit = np.array([self.value in u.split(";") for u in uniq.tolist()], dtype=bool)
        return hit[inverse] if hit.size else np.zeros(col.shape[0], dtype=bool)


@dataclass
class Rule:
    name: str
    kind: str  # "identity", "class" or "flag"
    conditions: tuple[Condition, ...]
    reason: Template
    identity: int | None = None  # identity rules
    track_class: int | None = None  # class rules; optional on identity rules
    flag: str | None = None  # flag rules
    updates: int | None = None  # identity rules: hysteresis override (consecutive updates)
    hold_s: float | None = None  # identity rules: hysteresis override (seconds)
    source: str | None = None
    line: int | None = None

    def mask(self, evidence: TrackEvidence, cache: dict | None = None) -> np.ndarray:
        cache = {} if cache is None else cache
        m = np.ones(len(evidence), dtype=bool)
        for c in self.conditions:
            m &= c.mask(evidence, cache)
        return m

    def describe(self) -> str:
        return " and ".join(c.describe() for c in self.conditions) or "always"


@dataclass
class RuleResult:
    """What the table concludes for each row of the evidence."""

    identity: np.ndarray  # (n,) int8 code
    identity_rule: np.ndarray  # (n,) object: name of the rule that fired ('' none matched)
    identity_reason: np.ndarray  # (n,) object
    updates: np.ndarray  # (n,) int64: hysteresis for this proposal (consecutive updates)
    hold_s: np.ndarray  # (n,) float64: hysteresis for this proposal (seconds)
    track_class: np.ndarray  # (n,) int8 code
    class_rule: np.ndarray  # (n,) object
    class_reason: np.ndarray  # (n,) object
    flags: dict = field(default_factory=dict)  # flag -> (n,) bool
    flag_rule: dict = field(default_factory=dict)  # flag -> (n,) object
    flag_reason: dict = field(default_factory=dict)  # flag -> (n,) object

    def __len__(self) -> int:
        return int(self.identity.shape[0])


@dataclass
class RuleTable:
    rules: list[Rule]
    class_rules: list[Rule] = field(default_factory=list)
    flag_rules: list[Rule] = field(default_factory=list)
    updates: int = DEFAULT_UPDATES  # consecutive evaluations proposing a new identity / class before it is taken
    hold_s: float = DEFAULT_HOLD_S  # ... and for at least this long
    description: str = ""
    source: str = ""

    # -------------------------------------------------------------------------------------- loading
    @classmethod
    def parse(cls, text: str, source: str = "<string>") -> RuleTable:
        return _Parser(text, source).table()

    @classmethod
    def load(cls, path) -> RuleTable:
        path = Path(path)
        return cls.parse(read_user_text(path, "rule file"), str(path))

    @classmethod
    def default(cls) -> RuleTable:
        text = resources.files("airpicture.identity").joinpath(DEFAULT_RULES).read_text(encoding="utf-8")
        return _Parser(text, f"airpicture/identity/{DEFAULT_RULES}", allow_extends=False).table()

    def names(self) -> list[str]:
        return [r.name for r in self.rules]

    def to_json(self) -> dict:
        def one(r: Rule) -> dict:
            d = {"name": r.name, "when": r.describe(), "reason": r.reason.text}
            if r.identity is not None:
                d["identity"] = IDENTITIES[r.identity]
            if r.track_class is not None:
                d["class"] = CLASSES[r.track_class]
            if r.flag is not None:
                d["flag"] = r.flag
            if r.updates is not None:
                d["updates"] = r.updates
            if r.hold_s is not None:
                d["hold_s"] = r.hold_s
            return d

        return {"source": self.source, "description": self.description,
                "hysteresis": {"updates": self.updates, "hold_s": self.hold_s},
                "rules": [one(r) for r in self.rules], "class_rules": [one(r) for r in self.class_rules],
                "flags": [one(r) for r in self.flag_rules]}

    # ----------------------------------------------------------------------------------- evaluation
    def evaluate(self, evidence: TrackEvidence) -> RuleResult:
        """Every rule over every row at once; first match wins within identity rules, class rules and each flag."""
        n = len(evidence)
        cache: dict = {}
        rows = np.arange(n)

        rule_idx = _first_match(self.rules, evidence, cache)
        ident = np.where(evidence["confirmed"], UNKNOWN, PENDING).astype(np.int8)
        ident_reason = np.full(n, "no rule matched", dtype=object)
        ident_name = np.full(n, "", dtype=object)
        updates = np.full(n, self.updates, dtype=np.int64)
        hold = np.full(n, self.hold_s, dtype=np.float64)
        cls_ = np.full(n, -1, dtype=np.int8)
        cls_name = np.full(n, "", dtype=object)
        cls_reason = np.full(n, "", dtype=object)
        for i, r in enumerate(self.rules):
            sel = rows[rule_idx == i]
            if not sel.size:
                continue
            ident[sel] = r.identity
            ident_name[sel] = r.name
            text = np.array(r.reason.render(evidence, sel), dtype=object) if sel.size else np.zeros(0, object)
            ident_reason[sel] = text
            if r.updates is not None:
                updates[sel] = r.updates
            if r.hold_s is not None:
                hold[sel] = r.hold_s
            if r.track_class is not None:
                cls_[sel] = r.track_class
                cls_name[sel] = r.name
                cls_reason[sel] = text

        open_ = cls_ < 0
        class_idx = _first_match(self.class_rules, evidence, cache, open_)
        for i, r in enumerate(self.class_rules):
            sel = rows[class_idx == i]
            if sel.size:
                cls_[sel] = r.track_class
                cls_name[sel] = r.name
                cls_reason[sel] = np.array(r.reason.render(evidence, sel), dtype=object)
        cls_[cls_ < 0] = CLASS_UNKNOWN

        flags, flag_rule, flag_reason = {}, {}, {}
        for flag in self.flag_names():
            rules = [r for r in self.flag_rules if r.flag == flag]
            idx = _first_match(rules, evidence, cache)
            flags[flag] = idx >= 0
            flag_rule[flag] = np.full(n, "", dtype=object)
            flag_reason[flag] = np.full(n, "", dtype=object)
            for i, r in enumerate(rules):
                sel = rows[idx == i]
                if sel.size:
                    flag_rule[flag][sel] = r.name
                    flag_reason[flag][sel] = np.array(r.reason.render(evidence, sel), dtype=object)
        return RuleResult(ident, ident_name, ident_reason, updates, hold, cls_, cls_name, cls_reason,
                          flags, flag_rule, flag_reason)

    def flag_names(self) -> list[str]:
        """Flags this table can raise (always including the known ones, so output columns are stable)."""
        return list(dict.fromkeys(list(FLAGS) + [r.flag for r in self.flag_rules]))


def _first_match(rules: list[Rule], evidence: TrackEvidence, cache: dict, open_rows=None) -> np.ndarray:
    """(n,) index of the first rule matching each row, -1 none (rows not in ``open_rows`` stay -1)."""
    n = len(evidence)
    idx = np.full(n, -1, dtype=np.int64)
    remaining = np.ones(n, dtype=bool) if open_rows is None else open_rows.copy()
    for i, r in enumerate(rules):
        if not remaining.any():
            break
        hit = remaining & r.mask(evidence, cache)
        idx[hit] = i
        remaining &= ~hit
    return idx


# --------------------------------------------------------------------------------------------- parser

class _Parser(TomlTableParser):
    def __init__(self, text: str, source: str, allow_extends: bool = True):
        super().__init__(text, source)
        self.allow_extends = allow_extends

    def table(self) -> RuleTable:
        raw = self.raw
        self.check_keys(raw, TOP_KEYS, (), "top-level key")
        description = raw.get("description", "")
        if not isinstance(description, str):
            raise self.fail(("description",), f"expected text, found {kind_of(description)}")
        updates, hold = DEFAULT_UPDATES, DEFAULT_HOLD_S
        has_hysteresis = "hysteresis" in raw
        if has_hysteresis:
            h = raw["hysteresis"]
            if not isinstance(h, dict):
                raise self.fail(("hysteresis",), f"expected a table, found {kind_of(h)}")
            self.check_keys(h, HYSTERESIS_KEYS, ("hysteresis",), "hysteresis key")
            updates = self.updates(h, ("hysteresis",), default=DEFAULT_UPDATES)
            hold = self.hold(h, ("hysteresis",), default=DEFAULT_HOLD_S)
        rules = self.rules("rule", RULE_KEYS, "identity")
        class_rules = self.rules("class_rule", CLASS_RULE_KEYS, "class")
        flag_rules = self.rules("flag", FLAG_KEYS, "flag")
        table = RuleTable(rules, class_rules, flag_rules, updates, hold, description, self.source)
        if "extends" in raw:
            value = raw["extends"]
            if not self.allow_extends:
                raise self.fail(("extends",), "the default table cannot extend another")
            if value != "default":
                raise self.fail(("extends",), f"extends = {value!r}: only \"default\" is known")
            base = RuleTable.default()
            table = _extend(table, base, has_hysteresis)
        if not table.rules:
            raise self.fail(("rule",), "no [[rule]]: a rule table needs at least one identity rule")
        return table

    def updates(self, table: dict, path: tuple, default):
        if "updates" not in table:
            return default
        v = table["updates"]
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 1000:
            raise self.fail(path + ("updates",), f"expected a whole number of updates 1..1000, found {v!r}")
        return int(v)

    def hold(self, table: dict, path: tuple, default):
        if "hold_s" not in table:
            return default
        v = table["hold_s"]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (0.0 <= v <= 86400.0):
            raise self.fail(path + ("hold_s",), f"expected seconds 0..86400, found {v!r}")
        return float(v)

    def rules(self, key: str, allowed: set, kind: str) -> list[Rule]:
        items = self.raw.get(key, [])
        if not isinstance(items, list) or not all(isinstance(x, dict) for x in items):
            raise self.fail((key,), f"expected an array of tables ([[{key}]]), found {kind_of(items)}")
        out, names = [], set()
        for i, item in enumerate(items):
            here = (key, i)
            self.check_keys(item, allowed, here, f"{key} key")
            name = item.get("name")
            if not isinstance(name, str) or not name.strip():
                raise self.fail(here + ("name",) if "name" in item else here, "every rule needs a name (text)")
            if name in names:
                raise self.fail(here + ("name",), f"duplicate rule name '{name}'")
            names.add(name)
            conditions = self.conditions(item.get("when", {}), here + ("when",), name)
            rule = Rule(name=name, kind=kind, conditions=conditions, reason=None, source=self.source,
                        line=line_of(self.lines, here))
            if kind == "identity":
                rule.identity = self.code(item, "identity", here, identity_code, required=True)
                rule.track_class = self.code(item, "class", here, class_code, required=False)
                rule.updates = self.updates(item, here, None)
                rule.hold_s = self.hold(item, here, None)
            elif kind == "class":
                rule.track_class = self.code(item, "class", here, class_code, required=True)
            else:
                flag = item.get("flag")
                if flag not in FLAGS:
                    raise self.fail(here + ("flag",) if "flag" in item else here,
                                    f"unknown flag {flag!r}; known: {', '.join(FLAGS)}")
                rule.flag = flag
            rule.reason = self.template(item, here, name, conditions)
            out.append(rule)
        return out

    def code(self, item: dict, key: str, here: tuple, to_code, required: bool):
        if key not in item:
            if required:
                raise self.fail(here, f"missing required key '{key}'")
            return None
        value = item[key]
        if not isinstance(value, str):
            raise self.fail(here + (key,), f"expected a name (text), found {kind_of(value)}")
        try:
            return to_code(value)
        except InputError as exc:
            raise self.fail(here + (key,), exc.message) from None

    def template(self, item: dict, here: tuple, name: str, conditions) -> Template:
        if "reason" in item:
            text = item["reason"]
            if not isinstance(text, str):
                raise self.fail(here + ("reason",), f"expected text, found {kind_of(text)}")
            return Template(text, lambda message: self.fail(here + ("reason",), message))
        used = list(dict.fromkeys(c.column for c in conditions))
        text = name.replace("{", "{{").replace("}", "}}")
        if used:
            text += ": " + ", ".join(f"{c} {{{c}}}" for c in used)
        return Template(text, lambda message: self.fail(here, message))

    def conditions(self, when, path: tuple, rule: str) -> tuple[Condition, ...]:
        if not isinstance(when, dict):
            raise self.fail(path, f"rule '{rule}': 'when' must be a table of conditions, found {kind_of(when)}")
        out = []
        for key, value in when.items():
            here = path + (key,)
            negate = False
            column = key
            if key not in COLUMNS and key.startswith("not_") and key[4:] in COLUMNS:
                negate, column = True, key[4:]
            if column not in COLUMNS:
                raise self.fail(here, f"rule '{rule}': unknown evidence column '{key}'{did_you_mean(key, COLUMNS)}"
                                      f"; known: {', '.join(COLUMNS)}")
            out.append(self.condition(column, negate, value, here, rule))
        return tuple(out)

    def condition(self, column: str, negate: bool, value, here: tuple, rule: str) -> Condition:
        kind = COLUMNS[column]
        what = {"bool": "true or false", "str": "text", "int": "a whole number", "float": "a number"}[kind]
        if isinstance(value, dict):
            keys = set(value)
            if keys == {"contains"}:
                if kind != "str":
                    raise self.fail(here, f"rule '{rule}': 'contains' needs a text column; '{column}' is {kind}")
                if not isinstance(value["contains"], str):
                    raise self.fail(here + ("contains",), f"rule '{rule}': expected text, found "
                                                          f"{kind_of(value['contains'])}")
                return Condition(column, "contains", value["contains"], negate)
            if not keys or not keys <= {"min", "max"}:
                bad = sorted(keys - {"min", "max"})
                raise self.fail(here + ((bad[0],) if bad else ()),
                                f"rule '{rule}': a condition table is {{min = .., max = ..}} or {{contains = ..}}, "
                                f"found keys {sorted(keys)}")
            if kind not in ("int", "float"):
                raise self.fail(here, f"rule '{rule}': a range needs a numeric column; '{column}' is {kind}")
            bounds = []
            for b in ("min", "max"):
                v = value.get(b)
                if v is not None and not finite_number(v):
                    raise self.fail(here + (b,), f"rule '{rule}': {b} must be a finite number, found {v!r}")
                bounds.append(None if v is None else float(v))
            if bounds[0] is not None and bounds[1] is not None and bounds[0] > bounds[1]:
                raise self.fail(here, f"rule '{rule}': min {bounds[0]:g} is above max {bounds[1]:g}")
            return Condition(column, "range", tuple(bounds), negate)
        if isinstance(value, list):
            if not value:
                raise self.fail(here, f"rule '{rule}': an empty list matches nothing")
            for k, v in enumerate(value):
                self.literal(kind, v, here + (k,), rule, column, what)
            return Condition(column, "in", tuple(self.cast(kind, v) for v in value), negate)
        self.literal(kind, value, here, rule, column, what)
        return Condition(column, "eq", self.cast(kind, value), negate)

    def literal(self, kind: str, v, here: tuple, rule: str, column: str, what: str) -> None:
        ok = {"bool": isinstance(v, bool),
              "str": isinstance(v, str),
              "int": isinstance(v, int) and not isinstance(v, bool),
              "float": isinstance(v, (int, float)) and not isinstance(v, bool)}[kind]
        if not ok:
            hint = f" (write \"{v}\")" if kind == "str" and isinstance(v, (int, float)) else ""
            raise self.fail(here, f"rule '{rule}': '{column}' takes {what}, a list of those"
                                  f"{' or {min, max}' if kind in ('int', 'float') else ''}; found {kind_of(v)}{hint}")

    @staticmethod
    def cast(kind: str, v):
        return float(v) if kind == "float" else v


def _extend(table: RuleTable, base: RuleTable, has_hysteresis: bool) -> RuleTable:
    """A user table on top of the default one: user rules first, a user rule replacing a default of that name."""
    def merge(mine: list[Rule], theirs: list[Rule]) -> list[Rule]:
        names = {r.name for r in mine}
        return mine + [r for r in theirs if r.name not in names]

    return RuleTable(merge(table.rules, base.rules), merge(table.class_rules, base.class_rules),
                     merge(table.flag_rules, base.flag_rules),
                     table.updates if has_hysteresis else base.updates,
                     table.hold_s if has_hysteresis else base.hold_s,
                     table.description or base.description, table.source)


def load_rules(path=None) -> RuleTable:
    """The rule table in ``path``, or the default one."""
    return RuleTable.default() if path is None else RuleTable.load(path)
