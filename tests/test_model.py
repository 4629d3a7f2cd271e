"""The network: symmetry, charge conservation, periodicity."""
import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import molecule
from e3nn import o3

from ase_e3density import AtomicDensity, load_basis
from model_helpers import (assert_translation_and_permutation_equivariant, coefficient_rotation, predict, small_model,
                           wigner_matrix)


@pytest.fixture(scope="module")
def model():
    return small_model()


@pytest.mark.parametrize("reflect", [False, True])
def test_equivariance_rotation_reflection(model, reflect):
    atoms = molecule("CH3CONH2")
    c = predict(model, atoms)
    rot = o3.rand_matrix(dtype=torch.float64).numpy() * (-1 if reflect else 1)
    moved = atoms.copy()
    moved.positions = atoms.positions @ rot.T
    c_moved = predict(model, moved)
    np.testing.assert_allclose(c_moved, coefficient_rotation(atoms, model.config.basis, rot) @ c, atol=1e-6)
    basis = load_basis(model.config.basis)
    d, d_moved = AtomicDensity(atoms, basis, c), AtomicDensity(moved, basis, c_moved)
    np.testing.assert_allclose(d_moved.charges, d.charges, atol=1e-6)
    np.testing.assert_allclose(d_moved.dipole, rot @ d.dipole, atol=1e-6)
    np.testing.assert_allclose(d_moved.quadrupole, rot @ d.quadrupole @ rot.T, atol=1e-6)


def test_our_wigner_matrices_are_e3nns():
    rot = o3.rand_matrix(dtype=torch.float64)
    for l in range(5):
        ref = o3.Irrep(l, (-1) ** l).D_from_matrix(-rot).numpy()
        np.testing.assert_allclose(wigner_matrix(l, -rot.numpy()), ref, atol=1e-5)  # e3nn: float32 constants


def test_translation_and_permutation(model):
    assert_translation_and_permutation_equivariant(model, molecule("CH3CONH2"))


@pytest.mark.parametrize("charge", [0, 1, -1])
def test_electron_count_is_exact(model, charge):
    atoms = molecule("CH3CN")
    d = AtomicDensity(atoms, model.config.basis, predict(model, atoms, charge))
    assert d.n_electrons == pytest.approx(atoms.numbers.sum() - charge, abs=1e-6)
    assert d.total_charge == pytest.approx(charge, abs=1e-6)


def test_batched_structures_are_independent(model):
    a, b = molecule("H2O"), molecule("NH3")
    b.translate([1.0, 0, 0])  # would overlap a if the batch leaked
    index = {s: k for k, s in enumerate(model.config.species)}
    from ase_e3density.graph import model_inputs
    ia, ib = model_inputs(a, index, model.config.cutoff, 0.0, torch.float64), model_inputs(b, index, model.config.cutoff, 1.0, torch.float64)
    batch = (torch.cat([ia[0], ib[0]]), torch.cat([ia[1], ib[1]]), torch.cat([ia[2], ib[2] + len(a)], dim=1),
             torch.cat([ia[3], ib[3]]), torch.cat([ia[4], ib[4]]), torch.cat([ia[5], ib[5] + 1]))
    with torch.no_grad():
        joint = model(*batch)
        np.testing.assert_allclose(joint[: len(a)], model(*ia), atol=1e-12)
        np.testing.assert_allclose(joint[len(a):], model(*ib), atol=1e-12)


def test_molecule_in_large_periodic_box(model):
    atoms = molecule("CH3CN")
    boxed = atoms.copy()
    boxed.set_cell([30.0, 30.0, 30.0])
    boxed.pbc = True
    boxed.translate([-1.0, 0.5, 0.2])  # straddles the cell boundary after wrapping
    boxed.wrap()
    np.testing.assert_allclose(predict(model, boxed), predict(model, atoms), atol=1e-9)
    slab = atoms.copy()
    slab.set_cell([30.0, 30.0, 0.0])
    slab.pbc = [True, True, False]
    slab.translate([-1.0, 0.5, 0.0])
    slab.wrap()  # wraps x and y only
    np.testing.assert_allclose(predict(model, slab), predict(model, atoms), atol=1e-9)


def test_crystal_supercell_has_same_coefficients(model):
    ice_like = Atoms("OH2", positions=[[0.0, 0.0, 0.0], [0.96, 0.0, 0.0], [-0.24, 0.93, 0.0]],
                     cell=[[3.1, 0, 0], [0.4, 3.0, 0], [0.2, 0.3, 3.2]], pbc=True)
    c = predict(model, ice_like)
    big = ice_like.repeat((2, 2, 2))
    np.testing.assert_allclose(predict(model, big), np.tile(c, 8), atol=1e-9)


def test_hidden_lmax_and_parity_are_configurable():
    from ase_e3density.nn import DensityModel, ModelConfig
    for hidden, parity, sh in [({0: 8}, "natural", 4), ({0: 8, 1: 4}, "both", 3), ({0: 8, 1: 4, 2: 2, 3: 2, 4: 2}, "natural", 3)]:
        cfg = ModelConfig(species=["H", "O"], hidden=hidden, parity=parity, n_layers=2, radial_hidden=8, sh_lmax=sh)
        m = DensityModel(cfg, dtype=torch.float64)
        c = predict(m, molecule("H2O"))
        assert np.isfinite(c).all()
        assert max(l for _, (l, p) in cfg.hidden_irreps()) == max(hidden)


def test_every_output_irrep_is_predicted():
    """No component may be structurally zero (oxygen's g functions need l=4 from l<=3 features)."""
    model = small_model()
    atoms = molecule("H2O")
    c = predict(model, atoms) - np.concatenate([model.free_atom[model.config.species.index(s), : n].double().numpy()
                                                 for s, n in zip(atoms.get_chemical_symbols(), [70, 16, 16])])
    basis = load_basis(model.config.basis)
    offsets = np.cumsum([0] + [basis[s].n_functions for s in atoms.get_chemical_symbols()])
    for a, s in enumerate(atoms.get_chemical_symbols()):
        block, off = c[offsets[a]:offsets[a + 1]], 0
        for shell in basis[s].shells:
            assert np.abs(block[off:off + shell.size]).max() > 1e-8, (s, shell.l)
            off += shell.size


def test_unreachable_output_is_refused():
    from ase_e3density.nn import DensityModel, ModelConfig
    with pytest.raises(ValueError, match="4e cannot be made.*raise the hidden l_max or sh_lmax"):
        DensityModel(ModelConfig(species=["O"], hidden={0: 4}, sh_lmax=3, n_layers=1))
