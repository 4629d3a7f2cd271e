"""Screen every QM9 molecule with the organic density model and compare its dipoles with QM9's own.

Command (repository root; needs `pip install -c constraints.txt qm9pack`):
    python scripts/screen_qm9.py [--workers 2] [--model organic] [--out /tmp/qm9_screen]

Writes OUT/qm9_all.extxyz (every molecule of the qm9pack wheel, QM9's B3LYP geometries, in QM9 index order,
made once), runs `e3density screen` on it into OUT/qm9_screen.db (timed: wall seconds of the command, start-up
included; a rerun only computes what is missing, so time a fresh output), then prints the comparison of the
model's PBE0-like dipole magnitudes with QM9's B3LYP/6-31G(2df,p) ones (Debye): MAE, RMSE, R^2 and the
largest outliers with their SMILES.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from ase.db import connect
from ase.io import read, write

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_qm9_dataset import load_qm9, qm9_atoms  # noqa: E402

DEBYE = 4.80320  # D per e·Å


def write_all(path: Path) -> None:
    if path.is_file():
        return
    molecules = load_qm9()
    partial = path.with_suffix(".partial.extxyz")
    write(partial, [qm9_atoms(m) for m in molecules])
    partial.rename(path)
    print(f"wrote {len(molecules)} molecules to {path}")


def compare(structures: Path, results: Path, n_outliers: int = 10) -> None:
    frames = read(structures, ":")
    by_source = {row.source: row for row in connect(results).select()}
    model, qm9, smiles = [], [], []
    for i, atoms in enumerate(frames):
        row = by_source.get(f"{structures}@{i}")
        if row is None or row.get("dipole_norm") is None or "qm9_dipole_debye" not in atoms.info:
            continue
        model.append(row.dipole_norm * DEBYE)
        qm9.append(float(atoms.info["qm9_dipole_debye"]))
        smiles.append((int(atoms.info["qm9_index"]), atoms.info["smiles"], len(atoms)))
    model, qm9 = np.array(model), np.array(qm9)
    diff = model - qm9
    r2 = 1 - np.sum(diff**2) / np.sum((qm9 - qm9.mean()) ** 2)
    print(f"molecules compared: {len(model)} of {len(frames)}")
    print(f"|mu| model vs QM9 B3LYP (D): MAE {np.abs(diff).mean():.3f}, RMSE {np.sqrt(np.mean(diff**2)):.3f}, "
          f"median abs {np.median(np.abs(diff)):.3f}, mean signed {diff.mean():+.3f}, R^2 {r2:.4f}")
    print("| QM9 index | SMILES | atoms | model (D) | QM9 B3LYP (D) | difference (D) |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for k in np.argsort(-np.abs(diff))[:n_outliers]:
        index, smi, n = smiles[k]
        print(f"| {index} | `{smi}` | {n} | {model[k]:.3f} | {qm9[k]:.3f} | {diff[k]:+.3f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="organic")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default="/tmp/qm9_screen")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    structures, results = out / "qm9_all.extxyz", out / "qm9_screen.db"
    write_all(structures)
    command = [sys.executable, "-m", "ase_e3density.cli", "screen", str(structures), "-o", str(results),
               "--model", args.model, "--no-progress"] + (["--workers", str(args.workers)] if args.workers > 1 else [])
    start = time.perf_counter()
    subprocess.run(command, check=True)
    print(f"`{' '.join(command[1:])}`: {time.perf_counter() - start:.1f} s wall")
    compare(structures, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
