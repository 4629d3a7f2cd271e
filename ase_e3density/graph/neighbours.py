"""Neighbour lists (vesin) for ASE structures, periodic in any combination of directions."""
from __future__ import annotations

import numpy as np
from ase import Atoms

__all__ = ["neighbour_list"]


def neighbour_list(atoms: Atoms, cutoff: float) -> tuple[np.ndarray, np.ndarray]:
    """Full neighbour list within ``cutoff`` Å: edge_index (2, E) and Cartesian shifts (E, 3).

    ``positions[j] - positions[i] + shift`` is the vector from atom i to its neighbour j;
    mixed periodicity follows ``atoms.pbc`` per direction.
    """
    from vesin import NeighborList

    periodic = [bool(p) for p in atoms.pbc]
    box = atoms.cell.array if any(periodic) else np.zeros((3, 3))
    i, j, shifts = NeighborList(cutoff=float(cutoff), full_list=True).compute(
        points=atoms.positions, box=box, periodic=periodic, quantities="ijS")
    return np.stack([i, j]).astype(np.int64), shifts.astype(np.float64) @ box
