"""The charge-equilibration head: the QEq solve against the same linear system in numpy, exact electron
counts atom by atom, symmetry, charge moved between fragments far beyond the receptive field, every
runtime of a deployed file, and files without it unchanged."""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import molecule
from ase.units import Bohr, Hartree
from e3nn import o3
from scipy.special import erf

from ase_e3density import AtomicDensity, load_basis
from ase_e3density.errors import ConfigError, InvalidStructureError
from ase_e3density.graph import model_inputs
from ase_e3density.models import clear_model_cache, deploy, load_model, read_metadata, shipped_model_path
from ase_e3density.models import format as fmt
from ase_e3density.models.modules import build_network
from ase_e3density.nn import ModelConfig
from ase_e3density.nn.charge_equilibration import COULOMB_CONSTANT, equilibrated_charges
from ase_e3density.train.config import TrainConfig
from model_helpers import (assert_translation_and_permutation_equivariant, coefficient_rotation, predict, small_model,
                           waters)

K_E = COULOMB_CONSTANT  # eV Å / e^2


def qeq_model(seed: int = 0):
    """A small float64 model with charge equilibration, its head's weights random (not the zero start)."""
    model = small_model(seed=seed, charge_equilibration=True)
    gen = torch.Generator().manual_seed(seed + 100)
    with torch.no_grad():
        for p in model.qeq.parameters():
            if p.dtype.is_floating_point and p is not model.qeq.sigma:
                p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * 0.3)
    return model.eval()


@pytest.fixture(scope="module")
def model():
    return qeq_model()


def inputs(model, atoms, charge=0.0):
    return model_inputs(atoms, {s: k for k, s in enumerate(model.config.species)}, model.config.cutoff, charge,
                        torch.float64)


def head_of(model, atoms, charge=0.0):
    """(chi eV/e, J eV/e^2, sigma Å, positions Å) of every atom as the model's head gives them."""
    positions, species, edges, shifts, _, _ = inputs(model, atoms, charge)
    with torch.no_grad():
        h = model.features(positions, species, edges, shifts)[-1][:, model.scalar_start:model.scalar_stop]
        chi, hardness = model.qeq.electronegativity_hardness(h, species)
    return chi.numpy(), hardness.numpy(), model.qeq.sigma[species].numpy(), positions.numpy()


