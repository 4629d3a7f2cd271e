"""Bonding environments in a density model's domain: names, codes, the flag on unseen chemistry
(zwitterions, nitro groups), the batch test equal to one structure at a time, the shipped files."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from ase import Atoms
from ase.build import molecule

from ase_e3density.graph.domain import domain_of, domain_report, edge_lengths, inside_domains
from ase_e3density.graph.environments import EnvironmentTable, environment_codes, environment_names
from ase_e3density.graph.neighbours import neighbour_list

CUTOFF = 3.5

# glycine, neutral and zwitterionic (B3LYP-like geometries, Å)
GLYCINE = Atoms("NCCOOHHHHH", [
    [-1.86, 0.32, 0.00], [-0.60, -0.40, 0.00], [0.62, 0.52, 0.00], [0.53, 1.73, 0.00], [1.79, -0.16, 0.00],
    [2.50, 0.50, 0.00], [-1.92, 0.92, 0.82], [-1.92, 0.92, -0.82], [-0.56, -1.05, 0.88], [-0.56, -1.05, -0.88]])
ZWITTERION = Atoms("NCCOOHHHHH", [
    [-1.90, 0.30, 0.00], [-0.55, -0.40, 0.00], [0.66, 0.55, 0.00], [0.45, 1.78, 0.00], [1.80, 0.02, 0.00],
    [-2.70, -0.35, 0.00], [-1.98, 0.90, 0.83], [-1.98, 0.90, -0.83], [-0.50, -1.04, 0.88],
    [-0.50, -1.04, -0.88]])


def graph(atoms: Atoms):
    edges, shifts = neighbour_list(atoms, CUTOFF)
    return atoms.numbers, edges, edge_lengths(atoms.positions, edges, shifts)


def test_names_follow_the_bonds():
    names = environment_names(*graph(molecule("CH3CH2OH")))
    symbols = molecule("CH3CH2OH").get_chemical_symbols()
    assert sorted(n for n, s in zip(names, symbols) if s != "H") == ["C[C,H2,O]", "C[C,H3]", "O[C,H]"]
    assert set(n for n, s in zip(names, symbols) if s == "H") == {"H[C]", "H[O]"}
    assert environment_names(*graph(ZWITTERION))[0] == "N[C,H3]"
    assert environment_names(*graph(GLYCINE))[0] == "N[C,H2]"


def test_codes_are_one_to_one_with_names_and_a_foreign_neighbour_is_never_seen():
    atoms = molecule("CH3CONH2")
    numbers, edges, lengths = graph(atoms)
    names = environment_names(numbers, edges, lengths)
    table = EnvironmentTable({"bond_scale": 1.2, "seen": names}, ["H", "C", "N", "O"])
    codes = environment_codes(numbers, edges, lengths, table.elements)
    assert [table.code(n) for n in names] == codes.tolist()
    assert len(set(names)) == len(set(codes.tolist()))
    assert not table.unseen(numbers, edges, lengths).any()
    without_n = EnvironmentTable({"bond_scale": 1.2, "seen": names}, ["H", "C", "O"])
    flagged = without_n.unseen(numbers, edges, lengths)
    bonded_to_n = {i for i, n in enumerate(names) if "N" in n.split("[", 1)[1]}
    assert set(np.flatnonzero(flagged)) >= bonded_to_n and without_n.code("C[C,H3]") > 0


def test_a_zwitterion_is_flagged_by_a_domain_of_neutral_molecules_and_named():
    training = [GLYCINE, molecule("CH3CH2NH2"), molecule("CH3COOH"), molecule("CH3CH2OH")]
    domain = domain_of([(*graph(a), 0.0) for a in training], CUTOFF, environments=True)
    assert "N[C,H2]" in domain["environments"]["seen"] and "N[C,H3]" not in domain["environments"]["seen"]
    assert domain_report(domain, *graph(GLYCINE), 0.0) == []
    reasons = domain_report(domain, *graph(ZWITTERION), 0.0)
    assert any("bonding environments never seen" in r and "N[C,H3] (atom 0)" in r for r in reasons)
    without = {k: v for k, v in domain.items() if k != "environments"}  # files without environments: unchanged
    assert not any("bonding" in r for r in domain_report(without, *graph(ZWITTERION), 0.0))


def test_the_batch_test_equals_one_structure_at_a_time():
    training = [GLYCINE, molecule("CH3CH2NH2"), molecule("CH3COOH")]
    domain = domain_of([(*graph(a), 0.0) for a in training], CUTOFF, environments=True)
    tests = [GLYCINE, ZWITTERION, molecule("CH3CH2NH2"), molecule("CH3COOH")]
    graphs = [graph(a) for a in tests]
    offsets = np.concatenate([[0], np.cumsum([len(a) for a in tests])])
    edges = np.concatenate([g[1] + o for g, o in zip(graphs, offsets)], axis=1)
    batch = inside_domains(domain, np.concatenate([g[0] for g in graphs]), edges,
                           np.concatenate([g[2] for g in graphs]), offsets, [0.0] * len(tests))
    alone = [not domain_report(domain, *g, 0.0) for g in graphs]
    assert batch.tolist() == alone == [True, False, True, True]


@pytest.mark.parametrize("which, flagged", [("nitro", True), ("paracetamol", False)])
def test_the_shipped_organic_model_flags_a_nitro_group_and_not_paracetamol(which, flagged):
    from ase_e3density import E3DensityCalculator

    nitromethane = molecule("CH3NO2")
    paracetamol = Atoms("CCCCCCNCCOOHHHHHHHHH", [
        [1.21, 0.69, 0.0], [1.21, -0.69, 0.0], [0.0, -1.39, 0.0], [-1.21, -0.69, 0.0], [-1.21, 0.69, 0.0],
        [0.0, 1.39, 0.0], [-2.44, -1.38, 0.0], [-3.70, -0.85, 0.0], [-4.85, -1.83, 0.0], [-3.90, 0.36, 0.0],
        [2.37, 1.41, 0.0], [2.15, -1.23, 0.0], [0.0, -2.47, 0.0], [-2.15, 1.23, 0.0], [0.0, 2.47, 0.0],
        [-2.40, -2.40, 0.0], [-5.80, -1.29, 0.0], [-4.80, -2.47, 0.89], [-4.80, -2.47, -0.89], [3.15, 0.84, 0.0]])
    atoms = nitromethane if which == "nitro" else paracetamol
    calc = E3DensityCalculator(model="organic")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        calc.calculate(atoms, ["dipole"])
    reasons = calc.results["domain_warnings"]
    assert any("N[C,O2]" in r for r in reasons) is flagged
    assert (reasons == []) is (not flagged)


def test_the_shipped_water_model_knows_only_water_bonds():
    from ase_e3density.models import load_model

    seen = load_model("default").metadata["domain"]["environments"]["seen"]
    assert seen == ["H[O]", "O[H2]"]


def test_bonds_are_the_partitions_bonds():
    """One bond rule: the environments' bonds are those find_molecules uses for fragments (graph/ cannot import
    electron/, so the constant lives in both; this keeps them equal)."""
    from ase_e3density.electron.partition import BOND_SCALE as FRAGMENTS, find_molecules
    from ase_e3density.graph.environments import BOND_SCALE

    assert BOND_SCALE == FRAGMENTS
    pair = molecule("H2O") + molecule("CH3OH")
    pair.positions[3:] += [3.0, 0.0, 0.0]
    names = environment_names(*graph(pair))
    assert [sorted(m.tolist()) for m in find_molecules(pair)] == [[0, 1, 2], [3, 4, 5, 6, 7, 8]]
    assert names[:3] == ["O[H2]", "H[O]", "H[O]"]
