"""Points around a molecule for ESP maps and ESP-fitted charges (Å throughout).

- :func:`vdw_radii`: Bondi's van der Waals radii (``ase.data.vdw_radii``), Alvarez's where Bondi has none.
- :func:`molecular_surface`: points on spheres of ``scale`` times each atom's radius that lie outside
  every other atom's scaled sphere (a vdW-scaled, Connolly-style surface without the re-entrant part).
- :func:`mk_points`: Merz-Kollman sampling, the surfaces at scales 1.4, 1.6, 1.8 and 2.0.
- :func:`chelpg_points`: CHELPG sampling, a cubic grid (0.3 Å) of points outside every vdW sphere and
  within 2.8 Å of some atom.
"""
from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.data import vdw_radii as bondi
from ase.data.vdw_alvarez import vdw_radii as alvarez
from scipy.spatial import cKDTree

from ..errors import E3DensityError

__all__ = ["vdw_radii", "sphere_points", "molecular_surface", "mk_points", "chelpg_points"]

MK_SCALES = (1.4, 1.6, 1.8, 2.0)


def vdw_radii(numbers) -> np.ndarray:
    """Van der Waals radii (Å): Bondi's, else Alvarez's."""
    out = np.array([bondi[z] if np.isfinite(bondi[z]) else alvarez[z] for z in np.asarray(numbers)], dtype=float)
    if not np.isfinite(out).all():
        raise E3DensityError("no van der Waals radius known for some element of this structure")
    return out


def sphere_points(n: int) -> np.ndarray:
    """``n`` nearly uniform unit vectors (golden-angle spiral), shape (n, 3)."""
    k = np.arange(n) + 0.5
    z = 1 - 2 * k / n
    phi = np.pi * (3 - np.sqrt(5)) * k
    s = np.sqrt(1 - z * z)
    return np.stack([s * np.cos(phi), s * np.sin(phi), z], axis=1)


def _outside(points: np.ndarray, centres: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Mask of points outside every sphere (centres, radii); k-d tree keeps it linear in size."""
    tree = cKDTree(centres)
    keep = np.ones(len(points), dtype=bool)
    for i, near in enumerate(tree.query_ball_point(points, radii.max())):
        if near:
            d = np.linalg.norm(centres[near] - points[i], axis=1)
            keep[i] = bool((d >= radii[near] * (1 - 1e-9)).all())
    return keep


def molecular_surface(atoms: Atoms, scale: float = 1.4, density: float = 1.0, radii=None) -> np.ndarray:
    """Points (Å) on the ``scale`` x vdW surface, about ``density`` points per Å^2, shape (n, 3)."""
    if scale <= 0 or density <= 0:
        raise E3DensityError(f"scale and point density must be positive, got {scale} and {density}")
    pos = atoms.get_positions()
    r = scale * (vdw_radii(atoms.numbers) if radii is None else np.asarray(radii, dtype=float))
    shells = [p + ri * sphere_points(max(8, int(round(4 * np.pi * ri * ri * density)))) for p, ri in zip(pos, r)]
    points = np.concatenate(shells)
    return points[_outside(points, pos, r)]


def mk_points(atoms: Atoms, scales=MK_SCALES, density: float = 1.0) -> np.ndarray:
    """Merz-Kollman sampling points (Å): surfaces at each scale of the vdW radii."""
    return np.concatenate([molecular_surface(atoms, s, density) for s in scales])


def chelpg_points(atoms: Atoms, spacing: float = 0.3, max_distance: float = 2.8) -> np.ndarray:
    """CHELPG sampling points (Å): a cubic grid outside the vdW spheres, within ``max_distance`` of an atom."""
    if spacing <= 0 or max_distance <= 0:
        raise E3DensityError(f"spacing and max_distance must be positive, got {spacing} and {max_distance}")
    pos = atoms.get_positions()
    lo, hi = pos.min(axis=0) - max_distance, pos.max(axis=0) + max_distance
    axes = [np.arange(a, b + spacing / 2, spacing) for a, b in zip(lo, hi)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    dist, _ = cKDTree(pos).query(grid)
    grid = grid[dist <= max_distance]
    return grid[_outside(grid, pos, vdw_radii(atoms.numbers))]
