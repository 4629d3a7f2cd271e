"""E3DensityCalculator on ASE Atoms: properties, caching, ASE's parameter protocol, pickling."""
import pickle

import numpy as np
import pytest
from ase import Atoms
from ase.build import molecule
from ase.calculators.calculator import Calculator

from ase_e3density import E3DensityCalculator, InvalidStructureError, ModelFileError, UnsupportedElementError
from ase_e3density.errors import CalculatorParameterError
from ase_e3density.models import DeployedDensityModel, deploy, load_model
from ase_e3density.models.format import read_metadata
from model_helpers import predict, small_model


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("calc") / "model.pt"
    deploy(small_model(), path)
    return path


@pytest.fixture(scope="module")
def other_model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("calc2") / "other.pt"
    deploy(small_model(seed=1), path)
    return path


def test_properties_are_the_models(model_file):
    atoms = molecule("CH3CN")
    atoms.calc = E3DensityCalculator(model_file)
    density = atoms.calc.get_atomic_density(atoms)
    np.testing.assert_allclose(atoms.calc.get_property("density_coefficients", atoms), predict(small_model(), atoms),
                               atol=1e-9)
    np.testing.assert_array_equal(atoms.get_charges(), density.charges)
    np.testing.assert_array_equal(atoms.get_dipole_moment(), density.dipole)
    np.testing.assert_array_equal(atoms.calc.get_property("quadrupole", atoms), density.quadrupole)
    assert atoms.calc.get_property("n_electrons", atoms) == pytest.approx(22.0, abs=1e-9)


def count_predictions(monkeypatch) -> list:
    calls = []
    original = DeployedDensityModel._run
    monkeypatch.setattr(DeployedDensityModel, "_run", lambda *a, **k: calls.append(1) or original(*a, **k))
    return calls


def test_cached_until_atoms_or_charge_change(model_file, monkeypatch):
    atoms = molecule("H2O")
    atoms.calc = E3DensityCalculator(model_file)
    calls = count_predictions(monkeypatch)
    atoms.get_charges()
    atoms.get_dipole_moment()
    assert len(calls) == 1
    atoms.positions[0, 0] += 0.05
    atoms.get_dipole_moment()
    assert len(calls) == 2
    atoms.info["charge"] = 1
    assert atoms.calc.get_property("n_electrons", atoms) == pytest.approx(9.0, abs=1e-9)
    assert len(calls) == 3


def test_parameters_follow_ase(model_file, other_model_file, monkeypatch):
    calc = E3DensityCalculator(model_file, charge=-1)
    atoms = molecule("H2O")
    atoms.calc = calc
    assert atoms.get_charges().sum() == pytest.approx(-1.0, abs=1e-9)
    assert calc.parameters["model"] == str(model_file) and calc.parameters["charge"] == -1.0
    assert calc.parameters["model_checksum"] == read_metadata(model_file)["checksum"]
    calls = count_predictions(monkeypatch)
    assert calc.set(charge=0) == {"charge": 0.0}
    assert calc.results == {}  # a changed parameter discards results, as in every ASE calculator
    assert atoms.get_charges().sum() == pytest.approx(0.0, abs=1e-9) and len(calls) == 1
    assert calc.set(charge=0) == {}  # unchanged: results kept
    atoms.get_charges()
    assert len(calls) == 1
    before = atoms.get_dipole_moment()
    calc.set(model=str(other_model_file))
    assert calc.parameters["model_checksum"] == read_metadata(other_model_file)["checksum"]
    assert np.abs(atoms.get_dipole_moment() - before).max() > 1e-4  # another network, another answer


def test_todict_records_model_and_charge_and_reproduces_the_calculator(model_file):
    atoms = molecule("H2O")
    atoms.info["charge"] = 1
    atoms.calc = E3DensityCalculator(model_file)
    dipole = atoms.get_dipole_moment()
    recorded = atoms.calc.todict()
    assert recorded["model"] == str(model_file) and recorded["charge"] == 1.0
    assert recorded["model_checksum"] == read_metadata(model_file)["checksum"]
    again = molecule("H2O")
    again.calc = E3DensityCalculator(**recorded)
    np.testing.assert_allclose(again.get_dipole_moment(), dipole, atol=1e-12)
    with pytest.raises(ModelFileError, match="another file than the one asked for"):
        E3DensityCalculator(**dict(recorded, model_checksum="0" * 64))


def test_ase_db_row_records_model_checksum_and_charge(model_file, tmp_path):
    from ase.db import connect

    atoms = molecule("H2O")
    atoms.calc = E3DensityCalculator(model_file, charge=-1)
    atoms.get_dipole_moment()
    db = connect(tmp_path / "results.db")
    db.write(atoms)
    row = db.get(id=1)
    assert row.calculator == "e3densitycalculator"
    assert row.calculator_parameters["model_checksum"] == read_metadata(model_file)["checksum"]
    assert row.calculator_parameters["charge"] == -1.0 and row.calculator_parameters["model"] == str(model_file)
    np.testing.assert_allclose(row.dipole, atoms.get_dipole_moment())


