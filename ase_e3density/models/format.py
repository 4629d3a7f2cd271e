"""The deployed-file format (version 3): one zip archive, readable with and without TorchScript.

The container is a TorchScript archive (``torch.jit.save``), so ``torch.jit.load`` reads it as before.
Beside the scripted network, the archive's ``extra/`` folder holds:

- ``metadata.json``: the keys named below, among them ``config`` (the network's architecture, enough to
  rebuild it from this package's code with the kind's ``network`` and ``config`` roles);
- ``weights.pt``: every parameter and buffer as plain tensors, written by ``torch.save(state_dict)`` and
  read by ``torch.load(..., weights_only=True)`` (no code runs on reading it);
- optionally ``program.pt2``: the network exported by ``torch.export`` (``torch.export.save`` bytes), its
  dense path with all edges in one chunk, without autograd (see :mod:`.export`).

``weights_sha256`` hashes every parameter and buffer (names, dtypes, bytes); the TorchScript module's
weights and the plain ``weights.pt`` tensors must both match it. ``program_sha256`` (present with a
program) hashes the ``program.pt2`` bytes. ``checksum`` hashes the canonical JSON of all other metadata,
both hashes included. Editing any metadata field, any weight or the program therefore fails the check on
load with a clear error. The extra files are read with :mod:`zipfile`, so the eager and export runtimes
never call TorchScript.

The weights are a ``torch.save`` file rather than safetensors: it needs no further dependency, and
``weights_only=True`` admits only tensors and plain containers. The program lives inside the archive
(not in a ``.pt2`` beside it) so that one file, under one checksum, carries every runtime.

Version 2 files (TorchScript archive and ``metadata.json`` only, no plain weights) still load: with the
TorchScript runtime as before, and with the eager runtime from the scripted module's weights.
"""
from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import torch

from ..errors import ModelFileError, ModelNotFoundError, ModelVersionError
from ..fileio import atomic_path
from ..kinds import kind_names
from .jit import quiet_jit

__all__ = ["FORMAT_VERSION", "OLDEST_VERSION", "METADATA_FILE", "WEIGHTS_FILE", "PROGRAM_FILE", "KIND", "SPECIES",
           "CUTOFF", "DTYPE", "CONFIG", "PROVENANCE", "VERSIONS", "WEIGHTS_SHA256", "PROGRAM_SHA256", "CHECKSUM",
           "weights_sha256", "state_sha256", "metadata_checksum", "write_archive", "read_metadata", "read_member",
           "read_weights", "read_program", "runtimes_of", "same_network_checksums"]

FORMAT_VERSION = 3
OLDEST_VERSION = 2
"""The oldest format version this package reads."""
METADATA_FILE = "metadata.json"
WEIGHTS_FILE = "weights.pt"
PROGRAM_FILE = "program.pt2"

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
PROGRAM_SHA256 = "program_sha256"
"""Present only in files that carry a ``torch.export`` program."""


def same_network_checksums(metadata: dict) -> set[str]:
    """The file's checksum and those of the files it was rewritten from with the network and weights unchanged
    (``provenance.domain_updates[*].previous_checksum``): results recorded under any of them are this
    network's."""
    updates = metadata.get(PROVENANCE, {}).get("domain_updates", [])
    return {metadata[CHECKSUM], *(u["previous_checksum"] for u in updates if "previous_checksum" in u)}


