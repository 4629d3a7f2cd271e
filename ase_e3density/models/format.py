"""The deployed-file format: a TorchScript archive plus ``metadata.json``, both under one checksum.

``metadata.json`` holds the keys named below. ``weights_sha256`` hashes every parameter and
buffer (names, dtypes, bytes); ``checksum`` hashes the canonical JSON of all other metadata,
``weights_sha256`` included. Editing any metadata field or any weight therefore fails the
check on load with a clear error.
"""
from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import torch

from ..errors import ModelFileError, ModelNotFoundError, ModelVersionError
from ..fileio import atomic_path
from ..kinds import kind_names
from .jit import quiet_jit

__all__ = ["FORMAT_VERSION", "METADATA_FILE", "KIND", "SPECIES", "CUTOFF", "DTYPE", "CONFIG", "PROVENANCE",
           "VERSIONS", "WEIGHTS_SHA256", "CHECKSUM", "weights_sha256", "metadata_checksum",
           "write_archive", "read_metadata"]

FORMAT_VERSION = 2
METADATA_FILE = "metadata.json"

# metadata keys every deployed file has
FORMAT = "format_version"
KIND = "model_kind"
SPECIES = "species"
CUTOFF = "cutoff"
DTYPE = "dtype"
CONFIG = "config"
PROVENANCE = "provenance"
VERSIONS = "versions"
WEIGHTS_SHA256 = "weights_sha256"
CHECKSUM = "checksum"
REQUIRED = (FORMAT, KIND, SPECIES, CUTOFF, DTYPE, CONFIG, PROVENANCE, VERSIONS, WEIGHTS_SHA256, CHECKSUM)


def weights_sha256(module: torch.nn.Module) -> str:
    """SHA-256 over parameter and buffer names, dtypes and bytes, in name order."""
    h = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        h.update(name.encode())
        h.update(str(t.dtype).encode())
        h.update(t.view(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def metadata_checksum(metadata: dict) -> str:
    """SHA-256 of the canonical JSON of every metadata field except the checksum itself."""
    body = {k: v for k, v in metadata.items() if k != CHECKSUM}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def write_archive(scripted: torch.jit.ScriptModule, metadata: dict, path) -> Path:
    """Write ``scripted`` with ``metadata`` (weights hash and checksum added) atomically."""
    metadata = dict(metadata, **{FORMAT: FORMAT_VERSION, WEIGHTS_SHA256: weights_sha256(scripted)})
    metadata[CHECKSUM] = metadata_checksum(metadata)
    with atomic_path(path) as tmp, quiet_jit():
        torch.jit.save(scripted, str(tmp), _extra_files={METADATA_FILE: json.dumps(metadata)})
    return Path(path)


def read_metadata(path, verify: bool = True) -> dict:
    """The metadata of a deployed file, without loading the network; checked unless ``verify=False``."""
    path = Path(path)
    if not path.is_file():
        raise ModelNotFoundError(f"no such model file: {path}")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path} is not an ase_e3density model (not a TorchScript archive)")
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.endswith(f"extra/{METADATA_FILE}")]
            if not names:
                raise ModelFileError(f"{path} is a TorchScript archive without ase_e3density metadata")
            metadata = json.loads(archive.read(names[0]))
    except (json.JSONDecodeError, zipfile.BadZipFile, KeyError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{path}: corrupt metadata ({exc})") from exc
    if not isinstance(metadata, dict) or not isinstance(metadata.get(FORMAT), int):
        raise ModelFileError(f"{path}: metadata has no format version")
    version = metadata[FORMAT]
    if version > FORMAT_VERSION:
        raise ModelVersionError(f"{path} has model format version {version}; this ase_e3density reads up to "
                                f"{FORMAT_VERSION}: upgrade ase_e3density")
    if version < FORMAT_VERSION:
        raise ModelVersionError(f"{path} has model format version {version}, which carries no metadata checksum; "
                                "deploy its checkpoint again with `e3density deploy`")
    if not verify:
        return metadata
    missing = [k for k in REQUIRED if k not in metadata]
    if missing:
        raise ModelFileError(f"{path}: metadata lacks {', '.join(missing)}")
    if metadata_checksum(metadata) != metadata[CHECKSUM]:
        raise ModelFileError(f"{path}: metadata does not match its checksum (the file was edited or is corrupt)")
    if metadata[KIND] not in kind_names():
        raise ModelFileError(f"{path} holds a {metadata[KIND]!r} model; this ase_e3density knows "
                             f"{', '.join(kind_names())}")
    return metadata
