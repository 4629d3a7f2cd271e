"""E3DensityCalculator on ASE Atoms."""
import numpy as np
import pytest
from ase import Atoms
from ase.build import molecule

from ase_e3density import E3DensityCalculator, InvalidStructureError, ModelFileError, UnsupportedElementError
from ase_e3density.deploy import deploy
from model_helpers import small_model


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("calc") / "model.pt"
    deploy(small_model(), path)
    return path


def test_properties_through_ase(model_file, tmp_path):
    atoms = molecule("CH3CN")
    atoms.calc = E3DensityCalculator(model_file)
    charges, dipole = atoms.get_charges(), atoms.get_dipole_moment()
    assert charges.shape == (6,) and charges.sum() == pytest.approx(0.0, abs=1e-9)
    quad = atoms.calc.get_property("quadrupole", atoms)
    assert quad.shape == (3, 3) and np.trace(quad) == pytest.approx(0.0, abs=1e-9)
    assert atoms.calc.get_property("n_electrons", atoms) == pytest.approx(22.0, abs=1e-9)
    density = atoms.calc.get_atomic_density(atoms)
    np.testing.assert_allclose(density.dipole, dipole)
    assert len(atoms.calc.get_property("density_coefficients", atoms)) == len(density.coefficients)
    density.write_cube(tmp_path / "rho.cube", spacing=0.25)
    assert (tmp_path / "rho.cube").stat().st_size > 1000


def test_cached_until_atoms_or_charge_change(model_file, monkeypatch):
    atoms = molecule("H2O")
    calc = E3DensityCalculator(model_file)
    atoms.calc = calc
    calls = []
    original = calc.model.predict
    monkeypatch.setattr(calc.model, "predict", lambda *a, **k: calls.append(1) or original(*a, **k))
    atoms.get_charges()
    atoms.get_dipole_moment()
    assert len(calls) == 1
    atoms.positions[0, 0] += 0.05
    atoms.get_dipole_moment()
    assert len(calls) == 2
    atoms.info["charge"] = 1
    assert atoms.calc.get_property("n_electrons", atoms) == pytest.approx(9.0, abs=1e-9)
    assert len(calls) == 3


def test_charge_argument(model_file):
    atoms = molecule("H2O")
    atoms.calc = E3DensityCalculator(model_file, charge=-1)
    assert atoms.get_charges().sum() == pytest.approx(-1.0, abs=1e-9)


def test_float32_matches_float64(model_file):
    a64, a32 = molecule("H2O"), molecule("H2O")
    a64.calc = E3DensityCalculator(model_file)
    a32.calc = E3DensityCalculator(model_file, dtype="float32")
    np.testing.assert_allclose(a32.get_dipole_moment(), a64.get_dipole_moment(), atol=1e-4)


def test_bad_input(model_file):
    calc = E3DensityCalculator(model_file)
    for atoms, error, pattern in [
        (Atoms("SiH4", positions=np.random.default_rng(0).normal(size=(5, 3)) * 2), UnsupportedElementError,
         r"Si.*supported: H C N O"),
        (Atoms(), InvalidStructureError, "no atoms"),
        (Atoms("H2", positions=[[0, 0, 0], [np.nan, 0, 0]]), InvalidStructureError, "non-finite"),
        (Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.001]]), InvalidStructureError, "overlapping"),
    ]:
        atoms.calc = calc
        with pytest.raises(error, match=pattern):
            atoms.calc.get_property("dipole", atoms)


def test_isolated_atom_and_no_neighbours(model_file):
    atoms = Atoms("O")
    atoms.calc = E3DensityCalculator(model_file)
    assert atoms.calc.get_property("n_electrons", atoms) == pytest.approx(8.0, abs=1e-9)
    np.testing.assert_allclose(atoms.get_dipole_moment(), 0.0, atol=1e-9)


def test_missing_default_model_is_explained(monkeypatch):
    import ase_e3density.calculator as calc_module
    monkeypatch.setattr(calc_module, "resources", type("R", (), {"files": staticmethod(lambda _: __import__("pathlib").Path("/nonexistent"))}))
    with pytest.raises(ModelFileError, match="no default model"):
        E3DensityCalculator()
