"""Screening with electron-density models: one forward pass per batch, multipoles per structure.

Each structure's result is what :class:`~ase_e3density.calculator.E3DensityCalculator` gives: the
whole batch goes through the segmented physics of :mod:`ase_e3density.electron.density` (the
float64 electron-count projection, per-atom charges, dipole and quadrupole about each centre of
mass) and the segmented domain test of :mod:`ase_e3density.graph.domain`, the functions that
:class:`~ase_e3density.electron.density.AtomicDensity` and the model use for one structure. This
module only gathers the batch's arrays and splits the answers into rows.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..electron.density import atom_moments, centres_of_mass, multipoles, segment_sums
from ..errors import E3DensityError
from ..graph.domain import edge_lengths, inside_domains
from ..models import DeployedDensityModel
from .records import Item

__all__ = ["DensityEvaluator"]

Graph = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


class DensityEvaluator:
    """Charges (e), dipole (e·Å), traceless quadrupole (e·Å²) and electron count per structure."""

    OPTIONS = ("keep_coefficients",)
    columns = ("n_atoms", "total_charge", "n_electrons", "dipole_norm", "quadrupole_norm", "charge_min", "charge_max",
               "in_domain", "domain_warnings")
    UNITS = {"total_charge": "e", "n_electrons": "electrons", "dipole_norm": "e·Å", "quadrupole_norm": "e·Å²",
             "charge_min": "e", "charge_max": "e"}

    def unit(self, column: str) -> str:
        """The unit of a scalar column ("" for counts and text)."""
        return self.UNITS.get(column, "")

    def __init__(self, model: DeployedDensityModel, keep_coefficients: bool = False):
        self.model = model
        self.keep_coefficients = keep_coefficients
        self.arrays = ("charges", "dipole", "quadrupole") + (("density_coefficients",) if keep_coefficients else ())

    def prepare(self, item: Item) -> Graph:
        if not math.isfinite(item.charge):
            raise E3DensityError(f"total charge must be a finite number, got {item.atoms.info.get('charge')!r}")
        return self.model.checked_graph(item.atoms, item.charge)

    def evaluate(self, items: Sequence[Item], prepared: Sequence[Graph]) -> list:
        """(scalars, arrays) per structure, or the exception of a structure with non-finite results."""
        charge = np.array([item.charge for item in items], dtype=float)
        outputs = self.model.forward(prepared, charge.tolist())
        atom_offsets = np.concatenate([[0], np.cumsum([len(item.atoms) for item in items])]).astype(np.int64)
        species = np.concatenate([g[1] for g in prepared])
        numbers = np.concatenate([item.atoms.numbers for item in items])
        positions = np.concatenate([item.atoms.positions for item in items])
        masses = np.concatenate([item.atoms.get_masses() for item in items])
        n_electrons = segment_sums(numbers, atom_offsets) - charge
        coefficients, function_offsets = self.model.unpadded(species, np.concatenate(outputs), atom_offsets,
                                                             n_electrons)
        moments = atom_moments(coefficients, function_offsets, species, self.model.moment_tables)
        found = multipoles(moments, positions, numbers, atom_offsets, centres_of_mass(positions, masses, atom_offsets))
        structure_functions = function_offsets[atom_offsets]
        starts = atom_offsets[:-1]
        # the scalars of every structure at once (each structure has atoms: prepare refuses empty ones)
        columns = {"n_electrons": found.n_electrons,
                   "dipole_norm": np.sqrt(np.einsum("si,si->s", found.dipole, found.dipole)),
                   "quadrupole_norm": np.sqrt(np.einsum("sij,sij->s", found.quadrupole, found.quadrupole)),
                   "charge_min": np.minimum.reduceat(found.charges, starts),
                   "charge_max": np.maximum.reduceat(found.charges, starts)}
        finite = (segment_sums(~np.isfinite(coefficients), structure_functions) == 0) \
            & np.logical_and.reduce([np.isfinite(v) for v in columns.values()])
        values = {name: v.tolist() for name, v in columns.items()}  # Python floats, one conversion per column
        inside = self._inside(prepared, numbers, positions, atom_offsets, charge)
        outcomes: list = []
        for g, (item, graph) in enumerate(zip(items, prepared)):
            if not finite[g]:
                outcomes.append(E3DensityError("the model gave non-finite results (NaN or inf)"))
                continue
            a, b = atom_offsets[g], atom_offsets[g + 1]
            scalars = {"n_atoms": int(b - a), "total_charge": item.charge}
            scalars.update((name, column[g]) for name, column in values.items())
            # outside the training domain: computed, but flagged, in the words of a single prediction
            inside_g = inside[g] and not self.model.off_graph_report(item.atoms, graph, item.charge)
            reasons = [] if inside_g else self.model.domain_report(item.atoms, graph, item.charge)
            scalars["in_domain"] = not reasons
            scalars["domain_warnings"] = "; ".join(reasons)
            arrays = {"charges": found.charges[a:b], "dipole": found.dipole[g], "quadrupole": found.quadrupole[g]}
            if self.keep_coefficients:
                arrays["density_coefficients"] = coefficients[structure_functions[g]:structure_functions[g + 1]]
            outcomes.append((scalars, arrays))
        return outcomes

    def _inside(self, prepared: Sequence[Graph], numbers: np.ndarray, positions: np.ndarray, atom_offsets: np.ndarray,
                charge: np.ndarray) -> np.ndarray:
        """Which structures surely lie inside the training domain: the graphs joined, one segmented test."""
        domain = self.model.metadata.get("domain")
        if not domain:
            return np.ones(len(prepared), dtype=bool)
        edges = np.concatenate([g[2] + offset for g, offset in zip(prepared, atom_offsets[:-1])], axis=1)
        shifts = np.concatenate([g[3] for g in prepared])
        return inside_domains(domain, numbers, edges, edge_lengths(positions, edges, shifts), atom_offsets, charge)
