"""The training loop: splits, scaling, optimisation, validation, checkpoints, resume, DDP."""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from ase.data import atomic_numbers

from ..basis import load_basis
from ..checkpoint import load_checkpoint, save_checkpoint
from ..database import iter_densities
from ..density import AtomicDensity
from ..fileio import atomic_path
from ..evaluation import ReferenceOnGrid, compare, summarise
from ..nn import DensityModel, ModelConfig
from .config import TrainConfig
from .data import Sample, collate, load_samples
from .loss import DensityLoss

__all__ = ["train"]


def _log(message: str, rank: int = 0) -> None:
    if rank == 0:
        print(message, file=sys.stderr, flush=True)


def _distributed() -> tuple[int, int]:
    """(rank, world size); joins the process group that torchrun describes (gloo on CPU)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("gloo")
    return (torch.distributed.get_rank(), world) if world > 1 else (0, 1)


def _species_of(path) -> list[str]:
    found = {s for d in iter_densities(path) for s in d.atoms.get_chemical_symbols()}
    return sorted(found, key=atomic_numbers.__getitem__)


def _free_atoms(kind: str, samples: list[Sample], species: list[str], basis_name: str, max_dim: int) -> torch.Tensor:
    """Spherical free-atom coefficients per species (s functions only), padded."""
    basis = load_basis(basis_name)
    table = torch.zeros(len(species), max_dim, dtype=torch.float64)
    if kind == "pyscf":
        from ..reference import free_atom_coefficients
        info = samples[0].density.info
        free = free_atom_coefficients(species, xc=info.get("xc", "PBE0"), basis=info.get("basis", "cc-pvdz"),
                                      auxbasis=basis_name)
        for k, s in enumerate(species):
            table[k, : len(free[s])] = torch.as_tensor(free[s])
    elif kind == "mean":
        for k, s in enumerate(species):
            rows = [smp.target[smp.species == k] for smp in samples]
            mean = np.concatenate(rows).mean(axis=0)[: basis[s].n_functions]
            table[k, : len(mean)] = torch.as_tensor(np.where(basis[s].function_l == 0, mean, 0.0))
    else:
        raise ValueError(f"free_atom must be 'pyscf' or 'mean', got {kind!r}")
    return table


def _output_scale(samples: list[Sample], free: torch.Tensor, species: list[str], basis_name: str) -> torch.Tensor:
    """Root-mean-square deviation from the free atom, one value per shell (all its m alike)."""
    basis = load_basis(basis_name)
    scale = torch.ones_like(free)
    for k, s in enumerate(species):
        rows = np.concatenate([smp.target[smp.species == k] for smp in samples]) - free[k].numpy()
        off = 0
        for shell in basis[s].shells:
            block = rows[:, off:off + shell.size]
            scale[k, off:off + shell.size] = float(np.sqrt(np.mean(block**2))) if len(block) else 1.0
            off += shell.size
        n = basis[s].n_functions
        scale[k, :n] = torch.clamp(scale[k, :n], min=1e-3 * float(scale[k, :n].max()))
    return scale


def _loss(loss_fn: DensityLoss, predicted: torch.Tensor, target: torch.Tensor, inputs: tuple) -> torch.Tensor:
    positions, species, _, _, charge, batch = inputs
    return loss_fn(predicted, target, species, positions, batch, len(charge))


def _validate(model: DensityModel, samples: list[Sample], loss_fn, batch_size: int, dtype) -> float:
    model.eval()
    total, atoms = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(samples), batch_size):
            inputs, target = collate(samples[start:start + batch_size], dtype)
            n = len(target)
            total += float(_loss(loss_fn, model(*inputs), target, inputs)) * n
            atoms += n
    return total / max(atoms, 1)


def _density_metrics(model: DensityModel, samples: list[Sample], refs: list[ReferenceOnGrid], dtype) -> dict:
    model.eval()
    rows = []
    with torch.no_grad():
        for sample, ref in zip(samples, refs):
            inputs, _ = collate([sample], dtype)
            out = model(*inputs).double().numpy()
            coeffs = ref.density.basis.unpad(out, sample.density.atoms.get_chemical_symbols())
            rows.append(compare(AtomicDensity(sample.density.atoms, ref.density.basis, coeffs), ref))
    return summarise(rows)


def train(config: TrainConfig, resume: bool = True) -> Path:
    """Train (or resume) as ``config`` says; returns the path of the deployed model file."""
    rank, world = _distributed()
    out = Path(config.output)
    out.mkdir(parents=True, exist_ok=True)
    dtype = torch.float32
    model_options = dict(config.model)
    species = model_options.pop("species", None) or _species_of(config.train)
    mcfg = ModelConfig(species=species, **model_options)
    basis = load_basis(mcfg.basis)
    max_dim = max(basis[s].n_functions for s in species)

    samples = load_samples(config.train, species, mcfg.cutoff, max_dim)
    names = {s.density.basis.name for s in samples}
    if names != {basis.name}:
        raise ValueError(f"training data is in {sorted(names)}, the model predicts {basis.name}")
    if config.validation:
        train_set, val_set = samples, load_samples(config.validation, species, mcfg.cutoff, max_dim)
    else:
        order = np.random.default_rng(config.seed).permutation(len(samples))
        n_val = max(1, int(round(config.validation_fraction * len(samples))))
        val_set, train_set = [samples[i] for i in order[:n_val]], [samples[i] for i in order[n_val:]]
    if config.max_structures:
        train_set = train_set[: config.max_structures]
    mcfg.avg_neighbours = float(np.mean([s.edge_index.shape[1] / len(s.species) for s in train_set]))

    ckpt_path, best_path = out / "checkpoint.pt", out / "best.pt"
    state = load_checkpoint(ckpt_path) if resume and ckpt_path.exists() else None
    torch.manual_seed(config.seed)
    if state is None:
        free = _free_atoms(config.free_atom, train_set, species, mcfg.basis, max_dim)
        model = DensityModel(mcfg, free, _output_scale(train_set, free, species, mcfg.basis), dtype=dtype)
    else:
        if state["config"] != mcfg.to_dict():
            raise ValueError(f"{ckpt_path} was trained with another model configuration; use a new output "
                             "directory or --restart")
        model = DensityModel(ModelConfig.from_dict(state["config"]), dtype=dtype)
        model.load_state_dict(state["model"])
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=config.lr_factor,
                                                           patience=config.lr_patience, min_lr=config.min_lr)
    progress = {"epoch": 0, "best": float("inf"), "best_epoch": 0, "bad_epochs": 0, "seconds": 0.0, "history": []}
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        progress = state["progress"]
        _log(f"resuming {out} after epoch {progress['epoch']}", rank)
    loss_fn = DensityLoss(basis, species, max_dim, config.dipole_weight)
    net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    refs = [ReferenceOnGrid.build(s.density, config.grid_level) for s in val_set] if rank == 0 else []
    _log(f"training on {len(train_set)} structures, validating on {len(val_set)}; "
         f"{sum(p.numel() for p in model.parameters()):,} parameters; {world} process(es)", rank)

    while progress["epoch"] < config.epochs:
        epoch = progress["epoch"] + 1
        start = time.perf_counter()
        order = np.random.default_rng([config.seed, epoch]).permutation(len(train_set))
        batches = [order[i:i + config.batch_size] for i in range(0, len(order), config.batch_size)]
        batches = batches[: len(batches) - len(batches) % world] if world > 1 else batches
        model.train()
        total = torch.zeros(2, dtype=torch.float64)
        for b in batches[rank::world]:
            inputs, target = collate([train_set[i] for i in b], dtype)
            loss = _loss(loss_fn, net(*inputs), target, inputs)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += torch.tensor([float(loss.detach()) * len(target), len(target)], dtype=torch.float64)
        if world > 1:
            torch.distributed.all_reduce(total)
        record = {"epoch": epoch, "train_loss": float(total[0] / total[1]), "lr": optimizer.param_groups[0]["lr"]}
        # every rank computes the same validation loss, so all take the same decisions
        val_loss = _validate(model, val_set, loss_fn, config.batch_size, dtype)
        record["val_loss"] = val_loss
        scheduler.step(val_loss)
        improved = val_loss < progress["best"]
        progress["bad_epochs"] = 0 if improved else progress["bad_epochs"] + 1
        if improved:
            progress["best"], progress["best_epoch"] = val_loss, epoch
        elapsed = torch.tensor([time.perf_counter() - start], dtype=torch.float64)
        if world > 1:
            torch.distributed.all_reduce(elapsed, op=torch.distributed.ReduceOp.MAX)
        progress["seconds"] += float(elapsed)
        progress["epoch"] = epoch
        if rank == 0:
            if epoch % config.validate_every == 0 or epoch == config.epochs:
                record.update({f"val_{k}": v for k, v in _density_metrics(model, val_set, refs, dtype).items()})
            record["seconds"] = progress["seconds"]
            progress["history"].append(record)
            if improved:
                save_checkpoint(best_path, model, epoch=epoch, metrics=record)
            save_checkpoint(ckpt_path, model, optimizer=optimizer.state_dict(), scheduler=scheduler.state_dict(),
                            progress=progress, train_config=config.to_dict())
            _write_log(out / "log.jsonl", progress["history"])
            eps = f" eps {record['val_eps']:.2f}% dipole {record['val_dipole_error']:.4f} e·Å" if "val_eps" in record else ""
            _log(f"epoch {epoch}/{config.epochs} loss {record['train_loss']:.3e} val {val_loss:.3e}{eps} "
                 f"lr {record['lr']:.1e} ({float(elapsed):.1f} s)")
        if world > 1:
            torch.distributed.barrier()
        if progress["bad_epochs"] >= config.early_stopping_patience:
            _log(f"early stop: no better validation loss for {progress['bad_epochs']} epochs", rank)
            break
        if config.time_budget_minutes is not None and progress["seconds"] > 60 * config.time_budget_minutes:
            _log(f"time budget of {config.time_budget_minutes} min reached", rank)
            break

    deployed = out / "model.pt"
    if rank == 0:
        from ..checkpoint import model_from_checkpoint
        from ..deploy import deploy
        best = load_checkpoint(best_path)
        provenance = {"train": str(config.train), "validation": str(config.validation or f"{config.validation_fraction} of train"),
                      "n_train": len(train_set), "n_val": len(val_set), "seed": config.seed,
                      "best_epoch": best["epoch"], "epochs_run": progress["epoch"],
                      "training_seconds": round(progress["seconds"], 1),
                      "val_metrics": {k: v for k, v in best["metrics"].items() if k.startswith("val_")},
                      "train_config": config.to_dict()}
        deploy(model_from_checkpoint(best), deployed, provenance=provenance)
        _log(f"best epoch {best['epoch']} -> {deployed}")
    if world > 1:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    return deployed


def _write_log(path: Path, history: list[dict]) -> None:
    """The whole history as JSON lines, replaced atomically (no duplicates after a resume)."""
    with atomic_path(path) as tmp:
        tmp.write_text("".join(json.dumps(r) + "\n" for r in history))
