"""Element-projected phonon DOS of the reference data, against phonopy's own projected DOS."""
from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from ase_e3density.errors import E3DensityError
from ase_e3density.phonon import PhononDOS
from emt_phonopy import emt_phonopy

phonopy = pytest.importorskip("phonopy")

MESH = [8, 8, 8]


def cu3au() -> Atoms:
    """L1_2 Cu3Au (simple cubic, 4 atoms)."""
    atoms = bulk("Cu", "fcc", a=3.75, cubic=True)
    atoms.symbols[0] = "Au"
    return atoms


@pytest.fixture(scope="module")
def phonon():
    """Cu3Au with EMT forces, phonopy's displacements in the doubled cubic cell (32 atoms)."""
    from ase_e3density.phonon.phonopy_io import atoms_to_phonopy

    return emt_phonopy(atoms_to_phonopy(cu3au()))


@pytest.fixture(scope="module")
def dos(phonon) -> PhononDOS:
    return PhononDOS.from_phonopy(phonon, mesh=MESH)


def test_partials_add_up_to_the_total_and_hold_each_elements_modes(dos):
    assert list(dos.partials) == ["Cu", "Au"]  # by atomic number
    np.testing.assert_allclose(dos.partial("Cu") + dos.partial("Au"), dos.dos, rtol=0, atol=1e-12)
    # per atom of the structure: 3 modes per atom times each element's share of the atoms (3 Cu, 1 Au)
    assert np.trapezoid(dos.partial("Cu"), dos.frequencies) == pytest.approx(2.25, abs=2e-3)
    assert np.trapezoid(dos.partial("Au"), dos.frequencies) == pytest.approx(0.75, abs=2e-3)
    # the heavy Au carries the low modes, the light Cu the high ones
    mean = {s: np.trapezoid(dos.frequencies * g, dos.frequencies) / np.trapezoid(g, dos.frequencies)
            for s, g in dos.partials.items()}
    assert mean["Au"] < 0.8 * mean["Cu"]


def test_partials_are_phonopys_projected_dos(phonon, dos):
    """phonopy itself on the full mesh with eigenvectors, on the same grid: summed over the atoms of each
    element, per atom of the cell (4 atoms), with the total's normalisation (within 1e-3 of 1)."""
    phonon.run_mesh(MESH, is_gamma_center=True, is_mesh_symmetry=False, with_eigenvectors=True)
    grid = dos.frequencies
    pitch = grid[1] - grid[0]
    theirs = phonon.run_projected_dos(freq_min=grid[0], freq_max=grid[-1], freq_pitch=pitch,
                                      use_tetrahedron_method=True)
    np.testing.assert_allclose(theirs.frequency_points, grid, atol=1e-9)
    symbols = list(phonon.primitive.symbols)
    norm = dos.info["normalization"]
    assert norm == pytest.approx(1.0, abs=1e-3)
    for element in ("Cu", "Au"):
        mine = [i for i, s in enumerate(symbols) if s == element]
        expected = theirs.projected_dos[mine].sum(axis=0) / len(symbols) * norm
        np.testing.assert_allclose(dos.partial(element), expected, rtol=1e-10, atol=1e-12)
    # and their sum is phonopy's total DOS of that mesh
    total = phonon.run_total_dos(freq_min=grid[0], freq_max=grid[-1], freq_pitch=pitch, use_tetrahedron_method=True)
    np.testing.assert_allclose(dos.dos, total.dos / len(symbols) * norm, rtol=1e-10, atol=1e-12)


def test_gaussian_partials_add_up_to_the_gaussian_total(phonon):
    """Gaussian smearing (the same width and grid as the total): phonopy's smeared projected DOS adds up to
    the smeared modes up to the three acoustic modes at Gamma, set to exactly zero in the total."""
    gaussian = PhononDOS.from_phonopy(phonon, mesh=MESH, dos="gaussian")
    assert list(gaussian.partials) == ["Cu", "Au"]
    summed = sum(gaussian.partials.values())
    assert np.abs(summed - gaussian.dos).max() < 1e-4 * gaussian.dos.max()
    assert np.trapezoid(gaussian.partial("Au"), gaussian.frequencies) == pytest.approx(0.75, abs=2e-3)


def test_one_element_needs_no_projection():
    from ase_e3density.phonon.reference import PhononSettings, reference_phonons
    from ase.calculators.emt import EMT

    result = reference_phonons(bulk("Cu", "fcc", a=3.59), EMT(),
                               PhononSettings(relax="none", min_width=6.0, mesh=(6, 6, 6)))
    assert list(result.dos.partials) == ["Cu"]
    np.testing.assert_array_equal(result.dos.partial("Cu"), result.dos.dos)


def test_partial_refuses_in_one_line(dos):
    with pytest.raises(E3DensityError, match=r"^no partial DOS of 'O': the elements of this structure are Cu, Au$"):
        dos.partial("O")
    bare = PhononDOS(dos.frequencies, dos.dos)
    assert bare.partials == {}
    with pytest.raises(E3DensityError, match="carries no element-projected DOS"):
        bare.partial("Cu")
    with pytest.raises(E3DensityError, match="partial DOS of Cu must be finite, one value per grid point"):
        PhononDOS(dos.frequencies, dos.dos, partials={"Cu": dos.dos[:-1]})
    with pytest.raises(E3DensityError, match="unknown element 'Xx'"):
        PhononDOS(dos.frequencies, dos.dos, partials={"Xx": dos.dos})


def test_normalisation_and_per_cell_scale_the_partials_alike(dos):
    doubled = PhononDOS.from_arrays(dos.frequencies, 8 * dos.dos, per="cell", n_atoms=4,
                                    partials={s: 8 * g for s, g in dos.partials.items()})
    np.testing.assert_allclose(doubled.dos, dos.dos, rtol=1e-12)
    for s in ("Cu", "Au"):
        np.testing.assert_allclose(doubled.partial(s), dos.partial(s), rtol=1e-12)


def test_database_round_trip_and_rows_without_partials(tmp_path):
    from ase.calculators.emt import EMT
    from ase.db import connect

    from ase_e3density.phonon.database import iter_phonon_dos, write_phonon_row
    from ase_e3density.phonon.reference import PhononSettings, reference_phonons

    settings = PhononSettings(relax="none", min_width=7.0, mesh=(6, 6, 6))
    result = reference_phonons(cu3au(), EMT(), settings)
    assert list(result.dos.partials) == ["Cu", "Au"]
    partials = result.dos.partials
    path = tmp_path / "ph.db"
    with connect(path, use_lock_file=False) as db:
        write_phonon_row(db, result, "u1", "test", settings.as_dict(), {})
        result.dos = result.dos.with_partials(None)  # a row as written before partials were stored
        write_phonon_row(db, result, "u2", "test", settings.as_dict(), {})
    rows = list(connect(path, use_lock_file=False).select())
    assert rows[0].data["partial_elements"] == ["Cu", "Au"] and rows[0].data["partial_dos"].dtype == np.float32
    assert "partial_dos" not in rows[1].data
    new, old = iter_phonon_dos(path)
    np.testing.assert_array_equal(new.dos, old.dos)
    for s in ("Cu", "Au"):  # stored in float32
        np.testing.assert_allclose(new.partial(s), partials[s], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(new.partial("Cu") + new.partial("Au"), new.dos, rtol=0, atol=1e-6)
    assert old.partials == {}
    with pytest.raises(E3DensityError, match="carries no element-projected DOS"):
        old.partial("Cu")
