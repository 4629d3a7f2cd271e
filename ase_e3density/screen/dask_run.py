"""Batches on a Dask cluster: a LocalCluster of worker processes, or an existing scheduler.

Imported only when Dask is asked for (the ``screen`` extra). The plugin sets torch's thread count
and installs the model file once per worker; at most a few batches per worker are in flight, so
memory stays flat however many structures stream through; results come back to the caller, the
only writer. A worker lost mid-run has its tasks rerun by the scheduler; each batch's result is
taken once.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from distributed import Client, LocalCluster, WorkerPlugin, as_completed

from .records import Item, Result
from .worker import ModelRef, evaluate_batch, evaluator, register_local_copy

__all__ = ["ModelPlugin", "dask_client", "run_on_dask"]


class ModelPlugin(WorkerPlugin):
    """Per worker: torch threads, the model file's bytes written locally, the model loaded once."""

    name = "ase-e3density-model"

    def __init__(self, ref: ModelRef, data: bytes, threads: int = 1):
        self.ref, self.data, self.threads = ref, data, threads

    def setup(self, worker) -> None:
        import torch

        torch.set_num_threads(self.threads)
        path = Path(worker.local_directory) / f"model-{self.ref.checksum[:16]}.pt"
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(self.data)
            tmp.replace(path)
        register_local_copy(self.ref.checksum, path)
        evaluator(self.ref)  # load now, not in the first task


@contextmanager
def dask_client(ref: ModelRef, workers: int | None = None, scheduler: str | None = None,
                threads: int = 1) -> Iterator[Client]:
    """A client with the model plugin registered: joined to ``scheduler`` or on a new LocalCluster."""
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(n_workers=workers or 1, processes=True, threads_per_worker=1,
                               dashboard_address=None, silence_logs=logging.ERROR)
        client = Client(cluster)
    try:
        client.register_plugin(ModelPlugin(ref, Path(ref.path).read_bytes(), threads))
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _slots(client: Client) -> int:
    info = client.scheduler_info()
    threads = sum(w.get("nthreads", 1) for w in info.get("workers", {}).values())
    return 2 * max(threads, 1) + 2


def run_on_dask(client: Client, ref: ModelRef, batches: Iterable[list[Item]]) -> Iterator[list[Result]]:
    """Results of every batch, as they complete (not in input order)."""
    source = iter(batches)
    pending: set[str] = set()
    futures = as_completed(loop=client.loop)  # this client's loop, even when another client is the default

    def submit() -> None:
        batch = next(source, None)
        if batch is not None:
            future = client.submit(evaluate_batch, ref, batch, pure=False)
            pending.add(future.key)
            futures.add(future)

    for _ in range(_slots(client)):
        submit()
    for future in futures:
        if future.key not in pending:  # never take one batch twice
            continue
        results = future.result()
        pending.discard(future.key)
        future.release()
        submit()
        yield results