def qeq_matrix(hardness, sigma, positions):
    """H = diag(J) + the Gaussians' Coulomb matrix (eV/e^2), in numpy."""
    r = np.linalg.norm(positions[:, None] - positions[None], axis=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = K_E * erf(r / np.sqrt(2 * (sigma[:, None] ** 2 + sigma[None] ** 2))) / r
    a[np.diag_indices(len(r))] = hardness + K_E / (sigma * np.sqrt(np.pi))
    return a


def lagrange_inverse(hardness, sigma, positions):
    """The inverse of the full (n+1) x (n+1) system [[H, 1], [1^T, 0]] with its Lagrange multiplier."""
    n = len(hardness)
    return np.linalg.inv(np.block([[qeq_matrix(hardness, sigma, positions), np.ones((n, 1))],
                                   [np.ones((1, n)), np.zeros((1, 1))]]))


def numpy_qeq(chi, hardness, sigma, positions, total_charge):
    """The constrained minimum from the full system with its Lagrange multiplier."""
    return (lagrange_inverse(hardness, sigma, positions) @ np.concatenate([-chi, [total_charge]]))[:len(chi)]


def as64(x):
    return torch.as_tensor(np.asarray(x), dtype=torch.float64)


def solve(chi, hardness, sigma, positions, batch, charges):
    return equilibrated_charges(as64(chi), as64(hardness), as64(sigma), as64(positions), torch.as_tensor(batch),
                                as64(charges), COULOMB_CONSTANT).numpy()


def test_coulomb_constant_is_hartree_times_bohr():
    assert COULOMB_CONSTANT == pytest.approx(14.399645, rel=1e-7) and COULOMB_CONSTANT == Hartree * Bohr


def test_solve_equals_numpy_lagrange_system_and_structures_are_independent():
    rng = np.random.default_rng(3)
    first = (rng.normal(0, 2, 4), rng.uniform(2, 9, 4), rng.uniform(0.3, 0.8, 4), rng.normal(0, 1.2, (4, 3)))
    second = (rng.normal(0, 2, 3), rng.uniform(2, 9, 3), rng.uniform(0.3, 0.8, 3), first[3][:3] + 0.1)  # overlaps the first
    expected = [numpy_qeq(*first, -1.0), numpy_qeq(*second, 0.5)]
    assert expected[0].sum() == pytest.approx(-1.0) and np.ptp(expected[0]) > 0.1
    for parts, charge, want in zip((first, second), (-1.0, 0.5), expected):
        np.testing.assert_allclose(solve(*parts, np.zeros(len(parts[0]), dtype=int), [charge]), want, atol=1e-12)
    joined = [np.concatenate([a, b]) for a, b in zip(first, second)]
    np.testing.assert_allclose(solve(*joined, np.array([0] * 4 + [1] * 3), [-1.0, 0.5]), np.concatenate(expected),
                               atol=1e-12)


def test_two_atoms_analytic():
    """q_b = -q_a = (chi_a - chi_b) / (H_aa + H_bb - 2 H_ab) for a neutral pair."""
    chi, hardness, sigma = np.array([3.0, 7.5]), np.array([6.0, 9.0]), np.array([0.7, 0.5])
    r = 2.3
    h_ab = K_E * erf(r / np.sqrt(2 * (sigma ** 2).sum())) / r
    h_aa, h_bb = hardness + K_E / (sigma * np.sqrt(np.pi))
    q = solve(chi, hardness, sigma, [[0, 0, 0], [0, 0, r]], [0, 0], [0.0])
    assert q[1] == pytest.approx((chi[0] - chi[1]) / (h_aa + h_bb - 2 * h_ab), rel=1e-12) and q[0] == pytest.approx(-q[1])


@pytest.mark.parametrize("charge", [0.0, 1.0, -1.0])
def test_electron_counts_are_exact_atom_by_atom(model, charge):
    atoms = molecule("CH3CONH2")
    c = predict(model, atoms, charge)
    density = AtomicDensity(atoms, model.config.basis, c)
    assert density.n_electrons == pytest.approx(atoms.numbers.sum() - charge, abs=1e-10)
    with torch.no_grad():
        q = model.atom_charges(*inputs(model, atoms, charge)).numpy()
    assert q.sum() == pytest.approx(charge, abs=1e-10) and np.ptp(q) > 0.05
    basis = load_basis(model.config.basis)
    populations = [c[o:o + basis[s].n_functions] @ basis[s].charge_integrals
                   for o, s in zip(density.offsets, atoms.get_chemical_symbols())]
    np.testing.assert_allclose(populations, atoms.numbers - q, atol=1e-10)
    np.testing.assert_allclose(q, numpy_qeq(*head_of(model, atoms, charge), charge), atol=1e-10)


@pytest.mark.parametrize("reflect", [False, True])
def test_rotation_and_reflection_equivariance(model, reflect):
    atoms = molecule("CH3CONH2")
    c = predict(model, atoms, 1.0)
    rot = o3.rand_matrix(dtype=torch.float64).numpy() * (-1 if reflect else 1)
    moved = atoms.copy()
    moved.positions = atoms.positions @ rot.T
    np.testing.assert_allclose(predict(model, moved, 1.0), coefficient_rotation(atoms, model.config.basis, rot) @ c,
                               atol=1e-9)


def test_translation_and_permutation_equivariance(model):
    assert_translation_and_permutation_equivariant(model, molecule("CH3CONH2"))


def fragments(distance: float) -> Atoms:
    """Water and ammonia ``distance`` Å apart: far beyond the receptive field (2 layers x 3.5 Å)."""
    ammonia = molecule("NH3")
    ammonia.translate([distance, 0.0, 0.0])
    return molecule("H2O") + ammonia


def test_charge_moves_between_far_fragments(model):
    atoms = fragments(20.0)
    chi, hardness, sigma, positions = head_of(model, atoms)
    with torch.no_grad():
        q = model.atom_charges(*inputs(model, atoms)).numpy()
    water = q[:3].sum()
    assert abs(water) > 1e-3 and q.sum() == pytest.approx(0.0, abs=1e-12)  # a charge transfer, set by QEq:
    np.testing.assert_allclose(q, numpy_qeq(chi, hardness, sigma, positions, 0.0), atol=1e-10)
    # ... and by the electrostatics between the fragments: at 40 Å it differs by the changed 1/R
    q_far = model.atom_charges(*inputs(model, fragments(40.0))).detach().numpy()
    assert abs(q_far[:3].sum() - water) > 1e-4
    np.testing.assert_allclose(q_far[:3], numpy_qeq(*head_of(model, fragments(40.0)), 0.0)[:3], atol=1e-10)
    # the water's charge responds to the electronegativity of every ammonia atom, 20 Å away:
    # d q / d chi = -(H^-1 - H^-1 1 1^T H^-1 / (1^T H^-1 1)) (the constrained minimum's response)
    chi_t = torch.tensor(chi, requires_grad=True)
    charges = equilibrated_charges(chi_t, as64(hardness), as64(sigma), as64(positions),
                                   torch.zeros(len(chi), dtype=torch.long), as64([0.0]), COULOMB_CONSTANT)
    gradient, = torch.autograd.grad(charges[:3].sum(), chi_t)
    n = len(chi)
    np.testing.assert_allclose(gradient.numpy(), -lagrange_inverse(hardness, sigma, positions)[:3, :n].sum(axis=0),
                               atol=1e-12)
    assert np.abs(gradient.numpy()[3:]).min() > 1e-3


def test_a_distant_fragment_moves_charge_onto_each_water_atom():
    """Bending the ammonia 20 Å away (beyond the receptive field) changes the water only through the QEq
    charges: each water atom's coefficients move by ``-dq_i q_i / (q_i . q_i)`` (``q_i``: its charge integrals)."""
    with_head = qeq_model(seed=2)
    atoms = fragments(20.0)
    bent = atoms.copy()
    bent.positions[4] += [0.0, 0.15, 0.0]  # an ammonia hydrogen
    basis = load_basis(with_head.config.basis)
    with torch.no_grad():
        dq = (with_head.atom_charges(*inputs(with_head, bent)) - with_head.atom_charges(*inputs(with_head, atoms))).numpy()
    assert np.abs(dq[:3]).min() > 1e-6
    change = predict(with_head, bent) - predict(with_head, atoms)
    expected = np.concatenate([-dq[i] * basis[s].charge_integrals / (basis[s].charge_integrals @ basis[s].charge_integrals)
                               for i, s in enumerate(["O", "H", "H"])])
    np.testing.assert_allclose(change[:len(expected)], expected, atol=1e-12)


def test_gradients_reach_the_head(model):
    trained = qeq_model(seed=5).train()
    out = trained(*inputs(trained, fragments(6.0), 0.0))
    (out ** 2).sum().backward()
    for name, p in trained.qeq.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().max() > 0, name


def test_batched_structures_are_independent(model):
    a, b = molecule("H2O"), molecule("NH3")
    b.translate([0.3, 0, 0])  # overlaps a: any term between the two would show
    ia, ib = inputs(model, a, 0.0), inputs(model, b, 1.0)
    joint = (torch.cat([ia[0], ib[0]]), torch.cat([ia[1], ib[1]]), torch.cat([ia[2], ib[2] + len(a)], dim=1),
             torch.cat([ia[3], ib[3]]), torch.cat([ia[4], ib[4]]), torch.cat([ia[5], ib[5] + 1]))
    with torch.no_grad():
        out = model(*joint)
        np.testing.assert_allclose(out[: len(a)], model(*ia), atol=1e-12)
        np.testing.assert_allclose(out[len(a):], model(*ib), atol=1e-12)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory, model):
    path = tmp_path_factory.mktemp("qeq") / "model.pt"
    deploy(model, path, provenance={"test": "qeq"})
    return path


