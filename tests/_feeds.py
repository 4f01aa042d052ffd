"""A real TCP feed on 127.0.0.1 that serves recorded lines at a planned rate (tests and bench/bench_overload.py).

``PacedFeed(lines, [(seconds, frames_per_s), ...])`` accepts one connection and sends the lines in a loop: each
phase at its rate (``None``: as fast as the reader takes them - the socket's backpressure sets the pace), then
stays connected and silent until ``close()``. A looped Beast-hex recording steps back in time at each loop: the
reader's time guard counts it once (``time_reset``) and carries the time on, so the picture's time keeps going.
"""

from __future__ import annotations

import socket
import threading
import time

import numpy as np


class PacedFeed:
    def __init__(self, lines, schedule, *, tick_s: float = 0.01, block_frames: int = 2000):
        self.blob = b"".join(line + b"\n" for line in lines)
        self.ends = np.cumsum([len(line) + 1 for line in lines])     # end offset of each line
        self.n = len(lines)
        self.schedule = list(schedule)
        self.tick_s = tick_s
        self.block_frames = block_frames
        self.sent = []            # frames sent per phase (the current one counts up as it goes)
        self.phase_start = []     # time.time() at the start of each phase
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"tcp://127.0.0.1:{self.port}"
        self._closed = threading.Event()
        self._next = 0            # next line index (cyclic)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _send(self, connection, count: int) -> None:
        """``count`` lines from the cursor on, looping over the recording."""
        view = memoryview(self.blob)
        while count > 0:
            i = self._next
            j = min(self.n, i + count)
            start = 0 if i == 0 else int(self.ends[i - 1])
            connection.sendall(view[start:int(self.ends[j - 1])])
            count -= j - i
            self._next = j % self.n

    def _run(self) -> None:
        with self.listener:
            connection, _ = self.listener.accept()
        with connection:
            try:
                for seconds, rate in self.schedule:
                    t0 = time.time()
                    self.phase_start.append(t0)
                    self.sent.append(0)
                    # at most this many frames per send, so that a phase ends on time even when the reader
                    # cannot keep up (the send then blocks: the socket's backpressure)
                    most = self.block_frames if rate is None else max(1, int(rate * 5 * self.tick_s))
                    while not self._closed.is_set() and time.time() - t0 < seconds:
                        due = most if rate is None else int(rate * (time.time() - t0)) - self.sent[-1]
                        count = min(due, most)
                        if count > 0:
                            self._send(connection, count)
                            self.sent[-1] += count
                        if rate is not None and due <= most:
                            time.sleep(self.tick_s)
                self._closed.wait()
            except OSError:
                pass

    def close(self) -> None:
        self._closed.set()
