"""ase_e3density: e3nn models of densities on ASE Atoms.

Importing this package changes no global state (torch dtype, threads, warnings filters).
The calculator and model loading need torch; they are imported only when asked for.
"""
from __future__ import annotations

from ._version import __version__
from .electron import AtomicDensity, BasisSet, available_basis_sets, density_error, load_basis
from .phonon import PhononDOS, ThermalProperties
from .errors import (ConfigError, DomainWarning, E3DensityError, InvalidStructureError, ModelFileError,
                     ModelVersionError, UnknownBasisError, UnsupportedElementError)

__all__ = ["AtomicDensity", "E3DensityCalculator", "PhononDOSCalculator", "example_path", "BasisSet", "load_basis", "available_basis_sets", "density_error",
           "load_model", "initial_guess", "E3DensityError", "UnsupportedElementError", "UnknownBasisError", "InvalidStructureError",
           "ModelFileError", "ModelVersionError", "ConfigError", "DomainWarning", "PhononDOS", "ThermalProperties", "__version__"]

_LAZY = {"E3DensityCalculator": ("calculator", "E3DensityCalculator"),
         "PhononDOSCalculator": ("calculator", "PhononDOSCalculator"), "example_path": ("examples", "example_path"), "load_model": ("models", "load_model"),
         "initial_guess": ("scf", "initial_guess")}


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        module, attribute = _LAZY[name]
        return getattr(import_module(f".{module}", __name__), attribute)
    raise AttributeError(f"module 'ase_e3density' has no attribute {name!r}")
