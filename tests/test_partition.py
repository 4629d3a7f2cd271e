"""Hirshfeld partition and the per-molecule metrics: conservation of charge and dipole, agreement with an
independent partition, and charge moved between molecules showing up where it should."""
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms

from ase_e3density import AtomicDensity, load_basis
from ase_e3density.electron.basis import BasisSet
from ase_e3density.electron.database import iter_densities
from ase_e3density.electron.evaluation import ReferenceOnGrid, compare, summarise
from ase_e3density.electron.free_atoms import ProAtoms, load_free_atoms
from ase_e3density.electron.partition import find_molecules, partition
from ase_e3density.errors import E3DensityError, UnsupportedElementError
from ase_e3density.models.format import read_metadata

DATA = Path(__file__).resolve().parents[1] / "data" / "water" / "train.db"
MODEL = Path(__file__).resolve().parents[1] / "ase_e3density" / "data" / "models" / "default.pt"


def water_cluster(n_atoms: int) -> AtomicDensity:
    """The first fitted PBE0/cc-pVDZ reference of the training set with ``n_atoms`` atoms."""
    return next(d for d in iter_densities(DATA) if len(d.atoms) == n_atoms)


@pytest.fixture(scope="module")
def trimer() -> AtomicDensity:
    return water_cluster(9)


def moved(density: AtomicDensity, source: int, sink: int, charge: float) -> AtomicDensity:
    """``density`` with ``charge`` electrons taken from atom ``source``'s compact s function (exponent
    near 10 bohr^-2, 0.3 bohr wide) and put in atom ``sink``'s: the charge stays on those atoms."""
    c = density.coefficients.copy()
    for atom, sign in ((source, -1.0), (sink, 1.0)):
        eb = density.basis[density.atoms[atom].symbol]
        s_shells = [(abs(np.log(sh.exponents[0] / 10.0)), part.start) for sh, part in eb.shell_slices if sh.l == 0]
        k = min(s_shells)[1]
        c[density.offsets[atom] + k] += sign * charge / eb.charge_integrals[k]
    return AtomicDensity(density.atoms, density.basis, c, density.nuclear_charges, info=density.info)


def test_molecules_found_by_bonding_and_fragments_checked(trimer):
    assert [m.tolist() for m in find_molecules(trimer.atoms)] == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    with pytest.raises(E3DensityError, match="every atom index"):
        partition(trimer, fragments=[[0, 1, 2], [3, 4, 5], [6, 7]])
    with pytest.raises(E3DensityError, match="every atom index"):
        partition(trimer, fragments=[[0, 1, 2, 3], [3, 4, 5], [6, 7, 8]])


def test_fragment_charges_and_dipoles_add_up_to_the_totals():
    dimer = water_cluster(6)
    # a charged density (0.05 e taken from the cluster) makes the dipole depend on the origin
    c = dimer.coefficients.copy()
    eb = dimer.basis["O"]
    k = int(np.argmax(eb.charge_integrals))
    c[k] -= 0.05 / eb.charge_integrals[k]
    charged = AtomicDensity(dimer.atoms, dimer.basis, c)
    assert charged.total_charge == pytest.approx(0.05)
    for density, o in ((dimer, None), (charged, np.array([1.0, -2.0, 0.5]))):
        p = partition(density, level=2, origin=o)
        assert len(p.fragments) == 2
        assert p.total_charge == pytest.approx(density.total_charge, abs=2e-5)
        np.testing.assert_allclose(p.charges.sum(), p.total_charge, atol=1e-12)
        np.testing.assert_allclose(p.dipole, density.get_dipole(o), atol=1e-4)
        np.testing.assert_allclose(p.charge_transfer_dipoles,
                                   p.fragment_charges[:, None] * (p.fragment_centres - p.origin))


def test_a_single_molecule_is_one_neutral_fragment_with_the_total_dipole():
    monomer = water_cluster(3)
    p = partition(monomer, level=3)
    assert len(p.fragments) == 1 and abs(p.fragment_charges[0]) < 1e-5
    np.testing.assert_allclose(p.fragment_dipoles[0], monomer.dipole, atol=1e-4)
    # Hirshfeld water: negative oxygen, positive hydrogens of equal charge by near-symmetry
    assert p.charges[0] < -0.1 and (p.charges[1:] > 0.05).all()


