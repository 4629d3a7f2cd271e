"""What the network's output is added to and scaled by: free-atom densities and per-shell scales."""
from __future__ import annotations

import numpy as np
import torch

from ..electron.basis import load_basis
from .data import Sample

__all__ = ["free_atom_table", "output_scale_table"]


def free_atom_table(kind: str, samples: list[Sample], species: list[str], basis_name: str, max_dim: int) -> torch.Tensor:
    """Spherical free-atom coefficients per species (s functions only), padded to ``max_dim``.

    ``"pyscf"``: neutral spherical atoms at the data's level of theory (PySCF's atom_ks),
    fitted onto the same basis; ``"mean"``: the data's average s coefficients per element.
    """
    basis = load_basis(basis_name)
    table = torch.zeros(len(species), max_dim, dtype=torch.float64)
    if kind == "pyscf":
        from ..electron.reference import free_atom_coefficients

        info = samples[0].density.info
        free = free_atom_coefficients(species, xc=info.get("xc", "PBE0"), basis=info.get("basis", "cc-pvdz"),
                                      auxbasis=basis_name)
        for k, s in enumerate(species):
            table[k, : len(free[s])] = torch.as_tensor(free[s])
    else:
        for k, s in enumerate(species):
            mean = np.concatenate([smp.target[smp.species == k] for smp in samples]).mean(axis=0)
            mean = mean[: basis[s].n_functions]
            table[k, : len(mean)] = torch.as_tensor(np.where(basis[s].function_l == 0, mean, 0.0))
    return table


def output_scale_table(samples: list[Sample], free: torch.Tensor, species: list[str], basis_name: str) -> torch.Tensor:
    """Root-mean-square deviation from the free atom, one value per shell (all its m alike)."""
    basis = load_basis(basis_name)
    scale = torch.ones_like(free)
    for k, s in enumerate(species):
        rows = np.concatenate([smp.target[smp.species == k] for smp in samples]) - free[k].numpy()
        for _, part in basis[s].shell_slices:
            block = rows[:, part]
            scale[k, part] = float(np.sqrt(np.mean(block**2))) if len(block) else 1.0
        n = basis[s].n_functions
        scale[k, :n] = torch.clamp(scale[k, :n], min=1e-3 * float(scale[k, :n].max()))
    return scale
