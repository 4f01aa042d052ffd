"""``python -m fuzz`` (``make fuzz``): every registered parser, many cases each, and a table of the counts.

    python -m fuzz                               # 10^6 cases per target, the built-in mutation engine
    python -m fuzz --cases 20000 --targets beast,sbs --json out.json
    python -m fuzz --engine atheris --cases 100000   # coverage-guided (libFuzzer through atheris), if installed

The built-in engine mutates the target's seeds (real recordings, built-in TOML, a real key store) with byte
edits and the target's format-aware mutator, and keeps as new seeds the inputs that gave a new outcome (a new
set of rejection kinds, an error message not seen before): a cheap stand-in for coverage feedback. Every case
goes through ``fuzz.harness.run_case`` (per-case SIGALRM time limit; crash / hang / violation). Inputs that fail
are written to ``fuzz/crashes/<target>-<sha1>.bin``; the exit code is 1 if any case failed.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
CRASH_DIR = HERE / "crashes"


def _signature(result) -> tuple:
    o = result.outcome
    if o is None:
        return (result.kind, result.detail.split(":", 1)[-1][:60])
    return (result.kind, tuple(sorted(o.rejected)), tuple(sorted(k for k, v in o.notes.items() if v)))


class Tally:
    def __init__(self, name: str):
        self.name = name
        self.counts = collections.Counter()
        self.rejected_by_kind = collections.Counter()
        self.records = 0
        self.accepted_records = 0
        self.failures: list[dict] = []
        self.seconds = 0.0

    def add(self, data: bytes, result) -> None:
        self.counts["cases"] += 1
        self.counts[result.kind] += 1
        if result.outcome is not None:
            self.records += result.outcome.records or 0
            self.accepted_records += result.outcome.accepted
            self.rejected_by_kind.update(result.outcome.rejected)
        if result.failed:
            digest = hashlib.sha1(data).hexdigest()[:12]
            CRASH_DIR.mkdir(exist_ok=True)
            path = CRASH_DIR / f"{self.name}-{digest}.bin"
            path.write_bytes(data)
            if len(self.failures) < 20:
                self.failures.append({"kind": result.kind, "input": str(path), "detail": result.detail[-800:]})

    def as_dict(self) -> dict:
        c = self.counts
        return {"target": self.name, "cases": c["cases"], "accepted": c["accepted"], "rejected": c["rejected"],
                "input_error": c["input_error"], "crashes": c["crash"], "hangs": c["hang"],
                "violations": c["violation"], "records": self.records, "records_accepted": self.accepted_records,
                "rejected_by_kind": dict(self.rejected_by_kind.most_common()), "seconds": round(self.seconds, 1),
                "failures": self.failures}


def run_random(name: str, cases: int, seed: int, timeout_s: float, corpus_limit: int = 400) -> dict:
    from fuzz.harness import run_case
    from fuzz.targets import TARGETS

    target = TARGETS[name]
    rng = random.Random(seed)
    corpus = list(target.seeds())
    for data in corpus:  # warm-up, untimed: first calls compile numba kernels and fill caches
        try:
            target.run(data)
        except Exception:  # noqa: BLE001 - counted below like any case
            pass
    tally = Tally(name)
    seen = set()
    t0 = time.perf_counter()
    for i in range(cases):
        data = corpus[i] if i < len(corpus) else target.mutate(rng.choice(corpus), rng)
        result = run_case(target, data, timeout_s)
        tally.add(data, result)
        sig = _signature(result)
        if sig not in seen:
            seen.add(sig)
            if len(corpus) < corpus_limit:
                corpus.append(data)
            else:
                corpus[rng.randrange(len(target.seeds()), corpus_limit)] = data
    tally.seconds = time.perf_counter() - t0
    return tally.as_dict()


# ------------------------------------------------------------------------------------------------ atheris

_ATHERIS_CHILD = r"""
import atexit, json, sys
sys.path.insert(0, {root!r})
import atheris
with atheris.instrument_imports(include=["airpicture", "fuzz"]):
    from fuzz.harness import run_case
    from fuzz.targets import TARGETS
    from fuzz.__main__ import Tally
