"""Small untrained float64 phonon networks with a random head, deployed for the runtime's tests."""
from __future__ import annotations

from pathlib import Path

import torch

from ase_e3density.models import deploy
from ase_e3density.nn import PhononDOSModel, PhononModelConfig


def random_phonon_model(path: Path, species: list[str], n_bins: int, max_frequency: float, seed: int):
    """The network (eval mode) and its deployed file at ``path``: hidden {0: 8, 1: 4, 2: 2}, 3 layers; the head's
    weights drawn with std 2, so that different sites and inputs give visibly different DOS (THz grid up to
    ``max_frequency``)."""
    torch.manual_seed(seed)
    model = PhononDOSModel(PhononModelConfig(species=species, hidden={0: 8, 1: 4, 2: 2}, n_layers=3, radial_hidden=8,
                                             n_bins=n_bins, max_frequency=max_frequency), dtype=torch.float64)
    with torch.no_grad():
        model.head.weight.normal_(0, 2.0)
    deploy(model, path, provenance={"test": path.parent.name})
    return model.eval(), path
