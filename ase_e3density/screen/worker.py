"""The model on whichever process runs batches: loaded once per process, found by its checksum.

Tasks carry a small :class:`ModelRef` (path and checksum), never the TorchScript module. On Dask
workers the plugin in :mod:`.dask_run` writes the file's bytes (sent once per worker) to the
worker's local folder and registers that copy here, so workers need no shared file system.
"""
from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelFileError
from ..models import load_model
from .compute import prepare_batch, run_batch
from .kinds import Evaluator, evaluator_for
from .packing import ResultBatch
from .records import Item, Result

__all__ = ["ModelRef", "evaluator", "prepare_items", "evaluate_batch", "register_local_copy"]


@dataclass(frozen=True)
class ModelRef:
    """How a process finds the model: the file, the checksum it must have, device, dtype, options."""

    path: str
    checksum: str
    device: str = "cpu"
    dtype: str | None = None
    keep_coefficients: bool = False
    temperatures: tuple[float, ...] | None = None  # K, phonon models (None: the evaluator's default)


_LOCK = threading.Lock()
_EVALUATORS: dict[ModelRef, Evaluator] = {}
_LOCAL_COPIES: dict[str, Path] = {}  # checksum -> a copy of the file on this machine


def register_local_copy(checksum: str, path: Path) -> None:
    """Use ``path`` for the model with ``checksum`` in this process (Dask workers)."""
    with _LOCK:
        _LOCAL_COPIES[checksum] = Path(path)


def evaluator(ref: ModelRef) -> Evaluator:
    """This process's evaluator for ``ref``, loading the model the first time."""
    with _LOCK:
        if ref in _EVALUATORS:
            return _EVALUATORS[ref]
        path = _LOCAL_COPIES.get(ref.checksum, Path(ref.path))
    model = load_model(path, device=ref.device, dtype=ref.dtype)
    if model.checksum != ref.checksum:
        raise ModelFileError(f"{path} on this worker has checksum {model.checksum[:12]}..., "
                             f"not {ref.checksum[:12]}...: another file than the run's model")
    made = evaluator_for(model, keep_coefficients=ref.keep_coefficients, temperatures=ref.temperatures)
    with _LOCK:
        return _EVALUATORS.setdefault(ref, made)


def prepare_items(ref: ModelRef, items: Sequence[Item]) -> tuple[Sequence[Item], list]:
    """A batch with its checked inputs (graphs or refusals), for :func:`evaluate_batch`."""
    return items, prepare_batch(evaluator(ref), items)


def evaluate_batch(ref: ModelRef, items: Sequence[Item], prepared: list | None = None) -> list[Result]:
    """The task: results of one batch, in order (failures as results), as a list that pickles packed."""
    return ResultBatch(run_batch(evaluator(ref), items, ref.checksum, prepared))
