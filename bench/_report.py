"""Writing a benchmark's table into its own marked section of BENCHMARKS.md.

Each script in bench/ owns one section between its start and end markers and leaves the rest
of the file as it is, so the benchmarks can be re-run independently.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

HEADER = "# Benchmarks\n\nTables below are written by the scripts in bench/; do not edit them by hand.\n"


def write_marked_section(path: Path, start: str, end: str, body: str) -> None:
    """Replace the text between ``start`` and ``end`` (markers kept) with ``body``, or append it."""
    block = f"{start}\n{body.strip(chr(10))}\n{end}"
    current = path.read_text() if path.exists() else HEADER
    if start in current and end in current:
        head, rest = current.split(start, 1)
        _, tail = rest.split(end, 1)
        new = head + block + tail
    else:
        new = current.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(new)


def machine(cores_note: str = "") -> str:
    """CPU model, logical cores (``cores_note`` after them, e.g. " (1 used)"), OS - for a table's caption."""
    cpu = platform.processor() or "unknown cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} logical cores{cores_note}, {platform.system()} {platform.release()}"
