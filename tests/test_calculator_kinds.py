"""One calculator per model kind on a shared base: the factory, parameters that belong to another kind or
to none, and warnings that point at the caller's line."""
from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, molecule

from ase_e3density import E3DensityCalculator
from ase_e3density.calculator import ModelCalculator, PhononDOSCalculator
from ase_e3density.errors import CalculatorParameterError, DomainWarning


def test_factory_gives_the_calculator_of_the_file_kind():
    phonon = E3DensityCalculator(model="phonon", temperatures=[100, 300])
    assert type(phonon) is PhononDOSCalculator and isinstance(phonon, ModelCalculator)
    direct = PhononDOSCalculator(temperatures=[100, 300])  # the shipped phonon model by default
    cu = bulk("Cu", "fcc", 3.6)
    np.testing.assert_allclose(phonon.get_heat_capacity(cu), direct.get_heat_capacity(cu.copy()), rtol=1e-12)
    assert type(E3DensityCalculator()) is E3DensityCalculator


@pytest.mark.parametrize("make, message", [
    (lambda: E3DensityCalculator(model="phonon", charge=5), "PhononDOSCalculator .* does not take 'charge'; it takes "
                                                            "model, device, dtype, runtime, model_checksum, temperatures"),
    (lambda: E3DensityCalculator(temperatures=[1, 2]), "E3DensityCalculator .* does not take 'temperatures'; it takes "
                                                       "model, device, dtype, runtime, model_checksum, charge"),
    (lambda: E3DensityCalculator(charges=1), "does not take 'charges'"),
    (lambda: E3DensityCalculator(model="phonon", temperature=100), "does not take 'temperature'"),
    (lambda: E3DensityCalculator().set(temperature=100), "does not take 'temperature'"),
    (lambda: PhononDOSCalculator(model="default"), "default predicts electron density; PhononDOSCalculator is for "
                                                   "models of phonon density of states: use E3DensityCalculator"),
    (lambda: E3DensityCalculator().set(model="phonon"), "phonon predicts phonon density of states; "
                                                        "E3DensityCalculator is for models of electron density"),
    (lambda: E3DensityCalculator(runtime="onnx"), "runtime must be one of"),
])
def test_parameters_of_another_kind_or_of_none_are_refused(make, message):
    with pytest.raises(CalculatorParameterError, match=message):
        make()


def test_a_refused_set_keeps_the_calculator_as_it_was():
    calc = E3DensityCalculator(charge=0)
    with pytest.raises(CalculatorParameterError):
        calc.set(model="phonon")
    assert calc.parameters["model"] == "default" and calc.parameters["charge"] == 0.0
    atoms = molecule("H2O")
    atoms.calc = calc
    assert abs(calc.get_property("n_electrons", atoms) - 10.0) < 1e-9


def test_each_kind_pickles_to_its_own_class():
    for calc in (E3DensityCalculator(charge=-1), E3DensityCalculator(model="phonon", temperatures=[300])):
        again = pickle.loads(pickle.dumps(calc))
        assert type(again) is type(calc) and again.parameters == calc.parameters


def test_domain_warning_points_at_the_callers_line():
    atoms = Atoms("O")  # an isolated atom: outside the default model's domain
    atoms.calc = E3DensityCalculator()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        atoms.get_dipole_moment()
    found = [w for w in caught if issubclass(w.category, DomainWarning)]
    assert found and found[0].filename == __file__, [(w.filename, w.lineno) for w in found]
