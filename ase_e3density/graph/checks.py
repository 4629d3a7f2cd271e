"""Checks on input structures, so impossible input fails loudly and never yields a silent number.

Two atoms (or an atom and a periodic image, of itself or another atom) closer than
``OVERLAP_FRACTION`` times the sum of their covalent radii (ASE's table) are on top of each
other: no chemical bond is that short (H2, the shortest relative to its radii, is at 1.19 times
the sum), and a density model has no meaning there. A crystal (phonons) also needs a 3D cell,
periodic in all three directions (:func:`check_crystal`).
"""
from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.data import covalent_radii

from ..errors import InvalidStructureError

__all__ = ["check_structure", "check_crystal", "check_electron_count", "check_overlaps", "check_ordered",
           "OVERLAP_FRACTION", "overlap_thresholds"]

OVERLAP_FRACTION = 0.5
_SEARCH_MIN = 2.0  # Å; vesin is slow for tiny cutoffs (cell lists of cutoff-sized cells), so search wider


def overlap_thresholds(numbers_i: np.ndarray, numbers_j: np.ndarray) -> np.ndarray:
    """Distance (Å) below which atoms of these atomic numbers are on top of each other."""
    return OVERLAP_FRACTION * (covalent_radii[numbers_i] + covalent_radii[numbers_j])


def check_structure(atoms: Atoms, overlaps: bool = True) -> None:
    """Raise :class:`InvalidStructureError` for empty, non-finite or overlapping structures.

    ``overlaps=False`` leaves the overlap search to the caller, who may already have a neighbour
    list of at least :func:`overlap_search_radius` (see :func:`check_overlaps`).
    """
    if not isinstance(atoms, Atoms):
        raise InvalidStructureError(f"expected ase.Atoms, got {type(atoms).__name__}")
    if len(atoms) == 0:
        raise InvalidStructureError("the structure has no atoms")
    pos = atoms.get_positions()
    bad = np.flatnonzero(~np.isfinite(pos).all(axis=1))
    if len(bad):
        raise InvalidStructureError(f"non-finite (NaN or inf) positions for atom(s) {bad[:10].tolist()}")
    if (atoms.numbers <= 0).any():
        raise InvalidStructureError("atomic number 0 (a dummy atom 'X') has no electrons to model")
    if atoms.pbc.any():
        cell = atoms.cell.array
        if not np.isfinite(cell).all():
            raise InvalidStructureError("the cell has non-finite entries")
        periodic = cell[atoms.pbc]
        if np.linalg.matrix_rank(periodic, tol=1e-6) < len(periodic) or (np.linalg.norm(periodic, axis=1) < 1e-6).any():
            raise InvalidStructureError(f"periodic directions {np.flatnonzero(atoms.pbc).tolist()} need nonzero, "
                                        "independent cell vectors (the cell is singular)")
    if overlaps:
        _search_overlaps(atoms)


def overlap_search_radius(numbers: np.ndarray) -> float:
    """The largest overlap threshold among these elements (Å): a neighbour list this long sees every overlap."""
    present = np.unique(numbers)
    return float(overlap_thresholds(present, present).max())


def _search_overlaps(atoms: Atoms) -> None:
    from vesin import NeighborList

    search = max(_SEARCH_MIN, overlap_search_radius(atoms.numbers) * 1.01)
    periodic = [bool(p) for p in atoms.pbc]
    box = atoms.cell.array if any(periodic) else np.zeros((3, 3))
    i, j, d = NeighborList(cutoff=search, full_list=False).compute(
        points=atoms.positions, box=box, periodic=periodic, quantities="ijd")
    check_overlaps(atoms, np.stack([i, j]), d)


