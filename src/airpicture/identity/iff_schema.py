"""The scenario's IFF tables: an interrogator on a radar, a transponder on a target (docs/identity.md, "IFF").

Pure validation, no NumPy / cryptography: the scenario loader calls these with its own ``fail`` (so errors name
the file, the line and the field) and `identity.iff` calls them again on hand-built scenarios. ``fail(sub,
message)`` receives the key path inside the ``iff`` table (a tuple, ``()`` for the table itself) and returns the
exception to raise.

Radar: ``iff = { interrogate = true, period_s = 10, range_max_km = 450, sigma_range_m = 30,
sigma_azimuth_deg = 0.1, reply_probability = 0.95, slot_s = 2, memory_s = 30, gate_sigmas = 4 }`` (every key
optional; `INTERROGATOR_KEYS` has the defaults).

Target: ``iff = { mode3a = "4501", mode_c = true, mode_s = "3c6544", mode5 = true, key = "valid",
replay_of = "VIPER11", platform_id = "VIPER11", reply = true, clock_offset_s = 0 }`` (every key optional).
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass

from ..scenario.toml_lines import to_float

DEG = math.pi / 180.0
KM = 1000.0

# file key -> (SI key, factor to SI, default in file units (None: from the radar), low, high, low inclusive, doc)
INTERROGATOR_KEYS: dict[str, tuple] = {
    "interrogate": ("interrogate", None, True, None, None, True,
                    "the interrogator is on (false: the table is kept but nothing is interrogated)"),
    "period_s": ("period_s", 1.0, None, 0.0, 3600.0, False,
                 "interrogate on the scans starting at or after each multiple of this, s; default: every scan"),
    "range_max_km": ("range_max_m", KM, None, 0.0, 5000.0, False,
                     "longest slant range interrogated, km; default: the radar's range_max_km"),
    "sigma_range_m": ("sigma_range_m", 1.0, 30.0, 0.0, 100_000.0, True, "reply range noise 1-sigma, m"),
    "sigma_azimuth_deg": ("sigma_azimuth_rad", DEG, 0.1, 0.0, 45.0, True,
                          "reply azimuth noise 1-sigma (monopulse), deg"),
    "reply_probability": ("reply_probability", None, 0.95, 0.0, 1.0, True,
                          "probability that a reply in coverage is received (garbling, fading, FRUIT)"),
    "slot_s": ("slot_s", 1.0, 2.0, 0.0, 3600.0, False,
               "length of the authentication time slot, s (slot = floor(time / slot_s))"),
    "memory_s": ("memory_s", 1.0, 30.0, 0.0, 86_400.0, False,
                 "iff_memory_s: how long a track keeps a reply's codes and authentication, s"),
    "gate_sigmas": ("gate_sigmas", None, 4.0, 0.0, 100.0, False,
                    "association gate: normalised range/azimuth distance of a reply from a track, sigmas"),
}

# How a transponder's authenticated (Mode 5-like) reply is made.
KEY_MODES = {
    "valid": "the unit's day key: authenticates (when the unit holds a key store)",
    "none": "no authenticated mode: Mode 3/A, C and S only (iff_failure 'no_reply')",
    "wrong": "a key the unit does not hold (another unit's, an adversary's): 'unknown_key'",
    "forged": "a made-up key presented under the unit's key id: 'bad_mac'",
    "replay": "a spoofer re-sending the latest recorded authenticated reply of another platform "
              "('replayed_nonce', or 'stale_slot' when the recording is old)",
}
TARGET_IFF_KEYS = ("mode3a", "mode_c", "mode_s", "mode5", "key", "replay_of", "platform_id", "reply",
                   "clock_offset_s")
# Mode C: pressure altitude in 100 ft steps from -1,000 ft to 126,700 ft.
MODE_C_MIN_FT, MODE_C_MAX_FT = -1000.0, 126_700.0


@dataclass(frozen=True)
class InterrogatorConfig:
    """A radar's interrogator, SI (see `INTERROGATOR_KEYS`)."""

    interrogate: bool
    period_s: float
    range_max_m: float
    sigma_range_m: float
    sigma_azimuth_rad: float
    reply_probability: float
    slot_s: float
    memory_s: float
    gate_sigmas: float

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class TransponderConfig:
    """A target's IFF transponder, validated. '' = none for the codes; ``key`` one of `KEY_MODES`."""

    mode3a: str
    mode_c: bool
    mode_s: str
    key: str
    replay_of: str | None
    platform_id: str | None
    reply: bool
    clock_offset_s: float
    implicit: bool = False  # made from an ADS-B transponder table (no iff table): an SSR reply

    @property
    def authenticated_mode(self) -> bool:
        return self.key != "none"


