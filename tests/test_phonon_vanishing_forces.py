"""A calculator whose forces vanish on every displaced supercell (K, Rb, Cs relaxed by SevenNet-l3i5 beyond
its cutoff) is refused in one line before phonopy, and that line is the failure row's error."""
from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.calculator import Calculator, all_changes

from ase_e3density.errors import E3DensityError
from ase_e3density.phonon.reference import (VANISHING_FORCE, PhononSettings, VanishingForcesError,
                                            nearest_neighbour_distance, reference_phonons)

pytest.importorskip("phonopy")

MESSAGE = (r"^forces vanish on every displaced supercell \(largest 0\.0e\+00 eV/Å for 1 displacement\(s\) of 0\.01 Å\): "
           r"the relaxed cell \(nearest neighbour 4\.50 Å, 70\.1 Å\^3 per atom\) puts the neighbours beyond the "
           r"potential's reach$")


class NoNeighbours(Calculator):
    """Atoms that feel nothing: zero energy, forces and stress (a potential whose cutoff they lie beyond)."""

    implemented_properties = ["energy", "forces", "stress"]

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        self.results = {"energy": 0.0, "forces": np.zeros((len(self.atoms), 3)), "stress": np.zeros(6)}


def potassium():
    """bcc K with a = 4.5 * 2 / sqrt(3) Å: nearest neighbours 4.50 Å apart, 70.1 Å^3 per atom."""
    return bulk("K", "bcc", a=4.5 * 2 / np.sqrt(3))


def test_vanishing_forces_are_refused_before_phonopy():
    atoms = potassium()
    assert nearest_neighbour_distance(atoms) == pytest.approx(4.5, abs=1e-9)
    with pytest.raises(VanishingForcesError, match=MESSAGE) as caught:
        reference_phonons(atoms, NoNeighbours(), PhononSettings(calculator="none", min_width=8.0, mesh=10.0))
    assert isinstance(caught.value, E3DensityError) and "\n" not in str(caught.value)
    assert VANISHING_FORCE == 1e-6


def test_a_real_calculator_is_not_refused():
    from ase.calculators.emt import EMT

    dos = reference_phonons(bulk("Cu", "fcc", 3.61), EMT(), PhononSettings(min_width=6.0, mesh=8.0, relax="none")).dos
    assert dos.max_frequency > 5.0  # THz


def test_the_failure_row_names_it(tmp_path):
    """Through the generator (`e3density phonons`' engine): the structure becomes a failure row whose error
    is the one line, and the run goes on."""
    from ase.db import connect

    from ase_e3density.engine import failures_path
    from ase_e3density.generate import PhononSettings as Settings
    from ase_e3density.generate import phonons

    calculator = f"{__name__}:NoNeighbours"
    summary = phonons([("K-bcc", potassium())], tmp_path / "out.db",
                      Settings(calculator=calculator, min_width=8.0, mesh=10.0))
    assert summary.failed == 1 and summary.done == 0
    rows = list(connect(failures_path(tmp_path / "out.db")).select())
    assert len(rows) == 1 and rows[0].source == "K-bcc" and rows[0].status == "failed"
    assert rows[0].error.startswith("VanishingForcesError: forces vanish on every displaced supercell (largest 0.0e+00")
    assert rows[0].error.endswith("nearest neighbour 4.50 Å, 70.1 Å^3 per atom) puts the neighbours beyond the "
                                  "potential's reach")
