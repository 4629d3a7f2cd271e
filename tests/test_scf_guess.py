"""PySCF initial guesses from densities and from the default model: same converged energies."""
import numpy as np
import pytest
from ase import Atoms
from ase.build import molecule

from ase_e3density import E3DensityError

pytest.importorskip("pyscf")
from pyscf import dft  # noqa: E402

from ase_e3density.electron.reference import dft_density, run_dft  # noqa: E402
from ase_e3density.electron.scf_guess import build_mole, guess_from_density  # noqa: E402


def water_dimer() -> Atoms:
    return Atoms("OH2OH2", [[-1.551007, -0.114520, 0.0], [-1.934259, 0.762503, 0.0], [-0.599677, 0.040712, 0.0],
                            [1.350625, 0.111469, 0.0], [1.680398, -0.373741, -0.758561],
                            [1.680398, -0.373741, 0.758561]])


def _scf(mol, dm0=None, init_guess="minao"):
    mf = (dft.RKS(mol) if mol.spin == 0 else dft.UKS(mol))
    mf.xc, mf.conv_tol, mf.grids.level, mf.init_guess = "PBE0", 1e-10, 3, init_guess
    energy = mf.kernel(dm0=dm0)
    assert mf.converged
    return energy, mf.cycles


@pytest.mark.parametrize("atoms", [pytest.param(molecule("H2O"), id="water"),
                                   pytest.param(water_dimer(), id="dimer", marks=pytest.mark.slow)])
def test_default_model_guess_gives_pyscfs_energy(atoms):
    from ase_e3density import initial_guess

    n_electrons = atoms.get_atomic_numbers().sum()
    mol = build_mole(atoms)
    dm0 = initial_guess(atoms, mol=mol)  # the shipped default model
    assert dm0.shape == (mol.nao, mol.nao)
    assert np.einsum("ij,ji->", dm0, mol.intor("int1e_ovlp")) == pytest.approx(n_electrons, abs=1e-8)
    reference, _ = _scf(mol)
    energy, _ = _scf(mol, dm0)
    assert energy == pytest.approx(reference, abs=1e-7)


@pytest.mark.slow
def test_fitted_dft_density_guess_converges_fast_open_and_closed_shell():
    water = molecule("H2O")
    mol = build_mole(water)
    density = dft_density(water)
    minao = _scf(mol)
    fitted = _scf(mol, guess_from_density(density, mol))
    assert fitted[0] == pytest.approx(minao[0], abs=1e-7) and fitted[1] < minao[1]
    hydroxyl = Atoms("OH", [[0, 0, 0], [0, 0, 0.97]])
    mol = build_mole(hydroxyl)  # doublet
    dm0 = guess_from_density(dft_density(hydroxyl), mol)
    assert dm0.shape == (2, mol.nao, mol.nao)
    # the degenerate pi level lets UKS land up to 2e-7 Ha on either side of 'minao' (both seen)
    assert _scf(mol, dm0)[0] == pytest.approx(_scf(mol)[0], abs=1e-6)


def test_guess_refuses_mismatches():
    water = molecule("H2O")
    density = dft_density(water)
    with pytest.raises(E3DensityError, match="electrons"):
        guess_from_density(density, build_mole(water, charge=1, spin=1))
    moved = water.copy()
    moved.positions[0, 0] += 0.1
    with pytest.raises(E3DensityError, match="positions"):
        guess_from_density(density, build_mole(moved))


def test_run_dft_takes_a_guess_and_counts_iterations():
    water = molecule("H2O")
    minao = run_dft(water)
    model = run_dft(water, guess=lambda mol: guess_from_density(dft_density(water), mol))
    assert model.energy == pytest.approx(minao.energy, abs=1e-6)  # eV
    assert 0 < model.info["scf_cycles"] < minao.info["scf_cycles"]


@pytest.mark.slow
def test_cli_reference_with_the_models_guess(tmp_path, capsys):
    from ase.io import write

    from ase_e3density.cli import main

    write(tmp_path / "w.xyz", molecule("H2O"))
    assert main(["reference", str(tmp_path / "w.xyz"), "-o", str(tmp_path / "r.db"), "--guess", "model"]) == 0
    assert "SCF iterations" in capsys.readouterr().err


def test_one_grid_pass_gives_each_functionals_potential():
    from pyscf import dft as pyscf_dft

    from ase_e3density.electron.scf_guess import _auxmol, xc_matrices, xc_matrix

    water = molecule("H2O")
    mol = build_mole(water)
    auxmol, c = _auxmol(dft_density(water), mol)
    grids = pyscf_dft.gen_grid.Grids(mol)
    grids.level = 1
    grids.build()
    both = xc_matrices(mol, auxmol, c, ["PBE", "LDA,VWN"], grids)
    for functional, matrix in zip(["PBE", "LDA,VWN"], both):
        assert np.abs(matrix - xc_matrix(mol, auxmol, c, functional, grids)).max() < 1e-12
        assert np.abs(matrix - matrix.T).max() < 1e-12
    assert np.abs(both[0] - both[1]).max() > 1e-3


@pytest.mark.parametrize("options", [{"grid_level": 3}, {"exact_exchange": False}], ids=["grid3", "one_step"])
def test_guess_options_give_pyscfs_energy(options):
    water = molecule("H2O")
    mol = build_mole(water)
    density = dft_density(water)
    dm0 = guess_from_density(density, mol, **options)
    assert np.einsum("ij,ji->", dm0, mol.intor("int1e_ovlp")) == pytest.approx(10, abs=1e-8)
    # tagged with its orbitals, as PySCF's own guesses are (its first Fock build uses them)
    assert np.abs((dm0.mo_coeff * dm0.mo_occ) @ dm0.mo_coeff.T - dm0).max() < 1e-12 and dm0.mo_occ.sum() == 10
    assert _scf(mol, dm0)[0] == pytest.approx(_scf(mol)[0], abs=1e-7)


def test_exact_exchange_step_open_shell_and_pure_functionals():
    hydroxyl = Atoms("OH", [[0, 0, 0], [0, 0, 0.97]])
    mol = build_mole(hydroxyl)
    density = dft_density(hydroxyl, spin=1)
    dm0 = guess_from_density(density, mol, exact_exchange=True)
    overlap = mol.intor("int1e_ovlp")
    assert dm0.shape == (2, mol.nao, mol.nao)
    assert [np.einsum("ij,ji->", d, overlap) for d in dm0] == pytest.approx([5, 4], abs=1e-8)
    for d, c, n in zip(dm0, dm0.mo_coeff, dm0.mo_occ):
        assert np.abs((c * n) @ c.T - d).max() < 1e-12
    # a pure functional has no exact exchange: the option changes nothing
    assert np.allclose(guess_from_density(density, mol, xc="PBE", exact_exchange=True),
                       guess_from_density(density, mol, xc="PBE", exact_exchange=False), atol=1e-12)
