"""The electron-density trainer: the kind's hooks (data, loss, validation metrics, provenance) on the
shared :class:`~ase_e3density.train.skeleton.Trainer` (resume, stop rule, checkpoints, log, DDP).

Runs in one process or under torchrun (DistributedDataParallel, gloo on CPU). Every rank takes
the same decisions (validation loss, early stopping, time budget); rank 0 writes all files.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from ase.data import atomic_numbers

from ..electron.basis import load_basis
from ..electron.database import iter_densities
from ..electron.density import AtomicDensity
from ..electron.evaluation import ReferenceOnGrid, compare, summarise
from ..errors import ConfigError, E3DensityError
from ..graph.domain import domain_of, edge_lengths, spin_of
from ..nn import DensityModel, ModelConfig
from .baseline import free_atom_table, output_scale_table
from .config import TrainConfig
from .data import Sample, ShareCache, collate, coulomb_matrices, fragment_matrices, load_samples
from .feature_stats import FeatureRecorder
from .loss import DensityLoss
from .outputs import output_mask, restricted_reference
from .skeleton import Trainer, write_log

__all__ = ["train", "DensityTrainer", "load_data", "density_metrics", "training_domain", "species_of", "write_log"]


def train(config: TrainConfig, resume: bool = True, command: str | None = None) -> Path:
    """Train (or resume) as ``config`` says; returns the path of the deployed model file."""
    return DensityTrainer.run_config(config, resume, command)


def species_of(*paths, selection: str | None = None) -> list[str]:
    """Elements present in reference databases (the rows matching the ase.db ``selection``), in order of
    atomic number."""
    found = {s for path in paths for d in iter_densities(path, selection) for s in d.atoms.get_chemical_symbols()}
    return sorted(found, key=atomic_numbers.__getitem__)


def check_selection(paths, selection: str | None) -> None:
    """Refuse, before any data is read, a row ``selection`` that ase.db cannot parse or that matches no row of
    one of the training databases ``paths``."""
    from ase.db import connect

    if not selection:
        return
    for path in paths:
        try:
            matched = connect(path).count(selection)
        except Exception as exc:  # ase.db's parser: ValueError, KeyError, sqlite3 errors
            raise ConfigError(f"option selection: {selection!r} is not an ase.db selection that {path} can answer "
                              f"({type(exc).__name__}: {exc}); write e.g. 'id<=1000'") from exc
        if not matched:
            raise ConfigError(f"option selection: no rows of {path} match {selection!r}")


class DensityTrainer(Trainer):
    """Electron densities: samples of reference ase.db files, :class:`DensityLoss`, eps_rho and dipole metrics."""

    network = DensityModel

    def __init__(self, config: TrainConfig, rank: int = 0, world: int = 1, command: str | None = None):
        super().__init__(config, rank, world, command)
        self.device = torch.device(config.device)
        self.loss_fn: DensityLoss | None = None
        self.refs: list[ReferenceOnGrid] = []
        self.recorder: FeatureRecorder | None = None

    def read_data(self) -> None:
        """Read the reference data and split it into training and validation sets.

        With several training databases and no separate validation database, each database is split on its
        own (the first with ``seed``, database i with ``(seed, i)``), so the validation set holds each one's share
        and adding a database leaves the first one's split as it was.
        """
        config, rank, out = self.config, self.rank, self.out
        train_paths = config.train_paths()
        for path in train_paths:
            if not path.is_file():
                raise ConfigError(f"option train: no such database {path}")
        if config.validation and not config.path("validation").is_file():
            raise ConfigError(f"option validation: no such database {config.path('validation')}")
        check_selection(train_paths, config.selection)
        options = dict(config.model)
        initial = self.initial_network()
        if initial is not None:  # the source's network; the data's elements must be among its species
            mcfg = initial.network_config(ModelConfig, options, species_of(*train_paths, selection=config.selection))
        else:
            species = options.pop("species", None) or species_of(*train_paths, selection=config.selection)
            try:
                mcfg = ModelConfig(species=species, **options)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"option model: {exc}") from exc
        species = mcfg.species
        basis = load_basis(mcfg.basis)
        max_dim = max(basis[s].n_functions for s in species)
        limit = config.max_structures if config.validation else None  # a seeded split needs every row
        coulomb, fragments = config.coulomb_weight > 0, config.fragment_weight > 0 or config.fragment_dipole_weight > 0
        shares = ShareCache(out / "fragment_shares.npz") if fragments else None
        if shares is not None and config.share_workers > 1 and rank == 0:
            paths = train_paths + ([config.path("validation")] if config.validation else [])
            print(f"fragment shares in {config.share_workers} processes", file=sys.stderr, flush=True)
            shares.fill((d for path in paths for d in iter_densities(path, config.selection if path in train_paths else None)),
                        config.share_workers, progress=True)
        train_set, val_set = [], []
        for i, path in enumerate(train_paths):
            if rank == 0:
                print(f"loading {path}", file=sys.stderr, flush=True)
            samples = load_samples(path, species, mcfg.cutoff, max_dim, limit=limit, progress=rank == 0, coulomb=coulomb,
                                   fragments=fragments, share_cache=shares, selection=config.selection)
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
            raise E3DensityError(f"{', '.join(map(str, train_paths))}: too few structures for a training and a "
                                 "validation set")
        if "avg_neighbours" not in options and initial is None:  # the user's (or the source network's) value wins
            mcfg.avg_neighbours = float(np.mean([s.edge_index.shape[1] / len(s.species) for s in train_set]))
        self.model_config, self.train_set, self.val_set = mcfg, train_set, val_set

    def new_model(self) -> DensityModel:
        """A new network whose outputs start at the free atoms, scaled by the data's spread per output."""
        config, mcfg = self.config, self.model_config
        max_dim = self.train_set[0].target.shape[1]
        free = free_atom_table(config.free_atom, self.train_set, mcfg.species, mcfg.basis, max_dim)
        learned = output_mask(load_basis(mcfg.basis), mcfg.species, max_dim, config.output_lmax)
        scale = output_scale_table(self.train_set, free, mcfg.species, mcfg.basis) * learned
        return DensityModel(mcfg, free, scale, dtype=self.dtype)

    def start(self) -> None:
        """The loss, the validation grids and (if asked) the feature recorder."""
        config, mcfg, model = self.config, self.model_config, self.model
        basis = load_basis(mcfg.basis)
        self.loss_fn = DensityLoss(basis, mcfg.species, self.train_set[0].target.shape[1], config.dipole_weight,
                                   config.output_lmax, config.coulomb_weight, config.fragment_weight,
                                   config.fragment_dipole_weight).to(self.device)
        if self.rank == 0:
            self.log(f"preparing validation grids for {len(self.val_set)} structures")
            free_atoms = {s: model.free_atom[k, : model.dims[k]].double().cpu().numpy()
                          for k, s in enumerate(mcfg.species)}
            self.refs = [ReferenceOnGrid.build(restricted_reference(s.density, free_atoms, config.output_lmax),
                                               config.grid_level) for s in self.val_set]
            if config.feature_stats_every:
                self.start_recorder()

    def start_recorder(self) -> None:
        """Feature statistics on a fixed probe batch (the first validation structures), from step 0."""
        probe, _ = collate(self.val_set[: self.config.feature_stats_probe], self.dtype, self.device)
        self.recorder = FeatureRecorder(self.out / "feature_stats.jsonl", probe, self.config.feature_stats_every)
        steps = self.progress["steps"]
        self.recorder.discard_after(steps if steps else -1)
        if steps == 0:
            self.recorder.maybe_record(self.model, 0, 0.0)

    def after_step(self, epoch_fraction: float) -> None:
        if self.recorder is not None:
            self.recorder.maybe_record(self.model, self.progress["steps"], epoch_fraction)

    def summary(self) -> str:
        return f"{super().summary()}; {self.device} {str(self.dtype).replace('torch.', '')}"

    def batch_loss(self, net, samples: list[Sample]) -> tuple[torch.Tensor, float]:
        loss, n_atoms, _ = self.batch_loss_by_l(net, samples)
        return loss, n_atoms

    def batch_loss_by_l(self, net, samples: list[Sample], per_l: bool = False) -> tuple[torch.Tensor, int, dict[int, float]]:
        """Loss of one batch, its number of atoms and (with ``per_l``) the density term of each output l."""
        inputs, target = collate(samples, self.dtype, self.device)
        positions, species, _, _, charge, batch = inputs
        predicted = net(*inputs)
        loss = self.loss_fn(predicted, target, species, positions, batch, len(charge),
                            coulomb_matrices(samples, self.device), fragment_matrices(samples, self.device))
        parts = self.loss_fn.density_term_by_l(predicted, target, species) if per_l else {}
        return loss, len(target), parts

    def validation_loss(self) -> tuple[float, dict[int, float]]:
        """Mean loss per atom over the validation set (the same on every rank), and its density term per l."""
        self.model.eval()
        total, atoms, by_l = 0.0, 0, {}
        with torch.no_grad():
            for start in range(0, len(self.val_set), self.config.batch_size):
                loss, n, parts = self.batch_loss_by_l(self.model, self.val_set[start:start + self.config.batch_size],
                                                      per_l=True)
                total += float(loss) * n
                for l, value in parts.items():
                    by_l[l] = by_l.get(l, 0.0) + value * n
                atoms += n
        return total / atoms, {l: v / atoms for l, v in by_l.items()}

    def validate(self, record: dict) -> float:
        """Validation loss (drives the scheduler and early stopping) and, every few epochs, density metrics."""
        val_loss, by_l = self.validation_loss()
        record["val_loss"] = val_loss
        record.update({f"val_loss_l{l}": v for l, v in by_l.items()})
        epoch = record["epoch"]
        if self.rank == 0 and (epoch % self.config.validate_every == 0 or epoch == self.config.epochs):
            record.update({f"val_{k}": v for k, v in density_metrics(self, self.model).items()})
        return val_loss

    def describe(self, record: dict) -> str:
        eps = f" eps {record['val_eps']:.2f}% dipole {record['val_dipole_error']:.4f} e·Å" if "val_eps" in record else ""
        if "val_molecule_charge_rms" in record:
            eps += (f" mol. charge RMS {record['val_molecule_charge_rms']:.4f} e"
                    f" dipole RMS {record['val_molecule_dipole_rms']:.4f} e·Å")
        return (f"epoch {record['epoch']}/{self.config.epochs} loss {record['train_loss']:.3e} "
                f"val {record['val_loss']:.3e}{eps} lr {record['lr']:.1e} "
                f"({record['seconds_epoch']:.1f} s with validation)")

    def provenance(self, best: dict) -> dict:
        """The data, split sizes and the best epoch's full validation metrics, recomputed."""
        config = self.config
        validation = density_metrics(self, self.model)
        self.log(f"best epoch {best['epoch']} (validation eps {validation['eps']:.3f} %) -> {self.deployed_path}")
        return {
            "train": config.train, "validation": config.validation or f"{config.validation_fraction} of train",
            "n_train": len(self.train_set), "n_val": len(self.val_set), "seed": config.seed,
            "n_parameters": sum(p.numel() for p in self.model.parameters()),
            "val_loss": best["metrics"]["val_loss"],
            "validation_metrics": {**validation, "grid_level": config.grid_level},
        }

    def training_domain(self) -> dict:
        return training_domain(self)


