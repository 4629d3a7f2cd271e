"""Fit floors: how well each auxiliary basis reproduces the exact DFT density.

Command: python scripts/measure_fit_floors.py > docs/fit_floors.md   (needs the `reference` extra)
PBE0/cc-pVDZ, PySCF grid level 3; eps_rho on PySCF's DFT grid; dipole error against
the exact DFT density's dipole.
"""
from __future__ import annotations

import time

import numpy as np
from ase.build import molecule
from ase.collections import s22
from ase.io import read

from ase_e3density.electron.reference import fit_density, fit_error_vs_dft, run_dft

AUX = ["def2-universal-jfit", "def2-universal-jfit-decontracted", "def2-universal-jkfit",
       "def2-universal-jkfit-decontracted"]


def main() -> None:
    from importlib import resources
    trimer = read(str(resources.files("ase_e3density") / "data" / "examples" / "water_trimer.xyz"))
    systems = {"water dimer (S22)": s22["Water_dimer"], "water trimer (cyclic)": trimer,
               "acetonitrile": molecule("CH3CN"), "acetamide": molecule("CH3CONH2")}
    print("| system | aux basis | functions | eps_rho fit vs exact (%) | dipole error (e·Å) | |DFT dipole| (e·Å) | fit (s) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for label, atoms in systems.items():
        result = run_dft(atoms)
        for aux in AUX:
            t = time.perf_counter()
            d = fit_density(result, aux)
            seconds = time.perf_counter() - t
            eps = fit_error_vs_dft(d, result)
            err = np.linalg.norm(d.dipole - result.dipole)
            print(f"| {label} | {aux} | {len(d.coefficients)} | {eps:.2f} | {err:.4f} | "
                  f"{np.linalg.norm(result.dipole):.3f} | {seconds:.2f} |", flush=True)


if __name__ == "__main__":
    main()
