"""Each molecule's Hirshfeld share and first moment of the basis functions, and the loss's fragment
terms: they equal the partition of the density itself, charge moved to another molecule costs what charge
kept on one molecule does not, and charge moved within a molecule costs its dipole change."""
import numpy as np
import pytest
import torch
from ase import Atoms

from model_helpers import waters

from ase_e3density import AtomicDensity, load_basis
from ase_e3density.electron.grids import molecular_grid
from ase_e3density.electron.partition import fragment_integrals, partition
from ase_e3density.errors import ConfigError
from ase_e3density.train.config import TrainConfig
from ase_e3density.train.loss import DensityLoss

SPECIES = ["H", "O"]



def free_atom_density(atoms: Atoms, basis) -> AtomicDensity:
    """A neutral density: each atom's electrons in its most compact s function, rest zero."""
    coefficients = []
    for a in atoms:
        eb = basis[a.symbol]
        c = np.zeros(eb.n_functions)
        k = int(np.argmax(eb.charge_integrals))
        c[k] = a.number / eb.charge_integrals[k]
        coefficients.append(c)
    return AtomicDensity(atoms, basis, np.concatenate(coefficients))


def moved(atoms, basis, source: int, sink: int, charge: float = 0.01, exponent: float = 0.5) -> np.ndarray:
    """A flat coefficient error moving ``charge`` electrons from atom ``source`` to atom ``sink``
    (in each atom's s function closest to ``exponent``)."""
    offsets = basis.offsets(atoms.get_chemical_symbols())
    diff = np.zeros(offsets[-1])
    for atom, sign in ((source, -1.0), (sink, 1.0)):
        eb = basis[atoms[atom].symbol]
        k = min((abs(np.log(sh.exponents[0] / exponent)), part.start) for sh, part in eb.shell_slices if sh.l == 0)[1]
        diff[offsets[atom] + k] += sign * charge / eb.charge_integrals[k]
    return diff


def fragment_errors(loss, atoms, basis, flat, shares) -> np.ndarray:
    """Each molecule's (electron, first-moment x, y, z) error of the flat coefficient error ``flat``."""
    max_dim = loss.charge.shape[1]
    species = torch.tensor([SPECIES.index(s) for s in atoms.get_chemical_symbols()])
    diff = torch.as_tensor(basis.pad(flat, atoms.get_chemical_symbols(), max_dim))
    batch = torch.zeros(len(atoms), dtype=torch.long)
    return loss.fragment_errors(diff, species, batch, [torch.as_tensor(shares)]).numpy()


def fragment_term(loss, atoms, basis, flat, shares) -> float:
    return float(np.mean(fragment_errors(loss, atoms, basis, flat, shares)[:, 0] ** 2))


def fragment_dipole_term(loss, atoms, basis, flat, shares) -> float:
    return float(np.mean((fragment_errors(loss, atoms, basis, flat, shares)[:, 1:] ** 2).sum(axis=1)))


def test_fragment_shares_reproduce_the_partition_of_a_density_on_the_same_grid():
    basis = load_basis()
    atoms = waters([0, 0, 0], [2.8, 0.4, 0.2], [-0.5, 2.7, 0.6])
    density = free_atom_density(atoms, basis)
    rng = np.random.default_rng(4)
    density.coefficients = density.coefficients + rng.normal(scale=0.01, size=density.coefficients.shape)
    shares, fragments = fragment_integrals(density, level=1)
    assert shares.shape == (3, len(density.coefficients)) and [f.tolist() for f in fragments] == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    direct = partition(density, grid=molecular_grid(atoms, 1))
    nuclear = np.array([atoms.numbers[f].sum() for f in fragments])
    np.testing.assert_allclose(nuclear - shares @ density.coefficients, direct.fragment_charges, atol=1e-7)
    # first moments about each molecule's centre of mass give the partition's molecular dipoles
    moments, _ = fragment_integrals(density, level=1, dipoles=True)
    assert moments.shape == (3, 4, len(density.coefficients))
    np.testing.assert_allclose(moments[:, 0], shares, atol=1e-14)
    nuclear_dipoles = np.array([atoms.numbers[f] @ (atoms.positions[f] - c) for f, c in zip(fragments, direct.fragment_centres)])
    np.testing.assert_allclose(nuclear_dipoles - moments[:, 1:] @ density.coefficients, direct.fragment_dipoles, atol=1e-7)
    # the shares of one function add up to its integral (Hirshfeld weights sum to one)
    charge = np.concatenate([basis[s].charge_integrals for s in atoms.get_chemical_symbols()])
    np.testing.assert_allclose(shares.sum(axis=0), charge, atol=2e-4 * np.abs(charge).max())


