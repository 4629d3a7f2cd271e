"""Make the v4 crystal set of the phonon-DOS training data: the v3 set unchanged plus cheap crystals and alloys.

Command (about a minute; no downloads; deterministic from the seed):
    python scripts/make_phonon_crystals_v4.py --seed 2026 -o data/phonons/crystals_v4.extxyz
    python scripts/order_crystals_by_cost.py data/phonons/crystals_v4.extxyz \
        -o data/phonons/crystals_v4_hydrides_first.extxyz --min-width 10 --first-elements H --first-max-cost 15000

The file holds the v3 frames first, exactly as ``make_phonon_crystals_v3.py --seed 2026`` writes them (its
builders and random stream; when data/phonons/crystals_v3.extxyz exists the script checks that its v3 part
is byte-for-byte that file), then the extra set, ordered by v2's cost-weighted seeded shuffle drawn from the
same random stream after v3's draws.

Why: the phonon model's learning curve (docs/phonon_learning_curve.md) falls as N^-0.29 in the number of
training crystals, and the v3 frames still to compute are its most expensive ones (minutes to an hour
each), while a small cubic or hexagonal cell takes seconds. The extra set is built for crystals per CPU
hour: every frame has an estimated cost (scripts/order_crystals_by_cost.py) of at most ``MAX_COST`` (15,000;
the v3 rows estimated at 5,000-8,000 took a median 93 s and those at 8,000-15,000 197 s), and
it leans on the structure types whose v3 rows came out dynamically stable most often (zincblende,
wurtzite, antifluorite, chalcopyrite, A15, pyrite, fluorite, L1_2, B2, C15, elpasolite: 84-100 %). What
it adds:

- two structure types new to the data: CaCu5 (P6/mmm, 6 atoms: LaNi5, SmCo5, CaZn5, ...) and matlockite
  PbFCl (P4/nmm, 6 atoms: BaFCl, BiOCl, LaOCl, ...);
- hydrides, whose light H modes the model gets worst (ScH2 is its largest test error): fluorite TiH2, ZrH2,
  HfH2, VH2, NbH2, rocksalt CsH and PdH, cubic perovskite hydrides (KMgH3, CsCaH3, BaLiH3, ...);
- peroxides and pnictide dimers in the pyrite type (MgO2, ZnO2, CdO2 with the O-O bond set to 1.49 Å;
  PtP2, PtAs2, PtSb2, PdSb2, AuSb2, SiP2);
- members of well-populated types that v3 lacks: A15 (Ti3Au, Ta3Sn, Mo3Os, ...), C15 RT2 Laves phases
  of the lanthanides (RNi2, RCo2, RFe2, RIr2, RRh2; Fe and Co computed non-magnetic, as everywhere in
  this data), II-IV-V2 chalcopyrites, III-V bismides, elpasolite and K2PtCl6-type halides, B2 and L1_2
  intermetallics;
- random alloys: the v2 alloy systems its caps left out, and 55 new ones (rocksalt (Ti,Al)N and carbides,
  bcc Ti-Nb-Ta-Hf-Zr pairs, fcc Ni-Au, Pd-Fe, ...), 8-atom cells as v2 at x = 0.25, 0.5, 0.75, less the
  compositions over the cost limit (22 frames; some systems keep one or two of the three).

Starting cells follow v2's rules (bond scaling for ionic and covalent compounds, Vegard volume for
intermetallics and alloys); the reference generator relaxes cell and positions. Every frame carries info
``name``, ``prototype``, ``alloy`` and, for alloys, ``composition``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_phonon_crystals import tag  # noqa: E402
from make_phonon_crystals_v2 import (  # noqa: E402
    ALLOY_CAP, ALLOYS_V2, FRACTIONS, HEX, TEMPLATES, alloy_v2, bond, order, scale_bond,
    scale_volume, xtal)
from make_phonon_crystals_v3 import check, check_part, extxyz_bytes, reduced, v3_parts  # noqa: E402
from order_crystals_by_cost import estimated_cost  # noqa: E402

MAX_COST = 15000.0  # order_crystals_by_cost.py units: v3 rows estimated 8,000-15,000 took a median 200 s
R5 = ["La", "Ce", "Pr", "Nd", "Sm", "Gd", "Y", "Th"]
LAVES_R = ["Y", "Pr", "Nd", "Sm", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Lu"]

# entries as in v2's LISTS: a formula string (elements in the template's order) or a tuple of elements
EXTRA4: dict[str, list] = {
    "rocksalt": ["CsH", "PdH", "SnTe", "ScBi", "YBi"],
    "zincblende": ["AlBi", "GaBi", "InBi"],
    "wurtzite": ["AlAs", "InP", "GaP"],
    "fluorite": ["TiH2", "ZrH2", "HfH2", "VH2", "NbH2", "BaCl2", "PtIn2", "PtGa2", "IrIn2"],
    "antifluorite": ["Rh2As"],
    "B2": ["AuCd", "AuMn", "AgCd", "LiPd", "LiAu", "MgRh", "MgIr", "TiRh", "TiIr", "ZrRh", "ZrIr", "HfRh",
           "HfIr", "ScIr", "ScOs", "YIr", "YPd", "YAu", "YbMg", "ZrOs", "ScPd", "ScPt", "LuPd",
           "ErPd", "DyPd", "TbPd", "GdPd", "HoPd", "ErAu", "DyAu", "HoAu", "TbAu", "GdAu", "LuAu", "TmAu", "CaPd",
           "SrPd", "BaPd", "CaAu", "SrAu"],
    # (A, B) for A3B with B on the cube corner
    "L1_2": [("Pt", "Mn"), ("Pd", "Mn"), ("Ni", "Mn"), ("Pt", "Cr"), ("Pd", "Ce"), ("Ir", "Hf"), ("Rh", "Nb"),
             ("Pt", "Hf"), ("Pt", "Ta"), ("Pt", "Nb"), ("Pd", "Hf"), ("Pd", "Zr"), ("Pd", "Ti"), ("Pt", "Ga"),
             ("Pt", "In"), ("Pd", "Pb"), ("Pt", "Pb"), ("Ni", "Ge"), ("Ni", "Ga"), ("Ni", "Sn"), ("Co", "V"),
             ("Co", "Ti"), ("Al", "Er"), ("Al", "Ho"), ("Al", "Dy"), ("Al", "Tb"), ("Al", "Gd"), ("Ga", "Er"),
             ("Ga", "Ho"), ("Ga", "Lu"), ("Ga", "Tm"), ("Tl", "Ca"), ("Sn", "Ce"), ("In", "Ce"), ("In", "Ca"),
             ("Sn", "Ca"), ("Pb", "Ca"), ("Hg", "Sr"), ("Hg", "Ba")],
    "A15": ["Ti3Au", "Ti3Pt", "Ti3Ir", "Ti3Sb", "Zr3Au", "Zr3Pb", "Ta3Au", "Ta3Sn", "Ta3Sb", "Ta3Ge", "Ta3Pt",
            "Nb3Bi", "Nb3In", "Nb3Pd", "V3Sb", "V3Rh", "V3Os", "V3Pd", "V3Ir", "Mo3Ir", "Mo3Os", "Mo3Pt",
            "Mo3Sn", "Cr3Ru", "W3Si", "U3Si"],
    "C15": ([f"{r}{t}2" for t in ("Ni", "Co", "Fe", "Ir", "Rh") for r in LAVES_R]
            + ["ZrCo2", "HfCo2", "ZrFe2", "ScFe2", "ScNi2", "ZrIr2", "HfIr2", "ScIr2", "LaIr2", "CeIr2", "ThIr2",
               "CaPt2", "SrPt2", "BaPt2", "CaRh2", "CaIr2", "SrIr2", "BaRh2", "KBi2", "RbBi2", "CsBi2"]),
    # (A, B, X): II-IV-V2 and I-III-VI2
    "chalcopyrite": ([(a, b, x) for a in ("Zn", "Cd", "Mg") for b in ("Si", "Ge", "Sn") for x in ("P", "As", "Sb")]
                     + [("Cu", "Tl", "S"), ("Cu", "Tl", "Se"), ("Ag", "Tl", "Te"), ("Cu", "Fe", "Se"),
                        ("Ag", "Fe", "S"), ("Cu", "B", "S"), ("Li", "Ga", "Te"), ("Li", "In", "Te"),
                        ("Li", "Al", "Te"), ("Li", "Ga", "Se"), ("Li", "In", "Se")]),
    # (A, B, C, X): A2 B C X6
    "elpasolite": [("Cs", "Ag", "Sb", "Cl"), ("Cs", "Ag", "Sb", "Br"), ("Cs", "Ag", "In", "Br"),
                   ("Cs", "Na", "Bi", "Br"), ("Cs", "K", "Bi", "Cl"), ("Cs", "Na", "Sb", "Cl"),
                   ("Cs", "Na", "Sc", "Cl"), ("Cs", "Na", "La", "Cl"), ("Cs", "Na", "Ce", "Cl"),
                   ("Cs", "Na", "Gd", "Cl"), ("Cs", "Li", "Sc", "Cl"), ("Cs", "Na", "Al", "F"),
                   ("K", "Na", "Sc", "F"), ("K", "Na", "Ga", "F"), ("K", "K", "Al", "F"), ("Cs", "K", "Al", "F"),
                   ("Cs", "Ag", "Al", "Cl"), ("Cs", "Cu", "Bi", "Cl"), ("Rb", "Na", "Ga", "F"),
                   ("Cs", "Na", "Tl", "Cl"), ("Cs", "Li", "Y", "Br"), ("Cs", "Na", "Y", "Br")],
    # (A, B, X): A2 B X6
    "K2PtCl6": [("K", "Re", "Cl"), ("K", "Os", "Cl"), ("K", "Ir", "Cl"), ("K", "Te", "Cl"), ("Cs", "Te", "I"),
                ("Cs", "Sn", "I"), ("K", "Sn", "Br"), ("Cs", "Pd", "Cl"), ("Cs", "Pd", "Br"), ("Cs", "Pt", "Br"),
                ("Cs", "Zr", "Cl"), ("Cs", "Hf", "Cl"), ("Cs", "Te", "Cl"), ("Cs", "Te", "Br"), ("Rb", "Sn", "Cl"),
                ("Rb", "Pd", "Cl"), ("Rb", "Pt", "F"), ("Cs", "Ge", "Cl"), ("K", "Ge", "F"), ("Rb", "Te", "Cl")],
    # (A, B, H): cubic perovskite hydrides ABH3 (A corner, B centre)
    "perovskite": [("K", "Mg", "H"), ("Rb", "Ca", "H"), ("Cs", "Ca", "H"), ("Ba", "Li", "H"), ("Sr", "Li", "H"),
                   ("Eu", "Li", "H"), ("Cs", "Sr", "H"), ("K", "Ca", "H"), ("Rb", "Sr", "H")],
    "pyrite": ["PtP2", "PtAs2", "PtSb2", "PdAs2", "PdSb2", "AuSb2", "SiP2", "PtBi2"],
    "anti-CdCl2": ["Er2C", "Lu2C", "Tm2C", "Sc2C", "Ba2N"],
}
PEROXIDES = ["MgO2", "ZnO2", "CdO2"]
CACU5 = ([(r, t) for r in R5 for t in ("Ni", "Co")]
         + [("Ca", "Cu"), ("Ca", "Ni"), ("Ca", "Zn"), ("Sr", "Zn"), ("La", "Cu"), ("La", "Pt"), ("Ce", "Pt"),
            ("Y", "Fe"), ("Th", "Fe"), ("Ca", "Pt"), ("Sr", "Pt"), ("La", "Zn"), ("Ce", "Zn"), ("Ba", "Pt")])
MATLOCKITE = ([("Ba", "F", x) for x in ("Cl", "Br", "I")] + [("Sr", "F", x) for x in ("Cl", "Br", "I")]
              + [("Ca", "F", "Cl"), ("Pb", "F", "Cl"), ("Pb", "F", "Br"), ("Eu", "F", "Cl"), ("Sm", "F", "Cl")]
              + [("Bi", "O", x) for x in ("Cl", "Br", "I")]
              + [(r, "O", x) for r in ("La", "Ce", "Pr", "Nd", "Sm", "Gd") for x in ("Cl", "Br")]
              + [("La", "O", "I"), ("Pu", "O", "Cl"), ("Th", "N", "Cl")])
ALLOYS_V4 = {
    "fcc": [("Au", "Ni"), ("Pd", "Fe"), ("Pt", "Co"), ("Pt", "Fe"), ("Ag", "Pt"), ("Al", "Cu"), ("Ir", "Ni"),
            ("Pd", "Co")],
    "bcc": [("Ti", "Nb"), ("Ti", "Ta"), ("Ti", "Mo"), ("Zr", "Ta"), ("Hf", "Nb"), ("Hf", "Ta"), ("Nb", "W"),
            ("V", "W"), ("V", "Mo"), ("Fe", "Mo"), ("Cr", "Ta"), ("Ti", "W")],
    "hcp": [("Gd", "Tb"), ("Dy", "Ho"), ("Sc", "Zr"), ("Ru", "Re"), ("Co", "Re"), ("Mg", "Zn"), ("Y", "Lu"),
            ("Ti", "Sc")],
    "rocksalt": [("N", ("Ti", "Al")), ("N", ("Ti", "Cr")), ("N", ("Zr", "Hf")), ("C", ("Hf", "Ta")),
                 ("C", ("Ti", "Nb")), ("C", ("V", "Nb")), ("C", ("Zr", "Hf")), ("N", ("Sc", "Ti")),
                 ("O", ("Mg", "Zn")), ("O", ("Mg", "Co")), ("F", ("Li", "Na")), ("Br", ("K", "Rb")),
                 ("S", ("Ca", "Sr")), ("Te", ("Pb", "Sn")), ("K", ("Br", "I"))],
    "zincblende": [("As", ("Al", "In")), ("Sb", ("Ga", "In")), ("In", ("As", "P")), ("Zn", ("S", "Te")),
                   ("Te", ("Zn", "Hg")), ("N", ("Ga", "Al")), ("P", ("B", "Al"))],
    "wurtzite": [("N", ("Al", "In")), ("Se", ("Zn", "Cd")), ("O", ("Zn", "Cd")), ("S", ("Zn", "Mn"))],
    "diamond": [("Si", "Sn")],
}


def cacu5(a_: str, b: str) -> Atoms:
    """CaCu5-type AB5 (P6/mmm: A 1a, B 2c + 3g), Vegard volume."""
    atoms = xtal([a_, b, b], [(0, 0, 0), (1 / 3, 2 / 3, 0), (0.5, 0, 0.5)], 191, 5.0, c=4.0, gamma=HEX)
    return tag(scale_volume(atoms), f"{a_}{b}5-CaCu5", "CaCu5")


def matlockite(m: str, x1: str, x2: str, m_x1: float | None = None) -> Atoms:
    """PbFCl-type M X1 X2 (P4/nmm, origin 2: M 2c z 0.20, X1 2a, X2 2c z 0.65): scaled to the M-X1 bond (``m_x1`` Å,
    default v2's bond table), then c stretched until the shortest M-X2 distance is the M-X2 bond (the layers'
    spacing follows the larger anion: BiOCl, BiOBr and BiOI differ mostly in c)."""
    atoms = xtal([m, x1, x2], [(0.25, 0.25, 0.20), (0.75, 0.25, 0), (0.25, 0.25, 0.65)], 129, 4.1, c=7.2, setting=2)
    if m_x1 is None:
        atoms = scale_bond(atoms)
    else:
        symbols = np.array(atoms.get_chemical_symbols())
        d = atoms.get_all_distances(mic=True)[np.ix_(symbols == m, symbols == x1)].min()
        atoms.set_cell(atoms.cell * (m_x1 / d), scale_atoms=True)
    symbols = np.array(atoms.get_chemical_symbols())
    for _ in range(20):  # the apical M-X2 distance grows with c, the in-layer ones more slowly: iterate
        d = atoms.get_all_distances(mic=True)[np.ix_(symbols == m, symbols == x2)].min()
        if d >= 0.999 * bond(m, x2):
            break
        cell = atoms.cell.array.copy()
        cell[2] *= bond(m, x2) / d
        atoms.set_cell(cell, scale_atoms=True)
    return tag(atoms, f"{m}{x1}{x2}-matlockite", "matlockite")


def pyrite_dimer(m: str, x: str, dimer: float) -> Atoms:
    """Pyrite-type MX2 scaled to the M-X bond, then the X-X dimer (along <111>) set to ``dimer`` Å."""
    a = scale_bond(TEMPLATES["pyrite"](m, x)).cell.lengths()[0]
    u = 0.5 - dimer / (2 * np.sqrt(3) * a)
    return tag(xtal([m, x], [(0, 0, 0), (u, u, u)], 205, a), f"{m}{x}2-pyrite", "pyrite")


def peroxide_pyrite(formula: str, dimer: float = 1.49) -> Atoms:
    """Pyrite-type MO2 with the O-O dimer set to ``dimer`` Å."""
    return pyrite_dimer(formula[:-2], "O", dimer)


def candidates_v4() -> list[Atoms]:
    from make_phonon_crystals_v3 import build_extra

    out = [build_extra(p, e) for p, entries in EXTRA4.items() for e in entries]
    out += [peroxide_pyrite(f) for f in PEROXIDES]
    out += [cacu5(*e) for e in CACU5] + [matlockite(*e) for e in MATLOCKITE]
    return out


def alloys_v4(rng: np.random.Generator) -> list[Atoms]:
    """The v2 alloy systems past v2's caps, then the new systems; three compositions each (before the cost limit)."""
    specs = [(lat, s) for lat, pairs in ALLOYS_V2.items() for s in pairs[ALLOY_CAP.get(lat, len(pairs)):]]
    specs += [(lat, s) for lat, pairs in ALLOYS_V4.items() for s in pairs]
    return [alloy_v2(lat, s, x, rng) for lat, s in specs for x in FRACTIONS]


