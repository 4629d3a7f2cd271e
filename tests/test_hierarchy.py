"""The hierarchy study: feature statistics, output restriction, the resumable study grid and its outputs."""
import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from ase_e3density.cli import main
from ase_e3density.electron.basis import load_basis
from ase_e3density.errors import ConfigError
from ase_e3density.hierarchy import Study, packaged_study
from ase_e3density.hierarchy.curves import layer_norms_by_l
from ase_e3density.hierarchy.report import hierarchy_finding, output_order_finding
from ase_e3density.models import load_model
from ase_e3density.models.format import read_metadata
from ase_e3density.train import TrainConfig, train
from ase_e3density.train.checkpoint import model_from_checkpoint
from ase_e3density.train.data import collate, load_samples
from ase_e3density.train.feature_stats import layer_irreps, read_feature_stats
from ase_e3density.train.loss import DensityLoss

STUDIES = Path(packaged_study("quick")).parent
TRAIN_DB, VAL_DB = STUDIES / "water_hierarchy_train.db", STUDIES / "water_hierarchy_quick_val.db"
TINY_MODEL = {"species": ["H", "O"], "hidden": {0: 3, 1: 2, 2: 2}, "n_layers": 2, "sh_lmax": 4, "radial_hidden": 8,
              "n_radial": 6}


def tiny(out, **overrides) -> TrainConfig:
    options = dict(train=str(TRAIN_DB), validation=str(VAL_DB), output=str(out), max_structures=8, seed=1,
                   batch_size=4, lr=0.01, epochs=2, validate_every=2, free_atom="mean", model=TINY_MODEL,
                   grid_level=1)
    options.update(overrides)
    return TrainConfig(**options)


@pytest.fixture(scope="module")
def restricted_run(tmp_path_factory):
    """A run that learns only l = 0 outputs and records feature statistics every step."""
    out = tmp_path_factory.mktemp("restricted")
    path = train(tiny(out, output_lmax=0, feature_stats_every=1, feature_stats_probe=3))
    return out, path


def test_feature_statistics_cover_every_layer_and_l_and_equal_an_independent_computation(restricted_run):
    out, _ = restricted_run
    stats = read_feature_stats(out / "feature_stats.jsonl")
    assert [r["step"] for r in stats] == list(range(len(stats))) and len(stats) == 1 + 2 * 2  # step 0, 2 batches x 2 epochs
    model = model_from_checkpoint(out / "checkpoint.pt")
    irreps = layer_irreps(model)
    assert len(stats[-1]["layers"]) == len(irreps) == 1 + model.config.n_layers
    for layer, ir in zip(stats[-1]["layers"], irreps):
        assert set(layer) == {str(i) for _, i in ir}
    # independent: the probe batch (first 3 validation structures), features sliced by hand
    probe = load_samples(VAL_DB, ["H", "O"], model.config.cutoff, model.max_dim, limit=3)
    inputs, _ = collate(probe, torch.float32)
    features = model.features(*inputs[:4])
    for h, ir, recorded in zip(features, irreps, stats[-1]["layers"]):
        h, start = h.detach().numpy(), 0
        for mul, irrep in ir:
            block = h[:, start:start + mul * irrep.dim].reshape(len(h), mul, irrep.dim)
            start += mul * irrep.dim
            independent = np.sqrt((block.astype(np.float64) ** 2).sum(-1)).mean(0)
            np.testing.assert_allclose(recorded[str(irrep)], independent, rtol=1e-6, atol=1e-8)


def test_output_restriction_keeps_higher_l_at_the_reference_and_scores_only_learned_parts(restricted_run):
    out, path = restricted_run
    model = load_model(path)
    from ase.build import molecule

    atoms = molecule("H2O")
    density = model.predict_density(atoms)
    basis, start = density.basis, 0
    for symbol in atoms.get_chemical_symbols():
        n = basis[symbol].n_functions
        higher = basis[symbol].function_l > 0
        assert np.all(density.coefficients[start:start + n][higher] == 0.0)  # free atoms are spherical
        assert np.any(density.coefficients[start:start + n][~higher] != 0.0)
        start += n
    metrics = read_metadata(path)["provenance"]["validation_metrics"]
    assert metrics["eps"] == pytest.approx(metrics["eps_l0"], rel=1e-9)  # the reference is restricted too
    assert all(metrics[f"eps_l{l}"] == 0.0 for l in range(1, 5))
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert all(r["val_loss_l0"] > 0 and r["val_loss_l1"] == 0 for r in log)


