"""Make the v5 crystal set of the phonon-DOS training data: the v4 set unchanged plus hydrides, dimer crystals and
light-element crystals, the chemistry behind the phonon model's largest errors.

Command (a few minutes; no downloads; deterministic from the seed):
    python scripts/make_phonon_crystals_v5.py --seed 2026 -o data/phonons/crystals_v5.extxyz
    python scripts/order_crystals_by_cost.py data/phonons/crystals_v5.extxyz \
        -o data/phonons/crystals_v5_hydrides_first.extxyz --min-width 10 --first-elements H \
        --first-max-cost 15000 --alloys-last

The file holds the v4 frames first, exactly as ``make_phonon_crystals_v4.py --seed 2026`` writes them (when
data/phonons/crystals_v4.extxyz exists the script checks that its v4 part is byte-for-byte that file), then the
extra set, ordered by v2's cost-weighted seeded shuffle drawn from the same random stream after v4's draws.

Why: on the model trained on the first 1,701 rows, the crystals over the 1.5 THz Wasserstein target are
hydrides (RbCaH3 3.5 THz, NbH2 5.0 THz: 30 of 1,289 stable training-pool crystals hold H), dimer crystals
(the acetylide CaC2 2.3, the peroxide MgO2 1.5) and light wurtzites (BeO 1.9). What the extra set adds, every
frame at an estimated cost of at most ``MAX_COST`` (scripts/order_crystals_by_cost.py units):

- hydrides: cubic perovskites ABH3 (A+ B2+ and inverse A2+ B+, Be on the B site), K2PtCl6-type complex
  hydrides A2MH6 (Mg2FeH6, Mg2RuH6, Ca2OsH6, ...; M-H stretches near 50-55 THz), matlockite hydride halides
  MHX (BaHCl, SrHBr, ...), BiF3-type (D0_3) trihydrides LaH3-NdH3, fluorite dihydrides and rocksalt NiH;
  the s-block and divalent-lanthanide hydrides start at ionic M-H distances (``hydride_bond``), the others at
  v2's covalent bond table;
- dimer crystals: CaC2-type superoxides KO2, RbO2, CsO2 (O-O 1.33 Å) and MgC2, pyrite-type pernitrides PtN2,
  PdN2, IrN2, OsN2, RuN2, RhN2 (N-N 1.41 Å);
- light-element crystals: BeO in the zincblende and rocksalt types, Be Laves (C15) and AlB2-type phases,
  antiperovskites Li3OCl, Li3OBr, Na3OCl, Na3OBr.

Many of these are metastable or hypothetical in the chosen type; the reference generator relaxes them and
records their imaginary modes, and the trainer leaves out the dynamically unstable ones, as for every set.
Starting cells follow v2's rules (bond scaling for ionic and covalent compounds, Vegard volume for
intermetallics). Every frame carries info ``name``, ``prototype``, ``alloy``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.build import bulk

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_phonon_crystals import tag  # noqa: E402
from make_phonon_crystals_v2 import TEMPLATES, bond, cubic_cell, order, scale_bond, xtal  # noqa: E402
from make_phonon_crystals_v3 import build_extra, cac2, check_part, extxyz_bytes  # noqa: E402
from make_phonon_crystals_v4 import matlockite, new_frames, pyrite_dimer, v4_parts  # noqa: E402

MAX_COST = 15000.0

# Starting M-H distances of the ionic hydrides: the cation's Shannon radius (Eu2+, Yb2+ as divalent) plus
# H- 1.40 Å (LiH 2.16 against 2.04 measured, NaH 2.42/2.44, KH 2.78/2.85, CaH2 2.40/2.3); v2's bond table
# (0.95 x the covalent radii) is kept for the transition-metal and rare-earth hydrides, as in v4.
H_ANION = 1.40
CATION = {"Li": 0.76, "Na": 1.02, "K": 1.38, "Rb": 1.52, "Cs": 1.67, "Be": 0.45, "Mg": 0.72, "Ca": 1.00,
          "Sr": 1.18, "Ba": 1.35, "Eu": 1.17, "Yb": 1.02}
# (A, B): cubic perovskite hydrides ABH3, A corner, B centre
PEROVSKITE_HYDRIDES = [("Na", "Mg"), ("Rb", "Mg"), ("Cs", "Mg"), ("Na", "Ca"), ("K", "Sr"), ("K", "Ba"),
                       ("Rb", "Ba"), ("Cs", "Ba"), ("Rb", "Eu"), ("Cs", "Eu"), ("Rb", "Yb"), ("Cs", "Yb"),
                       ("K", "Be"), ("Rb", "Be"), ("Cs", "Be"), ("Ca", "Li"), ("Yb", "Li"), ("Ba", "Na"),
                       ("Sr", "Na"), ("Eu", "Na")]
# (A, M): K2PtCl6-type A2 M H6
COMPLEX_HYDRIDES = [("Mg", "Fe"), ("Mg", "Ru"), ("Mg", "Os"), ("Ca", "Fe"), ("Ca", "Ru"), ("Ca", "Os"), ("Sr", "Fe"),
                    ("Sr", "Ru"), ("Sr", "Os"), ("Ba", "Ru"), ("Ba", "Os"), ("Eu", "Fe"), ("Eu", "Ru"), ("Yb", "Fe"),
                    ("Yb", "Ru")]
IONIC_DIHYDRIDES = ["CaH2", "SrH2", "EuH2", "YbH2"]  # fluorite, M-H from CATION + H_ANION
EXTRA5: dict[str, list] = {
    "fluorite": ["TmH2", "PmH2", "NpH2", "ThH2"],
    "rocksalt": ["BeO"],
    "zincblende": ["BeO"],
    "C15": ["TiBe2", "NbBe2", "TaBe2"],
    "AlB2": ["ZrBe2", "HfBe2"],
    # (A, B, X): A corner, B centre, X3 faces
    "antiperovskite": [("Cl", "O", "Li"), ("Br", "O", "Li"), ("Cl", "O", "Na"), ("Br", "O", "Na")],
}
HYDRIDE_HALIDES = [(m, "H", x) for m in ("Ba", "Sr") for x in ("Cl", "Br", "I")] + [
    ("Ca", "H", "Cl"), ("Ca", "H", "Br"), ("Eu", "H", "Cl"), ("Eu", "H", "Br")]
TRIHYDRIDES = ["La", "Ce", "Pr", "Nd"]
SUPEROXIDES = [("K", "O", 1.33), ("Rb", "O", 1.33), ("Cs", "O", 1.33), ("Mg", "C", 1.22)]
PERNITRIDES = ["Pt", "Pd", "Ir", "Os", "Ru", "Rh"]


def hydride_bond(m: str) -> float:
    """Starting M-H distance (Å) in an ionic hydride."""
    return CATION[m] + H_ANION


def perovskite_hydride(a_: str, b: str) -> Atoms:
    """Cubic ABH3: the larger of the cells that give B-H and A-H their ionic distances."""
    a = max(2 * hydride_bond(b), np.sqrt(2) * hydride_bond(a_))
    return tag(cubic_cell([a_, b, "H", "H", "H"], [(0, 0, 0), (.5, .5, .5), (.5, .5, 0), (.5, 0, .5), (0, .5, .5)], a),
               f"{a_}{b}H3-perovskite", "perovskite")


def complex_hydride(a_: str, m: str) -> Atoms:
    """K2PtCl6-type A2MH6 (Fm-3m: M 4a, A 8c, H 24e (x, 0, 0)): M-H at v2's bond table (the covalent M-H of
    [FeH6]4-, 1.55 Å against 1.56 measured in Mg2FeH6), the cell at least large enough for the ionic A-H distance."""
    d_mh, d_ah = bond(m, "H"), hydride_bond(a_)
    a = max(d_mh / 0.24, d_ah / np.sqrt(1 / 8 + (0.25 - 0.24) ** 2))
    return tag(xtal([m, a_, "H"], [(0, 0, 0), (0.25, 0.25, 0.25), (d_mh / a, 0, 0)], 225, a),
               f"{a_}2{m}H6-K2PtCl6", "K2PtCl6")


def ionic_dihydride(formula: str) -> Atoms:
    """Fluorite MH2 with the ionic M-H distance (a = 4 d / sqrt(3))."""
    m = formula[:-2]
    return tag(bulk(formula, "fluorite", a=4 * hydride_bond(m) / np.sqrt(3)), f"{formula}-fluorite", "fluorite")


def rocksalt_nickel_hydride() -> Atoms:
    """Rocksalt NiH at its measured lattice constant, 3.73 Å (v2's covalent bond would start it 21 % short)."""
    return tag(bulk("NiH", "rocksalt", a=3.73), "NiH-rocksalt", "rocksalt")


def trihydride(m: str) -> Atoms:
    """BiF3-type (D0_3, Fm-3m) MH3: M 4a, H 8c and 4b, scaled to the M-H bond."""
    return tag(scale_bond(TEMPLATES["D0_3"]("H", m)), f"{m}H3-D0_3", "D0_3")


def candidates_v5() -> list[Atoms]:
    out = [build_extra(p, e) for p, entries in EXTRA5.items() for e in entries]
    out += [perovskite_hydride(*e) for e in PEROVSKITE_HYDRIDES] + [complex_hydride(*e) for e in COMPLEX_HYDRIDES]
    out += [ionic_dihydride(f) for f in IONIC_DIHYDRIDES] + [rocksalt_nickel_hydride()]
    out += [matlockite(m, h, x, hydride_bond(m)) for m, h, x in HYDRIDE_HALIDES]
    out += [trihydride(m) for m in TRIHYDRIDES]
    out += [cac2(*e) for e in SUPEROXIDES]
    out += [pyrite_dimer(m, "N", 1.41) for m in PERNITRIDES]
    return out


def v5_parts(rng: np.random.Generator) -> tuple[list[Atoms], list[Atoms], list[str], list[str]]:
    """The v4 set and the v5 extra set, drawing from ``rng`` exactly as this script does (later sets call it
    to reproduce v5 byte for byte): (v4 frames, extra frames in order, names skipped as already in v4, names over
    the cost limit)."""
    v3, v4_extra, _, _ = v4_parts(rng)  # the v4 set, exactly as make_phonon_crystals_v4.py makes it
    v4 = v3 + v4_extra
    extra, skipped, costly = new_frames(v4, candidates_v5(), MAX_COST)
    return v4, order(extra, rng), skipped, costly


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("-o", "--output", default="data/phonons/crystals_v5.extxyz")
    ap.add_argument("--v4", default="data/phonons/crystals_v4.extxyz",
                    help="v4 file to compare the v4 part with, byte for byte (skipped if absent)")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    v4, extra, skipped, costly = v5_parts(rng)
    v4_bytes = check_part(args.v4, v4, "v4")
    write_set(args.output, v4_bytes, "v4", len(v4), extra, skipped, costly, MAX_COST)


def write_set(path: str, base_bytes: bytes, base: str, n_base: int, extra: list[Atoms], skipped: list[str],
              costly: list[str], max_cost: float) -> None:
    """Write the earlier set's bytes followed by the extra frames to ``path`` and print what was added."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(base_bytes + extxyz_bytes(extra))
    counts: dict[str, int] = {}
    for a in extra:
        counts[a.info["prototype"]] = counts.get(a.info["prototype"], 0) + 1
    n_h = sum("H" in a.get_chemical_symbols() for a in extra)
    print(f"{n_base + len(extra)} structures: {base} {n_base} + extra {len(extra)} ({n_h} with H) -> {path}")
    print(f"skipped as already in {base}: {len(skipped)} ({', '.join(skipped) or 'none'}); over the cost limit "
          f"{max_cost:.0f}: {len(costly)}: {', '.join(costly) or 'none'}")
    print("extra: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))))

if __name__ == "__main__":
    main()
