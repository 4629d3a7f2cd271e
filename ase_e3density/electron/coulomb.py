"""The two-centre Coulomb matrix ``J_PQ = (phi_P | 1/r12 | phi_Q)`` of an auxiliary basis, in closed form.

A primitive ``S_lm(r - A) exp(-a |r - A|^2)`` (``S_lm = r^l Y_lm``, the real solid harmonics) equals
``(2a)^-l S_lm(grad_A) exp(-a |r - A|^2)`` (Hobson's theorem), so every integral is a derivative of
the s-s integral ``G(R^2) = 2 pi^(5/2) / (a b sqrt(a + b)) F_0(rho R^2)``, ``R = A - B``,
``rho = ab / (a + b)``, ``F_n`` the Boys function:

``(lm a A | l'm' b B) = (2a)^-l (2b)^-l' (-1)^l' [P(grad) G](R)`` with ``P = S_lm S_l'm'`` of degree
``n = l + l'``, and Hobson's theorem for any homogeneous polynomial gives
``P(grad) G(R^2) = sum_k 2^(n-2k) / k! [(lap^k) P](R) G^(n-k)(R^2)``, where
``G^(j)(u) = 2 pi^(5/2) / (a b sqrt(a + b)) (-rho)^j F_j(rho u)``.

The metric ``1/2 dc^T J dc`` is the Hartree (Coulomb self-) energy of a density difference, the
norm the reference fit minimises (:mod:`ase_e3density.electron.reference`). Everything here is in
atomic units (bohr, Hartree); coefficients in e3nn order, atom by atom, as :class:`AtomicDensity`.
"""
from __future__ import annotations

from functools import lru_cache
from math import factorial, pi

import numpy as np
from ase import Atoms
from ase.units import Bohr

from .basis import BasisSet
from .electrostatics import boys
from .harmonics import monomials, solid_harmonic_matrix

__all__ = ["coulomb_matrix", "hartree_metric"]

_Poly = dict  # {(px, py, pz): coefficient}


def _harmonic_polynomials(l: int) -> list[_Poly]:
    """``S_lm`` (e3nn order) as monomial dictionaries."""
    exps = [tuple(int(v) for v in e) for e in monomials(l)]
    return [{e: c for e, c in zip(exps, row) if c != 0.0} for row in solid_harmonic_matrix(l)]


def _multiply(p: _Poly, q: _Poly) -> _Poly:
    out: _Poly = {}
    for ep, cp in p.items():
        for eq, cq in q.items():
            e = (ep[0] + eq[0], ep[1] + eq[1], ep[2] + eq[2])
            out[e] = out.get(e, 0.0) + cp * cq
    return out


def _laplacian(p: _Poly) -> _Poly:
    out: _Poly = {}
    for e, c in p.items():
        for axis in range(3):
            if e[axis] >= 2:
                f = list(e)
                f[axis] -= 2
                out[tuple(f)] = out.get(tuple(f), 0.0) + c * e[axis] * (e[axis] - 1)
    return out


