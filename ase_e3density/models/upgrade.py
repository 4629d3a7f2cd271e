"""Rewrite a deployed file: in the current format, or with a new training domain; same scripted network,
same weights (bit for bit)."""
from __future__ import annotations

from pathlib import Path

import torch

from .._version import __version__
from ..errors import ModelFileError
from . import format as fmt
from .export import export_network
from .modules import build_network
from .jit import quiet_jit

__all__ = ["upgrade_model_file", "rewrite_domain"]


_COMPUTED = (fmt.FORMAT, fmt.WEIGHTS_SHA256, fmt.PROGRAM_SHA256, fmt.CHECKSUM)  # written anew by write_archive


def _read(path: Path) -> tuple[dict, torch.jit.ScriptModule]:
    """The verified metadata and the scripted network of ``path``."""
    metadata = fmt.read_metadata(path)
    with quiet_jit():
        scripted = torch.jit.load(str(path), map_location="cpu")
    return metadata, scripted


def _rewrite(scripted, metadata: dict, out: Path, notes_key: str, note: dict, program: bytes | None,
             changes: dict | None = None) -> Path:
    """Write ``scripted`` with ``metadata`` (plus ``changes``) to ``out`` (atomic: replaced whole or not at all),
    ``note`` appended to ``provenance[notes_key]``; refuses unless the written weights are ``metadata``'s."""
    body = {k: v for k, v in metadata.items() if k not in _COMPUTED}
    body.update(changes or {})
    body[fmt.PROVENANCE] = {**body[fmt.PROVENANCE], notes_key: [*body[fmt.PROVENANCE].get(notes_key, []), note]}
    fmt.write_archive(scripted, body, out, program=program)
    written = fmt.read_metadata(out)
    if written[fmt.WEIGHTS_SHA256] != metadata[fmt.WEIGHTS_SHA256] or fmt.read_weights(out, written) is None:
        raise ModelFileError(f"{out}: weights changed on writing")  # cannot happen: the same module written
    return out


def upgrade_model_file(path, output=None, export: bool = False, command: str | None = None) -> Path:
    """Write the verified file ``path`` (format 2 or 3) to ``output`` (default: in place) in format 3.

    The scripted network is kept as it is (the code it was scripted with included); its weights are
    added as plain tensors, and with ``export`` the network's ``torch.export`` program too (rebuilt from
    this package's code and those weights). ``provenance.format_upgrades`` records the step (``command``).
    Refuses to write unless the plain weights hash to the file's ``weights_sha256``.
    """
    path = Path(path)
    metadata, scripted = _read(path)
    if fmt.weights_sha256(scripted) != metadata[fmt.WEIGHTS_SHA256]:
        raise ModelFileError(f"{path}: weights do not match the checksum in its metadata (corrupt file)")
    program = None
    if export:
        network = build_network(metadata, scripted.state_dict())
        program = export_network(network, len(metadata[fmt.SPECIES]))
    note = {"from_format": metadata[fmt.FORMAT], "to_format": fmt.FORMAT_VERSION, "export": export,
            "by": f"ase_e3density {__version__}, torch {torch.__version__}", **({"command": command} if command else {})}
    return _rewrite(scripted, metadata, Path(output) if output is not None else path, "format_upgrades", note, program)


def rewrite_domain(path, output, domain: dict, note: dict) -> Path:
    """Write a copy of the verified file ``path`` to ``output`` whose metadata ``domain`` is ``domain``: the
    scripted network, the weights and any exported program unchanged. ``provenance.domain_updates`` records
    ``note`` (which fields changed, the command) with the file's previous checksum, under which results of the
    same network may have been recorded (:func:`~.format.same_network_checksums`). Refuses to write unless the
    weights are unchanged."""
    path = Path(path)
    metadata, scripted = _read(path)
    program = fmt.read_program(path, metadata) if fmt.PROGRAM_SHA256 in metadata else None
    return _rewrite(scripted, metadata, Path(output), "domain_updates",
                    {**note, "previous_checksum": metadata[fmt.CHECKSUM]}, program, {"domain": domain})
