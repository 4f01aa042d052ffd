"""Standard identities (STANAG 1241 / MIL-STD-2525 / APP-6) and track classes, as small integer codes.

Columns between stages hold the codes (int8); names appear only at the edges (TOML rule files, summary.json,
Parquet, the display). A hostile identity is an alert for a human, never a firing decision.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError

# Order is the code. "joker" and "faker" are the exercise identities (friendly aircraft playing suspect /
# hostile in an exercise); they are only ever set by rules or operators that say so.
IDENTITIES = ("pending", "unknown", "assumed_friend", "friend", "neutral", "suspect", "hostile", "joker", "faker")
PENDING, UNKNOWN, ASSUMED_FRIEND, FRIEND, NEUTRAL, SUSPECT, HOSTILE, JOKER, FAKER = range(len(IDENTITIES))
# MIL-STD-2525 / APP-6 standard identity letters (CoT's a-f / a-h / a-n ... and the symbol frame)
IDENTITY_LETTERS = {"pending": "p", "unknown": "u", "assumed_friend": "a", "friend": "f", "neutral": "n",
                    "suspect": "s", "hostile": "h", "joker": "j", "faker": "k"}

# Mode 3/A codes that declare an emergency (ICAO Annex 10), and what each means.
EMERGENCY_SQUAWKS = {"7500": "unlawful interference", "7600": "radio failure", "7700": "general emergency"}
NOT_DECLARED = ("", "none", "no_emergency")  # emergency states (ADS-B, SBS, jet1090) that declare nothing


def in_emergency(squawk, state) -> np.ndarray:
    """(n,) bool: an emergency squawk, or a declared emergency state ('general', 'lifeguard', ...) - what the
    display marks, the alert engine alerts on and overload shedding keeps first. ``None`` reads as nothing."""
    sq = np.asarray(squawk, dtype=object).astype(str)
    st = np.char.replace(np.char.lower(np.asarray(state, dtype=object).astype(str)), " ", "_")
    return np.isin(sq, list(EMERGENCY_SQUAWKS)) | ~np.isin(st, NOT_DECLARED)


CLASSES = ("unknown", "fixed_wing", "rotary_wing", "uav", "missile", "bird")
CLASS_UNKNOWN, FIXED_WING, ROTARY_WING, UAV, MISSILE, BIRD = range(len(CLASSES))


def identity_code(name: str, *, source: str | None = None, field: str | None = None) -> int:
    """Code of an identity name ('assumed friend', 'Assumed_Friend' and 'assumed-friend' all work)."""
    key = str(name).strip().lower().replace(" ", "_").replace("-", "_")
    if key not in IDENTITIES:
        raise InputError(f"unknown identity {name!r} (known: {', '.join(IDENTITIES)})", source=source, field=field)
    return IDENTITIES.index(key)


def class_code(name: str, *, source: str | None = None, field: str | None = None) -> int:
    key = str(name).strip().lower().replace(" ", "_").replace("-", "_")
    if key not in CLASSES:
        raise InputError(f"unknown track class {name!r} (known: {', '.join(CLASSES)})", source=source, field=field)
    return CLASSES.index(key)


def identity_names(codes) -> np.ndarray:
    return np.asarray(IDENTITIES, dtype=object)[np.asarray(codes, np.int64)]


def class_names(codes) -> np.ndarray:
    return np.asarray(CLASSES, dtype=object)[np.asarray(codes, np.int64)]
