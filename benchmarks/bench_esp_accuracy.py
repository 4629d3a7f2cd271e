"""ESP of the default model's density against the exact DFT density's ESP on vdW surfaces, and ESP charges.

Command: OMP_NUM_THREADS=1 python benchmarks/bench_esp_accuracy.py [--waters 1 2 4 6] [--seed 0]
[--held-out] [--cheap]

Each cluster (``scripts/water_clusters.py``, seed ``--seed``; with ``--held-out``, the held-out test
geometries ``data/water/structures/test_{n}_{n}w.xyz`` frame 0 where they exist, as in
``bench_scf_guess.py``) runs PySCF PBE0/cc-pVDZ (grid level 3, conv_tol 1e-9; ``--cheap``: the large-cluster
reference settings, grid level 1, conv_tol 1e-7, density fitting, the model's guess); the exact ESP of its density
matrix comes from PySCF's 3-centre integrals with point charges at the Merz-Kollman points (1.4-2.0 x
vdW, 1 point/Å^2). Compared with it: the density fitted onto def2-universal-jfit-decontracted (the
training target's floor) and the default model's prediction. RMSE in kcal/(mol e); MK charges fitted
to each potential against those fitted to the exact DFT potential (RMS and largest difference, e).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from ase.units import Bohr, Hartree, kcal, mol
from pyscf import df, gto

from ase_e3density import E3DensityCalculator, initial_guess
from ase_e3density.electron.esp_charges import fit_charges
from ase_e3density.electron.reference import _total_dm, fit_density, run_dft
from ase_e3density.electron.surfaces import mk_points

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scf_guess import cluster  # noqa: E402
from water_clusters import hydrogen_bonded_cluster  # noqa: E402

KCAL_PER_MOL_E = kcal / mol  # eV per (kcal/mol): V -> kcal/(mol e) divides by it


def exact_esp(result, points: np.ndarray) -> np.ndarray:
    """Potential (V) of the DFT nuclei and density matrix at points (Å)."""
    molecule = result.mf.mol
    dm = _total_dm(result.mf)
    values = np.empty(len(points))
    coords = molecule.atom_coords()
    for s in range(0, len(points), 200):
        p = points[s:s + 200] / Bohr
        ints = df.incore.aux_e2(molecule, gto.fakemol_for_charges(p), "int3c2e")  # (nao, nao, npts)
        electrons = np.einsum("ijp,ij->p", ints, dm)
        nuclei = (molecule.atom_charges() / np.linalg.norm(p[:, None] - coords[None], axis=2)).sum(axis=1)
        values[s:s + 200] = (nuclei - electrons) * Hartree
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waters", type=int, nargs="+", default=[1, 2, 4, 6])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--held-out", action="store_true", help="test geometries where they exist")
    parser.add_argument("--cheap", action="store_true", help="grid level 1, conv_tol 1e-7, density fitting")
    args = parser.parse_args()
    calc = E3DensityCalculator()
    print("| waters | MK points | ESP RMSE fit (kcal/(mol e)) | ESP RMSE model | charges RMS fit (e) | "
          "charges RMS model (e) | largest charge diff model (e) |")
    print("| --- | --- | --- | --- | --- | --- | --- |", flush=True)
    for n in args.waters:
        atoms = cluster(n, 0)[0] if args.held_out else hydrogen_bonded_cluster(n, np.random.default_rng(args.seed))
        options = {"grid_level": 1, "conv_tol": 1e-7, "density_fit": True,
                   "guess": lambda m: initial_guess(atoms, mol=m)} if args.cheap else {}
        result = run_dft(atoms, **options)
        points = mk_points(atoms)
        exact = exact_esp(result, points)
        reference_q = fit_charges(atoms.positions, points, exact).charges
        row = [f"{n}", f"{len(points)}"]
        charges = []
        for density in (fit_density(result), calc.get_atomic_density(atoms)):
            v = density.electrostatic_potential(points)
            row.append(f"{np.sqrt(np.mean((v - exact) ** 2)) / KCAL_PER_MOL_E:.3f}")
            charges.append(fit_charges(atoms.positions, points, v).charges - reference_q)
        row += [f"{np.sqrt(np.mean(dq ** 2)):.4f}" for dq in charges] + [f"{np.abs(charges[1]).max():.4f}"]
        print("| " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
