"""The phonon-DOS training loop: data, model, epochs, validation, checkpoints, deployment of the best epoch.

Every epoch writes ``checkpoint.pt`` (atomically) and a line of ``log.jsonl``; the best epoch by
validation loss is kept in ``best.pt``. A rerun resumes from the checkpoint (a kill -9 loses at most
the epoch in flight). At the end the best weights are deployed to ``model.pt`` with their metrics on
the validation, test and held-out-prototype sets, the split, the data's generator and the command.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from ...errors import ConfigError
from ...graph.domain import domain_of, edge_lengths
from ...models.deploy import deploy
from ...nn.phonon_model import PhononDOSModel, PhononModelConfig
from ...phonon.targets import compare_dos
from ..checkpoint import load_checkpoint, save_checkpoint
from .config import RESUMABLE, PhononTrainConfig
from .data import CrystalSample, collate, make_samples, read_rows, species_of, split
from .loss import PhononLoss

__all__ = ["train_phonon", "evaluate_samples"]


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _previous(path: Path, config: PhononTrainConfig) -> dict | None:
    if not path.exists():
        return None
    state = load_checkpoint(path)
    before = state.get("train_config", {})
    changed = sorted(k for k, v in config.to_dict().items() if k not in RESUMABLE and k in before and before[k] != v)
    if changed:
        detail = ", ".join(f"{k} ({before[k]!r} -> {getattr(config, k)!r})" for k in changed)
        raise ConfigError(f"{path.parent} was trained with other settings: {detail}; only {', '.join(RESUMABLE)} may "
                          "change on resume. Use --restart or a new output")
    return state


def predict(model: PhononDOSModel, samples: list[CrystalSample], dtype: torch.dtype, batch_size: int = 64) -> np.ndarray:
    """Predicted DOS per atom (n, n_grid) of ``samples`` (training-time model, no autograd)."""
    out = []
    with torch.no_grad():
        for k in range(0, len(samples), batch_size):
            inputs, _ = collate(samples[k:k + batch_size], dtype)
            out.append(model(*inputs).double().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0))


def evaluate_samples(model, samples: list[CrystalSample], grid, temperatures, dtype,
                     predicted: np.ndarray | None = None) -> dict:
    """DOS errors and Cv errors (against the generator's mesh Cv) of ``model`` on ``samples`` (``predicted``:
    the model's DOS of them, when already computed)."""
    if not samples:
        return {"n": 0}
    if predicted is None:
        predicted = predict(model, samples, dtype)
    out = compare_dos(grid, predicted, np.stack([s.target for s in samples]), temperatures,
                      reference_cv=np.stack([s.reference_cv for s in samples]))
    out["per_structure"]["name"] = [s.name for s in samples]
    out["per_structure"]["uid"] = [s.uid for s in samples]
    return out


def train_phonon(config: PhononTrainConfig, resume: bool = True, command: str | None = None) -> Path:
    """Train (or resume) as ``config`` says; returns the path of the deployed model file."""
    if config.threads:
        torch.set_num_threads(config.threads)
    out = config.path("output")
    out.mkdir(parents=True, exist_ok=True)
    state = _previous(out / "checkpoint.pt", config) if resume else None
    dtype = getattr(torch, config.dtype)
    data_path = config.path("data")
    if not data_path.is_file():
        raise ConfigError(f"option data: no such database {data_path}")
    rows, counts = read_rows(data_path, config.selection, config.max_imaginary_fraction)
    options = dict(config.model)
    species = options.pop("species", None) or species_of(rows)
    try:
        model_config = PhononModelConfig(species=species, **options)
    except TypeError as exc:
        raise ConfigError(f"option model: {exc}") from None
    grid = np.asarray(model_config.frequencies())
    temps = [float(t) for t in config.heat_capacity_temperatures]
    samples = make_samples(rows, species, model_config.cutoff, grid, temps, config.sigma)
    sets = split(samples, config.test_prototypes, config.validation_fraction, config.test_fraction, config.seed)
    torch.manual_seed(config.seed)
    model = PhononDOSModel(model_config, dtype=dtype)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=config.lr_factor,
                                                           patience=config.lr_patience, min_lr=config.min_lr)
    progress = {"epoch": 0, "best": float("inf"), "best_epoch": 0, "seconds": 0.0, "resumes": []}
    if state is None:  # start from the training set's mean DOS rather than a flat one
        with torch.no_grad():
            mean = np.stack([s.target[1:-1] for s in sets["train"]]).mean(axis=0) * model.step / 3.0
            model.head.bias.copy_(torch.as_tensor(np.log(mean + 1e-4), dtype=dtype))
    else:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        progress = state["progress"]
        progress["resumes"].append({"epoch": progress["epoch"], "time": time.strftime("%Y-%m-%dT%H:%M:%S")})
    loss_fn = PhononLoss(grid, config.loss, config.heat_capacity_weight, temps, dtype)
    _log(f"phonon DOS: {len(sets['train'])} training, {len(sets['validation'])} validation, {len(sets['test'])} test, "
         f"{len(sets['held_out'])} held-out-prototype crystals ({counts['left_out_unstable']} rows with imaginary modes "
         f"left out); {sum(p.numel() for p in model.parameters()):,} parameters")
    log_path = out / "log.jsonl"
    if state is None and log_path.exists():
        log_path.unlink()
    while progress["epoch"] < config.epochs and not _finished(progress, config):
        start = time.perf_counter()
        train_loss = _train_epoch(model, optimizer, loss_fn, sets["train"], config, dtype, progress["epoch"])
        predicted = predict(model, sets["validation"], dtype)  # once: for the metrics and the loss
        val = evaluate_samples(model, sets["validation"], grid, temps, dtype, predicted)
        val_loss = float(loss_fn(torch.as_tensor(predicted, dtype=dtype),
                                 torch.as_tensor(np.stack([s.target for s in sets["validation"]]), dtype=dtype)))
        scheduler.step(val_loss)
        progress["epoch"] += 1
        progress["seconds"] += time.perf_counter() - start
        record = {"epoch": progress["epoch"], "train_loss": train_loss, "val_loss": val_loss,
                  "lr": optimizer.param_groups[0]["lr"], "seconds": progress["seconds"],
                  **{k: v for k, v in val.items() if k not in ("per_structure", "n")}}
        if val_loss < progress["best"]:
            progress["best"], progress["best_epoch"] = val_loss, progress["epoch"]
            save_checkpoint(out / "best.pt", model, kind=model.kind, epoch=progress["epoch"])
        save_checkpoint(out / "checkpoint.pt", model, kind=model.kind, optimizer=optimizer.state_dict(),
                        scheduler=scheduler.state_dict(), progress=progress, train_config=config.to_dict())
        with open(log_path, "a") as log:
            log.write(json.dumps(record) + "\n")
        _log(f"epoch {progress['epoch']}: train {train_loss:.4f} val {val_loss:.4f} (Cv MAE 100 K "
             f"{val.get('cv_mae_100', float('nan')):.3f}, 300 K {val.get('cv_mae_300', float('nan')):.3f} J/(K mol); "
             f"W1 {val['wasserstein']:.3f} THz) {time.perf_counter() - start:.1f} s")
    reason = _finished(progress, config)
    if reason:
        _log(reason)
    return _deploy_best(out, model, sets, grid, temps, dtype, config, counts, rows, progress, command)


