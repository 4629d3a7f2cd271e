"""Make the crystals of the phonon-DOS training set: ordered prototypes and small random alloys, built locally.

Command (a second or two; no downloads; deterministic from the seed):
    python scripts/make_phonon_crystals.py --seed 2026 -o data/phonons/crystals.extxyz

What it builds (every structure an extxyz frame with info ``name``, ``prototype``, ``alloy`` 0/1 and, for
alloys, ``composition``; the phonon reference generator relaxes positions and cell, so the lattice
constants here are starting guesses):

- elements in their ground-state lattice: fcc, bcc, hcp, diamond (ASE's reference lattice constants);
- binary and ternary compounds by prototype: rocksalt (alkali halides, alkaline-earth chalcogenides,
  transition-metal carbides and nitrides, silver halides), zincblende (III-V, II-VI, I-VII, SiC), wurtzite,
  CsCl (B2: caesium and thallium halides, intermetallics), fluorite and antifluorite, rutile, cubic
  perovskite ABX3 (tolerance factor near 1), L1_2 (A3B), L1_0 (AB) and full Heusler L2_1 (A2BC)
  intermetallics; charge-balanced ionic compounds, intermetallics from metals known to form them;
- substitutional alloys, 8-atom cells (fcc 2x1x1 and bcc 2x2x1 conventional cells; the conventional cubic
  cell of diamond, zincblende and rocksalt) with the species placed at random (numpy
  generator seeded with ``--seed``): fcc, bcc, diamond, and one sublattice of zincblende and rocksalt, each at
  x = 0.25, 0.5, 0.75.

Starting lattice constants: elements from ``ase.data.reference_states``; ionic compounds from sums of
Shannon ionic radii (6-coordinate); covalent compounds from sums of ASE's covalent radii;
intermetallics and alloys from the mean atomic volume of their elements (Vegard's rule on volume).
Primitive cells for the ordered crystals (ASE's ``bulk`` and ``crystal(..., primitive_cell=True)``).

Left out on purpose: magnetic cases (Fe, Co, Mn, Cr and their compounds, magnetic oxides and fluorides)
and crystals known to be dynamically unstable in the cubic or rutile structure with the machine-learned
potentials used here (cubic SrTiO3 and BaTiO3, rutile TiO2, PbTe, cubic ZrO2 and HfO2, B2 NiTi); every element is
one SevenNet-0 covers (H to Bi, Ac to Pu).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.build import bulk
from ase.data import atomic_numbers, covalent_radii, reference_states
from ase.io import write
from ase.spacegroup import crystal

# Shannon ionic radii, 6-coordinate, Å (approximate; only starting guesses)
IONIC = {"Li": 0.76, "Na": 1.02, "K": 1.38, "Rb": 1.52, "Cs": 1.67, "Ag": 1.15, "Tl": 1.50, "Cu": 0.77,
         "Mg": 0.72, "Ca": 1.00, "Sr": 1.18, "Ba": 1.35, "Zn": 0.74, "Cd": 0.95, "Pb": 1.19, "Hg": 1.02,
         "Sn": 0.69, "Ti": 0.605, "Zr": 0.72, "Hf": 0.71, "Ge": 0.53, "Si": 0.40, "Ru": 0.62, "Ir": 0.625,
         "Os": 0.63, "Ce": 0.87, "Th": 0.94, "Sc": 0.745, "Y": 0.90, "Nb": 0.64, "Ta": 0.64,
         "F": 1.33, "Cl": 1.81, "Br": 1.96, "I": 2.20, "O": 1.40, "S": 1.84, "Se": 1.98, "Te": 2.21}

ELEMENTS = {
    "fcc": ["Al", "Ni", "Cu", "Ag", "Au", "Pd", "Pt", "Pb", "Rh", "Ir", "Ca", "Sr"],
    "bcc": ["Li", "Na", "K", "Rb", "Cs", "Ba", "V", "Nb", "Ta", "Mo", "W"],
    "hcp": ["Be", "Mg", "Sc", "Ti", "Zr", "Hf", "Y", "Zn", "Cd", "Ru", "Os", "Re", "Tl"],
    "diamond": ["C", "Si", "Ge", "Sn"],
}
ROCKSALT = (["LiF", "LiCl", "LiBr", "LiI", "NaF", "NaCl", "NaBr", "NaI", "KF", "KCl", "KBr", "KI",
             "RbCl", "RbBr", "RbI", "AgCl", "AgBr"]
            + ["MgO", "CaO", "SrO", "BaO", "MgS", "CaS", "SrS", "BaS", "CaSe", "SrSe", "BaSe", "SrTe", "CdO", "PbS", "PbSe"]
            + ["TiC", "ZrC", "HfC", "VC", "NbC", "TaC", "TiN", "ZrN", "HfN", "ScN"])
ZINCBLENDE = ["BN", "BP", "BAs", "AlP", "AlAs", "AlSb", "GaP", "GaAs", "GaSb", "InP",
              "InAs", "InSb", "ZnS", "ZnSe", "ZnTe", "CdS", "CdSe", "CdTe", "CuCl", "CuI", "AgI", "SiC"]
WURTZITE = ["AlN", "GaN", "ZnO", "ZnS", "CdS", "CdSe", "AgI"]
CSCL_IONIC = ["CsCl", "CsBr", "CsI", "TlCl", "TlBr", "TlI"]
B2 = ["NiAl", "CuZn", "AgMg", "AuMg", "CuPd", "RuAl", "IrAl", "ScCu", "YCu", "ScAg", "YAg", "YZn",
      "AgZn", "PdBe", "LiTl"]
FLUORITE = ["CaF2", "SrF2", "BaF2", "CdF2", "PbF2", "HgF2", "CeO2", "ThO2", "NiSi2"]
ANTIFLUORITE = ["Li2O", "Na2O", "K2O", "Rb2O", "Li2S", "Na2S", "K2S", "Li2Se", "Na2Se"]
RUTILE = ["SnO2", "GeO2", "RuO2", "MgF2", "ZnF2"]
PEROVSKITE = [("K", "Mg", "F"), ("K", "Zn", "F"), ("Rb", "Ca", "F"), ("Cs", "Ca", "F"), ("Cs", "Cd", "F"),
              ("Ba", "Zr", "O"), ("Ba", "Hf", "O"), ("Ba", "Sn", "O"), ("Cs", "Ca", "Cl")]
L12 = [("Cu", "Au"), ("Ni", "Al"), ("Ni", "Ga"), ("Pt", "Al"), ("Pt", "Sn"), ("Pt", "Ti"), ("Al", "Sc"),
       ("Al", "Zr"), ("Al", "Li"), ("Ir", "Nb")]
L10 = [("Cu", "Au"), ("Ni", "Pt"), ("Pd", "Zn"), ("Pt", "Zn"), ("Ti", "Al"), ("Pd", "Cd")]
HEUSLER = [("Ni", "Ti", "Al"), ("Ni", "Zr", "Al"), ("Ni", "Ti", "Sn"), ("Ni", "Zr", "Sn"), ("Pd", "Ti", "Al"),
           ("Pd", "Zr", "Al"), ("Cu", "Ti", "Al"), ("Ru", "Ti", "Si")]
ALLOYS = [  # (lattice, fixed sublattice species or None, alloying pair)
    ("fcc", None, ("Cu", "Ni")), ("fcc", None, ("Cu", "Au")), ("fcc", None, ("Pd", "Pt")),
    ("bcc", None, ("Mo", "W")), ("diamond", None, ("Si", "Ge")), ("zincblende", "As", ("Al", "Ga")),
    ("zincblende", "Zn", ("S", "Se")), ("rocksalt", "K", ("Cl", "Br")), ("rocksalt", "Cl", ("Na", "K")),
]
FRACTIONS = (0.25, 0.5, 0.75)


def split(formula: str) -> list[str]:
    """['Ga', 'As'] for 'GaAs', ['Mg', 'Si'] for 'Mg2Si' (element symbols in order; counts dropped)."""
    import re

    return re.findall(r"[A-Z][a-z]?", formula)


def atomic_volume(el: str) -> float:
    """Volume per atom (Å^3) of the element's reference lattice; fcc packing of covalent spheres otherwise."""
    ref = reference_states[atomic_numbers[el]] or {}
    sym, a = ref.get("symmetry"), ref.get("a")
    if sym == "fcc":
        return a**3 / 4
    if sym == "bcc":
        return a**3 / 2
    if sym == "hcp":
        return a * a * ref["c/a"] * a * np.sqrt(3) / 4
    if sym == "diamond":
        return a**3 / 8
    d = 2 * covalent_radii[atomic_numbers[el]]
    return d**3 / np.sqrt(2)


