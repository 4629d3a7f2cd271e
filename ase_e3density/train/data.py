"""Reference densities as training samples, and batches of them."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..database import iter_densities
from ..density import AtomicDensity
from ..graph import neighbour_list

__all__ = ["Sample", "load_samples", "collate"]


@dataclass
class Sample:
    """One structure: the model's inputs and its target coefficients (padded per atom)."""

    density: AtomicDensity
    species: np.ndarray       # (n,) index into the model's species
    edge_index: np.ndarray    # (2, E)
    edge_shift: np.ndarray    # (E, 3)
    charge: float
    target: np.ndarray        # (n, max_dim)


def load_samples(path, species: list[str], cutoff: float, max_dim: int, limit: int | None = None) -> list[Sample]:
    """Every row of an ase.db of reference densities, ready for the model."""
    index = {s: k for k, s in enumerate(species)}
    samples = []
    for density in iter_densities(path):
        atoms = density.atoms
        target = np.zeros((len(atoms), max_dim))
        for a in range(len(atoms)):
            c = density.atom_coefficients(a)
            target[a, : len(c)] = c
        edge_index, shifts = neighbour_list(atoms, cutoff)
        samples.append(Sample(density, np.array([index[s] for s in atoms.get_chemical_symbols()]), edge_index,
                              shifts, float(density.total_charge), target))
        if limit is not None and len(samples) >= limit:
            break
    return samples


def collate(samples: list[Sample], dtype: torch.dtype) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
    """Model inputs for a batch (one graph of disjoint structures) and the stacked targets."""
    offsets = np.cumsum([0] + [len(s.species) for s in samples])
    positions = torch.as_tensor(np.concatenate([s.density.atoms.positions for s in samples]), dtype=dtype)
    species = torch.as_tensor(np.concatenate([s.species for s in samples]), dtype=torch.long)
    edges = torch.as_tensor(np.concatenate([s.edge_index + o for s, o in zip(samples, offsets)], axis=1))
    shifts = torch.as_tensor(np.concatenate([s.edge_shift for s in samples]), dtype=dtype)
    charge = torch.tensor([s.charge for s in samples], dtype=dtype)
    batch = torch.as_tensor(np.repeat(np.arange(len(samples)), [len(s.species) for s in samples]))
    target = torch.as_tensor(np.concatenate([s.target for s in samples]), dtype=dtype)
    return (positions, species, edges, shifts, charge, batch), target
