"""The training domain of a model, from the graphs it was trained on, and checks against it.

Recorded at deployment (metadata key ``domain``) and checked on every prediction. A structure is
flagged (never refused: it may be exactly what the user wants to extrapolate to) when

- its total charge lies outside the range seen in training;
- two atoms are closer than ``0.9`` x the shortest distance seen for their pair of elements, or a
  pair of elements meets within the cutoff that never did in training;
- an atom's nearest neighbour is farther than ``1.5`` x the farthest nearest neighbour seen for its
  element (isolated atoms included);
- an atom has more than ``1.5`` x the most neighbours within the cutoff seen for its element;
- (electron-density models) its spin state lies outside the training range of 2S (key ``spin``): a
  spin asked for in ``atoms.info["spin"]`` (2S) or ``atoms.info["multiplicity"]`` (2S + 1), initial
  magnetic moments, or an odd electron count (a radical) for a model trained on closed-shell singlets.
  Files deployed before the key existed were all trained on closed-shell molecules: they count as
  ``spin: [0, 0]`` (:data:`CLOSED_SHELL`).
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers, chemical_symbols

from ..errors import CalculatorParameterError

__all__ = ["domain_of", "domain_report", "inside_domain", "inside_domains", "outside_atoms", "edge_lengths",
           "requested_spin", "spin_of", "state_report", "SHORT_FACTOR", "FAR_FACTOR", "CROWD_FACTOR", "CLOSED_SHELL"]

SHORT_FACTOR, FAR_FACTOR, CROWD_FACTOR = 0.9, 1.5, 1.5
CLOSED_SHELL = [0, 0]
"""The range of 2S of a domain without a ``spin`` entry (files deployed before it: closed-shell training data)."""


def edge_lengths(positions: np.ndarray, edge_index: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Length (Å) of every edge of a neighbour list."""
    vectors = positions[edge_index[1]] - positions[edge_index[0]] + shifts
    return np.sqrt((vectors * vectors).sum(axis=1))  # what np.linalg.norm(axis=1) computes, without its overhead


def _pair(a: int, b: int) -> str:
    a, b = sorted((int(a), int(b)))
    return f"{chemical_symbols[a]}-{chemical_symbols[b]}"


def _graph_stats(numbers: np.ndarray, edge_index: np.ndarray, lengths: np.ndarray):
    receiver, sender = edge_index
    counts = np.bincount(receiver, minlength=len(numbers))
    nearest = np.full(len(numbers), np.inf)
    np.minimum.at(nearest, receiver, lengths)
    return counts, nearest


def domain_of(graphs: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray, float]], cutoff: float) -> dict:
    """Domain statistics from (atomic numbers, edge_index, edge lengths, total charge) per structure."""
    shortest: dict[str, float] = {}
    farthest_nearest: dict[str, float] = {}
    most: dict[str, int] = {}
    charges = []
    for numbers, edge_index, lengths, charge in graphs:
        charges.append(float(charge))
        receiver, sender = edge_index
        for key, d in zip((_pair(a, b) for a, b in zip(numbers[receiver], numbers[sender])), lengths):
            shortest[key] = min(shortest.get(key, np.inf), float(d))
        counts, nearest = _graph_stats(numbers, edge_index, lengths)
        for z, c, n in zip(numbers, counts, nearest):
            s = chemical_symbols[int(z)]
            most[s] = max(most.get(s, 0), int(c))
            farthest_nearest[s] = max(farthest_nearest.get(s, 0.0), float(min(n, cutoff)))
    return {"cutoff": float(cutoff), "charge": [round(min(charges), 6), round(max(charges), 6)], "shortest": shortest,
            "farthest_nearest": farthest_nearest, "most_neighbours": most}


_TABLES: dict[int, tuple[dict, tuple[np.ndarray, np.ndarray, np.ndarray] | None]] = {}