def v4_parts(rng: np.random.Generator) -> tuple[list[Atoms], list[Atoms], int, list[str]]:
    """(the v3 set, the v4 extra set ordered, frames skipped as already in v3, names over the cost limit), drawing
    from ``rng`` as this script's main() does."""
    v2, v3_extra = v3_parts(rng)  # the v3 set, exactly as make_phonon_crystals_v3.py makes it
    v3 = v2 + v3_extra
    extra, skipped, costly = new_frames(v3, candidates_v4() + alloys_v4(rng), MAX_COST)
    return v3, order(extra, rng), len(skipped), costly


def new_frames(known: list[Atoms], candidates: list[Atoms], max_cost: float
               ) -> tuple[list[Atoms], list[str], list[str]]:
    """(the candidates to add, the names skipped as already known, "name (cost)" of those over ``max_cost``): a
    candidate is known when its name is, or when it is an ordered crystal whose reduced formula and prototype
    are; the kept frames pass the v2 script's checks together with ``known``."""
    seen = {(reduced(a), a.info["prototype"]) for a in known if not a.info["alloy"]}
    names = {a.info["name"] for a in known}
    extra, skipped, costly = [], [], []
    for atoms in candidates:
        key = (reduced(atoms), atoms.info["prototype"])
        if atoms.info["name"] in names or (not atoms.info["alloy"] and key in seen):
            skipped.append(atoms.info["name"])
            continue
        cost = estimated_cost(atoms, 10.0)
        if cost > max_cost:
            costly.append(f"{atoms.info['name']} ({cost:.0f})")
            continue
        seen.add(key)
        names.add(atoms.info["name"])
        extra.append(atoms)
    check(known + extra)
    return extra, skipped, costly


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("-o", "--output", default="data/phonons/crystals_v4.extxyz")
    ap.add_argument("--v3", default="data/phonons/crystals_v3.extxyz",
                    help="v3 file to compare the v3 part with, byte for byte (skipped if absent)")
    args = ap.parse_args()
    v3, extra, skipped, costly = v4_parts(np.random.default_rng(args.seed))
    v3_bytes = check_part(args.v3, v3, "v3")
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_bytes(v3_bytes + extxyz_bytes(extra))
    counts: dict[str, int] = {}
    for a in extra:
        counts[a.info["prototype"]] = counts.get(a.info["prototype"], 0) + 1
    old_elements = {s for a in v3 for s in a.get_chemical_symbols()}
    elements = sorted({s for a in extra for s in a.get_chemical_symbols()}, key=lambda s: atomic_numbers[s])
    new_types = sorted(set(counts) - {a.info["prototype"] for a in v3})
    print(f"{len(v3) + len(extra)} structures: v3 {len(v3)} + extra {len(extra)} ({sum(a.info['alloy'] for a in extra)} "
          f"alloys; {len(counts)} types, new: {' '.join(new_types) or 'none'}; new elements: "
          f"{' '.join(e for e in elements if e not in old_elements) or 'none'}) -> {args.output}")
    print(f"skipped as already in v3: {skipped}; over the cost limit {MAX_COST:.0f}: {len(costly)}: {', '.join(costly)}")
    print("extra: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))))


if __name__ == "__main__":
    main()
