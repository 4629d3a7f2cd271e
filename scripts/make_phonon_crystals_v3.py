"""Make the v3 crystal set of the phonon-DOS training data: the v2 set unchanged plus 462 cheap ordered crystals.

Command (under a minute; no downloads; deterministic from the seed):
    python scripts/make_phonon_crystals_v3.py --seed 2026 -o data/phonons/crystals_v3.extxyz

The file holds the v2 frames first, exactly as ``make_phonon_crystals_v2.py --seed 2026`` writes them (same
builders, imported from the v2 and v1 scripts, same random stream; when data/phonons/crystals_v2.extxyz
exists the script checks that its v2 part is byte-for-byte that file), then the extra set.

The extra set: ordered crystals of at most 4 atoms in the primitive cell and an estimated cost
(scripts/order_crystals_by_cost.py) of at most 5,000, half of them below 900 (4.5-93 s each, mean 37 s, for
8 of them with the reference generator on one loaded core, against ~300 s for the costly v2 crystals still
to compute), none of them in v2 under the same reduced formula and prototype except the 60 rebuilt
half-Heuslers below. It favours what v2 lacks:

- elements in few v2 crystals: the lanthanides (rocksalt selenides and tellurides, CsCl-type RMg, RZn, RCd,
  RAg, RRh, RHg, RTl, AlB2-type RGa2, AuCu3-type RIn3 and RPd3, MoSi2-type RAg2, half-Heusler RPtBi,
  RPdBi, RNiSb, RNiBi, RPdSb, RPtSb, CaC2-type RC2, delafossite CuRO2), the actinides Th, U, Np, Pu
  (rocksalt pnictides and chalcogenides, AuCu3-type UX3, PuX3, ThX3, fluorite hydrides), Yb, Eu, Sm, and
  the elements v2 lacks: Ac (fcc, AcH2) and Pm (hcp, dhcp, PmN), with new elemental structures (dhcp La,
  Pr, Nd, Pm; Sm-type Sm; alpha-Hg; alpha-Pa; omega Ti, Zr, Hf; fcc Ac, delta-Pu, beta-La, Li, Na; hcp
  Yb, Sm, Pm, Li, Na);
- light stiff compounds: wurtzite BeSe and BSb, rocksalt AlN, GaN, InN, TaN, AlB2-type diborides and
  ZrBe2/HfBe2, antifluorite Mg2C, anti-CdI2 carbides (Ta2C, W2C, Nb2C, V2C, Mo2C), anti-CdCl2 nitrides
  and carbides (Ca2N, Sr2N, Y2C, ...), CaC2-type acetylides and peroxides (C2 and O2 dimers);
- 3d-metal compounds (computed non-magnetic, as all of v2): CsCl-type FeCo, MnRh, ScNi, ScCo, MnZn,
  NiAs-type VP, VTe, TiTe, zincblende CoO and MnTe, wurtzite MnSe, fluorite FeSi2, L1_2 Mn3Rh;
- the v2 lists' members that v2 capped away (L1_2, D0_22) and a few more of its types.

Half-Heusler XYZ here put the late transition metal Y on the 4c site (1/4, 1/4, 1/4) between X (4a) and
Z (4b), which form a rocksalt lattice: the real C1b arrangement (TiCoSb, LuPtBi). (The v2 builder puts Z
on 4c for its 60 transition-metal half-Heuslers, which come out dynamically unstable; those v2 frames are
kept as they are, and the 60 are added again in the C1b arrangement as ``XYZ-half-heusler-C1b``.)

Starting lattice parameters follow v2: ionic and covalent compounds scaled to v2's ``bond()`` (Shannon
radii sums, else 0.95 x the covalent radii sum) on the shortest unlike bond, intermetallics to the mean
atomic volume of their elements (Vegard), elements from measured lattice constants. Two exceptions to
v2's rules: every CsCl-type crystal here is an intermetallic and gets the volume rule (v2's builder would
use ionic radii where both species have one, e.g. BaCd), and the CaC2-type dimers are set to 1.20 Å (C2 of
Ca, Sr, Ba), 1.29 Å (C2 of the lanthanides, Y, U) or 1.49 Å (O2) after the bond scaling. Every frame
carries info ``name``, ``prototype``, ``alloy`` = 0. The extra set is ordered like v2 (v2's cost-weighted
seeded shuffle, drawn from the same random stream after v2's draws).

Left out on purpose, besides v2's list: Ce intermetallics (CsCl-type CeMg and CeZn come out unstable),
more L1_0 and full Heusler compounds (many unstable in v2's rows), dihalides of the CdI2 type (soft
layer modes put them just over 1 % imaginary modes), charge-density-wave dichalcogenides (1T-TaS2, VSe2),
elemental K, Rb, Cs (the potential's forces vanish in their relaxed cells), bcc Li (unstable in v2's rows).
"""
from __future__ import annotations

