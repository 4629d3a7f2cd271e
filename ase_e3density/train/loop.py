"""The training loop, as small named steps: set-up, data, model, epochs, validation, checkpoints, deployment.

Runs in one process or under torchrun (DistributedDataParallel, gloo on CPU). Every rank takes
the same decisions (validation loss, early stopping, time budget); rank 0 writes all files.
"""
from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from ase.data import atomic_numbers

from ..electron.basis import load_basis
from ..electron.database import iter_densities
from ..electron.density import AtomicDensity
from ..electron.evaluation import ReferenceOnGrid, compare, summarise
from ..errors import ConfigError, E3DensityError
from ..fileio import atomic_path
from ..graph.domain import domain_of, edge_lengths
from ..nn import DensityModel, ModelConfig
from .baseline import free_atom_table, output_scale_table
from .checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from .config import RESUMABLE_CHANGES, TrainConfig
from .data import Sample, ShareCache, collate, coulomb_matrices, fragment_matrices, load_samples
from .feature_stats import FeatureRecorder
from .loss import DensityLoss
from .outputs import output_mask, restricted_reference

__all__ = ["train"]


@dataclass
class Run:
    """The state of one training run."""

    config: TrainConfig
    out: Path
    rank: int
    world: int
    dtype: torch.dtype
    device: torch.device
    model_config: ModelConfig
    train_set: list[Sample]
    val_set: list[Sample]
    model: DensityModel | None = None
    optimizer: torch.optim.Optimizer | None = None
    scheduler: object = None
    loss_fn: DensityLoss | None = None
    refs: list[ReferenceOnGrid] = field(default_factory=list)
    recorder: FeatureRecorder | None = None
    progress: dict = field(default_factory=lambda: {"epoch": 0, "steps": 0, "best": float("inf"), "best_epoch": 0,
                                                    "bad_epochs": 0, "seconds": 0.0, "history": [],
                                                    "resumes": []})

    def log(self, message: str) -> None:
        if self.rank == 0:
            print(message, file=sys.stderr, flush=True)

    @property
    def checkpoint_path(self) -> Path:
        return self.out / "checkpoint.pt"

    @property
    def best_path(self) -> Path:
        return self.out / "best.pt"


def train(config: TrainConfig, resume: bool = True, command: str | None = None) -> Path:
    """Train (or resume) as ``config`` says; returns the path of the deployed model file."""
    rank, world = join_process_group()
    out = config.path("output")
    out.mkdir(parents=True, exist_ok=True)
    state = previous_state(out / "checkpoint.pt", config) if resume else None
    run = load_data(config, out, rank, world)
    build_model(run, state)
    run.log(f"training on {len(run.train_set)} structures, validating on {len(run.val_set)}; "
            f"{sum(p.numel() for p in run.model.parameters()):,} parameters; {world} process(es); "
            f"{run.device} {str(run.dtype).replace('torch.', '')}")
    net = torch.nn.parallel.DistributedDataParallel(run.model) if world > 1 else run.model
    while run.progress["epoch"] < config.epochs:
        start = time.perf_counter()
        record = train_epoch(run, net)
        validate_epoch(run, record)
        record["seconds_epoch"] = time.perf_counter() - start
        write_checkpoints(run, record)
        if should_stop(run):
            break
    deployed = deploy_best(run, command)
    if world > 1:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    return deployed


