"""The trainer: learns, resumes exactly, honours every option, records true provenance."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from ase.build import molecule
from ase.io import write

from ase_e3density import ConfigError, density_error
from ase_e3density.cli import main
from ase_e3density.electron.database import iter_densities
from ase_e3density.models import load_model
from ase_e3density.train import TrainConfig, train
from ase_e3density.train.checkpoint import load_checkpoint, model_from_checkpoint

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
    assert main(["reference", str(root / "in.xyz"), "-o", str(root / "ref.db"), "--no-stability-check"]) == 0
    return root / "ref.db"


def tiny_config(db, out, **overrides) -> TrainConfig:
    options = dict(train=str(db), output=str(out), seed=3, batch_size=2, lr=0.01, epochs=4, validation_fraction=0.25,
                   free_atom="mean", model={"hidden": {0: 8, 1: 4, 2: 2}, "n_layers": 2, "radial_hidden": 8, "sh_lmax": 2})
    options.update(overrides)
    return TrainConfig(**options)


def history(out):
    return [json.loads(line) for line in (Path(out) / "log.jsonl").read_text().splitlines()]


def test_training_learns_and_deploys_its_true_validation_metrics(reference_db, tmp_path):
    path = train(tiny_config(reference_db, tmp_path / "run", epochs=6))
    log = history(tmp_path / "run")
    assert [r["epoch"] for r in log] == list(range(1, 7))
    assert log[-1]["train_loss"] < 0.7 * log[0]["train_loss"]
    model = load_model(path)
    prov = model.metadata["provenance"]
    assert prov["n_train"] == 6 and prov["n_val"] == 2 and prov["seed"] == 3
    assert prov["train_config"]["lr"] == 0.01 and prov["command"]
    assert model.metadata["domain"]["spin"] == [0, 0]  # closed-shell water only: 2S = 0 recorded
    assert json.loads((tmp_path / "run" / ".ase_e3density").read_text())["content"] == "training run"
    # the recorded validation metrics are those of the deployed network, recomputed independently
    order = np.random.default_rng(3).permutation(8)
    references = list(iter_densities(reference_db))
    eps = []
    for i in order[:2]:
        ref = references[i]
        predicted = model.predict_density(ref.atoms, ref.total_charge)
        eps.append(density_error(predicted, ref, level=1)["eps"])
    assert prov["validation_metrics"]["eps"] == pytest.approx(np.mean(eps), rel=1e-5)
    assert {"eps_l0", "eps_l1", "eps_l2", "eps_l3", "eps_l4", "dipole_error", "charge_mae"} <= set(prov["validation_metrics"])


@pytest.mark.slow
def test_resume_reproduces_an_uninterrupted_run(reference_db, tmp_path):
    train(tiny_config(reference_db, tmp_path / "straight", epochs=3))
    train(tiny_config(reference_db, tmp_path / "split", epochs=1))
    (tmp_path / "split" / ".checkpoint.pt.999.tmp").write_bytes(b"half-written by a killed run")
    train(tiny_config(reference_db, tmp_path / "split", epochs=3))
    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=False)
    b = torch.load(tmp_path / "split" / "checkpoint.pt", weights_only=False)
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
    timing = ("seconds", "seconds_epoch")
    def strip(log):
        return [{k: v for k, v in r.items() if k not in timing} for r in log]

    assert strip(history(tmp_path / "straight")) == strip(history(tmp_path / "split"))
    assert b["progress"]["resumes"] == [{"after_epoch": 1, "changed": {"epochs": [1, 3]}}]
    deployed = tmp_path / "split" / "model.pt"  # finished and deployed: a rerun returns it, nothing retrained
    stamp = (deployed.stat().st_mtime_ns, (tmp_path / "split" / "checkpoint.pt").stat().st_mtime_ns)
    assert train(tiny_config(reference_db, tmp_path / "split", epochs=3)) == deployed
    assert (deployed.stat().st_mtime_ns, (tmp_path / "split" / "checkpoint.pt").stat().st_mtime_ns) == stamp


@pytest.mark.slow
def test_resume_refuses_changed_settings(reference_db, tmp_path):
    train(tiny_config(reference_db, tmp_path / "run", epochs=1))
    with pytest.raises(ConfigError, match=r"lr \(0.01 -> 0.02\).*--restart"):
        train(tiny_config(reference_db, tmp_path / "run", epochs=2, lr=0.02))
    with pytest.raises(ConfigError, match=r"other settings: model \(\{"):
        train(tiny_config(reference_db, tmp_path / "run", epochs=2, model={"hidden": {0: 4}, "n_layers": 1}))
    train(tiny_config(reference_db, tmp_path / "run", epochs=2, lr=0.02), resume=False)  # restart: allowed
    assert load_checkpoint(tmp_path / "run" / "checkpoint.pt")["train_config"]["lr"] == 0.02


@pytest.mark.slow
def test_early_stopping_and_time_budget(reference_db, tmp_path):
    train(tiny_config(reference_db, tmp_path / "es", epochs=12, lr=0.5, early_stopping_patience=2, lr_patience=50))
    log = history(tmp_path / "es")
    best = np.minimum.accumulate([r["val_loss"] for r in log])
    stale = 0
    for k, r in enumerate(log):  # the rule, replayed: stop after 2 epochs without a new best
        stale = 0 if k == 0 or r["val_loss"] < best[k - 1] else stale + 1
        if stale == 2:
            assert k == len(log) - 1
            break
    assert len(log) < 12
    train(tiny_config(reference_db, tmp_path / "budget", epochs=10, time_budget_minutes=1e-6))
    assert len(history(tmp_path / "budget")) == 1


@pytest.mark.slow
def test_separate_validation_set_options_and_pyscf_free_atoms(reference_db, tmp_path):
    from ase_e3density.electron.basis import load_basis
    from ase_e3density.electron.reference import free_atom_coefficients
    config = tiny_config(reference_db, tmp_path / "run", epochs=3, validation=str(reference_db), max_structures=3,
                         validate_every=2, free_atom="pyscf",
                         model={"hidden": {0: 8, 1: 2}, "n_layers": 1, "sh_lmax": 4, "avg_neighbours": 7.0})
    path = train(config)
    log = history(tmp_path / "run")
    assert ["val_eps" in r for r in log] == [False, True, True]  # every 2nd epoch and the last
    meta = load_model(path).metadata
    assert meta["provenance"]["n_train"] == 3 and meta["provenance"]["n_val"] == 8
    assert meta["config"]["avg_neighbours"] == 7.0  # the user's value is kept
    free = free_atom_coefficients(["H", "O"])
    basis = load_basis()
    for s, z in (("H", 1), ("O", 8)):
        np.testing.assert_allclose(meta["free_atom"][s], free[s], rtol=1e-5, atol=1e-7)
        assert basis[s].charge_integrals @ free[s] == pytest.approx(z, abs=1e-6)  # a neutral free atom


@pytest.mark.slow
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


@pytest.mark.slow  # trains a model first: about 10 s
def test_evaluate_command_equals_density_error(reference_db, tmp_path, capsys):
    path = train(tiny_config(reference_db, tmp_path / "run", epochs=1))
    assert main(["evaluate", str(path), str(reference_db), "--grid-level", "1", "--json", str(tmp_path / "e.json")]) == 0
    printed = capsys.readouterr().out
    assert "mean over 8 structures" in printed and "eps l=4" in printed
    result = json.loads((tmp_path / "e.json").read_text())
    model = load_model(path)
    first = next(iter_densities(reference_db))
    direct = density_error(model.predict_density(first.atoms, first.total_charge), first, level=1)
    assert result["structures"][0]["eps"] == pytest.approx(direct["eps"], rel=1e-9)
    assert result["structures"][0]["eps_l2"] == pytest.approx(direct["eps_l"][2], rel=1e-9)
    assert result["model_checksum"] == model.checksum
    assert main(["evaluate", str(path), str(reference_db), str(reference_db), "--grid-level", "1",
                 "--json", str(tmp_path / "pooled.json")]) == 0
    assert "mean over 16 structures" in capsys.readouterr().out
    pooled = json.loads((tmp_path / "pooled.json").read_text())
    assert pooled["summary"]["eps"] == pytest.approx(result["summary"]["eps"], rel=1e-12)


def test_several_training_databases_keep_the_first_ones_split(reference_db, tmp_path):
    from ase_e3density.train.loop import load_data

    second = tmp_path / "second.db"
    second.write_bytes(Path(reference_db).read_bytes())
    alone = load_data(tiny_config(reference_db, tmp_path / "a"), tmp_path / "a", 0, 1)
    both = load_data(tiny_config(reference_db, tmp_path / "b", train=[str(reference_db), str(second)]), tmp_path / "b", 0, 1)
    assert len(both.train_set) == 2 * len(alone.train_set) and len(both.val_set) == 2 * len(alone.val_set)
    n_val = len(alone.val_set)
    for a, b in zip(alone.val_set, both.val_set[:n_val]):
        np.testing.assert_array_equal(a.density.atoms.positions, b.density.atoms.positions)
    first_val = {s.density.atoms.positions.tobytes() for s in alone.val_set}
    assert {s.density.atoms.positions.tobytes() for s in both.val_set[n_val:]} != first_val  # its own seeded split


def test_config_is_checked_before_any_data_is_loaded(tmp_path):
    cases = {
        "train: x.db\nlearning_rate: 0.1\n": "unknown training option.*learning_rate",
        "train: x.db\nepochs: ten\n": "option epochs: expected an integer, got 'ten'",
        "train: x.db\nlr: -1\n": "option lr: must be > 0",
        "train: x.db\nmodel: {hiden: {0: 4}}\n": "option model.hiden: unknown",
        "train: x.db\nmodel: {cutoff: -3}\n": "option model.cutoff: must be > 0",
        "train: x.db\nfree_atom: zero\n": "option free_atom: must be one of pyscf, mean",
        "epochs: 3\n": "'train'.*is required",
        "train: [unclosed\n": "not valid YAML",
        "train: []\n": "option train: expected a database path or a non-empty list",
        "train: [a.db, 3]\n": "option train: expected a database path or a non-empty list",
    }
    for k, (text, pattern) in enumerate(cases.items()):
        path = tmp_path / f"bad{k}.yaml"
        path.write_text(text)
        with pytest.raises(ConfigError, match=pattern):
            TrainConfig.from_yaml(path)
    with pytest.raises(ConfigError, match="no such database"):
        train(TrainConfig.from_yaml(_write(tmp_path / "ok.yaml", "train: missing.db\n")))
    assert not (tmp_path / "missing.db").exists()


BAD_OPTIONS = [  # (configuration, with its data missing, the option the error must name)
    ("train: missing.db\nmodel: {n_layers: 0}\n", r"option model\.n_layers: must be > 0"),
    ("train: missing.db\nmodel: {basis: nope}\n", r"option model: unknown basis set 'nope'"),
    ("train: missing.db\nmodel: {species: [H, Xx]}\n", r"option model: element Xx"),
    ("train: missing.db\noptimizer: sgd\n", r"option optimizer: must be one of adam, adamw"),
    ("kind: phonon_dos\ndata: missing.db\nmodel: {n_layers: 1}\n", r"option model\.n_layers: must be >= 2"),
    ("kind: phonon_dos\ndata: missing.db\nmodel: {n_bins: 1.5}\n", r"option model\.n_bins: expected an integer"),
    ("kind: phonon_dos\ndata: missing.db\nmodel: {hiden: {0: 4}}\n", r"option model\.hiden: unknown; model options are"),
    ("kind: phonon_dos\ndata: missing.db\nmodel: {species: [Cu, Qq]}\n", r"option model: unknown element.*Qq"),
    ("kind: phonon_dos\ndata: missing.db\nmodel: {hidden: {0: 4, 4: 2}}\n", r"option model: hidden .*l_max <= 3"),
    ("kind: phonon_dos\ndata: missing.db\nheat_capacity_temperatures: [100, -3]\n",
     r"option heat_capacity_temperatures: every item must be > 0"),
    ("kind: phonon_dos\ndata: missing.db\noptimizer: adamax\n", r"option optimizer: must be one of adam, adamw"),
]


@pytest.mark.parametrize("text, pattern", BAD_OPTIONS, ids=[p for _, p in BAD_OPTIONS])
def test_a_bad_option_of_either_kind_is_refused_before_any_data_is_read(tmp_path, capsys, text, pattern):
    config = _write(tmp_path / "bad.yaml", text + "output: run\n")
    capsys.readouterr()
    assert main(["train", str(config)]) == 2
    error = capsys.readouterr().err
    assert re.search(pattern, error) and "missing.db" not in error and error.count("\n") == 1, error
    assert not (tmp_path / "run").exists()  # nothing was written either
    # the same options, made good: now the missing data is what stops the run
    good = _write(tmp_path / "good.yaml", text.split("\n")[0] + "\n" + ("data" if "phonon" in text else "train")
                  + ": missing.db\noutput: run\n")
    assert main(["train", str(good)]) == 2
    assert re.search(r"option (train|data): no such database .*missing.db", capsys.readouterr().err)


def test_each_kind_keeps_its_optimiser_by_default():
    from ase_e3density.train.phonon import PhononTrainConfig
    from ase_e3density.train.skeleton import make_optimizer

    assert TrainConfig(train="x.db").optimizer == "adam" and PhononTrainConfig(data="x.db").optimizer == "adamw"
    weights = [torch.nn.Parameter(torch.ones(3))]
    assert type(make_optimizer("adam", weights, 0.1, 0.0)) is torch.optim.Adam
    assert type(make_optimizer("adamw", weights, 0.1, 0.0)) is torch.optim.AdamW
    # with weight decay the two differ: Adam adds it to the gradient, AdamW shrinks the weights directly
    steps = {}
    for name in ("adam", "adamw"):
        w = torch.nn.Parameter(torch.tensor([2.0]))
        opt = make_optimizer(name, [w], 0.1, 0.5)
        for _ in range(3):
            opt.zero_grad()
            (w ** 2).sum().backward()
            opt.step()
        steps[name] = float(w.detach())
    assert steps["adam"] != pytest.approx(steps["adamw"], abs=1e-3)


def test_the_validator_checks_types_ranges_choices_and_unknown_keys():
    from dataclasses import dataclass, field
    from typing import ClassVar

    from ase_e3density.train.options import check_fields, known_options

    @dataclass
    class Toy:
        size: int = 1
        scale: float | None = None
        names: list[str] = field(default_factory=lambda: ["a"])
        mode: str = "x"
        RANGES: ClassVar[dict] = {"size": (1, 4, True), "scale": (0.0, None, False)}
        CHOICES: ClassVar[dict] = {"mode": ("x", "y")}
        NONEMPTY: ClassVar[tuple] = ("names",)

        def __post_init__(self):
            check_fields(self)

    Toy(size=4, scale=2, names=["b"], mode="y")  # an int is a number
    for options, pattern in (({"size": True}, "option size: expected an integer, got True"),
                             ({"size": 5}, r"option size: must be >= 1 and <= 4, got 5"),
                             ({"scale": 0.0}, r"option scale: must be > 0.0, got 0.0"),
                             ({"scale": "big"}, "option scale: expected a number or null"),
                             ({"names": ["a", 1]}, "option names: expected a list of strings"),
                             ({"names": []}, "option names: expected a non-empty list"),
                             ({"mode": "z"}, "option mode: must be one of x, y, got 'z'")):
        with pytest.raises(ConfigError, match=pattern):
            Toy(**options)
    with pytest.raises(ConfigError, match=r"toy.yaml: unknown training option\(s\) colour, sise; known: mode, names, "
                                          r"scale, size$"):
        known_options(Toy, {"sise": 1, "colour": 2}, "toy.yaml", {})


def _write(path, text):
    path.write_text(text)
    return path


def test_cosine_lr_runs_from_lr_to_min_lr_over_the_epochs():
    from ase_e3density.train.skeleton import cosine_lr

    assert cosine_lr(0.01, 1e-4, 10, 0) == pytest.approx(0.01)
    assert cosine_lr(0.01, 1e-4, 10, 5) == pytest.approx(0.5 * (0.01 + 1e-4))
    assert cosine_lr(0.01, 1e-4, 10, 10) == cosine_lr(0.01, 1e-4, 10, 12) == pytest.approx(1e-4)
    rates = [cosine_lr(0.01, 1e-4, 10, x / 4) for x in range(41)]
    assert all(a > b for a, b in zip(rates, rates[1:]))


@pytest.mark.slow  # 5-10 s of training or export: the default run stays near 3 min
def test_cosine_schedule_sets_each_step_and_resumes_on_it(reference_db, tmp_path):
    """lr_schedule cosine: each epoch starts at cosine_lr(epoch - 1) and each step has its own rate (three steps of
    two structures an epoch: the last step of epoch 4 runs at position 3 + 2/3), the plateau rule never acts, and a
    run stopped after its first epoch (by its time budget) and resumed has the uninterrupted run's weights."""
    from ase_e3density.train.skeleton import cosine_lr

    options = dict(epochs=4, lr_schedule="cosine", min_lr=1e-4, lr_patience=0, lr_factor=0.1)
    train(tiny_config(reference_db, tmp_path / "straight", **options))
    log = history(tmp_path / "straight")
    assert [r["lr"] for r in log] == pytest.approx([cosine_lr(0.01, 1e-4, 4, e) for e in range(4)])
    state = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=False)
    assert state["optimizer"]["param_groups"][0]["lr"] == pytest.approx(cosine_lr(0.01, 1e-4, 4, 3 + 2 / 3))
    train(tiny_config(reference_db, tmp_path / "split", time_budget_minutes=1e-9, **options))
    assert len(history(tmp_path / "split")) == 1
    train(tiny_config(reference_db, tmp_path / "split", **options))
    resumed = torch.load(tmp_path / "split" / "checkpoint.pt", weights_only=False)
    for key, value in state["model"].items():
        assert torch.equal(value, resumed["model"][key]), key