def check_overlaps(atoms: Atoms, edge_index: np.ndarray, lengths: np.ndarray) -> None:
    """Refuse pairs of a neighbour list (reaching at least :func:`overlap_search_radius`) that overlap."""
    if len(lengths) == 0:
        return
    i, j, d = edge_index[0], edge_index[1], lengths
    periodic = atoms.pbc.any()
    limit = overlap_thresholds(atoms.numbers[i], atoms.numbers[j])
    close = np.flatnonzero(d < limit)
    if len(close):
        k = close[np.argmin(d[close] / limit[close])]
        a, b = int(i[k]), int(j[k])
        what = "a periodic image of itself" if a == b else f"atom {b} ({atoms[b].symbol})" + (
            " or its periodic image" if periodic else "")
        raise InvalidStructureError(
            f"atom {a} ({atoms[a].symbol}) is {d[k]:.3g} Å from {what}: closer than {limit[k]:.3g} Å "
            f"({OVERLAP_FRACTION} x the sum of covalent radii), overlapping atoms")


def check_electron_count(atoms: Atoms, charge: float, spin: int | None = None, source: str = "") -> float:
    """The electron count ``sum Z - charge``, refused when negative or inconsistent with ``spin`` (2S; ``source``:
    where it was given, for the message)."""
    n_electrons = float(atoms.numbers.sum()) - float(charge)
    if n_electrons < 0:
        raise InvalidStructureError(f"charge {charge:+g} on {atoms.get_chemical_formula()} "
                                    f"(nuclear charge {int(atoms.numbers.sum())}) leaves {n_electrons:g} electrons")
    if spin is not None:
        if spin < 0 or spin > n_electrons or abs(n_electrons - round(n_electrons)) > 1e-9 \
                or (round(n_electrons) - spin) % 2:
            given = f" ({source})" if source else ""
            raise InvalidStructureError(f"{n_electrons:g} electrons (charge {charge:+g} on "
                                        f"{atoms.get_chemical_formula()}) cannot have 2S = {spin}{given}")
    return n_electrons


DENSITY_NEEDS_ORDER = ("an electron-density model takes one element per site (no virtual crystals): build an "
                      "ordered cell")
PHONOPY_NEEDS_ORDER = ("the reference path (relaxation and phonopy) computes the one ordered cell it is given, "
                       "not the alloy: build an explicit (random) supercell; the phonon model itself takes the "
                       "virtual crystal")


def check_ordered(atoms: Atoms, label: str = "", why: str = DENSITY_NEEDS_ORDER) -> None:
    """Refuse partial occupancies (``atoms.info["occupancy"]``, as ASE's CIF reader writes them) where a
    calculation needs one element per site: an electron density of one structure (the default ``why``), or
    the reference phonons of one cell (:data:`PHONOPY_NEEDS_ORDER`); phonon models take them."""
    from .occupancy import partial_sites

    sites = partial_sites(atoms)
    if sites:
        i, site = sites[0]
        shown = ", ".join(f"{s} {x:g}" for s, x in site.items()) or "empty"
        raise InvalidStructureError(
            f"{label + ': ' if label else ''}atoms.info['occupancy'] gives partial occupancies for {len(sites)} "
            f"atom(s) (atom {i}: {shown}); {why}")


def check_crystal(atoms: Atoms, label: str = "structure") -> None:
    """Refuse what cannot have phonons of a crystal: no atoms, no cell, not periodic in 3D, non-finite."""
    if len(atoms) == 0:
        raise InvalidStructureError(f"{label}: no atoms")
    if not np.isfinite(atoms.positions).all() or not np.isfinite(atoms.cell.array).all():
        raise InvalidStructureError(f"{label}: non-finite positions or cell")
    if atoms.cell.rank < 3 or abs(atoms.cell.volume) < 1e-6:
        raise InvalidStructureError(f"{label} ({atoms.get_chemical_formula()}): no 3D cell (a crystal needs three "
                                    "lattice vectors)")
    if not atoms.pbc.all():
        raise InvalidStructureError(f"{label} ({atoms.get_chemical_formula()}): pbc={atoms.pbc.tolist()}; phonons of "
                                    "a crystal need periodic boundary conditions in all three directions")
