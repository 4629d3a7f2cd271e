"""Smooth radial basis with a cutoff, written for TorchScript (no e3nn soft_one_hot)."""
from __future__ import annotations

import math

import torch


class BesselBasis(torch.nn.Module):
    """``sqrt(2/rc) sin(n pi r / rc) / r`` times a polynomial envelope that is smooth at ``rc``.

    The envelope (p = 6, as in DimeNet/NequIP) goes to zero with two vanishing derivatives.
    """

    def __init__(self, cutoff: float, n_basis: int = 8, p: int = 6):
        super().__init__()
        self.cutoff = float(cutoff)
        self.p = float(p)
        self.register_buffer("frequencies", torch.arange(1, n_basis + 1, dtype=torch.get_default_dtype()) * math.pi / cutoff)
        self.prefactor = math.sqrt(2.0 / cutoff)

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        x = r / self.cutoff
        p = self.p
        env = 1.0 - (p + 1.0) * (p + 2.0) / 2.0 * x.pow(p) + p * (p + 2.0) * x.pow(p + 1.0) - p * (p + 1.0) / 2.0 * x.pow(p + 2.0)
        env = env * (x < 1.0).to(r.dtype)
        r_safe = torch.clamp(r, min=1e-9)
        return self.prefactor * torch.sin(self.frequencies * r_safe.unsqueeze(-1)) / r_safe.unsqueeze(-1) * env.unsqueeze(-1)
