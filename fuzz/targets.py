"""The registry of fuzz targets: every parser of outside input, each with its seeds, a mutator and its own
checks. ``TARGETS[name].run(data)`` returns an :class:`~fuzz.harness.Outcome` or raises ``InputError``.

Adding a parser (ASTERIX CAT048, recordings, API requests when they land)::

    @register
    def cat048() -> Target:
        return Target("asterix-cat048", "ASTERIX CAT048 blocks", run=..., seeds=lambda: [...], tokens=(...))

``run`` must count what it reads independently of the parser where the input is a stream of records
(``Outcome.records``), so that ``records = accepted + counted rejections`` is a real check.
"""

from __future__ import annotations

import atexit
import base64
import gzip
import json
import math
import random
import re
import shutil
import tempfile
import tomllib
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np

from fuzz.harness import Outcome

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
LONG_FLIGHT = DATA / "rs1090_long_flight.csv.gz"
TUTORIAL = DATA / "traffic_docs_tutorial.jsonl.gz"
START_TIME = 1.7e9  # anchor of Beast binary / AVR counters in the stream targets

#: counted events that drop nothing
NOTE_KINDS = frozenset({"bad_field", "time_restamped", "time_jump", "time_reset", "ticks_backwards", "ticks_jump", "garbage",
                        "short_df_in_long_frame"})
_TMP = Path(tempfile.mkdtemp(prefix="airpicture-fuzz-"))
atexit.register(shutil.rmtree, _TMP, ignore_errors=True)


@dataclass
class Target:
    name: str
    description: str
    run: Callable[[bytes], Outcome]
    seeds: Callable[[], list[bytes]]
    tokens: tuple[bytes, ...] = ()
    structured: Callable[[bytes, random.Random], bytes] | None = None   # a format-aware mutation
    max_size: int = 1 << 14
    extra: dict = field(default_factory=dict)

    def mutate(self, data: bytes, rng: random.Random) -> bytes:
        if self.structured is not None and rng.random() < 0.5:
            try:
                return self.structured(data, rng)[:self.max_size]
            except Exception:  # noqa: BLE001 - a seed the structured mutator cannot read: mutate bytes
                pass
        return mutate_bytes(data, rng, self.tokens, self.max_size)


TARGETS: dict[str, Target] = {}


def register(factory: Callable[[], Target]) -> Callable[[], Target]:
    target = factory()
    TARGETS[target.name] = target
    return factory


# ------------------------------------------------------------------------------------------------ mutation

_COMMON_TOKENS = (b"\n", b"\r\n", b",", b";", b" ", b"\x00", b"\xff", b"nan", b"inf", b"-inf", b"1e309", b"-0",
                  b"9" * 40, b"0x1A", b"\x1a", b"\x1a\x1a", b"{", b"}", b"[", b"]", b'"', b"\\", b"=", b"\t",
                  "é".encode(), b"\xc3", b"-1", b"1e300", b"0")


def mutate_bytes(data: bytes, rng: random.Random, tokens=(), max_size: int = 1 << 14) -> bytes:
    """A few random edits: bit flips, byte sets, inserts of tokens or random bytes, deletes, duplicates, swaps
    of lines, truncation."""
    buf = bytearray(data)
    pool = tuple(tokens) + _COMMON_TOKENS
    for _ in range(1 + int(min(7.0, rng.expovariate(0.7)))):
        op = rng.randrange(9)
        n = len(buf)
        if op == 0 and n:
            i = rng.randrange(n)
            buf[i] ^= 1 << rng.randrange(8)
        elif op == 1 and n:
            buf[rng.randrange(n)] = rng.randrange(256)
        elif op == 2:
            i = rng.randrange(n + 1)
            buf[i:i] = rng.choice(pool)
        elif op == 3:
            i = rng.randrange(n + 1)
            buf[i:i] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 9))) if rng.random() < 0.5 else bytes(
                rng.randrange(32, 127) for _ in range(rng.randrange(1, 9)))
        elif op == 4 and n:
            i = rng.randrange(n)
            del buf[i:i + rng.randrange(1, 1 + min(64, n - i))]
        elif op == 5 and n:
            i = rng.randrange(n)
            j = min(n, i + rng.randrange(1, 200))
            k = rng.randrange(n + 1)
            buf[k:k] = buf[i:j]
        elif op == 6 and n:
            lines = bytes(buf).split(b"\n")
            if len(lines) > 1:
                a, b = rng.randrange(len(lines)), rng.randrange(len(lines))
                lines[a], lines[b] = lines[b], lines[a]
                buf = bytearray(b"\n".join(lines))
        elif op == 7 and n:
            del buf[rng.randrange(n + 1):]
        elif op == 8 and n:  # replace a number with an extreme one
            text = bytes(buf)
            numbers = list(re.finditer(rb"-?\d+(\.\d+)?", text[:4096]))
            if numbers:
                m = rng.choice(numbers)
                buf[m.start():m.end()] = rng.choice((b"nan", b"inf", b"-inf", b"1e308", b"-1e308", b"0",
                                                     b"-1", b"4294967296", b"18446744073709551616", b"1e-320"))
    return bytes(buf[:max_size])