import argparse
import io
import sys
from math import gcd
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.build import bulk
from ase.data import atomic_numbers
from ase.io import write

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_phonon_crystals import split, tag  # noqa: E402
from make_phonon_crystals_v2 import (  # noqa: E402
    CAP, HEX, LISTS, TEMPLATES, alloys_v2, build, order, ordered_v2, scale_bond, scale_volume, xtal)

MAX_ATOMS = 4
RE = ["La", "Pr", "Nd", "Sm", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Lu", "Y"]  # no Ce: see the docstring
HEAVY_RE = ["Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Lu"]

# ---------------------------------------------------------------------------------------------- elements
# (element, lattice constants in Å: measured or, for omega-Hf and hcp Pm, typical), built as given

ELEMENTS_V3 = {
    "fcc": [("Ac", 5.31), ("Pu", 4.64), ("La", 5.30), ("Li", 4.40), ("Na", 5.30)],
    "hcp": [("Pm", 3.65), ("Sm", 3.62), ("Yb", 3.88), ("Li", 3.11), ("Na", 3.77)],
    "dhcp": [("La", 3.77, 12.16), ("Pr", 3.67, 11.83), ("Nd", 3.66, 11.80), ("Pm", 3.65, 11.65)],
    "Sm-type": [("Sm", 3.62, 26.25)],
    "alpha-Hg": [("Hg", 3.45, 6.69)],  # rhombohedral a = 2.99 Å, alpha = 70.45 deg, hexagonal setting
    "alpha-Pa": [("Pa", 3.92, 3.24)],
    "omega": [("Ti", 4.60, 2.82), ("Zr", 5.04, 3.15), ("Hf", 5.00, 3.12)],
}


def element_v3(proto: str, el: str, a: float, c: float | None = None) -> Atoms:
    """One elemental crystal at the given lattice constants (Å)."""
    if proto == "fcc":
        return bulk(el, "fcc", a=a)
    if proto == "hcp":
        return bulk(el, "hcp", a=a, c=1.6 * a)  # v2's c/a
    if proto == "dhcp":  # ABAC stacking, 4 atoms
        return xtal([el, el], [(0, 0, 0), (1 / 3, 2 / 3, 0.25)], 194, a, c=c, gamma=HEX)
    if proto == "Sm-type":  # 9-layer stacking, 3 atoms in the rhombohedral cell
        return xtal([el, el], [(0, 0, 0), (0, 0, 0.222)], 166, a, c=c, gamma=HEX)
    if proto == "alpha-Hg":
        return xtal([el], [(0, 0, 0)], 166, a, c=c, gamma=HEX)
    if proto == "alpha-Pa":
        return bulk(el, "bct", a=a, c=c)
    if proto == "omega":  # P6/mmm, 1a + 2d
        return xtal([el, el], [(0, 0, 0), (1 / 3, 2 / 3, 0.5)], 191, a, c=c, gamma=HEX)
    raise ValueError(f"unknown elemental prototype {proto!r}")


# ---------------------------------------------------------------------------------------------- compounds
# entries as in v2's LISTS: a formula string (elements in the template's order) or a tuple of elements.
# Not listed for their cost (order_crystals_by_cost.py estimate above 5,000, 10-30x a rocksalt; light stiff
# small cells need large supercells): wurtzite BP, BAs, BeS, BeTe, GeC, AlAs, MgS, CoO, CuH, zincblende BeO,
# NiAs-type NiS and CoS, fluorite TmH2 and NpH2, anti-CdI2 Ti2O, and these D0_22 members v2 capped away:
COSTLY_D0_22 = [("Cu", "Pd"), ("Ir", "V"), ("Rh", "V")]

EXTRA: dict[str, list] = {
    "rocksalt": ([f"{r}{x}" for r in ["La", "Ce", "Pr", "Nd", "Sm", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Lu", "Y"]
                  for x in ("Se", "Te")]
                 + ["YbS", "YbSe", "YbTe", "YbN", "YbP", "YbAs", "YbSb", "EuN", "PmN"]
                 + ["ThS", "ThSe", "ThP", "ThAs", "ThSb", "US", "USe", "UTe", "UP", "UAs", "USb", "UBi",
                    "NpC", "NpP", "NpAs", "NpSb", "NpBi", "NpS", "NpSe", "NpTe",
                    "PuC", "PuP", "PuAs", "PuSb", "PuBi", "PuS", "PuSe", "PuTe"]
                 + ["AlN", "GaN", "InN", "ZnO", "TaN"]),
    "zincblende": ["MgS", "MgSe", "BBi", "CoO", "MnTe"],
    "wurtzite": ["BeSe", "BSb", "AlSb", "GaSb", "InSb", "MgSe", "CuCl", "CuI", "MnSe"],
    "B2": ([f"{r}{x}" for x in ("Mg", "Zn", "Cd", "Ag", "Hg") for r in RE]
           + [f"{r}Rh" for r in HEAVY_RE] + ["ScHg"]
           + [f"{r}Tl" for r in ["Y", "La", "Nd", "Gd", "Dy", "Er", "Tm", "Lu"]]
           + ["FeCo", "MnRh", "ScNi", "ScCo", "ScZn", "ScCd", "MnZn", "RuGa", "RhGa", "RhIn", "RhBe", "MgHg",
              "BaCd"]),
    "fluorite": ["SmH2", "PuH2", "AcH2", "YbF2", "SmF2", "FeSi2", "PtSn2"],
    "antifluorite": ["Rb2Te", "Mg2C", "Rh2P", "Ir2P"],
    "AlB2": ([f"{r}Ga2" for r in RE if r != "Lu"]
             + ["EuGa2", "PuGa2", "TbB2", "YbB2", "PuB2", "ZrBe2", "HfBe2"]),
    "NiAs": ["VP", "VTe", "TiTe", "AuSn", "PtPb"],
    "CdI2": ["HfTe2", "SiTe2"],
    "anti-CdI2": ["Ag2F", "Ba2N", "Ta2C", "W2C", "Nb2C", "V2C", "Mo2C"],
    "anti-CdCl2": ["Ca2N", "Sr2N", "Y2C", "Gd2C", "Tb2C", "Dy2C", "Ho2C", "Cs2O"],
    # (X, Y, Z): Y, the late transition metal, on the 4c site
    "half-heusler": ([(r, "Pt", "Bi") for r in ["Pr", "Nd", "Sm", "Tb", "Ho", "Er", "Tm", "Yb"]]
                     + [(r, "Pd", "Bi") for r in ["Nd", "Sm", "Gd", "Tb", "Dy", "Tm"]]
                     + [(r, "Ni", "Sb") for r in ["Gd", "Tb", "Dy", "Ho", "Tm"]]
                     + [(r, "Ni", "Bi") for r in ["Gd", "Dy", "Ho", "Er", "Tm", "Lu"]]
                     + [(r, "Pd", "Sb") for r in ["Dy", "Ho", "Er", "Lu"]]
                     + [(r, "Pt", "Sb") for r in ["Ho", "Er", "Tm"]]
                     + [("Hf", "Co", "Bi"), ("Hf", "Ir", "Sb"), ("Hf", "Ni", "Pb"), ("Nb", "Ir", "Sn"),
                        ("Zr", "Rh", "Bi")]),
    # v2's (A, B) for A3B: B on the cube corner
    "L1_2": (LISTS["L1_2"][CAP["L1_2"]:]
             + [("In", r) for r in RE] + [("Pd", r) for r in RE + ["Sc"]]
             + [("Sn", r) for r in ["Pr", "Nd", "Sm"]] + [("Pb", r) for r in ["Pr", "Nd"]]
             + [("Tl", r) for r in ["La", "Pr", "Nd"]]
             + [(x, "U") for x in ["Al", "Ga", "In", "Si", "Ge", "Sn", "Pb", "Rh", "Ru"]]
             + [("Sn", "Np"), ("Sn", "Pu"), ("In", "Pu"), ("Pd", "Pu"), ("Pb", "Pu"), ("Pb", "Th"), ("In", "Th"),
                ("Sn", "Th"), ("Ge", "Pu"), ("Mn", "Rh"), ("Pb", "Yb"), ("Sn", "Yb"), ("In", "Yb"), ("Pd", "Yb"),
                ("Pd", "Eu")]),
    "D0_22": [e for e in LISTS["D0_22"][CAP["D0_22"]:] if e not in COSTLY_D0_22],
    "MoSi2": [f"{r}Ag2" for r in ["Tb", "Dy", "Ho", "Er", "Tm", "Lu", "Y"]],
    "delafossite": [("Cu", r, "O") for r in ["Pr", "Nd", "Sm", "Eu"]],
    "heusler": [("Ru", "Ti", "Sn"), ("Ru", "Zr", "Sn"), ("Ru", "Hf", "Sn")],
    # (metal, dimer species, dimer length in Å)
    "CaC2": ([(m, "C", 1.20) for m in ["Ca", "Sr", "Ba"]]
             + [(m, "C", 1.29) for m in ["La", "Ce", "Pr", "Nd", "Sm", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb",
                                         "Lu", "Y", "U"]]
             + [(m, "O", 1.49) for m in ["Ca", "Sr", "Ba"]]),
    "PtS": ["PtS", "PdO"],
}


def build_extra(proto: str, entry) -> Atoms:
    """One extra compound, named like v2 (formula-prototype)."""
    if proto == "B2":  # intermetallics only: Vegard volume
        a_, b = split(entry)
        return tag(scale_volume(TEMPLATES["B2"](a_, b)), f"{entry}-B2", "B2")
    if proto in ("anti-CdI2", "anti-CdCl2"):  # M2X: the anion X on the cation site of CdI2 / CdCl2
        m, x = split(entry)
        atoms = TEMPLATES[proto[5:]](x, m)
        return tag(scale_bond(atoms), f"{entry}-{proto}", proto)
    if proto == "half-heusler":
        x, y, z = entry
        atoms = TEMPLATES["half-heusler"](x, z, y)  # x 4a (0), z 4b (1/2), y 4c (1/4)
        return tag(scale_volume(atoms), f"{x}{y}{z}-half-heusler", proto)
    if proto == "CaC2":
        return cac2(*entry)
    if proto == "PtS":  # cooperite, P4_2/mmc: M 2c, X 2e
        m, x = split(entry)
        atoms = xtal([m, x], [(0, 0.5, 0), (0, 0, 0.25)], 131, 3.47, c=6.11)
        return tag(scale_bond(atoms), f"{entry}-PtS", proto)
    return build(proto, entry)


def cac2(m: str, x: str, dimer: float) -> Atoms:
    """CaC2-type MX2 (I4/mmm: M 2a, X 4e): cell scaled to the M-X bond, then the X-X dimer set to `dimer` Å."""
    a, c, z = 3.89, 6.38, 0.406
    f = (scale_bond(xtal([m, x], [(0, 0, 0), (0, 0, z)], 139, a, c=c)).get_volume()
         / xtal([m, x], [(0, 0, 0), (0, 0, z)], 139, a, c=c).get_volume()) ** (1 / 3)
    a, c = a * f, c * f
    atoms = xtal([m, x], [(0, 0, 0), (0, 0, 0.5 * (1 - dimer / c))], 139, a, c=c)
    return tag(atoms, f"{m}{x}2-CaC2", "CaC2")


def reduced(atoms: Atoms) -> tuple:
    """Reduced formula as a sorted tuple of (symbol, count)."""
    symbols = atoms.get_chemical_symbols()
    counts = {s: symbols.count(s) for s in set(symbols)}
    g = 0
    for n in counts.values():
        g = gcd(g, n)
    return tuple(sorted((s, n // g) for s, n in counts.items()))


LATE_TM = {"Fe", "Co", "Ni", "Ru", "Rh", "Pd", "Ir", "Pt", "Au"}


def corrected_half_heuslers() -> list[Atoms]:
    """The v2 transition-metal half-Heuslers XYZ (TiNiSn, ZrCoSb, ...) in their real C1b arrangement: X and Z
    on the rocksalt sites 4a and 4b, the late transition metal Y on 4c. v2 put Y on 4a and Z on 4c (its
    (b4, a4, c4) entries), and those rows come out dynamically unstable; the v2 frames are kept as they are,
    and these are named ``XYZ-half-heusler-C1b``."""
    out = []
    for a4, b4, c4 in LISTS["half-heusler"]:
        if a4 not in LATE_TM:  # the stuffed zincblendes (LiZnP, MgAgAs, ...): v2 builds them right
            continue
        x, y, z = b4, a4, c4
        atoms = TEMPLATES["half-heusler"](x, z, y)  # x 4a (0), z 4b (1/2), y 4c (1/4)
        out.append(tag(scale_volume(atoms), f"{x}{y}{z}-half-heusler-C1b", "half-heusler"))
    return out


def extra_set(v2: list[Atoms]) -> list[Atoms]:
    """The extra crystals, skipping any whose (reduced formula, prototype) is in v2 or already built."""
    seen = {(reduced(a), a.info["prototype"]) for a in v2 if not a.info["alloy"]}
    names = {a.info["name"] for a in v2}
    out = []
    candidates = [tag(element_v3(p, *spec), f"{spec[0]}-{p}", p) for p, specs in ELEMENTS_V3.items()
                  for spec in specs]
    candidates += [build_extra(p, e) for p, entries in EXTRA.items() for e in entries]
    corrected = corrected_half_heuslers()
    for atoms in candidates + corrected:
        key = (reduced(atoms), atoms.info["prototype"])
        if key in seen and atoms not in corrected:
            continue
        assert atoms.info["name"] not in names, f"name clash: {atoms.info['name']}"
        if len(atoms) > MAX_ATOMS:
            raise SystemExit(f"{atoms.info['name']}: {len(atoms)} atoms in the primitive cell (at most {MAX_ATOMS})")
        seen.add(key)
        names.add(atoms.info["name"])
        out.append(atoms)
    return out


def check(structures: list[Atoms]) -> None:
    """The v2 script's sanity checks: unique names, finite positions, full-rank cells, no atoms closer than 0.5 Å."""
    names = [a.info["name"] for a in structures]
    dup = {n for n in names if names.count(n) > 1}
    assert not dup, f"names must be unique: {sorted(dup)}"
    for a in structures:
        assert np.isfinite(a.positions).all() and a.cell.rank == 3, a.info["name"]
        if len(a) > 1:
            d = a.get_all_distances(mic=True) + 100 * np.eye(len(a))
            assert d.min() > 0.5, (a.info["name"], d.min())


def extxyz_bytes(structures: list[Atoms]) -> bytes:
    buf = io.StringIO()
    write(buf, structures, format="extxyz")
    return buf.getvalue().encode()


def check_part(path: str, frames: list[Atoms], what: str) -> bytes:
    """The extxyz bytes of ``frames``; when ``path`` exists, stop unless it holds exactly those bytes (a later
    set must begin with the earlier set's file, byte for byte, so every computed row keeps its uid)."""
    data = extxyz_bytes(frames)
    if Path(path).exists():
        if Path(path).read_bytes() != data:
            raise SystemExit(f"the {what} part differs from {path}: not the {what} set of this seed")
        print(f"{what} part: {len(frames)} frames, byte-identical to {path}")
    return data


def v3_parts(rng: np.random.Generator) -> tuple[list[Atoms], list[Atoms]]:
    """(the v2 set, the v3 extra set), each ordered, drawing from ``rng`` as this script's main() does."""
    # the v2 set, exactly as make_phonon_crystals_v2.py main() makes it (same calls, same random stream)
    v2 = ordered_v2() + alloys_v2(rng)
    check(v2)
    v2 = order(v2, rng)
    extra = extra_set(v2)
    check(v2 + extra)
    return v2, order(extra, rng)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("-o", "--output", default="data/phonons/crystals_v3.extxyz")
    ap.add_argument("--v2", default="data/phonons/crystals_v2.extxyz",
                    help="v2 file to compare the v2 part with, byte for byte (skipped if absent)")
    args = ap.parse_args()
    v2, extra = v3_parts(np.random.default_rng(args.seed))
    v2_bytes = check_part(args.v2, v2, "v2")
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_bytes(v2_bytes + extxyz_bytes(extra))
    counts: dict[str, int] = {}
    for a in extra:
        counts[a.info["prototype"]] = counts.get(a.info["prototype"], 0) + 1
    v2_elements = {s for a in v2 for s in a.get_chemical_symbols()}
    new_types = sorted(set(counts) - {a.info["prototype"] for a in v2})
    elements = sorted({s for a in extra for s in a.get_chemical_symbols()}, key=lambda s: atomic_numbers[s])
    new_elements = " ".join(e for e in elements if e not in v2_elements) or "none"
    sizes = [len(a) for a in extra]
    print(f"{len(v2) + len(extra)} structures: v2 {len(v2)} + extra {len(extra)} ordered ({len(counts)} structure "
          f"types, new: {' '.join(new_types)}; {len(elements)} elements, new: {new_elements}; atoms per cell "
          f"{min(sizes)}-{max(sizes)}) -> {args.output}")
    print("extra: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))))
    print("extra elements: " + " ".join(elements))


if __name__ == "__main__":
    main()
