"""Exceptions raised by ase_e3density.

Every error on bad input or files is an :class:`E3DensityError` (a ``ValueError``) and also the
builtin that matches its cause, so ``except FileNotFoundError`` or ``except KeyError`` work too;
errors in setting up the calculator are ASE ``CalculatorSetupError`` as well.
"""
from __future__ import annotations

from ase.calculators.calculator import CalculatorSetupError

__all__ = ["E3DensityError", "UnsupportedElementError", "UnknownBasisError", "InvalidStructureError",
           "ModelFileError", "ModelNotFoundError", "ModelVersionError", "ConfigError", "InputFileError",
           "CalculatorParameterError", "ResourceError", "MissingDependencyError", "VanishingForcesError",
           "TrainingDivergedError",
           "DomainWarning", "ImaginaryModesWarning"]


class E3DensityError(ValueError):
    """Base class of every error this package raises on bad input."""


class UnsupportedElementError(E3DensityError, KeyError):
    """An element is not covered by the basis set or the model."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class UnknownBasisError(E3DensityError, KeyError):
    """No shipped auxiliary basis set has this name."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class InvalidStructureError(E3DensityError):
    """The structure is empty, has non-finite positions, impossible charges, or overlapping atoms."""


class ModelFileError(E3DensityError):
    """A file is not a model of this package, or is edited or corrupt."""


class ModelNotFoundError(ModelFileError, FileNotFoundError):
    """A model file or a shipped model does not exist."""


class ModelVersionError(ModelFileError):
    """A model file was written by an incompatible (newer or older) format version."""


class ConfigError(E3DensityError):
    """A training configuration has an unknown key, a wrong type or a value out of range."""


class InputFileError(E3DensityError, FileNotFoundError):
    """An input file (structures, a reference database) is missing or unreadable."""


class CalculatorParameterError(E3DensityError, CalculatorSetupError):
    """A calculator parameter (model, device, dtype, charge) is invalid."""


class ResourceError(E3DensityError):
    """A request would need far more memory or time than is reasonable (e.g. a 7 TiB grid)."""


class MissingDependencyError(E3DensityError, ImportError):
    """An optional package (phonopy, chgnet, sevenn, ...) is needed and not installed."""


class VanishingForcesError(E3DensityError):
    """Reference phonons: the force calculator gives (next to) no force on any displaced supercell, so its
    atoms feel no neighbour (e.g. a relaxed cell whose neighbours lie beyond the potential's cutoff)."""


class TrainingDivergedError(E3DensityError, FloatingPointError):
    """Training gave a loss, gradient norm or validation loss that is not a finite number (the weights blew
    up); the checkpoint of the last finished epoch is kept."""


class DomainWarning(UserWarning):
    """A structure lies outside what the model saw in training: its numbers are extrapolation."""


class ImaginaryModesWarning(UserWarning):
    """A phonon DOS has imaginary modes; they are left out of the thermal properties."""