def join_process_group() -> tuple[int, int]:
    """(rank, world size); joins the process group that torchrun describes (gloo on CPU)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("gloo")
    return (torch.distributed.get_rank(), world) if world > 1 else (0, 1)


def previous_state(path: Path, config: TrainConfig) -> dict | None:
    """The checkpoint to resume from, refusing settings that changed in a way resume cannot honour."""
    if not path.exists():
        return None
    state = load_checkpoint(path)
    before = state.get("train_config", {})
    changed = sorted(k for k, v in config.to_dict().items()
                     if k not in RESUMABLE_CHANGES and k in before and before[k] != v)
    if changed:
        detail = ", ".join(f"{k} ({before[k]!r} -> {getattr(config, k)!r})" for k in changed)
        raise ConfigError(f"{path.parent} was trained with other settings: {detail}; only "
                          f"{', '.join(RESUMABLE_CHANGES)} may change on resume. Use --restart or a new output")
    return state


def species_of(*paths) -> list[str]:
    """Elements present in reference databases, in order of atomic number."""
    found = {s for path in paths for d in iter_densities(path) for s in d.atoms.get_chemical_symbols()}
    return sorted(found, key=atomic_numbers.__getitem__)


def load_data(config: TrainConfig, out: Path, rank: int, world: int) -> Run:
    """Read the reference data and split it into training and validation sets.

    With several training databases and no separate validation database, each database is split on its
    own (the first with ``seed``, database i with ``(seed, i)``), so the validation set holds each one's share
    and adding a database leaves the first one's split as it was.
    """
    train_paths = config.train_paths()
    for path in train_paths:
        if not path.is_file():
            raise ConfigError(f"option train: no such database {path}")
    if config.validation and not config.path("validation").is_file():
        raise ConfigError(f"option validation: no such database {config.path('validation')}")
    options = dict(config.model)
    species = options.pop("species", None) or species_of(*train_paths)
    try:
        mcfg = ModelConfig(species=species, **options)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"option model: {exc}") from exc
    basis = load_basis(mcfg.basis)
    max_dim = max(basis[s].n_functions for s in species)
    limit = config.max_structures if config.validation else None  # a seeded split needs every row
    coulomb, fragments = config.coulomb_weight > 0, config.fragment_weight > 0 or config.fragment_dipole_weight > 0
    shares = ShareCache(out / "fragment_shares.npz") if fragments else None
    if shares is not None and config.share_workers > 1 and rank == 0:
        paths = train_paths + ([config.path("validation")] if config.validation else [])
        print(f"fragment shares in {config.share_workers} processes", file=sys.stderr, flush=True)
        shares.fill((d for path in paths for d in iter_densities(path)), config.share_workers, progress=True)
    train_set, val_set = [], []
    for i, path in enumerate(train_paths):
        if rank == 0:
            print(f"loading {path}", file=sys.stderr, flush=True)
        samples = load_samples(path, species, mcfg.cutoff, max_dim, limit=limit, progress=rank == 0, coulomb=coulomb,
                               fragments=fragments, share_cache=shares)
        if shares is not None and rank == 0:
            shares.save()
        names = {s.density.basis.name for s in samples}
        if names - {basis.name}:
            raise E3DensityError(f"{path}: training data is in {sorted(names)}, the model predicts {basis.name}")
        if config.validation:
            train_set += samples
            continue
        order = np.random.default_rng(config.seed if i == 0 else (config.seed, i)).permutation(len(samples))
        n_val = max(1, int(round(config.validation_fraction * len(samples))))
        val_set += [samples[j] for j in order[:n_val]]
        train_set += [samples[j] for j in order[n_val:]]
    if config.validation:
        val_set = load_samples(config.path("validation"), species, mcfg.cutoff, max_dim, coulomb=coulomb,
                               fragments=fragments, share_cache=shares)
        if shares is not None and rank == 0:
            shares.save()
    if config.max_structures:
        train_set = train_set[: config.max_structures]
    if not train_set or not val_set:
        raise E3DensityError(f"{', '.join(map(str, train_paths))}: too few structures for a training and a validation set")
    if "avg_neighbours" not in options:  # the user's value wins
        mcfg.avg_neighbours = float(np.mean([s.edge_index.shape[1] / len(s.species) for s in train_set]))
    return Run(config, out, rank, world, getattr(torch, config.dtype), torch.device(config.device), mcfg,
               train_set, val_set)


def build_model(run: Run, state: dict | None) -> None:
    """The network (new, or from the checkpoint), optimiser, scheduler, loss and validation grids."""
    config, mcfg = run.config, run.model_config
    torch.manual_seed(config.seed)
    if state is None:
        max_dim = run.train_set[0].target.shape[1]
        free = free_atom_table(config.free_atom, run.train_set, mcfg.species, mcfg.basis, max_dim)
        learned = output_mask(load_basis(mcfg.basis), mcfg.species, max_dim, config.output_lmax)
        scale = output_scale_table(run.train_set, free, mcfg.species, mcfg.basis) * learned
        model = DensityModel(mcfg, free, scale, dtype=run.dtype)
    else:
        if state["config"] != mcfg.to_dict():
            raise ConfigError(f"{run.checkpoint_path} was trained with another model configuration; use a new "
                              "output directory or --restart")
        model = model_from_checkpoint(state).to(run.dtype)
    run.model = model.to(run.device)
    run.optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    run.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(run.optimizer, factor=config.lr_factor,
                                                               patience=config.lr_patience, min_lr=config.min_lr)
    if state is not None:
        run.optimizer.load_state_dict(state["optimizer"])
        run.scheduler.load_state_dict(state["scheduler"])
        run.progress = state["progress"]
        run.progress.setdefault("steps", 0)
        run.progress.setdefault("resumes", []).append(
            {"after_epoch": run.progress["epoch"], "changed": _applied_changes(state.get("train_config", {}), config)})
        run.log(f"resuming {run.out} after epoch {run.progress['epoch']}")
    basis = load_basis(mcfg.basis)
    run.loss_fn = DensityLoss(basis, mcfg.species, run.train_set[0].target.shape[1], config.dipole_weight,
                              config.output_lmax, config.coulomb_weight, config.fragment_weight,
                              config.fragment_dipole_weight).to(run.device)
    if run.rank == 0:
        run.log(f"preparing validation grids for {len(run.val_set)} structures")
        free_atoms = {s: model.free_atom[k, : model.dims[k]].double().cpu().numpy() for k, s in enumerate(mcfg.species)}
        run.refs = [ReferenceOnGrid.build(restricted_reference(s.density, free_atoms, config.output_lmax),
                                          config.grid_level) for s in run.val_set]
        if config.feature_stats_every:
            start_recorder(run)


def start_recorder(run: Run) -> None:
    """Feature statistics on a fixed probe batch (the first validation structures), from step 0."""
    probe, _ = collate(run.val_set[: run.config.feature_stats_probe], run.dtype, run.device)
    run.recorder = FeatureRecorder(run.out / "feature_stats.jsonl", probe, run.config.feature_stats_every)
    steps = run.progress["steps"]
    run.recorder.discard_after(steps if steps else -1)
    if steps == 0:
        run.recorder.maybe_record(run.model, 0, 0.0)


def _applied_changes(before: dict, config: TrainConfig) -> dict:
    now = config.to_dict()
    return {k: [before.get(k), now[k]] for k in RESUMABLE_CHANGES if k in before and before[k] != now[k]}


def batch_loss(run: Run, net, samples: list[Sample], per_l: bool = False) -> tuple[torch.Tensor, int, dict[int, float]]:
    """Loss of one batch, its number of atoms and (with ``per_l``) the density term of each output l."""
    inputs, target = collate(samples, run.dtype, run.device)
    positions, species, _, _, charge, batch = inputs
    predicted = net(*inputs)
    loss = run.loss_fn(predicted, target, species, positions, batch, len(charge), coulomb_matrices(samples, run.device),
                       fragment_matrices(samples, run.device))
    parts = run.loss_fn.density_term_by_l(predicted, target, species) if per_l else {}
    return loss, len(target), parts


def train_epoch(run: Run, net) -> dict:
    """One pass over the training set (this rank's share of the batches)."""
    config, epoch = run.config, run.progress["epoch"] + 1
    order = np.random.default_rng([config.seed, epoch]).permutation(len(run.train_set))
    batches = [order[i:i + config.batch_size] for i in range(0, len(order), config.batch_size)]
    if run.world > 1:
        batches = batches[: len(batches) - len(batches) % run.world] or batches[: run.world]
    run.model.train()
    total = torch.zeros(2, dtype=torch.float64)
    start = time.perf_counter()
    mine = batches[run.rank::run.world]
    for done, b in enumerate(mine, start=1):
        loss, n_atoms, _ = batch_loss(run, net, [run.train_set[i] for i in b])
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        run.optimizer.step()
        total += torch.tensor([float(loss.detach()) * n_atoms, n_atoms], dtype=torch.float64)
        run.progress["steps"] += 1
        if run.recorder is not None:
            run.recorder.maybe_record(run.model, run.progress["steps"], epoch - 1 + done / len(mine))
    elapsed = torch.tensor([time.perf_counter() - start], dtype=torch.float64)
    if run.world > 1:
        torch.distributed.all_reduce(total)
        torch.distributed.all_reduce(elapsed, op=torch.distributed.ReduceOp.MAX)
    run.progress["seconds"] += float(elapsed)
    return {"epoch": epoch, "train_loss": float(total[0] / total[1]), "lr": run.optimizer.param_groups[0]["lr"]}


def validation_loss(run: Run) -> tuple[float, dict[int, float]]:
    """Mean loss per atom over the validation set (the same on every rank), and its density term per l."""
    run.model.eval()
    total, atoms, by_l = 0.0, 0, {}
    with torch.no_grad():
        for start in range(0, len(run.val_set), run.config.batch_size):
            loss, n, parts = batch_loss(run, run.model, run.val_set[start:start + run.config.batch_size], per_l=True)
            total += float(loss) * n
            for l, value in parts.items():
                by_l[l] = by_l.get(l, 0.0) + value * n
            atoms += n
    return total / atoms, {l: v / atoms for l, v in by_l.items()}


def density_metrics(run: Run, model: DensityModel) -> dict:
    """eps_rho, eps_l, dipole and charge errors over the validation set, averaged."""
    model.eval()
    rows = []
    with torch.no_grad():
        for sample, ref in zip(run.val_set, run.refs):
            inputs, _ = collate([sample], run.dtype, run.device)
            out = model(*inputs).cpu().double().numpy()
            coefficients = ref.density.basis.unpad(out, sample.density.atoms.get_chemical_symbols())
            rows.append(compare(AtomicDensity(sample.density.atoms, ref.density.basis, coefficients, validate=False), ref))
    return summarise(rows)


def validate_epoch(run: Run, record: dict) -> None:
    """Validation loss (drives the scheduler and early stopping) and, every few epochs, density metrics."""
    val_loss, by_l = validation_loss(run)
    record["val_loss"] = val_loss
    record.update({f"val_loss_l{l}": v for l, v in by_l.items()})
    run.scheduler.step(val_loss)
    progress = run.progress
    improved = val_loss < progress["best"]
    progress["bad_epochs"] = 0 if improved else progress["bad_epochs"] + 1
    if improved:
        progress["best"], progress["best_epoch"] = val_loss, record["epoch"]
    progress["epoch"] = record["epoch"]
    record["improved"] = improved
    epoch = record["epoch"]
    if run.rank == 0 and (epoch % run.config.validate_every == 0 or epoch == run.config.epochs):
        record.update({f"val_{k}": v for k, v in density_metrics(run, run.model).items()})


def write_checkpoints(run: Run, record: dict) -> None:
    """The resumable checkpoint, the best model so far, and the log (rank 0)."""
    if run.rank == 0:
        improved = record.pop("improved")
        record["seconds"] = run.progress["seconds"]
        run.progress["history"].append(record)
        if improved:
            save_checkpoint(run.best_path, run.model, epoch=record["epoch"], metrics=record)
        save_checkpoint(run.checkpoint_path, run.model, optimizer=run.optimizer.state_dict(),
                        scheduler=run.scheduler.state_dict(), progress=run.progress,
                        train_config=run.config.to_dict())
        write_log(run.out / "log.jsonl", run.progress["history"])
        eps = f" eps {record['val_eps']:.2f}% dipole {record['val_dipole_error']:.4f} e·Å" if "val_eps" in record else ""
        if "val_molecule_charge_rms" in record:
            eps += (f" mol. charge RMS {record['val_molecule_charge_rms']:.4f} e"
                    f" dipole RMS {record['val_molecule_dipole_rms']:.4f} e·Å")
        run.log(f"epoch {record['epoch']}/{run.config.epochs} loss {record['train_loss']:.3e} "
                f"val {record['val_loss']:.3e}{eps} lr {record['lr']:.1e} "
                f"({record['seconds_epoch']:.1f} s with validation)")
    else:
        record.pop("improved")
    if run.world > 1:
        torch.distributed.barrier()


def should_stop(run: Run) -> bool:
    """Early stopping and the time budget (same answer on every rank)."""
    config, progress = run.config, run.progress
    if progress["bad_epochs"] >= config.early_stopping_patience:
        run.log(f"early stop: no better validation loss for {progress['bad_epochs']} epochs")
        return True
    if config.time_budget_minutes is not None and progress["seconds"] > 60 * config.time_budget_minutes:
        run.log(f"time budget of {config.time_budget_minutes} min reached")
        return True
    return False


def deploy_best(run: Run, command: str | None) -> Path:
    """Deploy the best epoch with its full validation metrics and the run's provenance."""
    from ..models import deploy

    deployed = run.out / "model.pt"
    if run.rank != 0:
        return deployed
    if not run.best_path.exists():
        raise E3DensityError(f"{run.out}: no epoch was trained (epochs: {run.config.epochs})")
    best = load_checkpoint(run.best_path)
    model = run.model  # training is over: the same network takes the best epoch's weights (no rebuild)
    model.load_state_dict(best["model"])
    validation = density_metrics(run, model)
    config = run.config
    provenance = {
        "command": command or "ase_e3density.train.train(config)",
        "train_config": config.to_dict(),
        "train": config.train, "validation": config.validation or f"{config.validation_fraction} of train",
        "n_train": len(run.train_set), "n_val": len(run.val_set), "seed": config.seed,
        "best_epoch": best["epoch"], "epochs_run": run.progress["epoch"],
        "n_parameters": sum(p.numel() for p in model.parameters()),
        "training_seconds": round(run.progress["seconds"], 1),
        "val_loss": best["metrics"]["val_loss"],
        "validation_metrics": {**validation, "grid_level": config.grid_level},
        "resumes": run.progress.get("resumes", []),
    }
    deploy(model.cpu(), deployed, provenance=provenance, domain=training_domain(run))
    run.log(f"best epoch {best['epoch']} (validation eps {validation['eps']:.3f} %) -> {deployed}")
    return deployed


def training_domain(run: Run) -> dict:
    """Charges, distances and neighbour counts seen in the training set (checked at prediction)."""
    graphs = ((s.density.atoms.numbers, s.edge_index, edge_lengths(s.density.atoms.positions, s.edge_index,
                                                                  s.edge_shift), s.charge) for s in run.train_set)
    return domain_of(graphs, run.model_config.cutoff)


def write_log(path: Path, history: list[dict]) -> None:
    """The whole history as JSON lines, replaced atomically (no duplicates after a resume)."""
    with atomic_path(path) as tmp:
        tmp.write_text("".join(json.dumps(r) + "\n" for r in history))
