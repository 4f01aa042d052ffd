"""Errors that reach the user as a clear message and an exit code, never a traceback."""

from __future__ import annotations


class AirpictureError(Exception):
    """Base for every error the CLI reports as a one-line message."""

    exit_code = 1


class InputError(AirpictureError):
    """Bad user input: names what (file), where (line / row) and which field.

    Exit code 2, like a usage error, so scripts can tell bad input from a crash.
    """

    exit_code = 2

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None,
                 field: str | None = None):
        self.message = message
        self.source = source
        self.line = line
        self.field = field
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = []
        if self.source:
            where.append(str(self.source) + (f":{self.line}" if self.line is not None else ""))
        elif self.line is not None:
            where.append(f"line {self.line}")
        if self.field:
            where.append(f"field '{self.field}'")
        prefix = ", ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


def read_user_text(path, what: str) -> str:
    """Read a user's text file (scenario, trajectory, ...) or raise an InputError naming it."""
    from pathlib import Path

    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read {what}: {exc.strerror or exc}", source=str(path)) from None
    except UnicodeDecodeError:
        raise InputError(f"{what} is not UTF-8 text", source=str(path)) from None
