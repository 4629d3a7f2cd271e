"""The embedded default model: loads with no argument and predicts a water dimer it never saw."""
import json
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from scipy.spatial.transform import Rotation

from ase_e3density import E3DensityCalculator


@pytest.fixture(scope="module")
def dimer():
    ref = json.loads((Path(__file__).parent / "data" / "water_dimer_s22.json").read_text())
    return Atoms(ref["symbols"], positions=ref["positions"]), np.array(ref["dft_dipole"])


def test_default_model_water_dimer_dipole(dimer):
    """Measured: 0.0010 e·Å from PBE0/cc-pVDZ (0.18 % of 0.566 e·Å); the density fit itself is off by ~0.002."""
    atoms, dft = dimer
    atoms = atoms.copy()
    atoms.calc = E3DensityCalculator()
    dipole = atoms.get_dipole_moment()
    assert np.linalg.norm(dipole - dft) < 0.004
    assert atoms.calc.get_property("n_electrons", atoms) == pytest.approx(20.0, abs=1e-9)
    rotation = Rotation.from_euler("xyz", [30, -70, 110], degrees=True).as_matrix()
    turned = atoms.copy()
    turned.positions = atoms.positions @ rotation.T
    turned.calc = E3DensityCalculator()
    np.testing.assert_allclose(turned.get_dipole_moment(), rotation @ dipole, atol=1e-5)  # float32 network


def test_default_model_records_where_it_came_from():
    meta = E3DensityCalculator().model.metadata
    assert meta["species"] == ["H", "O"] and meta["basis"]["name"] == "def2-universal-jfit-decontracted"
    prov = meta["provenance"]
    assert prov["command"] == "e3density train configs/water_default.yaml" and prov["seed"] == 2026
    # relative to the configuration, not a machine's path
    assert prov["train"] == ["../data/water/train.db", "../data/water/train_large.db", "../data/water/train_more.db"]
    val = prov["validation_metrics"]
    assert val["n_structures"] == prov["n_val"] == 54
    assert 0.2 < val["eps"] < 0.35 and set(f"eps_l{l}" for l in range(5)) <= set(val)


def test_default_model_dipole_of_a_held_out_12_water_cluster():
    """The first 12-water cluster of the held-out set (tests/data/water_12_held_out.json, made by
    scripts/make_test_references.py), against its exact PBE0/cc-pVDZ dipole, in % of sqrt(n) mu_monomer.
    Measured: 6.0 % (0.068 e·Å); the model before the 12- and 16-water training pool 5.8 %, the one trained on
    1-4 waters only 17 %. The goal is 2.5 %."""
    ref = json.loads((Path(__file__).parent / "data" / "water_12_held_out.json").read_text())
    atoms = Atoms(ref["symbols"], positions=ref["positions"])
    atoms.calc = E3DensityCalculator()
    error = np.linalg.norm(atoms.get_dipole_moment() - ref["dft_dipole"])
    assert 100 * error / (np.sqrt(ref["n_molecules"]) * ref["mu_monomer"]) < 7.0
