"""The trainer: a tiny run learns, resumes exactly, runs under torchrun, and evaluates."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from ase.build import molecule
from ase.io import write

from ase_e3density.cli import main
from ase_e3density.deploy import load_model
from ase_e3density.train import TrainConfig, train

pytest.importorskip("pyscf")


@pytest.fixture(scope="module")
def reference_db(tmp_path_factory):
    """Six rattled waters and two dimers at PBE0/cc-pVDZ (a few seconds of PySCF)."""
    root = tmp_path_factory.mktemp("ref")
    frames = []
    for k in range(6):
        w = molecule("H2O")
        w.rattle(0.04, seed=k)
        frames.append(w)
    for k in range(2):
        d = molecule("H2O") + molecule("H2O")
        d.positions[3:] += [2.9, 0.2 * k, 0.1]
        frames.append(d)
    write(root / "in.xyz", frames)
    assert main(["reference", str(root / "in.xyz"), "-o", str(root / "ref.db")]) == 0
    return root / "ref.db"


def tiny_config(db, out, **overrides) -> TrainConfig:
    options = dict(train=str(db), output=str(out), seed=3, batch_size=2, lr=0.01, epochs=4, validation_fraction=0.25,
                   free_atom="mean", model={"hidden": {0: 8, 1: 4, 2: 2}, "n_layers": 2, "radial_hidden": 8, "sh_lmax": 2})
    options.update(overrides)
    return TrainConfig(**options)


def history(out):
    return [json.loads(line) for line in (Path(out) / "log.jsonl").read_text().splitlines()]


def test_tiny_training_lowers_the_loss_and_deploys(reference_db, tmp_path):
    path = train(tiny_config(reference_db, tmp_path / "run", epochs=6))
    log = history(tmp_path / "run")
    assert [r["epoch"] for r in log] == list(range(1, 7))
    assert log[-1]["train_loss"] < 0.7 * log[0]["train_loss"]
    assert {"val_eps", "val_eps_l0", "val_eps_l1", "val_dipole_error", "val_charge_mae"} <= set(log[-1])
    model = load_model(path)
    assert model.metadata["provenance"]["n_train"] == 6 and model.metadata["provenance"]["seed"] == 3
    assert np.isfinite(model.predict(molecule("H2O"))).all()


def test_resume_reproduces_an_uninterrupted_run(reference_db, tmp_path):
    train(tiny_config(reference_db, tmp_path / "straight", epochs=3))
    train(tiny_config(reference_db, tmp_path / "split", epochs=1))
    (tmp_path / "split" / ".checkpoint.pt.999.tmp").write_bytes(b"half-written by a killed run")
    train(tiny_config(reference_db, tmp_path / "split", epochs=3))
    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=False)
    b = torch.load(tmp_path / "split" / "checkpoint.pt", weights_only=False)
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
    assert history(tmp_path / "straight") == [dict(r, seconds=s["seconds"]) for r, s in
                                              zip(history(tmp_path / "split"), history(tmp_path / "straight"))]
    assert a["optimizer"]["state"].keys() == b["optimizer"]["state"].keys()


def test_resume_refuses_another_architecture(reference_db, tmp_path):
    train(tiny_config(reference_db, tmp_path / "run", epochs=1))
    with pytest.raises(ValueError, match="another model configuration"):
        train(tiny_config(reference_db, tmp_path / "run", epochs=2, model={"hidden": {0: 4}, "n_layers": 1}))


def test_two_process_ddp_with_torchrun(reference_db, tmp_path):
    config = tmp_path / "cfg.yaml"
    cfg = tiny_config(reference_db, tmp_path / "ddp", epochs=2).to_dict()
    config.write_text(yaml.safe_dump(cfg))
    env = dict(os.environ, OMP_NUM_THREADS="1")
    torchrun = Path(sys.executable).with_name("torchrun")
    out = subprocess.run([str(torchrun), "--nproc_per_node", "2", "-m", "ase_e3density.train", str(config)],
                         capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "2 process(es)" in out.stderr
    assert [r["epoch"] for r in history(tmp_path / "ddp")] == [1, 2]
    assert (tmp_path / "ddp" / "model.pt").is_file()


def test_evaluate_command(reference_db, tmp_path, capsys):
    path = train(tiny_config(reference_db, tmp_path / "run", epochs=1))
    assert main(["evaluate", str(path), str(reference_db), "--grid-level", "1", "--json", str(tmp_path / "e.json")]) == 0
    printed = capsys.readouterr().out
    assert "mean over 8 structures" in printed and "e3density evaluate" in printed
    summary = json.loads((tmp_path / "e.json").read_text())["summary"]
    assert summary["n_structures"] == 8 and summary["eps"] > 0 and summary["dipole_error_dft"] >= 0


def test_config_rejects_unknown_keys(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("train: x.db\nlearning_rate: 0.1\n")
    with pytest.raises(ValueError, match="unknown training option.*learning_rate"):
        TrainConfig.from_yaml(path)
