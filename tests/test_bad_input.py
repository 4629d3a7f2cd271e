"""Every bad input in tests/bad_input_cases.py gives its clear error or warning; none is silent.

docs/bad_input.md lists the exact messages (scripts/make_bad_input_table.py).
"""
import json
import re
import warnings

import numpy as np
import pytest

from ase_e3density.errors import DomainWarning
from bad_input_cases import CASES, make_context, run_case, water

pytest.importorskip("pyscf")


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    return make_context(tmp_path_factory.mktemp("bad"))


def test_there_are_many_cases():
    assert len(CASES) >= 60
    assert sum(c.cli for c in CASES) >= 15


@pytest.mark.parametrize("case", CASES, ids=[f"{c.area}: {c.what}" for c in CASES])
def test_bad_input_is_refused_or_flagged(case, ctx):
    outcome, message = run_case(case, ctx)
    if case.cli:
        assert outcome == "exit 2", (outcome, message)
        assert message.startswith(f"e3density {case.run(ctx)[0]}: error: ")
    else:
        assert outcome == case.expect.__name__ or issubclass(_class(outcome), case.expect), (outcome, message)
    assert "Traceback" not in message and "\n" not in message
    assert re.search(case.pattern, message), message


def _class(name: str) -> type:
    from ase.calculators.calculator import PropertyNotImplementedError

    from ase_e3density import errors
    return getattr(errors, name, None) or {"PropertyNotImplementedError": PropertyNotImplementedError}.get(name, object)


def test_errors_are_also_the_matching_builtins():
    from ase.calculators.calculator import CalculatorSetupError

    from ase_e3density import errors
    assert issubclass(errors.ModelNotFoundError, FileNotFoundError)
    assert issubclass(errors.InputFileError, FileNotFoundError)
    assert issubclass(errors.UnsupportedElementError, KeyError)
    assert issubclass(errors.CalculatorParameterError, CalculatorSetupError)
    assert all(issubclass(getattr(errors, n), ValueError) for n in errors.__all__ if n.endswith("Error"))
    assert str(errors.UnsupportedElementError("element U")) == "element U"  # not KeyError's quoted repr


def _cli(argv) -> tuple[int, str, str]:
    import contextlib
    import io

    from ase_e3density.cli import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def test_asked_for_outputs_are_written_and_rewritten(ctx):
    """What a model can write is written (the phonon model's frames and DOS, a density model's cube file), and
    a second run replaces the files the first one wrote."""
    from ase.io import read

    from bad_input_cases import crystal_file, water_file
    out, dos, cube = ctx.root / "ph_frames.xyz", ctx.root / "ph.dos", ctx.root / "w.cube"
    for _ in range(2):
        code, _, err = _cli(["predict", crystal_file(ctx), "--model", "phonon", "-o", out, "--dos", dos])
        assert code == 0, err
        frame = read(out)
        assert 20 < frame.info["cv_300"] < 25  # J/(K mol-atoms) for Cu near 300 K, below 3R
        table = np.loadtxt(dos)
        assert table.shape[1] == 2 and np.trapezoid(table[:, 1], table[:, 0]) == pytest.approx(3, abs=0.05)
        code, _, err = _cli(["predict", water_file(ctx), "--spacing", "2e-1", "--cube", cube])  # 2e-1: a number
        assert code == 0, err
        assert cube.read_text().startswith("ase_e3density electron density")


def test_the_package_takes_back_its_own_databases_and_folders(ctx, tmp_path):
    """Its own outputs are resumed: databases written before the metadata marker (recognised by their rows),
    marked ones, screening outputs of either format, and run folders."""
    from ase.db import connect

    from ase_e3density.errors import E3DensityError
    from ase_e3density.fileio import DB_MARKER, check_output_db, claim_folder, mark_db
    from bad_input_cases import water_file
    legacy = ctx.reference_db  # rows as `e3density reference` wrote them, no marker
    assert DB_MARKER not in connect(legacy).metadata
    assert check_output_db(legacy, "reference densities", ("uid", "auxbasis")) is True
    phonons = tmp_path / "phonons.db"  # a phonon row as the generator wrote it before the marker
    connect(phonons).write(water(), uid="u1", force_calculator="emt")
    assert check_output_db(phonons, "phonon references", ("uid", "force_calculator")) is True
    mark_db(connect(phonons), "phonon references")
    assert connect(phonons).metadata[DB_MARKER]["content"] == "phonon references"
    with pytest.raises(E3DensityError, match="holds phonon references .written by ase_e3density., not reference"):
        check_output_db(phonons, "reference densities", ("uid", "auxbasis"))
    for suffix in (".db", ".csv", ".extxyz"):
        output = tmp_path / f"screened{suffix}"
        for rerun in range(2):
            code, _, err = _cli(["screen", water_file(ctx), "-o", output, "--no-progress"])
            assert code == 0 and ("1 skipped" if rerun else "1 done") in err, err
    assert connect(tmp_path / "screened.db").metadata[DB_MARKER]["content"] == "screening results"
    run = tmp_path / "old_run"  # a run folder from before the marker
    run.mkdir()
    (run / "checkpoint.pt").write_bytes(b"")
    assert claim_folder(run, "training run", ("checkpoint.pt",)) == run
    assert json.loads((run / ".ase_e3density").read_text())["content"] == "training run"
    with pytest.raises(E3DensityError, match="holds training run .written by ase_e3density., not a hierarchy study"):
        claim_folder(run, "hierarchy study")