def test_pickled_atoms_keep_their_calculator(model_file):
    atoms = molecule("CH3CN")
    atoms.calc = E3DensityCalculator(model_file)
    dipole = atoms.get_dipole_moment()
    clone = pickle.loads(pickle.dumps(atoms))
    np.testing.assert_array_equal(clone.get_dipole_moment(), dipole)  # cached results travel
    clone.positions[0, 2] += 0.1
    fresh = molecule("CH3CN")
    fresh.positions[0, 2] += 0.1
    fresh.calc = E3DensityCalculator(model_file)
    np.testing.assert_allclose(clone.get_dipole_moment(), fresh.get_dipole_moment(), atol=1e-12)


def test_loaded_models_are_shared(model_file):
    assert E3DensityCalculator(model_file).model is E3DensityCalculator(model_file).model
    assert load_model(model_file, dtype="float32") is not load_model(model_file)


def test_float32_matches_float64(model_file):
    a64, a32 = molecule("H2O"), molecule("H2O")
    a64.calc = E3DensityCalculator(model_file)
    a32.calc = E3DensityCalculator(model_file, dtype="float32")
    np.testing.assert_allclose(a32.get_dipole_moment(), a64.get_dipole_moment(), atol=1e-4)
    assert a32.calc.get_property("n_electrons", a32) == pytest.approx(10.0, abs=1e-10)


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
    with pytest.raises(CalculatorParameterError, match="not int"):
        E3DensityCalculator(model=123)
    with pytest.raises(CalculatorParameterError, match="dtype must be"):
        E3DensityCalculator(model_file, dtype="int32")
    with pytest.raises(CalculatorParameterError, match="unknown device"):
        E3DensityCalculator(model_file, device="gpu")
    with pytest.raises(ValueError, match="charge must be finite"):
        E3DensityCalculator(model_file, charge=float("nan"))


def test_isolated_atom(model_file):
    atoms = Atoms("O")
    atoms.calc = E3DensityCalculator(model_file)
    assert atoms.calc.get_property("n_electrons", atoms) == pytest.approx(8.0, abs=1e-9)
    np.testing.assert_allclose(atoms.get_dipole_moment(), 0.0, atol=1e-12)  # one spherical-or-not atom at the origin of its own multipoles


def test_shipped_models_by_name_and_missing_default(monkeypatch):
    import ase_e3density.models.shipped as shipped
    assert isinstance(E3DensityCalculator("default"), Calculator)
    monkeypatch.setattr(shipped, "_models_folder", lambda: __import__("pathlib").Path("/nonexistent"))
    with pytest.raises(ModelFileError, match="ships no 'default' model"):
        E3DensityCalculator()
    with pytest.raises(ModelFileError, match="no shipped model named 'mace'"):
        E3DensityCalculator("mace")


def test_electrostatics_on_the_calculator(model_file, monkeypatch):
    atoms = molecule("H2O")
    atoms.calc = E3DensityCalculator(model_file)
    calls = count_predictions(monkeypatch)
    density = atoms.calc.get_atomic_density(atoms)
    points = np.array([[0.0, 0.0, 3.0], [2.5, 1.0, -1.0]])
    np.testing.assert_array_equal(atoms.calc.get_electrostatic_potential(atoms, points),
                                  density.electrostatic_potential(points))
    np.testing.assert_array_equal(atoms.calc.get_electric_field(atoms, points), density.electric_field(points))
    q = atoms.calc.get_esp_charges(atoms)
    assert q.sum() == pytest.approx(density.total_charge, abs=1e-12)
    np.testing.assert_array_equal(atoms.calc.get_property("esp_charges", atoms), q)
    surface, potential = atoms.calc.get_surface_potential(atoms)
    assert surface.shape == (len(potential), 3) and len(potential) > 50
    assert len(calls) == 1  # one prediction serves every electrostatic property
    atoms.positions[0, 2] += 0.05
    assert not np.array_equal(atoms.calc.get_esp_charges(atoms), q)
    assert len(calls) == 2


def test_float32_model_far_from_the_origin_gives_the_same_numbers():
    """Positions are centred in float64 before they become float32: 100 km away, a float32 network still
    sees the molecule's own geometry (uncentred, float32 keeps 8 mÅ there)."""
    here, far = molecule("H2O"), molecule("H2O")
    far.positions += 1e5
    for atoms in (here, far):
        atoms.calc = E3DensityCalculator(dtype="float32")
    np.testing.assert_allclose(far.get_charges(), here.get_charges(), atol=1e-9)
    np.testing.assert_allclose(far.get_dipole_moment(), here.get_dipole_moment(), atol=1e-9)


def test_writer_lock_excludes_a_second_writer_and_leaves_no_file(tmp_path):
    from ase_e3density.errors import E3DensityError
    from ase_e3density.fileio import exclusive_writer

    target = tmp_path / "out.db"
    with exclusive_writer(target, "database"):
        with pytest.raises(E3DensityError, match="another process is writing"):
            with exclusive_writer(target, "database"):
                pass
    assert list(tmp_path.iterdir()) == []
    with exclusive_writer(target, "database"):  # and it can be taken again
        pass
