"""Losses between predicted and reference DOS per atom on a model's grid (both integrate to 3), and between
their element-projected parts (element e integrating to 3 x_e: :mod:`.partials`)."""
from __future__ import annotations

import torch

from ...phonon.targets import heat_capacity_weights
from ...phonon.units import GAS_CONSTANT

__all__ = ["PhononLoss"]


class PhononLoss:
    """``kind``: "wasserstein" (mean earth mover's distance in THz: the area between the two cumulative
    distributions, each scaled to 1) or "mse" (mean squared difference of the DOS); plus ``mse_weight`` x the
    mean squared difference of the DOS ((states/(THz atom))^2, a shape term beside "wasserstein"); plus
    ``heat_capacity_weight`` x mean ((Cv_pred - Cv_ref) / R)^2 at ``temperatures`` (Cv is linear in the DOS);
    plus ``partial_weight`` x :meth:`partial_term` over the structures that have a reference partial DOS."""

    def __init__(self, grid, kind: str = "wasserstein", heat_capacity_weight: float = 0.0,
                 temperatures=(100.0, 300.0), dtype: torch.dtype = torch.float32, partial_weight: float = 0.0,
                 mse_weight: float = 0.0):
        self.kind = kind
        self.mse_weight = float(mse_weight)
        self.step = float(grid[1] - grid[0])
        self.cv_weight = float(heat_capacity_weight)
        self.partial_weight = float(partial_weight)
        self.cv_matrix = torch.as_tensor(heat_capacity_weights(grid, temperatures).T / GAS_CONSTANT, dtype=dtype)

    def __call__(self, predicted: torch.Tensor, reference: torch.Tensor, partial_predicted: torch.Tensor | None = None,
                 partial_reference: torch.Tensor | None = None, mask: torch.Tensor | None = None) -> torch.Tensor:
        """The loss of a batch: ``predicted``, ``reference`` (n, n_grid); with ``partial_weight`` > 0 also
        ``partial_predicted``, ``partial_reference`` (n, n_species, n_grid) and ``mask`` (n,), the rows
        that have a reference partial DOS."""
        if self.kind == "wasserstein":
            cdf = torch.cumsum(predicted - reference, dim=1) * (self.step / 3.0)
            loss = cdf.abs().sum(dim=1).mean() * self.step
        else:
            loss = ((predicted - reference) ** 2).mean()
        if self.mse_weight > 0:
            loss = loss + self.mse_weight * ((predicted - reference) ** 2).mean()
        if self.cv_weight > 0:
            loss = loss + self.cv_weight * (((predicted - reference) @ self.cv_matrix) ** 2).mean()
        if self.partial_weight > 0 and partial_predicted is not None:
            loss = loss + self.partial_weight * self.partial_term(partial_predicted, partial_reference, mask)
        return loss

    def partial_term(self, predicted: torch.Tensor, reference: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The mean over the rows of ``mask`` of the total loss's distance summed over elements: "wasserstein",
        the area between each element's cumulative distributions (scaled by 1/3, so element e's ends at x_e
        and counts by its share of the modes), THz; "mse", the mean squared difference of each element's DOS,
        summed over elements. Zero when no row has a reference partial DOS (they add nothing, not zeros)."""
        if not bool(mask.any()):
            return torch.zeros((), dtype=predicted.dtype, device=predicted.device)
        diff = predicted[mask] - reference[mask]
        if self.kind == "wasserstein":
            cdf = torch.cumsum(diff, dim=2) * (self.step / 3.0)
            return cdf.abs().sum(dim=(1, 2)).mean() * self.step
        return (diff ** 2).mean(dim=2).sum(dim=1).mean()