def structures():
    return [(molecule("CH3CONH2"), 0.0), (molecule("CH3CH2OH"), 1.0), (fragments(12.0), -1.0),
            (waters([0, 0, 0], [2.9, 0, 0], [0, 3.0, 0.5]), 0.0)]


def test_scripted_and_eager_runtimes_equal_the_eager_model(model, deployed):
    assert read_metadata(deployed)[fmt.CONFIG]["charge_equilibration"] is True
    clear_model_cache()
    scripted, eager = load_model(deployed), load_model(deployed, runtime="eager")
    assert isinstance(scripted.module, torch.jit.ScriptModule) and scripted.module.qeq is not None
    for atoms, charge in structures():
        expected = predict(model, atoms, charge)
        np.testing.assert_allclose(scripted.predict(atoms, charge), expected, atol=1e-9, rtol=0)
        np.testing.assert_allclose(eager.predict(atoms, charge), expected, atol=1e-9, rtol=0)


@pytest.mark.slow
def test_export_runtime_equals_the_eager_model(model, tmp_path):
    path = deploy(model, tmp_path / "exported.pt", export=True)
    exported = load_model(path, runtime="export")
    for atoms, charge in structures():
        np.testing.assert_allclose(exported.predict(atoms, charge), predict(model, atoms, charge), atol=1e-9, rtol=0)


