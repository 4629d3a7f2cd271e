"""Phonon densities of states as physics, with numpy and ASE (phonopy optional): no torch.

:class:`PhononDOS` (frequencies in THz, DOS per atom normalised to 3 modes per atom, harmonic
thermal properties with phonopy's formulas and units), readers of phonopy objects and files
(:mod:`.phonopy_io`), and reference phonons from any ASE calculator (:mod:`.reference`).
"""
from .dos import PhononDOS, ThermalProperties

__all__ = ["PhononDOS", "ThermalProperties"]