def test_charge_moved_to_another_molecule_costs_what_charge_kept_on_one_does_not():
    q = 0.01
    basis = load_basis()
    atoms = waters([0, 0, 0], [10.0, 0, 0], [20.0, 0, 0])  # oxygens 0, 3, 6
    shares, _ = fragment_integrals(free_atom_density(atoms, basis), level=1, dipoles=True)
    loss = DensityLoss(basis, SPECIES, max(basis[s].n_functions for s in SPECIES), fragment_weight=1.0)
    kept = fragment_term(loss, atoms, basis, moved(atoms, basis, 0, 1, q), shares)  # O -> H of one water
    far = fragment_term(loss, atoms, basis, moved(atoms, basis, 0, 3, q), shares)   # O -> O 10 Å away
    assert kept < 1e-4 * far
    assert far == pytest.approx(2 * q * q / 3, rel=1e-3)  # two of three molecules off by q
    # the term is the partition's own charge error of the moved density (a direct computation)
    density = free_atom_density(atoms, basis)
    shifted = AtomicDensity(atoms, basis, density.coefficients + moved(atoms, basis, 0, 3, q))
    grid = molecular_grid(atoms, 1)
    direct = partition(shifted, grid=grid).fragment_charges - partition(density, grid=grid).fragment_charges
    assert far == pytest.approx(float(np.mean(direct ** 2)), rel=1e-6)


def test_fragment_dipole_term_is_the_partitions_own_molecular_dipole_error():
    q = 0.01
    basis = load_basis()
    atoms = waters([0, 0, 0], [10.0, 0, 0], [20.0, 0, 0])  # oxygens 0, 3, 6
    density = free_atom_density(atoms, basis)
    shares, _ = fragment_integrals(density, level=1, dipoles=True)
    loss = DensityLoss(basis, SPECIES, max(basis[s].n_functions for s in SPECIES), fragment_dipole_weight=1.0)
    inside = moved(atoms, basis, 0, 1, q)  # O -> H of one water: that water's dipole changes by about q x 0.96 Å
    term = fragment_dipole_term(loss, atoms, basis, inside, shares)
    grid = molecular_grid(atoms, 1)
    base = partition(density, grid=grid).fragment_dipoles
    direct = partition(AtomicDensity(atoms, basis, density.coefficients + inside), grid=grid).fragment_dipoles - base
    assert term == pytest.approx(float(np.mean((direct ** 2).sum(axis=1))), rel=1e-6)
    assert 0.5 * q * 0.96 < np.linalg.norm(direct[0]) < 1.5 * q * 0.96 and np.abs(direct[1:]).max() < 1e-6
    # charge moved 10 Å away changes the molecules' charges, hardly their own dipoles
    far = moved(atoms, basis, 0, 3, q)
    assert fragment_dipole_term(loss, atoms, basis, far, shares) < 0.05 * term


