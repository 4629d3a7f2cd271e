"""Turn a trained network into one deployed file that loads without e3nn or this package's nn code."""
from __future__ import annotations

import platform
from pathlib import Path

import torch

from .._version import __version__
from . import format as fmt
from .export import export_network
from .jit import quiet_jit
from .modules import build_network

__all__ = ["deploy"]


def deploy(model: torch.nn.Module, path, provenance: dict | None = None, domain: dict | None = None,
           export: bool = False) -> Path:
    """Script ``model`` (any network of :mod:`ase_e3density.nn`) and write it with its metadata and plain
    weights (format 3, :mod:`.format`).

    Generic fields (kind, species, cutoff, dtype, versions, architecture, provenance) are added
    here; the network adds what its kind needs (``model.deploy_metadata()``). ``domain``: the training
    domain (:func:`ase_e3density.graph.domain_of`), checked on every prediction. ``export``: also store
    the network's ``torch.export`` program (``runtime="export"``; takes seconds to a minute).
    """
    import e3nn
    from e3nn.util.jit import script

    cfg = model.config
    dtype = next(model.parameters()).dtype
    model = model.eval().cpu()
    metadata = {
        fmt.KIND: model.kind,
        fmt.SPECIES: list(cfg.species),
        fmt.CUTOFF: float(cfg.cutoff),
        fmt.DTYPE: str(dtype).replace("torch.", ""),
        fmt.CONFIG: cfg.to_dict(),
        fmt.PROVENANCE: provenance or {},
        fmt.VERSIONS: {"ase_e3density": __version__, "torch": torch.__version__, "e3nn": e3nn.__version__,
                       "python": platform.python_version()},
        **model.deploy_metadata(),
    }
    if domain is not None:
        metadata["domain"] = domain
    # exported from a network rebuilt as the eager runtime rebuilds it (scripting changes ``model``'s submodules)
    program = export_network(build_network(metadata, model.state_dict()), len(cfg.species)) if export else None
    with quiet_jit():
        scripted = script(model)
    return fmt.write_archive(scripted, metadata, path, program=program)
