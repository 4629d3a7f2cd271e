"""Atomic charges fitted to the electrostatic potential: the charges force-field users want.

Minimises ``sum_i (V_i - sum_A q_A / |r_i - R_A|)^2 + a sum_A' (sqrt(q_A'^2 + b^2) - b)`` (atomic units)
subject to ``sum_A q_A = Q`` exactly (a Lagrange multiplier). ``a = 0`` is the plain Merz-Kollman /
CHELPG fit; ``a > 0`` adds RESP's hyperbolic restraint (Bayly et al., 1993; their first stage uses
``a = 0.0005``, ``b = 0.1``) on the heavy atoms ``A'`` (all atoms with ``restrain_hydrogens``), solved by
fixed-point iteration of the linearised restraint.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ase.units import Bohr, Hartree

from ..errors import E3DensityError
from .surfaces import chelpg_points, mk_points

__all__ = ["ESPFit", "fit_charges", "esp_charges"]


@dataclass
class ESPFit:
    """Fitted charges (e), the sampling points (Å), the potential there (V) and the fit's RMSE (V)."""

    charges: np.ndarray
    points: np.ndarray
    potential: np.ndarray
    rmse: float


def fit_charges(positions, points, potential, total_charge: float = 0.0, restraint: float = 0.0,
                hyperbola: float = 0.1, restrained=None, max_iterations: int = 200) -> ESPFit:
    """Charges at ``positions`` (Å) reproducing ``potential`` (V) at ``points`` (Å), summing to ``total_charge``.

    ``restrained``: boolean mask of atoms the RESP restraint acts on (default: all).
    """
    pos = np.asarray(positions, dtype=float) / Bohr
    pts = np.asarray(points, dtype=float) / Bohr
    v = np.asarray(potential, dtype=float) / Hartree
    if len(pts) < len(pos) or len(v) != len(pts):
        raise E3DensityError(f"need at least as many potential values as atoms ({len(pos)}), "
                             f"got {len(v)} values at {len(pts)} points")
    a = 1.0 / np.linalg.norm(pts[:, None] - pos[None], axis=2)
    ata, atv = a.T @ a, a.T @ v
    n = len(pos)
    mask = np.ones(n, dtype=bool) if restrained is None else np.asarray(restrained, dtype=bool)
    q = np.zeros(n)
    for _ in range(max_iterations):
        penalty = np.where(mask, 0.5 * restraint / np.sqrt(q * q + hyperbola * hyperbola), 0.0)
        system = np.zeros((n + 1, n + 1))
        system[:n, :n] = ata + np.diag(penalty)
        system[:n, n] = system[n, :n] = 1.0
        new = np.linalg.solve(system, np.concatenate([atv, [total_charge]]))[:n]
        done = np.abs(new - q).max() < 1e-10
        q = new
        if restraint == 0.0 or done:
            break
    q += (total_charge - q.sum()) / n  # removes the last rounding: the sum is exact
    rmse = float(np.sqrt(np.mean((a @ q - v) ** 2))) * Hartree
    return ESPFit(q, np.asarray(points, dtype=float), np.asarray(potential, dtype=float), rmse)


def esp_charges(density, sampling: str = "mk", restraint: float = 0.0, hyperbola: float = 0.1,
                restrain_hydrogens: bool = False, **options) -> ESPFit:
    """ESP-fitted charges of an :class:`AtomicDensity`: ``sampling`` ``"mk"`` or ``"chelpg"``.

    ``options`` go to :func:`~ase_e3density.electron.surfaces.mk_points` (``scales``, ``density``) or
    :func:`~ase_e3density.electron.surfaces.chelpg_points` (``spacing``, ``max_distance``).
    """
    atoms = density.atoms
    if sampling == "mk":
        points = mk_points(atoms, **options)
    elif sampling == "chelpg":
        points = chelpg_points(atoms, **options)
    else:
        raise E3DensityError(f"unknown ESP sampling {sampling!r}; use 'mk' or 'chelpg'")
    restrained = np.ones(len(atoms), dtype=bool) if restrain_hydrogens else atoms.numbers > 1
    return fit_charges(atoms.positions, points, density.electrostatic_potential(points), density.total_charge,
                       restraint, hyperbola, restrained)
