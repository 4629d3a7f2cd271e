"""Virtual crystals are labelled by their composition per formula unit (Cu0.5Ni0.5), not by their majority
atoms (Ni4): in screening rows, the ranked table and `e3density predict`."""
import csv

import numpy as np
import pytest
import torch
from ase.build import bulk
from ase.db import connect
from ase.io import read, write

from ase_e3density.cli import main
from ase_e3density.graph.occupancy import (PAULING_ELECTRONEGATIVITY, composition, crystal_formula,
                                           electronegativity_order, occupancy_formula, site_occupancy)
from ase_e3density.models import deploy
from ase_e3density.nn import PhononDOSModel, PhononModelConfig
from ase_e3density.screen import screen

SPECIES = ["Al", "Ni", "Cu", "Au"]
HEAD = ("_cell_length_a {a}\n_cell_length_b {a}\n_cell_length_c {a}\n_cell_angle_alpha 90\n_cell_angle_beta 90\n"
        "_cell_angle_gamma 90\n_symmetry_space_group_name_H-M 'F m -3 m'\n_symmetry_Int_Tables_number 225\nloop_\n"
        "_atom_site_label\n_atom_site_type_symbol\n_atom_site_fract_x\n_atom_site_fract_y\n_atom_site_fract_z\n"
        "_atom_site_occupancy\n")


def cif(path, name, a, sites):
    path.write_text(f"data_{name}\n" + HEAD.format(a=a) + "".join(f"{s}\n" for s in sites))
    return path


@pytest.fixture
def cuni(tmp_path):
    """fcc Cu0.3Ni0.7 from a CIF: ASE keeps one atom per site (4 Ni) and the fractions in atoms.info."""
    return cif(tmp_path / "cuni.cif", "CuNi", 3.55, ["Cu1 Cu 0 0 0 0.3", "Ni1 Ni 0 0 0 0.7"])


def test_composition_per_formula_unit(tmp_path, cuni):
    atoms = read(cuni)
    assert atoms.get_chemical_formula() == "Ni4"  # what was shown before
    assert crystal_formula(atoms) == "Cu0.3Ni0.7"
    half = read(cif(tmp_path / "h.cif", "h", 3.55, ["Cu1 Cu 0 0 0 0.5", "Ni1 Ni 0 0 0 0.5"]))
    assert crystal_formula(half) == "Cu0.5Ni0.5"
    # rock salt K(Cl0.5Br0.5): 4 K and 4 mixed sites in the cell, one formula unit per pair
    kclbr = read(cif(tmp_path / "k.cif", "KClBr", 6.4, ["K1 K 0 0 0 1.0", "Cl1 Cl 0.5 0.5 0.5 0.5",
                                                         "Br1 Br 0.5 0.5 0.5 0.5"]))
    assert len(kclbr) == 8 and crystal_formula(kclbr) == "KBr0.5Cl0.5"  # cation first (K 0.82, Br 2.96, Cl 3.16)
    # ordered structures keep ASE's (Hill) formula of the cell in crystal_formula (the results' formula column)
    rocksalt = bulk("KCl", "rocksalt", a=6.3, cubic=True)
    assert crystal_formula(rocksalt) == "Cl4K4"
    # two sites, one mixed: nothing in common to divide by
    fractions = np.array([[0.25, 0.75, 0.0], [0.0, 0.0, 1.0]])
    assert occupancy_formula(fractions, ["Cu", "Ni", "Al"]) == "AlCu0.25Ni0.75"
    # thirds as CIF files write them
    assert occupancy_formula(np.array([[1 / 3, 2 / 3]] * 2), ["Cu", "Ni"]) == "Cu0.3333Ni0.6667"
    # unreadable occupancies fall back on the cell's formula (a label must not fail)
    broken = bulk("Cu", "fcc", 3.6)
    broken.info["occupancy"] = {"0": {"Cu": 0.5}}
    assert crystal_formula(broken) == "Cu"
    assert np.allclose(site_occupancy(atoms, ["Cu", "Ni"]).sum(axis=0), [1.2, 2.8])


def test_elements_go_by_electronegativity_cations_first():
    """Pauling electronegativity ascending, ties by symbol (Cu, Re, Si and Tc all 1.90), unknown elements last."""
    assert electronegativity_order(["N", "V", "Ti", "N"]) == ["Ti", "V", "N"]
    assert electronegativity_order(["Si", "Tc", "Cu", "Re", "He", "Ar"]) == ["Cu", "Re", "Si", "Tc", "Ar", "He"]
    assert electronegativity_order(["O", "H", "C"]) == ["H", "C", "O"]
    # an ordered crystal's composition: the cell's counts, cations first, where ASE's Hill formula reads N4Ti4
    tin = bulk("TiN", "rocksalt", a=4.24, cubic=True)
    fractions = np.array([[1.0, 0.0] if s == "Ti" else [0.0, 1.0] for s in tin.get_chemical_symbols()])
    assert tin.get_chemical_formula() == "N4Ti4" and composition(tin, fractions, ["Ti", "N"]) == "Ti4N4"


