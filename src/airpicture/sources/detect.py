"""Which format a file or feed is in: from its first bytes, with the file name breaking ties."""

from __future__ import annotations

import re
from pathlib import PurePath

from airpicture.errors import InputError
from airpicture.sources.avr import AvrParser
from airpicture.sources.batch import Problems
from airpicture.sources.beast import BeastParser
from airpicture.sources.beast_hex import BeastHexParser
from airpicture.sources.jsonl import JsonLinesParser
from airpicture.sources.lines import StreamParser
from airpicture.sources.sbs import MESSAGE_TYPES, SbsParser

PARSERS: dict[str, type[StreamParser]] = {
    "beast": BeastParser,
    "beast-hex": BeastHexParser,
    "avr": AvrParser,
    "sbs": SbsParser,
    "jsonl": JsonLinesParser,
}
FORMATS = tuple(PARSERS)

# file-name suffixes (after any .gz) that hint at a format
NAME_HINTS = {".bin": "beast", ".beast": "beast", ".avr": "avr", ".sbs": "sbs", ".basestation": "sbs",
              ".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".csv": "beast-hex", ".hex": "beast-hex"}

_AVR = re.compile(rb"^[*@<][0-9A-Fa-f]{4,42};$")
_BEAST_HEX = re.compile(rb"^\d+(\.\d*)?,1[aA]3[123][0-9A-Fa-f]+$")
_BEAST_START = re.compile(rb"\x1a[\x31\x32\x33]")


def name_hint(name: str | None) -> str | None:
    """The format a file name suggests (``flight.jsonl.gz`` -> ``jsonl``), or None."""
    if not name:
        return None
    suffixes = [s.lower() for s in PurePath(str(name)).suffixes if s.lower() != ".gz"]
    return NAME_HINTS.get(suffixes[-1]) if suffixes else None


def sniff(head: bytes) -> list[str]:
    """Formats whose signature the first bytes match (usually exactly one)."""
    matches = []
    text_like = all(32 <= b < 127 or b in (9, 10, 13) for b in head[:512])
    if not text_like and len(_BEAST_START.findall(head)) >= min(2, max(1, len(head) // 24)):
        matches.append("beast")
    lines = [line.strip() for line in head.replace(b"\r", b"").split(b"\n")]
    complete = [line for line in (lines[:-1] if len(lines) > 1 else lines) if line]
    if text_like and complete:
        first = complete[0]
        if first.startswith(b"{"):
            matches.append("jsonl")
        if first.split(b",", 1)[0] in MESSAGE_TYPES and b"," in first:
            matches.append("sbs")
        if _AVR.match(first):
            matches.append("avr")
        if _BEAST_HEX.match(first):
            matches.append("beast-hex")
    return matches


def detect_format(head: bytes, name: str | None = None, *, final: bool = True) -> str | None:
    """The format of a stream given its first bytes.

    Parameters
    ----------
    head : bytes
        The first bytes (a few kB; after gzip decompression).
    name : str, optional
        File name; its suffix settles ties and empty files.
    final : bool
        True when no more bytes can come (a file, or a feed that has sent enough): then an unknown format is an
        ``InputError`` naming the formats tried. False returns None so the caller can wait for more bytes.
    """
    matches = sniff(head)
    hint = name_hint(name)
    if len(matches) == 1:
        return matches[0]
    if matches and hint in matches:
        return hint
    if matches:
        return matches[0]
    if not head.strip() and hint:
        return hint
    if not final:
        return None
    shown = head[:40]
    raise InputError(f"not a known ADS-B / Mode S format (tried {', '.join(FORMATS)}; first bytes {shown!r}); "
                     "choose one with --format", source=name)


def make_parser(format_name: str, problems: Problems | None = None, source: str = "<stream>",
                start_time: float | None = None, **time_limits) -> StreamParser:
    """A fresh streaming parser for ``format_name`` (one of ``FORMATS``).

    ``time_limits`` (``time_jitter_s``, ``max_time_gap_s``, ``time_confirm_records``) change the checks of the
    Unix times of Beast hex, SBS and JSON lines (``airpicture.sources.timeline``); other formats take none.
    """
    try:
        parser_class = PARSERS[format_name]
    except KeyError:
        raise InputError(f"unknown format '{format_name}' (known: {', '.join(FORMATS)})", field="format") from None
    if time_limits and not getattr(parser_class, "unix_time", False):
        raise InputError(f"format '{format_name}' carries no Unix time to check", field="format")
    return parser_class(problems, source, start_time, **time_limits)
