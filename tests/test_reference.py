"""PySCF reference densities: the fit against the exact DFT density, and the CLI database."""
import numpy as np
import pytest
from ase import Atoms
from ase.build import molecule
from ase.units import Bohr

from ase_e3density import E3DensityError, InvalidStructureError, UnsupportedElementError
from process_helpers import kill_when_rows

pytest.importorskip("pyscf")
from ase_e3density.electron.reference import _pyscf_basis, _to_e3nn_matrix, fit_density, fit_error_vs_dft, run_dft  # noqa: E402


@pytest.fixture(scope="module", params=["H2O", "CH3CN"])
def dft(request):
    return run_dft(molecule(request.param), check_stability=False)  # stability: test_bad_input (O2)


def test_fitted_density_matches_dft(dft):
    d = fit_density(dft)
    assert d.n_electrons == pytest.approx(dft.mf.mol.nelectron, abs=1e-6)
    assert np.linalg.norm(d.dipole - dft.dipole) < 0.02  # e·Å
    eps = fit_error_vs_dft(d, dft)
    # measured: H2O 1.054 %, CH3CN 0.768 % (def2-universal-jfit-decontracted, PySCF grid level 3)
    measured = {"H2O": 1.054, "C2H3N": 0.768}[dft.atoms.get_chemical_formula()]
    assert eps == pytest.approx(measured, abs=0.02)
    # PySCF's own dipole (origin-independent: neutral) agrees with the one stored beside the fit
    np.testing.assert_allclose(dft.mf.dip_moment(unit="AU", verbose=0) * Bohr, dft.dipole, atol=1e-6)


def test_evaluate_equals_pyscf_evaluation(dft):
    from pyscf import gto
    d = fit_density(dft)
    symbols = dft.atoms.get_chemical_symbols()
    aux = gto.M(atom=dft.mf.mol.atom, unit="Angstrom", basis=_pyscf_basis(d.basis, symbols), verbose=0)
    pts = np.random.default_rng(0).normal(size=(500, 3)) * 1.5 + dft.atoms.positions.mean(0)
    c_pyscf = _to_e3nn_matrix(d.basis, symbols).T @ d.coefficients
    ref = aux.eval_gto("GTOval_sph", pts / Bohr) @ c_pyscf / Bohr**3
    np.testing.assert_allclose(d.evaluate(pts, screening=1e-16), ref, rtol=1e-8, atol=1e-8)


def test_bad_input():
    with pytest.raises(E3DensityError, match="cannot form a closed-shell state"):
        run_dft(molecule("H2O"), charge=1, spin=0)
    nan = molecule("H2O")
    nan.positions[0, 0] = np.nan
    with pytest.raises(InvalidStructureError, match="non-finite"):
        run_dft(nan)
    with pytest.raises(InvalidStructureError, match="overlapping"):
        run_dft(Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.01]]))


def test_open_shell_and_charged():
    oh = molecule("OH")
    d = fit_density(run_dft(oh))  # odd count: doublet (UKS) by default
    assert d.n_electrons == pytest.approx(9.0, abs=1e-6)
    oh.info["charge"] = -1
    d = fit_density(run_dft(oh))
    assert d.n_electrons == pytest.approx(10.0, abs=1e-6) and d.total_charge == pytest.approx(-1.0, abs=1e-6)


def test_element_missing_from_auxbasis():
    from ase_e3density.electron.basis import BasisSet, load_basis
    only_h = BasisSet("h-only", {"H": load_basis()["H"]})
    with pytest.raises(UnsupportedElementError, match="O not in basis set h-only"):
        fit_density(run_dft(molecule("H2O")), only_h)


