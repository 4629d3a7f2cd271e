"""The training skeleton every model kind shares: resume, epochs, stop rule, checkpoints, log, DDP, deployment.

A kind's trainer subclasses :class:`Trainer` and fills in the hooks: its data (:meth:`Trainer.read_data`),
a new network (:meth:`Trainer.new_model`), what it needs once the network exists (:meth:`Trainer.start`),
the loss of a batch (:meth:`Trainer.batch_loss`), validation loss and metrics (:meth:`Trainer.validate`),
the epoch's line on stderr (:meth:`Trainer.describe`), and the provenance and training domain of the
deployed file (:meth:`Trainer.provenance`, :meth:`Trainer.training_domain`).

What the skeleton guarantees for every kind:

- **resume**: rerunning resumes from ``checkpoint.pt`` after the last finished epoch; a checkpoint of
  another kind, of another model configuration, or of other settings (all but the configuration class's
  ``RESUMABLE`` options) is refused in one line; a finished run (epochs done, early stopped or out of
  time, and deployed) is not rerun. Epoch orders derive from (seed, epoch), so a resumed run is
  bitwise the uninterrupted one.
- **stop rule**: ``epochs``, ``early_stopping_patience`` (epochs since the best validation loss) and
  ``time_budget_minutes`` (training time summed over resumes), checked before every epoch.
- **checkpoints**: ``checkpoint.pt`` (network, optimiser, scheduler, progress with the whole history)
  after every epoch and ``best.pt`` when the validation loss improves, both written atomically.
- **log**: ``log.jsonl``, one JSON line per epoch, rewritten atomically from the checkpoint's history
  after every epoch (a killed or resumed run never leaves a half line or a duplicate).
- **optimiser**: ``optimizer`` (``adam`` or ``adamw``), ``lr``, ``weight_decay``; ``lr_schedule``:
  ``plateau`` (ReduceLROnPlateau on the validation loss: ``lr_factor``, ``lr_patience``, ``min_lr``) or
  ``cosine`` (:func:`cosine_lr`, set before every step from the step's place in ``epochs``: a function of
  progress alone, so a resumed run follows the uninterrupted one's rates).
- **starting point**: a new network (:meth:`Trainer.new_model`), or with ``init_from`` the architecture and
  weights of a trained one (:mod:`~ase_e3density.train.initial`; the deployed file records which).
- **weight averaging**: ``ema_decay`` > 0 keeps an exponential moving average of the weights after every
  optimiser step (:class:`~ase_e3density.train.averaging.ParameterAverage`; buffers are constants);
  validation, the best epoch and the deployed file use the averaged weights, training goes on with the raw
  ones (both are in ``checkpoint.pt``).
- **DDP**: under ``torchrun`` each process takes every N-th batch, gradients are averaged (gloo on CPU),
  every rank computes the same validation loss (so all take the same decisions) and rank 0 writes.
"""
from __future__ import annotations

import json
import os
import sys
import time
from abc import ABC, abstractmethod
from contextlib import ExitStack, contextmanager
from pathlib import Path

import numpy as np
import torch

from ..errors import ConfigError, E3DensityError, ModelFileError, TrainingDivergedError
from ..fileio import atomic_path, claim_folder, exclusive_writer
from ..kinds import DEFAULT_KIND
from .averaging import ParameterAverage
from .checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from .initial import InitialNetwork, read_initial_network
from .options import defaults_of

__all__ = ["Trainer", "join_process_group", "make_optimizer", "cosine_lr", "write_log", "plain", "OPTIMIZERS"]

RUN_FILES = ("checkpoint.pt", "best.pt", "model.pt", "log.jsonl")
"""What a run folder made before folders carried their marker holds (:func:`~ase_e3density.fileio.claim_folder`)."""
OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}