@lru_cache(maxsize=None)
def _pair_tables(l1: int, l2: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """For k = 0..(l1+l2)//2: (monomial exponents of degree n-2k, coefficients (2l1+1, 2l2+1, n_mono))
    of ``2^(n-2k)/k! lap^k (S_l1m S_l2m')``."""
    n = l1 + l2
    h1, h2 = _harmonic_polynomials(l1), _harmonic_polynomials(l2)
    tables = []
    for k in range(n // 2 + 1):
        exps = monomials(n - 2 * k)
        index = {tuple(int(v) for v in e): i for i, e in enumerate(exps)}
        coef = np.zeros((2 * l1 + 1, 2 * l2 + 1, len(exps)))
        for i, p in enumerate(h1):
            for j, q in enumerate(h2):
                poly = _multiply(p, q)
                for _ in range(k):
                    poly = _laplacian(poly)
                for e, c in poly.items():
                    coef[i, j, index[e]] += c
        tables.append((exps, coef * 2.0 ** (n - 2 * k) / factorial(k)))
    return tables


def _primitives(atoms: Atoms, basis: BasisSet) -> list[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Per l: (l, first coefficient index of each shell, exponent, weight, centre in bohr) of every primitive."""
    offsets = basis.offsets(atoms.get_chemical_symbols())
    centres = atoms.get_positions() / Bohr
    rows: dict[int, list] = {}
    for atom, symbol in enumerate(atoms.get_chemical_symbols()):
        for shell, part in basis[symbol].shell_slices:
            for a, w in zip(shell.exponents, shell.weights):
                rows.setdefault(shell.l, []).append((offsets[atom] + part.start, a, w, *centres[atom]))
    out = []
    for l, items in sorted(rows.items()):
        arr = np.array(items, dtype=float)
        out.append((l, arr[:, 0].astype(np.int64), arr[:, 1], arr[:, 2], arr[:, 3:6]))
    return out


def _block(l1: int, l2: int, a: np.ndarray, b: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Coulomb integrals of primitive pairs (unit weights): exponents a, b (n,), R = A - B (n, 3) in bohr;
    returns (n, 2l1+1, 2l2+1)."""
    n = l1 + l2
    rho = a * b / (a + b)
    t = rho * np.einsum("ij,ij->i", r, r)
    pref = 2 * pi**2.5 / (a * b * np.sqrt(a + b)) * (2 * a) ** -l1 * (2 * b) ** -l2 * (-1) ** l2
    out = np.zeros((len(a), 2 * l1 + 1, 2 * l2 + 1))
    for k, (exps, coef) in enumerate(_pair_tables(l1, l2)):
        j = n - k
        radial = pref * (-rho) ** j * boys(j, t)
        mono = np.prod(r[:, None, :] ** exps[None], axis=2)  # (n, n_mono)
        out += radial[:, None, None] * np.einsum("pq,ijq->pij", mono, coef)
    return out


def coulomb_matrix(atoms: Atoms, basis: BasisSet, chunk: int = 200000) -> np.ndarray:
    """``J_PQ = (phi_P | phi_Q)`` over all functions of ``atoms`` in ``basis`` (atomic units: with
    coefficients in a.u., ``dc^T J dc`` is in Hartree), shape (n, n), symmetric positive definite,
    in :class:`AtomicDensity`'s coefficient order.

    Periodic images are ignored: finite systems only. Cost: one vectorised pass per (l, l') over all
    primitive pairs; a 4-water cluster in def2-universal-jfit-decontracted (408 functions) takes ~0.1 s.
    """
    n_functions = int(basis.offsets(atoms.get_chemical_symbols())[-1])
    out = np.zeros((n_functions, n_functions))
    groups = _primitives(atoms, basis)
    for l1, start1, a1, w1, c1 in groups:
        for l2, start2, a2, w2, c2 in groups:
            if l2 < l1:
                continue
            i, j = np.meshgrid(np.arange(len(a1)), np.arange(len(a2)), indexing="ij")
            i, j = i.ravel(), j.ravel()
            for s in range(0, len(i), chunk):
                ii, jj = i[s:s + chunk], j[s:s + chunk]
                block = _block(l1, l2, a1[ii], a2[jj], c1[ii] - c2[jj]) * (w1[ii] * w2[jj])[:, None, None]
                rows = start1[ii][:, None] + np.arange(2 * l1 + 1)[None]
                cols = start2[jj][:, None] + np.arange(2 * l2 + 1)[None]
                np.add.at(out, (rows[:, :, None], cols[:, None, :]), block)
    ls = np.concatenate([basis[s].function_l for s in atoms.get_chemical_symbols()])
    lower = ls[:, None] > ls[None, :]  # (P, Q) with l_P > l_Q was not computed: it is (Q, P)
    out[lower] = out.T[lower]
    return out


def hartree_metric(difference: np.ndarray, matrix: np.ndarray) -> float:
    """``1/2 dc^T J dc`` (Hartree): the Coulomb self-energy of a density difference."""
    d = np.asarray(difference, dtype=float)
    return float(0.5 * d @ matrix @ d)
