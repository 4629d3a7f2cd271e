"""A training checkpoint turned into a deployed model file (``e3density deploy``)."""
from __future__ import annotations

from pathlib import Path

from ..models import deploy
from .checkpoint import load_checkpoint, model_from_checkpoint

__all__ = ["deploy_checkpoint"]


def deploy_checkpoint(checkpoint, output, export: bool = False) -> Path:
    """Deploy the network of ``checkpoint`` (``checkpoint.pt`` or ``best.pt`` of a run, either kind) to
    ``output`` (format 3; ``export``: with its torch.export program), with the checkpoint's provenance (if
    any) and its path; returns the written path."""
    state = load_checkpoint(checkpoint)
    provenance = dict(state.get("provenance", {}), checkpoint=str(checkpoint))
    return deploy(model_from_checkpoint(state), output, provenance=provenance, export=export)
