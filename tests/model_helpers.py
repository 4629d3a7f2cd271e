"""Small models and structures shared by the model, deployment and calculator tests."""
from __future__ import annotations

import numpy as np
import torch
from ase import Atoms
from scipy.linalg import block_diag

from ase_e3density.electron.basis import load_basis
from ase_e3density.electron.density import AtomicDensity
from ase_e3density.graph import model_inputs
from ase_e3density.electron.harmonics import evaluate_solid_harmonics
from ase_e3density.nn import DensityModel, ModelConfig

SPECIES = ["H", "C", "N", "O"]


def waters(*shifts) -> Atoms:
    """ASE's water molecule, one copy translated by each of ``shifts`` (Å)."""
    from ase.build import molecule

    out = Atoms()
    for shift in shifts:
        w = molecule("H2O")
        w.positions += shift
        out += w
    return out


def wigner_matrix(l: int, rotation: np.ndarray) -> np.ndarray:
    """Exact float64 matrix ``D`` with ``Y_l(R r) = D Y_l(r)`` for an orthogonal 3x3 ``R``.

    Reflections included (``Y_l(-r) = (-1)^l Y_l(r)``, the parity of density irreps). Same
    convention as e3nn's ``Irrep(l, (-1)**l).D_from_matrix``, which is float32-accurate only.
    """
    pts = np.random.default_rng(12345 + l).normal(size=(4 * (2 * l + 1), 3))
    before = evaluate_solid_harmonics(pts, l)[l]
    after = evaluate_solid_harmonics(pts @ np.asarray(rotation, dtype=float).T, l)[l]
    d, *_ = np.linalg.lstsq(before, after, rcond=None)
    return d.T


def small_model(dtype=torch.float64, seed: int = 0, **overrides) -> DensityModel:
    """A randomly initialised model with nonzero free-atom and scale tables."""
    torch.manual_seed(seed)
    cfg = ModelConfig(species=SPECIES, hidden={0: 12, 1: 6, 2: 4, 3: 2}, n_layers=2, radial_hidden=16, **overrides)
    basis = load_basis(cfg.basis)
    width = max(basis[s].n_functions for s in SPECIES)
    free = torch.zeros(len(SPECIES), width, dtype=torch.float64)
    for k, s in enumerate(SPECIES):  # spherical: s functions only
        q = torch.as_tensor(basis[s].charge_integrals)
        free[k, : len(q)] = q * 0.3
    return DensityModel(cfg, free_atom=free, output_scale=torch.full_like(free, 0.1), dtype=dtype)


def predict(model: DensityModel, atoms: Atoms, charge: float = 0.0) -> np.ndarray:
    """Flat coefficients of an eager model for one structure."""
    index = {s: k for k, s in enumerate(model.config.species)}
    dtype = next(model.parameters()).dtype
    with torch.no_grad():
        out = model(*model_inputs(atoms, index, model.config.cutoff, charge, dtype)).double().numpy()
    return load_basis(model.config.basis).unpad(out, atoms.get_chemical_symbols())


def assert_translation_and_permutation_equivariant(model: DensityModel, atoms: Atoms) -> None:
    """The coefficients of ``atoms`` are unchanged by a translation and follow a permutation of the atoms."""
    c = predict(model, atoms)
    shifted = atoms.copy()
    shifted.translate([3.0, -1.0, 7.0])
    np.testing.assert_allclose(predict(model, shifted), c, atol=1e-9)
    perm = np.random.default_rng(0).permutation(len(atoms))
    basis = load_basis(model.config.basis)
    offsets = AtomicDensity(atoms, basis, c).offsets
    per_atom = [c[o:o + basis[s].n_functions] for o, s in zip(offsets, atoms.get_chemical_symbols())]
    np.testing.assert_allclose(predict(model, atoms[perm]), np.concatenate([per_atom[i] for i in perm]), atol=1e-9)


def coefficient_rotation(atoms: Atoms, basis_name: str, rotation: np.ndarray) -> np.ndarray:
    """Block-diagonal exact Wigner matrix acting on all coefficients of ``atoms``."""
    basis = load_basis(basis_name)
    return block_diag(*[wigner_matrix(sh.l, rotation) for s in atoms.get_chemical_symbols() for sh in basis[s].shells])
