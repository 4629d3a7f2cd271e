"""The screening run: inputs -> batches -> model (here or on Dask) -> one writer, results yielded as they come.

It runs on the resumable engine (:mod:`ase_e3density.engine`): a structure's key is its (source,
structure hash); the writers of :mod:`.writers` are the store.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from ase import Atoms

from ..engine import Run, check_engine_options, compact_key
from ..engine import Summary as EngineSummary
from ..errors import E3DensityError
from ..models import load_model, resolve_model_path
from .batches import batches
from .kinds import evaluator_for
from .packing import ItemBatch
from .read_ahead import read_ahead
from .records import Item, Result
from .sources import check_selection, count_structures, expand_inputs, items_from_atoms, iter_items
from .worker import ModelRef, evaluate_batch, evaluator, prepare_items
from .writer_process import BackgroundDbWriter, can_write_in_background, worth_writing_in_background
from .writers import LABELS, META, DbWriter, Writer, open_writer

__all__ = ["Screening", "Summary", "screen"]

DEFAULT_BATCH_ATOMS = 2048
"""Atoms per forward pass: small molecules run 1.1-1.2x faster than at 512 (benchmarks/bench_screen.py)."""


def _key(item: Item) -> int:
    """(source, hash) as 8 bytes, so that a million done structures cost tens of MB, not hundreds."""
    return compact_key(*item.key)


@dataclass
class Summary(EngineSummary):
    """Counts of a run: computed ok, failed (rows with an error), skipped (already in the output)."""

    output: str | None = None
    model_checksum: str = ""

    def __str__(self) -> str:
        where = f" -> {self.output}" if self.output else ""
        return (f"{self.done} done, {self.failed} failed, {self.skipped} skipped (already done) in "
                f"{self.seconds:.1f} s: {self.rate:.1f} structures/s{where}")


def _check_columns(writer: Writer, columns: Sequence[str], output: str) -> None:
    """Refuse to resume an output whose rows hold other result columns than this run writes (another model
    kind, or a phonon screen at other temperatures): the rows would not make one table."""
    first = next(iter(writer.rows()), None) if Path(output).exists() else None
    if first is None:
        return
    held = {k for k in first if k not in META and k not in LABELS and not k.startswith("e3d_")}
    missing, extra = sorted(set(columns) - held), sorted(held - set(columns))
    if missing or extra:
        what = "; ".join(part for part in (f"lacks {', '.join(missing[:4])}" if missing else "",
                                           f"has {', '.join(extra[:4])}" if extra else "") if part)
        raise E3DensityError(f"{output} holds rows with other result columns than this run writes ({what}: "
                             "another model kind or other temperatures); write to another output")


class _Store:
    """The engine's store: a writer of :mod:`.writers`, optionally committing through a background process
    (a batch is handed on once the process has committed it, while the next one is computed)."""

    def __init__(self, writer: Writer | None, checksum: str, output: str | None):
        self.writer, self.checksum, self.output = writer, checksum, output
        self.background: BackgroundDbWriter | None = None
        self._waiting: Sequence[Result] | None = None

    def existing(self) -> Iterator[tuple[int, bool]]:
        if self.writer is None:
            return
        for source, structure_hash, status, checksum in self.writer.existing():
            if checksum and checksum != self.checksum:
                raise E3DensityError(f"{self.output} holds results of another model (checksum {checksum[:12]}..."
                                     f", this run's {self.checksum[:12]}...); write to another output")
            yield compact_key(source, structure_hash), status != "failed"

    def drop_failed(self) -> int:
        return 0 if self.writer is None else self.writer.drop_failed()

    def write(self, results: Sequence[Result]) -> list[Sequence[Result]]:
        if self.background is not None:  # committed there while the next batch is computed here
            self.background.submit(results)
            done = self.finish()
            self._waiting = results
            return done
        if self.writer is not None:
            self.writer.write(results)
        return [results]

    def finish(self) -> list[Sequence[Result]]:
        if self._waiting is None:
            return []
        self.background.wait()
        done, self._waiting = [self._waiting], None
        return done

    def close(self) -> None:
        try:
            if self.background is not None:
                self.background.close()
        finally:
            if self.writer is not None:
                self.writer.close()


class Screening:
    """A screening run; iterate it for :class:`Result` objects as they come, then read ``summary``.

    Results are written to ``output`` (if given) batch by batch before they are yielded; a rerun
    skips structures whose (source, structure hash) is already there (failed ones too, unless
    ``retry_failed``). An ase.db output is committed by a child process while the next batch is
    computed (``background_writer``: True, False, or None for on where it pays: Linux, two or more
    cores, no other Python thread in this process; True still needs Linux). ``temperatures`` (K) are the
    thermal columns of a phonon model (default 100, 300, 500 K); an electron-density model refuses them, as a
    phonon model refuses ``keep_coefficients``.
    """

    def __init__(self, inputs: Iterable[str | Path] = (), output: str | Path | None = None, model=None, *,
                 structures: Iterable[Atoms | tuple[str, Atoms]] | None = None, select: str | None = None,
                 batch_atoms: int = DEFAULT_BATCH_ATOMS, workers: int | None = None, scheduler: str | None = None,
                 threads_per_worker: int = 1, retry_failed: bool = False, keep_coefficients: bool = False,
                 temperatures: Sequence[float] | None = None, device: str = "cpu", dtype: str | None = None,
                 background_writer: bool | None = None):
        if batch_atoms < 1:
            raise E3DensityError(f"batch_atoms must be at least 1, got {batch_atoms}")
        check_engine_options(workers, scheduler, threads_per_worker)
        self.paths = expand_inputs(inputs)
        if structures is None and not self.paths:
            raise E3DensityError("no inputs: give files, glob patterns or ase.db files (or structures=...)")
        if structures is not None and select:
            raise E3DensityError("select applies to ase.db inputs, not to structures=...")
        check_selection(self.paths, select)
        self.structures, self.select, self.batch_atoms = structures, select, batch_atoms
        self.output = None if output is None else str(output)
        self.workers, self.scheduler, self.threads = workers, scheduler, threads_per_worker
        self.retry_failed = retry_failed
        self.background_writer = background_writer  # None: decided when the run starts
        model = load_model(resolve_model_path(model), device=device, dtype=dtype)
        self.model = model
        temperatures = None if temperatures is None else tuple(float(t) for t in temperatures)
        self.evaluator = evaluator_for(model, keep_coefficients=keep_coefficients, temperatures=temperatures)
        self.ref = ModelRef(str(model.path), model.checksum, device, dtype, keep_coefficients, temperatures)
        self.summary = Summary(output=self.output, model_checksum=model.checksum)
        self.total: int | None = None  # structures left to do, when cheap to count
        self._store: _Store | None = None
        self._run: Run | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        return self.evaluator.columns

    @property
    def on_dask(self) -> bool:
        return self.workers is not None or self.scheduler is not None

    def start(self) -> "Screening":
        """Open the output, note what it holds, count the inputs (called by iteration if not before)."""
        if self._run is not None:
            return self
        plugins = ()
        if self.on_dask:
            try:
                from .dask_run import ModelPlugin
            except ImportError as exc:
                raise E3DensityError("--workers and --scheduler need Dask: pip install 'ase_e3density[screen]'") \
                    from exc
            plugins = (ModelPlugin(self.ref, Path(self.ref.path).read_bytes(), self.threads),)
        writer = None if self.output is None else open_writer(self.output, self.evaluator.columns,
                                                              self.evaluator.arrays)
        if writer is not None:
            try:
                _check_columns(writer, self.evaluator.columns, self.output)
            except BaseException:
                writer.close()
                raise
        self._store = _Store(writer, self.model.checksum, self.output)
        items = iter_items(self.paths, self.select) if self.structures is None else items_from_atoms(self.structures)
        self._run = Run(items, partial(evaluate_batch, self.ref), self._store, key=_key, group=self._batches,
                        workers=self.workers, scheduler=self.scheduler, threads_per_worker=self.threads,
                        retry_failed=self.retry_failed, ordered=False, local=self._in_process, plugins=plugins,
                        summary=self.summary).start()
        count = count_structures(self.paths, self.select) if self.structures is None else None
        if count is not None:
            self.total = max(count - len(self._run.done), 0)
        return self

    def _batches(self, items: Iterator[Item]) -> Iterator[list[Item]]:
        groups = batches(items, self.batch_atoms)
        if not self.on_dask:
            return groups
        groups = (ItemBatch(group) for group in groups)  # sent to the workers packed
        if self.structures is None:  # files and databases: read ahead while the workers run
            return read_ahead(groups)
        return groups

    def _in_process(self, groups: Iterator[list[Item]]) -> Iterator[list[Result]]:
        if self.structures is None:  # files and databases: read, check and build graphs while the model runs
            evaluator(self.ref)  # loaded here, not in the reader thread
            for items, prepared in read_ahead(prepare_items(self.ref, group) for group in groups):
                yield evaluate_batch(self.ref, items, prepared)
        else:  # any iterable of Atoms: read in this thread (it need not be thread-safe)
            for group in groups:
                yield evaluate_batch(self.ref, group)

    def __iter__(self) -> Iterator[Result]:
        self.start()
        store = self._store
        wanted = worth_writing_in_background() if self.background_writer is None else self.background_writer
        if wanted and can_write_in_background() and isinstance(store.writer, DbWriter):
            try:
                store.background = BackgroundDbWriter(str(store.writer.path))  # forked before any thread of ours
            except BaseException:
                store.close()
                raise
        yield from self._run

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
