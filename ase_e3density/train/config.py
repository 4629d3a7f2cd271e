"""Training configuration, read from YAML."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import yaml


@dataclass
class TrainConfig:
    """Everything a training run needs; every field has a YAML key of the same name."""

    train: str                                   # ase.db of reference densities
    output: str = "runs/model"                   # run directory: checkpoint.pt, best.pt, log.jsonl, model.pt
    validation: str | None = None                # separate ase.db; else a fraction of `train`
    validation_fraction: float = 0.1
    max_structures: int | None = None            # cap on training structures (quick runs)
    seed: int = 0
    model: dict = field(default_factory=dict)    # ModelConfig fields; species default to the data's
    free_atom: str = "pyscf"                     # "pyscf" (spherical free atoms) or "mean" (data average)
    dipole_weight: float = 0.0                   # weight of |dipole error|^2 (per (e·Å)^2) in the loss
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
    validate_every: int = 1

    @classmethod
    def from_yaml(cls, path) -> "TrainConfig":
        raw = yaml.safe_load(Path(path).read_text()) or {}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"unknown training option(s) {unknown} in {path}; known: {sorted(known)}")
        base = Path(path).resolve().parent
        for key in ("train", "validation", "output"):  # paths are relative to the YAML file
            if raw.get(key) is not None and not Path(raw[key]).is_absolute():
                raw[key] = str((base / raw[key]).resolve())
        return cls(**raw)

    def to_dict(self) -> dict:
        return asdict(self)