# ------------------------------------------------------------------------------------------------ seeds

@lru_cache(maxsize=None)
def _beast_hex_lines(n: int = 300) -> tuple[bytes, ...]:
    with gzip.open(LONG_FLIGHT) as handle:
        lines = []
        for line in handle:
            lines.append(line.rstrip(b"\n"))
            if len(lines) >= n:
                break
    return tuple(lines)


@lru_cache(maxsize=None)
def _records(n: int = 300) -> tuple[dict, ...]:
    out = []
    for line in _beast_hex_lines(n):
        stamp, text = line.decode().split(",")
        out.append({"time": float(stamp), "type": text[2:4], "ticks": int(text[4:16], 16),
                    "signal": int(text[16:18], 16), "frame": text[18:].lower()})
    return tuple(out)


@lru_cache(maxsize=None)
def _jsonl_lines(n: int = 200) -> tuple[bytes, ...]:
    with gzip.open(TUTORIAL) as handle:
        out = []
        for line in handle:
            if line.strip():
                out.append(line.rstrip(b"\n"))
            if len(out) >= n:
                break
    return tuple(out)


def _beast_binary(records) -> bytes:
    out = []
    for r in records:
        body = bytes.fromhex(r["type"]) + r["ticks"].to_bytes(6, "big") + bytes([r["signal"]]) \
            + bytes.fromhex(r["frame"])
        out.append(b"\x1a" + body[:1] + body[1:].replace(b"\x1a", b"\x1a\x1a"))
    return b"".join(out)


def _avr(records, style: str) -> bytes:
    if style == "*":
        rows = [f"*{r['frame'].upper()};" for r in records]
    elif style == "@":
        rows = [f"@{r['ticks']:012X}{r['frame'].upper()};" for r in records]
    else:
        rows = [f"<{r['ticks']:012X}{r['signal']:02X}{r['frame']};" for r in records]
    return "\n".join(rows).encode() + b"\n"


def _sbs(n: int = 60) -> bytes:
    import datetime as dt

    rows = []
    for line in _jsonl_lines(4 * n):
        r = json.loads(line)
        when = dt.datetime.fromtimestamp(r["timestamp"], dt.timezone.utc)
        date, clock = when.strftime("%Y/%m/%d"), when.strftime("%H:%M:%S.%f")[:-3]
        f = [""] * 22
        f[0:10] = ["MSG", "3", "1", "1", r["icao24"].upper(), "1", date, clock, date, clock]
        if r.get("latitude") is not None:
            f[11] = str(r.get("altitude") or "")
            f[14], f[15] = repr(r["latitude"]), repr(r["longitude"])
        elif r.get("groundspeed") is not None:
            f[1] = "4"
            f[12], f[13], f[16] = str(r["groundspeed"]), str(r.get("track", "")), str(r.get("vertical_rate", ""))
        elif r.get("callsign"):
            f[1], f[10] = "1", r["callsign"]
        else:
            continue
        rows.append(",".join(f))
        if len(rows) >= n:
            break
    return ("\n".join(rows) + "\n").encode()


def _chunks(data: bytes, n: int = 40) -> list[bytes]:
    """Seeds: the whole sample and a few short windows of it (short inputs mutate into more corner cases)."""
    lines = data.split(b"\n")
    out = [data]
    for size in (1, 3, 10):
        for start in range(0, min(len(lines), n), max(1, n // 4)):
            out.append(b"\n".join(lines[start:start + size]) + b"\n")
    return out


# ------------------------------------------------------------------------------------------------ record counts

def count_text_records(data: bytes) -> int:
    """Records of a line format: lines (CR removed) with anything but whitespace on them."""
    return sum(1 for line in data.replace(b"\r", b"").split(b"\n") if line.strip())


def count_beast_starts(data: bytes) -> int:
    """Beast records: every run of 0x1A bytes of odd length ends with a record start (pairs are escapes)."""
    return sum(1 for m in re.finditer(rb"\x1a+", data) if (m.end() - m.start()) % 2 == 1)


_COUNTERS = {"beast": count_beast_starts}


# ------------------------------------------------------------------------------------------------ stream parsers

def _pieces(data: bytes) -> list[bytes]:
    """The same input cut at a few places chosen from its own bytes (reproducible from the input alone)."""
    rng = random.Random(zlib.crc32(data))
    cuts = sorted(rng.randrange(len(data) + 1) for _ in range(rng.randrange(1, 8))) if data else []
    out, start = [], 0
    for cut in cuts + [len(data)]:
        out.append(data[start:cut])
        start = cut
    return out


def _parse(format_name: str, pieces: list[bytes]):
    from airpicture.sources import FrameBatch, Problems, make_parser

    problems = Problems()
    parser = make_parser(format_name, problems, "<fuzz>", START_TIME)
    batches = [parser.feed(p) for p in pieces] + [parser.finish()]
    batches = [b for b in batches if len(b)]
    return (FrameBatch.concat(batches) if batches else FrameBatch.empty()), problems


def _split_counts(counts: dict) -> tuple[dict, dict]:
    rejected = {k: v for k, v in counts.items() if k not in NOTE_KINDS}
    notes = {k: v for k, v in counts.items() if k in NOTE_KINDS}
    return rejected, notes


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    if a.dtype == object or b.dtype == object:
        return a.shape == b.shape and all(x == y for x, y in zip(a.tolist(), b.tolist()))
    return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=True))