@pytest.mark.slow
def test_paths_are_relative_to_the_yaml_and_recorded_as_written(reference_db, tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "ref.db").write_bytes(Path(reference_db).read_bytes())
    cfg = _write(tmp_path / "cfg.yaml", yaml.safe_dump(dict(tiny_config("data/ref.db", "runs/x", epochs=1).to_dict())))
    path = train(TrainConfig.from_yaml(cfg))
    assert path == tmp_path / "runs" / "x" / "model.pt"
    assert load_model(path).metadata["provenance"]["train"] == "data/ref.db"
    assert isinstance(model_from_checkpoint(tmp_path / "runs" / "x" / "best.pt"), torch.nn.Module)


@pytest.mark.slow  # two short trainings: about 5 s
def test_ema_weights_are_the_exponential_average_of_the_raw_ones_and_are_deployed(reference_db, tmp_path):
    """With ema_decay d and one step per epoch: after two steps the average is d p1 + (1 - d) p2 (p1 the raw
    weights after the first step, from a one-epoch run of the same seed), validation sees it, and the
    deployed file holds the best epoch's average, not the raw weights."""
    d = 0.7
    options = dict(batch_size=6, ema_decay=d, early_stopping_patience=5)
    train(tiny_config(reference_db, tmp_path / "one", epochs=1, **options))
    train(tiny_config(reference_db, tmp_path / "two", epochs=2, **options))
    p1 = load_checkpoint(tmp_path / "one" / "checkpoint.pt")["model"]
    two = load_checkpoint(tmp_path / "two" / "checkpoint.pt")
    p2, averaged = two["model"], two["ema"]
    assert int(averaged["n_averaged"]) == 2
    moved = 0
    for key, value in p2.items():
        if f"module.{key}" in averaged:  # the parameters (buffers are constants, not averaged)
            expected = d * p1[key] + (1 - d) * value
            assert torch.allclose(averaged[f"module.{key}"], expected, rtol=1e-5, atol=1e-7), key
            moved += int(not torch.equal(value, p1[key]))
    assert moved > 0
    best = load_checkpoint(tmp_path / "two" / "best.pt")
    source = averaged if best["epoch"] == 2 else load_checkpoint(tmp_path / "one" / "checkpoint.pt")["ema"]
    for key, value in best["model"].items():
        if f"module.{key}" in source:
            assert torch.equal(value, source[f"module.{key}"]), key
    deployed = load_model(tmp_path / "two" / "model.pt").module.state_dict()
    for key, value in best["model"].items():
        assert torch.equal(deployed[key].to(value.dtype), value), key
    with pytest.raises(ConfigError, match="ema_decay"):
        train(tiny_config(reference_db, tmp_path / "two", epochs=3, batch_size=6, ema_decay=0.5,
                          early_stopping_patience=5))