def test_a_vti_nitride_alloy_reads_cations_first_through_the_shipped_model(tmp_path, capsys):
    """(Ti0.75V0.25)N in rock salt: Ti 1.54 < V 1.63 < N 3.04, so Ti0.75V0.25N (alphabetically NTi0.75V0.25), in
    the screen's composition and formula columns and its ranked table; ordered TiN reads TiN."""
    alloy = cif(tmp_path / "tivn.cif", "TiVN", 4.2, ["Ti1 Ti 0 0 0 0.75", "V1 V 0 0 0 0.25", "N1 N 0.5 0.5 0.5 1.0"])
    assert crystal_formula(read(alloy)) == "Ti0.75V0.25N"
    write(tmp_path / "tin.extxyz", bulk("TiN", "rocksalt", a=4.24))
    run = screen([str(alloy), str(tmp_path / "tin.extxyz")], str(tmp_path / "out.csv"), model="phonon")
    assert [r.scalars["composition"] for r in run] == ["Ti0.75V0.25N", "TiN"]
    assert set(run.model.species) <= set(PAULING_ELECTRONEGATIVITY)  # every element the shipped model knows
    with open(tmp_path / "out.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["composition"], r["formula"]) for r in rows] == [("Ti0.75V0.25N", "Ti0.75V0.25N"), ("TiN", "NTi")]
    assert main(["screen", str(alloy), "-o", str(tmp_path / "out.csv"), "--model", "phonon", "--no-progress",
                 "--sort-by", "cv_atom_300", "--ascending"]) == 0
    table = capsys.readouterr().out.strip().splitlines()  # the file's two rows (the alloy's skipped as done)
    by_cv = [r["composition"] for r in sorted(rows, key=lambda r: float(r["cv_atom_300"]))]
    assert [line.split()[2] for line in table[1:]] == by_cv


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    torch.manual_seed(0)
    model = PhononDOSModel(PhononModelConfig(species=SPECIES, hidden={0: 8, 1: 4}, n_layers=2, radial_hidden=8,
                                             n_bins=20, max_frequency=12.0), dtype=torch.float64)
    path = tmp_path_factory.mktemp("composition") / "phonon.pt"
    deploy(model, path, provenance={"test": "composition"})
    return path


def test_screening_rows_and_table_show_the_composition(tmp_path, cuni, model_path, capsys):
    results = list(screen([str(cuni)], str(tmp_path / "out.csv"), model=str(model_path)))
    assert not results[0].error and results[0].scalars["composition"] == "Cu0.3Ni0.7"
    with open(tmp_path / "out.csv", newline="") as handle:
        row = next(csv.DictReader(handle))
    assert row["formula"] == "Cu0.3Ni0.7" and row["composition"] == "Cu0.3Ni0.7"
    assert main(["screen", str(cuni), "-o", str(tmp_path / "out.db"), "--model", str(model_path), "--no-progress",
                 "--sort-by", "cv_vol_300", "--top", "1"]) == 0
    captured = capsys.readouterr()
    table = captured.out.strip().splitlines()
    assert table[1].split()[2] == "Cu0.3Ni0.7" and "cv_vol_300 in J/(K cm^3)" in captured.err
    assert connect(tmp_path / "out.db").get(id=1).composition == "Cu0.3Ni0.7"


def test_predict_prints_the_composition(cuni, model_path, capsys):
    assert main(["predict", str(cuni), "--model", str(model_path)]) == 0
    out = capsys.readouterr().out
    assert "| 0 | CuNi | Cu0.3Ni0.7 | 4 |" in out and "Ni4" not in out  # name: the CIF's data block


def test_a_screened_virtual_crystal_is_screened_again_as_the_same_alloy(tmp_path, cuni):
    """ase.db keeps no atoms.info: a screen output holds each virtual crystal's site occupancies in the row's data,
    so screening that database again predicts the alloy (same Cv), not its ordered cell (fcc Ni); a row with a
    fractional composition and no occupancies (written before they were kept) is refused in one line."""
    (a,) = list(screen([str(cuni)], str(tmp_path / "a.db"), model="phonon"))
    (b,) = list(screen([str(tmp_path / "a.db")], str(tmp_path / "b.db"), model="phonon"))
    assert b.scalars["composition"] == a.scalars["composition"] == "Cu0.3Ni0.7"
    assert b.scalars["cv_atom_300"] == pytest.approx(a.scalars["cv_atom_300"], abs=1e-9)
    write(tmp_path / "ni.extxyz", bulk("Ni", "fcc", 3.55, cubic=True))
    (nickel,) = list(screen([str(tmp_path / "ni.extxyz")], str(tmp_path / "ni.db"), model="phonon"))
    assert abs(nickel.scalars["cv_atom_100"] - b.scalars["cv_atom_100"]) > 1e-3  # the alloy is not Ni
    with connect(tmp_path / "old.db") as db:  # such a row as an older screen wrote it
        db.write(read(cuni), composition="Cu0.3Ni0.7")
    assert main(["screen", str(tmp_path / "old.db"), "-o", str(tmp_path / "c.db"), "--model", "phonon"]) == 2


def test_an_explicit_alloy_supercell_with_a_fractional_composition_is_screened_as_it_is(tmp_path):
    """A reference database's alloy rows are explicit supercells (Mg6Cd2 stated as Mg0.75Cd0.25): their atoms have
    the stated composition, so they are screened as the ordered cells they are, not refused."""
    cell = bulk("Mg", "hcp", a=3.2, c=5.2).repeat((2, 2, 1))
    cell.symbols[[0, 5]] = "Cd"
    with connect(tmp_path / "ref.db") as db:
        db.write(cell, composition="Mg0.75Cd0.25", alloy=1)
    (row,) = list(screen([str(tmp_path / "ref.db")], str(tmp_path / "out.db"), model="phonon"))
    assert not row.error and row.scalars["composition"] == "Mg6Cd2"


def test_a_rerun_screens_again_what_changed_occupancies_or_masses_and_skips_the_rest(tmp_path, model_path):
    """Screening keys each structure by source and hash, and the hash holds the site occupancies and set masses:
    the same CIF with other fractions, or a crystal given isotope masses, is a new result (its own Cv), while an
    unchanged input is skipped; plain structures keep the hash they had before occupancies and masses entered it."""
    out = str(tmp_path / "out.db")
    cuni = cif(tmp_path / "alloy.cif", "CuNi", 3.55, ["Cu1 Cu 0 0 0 0.3", "Ni1 Ni 0 0 0 0.7"])
    (first,) = list(screen([str(cuni)], out, model=str(model_path)))
    again = screen([str(cuni)], out, model=str(model_path))
    assert list(again) == [] and again.summary.skipped == 1
    cif(tmp_path / "alloy.cif", "CuNi", 3.55, ["Cu1 Cu 0 0 0 0.6", "Ni1 Ni 0 0 0 0.4"])
    (second,) = list(screen([str(cuni)], out, model=str(model_path)))
    assert second.scalars["composition"] == "Cu0.6Ni0.4" and second.structure_hash != first.structure_hash
    assert abs(second.scalars["cv_atom_100"] - first.scalars["cv_atom_100"]) > 1e-6
    nickel = bulk("Ni", "fcc", 3.55)
    write(tmp_path / "ni.extxyz", nickel)
    (natural,) = list(screen([str(tmp_path / "ni.extxyz")], out, model=str(model_path)))
    heavy = nickel.copy()
    heavy.set_masses([64.0])  # 64Ni against natural 58.69 amu: softer modes, higher Cv at 100 K
    write(tmp_path / "ni.extxyz", heavy)
    (isotope,) = list(screen([str(tmp_path / "ni.extxyz")], out, model=str(model_path)))
    assert isotope.structure_hash != natural.structure_hash
    assert isotope.scalars["cv_atom_100"] > natural.scalars["cv_atom_100"]
    assert len(connect(out)) == 4


def test_unreadable_occupancies_are_failed_rows_not_a_failed_screen(tmp_path, model_path):
    """Hashing reads the occupancies too: one it cannot read still gets a hash, and the model's one-line refusal
    is the structure's failed row while the rest is screened."""
    junk, half, plain = (bulk("Cu", "fcc", 3.6) for _ in range(3))
    junk.info["occupancy"] = "Cu0.5Ni0.5"
    half.info["occupancy"] = {"0": 0.5}
    results = list(screen(structures=[junk, half, plain], output=str(tmp_path / "out.csv"), model=str(model_path)))
    assert [r.ok for r in results] == [False, False, True]
    assert "occupancy" in results[0].error and "occupancy" in results[1].error
    assert len({r.structure_hash for r in results}) == 3
