"""Make the v6 crystal set of the phonon-DOS training data: the v5 set unchanged plus transition-metal hydrides and
M2X carbides and nitrides, the chemistry behind the phonon model's largest errors after v5.

Command (a few minutes; no downloads; deterministic from the seed):
    python scripts/make_phonon_crystals_v6.py --seed 2026 -o data/phonons/crystals_v6.extxyz
    python scripts/order_crystals_by_cost.py data/phonons/crystals_v6.extxyz \
        -o data/phonons/crystals_v6_hydrides_first.extxyz --min-width 10 --first-elements H \
        --first-max-cost 15000 --alloys-last

The file holds the v5 frames first, exactly as ``make_phonon_crystals_v5.py --seed 2026`` writes them (when
data/phonons/crystals_v5.extxyz exists the script checks that its v5 part is byte-for-byte that file), then the
extra set, ordered by v2's cost-weighted seeded shuffle drawn from the same random stream after v5's draws.

Why: on the model trained on the first 1,769 rows, the crystals furthest from the 1.5 THz Wasserstein target are
transition-metal dihydrides (VH2 9.5 THz, NbH2, ZrH2: the only crystals that hold both a d metal and H, besides
NiH and PdH) and the anti-CdI2 carbide V2C (4.3 THz). What the extra set adds, every frame at an estimated cost of
at most ``MAX_COST`` (scripts/order_crystals_by_cost.py units):

- interstitial hydrides of the d metals: rocksalt MH (H in the octahedral holes of fcc M), zincblende MH
  (tetrahedral holes), anti-NiAs MH (octahedral holes of hcp M: epsilon-CrH, MnH), fluorite MH2 (Ta, Cr, Mo, W,
  Mn), the tetragonal ThH2 type of epsilon-ZrH2 (I4/mmm, c/a 1.26), and K2PtCl4-type A2MH4 with square-planar
  [PtH4]2- and [PdH4]2-;
- M2X with X in the octahedral holes of hcp M (anti-CdI2), nitrides and carbides of Ti, Zr, Hf, V, Nb, Ta, Cr,
  Mo, W beside v3's Nb2C, Ta2C, Mo2C, W2C, V2C.

Starting cells: the interstitial hydrides at the metal's atomic volume plus ``H_VOLUME`` per H (the partial molar
volume of H in metals, about 2.9 Å^3: rocksalt NiH starts at 3.81 Å against 3.73 measured, PdH 4.13 against 4.09,
fluorite VH2 4.28 against 4.27); A2MH4 at the covalent M-H bond in a cell that gives A-H its ionic distance;
M2X by v2's bond table. Many are metastable or hypothetical in the chosen type; the reference generator relaxes
them and records their imaginary modes, and the trainer leaves out the dynamically unstable ones, as for every
set. Every frame carries info ``name``, ``prototype``, ``alloy``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.build import bulk

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_phonon_crystals import atomic_volume, tag  # noqa: E402
from make_phonon_crystals_v2 import HEX, bond, order, xtal  # noqa: E402
from make_phonon_crystals_v3 import build_extra, check_part  # noqa: E402
from make_phonon_crystals_v4 import new_frames  # noqa: E402
from make_phonon_crystals_v5 import hydride_bond, v5_parts, write_set  # noqa: E402

MAX_COST = 15000.0
H_VOLUME = 2.9  # Å^3 per H atom added to a metal (partial molar volume of H in d metals)

ROCKSALT_MH = ["Sc", "Y", "Ti", "Zr", "Hf", "V", "Nb", "Ta", "Cr", "Mo", "W", "Mn", "Fe", "Co", "Ru", "Rh", "Ir",
               "Pt"]
ZINCBLENDE_MH = ["Sc", "Y", "Ti", "Zr", "Hf", "V", "Nb", "Ta", "Cr"]
ANTI_NIAS_MH = ["Cr", "Mn", "Fe", "Co", "Ru", "Os"]
FLUORITE_MH2 = ["Ta", "Cr", "Mo", "W", "Mn"]
THH2_TYPE_MH2 = ["Ti", "Zr", "Hf", "Th"]
SQUARE_PLANAR = [("Na", "Pt"), ("K", "Pt"), ("Rb", "Pt"), ("Cs", "Pt"), ("Na", "Pd"), ("K", "Pd")]
ANTI_CDI2 = ["Ti2N", "Zr2N", "Hf2N", "V2N", "Nb2N", "Ta2N", "Cr2N", "Mo2N", "W2N", "Ti2C", "Zr2C", "Hf2C", "Cr2C"]


def interstitial_volume(atoms: Atoms) -> Atoms:
    """Scale the cell to the metal atoms' atomic volumes plus ``H_VOLUME`` per H."""
    symbols = atoms.get_chemical_symbols()
    target = sum(H_VOLUME if s == "H" else atomic_volume(s) for s in symbols)
    atoms.set_cell(atoms.cell * (target / atoms.get_volume()) ** (1 / 3), scale_atoms=True)
    return atoms


