"""The shipped free-atom (pro-atom) densities that Hirshfeld partitions weigh space with.

Command: python scripts/make_free_atom_table.py   (needs the `reference` extra; about 30 s)
Writes ase_e3density/data/free_atoms/pbe0-cc-pvdz.json: for H-Ar, the spherically averaged neutral
free atom (PySCF's atom_ks, PBE0/cc-pVDZ, the water data's level of theory) fitted onto
def2-universal-jfit-decontracted in the Coulomb metric, kept as radial Gaussians
``rho(r) = sum_i w_i exp(-a_i r^2)`` (bohr^-2, e/bohr^3), so any basis can use it.
"""
from __future__ import annotations

import json
from importlib import resources
from math import pi

import numpy as np
from ase.data import chemical_symbols

from ase_e3density.electron.basis import load_basis
from ase_e3density.electron.free_atoms import spherical_gaussians
from ase_e3density.electron.reference import free_atom_coefficients

AUXBASIS = "def2-universal-jfit-decontracted"
ELEMENTS = chemical_symbols[1:19]


def main() -> None:
    basis = load_basis(AUXBASIS)
    free = free_atom_coefficients(ELEMENTS, xc="PBE0", basis="cc-pvdz", auxbasis=AUXBASIS)
    elements = {}
    for symbol in ELEMENTS:
        exponents, weights = spherical_gaussians(basis, symbol, np.asarray(free[symbol], dtype=float))
        electrons = float(np.sum(weights * (pi / exponents) ** 1.5))
        elements[symbol] = {"exponents": exponents.tolist(), "weights": weights.tolist(), "electrons": electrons}
        print(f"{symbol}: {len(exponents)} Gaussians, {electrons:.10f} electrons")
    doc = {"name": "pbe0-cc-pvdz", "source": "PySCF atom_ks (spherical, neutral), PBE0/cc-pVDZ, Coulomb-metric fit "
           f"onto {AUXBASIS}; scripts/make_free_atom_table.py", "units": "exponents bohr^-2, weights e/bohr^3",
           "elements": elements}
    path = resources.files("ase_e3density") / "data" / "free_atoms" / "pbe0-cc-pvdz.json"
    path.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
