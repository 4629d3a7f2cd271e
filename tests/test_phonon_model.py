"""The phonon-DOS model: invariances, normalisation, virtual crystals, deployed file, calculator, training."""
import json
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from ase.build import bulk
from ase.calculators.calculator import PropertyNotImplementedError
from ase.io import read, write
from scipy.spatial.transform import Rotation
from scipy.stats import wasserstein_distance

from ase_e3density import E3DensityCalculator
from ase_e3density.errors import E3DensityError, InvalidStructureError, UnsupportedElementError
from ase_e3density.graph.occupancy import site_occupancy
from ase_e3density.models import DeployedPhononModel, load_model
from ase_e3density.phonon import PhononDOS
from ase_e3density.phonon.targets import dos_on_grid, heat_capacity_weights, wasserstein
from ase_e3density.train.phonon.loss import PhononLoss
from random_phonon_model import random_phonon_model

SPECIES = ["Al", "Ni", "Cu", "Ag", "Au"]


@pytest.fixture(scope="module")
def deployed(tmp_path_factory) -> DeployedPhononModel:
    """An untrained float64 phonon model, deployed and loaded through the runtime (the dense path)."""
    _, path = random_phonon_model(tmp_path_factory.mktemp("phonon") / "phonon.pt", SPECIES, 38, 13.0, seed=1)
    return load_model(path)


def cuni() -> "object":
    atoms = bulk("Cu", "fcc", 3.6, cubic=True)
    atoms.symbols[[1, 2]] = "Ni"
    return atoms


def test_dos_is_nonnegative_and_integrates_to_three(deployed):
    dos = deployed.predict_dos(cuni())
    assert isinstance(dos, PhononDOS) and (dos.dos >= 0).all()
    assert np.trapezoid(dos.dos, dos.frequencies) == pytest.approx(3.0, abs=1e-12)
    assert dos.dos[0] == 0 and dos.dos[-1] == 0
    np.testing.assert_allclose(dos.frequencies, np.linspace(0, 13.0, 40), atol=1e-12)


def test_invariant_under_rotation_translation_permutation_and_supercell(deployed):
    atoms = cuni()
    atoms.rattle(0.05, seed=3)
    reference = deployed.predict_dos(atoms).dos
    rng = np.random.default_rng(7)
    for rotation in Rotation.random(3, random_state=4).as_matrix():
        for sign in (1, -1):  # reflections too
            moved = atoms.copy()
            matrix = sign * rotation
            moved.set_cell(moved.cell.array @ matrix.T, scale_atoms=False)
            moved.positions = moved.positions @ matrix.T + rng.normal(size=3)
            np.testing.assert_allclose(deployed.predict_dos(moved).dos, reference, atol=1e-6)
    order = rng.permutation(len(atoms))
    np.testing.assert_allclose(deployed.predict_dos(atoms[order]).dos, reference, atol=1e-6)
    for repeat in ((2, 1, 1), (1, 2, 3)):
        np.testing.assert_allclose(deployed.predict_dos(atoms.repeat(repeat)).dos, reference, atol=1e-6)
    primitive = bulk("Cu", "fcc", 3.6)
    np.testing.assert_allclose(deployed.predict_dos(primitive).dos, deployed.predict_dos(primitive * (2, 2, 2)).dos,
                               atol=1e-6)