def join_process_group() -> tuple[int, int]:
    """(rank, world size); joins the process group that torchrun describes (gloo on CPU)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("gloo")
    return (torch.distributed.get_rank(), world) if world > 1 else (0, 1)


def make_optimizer(name: str, parameters, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """The optimiser ``name`` (``adam``: L2 weight decay in the gradient; ``adamw``: decoupled decay)."""
    return OPTIMIZERS[name](parameters, lr=lr, weight_decay=weight_decay)


def cosine_lr(lr: float, min_lr: float, epochs: int, position: float) -> float:
    """The learning rate at ``position`` epochs into a cosine schedule from ``lr`` (position 0) to ``min_lr``
    (position ``epochs`` and after)."""
    fraction = min(max(position / max(epochs, 1), 0.0), 1.0)
    return min_lr + 0.5 * (lr - min_lr) * (1.0 + float(np.cos(np.pi * fraction)))


def plain(value):
    """``value`` with numpy scalars and arrays turned into Python numbers and lists (checkpoints hold
    plain types only)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def write_log(path: Path, history: list[dict]) -> None:
    """The whole history as JSON lines, replaced atomically (no duplicates after a resume)."""
    with atomic_path(path) as tmp:
        tmp.write_text("".join(json.dumps(r) + "\n" for r in history))


