"""Screening with electron-density models: one forward pass per batch, multipoles per structure.

Each structure's result is what :class:`~ase_e3density.calculator.E3DensityCalculator` gives:
the network's padded output for its atoms, unpadded, the electron count re-projected in float64
by ``DeployedDensityModel.coefficients``, as for single structures, then an :class:`AtomicDensity` for the multipoles.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cached_property

import numpy as np
from ase.units import Bohr

from ..electron.density import AtomicDensity
from ..errors import E3DensityError
from ..graph.domain import edge_lengths, outside_atoms
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
        try:
            outcomes: list = self._batch(items, outputs, prepared)
        except Exception:  # anything unusual: structure by structure, each with its own error
            outcomes = [None] * len(items)
        for k, (item, padded, graph) in enumerate(zip(items, outputs, prepared)):
            if outcomes[k] is not None:
                continue
            try:
                outcomes[k] = self.result(item, padded, graph)
            except Exception as exc:  # one structure's NaN must not fail its batch
                outcomes[k] = exc
        return outcomes

    # -- the whole batch at once: the arithmetic of result(), on arrays of every structure ---------
    @cached_property
    def _tables(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per species: which padded columns are functions, their charge integrals, their moment integrals."""
        basis, species = self.model.basis, self.model.species
        q = basis.padded_table(species, "charge_integrals")
        sizes = np.array([basis[s].n_functions for s in species])
        mask = np.arange(q.shape[1]) < sizes[:, None]
        return mask, q, basis.padded_table(species, "moment_integrals", q.shape[1])

    def _batch(self, items: Sequence[Item], outputs: Sequence[np.ndarray], prepared: Sequence[Graph]) -> list:
        """(scalars, arrays) of every structure, or None for a structure result() must do (non-finite numbers,
        outside the training domain: it raises or words the warnings exactly as for one structure)."""
        mask_table, q_table, moment_table = self._tables
        sizes = np.array([len(item.atoms) for item in items])
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        owner = np.repeat(np.arange(len(items)), sizes)
        padded = np.concatenate(outputs)
        species = np.concatenate([g[1] for g in prepared])
        numbers = np.concatenate([item.atoms.numbers for item in items])
        charge = np.array([item.charge for item in items], dtype=float)
        # the float64 electron-count projection of DeployedDensityModel.coefficients, per structure
        mask = mask_table[species, : padded.shape[1]]
        c, q = padded[mask], q_table[species, : padded.shape[1]][mask]
        of_function = np.repeat(owner, mask.sum(axis=1))
        n_electrons = np.add.reduceat(numbers.astype(float), starts) - charge
        lam = (n_electrons - np.bincount(of_function, q * c, len(items))) / np.bincount(of_function, q * q, len(items))
        c = c + lam[of_function] * q
        # AtomicDensity's local moments, multipoles about each centre of mass, charges
        rows = np.zeros(padded.shape)
        rows[mask] = c
        local = np.empty((len(species), moment_table.shape[2]))
        for k in np.unique(species):
            these = species == k
            local[these] = rows[these] @ moment_table[k]
        m0, m1, m2 = local[:, 0], local[:, 1:4], local[:, 4:]
        positions = np.concatenate([item.atoms.positions for item in items])
        masses = np.concatenate([item.atoms.get_masses() for item in items])
        centre = np.add.reduceat(masses[:, None] * positions, starts) / np.add.reduceat(masses, starts)[:, None]
        r = positions - centre[owner]
        z = numbers.astype(float)
        rb = r / Bohr
        first = np.add.reduceat(m1 + rb * m0[:, None], starts)
        dipole = np.add.reduceat(z[:, None] * r, starts) - first * Bohr
        cross = np.add.reduceat((rb[:, :, None] * m1[:, None, :]).reshape(-1, 9), starts).reshape(-1, 3, 3)
        second = (np.add.reduceat(m2, starts).reshape(-1, 3, 3) + cross + cross.transpose(0, 2, 1)
                  + np.add.reduceat(((m0[:, None] * rb)[:, :, None] * rb[:, None, :]).reshape(-1, 9), starts).reshape(-1, 3, 3))
        total = np.add.reduceat(((z[:, None] * r)[:, :, None] * r[:, None, :]).reshape(-1, 9), starts).reshape(-1, 3, 3) \
            - second * Bohr**2
        quadrupole = 0.5 * (3 * total - np.trace(total, axis1=1, axis2=2)[:, None, None] * np.eye(3))
        charges = z - m0
        electrons = np.add.reduceat(m0, starts)
        inside = self._inside(items, prepared, numbers, positions, charge)
        finite = np.bincount(of_function[~np.isfinite(c)], minlength=len(items)) == 0
        outcomes: list = []
        for g, item in enumerate(items):
            a, b = starts[g], starts[g] + sizes[g]
            scalars = {"n_atoms": int(sizes[g]), "total_charge": item.charge, "n_electrons": float(electrons[g]),
                       "dipole_norm": float(np.linalg.norm(dipole[g])),
                       "quadrupole_norm": float(np.linalg.norm(quadrupole[g])),
                       "charge_min": float(charges[a:b].min()), "charge_max": float(charges[a:b].max())}
            if not (inside[g] and finite[g] and all(np.isfinite(v) for v in scalars.values())):
                outcomes.append(None)
                continue
            scalars["in_domain"] = True
            scalars["domain_warnings"] = ""
            arrays = {"charges": charges[a:b], "dipole": dipole[g], "quadrupole": quadrupole[g]}
            if self.keep_coefficients:
                arrays["density_coefficients"] = c[of_function == g]
            outcomes.append((scalars, arrays))
        return outcomes

    def _inside(self, items: Sequence[Item], prepared: Sequence[Graph], numbers: np.ndarray, positions: np.ndarray,
                charge: np.ndarray) -> np.ndarray:
        """Which structures surely lie inside the training domain: the charge of each, the graph tests
        (distances, neighbours) on all graphs joined, each flagged atom marking its structure."""
        domain = self.model.metadata.get("domain")
        if not domain:
            return np.ones(len(items), dtype=bool)
        lo, hi = domain["charge"]
        sizes = [len(g[1]) for g in prepared]
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        edges = np.concatenate([g[2] + o for g, o in zip(prepared, offsets)], axis=1)
        shifts = np.concatenate([g[3] for g in prepared])
        flagged = outside_atoms(domain, numbers, edges, edge_lengths(positions, edges, shifts))
        owner = np.repeat(np.arange(len(items)), sizes)
        return (lo - 1e-6 <= charge) & (charge <= hi + 1e-6) & (np.bincount(owner[flagged], minlength=len(items)) == 0)
