"""Write a crystal file's structures cheapest first, so a long `e3density phonons` run finishes the many
cheap crystals before the few expensive ones.

    python scripts/order_crystals_by_cost.py data/phonons/crystals_v2.extxyz \
        -o data/phonons/crystals_v2_by_cost.extxyz --min-width 10

The estimated cost is (supercell atoms)^1.3 x (symmetry-distinct displacements), the supercell chosen
as `e3density phonons --min-width` chooses it (on the unrelaxed cell) and the displacements counted by
phonopy. On the first 310 SevenNet-l3i5 rows of data/phonons/sevennet_l3i5.db, log(estimate) against
log(measured seconds) has correlation 0.89, and the cheapest 80 % of those crystals took 28 % of the time.
``--first-elements Be,B,C,N --first-max-cost 6100`` puts the structures holding any of those elements
and estimated at most that cost first (cheapest first), then the rest (cheapest first): the light, stiff
crystals a phonon model most needs, computed before the many cheap heavy ones.

    python scripts/order_crystals_by_cost.py data/phonons/crystals_v3.extxyz \
        -o data/phonons/crystals_v3_light_first.extxyz --min-width 10 --first-elements Be,B,C,N --first-max-cost 6100

``--alloys-last`` moves the random alloys (info ``alloy``) behind every ordered crystal: the phonon model trains
on ordered crystals only, and the alloys test its virtual crystal.

    python scripts/order_crystals_by_cost.py data/phonons/crystals_v5.extxyz \
        -o data/phonons/crystals_v5_hydrides_first.extxyz --min-width 10 --first-elements H \
        --first-max-cost 15000 --alloys-last

Row uids hash the structure, not its place in the file, so rows already computed from the original file
are recognised and skipped. Each structure keeps its info; `source_index` records its place in the input and `estimated_cost`
the estimate.
"""
from __future__ import annotations

import argparse
import warnings

import numpy as np
from ase.io import read, write

from ase_e3density.phonon.phonopy_io import atoms_to_phonopy
from ase_e3density.phonon.reference import supercell_matrix


def estimated_cost(atoms, min_width: float, displacement: float = 0.03) -> float:
    """(supercell atoms)^1.3 x displacements, in arbitrary units."""
    from phonopy import Phonopy

    warnings.filterwarnings("ignore", message=".*primitive_matrix.*")
    warnings.filterwarnings("ignore", message=".*Point group symmetries.*")
    matrix = supercell_matrix(atoms.cell.array, min_width)
    phonon = Phonopy(atoms_to_phonopy(atoms), supercell_matrix=matrix.T, primitive_matrix="auto", log_level=0)
    phonon.generate_displacements(distance=displacement)
    n_atoms = len(atoms) * abs(round(np.linalg.det(matrix)))
    return n_atoms ** 1.3 * len(phonon.displacements)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input")
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("--min-width", type=float, default=10.0, help="Å, as given to e3density phonons (default 10)")
    parser.add_argument("--first-elements", default="", help="comma-separated symbols: structures holding any of "
                        "them (and within --first-max-cost) go first (default: none)")
    parser.add_argument("--first-max-cost", type=float, default=float("inf"),
                        help="the largest estimated cost moved first with --first-elements (default: no limit)")
    parser.add_argument("--alloys-last", action="store_true",
                        help="put the structures with info alloy set after all others (each group cheapest first)")
    args = parser.parse_args(argv)
    structures = read(args.input, ":")
    costs = [estimated_cost(atoms, args.min_width) for atoms in structures]
    first = {s.strip() for s in args.first_elements.split(",") if s.strip()}
    later = [not (first & set(atoms.get_chemical_symbols()) and cost <= args.first_max_cost)
             for atoms, cost in zip(structures, costs)]
    alloys = [bool(args.alloys_last and atoms.info.get("alloy", False)) for atoms in structures]
    order = np.lexsort((costs, later, alloys))  # ordered crystals before alloys (with --alloys-last), the chosen
    # ones first within each, each group cheapest first (stable)
    out = []
    for i in order:
        atoms = structures[i].copy()
        atoms.info["source_index"] = int(i)
        atoms.info["estimated_cost"] = round(float(costs[i]), 1)
        out.append(atoms)
    write(args.output, out, format="extxyz")
    total = float(np.sum(costs))
    share = np.cumsum(np.sort(costs)) / total
    print(f"{len(out)} structures -> {args.output}; cheapest 80 % hold {share[int(0.8 * len(out)) - 1]:.0%} "
          f"of the estimated cost")


if __name__ == "__main__":
    main()
