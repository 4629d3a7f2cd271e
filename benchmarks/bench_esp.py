"""Cost and accuracy of the screened electrostatic potential on water clusters up to ~1,000 atoms.

Command: nice -n 10 python benchmarks/bench_esp.py [--waters 33 83 167 333] [--points 2000]

Each cluster (``scripts/water_clusters.py``, seed 0) gets the default model's density; the potential
is evaluated at ``--points`` points on its 1.4 x vdW surface (a fixed random subset, so the cost
should grow linearly with atoms) with the default far-field tolerance (1e-12) and unscreened (every
shell in closed form at every point, tolerance 1e-300). Prints time, time per atom x point and the
largest difference between the two, absolute (V) and relative to the largest |potential|.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from ase_e3density import E3DensityCalculator
from ase_e3density.electron.surfaces import molecular_surface

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from water_clusters import hydrogen_bonded_cluster  # noqa: E402


def timed(density, points, tolerance: float) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    values = density.electrostatic_potential(points, tolerance=tolerance)
    return values, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waters", type=int, nargs="+", default=[33, 83, 167, 333])
    parser.add_argument("--points", type=int, default=2000)
    args = parser.parse_args()
    calc = E3DensityCalculator()
    print("| atoms | points | screened s | us per atom x point | unscreened s | max abs diff (V) | max rel diff |")
    print("| --- | --- | --- | --- | --- | --- | --- |", flush=True)
    for n in args.waters:
        atoms = hydrogen_bonded_cluster(n, np.random.default_rng(0))
        density = calc.get_atomic_density(atoms)
        surface = molecular_surface(atoms, 1.4, 1.0)
        points = surface[np.random.default_rng(1).choice(len(surface), min(args.points, len(surface)), replace=False)]
        screened, t_screened = timed(density, points, 1e-12)
        exact, t_exact = timed(density, points, 1e-300)
        diff = np.abs(screened - exact).max()
        print(f"| {len(atoms)} | {len(points)} | {t_screened:.2f} | {1e6 * t_screened / (len(atoms) * len(points)):.3f} | "
              f"{t_exact:.2f} | {diff:.1e} | {diff / np.abs(exact).max():.1e} |", flush=True)


if __name__ == "__main__":
    main()