FRESH = """
import json, sys
from ase.build import molecule
from ase_e3density.models import load_model
c = load_model(sys.argv[1]).predict(molecule("CH3CONH2"), charge=1.0)
print(json.dumps({"c": c.tolist(), "e3nn": "e3nn" in sys.modules}))
"""


def test_round_trip_in_a_fresh_process(model, deployed):
    out = subprocess.run([sys.executable, "-c", FRESH, str(deployed)], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout)
    assert result["e3nn"] is False
    np.testing.assert_allclose(result["c"], predict(model, molecule("CH3CONH2"), 1.0), atol=1e-9)


def test_periodic_images_are_refused_and_a_molecule_in_a_box_is_open(deployed):
    loaded = load_model(deployed)
    atoms = molecule("CH3CONH2")
    boxed = atoms.copy()
    boxed.set_cell([30.0, 30.0, 30.0])
    boxed.pbc = True
    boxed.translate([15.0, 15.0, 15.0])  # whole inside the cell: no image within the cutoff
    np.testing.assert_allclose(loaded.predict(boxed), loaded.predict(atoms), atol=1e-10)
    boxed.translate([-15.0, -15.0, -15.0])
    boxed.wrap()  # bonds now cross the cell's faces
    with pytest.raises(InvalidStructureError, match="open-boundary electrostatics.*periodic images"):
        loaded.predict(boxed)


@pytest.mark.parametrize("name", ["default", "organic"])
def test_shipped_files_build_without_the_head(name):
    """Shipped files, written before the option (no such key: the water model) or with it off, rebuild without the
    head, with exactly the file's weights."""
    path = shipped_model_path(name)
    metadata = read_metadata(path)
    assert metadata[fmt.CONFIG].get("charge_equilibration", False) is False
    weights = fmt.read_weights(path, metadata)
    network = build_network(metadata, weights)
    assert network.qeq is None and set(network.state_dict()) == set(weights)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["default", "organic"])
def test_shipped_files_eager_equals_torchscript(name):
    """The eager rebuild (this package's code, option off) gives the scripted file's numbers."""
    path = shipped_model_path(name)
    clear_model_cache()
    atoms = molecule("H2O") if name == "default" else molecule("CH3CONH2")
    eager, scripted = load_model(path, runtime="eager", dtype="float64"), load_model(path, dtype="float64")
    np.testing.assert_allclose(eager.predict(atoms), scripted.predict(atoms), atol=1e-9, rtol=0)


def test_training_option(tmp_path):
    config = TrainConfig(train="x.db", model={"charge_equilibration": True})
    assert ModelConfig(species=["H"], **config.model).charge_equilibration is True
    assert ModelConfig(species=["H"]).charge_equilibration is False
    with pytest.raises(ConfigError, match="model.charge_equilibration: expected true or false"):
        TrainConfig(train="x.db", model={"charge_equilibration": "yes"})
