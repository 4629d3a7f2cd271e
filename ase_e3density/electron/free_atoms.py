"""Spherical neutral free-atom densities ("pro-atoms"): the weights of a Hirshfeld partition.

Each element's density is radial Gaussians ``rho(r) = sum_i w_i exp(-a_i r^2)`` (``a_i`` in bohr^-2,
``w_i`` in e/bohr^3), independent of the basis of the density being partitioned. The shipped table
``pbe0-cc-pvdz`` (H-Ar; ``scripts/make_free_atom_table.py``) needs no PySCF; a model file's
``free_atom`` metadata or any spherical coefficients work as well (:meth:`ProAtoms.from_coefficients`).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from math import pi, sqrt

import numpy as np
from ase.data import atomic_numbers

from ..errors import E3DensityError, UnsupportedElementError
from .basis import BasisSet

__all__ = ["ProAtoms", "load_free_atoms", "spherical_gaussians", "DEFAULT_FREE_ATOMS"]

DEFAULT_FREE_ATOMS = "pbe0-cc-pvdz"


@dataclass(frozen=True)
class ProAtoms:
    """Radial free-atom densities by element: ``terms[symbol] = (exponents, weights)`` (bohr^-2, e/bohr^3)."""

    name: str
    terms: dict

    def check_supported(self, symbols) -> None:
        """Raise :class:`UnsupportedElementError` naming every element without a free-atom density."""
        missing = sorted(set(symbols) - set(self.terms), key=atomic_numbers.__getitem__)
        if missing:
            have = " ".join(sorted(self.terms, key=atomic_numbers.__getitem__))
            raise UnsupportedElementError(f"no free-atom density for {', '.join(missing)} in {self.name!r} "
                                          f"(has {have}); pass free-atom coefficients for them")

    def density(self, symbol: str, r2: np.ndarray) -> np.ndarray:
        """Free-atom density (e/bohr^3) at squared distances ``r2`` (bohr^2)."""
        exponents, weights = self.terms[symbol]
        out = np.zeros_like(np.asarray(r2, dtype=float))
        for a, w in zip(exponents, weights):
            out += w * np.exp(-a * r2)
        return out

    def electrons(self, symbol: str) -> float:
        """``int rho`` of the free atom (its electron count)."""
        exponents, weights = map(np.asarray, self.terms[symbol])
        return float(np.sum(weights * (pi / exponents) ** 1.5))

    def radius(self, symbol: str, threshold: float = 1e-14) -> float:
        """Distance (bohr) beyond which the free atom's density stays below ``threshold`` (e/bohr^3)."""
        exponents, weights = map(np.asarray, self.terms[symbol])
        # each term below threshold / n_terms: |w| exp(-a r^2) < t  <=>  r^2 > ln(|w| / t) / a
        share = threshold / len(exponents)
        r2 = np.log(np.maximum(np.abs(weights) / share, 1.0)) / exponents
        return float(np.sqrt(r2.max()))

    @classmethod
    def from_coefficients(cls, basis: BasisSet, coefficients: dict, name: str = "coefficients") -> "ProAtoms":
        """From per-element coefficients in ``basis`` (only s functions are used: the atoms are spherical)."""
        terms = {}
        for symbol, c in coefficients.items():
            c = np.asarray(c, dtype=float)
            if len(c) != basis[symbol].n_functions:
                raise E3DensityError(f"free atom {symbol}: expected {basis[symbol].n_functions} coefficients in "
                                     f"{basis.name}, got {len(c)}")
            terms[symbol] = spherical_gaussians(basis, symbol, c)
        return cls(name, terms)


def spherical_gaussians(basis: BasisSet, symbol: str, coefficients: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A spherical atom's density as ``sum_k w_k exp(-a_k r^2)``: (exponents a_k, weights w_k) from the
    s-function coefficients of one atom in ``basis`` (functions normalised in bohr)."""
    exponents, weights = [], []
    for shell, part in basis[symbol].shell_slices:
        if shell.l == 0:
            for a, w in zip(shell.exponents, shell.weights):
                exponents.append(a)
                weights.append(float(coefficients[part][0]) * w / sqrt(4 * pi))  # Y_00 = 1 / sqrt(4 pi)
    return np.array(exponents), np.array(weights)


@lru_cache(maxsize=None)
def load_free_atoms(name: str = DEFAULT_FREE_ATOMS) -> ProAtoms:
    """A shipped free-atom table by name (``pbe0-cc-pvdz``: H-Ar, PBE0/cc-pVDZ spherical neutral atoms)."""
    path = resources.files("ase_e3density") / "data" / "free_atoms" / f"{name.lower()}.json"
    if not path.is_file():
        raise E3DensityError(f"unknown free-atom table {name!r}; shipped: {DEFAULT_FREE_ATOMS}")
    doc = json.loads(path.read_text())
    return ProAtoms(doc["name"], {s: (np.array(e["exponents"]), np.array(e["weights"]))
                                  for s, e in doc["elements"].items()})
