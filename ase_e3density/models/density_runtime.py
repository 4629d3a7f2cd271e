"""Loaded electron-density models: molecules in, coefficients and :class:`AtomicDensity` out."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import torch
from ase import Atoms

from ..electron.basis import BasisSet
from ..electron.density import AtomicDensity, fix_electron_counts
from ..errors import InvalidStructureError, UnsupportedElementError
from ..graph.checks import check_electron_count, check_ordered, check_overlaps, check_structure, overlap_search_radius
from ..graph.domain import domain_report, edge_lengths, periodic_report, requested_spin, state_report
from ..graph.inputs import batch_inputs, species_indices, structure_graph
from . import format as fmt
from .jit import plain_execution
from .runtime import DeployedModel

__all__ = ["DeployedDensityModel"]


@dataclass(frozen=True)
class DeployedDensityModel(DeployedModel):
    """An electron-density model: coefficients in its auxiliary basis, as :class:`AtomicDensity`."""

    basis: BasisSet = None  # type: ignore[assignment]

    @classmethod
    def from_file(cls, module, metadata: dict, dtype: torch.dtype, device: torch.device, path: Path,
                  runtime: str = "torchscript") -> "DeployedDensityModel":
        return cls(module, metadata, dtype, device, path, BasisSet.from_dict(metadata["basis"]), runtime=runtime)

    @cached_property
    def _charge_table(self) -> np.ndarray:
        """Charge integrals of each species' functions, padded to the widest: (n_species, width)."""
        return self.basis.padded_table(self.species, "charge_integrals")

    @cached_property
    def _function_mask(self) -> np.ndarray:
        """Which columns of a padded output row are functions of each species: (n_species, width)."""
        sizes = np.array([self.basis[s].n_functions for s in self.species])
        return np.arange(self._charge_table.shape[1]) < sizes[:, None]

    def checked_graph(self, atoms: Atoms, charge: float):
        """The network's graph of ``atoms`` (positions, species, edges, shifts), after refusing impossible
        input: bad structures, partial occupancies, negative electron counts (or ones that cannot have the
        spin asked for), elements the model lacks, overlapping atoms; and, for a model with charge equilibration
        (open-boundary electrostatics), structures whose graph reaches a periodic image."""
        reach = len(atoms) > 0 and self.cutoff >= overlap_search_radius(atoms.numbers)
        check_structure(atoms, overlaps=not reach)
        check_ordered(atoms)
        check_electron_count(atoms, charge, *requested_spin(atoms))
        try:
            graph = structure_graph(atoms, self.species_index, self.cutoff)
        except UnsupportedElementError:
            raise self.element_refusal(atoms.get_chemical_symbols()) from None
        _, _, edge_index, shifts = graph
        if reach:  # the network's own neighbour list sees every overlap: no second search
            check_overlaps(atoms, edge_index, edge_lengths(atoms.positions, edge_index, shifts))
        if self.charge_equilibration and np.any(shifts):
            raise InvalidStructureError("this model's charge equilibration has open-boundary electrostatics (molecules "
                                        "and clusters), but its atoms neighbour periodic images within the cutoff: unwrap it, "
                                        "or give it pbc=False")
        return graph

    @cached_property
    def charge_equilibration(self) -> bool:
        """Whether the network sets atomic charges by charge equilibration (files before it have no such key)."""
        return bool(self.metadata[fmt.CONFIG].get("charge_equilibration", False))

    def forward(self, graphs, charges) -> list[np.ndarray]:
        """Padded per-atom output rows (float64) of each structure, from one pass over all of them."""
        inputs = batch_inputs(list(graphs), list(charges), self.dtype, self.device)
        with torch.no_grad(), plain_execution():
            padded = self.module(*inputs).cpu().double().numpy()
        if len(graphs) == 1:
            return [padded]
        return np.split(padded, np.cumsum([len(g[1]) for g in graphs])[:-1])

    @cached_property
    def moment_tables(self) -> list[np.ndarray]:
        """Moment integrals (n_functions, 13) of each species' functions, in species order (for
        :func:`~ase_e3density.electron.density.atom_moments` with species indices as kinds)."""
        return [self.basis[s].moment_integrals for s in self.species]

    def unpadded(self, species: np.ndarray, padded: np.ndarray, atom_offsets: np.ndarray,
                 n_electrons: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Flat float64 coefficients (atom by atom) of one or more structures from their padded output rows
        (atoms ``atom_offsets[s]:atom_offsets[s + 1]``, ``species``: each atom's species index), each
        structure's electron count projected to ``n_electrons[s]``; and where each atom's coefficients start.

        The network conserves charge in its own dtype; the projection is redone in float64 so that
        float32 models also hold the electron count to 1e-12.
        """
        mask = self._function_mask[species, : padded.shape[1]]  # unpadding: each atom's own functions, in order
        q = self._charge_table[species, : padded.shape[1]][mask]
        function_offsets = np.concatenate([[0], np.cumsum(mask.sum(axis=1))]).astype(np.int64)
        coefficients = fix_electron_counts(padded[mask], q, function_offsets[np.asarray(atom_offsets)], n_electrons)
        return coefficients, function_offsets

    def coefficients(self, atoms: Atoms, padded: np.ndarray, charge: float) -> np.ndarray:
        """Flat coefficients of ``atoms`` from its padded output rows (:meth:`unpadded` of one structure)."""
        species = species_indices(atoms, self.species_index)
        n_electrons = np.array([float(atoms.numbers.sum()) - charge])
        return self.unpadded(species, padded, np.array([0, len(atoms)]), n_electrons)[0]

    def _run(self, atoms: Atoms, charge: float) -> tuple[np.ndarray, list[str]]:
        graph = self.checked_graph(atoms, charge)
        padded, = self.forward([graph], [charge])
        return self.coefficients(atoms, padded, charge), self.domain_report(atoms, graph, charge)

    def domain_report(self, atoms: Atoms, graph, charge: float) -> list[str]:
        """Why ``atoms`` lies outside the training domain recorded in the file (empty: inside)."""
        domain = self.metadata.get("domain")
        if not domain:
            return []
        _, _, edge_index, shifts = graph
        return domain_report(domain, atoms.numbers, edge_index, edge_lengths(atoms.positions, edge_index, shifts),
                             charge) + self.off_graph_report(atoms, graph, charge)

    def off_graph_report(self, atoms: Atoms, graph, charge: float) -> list[str]:
        """The reasons the segmented graph test of screening does not see: a spin state outside training, and
        edges to periodic images in a model trained on isolated structures (empty: inside, or no domain)."""
        domain = self.metadata.get("domain")
        return state_report(domain, atoms, charge) + periodic_report(domain, graph[3]) if domain else []

    def predict(self, atoms: Atoms, charge: float = 0.0) -> np.ndarray:
        """Flat coefficient vector (atom by atom, e3nn order) for ``atoms`` with total ``charge``."""
        return self._run(atoms, charge)[0]

    def predict_density(self, atoms: Atoms, charge: float = 0.0) -> AtomicDensity:
        """The predicted :class:`AtomicDensity`; ``info["domain_warnings"]`` says why the structure lies
        outside the training domain, if it does. Impossible structures are refused first."""
        coefficients, reasons = self._run(atoms, charge)
        return AtomicDensity(atoms, self.basis, coefficients, validate=False, info={"domain_warnings": reasons})
