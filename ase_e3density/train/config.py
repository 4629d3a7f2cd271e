"""The electron-density training configuration, read from YAML and checked in full (its model options
too) before any data is read, by the one validator of :mod:`ase_e3density.train.options`."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import ClassVar

from ..errors import ConfigError, E3DensityError
from .options import check_fields, check_model_options, known_options, options_from_yaml, read_yaml_mapping

__all__ = ["TrainConfig", "RESUMABLE_CHANGES", "read_yaml_mapping", "known_options", "options_from_yaml"]

# Settings that may change between a run and its resume; any other change is refused.
RESUMABLE_CHANGES = ("epochs", "time_budget_minutes", "early_stopping_patience", "validate_every", "output",
                     "share_workers", "max_grad_norm")


@dataclass
class TrainConfig:
    """Everything a training run needs; every field has a YAML key of the same name.

    Paths are kept as written; relative ones are relative to ``base_dir`` (the YAML file's
    folder when read with :meth:`from_yaml`, else the working directory).
    """

    train: str | list                            # ase.db of reference densities, or a list of them
    kind: str = "electron_density"               # the model kind (the registry's name); optional in the YAML
    output: str = "runs/model"                   # run directory: checkpoint.pt, best.pt, log.jsonl, model.pt
    validation: str | None = None                # separate ase.db; else a fraction of `train`
    validation_fraction: float = 0.1
    selection: str | None = None                 # ase.db selection of the rows of each training database (e.g. "id<=1800")
    init_from: str | None = None                 # start from this trained network (shipped name, model file or checkpoint)
    max_structures: int | None = None            # cap on training structures (quick runs)
    seed: int = 0
    model: dict = field(default_factory=dict)    # ModelConfig fields; species default to the data's
    free_atom: str = "pyscf"                     # "pyscf" (spherical free atoms) or "mean" (data average)
    dipole_weight: float = 0.0                   # weight of |dipole error|^2 (per (e·Å)^2) in the loss
    coulomb_weight: float = 0.0                  # weight of 1/2 dc^T J dc (per Hartree): charge moved far
    fragment_weight: float = 0.0                 # weight of each molecule's Hirshfeld charge error^2 (per e^2)
    fragment_dipole_weight: float = 0.0          # weight of each molecule's Hirshfeld dipole error^2 (per (e·Å)^2)
    share_workers: int = 1                       # processes that compute the fragment shares before training
    batch_size: int = 8
    optimizer: str = "adam"                      # "adam" or "adamw" (decoupled weight decay)
    lr: float = 5e-3
    weight_decay: float = 0.0
    ema_decay: float = 0.0                       # > 0: validate and deploy an exponential moving average of the weights (per step)
    max_grad_norm: float | None = None           # clip the gradient's global norm to this before each step (null: off)
    lr_schedule: str = "plateau"                 # "plateau" (ReduceLROnPlateau, below) or "cosine" (lr to min_lr over `epochs`)
    lr_factor: float = 0.5                       # ReduceLROnPlateau on validation loss
    lr_patience: int = 5
    min_lr: float = 1e-5
    epochs: int = 100
    time_budget_minutes: float | None = None     # stop after this much training time (summed over resumes)
    early_stopping_patience: int = 25            # epochs without a better validation loss
    grid_level: int = 1                          # quadrature level of per-epoch eps_rho
    validate_every: int = 1                      # epochs between density metrics (eps, dipole) on validation
    device: str = "cpu"
    dtype: str = "float32"
    output_lmax: int | None = None               # learn outputs up to this l only (0: scalars, 1: l<=1); null: all
    feature_stats_every: int = 0                 # record hidden-feature norms every N steps (0: off)
    feature_stats_probe: int = 8                 # validation structures in the fixed probe batch
    base_dir: str = field(default=".", metadata={"yaml": False})

    RESUMABLE: ClassVar[tuple[str, ...]] = RESUMABLE_CHANGES
    RANGES: ClassVar[dict] = {
        "validation_fraction": (0.0, 1.0, False), "lr": (0.0, None, False), "weight_decay": (0.0, None, True), "ema_decay": (0.0, 0.9999, True), "max_grad_norm": (0.0, None, False),
        "lr_factor": (0.0, 1.0, False), "min_lr": (0.0, None, True), "dipole_weight": (0.0, None, True),
        "coulomb_weight": (0.0, None, True), "fragment_weight": (0.0, None, True),
        "fragment_dipole_weight": (0.0, None, True), "share_workers": (1, None, True), "batch_size": (1, None, True),
        "epochs": (0, None, True), "lr_patience": (0, None, True), "early_stopping_patience": (1, None, True),
        "validate_every": (1, None, True), "max_structures": (1, None, True), "time_budget_minutes": (0.0, None, False),
        "grid_level": (1, 5, True), "output_lmax": (0, 4, True), "feature_stats_every": (0, None, True),
        "feature_stats_probe": (1, None, True)}
    CHOICES: ClassVar[dict] = {"kind": ("electron_density",), "free_atom": ("pyscf", "mean"), "dtype": ("float32", "float64"),
                               "optimizer": ("adam", "adamw"), "lr_schedule": ("plateau", "cosine")}
    MODEL_RANGES: ClassVar[dict] = {"cutoff": (0.0, None, False), "sh_lmax": (0, None, False),
                                    "n_layers": (0, None, False), "n_radial": (0, None, False),
                                    "radial_hidden": (0, None, False), "avg_neighbours": (0.0, None, False)}

    def __post_init__(self):
        if isinstance(self.train, list) and not (self.train and all(isinstance(t, str) for t in self.train)):
            raise ConfigError(f"option train: expected a database path or a non-empty list of them, got {self.train!r}")
        check_fields(self)
        from ..nn.density_model import ModelConfig

        check_model_options(ModelConfig, self.model, self.MODEL_RANGES, ["H"])
        _check_basis(self.model)

    @classmethod
    def from_yaml(cls, path) -> "TrainConfig":
        options = options_from_yaml(cls, path, {"train": "an ase.db of reference densities"})
        try:
            return cls(**options)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None

    def train_paths(self) -> list[Path]:
        """The training databases, resolved against ``base_dir`` (one or several)."""
        names = [self.train] if isinstance(self.train, str) else self.train
        return [(Path(self.base_dir) / name).resolve() for name in names]

    def path(self, key: str) -> Path | None:
        """The path option ``key`` resolved against ``base_dir``."""
        value = getattr(self, key)
        return None if value is None else (Path(self.base_dir) / value).resolve()

    def to_dict(self) -> dict:
        """The YAML options, paths as written (relative to the configuration file)."""
        return {k: v for k, v in asdict(self).items() if k != "base_dir"}

    def data_paths(self) -> list[Path]:
        """Every database the run reads (training and validation)."""
        return self.train_paths() + ([self.path("validation")] if self.validation else [])


def _check_basis(model: dict) -> None:
    """The model's basis exists and covers the species it names (before any data is read)."""
    from ..electron.basis import load_basis
    from ..nn.density_model import ModelConfig

    try:
        basis = load_basis(model.get("basis", ModelConfig.__dataclass_fields__["basis"].default))
        for symbol in model.get("species", []):
            basis[symbol]
    except E3DensityError as exc:
        raise ConfigError(f"option model: {exc}") from None
