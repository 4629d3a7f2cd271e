"""The network module of a deployed file, built for each runtime.

- ``torchscript``: the scripted archive (``torch.jit.load``), as written by :func:`~.deploy.deploy`;
- ``eager``: the network rebuilt from this package's code (the kind's ``network`` and ``config`` roles,
  the metadata's ``config``) with the file's plain weights; no TorchScript call for format-3 files
  (format-2 files have no plain weights: they are taken from the scripted module);
- ``export``: the file's ``torch.export`` program (:mod:`.export`), run as exported.

Each builder checks the weights (or the program) against the file's checksum and returns a module
on ``device`` in ``dtype``, in eval mode and prepared for inference with ``edge_chunk`` edges per chunk.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from ..errors import CalculatorParameterError, ModelFileError
from ..kinds import get_kind
from . import format as fmt
from .export import load_program
from .jit import plain_execution, quiet_jit

__all__ = ["BUILDERS", "build_network", "plain_weights", "torchscript_module", "eager_module", "export_module"]


def _scripted(path: Path, device: torch.device) -> torch.jit.ScriptModule:
    try:
        with quiet_jit():
            return torch.jit.load(str(path), map_location=device)
    except Exception as exc:  # torch raises RuntimeError with long C++ traces
        raise ModelFileError(f"{path}: the TorchScript archive could not be loaded "
                             f"({str(exc).splitlines()[0]})") from exc


def build_network(metadata: dict, weights: dict[str, torch.Tensor]) -> torch.nn.Module:
    """The eager network of the file's kind and architecture, holding ``weights`` (in their own dtype)."""
    kind = get_kind(metadata[fmt.KIND])
    config = kind.load("config").from_dict(metadata[fmt.CONFIG])
    network = kind.load("network")(config, dtype=getattr(torch, metadata[fmt.DTYPE]))
    try:
        network.load_state_dict(weights)
    except RuntimeError as exc:
        raise ModelFileError(f"{metadata[fmt.KIND]} network of this architecture does not take the file's weights "
                             f"({str(exc).splitlines()[0]})") from exc
    return network


def plain_weights(path: Path, metadata: dict) -> dict[str, torch.Tensor]:
    """The file's weights as a state dict, checked against its checksum (format 2 files keep them only in the
    scripted module)."""
    weights = fmt.read_weights(path, metadata)
    if weights is None:
        weights = _scripted(path, torch.device("cpu")).state_dict()
        if fmt.state_sha256(weights) != metadata[fmt.WEIGHTS_SHA256]:
            raise ModelFileError(f"{path}: weights do not match the checksum in its metadata (corrupt file)")
    return weights


def torchscript_module(path: Path, metadata: dict, device: torch.device, dtype: torch.dtype,
                       edge_chunk: int) -> torch.nn.Module:
    """The scripted network, its weights (and the plain ones, where present) checked."""
    module = _scripted(path, device)
    if fmt.weights_sha256(module) != metadata[fmt.WEIGHTS_SHA256]:
        raise ModelFileError(f"{path}: weights do not match the checksum in its metadata (corrupt file)")
    fmt.read_weights(path, metadata)
    module = module.to(dtype=dtype).eval()
    if hasattr(module, "prepare_inference"):  # files scripted before the dense path lack it
        with plain_execution():
            module.prepare_inference(edge_chunk)
    return module


def eager_module(path: Path, metadata: dict, device: torch.device, dtype: torch.dtype,
                 edge_chunk: int) -> torch.nn.Module:
    """The network rebuilt from this package's code and the file's plain weights."""
    network = build_network(metadata, plain_weights(path, metadata)).to(device=device, dtype=dtype).eval()
    network.prepare_inference(edge_chunk)
    return network


def export_module(path: Path, metadata: dict, device: torch.device, dtype: torch.dtype,
                  edge_chunk: int) -> torch.nn.Module:
    """The file's exported program (all edges in one chunk: ``edge_chunk`` does not apply)."""
    program = fmt.read_program(path, metadata)
    if dtype != getattr(torch, metadata[fmt.DTYPE]):
        raise CalculatorParameterError(f"{path}: its torch.export program runs in {metadata[fmt.DTYPE]} only; "
                                       f"for {str(dtype).replace('torch.', '')} use runtime='torchscript' or 'eager'")
    return load_program(program, device)


BUILDERS: dict[str, Callable[..., torch.nn.Module]] = {
    "torchscript": torchscript_module, "eager": eager_module, "export": export_module}
"""Each runtime's module builder, ``builder(path, metadata, device, dtype, edge_chunk)``."""