def _finished(progress: dict, config: PhononTrainConfig) -> str:
    """Why training stops before ``epochs`` (early stopping, time budget), or "" (checked on resume too)."""
    if progress["epoch"] - progress["best_epoch"] >= config.early_stopping_patience:
        return f"early stopping: no better validation loss for {config.early_stopping_patience} epochs"
    if config.time_budget_minutes is not None and progress["seconds"] > 60 * config.time_budget_minutes:
        return f"time budget of {config.time_budget_minutes} min spent"
    return ""


def _train_epoch(model, optimizer, loss_fn, samples, config, dtype, epoch: int) -> float:
    model.train()
    order = np.random.default_rng([config.seed, epoch]).permutation(len(samples))
    total, n = 0.0, 0
    for k in range(0, len(order), config.batch_size):
        batch = [samples[i] for i in order[k:k + config.batch_size]]
        inputs, target = collate(batch, dtype)
        loss = loss_fn(model(*inputs), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += float(loss.detach()) * len(batch)
        n += len(batch)
    model.eval()
    return total / max(n, 1)


def _generator(rows) -> dict:
    """What made the reference data: force calculator, its version, settings (from the rows)."""
    keys = ("force_calculator", "calculator_version", "phonopy_version", "displacement", "min_width", "mesh", "relax")
    found: dict = {}
    for key in keys:
        values = sorted({str(r.get(key)) for r in rows if r.get(key) is not None})
        if values:
            found[key] = values[0] if len(values) == 1 else values
    return found


def _deploy_best(out, model, sets, grid, temps, dtype, config, counts, rows, progress, command) -> Path:
    best = load_checkpoint(out / "best.pt")
    model.load_state_dict(best["model"])
    model.eval()
    metrics = {name: evaluate_samples(model, sets[name], grid, temps, dtype) for name in ("validation", "test", "held_out")}
    floor = {}
    for name in ("validation", "test", "held_out"):
        if sets[name]:  # the reference DOS on the grid against the generator's mesh sums
            targets = np.stack([s.target for s in sets[name]])
            errors = compare_dos(grid, targets, targets, temps, reference_cv=np.stack([s.reference_cv for s in sets[name]]))
            floor[name] = {k: v for k, v in errors.items() if k.startswith("cv_mae")}
    provenance = {
        "command": command or "", "data": config.data, "generator": _generator(rows),
        "counts": {**counts, **{name: len(s) for name, s in sets.items()}},
        "split": {name: [s.uid for s in sets[name]] for name in ("train", "validation", "test", "held_out")},
        "train_config": config.to_dict(), "best_epoch": best["epoch"], "epochs_run": progress["epoch"],
        "training_seconds": progress["seconds"], "resumes": progress["resumes"], "metrics": metrics,
        "target_floor": floor, "heat_capacity_temperatures": temps,
    }
    graphs = [(s.atoms.numbers, s.graph[2], edge_lengths(s.atoms.positions, s.graph[2], s.graph[3]), 0.0)
              for s in sets["train"]]
    path = deploy(model.cpu(), out / "model.pt", provenance=provenance,
                  domain=domain_of(graphs, model.config.cutoff))
    for name in ("validation", "test", "held_out"):
        m = metrics[name]
        if m.get("n"):
            _log(f"{name} ({m['n']}): DOS MAE {m['dos_mae']:.4f} states/(THz atom), R2 {m['r2']:.3f}, W1 "
                 f"{m['wasserstein']:.3f} THz, Cv MAE " + ", ".join(f"{t:g} K {m[f'cv_mae_{t:g}']:.3f}" for t in temps)
                 + " J/(K mol-atoms)")
    return path