def test_cli_reference_is_resumable(tmp_path):
    from ase.db import connect
    from ase.io import write

    from ase_e3density.cli import main
    from ase_e3density.electron.database import iter_densities
    frames = [molecule("H2O"), molecule("NH3")]
    frames[1].translate([0.1, 0, 0])
    write(tmp_path / "in.xyz", frames)
    db = tmp_path / "ref.db"
    assert main(["reference", str(tmp_path / "in.xyz"), "-o", str(db), "--index", "0"]) == 0
    assert main(["reference", str(tmp_path / "in.xyz"), "-o", str(db)]) == 0  # adds only NH3
    assert main(["reference", str(tmp_path / "in.xyz"), "-o", str(db)]) == 0  # nothing new
    with connect(db) as con:
        rows = list(con.select())
    assert [r.formula for r in rows] == ["H2O", "H3N"]
    assert all(r.xc == "PBE0" and r.basis == "cc-pvdz" for r in rows)
    assert [round(r.fit_eps, 2) for r in rows][:1] == [1.05]  # the H2O floor measured above
    for density, row in zip(iter_densities(db), rows):
        assert density.n_electrons == pytest.approx(row.n_electrons, abs=1e-9)
        assert np.linalg.norm(density.dipole - row.dipole) < 0.02


def test_cli_reference_scf_options_reach_pyscf_and_the_rows(tmp_path, capsys):
    from ase.db import connect
    from ase.io import write

    from ase_e3density.cli import main
    from ase_e3density.electron.database import iter_densities
    from ase_e3density.electron.metrics import density_error
    write(tmp_path / "in.xyz", molecule("H2O"))
    exact, cheap = tmp_path / "exact.db", tmp_path / "cheap.db"
    assert main(["reference", str(tmp_path / "in.xyz"), "-o", str(exact)]) == 0
    assert main(["reference", str(tmp_path / "in.xyz"), "-o", str(cheap), "--conv-tol", "1e-7", "--density-fit",
                 "--grid-level", "2"]) == 0
    (row_exact,), (row_cheap,) = (list(connect(db).select()) for db in (exact, cheap))
    assert (row_exact.conv_tol, row_exact.grid_level, row_exact.density_fit) == (1e-9, 3, False)
    assert (row_cheap.conv_tol, row_cheap.grid_level, row_cheap.density_fit) == (1e-7, 2, True)
    assert row_cheap.uid == row_exact.uid  # same structure and level of theory
    assert row_cheap.energy != row_exact.energy  # density fitting changed the SCF ...
    (a,), (b,) = list(iter_densities(cheap)), list(iter_densities(exact))
    assert density_error(a, b)["eps"] < 0.01  # ... far below the fit floor (1.05 %)
    for bad in ("0", "-1e-9", "nan"):
        with pytest.raises(SystemExit):
            main(["reference", str(tmp_path / "in.xyz"), "-o", str(cheap), f"--conv-tol={bad}"])
        assert "must be a positive number" in capsys.readouterr().err


def test_cli_reference_refuses_a_worker_count_below_one(tmp_path, capsys):
    from ase_e3density.cli import main
    for bad in ("0", "-2", "two"):
        with pytest.raises(SystemExit):
            main(["reference", str(tmp_path / "in.xyz"), "-o", str(tmp_path / "r.db"), f"--workers={bad}"])
        assert f"must be a whole number of at least 1, got {bad}" in capsys.readouterr().err
    assert not (tmp_path / "r.db").exists()


@pytest.mark.slow
def test_killed_reference_run_keeps_its_rows_and_resumes_exactly_once(tmp_path):
    """kill -9 mid-run: finished rows are already visible and kept; the rerun computes only the rest."""
    import subprocess
    import sys

    from ase.db import connect
    from ase.io import write
    frames = []
    for k in range(6):
        w = molecule("H2O")
        w.rattle(0.05, seed=k)
        frames.append(w)
    write(tmp_path / "in.xyz", frames)
    db = tmp_path / "ref.db"
    command = [sys.executable, "-m", "ase_e3density.cli", "reference", str(tmp_path / "in.xyz"), "-o", str(db)]
    seen = kill_when_rows(command, db, rows=2)
    assert seen >= 2, "rows must be visible while the run goes on"
    kept = connect(db, use_lock_file=False).count()
    assert kept >= seen
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert f"{6 - kept} computed, {kept} already present" in rerun.stderr
    rows = list(connect(db, use_lock_file=False).select())
    assert len(rows) == 6 and len({r.uid for r in rows}) == 6
