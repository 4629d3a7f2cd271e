"""The phonon model's element-projected DOS: the mean of its per-site DOS over each element's sites."""
import numpy as np
import pytest
import torch
from ase.build import bulk

from ase_e3density import E3DensityCalculator
from ase_e3density.errors import E3DensityError
from ase_e3density.graph.inputs import crystal_batch_inputs
from ase_e3density.models import load_model, shipped_model_path
from random_phonon_model import random_phonon_model

SPECIES = ["Al", "Ni", "Cu", "Au"]


@pytest.fixture(scope="module")
def model_and_runtime(tmp_path_factory):
    model, path = random_phonon_model(tmp_path_factory.mktemp("partials") / "phonon.pt", SPECIES, 30, 12.0, seed=5)
    return model, load_model(path)


def cu3au():
    atoms = bulk("Cu", "fcc", 3.75, cubic=True)
    atoms.symbols[0] = "Au"
    atoms.rattle(0.05, seed=1)  # the three Cu sites differ
    return atoms


def test_partials_are_each_elements_mean_site_dos_and_add_up(model_and_runtime):
    model, runtime = model_and_runtime
    atoms = cu3au()
    dos = runtime.predict_dos(atoms)
    assert list(dos.partials) == ["Cu", "Au"]
    np.testing.assert_allclose(dos.partial("Cu") + dos.partial("Au"), dos.dos, rtol=0, atol=1e-12)
    # each site holds 3 modes: the partials hold 3 x the element's share of the atoms
    assert np.trapezoid(dos.partial("Cu"), dos.frequencies) == pytest.approx(2.25, abs=1e-12)
    assert np.trapezoid(dos.partial("Au"), dos.frequencies) == pytest.approx(0.75, abs=1e-12)
    # independently: the eager network's per-site DOS, averaged over the element's sites, per atom of the cell
    graph = runtime.checked_graph(atoms)
    positions, occupancy, edges, shifts, _ = crystal_batch_inputs([graph[:4]], torch.float64)
    with torch.no_grad():
        sites = model.atom_dos(positions, occupancy, edges, shifts).numpy()
        total = model(*crystal_batch_inputs([graph[:4]], torch.float64))[0].numpy()
    au = np.array(atoms.get_chemical_symbols()) == "Au"
    np.testing.assert_allclose(dos.partial("Au"), sites[au].sum(axis=0) / len(atoms), atol=1e-12)
    np.testing.assert_allclose(dos.partial("Cu"), sites[~au].sum(axis=0) / len(atoms), atol=1e-12)
    np.testing.assert_allclose(dos.dos, total, atol=1e-12)  # the network's own mean over the structure
    assert np.abs(dos.partial("Cu") / 3 - dos.partial("Au")).max() > 1e-2  # the sites do differ


def test_site_forward_of_a_batch_equals_the_networks_mean(model_and_runtime):
    model, runtime = model_and_runtime
    crystals = [cu3au(), bulk("Ni", "fcc", 3.52), bulk("NiAl", "cesiumchloride", a=2.88) * (1, 1, 2)]
    graphs = [runtime.checked_graph(a) for a in crystals]
    with torch.no_grad():
        network = model(*crystal_batch_inputs([g[:4] for g in graphs], torch.float64)).numpy()
    np.testing.assert_allclose(runtime.forward(graphs), network, atol=1e-12)
    assert [s.shape[0] for s in runtime.site_forward(graphs)] == [4, 1, 4]


def test_virtual_crystal_sites_split_by_their_fractions(model_and_runtime):
    _, runtime = model_and_runtime
    dos = runtime.predict_dos(bulk("Cu", "fcc", 3.7), occupancy=[{"Cu": 0.3, "Au": 0.7}])
    assert list(dos.partials) == ["Cu", "Au"]
    np.testing.assert_allclose(dos.partial("Cu"), 0.3 * dos.dos, atol=1e-12)
    np.testing.assert_allclose(dos.partial("Au"), 0.7 * dos.dos, atol=1e-12)


def test_calculator_gives_partials_and_refuses_absent_elements(model_and_runtime):
    _, runtime = model_and_runtime
    atoms = cu3au()
    calc = E3DensityCalculator(runtime)
    dos = calc.get_phonon_dos(atoms)
    np.testing.assert_allclose(dos.partial("Au"), runtime.predict_dos(atoms).partial("Au"), atol=1e-12)
    with pytest.raises(E3DensityError, match=r"^no partial DOS of 'O': the elements of this structure are Cu, Au$"):
        dos.partial("O")


@pytest.mark.slow
def test_shipped_model_partials_add_up():
    runtime = load_model(shipped_model_path("phonon"))
    dos = runtime.predict_dos(bulk("NaCl", "rocksalt", a=5.64))
    assert list(dos.partials) == ["Na", "Cl"]
    np.testing.assert_allclose(dos.partial("Na") + dos.partial("Cl"), dos.dos, atol=1e-9)
    for symbol in ("Na", "Cl"):
        assert np.trapezoid(dos.partial(symbol), dos.frequencies) == pytest.approx(1.5, abs=1e-5)


def test_evaluate_reports_partial_errors_on_rows_that_have_them(model_and_runtime, tmp_path, capsys):
    """`e3density evaluate` compares the network's partials with the rows' own on their grid, on the rows
    that have them (not the older row without); the numbers equal the runtime's PhononDOS.partial against
    the training targets, through the metric's own function."""
    pytest.importorskip("phonopy")
    import json

    from ase.db import connect

    from ase_e3density.cli import main
    from ase_e3density.phonon.database import read_phonon_dos
    from ase_e3density.phonon.targets import dos_on_grid
    from ase_e3density.train.phonon.partials import partial_errors, partial_targets
    from emt_partial_phonons import WITHOUT_PARTIALS, emt_partial_db

    _, runtime = model_and_runtime
    db = emt_partial_db(tmp_path)
    assert main(["evaluate", str(runtime.path), str(db), "--json", str(tmp_path / "eval.json")]) == 0
    out = capsys.readouterr().out
    result = json.loads((tmp_path / "eval.json").read_text())
    per = result["per_structure"]
    assert WITHOUT_PARTIALS in per["name"] and WITHOUT_PARTIALS not in per["partial_name"]
    assert result["partial_n"] == len(per["name"]) - 1 == len(per["partial_l1"]) >= 3
    assert f"element-projected DOS, {result['partial_n']} crystals with one: L1 {result['partial_l1']:.3f}" in out
    grid, species = runtime.frequencies, list(runtime.species)
    rows = {r.name: r for r in connect(db).select()}
    own, ref = np.zeros((2, result["partial_n"], len(species), len(grid)))
    for k, name in enumerate(per["partial_name"]):
        dos = read_phonon_dos(rows[name])
        predicted = runtime.predict_dos(dos.atoms)
        index, values = partial_targets(dos, dos_on_grid(dos, grid), grid, species)
        ref[k, index] = values
        for symbol, values in predicted.partials.items():
            own[k, species.index(symbol)] = values
    expected = partial_errors(grid, own, ref)
    for key in ("partial_l1", "partial_wasserstein", "partial_r2"):
        assert result[key] == pytest.approx(expected[key], rel=1e-9)
    same = partial_errors(grid, ref, ref)  # the reference itself has no error
    assert same["partial_l1"] == same["partial_wasserstein"] == 0.0 and same["partial_r2"] == pytest.approx(1.0)
