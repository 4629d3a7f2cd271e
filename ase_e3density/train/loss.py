"""A loss that measures density error: overlap-weighted coefficients, the dipole error, the
Coulomb (Hartree) energy of the density difference and each molecule's charge and dipole errors."""
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

    ``coulomb_weight`` adds ``mean_g 1/2 dc_g^T J_g dc_g`` (Hartree): the Coulomb self-energy of
    structure g's density error over the whole structure, ``J_g`` its two-centre Coulomb matrix
    (:func:`ase_e3density.electron.coulomb.coulomb_matrix`, precomputed per sample in float64).
    It grows with the distance charge is moved over: the term the one-centre overlap lacks.

    ``fragment_weight`` adds the mean over the batch's molecules of ``(W_F dc)^2`` (e^2): the error
    in each molecule's Hirshfeld electron count, ``W_g`` (molecules x 4 x functions) from
    :func:`ase_e3density.electron.partition.fragment_integrals` with ``dipoles=True``, precomputed per
    sample. It is the charge moved between molecules itself, whatever the distance.
    ``fragment_dipole_weight`` adds the mean over molecules of ``|D_F dc|^2`` ((e·Å)^2), ``D_F`` the
    same array's first moments: the error in each molecule's own dipole about its centre of mass. With
    the charge errors it gives the total dipole error molecule by molecule, and unlike the total it
    does not let the errors of different molecules cancel.
    """

    def __init__(self, basis: BasisSet, species: list[str], max_dim: int, dipole_weight: float = 0.0,
                 output_lmax: int | None = None, coulomb_weight: float = 0.0, fragment_weight: float = 0.0,
                 fragment_dipole_weight: float = 0.0):
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
        self.coulomb_weight = float(coulomb_weight)
        self.fragment_weight = float(fragment_weight)
        self.fragment_dipole_weight = float(fragment_dipole_weight)

    def masked_difference(self, predicted: torch.Tensor, target: torch.Tensor, species: torch.Tensor) -> torch.Tensor:
        """``predicted - target`` on the learned columns, zero elsewhere."""
        return (predicted - target) * self.mask[species].to(predicted.dtype)

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

    def coulomb_term(self, diff: torch.Tensor, species: torch.Tensor, batch: torch.Tensor,
                     matrices: list[torch.Tensor]) -> torch.Tensor:
        """``1/2 dc_g^T J_g dc_g`` (Hartree) per structure, shape (n_graphs,), computed in float64.

        ``matrices[g]`` is structure g's Coulomb matrix over its unpadded coefficients (atom by atom).
        """
        return torch.stack([0.5 * dc @ (matrix @ dc) for dc, matrix in self._per_structure(diff, species, batch, matrices)]
                           ).to(diff.dtype)

    def fragment_errors(self, diff: torch.Tensor, species: torch.Tensor, batch: torch.Tensor,
                        matrices: list[torch.Tensor]) -> torch.Tensor:
        """Each molecule's electrons and electronic first moment (e·Å), predicted minus reference, over the
        batch's structures (float64), shape (molecules, 4).

        ``matrices[g]`` is structure g's fragment-share array (molecules, 4, its unpadded coefficients).
        """
        return torch.cat([matrix @ dc for dc, matrix in self._per_structure(diff, species, batch, matrices)])

    def _per_structure(self, diff: torch.Tensor, species: torch.Tensor, batch: torch.Tensor,
                       matrices: list[torch.Tensor]):
        """Each structure's unpadded coefficient error (float64) with its matrix."""
        real = self.function_l[species] >= 0
        for g, matrix in enumerate(matrices):
            rows = batch == g
            dc = diff[rows][real[rows]].to(torch.float64)
            yield dc, matrix.to(dc.device)

    def forward(self, predicted: torch.Tensor, target: torch.Tensor, species: torch.Tensor,
                positions: torch.Tensor, batch: torch.Tensor, n_graphs: int,
                coulomb: list[torch.Tensor] | None = None, fragments: list[torch.Tensor] | None = None) -> torch.Tensor:
        """The loss of a batch; ``coulomb``: each structure's Coulomb matrix (needed when ``coulomb_weight > 0``);
        ``fragments``: each structure's fragment-share array (needed when a fragment weight is set)."""
        diff = self.masked_difference(predicted, target, species)
        loss = self.density_term(diff, species)
        if self.dipole_weight > 0:
            loss = loss + self.dipole_weight * self.dipole_error(diff, species, positions, batch, n_graphs).square().sum(1).mean()
        if self.coulomb_weight > 0:
            if coulomb is None or len(coulomb) != n_graphs:
                raise ValueError("coulomb_weight > 0 needs one Coulomb matrix per structure in the batch")
            loss = loss + self.coulomb_weight * self.coulomb_term(diff, species, batch, coulomb).mean()
        if self.fragment_weight > 0 or self.fragment_dipole_weight > 0:
            if fragments is None or len(fragments) != n_graphs:
                raise ValueError("fragment_weight or fragment_dipole_weight > 0 needs one fragment-share array per "
                                 "structure in the batch")
            errors = self.fragment_errors(diff, species, batch, fragments)
            loss = loss + (self.fragment_weight * errors[:, 0].square().mean()
                           + self.fragment_dipole_weight * errors[:, 1:].square().sum(dim=1).mean()).to(diff.dtype)
        return loss

    def density_term_by_l(self, predicted: torch.Tensor, target: torch.Tensor, species: torch.Tensor) -> dict[int, float]:
        """The density term of the learned columns of each angular order l alone (S has no l-l' blocks)."""
        diff = self.masked_difference(predicted, target, species)
        ls = self.function_l[species]
        return {int(l): float(self.density_term(diff * (ls == l).to(diff.dtype), species))
                for l in torch.unique(self.function_l[self.function_l >= 0]).tolist()}