def test_restricted_loss_ignores_exactly_the_components_it_does_not_learn():
    basis = load_basis("def2-universal-jfit-decontracted")
    species = ["H", "O"]
    width = max(basis[s].n_functions for s in species)
    rng = np.random.default_rng(0)
    kinds = torch.tensor([1, 0, 0, 1])
    positions = torch.as_tensor(rng.normal(size=(4, 3)) * 2)
    batch = torch.tensor([0, 0, 0, 1])
    predicted = torch.as_tensor(rng.normal(size=(4, width)))
    target = torch.as_tensor(rng.normal(size=(4, width)))
    higher = torch.stack([torch.as_tensor(np.pad(basis[species[k]].function_l > 0,
                                                 (0, width - basis[species[k]].n_functions))) for k in kinds])
    changed = target + higher * torch.as_tensor(rng.normal(size=(4, width)))
    for output_lmax, same in ((0, True), (None, False)):
        loss = DensityLoss(basis, species, width, dipole_weight=0.5, output_lmax=output_lmax)
        a = loss(predicted, target, kinds, positions, batch, 2)
        b = loss(predicted, changed, kinds, positions, batch, 2)
        assert (float(a) == float(b)) is same
    # the per-l terms add up to the density term of the whole loss (S has no blocks between different l)
    loss = DensityLoss(basis, species, width)
    parts = loss.density_term_by_l(predicted, target, kinds)
    assert sum(parts.values()) == pytest.approx(float(loss(predicted, target, kinds, positions, batch, 2)), rel=1e-12)


def test_study_file_errors_name_the_option(tmp_path):
    bad = tmp_path / "s.yaml"
    for text, words in (("training: {train: x.db}\nhidden_lmax: [5]\n", "hidden_lmax"),
                        ("training: {train: x.db, seed: 3}\n", "training.seed"),
                        ("training: {train: x.db}\nwidths: wide\n", "widths"),
                        ("hidden_lmax: [0]\n", "'training'"),
                        ("training: {train: x.db}\ncolour: red\n", "colour"),
                        ("training: {train: x.db}\noutputs: [0, al]\n", "option outputs: expected integers 0..4 or 'all'"),
                        ("training: {train: x.db}\nseeds: []\n", "option seeds: expected a non-empty list"),
                        ("training: {train: x.db}\nchannels: 0\n", "option channels: must be >= 1"),
                        ("training: {train: x.db, lr: -1}\n", "training: option lr: must be > 0"),
                        ("training: {train: x.db, learning_rate: 1}\n", r"training: unknown training option\(s\) learning_rate"),
                        ("training: {train: x.db, model: {n_layers: 0}}\n", r"training: option model\.n_layers: must be > 0")):
        bad.write_text(text)
        with pytest.raises(ConfigError, match=words):
            Study.from_yaml(bad)


def test_finding_verdicts_follow_the_numbers():
    def row(lmax, outputs, eps, std=0.01):
        return {"hidden_lmax": lmax, "outputs": outputs, "eps_mean": eps, "eps_std": std}
    rising = [row(0, "l0", 1.0), row(1, "l0", 0.98), row(0, "all", 2.0), row(1, "all", 1.0)]
    assert output_order_finding(rising)[0].startswith("holds")
    falling = [row(0, "l0", 1.0), row(1, "l0", 0.5), row(0, "all", 2.0), row(1, "all", 1.9)]
    assert output_order_finding(falling)[0].startswith("does not hold")
    layer = lambda *norms: {f"{l}{'e' if l % 2 == 0 else 'o'}": [v] for l, v in enumerate(norms)}  # noqa: E731
    record = lambda *norms: {"layers": [layer(1.0), layer(*norms), layer(*norms)]}  # noqa: E731
    ordered = {"all": [[record(1.0, 1.0, 1.0), record(1.0, 0.5, 0.1)]]}
    assert hierarchy_finding(ordered)[0].startswith("holds")
    assert hierarchy_finding({"all": [[record(1.0, 1.0, 1.0), record(0.1, 0.5, 1.0)]]})[0].startswith("does not hold")
    assert layer_norms_by_l({"0e": [1.0, 3.0], "1o": [2.0], "1e": [4.0]}) == {0: 2.0, 1: 3.0}


def write_study(tmp_path, training: dict | None = None, **grid) -> Path:
    study = {"name": "tiny", "hidden_lmax": [0, 1], "outputs": [0, "all"], "seeds": [0], "channels": 2,
             "training": {"train": str(TRAIN_DB), "validation": str(VAL_DB), "max_structures": 8,
                          "model": {k: v for k, v in TINY_MODEL.items() if k != "hidden"}, "free_atom": "mean",
                          "batch_size": 4, "lr": 0.01, "epochs": 3, "validate_every": 1,
                          "early_stopping_patience": 50, "feature_stats_every": 2, "grid_level": 1}}
    study.update(grid)
    study["training"].update(training or {})
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(study))
    return path


