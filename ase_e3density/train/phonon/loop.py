"""The phonon-DOS trainer: the kind's hooks (data, loss, DOS and Cv metrics, provenance) on the shared
:class:`~ase_e3density.train.skeleton.Trainer` (resume, stop rule, checkpoints, log, DDP).

Every epoch writes ``checkpoint.pt`` and ``log.jsonl`` (atomically); the best epoch by validation loss
is kept in ``best.pt``. A rerun resumes from the checkpoint (a kill -9 loses at most the epoch in
flight). At the end the best weights are deployed to ``model.pt`` with their metrics on the validation,
test and held-out sets, the split, the data's generator and the command.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ...errors import ConfigError
from ...graph.domain import crystal_domain_of, edge_lengths
from ...nn.phonon_model import PhononDOSModel, PhononModelConfig
from ...phonon.targets import compare_dos
from ..skeleton import Trainer
from .config import PhononTrainConfig
from .data import CrystalSample, collate, collate_partials, make_samples, read_rows, species_of, split
from .loss import PhononLoss
from .partials import element_dos, partial_errors

__all__ = ["train_phonon", "PhononTrainer", "evaluate_samples", "predict", "predict_partials", "site_outputs"]

SETS = ("validation", "test", "held_out")


def train_phonon(config: PhononTrainConfig, resume: bool = True, command: str | None = None) -> Path:
    """Train (or resume) as ``config`` says; returns the path of the deployed model file."""
    if config.threads:
        torch.set_num_threads(config.threads)
    return PhononTrainer.run_config(config, resume, command)


def predict(model: PhononDOSModel, samples: list[CrystalSample], dtype: torch.dtype, batch_size: int = 64) -> np.ndarray:
    """Predicted DOS per atom (n, n_grid) of ``samples`` (training-time model, no autograd)."""
    out = []
    with torch.no_grad():
        for k in range(0, len(samples), batch_size):
            inputs, _ = collate(samples[k:k + batch_size], dtype)
            out.append(model(*inputs).double().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0))


def site_outputs(net, inputs: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """The DOS per atom (n, n_grid) and the network's partial DOS (n, n_species, n_grid) of a batch, from
    one call of ``net`` (so that DDP sees it) that gives every site a structure of its own: a site's DOS
    depends on the graph alone, and the structure's is their mean."""
    positions, occupancy, edges, shifts, batch = inputs
    sites = net(positions, occupancy, edges, shifts, torch.arange(len(batch), device=batch.device))
    partials = element_dos(sites, occupancy, batch, int(batch.max()) + 1)
    return partials.sum(dim=1), partials


def predict_partials(model: PhononDOSModel, samples: list[CrystalSample], dtype: torch.dtype,
                     batch_size: int = 64) -> np.ndarray:
    """The network's partial DOS (n, n_species, n_grid) of ``samples`` (no autograd)."""
    out = []
    with torch.no_grad():
        for k in range(0, len(samples), batch_size):
            inputs, _ = collate(samples[k:k + batch_size], dtype)
            out.append(site_outputs(model, inputs)[1].double().numpy())
    return np.concatenate(out)


def evaluate_samples(model, samples: list[CrystalSample], grid, temperatures, dtype,
                     predicted: np.ndarray | None = None, partials: np.ndarray | None = None) -> dict:
    """DOS errors and Cv errors (against the generator's mesh Cv) of ``model`` on ``samples`` (``predicted``:
    the model's DOS of them, when already computed); on those with a reference partial DOS also the partial
    errors (:func:`~.partials.partial_errors`: ``partial_l1``, ``partial_wasserstein``, ``partial_r2``,
    ``partial_n``; ``partials``: the model's partial DOS of those samples, in order, when already computed)."""
    if not samples:
        return {"n": 0}
    if predicted is None:
        predicted = predict(model, samples, dtype)
    out = compare_dos(grid, predicted, np.stack([s.target for s in samples]), temperatures,
                      reference_cv=np.stack([s.reference_cv for s in samples]))
    out["per_structure"]["name"] = [s.name for s in samples]
    out["per_structure"]["uid"] = [s.uid for s in samples]
    with_partial = [s for s in samples if s.partial is not None]
    if with_partial:
        n_species = model.masses.shape[0]
        reference, _ = collate_partials(with_partial, n_species, torch.float64)
        if partials is None:
            partials = predict_partials(model, with_partial, dtype)
        errors = partial_errors(grid, partials, reference.numpy())
        per = errors.pop("per_structure")
        out.update(errors)
        out["per_structure"]["partial_uid"] = [s.uid for s in with_partial]
        out["per_structure"].update(per)
    return out


