"""Electrostatic potential and field of an :class:`AtomicDensity`, in closed form.

A basis primitive ``exp(-a r^2) S_lm(r)`` (``S_lm = r^l Y_lm``, the real solid harmonics) has the
Coulomb potential ``(2 pi / a) F_l(a R^2) S_lm(R)`` at ``R`` from its centre, with ``F_n`` the Boys
function ``F_n(T) = int_0^1 u^(2n) exp(-T u^2) du = gamma(n + 1/2, T) / (2 T^(n + 1/2))``
(lower incomplete gamma). This follows from the multipole expansion of ``1/|R - r|`` and the
recurrence ``(2n+1) F_n = 2T F_(n+1) + exp(-T)``. For large ``T`` the potential tends to that of
a point ``2^l``-pole, ``(4 pi / (2l+1)) M S_lm(R) / R^(2l+1)`` with ``M = Gamma(l+3/2) / (2 a^(l+3/2))``;
the relative difference is ``Q(l + 1/2, T)`` (regularised upper incomplete gamma). Shells are
therefore evaluated exactly only within the radius where ``Q(l + 3/2, a R^2)`` exceeds ``tolerance``
(which also bounds the field's relative error) and as point multipoles beyond it, summed per atom.
Every atom still reaches every point (the potential is long-ranged), so the cost grows as
atoms x points, with the expensive special functions only near each atom.

Units: points in Å, potential in V (nuclei included), field in V/Å.
"""
from __future__ import annotations

from functools import lru_cache
from math import gamma, pi

import numpy as np
from ase.units import Bohr, Hartree
from scipy.special import gammainc, gammainccinv

from ..errors import E3DensityError
from .grids import as_points
from .harmonics import evaluate_solid_harmonics, solid_harmonic_gradients

__all__ = ["boys", "electrostatic_potential", "electric_field", "potential_and_field", "TOLERANCE"]

TOLERANCE = 1e-12  # relative error of each shell's far-field (point-multipole) treatment
_CHUNK = 20000  # points per block


def boys(n: int, t: np.ndarray) -> np.ndarray:
    """The Boys function ``F_n(T)`` for an array ``T >= 0``: a series below 1, incomplete gamma above."""
    t = np.asarray(t, dtype=float)
    out = np.empty_like(t)
    small = t < 1.0
    ts = t[small]
    terms = 30  # sum_k (-T)^k / (k! (2n + 2k + 1)) in Horner form; the first omitted term is < 1/30!
    series = np.full_like(ts, 1.0 / (2 * n + 2 * terms + 1))
    for k in range(terms - 1, -1, -1):
        series = 1.0 / (2 * n + 2 * k + 1) - ts * series / (k + 1)
    out[small] = series
    tl = t[~small]
    out[~small] = gamma(n + 0.5) * gammainc(n + 0.5, tl) / (2.0 * tl ** (n + 0.5))
    return out


@lru_cache(maxsize=None)
def _far_t(l: int, tolerance: float) -> float:
    """``T`` beyond which ``exp(-a r^2) S_lm`` acts as a point multipole within ``tolerance`` (potential and field)."""
    return float(gammainccinv(l + 1.5, tolerance))


def _shell_data(shell, tolerance: float) -> tuple[float, float]:
    """(squared far-field radius in bohr^2, multipole weight ``sum_i w_i Gamma(l+3/2) / (2 a_i^(l+3/2))``)."""
    a = np.asarray(shell.exponents)
    w = np.asarray(shell.weights)
    return float(_far_t(shell.l, tolerance) / a.min()), float(w @ (gamma(shell.l + 1.5) / (2 * a ** (shell.l + 1.5))))


def _atom_terms(density, tolerance: float) -> list[dict]:
    """Per atom: centre (bohr), nuclear charge, and per l the shells' radii^2, moments and coefficients."""
    symbols = density.atoms.get_chemical_symbols()
    centres = density.atoms.get_positions() / Bohr
    terms = []
    for a, s in enumerate(symbols):
        eb, c = density.basis[s], density.atom_coefficients(a)
        by_l: dict[int, list] = {}
        for shell, part in eb.shell_slices:
            r2, weight = _shell_data(shell, tolerance)
            by_l.setdefault(shell.l, []).append((r2, weight * c[part], shell, c[part]))
        per_l = {}
        for l, items in by_l.items():
            items.sort(key=lambda x: x[0])
            cum = np.zeros((len(items) + 1, 2 * l + 1))
            cum[1:] = np.cumsum([m for _, m, _, _ in items], axis=0)
            per_l[l] = (np.array([r2 for r2, *_ in items]), cum, [(r2, sh, cc) for r2, _, sh, cc in items])
        terms.append({"centre": centres[a], "z": float(density.nuclear_charges[a]), "lmax": eb.lmax, "per_l": per_l})
    return terms