@pytest.mark.slow  # 5-10 s of training or export: the default run stays near 3 min
def test_ema_trains_a_network_whose_deep_copy_registers_more_buffers(reference_db, tmp_path):
    """A deep copy of the shipped models' network size (hidden 32/16/8/4, sh_lmax 3) registers e3nn's compiled
    tensor-product constants as buffers that the original keeps as attributes; the average pairs parameters by
    name, so training with ema_decay runs (a positional pairing of buffers failed at the first step) and the best
    epoch holds the averaged parameters."""
    import copy

    model = {"hidden": {0: 32, 1: 16, 2: 8, 3: 4}, "n_layers": 2, "radial_hidden": 8, "sh_lmax": 3}
    train(tiny_config(reference_db, tmp_path / "run", epochs=1, ema_decay=0.9, model=model))  # 3 steps of 2
    built = model_from_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert len(list(copy.deepcopy(built).buffers())) > len(list(built.buffers()))  # the case this test is about
    state, best = (load_checkpoint(tmp_path / "run" / name) for name in ("checkpoint.pt", "best.pt"))
    names = [name for name, _ in built.named_parameters()]
    assert all(torch.equal(best["model"][n], state["ema"][f"module.{n}"]) for n in names)
    assert any(not torch.equal(state["model"][n], state["ema"][f"module.{n}"]) for n in names)


