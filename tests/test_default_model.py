"""The embedded default model: loads with no argument and predicts a water dimer it never saw."""
import json
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from scipy.spatial.transform import Rotation

from ase_e3density import E3DensityCalculator
from ase_e3density.train.config import TrainConfig


@pytest.fixture(scope="module")
def dimer():
    ref = json.loads((Path(__file__).parent / "data" / "water_dimer_s22.json").read_text())
    return Atoms(ref["symbols"], positions=ref["positions"]), np.array(ref["dft_dipole"])


def test_default_model_water_dimer_dipole(dimer):
    """Measured: 0.0018 e·Å from PBE0/cc-pVDZ (0.3 % of 0.566 e·Å; the model before the fragment dipole term
    0.0006); the density fit itself is off by ~0.002."""
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
    program, verb, config_file = prov["command"].split()
    assert (program, verb) == ("e3density", "train") and prov["seed"] == 2026
    # made by configs/water_default.yaml, or by a configuration in the repo that differs from it only in
    # its output folder (the loss ablation arm that won is the shipped file)
    root = Path(__file__).resolve().parents[1]
    made_by = TrainConfig.from_yaml(root / config_file)
    default = TrainConfig.from_yaml(root / "configs" / "water_default.yaml")
    assert made_by.train_paths() == default.train_paths()
    assert [p.name for p in default.train_paths()] == ["train.db", "train_large.db", "train_more.db"]

    def settings(config: TrainConfig) -> dict:
        return {k: v for k, v in config.to_dict().items() if k not in ("train", "output")}

    assert settings(made_by) == settings(default)
    assert all(not Path(t).is_absolute() for t in prov["train"])  # relative to the configuration
    val = prov["validation_metrics"]
    assert val["n_structures"] == prov["n_val"] == 54
    assert 0.2 < val["eps"] < 0.35 and set(f"eps_l{l}" for l in range(5)) <= set(val)


def test_default_model_dipole_of_a_held_out_12_water_cluster():
    """The first 12-water cluster of the held-out set (tests/data/water_12_held_out.json, made by
    scripts/make_test_references.py), against its exact PBE0/cc-pVDZ dipole, in % of sqrt(n) mu_monomer.
    Measured: 4.7 % (0.054 e·Å); the model before the fragment dipole term 6.1 %, before the fragment term 6.0 %,
    before the 12- and 16-water training pool 5.8 %, the one trained on 1-4 waters only 17 %. The goal is 2.5 %."""
    ref = json.loads((Path(__file__).parent / "data" / "water_12_held_out.json").read_text())
    atoms = Atoms(ref["symbols"], positions=ref["positions"])
    atoms.calc = E3DensityCalculator()
    error = np.linalg.norm(atoms.get_dipole_moment() - ref["dft_dipole"])
    assert 100 * error / (np.sqrt(ref["n_molecules"]) * ref["mu_monomer"]) < 5.5
