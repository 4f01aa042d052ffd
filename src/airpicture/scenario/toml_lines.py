"""Where each key of a TOML document is written: a map from key path to line number.

``tomllib`` parses TOML but forgets positions. To tell a user *which line* holds a bad
value, this module scans the (already validated) text once and records the line of
every table header, key and array element, keyed by the same path the loader walks:
``("targets", 2, "waypoints", 1, "lat")``. Arrays of tables (``[[targets]]``) are
indexed like the lists ``tomllib`` returns. The scanner follows the TOML grammar only as
far as needed to find keys; it never has to reject anything because ``tomllib`` already
accepted the document.
"""

from __future__ import annotations

import math

import re

_BARE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


class _Scanner:
    def __init__(self, text: str):
        self.s = text
        self.i = 0
        self.line = 1
        self.lines: dict[tuple, int] = {}
        self.array_tables: dict[tuple, int] = {}  # path of a [[...]] array -> elements so far

    # -- low level
    def _peek(self, k: int = 0) -> str:
        j = self.i + k
        return self.s[j] if j < len(self.s) else ""

    def _advance(self, n: int = 1) -> None:
        for _ in range(n):
            if self.i < len(self.s):
                if self.s[self.i] == "\n":
                    self.line += 1
                self.i += 1

    def _skip_blank(self, newlines: bool) -> None:
        while self.i < len(self.s):
            c = self.s[self.i]
            if c in " \t\r" or (newlines and c == "\n"):
                self._advance()
            elif c == "#":
                while self.i < len(self.s) and self.s[self.i] != "\n":
                    self.i += 1
            else:
                return

    def _string(self) -> str:
        """Consume a string of any of the four kinds and return its (roughly unescaped) text."""
        quote = self._peek()
        if self.s.startswith(quote * 3, self.i):
            self._advance(3)
            start = self.i
            while self.i < len(self.s):
                if quote == '"' and self._peek() == "\\":
                    self._advance(2)
                    continue
                if self.s.startswith(quote * 3, self.i):
                    # Up to two quotes may close the content before the delimiter.
                    while self._peek(3) == quote:
                        self._advance()
                    text = self.s[start:self.i]
                    self._advance(3)
                    return text
                self._advance()
            return self.s[start:]
        self._advance()
        start = self.i
        while self.i < len(self.s) and self._peek() != quote and self._peek() != "\n":
            if quote == '"' and self._peek() == "\\":
                self._advance()
            self._advance()
        text = self.s[start:self.i]
        self._advance()
        if quote == '"':
            try:
                text = text.encode("latin-1", "backslashreplace").decode("unicode_escape")
            except UnicodeDecodeError:
                pass
        return text

    def _key(self) -> list[str]:
        parts = []
        while True:
            self._skip_blank(newlines=False)
            c = self._peek()
            if c in ('"', "'"):
                parts.append(self._string())
            else:
                start = self.i
                while self._peek() in _BARE and self._peek() != "":
                    self.i += 1
                parts.append(self.s[start:self.i])
            self._skip_blank(newlines=False)
            if self._peek() == ".":
                self.i += 1
                continue
            return parts

    def _record(self, path: tuple, line: int) -> None:
        self.lines.setdefault(path, line)

    # -- values
    def _value(self, path: tuple) -> None:
        self._skip_blank(newlines=False)
        c = self._peek()
        if c in ('"', "'"):
            self._string()
        elif c == "[":
            self._advance()
            index = 0
            while True:
                self._skip_blank(newlines=True)
                if self._peek() in ("]", ""):
                    self._advance()
                    return
                self._record(path + (index,), self.line)
                before = self.i
                self._value(path + (index,))
                index += 1
                if self.i == before:  # not understood: skip a character rather than loop forever
                    self._advance()
                self._skip_blank(newlines=True)
                if self._peek() == ",":
                    self._advance()
        elif c == "{":
            self._advance()
            while True:
                self._skip_blank(newlines=True)
                if self._peek() in ("}", ""):
                    self._advance()
                    return
                line = self.line
                before = self.i
                keys = tuple(self._key())
                for n in range(1, len(keys) + 1):
                    self._record(path + keys[:n], line)
                if self._peek() == "=":
                    self._advance()
                self._value(path + keys)
                if self.i == before:
                    self._advance()
                self._skip_blank(newlines=True)
                if self._peek() == ",":
                    self._advance()
        else:
            while self.i < len(self.s) and self.s[self.i] not in ",]}\n#":
                self.i += 1

    # -- tables
    def _resolve(self, keys: list[str]) -> tuple:
        """Header keys to a path, stepping into the last element of every array of tables."""
        path: tuple = ()
        for k in keys:
            path += (k,)
            if path in self.array_tables:
                path += (self.array_tables[path] - 1,)
        return path

    def run(self) -> dict[tuple, int]:
        table: tuple = ()
        while True:
            self._skip_blank(newlines=True)
            if self.i >= len(self.s):
                return self.lines
            line = self.line
            before = self.i
            if self._peek() == "[":
                is_array = self._peek(1) == "["
                self._advance(2 if is_array else 1)
                keys = self._key()
                self._advance(2 if is_array else 1)
                if is_array:
                    parent = self._resolve(keys[:-1]) + (keys[-1],)
                    count = self.array_tables.get(parent, 0)
                    self.array_tables[parent] = count + 1
                    table = parent + (count,)
                    self._record(parent, line)
                else:
                    table = self._resolve(keys)
                for n in range(1, len(table) + 1):
                    self._record(table[:n], line)
            else:
                keys = tuple(self._key())
                for n in range(1, len(keys) + 1):
                    self._record(table + keys[:n], line)
                if self._peek() == "=":
                    self._advance()
                self._value(table + keys)
            # Anything left on the line is a comment or whitespace.
            self._skip_blank(newlines=False)
            if self.i == before:  # not understood: skip a character rather than loop forever
                self._advance()


