"""The training loss: its dipole term is the exact dipole error, its density term the overlap norm."""
import numpy as np
import pytest
import torch
from ase.build import molecule

from ase_e3density import load_basis
from ase_e3density.train.loss import DensityLoss
from conftest import random_density


def test_loss_terms_match_density_physics():
    species = ["H", "C", "N"]
    basis = load_basis()
    a, b = molecule("CH3CN"), molecule("CH3CN")
    ref, pred = random_density(a, seed=1), random_density(b, seed=2)  # same atoms, both hold Z electrons
    max_dim = max(basis[s].n_functions for s in species)
    index = {s: k for k, s in enumerate(species)}
    sp = torch.tensor([index[s] for s in a.get_chemical_symbols()])
    def pad(d):
        return torch.as_tensor(d.padded_coefficients(max_dim))
    loss = DensityLoss(basis, species, max_dim, dipole_weight=1.0)
    pos, batch = torch.as_tensor(a.positions), torch.zeros(len(a), dtype=torch.long)
    dmu = loss.dipole_error(pad(pred) - pad(ref), sp, pos, batch, 1)[0].numpy()
    np.testing.assert_allclose(dmu, pred.dipole - ref.dipole, atol=1e-10)
    one_centre = sum((pred.atom_coefficients(i) - ref.atom_coefficients(i)) @ basis[s].overlap_matrix
                     @ (pred.atom_coefficients(i) - ref.atom_coefficients(i)) for i, s in enumerate(a.get_chemical_symbols()))
    assert float(loss.density_term(pad(pred) - pad(ref), sp)) == pytest.approx(one_centre / len(a), rel=1e-10)
    total = float(loss(pad(pred), pad(ref), sp, pos, batch, 1))
    assert total == pytest.approx(one_centre / len(a) + np.sum((pred.dipole - ref.dipole) ** 2), rel=1e-10)
