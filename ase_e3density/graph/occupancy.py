"""Site occupancies: which elements, in which fractions, sit on each site of a crystal.

An ordered crystal has one element per site. A substitutional alloy written as one cell with
partial occupancies (the virtual crystal) has several: ASE's CIF reader keeps one atom per site
(the majority element) and puts the fractions in ``atoms.info["occupancy"]`` as {site key: {symbol:
fraction}}, each atom's key being the CIF site it came from (``atoms.arrays["spacegroup_kinds"]``;
atoms without that array use their tags); users may also pass fractions per atom. :func:`site_occupancy` turns either into
a (n_atoms, n_species) matrix of fractions over a model's species.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers

from ..errors import E3DensityError, UnsupportedElementError

__all__ = ["site_occupancy", "partial_sites", "occupancy_per_atom", "set_occupancy_per_atom", "occupancy_formula",
           "composition", "crystal_formula", "electronegativity_order", "PAULING_ELECTRONEGATIVITY",
           "OCCUPANCY_TOLERANCE"]

OCCUPANCY_TOLERANCE = 1e-3
"""How far a site's fractions may sum from 1 (CIF files write 1/3 as 0.333)."""


def _per_atom(atoms: Atoms, occupancy) -> list[Mapping[str, float] | None]:
    """One {symbol: fraction} (or None: the atom's own element) per atom."""
    n = len(atoms)
    if occupancy is None:
        table = atoms.info.get("occupancy")
        if not table:
            return [None] * n
        if not isinstance(table, Mapping):
            raise E3DensityError("atoms.info['occupancy'] must map site tags to {symbol: fraction}")
        keys = atoms.arrays["spacegroup_kinds"] if "spacegroup_kinds" in atoms.arrays else atoms.get_tags()
        return [table.get(str(key), table.get(key)) for key in np.asarray(keys).tolist()]
    if isinstance(occupancy, Mapping):
        bad = [k for k in occupancy if not isinstance(k, (int, np.integer)) or not 0 <= int(k) < n]
        if bad:
            raise E3DensityError(f"occupancy keys are atom indices 0..{n - 1}, got {bad[:5]}")
        return [occupancy.get(i) for i in range(n)]
    if isinstance(occupancy, Sequence) and not isinstance(occupancy, (str, bytes)):
        if len(occupancy) != n:
            raise E3DensityError(f"occupancy has {len(occupancy)} entries for {n} atoms")
        return list(occupancy)
    raise E3DensityError("occupancy must be None, {atom index: {symbol: fraction}} or one {symbol: fraction} "
                         f"(or None) per atom, not {type(occupancy).__name__}")


def occupancy_per_atom(atoms: Atoms) -> list[dict[str, float] | None] | None:
    """``atoms.info["occupancy"]`` (keyed by CIF site) as one {symbol: fraction} or None (the atom's own
    element) per atom, which survives any store of the atoms; None when the atoms have no occupancies."""
    if not atoms.info.get("occupancy"):
        return None
    return [None if site is None else {str(k): float(v) for k, v in site.items()} for site in _per_atom(atoms, None)]


def set_occupancy_per_atom(atoms: Atoms, sites: Sequence[Mapping[str, float] | None]) -> None:
    """The inverse of :func:`occupancy_per_atom`: ``atoms.info["occupancy"]`` keyed by atom index, through
    the tags (set to 0, 1, ...; a CIF's ``spacegroup_kinds`` array, which would take precedence, is dropped)."""
    if len(sites) != len(atoms):
        raise E3DensityError(f"{len(sites)} site occupancies for {len(atoms)} atoms")
    atoms.arrays.pop("spacegroup_kinds", None)
    atoms.set_tags(np.arange(len(atoms)))
    atoms.info["occupancy"] = {str(i): dict(site) for i, site in enumerate(sites) if site}


