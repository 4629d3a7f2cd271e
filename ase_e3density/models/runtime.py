"""Loaded deployed models: Atoms in, network inputs, outputs back as physical objects.

:func:`load_model` is the only loader. It checks the metadata checksum and the weights, keeps
one loaded copy per (file, checksum, device, dtype) so that many calculators share it, and
returns the runtime class of the file's model kind. A ``torch.export`` (``.pt2``) reader plugs
in here, behind the same classes.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import torch
from ase import Atoms

from ..electron.basis import BasisSet
from ..electron.density import AtomicDensity, fix_electron_count
from ..errors import CalculatorParameterError, ModelFileError
from ..graph.checks import check_electron_count, check_overlaps, check_structure, overlap_search_radius
from ..graph.domain import domain_report, edge_lengths
from ..graph.inputs import batch_inputs, species_indices, structure_graph
from . import format as fmt
from .jit import plain_execution, quiet_jit

__all__ = ["DeployedModel", "DeployedDensityModel", "load_model", "clear_model_cache"]

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

    module: torch.jit.ScriptModule
    metadata: dict
    dtype: torch.dtype
    device: torch.device
    path: Path

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


@dataclass(frozen=True)
class DeployedDensityModel(DeployedModel):
    """An electron-density model: coefficients in its auxiliary basis, as :class:`AtomicDensity`."""

    basis: BasisSet = None  # type: ignore[assignment]

    @cached_property
    def _charge_table(self) -> np.ndarray:
        """Charge integrals of each species' functions, padded to the widest: (n_species, width)."""
        return self.basis.padded_table(self.species, "charge_integrals")

    @cached_property
    def _function_mask(self) -> np.ndarray:
        """Which columns of a padded output row are functions of each species: (n_species, width)."""
        sizes = np.array([self.basis[s].n_functions for s in self.species])
        return np.arange(self._charge_table.shape[1]) < sizes[:, None]

    def checked_graph(self, atoms: Atoms, charge: float):
        """The network's graph of ``atoms`` (positions, species, edges, shifts), after refusing impossible
        input: bad structures, negative electron counts, elements the model lacks, overlapping atoms."""
        reach = len(atoms) > 0 and self.cutoff >= overlap_search_radius(atoms.numbers)
        check_structure(atoms, overlaps=not reach)
        check_electron_count(atoms, charge)
        graph = structure_graph(atoms, self.species_index, self.cutoff)
        if reach:  # the network's own neighbour list sees every overlap: no second search
            _, _, edge_index, shifts = graph
            check_overlaps(atoms, edge_index, edge_lengths(atoms.positions, edge_index, shifts))
        return graph

    def forward(self, graphs, charges) -> list[np.ndarray]:
        """Padded per-atom output rows (float64) of each structure, from one pass over all of them."""
        inputs = batch_inputs(list(graphs), list(charges), self.dtype, self.device)
        with torch.no_grad(), plain_execution():
            padded = self.module(*inputs).cpu().double().numpy()
        if len(graphs) == 1:
            return [padded]
        return np.split(padded, np.cumsum([len(g[1]) for g in graphs])[:-1])

    def coefficients(self, atoms: Atoms, padded: np.ndarray, charge: float) -> np.ndarray:
        """Flat coefficients of ``atoms`` from its padded output rows.

        The network conserves charge in its own dtype; the projection is redone in float64 so that
        float32 models also hold the electron count to 1e-12.
        """
        species = species_indices(atoms, self.species_index)
        mask = self._function_mask[species, : padded.shape[1]]  # unpadding: each atom's own functions, in order
        q = self._charge_table[species, : padded.shape[1]][mask]
        return fix_electron_count(padded[mask], q, float(atoms.numbers.sum()) - charge)

    def _run(self, atoms: Atoms, charge: float) -> tuple[np.ndarray, list[str]]:
        graph = self.checked_graph(atoms, charge)
        padded, = self.forward([graph], [charge])
        return self.coefficients(atoms, padded, charge), self.domain_report(atoms, graph, charge)

    def domain_report(self, atoms: Atoms, graph, charge: float) -> list[str]:
        """Why ``atoms`` lies outside the training domain recorded in the file (empty: inside)."""
        domain = self.metadata.get("domain")
        if not domain:
            return []
        _, _, edge_index, shifts = graph
        return domain_report(domain, atoms.numbers, edge_index, edge_lengths(atoms.positions, edge_index, shifts),
                             charge)

    def predict(self, atoms: Atoms, charge: float = 0.0) -> np.ndarray:
        """Flat coefficient vector (atom by atom, e3nn order) for ``atoms`` with total ``charge``."""
        return self._run(atoms, charge)[0]

    def predict_density(self, atoms: Atoms, charge: float = 0.0) -> AtomicDensity:
        """The predicted :class:`AtomicDensity`; ``info["domain_warnings"]`` says why the structure lies
        outside the training domain, if it does. Impossible structures are refused first."""
        coefficients, reasons = self._run(atoms, charge)
        return AtomicDensity(atoms, self.basis, coefficients, validate=False, info={"domain_warnings": reasons})


def _runtime(module, metadata: dict, dtype, device, path: Path) -> DeployedModel:
    if metadata[fmt.KIND] == "electron_density":
        return DeployedDensityModel(module, metadata, dtype, device, path, BasisSet.from_dict(metadata["basis"]))
    if metadata[fmt.KIND] == "phonon_dos":
        from .phonon_runtime import DeployedPhononModel

        return DeployedPhononModel(module, metadata, dtype, device, path)
    raise ModelFileError(f"{path}: no runtime for model kind {metadata[fmt.KIND]!r}")  # pragma: no cover


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


def load_model(path, device: str | torch.device = "cpu", dtype: torch.dtype | str | None = None) -> DeployedModel:
    """Load a deployed model onto ``device`` (any device it was saved from), optionally recast.

    Loading the same unchanged file again returns the same loaded object.
    """
    path = Path(path)
    if path.suffix == ".pt2":
        raise ModelFileError(f"{path}: torch.export (.pt2) models are not supported by this version yet")
    device = _device(device)
    if path.is_file():  # an unchanged file (same path, time and size) loaded before: no second read
        stat = path.stat()
        key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, str(device), str(dtype))
        with _LOCK:
            if key in _CACHE:
                _CACHE.move_to_end(key)
                return _CACHE[key]
    metadata = fmt.read_metadata(path)
    target = _dtype(dtype, metadata[fmt.DTYPE])
    try:
        with quiet_jit():
            module = torch.jit.load(str(path), map_location=device)
    except Exception as exc:  # torch raises RuntimeError with long C++ traces
        raise ModelFileError(f"{path}: the TorchScript archive could not be loaded "
                             f"({str(exc).splitlines()[0]})") from exc
    if fmt.weights_sha256(module) != metadata[fmt.WEIGHTS_SHA256]:
        raise ModelFileError(f"{path}: weights do not match the checksum in its metadata (corrupt file)")
    module = module.to(dtype=target).eval()
    if hasattr(module, "prepare_inference"):  # files scripted before the dense path lack it
        with plain_execution():
            module.prepare_inference(EDGE_CHUNK)
    loaded = _runtime(module, metadata, target, device, path)
    with _LOCK:
        _CACHE[key] = loaded
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return loaded


def clear_model_cache() -> None:
    """Forget every loaded model (they are freed once no calculator holds them)."""
    with _LOCK:
        _CACHE.clear()