@pytest.mark.slow  # 5-10 s of training or export: the default run stays near 3 min
def test_a_second_training_into_a_folder_in_use_is_refused(reference_db, tmp_path):
    """Two trainings writing one run folder would interleave checkpoints: while one holds the folder (here its lock
    taken as a running training takes it), another is refused at once; once released, the folder trains."""
    from ase_e3density.errors import E3DensityError
    from ase_e3density.fileio import exclusive_writer

    out = tmp_path / "run"
    train(tiny_config(reference_db, out, epochs=1))
    with exclusive_writer(out / "checkpoint.pt", "training run"):
        with pytest.raises(E3DensityError, match="another process is writing to training run"):
            train(tiny_config(reference_db, out, epochs=2))
    assert load_checkpoint(out / "checkpoint.pt")["progress"]["epoch"] == 1  # untouched by the refused run
    train(tiny_config(reference_db, out, epochs=2))
    assert load_checkpoint(out / "checkpoint.pt")["progress"]["epoch"] == 2


def test_a_checkpoint_without_weight_averaging_is_not_resumed_with_it(reference_db, tmp_path):
    """A checkpoint written before ema_decay existed records no such option: resuming it with ema_decay is refused
    in one line rather than failing on the missing average."""
    train(tiny_config(reference_db, tmp_path / "run", epochs=1))
    state = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    state["train_config"].pop("ema_decay")
    torch.save(state, tmp_path / "run" / "checkpoint.pt")
    with pytest.raises(ConfigError, match=r"other settings: ema_decay \(0.0 -> 0.9\)"):
        train(tiny_config(reference_db, tmp_path / "run", epochs=2, ema_decay=0.9))