@pytest.mark.slow
def test_study_writes_summary_plots_and_report_that_equal_the_run_logs(tmp_path):
    path = write_study(tmp_path)
    assert main(["hierarchy", str(path), "-o", str(tmp_path / "out")]) == 0
    out = tmp_path / "out"
    for name in ("error_vs_lmax", "feature_norms_out_l0", "feature_norms_out_all", "eps_l_vs_epoch"):
        for ext, magic in (("png", b"\x89PNG"), ("pdf", b"%PDF")):
            data = (out / f"{name}.{ext}").read_bytes()
            assert data.startswith(magic) and len(data) > 5000
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary["runs"]) == 4 and len(summary["configurations"]) == 4
    for run in summary["runs"]:
        folder = out / "runs" / run["run"]
        provenance = read_metadata(folder / "model.pt")["provenance"]
        log = [json.loads(line) for line in (folder / "log.jsonl").read_text().splitlines()]
        best = next(r for r in log if r["epoch"] == provenance["best_epoch"])
        assert run["eps"] == provenance["validation_metrics"]["eps"] == pytest.approx(best["val_eps"], rel=1e-6)
        assert run["dipole_error"] == pytest.approx(best["val_dipole_error"], rel=1e-6)
        assert run["training_seconds"] == provenance["training_seconds"]
    with open(out / "summary.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert float(rows[0]["eps_mean"]) == pytest.approx(summary["configurations"][0]["eps_mean"], rel=1e-12)
    report = (out / "report.md").read_text()
    assert "Finding 1" in report and "Finding 2" in report


def _without_times(path: Path) -> list[dict]:
    with open(path) as handle:
        return [{k: v for k, v in row.items() if not k.startswith("training_seconds")} for row in csv.DictReader(handle)]


@pytest.mark.slow
def test_interrupted_study_resumes_and_equals_an_uninterrupted_one(tmp_path):
    path = write_study(tmp_path, training={"epochs": 6}, outputs=["all"])
    assert main(["hierarchy", str(path), "-o", str(tmp_path / "whole")]) == 0
    # kill -9 the same study in the middle of its second run, then run it again
    command = [sys.executable, "-m", "ase_e3density.cli", "hierarchy", str(path), "-o", str(tmp_path / "cut")]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    second = tmp_path / "cut" / "runs" / "lmax1-out_all-seed0" / "log.jsonl"
    deadline = time.time() + 300
    while time.time() < deadline and not (second.exists() and len(second.read_text().splitlines()) >= 2):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (tmp_path / "cut" / "runs" / "lmax0-out_all-seed0" / "model.pt").exists()
    assert not (tmp_path / "cut" / "runs" / "lmax1-out_all-seed0" / "model.pt").exists()
    first_model = (tmp_path / "cut" / "runs" / "lmax0-out_all-seed0" / "model.pt").stat().st_mtime_ns
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    assert "lmax0-out_all-seed0: done before, skipped" in result.stderr
    assert "lmax1-out_all-seed0: resuming" in result.stderr
    assert (tmp_path / "cut" / "runs" / "lmax0-out_all-seed0" / "model.pt").stat().st_mtime_ns == first_model
    assert _without_times(tmp_path / "cut" / "summary.csv") == _without_times(tmp_path / "whole" / "summary.csv")
    stats = read_feature_stats(tmp_path / "cut" / "runs" / "lmax1-out_all-seed0" / "feature_stats.jsonl")
    steps = [r["step"] for r in stats]
    assert steps == sorted(set(steps))  # no record written twice across the kill


@pytest.mark.slow
def test_quick_study_from_the_command_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "ase_e3density.cli", "hierarchy", "--quick", "-o",
                             str(tmp_path / "q")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((tmp_path / "q" / "summary.json").read_text())
    assert {(r["hidden_lmax"], r["outputs"]) for r in summary["configurations"]} == \
        {(lmax, o) for lmax in range(4) for o in ("l0", "l<=1", "all")}
    assert all(r["n_seeds"] == 2 for r in summary["configurations"])
    assert (tmp_path / "q" / "report.md").read_text().count("Finding") == 2


def test_a_study_too_small_to_test_the_findings_says_so():
    from ase_e3density.hierarchy.report import report_text, scale_note

    assert scale_note(40, None) is None and scale_note(20, 100) is None
    assert "4 epochs on 16 training structures" in scale_note(4, 16)
    rows = [{"outputs": "all", "hidden_lmax": l, "eps_mean": 1.0 + l, "eps_std": 0.01} for l in (0, 1)]
    rows += [{"outputs": "l<=1", "hidden_lmax": l, "eps_mean": 1.0 + l, "eps_std": 0.01} for l in (0, 1)]
    quick = report_text("q", "cmd", rows, {}, 1, 2, epochs=4, structures=16)
    full = report_text("q", "cmd", rows, {}, 1, 2, epochs=40, structures=None)
    assert quick.count("**not tested at this scale") == 2 and "(as computed: weakly: the drop rises" in quick
    assert "not tested at this scale" not in full and "**weakly: the drop rises" in full