def load_data(config: TrainConfig, out: Path, rank: int = 0, world: int = 1) -> DensityTrainer:
    """A trainer of ``config`` with its data read (its ``train_set``, ``val_set``, ``model_config``), writing
    into ``out``; for scripts and tests that need the data without training."""
    trainer = DensityTrainer(config, rank, world)
    trainer.out = Path(out)
    trainer.read_data()
    return trainer


def density_metrics(trainer: DensityTrainer, model: DensityModel) -> dict:
    """eps_rho, eps_l, dipole and charge errors over the validation set (``trainer.refs``), averaged."""
    model.eval()
    rows = []
    with torch.no_grad():
        for sample, ref in zip(trainer.val_set, trainer.refs):
            inputs, _ = collate([sample], trainer.dtype, trainer.device)
            out = model(*inputs).cpu().double().numpy()
            coefficients = ref.density.basis.unpad(out, sample.density.atoms.get_chemical_symbols())
            rows.append(compare(AtomicDensity(sample.density.atoms, ref.density.basis, coefficients, validate=False), ref))
    return summarise(rows)


def training_domain(trainer: DensityTrainer) -> dict:
    """Charges, distances, neighbour counts, bonding environments and spin states (2S) seen in the training set
    (checked at prediction)."""
    graphs = ((s.density.atoms.numbers, s.edge_index, edge_lengths(s.density.atoms.positions, s.edge_index,
                                                                  s.edge_shift), s.charge) for s in trainer.train_set)
    domain = domain_of(graphs, trainer.model_config.cutoff, environments=True)
    spins = [spin_of(s.density.atoms.numbers, s.charge, s.density.info.get("spin")) for s in trainer.train_set]
    spins = [x for x in spins if x is not None]
    if spins:
        domain["spin"] = [min(spins), max(spins)]
    domain["periodic"] = any(bool(np.any(np.asarray(s.edge_shift) != 0)) for s in trainer.train_set)
    return domain
