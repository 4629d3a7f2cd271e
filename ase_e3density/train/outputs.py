"""Which output coefficients a run learns: all of them, or only those up to an angular order.

A run restricted to ``output_lmax`` (0: scalars only, 1: l <= 1) keeps every coefficient of
higher l at the free-atom reference (zero: free atoms are spherical), leaves them out of the
loss, and measures its density errors against a reference whose higher-l part is that same
free-atom value, so every metric covers exactly the components the network is asked to learn.
"""
from __future__ import annotations

import numpy as np
import torch

from ..electron.basis import BasisSet
from ..electron.density import AtomicDensity

__all__ = ["function_l_table", "output_mask", "restricted_reference"]


def function_l_table(basis: BasisSet, species: list[str], max_dim: int) -> np.ndarray:
    """Angular order of every padded output column, per species: (n_species, max_dim); -1 marks padding."""
    table = np.full((len(species), max_dim), -1, dtype=np.int64)
    for k, s in enumerate(species):
        table[k, : basis[s].n_functions] = basis[s].function_l
    return table


def output_mask(basis: BasisSet, species: list[str], max_dim: int, output_lmax: int | None) -> torch.Tensor:
    """1 for the columns a run learns, 0 for the rest (padding included): (n_species, max_dim), float64."""
    table = function_l_table(basis, species, max_dim)
    lmax = table.max() if output_lmax is None else output_lmax
    return torch.as_tensor(((table >= 0) & (table <= lmax)).astype(np.float64))


def restricted_reference(density: AtomicDensity, free_atom: dict[str, np.ndarray],
                         output_lmax: int | None) -> AtomicDensity:
    """``density`` with every coefficient above ``output_lmax`` set to its free-atom value."""
    if output_lmax is None:
        return density
    basis, coefficients = density.basis, density.coefficients.copy()
    for index, symbol in enumerate(density.atoms.get_chemical_symbols()):
        above = basis[symbol].function_l > output_lmax
        own = coefficients[density.offsets[index]:density.offsets[index + 1]]
        own[above] = np.asarray(free_atom[symbol])[above]
    return AtomicDensity(density.atoms, basis, coefficients, density.nuclear_charges, info=density.info,
                         validate=False)
