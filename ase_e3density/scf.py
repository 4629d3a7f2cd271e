"""PySCF initial guesses from a deployed density model (needs the ``reference`` extra).

``initial_guess(atoms)`` predicts the density with the model, then takes one Kohn-Sham step from it, and for
hybrids a second with exact exchange (:func:`ase_e3density.electron.scf_guess.guess_from_density`); pass the
result to ``mf.kernel(dm0=...)``.
"""
from __future__ import annotations

import numpy as np
from ase import Atoms

from .electron.scf_guess import build_mole, guess_from_density
from .errors import E3DensityError
from .graph.checks import check_structure
from .kinds import get_kind
from .models import DeployedModel, load_model, resolve_model_path

__all__ = ["initial_guess"]


def _model(model) -> DeployedModel:
    deployed = model if isinstance(model, DeployedModel) else load_model(resolve_model_path(model))
    if not hasattr(deployed, "predict_density"):
        raise E3DensityError(f"initial guesses need a model of electron densities; {deployed.path.name} predicts "
                             f"{get_kind(deployed.kind).title}")
    return deployed


def initial_guess(atoms: Atoms, model=None, mol=None, xc: str = "PBE0", grids=None,
                  unrestricted: bool | None = None, **options) -> np.ndarray:
    """AO density matrix for PySCF from the model's density of ``atoms``.

    ``model``: a shipped model's name, a deployed file or a loaded model (default: the shipped
    default). ``mol``: the PySCF ``Mole`` to start (default: ``atoms`` in cc-pVDZ, charge and 2S from
    ``atoms.info``); its charge is the one the model predicts with. ``xc`` and ``grids``: the
    functional and grid of the SCF (its ``mf.xc``, ``mf.grids``). Returns (nao, nao), or
    (2, nao, nao) for unrestricted (default when ``mol.spin != 0``). ``options``: those of
    :func:`~ase_e3density.electron.scf_guess.guess_from_density` (``grid_level``, ``exact_exchange``).
    """
    check_structure(atoms, overlaps=False)  # before PySCF sees the atoms; overlaps: in predict_density
    if atoms.pbc.any():
        raise E3DensityError("PySCF guesses are molecular: pass atoms with pbc=False")
    deployed = _model(model)
    mol = build_mole(atoms) if mol is None else mol
    density = deployed.predict_density(atoms, float(mol.charge))  # refuses impossible structures first
    return guess_from_density(density, mol, xc=xc, grids=grids, unrestricted=unrestricted, **options)
