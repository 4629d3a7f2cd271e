"""Electrostatic potential and field of Gaussian densities: closed forms against PySCF, derivatives, far field."""
import numpy as np
import pytest
from ase.build import molecule
from ase.units import Bohr, Hartree
from conftest import random_density
from scipy.integrate import quad

from ase_e3density import AtomicDensity, E3DensityError
from ase_e3density.electron.electrostatics import boys, potential_and_field


@pytest.mark.parametrize("n", range(8))
def test_boys_function_matches_quadrature(n):
    t = np.array([0.0, 1e-9, 0.3, 0.999, 1.0, 2.5, 30.0, 400.0])
    ref = [quad(lambda u, x=x: u ** (2 * n) * np.exp(-x * u * u), 0, 1, epsabs=0, epsrel=1e-13)[0] for x in t]
    np.testing.assert_allclose(boys(n, t), ref, rtol=1e-12, atol=0)


def _only_order(density: AtomicDensity, l: int) -> AtomicDensity:
    """The same density with every function but those of order ``l`` set to zero."""
    mask = np.concatenate([density.basis[s].function_l == l for s in density.atoms.get_chemical_symbols()])
    return AtomicDensity(density.atoms, density.basis, np.where(mask, density.coefficients, 0.0))


def _pyscf_potential(density: AtomicDensity, points: np.ndarray) -> np.ndarray:
    """PySCF's potential (V) of the same functions and coefficients: 2-centre integrals with point charges."""
    gto = pytest.importorskip("pyscf.gto")
    from ase_e3density.electron.reference import _pyscf_basis, _to_e3nn_matrix

    symbols = density.atoms.get_chemical_symbols()
    centres = density.atoms.positions / Bohr  # ASE's bohr on both sides: PySCF's own constant differs by 1e-9
    auxmol = gto.M(atom=[(s, tuple(p)) for s, p in zip(symbols, centres)], unit="Bohr",
                   basis=_pyscf_basis(density.basis, symbols), spin=None, verbose=0)
    charges = gto.fakemol_for_charges(points / Bohr)
    integrals = gto.mole.intor_cross("int2c2e", auxmol, charges)  # (naux, npoints)
    c_pyscf = _to_e3nn_matrix(density.basis, symbols).T @ density.coefficients
    nuclear = sum(z / np.linalg.norm(points / Bohr - r, axis=1) for z, r in zip(density.nuclear_charges, centres))
    return (nuclear - c_pyscf @ integrals) * Hartree


@pytest.mark.parametrize("basis", ["def2-universal-jfit-decontracted", "def2-universal-jkfit"])
@pytest.mark.parametrize("l", [0, 1, 2, 3, 4])
def test_potential_matches_pyscf(acetonitrile, basis, l):
    density = _only_order(random_density(acetonitrile, basis, seed=l), l)
    rng = np.random.default_rng(l)
    points = acetonitrile.positions.mean(axis=0) + rng.normal(scale=2.5, size=(150, 3))
    points = np.concatenate([points, acetonitrile.positions[:2] + 0.05])  # close to nuclei too
    ref = _pyscf_potential(density, points)
    ours = density.electrostatic_potential(points)
    np.testing.assert_allclose(ours, ref, rtol=1e-8, atol=1e-8 * np.abs(ref).max())


def test_full_density_potential_matches_pyscf(acetonitrile):
    density = random_density(acetonitrile)
    points = np.random.default_rng(7).uniform(-6, 6, size=(300, 3))  # near and beyond every shell's radius
    ref = _pyscf_potential(density, points)
    np.testing.assert_allclose(density.electrostatic_potential(points), ref, rtol=1e-8, atol=1e-9 * np.abs(ref).max())


def test_field_is_minus_gradient_of_potential(acetonitrile):
    density = random_density(acetonitrile, seed=3)
    points = np.random.default_rng(3).uniform(-4, 4, size=(60, 3))
    potential, field = potential_and_field(density, points)
    h = 1e-4
    gradient = np.stack([(density.electrostatic_potential(points + h * e) - density.electrostatic_potential(points - h * e))
                         / (2 * h) for e in np.eye(3)], axis=1)
    np.testing.assert_allclose(field, -gradient, rtol=1e-6, atol=1e-6 * np.abs(field).max())
    np.testing.assert_allclose(potential, density.electrostatic_potential(points), rtol=1e-14)


def test_far_potential_is_that_of_the_dipole_and_quadrupole(water):
    density = random_density(water, seed=5)  # each atom holds Z electrons: neutral
    assert abs(density.total_charge) < 1e-10
    com = water.get_center_of_mass()
    mu, theta = density.get_dipole(com), density.get_quadrupole(com)
    direction = np.random.default_rng(5).normal(size=(20, 3))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    for distance, dipole_only, with_quadrupole in ((30.0, 0.1, 3e-3), (300.0, 0.01, 3e-5)):
        r = distance * direction
        v = density.electrostatic_potential(com + r)
        v_dip = Hartree * Bohr * (r @ mu) / distance**3  # e/Å -> V
        v_quad = Hartree * Bohr * np.einsum("ni,ij,nj->n", r, theta, r) / distance**5
        scale = np.abs(v_dip).max()
        assert np.abs(v - v_dip).max() < dipole_only * scale
        assert np.abs(v - v_dip - v_quad).max() < with_quadrupole * scale


def test_far_field_tolerance_is_kept(acetonitrile):
    density = random_density(acetonitrile, seed=2)
    points = np.random.default_rng(2).uniform(-15, 15, size=(400, 3))
    exact = density.electrostatic_potential(points, tolerance=1e-15)
    for tol in (1e-4, 1e-8):
        approx = density.electrostatic_potential(points, tolerance=tol)
        assert np.abs(approx - exact).max() < 50 * tol * np.abs(exact).max()


def test_esp_cube_and_bad_input(tmp_path, water):
    from ase.io.cube import read_cube_data

    density = random_density(water)
    grid = density.write_esp_cube(tmp_path / "esp.cube", spacing=0.5, padding=2.0)
    data, _ = read_cube_data(str(tmp_path / "esp.cube"))
    assert data.shape == grid.shape
    np.testing.assert_allclose(data.ravel()[:10], density.electrostatic_potential(grid.points()).ravel()[:10] / Hartree,
                               rtol=1e-4)
    with pytest.raises(E3DensityError):
        density.electrostatic_potential(np.zeros((3, 2)))
    periodic = water.copy()
    periodic.cell, periodic.pbc = [8, 8, 8], True
    with pytest.raises(E3DensityError, match="periodic"):
        AtomicDensity(periodic, density.basis, density.coefficients).electrostatic_potential(np.zeros((1, 3)))


def test_potential_of_water_in_plain_numbers():
    """A hand check: a lone proton's potential at 1 Å is 14.40 V (e / (4 pi eps0 Å))."""
    water = molecule("H2O")
    density = AtomicDensity(water, "def2-universal-jfit-decontracted", np.zeros(102))
    v = density.electrostatic_potential(water.positions[1] + [[0.0, 0.0, 1.0]])
    contributions = [z / np.linalg.norm(water.positions[1] + [0, 0, 1.0] - p) for z, p in zip(water.numbers, water.positions)]
    assert v[0] == pytest.approx(14.39964548 * sum(contributions), rel=1e-8)
