"""ase_e3density: e3nn models of electron densities on ASE Atoms.

Importing this package changes no global state (torch dtype, threads, warnings filters).
"""
from __future__ import annotations

from .basis import BasisSet, available_basis_sets, load_basis
from .density import AtomicDensity
from .errors import (E3DensityError, InvalidStructureError, ModelFileError, ModelVersionError,
                     UnsupportedElementError)
from .metrics import density_error

__version__ = "0.1.0"

__all__ = ["AtomicDensity", "E3DensityCalculator", "BasisSet", "load_basis", "available_basis_sets", "density_error",
           "E3DensityError", "UnsupportedElementError", "InvalidStructureError", "ModelFileError",
           "ModelVersionError", "__version__"]


def __getattr__(name: str):
    # The calculator needs torch; import it only when asked for.
    if name == "E3DensityCalculator":
        from .calculator import E3DensityCalculator

        return E3DensityCalculator
    raise AttributeError(f"module 'ase_e3density' has no attribute {name!r}")
