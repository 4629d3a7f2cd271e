"""Reference densities: PySCF DFT fitted onto an auxiliary basis, one ase.db row per structure, resumable."""
from __future__ import annotations

import importlib.util
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..engine import AseDbStore, Each, Outcome, Run, Summary, check_engine_options, failures_path, structure_uid
from ..errors import E3DensityError
from .entries import Entry, Structures, entries

__all__ = ["ReferenceSettings", "references", "compute_reference"]

GUESSES = ("minao", "atom", "huckel", "model")


@dataclass(frozen=True)
class ReferenceSettings:
    """The level of theory and the SCF's settings; the first four make a row's uid.

    ``xc``, ``basis``: PySCF's functional and orbital basis; ``auxbasis``: the fit's basis, decontracted
    unless ``contracted``; ``charge`` / ``spin`` (2S): for every structure (None: ``atoms.info`` or
    neutral / lowest); ``grid_level`` 0-9; ``conv_tol`` (Hartree); ``density_fit``: PySCF's density
    fitting in the SCF; ``stability_check``: refuse closed shells unstable towards open shells;
    ``guess``: PySCF's initial guess, or "model" (one Kohn-Sham step from ``model``'s predicted density).
    """

    xc: str = "PBE0"
    basis: str = "cc-pvdz"
    auxbasis: str = "def2-universal-jfit"
    contracted: bool = False
    charge: int | None = None
    spin: int | None = None
    grid_level: int = 3
    conv_tol: float = 1e-9
    density_fit: bool = False
    stability_check: bool = True
    guess: str = "minao"
    model: str | None = None

    def __post_init__(self):
        if self.grid_level not in range(10):
            raise E3DensityError(f"grid_level must be 0-9, got {self.grid_level}")
        if not (isinstance(self.conv_tol, (int, float)) and math.isfinite(self.conv_tol) and self.conv_tol > 0):
            raise E3DensityError(f"conv_tol must be a positive number (Hartree), got {self.conv_tol}")
        if self.guess not in GUESSES:
            raise E3DensityError(f"guess must be one of {', '.join(GUESSES)}, got {self.guess!r}")
        if self.model is not None and self.guess != "model":
            raise E3DensityError(f"model (--model) is the model of guess='model' (--guess model); with guess "
                                 f"{self.guess!r} it would do nothing: give --guess model or leave --model out")

    @property
    def aux(self) -> str:
        """The auxiliary basis's name as stored in rows."""
        decontracted = self.contracted or self.auxbasis.endswith("-decontracted")
        return self.auxbasis + ("" if decontracted else "-decontracted")

    def uid(self, atoms) -> str:
        """The row's uid: the structure (charge and spin included) and the level of theory."""
        return structure_uid(atoms, self.xc.lower(), self.basis.lower(), self.aux.lower())

    def prepare(self, atoms) -> None:
        """Set the run's charge and spin on ``atoms.info`` (before the uid is taken)."""
        if self.charge is not None:
            atoms.info["charge"] = self.charge
        if self.spin is not None:
            atoms.info["spin"] = self.spin


@dataclass
class Reference:
    """One structure's fitted density, the fit's error (%), the DFT energy (eV) and SCF iterations."""

    density: object
    fit_eps: float
    energy: float
    scf_cycles: int
    seconds: float = 0.0
    info: dict = field(default_factory=dict)


_MODELS: dict[str, object] = {}  # model path -> the model, loaded once per process


def _guess(settings: ReferenceSettings, atoms):
    """PySCF's guess by name, or a callable giving the model's dm0 for the built molecule."""
    if settings.guess != "model":
        return settings.guess
    from ..models import load_model, resolve_model_path
    from ..scf import initial_guess

    path = str(resolve_model_path(settings.model))
    if path not in _MODELS:
        _MODELS[path] = load_model(path)
    model = _MODELS[path]
    # the exact-exchange step builds its own density-fitting tensors: it pays when the SCF's iterations
    # are conventional (8 waters, 1e-9: 65 s CPU against 72 s), not when they are density-fitted
    return lambda mol: initial_guess(atoms, model, mol=mol, xc=settings.xc, exact_exchange=not settings.density_fit)


