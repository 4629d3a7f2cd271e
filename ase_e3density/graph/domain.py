"""The training domain of a model, from the graphs it was trained on, and checks against it.

Recorded at deployment (metadata key ``domain``) and checked on every prediction. A structure is
flagged (never refused: it may be exactly what the user wants to extrapolate to) when

- its total charge lies outside the range seen in training;
- two atoms are closer than ``0.9`` x the shortest distance seen for their pair of elements, or a
  pair of elements meets within the cutoff that never did in training;
- an atom's nearest neighbour is farther than ``1.5`` x the farthest nearest neighbour seen for its
  element (isolated atoms included);
- an atom has more than ``1.5`` x the most neighbours within the cutoff seen for its element;
- (domains with ``environments``, density models trained since they were recorded) an atom's bonding
  environment, its element and its bonded neighbours' elements (:mod:`.environments`), never occurred in
  training;
- (electron-density models) its spin state lies outside the training range of 2S (key ``spin``): a
  spin asked for in ``atoms.info["spin"]`` (2S) or ``atoms.info["multiplicity"]`` (2S + 1), initial
  magnetic moments, or an odd electron count (a radical) for a model trained on closed-shell singlets.
  Files deployed before the key existed were all trained on closed-shell molecules: they count as
  ``spin: [0, 0]`` (:data:`CLOSED_SHELL`).

Phonon-DOS models (:func:`crystal_report`) apply these tests, and the element pairs of a virtual crystal's
mixed sites, only when their file records no ``warnings``; files trained since the warnings were calibrated
(``domain["warnings"]``, :data:`PHONON_WARNINGS`) flag light atoms and gross geometry only
(:func:`light_atom_report`).
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from ase import Atoms
from ase.data import atomic_masses, atomic_numbers, chemical_symbols

from ..errors import CalculatorParameterError
from .environments import MAX_ELEMENTS, EnvironmentTable, environment_names, recorded_environments

__all__ = ["domain_of", "domain_report", "inside_domain", "inside_domains", "outside_atoms", "edge_lengths",
           "requested_spin", "spin_of", "periodic_report", "state_report", "unseen_site_pairs", "element_crystals",
           "crystal_domain_of", "with_phonon_warnings", "crystal_report", "pair_report", "light_atom_report", "SHORT_FACTOR", "FAR_FACTOR",
           "CROWD_FACTOR", "CLOSED_SHELL", "PHONON_WARNINGS"]

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


def domain_of(graphs: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray, float]], cutoff: float,
              environments: bool = False) -> dict:
    """Domain statistics from (atomic numbers, edge_index, edge lengths, total charge) per structure;
    ``environments``: also every bonding environment seen (:func:`.environments.recorded_environments`)."""
    seen: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    shortest: dict[str, float] = {}
    farthest_nearest: dict[str, float] = {}
    most: dict[str, int] = {}
    charges = []
    for numbers, edge_index, lengths, charge in graphs:
        charges.append(float(charge))
        if environments:
            seen.append((numbers, edge_index, lengths))
        receiver, sender = edge_index
        for key, d in zip((_pair(a, b) for a, b in zip(numbers[receiver], numbers[sender])), lengths):
            shortest[key] = min(shortest.get(key, np.inf), float(d))
        counts, nearest = _graph_stats(numbers, edge_index, lengths)
        for z, c, n in zip(numbers, counts, nearest):
            s = chemical_symbols[int(z)]
            most[s] = max(most.get(s, 0), int(c))
            farthest_nearest[s] = max(farthest_nearest.get(s, 0.0), float(min(n, cutoff)))
    domain = {"cutoff": float(cutoff), "charge": [round(min(charges), 6), round(max(charges), 6)], "shortest": shortest,
              "farthest_nearest": farthest_nearest, "most_neighbours": most}
    if environments and len(farthest_nearest) <= MAX_ELEMENTS:
        domain["environments"] = recorded_environments(seen)
    return domain


_TABLES: dict[int, tuple[dict, tuple | None]] = {}


def _tables(domain: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray, EnvironmentTable | None] | None:
    """The domain as arrays by atomic number: shortest distance per pair (NaN: never met), farthest
    nearest neighbour and most neighbours per element (inf: not recorded), and its bonding environments
    (None: not recorded). Kept per domain dict (models hold theirs for life); None when a name is not an
    element."""
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
        recorded = domain.get("environments")
        environments = None if recorded is None else EnvironmentTable(recorded, domain["farthest_nearest"])
        tables = pairs, farthest, most, environments
    except (KeyError, ValueError, AttributeError):
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
    pairs, farthest, most, environments = tables
    receiver, sender = edge_index
    seen = pairs[numbers[receiver], numbers[sender]]
    odd = np.isnan(seen) | (lengths < SHORT_FACTOR * seen)
    out = np.bincount(receiver[odd], minlength=len(numbers)) > 0
    out |= np.bincount(receiver, minlength=len(numbers)) > CROWD_FACTOR * most[numbers]
    reach = FAR_FACTOR * farthest[numbers]  # isolated: no neighbour within reach (nearest capped at the cutoff)
    close = np.bincount(receiver[lengths <= reach[receiver]], minlength=len(numbers)) > 0
    out |= (reach < domain["cutoff"]) & ~close
    if environments is not None:
        out |= environments.unseen(numbers, edge_index, lengths)
    return out


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
    lo, hi = domain["charge"][0] + 0.0, domain["charge"][1] + 0.0  # + 0.0: no "-0" in the message
    if not lo - 1e-6 <= charge <= hi + 1e-6:
        reasons.append(f"total charge {charge:+g} outside the training range [{lo:+g}, {hi:+g}]")
    names, inverse = _pair_names(numbers, edge_index)
    unseen = sorted(set(names) - set(domain["shortest"]))
    if unseen:
        reasons.append(f"element pairs {', '.join(unseen)} within {domain['cutoff']:g} Å never met in training")
    closer = _closer_reason(domain, lengths, names, inverse, SHORT_FACTOR, "closer than in training")
    isolated = _isolated_reason(domain, numbers, edge_index, lengths, FAR_FACTOR, "more isolated than in training")
    crowded = _crowded_reason(domain, numbers, edge_index, lengths, CROWD_FACTOR, "more crowded than in training")
    unseen_environments = _environment_reason(domain, numbers, edge_index, lengths)
    return reasons + [r for r in (closer, isolated, crowded, unseen_environments) if r]


def _environment_reason(domain: dict, numbers: np.ndarray, edge_index: np.ndarray, lengths: np.ndarray) -> str | None:
    """The atoms in bonding environments never seen in training, in one sentence naming up to three of them
    with their first atom; None when there are none or the domain records no environments."""
    tables = _tables(domain)
    if tables is None or tables[3] is None:
        return None
    table = tables[3]
    unseen = np.flatnonzero(table.unseen(numbers, edge_index, lengths))
    if not len(unseen):
        return None
    names = environment_names(numbers, edge_index, lengths, table.bond_scale)
    atoms: dict[str, list[int]] = {}
    for a in unseen.tolist():
        atoms.setdefault(names[a], []).append(a)
    shown = ", ".join(f"{name} (atom{'s' if len(found) > 1 else ''} {', '.join(map(str, found[:4]))}"
                      f"{', ...' if len(found) > 4 else ''})" for name, found in list(atoms.items())[:3])
    more = f" and {len(atoms) - 3} more" if len(atoms) > 3 else ""
    return (f"{len(unseen)} atom(s) in bonding environments never seen in training (element[bonded neighbours]): "
            f"{shown}{more}")


def _pair_names(numbers: np.ndarray, edge_index: np.ndarray) -> tuple[list[str], np.ndarray]:
    """The element pairs of a graph's edges: one name per pair present ("Cu-Ni") and each edge's index into them."""
    receiver, sender = edge_index
    z_r, z_s = numbers[receiver], numbers[sender]
    codes, inverse = np.unique(np.minimum(z_r, z_s) * 1000 + np.maximum(z_r, z_s), return_inverse=True)
    names = [_pair(c // 1000, c % 1000) for c in codes.tolist()]  # one string per pair of elements, not per edge
    return names, inverse.reshape(-1)


def _closer_reason(domain: dict, lengths: np.ndarray, names: list[str], inverse: np.ndarray, factor: float,
                   what: str) -> str | None:
    """The pairs closer than ``factor`` x the shortest distance seen in training for their elements (pairs never
    met are not compared), in one sentence that names the closest; None when there are none."""
    seen = np.array([domain["shortest"].get(p, 0.0) for p in names] or [0.0])[inverse]
    short = np.flatnonzero(lengths < factor * seen)
    if not len(short):
        return None
    k = short[np.argmin(lengths[short] / seen[short])]
    return (f"{len(short) // 2 or 1} pair(s) {what}: {names[inverse[k]]} at {lengths[k]:.3g} Å "
            f"(training: >= {seen[k]:.3g} Å)")


def _isolated_reason(domain: dict, numbers: np.ndarray, edge_index: np.ndarray, lengths: np.ndarray, factor: float,
                     what: str) -> str | None:
    """The atoms whose nearest neighbour lies farther than ``factor`` x the farthest nearest neighbour seen for
    their element (capped at the cutoff), in one sentence; None when there are none."""
    _, nearest = _graph_stats(numbers, edge_index, lengths)
    nearest = np.minimum(nearest, domain["cutoff"])
    elements, of_atom = np.unique(numbers, return_inverse=True)
    of_atom = of_atom.reshape(-1)
    symbols = [chemical_symbols[int(z)] for z in elements]
    farthest = np.array([domain["farthest_nearest"].get(s, np.inf) for s in symbols])[of_atom]
    far = np.flatnonzero(nearest > factor * farthest)
    if not len(far):
        return None
    a = int(far[0])
    s_a = symbols[of_atom[a]]
    return (f"{len(far)} atom(s) {what}: atom {a} ({s_a}) has its nearest neighbour at "
            f"{'>' if nearest[a] >= domain['cutoff'] else ''}{nearest[a]:.3g} Å "
            f"(training: <= {domain['farthest_nearest'][s_a]:.3g} Å)")


def _crowded_reason(domain: dict, numbers: np.ndarray, edge_index: np.ndarray, lengths: np.ndarray, factor: float,
                    what: str) -> str | None:
    """The atoms with more than ``factor`` x the most neighbours within the cutoff seen for their element, in one
    sentence that names the most crowded; None when there are none."""
    counts, _ = _graph_stats(numbers, edge_index, lengths)
    elements, of_atom = np.unique(numbers, return_inverse=True)
    of_atom = of_atom.reshape(-1)
    symbols = [chemical_symbols[int(z)] for z in elements]
    most = np.array([domain["most_neighbours"].get(s, np.inf) for s in symbols], dtype=float)[of_atom]
    crowded = np.flatnonzero(counts > factor * most)
    if not len(crowded):
        return None
    a = int(crowded[np.argmax(counts[crowded])])
    s_a = symbols[of_atom[a]]
    return (f"{len(crowded)} atom(s) {what}: atom {a} ({s_a}) has {counts[a]} neighbours within "
            f"{domain['cutoff']:g} Å (training: <= {domain['most_neighbours'][s_a]})")


def unseen_site_pairs(domain: dict, site_numbers: list[np.ndarray], edge_index: np.ndarray) -> list[str]:
    """Element pairs never met in training, when a site may hold several elements (a virtual crystal's
    ``site_numbers``: the atomic numbers on each site): every element on a site with every one on each
    neighbour."""
    bonded = {(int(i), int(j)) for i, j in edge_index.T}
    names = {_pair(a, b) for i, j in bonded for a in site_numbers[i] for b in site_numbers[j]}
    return sorted(names - set(domain["shortest"]))


PHONON_WARNINGS = {"light_mass": 20.0, "short_factor": 0.75, "crowd_factor": 2.0, "far_factor": 1.5}
"""The calibrated warning rule of phonon-DOS models (``domain["warnings"]`` of their files; the numbers behind
it: docs/phonon_model.md, "Domain warnings", from ``scripts/phonon_warning_calibration.py``): atoms lighter than
``light_mass`` (amu), pairs closer than ``short_factor`` x the shortest distance seen in training for their
elements, atoms with more than ``crowd_factor`` x the most neighbours seen for their element, atoms whose nearest
neighbour lies beyond ``far_factor`` x the farthest seen. Element pairs never met in training are not flagged:
with a few hundred training crystals almost every new compound has one, and they did not foretell large errors."""


def element_crystals(crystals: Iterable[Iterable[str]]) -> dict[str, int]:
    """How many of ``crystals`` (each given by the element symbols on its sites) hold each element."""
    counts: dict[str, int] = {}
    for symbols in crystals:
        for s in set(symbols):
            counts[s] = counts.get(s, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: atomic_numbers[item[0]]))


def crystal_domain_of(graphs: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray, float]], cutoff: float,
                      crystals: Iterable[Iterable[str]]) -> dict:
    """The training domain of a phonon-DOS model: :func:`domain_of` of the training graphs, the number of
    training crystals that hold each element (``element_crystals``; ``crystals``: each crystal's element
    symbols) and the warning rule's settings (``warnings``: :data:`PHONON_WARNINGS`)."""
    return with_phonon_warnings(domain_of(graphs, cutoff), element_crystals(crystals))


