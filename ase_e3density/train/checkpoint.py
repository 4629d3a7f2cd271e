"""Model checkpoints (Python side): architecture, weights, and anything the trainer adds.

A checkpoint is what training writes and what :func:`ase_e3density.models.deploy` turns
into a deployed file; unlike a deployed file it needs this package and e3nn to load.
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..errors import ModelFileError, ModelNotFoundError
from ..fileio import atomic_path
from ..kinds import DEFAULT_KIND, get_kind

__all__ = ["save_checkpoint", "load_checkpoint", "model_from_checkpoint"]

CHECKPOINT_FORMAT = "ase_e3density-checkpoint-1"


def save_checkpoint(path, model: torch.nn.Module, **extra) -> Path:
    """Write model config and weights (plus ``extra``: optimiser state, epoch, ...) atomically."""
    state = {"format": CHECKPOINT_FORMAT, "kind": model.kind, "config": model.config.to_dict(),
             "dtype": str(next(model.parameters()).dtype).replace("torch.", ""),
             "model": model.state_dict(), **extra}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return Path(path)


def load_checkpoint(path) -> dict:
    """The raw checkpoint dictionary."""
    path = Path(path)
    if not path.is_file():
        raise ModelNotFoundError(f"no such checkpoint: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise ModelFileError(f"{path} is not a readable checkpoint ({str(exc).splitlines()[0]})") from exc
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ModelFileError(f"{path} is not an ase_e3density checkpoint")
    return state


def model_from_checkpoint(state_or_path) -> torch.nn.Module:
    """Rebuild the network stored in a checkpoint (path or loaded dict), of the kind it records
    (checkpoints without one are electron-density networks)."""
    state = state_or_path if isinstance(state_or_path, dict) else load_checkpoint(state_or_path)
    kind = get_kind(state.get("kind", DEFAULT_KIND))
    config = kind.load("config").from_dict(state["config"])
    model = kind.load("network")(config, dtype=getattr(torch, state["dtype"]))
    model.load_state_dict(state["model"])
    return model
