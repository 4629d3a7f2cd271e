"""A loss that measures density error: coefficient errors weighted by the basis overlap."""
from __future__ import annotations

import numpy as np
import torch

from ..basis import BasisSet

__all__ = ["OverlapLoss"]


class OverlapLoss(torch.nn.Module):
    """Mean over atoms of ``dc^T S_A dc`` = the one-centre part of ``int (rho_pred - rho_ref)^2``.

    ``S_A`` is the overlap of an atom's own functions (e/bohr^3 squared units). Terms
    between functions on different atoms are left out, which keeps the loss local and cheap.
    """

    def __init__(self, basis: BasisSet, species: list[str], max_dim: int):
        super().__init__()
        factors = np.zeros((len(species), max_dim, max_dim))
        for k, s in enumerate(species):
            s_matrix = basis[s].overlap_matrix
            n = len(s_matrix)
            factors[k, :n, :n] = np.linalg.cholesky(s_matrix).T  # S = L L^T: dc^T S dc = |L^T dc|^2
        self.register_buffer("factors", torch.as_tensor(factors))

    def forward(self, predicted: torch.Tensor, target: torch.Tensor, species: torch.Tensor) -> torch.Tensor:
        diff = (predicted - target).unsqueeze(-1)
        weighted = torch.bmm(self.factors[species].to(diff.dtype), diff).squeeze(-1)
        return weighted.square().sum(dim=1).mean()
