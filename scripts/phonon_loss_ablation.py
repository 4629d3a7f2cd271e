"""The phonon-DOS loss ablation: same data, split, model, seed and epochs; only the loss differs.

Command: python scripts/phonon_loss_ablation.py [--train]   (about 20 min on 2 cores with --train)

Arms: `mse` (mean squared DOS difference, the founding paper's), `wasserstein` (earth mover's distance of the
DOS as a distribution over frequency, Mat2Spec's choice; the shipped configuration), `wasserstein_cv` and
`wasserstein_cv1` (Wasserstein plus 0.1 or 1 x ((Cv_pred - Cv_ref)/R)^2 at 100 and 300 K). With --train, trains the arms that have no
model.pt yet (each run resumes); then prints the table of their recorded metrics (best epoch by validation loss).
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from ase_e3density.cli import main as cli
from ase_e3density.models import read_metadata

ROOT = Path(__file__).resolve().parents[1]
ARMS = [("mse", ROOT / "configs/phonon/ablation_mse.yaml", ROOT / "runs/phonon_ablation/mse"),
        ("wasserstein", ROOT / "configs/phonon_default.yaml", ROOT / "runs/phonon_default"),
        ("wasserstein_cv", ROOT / "configs/phonon/ablation_wasserstein_cv.yaml", ROOT / "runs/phonon_ablation/wasserstein_cv"),
        ("wasserstein_cv1", ROOT / "configs/phonon/ablation_wasserstein_cv1.yaml",
         ROOT / "runs/phonon_ablation/wasserstein_cv1")]
SPLITS = ("validation", "test", "held_out")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", action="store_true", help="train the arms that are not finished")
    args = parser.parse_args()
    if args.train:
        os.chdir(ROOT)  # so that each run records the command as typed from the repository root
        for _, config, out in ARMS:
            if not (out / "model.pt").exists():
                cli(["train", str(config.relative_to(ROOT))])
    print("| loss | split | crystals | DOS MAE | R2 | Wasserstein (THz) | Cv MAE 100 K | Cv MAE 300 K | best epoch | "
          "training min |")
    print("| --- " * 10 + "|")
    for name, _, out in ARMS:
        if not (out / "model.pt").exists():
            print(f"| {name} | not trained | | | | | | | | |")
            continue
        prov = read_metadata(out / "model.pt")["provenance"]
        for split in SPLITS:
            m = prov["metrics"][split]
            if not m.get("n"):
                continue
            print(f"| {name} | {split} | {m['n']} | {m['dos_mae']:.4f} | {m['r2']:.3f} | {m['wasserstein']:.3f} | "
                  f"{m['cv_mae_100']:.3f} | {m['cv_mae_300']:.3f} | {prov['best_epoch']} | "
                  f"{prov['training_seconds'] / 60:.1f} |")
    print("\nCv MAE in J/(K mol-atoms) against the generator's mesh sums; DOS MAE in states/(THz atom).")


if __name__ == "__main__":
    main()
