"""Model checkpoints (Python side): architecture, weights, and anything the trainer adds.

A checkpoint is what training writes and what :func:`ase_e3density.models.deploy` turns
into a deployed file; unlike a deployed file it needs this package and e3nn to load.
It holds only tensors and plain data (dicts, lists, tuples, strings, numbers, booleans, None) and is read
with ``torch.load(..., weights_only=True)``: a file holding other Python objects (a pickle that could run
code) is refused without running anything.
"""
from __future__ import annotations

import dataclasses
import pickle
import re
from collections.abc import Mapping
from pathlib import Path, PurePath

import numpy as np
import torch

from ..errors import ModelFileError, ModelNotFoundError
from ..fileio import atomic_path
from ..kinds import DEFAULT_KIND, get_kind

__all__ = ["save_checkpoint", "load_checkpoint", "model_from_checkpoint",
           "plain_data"]

CHECKPOINT_FORMAT = "ase_e3density-checkpoint-1"


def plain_data(value, where: str = "checkpoint"):
    """``value`` as data that ``torch.load(weights_only=True)`` reads: numpy scalars and arrays become
    Python numbers and tensors, dataclasses and mappings dicts, sets sorted lists, paths strings;
    anything else is refused (``where`` names it)."""
    if value is None or isinstance(value, (bool, int, float, str, bytes, torch.Tensor, torch.dtype, torch.device)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value))
    if isinstance(value, PurePath):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {plain_data(k, where): plain_data(v, f"{where}[{k!r}]") for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(plain_data(v, f"{where}[{k}]") for k, v in enumerate(value))
    if isinstance(value, (set, frozenset)):
        return sorted(plain_data(v, where) for v in value)
    if isinstance(value, list):
        return [plain_data(v, f"{where}[{k}]") for k, v in enumerate(value)]
    raise ModelFileError(f"{where}: a {type(value).__name__} cannot be stored in a checkpoint (tensors and plain "
                         "data only)")


def save_checkpoint(path, model: torch.nn.Module, **extra) -> Path:
    """Write model config and weights (plus ``extra``: optimiser state, epoch, ...) atomically, as plain
    data that loads with ``weights_only=True``."""
    state = {"format": CHECKPOINT_FORMAT, "kind": model.kind, "config": model.config.to_dict(),
             "dtype": str(next(model.parameters()).dtype).replace("torch.", ""),
             "model": model.state_dict(), **extra}
    state = plain_data(state)
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return Path(path)


def load_checkpoint(path) -> dict:
    """The raw checkpoint dictionary; files holding anything but tensors and plain data are refused
    before any of it is built."""
    path = Path(path)
    if not path.is_file():
        raise ModelNotFoundError(f"no such checkpoint: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "Unsupported operand" in str(exc):  # bytes that are no pickle at all (a text file, say)
            raise ModelFileError(f"{path} is not a checkpoint (its bytes are not a torch pickle)") from None
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        named = f", here {found.group(1)}" if found else ""
        raise ModelFileError(f"{path} is refused: it holds Python objects besides tensors and plain data (a pickle "
                             f"that could run code{named}); only checkpoints of tensors and plain data load") from None
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