def _add_atom(term: dict, pts: np.ndarray, pot: np.ndarray, grad: np.ndarray | None) -> None:
    """Add one atom's nucleus and electrons to the potential (and its gradient) at ``pts`` (bohr, a.u.)."""
    d = pts - term["centre"]
    r2 = np.einsum("ij,ij->i", d, d)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_r = 1.0 / np.sqrt(r2)
    pot += term["z"] * inv_r
    if grad is not None:
        grad -= (term["z"] * inv_r**3)[:, None] * d
    lmax = term["lmax"]
    harm = evaluate_solid_harmonics(d, lmax)
    hgrad = solid_harmonic_gradients(d, lmax) if grad is not None else None
    for l, (radii2, cum, shells) in term["per_l"].items():
        # far part: every shell whose radius this point lies beyond, as one point 2^l-pole
        moments = cum[np.searchsorted(radii2, r2, side="right")]
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = inv_r ** (2 * l + 1)
            proj = np.einsum("nm,nm->n", moments, harm[l])
            scale = 4 * pi / (2 * l + 1)
            pot -= np.nan_to_num(scale * proj * inv, nan=0.0, posinf=0.0, neginf=0.0)
            if grad is not None:
                g = np.einsum("nm,nmk->nk", moments, hgrad[l]) * inv[:, None] \
                    - ((2 * l + 1) * proj * inv * inv_r**2)[:, None] * d
                grad -= np.nan_to_num(scale * g, nan=0.0, posinf=0.0, neginf=0.0)
        # near part: exact Boys-function potential of each shell within its radius
        for radius2, shell, c in shells:
            near = np.flatnonzero(r2 < radius2)
            if len(near) == 0:
                continue
            sc = harm[l][near] @ c
            gs = np.einsum("nmk,m->nk", hgrad[l][near], c) if grad is not None else None
            for a, w in zip(shell.exponents, shell.weights):
                t = a * r2[near]
                f = boys(l, t)
                pot[near] -= (2 * pi / a) * w * f * sc
                if grad is not None:
                    grad[near] -= (2 * pi / a) * w * (f[:, None] * gs - (2 * a * boys(l + 1, t) * sc)[:, None] * d[near])


def potential_and_field(density, points, tolerance: float = TOLERANCE,
                        field: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """Potential (V) and, if ``field``, electric field (V/Å) of nuclei plus electrons at points (Å).

    At a nucleus the potential is infinite. Periodic densities are refused (they need Ewald sums).
    """
    if density.atoms.pbc.any():
        raise E3DensityError("the electrostatic potential of periodic densities is not implemented (needs Ewald sums)")
    if not 0 < tolerance < 1:
        raise E3DensityError(f"tolerance must lie in (0, 1), got {tolerance}")
    pts = as_points(points)
    shape = pts.shape[:-1]
    pts = pts.reshape(-1, 3) / Bohr
    pot = np.zeros(len(pts))
    grad = np.zeros((len(pts), 3)) if field else None
    terms = _atom_terms(density, tolerance)
    for start in range(0, len(pts), _CHUNK):
        block = slice(start, start + _CHUNK)
        p = pot[block]
        g = grad[block] if grad is not None else None
        for term in terms:
            _add_atom(term, pts[block], p, g)
    potential = (pot * Hartree).reshape(shape)
    if grad is None:
        return potential, None
    return potential, (-grad * Hartree / Bohr).reshape(*shape, 3)


def electrostatic_potential(density, points, tolerance: float = TOLERANCE) -> np.ndarray:
    """Electrostatic potential (V) of nuclei plus electrons at points (Å), shape (..., 3) -> (...)."""
    return potential_and_field(density, points, tolerance, field=False)[0]


def electric_field(density, points, tolerance: float = TOLERANCE) -> np.ndarray:
    """Electric field ``-grad V`` (V/Å) of nuclei plus electrons at points (Å), shape (..., 3)."""
    return potential_and_field(density, points, tolerance, field=True)[1]
