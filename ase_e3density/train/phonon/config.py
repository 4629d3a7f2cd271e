"""Phonon-DOS training configuration, read from YAML and checked in full (its model options too) before
any data is read, by the one validator of :mod:`ase_e3density.train.options`."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import ClassVar

from ase.data import chemical_symbols

from ...errors import ConfigError
from ..options import check_fields, check_model_options, options_from_yaml

__all__ = ["PhononTrainConfig", "PHONON_KIND", "RESUMABLE"]

PHONON_KIND = "phonon_dos"
# settings that may change between a run and its resume
RESUMABLE = ("epochs", "time_budget_minutes", "early_stopping_patience", "output", "threads", "max_grad_norm")


@dataclass
class PhononTrainConfig:
    """Every option has a YAML key of the same name; paths are relative to the YAML file's folder."""

    data: str                                    # ase.db written by `e3density phonons`
    kind: str = PHONON_KIND
    output: str = "runs/phonon"
    selection: str | None = None                 # ase.db selection of the rows to use
    max_imaginary_fraction: float = 0.01         # rows with a larger share of imaginary modes are left out
    test_prototypes: list[str] = field(default_factory=list)  # `prototype` values held out whole (never trained on)
    test_elements: list[str] = field(default_factory=list)    # crystals with any of these elements held out whole
    max_train: int | None = None                 # train on the first N of the (seeded, shuffled) training crystals;
                                                 # validation, test and held-out sets unchanged (learning curves)
    validation_fraction: float = 0.1             # of the remaining rows: early stopping and model selection
    test_fraction: float = 0.1                   # of the remaining rows: reported only
    # the random validation/test draw skips a crystal that would leave one of its elements with no training
    # crystal, or an element's last elemental crystal (diamond, lonsdaleite) out of training; those train
    split_keeps_elements: bool = False
    seed: int = 0
    split_seed: int | None = None                # seed of the random validation/test draw (default: `seed`), so runs
                                                 # of other seeds can share one split (an ensemble's members)
    init_from: str | None = None                 # start from this trained network (shipped name, model file or checkpoint)
    model: dict = field(default_factory=dict)    # PhononModelConfig fields; species default to the data's
    loss: str = "wasserstein"                    # "wasserstein" (THz) or "mse" of the DOS per atom
    mse_weight: float = 0.0                      # weight of the mean squared DOS difference ((states/(THz atom))^-2) beside `loss`
    heat_capacity_weight: float = 0.0            # weight of ((Cv_pred - Cv_ref) / R)^2 at `heat_capacity_temperatures`
    heat_capacity_temperatures: list[float] = field(default_factory=lambda: [100.0, 300.0])
    # weight of the partial-DOS term: the same distance as `loss` between the network's element-projected DOS
    # and the rows' (phonopy's, per atom of the structure, element e integrating to 3 x_e), summed over
    # elements, mean over the rows that have one (train/phonon/partials.py); 0: the total DOS only
    partial_dos_weight: float = 0.0
    sigma: float | None = None                   # THz, smearing of the reference modes (default: the grid step)
    batch_size: int = 16
    optimizer: str = "adamw"                     # "adamw" (decoupled weight decay) or "adam"
    lr: float = 5e-3
    weight_decay: float = 0.05
    ema_decay: float = 0.0                       # > 0: validate and deploy an exponential moving average of the weights (per step)
    max_grad_norm: float | None = None           # clip the gradient's global norm to this before each step (null: off)
    lr_schedule: str = "plateau"                 # "plateau" (ReduceLROnPlateau, below) or "cosine" (lr to min_lr over `epochs`)
    lr_factor: float = 0.5
    lr_patience: int = 20
    min_lr: float = 1e-5
    epochs: int = 300
    early_stopping_patience: int = 80
    time_budget_minutes: float | None = None
    dtype: str = "float32"
    threads: int | None = None                   # torch threads (default: torch's)
    base_dir: str = field(default=".", metadata={"yaml": False})

    RESUMABLE: ClassVar[tuple[str, ...]] = RESUMABLE
    RANGES: ClassVar[dict] = {
        "max_imaginary_fraction": (0.0, 1.0, True), "validation_fraction": (0.0, 1.0, False),
        "test_fraction": (0.0, 1.0, True), "heat_capacity_weight": (0.0, None, True), "mse_weight": (0.0, None, True),
        "partial_dos_weight": (0.0, None, True),
        "heat_capacity_temperatures": (0.0, None, False), "sigma": (0.0, None, False), "batch_size": (1, None, True),
        "lr": (0.0, None, False), "weight_decay": (0.0, None, True), "ema_decay": (0.0, 0.9999, True), "max_grad_norm": (0.0, None, False), "lr_factor": (0.0, 1.0, False),
        "lr_patience": (0, None, True), "min_lr": (0.0, None, True), "epochs": (0, None, True),
        "early_stopping_patience": (1, None, True), "time_budget_minutes": (0.0, None, False),
        "threads": (1, None, True), "max_train": (1, None, True), "split_seed": (0, None, True)}
    CHOICES: ClassVar[dict] = {"kind": (PHONON_KIND,), "loss": ("wasserstein", "mse"), "dtype": ("float32", "float64"),
                               "optimizer": ("adam", "adamw"), "lr_schedule": ("plateau", "cosine")}
    NONEMPTY: ClassVar[tuple[str, ...]] = ("heat_capacity_temperatures",)
    MODEL_RANGES: ClassVar[dict] = {
        "cutoff": (0.0, None, False), "sh_lmax": (0, None, False), "n_layers": (2, None, True),
        "n_radial": (0, None, False), "radial_hidden": (0, None, False), "avg_neighbours": (0.0, None, False),
        "max_frequency": (0.0, None, False), "n_bins": (2, None, True), "mass_scale": (0.0, None, False)}

    def __post_init__(self):
        check_fields(self)
        unknown = [e for e in self.test_elements if e not in chemical_symbols[1:]]
        if unknown:
            raise ConfigError(f"option test_elements: unknown element(s) {', '.join(map(str, unknown))}")
        if self.validation_fraction + self.test_fraction >= 1:
            raise ConfigError("options validation_fraction + test_fraction must be < 1")
        from ...nn.phonon_model import PhononModelConfig

        check_model_options(PhononModelConfig, self.model, self.MODEL_RANGES, ["H"])

    @classmethod
    def from_yaml(cls, path) -> "PhononTrainConfig":
        options = options_from_yaml(cls, path, {"data": "an ase.db written by `e3density phonons`"})
        try:
            return cls(**options)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None

    def path(self, key: str) -> Path:
        return (Path(self.base_dir) / getattr(self, key)).resolve()

    def to_dict(self) -> dict:
        """The YAML options, paths as written (relative to the configuration file)."""
        return {k: v for k, v in asdict(self).items() if k != "base_dir"}

    def data_paths(self) -> list[Path]:
        """Every database the run reads."""
        return [self.path("data")]

