"""A toy third model kind, declared entirely here and in the test that registers it: per-atom scalars
from pair terms, s_i = sum_j w[Z_i, Z_j] f_c(r_ij), with f_c(r) = (cos(pi r / r_c) + 1) / 2 (eV).

Its network, configuration, runtime, calculator, screening evaluator and ``predict`` printer are the
roles a kind declares; nothing in the package knows this kind's name.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from ase import Atoms

from ase_e3density.calculator import ModelCalculator
from ase_e3density.graph.checks import check_structure
from ase_e3density.graph.neighbours import neighbour_list
from ase_e3density.models.runtime import DeployedModel

KIND = "atomic_scalar"


@dataclass
class PairConfig:
    species: list[str] = field(default_factory=lambda: ["H", "O"])
    cutoff: float = 3.0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "PairConfig":
        return cls(**d)


class PairNetwork(torch.nn.Module):
    """s_i = sum_j w[Z_i, Z_j] f_c(r_ij) (eV); symmetric weights, so the sum over atoms counts each pair twice."""

    kind = KIND

    def __init__(self, config: PairConfig, dtype: torch.dtype = torch.float64):
        super().__init__()
        self.config = config
        n = len(config.species)
        w = torch.arange(1.0, n * n + 1.0, dtype=dtype).reshape(n, n) / 10.0
        self.weights = torch.nn.Parameter(w + w.T)
        self.cutoff = float(config.cutoff)

    def forward(self, species: torch.Tensor, edge_index: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        cut = 0.5 * (torch.cos(lengths * math.pi / self.cutoff) + 1.0)
        terms = self.weights[species[edge_index[0]], species[edge_index[1]]] * cut
        return torch.zeros(species.shape[0], dtype=terms.dtype).index_add_(0, edge_index[0], terms)

    def deploy_metadata(self) -> dict:
        return {"units": "eV"}


@dataclass(frozen=True)
class PairRuntime(DeployedModel):
    def graph(self, atoms: Atoms):
        check_structure(atoms)
        edge_index, shifts = neighbour_list(atoms, self.cutoff)
        vectors = atoms.positions[edge_index[1]] - atoms.positions[edge_index[0]] + shifts
        species = np.array([self.species_index[s] for s in atoms.get_chemical_symbols()])
        return species, edge_index, np.linalg.norm(vectors, axis=1)

    def forward(self, graph) -> np.ndarray:
        species, edge_index, lengths = graph
        with torch.no_grad():
            return self.module(torch.as_tensor(species), torch.as_tensor(edge_index),
                               torch.as_tensor(lengths, dtype=self.dtype)).double().numpy()

    def predict_scalars(self, atoms: Atoms) -> np.ndarray:
        return self.forward(self.graph(atoms))


class PairCalculator(ModelCalculator):
    """Per-atom pair scalars as ASE ``energies`` (eV), their sum as ``energy``; ``scale`` multiplies both."""

    kind = KIND
    kind_parameters = {"scale": 1.0}
    implemented_properties = ["energy", "energies"]

    def calculate(self, atoms=None, properties=None, system_changes=()):
        super().calculate(atoms, properties, system_changes)
        values = self.parameters["scale"] * self.model.predict_scalars(self.atoms)
        self.results = {"energies": values, "energy": float(values.sum())}


class PairEvaluator:
    columns = ("pair_sum",)
    arrays = ("pair_terms",)

    def __init__(self, model: PairRuntime, **_):
        self.model = model

    def prepare(self, item):
        return self.model.graph(item.atoms)

    def evaluate(self, items, prepared) -> list:
        out = [self.model.forward(g) for g in prepared]
        return [({"pair_sum": float(v.sum())}, {"pair_terms": v}) for v in out]


def predict(args, path, frames, calc, start) -> int:
    for k, atoms in enumerate(frames):
        atoms.calc = calc
        print(f"frame {k}: pair sum {atoms.get_potential_energy():.6f} eV")
    return 0