def site_occupancy(atoms: Atoms, species: Sequence[str], occupancy=None) -> np.ndarray:
    """Fractions (n_atoms, len(species)) of each species on each site; rows sum to 1.

    ``occupancy``: None (read ``atoms.info["occupancy"]`` by CIF site, else one element per site),
    ``{atom index: {symbol: fraction}}``, or a list with one ``{symbol: fraction}`` or None per atom.
    Fractions must be >= 0 and sum to 1 within :data:`OCCUPANCY_TOLERANCE` (vacancies are not
    modelled); every element must be one of ``species``.
    """
    index = {s: k for k, s in enumerate(species)}
    symbols = atoms.get_chemical_symbols()
    out = np.zeros((len(atoms), len(species)))
    missing: set[str] = set()
    for i, site in enumerate(_per_atom(atoms, occupancy)):
        if site is None:
            site = {symbols[i]: 1.0}
        if not isinstance(site, Mapping) or not site:
            raise E3DensityError(f"site {i}: occupancy must be a non-empty {{symbol: fraction}}, got {site!r}")
        total = 0.0
        for symbol, fraction in site.items():
            if symbol not in atomic_numbers:
                raise E3DensityError(f"site {i}: unknown element {symbol!r} in its occupancy")
            try:
                x = float(fraction)
            except (TypeError, ValueError):
                raise E3DensityError(f"site {i}: occupancy of {symbol} must be a number, got {fraction!r}") from None
            if not (np.isfinite(x) and x >= 0):
                raise E3DensityError(f"site {i}: occupancy of {symbol} must be a finite fraction >= 0, got {x}")
            if symbol not in index:
                if x > 0:
                    missing.add(symbol)
                continue
            out[i, index[symbol]] += x
            total += x
        if missing:
            continue
        if abs(total - 1.0) > OCCUPANCY_TOLERANCE:
            raise E3DensityError(f"site {i}: occupancies sum to {total:.4g}, not 1 (vacancies are not modelled; "
                                 "give every element's fraction)")
        out[i] /= total
    if missing:
        raise UnsupportedElementError(f"element(s) {', '.join(sorted(missing))} not supported by this model; "
                                      f"supported: {' '.join(species)}")
    return out


# Pauling electronegativities (dimensionless) of the elements the shipped models cover (H to Pu, no noble
# gases): L. Pauling, The Nature of the Chemical Bond, 3rd ed. (Cornell University Press, 1960), with the
# revised values of A. L. Allred, J. Inorg. Nucl. Chem. 17, 215 (1961), as tabulated in the CRC Handbook of
# Chemistry and Physics ("Electronegativity"). They only order the elements of a crystal's composition.
PAULING_ELECTRONEGATIVITY: dict[str, float] = {
    "H": 2.20, "Li": 0.98, "Be": 1.57, "B": 2.04, "C": 2.55, "N": 3.04, "O": 3.44, "F": 3.98,
    "Na": 0.93, "Mg": 1.31, "Al": 1.61, "Si": 1.90, "P": 2.19, "S": 2.58, "Cl": 3.16,
    "K": 0.82, "Ca": 1.00, "Sc": 1.36, "Ti": 1.54, "V": 1.63, "Cr": 1.66, "Mn": 1.55, "Fe": 1.83, "Co": 1.88,
    "Ni": 1.91, "Cu": 1.90, "Zn": 1.65, "Ga": 1.81, "Ge": 2.01, "As": 2.18, "Se": 2.55, "Br": 2.96,
    "Rb": 0.82, "Sr": 0.95, "Y": 1.22, "Zr": 1.33, "Nb": 1.60, "Mo": 2.16, "Tc": 1.90, "Ru": 2.20, "Rh": 2.28,
    "Pd": 2.20, "Ag": 1.93, "Cd": 1.69, "In": 1.78, "Sn": 1.96, "Sb": 2.05, "Te": 2.10, "I": 2.66,
    "Cs": 0.79, "Ba": 0.89, "La": 1.10, "Ce": 1.12, "Pr": 1.13, "Nd": 1.14, "Pm": 1.13, "Sm": 1.17, "Eu": 1.20,
    "Gd": 1.20, "Tb": 1.10, "Dy": 1.22, "Ho": 1.23, "Er": 1.24, "Tm": 1.25, "Yb": 1.10, "Lu": 1.27,
    "Hf": 1.30, "Ta": 1.50, "W": 2.36, "Re": 1.90, "Os": 2.20, "Ir": 2.20, "Pt": 2.28, "Au": 2.54, "Hg": 2.00,
    "Tl": 1.62, "Pb": 2.33, "Bi": 2.02, "Ac": 1.10, "Th": 1.30, "Pa": 1.50, "U": 1.38, "Np": 1.36, "Pu": 1.28,
}