def test_a_row_selection_fixes_the_split_while_the_database_grows(reference_db, tmp_path):
    """``selection: id<=6`` trains on rows 1-6 only, and the split stays the same after rows are added."""
    from ase.db import connect

    from ase_e3density.train.loop import load_data

    grown = tmp_path / "grown.db"
    grown.write_bytes(Path(reference_db).read_bytes())
    before = load_data(tiny_config(grown, tmp_path / "a", selection="id<=6"), tmp_path / "a", 0, 1)
    with connect(grown) as db:
        for row in connect(reference_db).select("id<=2"):
            db.write(row.toatoms(), key_value_pairs=row.key_value_pairs, data=row.data)
    after = load_data(tiny_config(grown, tmp_path / "b", selection="id<=6"), tmp_path / "b", 0, 1)
    whole = load_data(tiny_config(grown, tmp_path / "c"), tmp_path / "c", 0, 1)
    assert len(before.train_set) + len(before.val_set) == 6 and len(whole.train_set) + len(whole.val_set) == 10
    for a, b in zip(before.val_set + before.train_set, after.val_set + after.train_set, strict=True):
        np.testing.assert_array_equal(a.density.atoms.positions, b.density.atoms.positions)
    with pytest.raises(ConfigError, match="option selection: no rows of .* match 'id>100'"):
        load_data(tiny_config(grown, tmp_path / "d", selection="id>100"), tmp_path / "d", 0, 1)
    with pytest.raises(ConfigError, match="option selection: 'natoms>>3' is not an ase.db selection"):
        load_data(tiny_config(grown, tmp_path / "e", selection="natoms>>3"), tmp_path / "e", 0, 1)