def fcc_a(elements: list[str]) -> float:
    """Cubic lattice constant of an fcc-based cell of 4 atoms with these elements' mean volume (Vegard)."""
    return (4 * np.mean([atomic_volume(e) for e in elements])) ** (1 / 3)


def rcov(el: str) -> float:
    return float(covalent_radii[atomic_numbers[el]])


def tag(atoms: Atoms, name: str, prototype: str, alloy: int = 0, composition: str | None = None) -> Atoms:
    atoms.info = {"name": name, "prototype": prototype, "alloy": int(alloy)}
    if composition:
        atoms.info["composition"] = composition
    atoms.pbc = True
    return atoms


def ordered() -> list[Atoms]:
    out = []
    for proto, elements in ELEMENTS.items():
        for el in elements:
            ref = reference_states[atomic_numbers[el]]
            if proto in ("fcc", "bcc", "diamond") and ref.get("symmetry") == proto:
                atoms = bulk(el, proto)
            elif proto == "hcp" and ref.get("symmetry") == "hcp":
                atoms = bulk(el, "hcp")
            elif proto == "diamond":  # alpha-Sn: ASE's reference state is beta-Sn
                atoms = bulk(el, "diamond", a=8 * rcov(el) / np.sqrt(3))
            else:
                raise ValueError(f"{el}: no {proto} reference state")
            out.append(tag(atoms, f"{el}-{proto}", proto))
    for f in ROCKSALT:
        a_, x = split(f)
        if a_ in IONIC and x in IONIC:
            a = 2 * (IONIC[a_] + IONIC[x])
        else:  # carbides and nitrides: covalent radii, shortened
            a = 2 * 0.92 * (rcov(a_) + rcov(x))
        out.append(tag(bulk(f, "rocksalt", a=a), f"{f}-rocksalt", "rocksalt"))
    for f in ZINCBLENDE:
        a_, x = split(f)
        d = rcov(a_) + rcov(x)
        out.append(tag(bulk(f, "zincblende", a=4 * d / np.sqrt(3)), f"{f}-zincblende", "zincblende"))
    for f in WURTZITE:
        a_, x = split(f)
        d = rcov(a_) + rcov(x)
        a = 4 * d / np.sqrt(3) / np.sqrt(2)
        out.append(tag(bulk(f, "wurtzite", a=a, c=a * np.sqrt(8 / 3), u=0.375), f"{f}-wurtzite", "wurtzite"))
    for f in CSCL_IONIC:
        a_, x = split(f)
        a = 2 * (IONIC[a_] + IONIC[x]) / np.sqrt(3) * 1.03  # 8-coordinate ions are a little larger
        out.append(tag(bulk(f, "cesiumchloride", a=a), f"{f}-B2", "B2"))
    for f in B2:
        els = split(f)
        a = (2 * np.mean([atomic_volume(e) for e in els])) ** (1 / 3)
        out.append(tag(bulk(f, "cesiumchloride", a=a), f"{f}-B2", "B2"))
    for f in FLUORITE:
        m, x = split(f)
        r = IONIC[m] + IONIC[x] if m in IONIC and x in IONIC else rcov(m) + rcov(x)
        out.append(tag(bulk(f, "fluorite", a=4 * r / np.sqrt(3)), f"{f}-fluorite", "fluorite"))
    for f in ANTIFLUORITE:
        m, x = split(f)
        r = IONIC[m] + IONIC[x] if m in IONIC and x in IONIC else rcov(m) + rcov(x)
        atoms = bulk(f"{x}{m}2", "fluorite", a=4 * r / np.sqrt(3))  # anion on the fcc site, cations on the tetrahedral
        out.append(tag(atoms, f"{f}-antifluorite", "antifluorite"))
    for f in RUTILE:
        m, x = split(f)
        d = IONIC[m] + IONIC[x]
        atoms = crystal([m, x], basis=[(0, 0, 0), (0.305, 0.305, 0)], spacegroup=136,
                        cellpar=[2.34 * d, 2.34 * d, 1.51 * d, 90, 90, 90])
        out.append(tag(atoms, f"{f}-rutile", "rutile"))
    for a_, b, x in PEROVSKITE:
        a = 2 * (IONIC[b] + IONIC[x])
        atoms = Atoms([a_, b, x, x, x], cell=[a] * 3, pbc=True,
                      scaled_positions=[(0, 0, 0), (0.5, 0.5, 0.5), (0.5, 0.5, 0), (0.5, 0, 0.5), (0, 0.5, 0.5)])
        out.append(tag(atoms, f"{a_}{b}{x}3-perovskite", "perovskite"))
    for a_, b in L12:
        a = fcc_a([a_, a_, a_, b])
        atoms = Atoms([b, a_, a_, a_], cell=[a] * 3, pbc=True,
                      scaled_positions=[(0, 0, 0), (0.5, 0.5, 0), (0.5, 0, 0.5), (0, 0.5, 0.5)])
        out.append(tag(atoms, f"{a_}3{b}-L1_2", "L1_2"))
    for a_, b in L10:
        a = fcc_a([a_, b])
        atoms = Atoms([a_, b], cell=[a / np.sqrt(2), a / np.sqrt(2), a], pbc=True,
                      scaled_positions=[(0, 0, 0), (0.5, 0.5, 0.5)])
        out.append(tag(atoms, f"{a_}{b}-L1_0", "L1_0"))
    for x, y, z in HEUSLER:
        a = 2 * fcc_a([x, x, y, z])  # conventional cell of 16 atoms = 4 fcc cells
        atoms = crystal([x, y, z], basis=[(0.25, 0.25, 0.25), (0, 0, 0), (0.5, 0.5, 0.5)], spacegroup=225,
                        cellpar=[a, a, a, 90, 90, 90], primitive_cell=True)
        out.append(tag(atoms, f"{x}2{y}{z}-heusler", "heusler"))
    return out


