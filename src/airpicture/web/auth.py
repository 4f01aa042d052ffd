"""Access tokens of the live display: one per role, in a JSON file readable by its owner only.

Roles, each including the ones before it: ``viewer`` (reads the picture), ``operator`` (also acknowledges alerts,
overrides identities, drives playback), ``admin`` (also reads the configuration). The file is created at first
start (mode 0600, its folder 0700) with fresh random tokens (``secrets.token_urlsafe``); delete it to issue new ones.
Tokens are compared in constant time (``hmac.compare_digest``), against every role each time.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
import stat
from pathlib import Path

from ..errors import InputError

ROLES = ("viewer", "operator", "admin")
RANK = {r: i for i, r in enumerate(ROLES)}
TOKEN_BYTES = 24   # 32 characters of URL-safe base64
MIN_TOKEN_CHARS = 16


def default_tokens_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "airpicture" / "tokens.json"


class Tokens:
    """The three tokens and where they live; ``role_of(token)`` -> role name or None."""

    def __init__(self, tokens: dict[str, str], path: Path | None = None, *, created: bool = False):
        self._tokens = {r: tokens[r].encode() for r in ROLES}
        self.path = path
        self.created = created

    @classmethod
    def load_or_create(cls, path=None) -> "Tokens":
        """Read the tokens file, or create it with fresh tokens (0600). InputError when it is unreadable or
        malformed, or readable by others (fix the mode, or delete it to start again)."""
        path = Path(path) if path is not None else default_tokens_path()
        if not path.exists():
            tokens = {r: secrets.token_urlsafe(TOKEN_BYTES) for r in ROLES}
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another process made it first: use theirs
                return cls.load_or_create(path)
            except OSError as exc:
                raise InputError(f"cannot create the tokens file: {exc.strerror or exc}", source=str(path)) from None
            with os.fdopen(fd, "w") as handle:
                json.dump({"format": "airpicture-tokens", "version": 1, **tokens}, handle, indent=1)
                handle.write("\n")
            return cls(tokens, path, created=True)
        try:
            mode = path.stat().st_mode
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"cannot read the tokens file ({exc}); delete it to issue new tokens",
                             source=str(path)) from None
        if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise InputError(f"the tokens file is readable by others (mode {stat.S_IMODE(mode):o}); "
                             f"run `chmod 600 {path}` or delete it to issue new tokens", source=str(path))
        if not isinstance(data, dict) or not all(isinstance(data.get(r), str) and len(data[r]) >= MIN_TOKEN_CHARS
                                                 for r in ROLES):
            raise InputError(f"the tokens file needs a token of at least {MIN_TOKEN_CHARS} characters for each of "
                             f"{', '.join(ROLES)}; delete it to issue new tokens", source=str(path))
        if len({data[r] for r in ROLES}) != len(ROLES):
            raise InputError("the tokens file gives two roles the same token", source=str(path))
        return cls({r: data[r] for r in ROLES}, path)

    def token(self, role: str) -> str:
        return self._tokens[role].decode()

    def role_of(self, token: str | None) -> str | None:
        """The role a token grants (None: no token or a wrong one); constant time, every role compared."""
        if not token:
            return None
        given = token.encode("utf-8", "replace")
        found = None
        for role in ROLES:
            if hmac.compare_digest(given, self._tokens[role]):
                found = role
        return found

    @staticmethod
    def allows(role: str | None, needed: str) -> bool:
        return role is not None and RANK[role] >= RANK[needed]

    def __repr__(self) -> str:  # never show the tokens
        return f"Tokens(path={self.path!s})"
