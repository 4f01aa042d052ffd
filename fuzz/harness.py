"""The properties every fuzz case must hold, whatever the target:

* it returns, or raises :class:`airpicture.errors.InputError` whose message names where (a file, a line or a
  field); any other exception is a **crash**;
* it ends within a per-case time limit, enforced by ``SIGALRM`` (``setitimer``): a case still running is
  interrupted and counted a **hang** (never a wall-time assert on the whole run);
* the target's own checks hold: for record streams, ``input records = accepted + counted rejections``
  (``Outcome.balanced``), and whatever else the target verifies (chunk-independence, times non-decreasing,
  tracks finite) - a failure is a **violation**.
"""

from __future__ import annotations

import signal
import threading
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field

from airpicture.errors import InputError

#: default per-case time limit (s); a parser case takes well under 10 ms
CASE_TIMEOUT_S = 2.0


class CaseTimeout(BaseException):
    """Raised inside a case that ran past its time limit (a BaseException: ``except Exception`` cannot eat it)."""


@contextmanager
def time_limit(seconds: float):
    """Interrupt the block with :class:`CaseTimeout` after ``seconds`` (main thread only: SIGALRM)."""
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("time_limit needs the main thread (it uses SIGALRM)")

    def on_alarm(signum, frame):
        raise CaseTimeout(f"case ran longer than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Outcome:
    """What a target made of one input.

    ``records``: input records by an independent count (None where the input is one document: TOML, key
    store); ``accepted``: records accepted; ``rejected``: counted rejections by kind; ``notes``: counted events
    that drop nothing (a time re-stamped, junk after a good record); ``violations``: failed target checks.
    """

    records: int | None = None
    accepted: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    notes: dict[str, int] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)

    @property
    def balanced(self) -> bool:
        return self.records is None or self.records == self.accepted + sum(self.rejected.values())


@dataclass
class CaseResult:
    kind: str                     # "accepted" | "rejected" | "input_error" | "crash" | "hang" | "violation"
    detail: str = ""
    outcome: Outcome | None = None

    @property
    def failed(self) -> bool:
        return self.kind in ("crash", "hang", "violation")


def input_error_names_where(exc: InputError) -> bool:
    return bool(exc.source) or exc.line is not None or bool(exc.field)


def run_case(target, data: bytes, timeout_s: float = CASE_TIMEOUT_S) -> CaseResult:
    """Run one input through ``target`` and classify it (see the module docstring)."""
    try:
        with time_limit(timeout_s):
            outcome = target.run(data)
    except CaseTimeout as exc:
        return CaseResult("hang", str(exc))
    except InputError as exc:
        if not input_error_names_where(exc):
            return CaseResult("violation", f"InputError names no place: {exc}")
        return CaseResult("input_error", str(exc))
    except Exception:  # noqa: BLE001 - any other exception is what we are looking for
        return CaseResult("crash", traceback.format_exc(limit=-4))
    if outcome.violations:
        return CaseResult("violation", "; ".join(outcome.violations), outcome)
    if not outcome.balanced:
        return CaseResult("violation", f"records {outcome.records} != accepted {outcome.accepted} + rejected "
                                       f"{sum(outcome.rejected.values())} {outcome.rejected}", outcome)
    kind = "rejected" if outcome.records is not None and outcome.accepted == 0 and outcome.records else "accepted"
    return CaseResult(kind, "", outcome)


def assert_case(target, data: bytes, timeout_s: float = CASE_TIMEOUT_S) -> CaseResult:
    """``run_case`` for tests: fails with the input and the reason on a crash, hang or violation."""
    result = run_case(target, data, timeout_s)
    if result.failed:
        raise AssertionError(f"{target.name}: {result.kind} on input {data[:300]!r}"
                             f"{'...' if len(data) > 300 else ''}:\n{result.detail}")
    return result
