"""Where a study's tasks run: in this process, on a Dask LocalCluster, or on an existing Dask cluster.

The Monte Carlo study (``montecarlo.py``), the coverage study (``coverage.py``) and the partitioned replay
(``partition.py``) hand this module a module-level function and a list of picklable task arguments; it gives
back ``(index, result, error)`` as tasks finish, whichever way they run:

* ``workers=None, scheduler=None``: a plain loop in this process (no Dask needed at all);
* ``workers=K``: a ``dask.distributed.LocalCluster`` of K worker processes, one thread each, torn down at the end;
* ``scheduler="tcp://HOST:8786"``: a ``Client`` of a running cluster - ``dask scheduler`` / ``dask worker`` by
  hand, dask-kubernetes ``KubeCluster``, dask-jobqueue ``SLURMCluster`` ... (docs/scaling.md). The workers must
  have the same airpicture installed; inputs named by path must be readable on them (shared storage).

A task that raises is reported with its error and the study goes on; so is a task whose worker died (Dask
re-runs it on another worker first, ``distributed.scheduler.allowed-failures``).
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit

from .errors import InputError

SCHEDULER_SCHEMES = ("tcp", "tls", "ws", "wss", "inproc")
CONNECT_TIMEOUT_S = 10.0


@dataclass
class Executor:
    """How tasks run: ``client`` is None in process. ``where`` says it in words for the end report."""

    client: Any
    where: str
    workers: int

    def run(self, func: Callable, items: list, *, key: str = "task") -> Iterator[tuple[int, Any, str | None]]:
        """Run ``func(item)`` for every item; yield ``(index, result, None)`` or ``(index, None, error)`` in the
        order tasks finish (in process: in order). An exception inside a task never stops the others."""
        if self.client is None:
            for i, item in enumerate(items):
                try:
                    yield i, func(item), None
                except Exception as exc:  # noqa: BLE001 - reported per task, the study goes on
                    yield i, None, f"{type(exc).__name__}: {exc}"
            return
        from dask.distributed import as_completed

        token = uuid.uuid4().hex[:12]
        futures = self.client.map(func, items, key=[f"{key}-{token}-{i}" for i in range(len(items))], pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        for future in as_completed(futures):
            i = index[future.key]
            if future.status == "finished":
                yield i, future.result(), None
            else:
                exc = future.exception()
                yield i, None, f"{type(exc).__name__}: {exc}"
            future.release()


def check_workers(workers: int | None, scheduler: str | None) -> None:
    """``--workers`` and ``--scheduler`` are exclusive; workers >= 1; a scheduler address looks like one."""
    if workers is not None and scheduler is not None:
        raise InputError("choose one of --workers and --scheduler", field="--scheduler")
    if workers is not None and workers < 1:
        raise InputError(f"{workers}: must be at least 1", field="--workers")
    if scheduler is not None:
        parts = urlsplit(scheduler)
        ok = parts.scheme in SCHEDULER_SCHEMES and (parts.scheme == "inproc" or (parts.hostname and parts.port))
        if not ok:
            raise InputError(f"'{scheduler}' is not a scheduler address such as tcp://HOST:8786",
                             field="--scheduler")


@contextlib.contextmanager
def executor(workers: int | None = None, scheduler: str | None = None, *,
             connect_timeout_s: float = CONNECT_TIMEOUT_S, processes: bool = True) -> Iterator[Executor]:
    """An :class:`Executor` for the duration of a ``with`` block (see the module docstring)."""
    check_workers(workers, scheduler)
    if workers is None and scheduler is None:
        yield Executor(None, "in process", 1)
        return
    import logging

    from dask.distributed import Client, LocalCluster

    logging.getLogger("distributed").setLevel(logging.ERROR)
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=f"{connect_timeout_s}s")
        except (OSError, TimeoutError) as exc:
            raise InputError(f"cannot reach the Dask scheduler ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else 'no answer'})",
                             source=scheduler, field="--scheduler") from None
        try:
            n = len(client.scheduler_info().get("workers", {}))
            yield Executor(client, f"Dask cluster {scheduler} ({n} workers)", n)
        finally:
            client.close()
        return
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=processes, dashboard_address=None,
                           silence_logs=logging.ERROR)
    client = Client(cluster)
    try:
        yield Executor(client, f"Dask LocalCluster ({workers} worker {'processes' if processes else 'threads'})",
                       workers)
    finally:
        client.close()
        cluster.close()
