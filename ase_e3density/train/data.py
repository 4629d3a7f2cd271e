"""Reference densities as training samples, and batches of them."""
from __future__ import annotations

import hashlib
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..electron.coulomb import coulomb_matrix
from ..electron.database import iter_densities
from ..electron.density import AtomicDensity
from ..electron.partition import fragment_integrals
from ..errors import ConfigError
from ..graph.inputs import batch_inputs, species_indices
from ..graph.neighbours import neighbour_list
from ..processes import die_with_parent

__all__ = ["Sample", "ShareCache", "load_samples", "collate", "coulomb_matrices", "fragment_matrices"]


@dataclass
class Sample:
    """One structure: the model's inputs and its target coefficients (padded per atom)."""

    density: AtomicDensity
    species: np.ndarray       # (n,) index into the model's species
    edge_index: np.ndarray    # (2, E)
    edge_shift: np.ndarray    # (E, 3)
    charge: float
    target: np.ndarray        # (n, max_dim)
    coulomb: np.ndarray | None = None  # (n_functions, n_functions) Coulomb matrix, float64 (coulomb loss only)
    fragments: np.ndarray | None = None  # (n_molecules, 4, n_functions) Hirshfeld shares and first moments (fragment terms)

    @property
    def graph(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return self.density.atoms.positions, self.species, self.edge_index, self.edge_shift


class ShareCache:
    """Fragment shares and first moments (:func:`fragment_integrals` with ``dipoles=True``) of structures
    already seen, kept in one ``.npz`` file so that a resumed or repeated run does not compute them again;
    keyed by the elements, positions and basis of each structure and by how the shares are made."""

    MADE_BY = "fragment_integrals: molecules by bonding, shipped free atoms, Becke level 1, first moments"
    SAVE_EVERY = 50  # structures computed between saves by fill()

    def __init__(self, path):
        self.path = Path(path)
        self.shares: dict[str, np.ndarray] = {}
        if self.path.is_file():
            with np.load(self.path) as stored:
                self.shares = {k: stored[k] for k in stored.files}

    @staticmethod
    def key(density: AtomicDensity) -> str:
        atoms = density.atoms
        text = atoms.numbers.astype(np.int64).tobytes() + atoms.positions.astype(np.float64).tobytes()
        return hashlib.sha1(text + f"{density.basis.name}|{ShareCache.MADE_BY}".encode()).hexdigest()

    def get(self, density: AtomicDensity) -> np.ndarray:
        key = self.key(density)
        if key not in self.shares:
            self.shares[key] = _shares(density)
        return self.shares[key]

    def fill(self, densities, workers: int, progress: bool = False) -> int:
        """Compute the missing shares of ``densities`` in ``workers`` processes, saving every
        :attr:`SAVE_EVERY` structures (a killed run keeps what was saved); returns how many were computed."""
        todo = {}
        for density in densities:
            todo.setdefault(self.key(density), density)
        todo = {k: d for k, d in todo.items() if k not in self.shares}
        if not todo:
            return 0
        start = time.perf_counter()
        context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=die_with_parent,
                                 initargs=(os.getpid(),)) as pool:
            futures = {pool.submit(_shares, d): k for k, d in todo.items()}
            for done, future in enumerate(as_completed(futures), 1):
                self.shares[futures[future]] = future.result()
                if done % self.SAVE_EVERY == 0 or done == len(todo):
                    self.save()
                    if progress:
                        print(f"  fragment shares: {done} of {len(todo)} structures ({time.perf_counter() - start:.0f} s, "
                              f"{workers} processes)", file=sys.stderr, flush=True)
        return len(todo)

    def save(self) -> None:
        """Write the file (atomically: a killed run leaves the previous one)."""
        tmp = self.path.with_name(self.path.name + ".tmp.npz")
        np.savez(tmp, **self.shares)
        os.replace(tmp, self.path)


def _shares(density: AtomicDensity) -> np.ndarray:
    return fragment_integrals(density, dipoles=True)[0]


def load_samples(path, species: list[str], cutoff: float, max_dim: int, limit: int | None = None,
                 progress: bool = False, coulomb: bool = False, fragments: bool = False,
                 share_cache: ShareCache | None = None, selection: str | None = None) -> list[Sample]:
    """Rows of an ase.db of reference densities (those matching the ase.db ``selection``, the first ``limit``
    of them), ready for the model;
    ``coulomb``: also each structure's two-centre Coulomb matrix (for the loss's Coulomb term);
    ``fragments``: also each molecule's Hirshfeld share and first moment of every function (fragment terms),
    taken from ``share_cache`` where it has them."""
    index = {s: k for k, s in enumerate(species)}
    samples, start = [], time.perf_counter()
    for density in iter_densities(path, selection):
        atoms = density.atoms
        edge_index, shifts = neighbour_list(atoms, cutoff)
        matrix = coulomb_matrix(atoms, density.basis) if coulomb else None
        if fragments and atoms.pbc.any():
            raise ConfigError(f"{path}: the fragment terms of the loss need finite structures (molecules); row {len(samples) + 1} is periodic")
        shares = None
        if fragments:
            shares = share_cache.get(density) if share_cache is not None else _shares(density)
        samples.append(Sample(density, species_indices(atoms, index), edge_index, shifts, float(density.total_charge),
                              density.padded_coefficients(max_dim), matrix, shares))
        if progress and len(samples) % 100 == 0:
            print(f"  loaded {len(samples)} structures from {path} ({time.perf_counter() - start:.0f} s)",
                  file=sys.stderr, flush=True)
        if limit is not None and len(samples) >= limit:
            break
    return samples


def collate(samples: list[Sample], dtype: torch.dtype,
            device: str | torch.device = "cpu") -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
    """Model inputs for a batch (one graph of disjoint structures) and the stacked targets."""
    inputs = batch_inputs([s.graph for s in samples], [s.charge for s in samples], dtype, device)
    target = torch.as_tensor(np.concatenate([s.target for s in samples]), dtype=dtype, device=device)
    return inputs, target


def coulomb_matrices(samples: list[Sample], device: str | torch.device = "cpu") -> list[torch.Tensor] | None:
    """The samples' Coulomb matrices as float64 tensors (shared memory on CPU), or None if they have none."""
    return _matrices([s.coulomb for s in samples], device)


def fragment_matrices(samples: list[Sample], device: str | torch.device = "cpu") -> list[torch.Tensor] | None:
    """The samples' fragment-share arrays (molecules, 4, functions) as float64 tensors, or None if they have none."""
    return _matrices([s.fragments for s in samples], device)


def _matrices(arrays: list[np.ndarray | None], device) -> list[torch.Tensor] | None:
    if any(a is None for a in arrays):
        return None
    return [torch.as_tensor(a, device=device) for a in arrays]