class PhononTrainer(Trainer):
    """Phonon DOS: crystals of an `e3density phonons` ase.db, :class:`PhononLoss`, DOS and Cv metrics."""

    network = PhononDOSModel
    default_command = "ase_e3density.train.phonon.train_phonon(config)"

    def __init__(self, config: PhononTrainConfig, rank: int = 0, world: int = 1, command: str | None = None):
        super().__init__(config, rank, world, command)
        self.sets: dict[str, list[CrystalSample]] = {}
        self.rows: list = []
        self.counts: dict = {}
        self.grid = np.zeros(0)
        self.temperatures = [float(t) for t in config.heat_capacity_temperatures]
        self.loss_fn: PhononLoss | None = None

    def read_data(self) -> None:
        """The rows that qualify, their samples on the model's grid, and the split."""
        config = self.config
        data_path = config.path("data")
        if not data_path.is_file():
            raise ConfigError(f"option data: no such database {data_path}")
        self.rows, self.counts = read_rows(data_path, config.selection, config.max_imaginary_fraction)
        options = dict(config.model)
        initial = self.initial_network()
        if initial is not None:  # the source's network; the data's elements must be among its species
            self.model_config = initial.network_config(PhononModelConfig, options, species_of(self.rows))
        else:
            try:
                self.model_config = PhononModelConfig(species=options.pop("species", None) or species_of(self.rows),
                                                      **options)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"option model: {exc}") from None
        species = self.model_config.species
        self.grid = np.asarray(self.model_config.frequencies())
        samples = make_samples(self.rows, species, self.model_config.cutoff, self.grid, self.temperatures, config.sigma)
        split_seed = config.seed if config.split_seed is None else config.split_seed
        self.sets = split(samples, config.test_prototypes, config.validation_fraction, config.test_fraction, split_seed,
                          config.test_elements, config.max_train, config.split_keeps_elements)
        self.train_set, self.val_set = self.sets["train"], self.sets["validation"]
        if config.partial_dos_weight > 0 and not any(s.partial is not None for s in self.train_set):
            raise ConfigError(f"option partial_dos_weight: no training row of {data_path} has a partial DOS (rows "
                              "written by `e3density phonons` before it stored them); set it to 0")

    def new_model(self) -> PhononDOSModel:
        """A new network whose output starts at the training set's mean DOS rather than a flat one."""
        model = PhononDOSModel(self.model_config, dtype=self.dtype)
        with torch.no_grad():
            mean = np.stack([s.target[1:-1] for s in self.train_set]).mean(axis=0) * model.step / 3.0
            model.head.bias.copy_(torch.as_tensor(np.log(mean + 1e-4), dtype=self.dtype))
        return model

    def start(self) -> None:
        config = self.config
        self.loss_fn = PhononLoss(self.grid, config.loss, config.heat_capacity_weight, self.temperatures, self.dtype,
                                  partial_weight=config.partial_dos_weight, mse_weight=config.mse_weight)

    def summary(self) -> str:
        sets = self.sets
        return (f"phonon DOS: {len(sets['train'])} training, {len(sets['validation'])} validation, "
                f"{len(sets['test'])} test, {len(sets['held_out'])} held-out (prototypes and elements) crystals "
                f"({self.counts['left_out_unstable']} rows with imaginary modes left out); "
                f"{sum(p.numel() for p in self.model.parameters()):,} parameters; {self.world} process(es)")

    def epoch_order(self, epoch: int) -> np.ndarray:
        # (seed, epoch - 1): the phonon trainer's orders since its first version, so its runs reproduce
        return np.random.default_rng([self.config.seed, epoch - 1]).permutation(len(self.train_set))

    def batch_loss(self, net, samples: list[CrystalSample]) -> tuple[torch.Tensor, float]:
        inputs, target = collate(samples, self.dtype)
        if not self.loss_fn.partial_weight:
            return self.loss_fn(net(*inputs), target), len(samples)
        partial_reference, mask = collate_partials(samples, len(self.model_config.species), self.dtype)
        predicted, partials = site_outputs(net, inputs)
        return self.loss_fn(predicted, target, partials, partial_reference, mask), len(samples)

    def validate(self, record: dict) -> float:
        """The loss and the DOS and Cv errors on the validation set."""
        self.model.eval()
        # each once: for the metrics and the loss
        predicted = predict(self.model, self.val_set, self.dtype)
        with_partial = [s for s in self.val_set if s.partial is not None]
        partials = predict_partials(self.model, with_partial, self.dtype) if with_partial else None
        val = evaluate_samples(self.model, self.val_set, self.grid, self.temperatures, self.dtype, predicted, partials)
        val_loss = float(self.loss_fn(torch.as_tensor(predicted, dtype=self.dtype),
                                      torch.as_tensor(np.stack([s.target for s in self.val_set]), dtype=self.dtype)))
        if self.loss_fn.partial_weight and with_partial:  # the partial term: mean over the rows that have one
            reference, mask = collate_partials(with_partial, len(self.model_config.species), self.dtype)
            with torch.no_grad():
                term = self.loss_fn.partial_term(torch.as_tensor(partials, dtype=self.dtype), reference, mask)
            val_loss += self.loss_fn.partial_weight * float(term)
        record["val_loss"] = val_loss
        record.update({k: v for k, v in val.items() if k not in ("per_structure", "n")})
        return val_loss

    def describe(self, record: dict) -> str:
        return (f"epoch {record['epoch']}/{self.config.epochs}: train {record['train_loss']:.4f} val "
                f"{record['val_loss']:.4f} (Cv MAE 100 K {record.get('cv_mae_100', float('nan')):.3f}, 300 K "
                f"{record.get('cv_mae_300', float('nan')):.3f} J/(K mol); W1 {record['wasserstein']:.3f} THz"
                + (f"; partial L1 {record['partial_l1']:.3f}" if "partial_l1" in record else "")
                + f") {record['seconds_epoch']:.1f} s")

    def provenance(self, best: dict) -> dict:
        """Metrics of the best weights on the validation, test and held-out sets, the floor of the grid,
        the split by uid, the data's generator and counts."""
        sets, grid, temps, config = self.sets, self.grid, self.temperatures, self.config
        metrics = {name: evaluate_samples(self.model, sets[name], grid, temps, self.dtype) for name in SETS}
        floor = {}
        for name in SETS:
            if sets[name]:  # the reference DOS on the grid against the generator's mesh sums
                targets = np.stack([s.target for s in sets[name]])
                errors = compare_dos(grid, targets, targets, temps,
                                     reference_cv=np.stack([s.reference_cv for s in sets[name]]))
                floor[name] = {k: v for k, v in errors.items() if k.startswith("cv_mae")}
        for name in SETS:
            m = metrics[name]
            if m.get("n"):
                self.log(f"{name} ({m['n']}): DOS MAE {m['dos_mae']:.4f} states/(THz atom), R2 {m['r2']:.3f}, W1 "
                         f"{m['wasserstein']:.3f} THz, Cv MAE "
                         + ", ".join(f"{t:g} K {m[f'cv_mae_{t:g}']:.3f}" for t in temps) + " J/(K mol-atoms)"
                         + (f"; partial DOS ({m['partial_n']}): L1 {m['partial_l1']:.3f}, W1 {m['partial_wasserstein']:.3f} THz, "
                            f"R2 {m['partial_r2']:.3f}"
                            if m.get("partial_n") else ""))
        return {
            "data": config.data, "generator": _generator(self.rows),
            "counts": {**self.counts, **{name: len(s) for name, s in sets.items()}},
            "split": {name: [s.uid for s in sets[name]] for name in ("train", *SETS)},
            "metrics": metrics, "target_floor": floor, "heat_capacity_temperatures": temps,
        }

    def training_domain(self) -> dict:
        """The training crystals' domain with the number of training crystals per element and the calibrated
        warning rule (:func:`~ase_e3density.graph.domain.crystal_domain_of`)."""
        graphs = [(s.atoms.numbers, s.graph[2], edge_lengths(s.atoms.positions, s.graph[2], s.graph[3]), 0.0)
                  for s in self.train_set]
        crystals = [s.atoms.get_chemical_symbols() for s in self.train_set]
        return crystal_domain_of(graphs, self.model_config.cutoff, crystals)


def _generator(rows) -> dict:
    """What made the reference data: force calculator, its version, settings (from the rows)."""
    keys = ("force_calculator", "potential", "calculator_version", "phonopy_version", "displacement", "min_width", "mesh", "relax")
    found: dict = {}
    for key in keys:
        values = sorted({str(r.get(key)) for r in rows if r.get(key) is not None})
        if values:
            found[key] = values[0] if len(values) == 1 else values
    return found
