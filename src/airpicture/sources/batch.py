"""Columnar containers shared by every reader: the frames read, and the problems met on the way."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

FEET = 0.3048
KNOTS = 1852.0 / 3600.0
FEET_PER_MINUTE = FEET / 60.0

# Decoded-field columns carried by SBS and JSON-lines input and returned by decode.decode_frames.
# name -> (dtype, missing value). Units are SI; text fields are Python str ('' when absent).
DECODED_COLUMNS: dict[str, tuple[object, object]] = {
    "df": (np.int16, -1),
    "icao24": (object, ""),
    "tc": (np.int16, -1),
    "bds": (object, ""),
    "latitude_rad": (np.float64, np.nan),
    "longitude_rad": (np.float64, np.nan),
    "altitude_m": (np.float64, np.nan),
    "groundspeed_mps": (np.float64, np.nan),
    "track_rad": (np.float64, np.nan),
    "vertical_rate_mps": (np.float64, np.nan),
    "callsign": (object, ""),
    "squawk": (object, ""),
}


def empty_column(name: str, n: int) -> np.ndarray:
    """A decoded-field column of length ``n`` filled with that column's missing value."""
    dtype, missing = DECODED_COLUMNS[name]
    column = np.empty(n, dtype=dtype)
    column[:] = missing
    return column


class Problems:
    """Bad input counted per reason, with where each reason was first seen.

    Readers never raise on bad records: they count them here so that a summary can say how many were dropped
    and why, and an error message can point at the first offending line or byte.
    """

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.first: dict[str, str] = {}

    def add(self, reason: str, where: str, count: int = 1) -> None:
        if count <= 0:
            return
        self.counts[reason] = self.counts.get(reason, 0) + int(count)
        self.first.setdefault(reason, where)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def merge(self, other: "Problems") -> None:
        for reason, count in other.counts.items():
            self.add(reason, other.first[reason], count)

    def describe(self) -> list[str]:
        """One line per reason: count and first place seen."""
        return [f"{reason}: {count} (first at {self.first[reason]})" for reason, count in sorted(self.counts.items())]

    def __repr__(self) -> str:
        return f"Problems({self.counts!r})"


@dataclass
class FrameBatch:
    """Frames read from one source, one row per frame.

    Attributes
    ----------
    time : float64 (n,)
        Reception time, s since the Unix epoch (see ``docs/sources.md`` for how each format gets it).
    frame : object (n,)
        Mode S (or Mode A/C) frame as lowercase hex ``str``; ``''`` for SBS rows, which carry no frame.
    signal : float64 (n,)
        Receiver signal byte 0-255 (Beast); NaN where the format has none.
    ticks : int64 (n,)
        Receiver 12 MHz counter (Beast, AVR ``@``/``<``); -1 where absent.
    offset : int64 (n,)
        Where the record starts: line number (1-based) for text formats, byte offset for Beast binary.
    fields : dict of str -> ndarray
        Decoded fields the input already carries (SBS, JSON lines), columns of ``DECODED_COLUMNS``.
    """

    time: np.ndarray
    frame: np.ndarray
    signal: np.ndarray
    ticks: np.ndarray
    offset: np.ndarray
    fields: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.time)

    @classmethod
    def empty(cls, field_names=()) -> "FrameBatch":
        return cls(time=np.empty(0), frame=np.empty(0, dtype=object), signal=np.empty(0),
                   ticks=np.empty(0, dtype=np.int64), offset=np.empty(0, dtype=np.int64),
                   fields={name: empty_column(name, 0) for name in field_names})

    @classmethod
    def concat(cls, batches: list["FrameBatch"]) -> "FrameBatch":
        batches = [b for b in batches if len(b)] or batches[:1]
        if not batches:
            return cls.empty()
        names = list(batches[0].fields)
        return cls(time=np.concatenate([b.time for b in batches]),
                   frame=np.concatenate([b.frame for b in batches]),
                   signal=np.concatenate([b.signal for b in batches]),
                   ticks=np.concatenate([b.ticks for b in batches]),
                   offset=np.concatenate([b.offset for b in batches]),
                   fields={name: np.concatenate([b.fields[name] for b in batches]) for name in names})

    def take(self, index) -> "FrameBatch":
        """Rows selected by a boolean mask or an index array."""
        return FrameBatch(time=self.time[index], frame=self.frame[index], signal=self.signal[index],
                          ticks=self.ticks[index], offset=self.offset[index],
                          fields={name: column[index] for name, column in self.fields.items()})


def object_array(values) -> np.ndarray:
    """A 1-D object array from a list of Python objects (np.array would build a 2-D array from sequences)."""
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out
