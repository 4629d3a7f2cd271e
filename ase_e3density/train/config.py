"""Training configuration, read from YAML and checked in full before any data is loaded."""
from __future__ import annotations

import typing
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import yaml

from ..errors import ConfigError

__all__ = ["TrainConfig", "RESUMABLE_CHANGES", "read_yaml_mapping", "known_options", "options_from_yaml", "check_options"]

# Settings that may change between a run and its resume; any other change is refused.
RESUMABLE_CHANGES = ("epochs", "time_budget_minutes", "early_stopping_patience", "validate_every", "output",
                     "share_workers")


@dataclass
class TrainConfig:
    """Everything a training run needs; every field has a YAML key of the same name.

    Paths are kept as written; relative ones are relative to ``base_dir`` (the YAML file's
    folder when read with :meth:`from_yaml`, else the working directory).
    """

    train: str | list                            # ase.db of reference densities, or a list of them
    output: str = "runs/model"                   # run directory: checkpoint.pt, best.pt, log.jsonl, model.pt
    validation: str | None = None                # separate ase.db; else a fraction of `train`
    validation_fraction: float = 0.1
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
    lr: float = 5e-3
    weight_decay: float = 0.0
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

    def __post_init__(self):
        check(self)

    @classmethod
    def from_yaml(cls, path) -> "TrainConfig":
        return cls(**options_from_yaml(cls, path, {"train": "an ase.db of reference densities"}))

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


def read_yaml_mapping(path: Path, what: str) -> dict:
    """The mapping of options in the YAML file ``path`` (a ``what``), or one :class:`ConfigError` line."""
    if not path.is_file():
        raise ConfigError(f"no such {what}: {path}")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" (line {where.line + 1})" if where is not None else ""
        raise ConfigError(f"{path}: not valid YAML{at}: {getattr(exc, 'problem', exc)}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of options, got {type(raw).__name__}")
    return raw


def options_from_yaml(cls, path, required: dict[str, str]) -> dict:
    """The options of the dataclass ``cls`` in the YAML file ``path``, with ``base_dir`` its folder."""
    path = Path(path)
    raw = read_yaml_mapping(path, "training configuration")
    if "base_dir" in raw:
        raise ConfigError(f"{path}: base_dir is not an option (paths are relative to the YAML file)")
    return {**known_options(cls, raw, str(path), required), "base_dir": str(path.resolve().parent)}


def known_options(cls, raw: dict, where: str, required: dict[str, str]) -> dict:
    """``raw`` after refusing options the dataclass ``cls`` lacks and missing ``required`` ones (name: what)."""
    known = {f.name for f in fields(cls) if f.metadata.get("yaml", True)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown training option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    for name, what in required.items():
        if name not in raw:
            raise ConfigError(f"{where}: the option '{name}' ({what}) is required")
    return raw


_RANGES = {"validation_fraction": (0.0, 1.0, False), "lr": (0.0, None, False), "weight_decay": (0.0, None, True),
           "lr_factor": (0.0, 1.0, False), "min_lr": (0.0, None, True), "dipole_weight": (0.0, None, True),
           "coulomb_weight": (0.0, None, True), "fragment_weight": (0.0, None, True),
           "fragment_dipole_weight": (0.0, None, True), "share_workers": (1, None, True),
           "batch_size": (1, None, True), "epochs": (0, None, True), "lr_patience": (0, None, True),
           "early_stopping_patience": (1, None, True), "validate_every": (1, None, True),
           "max_structures": (1, None, True), "time_budget_minutes": (0.0, None, False), "grid_level": (1, 5, True),
           "output_lmax": (0, 4, True), "feature_stats_every": (0, None, True), "feature_stats_probe": (1, None, True)}
_CHOICES = {"free_atom": ("pyscf", "mean"), "dtype": ("float32", "float64")}


def _type_ok(value, annotation) -> bool:
    args = typing.get_args(annotation) or (annotation,)
    if value is None:
        return type(None) in args
    for t in args:
        if t is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return True
        if t is int and isinstance(value, int) and not isinstance(value, bool):
            return True
        if t in (str, dict, list) and isinstance(value, t):
            return True
    return False


def check(config: TrainConfig) -> None:
    """Raise :class:`ConfigError` naming the first option with a wrong type or value."""
    check_options(config, _RANGES, _CHOICES)
    if isinstance(config.train, list) and not (config.train and all(isinstance(t, str) for t in config.train)):
        raise ConfigError(f"option train: expected a database path or a non-empty list of them, got {config.train!r}")
    _check_model(config.model)


def check_options(config, ranges: dict, choices: dict) -> None:
    """Types (from the dataclass's annotations), ``ranges`` {name: (low, high, low included)} and
    ``choices`` {name: allowed values} of every field of ``config``; one :class:`ConfigError` line."""
    hints = typing.get_type_hints(type(config))
    for f in fields(config):
        value = getattr(config, f.name)
        if not _type_ok(value, hints[f.name]):
            raise ConfigError(f"option {f.name}: expected {_describe(hints[f.name])}, got {value!r}")
        if f.name in ranges and value is not None:
            lo, hi, closed = ranges[f.name]
            low_bad = value < lo if closed else value <= lo
            if low_bad or (hi is not None and value > hi):
                bound = f">= {lo}" if closed else f"> {lo}"
                raise ConfigError(f"option {f.name}: must be {bound}" + (f" and <= {hi}" if hi is not None else "")
                                  + f", got {value!r}")
        if f.name in choices and value not in choices[f.name]:
            raise ConfigError(f"option {f.name}: must be one of {', '.join(choices[f.name])}, got {value!r}")


def _describe(annotation) -> str:
    args = [a for a in typing.get_args(annotation) or (annotation,) if a is not type(None)]
    names = {int: "an integer", float: "a number", str: "a string", dict: "a mapping", list: "a list"}
    text = " or ".join(names.get(a, str(a)) for a in args)
    return text + (" or null" if type(None) in (typing.get_args(annotation) or ()) else "")


def _check_model(model: dict) -> None:
    from dataclasses import fields as dc_fields

    from ..nn.density_model import ModelConfig

    known = {f.name for f in dc_fields(ModelConfig)}
    unknown = sorted(set(model) - known)
    if unknown:
        raise ConfigError(f"option model.{unknown[0]}: unknown; model options are {', '.join(sorted(known))}")
    numeric = {"cutoff": float, "sh_lmax": int, "n_layers": int, "n_radial": int, "radial_hidden": int,
               "avg_neighbours": float}
    for key, kind in numeric.items():
        if key in model and not _type_ok(model[key], kind):
            raise ConfigError(f"option model.{key}: expected {_describe(kind)}, got {model[key]!r}")
        if key in model and model[key] <= 0:
            raise ConfigError(f"option model.{key}: must be > 0, got {model[key]!r}")
    hidden = model.get("hidden", {0: 1})
    if not isinstance(hidden, dict) or not all(_type_ok(v, int) for v in hidden.values()):
        raise ConfigError(f"option model.hidden: expected a mapping of l to channels, e.g. {{0: 32, 1: 16}}, "
                          f"got {hidden!r}")
    if "species" in model and not (isinstance(model["species"], list) and all(isinstance(s, str) for s in model["species"])):
        raise ConfigError(f"option model.species: expected a list of element symbols, got {model['species']!r}")