def _kind(value) -> str:
    return f"{type(value).__name__} ({value!r})"


def _unknown_keys(table: dict, allowed, fail) -> None:
    for key in table:
        if key not in allowed:
            hint = difflib.get_close_matches(str(key), sorted(allowed), n=1)
            suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
            raise fail((key,), f"unknown iff key '{key}'{suggestion}; allowed: {', '.join(sorted(allowed))}")


def _number(table, key, default, low, high, low_inclusive, fail) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise fail((key,), f"expected a number, found {_kind(value)}")
    value = to_float(value)
    if not math.isfinite(value):
        raise fail((key,), f"{value} is not a finite number")
    if low is not None and (value < low or (value == low and not low_inclusive)):
        raise fail((key,), f"{value:g} is outside {'[' if low_inclusive else '('}{low:g}, {high:g}]")
    if high is not None and value > high:
        raise fail((key,), f"{value:g} is outside {'[' if low_inclusive else '('}{low:g}, {high:g}]")
    return value


def _boolean(table, key, default, fail) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise fail((key,), f"expected true or false, found {_kind(value)}")
    return value


def parse_interrogator(table, fail, *, scan_period_s: float, range_max_m: float) -> InterrogatorConfig:
    """A radar's ``iff`` table -> `InterrogatorConfig` (SI). ``scan_period_s`` / ``range_max_m`` are the radar's
    (SI), the defaults of ``period_s`` and ``range_max_km``."""
    if isinstance(table, InterrogatorConfig):
        return table
    if table is True:
        table = {}
    if not isinstance(table, dict):
        raise fail((), f"expected a table, e.g. iff = {{ interrogate = true }}, found {_kind(table)}")
    _unknown_keys(table, INTERROGATOR_KEYS, fail)
    values = {}
    for key, (si_key, factor, default, low, high, low_inc, _doc) in INTERROGATOR_KEYS.items():
        if key == "interrogate":
            values[si_key] = _boolean(table, key, default, fail)
            continue
        if default is None and key not in table:
            values[si_key] = float(scan_period_s) if key == "period_s" else float(range_max_m)
            continue
        values[si_key] = _number(table, key, default, low, high, low_inc, fail) * factor if factor else \
            _number(table, key, default, low, high, low_inc, fail)
    return InterrogatorConfig(**values)


def _octal_code(value, key, fail) -> str:
    text = f"{value:04d}" if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or len(text) != 4 or any(c not in "01234567" for c in text):
        raise fail((key,), f"{value!r} is not a Mode 3/A code of 4 octal digits (0000-7777)")
    return text


def _address(value, key, fail) -> str:
    if (not isinstance(value, str) or len(value) != 6
            or any(c not in "0123456789abcdefABCDEF" for c in value)):
        raise fail((key,), f"{value!r} is not a Mode S address of 6 hex digits")
    if int(value, 16) in (0, 0xFFFFFF):
        raise fail((key,), f"'{value}' is not a valid aircraft address")
    return value.lower()


def _adsb_defaults(transponder) -> tuple[str, str]:
    """(Mode 3/A, Mode S) an ADS-B transponder table implies: its squawk and its address ('' when absent or
    not valid: the ADS-B validation reports those)."""
    if not isinstance(transponder, dict):
        return "", ""
    squawk = transponder.get("squawk")
    if squawk is None:
        from ..sensors.adsb import EMERGENCY_SQUAWK  # numpy only

        squawk = EMERGENCY_SQUAWK.get(transponder.get("emergency", "none"), "7000")
    if isinstance(squawk, int) and not isinstance(squawk, bool):
        squawk = f"{squawk:04d}"
    icao = transponder.get("icao24")
    ok = lambda s, n, digits: isinstance(s, str) and len(s) == n and all(c in digits for c in s)
    return (squawk if ok(squawk, 4, "01234567") else "",
            icao.lower() if ok(icao, 6, "0123456789abcdefABCDEF") else "")


