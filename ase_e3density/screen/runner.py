"""The screening run: inputs -> batches -> model (here or on Dask) -> one writer, results yielded as they come."""
from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ase import Atoms

from ..errors import E3DensityError
from ..models import load_model, resolve_model_path
from .batches import batches
from .kinds import evaluator_for
from .read_ahead import read_ahead
from .records import Item, Result
from .sources import count_structures, expand_inputs, items_from_atoms, iter_items
from .worker import ModelRef, evaluate_batch, evaluator, prepare_items
from .writers import Writer, open_writer

__all__ = ["Screening", "Summary", "screen"]

DEFAULT_BATCH_ATOMS = 2048
"""Atoms per forward pass: small molecules run 1.1-1.2x faster than at 512 (benchmarks/bench_screen.py)."""


def _key(source: str, structure_hash: str) -> int:
    """(source, hash) as 8 bytes, so that a million done structures cost tens of MB, not hundreds."""
    digest = hashlib.blake2b(f"{source}\0{structure_hash}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


@dataclass
class Summary:
    """Counts of a run: computed ok, failed (rows with an error), skipped (already in the output)."""

    done: int = 0
    failed: int = 0
    skipped: int = 0
    retried: int = 0
    seconds: float = 0.0
    output: str | None = None
    model_checksum: str = ""
    started: float = field(default_factory=time.perf_counter)

    @property
    def rate(self) -> float:
        """Structures per second (done and failed) over the run's wall time."""
        return (self.done + self.failed) / self.seconds if self.seconds > 0 else 0.0

    def __str__(self) -> str:
        where = f" -> {self.output}" if self.output else ""
        return (f"{self.done} done, {self.failed} failed, {self.skipped} skipped (already done) in "
                f"{self.seconds:.1f} s: {self.rate:.1f} structures/s{where}")


class Screening:
    """A screening run; iterate it for :class:`Result` objects as they come, then read ``summary``.

    Results are written to ``output`` (if given) batch by batch before they are yielded; a rerun
    skips structures whose (source, structure hash) is already there (failed ones too, unless
    ``retry_failed``).
    """

    def __init__(self, inputs: Iterable[str | Path] = (), output: str | Path | None = None, model=None, *,
                 structures: Iterable[Atoms | tuple[str, Atoms]] | None = None, select: str | None = None,
                 batch_atoms: int = DEFAULT_BATCH_ATOMS, workers: int | None = None, scheduler: str | None = None,
                 threads_per_worker: int = 1, retry_failed: bool = False, keep_coefficients: bool = False,
                 device: str = "cpu", dtype: str | None = None):
        if batch_atoms < 1:
            raise E3DensityError(f"batch_atoms must be at least 1, got {batch_atoms}")
        if workers is not None and workers < 1:
            raise E3DensityError(f"workers must be at least 1, got {workers}")
        self.paths = expand_inputs(inputs)
        if structures is None and not self.paths:
            raise E3DensityError("no inputs: give files, glob patterns or ase.db files (or structures=...)")
        self.structures, self.select, self.batch_atoms = structures, select, batch_atoms
        self.output = None if output is None else str(output)
        self.workers, self.scheduler, self.threads = workers, scheduler, threads_per_worker
        self.retry_failed = retry_failed
        model = load_model(resolve_model_path(model), device=device, dtype=dtype)
        self.model = model
        self.ref = ModelRef(str(model.path), model.checksum, device, dtype, keep_coefficients)
        self.evaluator = evaluator_for(model, keep_coefficients=keep_coefficients)
        self.summary = Summary(output=self.output, model_checksum=model.checksum)
        self.total: int | None = None  # structures left to do, when cheap to count
        self._writer: Writer | None = None
        self._done: set[int] = set()
        self._started = False

    @property
    def columns(self) -> tuple[str, ...]:
        return self.evaluator.columns

    def start(self) -> "Screening":
        """Open the output, note what it holds, count the inputs (called by iteration if not before)."""
        if self._started:
            return self
        self._started = True
        if self.output is not None:
            self._writer = open_writer(self.output, self.evaluator.columns, self.evaluator.arrays)
            if self.retry_failed:
                self.summary.retried = self._writer.drop_failed()
            for source, structure_hash, _status, checksum in self._writer.existing():
                if checksum and checksum != self.model.checksum:
                    self._writer.close()
                    raise E3DensityError(f"{self.output} holds results of another model (checksum {checksum[:12]}..."
                                         f", this run's {self.model.checksum[:12]}...); write to another output")
                self._done.add(_key(source, structure_hash))
        count = count_structures(self.paths, self.select) if self.structures is None else None
        if count is not None:
            self.total = max(count - len(self._done), 0)
        return self

    def _todo(self) -> Iterator[Item]:
        items = iter_items(self.paths, self.select) if self.structures is None else items_from_atoms(self.structures)
        for item in items:
            if _key(*item.key) in self._done:
                self.summary.skipped += 1
                continue
            yield item

    def _results(self) -> Iterator[list[Result]]:
        groups = batches(self._todo(), self.batch_atoms)
        if self.workers is None and self.scheduler is None:
            if self.structures is None:  # files and databases: read, check and build graphs while the model runs
                evaluator(self.ref)  # loaded here, not in the reader thread
                for items, prepared in read_ahead(prepare_items(self.ref, group) for group in groups):
                    yield evaluate_batch(self.ref, items, prepared)
            else:  # any iterable of Atoms: read in this thread (it need not be thread-safe)
                for group in groups:
                    yield evaluate_batch(self.ref, group)
            return
        if self.structures is None:  # read ahead while the workers run
            groups = read_ahead(groups)
        try:
            from .dask_run import dask_client, run_on_dask
        except ImportError as exc:
            raise E3DensityError("--workers and --scheduler need Dask: pip install 'ase_e3density[screen]'") from exc
        with dask_client(self.ref, self.workers, self.scheduler, self.threads) as client:
            yield from run_on_dask(client, self.ref, groups)

    def _count(self, results: list[Result]) -> Iterator[Result]:
        for r in results:
            if r.ok:
                self.summary.done += 1
            else:
                self.summary.failed += 1
            yield r

    def __iter__(self) -> Iterator[Result]:
        self.start()
        start = time.perf_counter()
        try:
            for results in self._results():
                if self._writer is not None:
                    self._writer.write(results)  # committed before anyone sees them
                yield from self._count(results)
        finally:
            self.summary.seconds = time.perf_counter() - start
            if self._writer is not None:
                self._writer.close()

    def run(self) -> Summary:
        """Run to the end without keeping the results; the summary."""
        for _ in self:
            pass
        return self.summary


def screen(inputs: Iterable[str | Path] | str | Path = (), output: str | Path | None = None, model=None,
           **options) -> Screening:
    """A screening run over files, globs or ase.db files (or ``structures=`` any iterable of Atoms).

    Iterate the returned :class:`Screening` for results as they come::

        for r in screen("clusters/*.xyz", "results.db"):
            print(r.source, r.scalars.get("dipole_norm"), r.error)
    """
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    return Screening(inputs, output, model, **options)