def test_virtual_crystal(deployed, tmp_path):
    cu = bulk("Cu", "fcc", 3.6)
    pure = deployed.predict_dos(cu).dos
    np.testing.assert_allclose(deployed.predict_dos(cu, occupancy=[{"Cu": 1.0}]).dos, pure, atol=1e-12)
    np.testing.assert_allclose(deployed.predict_dos(cu, occupancy=[{"Cu": 1.0, "Ni": 0.0}]).dos, pure, atol=1e-12)
    mixed = deployed.predict_dos(cu, occupancy=[{"Cu": 0.5, "Ni": 0.5}])
    assert np.isfinite(mixed.dos).all() and np.abs(mixed.dos - pure).max() > 1e-3
    assert mixed.integrate() == pytest.approx(3.0)
    # ASE's CIF reader: one atom per site, fractions in atoms.info["occupancy"] by site tag
    cif = tmp_path / "cuni.cif"
    cif.write_text("data_CuNi\n_cell_length_a 3.6\n_cell_length_b 3.6\n_cell_length_c 3.6\n_cell_angle_alpha 90\n"
                   "_cell_angle_beta 90\n_cell_angle_gamma 90\n_symmetry_space_group_name_H-M 'F m -3 m'\n"
                   "_symmetry_Int_Tables_number 225\nloop_\n_atom_site_label\n_atom_site_type_symbol\n"
                   "_atom_site_fract_x\n_atom_site_fract_y\n_atom_site_fract_z\n_atom_site_occupancy\n"
                   "Cu1 Cu 0 0 0 0.3\nNi1 Ni 0 0 0 0.7\n")
    from_cif = read(cif)
    assert from_cif.info["occupancy"]
    explicit = {i: {"Cu": 0.3, "Ni": 0.7} for i in range(len(from_cif))}
    np.testing.assert_allclose(deployed.predict_dos(from_cif).dos, deployed.predict_dos(from_cif, explicit).dos,
                               atol=1e-12)
    # a P1 CIF with a mixed and a pure site: each atom takes the fractions of its own CIF site
    p1 = tmp_path / "p1.cif"
    p1.write_text("data_p1\n_cell_length_a 3.6\n_cell_length_b 3.6\n_cell_length_c 3.6\n_cell_angle_alpha 90\n"
                  "_cell_angle_beta 90\n_cell_angle_gamma 90\n_symmetry_space_group_name_H-M 'P 1'\nloop_\n"
                  "_atom_site_label\n_atom_site_type_symbol\n_atom_site_fract_x\n_atom_site_fract_y\n"
                  "_atom_site_fract_z\n_atom_site_occupancy\nCu1 Cu 0 0 0 0.25\nNi1 Ni 0 0 0 0.75\n"
                  "Al1 Al 0.5 0.5 0.5 1.0\n")
    table = site_occupancy(read(p1), SPECIES)
    np.testing.assert_allclose(table[:, [SPECIES.index("Cu"), SPECIES.index("Ni"), SPECIES.index("Al")]],
                               [[0.25, 0.75, 0.0], [0.0, 0.0, 1.0]])
    # the virtual crystal of the conventional cell equals that of the primitive cell
    np.testing.assert_allclose(deployed.predict_dos(from_cif).dos,
                               deployed.predict_dos(cu, occupancy=[{"Cu": 0.3, "Ni": 0.7}]).dos, atol=1e-6)
    # gravimetric heat capacity uses each site's mean mass
    masses = deployed.predict_dos(cu, occupancy=[{"Cu": 0.5, "Ni": 0.5}]).atoms.get_masses()
    assert masses[0] == pytest.approx((63.546 + 58.6934) / 2, abs=1e-3)


@pytest.mark.parametrize("atoms, occupancy, error, text", [
    (bulk("Cu", "fcc", 3.6), [{"Cu": 0.5, "Ni": 0.4}], E3DensityError, "sum to 0.9"),
    (bulk("Cu", "fcc", 3.6), [{"Cu": 1.2, "Ni": -0.2}], E3DensityError, ">= 0"),
    (bulk("Cu", "fcc", 3.6), [{"Cu": 0.5, "Xx": 0.5}], E3DensityError, "unknown element 'Xx'"),
    (bulk("Cu", "fcc", 3.6), [{"Cu": 0.5, "Fe": 0.5}], UnsupportedElementError, "Fe"),
    (bulk("Fe", "bcc", 2.87), None, UnsupportedElementError, "Fe"),
    (bulk("Cu", "fcc", 3.6), [{}, {}], E3DensityError, "2 entries for 1 atoms"),
])
def test_bad_occupancies(deployed, atoms, occupancy, error, text):
    with pytest.raises(error, match=text):
        deployed.predict_dos(atoms, occupancy)


