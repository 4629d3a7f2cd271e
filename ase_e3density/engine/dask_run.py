"""Batches on a Dask cluster: a LocalCluster of worker processes, or a running scheduler.

Imported only when Dask is asked for (the ``screen`` extra). Each worker runs one task at a time
with ``threads`` torch/OpenMP threads (:class:`ThreadLimit`), so N workers do not oversubscribe N
cores. At most ``window`` batches are in flight, so memory stays flat however many items stream
through; results come back to this process, the only writer. A worker lost mid-run (killed, out of
memory) has its tasks rerun by the scheduler; each batch's result is taken once.

The LocalCluster's workers keep glibc's own memory settings: Dask's nannies otherwise start them with
``MALLOC_TRIM_THRESHOLD_=65536``, which fixes glibc's mmap threshold at 128 kB, so that every array of
a forward pass larger than that is mapped and zeroed afresh by the kernel. Measured on the organic
model screening QM9 molecules (2 cores, 2026-12-06): 2.2x the CPU time of the forward pass, 3.6x of
the multipoles after it, 2x of the whole run (``benchmarks/bench_screen_dask.py``). A variable set in
the caller's environment still reaches the workers.
"""
from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager

import dask
from distributed import Client, KilledWorker, LocalCluster, WorkerPlugin, as_completed
from distributed.client import FutureCancelledError

from ..errors import E3DensityError

__all__ = ["ThreadLimit", "dask_client", "kept_environment", "run_tasks", "limit_threads", "LOCAL_CLUSTER_SETTINGS"]

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
LOCAL_CLUSTER_SETTINGS = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
                          "distributed.scheduler.worker-ttl": None}
"""Dask settings of the LocalCluster: its nannies set no ``MALLOC_TRIM_THRESHOLD_`` in the workers (None removes
a variable Dask would set), and its scheduler never drops a worker for missed heartbeats (``worker-ttl``, 5
minutes by default): a run whose processes were stopped for longer (SIGSTOP, a suspended machine) lost every
worker at SIGCONT and waited for ever. A worker process that dies is still seen by its nanny and restarted."""


def limit_threads(threads: int) -> None:
    """This process's torch and OpenMP threads: ``threads`` (libraries not yet loaded read the variables)."""
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    if "pyscf" in sys.modules:
        from pyscf import lib

        lib.num_threads(threads)


class ThreadLimit(WorkerPlugin):
    """Per worker, before its first task: :func:`limit_threads`."""

    name = "ase-e3density-threads"

    def __init__(self, threads: int = 1):
        self.threads = threads

    def setup(self, worker) -> None:
        limit_threads(self.threads)


class _Limited:
    """``compute`` run under the worker's thread limit (set again: a library may have been imported
    by the previous task, after the plugin ran)."""

    def __init__(self, compute: Callable, threads: int):
        self.compute, self.threads = compute, threads

    def __call__(self, batch):
        limit_threads(self.threads)
        return self.compute(batch)


@contextmanager
def kept_environment() -> Iterator[None]:
    """Restore ``os.environ`` on leaving: a LocalCluster's nannies write their workers' settings
    (``OMP_NUM_THREADS=1``, ``PYTHONHASHSEED``) into the environment of the process that starts
    them, where every later subprocess would inherit them."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        for name in set(os.environ) - set(saved):
            del os.environ[name]
        os.environ.update(saved)


@contextmanager
def dask_client(workers: int | None = None, scheduler: str | None = None, threads: int = 1,
                plugins: Sequence[WorkerPlugin] = ()) -> Iterator[Client]:
    """A client with the plugins registered: joined to ``scheduler`` or on a new LocalCluster of ``workers``
    processes (one task at a time each). The caller's environment is as it was afterwards."""
    with kept_environment():
        yield from _dask_client(workers, scheduler, threads, plugins)


def _dask_client(workers, scheduler, threads, plugins) -> Iterator[Client]:
    cluster = None
    try:
        if scheduler:
            client = Client(scheduler)
        else:
            with dask.config.set(LOCAL_CLUSTER_SETTINGS):  # read by the scheduler and nannies as they start
                cluster = LocalCluster(n_workers=workers or 1, processes=True, threads_per_worker=1,
                                       dashboard_address=None, silence_logs=logging.ERROR)
            client = Client(cluster)
    except OSError as exc:
        if cluster is not None:
            cluster.close()
        raise E3DensityError(f"cannot reach the Dask scheduler {scheduler}: {exc}" if scheduler else
                             f"cannot start a Dask cluster: {exc}") from exc
    try:
        client.register_plugin(ThreadLimit(threads))
        for plugin in plugins:
            client.register_plugin(plugin)
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _slots(client: Client) -> int:
    info = client.scheduler_info()
    threads = sum(w.get("nthreads", 1) for w in info.get("workers", {}).values())
    return 2 * max(threads, 1) + 2


def run_tasks(client: Client, compute: Callable, batches: Iterable[list], ordered: bool = True,
              window: int | None = None, threads: int = 1) -> Iterator[list]:
    """``compute(batch)`` of every batch on the cluster: in input order (``ordered``) or as they finish.

    At most ``window`` batches (default: twice the cluster's threads, plus two, counted again as workers
    join or leave, e.g. SLURM jobs that start after the run) are handed out and not yet yielded.
    """
    source = enumerate(batches)

    def limit() -> int:
        return window or _slots(client)
    task = _Limited(compute, threads)
    pending: dict[str, int] = {}  # future key -> batch number
    finished: dict[int, list] = {}  # ordered: results waiting for those before them
    futures = as_completed(loop=client.loop)  # this client's loop, even when another client is the default
    next_out = 0

    def submit() -> bool:
        entry = next(source, None)
        if entry is None:
            return False
        number, batch = entry
        future = client.submit(task, batch, pure=False)
        pending[future.key] = number
        futures.add(future)
        return True

    in_hand = 0  # handed out and not yet yielded
    while in_hand < limit() and submit():
        in_hand += 1
    for future in futures:
        number = pending.pop(future.key, None)
        if number is None:  # never take one batch twice
            continue
        try:
            results = future.result()
        except FutureCancelledError as exc:
            raise E3DensityError("the Dask cluster cancelled a task (scheduler gone?); the rows committed so far "
                                 "are kept: rerun the same command to continue") from exc
        except KilledWorker as exc:
            raise E3DensityError(f"Dask workers died computing one batch again and again ({exc}); the rows "
                                 "committed so far are kept: rerun the same command to continue") from exc
        future.release()
        if not ordered:
            in_hand -= 1
            while in_hand < limit() and submit():
                in_hand += 1
            yield results
            continue
        finished[number] = results
        while next_out in finished:
            ready = finished.pop(next_out)
            next_out += 1
            in_hand -= 1
            yield ready
        while in_hand < limit() and submit():
            in_hand += 1
