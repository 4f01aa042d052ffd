"""Test-side writers: turn the real recordings into each input format, independently of airpicture.sources."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
LONG_FLIGHT = DATA / "rs1090_long_flight.csv.gz"
TUTORIAL = DATA / "traffic_docs_tutorial.jsonl.gz"
FULL_FLIGHT = DATA / "traffic_rs1090_full_flight_short.jsonl.gz"


@lru_cache(maxsize=None)
def beast_hex_lines() -> tuple[bytes, ...]:
    return tuple(line for line in gzip.open(LONG_FLIGHT).read().split(b"\n") if line)


@lru_cache(maxsize=None)
def beast_records(limit: int | None = None) -> tuple[dict, ...]:
    """The Beast-hex recording as records: unix time, type, ticks, signal, frame hex."""
    out = []
    for line in beast_hex_lines()[:limit]:
        stamp, text = line.decode().split(",")
        out.append({"time": float(stamp), "type": text[2:4], "ticks": int(text[4:16], 16),
                    "signal": int(text[16:18], 16), "frame": text[18:].lower()})
    return tuple(out)


def beast_binary(records) -> tuple[bytes, list[int]]:
    """Beast binary stream (0x1A doubled inside records); also where each record starts."""
    chunks, starts, position = [], [], 0
    for r in records:
        body = bytes.fromhex(r["type"]) + r["ticks"].to_bytes(6, "big") + bytes([r["signal"]]) \
            + bytes.fromhex(r["frame"])
        record = b"\x1a" + body[:1] + body[1:].replace(b"\x1a", b"\x1a\x1a")
        starts.append(position)
        position += len(record)
        chunks.append(record)
    return b"".join(chunks), starts


def avr_lines(records, style: str) -> list[bytes]:
    if style == "*":
        return [f"*{r['frame'].upper()};".encode() for r in records]
    if style == "@":
        return [f"@{r['ticks']:012X}{r['frame'].upper()};".encode() for r in records]
    return [f"<{r['ticks']:012X}{r['signal']:02X}{r['frame']};".encode() for r in records]


@lru_cache(maxsize=None)
def jsonl_records(path: Path = TUTORIAL, limit: int | None = None) -> tuple[dict, ...]:
    out = []
    with gzip.open(path) as handle:
        for line in handle:
            if limit is not None and len(out) >= limit:
                break
            if line.strip():
                out.append(json.loads(line))
    return tuple(out)


def sbs_rows(records) -> list[tuple[bytes, dict]]:
    """BaseStation rows built from jet1090 records, with the record each came from."""
    rows = []
    for r in records:
        when = dt.datetime.fromtimestamp(r["timestamp"], dt.timezone.utc)
        date, clock = when.strftime("%Y/%m/%d"), when.strftime("%H:%M:%S.%f")[:-3]
        fields = [""] * 22
        fields[0:10] = ["MSG", "", "1", "1", r["icao24"].upper(), "1", date, clock, date, clock]
        if r.get("latitude") is not None:
            fields[1] = "3"
            fields[11] = "" if r.get("altitude") is None else str(r["altitude"])
            fields[14], fields[15] = repr(r["latitude"]), repr(r["longitude"])
        elif r.get("vertical_rate") is not None:
            fields[1] = "4"
            fields[12], fields[13], fields[16] = str(r["groundspeed"]), str(r["track"]), str(r["vertical_rate"])
        elif r.get("callsign"):
            fields[1], fields[10] = "1", r["callsign"]
        elif r.get("squawk"):
            fields[1], fields[17] = "6", r["squawk"]
        else:
            continue
        fields[18:22] = ["0", "0", "0", "0"]
        rows.append((",".join(fields).encode(), r))
    return rows
