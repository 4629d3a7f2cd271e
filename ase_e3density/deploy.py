"""Deployed model files: one TorchScript file with its metadata, loadable without e3nn.

Layout: a TorchScript archive whose extra file ``metadata.json`` holds the format version,
model kind, species, cutoff, the full basis definition, the free-atom reference, dtype,
units, package/torch/e3nn versions, architecture, training provenance, and a SHA-256 of
the weights. :func:`load_model` is the only loader: it is where a ``torch.export``
(``.pt2``) reader will plug in, behind the same :class:`DeployedModel`.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import platform
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .basis import BasisSet
from .errors import ModelFileError, ModelVersionError
from .fileio import atomic_path

__all__ = ["FORMAT_VERSION", "MODEL_KIND", "deploy", "load_model", "DeployedModel", "read_metadata"]

FORMAT_VERSION = 1
MODEL_KIND = "electron_density"
METADATA_FILE = "metadata.json"
_JIT_DEPRECATION = r"`torch\.jit\.[\w.]+` is deprecated"


@contextlib.contextmanager
def _quiet_jit():
    """Silence only TorchScript's own deprecation notices, only around our jit calls."""
    with warnings.catch_warnings():
        for category in (DeprecationWarning, FutureWarning):
            warnings.filterwarnings("ignore", message=_JIT_DEPRECATION, category=category)
        yield


def weights_checksum(module: torch.nn.Module) -> str:
    """SHA-256 over parameter and buffer names, dtypes and bytes, in name order."""
    h = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        h.update(name.encode())
        h.update(str(t.dtype).encode())
        h.update(t.view(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def deploy(model, path, provenance: dict | None = None) -> Path:
    """Script ``model`` (a :class:`~ase_e3density.nn.DensityModel`) and write it with metadata."""
    import e3nn
    from e3nn.util.jit import script

    from . import __version__
    from .basis import load_basis

    cfg = model.config
    dtype = next(model.parameters()).dtype
    model = model.eval().cpu()
    with _quiet_jit():
        scripted = script(model)
    basis = load_basis(cfg.basis).subset(cfg.species)
    metadata = {
        "format_version": FORMAT_VERSION,
        "model_kind": MODEL_KIND,
        "species": list(cfg.species),
        "cutoff": float(cfg.cutoff),
        "basis": basis.to_dict(),
        "irreps": dict(zip(cfg.species, model.species_irreps)),
        "free_atom": {s: model.free_atom[k, : model.dims[k]].double().tolist() for k, s in enumerate(cfg.species)},
        "dtype": str(dtype).replace("torch.", ""),
        "units": {"positions": "angstrom", "charge": "e", "coefficients": "atomic units (functions normalised in bohr)",
                  "density": "e/angstrom^3", "dipole": "e*angstrom", "quadrupole": "e*angstrom^2"},
        "versions": {"ase_e3density": __version__, "torch": torch.__version__, "e3nn": e3nn.__version__,
                     "python": platform.python_version()},
        "config": cfg.to_dict(),
        "provenance": provenance or {},
        "checksum": weights_checksum(scripted),
    }
    with atomic_path(path) as tmp, _quiet_jit():
        torch.jit.save(scripted, str(tmp), _extra_files={METADATA_FILE: json.dumps(metadata)})
    return Path(path)


def read_metadata(path) -> dict:
    """The metadata of a deployed file, without loading the network."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"no such model file: {path}")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path} is not an ase_e3density model (not a TorchScript archive)")
    with zipfile.ZipFile(path) as archive:
        names = [n for n in archive.namelist() if n.endswith(f"extra/{METADATA_FILE}")]
        if not names:
            raise ModelFileError(f"{path} is a TorchScript archive without ase_e3density metadata")
        try:
            metadata = json.loads(archive.read(names[0]))
        except (json.JSONDecodeError, zipfile.BadZipFile, KeyError) as exc:
            raise ModelFileError(f"{path}: corrupt metadata ({exc})") from None
    version = metadata.get("format_version")
    if not isinstance(version, int):
        raise ModelFileError(f"{path}: metadata has no format version")
    if version > FORMAT_VERSION:
        raise ModelVersionError(f"{path} has model format version {version}; this ase_e3density reads up to "
                                f"{FORMAT_VERSION}: upgrade ase_e3density")
    if metadata.get("model_kind") != MODEL_KIND:
        raise ModelFileError(f"{path} holds a {metadata.get('model_kind')!r} model, not {MODEL_KIND!r}")
    return metadata


@dataclass
class DeployedModel:
    """A loaded model: the network, its metadata, and the basis it predicts in."""

    module: torch.jit.ScriptModule
    metadata: dict
    basis: BasisSet
    dtype: torch.dtype
    device: torch.device

    @property
    def species(self) -> list[str]:
        return list(self.metadata["species"])

    @property
    def cutoff(self) -> float:
        return float(self.metadata["cutoff"])

    def predict(self, atoms, charge: float = 0.0) -> np.ndarray:
        """Flat coefficient vector (atom by atom, e3nn order) for ``atoms`` with total ``charge``."""
        from .graph import model_inputs

        index = {s: k for k, s in enumerate(self.species)}
        inputs = model_inputs(atoms, index, self.cutoff, charge, self.dtype, self.device)
        with torch.no_grad():
            padded = self.module(*inputs).cpu().double().numpy()
        symbols = atoms.get_chemical_symbols()
        coefficients = self.basis.unpad(padded, symbols)
        # The network conserves charge in its own dtype; redo the same projection in float64
        # so float32 models also hold the electron count to 1e-12.
        q = np.concatenate([self.basis[s].charge_integrals for s in symbols])
        target = float(atoms.numbers.sum()) - charge
        return coefficients + (target - q @ coefficients) / (q @ q) * q


def load_model(path, device: str | torch.device = "cpu", dtype: torch.dtype | str | None = None) -> DeployedModel:
    """Load a deployed model onto ``device`` (any device it was saved from), optionally recast."""
    path = Path(path)
    if path.suffix == ".pt2":
        raise ModelFileError(f"{path}: torch.export (.pt2) models are not supported by this version yet")
    metadata = read_metadata(path)
    device = torch.device(device)
    try:
        with _quiet_jit():
            module = torch.jit.load(str(path), map_location=device)
    except Exception as exc:  # torch raises RuntimeError with long C++ traces
        raise ModelFileError(f"{path}: the TorchScript archive could not be loaded ({str(exc).splitlines()[0]})") from None
    if weights_checksum(module) != metadata.get("checksum"):
        raise ModelFileError(f"{path}: weights do not match the checksum in its metadata (corrupt file)")
    target = getattr(torch, dtype.replace("torch.", "")) if isinstance(dtype, str) else dtype
    target = target or getattr(torch, metadata["dtype"])
    module = module.to(dtype=target).eval()
    return DeployedModel(module, metadata, BasisSet.from_dict(metadata["basis"]), target, device)