target = TARGETS[{name!r}]
for seed in target.seeds():
    try:
        target.run(seed)
    except Exception:
        pass
tally = Tally({name!r})
def done():
    with open({out!r}, "w") as fh:
        json.dump(tally.as_dict(), fh)
def one(data):
    tally.add(data, run_case(target, data, {timeout!r}))
    done()   # libFuzzer leaves with _exit: no atexit, so the tally is written after every case
seeds_dir = {seeds!r}
atheris.Setup([sys.argv[0], "-runs={cases}", "-timeout=0", "-rss_limit_mb=4096", "-max_len={max_len}",
               "-print_final_stats=0", seeds_dir], one)
atheris.Fuzz()
"""


def run_atheris(name: str, cases: int, seed: int, timeout_s: float) -> dict:
    import tempfile

    from fuzz.targets import TARGETS

    target = TARGETS[name]
    work = Path(tempfile.mkdtemp(prefix=f"airpicture-atheris-{name}-"))
    seeds = work / "corpus"
    seeds.mkdir()
    for i, data in enumerate(target.seeds()):
        (seeds / f"seed{i}").write_bytes(data)
    out = work / "tally.json"
    code = _ATHERIS_CHILD.format(root=str(HERE.parent), name=name, timeout=timeout_s, out=str(out), cases=cases,
                                 max_len=target.max_size, seeds=str(seeds))
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code, f"-seed={seed}"], capture_output=True, text=True,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if not out.exists():
        raise SystemExit(f"atheris run of {name} ended without its tally (exit {proc.returncode}):\n"
                         f"{proc.stderr[-2000:]}")
    result = json.loads(out.read_text())
    result["seconds"] = round(time.perf_counter() - t0, 1)
    return result


# ------------------------------------------------------------------------------------------------ report

def table(rows: list[dict]) -> str:
    head = ["target", "cases", "accepted", "all rejected", "InputError", "crashes", "hangs", "violations",
            "records", "records accepted", "top rejection kinds", "s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        kinds = ", ".join(f"{k} {v:,}" for k, v in list(r["rejected_by_kind"].items())[:4]) or "-"
        lines.append("| " + " | ".join([r["target"], f"{r['cases']:,}", f"{r['accepted']:,}", f"{r['rejected']:,}",
                                        f"{r['input_error']:,}", str(r["crashes"]), str(r["hangs"]),
                                        str(r["violations"]), f"{r['records']:,}", f"{r['records_accepted']:,}",
                                        kinds, f"{r['seconds']:.0f}"]) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    from fuzz.harness import CASE_TIMEOUT_S
    from fuzz.targets import TARGETS

    ap = argparse.ArgumentParser(prog="python -m fuzz", description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=1_000_000, help="cases per target (default 10^6)")
    ap.add_argument("--targets", default="all", help=f"comma-separated, of: {', '.join(TARGETS)}")
    ap.add_argument("--engine", choices=("random", "atheris"), default="random")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=CASE_TIMEOUT_S, help="per-case time limit, s")
    ap.add_argument("--json", type=Path, help="write the results here as JSON")
    args = ap.parse_args(argv)
    names = list(TARGETS) if args.targets == "all" else args.targets.split(",")
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        ap.error(f"unknown target(s) {', '.join(unknown)}; known: {', '.join(TARGETS)}")
    rows = []
    for name in names:
        runner = run_atheris if args.engine == "atheris" else run_random
        row = runner(name, args.cases, args.seed, args.timeout)
        rows.append(row)
        print(f"{name}: {row['cases']:,} cases in {row['seconds']:.0f} s, {row['crashes']} crashes, "
              f"{row['hangs']} hangs, {row['violations']} violations", file=sys.stderr, flush=True)
        if args.json:
            args.json.write_text(json.dumps({"engine": args.engine, "seed": args.seed, "timeout_s": args.timeout,
                                             "cases_per_target": args.cases, "results": rows}, indent=1))
    print(table(rows))
    for r in rows:
        for f in r["failures"]:
            print(f"\n{r['target']} {f['kind']}: {f['input']}\n{f['detail']}")
    return 1 if any(r["crashes"] or r["hangs"] or r["violations"] for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
