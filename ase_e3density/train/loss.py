"""A loss that measures density error: overlap-weighted coefficients plus the dipole error."""
from __future__ import annotations

import numpy as np
import torch
from ase.units import Bohr

from ..electron.basis import BasisSet
from .outputs import function_l_table, output_mask

__all__ = ["DensityLoss"]


class DensityLoss(torch.nn.Module):
    """``mean_A dc^T S_A dc + dipole_weight * mean_g |dmu_g|^2``, over the learned columns.

    The first term is the one-centre part of ``int (rho_pred - rho_ref)^2`` (``S_A``: overlap
    of an atom's own functions). It is dominated by core functions and barely sees electrons
    moving between atoms, which the second term does: ``dmu_g`` is the exact dipole error
    (e·Å) of structure g, ``-sum_A [(q.dc_A) R_A + Bohr D_A^T dc_A]``, linear in the
    coefficients; both densities hold the same electron count, so it is origin independent.
    With ``output_lmax`` set, ``dc`` is zero above that l: the loss ignores those columns.
    """

    def __init__(self, basis: BasisSet, species: list[str], max_dim: int, dipole_weight: float = 0.0,
                 output_lmax: int | None = None):
        super().__init__()
        factors = np.zeros((len(species), max_dim, max_dim))
        for k, s in enumerate(species):
            n = basis[s].n_functions
            factors[k, :n, :n] = np.linalg.cholesky(basis[s].overlap_matrix).T  # S = L L^T
        self.register_buffer("factors", torch.as_tensor(factors))
        self.register_buffer("charge", torch.as_tensor(basis.padded_table(species, "charge_integrals", max_dim)))
        self.register_buffer("dipole", torch.as_tensor(basis.padded_table(species, "dipole_integrals", max_dim)))
        self.register_buffer("mask", output_mask(basis, species, max_dim, output_lmax))
        self.register_buffer("function_l", torch.as_tensor(function_l_table(basis, species, max_dim)))
        self.dipole_weight = float(dipole_weight)

    def density_term(self, diff: torch.Tensor, species: torch.Tensor) -> torch.Tensor:
        weighted = torch.bmm(self.factors[species].to(diff.dtype), diff.unsqueeze(-1)).squeeze(-1)
        return weighted.square().sum(dim=1).mean()

    def dipole_error(self, diff: torch.Tensor, species: torch.Tensor, positions: torch.Tensor,
                     batch: torch.Tensor, n_graphs: int) -> torch.Tensor:
        """Dipole of predicted minus reference density per structure (e·Å), shape (n_graphs, 3)."""
        zeros = torch.zeros(n_graphs, 3, dtype=diff.dtype, device=diff.device)
        counts = zeros[:, 0].index_add(0, batch, torch.ones_like(batch, dtype=diff.dtype))
        centre = zeros.index_add(0, batch, positions) / counts.unsqueeze(1)
        populations = (self.charge[species].to(diff.dtype) * diff).sum(dim=1, keepdim=True)
        local = torch.einsum("nk,nkx->nx", diff, self.dipole[species].to(diff.dtype)) * Bohr
        per_atom = populations * (positions - centre[batch]) + local
        return -zeros.index_add(0, batch, per_atom)

    def forward(self, predicted: torch.Tensor, target: torch.Tensor, species: torch.Tensor,
                positions: torch.Tensor, batch: torch.Tensor, n_graphs: int) -> torch.Tensor:
        diff = (predicted - target) * self.mask[species].to(predicted.dtype)
        loss = self.density_term(diff, species)
        if self.dipole_weight > 0:
            loss = loss + self.dipole_weight * self.dipole_error(diff, species, positions, batch, n_graphs).square().sum(1).mean()
        return loss

    def density_term_by_l(self, predicted: torch.Tensor, target: torch.Tensor, species: torch.Tensor) -> dict[int, float]:
        """The density term of the learned columns of each angular order l alone (S has no l-l' blocks)."""
        diff = (predicted - target) * self.mask[species].to(predicted.dtype)
        ls = self.function_l[species]
        return {int(l): float(self.density_term(diff * (ls == l).to(diff.dtype), species))
                for l in torch.unique(self.function_l[self.function_l >= 0]).tolist()}
