"""Checks on input structures, so bad input fails loudly and never yields a silent number."""
from __future__ import annotations

import numpy as np
from ase import Atoms

from ..errors import InvalidStructureError

__all__ = ["check_structure"]

MIN_DISTANCE = 0.1  # Å; closer atoms are "on top of each other"


def check_structure(atoms: Atoms, min_distance: float = MIN_DISTANCE) -> None:
    """Raise :class:`InvalidStructureError` for empty, non-finite or overlapping structures."""
    if len(atoms) == 0:
        raise InvalidStructureError("the structure has no atoms")
    pos = atoms.get_positions()
    bad = np.flatnonzero(~np.isfinite(pos).all(axis=1))
    if len(bad):
        raise InvalidStructureError(f"non-finite (NaN or inf) positions for atom(s) {bad[:10].tolist()}")
    if atoms.pbc.any() and not np.isfinite(atoms.cell.array).all():
        raise InvalidStructureError("the cell has non-finite entries")
    if atoms.pbc.any() and atoms.cell.rank < int(atoms.pbc.sum()):
        raise InvalidStructureError("periodic directions need nonzero, independent cell vectors")
    if len(atoms) < 2:
        return
    from vesin import NeighborList

    cell = atoms.cell.array if atoms.pbc.any() else np.zeros((3, 3))
    i, j, d = NeighborList(cutoff=min_distance, full_list=False).compute(
        points=pos, box=cell, periodic=[bool(p) for p in atoms.pbc], quantities="ijd"
    )
    if len(i):
        k = int(np.argmin(d))
        raise InvalidStructureError(
            f"atoms {int(i[k])} and {int(j[k])} are {d[k]:.3g} Å apart (closer than {min_distance} Å): "
            "overlapping atoms"
        )
