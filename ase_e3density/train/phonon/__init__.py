"""The phonon-DOS trainer: ``e3density train CONFIG.yaml`` with ``kind: phonon_dos`` in the configuration."""
from .config import PhononTrainConfig
from .loop import train_phonon

__all__ = ["PhononTrainConfig", "train_phonon"]