def test_the_phonon_model_keeps_taking_partial_occupancies(ctx):
    """A CuNi CIF is a virtual crystal to the phonon model (refused by density models: a table case)."""
    from ase.io import read

    from ase_e3density import E3DensityCalculator
    from bad_input_cases import alloy_cif
    atoms = read(alloy_cif(ctx))
    assert atoms.info["occupancy"]["0"] == {"Cu": 0.5, "Ni": 0.5}
    atoms.calc = E3DensityCalculator("phonon", temperatures=[300.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error", DomainWarning)  # a routine alloy of two trained metals: no warning
        cv = float(np.squeeze(atoms.calc.get_heat_capacity(atoms)))
    assert 20 < cv < 25  # J/(K mol-atoms): between the Cu and Ni values, below 3R


def test_spin_states_inside_the_training_range_are_not_flagged():
    """Closed-shell water (2S = 0 given or implied) lies inside; a triplet lies inside a domain that records 2S up to 2,
    and a model file without the record counts as closed-shell only."""
    from ase.build import molecule

    from ase_e3density.graph.domain import state_report
    assert state_report({}, water(spin=0), 0.0) == []
    assert state_report({"spin": [0, 2]}, water(spin=2), 0.0) == []
    assert state_report({"spin": [0, 2]}, molecule("OH"), 0.0) == []  # 9 electrons: 2S = 1 lies in [0, 2]
    assert "odd electron count (9)" in state_report({}, molecule("OH"), 0.0)[0]
    assert state_report({"spin": [0, 0]}, water(), 1.0)  # a cation of water: 9 electrons


def test_periodic_images_are_flagged_only_for_models_of_isolated_structures_and_only_when_reached():
    import warnings

    from ase_e3density import E3DensityCalculator
    from ase_e3density.errors import DomainWarning
    from ase_e3density.graph.domain import periodic_report
    from bad_input_cases import periodic_water

    shifts = np.array([[0, 0, 1]])
    assert "periodic images" in periodic_report({"cutoff": 4.0}, shifts)[0]
    assert periodic_report({"cutoff": 4.0, "periodic": True}, shifts) == []
    assert periodic_report({"cutoff": 4.0}, np.zeros((5, 3))) == []
    calc = E3DensityCalculator()
    for cell, flagged in ((4.0, True), (40.0, False)):  # a 40 Å box: no image within the cutoff, an isolated molecule
        atoms = periodic_water(cell)
        atoms.calc = calc
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            atoms.get_dipole_moment()
        said = [str(w.message) for w in caught if issubclass(w.category, DomainWarning)]
        assert any("periodic images" in m for m in said) == flagged, said


def test_screening_flags_radicals_and_periodic_images_as_one_prediction_does():
    from ase import Atoms

    from ase_e3density.screen import screen
    from bad_input_cases import periodic_water
    oh = Atoms("OH", positions=[[0, 0, 0], [0.97, 0, 0]])
    results = list(screen(structures=[water(), oh, periodic_water(4.0), periodic_water(40.0)]))
    assert [r.scalars["in_domain"] for r in results] == [True, False, False, True]
    assert "odd electron count (9)" in results[1].scalars["domain_warnings"]
    assert "periodic images" in results[2].scalars["domain_warnings"]


def test_one_point_is_a_point():
    """A density at a point of shape (3,) is the density at that point given as (1, 3)."""
    from bad_input_cases import default_density
    rho = default_density(water())
    assert float(rho.evaluate([0.0, 0.2, 0.5])) == pytest.approx(rho.evaluate([[0.0, 0.2, 0.5]])[0], rel=1e-12)
