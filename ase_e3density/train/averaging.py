"""Weight averaging for the trainers: an exponential moving average of a network's parameters."""
from __future__ import annotations

from contextlib import contextmanager

import torch

__all__ = ["ParameterAverage"]


class ParameterAverage:
    """Exponential moving average of a network's parameters, paired with them by name.

    After each :meth:`update`, ``average = decay * average + (1 - decay) * parameter`` (the first update
    copies). Buffers are not averaged: in these networks they are constants. Pairing by name matters: a deep
    copy of an e3nn network can register buffers that the original keeps as plain attributes (the compiled
    tensor products' constants), so ``torch.optim.swa_utils.AveragedModel``, which pairs a copy's buffers with
    the network's by position, fails on the shipped models' network size. :meth:`state_dict` keeps
    ``AveragedModel``'s layout (``n_averaged`` and ``module.<parameter name>``).
    """

    def __init__(self, model: torch.nn.Module, decay: float):
        self.decay = float(decay)
        self.n_averaged = 0
        self.averages = {name: p.detach().clone() for name, p in model.named_parameters()}

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        """Fold the network's current parameters into the average (after an optimiser step)."""
        for name, p in model.named_parameters():
            if self.n_averaged == 0:
                self.averages[name].copy_(p)
            else:
                self.averages[name].lerp_(p.detach(), 1.0 - self.decay)
        self.n_averaged += 1

    @contextmanager
    def applied(self, model: torch.nn.Module):
        """The network holds the averaged parameters inside the block, its own ones again after."""
        parameters = dict(model.named_parameters())
        raw = {name: p.detach().clone() for name, p in parameters.items()}
        with torch.no_grad():
            for name, average in self.averages.items():
                parameters[name].copy_(average)
        try:
            yield model
        finally:
            with torch.no_grad():
                for name, value in raw.items():
                    parameters[name].copy_(value)

    def state_dict(self) -> dict:
        return {"n_averaged": torch.tensor(self.n_averaged), **{f"module.{k}": v for k, v in self.averages.items()}}

    def load_state_dict(self, state: dict) -> None:
        self.n_averaged = int(state["n_averaged"])
        with torch.no_grad():
            for name, average in self.averages.items():
                average.copy_(state[f"module.{name}"])
