"""Isotopes: masses of one's own in phonopy, the reference generator and the phonon model."""
import warnings

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk
from ase.calculators.emt import EMT

from ase_e3density import E3DensityCalculator
from ase_e3density.errors import DomainWarning, InvalidStructureError
from ase_e3density.graph.masses import mass_scale, site_mass_ratios
from ase_e3density.models import deploy, load_model
from ase_e3density.nn import PhononDOSModel, PhononModelConfig
from emt_phonopy import emt_phonopy

phonopy = pytest.importorskip("phonopy")
pytestmark = pytest.mark.filterwarnings("ignore:primitive_matrix defaulted to 'auto'")

SPECIES = ["Al", "Ni", "Cu", "Au"]
CU = 63.546
CU65 = 64.9277897  # amu, 65Cu


def with_masses(atoms: Atoms, masses) -> Atoms:
    atoms = atoms.copy()
    atoms.set_masses(masses)
    return atoms


def phonopy_frequencies(atoms: Atoms, masses, mesh=(6, 6, 6)) -> np.ndarray:
    """phonopy's own mesh frequencies (THz) with EMT forces in the doubled cell, the masses given to phonopy
    with the structure."""
    from phonopy.structure.atoms import PhonopyAtoms

    unit = PhonopyAtoms(symbols=atoms.get_chemical_symbols(), cell=atoms.cell.array,
                        scaled_positions=atoms.get_scaled_positions(), masses=masses)
    ph = emt_phonopy(unit)
    ph.run_mesh(list(mesh), is_gamma_center=True)
    return np.asarray(ph.mesh.frequencies)


def test_phonopy_scales_a_monatomic_crystal_by_the_root_of_the_mass_ratio():
    cu = bulk("Cu", "fcc", a=3.59, cubic=True)
    natural = phonopy_frequencies(cu, [CU] * 4)
    heavy = phonopy_frequencies(cu, [CU65] * 4)
    assert natural.max() > 5
    np.testing.assert_allclose(heavy, natural * np.sqrt(CU / CU65), rtol=1e-10, atol=1e-8)


@pytest.fixture(scope="module")
def settings():
    from ase_e3density.phonon.reference import PhononSettings

    return PhononSettings(relax="none", min_width=7.0, mesh=(6, 6, 6))


def test_reference_generator_takes_the_masses_of_the_atoms(settings):
    from ase_e3density.phonon.reference import reference_phonons

    cu = bulk("Cu", "fcc", a=3.59)
    natural = reference_phonons(cu, EMT(), settings)
    heavy = reference_phonons(with_masses(cu, [CU65]), EMT(), settings)
    np.testing.assert_allclose(heavy.dos.modes[0], natural.dos.modes[0] * np.sqrt(CU / CU65), rtol=1e-9, atol=1e-8)
    assert heavy.relaxed.get_masses()[0] == CU65
    # a compound: Cu3Au with 65Cu equals phonopy's own frequencies with those masses, and differs from natural
    cu3au = bulk("Cu", "fcc", a=3.75, cubic=True)
    cu3au.symbols[0] = "Au"
    masses = np.where(np.array(cu3au.get_chemical_symbols()) == "Cu", CU65, 196.966570)
    result = reference_phonons(with_masses(cu3au, masses), EMT(), settings)
    assert result.supercell_matrix.tolist() == (np.eye(3, dtype=int) * 2).tolist()  # phonopy_frequencies' cell
    ours = np.sort(result.dos.modes[0], axis=1)
    theirs = np.sort(phonopy_frequencies(cu3au, masses), axis=1)
    np.testing.assert_allclose(ours[:, 3:], theirs[:, 3:], rtol=1e-6, atol=1e-6)  # beyond the Gamma acoustic zeros
    natural = np.sort(phonopy_frequencies(cu3au, cu3au.get_masses()), axis=1)
    assert np.abs(natural - theirs).max() > 0.05


def test_reference_generator_refuses_one_element_with_two_masses(settings):
    from ase_e3density.phonon.reference import mass_labels, reference_phonons

    cu = bulk("Cu", "fcc", a=3.59, cubic=True)
    mixed = with_masses(cu, [CU65, CU, CU, CU])
    with pytest.raises(InvalidStructureError, match=r"^structure: the Cu atoms have different masses \(63.546 to "
                                                    r"64.9278 amu\); phonopy's symmetry sees elements only"):
        reference_phonons(mixed, EMT(), settings)
    # uids: standard masses add nothing (old uids stay), isotopes a label
    assert mass_labels(cu) == () and mass_labels(with_masses(cu, cu.get_masses())) == ()
    assert mass_labels(with_masses(cu, [CU65] * 4)) == (f"masses={CU65:.6f} {CU65:.6f} {CU65:.6f} {CU65:.6f}",)