@pytest.mark.slow
def test_partition_agrees_with_an_independent_one_on_pyscf_grids():
    """Fragment charges and dipoles on PySCF's Becke grid (level 5), with weights written out here,
    equal ours on our own grid."""
    gen_grid = pytest.importorskip("pyscf.dft.gen_grid")
    from pyscf import gto
    from ase.units import Bohr

    dimer = water_cluster(6)
    atoms = dimer.atoms
    mol = gto.M(atom=[(s, tuple(x)) for s, x in zip(atoms.get_chemical_symbols(), atoms.positions)],
                unit="Angstrom", basis="sto-3g", verbose=0)
    grids = gen_grid.Grids(mol)
    grids.level = 5
    grids.build()
    points, weights = grids.coords * Bohr, grids.weights * Bohr**3
    rho = dimer.evaluate(points)
    free = load_free_atoms()
    r2 = ((points[:, None, :] - atoms.positions[None]) ** 2).sum(-1) / Bohr**2
    pro = np.stack([free.density(s, r2[:, a]) for a, s in enumerate(atoms.get_chemical_symbols())], axis=1)
    share = pro / pro.sum(axis=1, keepdims=True)
    ours = partition(dimer, level=3)
    for f, fragment in enumerate(ours.fragments):
        w = weights * share[:, fragment].sum(axis=1) * rho
        electrons = w.sum()
        z = dimer.nuclear_charges[fragment]
        centre = ours.fragment_centres[f]
        dipole = z @ (atoms.positions[fragment] - centre) - w @ (points - centre)
        assert ours.fragment_charges[f] == pytest.approx(z.sum() - electrons, abs=2e-5)
        np.testing.assert_allclose(ours.fragment_dipoles[f], dipole, atol=1e-4)


def test_free_atom_table_is_neutral_positive_and_matches_the_model_file():
    free = load_free_atoms()
    r2 = np.linspace(0, 30, 30001) ** 2
    for symbol in free.terms:
        assert free.electrons(symbol) == pytest.approx(Atoms(symbol).numbers[0], abs=1e-8)
        assert (free.density(symbol, r2) > 0).all()
        assert free.density(symbol, np.array([free.radius(symbol) ** 2]))[0] < 1e-14
    # the default model's free atoms are the same PySCF atoms, kept in float32
    meta = read_metadata(MODEL)
    from_model = ProAtoms.from_coefficients(BasisSet.from_dict(meta["basis"]), meta["free_atom"])
    for symbol in ("H", "O"):
        np.testing.assert_allclose(from_model.density(symbol, r2[::100]), free.density(symbol, r2[::100]),
                                   rtol=1e-5, atol=1e-12)
    with pytest.raises(UnsupportedElementError, match="no free-atom density for K"):
        free.check_supported(["O", "K"])


