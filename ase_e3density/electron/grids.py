"""Integration grids: atom-centred Becke-partitioned quadrature and uniform box grids.

Molecular quadrature: Mura-Knowles radial grids (r = -R ln(1 - x^3), Gauss-Legendre in x),
product angular grids (Gauss-Legendre in cos(theta), uniform in phi), and the
Stratmann-Scuseria-Frisch partition of space into atomic cells, whose exact zeros let
each point see only its nearby atoms. Everything here is in Å.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.units import Bohr
from scipy.spatial import cKDTree

from ..errors import E3DensityError, ResourceError

__all__ = ["molecular_grid", "UniformGrid", "uniform_grid", "MAX_GRID_POINTS", "CUBE_SPACING", "ESP_CUBE_SPACING",
           "as_points", "as_length"]

MAX_GRID_POINTS = 5e7  # ~2 GiB of points and values: refused beyond, with an estimate

CUBE_SPACING = 0.1
"""Å: the default spacing of density grids and density cube files (``AtomicDensity.write_cube`` and
``e3density predict --cube``). The sum over a uniform grid misses or overweights the sharp core density at
the nuclei: for one water molecule (the shipped model, 8 random orientations and offsets) the grid's
electron count is off by 0.11 e on average (at most 0.28 e) of 10 at 0.1 Å, by 1.05 e (at most 3.3 e) at
0.2 Å; 0.1 Å costs 8 times the points."""

ESP_CUBE_SPACING = 0.2
"""Å: the default spacing of electrostatic-potential grids and cube files. The potential is exact at each
point (closed form) and is sampled, not summed, so the coarser grid loses nothing but resolution; each
point costs a sum over every atom (60-atom water cluster: 55 s at 0.2 Å, 8 times that at 0.1 Å)."""

# (radial points, polar points) per level; azimuthal points are twice the polar ones.
_LEVELS = {1: (40, 10), 2: (60, 14), 3: (80, 18), 4: (100, 24), 5: (140, 30)}
_SSF_A = 0.64


def _atomic_grid(z: int, n_rad: int, n_pol: int) -> tuple[np.ndarray, np.ndarray]:
    """Points (Å, about the nucleus) and weights (Å^3) of one atom's spherical grid."""
    scale = (7.0 if z in (3, 4, 11, 12, 19, 20, 37, 38, 55, 56) else 5.0) * Bohr
    x, wx = np.polynomial.legendre.leggauss(n_rad)
    x, wx = 0.5 * (x + 1), 0.5 * wx
    r = -scale * np.log1p(-(x**3))
    wr = wx * scale * 3 * x**2 / (1 - x**3) * r**2
    ct, wt = np.polynomial.legendre.leggauss(n_pol)
    n_az = 2 * n_pol
    phi = (np.arange(n_az) + 0.5) * 2 * np.pi / n_az
    st = np.sqrt(1 - ct**2)
    dirs = np.stack([np.outer(st, np.cos(phi)), np.outer(st, np.sin(phi)), np.outer(ct, np.ones(n_az))], -1).reshape(-1, 3)
    wang = np.repeat(wt, n_az) * (2 * np.pi / n_az)
    return (r[:, None, None] * dirs[None]).reshape(-1, 3), (wr[:, None] * wang[None]).ravel()


def _ssf_step(mu: np.ndarray) -> np.ndarray:
    z = np.clip(mu / _SSF_A, -1.0, 1.0)
    z2 = z * z  # Horner form of (35 z - 35 z^3 + 21 z^5 - 5 z^7) / 16: a tenth of the cost of the powers
    g = z * (35.0 + z2 * (-35.0 + z2 * (21.0 - 5.0 * z2))) / 16.0
    return 0.5 * (1 - g)


def _partition_weights(points: np.ndarray, owner: int, positions: np.ndarray, dist: np.ndarray,
                       tree: cKDTree, neighbours: int) -> np.ndarray:
    """SSF weight of ``owner``'s cell at points, from each point's ``neighbours`` nearest atoms.

    With all atoms this is the exact SSF partition. Atoms beyond the nearest few only matter
    far out in the vacuum, where cells are fuzzy and the density is negligible.
    """
    k = min(neighbours, len(positions))
    r, idx = tree.query(points, k=k)
    r, idx = r.reshape(len(points), k), idx.reshape(len(points), k)
    pair = dist[idx[:, :, None], idx[:, None, :]]  # (n, k, k)
    mu = (r[:, :, None] - r[:, None, :]) / np.where(pair > 0, pair, np.inf)
    s = _ssf_step(mu)
    s[:, np.arange(k), np.arange(k)] = 1.0
    cell = s.prod(axis=2)  # (n, k)
    own = np.where(idx == owner, cell, 0.0).sum(axis=1)
    total = cell.sum(axis=1)
    return np.divide(own, total, out=np.zeros_like(own), where=total > 0)