@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    torch.manual_seed(2)
    model = PhononDOSModel(PhononModelConfig(species=SPECIES, hidden={0: 8, 1: 4, 2: 2}, n_layers=3, radial_hidden=8,
                                             n_bins=38, max_frequency=13.0), dtype=torch.float64)
    with torch.no_grad():
        model.head.weight.normal_(0, 2.0)
    path = tmp_path_factory.mktemp("isotopes") / "phonon.pt"
    deploy(model, path, provenance={"test": "isotopes"})
    return load_model(path)


@pytest.mark.parametrize("crystal, factor", [
    (bulk("Cu", "fcc", a=3.59), CU65 / CU),                          # one isotope, the phonopy test's factor
    (bulk("Cu", "fcc", a=3.59, cubic=True), 2.0),                     # any cell of it
    (bulk("NiAl", "cesiumchloride", a=2.88), 1.7),                    # a compound, all masses scaled alike
])
def test_model_scales_exactly_when_all_masses_scale_alike(runtime, crystal, factor):
    natural = runtime.predict_dos(crystal)
    heavy = runtime.predict_dos(with_masses(crystal, crystal.get_masses() * factor))
    root = np.sqrt(factor)
    np.testing.assert_allclose(heavy.frequencies, natural.frequencies / root, rtol=1e-12)
    np.testing.assert_allclose(heavy.dos, natural.dos * root, rtol=1e-12, atol=1e-12)
    for symbol in natural.partials:
        np.testing.assert_allclose(heavy.partial(symbol), natural.partial(symbol) * root, rtol=1e-12, atol=1e-12)
    assert heavy.integrate() == pytest.approx(3.0, abs=1e-12)
    assert heavy.info["domain_warnings"] == [] and heavy.info["mass_scale"] == pytest.approx(factor)
    # heat capacity depends on h nu / kT only: the heavy crystal at T is the natural one at T sqrt(factor)
    for t in (30.0, 100.0, 300.0):
        assert heavy.heat_capacity(t) == pytest.approx(natural.heat_capacity(t * root), rel=1e-9)
    # gravimetric heat capacity divides by the masses given
    np.testing.assert_allclose(heavy.atoms.get_masses(), crystal.get_masses() * factor, rtol=1e-12)
    assert heavy.gravimetric_heat_capacity(1e4) == pytest.approx(natural.gravimetric_heat_capacity(1e4) / factor,
                                                                 rel=1e-4)


def test_standard_masses_set_explicitly_change_nothing(runtime):
    cu3au = bulk("Cu", "fcc", a=3.75, cubic=True)
    cu3au.symbols[0] = "Au"
    np.testing.assert_array_equal(runtime.predict_dos(with_masses(cu3au, cu3au.get_masses())).dos,
                                  runtime.predict_dos(cu3au).dos)
    # a virtual crystal with its majority element's standard mass (a file round trip) or its mean mass
    cu = bulk("Cu", "fcc", a=3.7)
    occupancy = [{"Cu": 0.5, "Au": 0.5}]
    plain = runtime.predict_dos(cu, occupancy)
    for masses in ([CU], plain.atoms.get_masses()):
        np.testing.assert_array_equal(runtime.predict_dos(with_masses(cu, masses), occupancy).dos, plain.dos)


def test_masses_changed_relative_to_each_other_go_through_the_network_with_a_warning(runtime):
    cu3au = bulk("Cu", "fcc", a=3.75, cubic=True)
    cu3au.symbols[0] = "Au"
    heavy_au = cu3au.get_masses()
    heavy_au[0] *= 1.5
    ratios = site_mass_ratios(with_masses(cu3au, heavy_au), np.eye(4)[[3, 2, 2, 2]], SPECIES)
    np.testing.assert_allclose(ratios, [1.5, 1, 1, 1])
    scale, factors = mass_scale(ratios)
    assert scale == pytest.approx(1.5 ** 0.25) and np.prod(factors) == pytest.approx(1.0)
    natural = runtime.predict_dos(cu3au)
    dos = runtime.predict_dos(with_masses(cu3au, heavy_au))
    assert np.abs(np.interp(natural.frequencies, dos.frequencies, dos.dos) - natural.dos).max() > 1e-3
    assert any("site masses changed relative to each other" in r for r in dos.info["domain_warnings"])
    calc = E3DensityCalculator(runtime, temperatures=300.0)
    atoms = cu3au.copy()
    atoms.calc = calc
    before = calc.get_heat_capacity(atoms)
    atoms.set_masses(heavy_au)  # the calculator notices masses (ASE's own check does not)
    with pytest.warns(DomainWarning, match="site masses changed relative to each other"):
        after = calc.get_heat_capacity(atoms)
    assert after != before and after == pytest.approx(dos.heat_capacity(300.0), rel=1e-12)
    atoms.set_masses(cu3au.get_masses() * 2)  # all alike again: exact, no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", DomainWarning)
        assert calc.get_heat_capacity(atoms) == pytest.approx(natural.heat_capacity(300.0 * 2 ** 0.5), rel=1e-9)
