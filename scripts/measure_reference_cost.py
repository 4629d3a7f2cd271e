"""Cost of one reference structure under cheaper PySCF settings, and what each does to the fitted density.

Command (one core; about 15 min for an 8-water cluster):
    OMP_NUM_THREADS=1 python scripts/measure_reference_cost.py data/water/structures/test_8_8w.xyz --index 0

Every variant runs `run_dft` + the Coulomb-metric fit onto def2-universal-jfit-decontracted + the
fit's eps against the exact DFT density, as `e3density reference` does, and is compared with the
current settings (PBE0/cc-pVDZ, grid level 3, conv_tol 1e-9, no density fitting, 'minao' guess):
d_eps is eps_rho (percent, Becke grid level 3) between the two fitted densities, d_mu the change of
the fitted density's dipole (e·Å), d_E of the DFT energy (meV). A setting is acceptable where
d_eps < 0.05 % and d_mu < 1e-3 e·Å (the fit's own eps against exact DFT is about 1 %); the last row
combines every acceptable setting (the lowest acceptable grid level). Prints a markdown table.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
from ase.build import molecule
from ase.io import read

from ase_e3density.electron.metrics import density_error, quadrature
from ase_e3density.electron.reference import fit_density, fit_error_vs_dft, run_dft
from ase_e3density.scf import initial_guess

AUX = "def2-universal-jfit-decontracted"
MAX_EPS, MAX_DIPOLE = 0.05, 1e-3  # percent, e·Å
VARIANTS = [("current (grid 3, conv_tol 1e-9)", {}),
            ("grid level 2", {"grid_level": 2}),
            ("grid level 1", {"grid_level": 1}),
            ("conv_tol 1e-7", {"conv_tol": 1e-7}),
            ("density fitting", {"density_fit": True}),
            ("model guess", {"guess": "model"})]


def compute(atoms, settings: dict) -> dict:
    settings = dict(settings)
    if settings.get("guess") == "model":
        settings["guess"] = lambda mol: initial_guess(atoms, None, mol=mol)
    start = time.perf_counter()
    result = run_dft(atoms, **settings)
    dft_s = time.perf_counter() - start
    density = fit_density(result, AUX)
    fit_eps = fit_error_vs_dft(density, result)
    return {"density": density, "energy": result.energy, "cycles": result.info["scf_cycles"], "dft_s": dft_s,
            "total_s": time.perf_counter() - start, "fit_eps": fit_eps}


def combination(rows: list) -> dict:
    """Every acceptable cheaper setting at once (the lowest acceptable grid level)."""
    merged = {}
    for _, settings, row in rows[1:]:
        if row["d_eps"] < MAX_EPS and row["d_mu"] < MAX_DIPOLE:
            for key, value in settings.items():
                merged[key] = min(value, merged.get(key, value)) if key == "grid_level" else value
    return merged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("structures", nargs="?", default="data/water/structures/test_8_8w.xyz")
    parser.add_argument("--index", type=int, default=0)
    args = parser.parse_args()
    atoms = read(args.structures, index=args.index)
    warm = molecule("H2O")  # imports, basis and model loading outside the timings
    fit_density(run_dft(warm, check_stability=False, guess=lambda mol: initial_guess(warm, None, mol=mol)), AUX)
    rows, grid = [], None
    variants = list(VARIANTS)
    k = 0
    while k < len(variants):
        name, settings = variants[k]
        row = compute(atoms, settings)
        if k == 0:
            grid = quadrature(row["density"], 3)
            base = row
        d = row["density"]
        row["d_eps"] = density_error(d, base["density"], grid=grid)["eps"]
        row["d_mu"] = float(np.linalg.norm(d.dipole - base["density"].dipole))
        row["d_E"] = 1000 * (row["energy"] - base["energy"])
        rows.append((name, settings, row))
        print(f"# {name}: {row['total_s']:.1f} s, {row['cycles']} iterations, d_eps {row['d_eps']:.4f} %", flush=True)
        if k == len(VARIANTS) - 1:
            merged = combination(rows)
            if len(merged) > 1:
                variants.append(("combined: " + ", ".join(f"{key}={v}" for key, v in merged.items()), merged))
        k += 1
    print(f"\n{atoms.get_chemical_formula()} ({len(atoms) // 3} waters, {args.structures} frame {args.index}), "
          f"PBE0/cc-pVDZ, fit onto {AUX}\n")
    print("| settings | DFT s | DFT + fit s | SCF iterations | fit eps vs own DFT % | d_eps % | d_mu e·Å | d_E meV |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, _, r in rows:
        print(f"| {name} | {r['dft_s']:.1f} | {r['total_s']:.1f} | {r['cycles']} | {r['fit_eps']:.3f} | "
              f"{r['d_eps']:.4f} | {r['d_mu']:.1e} | {r['d_E']:+.3f} |")


if __name__ == "__main__":
    main()
