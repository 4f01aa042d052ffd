"""Live feeds: a real TCP server on 127.0.0.1 replays a recording in odd-sized pieces, hangs, and comes back."""

from __future__ import annotations

import socket
import threading
import time

import numpy as np
import pytest
from _sources_data import avr_lines, beast_binary, beast_records, jsonl_records, sbs_rows

from airpicture.sources import FrameBatch, TcpFeed

RECORDS = 1500
READ_TIMEOUT = 0.5  # long enough that a loaded CI machine does not stall a sender that long


class ReplayServer:
    """Serves one planned script per accepted connection: bytes to send, then hang or close."""

    def __init__(self, scripts, port=0, hang_s=10.0):
        self.scripts = list(scripts)
        self.hang_s = hang_s
        self.listener = socket.create_server(("127.0.0.1", port))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        with self.listener:
            for pieces, then in self.scripts:
                connection, _ = self.listener.accept()
                with connection:
                    try:
                        for piece in pieces:
                            connection.sendall(piece)
                            time.sleep(0.0005)
                        if then == "hang":  # silent until the client gives up on us
                            connection.settimeout(self.hang_s)
                            connection.recv(1)
                    except OSError:
                        pass


def odd_pieces(data, seed):
    rng = np.random.default_rng(seed)
    pieces, i = [], 0
    while i < len(data):
        size = int(rng.integers(1, 700))
        pieces.append(data[i:i + size])
        i += size
    return pieces


def follow(feed):
    batches = list(feed.batches())
    return FrameBatch.concat(batches) if batches else FrameBatch.empty()


def text_streams():
    records = beast_records(RECORDS)
    hexes = [f"{r['time']:.6f},1a{r['type']}{r['ticks']:012x}{r['signal']:02x}{r['frame']}".encode()
             for r in records]
    frames = [r["frame"] for r in records]
    sbs = sbs_rows(jsonl_records(limit=RECORDS))
    jsonl = jsonl_records(limit=RECORDS)
    import json
    return {
        "beast-hex": (hexes, frames),
        "avr": (avr_lines(records, "@"), frames),
        "sbs": ([row for row, _ in sbs], [""] * len(sbs)),
        "jsonl": ([json.dumps(r).encode() for r in jsonl], [r["frame"] for r in jsonl]),
    }


def test_beast_feed_half_frame_hang_timeout_reconnect():
    records = beast_records(RECORDS)
    data, starts = beast_binary(records)
    k = 700
    first = data[:starts[k] + 9]  # ends inside record k
    second = data[starts[k] + 9:]  # the next connection starts with the rest of it: junk to skip
    server = ReplayServer([(odd_pieces(first, 1), "hang"), (odd_pieces(second, 2), "close")])
    feed = TcpFeed("127.0.0.1", server.port, read_timeout=READ_TIMEOUT, backoff_initial=0.05, max_connections=2)
    batch = follow(feed)
    assert feed.connections == 2 and feed.detected == "beast"
    assert list(batch.frame) == [r["frame"] for r in records[:k] + records[k + 1:]]
    counts = feed.problems.counts
    assert counts["read_timeout"] == 1 and counts["connection_closed"] == 1
    assert counts["truncated_frame"] == 1
    assert counts["garbage"] == 1
    assert "connection 1" in feed.problems.first["truncated_frame"]
    # times follow the receiver counter within a connection and the wall clock across them
    first_part = batch.time[:k]
    np.testing.assert_allclose(np.diff(first_part), np.diff([r["ticks"] for r in records[:k]]) / 12e6, atol=1e-6)
    assert abs(batch.time[0] - time.time()) < 30


@pytest.mark.parametrize("format_name", ["beast-hex", "avr", "sbs", "jsonl"])
def test_text_feed_half_line_hang_timeout_reconnect(format_name):
    lines, frames = text_streams()[format_name]
    k = 600
    data_first = b"\n".join(lines[:k]) + b"\n" + lines[k][:len(lines[k]) // 2]
    data_second = b"\n".join(lines[k + 1:]) + b"\n"
    server = ReplayServer([(odd_pieces(data_first, 3), "hang"), (odd_pieces(data_second, 4), "close")])
    feed = TcpFeed("127.0.0.1", server.port, format="auto", read_timeout=READ_TIMEOUT, backoff_initial=0.05,
                   max_connections=2)
    batch = follow(feed)
    assert feed.detected == format_name
    assert list(batch.frame) == frames[:k] + frames[k + 1:]
    assert feed.problems.counts == {"read_timeout": 1, "truncated_frame": 1, "connection_closed": 1}
    assert list(batch.offset[:3]) == [1, 2, 3] and batch.offset[k] == 1  # line numbers per connection


def test_refused_connection_backs_off_then_connects():
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    records = beast_records(200)
    data, _ = beast_binary(records)
    waits = []
    servers = []

    def sleep(seconds):
        waits.append(seconds)
        if len(waits) == 3:  # the receiver comes up after three refused attempts
            servers.append(ReplayServer([(odd_pieces(data, 5), "close")], port=port))

    feed = TcpFeed("127.0.0.1", port, format="beast", read_timeout=READ_TIMEOUT, backoff_initial=0.1,
                   backoff_max=0.3, max_connections=1, sleep=sleep)
    batch = follow(feed)
    assert waits == [0.1, 0.2, 0.3]
    assert feed.problems.counts["connect_failed"] == 3
    assert list(batch.frame) == [r["frame"] for r in records]


def test_garbage_feed_is_counted_not_raised():
    rng = np.random.default_rng(7)
    junk = bytes(rng.integers(0, 256, 6000, dtype=np.uint8)).replace(b"\x1a", b"")
    server = ReplayServer([(odd_pieces(junk, 6), "close")])
    feed = TcpFeed("127.0.0.1", server.port, read_timeout=READ_TIMEOUT, backoff_initial=0.05, max_connections=1)
    batch = follow(feed)
    assert len(batch) == 0
    assert feed.problems.counts.get("unknown_format") == 1


def test_stop_ends_the_feed():
    records = beast_records(RECORDS)
    data, _ = beast_binary(records)
    server = ReplayServer([(odd_pieces(data, 8), "hang")], hang_s=5)
    feed = TcpFeed("127.0.0.1", server.port, read_timeout=2.0, backoff_initial=0.05)
    got = 0
    for batch in feed.batches():
        got += len(batch)
        if got >= 100:
            feed.stop()
    assert got >= 100 and feed.connections == 1


def test_a_reconnect_never_steps_a_beast_feed_back_in_time():
    # A recording served faster than real time: the second connection's counter restarts, and its frames must
    # not come out earlier than the first connection's last one.
    import time as _time

    from airpicture.sources.transport import TcpFeed

    record = b"\x1a3" + (123456).to_bytes(6, "big") + b"\x80" + bytes.fromhex("8d4840d6202cc371c32ce0576098")
    feed = TcpFeed("127.0.0.1", 1, format="beast")
    feed._last_time = _time.time() + 3600.0  # the previous connection ended an hour ahead of the receive clock
    ahead = feed._new_parser("beast", "test").feed(record + record[:1], _time.time())
    assert ahead.time[0] == pytest.approx(feed._last_time)
    feed._last_time = 0.0  # behind the clock: anchored to the receive time as before
    now = _time.time()
    behind = feed._new_parser("beast", "test").feed(record + record[:1], now)
    assert behind.time[0] == pytest.approx(now)