def parse_target_iff(table, fail, *, transponder=None) -> TransponderConfig | None:
    """A target's ``iff`` table -> `TransponderConfig`. ``transponder`` is the target's ADS-B ``transponder``
    table, if any: its address is the default Mode S address and its squawk the default Mode 3/A code.

    With no ``iff`` table (``table`` None) a target with a transponder table still answers SSR interrogations
    (Mode 3/A = its squawk, Mode C, Mode S = its address; no authenticated mode); None when it has neither."""
    squawk, icao = _adsb_defaults(transponder)
    if table is None:
        if transponder is None:
            return None
        return TransponderConfig(mode3a=squawk, mode_c=True, mode_s=icao, key="none", replay_of=None,
                                 platform_id=None, reply=True, clock_offset_s=0.0, implicit=True)
    if isinstance(table, TransponderConfig):
        return table
    if not isinstance(table, dict):
        raise fail((), f"expected a table, e.g. iff = {{ mode3a = \"4501\", mode5 = true }}, found {_kind(table)}")
    _unknown_keys(table, TARGET_IFF_KEYS, fail)
    mode3a = _octal_code(table["mode3a"], "mode3a", fail) if "mode3a" in table else squawk
    mode_c = _boolean(table, "mode_c", True, fail)
    if "mode_s" in table:
        value = table["mode_s"]
        if value is False:
            mode_s = ""
        elif value is True:
            if not icao:
                raise fail(("mode_s",), "mode_s = true needs an address: give it (6 hex digits) or a transponder "
                                        "table with icao24")
            mode_s = icao
        else:
            mode_s = _address(value, "mode_s", fail)
    else:
        mode_s = icao
    mode5 = _boolean(table, "mode5", None, fail) if "mode5" in table else None
    key = table.get("key")
    if key is not None:
        if not isinstance(key, str) or key not in KEY_MODES:
            hint = difflib.get_close_matches(str(key), sorted(KEY_MODES), n=1)
            suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
            raise fail(("key",), f"unknown key mode {key!r}{suggestion}; known: {', '.join(KEY_MODES)}")
        if mode5 is False and key != "none":
            raise fail(("key",), f"key = \"{key}\" is an authenticated mode, but mode5 = false")
        if mode5 is True and key == "none":
            raise fail(("key",), "key = \"none\" contradicts mode5 = true")
    else:
        key = "valid" if mode5 else "none"
    replay_of = None
    if "replay_of" in table:
        replay_of = table["replay_of"]
        if key != "replay":
            raise fail(("replay_of",), "replay_of is only for key = \"replay\"")
        if not isinstance(replay_of, str) or not replay_of.strip():
            raise fail(("replay_of",), f"expected the name of a target, found {_kind(replay_of)}")
    platform_id = None
    if "platform_id" in table:
        platform_id = table["platform_id"]
        if not isinstance(platform_id, str) or not platform_id.strip() or len(platform_id.encode()) > 255:
            raise fail(("platform_id",), f"expected a non-empty string of at most 255 bytes, found "
                                         f"{_kind(platform_id)}")
    reply = _boolean(table, "reply", True, fail)
    offset = _number(table, "clock_offset_s", 0.0, -86_400.0, 86_400.0, True, fail)
    return TransponderConfig(mode3a=mode3a, mode_c=mode_c, mode_s=mode_s, key=key, replay_of=replay_of,
                             platform_id=platform_id, reply=reply, clock_offset_s=offset)


def resolve_transponders(configs: list, names: list[str], fail_at) -> list:
    """Checks across targets. Platform ids (default: the target's name) are unique, and every
    ``key = "replay"`` transponder gets a victim: its ``replay_of`` (a target whose key is ``valid``) or, by
    default, the first such target. ``configs`` per target (None: no transponder); ``fail_at(i, sub,
    message)`` makes the error for target ``i``."""
    from dataclasses import replace

    seen: dict[str, int] = {}
    for i, c in enumerate(configs):
        if c is None:
            continue
        pid = c.platform_id or names[i]
        if pid in seen:
            raise fail_at(i, ("platform_id",) if c.platform_id else (),
                          f"platform id '{pid}' is already used by targets[{seen[pid]}]")
        seen[pid] = i
    valid = [n for n, c in zip(names, configs) if c is not None and c.key == "valid" and c.reply]
    out = []
    for i, c in enumerate(configs):
        if c is None or c.key != "replay":
            out.append(c)
            continue
        victim = c.replay_of
        if victim is None:
            if not valid:
                raise fail_at(i, ("key",), "key = \"replay\" needs a platform with a valid key to record "
                                           "(none in this scenario): give one mode5 = true")
            victim = valid[0]
        elif victim == names[i]:
            raise fail_at(i, ("replay_of",), "a platform cannot replay its own replies")
        elif victim not in names:
            hint = difflib.get_close_matches(victim, names, n=1)
            suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
            raise fail_at(i, ("replay_of",), f"no target named '{victim}'{suggestion}")
        elif victim not in valid:
            raise fail_at(i, ("replay_of",), f"target '{victim}' sends no valid authenticated reply to record "
                                             "(give it mode5 = true)")
        out.append(replace(c, replay_of=victim))
    return out