def alloy_cell(lattice: str, fixed: str | None, pair: tuple[str, str], x: float,
               rng: np.random.Generator) -> tuple[Atoms, str]:
    """A random substitutional alloy: fraction x of pair[0] on the alloyed sites (the rest pair[1])."""
    a_, b = pair
    mix = [a_, b]
    if lattice == "fcc":
        atoms = bulk(a_, "fcc", a=fcc_a([a_, b]), cubic=True).repeat((2, 1, 1))  # 8 atoms
        sites = np.arange(len(atoms))
    elif lattice == "bcc":
        a = (2 * np.mean([atomic_volume(e) for e in mix])) ** (1 / 3)
        atoms = bulk(a_, "bcc", a=a, cubic=True).repeat((2, 2, 1))  # 8 atoms
        sites = np.arange(len(atoms))
    elif lattice == "diamond":
        a = (8 * np.mean([atomic_volume(e) for e in mix])) ** (1 / 3)
        atoms = bulk(a_, "diamond", a=a, cubic=True)  # 8 atoms
        sites = np.arange(len(atoms))
    elif lattice == "zincblende":
        first = a_ if fixed in ("As", "P", "Sb", "N") else fixed  # cation symbol first
        second = fixed if first == a_ else a_
        d = np.mean([rcov(first) + rcov(second), (rcov(b) + rcov(fixed))])
        atoms = bulk(f"{first}{second}", "zincblende", a=4 * d / np.sqrt(3), cubic=True)  # 8 atoms
        sites = np.flatnonzero(np.array(atoms.get_chemical_symbols()) != fixed)
    elif lattice == "rocksalt":
        first = a_ if fixed in ("Cl", "Br", "I", "F", "O") else fixed
        second = fixed if first == a_ else a_
        a = np.mean([2 * (IONIC[first] + IONIC[second]), 2 * (IONIC[b] + IONIC[fixed])])
        atoms = bulk(f"{first}{second}", "rocksalt", a=a, cubic=True)  # 8 atoms
        sites = np.flatnonzero(np.array(atoms.get_chemical_symbols()) != fixed)
    else:
        raise ValueError(lattice)
    n_a = int(round(x * len(sites)))
    chosen = rng.permutation(sites)
    symbols = np.array(atoms.get_chemical_symbols(), dtype=object)
    symbols[chosen[:n_a]] = a_
    symbols[chosen[n_a:]] = b
    atoms.set_chemical_symbols(list(symbols))
    if lattice in ("fcc", "bcc", "diamond"):
        composition = f"{a_}{x:g}{b}{1 - x:g}"
        formula = composition
    elif lattice == "zincblende" and fixed in ("As", "P"):
        composition = f"{a_}{x:g}{b}{1 - x:g}{fixed}"
        formula = composition
    else:  # anion sublattice alloyed (ZnS-Se, KCl-Br) or cation (Na-K Cl)
        composition = (f"{fixed}{a_}{x:g}{b}{1 - x:g}" if fixed in ("Zn", "K")
                       else f"{a_}{x:g}{b}{1 - x:g}{fixed}")
        formula = composition
    return atoms, formula


