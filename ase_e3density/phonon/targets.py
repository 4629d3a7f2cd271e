"""A DOS on a model's frequency grid, thermal properties as linear maps, and errors between two DOS.

A model predicts the DOS per atom on a fixed uniform grid from 0 THz whose two end points are zero
(so the trapezoidal integral is the plain sum times the step). :func:`dos_on_grid` puts a reference
DOS on such a grid; :func:`heat_capacity_weights` gives Cv at given temperatures as a matrix acting
on a grid DOS (Cv is linear in the DOS), which a loss can use; :func:`compare_dos` gives the errors
a model card reports.
"""
from __future__ import annotations

import numpy as np

from ..errors import E3DensityError
from . import units
from .dos import PhononDOS, _mode_terms, _smear

__all__ = ["dos_on_grid", "heat_capacity_weights", "wasserstein", "compare_dos"]


def _check_grid(grid) -> np.ndarray:
    grid = np.asarray(grid, dtype=float)
    step = np.diff(grid)
    if grid.ndim != 1 or grid.size < 4 or abs(grid[0]) > 1e-12 or not np.allclose(step, step[0], rtol=1e-9):
        raise E3DensityError("a model's frequency grid is uniform from 0 THz with at least 4 points")
    return grid


def dos_on_grid(dos: PhononDOS, grid, sigma: float | None = None) -> np.ndarray:
    """``dos`` per atom on ``grid`` (THz, uniform from 0), zero at both ends, integrating to 3.

    From mesh modes: a Gaussian smearing of width ``sigma`` (default: the grid step) of the modes
    above zero (imaginary and Gamma acoustic modes left out, as in the thermal sums); modes above
    the grid's last interior point are put there. From a grid DOS: linear interpolation.
    """
    grid = _check_grid(grid)
    step = grid[1] - grid[0]
    interior = grid[1:-1]
    if dos.modes is not None:
        mf, mw = dos.modes
        keep = mf > 0
        freqs = np.minimum(mf[keep], interior[-1])
        weights = np.broadcast_to(mw[:, None], mf.shape)[keep]
        values = _smear(interior, freqs, weights, step if sigma is None else sigma)
    else:
        values = np.interp(interior, dos.frequencies, dos.dos, left=0.0, right=0.0)
    total = values.sum() * step
    if not total > 0:
        raise E3DensityError("the DOS has no weight on the model's frequency grid")
    return np.concatenate([[0.0], values * (3.0 / total), [0.0]])


def heat_capacity_weights(grid, temperatures) -> np.ndarray:
    """Matrix W (n_T, n_grid) with ``W @ g`` = Cv in J/(K mol-atoms) of a grid DOS ``g`` (trapezoidal)."""
    grid = _check_grid(grid)
    t = np.atleast_1d(np.asarray(temperatures, dtype=float))
    weights = np.zeros((t.size, grid.size))
    cv, _, _ = _mode_terms(grid[1:] * units.THZ_TO_EV, t)
    trapezoid = np.full(grid.size - 1, grid[1] - grid[0])
    trapezoid[-1] /= 2
    weights[:, 1:] = cv * trapezoid * units.EV_TO_KJ_MOL * 1000
    return weights


def wasserstein(grid, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Earth mover's distance (THz) between DOS normalised to 3 on ``grid``: the integral of the
    difference of their cumulative distributions (each scaled to 1). ``a``, ``b``: (..., n_grid)."""
    step = grid[1] - grid[0]
    cdf = np.cumsum((np.asarray(a) - np.asarray(b)) * step / 3.0, axis=-1)
    return np.abs(cdf).sum(axis=-1) * step


def compare_dos(grid, predicted: np.ndarray, reference: np.ndarray, temperatures=(100.0, 300.0),
                reference_cv: np.ndarray | None = None) -> dict:
    """Errors of predicted against reference DOS on ``grid`` (rows: structures).

    Returns means over structures: ``dos_mae`` (states/(THz atom)), ``r2`` (1 - residual/total sum of
    squares of each structure's DOS, then averaged), ``wasserstein`` (THz), and per temperature T
    ``cv_mae_T`` (J/(K mol-atoms)) against ``reference_cv`` (n, n_T; default: the reference grid DOS's
    own Cv), plus the per-structure arrays under ``per_structure``.
    """
    grid = _check_grid(grid)
    p, r = np.atleast_2d(predicted), np.atleast_2d(reference)
    t = np.atleast_1d(np.asarray(temperatures, dtype=float))
    w = heat_capacity_weights(grid, t)
    cv_p = p @ w.T
    cv_r = r @ w.T if reference_cv is None else np.atleast_2d(reference_cv)
    mae = np.abs(p - r).mean(axis=1)
    r2 = 1.0 - ((p - r) ** 2).sum(axis=1) / ((r - r.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    emd = wasserstein(grid, p, r)
    out = {"n": int(len(p)), "dos_mae": float(mae.mean()), "r2": float(r2.mean()), "wasserstein": float(emd.mean())}
    for k, temp in enumerate(t):
        out[f"cv_mae_{temp:g}"] = float(np.abs(cv_p[:, k] - cv_r[:, k]).mean())
    out["per_structure"] = {"dos_mae": mae.tolist(), "r2": r2.tolist(), "wasserstein": emd.tolist(),
                            "cv_predicted": cv_p.tolist(), "cv_reference": np.asarray(cv_r).tolist()}
    return out
