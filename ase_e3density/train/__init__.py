"""The trainer: ``e3density train CONFIG.yaml`` or ``python -m ase_e3density.train CONFIG.yaml``.

One skeleton (:mod:`.skeleton`) trains every model kind: electron densities here (:mod:`.loop`),
phonon DOS in :mod:`.phonon`; one validator (:mod:`.options`) checks every configuration.

Under ``torchrun --nproc_per_node N -m ase_e3density.train CONFIG.yaml`` it trains with
DistributedDataParallel (gloo on CPU).
"""
from .checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from .config import TrainConfig
from .loop import train

__all__ = ["TrainConfig", "train", "save_checkpoint", "load_checkpoint", "model_from_checkpoint"]
