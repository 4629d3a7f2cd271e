"""Electron densities in atom-centred Gaussian auxiliary basis sets: the physics, no torch.

Basis sets and their integrals, real solid harmonics in e3nn order, :class:`AtomicDensity`
(analytic multipoles, values at points, grids, cube files), quadrature grids, the eps_rho
metric, reference densities from PySCF and their ase.db storage.
"""
from .basis import BasisSet, ElementBasis, Shell, available_basis_sets, load_basis
from .density import AtomicDensity
from .metrics import density_error

__all__ = ["AtomicDensity", "BasisSet", "ElementBasis", "Shell", "available_basis_sets", "load_basis",
           "density_error"]
