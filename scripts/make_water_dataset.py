"""Make the water reference datasets: structures, then PySCF densities via `e3density reference`.

Command (about 45 min on 2 cores; resumable: rerun to continue):
    python scripts/make_water_dataset.py --out data/water --seed 2026

Training pool: 1-4 waters, half hydrogen-bonded random placements, half snapshots of rigid
TIP3P Langevin MD at 250 K (ASE's TIP3P, RATTLE), every monomer then distorted (O-H
sigma 0.02 Å, HOH sigma 3°). Held-out tests: 8, 12 and 16 waters, made the same way.
Level of theory: PBE0/cc-pVDZ, density fitted onto def2-universal-jfit-decontracted
(the founding code's basis; docs/fit_floors.md: eps 1.0 %, dipole error 0.002 e·Å on water).
"""
from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import numpy as np
from ase.io import write

from ase_e3density import __version__
from ase_e3density.cli import main as cli
from water_clusters import distort_monomers, hydrogen_bonded_cluster, md_snapshots

TRAIN = {1: 20, 2: 100, 3: 120, 4: 160}
TESTS = {8: 6, 12: 3, 16: 2}


def sample(n_waters: int, count: int, rng: np.random.Generator) -> list:
    """``count`` clusters of ``n_waters``: half placements, half MD snapshots, all distorted."""
    n_md = count // 2 if n_waters > 1 else 0
    frames = [hydrogen_bonded_cluster(n_waters, rng) for _ in range(count - n_md)]
    if n_md:
        frames += md_snapshots(hydrogen_bonded_cluster(n_waters, rng), n_md, rng, interval_fs=50.0)
    return [distort_monomers(f, rng) for f in frames]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="data/water")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every count (e.g. 0.05 for a smoke run)")
    args = parser.parse_args()
    out = Path(args.out)
    (out / "structures").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    plan = [("train", n, max(1, round(c * args.scale))) for n, c in TRAIN.items()]
    plan += [(f"test_{n}", n, max(1, round(c * args.scale))) for n, c in TESTS.items()]
    for name, n, count in plan:  # structures first, all from one seeded stream
        xyz = out / "structures" / f"{name}_{n}w.xyz"
        frames = sample(n, count, rng)
        if not xyz.exists():
            write(xyz, frames)
    manifest = {"seed": args.seed, "scale": args.scale, "train": TRAIN, "tests": TESTS, "xc": "PBE0",
                "basis": "cc-pvdz", "auxbasis": "def2-universal-jfit-decontracted",
                "versions": {"ase_e3density": __version__, "python": platform.python_version(),
                             **{m: __import__(m).__version__ for m in ("ase", "pyscf", "numpy")}}}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    for name, n, _ in plan:
        db = out / f"{name.split('_')[0] if name == 'train' else name}.db"
        cli(["reference", str(out / "structures" / f"{name}_{n}w.xyz"), "-o", str(db)])


if __name__ == "__main__":
    main()
