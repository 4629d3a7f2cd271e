"""Gaussian primitives ``r^l exp(-a r^2)``: their radial overlap and normalisation, written once.

With real spherical harmonics normalised on the unit sphere, the angular integral of a product
of two functions of the same (l, m) is 1, so every overlap and norm in this package reduces to
``int_0^inf r^(2l+2) exp(-(a+b) r^2) dr = Gamma(l + 3/2) / (2 (a+b)^(l+3/2))``.
"""
from __future__ import annotations

from math import gamma

import numpy as np

__all__ = ["radial_overlap", "primitive_norm"]


def radial_overlap(l: int, a, b) -> np.ndarray:
    """``int r^l e^(-a r^2) r^l e^(-b r^2) r^2 dr`` for exponents ``a``, ``b`` (broadcast)."""
    return gamma(l + 1.5) / (2.0 * (np.asarray(a, dtype=float) + np.asarray(b, dtype=float)) ** (l + 1.5))


def primitive_norm(l: int, a) -> np.ndarray:
    """Factor that gives ``r^l e^(-a r^2) Y_lm`` unit L2 norm."""
    return 1.0 / np.sqrt(radial_overlap(l, a, a))