def alloys(rng: np.random.Generator) -> list[Atoms]:
    out = []
    for lattice, fixed, pair in ALLOYS:
        for x in FRACTIONS:
            atoms, composition = alloy_cell(lattice, fixed, pair, x, rng)
            out.append(tag(atoms, f"{composition}-alloy-{lattice}", f"alloy-{lattice}", 1, composition))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("-o", "--output", default="data/phonons/crystals.extxyz")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    structures = ordered() + alloys(rng)
    # rutile last: the slowest to compute (6 atoms, low site symmetry: 18 displacements, 2-3 min each with
    # SevenNet-0 on one core), so that a run cut short still has every other prototype and the alloys
    structures.sort(key=lambda a: a.info["prototype"] == "rutile")
    names = [a.info["name"] for a in structures]
    assert len(set(names)) == len(names), "names must be unique"
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    write(args.output, structures, format="extxyz")
    counts: dict[str, int] = {}
    for a in structures:
        counts[a.info["prototype"]] = counts.get(a.info["prototype"], 0) + 1
    print(f"{len(structures)} structures ({sum(a.info['alloy'] for a in structures)} alloys) -> {args.output}")
    print(", ".join(f"{k} {v}" for k, v in counts.items()))
    print(f"atoms per structure: {min(map(len, structures))}-{max(map(len, structures))}")


if __name__ == "__main__":
    main()
