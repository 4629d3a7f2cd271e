"""Losses between predicted and reference DOS per atom on a model's grid (both integrate to 3)."""
from __future__ import annotations

import torch

from ...phonon.targets import heat_capacity_weights
from ...phonon.units import GAS_CONSTANT

__all__ = ["PhononLoss"]


class PhononLoss:
    """``kind``: "wasserstein" (mean earth mover's distance in THz: the area between the two cumulative
    distributions, each scaled to 1) or "mse" (mean squared difference of the DOS); plus
    ``heat_capacity_weight`` x mean ((Cv_pred - Cv_ref) / R)^2 at ``temperatures`` (Cv is linear in the DOS)."""

    def __init__(self, grid, kind: str = "wasserstein", heat_capacity_weight: float = 0.0,
                 temperatures=(100.0, 300.0), dtype: torch.dtype = torch.float32):
        self.kind = kind
        self.step = float(grid[1] - grid[0])
        self.cv_weight = float(heat_capacity_weight)
        self.cv_matrix = torch.as_tensor(heat_capacity_weights(grid, temperatures).T / GAS_CONSTANT, dtype=dtype)

    def __call__(self, predicted: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        if self.kind == "wasserstein":
            cdf = torch.cumsum(predicted - reference, dim=1) * (self.step / 3.0)
            loss = cdf.abs().sum(dim=1).mean() * self.step
        else:
            loss = ((predicted - reference) ** 2).mean()
        if self.cv_weight > 0:
            loss = loss + self.cv_weight * (((predicted - reference) @ self.cv_matrix) ** 2).mean()
        return loss
