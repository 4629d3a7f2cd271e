"""SCF iterations and wall time from PySCF's guesses and the model's, on hydrogen-bonded water clusters.

Command: nice -n 10 python benchmarks/bench_scf_guess.py [--sizes 6 6 8 8 12] [--seed 0]

Each cluster (``scripts/water_clusters.py``, seeds seed, seed+1, ...) runs RKS PBE0/cc-pVDZ, grid level 3,
conv_tol 1e-9 from 'minao' (PySCF's default), 'atom', 'huckel' and the default model's guess
(:func:`ase_e3density.initial_guess`; its own cost is timed apart and included in the model's total).
Every run must reach the 'minao' energy within 1e-7 Ha. Prints one markdown row per cluster and guess.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from pyscf import dft

from ase_e3density import initial_guess
from ase_e3density.electron.scf_guess import build_mole

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from water_clusters import hydrogen_bonded_cluster  # noqa: E402


def scf(mol, dm0=None, init_guess: str = "minao") -> tuple[float, int, float]:
    mf = dft.RKS(mol)
    mf.xc, mf.conv_tol, mf.grids.level, mf.init_guess = "PBE0", 1e-9, 3, init_guess
    start = time.perf_counter()
    energy = mf.kernel(dm0=dm0)
    if not mf.converged:
        raise RuntimeError("SCF did not converge")
    return float(energy), int(mf.cycles), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[6, 6, 8, 8, 12])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print("| waters | cluster seed | guess | iterations | SCF s | guess s | total s | E - E(minao) (Ha) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |", flush=True)
    for k, n in enumerate(args.sizes):
        seed = args.seed + k
        atoms = hydrogen_bonded_cluster(n, np.random.default_rng(seed))
        mol = build_mole(atoms)
        reference = None
        for guess in ("minao", "atom", "huckel", "model"):
            guess_seconds = 0.0
            if guess == "model":
                start = time.perf_counter()
                dm0 = initial_guess(atoms, mol=mol)
                guess_seconds = time.perf_counter() - start
                energy, cycles, seconds = scf(mol, dm0)
            else:
                energy, cycles, seconds = scf(mol, init_guess=guess)
            reference = energy if reference is None else reference
            delta = energy - reference
            flag = "" if abs(delta) < 1e-7 else " (DIFFERENT STATE)"
            print(f"| {n} | {seed} | {guess} | {cycles} | {seconds:.1f} | {guess_seconds:.1f} | "
                  f"{seconds + guess_seconds:.1f} | {delta:.1e}{flag} |", flush=True)


if __name__ == "__main__":
    main()
