"""AtomicDensity: analytic multipoles against quadrature, symmetry, periodic images, cube files."""
import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import molecule
from ase.units import Bohr
from e3nn import o3

from ase_e3density import AtomicDensity, InvalidStructureError, UnsupportedElementError
from ase_e3density.electron.grids import molecular_grid
from conftest import random_density


def numeric_multipoles(density, origin, level=4):
    pts, w = molecular_grid(density.atoms, level)
    rho = density.evaluate(pts)
    r = pts - origin
    n_e = w @ rho
    nuc = density.nuclear_charges
    R = density.atoms.positions - origin
    dipole = nuc @ R - (w * rho) @ r
    second = np.einsum("a,ai,aj->ij", nuc, R, R) - np.einsum("n,ni,nj->ij", w * rho, r, r)
    return n_e, dipole, 0.5 * (3 * second - np.trace(second) * np.eye(3))


def test_analytic_multipoles_match_quadrature(acetonitrile):
    """s, p, d, f and g functions all in play (random coefficients on every function)."""
    d = random_density(acetonitrile)
    assert set(d.basis["N"].function_l) == {0, 1, 2, 3, 4}
    origin = d.default_origin() + np.array([0.3, -0.2, 0.1])
    n_e, dipole, quad = numeric_multipoles(d, origin, level=3)
    assert n_e == pytest.approx(d.n_electrons, rel=1e-4)
    np.testing.assert_allclose(dipole, d.get_dipole(origin), rtol=1e-4, atol=1e-4 * np.abs(dipole).max())
    np.testing.assert_allclose(quad, d.get_quadrupole(origin), rtol=1e-4, atol=1e-4 * np.abs(quad).max())
    # per-atom populations: each atom's own functions integrated on the grid
    pts, w = molecular_grid(d.atoms, 3)
    for a in (0, 3):
        own = np.zeros_like(d.coefficients)
        own[d.offsets[a]:d.offsets[a + 1]] = d.atom_coefficients(a)
        alone = AtomicDensity(d.atoms, d.basis, own)
        assert w @ alone.evaluate(pts) == pytest.approx(d.nuclear_charges[a] - d.charges[a], rel=1e-4)


def wigner(density, rotation):
    """Block-diagonal e3nn Wigner matrix of all coefficients for a 3x3 orthogonal matrix."""
    from scipy.linalg import block_diag
    blocks = [o3.Irreps(density.basis[s].irreps).D_from_matrix(torch.tensor(rotation)).numpy()
              for s in density.atoms.get_chemical_symbols()]
    return block_diag(*blocks)


@pytest.mark.parametrize("reflect", [False, True])
def test_rotating_coefficients_rotates_the_density(acetonitrile, reflect):
    d = random_density(acetonitrile, seed=2)
    rot = o3.rand_matrix(dtype=torch.float64).numpy()
    if reflect:
        rot = -rot
    moved = acetonitrile.copy()
    moved.positions = acetonitrile.positions @ rot.T
    d_rot = AtomicDensity(moved, d.basis, wigner(d, rot) @ d.coefficients)
    pts = np.random.default_rng(0).normal(size=(300, 3)) * 1.5 + acetonitrile.positions.mean(0)
    # e3nn builds Wigner matrices from float32 constants: they are exact to ~1e-6 (l=4), not 1e-15
    expected = d.evaluate(pts)
    np.testing.assert_allclose(d_rot.evaluate(pts @ rot.T), expected, atol=1e-5 * np.abs(expected).max())
    np.testing.assert_allclose(d_rot.get_dipole(np.zeros(3)), rot @ d.get_dipole(np.zeros(3)), atol=1e-5)
    np.testing.assert_allclose(d_rot.get_quadrupole(np.zeros(3)), rot @ d.get_quadrupole(np.zeros(3)) @ rot.T,
                               atol=1e-5)