def _tables(domain: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The domain as arrays by atomic number: shortest distance per pair (NaN: never met), farthest
    nearest neighbour and most neighbours per element (inf: not recorded). Kept per domain dict
    (models hold theirs for life); None when a name is not an element."""
    held = _TABLES.get(id(domain))
    if held is not None and held[0] is domain:
        return held[1]
    n = len(chemical_symbols)
    pairs, farthest, most = np.full((n, n), np.nan), np.full(n, np.inf), np.full(n, np.inf)
    try:
        for pair, d in domain["shortest"].items():
            a, b = (atomic_numbers[s] for s in pair.split("-"))
            pairs[a, b] = pairs[b, a] = d
        for symbol, d in domain["farthest_nearest"].items():
            farthest[atomic_numbers[symbol]] = d
        for symbol, m in domain["most_neighbours"].items():
            most[atomic_numbers[symbol]] = m
        tables = pairs, farthest, most
    except (KeyError, ValueError):
        tables = None
    if len(_TABLES) >= 16:
        _TABLES.pop(next(iter(_TABLES)))
    _TABLES[id(domain)] = (domain, tables)
    return tables


def outside_atoms(domain: dict, numbers: np.ndarray, edge_index: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Atoms that one of :func:`domain_report`'s graph tests may flag (the receiver of a pair closer than in
    training or never met, a crowded or isolated atom), as numbers only: no unique, no strings. All atoms
    when the domain's tables cannot be read."""
    tables = _tables(domain)
    if tables is None or (len(numbers) and (numbers.max() >= len(chemical_symbols) or numbers.min() < 0)):
        return np.ones(len(numbers), dtype=bool)
    pairs, farthest, most = tables
    receiver, sender = edge_index
    seen = pairs[numbers[receiver], numbers[sender]]
    odd = np.isnan(seen) | (lengths < SHORT_FACTOR * seen)
    out = np.bincount(receiver[odd], minlength=len(numbers)) > 0
    out |= np.bincount(receiver, minlength=len(numbers)) > CROWD_FACTOR * most[numbers]
    reach = FAR_FACTOR * farthest[numbers]  # isolated: no neighbour within reach (nearest capped at the cutoff)
    close = np.bincount(receiver[lengths <= reach[receiver]], minlength=len(numbers)) > 0
    return out | ((reach < domain["cutoff"]) & ~close)


def inside_domains(domain: dict, numbers: np.ndarray, edge_index: np.ndarray, lengths: np.ndarray,
                   atom_offsets: np.ndarray, charges) -> np.ndarray:
    """Which structures nothing of :func:`domain_report` applies to, for many structures joined into one graph
    (atoms ``atom_offsets[s]:atom_offsets[s + 1]`` of structure s, edges between atoms of one structure),
    found with array operations only, so structures inside the domain (the usual case) cost no strings."""
    atom_offsets = np.asarray(atom_offsets, dtype=np.int64)
    charges = np.asarray(charges, dtype=float)
    lo, hi = domain["charge"]
    flagged = outside_atoms(domain, numbers, edge_index, lengths)
    owner = np.repeat(np.arange(len(atom_offsets) - 1), np.diff(atom_offsets))
    clean = np.bincount(owner[flagged], minlength=len(atom_offsets) - 1) == 0
    return (lo - 1e-6 <= charges) & (charges <= hi + 1e-6) & clean


def inside_domain(domain: dict, numbers: np.ndarray, edge_index: np.ndarray, lengths: np.ndarray,
                  charge: float) -> bool:
    """:func:`inside_domains` of one structure."""
    return bool(inside_domains(domain, numbers, edge_index, lengths, np.array([0, len(numbers)]), [charge])[0])


def domain_report(domain: dict, numbers: np.ndarray, edge_index: np.ndarray, lengths: np.ndarray,
                  charge: float) -> list[str]:
    """Why a structure lies outside ``domain`` (empty when it lies inside)."""
    numbers = np.asarray(numbers)
    if inside_domain(domain, numbers, edge_index, lengths, charge):
        return []
    reasons = []
    lo, hi = domain["charge"]
    if not lo - 1e-6 <= charge <= hi + 1e-6:
        reasons.append(f"total charge {charge:+g} outside the training range [{lo:+g}, {hi:+g}]")
    receiver, sender = edge_index
    z_r, z_s = numbers[receiver], numbers[sender]
    codes, inverse = np.unique(np.minimum(z_r, z_s) * 1000 + np.maximum(z_r, z_s), return_inverse=True)
    names = [_pair(c // 1000, c % 1000) for c in codes.tolist()]  # one string per pair of elements, not per edge
    inverse = inverse.reshape(-1)
    unseen = sorted(set(names) - set(domain["shortest"]))
    if unseen:
        reasons.append(f"element pairs {', '.join(unseen)} within {domain['cutoff']:g} Å never met in training")
    seen = np.array([domain["shortest"].get(p, 0.0) for p in names] or [0.0])[inverse]
    short = np.flatnonzero(lengths < SHORT_FACTOR * seen)
    if len(short):
        k = short[np.argmin(lengths[short] / seen[short])]
        reasons.append(f"{len(short) // 2 or 1} pair(s) closer than in training: {names[inverse[k]]} at {lengths[k]:.3g} Å "
                       f"(training: >= {seen[k]:.3g} Å)")
    counts, nearest = _graph_stats(numbers, edge_index, lengths)
    nearest = np.minimum(nearest, domain["cutoff"])
    elements, of_atom = np.unique(numbers, return_inverse=True)
    of_atom = of_atom.reshape(-1)
    symbols = [chemical_symbols[int(z)] for z in elements]
    farthest = np.array([domain["farthest_nearest"].get(s, np.inf) for s in symbols])[of_atom]
    far = np.flatnonzero(nearest > FAR_FACTOR * farthest)
    if len(far):
        a = int(far[0])
        s_a = symbols[of_atom[a]]
        reasons.append(f"{len(far)} atom(s) more isolated than in training: atom {a} ({s_a}) has its nearest "
                       f"neighbour at {'>' if nearest[a] >= domain['cutoff'] else ''}{nearest[a]:.3g} Å "
                       f"(training: <= {domain['farthest_nearest'][s_a]:.3g} Å)")
    most = np.array([domain["most_neighbours"].get(s, np.inf) for s in symbols], dtype=float)[of_atom]
    crowded = np.flatnonzero(counts > CROWD_FACTOR * most)
    if len(crowded):
        a = int(crowded[np.argmax(counts[crowded])])
        s_a = symbols[of_atom[a]]
        reasons.append(f"{len(crowded)} atom(s) more crowded than in training: atom {a} ({s_a}) has "
                       f"{counts[a]} neighbours within {domain['cutoff']:g} Å (training: <= "
                       f"{domain['most_neighbours'][s_a]})")
    return reasons


def unseen_site_pairs(domain: dict, site_numbers: list[np.ndarray], edge_index: np.ndarray) -> list[str]:
    """Element pairs never met in training, when a site may hold several elements (a virtual crystal's
    ``site_numbers``: the atomic numbers on each site): every element on a site with every one on each
    neighbour."""
    bonded = {(int(i), int(j)) for i, j in edge_index.T}
    names = {_pair(a, b) for i, j in bonded for a in site_numbers[i] for b in site_numbers[j]}
    return sorted(names - set(domain["shortest"]))


def _whole(value, where: str, least: int) -> int:
    try:
        x = float(value)
    except (TypeError, ValueError):
        x = float("nan")
    if isinstance(value, bool) or not (np.isfinite(x) and x == int(x) and x >= least):
        raise CalculatorParameterError(f"{where} must be a whole number >= {least}, got {value!r}")
    return int(x)


def requested_spin(atoms: Atoms) -> tuple[int | None, str]:
    """The spin 2S that ``atoms`` asks for and where it says so: ``atoms.info["spin"]`` (2S) or
    ``atoms.info["multiplicity"]`` (2S + 1); ``(None, "")`` when neither is given. Refused in one line
    when it is not a whole number, or the two disagree."""
    spin = atoms.info.get("spin")
    multiplicity = atoms.info.get("multiplicity")
    if spin is not None:
        spin = _whole(spin, 'atoms.info["spin"] (2S)', 0)
    if multiplicity is not None:
        from_multiplicity = _whole(multiplicity, 'atoms.info["multiplicity"] (2S + 1)', 1) - 1
        if spin is not None and spin != from_multiplicity:
            raise CalculatorParameterError(f'atoms.info["spin"] = {spin} (2S) and atoms.info["multiplicity"] = '
                                           f"{multiplicity} (2S + 1) disagree")
        return from_multiplicity, f'atoms.info["multiplicity"] = {multiplicity}'
    return spin, "" if spin is None else f'atoms.info["spin"] = {spin}'


def spin_of(numbers: np.ndarray, charge: float, spin: int | None = None) -> int | None:
    """2S of a structure: ``spin`` if given, else the lowest its electron count allows (0 even, 1 odd);
    None when the electron count is not a whole number."""
    if spin is not None:
        return int(spin)
    n = float(np.sum(numbers)) - float(charge)
    return int(round(n)) % 2 if abs(n - round(n)) < 1e-6 else None


def state_report(domain: dict, atoms: Atoms, charge: float) -> list[str]:
    """Why the electronic state of ``atoms`` with total ``charge`` lies outside the training range of 2S
    (``domain["spin"]``, :data:`CLOSED_SHELL` when absent); empty when it lies inside."""
    lo, hi = domain.get("spin", CLOSED_SHELL)
    training = "closed-shell singlets only (2S = 0)" if hi == 0 else f"2S in [{lo}, {hi}]"
    spin, source = requested_spin(atoms)
    reasons = []
    if spin is not None:
        if not lo <= spin <= hi:
            reasons.append(f"spin 2S = {spin} ({source}) outside the training range: the model has no spin input "
                           f"and saw {training}")
    else:
        implied = spin_of(atoms.numbers, charge)
        if implied is not None and not lo <= implied <= hi:
            n = int(round(float(atoms.numbers.sum()) - float(charge)))
            reasons.append(f"an odd electron count ({n}): an open-shell state (a radical, 2S >= 1) the model never saw "
                           f"(training: {training})")
    moments = atoms.arrays.get("initial_magmoms")
    if moments is not None and hi == 0 and np.any(np.abs(moments) > 1e-6):
        nonzero = int((np.abs(np.reshape(moments, (len(atoms), -1))) > 1e-6).any(axis=1).sum())
        reasons.append(f"initial magnetic moments on {nonzero} atom(s) (an open-shell state; training: {training})")
    return reasons