def test_bad_structures(deployed):
    from ase import Atoms

    molecule = Atoms("Cu2", positions=[[0, 0, 0], [2.5, 0, 0]])
    with pytest.raises(InvalidStructureError, match="no 3D cell"):
        deployed.predict_dos(molecule)
    slab = bulk("Cu", "fcc", 3.6, cubic=True)
    slab.pbc = (True, True, False)
    with pytest.raises(InvalidStructureError, match="periodic boundary conditions in all three"):
        deployed.predict_dos(slab)
    squeezed = bulk("Cu", "fcc", 1.0)
    with pytest.raises(InvalidStructureError, match="closer"):
        deployed.predict_dos(squeezed)


FRESH = """
import json, sys
from ase.build import bulk
from ase_e3density.models import load_model
m = load_model(sys.argv[1])
d = m.predict_dos(bulk("Cu", "fcc", 3.6), occupancy=[{"Cu": 0.25, "Au": 0.75}])
print(json.dumps({"dos": d.dos.tolist(), "e3nn": "e3nn" in sys.modules, "kind": m.kind}))
"""


def test_deployed_file_in_fresh_process_without_e3nn(deployed):
    out = subprocess.run([sys.executable, "-c", FRESH, str(deployed.path)], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout)
    assert result["e3nn"] is False and result["kind"] == "phonon_dos"
    np.testing.assert_allclose(result["dos"], deployed.predict_dos(bulk("Cu", "fcc", 3.6),
                                                                  occupancy=[{"Cu": 0.25, "Au": 0.75}]).dos, atol=1e-12)


def test_calculator_on_a_phonon_model(deployed):
    atoms = cuni()
    calc = E3DensityCalculator(deployed, temperatures=[100.0, 300.0])
    atoms.calc = calc
    dos = calc.get_phonon_dos(atoms)
    np.testing.assert_allclose(calc.get_heat_capacity(atoms), dos.heat_capacity([100.0, 300.0]), rtol=1e-12)
    np.testing.assert_allclose(calc.get_vibrational_entropy(atoms), dos.entropy([100.0, 300.0]), rtol=1e-12)
    np.testing.assert_allclose(calc.get_vibrational_free_energy(atoms), dos.free_energy([100.0, 300.0]), rtol=1e-12)
    np.testing.assert_allclose(calc.get_property("volumetric_heat_capacity", atoms),
                               dos.volumetric_heat_capacity([100.0, 300.0]), rtol=1e-12)
    with pytest.raises(PropertyNotImplementedError, match="phonon density of states model"):
        atoms.get_dipole_moment()
    calc.set(temperatures=300.0)
    assert isinstance(calc.get_heat_capacity(atoms), float)
    # a virtual crystal through atoms.info, and the cache follows it
    before = calc.get_heat_capacity(atoms)
    atoms.info["occupancy"] = {"0": {"Cu": 0.5, "Au": 0.5}}
    assert calc.get_heat_capacity(atoms) != before
    with pytest.raises(AttributeError, match="get_phonon_dos is a method of PhononDOSCalculator"):
        E3DensityCalculator().get_phonon_dos(atoms)


