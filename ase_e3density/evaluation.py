"""Accuracy of predicted densities against references: per structure and summarised."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .density import AtomicDensity
from .metrics import l1_error, quadrature

__all__ = ["ReferenceOnGrid", "compare", "summarise"]


@dataclass
class ReferenceOnGrid:
    """A reference density with its quadrature grid and values per l, computed once."""

    density: AtomicDensity
    points: np.ndarray
    weights: np.ndarray
    values_by_l: np.ndarray

    @classmethod
    def build(cls, density: AtomicDensity, level: int = 2) -> "ReferenceOnGrid":
        points, weights = quadrature(density, level)
        return cls(density, points, weights, density.evaluate_by_l(points))


def compare(predicted: AtomicDensity, reference: ReferenceOnGrid) -> dict:
    """eps_rho and eps_l (%), dipole errors (e·Å, against the fit and the DFT density), charge MAE (e)."""
    ref = reference.density
    pred_l = predicted.evaluate_by_l(reference.points)
    n = max(len(pred_l), len(reference.values_by_l))
    pred_l = np.pad(pred_l, ((0, n - len(pred_l)), (0, 0)))
    ref_l = np.pad(reference.values_by_l, ((0, n - len(reference.values_by_l)), (0, 0)))
    ne, w = ref.n_electrons, reference.weights
    out = {"n_atoms": len(ref.atoms), "eps": l1_error(pred_l.sum(0), ref_l.sum(0), w, ne),
           **{f"eps_l{l}": l1_error(pred_l[l], ref_l[l], w, ne) for l in range(n)},
           "dipole_error": float(np.linalg.norm(predicted.dipole - ref.dipole)),
           "charge_mae": float(np.abs(predicted.charges - ref.charges).mean())}
    dft = ref.info.get("dft_dipole")
    if dft is not None:
        out["dipole_error_dft"] = float(np.linalg.norm(predicted.dipole - np.asarray(dft)))
        out["dipole_dft_norm"] = float(np.linalg.norm(dft))
    return out


def summarise(rows: list[dict]) -> dict:
    """Means over structures, plus the dipole error relative to |mu_DFT| in percent."""
    keys = sorted({k for r in rows for k in r if k != "n_atoms"})
    out = {k: float(np.mean([r[k] for r in rows if k in r])) for k in keys}
    if "dipole_error_dft" in out:
        out["dipole_error_dft_percent"] = 100 * out["dipole_error_dft"] / out["dipole_dft_norm"]
    out["n_structures"] = len(rows)
    return out