@pytest.mark.slow  # a training and a resume: about 4 s
def test_a_checkpoint_that_records_no_selection_is_not_resumed_with_one(reference_db, tmp_path):
    """An option missing from an older checkpoint had its default there: adding a selection on resume changes
    the data, so it is refused."""
    train(tiny_config(reference_db, tmp_path / "run", epochs=1))
    state = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    state["train_config"].pop("selection")
    torch.save(state, tmp_path / "run" / "checkpoint.pt")
    with pytest.raises(ConfigError, match=r"other settings: selection \(None -> 'id<=6'\)"):
        train(tiny_config(reference_db, tmp_path / "run", epochs=2, selection="id<=6"))
    train(tiny_config(reference_db, tmp_path / "run", epochs=2))  # the default, as before: resumed


@pytest.mark.slow  # three short trainings: about 10 s
def test_gradient_clipping_holds_every_step_to_the_norm_and_can_be_set_on_resume(reference_db, tmp_path, monkeypatch):
    """With max_grad_norm the gradient the optimiser sees has at most that global norm (measured inside
    Adam.step); the log records the norms before clipping; a huge limit changes nothing, bit for bit; and the
    limit may be set when a run resumes (a diverging run is rescued without a restart)."""
    seen = []
    step = torch.optim.Adam.step

    def measured_step(self, *args, **kwargs):
        grads = [p.grad for group in self.param_groups for p in group["params"] if p.grad is not None]
        seen.append(float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))))
        return step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", measured_step)
    train(tiny_config(reference_db, tmp_path / "clipped", epochs=2, max_grad_norm=1e-3))  # norms here: ~0.01
    log = history(tmp_path / "clipped")
    assert seen and max(seen) <= 1e-3 * (1 + 1e-5)
    assert all(r["grad_norm_max"] > 1e-3 and r["clipped_steps"] == 3 for r in log)  # 6 training molecules, batch 2
    monkeypatch.setattr(torch.optim.Adam, "step", step)
    train(tiny_config(reference_db, tmp_path / "plain", epochs=2))
    train(tiny_config(reference_db, tmp_path / "huge", epochs=2, max_grad_norm=1e9))
    plain = load_checkpoint(tmp_path / "plain" / "checkpoint.pt")["model"]
    huge = load_checkpoint(tmp_path / "huge" / "checkpoint.pt")["model"]
    assert all(torch.equal(plain[k], huge[k]) for k in plain)
    assert "grad_norm_max" not in history(tmp_path / "plain")[0]
    train(tiny_config(reference_db, tmp_path / "plain", epochs=3, max_grad_norm=1e-3))
    resumed = load_checkpoint(tmp_path / "plain" / "checkpoint.pt")["progress"]["resumes"]
    assert resumed[-1]["changed"] == {"epochs": [2, 3], "max_grad_norm": [None, 1e-3]}