def test_screening_equals_calculator(deployed, tmp_path):
    from ase.db import connect

    from ase_e3density.screen import screen

    crystals = [bulk(s, "fcc", a) for s, a in (("Cu", 3.6), ("Ni", 3.52), ("Ag", 4.09), ("Au", 4.08))] + [cuni()]
    write(tmp_path / "in.extxyz", crystals)
    list(screen([str(tmp_path / "in.extxyz")], str(tmp_path / "out.db"), model=str(deployed.path)))
    calc = E3DensityCalculator(deployed, temperatures=[300.0])
    rows = sorted(connect(tmp_path / "out.db").select(), key=lambda r: r.source)
    assert len(rows) == len(crystals)
    for row, atoms in zip(rows, crystals):
        assert row.cv_atom_300 == pytest.approx(calc.get_heat_capacity(atoms)[0], rel=1e-9)
        assert row.cv_vol_300 == pytest.approx(calc.get_property("volumetric_heat_capacity", atoms)[0], rel=1e-9)


def test_screening_at_chosen_temperatures_equals_calculator_and_resumes_only_with_them(deployed, tmp_path, capsys):
    from ase.db import connect

    from ase_e3density.cli import main
    from ase_e3density.screen import screen

    crystals = [bulk("Cu", "fcc", 3.6), cuni(), bulk("Si", "diamond", 5.43)]  # Si: not in the model
    write(tmp_path / "in.extxyz", crystals)
    out = tmp_path / "out.db"
    list(screen([str(tmp_path / "in.extxyz")], str(out), model=str(deployed.path), temperatures=(298.15, 1000)))
    calc = E3DensityCalculator(deployed, temperatures=[298.15, 1000.0])
    rows = {r.source.rsplit("@", 1)[1]: r for r in connect(out).select()}
    for k, atoms in enumerate(crystals[:2]):
        row = rows[str(k)]
        cv = calc.get_heat_capacity(atoms)
        assert (row.cv_atom_298p15, row.cv_atom_1000) == pytest.approx(tuple(cv), rel=1e-9)
        assert row.s_atom_1000 == pytest.approx(calc.get_property("vibrational_entropy", atoms)[1], rel=1e-9)
        assert "cv_atom_300" not in row
    assert rows["2"].status == "failed"
    # a rerun at other temperatures would mix tables: refused in one line, the output untouched
    before = out.read_bytes()
    assert main(["screen", str(tmp_path / "in.extxyz"), "-o", str(out), "--model", str(deployed.path),
                 "--temperatures", "300", "--no-progress"]) == 2
    assert "holds rows with other result columns" in capsys.readouterr().err
    assert out.read_bytes() == before
    # the same temperatures resume (nothing left to do), and a fresh run says why a structure failed
    assert main(["screen", str(tmp_path / "in.extxyz"), "-o", str(tmp_path / "new.csv"), "--model", str(deployed.path),
                 "--temperatures", "298.15,1000", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "in.extxyz@2: UnsupportedElementError: element(s) Si not supported" in err


def test_losses_and_targets_against_independent_computations():
    grid = np.linspace(0, 10.0, 41)
    rng = np.random.default_rng(0)
    a, b = rng.random((2, 41))
    a[[0, -1]] = b[[0, -1]] = 0
    a, b = a * 3 / np.trapezoid(a, grid), b * 3 / np.trapezoid(b, grid)
    expected = wasserstein_distance(grid, grid, a, b)  # scipy's earth mover's distance of the two histograms
    assert wasserstein(grid, a, b) == pytest.approx(expected, rel=1e-9)
    loss = PhononLoss(grid, "wasserstein", dtype=torch.float64)
    assert float(loss(torch.tensor(a[None]), torch.tensor(b[None]))) == pytest.approx(expected, rel=1e-9)
    shaped = PhononLoss(grid, "wasserstein", dtype=torch.float64, mse_weight=50.0)  # plus 50 x the mean squared difference
    assert float(shaped(torch.tensor(a[None]), torch.tensor(b[None]))) == pytest.approx(
        expected + 50.0 * np.mean((a - b) ** 2), rel=1e-9)
    w = heat_capacity_weights(grid, [50.0, 300.0])
    np.testing.assert_allclose(w @ a, PhononDOS.from_arrays(grid, a).heat_capacity([50.0, 300.0]), rtol=1e-12)
    # a target from mesh modes: 3 per atom, zero ends, Cv close to the mesh sum
    modes = np.abs(rng.normal(4.0, 1.5, size=(50, 6)))
    dos = PhononDOS.from_modes(modes)
    target = dos_on_grid(dos, grid)
    assert np.trapezoid(target, grid) == pytest.approx(3.0) and target[0] == target[-1] == 0
    np.testing.assert_allclose(w[1] @ target, dos.heat_capacity(300.0), rtol=2e-3)


def test_site_occupancy_rows_sum_to_one():
    atoms = bulk("Cu", "fcc", 3.6, cubic=True)
    table = site_occupancy(atoms, SPECIES, {0: {"Cu": 0.333, "Ni": 0.333, "Au": 0.334}})
    np.testing.assert_allclose(table.sum(axis=1), 1.0)
    assert table[1, SPECIES.index("Cu")] == 1.0


def _emt_phonon_db(path):
    """Eight small EMT crystals (fcc metals and ordered alloys), through `e3density phonons`."""
    from ase_e3density.cli import main

    crystals = []
    for symbol, a in (("Cu", 3.61), ("Ni", 3.52), ("Ag", 4.09), ("Au", 4.08), ("Al", 4.05)):
        atoms = bulk(symbol, "fcc", a)
        atoms.info.update(name=f"{symbol}-fcc", prototype="fcc")
        crystals.append(atoms)
    for a, b in (("Cu", "Au"), ("Ni", "Al"), ("Ag", "Au")):
        atoms = bulk(a, "fcc", 3.9, cubic=True)
        atoms.symbols[[0]] = b
        atoms.info.update(name=f"{a}3{b}-L12", prototype="L12")
        crystals.append(atoms)
    write(path.parent / "crystals.extxyz", crystals)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["phonons", str(path.parent / "crystals.extxyz"), "-o", str(path), "--calculator", "emt",
                     "--mesh", "8", "--min-width", "6"]) == 0


@pytest.mark.slow
def test_train_resume_evaluate(tmp_path, capsys):
    from ase_e3density.cli import main

    _emt_phonon_db(tmp_path / "emt.db")
    config = tmp_path / "phonon.yaml"
    config.write_text("kind: phonon_dos\ndata: emt.db\noutput: run\nepochs: 2\nvalidation_fraction: 0.3\n"
                      "test_fraction: 0.0\ntest_prototypes: [L12]\nbatch_size: 2\nheat_capacity_weight: 0.1\n"
                      "model: {hidden: {0: 8, 1: 4}, n_layers: 2, radial_hidden: 8, max_frequency: 12.0, n_bins: 47}\n")
    assert main(["train", str(config)]) == 0
    assert main(["train", str(config), "--epochs", "4"]) == 0  # resumes at epoch 2
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == [1, 2, 3, 4]
    model = load_model(tmp_path / "run" / "model.pt")
    meta = model.metadata["provenance"]
    assert meta["resumes"] and meta["generator"]["force_calculator"] == "emt"
    assert len(meta["split"]["held_out"]) == 3 and meta["counts"]["train"] == 3
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "run" / "model.pt"), str(tmp_path / "emt.db"), "--split", "held_out",
                 "--json", str(tmp_path / "eval.json")]) == 0
    result = json.loads((tmp_path / "eval.json").read_text())
    assert result["n"] == 3 and sorted(result["per_structure"]["prototype"]) == ["L12"] * 3
    assert result["cv_mae_300"] == pytest.approx(meta["metrics"]["held_out"]["cv_mae_300"], rel=1e-4)