def electronegativity_order(symbols: Iterable[str]) -> list[str]:
    """The distinct ``symbols`` by ascending Pauling electronegativity, ties by symbol (cations first, as
    materials scientists write TiN, KCl, Ti0.75V0.25N); an element without a value goes last."""
    return sorted(set(symbols), key=lambda s: (PAULING_ELECTRONEGATIVITY.get(s, math.inf), s))


def _formula_text(amounts: Mapping[str, float]) -> str:
    """Symbols in :func:`electronegativity_order`, each followed by its amount (4 significant digits;
    whole amounts as integers; 1 left out), e.g. "Ti0.75V0.25N", "Ti4N4"."""
    parts = []
    for symbol in electronegativity_order(s for s, x in amounts.items() if x > 0):
        x = float(amounts[symbol])
        text = str(int(round(x))) if abs(x - round(x)) < 1e-9 else f"{x:.4g}"
        parts.append(symbol if text == "1" else symbol + text)
    return "".join(parts)


def occupancy_formula(fractions: np.ndarray, species: Sequence[str]) -> str:
    """The composition of a crystal from its site fractions (n_atoms, len(species)), per formula unit:
    the summed fractions divided by the number of formula units (the greatest common divisor of how often
    each distinct site occurs), e.g. "Cu0.3Ni0.7" for a virtual fcc CuNi cell of 4 sites,
    "KBr0.5Cl0.5" for K(Cl0.5Br0.5) in rock salt; elements in :func:`electronegativity_order`, counts of 1
    left out."""
    from math import gcd

    fractions = np.asarray(fractions, dtype=float)
    if len(fractions) == 0:
        return ""
    _, counts = np.unique(np.round(fractions, 6), axis=0, return_counts=True)
    units = 0
    for c in counts:
        units = gcd(units, int(c))
    return _formula_text(dict(zip(species, fractions.sum(axis=0) / max(units, 1))))


def crystal_formula(atoms: Atoms) -> str:
    """ASE's (Hill) formula of the cell (``atoms.get_chemical_formula()``) for an ordered structure, a
    molecule or a crystal; for a virtual crystal (partial occupancies in ``atoms.info["occupancy"]``) its
    composition per formula unit (:func:`occupancy_formula`), e.g. "Cu0.5Ni0.5" where the cell alone reads
    "Ni4". Occupancies that cannot be read give the cell's formula."""
    if not atoms.info.get("occupancy"):
        return atoms.get_chemical_formula()
    try:
        table = _per_atom(atoms, None)
        found = set(atoms.get_chemical_symbols()) | {k for site in table if site for k in site}
        species = sorted(found, key=lambda s: atomic_numbers.get(s, 0))
        fractions = site_occupancy(atoms, species)
    except (E3DensityError, TypeError, AttributeError):
        return atoms.get_chemical_formula()
    if _ordered(fractions):
        return atoms.get_chemical_formula()
    return occupancy_formula(fractions, species)


def _ordered(fractions: np.ndarray) -> bool:
    return bool(np.all((fractions == 0) | (fractions == 1)))


def composition(atoms: Atoms, fractions: np.ndarray, species: Sequence[str]) -> str:
    """A crystal's composition, elements in :func:`electronegativity_order`: the cell's formula when every
    site holds one element ("Ti4N4", where ASE's Hill formula reads "N4Ti4"), else the composition per
    formula unit (:func:`occupancy_formula`) of the site ``fractions`` (n_atoms, len(species))."""
    if _ordered(fractions):
        return _formula_text(atoms.symbols.formula.count())
    return occupancy_formula(fractions, species)


def partial_sites(atoms: Atoms) -> list[tuple[int, dict]]:
    """(atom index, {symbol: fraction}) of every site whose ``atoms.info["occupancy"]`` is not its own
    element at fraction 1 (a mixed or partly vacant site); empty for an ordered structure."""
    out = []
    symbols = atoms.get_chemical_symbols()
    for i, site in enumerate(_per_atom(atoms, None)):
        if site is None:
            continue
        if not isinstance(site, Mapping):
            out.append((i, {"?": site}))
            continue
        present = {}
        for symbol, fraction in site.items():
            try:
                x = float(fraction)
            except (TypeError, ValueError):
                x = float("nan")
            if not x == 0.0:
                present[symbol] = x
        if set(present) != {symbols[i]} or abs(present[symbols[i]] - 1.0) > OCCUPANCY_TOLERANCE:
            out.append((i, present))
    return out
