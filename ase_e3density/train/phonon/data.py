"""Reference phonons as training samples: graphs, target DOS on the model's grid, reference Cv."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import torch
from ase import Atoms
from ase.data import atomic_numbers

from ...errors import ConfigError
from ...graph.inputs import crystal_batch_inputs
from ...graph.neighbours import neighbour_list
from ...graph.occupancy import site_occupancy
from ...phonon.database import read_phonon_dos, temperature_key
from ...phonon.targets import dos_on_grid
from .partials import partial_targets

__all__ = ["CrystalSample", "read_rows", "make_samples", "reference_cv", "split", "collate", "collate_partials"]


@dataclass
class CrystalSample:
    """One crystal: its graph, target DOS per atom on the model grid, and the generator's own Cv."""

    uid: str
    name: str
    prototype: str
    atoms: Atoms
    graph: tuple
    target: np.ndarray           # (n_grid,), integrates to 3
    reference_cv: np.ndarray     # (n_T,) J/(K mol-atoms), summed over the generator's mesh modes
    # the element-projected DOS on the model grid, when the row has one: (indices into the model's species,
    # DOS (n_elements, n_grid) per atom of the structure, element e integrating to 3 x_e); see .partials
    partial: tuple[np.ndarray, np.ndarray] | None = None


def read_rows(path, selection: str | None, max_imaginary_fraction: float) -> tuple[list, dict]:
    """Rows of a phonon ase.db that qualify, and counts of those left out (and why)."""
    from ase.db import connect

    try:
        rows = list(connect(path, use_lock_file=False).select(selection))
    except Exception as exc:
        raise ConfigError(f"option data: cannot read {path} ({type(exc).__name__}: {exc})") from exc
    if not rows:
        raise ConfigError(f"option data: no rows of {path}" + (f" match the selection {selection!r}" if selection else ""))
    if not any("dos" in r.data for r in rows):
        raise ConfigError(f"option data: {path} holds no phonon DOS; write phonon databases with `e3density phonons`")
    kept = [r for r in rows if "dos" in r.data and float(r.get("imaginary_fraction", 0.0)) <= max_imaginary_fraction]
    counts = {"rows": len(rows), "kept": len(kept), "left_out_unstable": len(rows) - len(kept)}
    if not kept:
        raise ConfigError(f"option data: {path} has no phonon rows with imaginary fraction <= {max_imaginary_fraction}")
    return kept, counts


def species_of(rows) -> list[str]:
    found = {s for r in rows for s in r.toatoms().get_chemical_symbols()}
    return sorted(found, key=atomic_numbers.__getitem__)


def make_samples(rows, species: list[str], cutoff: float, grid, temperatures, sigma) -> list[CrystalSample]:
    """Samples of ``rows``: ordered crystals (one element per site; alloys as explicit supercells), with the
    partial DOS on the grid where the row has one."""
    samples = []
    for row in rows:
        dos = read_phonon_dos(row)
        atoms = dos.atoms
        edge_index, shifts = neighbour_list(atoms, cutoff)
        graph = (atoms.positions, site_occupancy(atoms, species), edge_index, shifts)
        target = dos_on_grid(dos, grid, sigma)
        samples.append(CrystalSample(uid=row.uid, name=str(row.get("name", atoms.get_chemical_formula())),
                                     prototype=str(row.get("prototype", "")), atoms=atoms, graph=graph,
                                     target=target, reference_cv=reference_cv(row, dos, temperatures),
                                     partial=partial_targets(dos, target, grid, species, sigma)))
    return samples


def reference_cv(row, dos, temperatures) -> np.ndarray:
    """The generator's Cv (J/(K mol-atoms)) at ``temperatures``: the row's ``cv_atom_T`` columns (sums over
    its mesh modes), or the same sums from its stored DOS for temperatures the row has no column for."""
    values = [row.get(temperature_key("cv_atom", t)) for t in temperatures]
    return np.array([float(dos.heat_capacity(t)) if v is None else float(v) for t, v in zip(temperatures, values)])


def split(samples: list[CrystalSample], test_prototypes, validation_fraction: float, test_fraction: float,
          seed: int, test_elements=(), max_train: int | None = None,
          keep_elements: bool = False) -> dict[str, list[CrystalSample]]:
    """train / validation / test (random, by ``seed``) and held_out (whole prototypes, and every crystal
    with an element of ``test_elements``). ``max_train`` keeps the first that many training crystals of the
    shuffled order and leaves the other sets as they are. ``keep_elements``: the random draw passes over a
    crystal whose removal would leave one of its elements in no training crystal, or would take an
    element's last elemental crystal out of training; those crystals train."""
    prototypes, elements = set(test_prototypes), set(test_elements)

    def held_out(sample: CrystalSample) -> bool:
        return sample.prototype in prototypes or bool(elements & set(sample.atoms.get_chemical_symbols()))

    held = [s for s in samples if held_out(s)]
    rest = [s for s in samples if not held_out(s)]
    order = np.random.default_rng(seed).permutation(len(rest))
    n_val = max(1, int(round(validation_fraction * len(rest))))
    n_test = int(round(test_fraction * len(rest)))
    if len(rest) - n_val - n_test < 1:
        raise ConfigError(f"only {len(rest)} structures outside the held-out prototypes and elements: too few to split")
    pick = [rest[i] for i in order]
    if keep_elements:
        pick = _elements_kept_first(pick, n_val + n_test)
    train = pick[n_val + n_test:]
    return {"validation": pick[:n_val], "test": pick[n_val:n_val + n_test],
            "train": train if max_train is None else train[:max_train], "held_out": held}


def _elements_kept_first(pick: list[CrystalSample], n_out: int) -> list[CrystalSample]:
    """``pick`` reordered so that its first ``n_out`` crystals (validation and test, in shuffled order) leave
    every element in some other crystal and every element with an elemental crystal in another one."""
    found = [frozenset(s.atoms.get_chemical_symbols()) for s in pick]
    left = Counter(e for elements in found for e in elements)  # crystals with each element, not yet drawn out
    elemental = Counter(elements for elements in found if len(elements) == 1)  # elemental crystals per element
    out, kept = [], []
    for sample, elements in zip(pick, found):
        unary = len(elements) == 1
        if len(out) < n_out and all(left[e] > 1 for e in elements) and (not unary or elemental[elements] > 1):
            out.append(sample)
            left.subtract(elements)
            if unary:
                elemental[elements] -= 1
        else:
            kept.append(sample)
    if len(out) < n_out:
        raise ConfigError(f"split_keeps_elements: only {len(out)} crystals can leave training, {n_out} asked for")
    return out + kept


def collate(samples: list[CrystalSample], dtype: torch.dtype) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
    """Network inputs of a batch and its targets (n, n_grid)."""
    inputs = crystal_batch_inputs([s.graph for s in samples], dtype)
    return inputs, torch.as_tensor(np.stack([s.target for s in samples]), dtype=dtype)


def collate_partials(samples: list[CrystalSample], n_species: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """The reference partial DOS of a batch (n, n_species, n_grid; zero for absent elements and for rows
    without one) and the mask of the rows that have one (n,), bool."""
    n_grid = len(samples[0].target)
    out = np.zeros((len(samples), n_species, n_grid))
    for k, s in enumerate(samples):
        if s.partial is not None:
            out[k, s.partial[0]] = s.partial[1]
    mask = torch.tensor([s.partial is not None for s in samples], dtype=torch.bool)
    return torch.as_tensor(out, dtype=dtype), mask