def stream_outcome(format_name: str, data: bytes) -> Outcome:
    from airpicture.sources.lines import LineParser
    from airpicture.sources.detect import PARSERS

    whole, problems = _parse(format_name, [data])
    rejected, notes = _split_counts(problems.counts)
    count = _COUNTERS.get(format_name, count_text_records)
    out = Outcome(records=count(data), accepted=len(whole), rejected=rejected, notes=notes)
    pieces = _pieces(data)
    if len(pieces) > 1:  # the same bytes in other socket reads must read the same
        cut, cut_problems = _parse(format_name, pieces)
        if cut_problems.counts != problems.counts:
            out.violations.append(f"problems differ when cut at {[len(p) for p in pieces]}: "
                                  f"{cut_problems.counts} vs {problems.counts}")
        for name in ("time", "frame", "offset", "ticks", "signal"):
            if not _same(getattr(cut, name), getattr(whole, name)):
                out.violations.append(f"column {name} differs when cut at {[len(p) for p in pieces]}")
        for name in whole.fields:
            if not _same(np.asarray(cut.fields.get(name, [])), np.asarray(whole.fields[name])):
                out.violations.append(f"field {name} differs when cut at {[len(p) for p in pieces]}")
    times = np.asarray(whole.time, np.float64)
    if times.size and not np.isfinite(times).all():
        out.violations.append(f"{int((~np.isfinite(times)).sum())} frame(s) given out with a non-finite time")
    unix = issubclass(PARSERS[format_name], LineParser) and PARSERS[format_name].unix_time
    if unix and times.size > 1 and np.any(np.diff(times) < 0):
        out.violations.append("times given out decrease")
    if whole.offset.size > 1 and np.any(np.diff(whole.offset) <= 0):
        out.violations.append("frames not in input order")
    for name, column in whole.fields.items():
        if np.asarray(column).dtype.kind == "f" and np.isinf(np.asarray(column)).any():
            out.violations.append(f"field {name} carries an infinite value")
    return out


def _stream_target(format_name: str, description: str, seeds: Callable[[], list[bytes]], tokens=()) -> Target:
    return Target(format_name, description, run=lambda data: stream_outcome(format_name, data), seeds=seeds,
                  tokens=tokens)


register(lambda: _stream_target(
    "beast", "Beast binary (port 30005), through the stream parser, cut into random reads",
    lambda: [_beast_binary(_records()[:k]) for k in (1, 2, 5, 40, 300)] + [b"\x1a1" + b"\x1a" * 9, b""],
    tokens=(b"\x1a", b"\x1a1", b"\x1a2", b"\x1a3", b"\x1a\x1a", b"\x1a4")))
register(lambda: _stream_target(
    "beast-hex", "Beast hex lines (unix_ts,1a33...)", lambda: _chunks(b"\n".join(_beast_hex_lines()) + b"\n"),
    tokens=(b"1a33", b"1a32", b"1a31", b",1a33", b"1700000000.5,")))
register(lambda: _stream_target(
    "avr", "AVR lines (*, @, <)", lambda: [*_chunks(_avr(_records()[:60], "*")), _avr(_records()[:60], "@"),
                                          _avr(_records()[:60], "<")],
    tokens=(b"*", b"@", b"<", b";", b"8D")))
register(lambda: _stream_target(
    "sbs", "SBS-1 / BaseStation CSV (port 30003)", lambda: _chunks(_sbs()),
    tokens=(b"MSG,", b"MSG,3,1,1,4CA2D6,1,", b"2026/11/22", b"12:00:00.000", b",,,", b"9999/12/31")))
register(lambda: _stream_target(
    "jsonl", "jet1090 JSON lines", lambda: _chunks(b"\n".join(_jsonl_lines()) + b"\n"),
    tokens=(b'"timestamp":', b'"frame":', b'"latitude":', b'{"timestamp":1700000000,"frame":"8d4ca2d6"}',
            b"NaN", b"Infinity", b"-Infinity", b"true", b"null", b"[", b"]")))


# ------------------------------------------------------------------------------------------------ files

