"""Real solid harmonics in e3nn's component order, as explicit polynomials.

Every density in this package uses one component order: e3nn's. For order ``l`` the
``2l+1`` components are e3nn's real spherical harmonics ``Y_l^m`` (m = -l..l) with the
y axis as polar axis. They equal the textbook real solid harmonics (z polar, the order
PySCF uses for l >= 2) evaluated at the cyclically permuted point ``(z, x, y)``. For
l = 1 this gives ``(x, y, z)``, which is also PySCF's p order.

Harmonics are normalised on the unit sphere: ``int Y_lm^2 dOmega = 1``.
The closed form of the real solid harmonics follows Helgaker, Jorgensen and Olsen,
*Molecular Electronic-Structure Theory*, eq. 6.4.47-6.4.50.
"""
from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from math import comb, factorial, pi, sqrt

import numpy as np

from ..errors import E3DensityError

__all__ = ["monomials", "solid_harmonic_matrix", "evaluate_solid_harmonics", "solid_harmonic_gradients",
           "pyscf_to_e3nn"]


@lru_cache(maxsize=None)
def monomials(l: int) -> np.ndarray:
    """Exponents ``(a, b, c)`` of the degree-``l`` monomials ``x^a y^b z^c``, shape (n, 3)."""
    return np.array([(a, b, l - a - b) for a in range(l, -1, -1) for b in range(l - a, -1, -1)], dtype=np.int64)


def _textbook_solid_harmonics(l: int) -> np.ndarray:
    """Racah-normalised real solid harmonics, z polar, m = -l..l, as monomial coefficients."""
    index = {tuple(e): i for i, e in enumerate(monomials(l))}
    out = np.zeros((2 * l + 1, len(index)))
    for m in range(-l, l + 1):
        am = abs(m)
        vm = Fraction(1, 2) if m < 0 else Fraction(0)
        norm = sqrt(2 * factorial(l + am) * factorial(l - am) / (2 if m == 0 else 1)) / (2**am * factorial(l))
        for t in range((l - am) // 2 + 1):
            for u in range(t + 1):
                v = vm
                while v <= Fraction(am, 2):
                    two_v = int(2 * v)
                    sign = -1 if int(t + v - vm) % 2 else 1
                    c = sign * Fraction(1, 4**t) * comb(l, t) * comb(l - t, am + t) * comb(t, u) * comb(am, two_v)
                    a = 2 * t + am - 2 * u - two_v
                    b = 2 * u + two_v
                    out[m + l, index[(a, b, l - 2 * t - am)]] += norm * float(c)
                    v += 1
    return out


@lru_cache(maxsize=None)
def solid_harmonic_matrix(l: int, order: str = "e3nn") -> np.ndarray:
    """Monomial coefficients of the unit-sphere-normalised real solid harmonics of order ``l``.

    Row ``m + l`` holds ``r^l Y_lm`` as a combination of :func:`monomials`. ``order`` is
    ``"e3nn"`` (this package's order) or ``"pyscf"`` (textbook, z polar, m = -l..l,
    except p shells, which PySCF orders as x, y, z).
    """
    textbook = _textbook_solid_harmonics(l) * sqrt((2 * l + 1) / (4 * pi))
    if order == "pyscf":
        # PySCF orders p shells as (x, y, z) = textbook rows (m=1, m=-1, m=0).
        return textbook[[2, 0, 1]] if l == 1 else textbook
    if order != "e3nn":
        raise E3DensityError(f"unknown component order {order!r}; use 'e3nn' or 'pyscf'")
    # e3nn's Y(x, y, z) is the textbook Y at (z, x, y): x^a y^b z^c there is z^a x^b y^c here.
    exps = monomials(l)
    index = {tuple(e): i for i, e in enumerate(exps)}
    permuted = np.zeros_like(textbook)
    for j, (a, b, c) in enumerate(exps):
        permuted[:, index[(b, c, a)]] = textbook[:, j]
    return permuted


def evaluate_solid_harmonics(vectors: np.ndarray, lmax: int) -> list[np.ndarray]:
    """``r^l Y_lm(r)`` for l = 0..lmax at vectors (n, 3); returns a list of (n, 2l+1) arrays."""
    x, y, z = vectors[:, 0], vectors[:, 1], vectors[:, 2]
    powers = [np.ones_like(x)]
    for _ in range(lmax):
        powers.append(powers[-1] * x)
    px, py, pz = powers, [np.ones_like(y)], [np.ones_like(z)]
    for _ in range(lmax):
        py.append(py[-1] * y)
        pz.append(pz[-1] * z)
    out = []
    for l in range(lmax + 1):
        exps = monomials(l)
        mono = np.stack([px[a] * py[b] * pz[c] for a, b, c in exps], axis=1)
        out.append(mono @ solid_harmonic_matrix(l).T)
    return out


def solid_harmonic_gradients(vectors: np.ndarray, lmax: int) -> list[np.ndarray]:
    """Gradients of ``r^l Y_lm(r)`` for l = 0..lmax at vectors (n, 3): list of (n, 2l+1, 3) arrays."""
    n = len(vectors)
    powers = [[np.ones(n)] for _ in range(3)]
    for k in range(3):
        for _ in range(lmax):
            powers[k].append(powers[k][-1] * vectors[:, k])
    out = [np.zeros((n, 1, 3))]
    for l in range(1, lmax + 1):
        exps = monomials(l)
        grad = np.zeros((n, len(exps), 3))
        for j, e in enumerate(exps):
            for k in range(3):
                if e[k]:
                    d = list(e)
                    d[k] -= 1
                    grad[:, j, k] = e[k] * powers[0][d[0]] * powers[1][d[1]] * powers[2][d[2]]
        out.append(np.einsum("mj,njk->nmk", solid_harmonic_matrix(l), grad))
    return out


@lru_cache(maxsize=None)
def pyscf_to_e3nn(l: int) -> np.ndarray:
    """Orthogonal matrix ``T`` with ``c_e3nn = T @ c_pyscf`` for one shell of order ``l``.

    This is the only place where PySCF's component order is converted. Both sets of
    functions span the same harmonic polynomials with the same normalisation, so ``T``
    is found exactly by least squares on random points and rounded to clean zeros.
    """
    rng = np.random.default_rng(l)
    pts = rng.normal(size=(4 * (l + 1) ** 2 + 8, 3))
    exps = monomials(l)
    mono = np.prod(pts[:, None, :] ** exps[None, :, :], axis=2)
    e3nn_vals = mono @ solid_harmonic_matrix(l, "e3nn").T
    pyscf_vals = mono @ solid_harmonic_matrix(l, "pyscf").T
    # e3nn_vals = pyscf_vals @ M  ->  density c_e3nn . e3nn = c_pyscf . pyscf  ->  c_e3nn = M^T^-1 c_pyscf = M c_pyscf
    m, *_ = np.linalg.lstsq(pyscf_vals, e3nn_vals, rcond=None)
    m[np.abs(m) < 1e-12] = 0.0
    return m.T