def molecular_grid(atoms: Atoms, level: int = 3, chunk: int = 20000, neighbours: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Quadrature points (Å, shape (n, 3)) and weights (Å^3) over all space around ``atoms``.

    ``level`` 1-5 trades cost for accuracy; level 3 integrates a molecular density to about
    1e-7 relative. Each point's partition uses its ``neighbours`` nearest atoms (exact for
    molecules of up to that many atoms). Periodic images are ignored: finite systems only.
    """
    if level not in _LEVELS:
        raise E3DensityError(f"grid level must be one of {sorted(_LEVELS)}, got {level}")
    n_rad, n_pol = _LEVELS[level]
    pos = atoms.get_positions()
    tree = cKDTree(pos)
    dist = np.linalg.norm(pos[:, None] - pos[None], axis=2)
    nearest = np.where(np.eye(len(pos), dtype=bool), np.inf, dist).min(axis=1) if len(pos) > 1 else np.array([np.inf])
    all_pts, all_w = [], []
    for a, z in enumerate(atoms.numbers):
        local, w = _atomic_grid(int(z), n_rad, n_pol)
        pts = local + pos[a]
        weight = np.ones(len(pts))
        # SSF: points well inside the atom's own cell keep weight 1 without any work.
        outer = np.linalg.norm(local, axis=1) > 0.5 * (1 - _SSF_A) * nearest[a]
        idx = np.flatnonzero(outer)
        for start in range(0, len(idx), chunk):
            sel = idx[start:start + chunk]
            weight[sel] = _partition_weights(pts[sel], a, pos, dist, tree, neighbours)
        keep = weight * w > 1e-15
        all_pts.append(pts[keep])
        all_w.append((weight * w)[keep])
    return np.concatenate(all_pts), np.concatenate(all_w)


@dataclass(frozen=True)
class UniformGrid:
    """A grid of ``shape`` points at ``origin + i*axes[0] + j*axes[1] + k*axes[2]`` (Å)."""

    origin: np.ndarray
    axes: np.ndarray
    shape: tuple[int, int, int]

    def points(self) -> np.ndarray:
        """All grid points, shape (nx, ny, nz, 3), in Å."""
        idx = np.stack(np.meshgrid(*[np.arange(n) for n in self.shape], indexing="ij"), -1)
        return self.origin + idx @ self.axes

    @property
    def voxel_volume(self) -> float:
        return float(abs(np.linalg.det(self.axes)))


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{type(value).__name__} {text[:30]}..."


def as_points(points, what: str = "points", one: bool = False) -> np.ndarray:
    """``points`` (Å) as a float array of shape (..., 3), e.g. (n, 3) or (3,) for one point (``one``: only
    that); refused in one line naming ``what`` when they are not numbers, not of that shape, or not finite."""
    shape = "(3,): one point x, y, z" if one else "(n, 3) (or (3,) for one point)"
    try:
        pts = np.asarray(points, dtype=float)
    except (TypeError, ValueError):
        pts = None
    if pts is None or points is None:
        raise E3DensityError(f"{what} must be numbers (Å) of shape {shape}, got {_shown(points)}")
    if (pts.shape != (3,)) if one else (pts.ndim == 0 or pts.shape[-1] != 3):
        raise E3DensityError(f"{what} must have shape {shape}, in Å; got shape {pts.shape}")
    if not np.isfinite(pts).all():
        bad = int((~np.isfinite(pts)).any(axis=-1).sum())
        raise E3DensityError(f"{what} must be finite: {bad} point(s) hold NaN or inf")
    return pts


def as_length(value, what: str, positive: bool = True) -> float:
    """A length in Å as a float, refused in one line when it is not a finite number > 0 (``positive``) or >= 0."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        x = None
    if isinstance(value, (bool, np.bool_)) or x is None or not np.isfinite(x) or x < 0 or (positive and x == 0):
        raise E3DensityError(f"{what} must be a {'positive' if positive else 'non-negative'} number of Å, "
                             f"got {_shown(value)}")
    return x


def uniform_grid(atoms: Atoms, spacing: float = CUBE_SPACING, padding: float = 4.0) -> UniformGrid:
    """A uniform grid: the unit cell when ``atoms`` is fully periodic, else a padded box.

    For a cell the points tile it exactly (periodic images are not repeated); for a box the
    atoms' bounding box is padded by ``padding`` Å on every side.
    """
    spacing = as_length(spacing, "grid spacing")
    padding = as_length(padding, "grid padding", positive=False)
    if atoms.pbc.all():
        cell = atoms.cell.array
        shape = tuple(max(1, int(np.ceil(np.linalg.norm(v) / spacing))) for v in cell)
        grid = UniformGrid(np.zeros(3), cell / np.array(shape)[:, None], shape)
    else:
        pos = atoms.get_positions()
        lo, hi = pos.min(axis=0) - padding, pos.max(axis=0) + padding
        shape = tuple(int(n) for n in np.ceil((hi - lo) / spacing).astype(int) + 1)
        grid = UniformGrid(lo, np.eye(3) * spacing, shape)
    n_points = float(np.prod([float(n) for n in grid.shape]))
    if n_points > MAX_GRID_POINTS:
        raise ResourceError(f"a grid of {grid.shape[0]}x{grid.shape[1]}x{grid.shape[2]} = {n_points:.3g} points at "
                            f"{spacing} Å would need about {n_points * 40 / 2**30:.3g} GiB; the limit is "
                            f"{MAX_GRID_POINTS:.0e} points: use a larger spacing")
    return grid
