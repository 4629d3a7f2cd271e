"""Reference phonons: relax, phonopy finite displacements, DOS and thermal properties, one ase.db row each."""
from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

from ..engine import AseDbStore, Each, Outcome, Run, Summary, check_engine_options, structure_uid
from ..errors import ImaginaryModesWarning
from ..phonon.reference import PhononSettings
from .entries import Entry, Structures, entries
from .references import closing_line

__all__ = ["PhononSettings", "phonons", "compute_phonons", "PhononSummary"]

_CALCULATORS: dict[str, object] = {}  # calculator name -> the calculator, made once per process


def calculator(name: str):
    """This process's ASE calculator called ``name`` (made the first time: a machine-learned one loads once)."""
    from ..phonon.reference import get_calculator

    if name not in _CALCULATORS:
        _CALCULATORS[name] = get_calculator(name)
    return _CALCULATORS[name]


def compute_phonons(entry: Entry, settings: PhononSettings):
    """One structure's :class:`~ase_e3density.phonon.reference.PhononResult` (raises on failure)."""
    from ..phonon.reference import reference_phonons

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImaginaryModesWarning)  # in the row's own columns and the run's report
        return reference_phonons(entry.atoms, calculator(settings.calculator), settings)


def _versions(name: str) -> dict:
    from importlib.metadata import version

    from .._version import __version__
    from ..phonon.reference import calculator_version

    return {"e3density_version": __version__, "phonopy_version": version("phonopy"), "ase_version": version("ase"),
            "calculator_version": calculator_version(name)}


def _row_writer(settings: PhononSettings) -> Callable:
    from ..phonon.database import write_phonon_row

    versions = _versions(settings.calculator)

    def write(db, outcome: Outcome) -> None:
        entry = outcome.item
        write_phonon_row(db, outcome.value, entry.uid, entry.source, settings.as_dict(), versions,
                         info=entry.atoms.info)
    return write


@dataclass
class PhononSummary(Summary):
    """The run's counts, with ``unstable``: computed structures with imaginary modes on the mesh."""

    unstable: int = 0


def phonons(structures: Structures, output, settings: PhononSettings | None = None, *,
            workers: int | None = None, scheduler: str | None = None, threads_per_worker: int = 1,
            retry_failed: bool = False, report: Callable[[str], None] | None = None) -> PhononSummary:
    """Reference phonon DOS and thermal properties of ``structures`` appended to the ase.db ``output``; resumable.

    ``structures``: crystals (3D periodic), as Atoms or (source label, Atoms) pairs; each is checked
    before any work. ``settings.calculator`` names the force calculator ("emt", "chgnet", "sevennet" or
    "module:Class"), made once per process. A structure whose uid (structure and every setting) is in
    ``output`` is skipped, as is one that failed before (its row is in ``output``'s sidecar
    :func:`~ase_e3density.engine.failures_path`) unless ``retry_failed``. Rows are committed one by one in
    input order, so a database made with workers equals one made in one process, row for row.
    ``workers``: a Dask LocalCluster of that many processes (``threads_per_worker`` torch/OpenMP threads
    each); ``scheduler``: a running Dask cluster's address. ``report``: called with a line per structure
    and a closing line. Returns the counts. Dask starts its worker processes afresh, and they import the
    calling script again: in a script, call with workers under ``if __name__ == "__main__":``.

    Example::

        from ase.build import bulk
        from ase_e3density.generate import PhononSettings, phonons

        crystals = [bulk("Cu", "fcc", a=3.6), bulk("Ag", "fcc", a=4.1), bulk("Al", "fcc", a=4.05)]
        summary = phonons(crystals, "phonons.db", PhononSettings(calculator="emt", min_width=8.0), workers=2,
                          report=print)
        print(summary.done, summary.unstable)
    """
    from ..phonon.phonopy_io import require_phonopy
    from ..graph.checks import PHONOPY_NEEDS_ORDER, check_ordered
    from ..phonon.reference import check_crystal, check_masses, mass_labels

    check_engine_options(workers, scheduler, threads_per_worker)
    require_phonopy()
    settings = settings or PhononSettings()
    labels = ("phonons", *settings.labels())
    items = list(entries(structures, lambda atoms: structure_uid(atoms, *labels, *mass_labels(atoms))))
    for entry in items:  # refuse bad input before any work
        check_crystal(entry.atoms, entry.source)
        check_ordered(entry.atoms, entry.source, PHONOPY_NEEDS_ORDER)
        check_masses(entry.atoms, entry.source)
    calculator(settings.calculator)  # an unknown or missing calculator: one line now, not a failure per row
    say = report or (lambda line: None)
    store = AseDbStore(output, _row_writer(settings), Entry.describe, "phonon database", content="phonon references",
                       keys=("uid", "force_calculator"))
    summary = PhononSummary()
    run = Run(items, Each(compute_phonons, settings), store, key=lambda e: e.uid, workers=workers,
              scheduler=scheduler, threads_per_worker=threads_per_worker, retry_failed=retry_failed, summary=summary)
    total, t300 = len(items), 300.0 if 300.0 in settings.temperatures else settings.temperatures[0]
    for outcome in run:
        entry, result = outcome.item, outcome.value
        label = f"[{entry.number}/{total}] {entry.source} {entry.atoms.get_chemical_formula()}"
        if not outcome.ok:
            say(f"{label}: FAILED: {outcome.error}")
            continue
        dos = result.dos
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ImaginaryModesWarning)  # reported on its own line below
            cv, s, f = dos.heat_capacity(t300), dos.entropy(t300), dos.free_energy(t300)
        say(f"{label}: Cv({t300:g} K)={cv:.3f} J/(K mol-atoms) S={s:.3f} J/(K mol-atoms) F={f:.3f} kJ/mol-atoms; "
            f"supercell {result.n_supercell_atoms} atoms, {result.n_displacements} displacements, max "
            f"{dos.max_frequency:.2f} THz ({result.seconds:.1f} s)")
        if dos.imaginary_fraction > 0:
            summary.unstable += 1
            say(f"{label}: WARNING: {dos.n_imaginary_modes} imaginary modes on the mesh ({dos.imaginary_fraction:.2%} "
                f"of all modes, lowest {dos.min_frequency:.3f} THz): left out of the thermal properties; the "
                "structure is dynamically unstable with this calculator")
    say(closing_line(summary, output, f" ({summary.unstable} with imaginary modes)"))
    return summary