def with_phonon_warnings(domain: dict, crystals_per_element: dict[str, int], settings: dict | None = None) -> dict:
    """A copy of a phonon model's ``domain`` that holds ``element_crystals`` and the warning rule's ``settings``
    (default :data:`PHONON_WARNINGS`): the fields :func:`crystal_report` reads to apply the calibrated rule."""
    return {**domain, "element_crystals": dict(crystals_per_element), "warnings": dict(settings or PHONON_WARNINGS)}


def crystal_report(domain: dict, numbers: np.ndarray, site_numbers: list[np.ndarray], edge_index: np.ndarray,
                   lengths: np.ndarray) -> list[str]:
    """Why a crystal lies outside a phonon model's ``domain`` (empty: inside). ``site_numbers``: the atomic
    numbers on each site (several on a virtual crystal's mixed sites). A domain with ``warnings`` (recorded by
    trainers since the rule was calibrated) gets :func:`light_atom_report`; one without (older files) the rule
    it was deployed with, :func:`pair_report`."""
    if "warnings" in domain:
        return light_atom_report(domain, numbers, site_numbers, edge_index, lengths)
    return pair_report(domain, numbers, site_numbers, edge_index, lengths)


def pair_report(domain: dict, numbers: np.ndarray, site_numbers: list[np.ndarray], edge_index: np.ndarray,
                lengths: np.ndarray) -> list[str]:
    """The rule of phonon files without ``warnings``: :func:`domain_report` (element pairs never met within the
    cutoff, closer pairs, isolated and crowded atoms) and, for a virtual crystal, the element pairs of every
    element on a site with every element on its neighbours (:func:`unseen_site_pairs`)."""
    reasons = domain_report(domain, numbers, edge_index, lengths, 0.0)
    if any(len(site) > 1 for site in site_numbers):  # a virtual crystal: its minority elements are not in numbers
        unseen = unseen_site_pairs(domain, site_numbers, edge_index)
        if unseen and not any(r.startswith("element pairs") for r in reasons):
            reasons.insert(0, f"element pairs {', '.join(unseen)} (of the virtual crystal's sites) within "
                              f"{domain['cutoff']:g} Å never met in training")
    return reasons