def key_lines(text: str) -> dict[tuple, int]:
    """Map every key path of a valid TOML document to the line (1-based) where it is written."""
    return _Scanner(text).run()


def line_of(lines: dict[tuple, int], path: tuple) -> int | None:
    """Line of ``path``, or of its nearest written ancestor (a missing key -> its table)."""
    path = tuple(path)
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return None


def format_path(path) -> str:
    """``("targets", 3, "waypoints", 1, "lat")`` -> ``targets[3].waypoints[1].lat``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text


_TOML_POSITION = re.compile(r"\(at line (\d+), column \d+\)")  # where tomllib puts the line in its messages


def did_you_mean(word, choices) -> str:
    """' (did you mean 'x'?)' for the closest of ``choices``, or ''."""
    import difflib

    hint = difflib.get_close_matches(str(word), sorted(choices), n=1)
    return f" (did you mean '{hint[0]}'?)" if hint else ""


class TomlTableParser:
    """Base of the TOML table readers (identity rules, threat scoring): parse once, and report any error as an
    InputError naming the file, the line and the field path."""

    def __init__(self, text: str, source: str):
        import tomllib

        from ..errors import InputError

        self.text = text
        self.source = source
        try:
            self.raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            line = getattr(exc, "lineno", None)
            match = _TOML_POSITION.search(str(exc))
            if not line and match:
                line = int(match.group(1))
            message = _TOML_POSITION.sub("", str(exc)).strip()
            raise InputError(f"TOML syntax error: {message}", source=source, line=line) from None
        self.lines = key_lines(text)

    def fail(self, path: tuple, message: str):
        from ..errors import InputError

        return InputError(message, source=self.source, line=line_of(self.lines, path),
                          field=format_path(path) or None)

    def check_keys(self, table: dict, allowed: set, path: tuple, what: str) -> None:
        for key in table:
            if key not in allowed:
                raise self.fail(path + (key,), f"unknown {what} '{key}'{did_you_mean(key, allowed)}; "
                                               f"allowed: {', '.join(sorted(allowed))}")


def to_float(value) -> float:
    """``float(value)`` for a TOML number; an integer too large for a float (10**400) gives inf instead of
    raising OverflowError, so the caller's finiteness check reports it."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def finite_number(value) -> bool:
    """A TOML int or float (not a boolean) that is finite as a float."""
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(to_float(value))


def kind_of(value) -> str:
    """What a TOML value is, in words for an error message ("a number", "text", "a table" ...)."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__