def test_compare_reports_charge_moved_between_molecules(trimer):
    ref = ReferenceOnGrid.build(trimer, level=1)
    same = compare(trimer, ref)
    assert same["n_molecules"] == 3
    assert same["molecule_charge_rms"] == same["molecule_dipole_rms"] == same["dipole_error_sqrtn"] == 0.0
    mu = np.array(same["molecules"]["dipoles_reference"])
    assert same["mu_monomer"] == pytest.approx(np.sqrt(np.mean(np.sum(mu**2, axis=1))))
    q = 0.01
    row = compare(moved(trimer, 0, 6, q), ref)  # oxygen of molecule 1 -> oxygen of molecule 3
    dq = np.subtract(row["molecules"]["charges_predicted"], row["molecules"]["charges_reference"])
    np.testing.assert_allclose(dq, [q, 0.0, -q], atol=1e-5)  # Hirshfeld tails: 2e-6 e leaks to a neighbour
    assert row["molecule_charge_rms"] == pytest.approx(q * np.sqrt(2 / 3), rel=1e-3)
    shift = trimer.atoms.positions[6] - trimer.atoms.positions[0]
    assert row["dipole_error"] == pytest.approx(q * np.linalg.norm(shift), rel=1e-9)  # charge moved x distance
    assert row["dipole_error_sqrtn"] == pytest.approx(100 * row["dipole_error"] / (np.sqrt(3) * row["mu_monomer"]))
    # the dipole error splits into charge moved between molecules and the molecules' own dipoles: here the
    # charge moved between the molecules' centres of mass, and each molecule's own dipole changed by the
    # charge times its oxygen's offset from that centre; the two add up to the whole error
    centres = ref.molecules.centres
    transfer = q * (centres[0] - centres[2])
    own = q * ((trimer.atoms.positions[6] - centres[2]) - (trimer.atoms.positions[0] - centres[0]))
    assert row["dipole_error_transfer"] == pytest.approx(np.linalg.norm(transfer), rel=1e-3)
    assert row["dipole_error_molecular"] == pytest.approx(np.linalg.norm(own), rel=1e-2)
    np.testing.assert_allclose(np.linalg.norm(transfer - own), row["dipole_error"], rtol=1e-3)
    assert row["dipole_error_transfer_sqrtn"] == pytest.approx(100 * row["dipole_error_transfer"]
                                                              / (np.sqrt(3) * row["mu_monomer"]))
    assert {"eps", "eps_l0", "eps_l4", "dipole_error", "charge_mae"} <= set(row)  # the keys others read
    fixed = compare(moved(trimer, 0, 6, q), ref, mu_monomer=0.4)  # a given monomer dipole (e·Å)
    assert fixed["mu_monomer"] == 0.4
    assert fixed["dipole_error_sqrtn"] == pytest.approx(100 * row["dipole_error"] / (np.sqrt(3) * 0.4))
    summary = summarise([same, row])
    assert summary["molecule_charge_rms"] == pytest.approx(q * np.sqrt(2 / 6), rel=1e-3)  # pooled over 6 molecules
    assert summary["dipole_error_sqrtn_median"] == pytest.approx(row["dipole_error_sqrtn"] / 2)
    assert "molecules" not in summary


def test_elements_without_free_atoms_leave_the_molecule_metrics_out():
    atoms = Atoms("KH", positions=[[0, 0, 0], [0, 0, 2.3]])
    basis = load_basis()
    c = np.concatenate([basis[s].charge_integrals * z / (basis[s].charge_integrals @ basis[s].charge_integrals)
                        for s, z in (("K", 19), ("H", 1))])
    density = AtomicDensity(atoms, basis, c)
    row = compare(density, ReferenceOnGrid.build(density, level=1))
    assert "molecule_charge_rms" not in row and row["eps"] == 0.0
    with pytest.raises(UnsupportedElementError):
        partition(density, level=1)


def test_evaluate_prints_the_molecule_metrics(tmp_path, capsys):
    import json

    from ase.db import connect

    from ase_e3density.cli import main

    db = tmp_path / "trimer.db"
    with connect(DATA) as src, connect(db) as dst:
        for row in src.select(natoms=9, limit=1):
            dst.write(row.toatoms(), data=row.data, **row.key_value_pairs)
    assert main(["evaluate", "default", str(db), "--grid-level", "1", "--json", str(tmp_path / "e.json")]) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[0]
    assert "eps l=4" in header and "mol. charge RMS (e)" in header and "dipole err / sqrt(n) mu (%)" in header
    assert len(out.splitlines()[1].split("|")) == len(out.splitlines()[2].split("|"))  # separator fits the rows
    assert "per-molecule charge RMS" in out and "pooled over 3 molecules" in out
    result = json.loads((tmp_path / "e.json").read_text())
    row = result["structures"][0]
    assert row["n_molecules"] == 3 and len(row["molecules"]["charges_predicted"]) == 3
    assert result["summary"]["molecule_charge_rms"] == pytest.approx(row["molecule_charge_rms"])
    assert 0 < row["molecule_charge_rms"] < 0.05
