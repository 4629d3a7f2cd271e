"""Loaded phonon-DOS models: crystals (with site occupancies) in, :class:`PhononDOS` out."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch
from ase import Atoms
from ase.data import atomic_numbers

from ..graph.checks import check_crystal, check_overlaps, check_structure
from ..graph.domain import domain_report, edge_lengths, unseen_site_pairs
from ..graph.inputs import crystal_batch_inputs
from ..graph.neighbours import neighbour_list
from ..graph.occupancy import site_occupancy
from ..phonon.dos import PhononDOS
from .export import MIN_ATOMS
from .jit import plain_execution
from .runtime import DeployedModel

__all__ = ["DeployedPhononModel"]


@dataclass(frozen=True)
class DeployedPhononModel(DeployedModel):
    """A phonon-DOS model: the DOS per atom on the grid in its metadata (THz), 3 modes per atom."""

    @cached_property
    def frequencies(self) -> np.ndarray:
        """The output grid, THz."""
        return np.asarray(self.metadata["frequencies"], dtype=float)

    def checked_graph(self, atoms: Atoms, occupancy=None):
        """(positions, site occupancies, edges, shifts) of a crystal, after refusing what has no phonon DOS
        of a crystal (no 3D cell, not periodic, overlapping atoms or images, bad occupancies)."""
        check_crystal(atoms)
        check_structure(atoms, overlaps=False)
        fractions = site_occupancy(atoms, self.species, occupancy)
        edge_index, shifts = neighbour_list(atoms, self.cutoff)
        check_overlaps(atoms, edge_index, edge_lengths(atoms.positions, edge_index, shifts))
        return atoms.positions, fractions, edge_index, shifts

    def domain_report(self, atoms: Atoms, graph) -> list[str]:
        """Why ``atoms`` lies outside the training domain recorded in the file (empty: inside)."""
        domain = self.metadata.get("domain")
        if not domain:
            return []
        _, fractions, edge_index, shifts = graph
        reasons = domain_report(domain, atoms.numbers, edge_index, edge_lengths(atoms.positions, edge_index, shifts), 0.0)
        mixed = (fractions > 0).sum(axis=1) > 1
        if mixed.any():  # a virtual crystal: its minority elements are not in atoms.numbers
            numbers = np.array([atomic_numbers[s] for s in self.species])
            unseen = unseen_site_pairs(domain, [numbers[row > 0] for row in fractions], edge_index)
            if unseen and not any(r.startswith("element pairs") for r in reasons):
                reasons.insert(0, f"element pairs {', '.join(unseen)} (of the virtual crystal's sites) within "
                                  f"{domain['cutoff']:g} Å never met in training")
        return reasons

    def forward(self, graphs) -> np.ndarray:
        """DOS per atom (n_structures, n_grid), float64, from one pass over all of ``graphs``.

        An exported program takes at least :data:`~.export.MIN_ATOMS` atoms in a call: a lone one-atom
        crystal goes in twice, as two structures, and the first answer is kept (the same DOS)."""
        graphs = list(graphs)
        n = len(graphs)
        if self.runtime == "export" and sum(len(g[1]) for g in graphs) < MIN_ATOMS:
            graphs = graphs * MIN_ATOMS
        inputs = crystal_batch_inputs(graphs, self.dtype, self.device)
        with torch.no_grad(), plain_execution():
            return self.module(*inputs).cpu().double().numpy()[:n]

    def to_dos(self, atoms: Atoms, values: np.ndarray, reasons: list[str] | None = None,
               fractions: np.ndarray | None = None) -> PhononDOS:
        """A row of :meth:`forward` as a :class:`PhononDOS` of ``atoms``; a virtual crystal's site
        ``fractions`` (n_atoms, n_species) give each site its mean mass (gravimetric heat capacity)."""
        plain = atoms.copy()
        plain.calc = None
        if fractions is not None:
            masses = np.array([self.metadata["masses"][s] for s in self.species])
            plain.set_masses(fractions @ masses)
        info = {"model_checksum": self.checksum, "domain_warnings": list(reasons or [])}
        return PhononDOS.from_arrays(self.frequencies, values, atoms=plain, normalize=True, info=info)

    def predict_dos(self, atoms: Atoms, occupancy=None) -> PhononDOS:
        """The predicted phonon DOS per atom of the crystal ``atoms``; ``occupancy`` as in
        :func:`~ase_e3density.graph.occupancy.site_occupancy` (default: ``atoms.info["occupancy"]`` if
        present, else one element per site). ``info["domain_warnings"]`` says why the crystal lies
        outside the training domain, if it does."""
        graph = self.checked_graph(atoms, occupancy)
        values = self.forward([graph])[0]
        return self.to_dos(atoms, values, self.domain_report(atoms, graph), graph[1])