def compute_reference(entry: Entry, settings: ReferenceSettings) -> Reference:
    """DFT, the fit onto the auxiliary basis and the fit's error for one structure (raises on failure)."""
    from ..electron.reference import fit_density, fit_error_vs_dft, run_dft

    start = time.perf_counter()
    result = run_dft(entry.atoms, xc=settings.xc, basis=settings.basis, grid_level=settings.grid_level,
                     conv_tol=settings.conv_tol, check_stability=settings.stability_check,
                     guess=_guess(settings, entry.atoms), density_fit=settings.density_fit)
    density = fit_density(result, settings.aux)
    eps = fit_error_vs_dft(density, result)
    return Reference(density, eps, result.energy, result.info["scf_cycles"], time.perf_counter() - start)


def _row_writer(settings: ReferenceSettings) -> Callable:
    from ..electron.database import write_density_row

    def write(db, outcome: Outcome) -> None:
        entry, ref = outcome.item, outcome.value
        write_density_row(db, ref.density, entry.uid, source=entry.source, fit_eps=ref.fit_eps,
                          grid_level=settings.grid_level, conv_tol=settings.conv_tol,
                          density_fit=settings.density_fit)
    return write


def references(structures: Structures, output, settings: ReferenceSettings | None = None, *,
               workers: int | None = None, scheduler: str | None = None, threads_per_worker: int = 1,
               retry_failed: bool = False, report: Callable[[str], None] | None = None) -> Summary:
    """Reference densities of ``structures`` appended to the ase.db ``output``; resumable.

    ``structures``: Atoms, or (source label, Atoms) pairs. A structure whose uid (structure, charge,
    spin, xc, basis, auxbasis) is in ``output`` is skipped; one that failed before is skipped too (its
    row is in ``output``'s sidecar :func:`~ase_e3density.engine.failures_path`) unless ``retry_failed``.
    Rows are committed one by one in input order, so a database made with workers equals one made
    in one process, row for row. ``workers``: a Dask LocalCluster of that many processes,
    ``threads_per_worker`` OpenMP threads each; ``scheduler``: a running Dask cluster's address.
    ``report``: called with a progress line per structure and a closing line. Returns the counts.
    Dask starts its worker processes afresh, and they import the calling script again: in a script,
    call with workers under ``if __name__ == "__main__":``.

    Example::

        from ase.build import molecule
        from ase_e3density.generate import ReferenceSettings, references

        waters = [molecule("H2O") for _ in range(3)]
        for k, w in enumerate(waters):
            w.rattle(0.05, seed=k)
        summary = references(waters, "ref.db", ReferenceSettings(xc="PBE0", basis="cc-pvdz"), workers=2,
                             report=print)
        print(summary.done, summary.failed, summary.skipped)
    """
    check_engine_options(workers, scheduler, threads_per_worker)
    settings = settings or ReferenceSettings()
    if importlib.util.find_spec("pyscf") is None:  # said once here, not as a failure row per structure
        raise E3DensityError("reference densities need PySCF: pip install 'ase_e3density[reference]'")
    items = list(entries(structures, settings.uid, settings.prepare))
    say = report or (lambda line: None)
    store = AseDbStore(output, _row_writer(settings), Entry.describe, "reference database",
                       content="reference densities", keys=("uid", "auxbasis"))
    run = Run(items, Each(compute_reference, settings), store, key=lambda e: e.uid, workers=workers,
              scheduler=scheduler, threads_per_worker=threads_per_worker, retry_failed=retry_failed)
    total = len(items)
    for outcome in run:
        entry, ref = outcome.item, outcome.value
        label = f"[{entry.number}/{total}] {entry.source} {entry.atoms.get_chemical_formula()}"
        if not outcome.ok:
            say(f"{label}: FAILED: {outcome.error}")
            continue
        say(f"{label}: E={ref.energy:.6f} eV fit eps={ref.fit_eps:.3f}% {ref.scf_cycles} SCF iterations "
            f"({ref.seconds:.1f} s)")
    say(closing_line(run.summary, output))
    return run.summary


def closing_line(summary: Summary, output, computed_note: str = "") -> str:
    """``done: 3 computed, 2 already present, 1 failed -> out.db``, with repeats, old failures and retries."""
    s = summary
    before = f" ({s.skipped_failed} of them failed before; --retry-failed computes those again)" if s.skipped_failed else ""
    again = f", {s.repeated} repeated in the input" if s.repeated else ""
    where = f" (rows in {failures_path(output)})" if s.failed else ""
    retried = f", {s.retried} failed before and retried" if s.retried else ""
    return (f"done: {s.done} computed{computed_note}, {s.skipped} already present{before}{again}, {s.failed} "
            f"failed{where}{retried} -> {Path(output)}")
