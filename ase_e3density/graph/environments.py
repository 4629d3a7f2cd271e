"""Bonding environments: each atom's element and the elements it is bonded to, as a name and as a code.

Two atoms are bonded when they are closer than ``bond_scale`` x the sum of ASE's covalent radii (1.2, the
rule :func:`ase_e3density.electron.partition.find_molecules` uses). An atom's environment is its element
and the multiset of its bonded neighbours' elements, written ``N[C,H3]`` (an ammonium N: one C and three
H), the neighbours in Hill order (C, H, then alphabetical). A density model records the environments of its
training atoms (domain key ``environments``); an atom in an environment it never saw (a nitro group, an
ammonium or carboxylate of a zwitterion, an aryl fluoride for a model trained without one) is flagged.

For speed on joined graphs of many structures, environments are compared as integer codes: the atomic
number times ``16**K`` plus each neighbour element's count (at most 15) times ``16**k`` over the K elements
of the training domain; an atom bonded to an element outside them gets code -1 (never seen).
"""
from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
from ase.data import atomic_numbers, chemical_symbols, covalent_radii

__all__ = ["BOND_SCALE", "MAX_ELEMENTS", "environment_codes", "environment_names", "EnvironmentTable",
           "recorded_environments"]

BOND_SCALE = 1.2
MAX_ELEMENTS = 14  # codes stay below 2**63 with 16**K x 118
_BASE = 16
_NAME = re.compile(r"^([A-Z][a-z]?)\[(.*)\]$")
_PART = re.compile(r"^([A-Z][a-z]?)(\d*)$")


def _bonded(numbers: np.ndarray, edge_index: np.ndarray, lengths: np.ndarray, bond_scale: float) -> np.ndarray:
    receiver, sender = edge_index
    radii = covalent_radii[numbers[receiver]] + covalent_radii[numbers[sender]]
    return lengths < bond_scale * radii


def environment_codes(numbers: np.ndarray, edge_index: np.ndarray, lengths: np.ndarray, elements: np.ndarray,
                      bond_scale: float = BOND_SCALE) -> np.ndarray:
    """Each atom's environment code over ``elements`` (sorted atomic numbers, at most :data:`MAX_ELEMENTS`);
    -1 for an atom bonded to an element outside them. Edges are directed (each bond appears both ways)."""
    numbers = np.asarray(numbers, dtype=np.int64)
    receiver, sender = np.asarray(edge_index)
    bonded = _bonded(numbers, edge_index, np.asarray(lengths), bond_scale)
    index = np.full(len(chemical_symbols), -1, dtype=np.int64)
    index[np.asarray(elements, dtype=np.int64)] = np.arange(len(elements))
    r, k = receiver[bonded], index[numbers[sender[bonded]]]
    known = k >= 0
    k_count = len(elements)
    counts = np.bincount(r[known] * k_count + k[known], minlength=len(numbers) * k_count).reshape(len(numbers), k_count)
    powers = _BASE ** np.arange(k_count, dtype=np.int64)
    codes = numbers * _BASE**k_count + (np.minimum(counts, _BASE - 1) * powers).sum(axis=1)
    codes[np.bincount(r[~known], minlength=len(numbers)) > 0] = -1
    return codes


def _hill(symbols: Iterable[str]) -> list[str]:
    found = set(symbols)
    first = [s for s in ("C", "H") if s in found] if "C" in found else []
    return first + sorted(found - set(first))


def _name(z: int, neighbours: dict[str, int]) -> str:
    parts = [f"{s}{neighbours[s] if neighbours[s] > 1 else ''}" for s in _hill(neighbours)]
    return f"{chemical_symbols[z]}[{','.join(parts)}]"


def environment_names(numbers: np.ndarray, edge_index: np.ndarray, lengths: np.ndarray,
                      bond_scale: float = BOND_SCALE) -> list[str]:
    """Each atom's environment name, e.g. ``N[C,H3]``."""
    receiver, sender = np.asarray(edge_index)
    bonded = _bonded(np.asarray(numbers), edge_index, np.asarray(lengths), bond_scale)
    neighbours: list[dict[str, int]] = [{} for _ in numbers]
    for a, b in zip(receiver[bonded].tolist(), sender[bonded].tolist()):
        s = chemical_symbols[int(numbers[b])]
        neighbours[a][s] = neighbours[a].get(s, 0) + 1
    return [_name(int(z), n) for z, n in zip(numbers, neighbours)]


class EnvironmentTable:
    """The environments a domain records (``{"bond_scale": ..., "seen": [names]}``) as sorted codes over the
    domain's elements, to test many atoms at once."""

    def __init__(self, recorded: dict, elements: Iterable[str]):
        self.bond_scale = float(recorded["bond_scale"])
        self.elements = np.array(sorted(atomic_numbers[s] for s in elements), dtype=np.int64)
        if len(self.elements) > MAX_ELEMENTS:
            raise ValueError(f"more than {MAX_ELEMENTS} elements")
        self.seen = np.unique([self.code(name) for name in recorded["seen"]]).astype(np.int64)

    def code(self, name: str) -> int:
        """The code of an environment name over this table's elements (-1: a neighbour outside them)."""
        centre, inside = _NAME.match(name).groups()
        total = atomic_numbers[centre] * _BASE ** len(self.elements)
        for part in filter(None, inside.split(",")):
            symbol, count = _PART.match(part).groups()
            where = np.flatnonzero(self.elements == atomic_numbers[symbol])
            if not len(where):
                return -1
            total += min(int(count or 1), _BASE - 1) * _BASE ** int(where[0])
        return int(total)

    def unseen(self, numbers: np.ndarray, edge_index: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Which atoms are in an environment the domain never saw."""
        codes = environment_codes(numbers, edge_index, lengths, self.elements, self.bond_scale)
        return (codes < 0) | ~np.isin(codes, self.seen)


def recorded_environments(graphs: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]],
                          bond_scale: float = BOND_SCALE) -> dict:
    """The ``environments`` entry of a domain: every environment name of the atoms of ``graphs`` ((atomic
    numbers, edge_index, lengths) per structure), sorted."""
    seen: set[str] = set()
    for numbers, edge_index, lengths in graphs:
        seen.update(environment_names(numbers, edge_index, lengths, bond_scale))
    return {"bond_scale": bond_scale, "seen": sorted(seen)}
