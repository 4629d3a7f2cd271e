"""ASE calculators over deployed model files: one class per model kind on a shared base.

``E3DensityCalculator()`` runs the shipped electron-density model; ``E3DensityCalculator(model=...)``
with a file of another kind returns that kind's calculator (``model="phonon"``: :class:`PhononDOSCalculator`).
"""
from .base import ModelCalculator
from .density import E3DensityCalculator
from .phonon import PhononDOSCalculator

__all__ = ["ModelCalculator", "E3DensityCalculator", "PhononDOSCalculator"]
