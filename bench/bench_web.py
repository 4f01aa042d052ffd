"""Benchmark: the live display's WebSocket fan-out - 10,000 tracks updating at 1 Hz to 50 clients on loopback
(issue 6 §4).

The server is the real one (``LiveService``: uvicorn in a thread, the ``PictureStore`` sink) in this process; a
feeder thread plays a run, handing the store one synthetic frame a second (``web.synthetic``: every track moves, so
every delta carries all 10,000 records). The clients are real WebSocket clients (the websockets library) in
separate processes (``--procs``, asyncio inside each), so the server is not starved by its own clients; they read
every message and take the frame's time stamp from its head.

Latency: from the picture update (the frame's time stamp, the wall time at ``store.step``) to the moment a client
has received the whole delta. Reported: p50 / p99 / max over every (client, frame) after a warm-up, server RSS
(peak and at the end, sampled every 0.2 s), bytes per second to all clients, the delta's size and the server's time
to build one delta (diff, records, JSON). Target: p99 <= 1 s. Writes its table between the bench_web markers of
BENCHMARKS.md.

    .venv/bin/python bench/bench_web.py                            # 10,000 tracks, 50 clients, 40 s
    .venv/bin/python bench/bench_web.py --tracks 1000 --clients 10 --seconds 10 --no-write
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import platform
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from _report import machine, write_marked_section  # noqa: E402

START, END = "<!-- bench_web:start -->", "<!-- bench_web:end -->"
TARGET_P99_S = 1.0
HEAD = re.compile(rb'"seq":(\d+),"time":([-0-9.eE+]+)')


# ------------------------------------------------------------------------------------------------- clients
def _client_proc(url: str, n: int, done, out) -> None:
    """One process of ``n`` clients: (receipt wall time, frame time, seq, bytes) per delta, and errors."""
    import websockets

    rows: list[tuple] = []
    errors: list[str] = []

    async def one(i: int):
        try:
            async with websockets.connect(url, max_size=None, compression=None, open_timeout=60,
                                          ping_interval=None) as ws:
                while not done.is_set():
                    try:
                        data = await asyncio.wait_for(ws.recv(decode=False), 0.5)
                    except asyncio.TimeoutError:
                        continue
                    now = time.time()
                    m = HEAD.search(data, 0, 200)
                    if m is not None and b'"heartbeat"' not in data[-40:]:
                        rows.append((i, now, float(m.group(2)), int(m.group(1)), len(data)))
        except Exception as exc:
            errors.append(f"client {i}: {type(exc).__name__}: {exc}")

    async def main():
        await asyncio.gather(*(one(i) for i in range(n)))

    asyncio.run(main())
    out.put((rows, errors))


# ------------------------------------------------------------------------------------------------- server
def _rss_mb(pid: int | None = None) -> float:
    import psutil

    return psutil.Process(pid).memory_info().rss / 1e6


def run(tracks: int, clients: int, procs: int, seconds: float, warmup: float, rate_hz: float) -> dict:
    from airpicture.picture import PictureContext
    from airpicture.web.server import LiveService
    from airpicture.web.store import PictureStore
    from airpicture.web.synthetic import SyntheticPicture

    tmp = Path(tempfile.mkdtemp(prefix="bench_web_"))
    store = PictureStore()
    service = LiveService(port=0, tokens_path=tmp / "tokens.json", store=store).start()
    url = service.url.replace("http://", "ws://") + "ws?token=" + service.tokens.token("viewer")
    picture = SyntheticPicture(tracks)
    rss0 = _rss_mb()
    store.open(PictureContext(name="bench", mode="simulation"))
    stop_feed = threading.Event()
    feed_times: list[float] = []
    measured_frames: list[float] = []
    measure_from = stop_at = float("inf")

    def feeder():
        t_next = time.time()
        while not stop_feed.is_set():
            now = time.time()
            if now < t_next:
                time.sleep(min(t_next - now, 0.05))
                continue
            stamp = time.time()
            store.step(picture.frame(stamp))  # frame time = wall time at the update
            feed_times.append(time.time() - now)
            if measure_from <= stamp < stop_at:
                measured_frames.append(stamp)
            t_next += 1.0 / rate_hz

    ctx = mp.get_context("spawn")
    out, done = ctx.Queue(), ctx.Event()
    per = [clients // procs + (1 if i < clients % procs else 0) for i in range(procs)]
    workers = [ctx.Process(target=_client_proc, args=(url, n, done, out), daemon=True) for n in per if n]
    for w in workers:
        w.start()
    deadline = time.monotonic() + 120
    while len(store.clients) < clients and time.monotonic() < deadline:
        time.sleep(0.1)
    connected = len(store.clients)
    feed = threading.Thread(target=feeder, daemon=True)
    measure_from = time.time() + warmup
    stop_at = measure_from + seconds
    feed.start()
    import psutil

    me = psutil.Process()
    kids = [psutil.Process(w.pid) for w in workers]

    def cpu(ps):
        total = 0.0
        for p in ps:
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
        return total

    while time.time() < measure_from:
        time.sleep(0.05)
    cpu_s0, cpu_c0, wall0 = cpu([me]), cpu(kids), time.time()
    rss_peak, samples = 0.0, []
    while time.time() < stop_at:
        r = _rss_mb()
        rss_peak = max(rss_peak, r)
        samples.append(r)
        time.sleep(0.2)
    cpu_s1, cpu_c1, wall1 = cpu([me]), cpu(kids), time.time()
    stop_feed.set()
    feed.join()
    time.sleep(10.0)  # the last frames reach the clients
    done.set()
    results = [out.get(timeout=120) for _ in workers]
    for w in workers:
        w.join(30)
    rss_end = _rss_mb()
    stats = store.stats()
    publish_ms = sorted(store.publish_ms)
    written = sorted(store.written_s)
    service.stop()

    rows = [r for rr, _ in results for r in rr if measure_from <= r[2] < stop_at]
    errors = [e for _, ee in results for e in ee]
    lat = sorted(now - t for _, now, t, _, _ in rows)
    span = max(1e-9, (max(r[1] for r in rows) - min(r[1] for r in rows))) if rows else 1.0
    nbytes = sum(r[4] for r in rows)
    frames = len({r[3] for r in rows})

    def q(p):
        return lat[min(len(lat) - 1, int(round(p * (len(lat) - 1))))] if lat else float("nan")

    return {"tracks": tracks, "clients": clients, "connected": connected, "procs": len(workers),
            "seconds": seconds, "warmup": warmup, "rate_hz": rate_hz, "samples": len(lat), "frames": frames,
            "expected": len(measured_frames) * clients, "p50": q(0.5), "p90": q(0.9), "p99": q(0.99),
            "max": lat[-1] if lat else float("nan"), "mean": statistics.fmean(lat) if lat else float("nan"),
            "rss0": rss0, "rss_peak": rss_peak, "rss_end": rss_end, "bytes_per_s": nbytes / span,
            "delta_mb": (nbytes / len(rows) / 1e6) if rows else float("nan"),
            "publish_p50_ms": publish_ms[len(publish_ms) // 2] if publish_ms else float("nan"),
            "publish_max_ms": publish_ms[-1] if publish_ms else float("nan"),
            "written_p50": written[len(written) // 2] if written else float("nan"),
            "written_p99": written[int(0.99 * (len(written) - 1))] if written else float("nan"),
            "server_cores": (cpu_s1 - cpu_s0) / (wall1 - wall0), "client_cores": (cpu_c1 - cpu_c0) / (wall1 - wall0),
            "feed_ms": 1e3 * statistics.fmean(feed_times) if feed_times else float("nan"),
            "dropped": stats["dropped_clients"], "errors": errors,
            "history_frames": stats["history_frames"], "rows": rows}


def report(r: dict, load0, load1) -> str:
    met = "met" if r["p99"] <= TARGET_P99_S and r["dropped"] == 0 and not r["errors"] else "NOT met"
    lines = [
        "## Live display: WebSocket fan-out of a 10,000-track picture (`bench/bench_web.py`)",
        "",
        f"{r['tracks']:,} tracks, every one moving, one frame a second into the real `PictureStore` + uvicorn server "
        f"(this process); {r['clients']} WebSocket clients (websockets library) in {r['procs']} separate processes on "
        f"loopback. {r['seconds']:g} s measured after {r['warmup']:g} s of warm-up. Latency: frame time stamp at "
        f"`store.step` to a client holding the whole delta. Target: p99 <= {TARGET_P99_S:g} s - **{met}**.",
        "",
        "| figure | value |",
        "|---|---:|",
        f"| latency p50 / p90 / p99 / max (s) | {r['p50']:.3f} / {r['p90']:.3f} / {r['p99']:.3f} / {r['max']:.3f} |",
        f"| deltas received (client x frame) | {r['samples']:,} of {r['expected']:,} |",
        f"| clients dropped as too slow | {r['dropped']} |",
        f"| delta size (MB, all {r['tracks']:,} records) | {r['delta_mb']:.2f} |",
        f"| to all clients (MB/s) | {r['bytes_per_s'] / 1e6:.1f} |",
        f"| server: build one delta (diff, records, JSON; median / max ms) | {r['publish_p50_ms']:.0f} / "
        f"{r['publish_max_ms']:.0f} |",
        f"| server: frame at `store.step` to written to a client's socket, p50 / p99 (s) | {r['written_p50']:.3f} / "
        f"{r['written_p99']:.3f} |",
        f"| CPU used: server (with the feeder) / all clients (cores) | {r['server_cores']:.2f} / "
        f"{r['client_cores']:.2f} |",
        f"| server RSS: idle / peak / end (MB) | {r['rss0']:.0f} / {r['rss_peak']:.0f} / {r['rss_end']:.0f} |",
        "",
        f"The server's RSS includes the feeder (the synthetic run) and the frame history kept for the time slider "
        f"({r['history_frames']} frames at the end; bounded by rows, docs/web.md). One delta is serialised once and "
        "the same text is queued for every client. Errors: " + ("; ".join(r["errors"][:3]) or "none") + ".",
        "",
        f"Machine: {machine()}; Python {platform.python_version()}. Load average {load0:.2f} at the start, "
        f"{load1:.2f} at the end (clients and server share the machine). The server needed {r['server_cores']:.2f} "
        f"of a core and the clients {r['client_cores']:.2f}: with a load average above the core count, the "
        "latencies are mostly time spent waiting for a CPU, and they fall with the machine's load.",
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tracks", type=int, default=10_000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--procs", type=int, default=5, help="client processes")
    ap.add_argument("--seconds", type=float, default=40.0)
    ap.add_argument("--warmup", type=float, default=5.0)
    ap.add_argument("--rate", type=float, default=1.0, help="frames per second")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args(argv)
    load0 = os.getloadavg()[0]
    r = run(a.tracks, a.clients, a.procs, a.seconds, a.warmup, a.rate)
    load1 = os.getloadavg()[0]
    body = report(r, load0, load1)
    print(body)
    if not a.no_write:
        write_marked_section(ROOT / "BENCHMARKS.md", START, END, body)
    return 0 if r["p99"] <= TARGET_P99_S else 1


if __name__ == "__main__":
    sys.exit(main())
