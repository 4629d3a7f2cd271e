"""Exceptions raised by ase_e3density. All derive from :class:`E3DensityError` (a ValueError)."""
from __future__ import annotations


class E3DensityError(ValueError):
    """Base class of every error this package raises on bad input."""


class UnsupportedElementError(E3DensityError):
    """An element is not covered by the basis set or the model."""


class UnknownBasisError(E3DensityError):
    """No shipped auxiliary basis set has this name."""


class InvalidStructureError(E3DensityError):
    """The structure is empty, has non-finite positions, or atoms on top of each other."""


class ModelFileError(E3DensityError):
    """A file is missing, not a model of this package, or corrupt."""


class ModelVersionError(ModelFileError):
    """A model file was written by a newer, incompatible format version."""


class ConfigError(E3DensityError):
    """A training configuration has an unknown key, a wrong type or a value out of range."""