def light_atom_report(domain: dict, numbers: np.ndarray, site_numbers: list[np.ndarray], edge_index: np.ndarray,
                      lengths: np.ndarray) -> list[str]:
    """The calibrated rule (``domain["warnings"]``, defaults :data:`PHONON_WARNINGS`): elements lighter than
    ``light_mass`` on any site (standard masses, amu), pairs far closer than in training, atoms far more crowded
    or more isolated than in training."""
    settings = {**PHONON_WARNINGS, **domain["warnings"]}
    numbers = np.asarray(numbers)
    reasons = []
    present = sorted({int(z) for site in site_numbers for z in np.atleast_1d(site)})
    light = [z for z in present if atomic_masses[z] < settings["light_mass"]]
    if light:
        named = ", ".join(f"{chemical_symbols[z]} ({atomic_masses[z]:.3g} amu)" for z in light)
        reasons.append(f"atoms lighter than {settings['light_mass']:g} amu: {named}; the high-frequency modes of light "
                       "atoms are where this model's DOS and heat capacity are most often badly off")
    names, inverse = _pair_names(numbers, edge_index)
    short, far, crowd = settings["short_factor"], settings["far_factor"], settings["crowd_factor"]
    found = (_closer_reason(domain, lengths, names, inverse, short,
                            f"much closer than in training (< {short:g} x the shortest distance seen for the pair)"),
             _isolated_reason(domain, numbers, edge_index, lengths, far, "more isolated than in training"),
             _crowded_reason(domain, numbers, edge_index, lengths, crowd,
                             f"far more crowded than in training (> {crowd:g} x the most neighbours seen)"))
    return reasons + [r for r in found if r]


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


def periodic_report(domain: dict, shifts: np.ndarray) -> list[str]:
    """Why a graph with edges to periodic images (nonzero ``shifts``, in cells) lies outside a domain of
    isolated structures (``domain["periodic"]`` false or absent); empty when it lies inside."""
    shifts = np.asarray(shifts)
    if domain.get("periodic", False) or not shifts.size or not np.any(shifts != 0):
        return []
    return [f"periodic images within the cutoff ({domain['cutoff']:g} Å) of atoms in the cell: the model saw "
            "isolated molecules and clusters only (no periodic cells)"]


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
