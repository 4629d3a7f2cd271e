"""Charge equilibration (QEq): atomic charges from electronegativities, hardnesses and electrostatics.

Each atom i carries a charge ``q_i`` (e) spread as a normalised Gaussian of width ``sigma_i`` (Å). The
charges of each structure minimise

    E(q) = sum_i (chi_i q_i + 1/2 J_i q_i^2) + 1/2 sum_ij q_i q_j A_ij,
    A_ij = k_e erf(r_ij / sqrt(2 (sigma_i^2 + sigma_j^2))) / r_ij   (i != j),
    A_ii = k_e / (sigma_i sqrt(pi))                                 (the Gaussian's self-energy, twice),

subject to ``sum_i q_i = Q`` (the structure's total charge); ``chi_i`` in eV/e, ``J_i`` in eV/e^2,
``k_e = Hartree * Bohr`` = 14.399645 eV Å/e^2. With ``H = diag(J) + A`` (symmetric positive definite) the
minimum is ``q = H^-1 (-chi + mu 1)``, the multiplier ``mu`` fixed by the total charge: two solves with
``H`` per structure (``x = -H^-1 chi``, ``y = H^-1 1``) and ``q = x + (Q - sum x) / (sum y) y``.

Each structure of a batch is solved on its own (one batched solve over the structures, padded to the
largest: memory ``m^2`` and time ``m^3`` per structure of ``m`` atoms: meant for molecules and clusters). Electrostatics are open-boundary (no periodic images). Only scalars and distances enter, so
the charges are invariant under rotations, reflections, translations and permutations.

:class:`ChargeEquilibration` predicts ``chi`` and ``J`` per atom from invariant features;
:func:`equilibrated_charges` is the solve; :func:`set_atom_populations` moves each atom's coefficients
to hold a given number of electrons.
"""
from __future__ import annotations

import math
from typing import List

import torch
from ase.data import atomic_numbers, covalent_radii
from ase.units import Bohr, Hartree

__all__ = ["COULOMB_CONSTANT", "HARDNESS_FLOOR", "ENERGY_SCALE", "ChargeEquilibration", "equilibrated_charges",
           "set_atom_populations"]

COULOMB_CONSTANT = Hartree * Bohr
"""k_e = e^2 / (4 pi eps_0) in eV Å / e^2 (14.399645)."""
HARDNESS_FLOOR = 1.0
"""Smallest atomic hardness J_i (eV/e^2): keeps the QEq matrix well conditioned."""
ENERGY_SCALE = 4.0
"""eV per unit of the head's raw outputs (electronegativity in eV/e, hardness in eV/e^2)."""
INITIAL_HARDNESS = 5.0
"""J_i (eV/e^2) of every atom before training."""


def _padded(values: torch.Tensor, batch: torch.Tensor, slot: torch.Tensor, n_graphs: int, m: int,
            fill: float) -> torch.Tensor:
    """Per-atom ``values`` as (structures, m), ``fill`` in the slots no atom occupies."""
    out = torch.full((n_graphs, m), fill, dtype=values.dtype, device=values.device)
    out[batch, slot] = values
    return out


def equilibrated_charges(chi: torch.Tensor, hardness: torch.Tensor, sigma: torch.Tensor, positions: torch.Tensor,
                         batch: torch.Tensor, total_charge: torch.Tensor, coulomb_constant: float) -> torch.Tensor:
    """QEq charges (e), one per atom (module docstring).

    ``chi`` (atoms,) eV/e, ``hardness`` (atoms,) eV/e^2 (> 0), ``sigma`` (atoms,) Gaussian widths in Å,
    ``positions`` (atoms, 3) Å, ``batch`` (atoms,) each atom's structure, non-decreasing (the atoms of a
    structure together, as every batch of this package has them), ``total_charge`` (structures,) e,
    ``coulomb_constant`` k_e in eV Å/e^2 (:data:`COULOMB_CONSTANT`; an argument, as TorchScript reads no globals).
    Each structure's system is solved on its own: the matrices are padded to the largest structure of the
    call, (structures, m, m), so memory grows with the structures times m^2, not with the call's atoms squared.
    """
    n_graphs = total_charge.shape[0]
    counts = torch.zeros(n_graphs, dtype=torch.long, device=batch.device).index_add(0, batch, torch.ones_like(batch))
    starts = torch.cumsum(counts, dim=0) - counts
    slot = torch.arange(batch.shape[0], device=batch.device) - starts[batch]  # each atom's place in its structure
    if torch.jit.is_scripting():
        m = int(counts.max())
    else:  # eager and torch.export: the largest structure is a data-dependent size, known to be >= 1
        m = counts.max().item()
        torch._check(m >= 1)
    real = torch.zeros((n_graphs, m), dtype=torch.bool, device=batch.device)
    real[batch, slot] = True

    xyz = torch.zeros((n_graphs, m, 3), dtype=positions.dtype, device=positions.device)
    xyz[batch, slot] = positions
    width_of = _padded(sigma, batch, slot, n_graphs, m, 1.0)
    eye = torch.eye(m, dtype=torch.bool, device=batch.device).unsqueeze(0)
    pair = real.unsqueeze(1) & real.unsqueeze(2) & ~eye
    diff = xyz.unsqueeze(1) - xyz.unsqueeze(2)
    squared = (diff * diff).sum(dim=3)
    # distances only where they are used: no zero under the square root (padding, the diagonal)
    r = torch.sqrt(torch.where(pair, squared, torch.ones_like(squared)))
    width = torch.sqrt(2.0 * (width_of.unsqueeze(1) ** 2 + width_of.unsqueeze(2) ** 2))
    coulomb = torch.where(pair, torch.erf(r / width) / r, torch.zeros_like(r))
    # padding slots: H = 1 on the diagonal and no right-hand side, so they solve to 0 and add nothing
    diagonal = torch.where(real, coulomb_constant / (width_of * math.sqrt(math.pi)) + _padded(hardness, batch, slot, n_graphs, m, 0.0),
                           torch.ones_like(width_of))
    matrix = coulomb_constant * coulomb + torch.diag_embed(diagonal)
    rhs = torch.stack([-_padded(chi, batch, slot, n_graphs, m, 0.0), real.to(chi.dtype)], dim=2)
    solved = torch.linalg.solve(matrix, rhs)
    x, y = solved[:, :, 0].sum(dim=1), solved[:, :, 1].sum(dim=1)
    mu = (total_charge.to(chi.dtype) - x) / y
    charges = solved[:, :, 0] + mu.unsqueeze(1) * solved[:, :, 1]
    return charges[batch, slot]