def test_translation_and_periodic_images(water):
    d = random_density(water, seed=4)
    pts = np.random.default_rng(1).normal(size=(200, 3)) + water.positions.mean(0)
    shifted = water.copy()
    shifted.translate([1.0, -2.0, 0.5])
    d_shift = AtomicDensity(shifted, d.basis, d.coefficients)
    np.testing.assert_allclose(d_shift.evaluate(pts + [1.0, -2.0, 0.5]), d.evaluate(pts), atol=1e-12)
    # in a large periodic box, images are too far to matter; wrapped positions still work
    boxed = water.copy()
    boxed.set_cell([25.0, 25.0, 25.0])
    boxed.pbc = True
    boxed.translate([-1.0, 0, 0])
    boxed.wrap()
    d_box = AtomicDensity(boxed, d.basis, d.coefficients)
    np.testing.assert_allclose(d_box.evaluate(pts - [1.0, 0, 0]), d.evaluate(pts), atol=1e-12)


def test_periodic_density_is_periodic():
    crystal = Atoms("H2O", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]], cell=[3.0, 3.2, 3.4], pbc=True)
    d = random_density(crystal, seed=5)
    pts = np.random.default_rng(2).uniform(0, 3, size=(100, 3))
    np.testing.assert_allclose(d.evaluate(pts + crystal.cell[0] - 2 * crystal.cell[2]), d.evaluate(pts), atol=1e-10)
    # A uniform grid integrates a smooth periodic function almost exactly; drop the core
    # functions it cannot resolve, and every periodic image must then be accounted for.
    tight = np.concatenate([np.repeat([max(sh.exponents) > 8.0 for sh in d.basis[s].shells],
                                      [sh.size for sh in d.basis[s].shells]) for s in crystal.get_chemical_symbols()])
    smooth = AtomicDensity(crystal, d.basis, np.where(tight, 0.0, d.coefficients))
    grid, values = smooth.on_grid(spacing=0.12)
    assert values.shape == grid.shape
    assert values.sum() * grid.voxel_volume == pytest.approx(smooth.n_electrons, rel=1e-7)


def test_cube_file_round_trip(tmp_path, water):
    from ase.io.cube import read_cube_data
    d = random_density(water, seed=6)
    grid = d.write_cube(tmp_path / "rho.cube", spacing=0.2, padding=3.0)
    data, atoms = read_cube_data(str(tmp_path / "rho.cube"))
    assert data.shape == grid.shape
    np.testing.assert_allclose(atoms.positions, water.positions, atol=1e-5)
    expected = d.evaluate(grid.points()) * Bohr**3  # cube files hold e/bohr^3
    np.testing.assert_allclose(data, expected, rtol=1e-4, atol=1e-10)


def test_bad_input_is_refused(water):
    d = random_density(water)
    nan = water.copy()
    nan.positions[1, 0] = np.nan
    with pytest.raises(InvalidStructureError, match="non-finite"):
        AtomicDensity(nan, d.basis, d.coefficients)
    stacked = water.copy()
    stacked.positions[2] = stacked.positions[0] + 0.01
    with pytest.raises(InvalidStructureError, match="overlapping atoms"):
        AtomicDensity(stacked, d.basis, d.coefficients)
    with pytest.raises(InvalidStructureError, match="no atoms"):
        AtomicDensity(Atoms(), d.basis, [])
    with pytest.raises(UnsupportedElementError, match="U.*supported: H He"):
        AtomicDensity(Atoms("U"), d.basis, [])
    with pytest.raises(ValueError, match="expected 102 coefficients"):
        AtomicDensity(water, d.basis, d.coefficients[:-1])


def test_work_does_not_grow_with_far_away_atoms(monkeypatch):
    """Screening: atoms 15 Å away add no work at a point, counted as (point, atom) evaluations."""
    import ase_e3density.electron.density as density_module
    evaluated = []
    original = density_module.evaluate_solid_harmonics
    monkeypatch.setattr(density_module, "evaluate_solid_harmonics",
                        lambda d, lmax: evaluated.append(len(d)) or original(d, lmax))
    chain = molecule("H2O")
    for k in range(1, 6):
        w = molecule("H2O")
        w.translate([15.0 * k, 0, 0])
        chain += w
    d = random_density(chain, seed=8)
    single = AtomicDensity(chain[:3], d.basis, d.coefficients[: d.offsets[3]])
    pts = np.random.default_rng(3).normal(size=(100, 3)) * 0.8
    single_values = single.evaluate(pts)
    single_work = sum(evaluated)
    evaluated.clear()
    np.testing.assert_allclose(d.evaluate(pts), single_values, atol=1e-10)
    assert sum(evaluated) == single_work > 0