def state_sha256(state: dict[str, torch.Tensor]) -> str:
    """SHA-256 over tensor names, dtypes and bytes, in name order."""
    h = hashlib.sha256()
    for name, tensor in sorted(state.items()):
        t = tensor.detach().cpu().contiguous()
        h.update(name.encode())
        h.update(str(t.dtype).encode())
        h.update(t.view(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def weights_sha256(module: torch.nn.Module) -> str:
    """SHA-256 over a module's parameter and buffer names, dtypes and bytes, in name order."""
    return state_sha256(module.state_dict())


def metadata_checksum(metadata: dict) -> str:
    """SHA-256 of the canonical JSON of every metadata field except the checksum itself."""
    body = {k: v for k, v in metadata.items() if k != CHECKSUM}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def write_archive(scripted: torch.jit.ScriptModule, metadata: dict, path, program: bytes | None = None) -> Path:
    """Write ``scripted`` with ``metadata`` (format version, hashes and checksum added), its weights as
    plain tensors, and optionally an exported ``program`` (``.pt2`` bytes), atomically."""
    state = {k: v.detach().cpu().clone() for k, v in scripted.state_dict().items()}
    weights = io.BytesIO()
    torch.save(state, weights)
    metadata = {k: v for k, v in metadata.items() if k not in (PROGRAM_SHA256, CHECKSUM)}
    metadata.update({FORMAT: FORMAT_VERSION, WEIGHTS_SHA256: state_sha256(state)})
    extra = {WEIGHTS_FILE: weights.getvalue()}
    if program is not None:
        metadata[PROGRAM_SHA256] = hashlib.sha256(program).hexdigest()
        extra[PROGRAM_FILE] = program
    metadata[CHECKSUM] = metadata_checksum(metadata)
    extra[METADATA_FILE] = json.dumps(metadata).encode()
    with atomic_path(path) as tmp, quiet_jit():
        torch.jit.save(scripted, str(tmp), _extra_files=extra)
    return Path(path)


def read_member(path, name: str) -> bytes | None:
    """The bytes of the archive's extra file ``name`` (None if the archive has none)."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.endswith(f"extra/{name}")]
            return archive.read(names[0]) if names else None
    except (zipfile.BadZipFile, OSError, KeyError) as exc:
        raise ModelFileError(f"{path}: corrupt archive ({exc})") from exc


def read_metadata(path, verify: bool = True) -> dict:
    """The metadata of a deployed file, without loading the network; checked unless ``verify=False``."""
    path = Path(path)
    if not path.is_file():
        raise ModelNotFoundError(f"no such model file: {path}")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path} is not an ase_e3density model (not a TorchScript archive)")
    raw = read_member(path, METADATA_FILE)
    if raw is None:
        raise ModelFileError(f"{path} is a TorchScript archive without ase_e3density metadata")
    try:
        metadata = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{path}: corrupt metadata ({exc})") from exc
    if not isinstance(metadata, dict) or not isinstance(metadata.get(FORMAT), int):
        raise ModelFileError(f"{path}: metadata has no format version")
    version = metadata[FORMAT]
    if version > FORMAT_VERSION:
        raise ModelVersionError(f"{path} has model format version {version}; this ase_e3density reads up to "
                                f"{FORMAT_VERSION}: upgrade ase_e3density")
    if version < OLDEST_VERSION:
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


def read_weights(path, metadata: dict) -> dict[str, torch.Tensor] | None:
    """The plain weights of a (verified) format-3 file, checked against ``weights_sha256``; None for files
    without them (format 2). Nothing but tensors and plain containers is unpickled."""
    raw = read_member(path, WEIGHTS_FILE) if metadata[FORMAT] >= 3 else None
    if raw is None:
        if metadata[FORMAT] >= 3:
            raise ModelFileError(f"{path}: format {metadata[FORMAT]} file without its {WEIGHTS_FILE} (corrupt file)")
        return None
    try:
        state = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError (objects other than tensors), RuntimeError (corrupt bytes)
        raise ModelFileError(f"{path}: unreadable {WEIGHTS_FILE} ({str(exc).splitlines()[0]})") from exc
    if not isinstance(state, dict) or state_sha256(state) != metadata[WEIGHTS_SHA256]:
        raise ModelFileError(f"{path}: weights do not match the checksum in its metadata (corrupt file)")
    return state


def read_program(path, metadata: dict) -> bytes:
    """The ``torch.export`` program of a (verified) file, checked against ``program_sha256``."""
    if PROGRAM_SHA256 not in metadata:
        raise ModelFileError(f"{path} carries no torch.export program; deploy it again with "
                             "`e3density deploy --export`, or use runtime='torchscript' or 'eager'")
    raw = read_member(path, PROGRAM_FILE)
    if raw is None or hashlib.sha256(raw).hexdigest() != metadata[PROGRAM_SHA256]:
        raise ModelFileError(f"{path}: its torch.export program does not match the checksum in its metadata "
                             "(corrupt file)")
    return raw


def runtimes_of(metadata: dict) -> list[str]:
    """The runtimes that can run a file with this metadata (``export`` only with a program)."""
    return ["torchscript", "eager"] + (["export"] if PROGRAM_SHA256 in metadata else [])