def set_atom_populations(coeffs: torch.Tensor, charge_integrals: torch.Tensor, electrons: torch.Tensor) -> torch.Tensor:
    """``coeffs`` (atoms, functions) with each atom's electron count ``coeffs[i] . charge_integrals[i]`` moved to
    ``electrons[i]`` by the smallest change, ``c_i += (electrons_i - c_i . q_i) q_i / (q_i . q_i)`` (only s
    functions have nonzero charge integrals ``q_i``, bohr^3/2)."""
    q = charge_integrals
    lam = (electrons - (coeffs * q).sum(dim=1)) / (q * q).sum(dim=1)
    return coeffs + lam.unsqueeze(1) * q


class ChargeEquilibration(torch.nn.Module):
    """Per-atom electronegativity and hardness from invariant features, and the QEq charges they give.

    ``chi_i = ENERGY_SCALE (chi_s + f_chi(h_i))``, ``J_i = HARDNESS_FLOOR + ENERGY_SCALE softplus(j_s +
    f_J(h_i))`` with ``f`` a two-layer perceptron of the atom's scalar (0e) features and ``chi_s``, ``j_s``
    learned per species; the Gaussian widths are the species' covalent radii (Å, fixed). The last layer
    starts at zero, so before training every atom of a species has the same chi and J (a neutral molecule
    of one element starts neutral atom by atom).
    """

    def __init__(self, species: List[str], n_features: int, hidden: int):
        super().__init__()
        self.coulomb_constant = COULOMB_CONSTANT
        self.energy_scale = ENERGY_SCALE
        self.hardness_floor = HARDNESS_FLOOR
        self.first = torch.nn.Linear(n_features, hidden)
        self.last = torch.nn.Linear(hidden, 2)
        torch.nn.init.zeros_(self.last.weight)
        torch.nn.init.zeros_(self.last.bias)
        n = len(species)
        start = math.log(math.expm1((INITIAL_HARDNESS - HARDNESS_FLOOR) / ENERGY_SCALE))  # softplus^-1
        self.species_electronegativity = torch.nn.Parameter(torch.zeros(n, dtype=torch.float64))
        self.species_hardness = torch.nn.Parameter(torch.full((n,), start, dtype=torch.float64))
        radii = [float(covalent_radii[atomic_numbers[s]]) for s in species]
        self.register_buffer("sigma", torch.tensor(radii, dtype=torch.float64))

    def electronegativity_hardness(self, scalars: torch.Tensor, species: torch.Tensor) -> List[torch.Tensor]:
        """``[chi (eV/e), J (eV/e^2)]`` per atom from its scalar features ``scalars`` (atoms, n_features)."""
        raw = self.last(torch.nn.functional.silu(self.first(scalars)))
        chi = self.energy_scale * (self.species_electronegativity[species] + raw[:, 0])
        hardness = self.hardness_floor + self.energy_scale * torch.nn.functional.softplus(
            self.species_hardness[species] + raw[:, 1])
        return [chi, hardness]

    def forward(self, scalars: torch.Tensor, species: torch.Tensor, positions: torch.Tensor, batch: torch.Tensor,
                total_charge: torch.Tensor) -> torch.Tensor:
        """QEq charges (e) per atom; ``positions`` in Å, ``total_charge`` (e) one per structure."""
        chi, hardness = self.electronegativity_hardness(scalars, species)
        return equilibrated_charges(chi, hardness, self.sigma[species], positions, batch, total_charge,
                                    self.coulomb_constant)
