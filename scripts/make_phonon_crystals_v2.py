"""Make the v2 crystal set of the phonon-DOS training data: the v1 prototypes and many more, built locally.

Command (a few seconds; no downloads; deterministic from the seed):
    python scripts/make_phonon_crystals_v2.py --seed 2026 -o data/phonons/crystals_v2.extxyz

The v1 set (scripts/make_phonon_crystals.py, whose helpers this script imports: one source of truth) is
kept whole (its ordered crystals; its alloy systems are redrawn here with more systems), and extended by
elements (Cr, Mn, Fe, Co non-magnetic, Be, alpha-B, lanthanides, actinides, As/Sb/Bi, Se/Te, ...) and about
fifty structure types, each built with ``ase.spacegroup.crystal`` from its Wyckoff positions (typical
internal parameters) or ``ase.build.bulk``. Every frame carries the info keys of v1: ``name``,
``prototype``, ``alloy`` (0/1) and, for alloys, ``composition``.

Starting lattice parameters: the cell of each template (its shape from a typical member of the type) is
scaled isotropically, for ionic and covalent compounds so that its shortest bond between unlike species
matches a sum of radii (the v1 Shannon radii where both species have one, else 0.95 x the sum of ASE's
covalent radii), for intermetallics and alloys to the mean atomic volume of the elements (Vegard's rule
on volume, v1's ``atomic_volume``). The reference generator relaxes positions and cell, so these are only
starting guesses.

Order of the output: a seeded shuffle weighted by the expected cost, so that any prefix of the file is
diverse in structure type and cheap crystals come first: each crystal's key is ``cost * (rank in its
type + u)`` with u uniform in [0, 1) and the rank drawn at random within its type, cost ~ (atoms in the
cell)^2, and alloys weighted 4x more, so that they and the largest cells sit towards the end.

Left out on purpose (unstable in these structures with the machine-learned potentials, or too large):
cubic SrTiO3/BaTiO3, rutile TiO2, PbTe, cubic ZrO2/HfO2, B2 NiTi, Mg2Si/Mg2Ge/Mg2Sn (a v1 run went
astray), alpha-Mn (58 atoms), graphite and other weakly bound van der Waals solids except the common
layered dichalcogenides and dihalides.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.build import bulk
from ase.data import atomic_numbers
from ase.io import write
from ase.neighborlist import neighbor_list
from ase.spacegroup import crystal

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_phonon_crystals import IONIC, atomic_volume, ordered, rcov, split, tag  # noqa: E402

HEX = 120.0

# ---------------------------------------------------------------------------------------------- helpers


def bond(a: str, b: str) -> float:
    """Starting bond length (Å) between species a and b."""
    if a in IONIC and b in IONIC and a != b:
        return IONIC[a] + IONIC[b]
    return 0.95 * (rcov(a) + rcov(b))


def mean_volume(symbols) -> float:
    return float(np.mean([atomic_volume(s) for s in symbols]))


def scale_bond(atoms: Atoms) -> Atoms:
    """Scale the cell so that the shortest distance between unlike species equals their bond()."""
    i, j, d = neighbor_list("ijd", atoms, 0.75 * atoms.cell.lengths().max())
    sym = np.array(atoms.get_chemical_symbols())
    unlike = sym[i] != sym[j]
    if not unlike.any():
        return scale_volume(atoms)
    k = np.flatnonzero(unlike)[np.argmin(d[unlike])]
    f = bond(sym[i[k]], sym[j[k]]) / d[k]
    atoms.set_cell(atoms.cell * f, scale_atoms=True)
    return atoms


def scale_volume(atoms: Atoms) -> Atoms:
    """Scale the cell to the mean atomic volume of its elements (Vegard)."""
    target = mean_volume(atoms.get_chemical_symbols()) * len(atoms)
    f = (target / atoms.get_volume()) ** (1 / 3)
    atoms.set_cell(atoms.cell * f, scale_atoms=True)
    return atoms


def xtal(symbols, basis, sg, a=1.0, b=None, c=None, alpha=90, beta=90, gamma=90, setting=1) -> Atoms:
    b = a if b is None else b
    c = a if c is None else c
    return crystal(symbols, basis=basis, spacegroup=sg, cellpar=[a, b, c, alpha, beta, gamma],
                   primitive_cell=True, setting=setting)


def cubic_cell(symbols, positions, a=1.0) -> Atoms:
    return Atoms(symbols, cell=[a] * 3, scaled_positions=positions, pbc=True)


# ---------------------------------------------------------------------------------------------- templates
# each: elements (in the order of the formula's Wyckoff list) -> Atoms at arbitrary scale


def t_perovskite(a_, b, x):  # A corner, B centre, X faces (anti-perovskites: same with roles swapped)
    return cubic_cell([a_, b, x, x, x], [(0, 0, 0), (.5, .5, .5), (.5, .5, 0), (.5, 0, .5), (0, .5, .5)])


TEMPLATES = {
    "rocksalt": lambda a, x: bulk(f"{a}{x}", "rocksalt", a=4.0),
    "zincblende": lambda a, x: bulk(f"{a}{x}", "zincblende", a=4.0),
    "wurtzite": lambda a, x: bulk(f"{a}{x}", "wurtzite", a=3.0, c=3.0 * np.sqrt(8 / 3), u=0.375),
    "B2": lambda a, b: bulk(f"{a}{b}", "cesiumchloride", a=3.0),
    "fluorite": lambda m, x: bulk(f"{m}{x}2", "fluorite", a=5.0),
    "antifluorite": lambda m, x: bulk(f"{x}{m}2", "fluorite", a=5.0),
    "rutile": lambda m, x: xtal([m, x], [(0, 0, 0), (0.305, 0.305, 0)], 136, 4.6, c=2.97),
    "perovskite": t_perovskite,
    "antiperovskite": t_perovskite,
    "NiAs": lambda m, x: xtal([m, x], [(0, 0, 0), (1 / 3, 2 / 3, 0.25)], 194, 3.6, c=5.0, gamma=HEX),
    "WC": lambda m, x: xtal([m, x], [(0, 0, 0), (1 / 3, 2 / 3, 0.5)], 187, 2.9, c=2.84, gamma=HEX),
    "AlB2": lambda m, x: xtal([m, x], [(0, 0, 0), (1 / 3, 2 / 3, 0.5)], 191, 3.0, c=3.3, gamma=HEX),
    "CdI2": lambda m, x: xtal([m, x], [(0, 0, 0), (1 / 3, 2 / 3, 0.25)], 164, 3.6, c=6.0, gamma=HEX),
    "CdCl2": lambda m, x: xtal([m, x], [(0, 0, 0), (0, 0, 0.25)], 166, 3.7, c=17.5, gamma=HEX),
    "MoS2": lambda m, x: xtal([m, x], [(1 / 3, 2 / 3, 0.25), (1 / 3, 2 / 3, 0.621)], 194, 3.16, c=12.3, gamma=HEX),
    "corundum": lambda m, x: xtal([m, x], [(0, 0, 0.352), (0.306, 0, 0.25)], 167, 4.76, c=12.99, gamma=HEX),
    "spinel": lambda a, b, x: xtal([a, b, x], [(0, 0, 0), (5 / 8, 5 / 8, 5 / 8), (0.387, 0.387, 0.387)], 227, 8.1),
    "chalcopyrite": lambda a, b, x: xtal([a, b, x], [(0, 0, 0), (0, 0, 0.5), (0.25, 0.25, 0.125)], 122, 5.5, c=11.0),
    "kesterite": lambda a, b, c, x: xtal([a, a, b, c, x], [(0, 0, 0), (0, .5, .25), (0, .5, .75), (0, 0, .5),
                                                          (0.756, 0.757, 0.872)], 82, 5.43, c=10.86),
    "pyrite": lambda m, x: xtal([m, x], [(0, 0, 0), (0.385, 0.385, 0.385)], 205, 5.42),
    "delafossite": lambda a, b, x: xtal([a, b, x], [(0, 0, 0), (0, 0, 0.5), (0, 0, 0.108)], 166, 2.86, c=16.9,
                                        gamma=HEX),
    "A15": lambda a, b: xtal([b, a], [(0, 0, 0), (0.25, 0, 0.5)], 223, 5.0),
    "C15": lambda a, b: xtal([a, b], [(0, 0, 0), (5 / 8, 5 / 8, 5 / 8)], 227, 7.0),
    "B32": lambda a, b: xtal([a, b], [(0, 0, 0), (0.5, 0.5, 0.5)], 227, 7.0),
    "D0_3": lambda a, b: xtal([a, b, a], [(0.25, 0.25, 0.25), (0, 0, 0), (0.5, 0.5, 0.5)], 225, 5.8),
    "heusler": lambda x, y, z: xtal([x, y, z], [(0.25, 0.25, 0.25), (0, 0, 0), (0.5, 0.5, 0.5)], 225, 5.8),
    "half-heusler": lambda a4, b4, c4: xtal([a4, b4, c4], [(0, 0, 0), (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)], 216, 5.9),
    "D0_22": lambda a, b: xtal([b, a, a], [(0, 0, 0), (0, 0, 0.5), (0, 0.5, 0.25)], 139, 3.85, c=8.6),
    "MoSi2": lambda m, x: xtal([m, x], [(0, 0, 0), (0, 0, 1 / 3)], 139, 3.2, c=7.85),
    "B20": lambda m, x: xtal([m, x], [(0.137, 0.137, 0.137), (0.842, 0.842, 0.842)], 198, 4.49),
    "CaB6": lambda m, x: xtal([m, x], [(0, 0, 0), (0.2, 0.5, 0.5)], 221, 4.15),
    "cuprite": lambda m, x: cubic_cell([x, x, m, m, m, m], [(0, 0, 0), (.5, .5, .5), (.25, .25, .25), (.75, .75, .25),
                                                            (.75, .25, .75), (.25, .75, .75)]),
    "ReO3": lambda m, x: cubic_cell([m, x, x, x], [(0, 0, 0), (.5, 0, 0), (0, .5, 0), (0, 0, .5)]),
    "Li3N": lambda m, x: xtal([x, m, m], [(0, 0, 0), (0, 0, 0.5), (1 / 3, 2 / 3, 0)], 191, 3.65, c=3.87, gamma=HEX),
    "La2O3": lambda m, x: xtal([m, x, x], [(1 / 3, 2 / 3, 0.245), (0, 0, 0), (1 / 3, 2 / 3, 0.645)], 164, 3.94,
                               c=6.13, gamma=HEX),
    "CaAl2Si2": lambda a, b, x: xtal([a, b, x], [(0, 0, 0), (1 / 3, 2 / 3, 0.634), (1 / 3, 2 / 3, 0.269)], 164,
                                     4.13, c=7.15, gamma=HEX),
    "ThCr2Si2": lambda a, b, x: xtal([a, b, x], [(0, 0, 0), (0, 0.5, 0.25), (0, 0, 0.38)], 139, 4.0, c=12.0),
    "K2PtCl6": lambda a, b, x: xtal([b, a, x], [(0, 0, 0), (0.25, 0.25, 0.25), (0.24, 0, 0)], 225, 9.75),
    "elpasolite": lambda a, b, c, x: xtal([a, b, c, x], [(0.25, 0.25, 0.25), (0, 0, 0), (0.5, 0.5, 0.5),
                                                         (0.25, 0, 0)], 225, 10.8),
    "skutterudite": lambda m, x: xtal([m, x], [(0.25, 0.25, 0.25), (0, 0.335, 0.158)], 204, 9.04),
    "quartz": lambda m, x: xtal([m, x], [(0.4697, 0, 1 / 3), (0.4135, 0.2669, 0.2143)], 152, 4.916, c=5.405,
                                gamma=HEX),
    "L1_2": lambda a, b: cubic_cell([b, a, a, a], [(0, 0, 0), (.5, .5, 0), (.5, 0, .5), (0, .5, .5)]),
    "L1_0": lambda a, b: Atoms([a, b], cell=[1 / np.sqrt(2), 1 / np.sqrt(2), 1], scaled_positions=[(0, 0, 0), (.5, .5, .5)],
                               pbc=True),
    "lonsdaleite": lambda e: xtal([e], [(1 / 3, 2 / 3, 1 / 16)], 194, 2.52, c=4.12, gamma=HEX),
    "A7": lambda e: xtal([e], [(0, 0, 0.2336)], 166, 4.31, c=11.27, gamma=HEX),
    "A8": lambda e: xtal([e], [(0.24, 0, 1 / 3)], 152, 4.4, c=5.4, gamma=HEX),
    "A5": lambda e: xtal([e], [(0, 0, 0)], 141, 5.83, c=3.18),
    "A6": lambda e: bulk(e, "bct", a=3.25, c=4.95),
    "alpha-U": lambda e: xtal([e], [(0, 0.1025, 0.25)], 63, 2.854, b=5.869, c=4.955),
    "alpha-B": lambda e: xtal([e, e], [(0.11886, 0.88114, 0.89133), (0.19686, 0.80314, 0.02432)], 166, 4.908,
                              c=12.567, gamma=HEX),
}
# how each type gets its size: "volume" (Vegard, intermetallics), "bond" (ionic/covalent), "none" (as built)
VOLUME_TYPES = {"B2i", "C15", "B32", "D0_3", "heusler", "D0_22", "L1_2", "L1_0", "A15", "half-heusler-metal"}
NO_SCALE = {"lonsdaleite", "A7", "A8", "A5", "A6", "alpha-U", "alpha-B"}

# ---------------------------------------------------------------------------------------------- the lists
# formulas are split into element symbols in order (counts dropped); tuples give the template's order

ELEMENTS_V2 = {
    "fcc": ["Ce", "Yb", "Th", "Co", "Fe", "Mn"],
    "bcc": ["Cr", "Fe", "Eu", "Mn"],
    "hcp": ["Co", "Fe", "Tc", "La", "Pr", "Nd", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Lu"],
}
ELEMENT_TYPES = {"lonsdaleite": ["C", "Si", "Ge"], "A7": ["As", "Sb", "Bi"], "A8": ["Se", "Te"], "A5": ["Sn"],
                 "A6": ["In"], "alpha-U": ["U"], "alpha-B": ["B"]}
HCP_A = {"Co": 2.51, "Fe": 2.46, "Tc": 2.74, "La": 3.77, "Pr": 3.67, "Nd": 3.66, "Gd": 3.64, "Tb": 3.60,
         "Dy": 3.59, "Ho": 3.58, "Er": 3.56, "Tm": 3.54, "Lu": 3.51}
FCC_A = {"Ce": 5.16, "Yb": 5.49, "Th": 5.08, "Co": 3.54, "Fe": 3.45, "Mn": 3.55}
BCC_A = {"Cr": 2.88, "Fe": 2.83, "Eu": 4.61, "Mn": 2.79}

ALKALI = ["Li", "Na", "K", "Rb", "Cs"]
HALIDES = ["F", "Cl", "Br", "I"]
AE = ["Mg", "Ca", "Sr", "Ba"]
CHALC = ["O", "S", "Se", "Te"]
LN = ["La", "Ce", "Pr", "Nd", "Sm", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Lu", "Y", "Sc"]

LISTS: dict[str, list] = {
    "rocksalt": (
        [f"{a}{x}" for a in ALKALI for x in HALIDES] + [f"{a}H" for a in ["Li", "Na", "K", "Rb"]]
        + ["AgF", "AgCl", "AgBr"]
        + [f"{a}{x}" for a in AE for x in CHALC] + ["EuO", "EuS", "EuSe", "EuTe", "YbO", "SmS", "CdO"]
        + ["MnO", "FeO", "CoO", "NiO", "MnS", "MnSe", "TiO", "VO", "PbS", "PbSe", "SnS", "SnSe", "GeTe"]
        + ["TiC", "ZrC", "HfC", "VC", "NbC", "TaC", "TiN", "ZrN", "HfN", "VN", "NbN", "CrN", "ScN", "YN", "ScC",
           "MoC", "WN", "UC", "UN", "ThC", "ThN", "PuN", "NpN"]
        + [f"{m}{x}" for m in LN if m not in ("Sc", "Y") for x in ["N", "P", "As", "Sb", "Bi", "S"]]
        + [f"{m}{x}" for m in ("Sc", "Y") for x in ["P", "As", "Sb", "Bi", "S"]]),
    "zincblende": ["BN", "BP", "BAs", "BSb", "AlN", "AlP", "AlAs", "AlSb", "GaN", "GaP", "GaAs", "GaSb", "InN",
                   "InP", "InAs", "InSb", "BeS", "BeSe", "BeTe", "MgTe", "ZnO", "ZnS", "ZnSe", "ZnTe", "CdS", "CdSe",
                   "CdTe", "HgS", "HgSe", "HgTe", "CuF", "CuCl", "CuBr", "CuI", "AgI", "SiC", "GeC", "SnC", "MnS",
                   "MnSe"],
    "wurtzite": ["AlN", "GaN", "InN", "BN", "BeO", "ZnO", "ZnS", "ZnSe", "ZnTe", "CdS", "CdSe", "CdTe", "AgI",
                 "SiC", "GaP", "GaAs", "InP", "InAs", "AlP", "MgTe", "MnS", "CuBr"],
    "B2": (["CsCl", "CsBr", "CsI", "TlCl", "TlBr", "TlI", "CsAu", "RbAu"]
           + ["NiAl", "CoAl", "FeAl", "RuAl", "IrAl", "OsAl", "RhAl", "PdAl", "NiGa", "CoGa", "FeGa", "CuZn",
              "AgZn", "AuZn", "AgMg", "AuMg", "CuPd", "CuBe", "NiBe", "CoBe", "PdBe", "LiTl", "LiAg", "LiHg",
              "LiPb", "MgTl", "CaTl", "SrTl", "CaHg", "SrHg", "BaHg", "CaCd", "SrCd", "ScCu", "ScAg", "ScAu",
              "ScRh", "ScRu", "ScPd", "ScIr", "ScAl", "YCu", "YAg", "YAu", "YZn", "YCd", "YRh", "YIn", "YMg",
              "LaMg", "CeMg", "LaZn", "CeZn", "TiFe", "TiCo", "TiRu", "TiOs", "ZrCo", "ZrRu", "HfRu",
              "HfOs", "NbRu", "NbOs", "TaRu", "MgSc", "AlFe", "CoHf", "PdIn", "NiIn", "CuSc", "HoCu", "ErCu",
              "DyCu", "GdCu", "TbCu", "TmCu", "LuCu", "GdZn", "ErAg", "DyAg"]),
    "fluorite": ["CaF2", "SrF2", "BaF2", "CdF2", "PbF2", "HgF2", "EuF2", "SrCl2", "CeO2", "ThO2", "UO2", "NpO2",
                 "PuO2", "PrO2", "TbO2", "PaO2", "UN2", "NiSi2", "CoSi2", "PtAl2", "AuAl2", "AuGa2", "AuIn2",
                 "PtGa2", "PtIn2", "IrSn2", "ScH2", "YH2", "LaH2", "CeH2", "GdH2", "ErH2", "DyH2", "HoH2",
                 "TbH2", "LuH2", "NdH2", "PrH2"],
    "antifluorite": ["Li2O", "Na2O", "K2O", "Rb2O", "Li2S", "Na2S", "K2S", "Rb2S", "Li2Se", "Na2Se", "K2Se",
                     "Rb2Se", "Li2Te", "Na2Te", "K2Te", "Be2C"],
    "rutile": ["SnO2", "GeO2", "RuO2", "MgF2", "ZnF2", "SiO2", "PbO2", "IrO2", "OsO2", "CrO2", "MnO2", "RhO2",
               "MgH2", "FeF2", "CoF2", "NiF2", "MnF2", "PdF2"],
    "perovskite": ([("K", "Mg", "F"), ("K", "Zn", "F"), ("Rb", "Ca", "F"), ("Cs", "Ca", "F"), ("Cs", "Cd", "F"),
                    ("Ba", "Zr", "O"), ("Ba", "Hf", "O"), ("Ba", "Sn", "O"), ("Cs", "Ca", "Cl")]
                   + [("K", "Ta", "O"), ("K", "Nb", "O"), ("Sr", "V", "O"), ("Sr", "Mo", "O"), ("Sr", "Nb", "O"),
                      ("Ba", "Mo", "O"), ("Ba", "Li", "F"), ("K", "Co", "F"), ("K", "Ni", "F"), ("K", "Mn", "F"),
                      ("K", "Fe", "F"), ("Rb", "Zn", "F"), ("Rb", "Mg", "F"), ("Cs", "Hg", "F"), ("Rb", "Cd", "F"),
                      ("Cs", "Sr", "Cl"), ("Cs", "Cd", "Br"), ("Cs", "Hg", "Cl"), ("K", "Cd", "F"),
                      ("Ba", "Ce", "O"), ("Sr", "Rh", "O"), ("Ba", "Pb", "O"), ("La", "Al", "O"),
                      ("Eu", "Ti", "O"), ("Sr", "Fe", "O"), ("Tl", "Mg", "F"), ("Cs", "Pb", "F")]),
    "antiperovskite": [("Mg", "C", "Ni"), ("Zn", "C", "Ni"), ("Cd", "C", "Ni"), ("Al", "C", "Ni"),
                       ("Ga", "C", "Ni"), ("In", "C", "Ni"), ("Zn", "N", "Ni"), ("Sn", "O", "Ca"), ("Pb", "O", "Ca"),
                       ("Sn", "O", "Sr"), ("Pb", "O", "Sr"), ("Pb", "O", "Ba"), ("Bi", "N", "Ca"), ("Sb", "N", "Ca"),
                       ("As", "N", "Ca"), ("Cl", "O", "Li"), ("Br", "O", "Li"), ("Cl", "O", "Na"), ("Au", "O", "Cs"),
                       ("Al", "C", "Ti"), ("Sn", "C", "Ti"), ("Ga", "N", "Cr"), ("Zn", "N", "Mn"), ("Al", "C", "Fe"),
                       ("In", "C", "Ti"), ("Zn", "N", "Fe"), ("Sn", "N", "Fe"), ("Ge", "N", "Ni"), ("Cu", "N", "Ni")],
    "NiAs": ["NiAs", "NiSb", "NiBi", "NiSe", "NiTe", "CoSb", "CoTe", "CoSe", "FeS", "FeSe", "FeTe", "CrSb",
             "CrTe", "MnSb", "MnBi", "MnTe", "MnAs", "PtSn", "PtSb", "PtBi", "PdSb", "PdTe", "RhBi", "IrSb",
             "TiS", "VS", "VSe", "TiSe", "CrSe"],
    "WC": ["WC", "MoC", "MoP", "WN"],
    "AlB2": ["MgB2", "AlB2", "ScB2", "YB2", "TiB2", "ZrB2", "HfB2", "VB2", "NbB2", "TaB2", "CrB2", "MoB2", "MnB2",
             "LuB2", "ErB2", "HoB2", "DyB2", "TmB2", "UB2", "CaGa2", "SrGa2", "BaGa2", "CaHg2", "SrHg2", "UGa2"],
    "CdI2": ["CdI2", "MgI2", "CaI2", "MgBr2", "PbI2", "TiS2", "TiSe2", "TiTe2", "ZrS2", "ZrSe2", "ZrTe2", "HfS2",
             "HfSe2", "SnS2", "SnSe2", "PtS2", "PtSe2", "PtTe2", "PdTe2", "NiTe2", "IrTe2", "CoTe2", "VSe2",
             "TaS2", "FeI2", "MnI2", "CoI2", "GeI2", "CaCl2"],
    "CdCl2": ["CdCl2", "MgCl2", "NiCl2", "CoCl2", "FeCl2", "MnCl2", "CdBr2", "NiBr2", "ZnBr2", "NiI2"],
    "MoS2": ["MoS2", "MoSe2", "MoTe2", "WS2", "WSe2", "NbS2", "NbSe2", "TaSe2"],
    "corundum": ["Al2O3", "Cr2O3", "Fe2O3", "V2O3", "Ga2O3", "Ti2O3", "Rh2O3", "In2O3"],
    "spinel": ([(a, b, "O") for a, b in [("Mg", "Al"), ("Zn", "Al"), ("Mg", "Cr"), ("Zn", "Cr"), ("Cd", "Cr"),
                                          ("Mn", "Al"), ("Fe", "Al"), ("Co", "Al"), ("Ni", "Al"), ("Zn", "Ga"),
                                          ("Mg", "Ga"), ("Zn", "Fe"), ("Mg", "V"), ("Zn", "V"), ("Co", "Co"),
                                          ("Fe", "Fe"), ("Mn", "Mn"), ("Zn", "Co"), ("Mg", "Rh"), ("Zn", "Rh"),
                                          ("Li", "Ti"), ("Mg", "Ti"), ("Ge", "Mg"), ("Si", "Mg"), ("Li", "Mn"),
                                          ("Cu", "Cr"), ("Mn", "Cr"), ("Fe", "Cr")]]
               + [(a, b, x) for a, b, x in [("Cu", "Ti", "S"), ("Cu", "Co", "S"), ("Cu", "Rh", "S"),
                                             ("Cd", "In", "S"), ("Mg", "In", "S"), ("Zn", "Cr", "S"),
                                             ("Cd", "Cr", "Se"), ("Zn", "Cr", "Se"), ("Li", "Ni", "F")]]),
    "chalcopyrite": ([(a, b, x) for a in ["Cu", "Ag"] for b in ["Al", "Ga", "In"] for x in ["S", "Se", "Te"]]
                     + [(a, b, x) for a in ["Zn", "Cd"] for b in ["Si", "Ge", "Sn"] for x in ["P", "As"]]
                     + [("Cu", "Fe", "S"), ("Mg", "Si", "P")]),
    "kesterite": [("Cu", "Zn", "Sn", "S"), ("Cu", "Zn", "Sn", "Se"), ("Cu", "Zn", "Ge", "S"), ("Cu", "Cd", "Sn", "S"),
                  ("Ag", "Zn", "Sn", "S"), ("Cu", "Zn", "Ge", "Se")],
    "pyrite": ["FeS2", "CoS2", "NiS2", "MnS2", "RuS2", "OsS2", "FeSe2", "CoSe2", "NiSe2", "MnSe2", "RuSe2",
               "OsSe2", "RuTe2", "OsTe2", "MnTe2", "ZnS2", "CdS2", "CuS2", "PtP2", "PtAs2", "PtSb2", "PdAs2",
               "PdSb2", "AuSb2", "SiP2"],
    "delafossite": [(a, b, "O") for a, b in [("Cu", "Al"), ("Cu", "Ga"), ("Cu", "In"), ("Cu", "Sc"), ("Cu", "Y"),
                                              ("Cu", "La"), ("Cu", "Cr"), ("Cu", "Fe"), ("Cu", "Co"), ("Cu", "Rh"),
                                              ("Ag", "Al"), ("Ag", "Ga"), ("Ag", "In"), ("Ag", "Sc"), ("Ag", "Cr"),
                                              ("Ag", "Co"), ("Ag", "Fe"), ("Ag", "Rh"), ("Pd", "Co"), ("Pd", "Cr"),
                                              ("Pd", "Rh"), ("Pt", "Co")]],
    "A15": ["Nb3Sn", "Nb3Al", "Nb3Ga", "Nb3Ge", "Nb3Si", "Nb3Au", "Nb3Pt", "Nb3Ir", "Nb3Os", "Nb3Rh", "V3Si",
            "V3Ga", "V3Ge", "V3Al", "V3Pt", "V3Ir", "V3Au", "V3Co", "V3Sn", "Cr3Si", "Cr3Ge", "Cr3Ga", "Cr3Os",
            "Cr3Ir", "Cr3Rh", "Cr3Pt", "Mo3Si", "Mo3Ge", "Mo3Al", "Mo3Ga", "Mo3Os", "Mo3Ir", "Mo3Pt", "Ta3Sn",
            "Ta3Au", "Ta3Ge", "Ti3Au", "Ti3Pt", "Ti3Ir", "Zr3Au", "W3Os", "Ta3Pt", "Zr3Sn"],
    "C15": ["MgCu2", "MgZn2", "CaAl2", "SrAl2", "BaAl2", "LaAl2", "CeAl2", "PrAl2", "NdAl2", "SmAl2", "GdAl2",
            "TbAl2", "DyAl2", "HoAl2", "ErAl2", "TmAl2", "LuAl2", "YAl2", "ScAl2", "ZrV2", "HfV2", "ZrCr2",
            "HfCr2", "TiCr2", "NbCr2", "TaCr2", "ZrMo2", "HfMo2", "ZrW2", "HfW2", "ZrFe2", "HfFe2", "ZrCo2",
            "HfCo2", "ScCo2", "YCo2", "YNi2", "LaNi2", "CeNi2", "CeCo2", "CeRu2", "LaRu2", "ThRu2", "UAl2",
            "UCo2", "UFe2", "ZrZn2", "AgBe2", "CuBe2", "KBi2", "CaPt2", "CaIr2", "SrRh2", "SrIr2", "BaPt2",
            "LaPt2", "YIr2", "ZrIr2", "NaAu2", "BaRh2", "CaLi2", "ScIr2", "YRh2"],
    "B32": ["LiAl", "LiGa", "LiIn", "LiZn", "LiCd", "NaTl", "NaIn", "LiTl"],
    "D0_3": ["Fe3Al", "Fe3Si", "Fe3Ga", "Li3Sb", "Li3Bi", "Li3Al", "Cu3Al", "Ni3Sb", "Mn3Si", "Fe3Ge", "Co3Si"],
    "heusler": [("Ni", "Ti", "Al"), ("Ni", "Zr", "Al"), ("Ni", "Ti", "Sn"), ("Ni", "Zr", "Sn"), ("Pd", "Ti", "Al"),
                ("Pd", "Zr", "Al"), ("Cu", "Ti", "Al"), ("Ru", "Ti", "Si")]
               + [("Co", "Ti", "Al"), ("Co", "Ti", "Ga"), ("Co", "Ti", "Sn"), ("Co", "Ti", "Si"), ("Co", "Ti", "Ge"),
                  ("Co", "Zr", "Sn"), ("Co", "Zr", "Al"), ("Co", "Hf", "Sn"), ("Co", "Mn", "Si"), ("Co", "Mn", "Ge"),
                  ("Co", "Mn", "Al"), ("Co", "Mn", "Ga"), ("Co", "Mn", "Sn"), ("Co", "Fe", "Si"), ("Co", "Fe", "Al"),
                  ("Co", "Cr", "Al"), ("Co", "V", "Ga"), ("Co", "V", "Al"), ("Co", "Nb", "Sn"), ("Co", "Nb", "Al"),
                  ("Fe", "V", "Al"), ("Fe", "V", "Ga"), ("Fe", "Ti", "Sn"), ("Fe", "Ti", "Si"), ("Fe", "Mn", "Si"),
                  ("Fe", "Mn", "Al"), ("Fe", "Cr", "Si"), ("Fe", "Cr", "Al"), ("Fe", "V", "Si"), ("Ru", "V", "Al"),
                  ("Ru", "Nb", "Al"), ("Ru", "Ta", "Al"), ("Ru", "Ti", "Sn"), ("Ru", "Zr", "Sn"), ("Ru", "Hf", "Sn"),
                  ("Rh", "Ti", "Al"), ("Rh", "Zr", "Al"), ("Rh", "Hf", "Al"), ("Rh", "Ti", "Sn"), ("Rh", "Zr", "Sn"),
                  ("Rh", "Hf", "Sn"), ("Rh", "Mn", "Sn"), ("Rh", "Mn", "Ge"), ("Rh", "Mn", "Pb"), ("Rh", "Fe", "Sn"),
                  ("Pd", "Mn", "Sn"), ("Pd", "Mn", "Sb"), ("Pd", "Hf", "Al"), ("Pd", "Ti", "In"), ("Cu", "Mn", "Al"),
                  ("Cu", "Mn", "In"), ("Cu", "Mn", "Sn"), ("Ni", "Mn", "Sn"), ("Ni", "Mn", "In"), ("Ni", "Hf", "Sn"),
                  ("Ni", "Ti", "Ga"), ("Ni", "V", "Al"), ("Ni", "Nb", "Sn"), ("Ni", "Nb", "Ga"), ("Mn", "V", "Al"),
                  ("Li", "Mg", "Sb"), ("Li", "Mg", "Bi"), ("Li", "Ag", "Sb"), ("Li", "Mg", "As"), ("Au", "Mg", "Sn"),
                  ("Cu", "Zr", "Al"), ("Cu", "Hf", "Al"), ("Ir", "Ti", "Al"), ("Ir", "Zr", "Al"), ("Ir", "Mn", "Al")],
    # half-Heusler (a4, b4, c4): a4 and c4 form the zincblende; b4 fills the octahedral site
    "half-heusler": [("Zn", "Li", "N"), ("Zn", "Li", "P"), ("Zn", "Li", "As"), ("Zn", "Li", "Sb"),
                     ("Mg", "Li", "N"), ("Mg", "Li", "P"), ("Mg", "Li", "As"), ("Mg", "Li", "Sb"),
                     ("Mg", "Li", "Bi"), ("Cd", "Li", "P"), ("Cd", "Li", "As"), ("Al", "Li", "Si"),
                     ("Al", "Li", "Ge"), ("Ga", "Li", "Si"), ("Ga", "Li", "Ge"), ("Be", "Li", "N"),
                     ("Mg", "Na", "P"), ("Zn", "Na", "P"), ("Ag", "Mg", "As"), ("Cu", "Mg", "Sb"),
                     ("Ag", "Mg", "Sb"), ("Cu", "Mg", "As")]
    + [(b, a, c) for a, b, c in [("Ti", "Ni", "Sn"), ("Zr", "Ni", "Sn"), ("Hf", "Ni", "Sn"), ("Ti", "Co", "Sb"),
                                 ("Zr", "Co", "Sb"), ("Hf", "Co", "Sb"), ("Ti", "Co", "Bi"), ("Zr", "Co", "Bi"),
                                 ("Nb", "Co", "Sn"), ("Ta", "Co", "Sn"), ("V", "Co", "Sn"), ("Nb", "Fe", "Sb"),
                                 ("V", "Fe", "Sb"), ("Ta", "Fe", "Sb"), ("Nb", "Ru", "Sb"), ("Nb", "Rh", "Sn"),
                                 ("Ta", "Rh", "Sn"), ("Ti", "Rh", "Sb"), ("Zr", "Rh", "Sb"), ("Hf", "Rh", "Sb"),
                                 ("Ti", "Ir", "Sb"), ("Zr", "Ir", "Sb"), ("Ti", "Pd", "Sn"), ("Zr", "Pd", "Sn"),
                                 ("Hf", "Pd", "Sn"), ("Zr", "Pt", "Sn"), ("Hf", "Pt", "Sn"), ("Ti", "Pt", "Sn"),
                                 ("Sc", "Ni", "Sb"), ("Y", "Ni", "Sb"), ("Sc", "Ni", "Bi"), ("Y", "Ni", "Bi"),
                                 ("Sc", "Pd", "Sb"), ("Y", "Pd", "Sb"), ("Sc", "Pd", "Bi"), ("Y", "Pd", "Bi"),
                                 ("Sc", "Pt", "Sb"), ("Y", "Pt", "Sb"), ("Y", "Pt", "Bi"), ("Lu", "Pt", "Bi"),
                                 ("La", "Pt", "Bi"), ("Er", "Pd", "Bi"), ("Gd", "Pt", "Bi"), ("Lu", "Pd", "Bi"),
                                 ("Ho", "Pd", "Bi"), ("Dy", "Pt", "Bi"), ("Tm", "Pd", "Sb"), ("Er", "Ni", "Sb"),
                                 ("Lu", "Ni", "Sb"), ("Ti", "Fe", "Sb"), ("Zr", "Ni", "Pb"), ("Ti", "Ni", "Ge"),
                                 ("Mn", "Ni", "Sb"), ("Mn", "Pt", "Sb"), ("Mg", "Ni", "Sb"), ("Sc", "Au", "Sn"),
                                 ("Ti", "Co", "As"), ("Zr", "Co", "As"), ("Nb", "Co", "Ge"), ("Ta", "Co", "Ge")]],
    "L1_2": [("Cu", "Au"), ("Ni", "Al"), ("Ni", "Ga"), ("Pt", "Al"), ("Pt", "Sn"), ("Pt", "Ti"), ("Al", "Sc"),
             ("Al", "Zr"), ("Al", "Li"), ("Ir", "Nb")]
    + [("Ni", "Si"), ("Ni", "Ge"), ("Ni", "Fe"), ("Ni", "Mn"), ("Ni", "In"), ("Co", "Ti"), ("Co", "Ta"),
       ("Co", "W"), ("Pd", "Sn"), ("Pd", "Al"), ("Pd", "Fe"), ("Pd", "In"), ("Pd", "Pb"), ("Pd", "Ce"),
       ("Pt", "Fe"), ("Pt", "Mn"), ("Pt", "Ga"), ("Pt", "In"), ("Pt", "Zn"), ("Pt", "Co"), ("Pt", "Cr"),
       ("Pt", "V"), ("Pt", "Sc"), ("Pt", "Y"), ("Pt", "Hf"), ("Pt", "Zr"), ("Rh", "Ti"), ("Rh", "Zr"), ("Rh", "Hf"),
       ("Rh", "Nb"), ("Rh", "Ta"), ("Rh", "V"), ("Rh", "Sc"), ("Rh", "Y"), ("Rh", "Mn"), ("Ir", "Ti"),
       ("Ir", "Zr"), ("Ir", "Hf"), ("Ir", "Ta"), ("Ir", "V"), ("Ir", "Sc"), ("Ir", "Cr"), ("Cu", "Pt"),
       ("Cu", "Pd"), ("Au", "Cu"), ("Ag", "Pt"), ("Al", "Er"), ("Al", "Yb"), ("Al", "Y"), ("Al", "Lu"),
       ("Al", "Tm"), ("Al", "Hf"), ("Al", "Ti"), ("Zr", "Al"), ("Ti", "Al"), ("Ni", "Sc"), ("Ni", "Y"),
       ("Ni", "Ti"), ("Ni", "Nb"), ("Ni", "Ta"), ("Ni", "V"), ("Ni", "Cr"), ("Ni", "Pt"), ("Fe", "Ni"),
       ("Fe", "Pt"), ("Fe", "Ge"), ("Mn", "Ga"), ("Mn", "Ir"), ("Mn", "Pt"), ("Co", "Al"), ("Sn", "La"),
       ("In", "La"), ("Pb", "La"), ("Pb", "Ce"), ("Sn", "Ce"), ("Pb", "Ca"), ("Sn", "Ca"), ("Pb", "Sr"),
       ("Tl", "Ca"), ("Hg", "Ca")],
    "L1_0": [("Cu", "Au"), ("Ni", "Pt"), ("Pd", "Zn"), ("Pt", "Zn"), ("Ti", "Al"), ("Pd", "Cd")]
    + [("Fe", "Pt"), ("Fe", "Pd"), ("Co", "Pt"), ("Mn", "Al"), ("Mn", "Pt"), ("Mn", "Ni"), ("Mn", "Pd"),
       ("Mn", "Ir"), ("Mn", "Rh"), ("Ti", "Ga"), ("Zr", "Ga"), ("Hf", "Ga"), ("Pt", "Cd"), ("Pt", "Mg"),
       ("Pd", "Mg"), ("Pt", "Hg"), ("Pd", "Hg"), ("Ni", "Hg"), ("Ti", "Au"), ("Ti", "Pt"), ("Ti", "Pd"),
       ("Zr", "Ir"), ("Fe", "Ni"), ("Co", "Pd"), ("Ni", "Pd"), ("Ag", "Ti"), ("Au", "Ti"), ("Cu", "Ti"),
       ("Ti", "Hg"), ("Ni", "Zn"), ("In", "Pd"), ("Ga", "Pt")],
    "D0_22": [("Al", "Ti"), ("Al", "V"), ("Al", "Nb"), ("Al", "Ta"), ("Al", "Hf"), ("Al", "Zr"), ("Ga", "Ti"),
              ("Ga", "V"), ("Ga", "Nb"), ("Ni", "V"), ("Ni", "Nb"), ("Ni", "Ta"), ("Pd", "V"), ("Pd", "Nb"),
              ("Pd", "Ta"), ("Pt", "V"), ("Pt", "Nb"), ("Pt", "Ta"), ("Rh", "V"), ("Ir", "V"), ("Cu", "Pd")],
    "MoSi2": ["MoSi2", "WSi2", "ReSi2", "MoGe2", "TiAg2", "ZrAu2", "HfAu2", "TiAu2", "ZrAg2", "HfPd2", "ZrPd2",
              "MoPt2"],
    "B20": ["FeSi", "CoSi", "MnSi", "CrSi", "RuSi", "OsSi", "RhSi", "FeGe", "CoGe", "MnGe", "RhGe", "PtAl",
            "AuBe", "PdGa"],
    "CaB6": ["CaB6", "SrB6", "BaB6", "LaB6", "CeB6", "YB6", "EuB6", "SmB6", "PrB6", "NdB6", "YbB6", "GdB6",
             "ThB6", "KB6"],
    "cuprite": ["Cu2O", "Ag2O"],
    "ReO3": ["ReO3", "ScF3", "NbF3", "MoF3", "Cu3N"],
    "Li3N": ["Li3N"],
    "La2O3": ["La2O3", "Ce2O3", "Pr2O3", "Nd2O3"],
    "CaAl2Si2": [("Ca", "Al", "Si"), ("Sr", "Al", "Si"), ("Ca", "Zn", "Sb"), ("Sr", "Zn", "Sb"), ("Yb", "Zn", "Sb"),
                 ("Ca", "Cd", "Sb"), ("Ca", "Mg", "Sb"), ("Sr", "Mg", "Sb"), ("Ba", "Mg", "Sb"), ("Ca", "Mg", "Bi"),
                 ("Mg", "Mg", "Sb"), ("Mg", "Mg", "Bi"), ("Ca", "Zn", "As"), ("Eu", "Zn", "Sb"), ("Yb", "Mg", "Bi"),
                 ("Ca", "Mn", "Sb"), ("Ba", "Mn", "Bi"), ("Sr", "Zn", "As"), ("Ca", "Zn", "P"), ("Sr", "Cd", "Sb")],
    "ThCr2Si2": [("Ba", "Fe", "As"), ("Sr", "Fe", "As"), ("Ca", "Fe", "As"), ("K", "Fe", "As"), ("Ba", "Co", "As"),
                 ("Ba", "Ni", "As"), ("Ba", "Mn", "As"), ("Ba", "Zn", "As"), ("Ba", "Cu", "As"), ("Sr", "Ni", "P"),
                 ("Sr", "Rh", "P"), ("Ba", "Ni", "P"), ("Ca", "Cu", "Si"), ("Ca", "Cu", "Ge"), ("Ce", "Cu", "Si"),
                 ("La", "Cu", "Si"), ("La", "Ru", "Si"), ("Ce", "Ru", "Si"), ("La", "Ni", "Ge"), ("Th", "Cr", "Si"),
                 ("Y", "Co", "Si"), ("La", "Fe", "Si"), ("Ba", "Fe", "P"), ("Ba", "Ru", "As"), ("La", "Pd", "Si"),
                 ("Ca", "Ni", "Ge"), ("Ba", "Al", "Ge"), ("Sr", "Pd", "Ge"), ("Eu", "Fe", "As"), ("Ba", "Mg", "Ge")],
    "K2PtCl6": [("K", "Pt", "Cl"), ("Rb", "Pt", "Cl"), ("Cs", "Pt", "Cl"), ("K", "Pt", "Br"), ("K", "Pd", "Cl"),
                ("K", "Si", "F"), ("Cs", "Si", "F"), ("Rb", "Ge", "F"), ("Cs", "Ge", "F"), ("K", "Sn", "Cl"),
                ("Cs", "Sn", "Cl"), ("Cs", "Sn", "Br"), ("Cs", "Te", "Br"), ("Rb", "Sn", "Br"), ("K", "Os", "Cl"),
                ("K", "Re", "Cl"), ("K", "Ir", "Cl"), ("Cs", "Zr", "Cl"), ("Cs", "Hf", "Cl"), ("K", "Ti", "F")],
    "elpasolite": [("Cs", "Na", "Bi", "Cl"), ("Cs", "Ag", "Bi", "Br"), ("Cs", "Ag", "Bi", "Cl"), ("Cs", "Ag", "In", "Cl"),
                   ("Cs", "Na", "In", "Cl"), ("Cs", "Na", "Y", "Cl"), ("Cs", "Li", "Y", "Cl"), ("K", "Na", "Al", "F"),
                   ("Rb", "Na", "Al", "F"), ("Cs", "K", "Al", "F"), ("Cs", "Na", "Sc", "Cl"), ("Cs", "Ag", "Sb", "Cl"),
                   ("Cs", "Na", "La", "Cl"), ("Cs", "Na", "Lu", "Cl"), ("K", "Na", "Ga", "F"), ("Cs", "K", "Ga", "F")],
    "skutterudite": ["CoSb3", "CoAs3", "CoP3", "RhSb3", "RhAs3", "RhP3", "IrSb3", "IrAs3", "IrP3"],
    "quartz": ["SiO2", "GeO2"],
}

# at most this many of a list (its first ones: the v1 members and the best known come first)
CAP = {"heusler": 40, "L1_2": 55, "C15": 45, "A15": 30, "ThCr2Si2": 20, "spinel": 28, "K2PtCl6": 12,
       "elpasolite": 10, "pyrite": 18, "D0_22": 14, "CaAl2Si2": 14, "CdI2": 22}
ALLOY_CAP = {"fcc": 14, "bcc": 12, "hcp": 6, "zincblende": 8, "rocksalt": 8, "wurtzite": 2}

FRACTIONS = (0.25, 0.5, 0.75)
ALLOYS_V2 = {  # lattice -> alloying pairs (fixed sublattice species first for compounds)
    "fcc": [("Cu", "Ni"), ("Cu", "Au"), ("Pd", "Pt"), ("Ag", "Au"), ("Ag", "Pd"), ("Au", "Pd"), ("Au", "Pt"),
            ("Ni", "Pd"), ("Ni", "Pt"), ("Cu", "Pd"), ("Cu", "Pt"), ("Rh", "Pd"), ("Ir", "Pt"), ("Rh", "Pt"),
            ("Ni", "Co"), ("Ni", "Fe"), ("Ni", "Cr"), ("Ca", "Sr"), ("Al", "Ag"), ("Ir", "Rh"), ("Pb", "Ca"),
            ("Al", "Mg"), ("Ni", "Rh"), ("Ag", "Cu")],
    "bcc": [("Mo", "W"), ("Nb", "Ta"), ("V", "Nb"), ("V", "Ta"), ("Mo", "Nb"), ("W", "Ta"), ("Cr", "V"),
            ("Cr", "Mo"), ("Fe", "Cr"), ("Fe", "V"), ("Li", "Mg"), ("Na", "K"), ("K", "Rb"), ("Rb", "Cs"),
            ("Mo", "Re"), ("W", "Re"), ("Nb", "Zr"), ("Ti", "V"), ("Cr", "W"), ("Mo", "Ta")],
    "hcp": [("Mg", "Cd"), ("Ti", "Zr"), ("Zr", "Hf"), ("Ru", "Os"), ("Co", "Ru"), ("Y", "Gd"), ("Sc", "Y"),
            ("Ti", "Hf"), ("Re", "Os"), ("Ho", "Er")],
    "diamond": [("Si", "Ge"), ("Ge", "Sn")],
    "zincblende": [("As", ("Al", "Ga")), ("As", ("Ga", "In")), ("P", ("Ga", "In")), ("P", ("Al", "Ga")),
                   ("S", ("Zn", "Cd")), ("Se", ("Zn", "Cd")), ("Te", ("Zn", "Cd")), ("Te", ("Hg", "Cd")),
                   ("Zn", ("S", "Se")), ("Ga", ("As", "P")), ("In", ("As", "Sb")), ("Cd", ("Se", "Te")),
                   ("Ga", ("As", "Sb")), ("Zn", ("Se", "Te"))],
    "rocksalt": [("K", ("Cl", "Br")), ("Cl", ("Na", "K")), ("O", ("Mg", "Ca")), ("O", ("Mg", "Ni")),
                 ("Ti", ("C", "N")), ("Zr", ("C", "N")), ("C", ("Ti", "Zr")), ("N", ("Ti", "V")), ("Pb", ("S", "Se")),
                 ("Cl", ("K", "Rb")), ("Na", ("Cl", "Br")), ("O", ("Ca", "Sr")), ("C", ("Nb", "Ta")),
                 ("N", ("Ti", "Zr"))],
    "wurtzite": [("N", ("Al", "Ga")), ("N", ("Ga", "In")), ("O", ("Zn", "Mg")), ("S", ("Zn", "Cd"))],
}
CATIONS = {"Li", "Na", "K", "Rb", "Cs", "Mg", "Ca", "Sr", "Ba", "Ni", "Zn", "Cd", "Hg", "Al", "Ga", "In", "Ti", "Zr",
           "V", "Nb", "Ta", "Pb", "B", "Cu"}

# ---------------------------------------------------------------------------------------------- builders


def elements_v2() -> list[Atoms]:
    out = []
    for proto, elements in ELEMENTS_V2.items():
        for el in elements:
            if proto == "hcp":
                atoms = bulk(el, "hcp", a=HCP_A[el], c=HCP_A[el] * 1.6)
            elif proto == "fcc":
                atoms = bulk(el, "fcc", a=FCC_A[el])
            else:
                atoms = bulk(el, "bcc", a=BCC_A[el])
            out.append(tag(atoms, f"{el}-{proto}", proto))
    for proto, elements in ELEMENT_TYPES.items():
        for el in elements:
            atoms = TEMPLATES[proto](el)
            if proto == "lonsdaleite":
                atoms = scale_bond_same(atoms, 2 * rcov(el))
            out.append(tag(atoms, f"{el}-{proto}", proto))
    return out


def scale_bond_same(atoms: Atoms, d: float) -> Atoms:
    _, _, dist = neighbor_list("ijd", atoms, 0.75 * atoms.cell.lengths().max())
    atoms.set_cell(atoms.cell * (d / dist.min()), scale_atoms=True)
    return atoms


def formula_of(proto: str, entry) -> tuple[str, list[str]]:
    """(formula for the name, the elements in the template's order)."""
    if isinstance(entry, str):
        return entry, split(entry)
    els = list(entry)
    counts = {"perovskite": (1, 1, 3), "antiperovskite": (1, 1, 3), "spinel": (1, 2, 4), "chalcopyrite": (1, 1, 2),
              "kesterite": (2, 1, 1, 4), "delafossite": (1, 1, 2), "heusler": (2, 1, 1), "half-heusler": (1, 1, 1),
              "CaAl2Si2": (1, 2, 2), "ThCr2Si2": (1, 2, 2), "K2PtCl6": (2, 1, 6), "elpasolite": (2, 1, 1, 6),
              "L1_2": (3, 1), "L1_0": (1, 1), "D0_22": (3, 1)}[proto]
    if proto == "antiperovskite":  # written X3 B A, e.g. Ni3CMg -> "MgCNi3" (A B X3)
        order = [0, 1, 2]
    elif proto == "half-heusler":  # b4 a4 c4: TiNiSn, LiZnP
        order = [1, 0, 2]
    elif proto == "heusler":
        order = [0, 1, 2]
    else:
        order = list(range(len(els)))
    formula = "".join(f"{els[i]}{counts[i] if counts[i] > 1 else ''}" for i in order)
    return formula, els


def build(proto: str, entry) -> Atoms:
    formula, els = formula_of(proto, entry)
    if proto == "antifluorite" or proto == "fluorite" or proto == "rocksalt" or proto == "zincblende":
        atoms = TEMPLATES[proto](*els)
    elif proto in ("heusler", "half-heusler", "perovskite", "antiperovskite", "spinel", "chalcopyrite", "kesterite",
                   "delafossite", "CaAl2Si2", "ThCr2Si2", "K2PtCl6", "elpasolite", "L1_2", "L1_0", "D0_22"):
        atoms = TEMPLATES[proto](*els)
    else:
        atoms = TEMPLATES[proto](*els[:2])
    metallic = proto in ("C15", "B32", "D0_3", "heusler", "D0_22", "L1_2", "L1_0", "A15", "MoSi2", "B20", "ThCr2Si2")
    if proto == "B2" and not all(e in IONIC for e in els):
        metallic = True
    if proto == "half-heusler" and els[1] not in ("Li", "Na"):
        metallic = True
    if proto == "antiperovskite" and els[1] == "C" or proto == "antiperovskite" and els[2] in ("Fe", "Mn", "Cr", "Ni"):
        metallic = True
    if proto == "fluorite" and els[1] not in ("F", "Cl", "O", "H", "N"):
        metallic = True
    if proto in ("AlB2",) and els[1] != "B":
        metallic = True
    atoms = scale_volume(atoms) if metallic else scale_bond(atoms)
    return tag(atoms, f"{formula}-{proto}", proto)


def ordered_v2() -> list[Atoms]:
    out = ordered()
    seen = {a.info["name"] for a in out}
    for atoms in elements_v2():
        if atoms.info["name"] not in seen:
            out.append(atoms)
            seen.add(atoms.info["name"])
    for proto, entries in LISTS.items():
        for entry in entries[:CAP.get(proto)]:
            formula, _ = formula_of(proto, entry)
            name = f"{formula}-{proto}"
            if name in seen:
                continue
            out.append(build(proto, entry))
            seen.add(name)
    return out


def alloy_v2(lattice: str, spec, x: float, rng: np.random.Generator) -> Atoms:
    """8-atom random substitutional alloy; fraction x of the first alloying species."""
    if lattice in ("fcc", "bcc", "hcp", "diamond"):
        a_, b = spec
        fixed = None
        if lattice == "fcc":
            atoms = bulk(a_, "fcc", a=4.0, cubic=True).repeat((2, 1, 1))
        elif lattice == "bcc":
            atoms = bulk(a_, "bcc", a=3.0, cubic=True).repeat((2, 2, 1))
        elif lattice == "hcp":
            atoms = bulk(a_, "hcp", a=3.0, c=4.9).repeat((2, 2, 1))
        else:
            atoms = bulk(a_, "diamond", a=5.5, cubic=True)
        sites = np.arange(len(atoms))
    else:
        fixed, (a_, b) = spec
        cation_fixed = fixed in CATIONS
        pair = f"{fixed}{a_}" if cation_fixed else f"{a_}{fixed}"
        if lattice == "wurtzite":
            atoms = bulk(pair, "wurtzite", a=3.2, c=5.2, u=0.375).repeat((2, 1, 1))
        else:
            atoms = bulk(pair, lattice, a=5.0, cubic=True)
        sites = np.flatnonzero(np.array(atoms.get_chemical_symbols()) != fixed)
    n_a = int(round(x * len(sites)))
    chosen = rng.permutation(sites)
    symbols = np.array(atoms.get_chemical_symbols(), dtype=object)
    symbols[chosen[:n_a]] = a_
    symbols[chosen[n_a:]] = b
    atoms.set_chemical_symbols(list(symbols))
    if fixed is None:
        atoms = scale_volume(atoms)
        composition = f"{a_}{x:g}{b}{1 - x:g}"
    else:
        # mean of the two end members' bond lengths (Vegard)
        d = np.mean([bond(fixed, a_), bond(fixed, b)])
        i, j, dist = neighbor_list("ijd", atoms, 6.0)
        sym = np.array(atoms.get_chemical_symbols())
        unlike = (sym[i] == fixed) != (sym[j] == fixed)
        atoms.set_cell(atoms.cell * (d / dist[unlike].min()), scale_atoms=True)
        composition = (f"{fixed}{a_}{x:g}{b}{1 - x:g}" if fixed in CATIONS else f"{a_}{x:g}{b}{1 - x:g}{fixed}")
    return tag(atoms, f"{composition}-alloy-{lattice}", f"alloy-{lattice}", 1, composition)


def alloys_v2(rng: np.random.Generator) -> list[Atoms]:
    return [alloy_v2(lattice, spec, x, rng) for lattice, specs in ALLOYS_V2.items()
            for spec in specs[:ALLOY_CAP.get(lattice)] for x in FRACTIONS]


def order(structures: list[Atoms], rng: np.random.Generator) -> list[Atoms]:
    """Cost-weighted seeded shuffle: key = cost * (random rank within the type + u)."""
    groups: dict[str, list[int]] = {}
    for i, a in enumerate(structures):
        groups.setdefault(a.info["prototype"], []).append(i)
    keys = np.zeros(len(structures))
    for proto in sorted(groups):
        idx = groups[proto]
        ranks = rng.permutation(len(idx))
        for k, i in enumerate(idx):
            a = structures[i]
            cost = max(len(a), 2) ** 2 * (4.0 if a.info["alloy"] else 1.0)
            keys[i] = cost * (ranks[k] + rng.random())
    return [structures[i] for i in np.argsort(keys, kind="stable")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("-o", "--output", default="data/phonons/crystals_v2.extxyz")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    structures = ordered_v2() + alloys_v2(rng)
    names = [a.info["name"] for a in structures]
    dup = {n for n in names if names.count(n) > 1}
    assert not dup, f"names must be unique: {sorted(dup)}"
    for a in structures:
        assert np.isfinite(a.positions).all() and a.cell.rank == 3, a.info["name"]
        d = a.get_all_distances(mic=True) + 100 * np.eye(len(a)) if len(a) > 1 else None
        if d is not None:
            assert d.min() > 0.5, (a.info["name"], d.min())
    structures = order(structures, rng)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    write(args.output, structures, format="extxyz")
    counts: dict[str, int] = {}
    for a in structures:
        counts[a.info["prototype"]] = counts.get(a.info["prototype"], 0) + 1
    elements = sorted({s for a in structures for s in a.get_chemical_symbols()}, key=lambda s: atomic_numbers[s])
    n_alloy = sum(a.info["alloy"] for a in structures)
    print(f"{len(structures)} structures ({len(structures) - n_alloy} ordered, {n_alloy} alloys), "
          f"{len(counts)} structure types, {len(elements)} elements -> {args.output}")
    print(", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])))
    print("elements: " + " ".join(elements))
    print(f"atoms per structure: {min(map(len, structures))}-{max(map(len, structures))}")


if __name__ == "__main__":
    main()
