"""The model kinds this package ships: their one declaration each."""
from __future__ import annotations

from .registry import ModelKind, register_kind

__all__ = ["ELECTRON_DENSITY", "PHONON_DOS"]

_PKG = "ase_e3density"

ELECTRON_DENSITY = register_kind(ModelKind(
    name="electron_density",
    title="electron density",
    aliases=("density", "electron"),
    shipped=("default", "organic"),
    roles={
        "network": f"{_PKG}.nn.density_model:DensityModel",
        "config": f"{_PKG}.nn.density_model:ModelConfig",
        "runtime": f"{_PKG}.models.density_runtime:DeployedDensityModel",
        "calculator": f"{_PKG}.calculator.density:E3DensityCalculator",
        "evaluator": f"{_PKG}.screen.density_kind:DensityEvaluator",
        "train_config": f"{_PKG}.train.config:TrainConfig",
        "trainer": f"{_PKG}.train.loop:train",
        "predict": f"{_PKG}.cli.predict_density:predict",
        "evaluate": f"{_PKG}.cli.evaluate_density:evaluate",
    },
))

PHONON_DOS = register_kind(ModelKind(
    name="phonon_dos",
    title="phonon density of states",
    aliases=("phonon", "phonons"),
    shipped=("phonon",),
    roles={
        "network": f"{_PKG}.nn.phonon_model:PhononDOSModel",
        "config": f"{_PKG}.nn.phonon_model:PhononModelConfig",
        "runtime": f"{_PKG}.models.phonon_runtime:DeployedPhononModel",
        "calculator": f"{_PKG}.calculator.phonon:PhononDOSCalculator",
        "evaluator": f"{_PKG}.screen.phonon_kind:PhononEvaluator",
        "train_config": f"{_PKG}.train.phonon.config:PhononTrainConfig",
        "trainer": f"{_PKG}.train.phonon.loop:train_phonon",
        "predict": f"{_PKG}.cli.predict_phonon:predict",
        "evaluate": f"{_PKG}.cli.evaluate_phonon:evaluate",
    },
))
