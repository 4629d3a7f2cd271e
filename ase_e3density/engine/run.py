"""The resumable run: skip what the store holds, compute the rest (here or on Dask), commit, count.

A run takes items, a ``key`` for each (the uid convention of its store), a picklable ``compute`` that
turns a batch of items into one result per item (failures are results too: :class:`Each` makes such a
function from one that computes a single item and may raise), and a :class:`Store`, the one writer.
Results are committed by the store before the run yields them, batch by batch, so a killed run loses
at most the batches in flight, and a rerun computes exactly the rest.

Without ``workers`` or ``scheduler`` everything runs in this process and Dask is not imported.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from ..errors import E3DensityError

__all__ = ["Run", "Store", "Summary", "Outcome", "Each", "one_line"]

T = TypeVar("T")
R = TypeVar("R")


class Store(Protocol[R]):
    """Where results go: the run's single writer (it holds the output's lock from its creation)."""

    def existing(self) -> Iterable[tuple[Hashable, bool]]:
        """``(key, ok)`` of every result already stored (ok False: a failure row)."""

    def drop_failed(self) -> int:
        """Remove the failure rows, so that their items are computed again; how many were removed."""

    def write(self, results: Sequence[R]) -> Iterable[Sequence[R]]:
        """Commit one batch (or start to); the batches known committed after this call, oldest first."""

    def finish(self) -> Iterable[Sequence[R]]:
        """Wait for what :meth:`write` left in progress; those batches."""

    def close(self) -> None:
        """Release the output (and its lock)."""


def one_line(exc: BaseException) -> str:
    """An exception as a single line (for a failure row's ``error``)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}".replace('"', "'")[:500]


@dataclass
class Outcome:
    """One item's result from :class:`Each`: its value, or the error that stopped it (one line)."""

    item: Any
    value: Any = None
    error: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.error


class Each:
    """A batch function from ``function(item, *args)`` for one item: an :class:`Outcome` per item,
    an exception becoming that item's error. Picklable when ``function`` and ``args`` are."""

    def __init__(self, function: Callable, *args):
        self.function, self.args = function, args

    def __call__(self, items: Sequence) -> list[Outcome]:
        out = []
        for item in items:
            start = time.perf_counter()
            try:
                value = self.function(item, *self.args)
            except Exception as exc:  # one bad item must not stop a long run
                out.append(Outcome(item, error=one_line(exc), seconds=time.perf_counter() - start))
            else:
                out.append(Outcome(item, value, seconds=time.perf_counter() - start))
        return out


@dataclass
class Summary:
    """Counts of a run: computed ok, failed (failure rows written), skipped (in the store before:
    ``skipped_failed`` of them failure rows), repeated (a key given twice), retried (failure rows dropped)."""

    done: int = 0
    failed: int = 0
    skipped: int = 0
    skipped_failed: int = 0
    repeated: int = 0
    retried: int = 0
    seconds: float = 0.0
    started: float = field(default_factory=time.perf_counter)

    @property
    def rate(self) -> float:
        """Items per second (done and failed) over the run's wall time."""
        return (self.done + self.failed) / self.seconds if self.seconds > 0 else 0.0


def _one_per_task(items: Iterator) -> Iterator[list]:
    for item in items:
        yield [item]


class Run(Generic[T, R]):
    """A resumable run; iterate it for results as they are committed, then read ``summary``.

    ``items``: the inputs; ``key(item)``: its key in the store; ``compute(batch) -> results``, one per
    item of the batch, in order (it must be picklable for Dask: a module-level function, a
    ``functools.partial`` or an :class:`Each`); ``store``: the writer. ``group``: items -> batches (default:
    one item per batch). ``workers``: a Dask LocalCluster of that many processes; ``scheduler``: the
    address of a running Dask cluster; ``threads_per_worker``: torch/OpenMP threads in each worker
    (Dask runs one task at a time per worker). ``ordered``: commit in input order (with Dask, a finished
    batch waits for those before it: at most ``window`` batches are handed out ahead); False: in the
    order they finish. ``local``: batches -> results, the in-process executor (default: ``compute``
    on each batch). ``plugins``: Dask worker plugins to register. ``ok(result)``: whether a result is
    a success (default: its ``ok`` attribute). ``summary``: the :class:`Summary` (or subclass) to count in.
    """

    def __init__(self, items: Iterable[T], compute: Callable[[list[T]], list[R]], store: Store, *,
                 key: Callable[[T], Hashable], group: Callable[[Iterator[T]], Iterator[list[T]]] | None = None,
                 workers: int | None = None, scheduler: str | None = None, threads_per_worker: int = 1,
                 retry_failed: bool = False, ordered: bool = True, window: int | None = None,
                 local: Callable[[Iterator[list[T]]], Iterator[list[R]]] | None = None, plugins: Sequence = (),
                 ok: Callable[[R], bool] = lambda r: bool(r.ok), summary: Summary | None = None):
        check_engine_options(workers, scheduler, threads_per_worker)
        self.items, self.compute, self.store, self.key = items, compute, store, key
        self.group = group or _one_per_task
        self.workers, self.scheduler, self.threads = workers, scheduler, threads_per_worker
        self.retry_failed, self.ordered, self.window = retry_failed, ordered, window
        self.local, self.plugins, self.ok = local, tuple(plugins), ok
        self.summary = Summary() if summary is None else summary
        self.done: set[Hashable] = set()  # keys the store held at the start
        self.failed_before: set[Hashable] = set()  # those of them that are failure rows
        self.queued: set[Hashable] = set()  # keys handed to compute by this run
        self._started = False

    @property
    def on_dask(self) -> bool:
        return self.workers is not None or self.scheduler is not None

    def start(self) -> "Run":
        """Drop failure rows (``retry_failed``) and note every key the store holds (called by iteration)."""
        if self._started:
            return self
        self._started = True
        try:
            if self.retry_failed:
                self.summary.retried = self.store.drop_failed()
            for key, ok in self.store.existing():
                self.done.add(key)
                if not ok:
                    self.failed_before.add(key)
        except BaseException:
            self.store.close()
            raise
        return self

    def todo(self) -> Iterator[T]:
        """The items the store lacks, each key once; counts the others."""
        for item in self.items:
            key = self.key(item)
            if key in self.done:
                self.summary.skipped += 1
                self.summary.skipped_failed += key in self.failed_before
            elif key in self.queued:
                self.summary.repeated += 1
            else:
                self.queued.add(key)
                yield item

    def _results(self) -> Iterator[list[R]]:
        batches = self.group(self.todo())
        if not self.on_dask:
            if self.local is not None:
                yield from self.local(batches)
            else:
                for batch in batches:
                    yield self.compute(batch)
            return
        try:
            from .dask_run import dask_client, run_tasks
        except ImportError as exc:
            raise E3DensityError("--workers and --scheduler need Dask: pip install 'ase_e3density[screen]'") from exc
        with dask_client(self.workers, self.scheduler, self.threads, self.plugins) as client:
            yield from run_tasks(client, self.compute, batches, self.ordered, self.window, self.threads)

    def _count(self, results: Sequence[R]) -> Iterator[R]:
        for r in results:
            if self.ok(r):
                self.summary.done += 1
            else:
                self.summary.failed += 1
            yield r

    def __iter__(self) -> Iterator[R]:
        self.start()
        start = time.perf_counter()
        try:
            for results in self._results():
                for committed in self.store.write(results):  # committed before anyone sees them
                    yield from self._count(committed)
            for committed in self.store.finish():
                yield from self._count(committed)
        finally:
            self.summary.seconds = time.perf_counter() - start
            self.store.close()

    def run(self) -> Summary:
        """Run to the end without keeping the results; the summary."""
        for _ in self:
            pass
        return self.summary


def check_engine_options(workers: int | None, scheduler: str | None, threads_per_worker: int) -> None:
    """Refuse impossible engine options in one line."""
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise E3DensityError(f"workers must be a whole number of at least 1, got {workers!r}")
    if workers is not None and scheduler:
        raise E3DensityError("give workers (a local Dask cluster) or scheduler (a running one), not both")
    if not isinstance(threads_per_worker, int) or threads_per_worker < 1:
        raise E3DensityError(f"threads_per_worker must be a whole number of at least 1, got {threads_per_worker!r}")
