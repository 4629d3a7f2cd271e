"""Screening with electron-density models: one forward pass per batch, multipoles per structure.

Each structure's result is what :class:`~ase_e3density.calculator.E3DensityCalculator` gives:
the network's padded output for its atoms, unpadded, the electron count re-projected in float64
by ``DeployedDensityModel.coefficients``, as for single structures, then an :class:`AtomicDensity` for the multipoles.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..electron.density import AtomicDensity
from ..errors import E3DensityError
from ..models import DeployedDensityModel
from .records import Item

__all__ = ["DensityEvaluator"]

Graph = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


class DensityEvaluator:
    """Charges (e), dipole (e·Å), traceless quadrupole (e·Å²) and electron count per structure."""

    columns = ("n_atoms", "total_charge", "n_electrons", "dipole_norm", "quadrupole_norm", "charge_min", "charge_max",
               "in_domain", "domain_warnings")

    def __init__(self, model: DeployedDensityModel, keep_coefficients: bool = False):
        self.model = model
        self.keep_coefficients = keep_coefficients
        self.arrays = ("charges", "dipole", "quadrupole") + (("density_coefficients",) if keep_coefficients else ())

    def prepare(self, item: Item) -> Graph:
        if not math.isfinite(item.charge):
            raise E3DensityError(f"total charge must be a finite number, got {item.atoms.info.get('charge')!r}")
        self.model.basis.check_supported(item.atoms.numbers)
        return self.model.checked_graph(item.atoms, item.charge)

    def forward(self, graphs: Sequence[Graph], charges: Sequence[float]) -> list[np.ndarray]:
        """Padded per-atom coefficient rows of each structure (float64), from one forward pass."""
        return self.model.forward(graphs, charges)

    def result(self, item: Item, padded: np.ndarray, graph: Graph) -> tuple[dict[str, float], dict[str, np.ndarray]]:
        atoms = item.atoms
        coefficients = self.model.coefficients(atoms, padded, item.charge)
        density = AtomicDensity(atoms, self.model.basis, coefficients, validate=False)  # refuses NaN coefficients
        charges, dipole, quadrupole = density.charges, density.dipole, density.quadrupole
        reasons = self.model.domain_report(atoms, graph, item.charge)
        scalars = {"n_atoms": len(atoms), "total_charge": item.charge, "n_electrons": float(density.n_electrons),
                   "dipole_norm": float(np.linalg.norm(dipole)), "quadrupole_norm": float(np.linalg.norm(quadrupole)),
                   "charge_min": float(charges.min()), "charge_max": float(charges.max())}
        arrays = {"charges": charges, "dipole": dipole, "quadrupole": quadrupole}
        if self.keep_coefficients:
            arrays["density_coefficients"] = coefficients
        if not all(np.isfinite(v) for v in scalars.values()):
            raise E3DensityError("the model gave non-finite results (NaN or inf)")
        scalars["in_domain"] = not reasons  # outside the training domain: computed, but flagged
        scalars["domain_warnings"] = "; ".join(reasons)
        return scalars, arrays

    def evaluate(self, items: Sequence[Item], prepared: Sequence[Graph]) -> list:
        outputs = self.forward(prepared, [item.charge for item in items])
        outcomes: list = []
        for item, padded, graph in zip(items, outputs, prepared):
            try:
                outcomes.append(self.result(item, padded, graph))
            except Exception as exc:  # one structure's NaN must not fail its batch
                outcomes.append(exc)
        return outcomes