def _read_log(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class Trainer(ABC):
    """One training run of a configuration; subclasses supply the kind's hooks (see the module docstring).

    The configuration has ``output``, ``seed``, ``dtype``, ``batch_size``, ``optimizer``, ``lr``,
    ``weight_decay``, ``lr_factor``, ``lr_patience``, ``min_lr``, ``epochs``, ``early_stopping_patience``,
    ``time_budget_minutes``, ``path(key)``, ``to_dict()`` and the class attribute ``RESUMABLE``.
    """

    network: type = torch.nn.Module   # the kind's network class (its ``kind`` names the checkpoints it accepts)
    default_command = "ase_e3density.train.train(config)"

    def __init__(self, config, rank: int = 0, world: int = 1, command: str | None = None):
        self.config = config
        self.rank, self.world = rank, world
        self.command = command
        self.out = config.path("output")
        self.dtype = getattr(torch, config.dtype)
        self.device = torch.device("cpu")
        self.train_set: list = []
        self.val_set: list = []
        self.model_config = None
        self.model: torch.nn.Module | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self.scheduler = None
        self.ema: ParameterAverage | None = None
        self._initial: InitialNetwork | None = None
        self.progress = {"epoch": 0, "steps": 0, "best": float("inf"), "best_epoch": 0, "seconds": 0.0,
                         "history": [], "resumes": []}

    # -- the kind's hooks ---------------------------------------------------------------------------------

    @abstractmethod
    def read_data(self) -> None:
        """Set ``train_set``, ``val_set`` and ``model_config`` (the network's configuration) from the data."""

    def new_model(self) -> torch.nn.Module:
        """A newly initialised network (called right after ``torch.manual_seed(seed)``)."""
        return self.network(self.model_config, dtype=self.dtype)

    def start(self) -> None:
        """Whatever the kind needs once the network exists (loss, validation references, ...); nothing here."""
        return None

    @abstractmethod
    def batch_loss(self, net, samples: list) -> tuple[torch.Tensor, float]:
        """The loss of one batch and its weight in the epoch's mean (atoms, structures, ...)."""

    def after_step(self, epoch_fraction: float) -> None:
        """Called after every optimiser step (``epoch_fraction``: epochs done, fractional); nothing here."""
        return None

    @abstractmethod
    def validate(self, record: dict) -> float:
        """The validation loss (the same on every rank), with the epoch's metrics added to ``record``."""

    def describe(self, record: dict) -> str:
        """The epoch's line on stderr."""
        return (f"epoch {record['epoch']}/{self.config.epochs} loss {record['train_loss']:.3e} "
                f"val {record['val_loss']:.3e} lr {record['lr']:.1e} ({record['seconds_epoch']:.1f} s with validation)")

    def summary(self) -> str:
        """The line on stderr before the first epoch."""
        return (f"training on {len(self.train_set)} structures, validating on {len(self.val_set)}; "
                f"{sum(p.numel() for p in self.model.parameters()):,} parameters; {self.world} process(es)")

    def provenance(self, best: dict) -> dict:
        """The kind's entries of the deployed file's provenance (the best epoch's weights are loaded)."""
        return {}

    def training_domain(self) -> dict | None:
        """What the training set covered (checked at prediction), or None."""
        return None

    def initial_network(self) -> InitialNetwork | None:
        """The trained network that ``init_from`` names (read once), or None for a new network."""
        source = getattr(self.config, "init_from", None)
        if source and self._initial is None:
            self._initial = read_initial_network(source, self.config.base_dir, self.network.kind)
        return self._initial if source else None

    def epoch_order(self, epoch: int) -> np.ndarray:
        """The order of the training set in ``epoch`` (1-based), from (seed, epoch) only."""
        return np.random.default_rng([self.config.seed, epoch]).permutation(len(self.train_set))

    # -- the skeleton ---------------------------------------------------------------------------------------

    def log(self, message: str) -> None:
        if self.rank == 0:
            print(message, file=sys.stderr, flush=True)

    @property
    def checkpoint_path(self) -> Path:
        return self.out / "checkpoint.pt"

    @property
    def best_path(self) -> Path:
        return self.out / "best.pt"

    @property
    def deployed_path(self) -> Path:
        return self.out / "model.pt"

    @classmethod
    def run_config(cls, config, resume: bool = True, command: str | None = None) -> Path:
        """Train (or resume) ``config`` with this trainer, in the process group torchrun describes (one
        process without torchrun); the path of the deployed model file."""
        rank, world = join_process_group()
        try:
            return cls(config, rank, world, command).run(resume)
        finally:
            if world > 1 and torch.distributed.is_initialized():
                torch.distributed.destroy_process_group()

    def run(self, resume: bool = True) -> Path:
        """Train (or resume) and deploy the best epoch; returns the deployed file's path. A second training into
        the same folder while this one runs is refused at once (a lock the kernel releases if this one dies)."""
        claim_folder(self.out, "training run", RUN_FILES)  # never a folder of someone else's files
        with ExitStack() as held:
            if self.rank == 0:  # one writer per run folder (the other ranks of a torchrun job write nothing)
                held.enter_context(exclusive_writer(self.checkpoint_path, "training run"))
            return self._run(resume)

    def _run(self, resume: bool) -> Path:
        state = self.previous_state() if resume else None
        if state is not None and self.stop_reason(state["progress"]) and self.deployed_matches(state["progress"]):
            self.log(f"{self.out} is finished ({self.stop_reason(state['progress'])}) and deployed: {self.deployed_path}")
            return self.deployed_path
        self.read_data()
        self.build(state)
        self.log(self.summary())
        net = torch.nn.parallel.DistributedDataParallel(self.model) if self.world > 1 else self.model
        while not self.stop_reason(self.progress):
            start = time.perf_counter()
            record = self.train_epoch(net)
            self.validate_epoch(record)
            record["seconds_epoch"] = time.perf_counter() - start
            self.write_checkpoints(record)
        self.log(f"stopped: {self.stop_reason(self.progress)}")
        deployed = self.deploy_best()
        if self.world > 1:
            torch.distributed.barrier()
        return deployed

    def previous_state(self) -> dict | None:
        """The checkpoint to resume from; refused if it is of another kind or of settings that changed
        in a way resume cannot honour."""
        path = self.checkpoint_path
        if not path.exists():
            return None
        state = load_checkpoint(path)
        kind = state.get("kind", DEFAULT_KIND)
        if kind != self.network.kind:
            raise ConfigError(f"{self.out} holds a checkpoint of a {kind} model, this configuration trains "
                              f"{self.network.kind}; use a new output or --restart")
        now = self.config.to_dict()
        before = self._recorded_config(state, now)
        resumable = type(self.config).RESUMABLE
        changed = sorted(k for k, v in now.items() if k not in resumable and k in before and before[k] != v)
        if changed:
            detail = ", ".join(f"{k} ({before[k]!r} -> {getattr(self.config, k)!r})" for k in changed)
            raise ConfigError(f"{self.out} was trained with other settings: {detail}; only "
                              f"{', '.join(resumable)} may change on resume. Use --restart or a new output")
        return state

    def _recorded_config(self, state: dict, now: dict) -> dict:
        """The options the checkpoint ``state`` was trained with; an option it does not record (added to the
        package later) had its default there."""
        defaults = {k: v for k, v in defaults_of(type(self.config)).items() if k in now}
        return {**defaults, **state.get("train_config", {})}

    def stop_reason(self, progress: dict) -> str:
        """Why training stops before another epoch ("" if it goes on): epochs, early stopping, time budget."""
        config = self.config
        if progress["epoch"] >= config.epochs:
            return f"{config.epochs} epochs done"
        if progress["epoch"] - progress["best_epoch"] >= config.early_stopping_patience:
            return f"early stop: no better validation loss for {progress['epoch'] - progress['best_epoch']} epochs"
        if config.time_budget_minutes is not None and progress["seconds"] > 60 * config.time_budget_minutes:
            return f"time budget of {config.time_budget_minutes} min spent"
        return ""

    def deployed_matches(self, progress: dict) -> bool:
        """Whether ``model.pt`` is the deployment of the run that ``progress`` describes."""
        from ..models import read_metadata

        try:
            recorded = read_metadata(self.deployed_path).get("provenance", {})
        except ModelFileError:
            return False
        return recorded.get("epochs_run") == progress["epoch"] and recorded.get("best_epoch") == progress["best_epoch"]

    def build(self, state: dict | None) -> None:
        """The network (new, or from the checkpoint), optimiser, scheduler, then the kind's :meth:`start`."""
        config = self.config
        torch.manual_seed(config.seed)
        initial = self.initial_network() if state is None else None
        if initial is not None:
            model = initial.network(self.dtype)
            self.progress["initialised_from"] = initial.provenance()
            self.log(f"starting from the network of {initial.source} ({initial.path})")
        elif state is None:
            model = self.new_model()
        else:
            if state["config"] != self.model_config.to_dict():
                raise ConfigError(f"{self.checkpoint_path} was trained with another model configuration; use a new "
                                  "output directory or --restart")
            model = model_from_checkpoint(state).to(self.dtype)
        self.model = model.to(self.device)
        self.optimizer = make_optimizer(config.optimizer, model.parameters(), config.lr, config.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(self.optimizer, factor=config.lr_factor,
                                                                    patience=config.lr_patience, min_lr=config.min_lr)
        decay = getattr(config, "ema_decay", 0.0)
        if decay > 0:
            self.ema = ParameterAverage(self.model, decay)
        if state is not None:
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            if self.ema is not None:
                if "ema" not in state:  # a checkpoint written before the option existed
                    raise ConfigError(f"{self.checkpoint_path} was trained without ema_decay; use --restart or a new "
                                      "output to train with it")
                self.ema.load_state_dict(state["ema"])
            self.progress = self._resumed_progress(state)
            self.log(f"resuming {self.out} after epoch {self.progress['epoch']}")
        self.start()

    def _resumed_progress(self, state: dict) -> dict:
        progress = dict(state["progress"])
        progress.setdefault("steps", 0)
        if "history" not in progress:  # checkpoints of the first phonon trainer kept the history in the log only
            progress["history"] = _read_log(self.out / "log.jsonl")[: progress["epoch"]]
        now = self.config.to_dict()
        before = self._recorded_config(state, now)
        changed = {k: [before.get(k), now[k]] for k in type(self.config).RESUMABLE if k in before and before[k] != now[k]}
        progress["resumes"] = list(progress.get("resumes", [])) + [{"after_epoch": progress["epoch"], "changed": changed}]
        return progress

    def train_epoch(self, net) -> dict:
        """One pass over the training set (this rank's share of the batches)."""
        config, epoch = self.config, self.progress["epoch"] + 1
        order = self.epoch_order(epoch)
        batches = [order[i:i + config.batch_size] for i in range(0, len(order), config.batch_size)]
        if self.world > 1:
            batches = batches[: len(batches) - len(batches) % self.world] or batches[: self.world]
        self.model.train()
        total = torch.zeros(2, dtype=torch.float64)
        start = time.perf_counter()
        mine = batches[self.rank::self.world]
        cosine = getattr(config, "lr_schedule", "plateau") == "cosine"
        if cosine:
            self._set_lr(cosine_lr(config.lr, config.min_lr, config.epochs, epoch - 1))
        lr = self.optimizer.param_groups[0]["lr"]
        max_norm, norms = getattr(config, "max_grad_norm", None), []
        for done, b in enumerate(mine, start=1):
            if cosine:
                self._set_lr(cosine_lr(config.lr, config.min_lr, config.epochs, epoch - 1 + (done - 1) / len(mine)))
            loss, weight = self.batch_loss(net, [self.train_set[i] for i in b])
            value = float(loss.detach())
            self.stop_if_diverged(value, "the loss", epoch, f"step {done} of {len(mine)}")
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if max_norm is not None:  # the norm before clipping, recorded per epoch
                norms.append(float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), max_norm)))
                self.stop_if_diverged(norms[-1], "the gradient norm", epoch, f"step {done} of {len(mine)}")
            self.optimizer.step()
            if self.ema is not None:
                self.ema.update(self.model)
            total += torch.tensor([value * weight, weight], dtype=torch.float64)
            self.progress["steps"] += 1
            self.after_step(epoch - 1 + done / len(mine))
        elapsed = torch.tensor([time.perf_counter() - start], dtype=torch.float64)
        if self.world > 1:
            torch.distributed.all_reduce(total)
            torch.distributed.all_reduce(elapsed, op=torch.distributed.ReduceOp.MAX)
        self.progress["seconds"] += float(elapsed)
        record = {"epoch": epoch, "train_loss": float(total[0] / total[1]), "lr": lr}
        if norms:
            record.update(grad_norm_median=float(np.median(norms)), grad_norm_max=max(norms),
                          clipped_steps=sum(n > max_norm for n in norms))
        return record

    def _set_lr(self, lr: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def stop_if_diverged(self, value: float, what: str, epoch: int, where: str) -> None:
        """Raise :class:`TrainingDivergedError` on every rank when ``value`` is not finite on any rank (a rank
        raising alone would leave the others waiting in the next collective)."""
        finite = torch.tensor([float(np.isfinite(value))], dtype=torch.float64)
        if self.world > 1:
            torch.distributed.all_reduce(finite, op=torch.distributed.ReduceOp.MIN)
        if finite.item() == 1.0:
            return
        kept = (f"{self.checkpoint_path} keeps epoch {epoch - 1}: rerun with max_grad_norm set to go on from it, "
                f"or --restart with a lower lr" if epoch > 1 else
                "no checkpoint was written: --restart with a lower lr, or set max_grad_norm")
        raise TrainingDivergedError(f"training diverged in epoch {epoch}, {where}: {what} is {value}; {kept}")

    @contextmanager
    def _validated_weights(self):
        """The network holds the averaged weights inside (with ``ema_decay`` > 0), the raw ones again after."""
        if self.ema is None:
            yield
            return
        with self.ema.applied(self.model):
            yield

    def validate_epoch(self, record: dict) -> None:
        """The kind's validation (of the averaged weights with ``ema_decay``), then the scheduler and the
        best epoch so far."""
        with self._validated_weights():
            val_loss = self.validate(record)
        record["val_loss"] = val_loss
        self.stop_if_diverged(float(val_loss), "the validation loss", record["epoch"], "after its last step")
        if getattr(self.config, "lr_schedule", "plateau") == "plateau":
            self.scheduler.step(val_loss)
        progress = self.progress
        improved = val_loss < progress["best"]
        if improved:
            progress["best"], progress["best_epoch"] = val_loss, record["epoch"]
        progress["epoch"] = record["epoch"]
        record["improved"] = improved

    def write_checkpoints(self, record: dict) -> None:
        """The resumable checkpoint, the best network so far, and the log (rank 0)."""
        improved = record.pop("improved")
        if self.rank == 0:
            record["seconds"] = self.progress["seconds"]
            record = plain(record)
            self.progress["history"].append(record)
            if improved:
                with self._validated_weights():
                    save_checkpoint(self.best_path, self.model, epoch=record["epoch"], metrics=record)
            averaged = {} if self.ema is None else {"ema": self.ema.state_dict()}
            save_checkpoint(self.checkpoint_path, self.model, optimizer=self.optimizer.state_dict(),
                            scheduler=self.scheduler.state_dict(), progress=plain(self.progress),
                            train_config=plain(self.config.to_dict()), **averaged)
            write_log(self.out / "log.jsonl", self.progress["history"])
            self.log(self.describe(record))
        if self.world > 1:
            torch.distributed.barrier()

    def deploy_best(self) -> Path:
        """Deploy the best epoch with the run's provenance (rank 0)."""
        from ..models import deploy

        if self.rank != 0:
            return self.deployed_path
        if not self.best_path.exists():
            raise E3DensityError(f"{self.out}: no epoch was trained (epochs: {self.config.epochs})")
        best = load_checkpoint(self.best_path)
        self.model.load_state_dict(best["model"])
        self.model.eval()
        progress = self.progress
        provenance = {"command": self.command or self.default_command, "train_config": self.config.to_dict(),
                      "best_epoch": best["epoch"], "epochs_run": progress["epoch"],
                      "training_seconds": round(progress["seconds"], 1), "resumes": progress.get("resumes", []),
                      **self.provenance(best)}
        if "initialised_from" in progress:
            provenance["initialised_from"] = progress["initialised_from"]
        return deploy(self.model.cpu(), self.deployed_path, provenance=provenance, domain=self.training_domain())
