"""Loaded deployed models: Atoms in, network inputs, outputs back as physical objects.

:func:`load_model` is the only loader. It checks the metadata checksum and the weights, keeps
one loaded copy per (file, checksum, device, dtype) so that many calculators share it, and
returns the runtime class of the file's model kind (declared in :mod:`ase_e3density.kinds`), its network
run by one of :data:`RUNTIMES` (built in :mod:`.modules`).
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..errors import CalculatorParameterError, ModelFileError, UnsupportedElementError
from ..kinds import get_kind
from . import format as fmt
from .modules import BUILDERS
from .shipped import resolve_model_path, shipped_models_covering, shipped_name

__all__ = ["DeployedModel", "RUNTIMES", "load_model", "clear_model_cache"]

EDGE_CHUNK = 256
"""Edges per chunk of the dense inference path (files scripted with it; older files run as scripted).
Read when a file is loaded; measured in docs/benchmark.md (256-4096 cost within noise of each other,
all edges at once is 3x slower per atom at 3,000 atoms)."""

_CACHE: OrderedDict[tuple, "DeployedModel"] = OrderedDict()
_CACHE_SIZE = 8
_LOCK = threading.Lock()


@dataclass(frozen=True)
class DeployedModel:
    """A loaded network with its (verified) metadata; one subclass per model kind."""

    module: torch.nn.Module  # scripted, eager or exported (see ``runtime``)
    metadata: dict
    dtype: torch.dtype
    device: torch.device
    path: Path
    runtime: str = field(default="torchscript", kw_only=True)
    """How :attr:`module` runs: one of :data:`RUNTIMES`."""

    @property
    def kind(self) -> str:
        return str(self.metadata[fmt.KIND])

    @property
    def checksum(self) -> str:
        return str(self.metadata[fmt.CHECKSUM])

    @property
    def species(self) -> list[str]:
        return list(self.metadata[fmt.SPECIES])

    @property
    def cutoff(self) -> float:
        return float(self.metadata[fmt.CUTOFF])

    @property
    def species_index(self) -> dict[str, int]:
        return {s: k for k, s in enumerate(self.species)}

    def element_refusal(self, symbols) -> UnsupportedElementError:
        """The one-line refusal of elements this model lacks, naming a shipped model that covers them."""
        missing = sorted(set(symbols) - set(self.species))
        name = shipped_name(self.path)
        this = f"the shipped model {name!r}" if name else f"the model {self.path.name}"
        text = f"element(s) {', '.join(missing)} not supported by {this} (supported: {' '.join(self.species)})"
        covering = [n for n in shipped_models_covering(self.kind, symbols) if n != name]
        if covering:
            text += f"; the shipped model {covering[0]!r} covers them: model={covering[0]!r} (CLI: --model {covering[0]})"
        else:
            text += "; no shipped model covers them (a model of your own: see the walkthrough in the docs)"
        return UnsupportedElementError(text)

    @classmethod
    def from_file(cls, module, metadata: dict, dtype: torch.dtype, device: torch.device, path: Path,
                  runtime: str = "torchscript") -> "DeployedModel":
        """The runtime of a loaded, verified file run by ``runtime``; kinds whose runtime needs more than
        the metadata (a basis set, a frequency grid) read it here."""
        return cls(module, metadata, dtype, device, path, runtime=runtime)


def _dtype(value, default: str) -> torch.dtype:
    if value is None:
        value = default
    if isinstance(value, torch.dtype):
        return value
    name = str(value).replace("torch.", "")
    if name not in ("float32", "float64"):
        raise CalculatorParameterError(f"dtype must be 'float32' or 'float64', got {value!r}")
    return getattr(torch, name)


def _device(value) -> torch.device:
    try:
        device = torch.device(value)
    except (RuntimeError, TypeError) as exc:
        raise CalculatorParameterError(f"unknown device {value!r}; use 'cpu', 'cuda' or 'cuda:N'") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise CalculatorParameterError(f"device {value!r} asked for, but this torch sees no CUDA GPU")
    return device


RUNTIMES = ("torchscript", "eager", "export")
"""How a deployed file's network can be run: ``torchscript`` (the scripted archive, the default and fastest),
``eager`` (rebuilt from this package's code and the plain weights, no TorchScript), ``export`` (the file's
``torch.export`` program, in files deployed with ``--export``)."""


def load_model(path, device: str | torch.device = "cpu", dtype: torch.dtype | str | None = None,
               runtime: str = "torchscript") -> DeployedModel:
    """Load a deployed model (a path, or a shipped model's name: "default", "organic", "phonon") onto ``device``
    (any device it was saved from), optionally recast, run by ``runtime`` (one of :data:`RUNTIMES`).

    Loading the same unchanged file again returns the same loaded object.
    """
    if runtime not in RUNTIMES:
        raise CalculatorParameterError(f"runtime must be one of {', '.join(map(repr, RUNTIMES))}, got {runtime!r}")
    path = resolve_model_path(path) if isinstance(path, str) else Path(path)
    if path.suffix == ".pt2":
        raise ModelFileError(f"{path}: a bare torch.export program carries no metadata; load the deployed file "
                             "that holds one (`e3density deploy --export`) with runtime='export'")
    device = _device(device)
    if path.is_file():  # an unchanged file (same path, time and size) loaded before: no second read
        stat = path.stat()
        key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, str(device), str(dtype), runtime)
        with _LOCK:
            if key in _CACHE:
                _CACHE.move_to_end(key)
                return _CACHE[key]
    metadata = fmt.read_metadata(path)
    target = _dtype(dtype, metadata[fmt.DTYPE])
    module = BUILDERS[runtime](path, metadata, device, target, EDGE_CHUNK)
    loaded = get_kind(metadata[fmt.KIND]).load("runtime").from_file(module, metadata, target, device, path, runtime)
    with _LOCK:
        _CACHE[key] = loaded
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return loaded


def clear_model_cache() -> None:
    """Forget every loaded model (they are freed once no calculator holds them)."""
    with _LOCK:
        _CACHE.clear()