def test_a_diverging_training_stops_with_one_line_and_keeps_the_last_epoch(reference_db, tmp_path, monkeypatch):
    """A non-finite loss, or (with max_grad_norm) a non-finite gradient under a finite loss, stops the run in one
    line naming the epoch and step; the checkpoint keeps the last finished epoch, with finite weights."""
    from ase_e3density.errors import TrainingDivergedError
    from ase_e3density.train.loop import DensityTrainer

    batch_loss = DensityTrainer.batch_loss

    def blows_up_from_epoch(first: int, gradient_only: bool):
        def patched(self, net, samples):
            loss, weight = batch_loss(self, net, samples)
            if self.progress["epoch"] + 1 < first or not net.training:
                return loss, weight
            if gradient_only:  # d sqrt(x)/dx at x = 0 is inf; times 0: a NaN gradient, the loss unchanged
                weights = next(net.parameters())
                return loss + 0.0 * (weights - weights.detach()).abs().sqrt().sum(), weight
            return loss * float("nan"), weight
        return patched

    monkeypatch.setattr(DensityTrainer, "batch_loss", blows_up_from_epoch(2, gradient_only=False))
    with pytest.raises(TrainingDivergedError, match=r"diverged in epoch 2, step 1 of 3: the loss is nan; .*checkpoint.pt "
                                                     r"keeps epoch 1: rerun with max_grad_norm set"):
        train(tiny_config(reference_db, tmp_path / "run", epochs=3))
    state = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert state["progress"]["epoch"] == 1
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())
    monkeypatch.setattr(DensityTrainer, "batch_loss", blows_up_from_epoch(1, gradient_only=True))
    with pytest.raises(TrainingDivergedError, match=r"diverged in epoch 1, step 1 of 3: the gradient norm is nan; "
                                                     r"no checkpoint was written"):
        train(tiny_config(reference_db, tmp_path / "grad", epochs=3, max_grad_norm=1.0))
    assert not (tmp_path / "grad" / "checkpoint.pt").exists()


@pytest.mark.slow  # a training and two resumes: about 4 s
def test_an_option_an_old_checkpoint_does_not_record_is_resumed_from_its_default(reference_db, tmp_path):
    """A checkpoint written before max_grad_norm existed resumes with it set, and the resume records the change
    from the default (None), so the provenance does not claim the whole run was clipped."""
    train(tiny_config(reference_db, tmp_path / "run", epochs=1))
    path = tmp_path / "run" / "checkpoint.pt"
    state = torch.load(path, weights_only=False)
    del state["train_config"]["max_grad_norm"]
    torch.save(state, path)
    train(tiny_config(reference_db, tmp_path / "run", epochs=2, max_grad_norm=0.5))
    resumes = load_checkpoint(path)["progress"]["resumes"]
    assert resumes[-1]["changed"] == {"epochs": [1, 2], "max_grad_norm": [None, 0.5]}


@pytest.mark.slow  # 5-10 s of training or export: the default run stays near 3 min
def test_init_from_a_shipped_model_starts_at_its_network_and_records_it(reference_db, tmp_path, water, capsys):
    shipped = load_model("default")
    config = tiny_config(reference_db, tmp_path / "run", epochs=1, lr=1e-12, init_from="default", model={})
    tuned = load_model(train(config))  # a rate too small to move a weight: the shipped network, deployed again
    capsys.readouterr()
    assert main(["info", str(tmp_path / "run" / "model.pt")]) == 0
    assert f"started from default ({shipped.checksum[:12]})" in capsys.readouterr().out
    np.testing.assert_allclose(tuned.predict(water), shipped.predict(water), rtol=0, atol=1e-6)
    from ase_e3density.nn import ModelConfig

    assert ModelConfig.from_dict(tuned.metadata["config"]) == ModelConfig.from_dict(shipped.metadata["config"])
    assert tuned.metadata["provenance"]["initialised_from"] == {
        "source": "default", "file": "default.pt", "weights_sha256": shipped.metadata["weights_sha256"],
        "model_checksum": shipped.checksum}


