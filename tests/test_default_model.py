"""The embedded default model: loads with no argument and predicts a water dimer it never saw."""
import json
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms

from ase_e3density import E3DensityCalculator


def test_default_model_water_dimer_dipole():
    ref = json.loads((Path(__file__).parent / "data" / "water_dimer_s22.json").read_text())
    atoms = Atoms(ref["symbols"], positions=ref["positions"])
    atoms.calc = E3DensityCalculator()
    dipole, dft = atoms.get_dipole_moment(), np.array(ref["dft_dipole"])
    assert np.linalg.norm(dipole - dft) < 0.10 * np.linalg.norm(dft)
    assert atoms.calc.get_property("n_electrons", atoms) == pytest.approx(20.0, abs=1e-9)
    meta = atoms.calc.model.metadata
    assert meta["species"] == ["H", "O"] and meta["basis"]["name"] == "def2-universal-jfit-decontracted"