TINY_PHONON = {"hidden": {0: 8, 1: 4}, "n_layers": 2, "radial_hidden": 8, "max_frequency": 12.0, "n_bins": 47}


def _phonon_log(out):
    timing = ("seconds", "seconds_epoch")
    return [{k: v for k, v in json.loads(line).items() if k not in timing}
            for line in (out / "log.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_phonon_run_resumes_exactly_like_a_density_run(tmp_path):
    from ase_e3density.errors import ConfigError
    from ase_e3density.train import TrainConfig, train
    from ase_e3density.train.phonon import PhononTrainConfig, train_phonon

    _emt_phonon_db(tmp_path / "emt.db")

    def config(output, **overrides):
        options = dict(data="emt.db", output=output, epochs=3, validation_fraction=0.3, test_fraction=0.0,
                       test_prototypes=["L12"], batch_size=2, heat_capacity_weight=0.1, model=TINY_PHONON,
                       base_dir=str(tmp_path))
        return PhononTrainConfig(**{**options, **overrides})

    train_phonon(config("straight"))
    train_phonon(config("split", epochs=1))
    (tmp_path / "split" / ".checkpoint.pt.999.tmp").write_bytes(b"half-written by a killed run")
    path = train_phonon(config("split"))
    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=False)
    b = torch.load(tmp_path / "split" / "checkpoint.pt", weights_only=False)
    assert a["model"].keys() == b["model"].keys()
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
    assert _phonon_log(tmp_path / "straight") == _phonon_log(tmp_path / "split")
    assert [r["epoch"] for r in _phonon_log(tmp_path / "split")] == [1, 2, 3]
    assert b["progress"]["resumes"] == [{"after_epoch": 1, "changed": {"epochs": [1, 3]}}]
    assert load_model(path).metadata["provenance"]["resumes"] == b["progress"]["resumes"]
    # a finished run is not rerun: it returns its model without reading the data again
    before = (path.stat().st_mtime_ns, (tmp_path / "split" / "log.jsonl").read_text())
    (tmp_path / "emt.db").rename(tmp_path / "away.db")
    assert train_phonon(config("split")) == path
    assert (path.stat().st_mtime_ns, (tmp_path / "split" / "log.jsonl").read_text()) == before
    # other settings, and a checkpoint of the other kind, are refused before any data is read
    with pytest.raises(ConfigError, match=r"other settings: lr \(0.005 -> 0.01\).*--restart"):
        train_phonon(config("split", epochs=5, lr=0.01))
    with pytest.raises(ConfigError, match="holds a checkpoint of a phonon_dos model.*trains electron_density"):
        train(TrainConfig(train="missing.db", output=str(tmp_path / "split")))


@pytest.mark.slow
def test_a_phonon_run_started_from_a_trained_network_starts_at_its_spectra(tmp_path):
    from ase_e3density.errors import ConfigError
    from ase_e3density.train.phonon import PhononTrainConfig, train_phonon

    _emt_phonon_db(tmp_path / "emt.db")
    options = dict(data="emt.db", validation_fraction=0.3, test_fraction=0.0, test_prototypes=["L12"], batch_size=2,
                   model=TINY_PHONON, base_dir=str(tmp_path))
    source = train_phonon(PhononTrainConfig(output="source", epochs=3, **options))
    # at a rate too small to move a weight, the new run deploys the source's network (its output bias included,
    # which a new network would set from the training set's mean DOS)
    still = train_phonon(PhononTrainConfig(output="still", epochs=1, lr=1e-12, init_from="source/model.pt", **options))
    crystal = bulk("Cu", "fcc", 3.61) * (1, 1, 2)
    crystal.symbols[0] = "Au"
    expected = load_model(source).predict_dos(crystal).dos
    np.testing.assert_allclose(load_model(still).predict_dos(crystal).dos, expected, rtol=1e-5, atol=1e-8)
    fresh = train_phonon(PhononTrainConfig(output="fresh", epochs=1, lr=1e-12, **options))
    assert np.abs(load_model(fresh).predict_dos(crystal).dos - expected).max() > 1e-2 * expected.max()
    assert load_model(still).metadata["provenance"]["initialised_from"]["model_checksum"] == load_model(source).checksum
    with pytest.raises(ConfigError, match=r"option model: n_layers 3 \(source: 2\) differ"):
        train_phonon(PhononTrainConfig(output="deeper", init_from="source/model.pt",
                                       **{**options, "model": {**TINY_PHONON, "n_layers": 3}}))


@pytest.mark.slow
def test_two_process_phonon_training_with_torchrun(tmp_path):
    import os
    from pathlib import Path

    _emt_phonon_db(tmp_path / "emt.db")
    config = tmp_path / "phonon.yaml"
    config.write_text("kind: phonon_dos\ndata: emt.db\noutput: ddp\nepochs: 2\nvalidation_fraction: 0.3\n"
                      "test_fraction: 0.0\ntest_prototypes: [L12]\nbatch_size: 1\nthreads: 1\n"
                      f"model: {json.dumps(TINY_PHONON)}\n")
    torchrun = Path(sys.executable).with_name("torchrun")
    out = subprocess.run([str(torchrun), "--nproc_per_node", "2", "-m", "ase_e3density.train", str(config)],
                         capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"), timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "2 process(es)" in out.stderr
    assert [r["epoch"] for r in _phonon_log(tmp_path / "ddp")] == [1, 2]
    # 3 training crystals, 1 per batch: each of the 2 processes takes one batch per epoch (the odd one is left out)
    checkpoint = torch.load(tmp_path / "ddp" / "checkpoint.pt", weights_only=False)
    assert checkpoint["progress"]["steps"] == 2
    assert load_model(tmp_path / "ddp" / "model.pt").metadata["provenance"]["counts"]["train"] == 3


def test_virtual_crystal_sites_are_checked_against_the_training_domain():
    """Every element of a mixed site counts, not only the majority: for the calibrated rule of the shipped file
    (light atoms) and for the element-pair rule of files without it."""
    from ase_e3density.models import shipped_model_path

    shipped = load_model(shipped_model_path("phonon"))
    cu = bulk("Cu", "fcc", 3.6)
    assert shipped.predict_dos(cu, occupancy=[{"Cu": 0.7, "Ni": 0.3}]).info["domain_warnings"] == []  # routine alloy
    reasons = shipped.predict_dos(cu, occupancy=[{"Cu": 0.7, "Li": 0.3}]).info["domain_warnings"]
    assert len(reasons) == 1 and "lighter than 20 amu: Li" in reasons[0]  # only the minority element is light
    shipped.metadata["domain"] = {k: v for k, v in shipped.metadata["domain"].items() if k != "warnings"}
    pair_rule = shipped.predict_dos(cu, occupancy=[{"Cu": 0.7, "Ni": 0.3}]).info["domain_warnings"]
    assert any("Ni-Cu" in r and "virtual crystal" in r for r in pair_rule)  # Cu-Ni never met in training


@pytest.mark.slow  # eight EMT phonon references: a few seconds
def test_split_seed_shares_one_split_between_seeds(tmp_path):
    """split_seed fixes the random validation/test draw, so runs of other seeds (an ensemble's members) train,
    validate and test on the same crystals; without it the draw follows seed."""
    from ase_e3density.train.phonon import PhononTrainConfig
    from ase_e3density.train.phonon.loop import PhononTrainer

    _emt_phonon_db(tmp_path / "emt.db")

    def sets(**overrides):
        config = PhononTrainConfig(data="emt.db", output="run", validation_fraction=0.25, test_fraction=0.25,
                                   model=TINY_PHONON, base_dir=str(tmp_path), **overrides)
        trainer = PhononTrainer(config)
        trainer.read_data()
        return {name: sorted(s.uid for s in trainer.sets[name]) for name in ("train", "validation", "test")}

    draws = {seed: sets(seed=seed) for seed in range(6)}
    assert len({str(d) for d in draws.values()}) > 1  # the seeds draw different splits
    for seed in range(6):
        assert sets(seed=seed, split_seed=3) == draws[3]