@pytest.mark.slow
def test_init_from_starts_at_the_source_network_resumes_and_records_it(reference_db, tmp_path, water):
    source = train(tiny_config(reference_db, tmp_path / "source", epochs=3))
    source_log = history(tmp_path / "source")
    source_best = min(r["val_loss"] for r in source_log)
    # at a rate too small to move a weight, the first epoch validates the starting network itself
    still = train(tiny_config(reference_db, tmp_path / "still", epochs=1, lr=1e-12, init_from=str(source)))
    train(tiny_config(reference_db, tmp_path / "fresh", epochs=1, lr=1e-12))
    assert history(tmp_path / "still")[0]["val_loss"] == pytest.approx(source_best, rel=1e-5)
    assert abs(history(tmp_path / "fresh")[0]["val_loss"] / source_best - 1) > 0.1  # a new network is elsewhere
    expected = load_model(source).predict(water)
    np.testing.assert_allclose(load_model(still).predict(water), expected, rtol=0, atol=1e-6)
    # a checkpoint of the source run (its best epoch) is the same starting point
    from_best = train(tiny_config(reference_db, tmp_path / "from_best", epochs=1, lr=1e-12,
                                  init_from=str(tmp_path / "source" / "best.pt")))
    np.testing.assert_allclose(load_model(from_best).predict(water), expected, rtol=0, atol=1e-6)
    # the deployed file names its starting point by checksum
    recorded = load_model(still).metadata["provenance"]["initialised_from"]
    source_meta = load_model(source).metadata
    assert recorded == {"source": str(source), "file": "model.pt", "weights_sha256": source_meta["weights_sha256"],
                        "model_checksum": source_meta["checksum"]}
    # an interrupted fine-tuning resumes from its own checkpoint, bitwise the uninterrupted one
    train(tiny_config(reference_db, tmp_path / "straight", epochs=2, init_from=str(source)))
    train(tiny_config(reference_db, tmp_path / "split", epochs=1, init_from=str(source)))
    train(tiny_config(reference_db, tmp_path / "split", epochs=2, init_from=str(source)))
    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=False)
    b = torch.load(tmp_path / "split" / "checkpoint.pt", weights_only=False)
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
    assert b["progress"]["initialised_from"] == recorded | {"source": str(source)}


@pytest.mark.parametrize("overrides, message", [
    ({"init_from": "no-such-model"}, r"init_from: 'no-such-model' is neither a file nor a shipped model \(default, organic"),
    ({"init_from": "phonon"}, "init_from: 'phonon' is a phonon_dos network, this configuration trains electron_density"),
    ({"init_from": "organic"}, r"option model: hidden .* differ from the network of init_from 'organic'.*leave them out"),
    ({"init_from": str(Path(__file__).parents[1] / "README.md")},
     r"README.md is neither a model file nor a checkpoint \(.*its bytes are not a torch pickle\)"),
    ({"init_from": "organic", "model": {}}, None),
])
def test_init_from_refuses_what_it_cannot_start_from(reference_db, tmp_path, overrides, message):
    from ase_e3density.train.loop import load_data

    config = tiny_config(reference_db, tmp_path / "run", **overrides)
    if message is None:  # the shipped organic network covers water: its architecture is taken as it is
        trainer = load_data(config, tmp_path / "run")
        assert trainer.model_config.to_dict() == load_model("organic").metadata["config"]
        return
    with pytest.raises(ConfigError, match=message):
        load_data(config, tmp_path / "run")


def test_init_from_refuses_data_with_elements_its_network_lacks():
    from ase_e3density.nn import ModelConfig
    from ase_e3density.train.initial import read_initial_network

    initial = read_initial_network("default", ".", "electron_density")
    with pytest.raises(ConfigError, match=r"the training data holds C, N, which the network of 'default' does not know "
                                          r"\(it covers H, O\)"):
        initial.network_config(ModelConfig, {}, ["H", "C", "N", "O"])


def test_every_configuration_in_the_repository_passes_its_kinds_validator():
    from ase_e3density.kinds import DEFAULT_KIND, get_kind
    from ase_e3density.train.options import read_yaml_mapping

    paths = sorted((Path(__file__).parents[1] / "configs").rglob("*.yaml"))
    assert len(paths) >= 40
    for path in paths:
        kind = get_kind(read_yaml_mapping(path, "training configuration").get("kind", DEFAULT_KIND))
        kind.load("train_config").from_yaml(path)  # raises ConfigError naming the file and option
