"""The density error metric eps_rho = 100 * int |rho_a - rho_b| dr / N_e (percent)."""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from .density import AtomicDensity
from .grids import molecular_grid, uniform_grid
from ..errors import E3DensityError

__all__ = ["l1_error", "errors_by_l", "density_error", "quadrature"]


def l1_error(values_a: np.ndarray, values_b: np.ndarray, weights: np.ndarray, n_electrons: float) -> float:
    """``100 * sum w |a - b| / N_e``: eps_rho in percent from densities on a quadrature grid."""
    return float(100.0 * np.sum(weights * np.abs(values_a - values_b)) / n_electrons)


def errors_by_l(a_by_l: np.ndarray, b_by_l: np.ndarray, weights: np.ndarray, n_electrons: float) -> dict:
    """``{"eps": total, "eps_l": {l: eps_l}}`` from two densities split by l (rows may differ in count)."""
    n = max(len(a_by_l), len(b_by_l))
    a = np.pad(a_by_l, ((0, n - len(a_by_l)), (0, 0)))
    b = np.pad(b_by_l, ((0, n - len(b_by_l)), (0, 0)))
    return {"eps": l1_error(a.sum(0), b.sum(0), weights, n_electrons),
            "eps_l": {l: l1_error(a[l], b[l], weights, n_electrons) for l in range(n)}}


def quadrature(density: AtomicDensity, level: int = 3, spacing: float = 0.1):
    """Points (Å) and weights (Å^3) fit to integrate ``density``: Becke for finite systems,
    the uniform cell grid (``spacing`` Å) for fully periodic ones.

    Becke grids of up to 10^6 points are kept for the last 256 structures (as read-only
    arrays): validation and studies integrate the same structures again and again.
    """
    atoms = density.atoms
    key = (atoms.numbers.tobytes(), atoms.positions.tobytes(), atoms.cell.array.tobytes(), atoms.pbc.tobytes(),
           int(level), float(spacing))
    if key in _GRIDS:
        _GRIDS.move_to_end(key)
        return _GRIDS[key]
    points, weights = _quadrature(atoms, level, spacing)
    if not atoms.pbc.any() and len(points) <= 1_000_000:
        points.flags.writeable = weights.flags.writeable = False
        _GRIDS[key] = (points, weights)
        if len(_GRIDS) > 256:
            _GRIDS.popitem(last=False)
    return points, weights


_GRIDS: OrderedDict[tuple, tuple[np.ndarray, np.ndarray]] = OrderedDict()


def _quadrature(atoms, level: int, spacing: float) -> tuple[np.ndarray, np.ndarray]:
    if atoms.pbc.all():
        grid = uniform_grid(atoms, spacing)
        pts = grid.points().reshape(-1, 3)
        return pts, np.full(len(pts), grid.voxel_volume)
    if atoms.pbc.any():
        raise E3DensityError("density errors on partly periodic systems are not supported; use a full cell or none")
    return molecular_grid(atoms, level)


def density_error(predicted: AtomicDensity, reference: AtomicDensity, level: int = 3, grid=None) -> dict:
    """eps_rho of ``predicted`` against ``reference`` and its per-l parts.

    Returns ``{"eps": total, "eps_l": {l: eps_l}}`` in percent, normalised by the
    reference's electron count. ``eps_l`` compares only the order-``l`` components.
    ``grid`` is an optional ``(points, weights)`` pair in Å / Å^3 to reuse.
    """
    a, b = predicted.atoms, reference.atoms
    if len(a) != len(b) or (a.numbers != b.numbers).any() or not np.allclose(a.positions, b.positions, atol=1e-6):
        raise E3DensityError("densities to compare must belong to the same structure")
    points, weights = grid if grid is not None else quadrature(reference, level)
    return errors_by_l(predicted.evaluate_by_l(points), reference.evaluate_by_l(points), weights,
                       reference.n_electrons)
