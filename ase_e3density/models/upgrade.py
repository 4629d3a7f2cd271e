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


def upgrade_model_file(path, output=None, export: bool = False, command: str | None = None) -> Path:
    """Write the verified file ``path`` (format 2 or 3) to ``output`` (default: in place) in format 3.

    The scripted network is kept as it is (the code it was scripted with included); its weights are
    added as plain tensors, and with ``export`` the network's ``torch.export`` program too (rebuilt from
    this package's code and those weights). ``provenance.format_upgrades`` records the step (``command``).
    Refuses to write unless the plain weights hash to the file's ``weights_sha256``.
    """
    path = Path(path)
    metadata = fmt.read_metadata(path)
    with quiet_jit():
        scripted = torch.jit.load(str(path), map_location="cpu")
    if fmt.weights_sha256(scripted) != metadata[fmt.WEIGHTS_SHA256]:
        raise ModelFileError(f"{path}: weights do not match the checksum in its metadata (corrupt file)")
    program = None
    if export:
        network = build_network(metadata, scripted.state_dict())
        program = export_network(network, len(metadata[fmt.SPECIES]))
    body = {k: v for k, v in metadata.items() if k not in (fmt.FORMAT, fmt.WEIGHTS_SHA256, fmt.PROGRAM_SHA256,
                                                            fmt.CHECKSUM)}
    notes = list(body[fmt.PROVENANCE].get("format_upgrades", []))
    notes.append({"from_format": metadata[fmt.FORMAT], "to_format": fmt.FORMAT_VERSION, "export": export,
                  "by": f"ase_e3density {__version__}, torch {torch.__version__}",
                  **({"command": command} if command else {})})
    body[fmt.PROVENANCE] = {**body[fmt.PROVENANCE], "format_upgrades": notes}
    out = Path(output) if output is not None else path
    fmt.write_archive(scripted, body, out, program=program)  # atomic: replaced whole or not at all
    written = fmt.read_metadata(out)
    if written[fmt.WEIGHTS_SHA256] != metadata[fmt.WEIGHTS_SHA256] or fmt.read_weights(out, written) is None:
        raise ModelFileError(f"{out}: weights changed on upgrading")  # cannot happen: same module written
    return out


def rewrite_domain(path, output, domain: dict, note: dict) -> Path:
    """Write a copy of the verified file ``path`` to ``output`` whose metadata ``domain`` is ``domain``: the
    scripted network, the weights and any exported program unchanged. ``provenance.domain_updates`` records
    ``note`` (which fields changed, the command) with the file's previous checksum, under which results of the
    same network may have been recorded (:func:`~.format.same_network_checksums`). Refuses to write unless the
    weights are unchanged."""
    path = Path(path)
    metadata = fmt.read_metadata(path)
    with quiet_jit():
        scripted = torch.jit.load(str(path), map_location="cpu")
    program = fmt.read_program(path, metadata) if fmt.PROGRAM_SHA256 in metadata else None
    body = {k: v for k, v in metadata.items() if k not in (fmt.FORMAT, fmt.WEIGHTS_SHA256, fmt.PROGRAM_SHA256,
                                                            fmt.CHECKSUM)}
    body["domain"] = domain
    notes = [*body[fmt.PROVENANCE].get("domain_updates", []), {**note, "previous_checksum": metadata[fmt.CHECKSUM]}]
    body[fmt.PROVENANCE] = {**body[fmt.PROVENANCE], "domain_updates": notes}
    out = fmt.write_archive(scripted, body, Path(output), program=program)
    if fmt.read_metadata(out)[fmt.WEIGHTS_SHA256] != metadata[fmt.WEIGHTS_SHA256]:
        raise ModelFileError(f"{out}: weights changed on writing")  # cannot happen: the same module written
    return out