def test_fragment_term_is_batched_differentiable_weighted_and_off_by_default():
    basis = load_basis()
    max_dim = max(basis[s].n_functions for s in SPECIES)
    a, b = waters([0, 0, 0]), waters([0, 0, 0], [2.9, 0.3, 0.1])
    rng = np.random.default_rng(5)
    flats = [rng.normal(size=basis.offsets(x.get_chemical_symbols())[-1]) * 0.01 for x in (a, b)]
    shares = [torch.as_tensor(fragment_integrals(free_atom_density(x, basis), dipoles=True)[0]) for x in (a, b)]
    symbols = a.get_chemical_symbols() + b.get_chemical_symbols()
    species = torch.tensor([SPECIES.index(s) for s in symbols])
    batch = torch.tensor([0] * len(a) + [1] * len(b))
    predicted = torch.as_tensor(np.concatenate([basis.pad(f, x.get_chemical_symbols(), max_dim)
                                                for f, x in zip(flats, (a, b))])).requires_grad_(True)
    target = torch.zeros_like(predicted)
    pos = torch.as_tensor(np.concatenate([a.positions, b.positions]))
    loss = DensityLoss(basis, SPECIES, max_dim, fragment_weight=0.5, fragment_dipole_weight=0.25)
    errors = np.concatenate([m.numpy() @ f for m, f in zip(shares, flats)])
    assert errors.shape == (3, 4)
    expected = (DensityLoss(basis, SPECIES, max_dim)(predicted, target, species, pos, batch, 2)
                + 0.5 * np.mean(errors[:, 0] ** 2) + 0.25 * np.mean((errors[:, 1:] ** 2).sum(axis=1)))
    value = loss(predicted, target, species, pos, batch, 2, fragments=shares)
    assert float(value.detach()) == pytest.approx(float(expected.detach()), rel=1e-12)
    (grad,) = torch.autograd.grad(value, predicted)
    assert torch.isfinite(grad).all() and float(grad.abs().sum()) > 0
    with pytest.raises(ValueError, match="one fragment-share array per structure"):
        loss(predicted, target, species, pos, batch, 2)
    assert TrainConfig(train="x.db").fragment_weight == 0.0 == TrainConfig(train="x.db").fragment_dipole_weight
    for option in ("fragment_weight", "fragment_dipole_weight"):
        with pytest.raises(ConfigError, match=option):
            TrainConfig(train="x.db", **{option: -1.0})
    with pytest.raises(ConfigError, match="share_workers"):
        TrainConfig(train="x.db", share_workers=0)


def test_fragment_term_refuses_periodic_training_data_in_one_line(tmp_path):
    from ase.db import connect

    from ase_e3density.electron.database import write_density_row
    from ase_e3density.train.data import load_samples

    basis = load_basis()
    atoms = waters([2, 2, 2])
    atoms.cell, atoms.pbc = [6.0, 6.0, 6.0], True
    with connect(tmp_path / "pbc.db") as db:
        write_density_row(db, free_atom_density(atoms, basis), "water-in-a-box")
    max_dim = max(basis[s].n_functions for s in SPECIES)
    assert len(load_samples(tmp_path / "pbc.db", SPECIES, 3.5, max_dim)) == 1
    with pytest.raises(ConfigError, match=r"pbc.db: the fragment terms of the loss need finite structures \(molecules\); row 1 is periodic"):
        load_samples(tmp_path / "pbc.db", SPECIES, 3.5, max_dim, fragments=True)


def test_share_cache_keeps_shares_across_runs_and_tells_structures_apart(tmp_path, monkeypatch):
    from ase_e3density.train import data

    basis = load_basis()
    a, b = free_atom_density(waters([0, 0, 0]), basis), free_atom_density(waters([0, 0, 0], [2.9, 0.3, 0.1]), basis)
    cache = data.ShareCache(tmp_path / "shares.npz")
    first = cache.get(a)
    cache.save()

    def refuse(density, **options):
        raise AssertionError("computed again")

    monkeypatch.setattr(data, "fragment_integrals", refuse)
    again = data.ShareCache(tmp_path / "shares.npz")
    np.testing.assert_array_equal(again.get(a), first)
    moved = a.atoms.copy()
    moved.positions[0, 0] += 1e-6
    with pytest.raises(AssertionError, match="computed again"):
        again.get(AtomicDensity(moved, basis, a.coefficients))
    with pytest.raises(AssertionError, match="computed again"):
        again.get(b)


def test_share_cache_fills_missing_shares_in_processes_and_saves_them(tmp_path):
    from ase_e3density.train import data

    basis = load_basis()
    one, two = free_atom_density(waters([0, 0, 0]), basis), free_atom_density(waters([0, 0, 0], [2.9, 0.3, 0.1]), basis)
    cache = data.ShareCache(tmp_path / "shares.npz")
    assert cache.fill([one, two, one], workers=2) == 2  # the repeated structure once
    again = data.ShareCache(tmp_path / "shares.npz")
    np.testing.assert_array_equal(again.get(two), fragment_integrals(two, dipoles=True)[0])
    assert again.fill([two, one], workers=2) == 0
