"""Built-in scenarios: TOML files shipped in scenario/builtin/, found by name."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

BUILTIN_DIR = Path(__file__).with_name("builtin")


def builtin_names() -> list[str]:
    """Names of the built-in scenarios, sorted."""
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.toml"))


def builtin_path(name: str) -> Path | None:
    """File of the built-in scenario ``name`` (None if there is none)."""
    if not name or "/" in name or "\\" in name:
        return None
    path = BUILTIN_DIR / f"{name}.toml"
    return path if path.is_file() else None


@lru_cache(maxsize=None)
def _description(path: Path, mtime: float) -> str:
    try:
        with path.open("rb") as f:
            raw = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError):
        return "(unreadable)"
    return str(raw.get("description", "")).strip().splitlines()[0] if raw.get("description") else ""


def list_builtin() -> list[tuple[str, str]]:
    """(name, one-line description) of every built-in scenario, sorted by name."""
    out = []
    for name in builtin_names():
        path = BUILTIN_DIR / f"{name}.toml"
        out.append((name, _description(path, path.stat().st_mtime)))
    return out
