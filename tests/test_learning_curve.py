"""scripts/learning_curve.py: the per-size configurations of both kinds, the phonon table and its power-law
fits, the page it writes into, and (slow) a whole phonon learning curve on EMT crystals."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml

from script_import import import_script


@pytest.fixture(scope="module")
def lc():
    return import_script("learning_curve")


def _config(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "c.yaml"
    path.write_text(text)
    return path


def test_each_kind_caps_its_own_training_set_and_keeps_its_data(lc, tmp_path):
    phonon = _config(tmp_path / "configs", "kind: phonon_dos\ndata: ../data/p.db\noutput: ../runs/p\n"
                                           "time_budget_minutes: 10\nepochs: 250\n")
    path = lc.derived_config(phonon, 50, tmp_path / "out" / "deep" / "n50", epochs=None)
    options = yaml.safe_load(path.read_text())
    assert path == tmp_path / "out" / "deep" / "n50.yaml"
    assert options["max_train"] == 50 and "max_structures" not in options and options["output"] == "n50"
    assert "time_budget_minutes" not in options and options["epochs"] == 250
    assert (path.parent / options["data"]).resolve() == (tmp_path / "data" / "p.db").resolve()
    assert lc.phonon_data(phonon) == (tmp_path / "data" / "p.db").resolve()

    density = _config(tmp_path / "configs2", "train: [../a.db, ../b.db]\nvalidation: ../v.db\noutput: r\n")
    options = yaml.safe_load(lc.derived_config(density, 100, tmp_path / "o" / "n100", epochs=7).read_text())
    assert options["max_structures"] == 100 and "max_train" not in options and options["epochs"] == 7
    assert [(tmp_path / "o" / t).resolve() for t in options["train"]] == [tmp_path / "a.db", tmp_path / "b.db"]
    assert (tmp_path / "o" / options["validation"]).resolve() == tmp_path / "v.db"

    other = _config(tmp_path / "configs3", "kind: screen\n")
    with pytest.raises(SystemExit, match="kind 'screen' has no learning curve"):
        lc.derived_config(other, 10, tmp_path / "x" / "n10", None)


def test_test_databases_only_for_density_runs(lc, tmp_path, capsys):
    phonon = _config(tmp_path / "p", "kind: phonon_dos\ndata: p.db\n")
    density = _config(tmp_path / "d", "train: t.db\n")
    with pytest.raises(SystemExit):
        lc.main([str(phonon), "--sizes", "5", "--out", str(tmp_path / "o"), "--test", "t.db"])
    assert "own split" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        lc.main([str(density), "--sizes", "5", "--out", str(tmp_path / "o")])
    assert "--test is required" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # refused before anything is written


def test_power_law_recovers_its_parameters_and_target(lc):
    n = np.array([50, 100, 200, 400])
    a, b = lc.power_law(n, 3.0 * n ** -0.5)
    assert a == pytest.approx(3.0) and b == pytest.approx(0.5)
    assert lc.crystals_for(3.0, 0.5, 0.3) == pytest.approx(100.0)  # 3 / sqrt(100) = 0.3
    assert lc.crystals_for(3.0, -0.1, 0.3) == float("inf")  # a curve that does not fall never gets there


def _fake_size(out: Path, size: int, w1: float, r2: float, epochs: int = 4, best: int = 2) -> None:
    """A finished size: its result file and a log of ``epochs`` epochs, 30 s each, best at ``best``."""
    folder = out / f"n{size}"
    folder.mkdir(parents=True)
    stats = {"n": 9, "r2": r2, "w1": w1, "w1_max": 3 * w1, "cv100": 0.9, "cv300": 0.3}
    (folder / "test.json").write_text(json.dumps({"train_crystals": size, "splits": {
        "test": {**stats, "w1": w1 / 2}, "held_out": stats}}))
    (folder / "log.jsonl").write_text("".join(
        json.dumps({"epoch": e, "val_loss": abs(e - best) + 1.0, "seconds": 30.0 * e}) + "\n" for e in range(1, epochs + 1)))


def test_phonon_table_and_fits_read_the_result_files(lc, tmp_path):
    config = _config(tmp_path, "kind: phonon_dos\ndata: p.db\n")
    out = tmp_path / "runs"
    for n in (50, 100, 200):  # held-out W1 = 4 N^-0.5, 1 - R2 = 2 N^-0.25
        _fake_size(out, n, w1=4 * n ** -0.5, r2=1 - 2 * n ** -0.25)
    text = lc.table(config, out, [50, 100, 200, 400], test=None)  # 400 has no result yet: left out
    rows = [line for line in text.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert len(rows) == 6 and [r.split(" | ")[3] for r in rows[:2]] == ["test (9)", "held_out (9)"]
    assert rows[1].startswith("| 50 | 4 (2) | 2 | held_out (9) | 0.248 | 0.566 | 1.70 |")
    fits = [line for line in text.splitlines() if line.startswith("- ")]
    # (4 / 0.4)^2 and (2 / 0.3)^4 crystals; the test split's W1 is half the held-out one
    assert fits == ["- held_out: mean W1 = 4 N^-0.500 THz, 0.4 THz at N = 100; 1 - median R2 = 2 N^-0.250, "
                    "R2 0.7 at N = 1.98e+03.",
                    "- test: mean W1 = 2 N^-0.500 THz, 0.4 THz at N = 25; 1 - median R2 = 2 N^-0.250, "
                    "R2 0.7 at N = 1.98e+03."]
    worse = tmp_path / "worse"  # errors that grow with the training set never reach the targets
    for n in (50, 100, 200):
        _fake_size(worse, n, w1=0.1 * n ** 0.3, r2=1 - 0.01 * n ** 0.2)
    rising = [line for line in lc.table(config, worse, [50, 100, 200], None).splitlines() if line.startswith("- h")]
    assert rising == ["- held_out: mean W1 = 0.1 N^0.300 THz, 0.4 THz at N = inf; 1 - median R2 = 0.01 N^0.200, "
                      "R2 0.7 at N = inf."]
    fewer = lc.table(config, out, [50, 100], test=None)
    assert "Power laws" not in fewer  # two sizes are too few to fit


def test_markdown_between_markers_keeps_the_prose(lc, tmp_path):
    page = tmp_path / "page.md"
    lc.write_markdown(page, "| table |\n")
    assert page.read_text() == "| table |\n"  # no page yet: the table is the file
    page.write_text(f"# Title\n\nbefore\n\n{lc.START}\nold table\n{lc.END}\n\nafter\n")
    lc.write_markdown(page, "| new |\n")
    lc.write_markdown(page, "| newer |\n")
    assert page.read_text() == f"# Title\n\nbefore\n\n{lc.START}\n| newer |\n{lc.END}\n\nafter\n"


@pytest.mark.slow
def test_phonon_learning_curve_on_emt_crystals(lc, tmp_path):
    from test_phonon_model import TINY_PHONON, _emt_phonon_db

    from ase_e3density.models import load_model
    from ase_e3density.train.phonon.evaluate import evaluate_phonon_model

    _emt_phonon_db(tmp_path / "emt.db")  # 5 fcc metals, 3 L12 alloys held out whole
    config = _config(tmp_path, "kind: phonon_dos\ndata: emt.db\noutput: unused\nepochs: 2\nvalidation_fraction: 0.2\n"
                               f"test_fraction: 0.2\ntest_prototypes: [L12]\nbatch_size: 1\nthreads: 1\n"
                               f"model: {json.dumps(TINY_PHONON)}\n")
    out, page = tmp_path / "curve", tmp_path / "curve.md"
    lc.main([str(config), "--sizes", "2,1,9", "--out", str(out), "--markdown", str(page)])
    models = {n: load_model(out / f"n{n}" / "model.pt") for n in (1, 2, 9)}
    splits = {n: m.metadata["provenance"]["split"] for n, m in models.items()}
    assert [len(splits[n]["train"]) for n in (1, 2, 9)] == [1, 2, 3]  # 9 asks for more than there are
    assert splits[1]["train"] == splits[9]["train"][:1]  # the first N of one seeded order
    for name in ("validation", "test", "held_out"):  # the same for every size
        assert splits[1][name] == splits[2][name] == splits[9][name]
    results = {n: json.loads((out / f"n{n}" / "test.json").read_text()) for n in (1, 2, 9)}
    assert [results[n]["train_crystals"] for n in (1, 2, 9)] == [1, 2, 3]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        direct = evaluate_phonon_model(models[2], tmp_path / "emt.db", split="held_out")
    held = results[2]["splits"]["held_out"]
    assert held["n"] == 3 and held["w1"] == pytest.approx(direct["wasserstein"], rel=1e-9)
    assert held["cv300"] == pytest.approx(direct["cv_mae_300"], rel=1e-9)
    assert page.read_text().count("| held_out (3) |") == 3 and "Power laws" in page.read_text()
    # a rerun recomputes nothing: every size has its result
    stamps = {n: (out / f"n{n}" / "test.json").stat().st_mtime_ns for n in (1, 2, 9)}
    lc.main([str(config), "--sizes", "1,2,9", "--out", str(out)])
    assert stamps == {n: (out / f"n{n}" / "test.json").stat().st_mtime_ns for n in (1, 2, 9)}
