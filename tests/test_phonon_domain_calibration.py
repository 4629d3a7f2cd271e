"""The phonon model's domain warnings: the calibrated rule (light atoms, gross geometry) of files that record
it, the pair rule of older files unchanged, what the trainer records, and the calibration script
(scripts/phonon_warning_calibration.py) on a tiny EMT database."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from ase.build import bulk
from ase.data import atomic_numbers

from ase_e3density.graph.domain import (PHONON_WARNINGS, crystal_domain_of, crystal_report, domain_of, edge_lengths,
                                        pair_report)
from ase_e3density.graph.neighbours import neighbour_list
from ase_e3density.models import deploy, load_model
from script_import import import_script

CUTOFF = 5.0
TRAINING = {"Cu-fcc": bulk("Cu", "fcc", 3.61), "NaCl-rocksalt": bulk("NaCl", "rocksalt", 5.64),
            "LiF-rocksalt": bulk("LiF", "rocksalt", 4.03), "Al-fcc": bulk("Al", "fcc", 4.05)}


def graph(atoms):
    """(atomic numbers, edges, edge lengths in Å, charge 0) of a crystal within :data:`CUTOFF`."""
    edges, shifts = neighbour_list(atoms, CUTOFF)
    return atoms.numbers, edges, edge_lengths(atoms.positions, edges, shifts), 0.0


@pytest.fixture(scope="module")
def domain() -> dict:
    crystals = list(TRAINING.values())
    return crystal_domain_of([graph(a) for a in crystals], CUTOFF, [a.get_chemical_symbols() for a in crystals])


def report(domain: dict, atoms, occupancy=None) -> list[str]:
    """:func:`crystal_report` of ``atoms``, ``occupancy`` one {symbol: fraction} (or None) per site."""
    sites = [np.array([atomic_numbers[s] for s in (o or {atoms[i].symbol: 1.0})])
             for i, o in enumerate(occupancy or [None] * len(atoms))]
    numbers, edges, lengths, _ = graph(atoms)
    return crystal_report(domain, numbers, sites, edges, lengths)


def old(domain: dict) -> dict:
    """The same domain as a file deployed before the rule was calibrated records it."""
    return {k: v for k, v in domain.items() if k not in ("element_crystals", "warnings")}


def test_the_trainer_records_training_crystals_per_element_and_the_rule(domain):
    from ase_e3density.train.phonon.loop import PhononTrainer

    samples = []
    for atoms in TRAINING.values():
        edges, shifts = neighbour_list(atoms, CUTOFF)
        samples.append(SimpleNamespace(atoms=atoms, graph=(atoms.positions, None, edges, shifts)))
    recorded = PhononTrainer.training_domain(SimpleNamespace(train_set=samples,
                                                             model_config=SimpleNamespace(cutoff=CUTOFF)))
    assert recorded == domain
    assert recorded["element_crystals"] == {"Li": 1, "F": 1, "Na": 1, "Al": 1, "Cl": 1, "Cu": 1}
    assert recorded["warnings"] == PHONON_WARNINGS
    # the geometric statistics are the density model's, untouched
    assert old(recorded) == domain_of([graph(a) for a in TRAINING.values()], CUTOFF)


def test_light_atoms_are_named_with_their_masses(domain):
    (diamond,) = report(domain, bulk("C", "diamond", 3.57))
    assert diamond.startswith("atoms lighter than 20 amu: C (12 amu)") and "high-frequency modes" in diamond
    # the boundary: F (19.0 amu) is light, Na (23.0 amu) is not; LiF was trained on and is still flagged
    (lif,) = report(domain, TRAINING["LiF-rocksalt"])
    assert lif.startswith("atoms lighter than 20 amu: Li (6.94 amu), F (19 amu)")
    assert report(domain, TRAINING["NaCl-rocksalt"]) == []
    # a light element on a virtual crystal's mixed site counts, however small its fraction
    (hydride,) = report(domain, bulk("Cu", "fcc", 3.61), [{"Cu": 0.95, "H": 0.05}])
    assert "H (1.01 amu)" in hydride


def test_pairs_never_met_are_flagged_only_by_the_old_rule(domain):
    cu_al = bulk("Cu", "fcc", 3.8, cubic=True)
    cu_al.symbols[[0, 1]] = "Al"  # L1_0-like CuAl: the pair Al-Cu never met in training
    assert report(domain, cu_al) == []
    assert report(old(domain), cu_al) == ["element pairs Al-Cu within 5 Å never met in training"]
    assert report(old(domain), cu_al) == pair_report(old(domain), *_sites_and_graph(cu_al))
    # a virtual crystal's unseen pair (Cu-Na on one site) likewise
    cu_na = [{"Cu": 0.9, "Na": 0.1}]
    assert report(domain, bulk("Cu", "fcc", 3.61), cu_na) == []
    assert report(old(domain), bulk("Cu", "fcc", 3.61), cu_na) == [
        "element pairs Na-Cu (of the virtual crystal's sites) within 5 Å never met in training"]


def _sites_and_graph(atoms):
    numbers, edges, lengths, _ = graph(atoms)
    return numbers, [np.array([z]) for z in numbers], edges, lengths


def test_only_gross_geometry_is_flagged(domain):
    # fcc Cu squeezed to 0.85 of its lattice constant: closer than 0.9 x the training's shortest Cu-Cu (the old
    # rule's test), not than 0.75 x
    squeezed = bulk("Cu", "fcc", 0.85 * 3.61)
    assert report(domain, squeezed) == []
    assert any(r.startswith("6 pair(s) closer than in training: Cu-Cu") for r in report(old(domain), squeezed))
    # at 0.7 the pairs are 0.7 x the shortest seen and each atom has (1/0.7)^3 ~ 2.9 x the neighbours: both named
    crushed = report(domain, bulk("Cu", "fcc", 0.7 * 3.61))
    assert crushed[0].startswith("6 pair(s) much closer than in training (< 0.75 x the shortest distance seen for "
                                 "the pair): Cu-Cu at 1.79 Å (training: >= 2.55 Å)")
    assert crushed[1].startswith("1 atom(s) far more crowded than in training (> 2 x the most neighbours seen)")
    # a crystal so dilute that no atom has a neighbour within the cutoff
    (isolated,) = report(domain, bulk("Cu", "fcc", 8.0))
    assert isolated.startswith("1 atom(s) more isolated than in training: atom 0 (Cu) has its nearest neighbour "
                               "at >5 Å")


def test_the_rules_settings_are_read_from_the_file(domain):
    heavier = {**domain, "warnings": {"light_mass": 25.0}}  # settings it lacks take their defaults
    assert report(heavier, TRAINING["NaCl-rocksalt"]) == [
        "atoms lighter than 25 amu: Na (23 amu); the high-frequency modes of light atoms are where this model's DOS "
        "and heat capacity are most often badly off"]
    assert report(heavier, bulk("Cu", "fcc", 0.85 * 3.61)) == []


SPECIES = ["Li", "F", "Na", "Al", "Cl", "Ni", "Cu", "Ag", "Au"]


@pytest.fixture(scope="module")
def network_file(tmp_path_factory) -> Path:
    """One small untrained network of :data:`SPECIES`, scripted and deployed once for the module."""
    import torch

    from ase_e3density.nn import PhononDOSModel, PhononModelConfig

    torch.manual_seed(1)
    network = PhononDOSModel(PhononModelConfig(species=SPECIES, hidden={0: 8, 1: 4}, n_layers=2, radial_hidden=8,
                                               n_bins=41, max_frequency=12.0), dtype=torch.float64)
    return deploy(network.eval(), tmp_path_factory.mktemp("network") / "network.pt")


def with_metadata(path: Path, output: Path, **fields) -> Path:
    """A copy of the deployed file ``path`` with metadata ``fields`` replaced, the network as it is."""
    import torch

    from ase_e3density.models import format as fmt
    from ase_e3density.models.jit import quiet_jit

    metadata = fmt.read_metadata(path)
    body = {k: v for k, v in metadata.items() if k not in (fmt.FORMAT, fmt.WEIGHTS_SHA256, fmt.CHECKSUM)}
    with quiet_jit():
        scripted = torch.jit.load(str(path))
    return fmt.write_archive(scripted, {**body, **fields}, output)


def test_old_and_new_files_warn_by_their_own_rule(tmp_path, domain, network_file):
    old_file = load_model(with_metadata(network_file, tmp_path / "old.pt", domain=old(domain)))
    new_file = load_model(with_metadata(network_file, tmp_path / "new.pt", domain=domain))
    cu_au = bulk("Cu", "fcc", 3.8, cubic=True)
    cu_au.symbols[[0, 1]] = "Au"
    old_dos, new_dos = old_file.predict_dos(cu_au), new_file.predict_dos(cu_au)
    np.testing.assert_array_equal(old_dos.dos, new_dos.dos)  # same network: only the words differ
    assert old_dos.info["domain_warnings"][0] == "element pairs Au-Au, Cu-Au within 5 Å never met in training"
    assert new_dos.info["domain_warnings"] == []
    assert new_file.predict_dos(TRAINING["LiF-rocksalt"]).info["domain_warnings"][0].startswith("atoms lighter")
    # masses changed relative to each other are flagged under either rule
    heavy = cu_au.copy()
    heavy.set_masses([2 * m if s == "Au" else m for s, m in zip(heavy.get_chemical_symbols(), heavy.get_masses())])
    for model in (old_file, new_file):
        assert model.predict_dos(heavy).info["domain_warnings"][-1].startswith("site masses changed relative")


# ---- the calibration script on a tiny EMT database ----

EMT_CRYSTALS = {  # name: (structure, split)
    "Cu-fcc": (lambda: bulk("Cu", "fcc", 3.61), "train"), "Ni-fcc": (lambda: bulk("Ni", "fcc", 3.52), "train"),
    "Au-fcc": (lambda: bulk("Au", "fcc", 4.08), "train"), "Al-fcc": (lambda: bulk("Al", "fcc", 4.05), "validation"),
    "Ag-fcc": (lambda: bulk("Ag", "fcc", 4.09), "test"), "Cu3Au-L1_2": (lambda: _cu3au(), "held_out"),
    "Cu0.75Au0.25-alloy-fcc": (lambda: _cu3au(), None),  # the same cell as an alloy row (alloy = 1)
}


def _cu3au():
    atoms = bulk("Cu", "fcc", 3.75, cubic=True)
    atoms.symbols[[0]] = "Au"
    return atoms


@pytest.fixture(scope="module")
def emt_model(tmp_path_factory, network_file):
    """A database of EMT phonons (no relaxation, small supercells and mesh) and an untrained network deployed
    with a split by uid and the pair rule's domain of its three training crystals, as an older file."""
    from ase.calculators.emt import EMT
    from ase.db import connect

    from ase_e3density.phonon.database import write_phonon_row
    from ase_e3density.phonon.reference import PhononSettings, reference_phonons

    folder = tmp_path_factory.mktemp("calibration")
    settings = PhononSettings(relax="none", min_width=6.0, mesh=(6, 6, 6))
    split = {"train": [], "validation": [], "test": [], "held_out": []}
    with connect(folder / "emt.db", use_lock_file=False) as db:
        for name, (build, part) in EMT_CRYSTALS.items():
            alloy = part is None
            info = {"name": name, "prototype": name.split("-", 1)[1], "alloy": int(alloy),
                    **({"composition": "Cu0.75Au0.25"} if alloy else {})}
            result = reference_phonons(build(), EMT(), settings)
            write_phonon_row(db, result, name, "test", settings.as_dict(), {}, info)
            if part:
                split[part].append(name)
    training = [build() for build, part in EMT_CRYSTALS.values() if part == "train"]
    path = with_metadata(network_file, folder / "model.pt", provenance={"split": split, "train_config": {}},
                         domain=domain_of([graph(a) for a in training], CUTOFF))
    return folder, path


