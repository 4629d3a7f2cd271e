"""Loaded phonon-DOS models: crystals (with site occupancies) in, :class:`PhononDOS` out."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch
from ase import Atoms
from ase.data import atomic_numbers

from ..graph.checks import check_crystal, check_overlaps, check_structure
from ..graph.domain import crystal_report, edge_lengths
from ..graph.inputs import crystal_batch_inputs
from ..graph.masses import mass_scale, site_mass_ratios
from ..graph.neighbours import neighbour_list
from ..graph.occupancy import composition, site_occupancy
from ..phonon.dos import PhononDOS
from .export import MIN_ATOMS
from .jit import plain_execution
from .runtime import DeployedModel

__all__ = ["DeployedPhononModel", "MASS_TOLERANCE"]

MASS_TOLERANCE = 1e-3
"""How far (in log) a site's mass factor may stray from 1 before a domain warning says that masses changed
relative to each other."""


@dataclass(frozen=True)
class DeployedPhononModel(DeployedModel):
    """A phonon-DOS model: the DOS per atom on the grid in its metadata (THz), 3 modes per atom."""

    @cached_property
    def frequencies(self) -> np.ndarray:
        """The output grid, THz."""
        return np.asarray(self.metadata["frequencies"], dtype=float)

    def checked_graph(self, atoms: Atoms, occupancy=None):
        """(positions, site occupancies, edges, shifts, site mass factors) of a crystal, after refusing what
        has no phonon DOS of a crystal (no 3D cell, not periodic, overlapping atoms or images, bad
        occupancies, masses <= 0). The mass factors are each site's mass ratio over their uniform part
        (:func:`~ase_e3density.graph.masses.mass_scale`): all 1 unless the masses of ``atoms`` (isotopes)
        differ from the standard ones relative to each other."""
        check_crystal(atoms)
        check_structure(atoms, overlaps=False)
        fractions = site_occupancy(atoms, self.species, occupancy)
        _, factors = mass_scale(site_mass_ratios(atoms, fractions, self.species))
        edge_index, shifts = neighbour_list(atoms, self.cutoff)
        check_overlaps(atoms, edge_index, edge_lengths(atoms.positions, edge_index, shifts))
        return atoms.positions, fractions, edge_index, shifts, factors

    def domain_report(self, atoms: Atoms, graph) -> list[str]:
        """Why ``atoms`` lies outside the training domain recorded in the file (empty: inside), by the rule the
        file records (:func:`~ase_e3density.graph.domain.crystal_report`: light atoms and gross geometry for
        files with ``domain["warnings"]``, unseen element pairs and the rest for older ones); masses changed
        relative to each other (isotopes) are outside any phonon model's, trained on natural masses."""
        factors = graph[4] if len(graph) > 4 else np.ones(len(atoms))
        masses = []
        if np.abs(np.log(factors)).max(initial=0.0) > MASS_TOLERANCE:
            masses = [f"site masses changed relative to each other (isotopes: {factors.min():.4g} to "
                      f"{factors.max():.4g} times their uniform share); the network learnt masses from natural ones only"]
        domain = self.metadata.get("domain")
        if not domain:
            return masses
        fractions, edge_index, shifts = graph[1:4]
        numbers = np.array([atomic_numbers[s] for s in self.species])
        sites = [numbers[row > 0] for row in fractions]
        lengths = edge_lengths(atoms.positions, edge_index, shifts)
        return crystal_report(domain, atoms.numbers, sites, edge_index, lengths) + masses

    def site_forward(self, graphs) -> list[np.ndarray]:
        """Each crystal's DOS per site (n_atoms, n_grid), states/(THz atom), float64, from one pass over all
        of ``graphs``.

        The network's DOS of a crystal is the mean of its sites' DOS, and a site's DOS depends on the graph
        alone, not on ``batch``: so the pass gives every atom a structure of its own and reads the sites' DOS
        off the network's output, whatever the runtime (an exported program included). An exported program
        takes at least :data:`~.export.MIN_ATOMS` atoms in a call: a lone one-atom crystal goes in twice."""
        graphs = list(graphs)
        sizes = [len(g[1]) for g in graphs]
        total = sum(sizes)
        if self.runtime == "export" and total < MIN_ATOMS:
            graphs = graphs * MIN_ATOMS
        graphs = [(g[0], g[1] * g[4][:, None], *g[2:4]) if len(g) > 4 else g for g in graphs]  # masses m / s
        inputs = list(crystal_batch_inputs(graphs, self.dtype, self.device))
        inputs[-1] = torch.arange(len(inputs[-1]), device=self.device)
        with torch.no_grad(), plain_execution():
            values = self.module(*inputs).cpu().double().numpy()[:total]
        return np.split(values, np.cumsum(sizes)[:-1])

    def forward(self, graphs) -> np.ndarray:
        """DOS per atom (n_structures, n_grid), float64, from one pass over all of ``graphs``: the mean of
        each crystal's :meth:`site_forward`, on the model's grid for the masses the network saw (the same
        as the crystal's unless it has masses of its own: :meth:`to_dos` maps them back)."""
        return np.stack([sites.mean(axis=0) for sites in self.site_forward(graphs)])

    def to_dos(self, atoms: Atoms, values: np.ndarray, reasons: list[str] | None = None,
               fractions: np.ndarray | None = None, sites: np.ndarray | None = None) -> PhononDOS:
        """A row of :meth:`forward` as a :class:`PhononDOS` of ``atoms``; a virtual crystal's site
        ``fractions`` (n_atoms, n_species) give each site its mean mass (gravimetric heat capacity), and
        ``info["composition"]`` its composition per formula unit (e.g. "Cu0.5Ni0.5"; an ordered crystal: the
        cell's formula; cations first, by Pauling electronegativity: "Ti0.75V0.25N", "Ti4N4").

        Masses of ``atoms``' own (isotopes, :mod:`~ase_e3density.graph.masses`): the network saw the crystal
        with masses m / s (s: the geometric mean of the sites' mass ratios, ``info["mass_scale"]``) and its
        DOS is mapped back exactly, frequencies / sqrt(s). A crystal of one element with any one isotope
        mass, or any crystal with all masses scaled alike, is thereby exact; masses changed relative to
        each other go through the network's learnt mass dependence (a domain warning says so).

        ``sites`` (n_atoms, n_grid), the crystal's :meth:`site_forward`, adds the element-projected DOS
        (:meth:`PhononDOS.partial`): each element's share of every site's DOS (its fraction of the site),
        summed and divided by the atoms of the cell, so the elements' partials add up to the total. It is
        the network's own decomposition of its total DOS: the shipped model was trained on total DOS
        only, never against projected DOS."""
        fractions = site_occupancy(atoms, self.species) if fractions is None else fractions
        ratios = site_mass_ratios(atoms, fractions, self.species)
        scale, _ = mass_scale(ratios)
        plain = atoms.copy()
        plain.calc = None
        standard = np.array([self.metadata["masses"][s] for s in self.species])
        plain.set_masses(ratios * (fractions @ standard) / scale)  # what the network saw: masses m / s
        partials = None
        if sites is not None:
            partials = {s: fractions[:, k] @ sites / len(atoms) for k, s in enumerate(self.species)
                        if fractions[:, k].any()}
        info = {"model_checksum": self.checksum, "domain_warnings": list(reasons or []),
                "composition": composition(atoms, fractions, self.species)}
        if scale != 1.0:
            info["mass_scale"] = scale
        dos = PhononDOS.from_arrays(self.frequencies, values, atoms=plain, normalize=True, info=info,
                                    partials=partials)
        return dos if scale == 1.0 else dos.mass_scaled(scale)  # exact: frequencies / sqrt(s)

    def predict_dos(self, atoms: Atoms, occupancy=None) -> PhononDOS:
        """The predicted phonon DOS per atom of the crystal ``atoms``; ``occupancy`` as in
        :func:`~ase_e3density.graph.occupancy.site_occupancy` (default: ``atoms.info["occupancy"]`` if
        present, else one element per site). ``info["domain_warnings"]`` says why the crystal lies
        outside the training domain, if it does. ``partial(symbol)`` is the model's element-projected DOS
        (see :meth:`to_dos`: its own decomposition; the shipped model was trained on total DOS only)."""
        graph = self.checked_graph(atoms, occupancy)
        sites = self.site_forward([graph])[0]
        return self.to_dos(atoms, sites.mean(axis=0), self.domain_report(atoms, graph), graph[1], sites)