def _file_run(data: bytes) -> Outcome:
    """``read_file`` with format detection; the first byte picks plain / gzip / gzip cut short."""
    from airpicture.sources import read_file

    mode, body = (data[0] % 3, data[1:]) if data else (0, b"")
    path = _TMP / "recording.bin"
    if mode == 0:
        path.write_bytes(body)
    else:
        packed = gzip.compress(body, mtime=0)
        path.write_bytes(packed if mode == 1 else packed[:max(2, len(packed) // 2)])
    rec = read_file(path, start_time=START_TIME)  # InputError when no format matches: allowed, names the file
    rejected, notes = _split_counts(rec.problems.counts)
    complete = mode != 2 and "damaged_gzip" not in rec.problems.counts
    records = _COUNTERS.get(rec.format, count_text_records)(body) if complete else None
    return Outcome(records=records, accepted=len(rec.frames), rejected=rejected, notes=notes)


@register
def _file_target() -> Target:
    def seeds():
        out = []
        for target in ("beast", "beast-hex", "avr", "sbs", "jsonl"):
            for seed in TARGETS[target].seeds()[:3]:
                out += [b"\x00" + seed, b"\x01" + seed, b"\x02" + seed]
        return out
    return Target("file", "sources.read_file / iter_file: format detection, gzip (whole or cut), every parser",
                  run=_file_run, seeds=seeds)


# ------------------------------------------------------------------------------------------------ decoder

_REFERENCE = (43.63, 1.37)


def _decoder_batch(data: bytes):
    """Rows ``time,frame`` (any float text, any frame text) and ``F,time,icao,lat,lon,alt,gs,trk,vr,callsign,squawk``
    (SBS-like decoded fields, degrees / m / m/s, any float text) -> one FrameBatch; returns (batch, rows)."""
    from airpicture.sources.batch import DECODED_COLUMNS, FrameBatch, empty_column

    def number(text: str) -> float:
        try:
            return float(text)
        except ValueError:
            return math.nan

    times, frames, fields_rows = [], [], []
    for line in data.decode("latin-1").split("\n"):
        if not line.strip():
            continue
        parts = line.split(",")
        if parts[0] == "F" and len(parts) >= 3:
            parts += [""] * (11 - len(parts))
            times.append(number(parts[1]))
            frames.append("")
            fields_rows.append(parts)
        else:
            times.append(number(parts[0]))
            frames.append(parts[1] if len(parts) > 1 else parts[0])
            fields_rows.append(None)
    n = len(times)
    fields = {name: empty_column(name, n) for name in DECODED_COLUMNS}
    for i, parts in enumerate(fields_rows):
        if parts is None:
            continue
        fields["icao24"][i] = parts[2].strip().lower()
        for j, (name, factor) in enumerate((("latitude_rad", math.pi / 180), ("longitude_rad", math.pi / 180),
                                            ("altitude_m", 1.0), ("groundspeed_mps", 1.0),
                                            ("track_rad", math.pi / 180), ("vertical_rate_mps", 1.0))):
            fields[name][i] = number(parts[3 + j]) * factor
        fields["callsign"][i], fields["squawk"][i] = parts[9], parts[10]
    batch = FrameBatch(time=np.asarray(times, np.float64), frame=np.asarray(frames, dtype=object),
                       signal=np.full(n, np.nan), ticks=np.full(n, -1, np.int64), offset=np.arange(n, dtype=np.int64),
                       fields=fields)
    return batch, fields_rows


def _decoder_run(data: bytes) -> Outcome:
    """The rows through ``TransponderPicture`` (TransponderDecoder + tracker) in up to three batches."""
    from airpicture.modes.phantoms import REASONS
    from airpicture.replay import TransponderPicture

    batch, rows = _decoder_batch(data)
    picture = TransponderPicture(reference=_REFERENCE)
    n = len(batch)
    cuts = sorted({0, n, *random.Random(zlib.crc32(data)).sample(range(n + 1), min(2, n + 1))})
    for a, b in zip(cuts, cuts[1:]):
        if b > a:
            picture.feed(batch.take(slice(a, b)))
    counts = picture.decoder.counts
    framed = int(np.count_nonzero([len(f) > 0 for f in batch.frame]))
    filtered = {k: v for k, v in picture.decoder.filter.counts.items() if k in REASONS}
    out = Outcome(records=n, accepted=counts["decoded"],
                  rejected={k: v for k, v in filtered.items() if k != "ok"},
                  notes={"positions": counts["positions"]})
    out.rejected["field_rows_bad_address"] = counts["field_rows_bad_address"]
    out.rejected["field_rows_bad_time"] = counts["field_rows_bad_time"]
    out.notes["field_values_rejected"] = counts["field_values_rejected"]
    if sum(filtered.values()) != framed:
        out.violations.append(f"filter reasons {filtered} do not add up to the {framed} frames")
    if picture.now != -math.inf and not math.isfinite(picture.now):
        out.violations.append(f"picture time became {picture.now}")
    states = picture.states()
    if len(states):
        bad = ~np.isfinite(states.position).all(axis=1) | ~np.isfinite(states.velocity).all(axis=1)
        if bad.any():
            out.violations.append(f"{int(bad.sum())} track(s) with a non-finite state")
    return out


@register
def _decoder_target() -> Target:
    def seeds():
        frames = [f"{r['time']!r},{r['frame']}" for r in _records()]
        fields = ["F,1700000000.0,4ca2d6,43.6,1.4,10000,230,90,0,KLM1302,1000",
                  "F,1700000001.0,4ca2d6,43.61,1.41,10010,230,90,0,KLM1302,1000",
                  "F,1700000002.0,4ca2d6,43.62,1.42,10020,231,91,0,,"]
        base = "\n".join(frames).encode() + b"\n"
        return [base, "\n".join(frames[:40] + fields).encode(), "\n".join(fields).encode(),
                "\n".join(frames[100:140]).encode()]
    return Target("transponder", "TransponderDecoder + tracker (TransponderPicture.feed): any frame text, any time, "
                  "SBS-like fields with NaN / inf", run=_decoder_run, seeds=seeds,
                  tokens=(b"nan", b"inf", b"-inf", b"F,", b"8d", b"5d", b"20", b"ffffffffffffff"))


# ------------------------------------------------------------------------------------------------ TOML documents

def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in value.items()) + "}"
    return json.dumps(str(value))


def to_toml(doc: dict) -> str:
    """A small TOML writer (tables as inline tables under their top-level keys)."""
    return "".join(f"{json.dumps(str(k))} = {_toml_value(v)}\n" for k, v in doc.items())


_ODD_VALUES = (math.nan, math.inf, -math.inf, 0, -1, 1e308, -1e308, 2**63, -(2**63) - 1, 1e-320, "", "x" * 300,
               [], {}, [[]], True, False, "nan", 0.5, 10**30, [1, "a"], {"a": {"b": []}}, -0.0)


def mutate_toml(data: bytes, rng: random.Random) -> bytes:
    """Parse the document, change a few values / keys anywhere in it, write it back."""
    doc = tomllib.loads(data.decode("utf-8"))
    for _ in range(1 + rng.randrange(3)):
        # pick a random container on a random path
        node, parent, key = doc, None, None
        while isinstance(node, (dict, list)) and node and rng.random() < 0.8:
            parent = node
            key = rng.choice(list(node)) if isinstance(node, dict) else rng.randrange(len(node))
            node = node[key]
        if parent is None:
            parent, key = doc, rng.choice(list(doc) or ["x"])
        op = rng.randrange(5)
        if op == 0:
            parent[key] = rng.choice(_ODD_VALUES)
        elif op == 1 and isinstance(parent, dict):
            parent.pop(key, None)
        elif op == 2 and isinstance(parent, dict):
            parent[rng.choice(["extra", key + "_", key.upper() if isinstance(key, str) else "k"])] = rng.choice(
                _ODD_VALUES)
        elif op == 3 and isinstance(node, (int, float)) and not isinstance(node, bool):
            parent[key] = node * rng.choice((-1, 0, 1e6, 1e-6, 1.0000001)) + rng.choice((0, 1, -1))
        elif op == 4 and isinstance(parent, list) and parent:
            parent.append(parent[rng.randrange(len(parent))])
    return to_toml(doc).encode()


def _write(name: str, data: bytes) -> Path:
    path = _TMP / name
    path.write_bytes(data)
    return path


def _scenario_run(data: bytes) -> Outcome:
    from airpicture.scenario.loader import load_scenario

    csv = _TMP / "real_flight.csv"
    if not csv.exists():
        csv.write_bytes((REPO / "src/airpicture/scenario/builtin/real_flight.csv").read_bytes())
    load_scenario(_write("scenario.toml", data))
    return Outcome()


def _rules_run(data: bytes) -> Outcome:
    from airpicture.identity.rules import RuleTable

    RuleTable.load(_write("rules.toml", data))
    return Outcome()


def _scoring_run(data: bytes) -> Outcome:
    from airpicture.threat.scoring import ScoringTable

    ScoringTable.load(_write("scoring.toml", data))
    return Outcome()


def _builtin(*parts: str) -> Callable[[], list[bytes]]:
    def seeds():
        return [(REPO / "src/airpicture" / p).read_bytes() for p in parts]
    return seeds


_TOML_TOKENS = (b"[", b"]", b"[[", b"]]", b"=", b'"', b"'''", b"nan", b"inf", b"#", b"\\u0000", b".", b"1979-05-27")
register(lambda: Target("scenario-toml", "scenario TOML (scenario.loader.load_scenario)", run=_scenario_run,
                        seeds=_builtin("scenario/builtin/demo.toml", "scenario/builtin/crossing.toml",
                                       "scenario/builtin/long_range.toml", "scenario/builtin/real_flight.toml"),
                        tokens=_TOML_TOKENS, structured=mutate_toml, max_size=1 << 16))
register(lambda: Target("rules-toml", "identity rule TOML (identity.rules.RuleTable.load)", run=_rules_run,
                        seeds=_builtin("identity/default_rules.toml"), tokens=_TOML_TOKENS, structured=mutate_toml,
                        max_size=1 << 16))
register(lambda: Target("scoring-toml", "threat scoring TOML (threat.scoring.ScoringTable.load)", run=_scoring_run,
                        seeds=_builtin("threat/default_scoring.toml"), tokens=_TOML_TOKENS, structured=mutate_toml,
                        max_size=1 << 16))


# ------------------------------------------------------------------------------------------------ key store

@lru_cache(maxsize=None)
def _fixture_store() -> dict:
    """A real store wrapped by a key file (HKDF: fast to open), with three keys, one of them retired."""
    from airpicture.identity.keystore import KeyStore, WrapSource

    folder = _TMP / "keys"
    folder.mkdir(exist_ok=True)
    key_file = WrapSource.create_key_file(folder / "wrap.key")
    store = KeyStore.create(folder / "seed.apks", WrapSource.key_file(key_file))
    store.add_key("iff-mode5")
    store.rotate("iff-mode5")
    store.save()
    plain = bytes(store._plaintext())
    header = store._header
    wrapping = bytes(store._wrapping.view())
    store.close()
    return {"key_file": key_file, "store": (folder / "seed.apks").read_bytes(), "plain": plain, "header": header,
            "wrapping": wrapping}


def _open_store(path: Path) -> Outcome:
    from airpicture.identity.keystore import KeyStore, WrapSource

    store = KeyStore.open(path, WrapSource.key_file(_fixture_store()["key_file"]))
    try:
        return Outcome(notes={"keys": len(store.keys())})
    finally:
        store.close()


def _keystore_run(data: bytes) -> Outcome:
    return _open_store(_write("store.apks", data))


def _keystore_content_run(data: bytes) -> Outcome:
    """Arbitrary plaintext, encrypted with the store's real wrapping key: reaches the content parser."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from airpicture.identity.keystore import _HEADER, FORMAT_VERSION, MAGIC

    fx = _fixture_store()
    kind, log2_n, r, p, salt, check = fx["header"]
    nonce = bytes(12)
    header = _HEADER.pack(MAGIC, FORMAT_VERSION, kind, log2_n, r, p, 0, salt, check, nonce)
    body = AESGCM(fx["wrapping"]).encrypt(nonce, data, header)
    return _open_store(_write("content.apks", header + body))


_KEY_BYTES = bytes(random.Random(9).randrange(256) for _ in range(32))  # fixed: reproducible cases


def _key_file_run(data: bytes) -> Outcome:
    from airpicture.identity.keystore import WrapSource

    WrapSource.key_file(_write("wrap.key", data)).wipe()
    return Outcome()


def _mutate_content(data: bytes, rng: random.Random) -> bytes:
    """Change the JSON metadata of a store's plaintext (keeps its length prefix right)."""
    import struct

    (n,) = struct.unpack_from(">I", data)
    meta = json.loads(data[4:4 + n])
    entries = meta.get("keys") or [{}]
    entry = rng.choice(entries) if isinstance(entries, list) and entries else meta
    if isinstance(entry, dict):
        key = rng.choice(list(entry) + ["new"])
        entry[key] = rng.choice(("", "x", None, 1, 1.5, [], {}, "9999-12-31T23:59:59+00:00", "active", "retired",
                                 "0000-00-00", "2026-13-45T99:99:99", "-1", True, "a" * 1000))
    blob = json.dumps(meta).encode()
    return struct.pack(">I", len(blob) if rng.random() < 0.9 else rng.randrange(2**32)) + blob + data[4 + n:]


register(lambda: Target("keystore", "key store file (identity.keystore.KeyStore.open), key-file wrapped",
                        run=_keystore_run, seeds=lambda: [_fixture_store()["store"], b"APKS", b""],
                        tokens=(b"APKS", b"\x01", b"\x02", b"\x00" * 16)))
register(lambda: Target("keystore-content", "key store content after decryption (KeyStore._load_plaintext)",
                        run=_keystore_content_run, seeds=lambda: [_fixture_store()["plain"]],
                        tokens=(b'"keys":', b'"id":', b'"state":', b'"created":', b"null", b"[]", b"{}"),
                        structured=_mutate_content))
register(lambda: Target("key-file", "wrapping key file (WrapSource.key_file): raw, hex or base64",
                        run=_key_file_run,
                        seeds=lambda: [_KEY_BYTES, _KEY_BYTES.hex().encode() + b"\n",
                                       base64.b64encode(_KEY_BYTES) + b"\n"],
                        tokens=(b"=", b"==", b"\n", b" ", b"0", b"f")))


# ------------------------------------------------------------------------------------------------ ASTERIX CAT048

CAPTURE = DATA / "asterix_cat_034_048.pcap"


def _cat048_run(data: bytes) -> Outcome:
    """``decode_file`` (pcap or raw datablocks, by the magic) then ``measurements`` with the CAT034 sites and one
    default site for every radar: only ``InputError`` or counted skips; what comes out is finite."""
    from airpicture.interop import asterix048 as a48

    path = _write("capture.pcap", data)
    dec = a48.decode_file(path)
    out = Outcome(accepted=int(dec.counts.get("plots", 0)),
                  notes={k: int(v) for k, v in dec.counts.items() if k != "plots"})
    radars = sorted(set(dec.plots.sac_sic))
    sites = {k: (dec.sites_034.get(k, (43.5, 16.4, 780.0)),) for k in radars}
    sensors, batch, ident = a48.measurements(dec.plots, sites, day=1.7e9 - 1.7e9 % 86400)
    if len(batch.time) != out.accepted:
        out.violations.append(f"{out.accepted} plots but {len(batch.time)} measurements")
    if len(batch.time) and not np.isfinite(batch.time).all():
        out.violations.append("a measurement with a non-finite time")
    if len(batch.time) and not np.isfinite(batch.values[:, :2]).all():
        out.violations.append("a measurement with a non-finite range or azimuth")
    if len(batch.time) and (batch.values[:, 0] < 0).any():
        out.violations.append("a negative range")
    return out


def _cat048_seeds() -> list[bytes]:
    from airpicture.interop import asterix048 as a48

    if not CAPTURE.exists():
        return [b""]
    pcap = CAPTURE.read_bytes()
    payloads = [p for _, p in a48.read_capture(CAPTURE)]
    return [pcap, pcap[:len(pcap) // 3], b"".join(payloads[:6]), payloads[0], payloads[-1], b""]


register(lambda: Target("asterix-cat048", "ASTERIX CAT048 / CAT034 capture (pcap or raw datablocks) through "
                        "interop.asterix048.decode_file and measurements", run=_cat048_run, seeds=_cat048_seeds,
                        tokens=(b"\x30", b"\x22", b"\x00\x00", b"\xff\xff", b"\xd4\xc3\xb2\xa1",
                                b"\x08\x00\x45\x00", b"\x11", b"\xfd\xff"),
                        max_size=1 << 15))


# ------------------------------------------------------------------------------------------------ recordings

@lru_cache(maxsize=None)
def _recording_seed() -> bytes:
    """A real recording: 12 s of the demo, run to the end (closed and checkpointed)."""
    from airpicture.pipeline import run_scenario
    from airpicture.scenario.loader import load_scenario

    scenario = load_scenario("demo")
    scenario.duration_s = 12.0
    out = _TMP / "recording-seed"
    run_scenario(scenario, out, show_progress=False)
    return (out / "airpicture.duckdb").read_bytes()


def _mutate_recording(data: bytes, rng: random.Random) -> bytes:
    """A damaged DuckDB file: cut at a block boundary or anywhere, a run of bytes garbled or zeroed somewhere in
    it (headers, catalog, data blocks), or both."""
    buf = bytearray(data)
    for _ in range(1 + rng.randrange(3)):
        op = rng.randrange(4)
        if op == 0 and buf:
            del buf[rng.choice([rng.randrange(len(buf)), (rng.randrange(len(buf)) // 4096) * 4096]):]
        elif buf:
            start = rng.choice([rng.randrange(min(len(buf), 12288)), rng.randrange(len(buf))])
            size = rng.choice([1, 2, 8, 64, 4096])
            fill = (bytes(rng.randrange(256) for _ in range(min(size, 64))) * (1 + size // 64))[:size] \
                if op == 1 else bytes(size) if op == 2 else bytes([buf[start] ^ (1 << rng.randrange(8))])
            buf[start:start + len(fill)] = fill
    return bytes(buf)


def _recording_run(data: bytes) -> Outcome:
    """``RecordingReader`` on the bytes, then everything a replay reads: only ``InputError`` naming the file."""
    from airpicture.recording import RecordingReader

    path = _write("recording.duckdb", data)
    for wal in (_TMP / "recording.duckdb.wal",):
        if wal.exists():
            wal.unlink()
    with RecordingReader(path) as r:
        n = len(r)
        frames = r.frames(0, n)
        r.counts()
        r.summary
        if n:
            r.alerts_at(r.end)
            r.alert_events()
        out = Outcome(accepted=len(frames), notes={"frames": n})
        if len(frames) != n:
            out.violations.append(f"{n} frame times but {len(frames)} frames read")
    return out


register(lambda: Target("recording", "airpicture recording (DuckDB): RecordingReader and every read a replay "
                        "makes, on cut / garbled files", run=_recording_run,
                        seeds=lambda: [_recording_seed()], structured=_mutate_recording, max_size=1 << 24,
                        tokens=(b"DUCK", b"\x00" * 8, b"\xff" * 8)))


# ------------------------------------------------------------------------------------------------ API requests

API_TOKENS = {"viewer": "fuzz-viewer-token", "operator": "fuzz-operator-token", "admin": "fuzz-admin-token"}


@lru_cache(maxsize=None)
def _api_client():
    """The real app (``create_app`` behind its ``Guard``) over a store fed by 15 s of the demo, with that run's
    controls (alerts and identities to acknowledge and override) and a pacer (playback), called in-process through
    its ASGI interface (Starlette's TestClient; exceptions in the app are raised, not turned into 500s)."""
    from starlette.testclient import TestClient

    from airpicture.picture import Controls, Pacer, SinkSet
    from airpicture.pipeline import run_scenario
    from airpicture.scenario.loader import load_scenario
    from airpicture.web.app import Service, create_app, wrap
    from airpicture.web.auth import Tokens
    from airpicture.web.store import PictureStore

    store = PictureStore()
    controls = Controls()
    scenario = load_scenario("demo")
    scenario.duration_s = 15.0
    run_scenario(scenario, None, show_progress=False, sinks=SinkSet([store]), controls=controls, outputs=False)
    service = Service(store=store, tokens=Tokens(API_TOKENS), controls=controls, pacer=Pacer(10.0),
                      options={"host": "127.0.0.1", "port": 8080}, allowed_hosts=("testserver", "127.0.0.1:8080"))
    return TestClient(wrap(create_app(service), service), raise_server_exceptions=True)


def parse_request(data: bytes) -> tuple[str, str, list[tuple[str, str]], bytes]:
    """A fuzz case as a request: ``METHOD PATH`` on the first line, ``Name: value`` header lines, a blank line,
    the body (raw HTTP's layout; anything unreadable becomes a GET of what is there)."""
    head, _, body = data.partition(b"\n\n")
    lines = head.decode("latin-1").split("\n")
    method, _, path = lines[0].strip().partition(" ")
    method = method.upper() if method.upper() in ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD") \
        else "GET"
    path = path.strip() or "/"
    if not path.startswith("/"):
        path = "/" + path
    headers = []
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        name = name.strip()
        if sep and name and all(33 <= ord(c) < 127 and c not in '()<>@,;:\\"/[]?={} ' for c in name):
            headers.append((name, value.strip()))
    return method, sendable_path(path), headers, body


def sendable_path(path: str) -> str:
    """What a client can put on the request line: control, space and non-ASCII characters percent-encoded."""
    return "".join(c if 0x20 < ord(c) < 0x7f else "".join(f"%{b:02X}" for b in c.encode("utf-8")) for c in path)


def _api_run(data: bytes) -> Outcome:
    client = _api_client()
    method, path, headers, body = parse_request(data)
    headers = [(k.encode(), v.encode("latin-1")) for k, v in headers  # header values go out as bytes, as sent
               if k.lower() not in ("content-length", "transfer-encoding", "host")]
    response = client.request(method, path, headers=headers, content=body)
    out = Outcome(notes={f"status_{response.status_code}": 1})
    if response.status_code >= 500:
        out.violations.append(f"{method} {path}: {response.status_code} {response.text[:300]}")
    return out


def _api_seeds() -> list[bytes]:
    v, o, a = (f"Authorization: Bearer {API_TOKENS[r]}" for r in ("viewer", "operator", "admin"))
    ct = "Content-Type: application/json"
    client = _api_client()  # a real track and alert of the picture, so the seeds reach the engines
    tracks = client.get("/api/tracks", headers={"Authorization": f"Bearer {API_TOKENS['viewer']}"}).json()
    alerts = client.get("/api/alerts", headers={"Authorization": f"Bearer {API_TOKENS['viewer']}"}).json()
    tid = tracks[-1]["track_id"] if tracks else 3
    aid = alerts[-1]["id"] if alerts else "A1"
    reqs = [f"GET /api/health\n\n", f"GET /api/picture\n{v}\n\n", f"GET /api/picture?t=12.0\n{v}\n\n",
            f"GET /api/tracks\n{v}\n\n", f"GET /api/tracks/{tid}\n{v}\n\n", f"GET /api/alerts?active=true\n{v}\n\n",
            f"POST /api/alerts/{aid}/ack\n{o}\n{ct}\n\n{{\"who\": \"cdr.smith\"}}",
            f"POST /api/tracks/{tid}/identity\n{o}\n{ct}\n\n"
            '{"identity": "hostile", "why": "visual", "track_class": "rotary_wing", "who": "cdr.smith"}',
            f"GET /api/sensors\n{v}\n\n", f"GET /api/zones\n{v}\n\n", f"GET /api/timeline\n{v}\n\n",
            f"POST /api/playback\n{o}\n{ct}\n\n{{\"action\": \"seek\", \"t\": 10.5}}",
            f"POST /api/playback\n{o}\n{ct}\n\n{{\"action\": \"speed\", \"speed\": 20}}",
            f"GET /api/config\n{a}\n\n", f"GET /data/aircraft.json?token={API_TOKENS['viewer']}\n\n",
            f"GET /api/geojson\n{v}\n\n", "GET /openapi.json\n\n", "GET /\n\n", f"GET /api/picture\n\n"]
    return [r.encode() for r in reqs]


register(lambda: Target("api", "HTTP API requests (method, path, query, headers, JSON body) against the real app "
                        "in-process (ASGI): never a 5xx, never an exception", run=_api_run, seeds=_api_seeds,
                        tokens=(b"/api/", b"/api/tracks/", b"/api/alerts/", b"/ack", b"/identity", b"?t=", b"nan",
                                b"inf", b"1e999", b"-1", b"9223372036854775808", b'"action"', b'"seek"', b'"t"',
                                b'"speed"', b'"identity"', b'"why"', b'"who"', b"null", b"Bearer ", b"%00", b"%ff",
                                b"\\ud800", b"..", b"//", b"Content-Type: application/json\n",
                                b"Authorization: Bearer fuzz-operator-token\n")))
