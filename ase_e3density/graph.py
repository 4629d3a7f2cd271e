"""Neighbour lists (vesin) and model inputs for ASE structures, periodic or not."""
from __future__ import annotations

import numpy as np
import torch
from ase import Atoms

__all__ = ["neighbour_list", "model_inputs"]


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


def model_inputs(atoms: Atoms, species_index: dict[str, int], cutoff: float, charge: float,
                 dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu") -> tuple[torch.Tensor, ...]:
    """The six tensors :meth:`DensityModel.forward` takes, for one structure."""
    edge_index, shifts = neighbour_list(atoms, cutoff)
    species = torch.tensor([species_index[s] for s in atoms.get_chemical_symbols()], dtype=torch.long)
    return (torch.as_tensor(atoms.positions, dtype=dtype, device=device), species.to(device),
            torch.as_tensor(edge_index, device=device), torch.as_tensor(shifts, dtype=dtype, device=device),
            torch.tensor([charge], dtype=dtype, device=device), torch.zeros(len(atoms), dtype=torch.long, device=device))