@pytest.fixture(scope="module")
def calibration_script():
    return import_script("phonon_warning_calibration")


def test_calibration_script_measures_what_users_see(emt_model, calibration_script, capsys):
    from ase_e3density.train.phonon.evaluate import evaluate_phonon_model

    folder, path = emt_model
    written = folder / "warned.pt"
    out = calibration_script.main([str(path), str(folder / "emt.db"), "--large-w1", "0.5", "--write", str(written)])
    records = {(r["group"], r["name"]): r for r in out["records"]}
    alloy = "Cu0.75Au0.25-alloy-fcc"
    assert sorted(records) == sorted([("validation", "Al-fcc"), ("test", "Ag-fcc"), ("held_out", "Cu3Au-L1_2"),
                                      ("alloys", alloy), ("alloys_vca", alloy + "-vca"),
                                      ("routine", "Cu"), ("routine", "Cu0.5Ni0.5")])  # W, Ta, GaAs: unknown elements
    model = load_model(path)
    for split in ("validation", "test", "held_out"):  # the errors are `e3density evaluate`'s
        result = evaluate_phonon_model(model, folder / "emt.db", split=split)
        (record,) = [r for r in out["records"] if r["group"] == split]
        assert record["w1"] == pytest.approx(result["wasserstein"], rel=1e-12)
        assert record["dcv_300"] == pytest.approx(result["cv_mae_300"], rel=1e-12)
        assert record["large"] == (record["w1"] > 0.5 or record["dcv_300"] > 1.0)
    # the alloy row is the held-out crystal's cell and reference: the explicit supercell's errors are the same
    explicit, held = records[("alloys", alloy)], records[("held_out", "Cu3Au-L1_2")]
    for key in ("w1", "dcv_100", "dcv_300"):
        assert explicit[key] == pytest.approx(held[key], rel=1e-9)
    # the current rule is the old file's own warnings; the table counts what the records say
    for r in out["records"]:
        if r["group"] in ("validation", "test", "held_out"):
            assert r["current"] == model.domain_report(*_atoms_and_graph(model, folder, r["name"]))
    current = out["table"]["current rule (any warning)"]
    pooled = [r for r in out["records"] if r["group"] in ("validation", "test", "held_out")]
    flagged = [bool(r["current"]) for r in pooled]
    large = [r["large"] for r in pooled]
    assert current["pooled"] == (3, sum(flagged), sum(f and b for f, b in zip(flagged, large)), sum(large))
    assert "Cu0.5Ni0.5" in current["routine"]  # Ni-Cu never met: the old rule's typical false alarm
    assert out["table"]["calibrated rule (any warning)"]["routine"] == []
    assert "| current rule (any warning) |" in capsys.readouterr().out
    # the written copy: the same network, the per-element counts of the training rows, the calibrated rule
    warned = load_model(written)
    assert warned.metadata["weights_sha256"] == model.metadata["weights_sha256"]
    assert warned.metadata["domain"]["element_crystals"] == {"Ni": 1, "Cu": 1, "Au": 1}
    assert warned.metadata["domain"]["warnings"] == PHONON_WARNINGS
    half = [{"Cu": 0.5, "Ni": 0.5}]
    cu_ni = warned.predict_dos(bulk("Cu", "fcc", 3.59), occupancy=half)
    np.testing.assert_array_equal(cu_ni.dos, model.predict_dos(bulk("Cu", "fcc", 3.59), occupancy=half).dos)
    assert cu_ni.info["domain_warnings"] == records[("routine", "Cu0.5Ni0.5")]["calibrated"] == []


def _atoms_and_graph(model, folder, name):
    from ase.db import connect

    atoms = connect(folder / "emt.db", use_lock_file=False).get(name=name).toatoms()
    return atoms, model.checked_graph(atoms)
