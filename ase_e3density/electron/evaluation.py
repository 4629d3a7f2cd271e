"""Accuracy of predicted densities against references: per structure and summarised."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .density import AtomicDensity
from .metrics import errors_by_l, quadrature

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
    errors = errors_by_l(predicted.evaluate_by_l(reference.points), reference.values_by_l, reference.weights,
                         ref.n_electrons)
    out = {"n_atoms": len(ref.atoms), "eps": errors["eps"], **{f"eps_l{l}": v for l, v in errors["eps_l"].items()},
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
