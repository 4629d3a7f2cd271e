"""Network inputs: one structure, or many joined into one graph of disjoint parts."""
from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import torch
from ase import Atoms
from ase.data import atomic_numbers, chemical_symbols

from ..errors import UnsupportedElementError
from .neighbours import neighbour_list

__all__ = ["centred", "model_inputs", "batch_inputs", "species_indices", "structure_graph", "crystal_batch_inputs"]


@lru_cache(maxsize=64)
def _species_table(species: tuple[tuple[str, int], ...]) -> np.ndarray:
    """Species index by atomic number (-1: not a species of the model)."""
    table = np.full(len(chemical_symbols), -1, dtype=np.int64)
    for symbol, k in species:
        table[atomic_numbers[symbol]] = k
    return table


def species_indices(atoms: Atoms, species_index: dict[str, int]) -> np.ndarray:
    """Each atom's index into a model's species list; unknown elements raise a clear error."""
    numbers = np.asarray(atoms.numbers)
    table = _species_table(tuple(species_index.items()))
    species = table[np.clip(numbers, 0, len(table) - 1)]
    if len(species) and (species < 0).any() | (numbers >= len(table)).any():
        missing = sorted(set(atoms.get_chemical_symbols()) - set(species_index))
        raise UnsupportedElementError(f"element(s) {', '.join(missing)} not supported by this model; "
                                      f"supported: {' '.join(species_index)}")
    return species


def centred(positions: np.ndarray) -> np.ndarray:
    """Positions (Å) less their mean, in float64: the networks see only differences of positions, and a
    structure far from the origin keeps them to float32's relative precision only once it is centred."""
    positions = np.asarray(positions, dtype=np.float64)
    return positions - positions.mean(axis=0) if len(positions) else positions


def batch_inputs(graphs: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]], charges: Sequence[float],
                 dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu") -> tuple[torch.Tensor, ...]:
    """The six tensors a network takes, for structures given as (positions, species, edge_index, shifts).

    Atoms of structure g get batch index g; edge indices are offset so the parts stay disjoint.
    """
    sizes = [len(g[1]) for g in graphs]
    if len(graphs) == 1:  # one structure (a calculator call): nothing to join
        positions_, species_, edges_, shifts_ = graphs[0][:4]
        positions_ = centred(positions_)
    else:
        offsets = np.cumsum([0] + sizes[:-1])
        positions_ = np.concatenate([centred(g[0]) for g in graphs])
        species_ = np.concatenate([g[1] for g in graphs])
        edges_ = np.concatenate([g[2] + o for g, o in zip(graphs, offsets)], axis=1)
        shifts_ = np.concatenate([g[3] for g in graphs])
    positions = torch.as_tensor(positions_, dtype=dtype, device=device)
    species = torch.as_tensor(species_, dtype=torch.long, device=device)
    edges = torch.as_tensor(edges_, dtype=torch.long, device=device)
    shifts = torch.as_tensor(shifts_, dtype=dtype, device=device)
    charge = torch.as_tensor(np.asarray(charges, dtype=float), dtype=dtype, device=device)
    batch = torch.as_tensor(np.repeat(np.arange(len(graphs)), sizes), device=device)
    return positions, species, edges, shifts, charge, batch


def structure_graph(atoms: Atoms, species_index: dict[str, int], cutoff: float):
    """(positions, species indices, edge_index, shifts) of one structure."""
    species = species_indices(atoms, species_index)
    edge_index, shifts = neighbour_list(atoms, cutoff)
    return atoms.positions, species, edge_index, shifts


def model_inputs(atoms: Atoms, species_index: dict[str, int], cutoff: float, charge: float,
                 dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu") -> tuple[torch.Tensor, ...]:
    """The six tensors a network's ``forward`` takes, for one structure."""
    return batch_inputs([structure_graph(atoms, species_index, cutoff)], [charge], dtype, device)


def crystal_batch_inputs(graphs: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
                         dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu") -> tuple[torch.Tensor, ...]:
    """The five tensors a phonon network takes, for crystals given as (positions, site occupancies
    (n_atoms, n_species), edge_index, shifts): positions, occupancies, edges, shifts, batch."""
    sizes = [len(g[1]) for g in graphs]
    offsets = np.cumsum([0] + sizes[:-1])
    positions = torch.as_tensor(np.concatenate([centred(g[0]) for g in graphs]), dtype=dtype, device=device)
    occupancy = torch.as_tensor(np.concatenate([g[1] for g in graphs]), dtype=dtype, device=device)
    edges = torch.as_tensor(np.concatenate([g[2] + o for g, o in zip(graphs, offsets)], axis=1), device=device)
    shifts = torch.as_tensor(np.concatenate([g[3] for g in graphs]), dtype=dtype, device=device)
    batch = torch.as_tensor(np.repeat(np.arange(len(graphs)), sizes), device=device)
    return positions, occupancy, edges, shifts, batch