def interstitial_hydride(m: str, kind: str) -> Atoms:
    """MH or MH2 of a d metal in ``kind``: rocksalt, zincblende, anti-NiAs, fluorite or ThH2 (I4/mmm)."""
    if kind in ("rocksalt", "zincblende"):
        atoms, formula = bulk(f"{m}H", kind, a=4.0), f"{m}H"
    elif kind == "anti-NiAs":  # M on the hcp (As) site, H in its octahedral holes (the Ni site)
        atoms, formula = xtal(["H", m], [(0, 0, 0), (1 / 3, 2 / 3, 0.25)], 194, 2.7, c=4.4, gamma=HEX), f"{m}H"
    elif kind == "fluorite":
        atoms, formula = bulk(f"{m}H2", "fluorite", a=4.5), f"{m}H2"
    elif kind == "ThH2":  # M 2a, H 4d of I4/mmm; epsilon-ZrH2 a 3.52, c 4.45 Å (fluorite has c/a sqrt(2))
        atoms, formula = xtal([m, "H"], [(0, 0, 0), (0, 0.5, 0.25)], 139, 3.52, c=4.45), f"{m}H2"
    else:
        raise ValueError(f"unknown interstitial hydride type {kind}")
    return tag(interstitial_volume(atoms), f"{formula}-{kind}", kind)


def square_planar_hydride(a_: str, m: str) -> Atoms:
    """K2PtCl4-type A2MH4 (P4/mmm: M 1a, A 2e (0, 1/2, 1/2), H 4j (x, x, 0), c/a of K2PtCl4, 0.587): M-H at
    v2's bond table, the cell the smallest that gives A-H at least its ionic distance."""
    d_mh, d_ah = bond(m, "H"), hydride_bond(a_)

    def shortest_ah(a: float) -> float:
        x = d_mh / (np.sqrt(2) * a)
        return float(np.sqrt((x * a) ** 2 + ((0.5 - x) * a) ** 2 + (0.5 * 0.587 * a) ** 2))

    a = next(a for a in np.arange(4.0, 10.0, 0.01) if shortest_ah(a) >= d_ah)
    x = d_mh / (np.sqrt(2) * a)
    atoms = xtal([m, a_, "H"], [(0, 0, 0), (0, 0.5, 0.5), (x, x, 0)], 123, a, c=0.587 * a)
    return tag(atoms, f"{a_}2{m}H4-K2PtCl4", "K2PtCl4")


def candidates_v6() -> list[Atoms]:
    out = [interstitial_hydride(m, "rocksalt") for m in ROCKSALT_MH]
    out += [interstitial_hydride(m, "zincblende") for m in ZINCBLENDE_MH]
    out += [interstitial_hydride(m, "anti-NiAs") for m in ANTI_NIAS_MH]
    out += [interstitial_hydride(m, "fluorite") for m in FLUORITE_MH2]
    out += [interstitial_hydride(m, "ThH2") for m in THH2_TYPE_MH2]
    out += [square_planar_hydride(*e) for e in SQUARE_PLANAR]
    out += [build_extra("anti-CdI2", e) for e in ANTI_CDI2]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("-o", "--output", default="data/phonons/crystals_v6.extxyz")
    ap.add_argument("--v5", default="data/phonons/crystals_v5.extxyz",
                    help="v5 file to compare the v5 part with, byte for byte (skipped if absent)")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    v4, extra5, _, _ = v5_parts(rng)  # the v5 set, exactly as make_phonon_crystals_v5.py makes it
    v5 = v4 + extra5
    v5_bytes = check_part(args.v5, v5, "v5")
    extra, skipped, costly = new_frames(v5, candidates_v6(), MAX_COST)
    write_set(args.output, v5_bytes, "v5", len(v5), order(extra, rng), skipped, costly, MAX_COST)


if __name__ == "__main__":
    main()
