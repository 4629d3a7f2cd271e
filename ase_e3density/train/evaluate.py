"""A deployed model against reference data, for ``e3density evaluate`` and scripts: which kind a file is,
loading it, and the electron-density errors (eps_rho per l, dipoles, per-molecule charges) structure by
structure. The phonon-DOS errors are in :mod:`ase_e3density.train.phonon.evaluate`."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from ase import Atoms

from ..electron.database import iter_densities
from ..electron.density import AtomicDensity
from ..electron.evaluation import ReferenceOnGrid, compare, summarise
from ..electron.free_atoms import load_free_atoms
from ..errors import E3DensityError
from ..models import load_model, read_metadata, resolve_model_path
from ..models.runtime import DeployedModel

__all__ = ["model_kind", "model_metadata", "model_file_info", "load_deployed", "reference_densities", "reference_sets",
           "highest_l", "density_errors", "summarise_errors", "free_atoms_name"]


def model_kind(model: str | Path | None) -> str:
    """The kind recorded in a deployed file (a shipped model's name or a path), without loading its network."""
    return model_metadata(model)["model_kind"]


def model_metadata(model: str | Path | None) -> dict:
    """The checked metadata of a deployed file (a shipped model's name or a path)."""
    return read_metadata(resolve_model_path(model))


def model_file_info(model: str | Path | None) -> tuple[dict, list[str]]:
    """The checked metadata of a deployed file (a shipped model's name or a path) and the runtimes that
    can run it."""
    from ..models.format import runtimes_of

    metadata = model_metadata(model)
    return metadata, runtimes_of(metadata)


def load_deployed(model: str | Path | None) -> DeployedModel:
    """The deployed model (a shipped model's name or a path), loaded by the runtime of its kind."""
    return load_model(resolve_model_path(model))


def reference_densities(paths, basis_name: str) -> list[AtomicDensity]:
    """Every reference density of the ase.db files ``paths``, refused in one line if there are none or if
    they are in another basis than ``basis_name`` (the model's)."""
    return [ref for _, refs in reference_sets(paths, basis_name) for ref in refs]


def reference_sets(paths, basis_name: str) -> list[tuple[str, list[AtomicDensity]]]:
    """(path, its reference densities) for each of the ase.db files ``paths``, in order; refused as in
    :func:`reference_densities`."""
    sources = " ".join(str(p) for p in paths)
    sets = [(str(path), list(iter_densities(path))) for path in paths]
    refs = [ref for _, found in sets for ref in found]
    if not refs:
        raise E3DensityError(f"{sources} holds no reference densities")
    other = sorted({ref.basis.name for ref in refs} - {basis_name})
    if other:
        raise E3DensityError(f"{sources} holds densities in {', '.join(other)}; the model predicts {basis_name}: "
                             "compare like with like")
    return sets


def highest_l(refs: list[AtomicDensity]) -> int:
    """The highest angular momentum of the references' basis functions (the eps_l columns to show)."""
    return max((ref.basis[s].lmax for ref in refs for s in set(ref.atoms.get_chemical_symbols())), default=0)


def density_errors(predict: Callable[[Atoms], AtomicDensity], refs: list[AtomicDensity], grid_level: int = 2,
                   mu_monomer: float | None = None,
                   report: Callable[[int, str], None] | None = None) -> Iterator[tuple[Atoms, dict]]:
    """For each reference: the structure (its ``info["charge"]`` the reference's total charge, e) and the
    errors of ``predict(structure)`` against it (:func:`~ase_e3density.electron.evaluation.compare` on a
    quadrature grid of ``grid_level``; ``mu_monomer`` in e·Å scales the dipole error). ``report(k, step)``,
    if given, hears of each step before it starts (``k``: the reference's index)."""
    say = report or (lambda k, step: None)
    for k, ref in enumerate(refs):
        atoms = ref.atoms.copy()
        atoms.info["charge"] = ref.total_charge
        say(k, "the model's density")
        predicted = predict(atoms)
        say(k, f"the reference on a level-{grid_level} quadrature grid")
        on_grid = ReferenceOnGrid.build(ref, grid_level)
        say(k, "the errors")
        yield atoms, compare(predicted, on_grid, mu_monomer)


def summarise_errors(rows: list[dict]) -> dict:
    """Means over structures, median scaled dipole errors and pooled per-molecule RMS errors."""
    return summarise(rows)


def free_atoms_name() -> str:
    """The free-atom table of the Hirshfeld partition behind the per-molecule errors."""
    return load_free_atoms().name
