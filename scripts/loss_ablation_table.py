"""The water loss ablation's table: each trained arm on the pooled held-out sets of 8, 12 and 16 waters.

Command: python scripts/loss_ablation_table.py NAME=MODEL.pt [NAME=MODEL.pt ...] [--grid-level 2] [--json OUT.json]

For example, after training the arms of configs/ablation/:
    python scripts/loss_ablation_table.py dipole=default coulomb=runs/ablation/coulomb/model.pt \\
        large_dipole=runs/ablation/large_dipole/model.pt large_coulomb=runs/ablation/large_coulomb/model.pt

Each arm goes through `e3density evaluate` on the same sets as the model card (docs/model_card.md); one markdown
row per arm and size: eps_rho against the fitted reference, the dipole error against the exact DFT dipole as a
median percentage of sqrt(n_molecules) mu_monomer, per-molecule (Hirshfeld) charge and dipole RMS errors, and the
arm's training loss weights and data as recorded in its file.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_model_card import ROOT, TEST_SETS, evaluate  # noqa: E402

from ase_e3density.models import read_metadata, resolve_model_path  # noqa: E402
from ase_e3density.nn.density_model import ModelConfig  # noqa: E402


def arm_description(model: str) -> str:
    """The loss weights and training data recorded in a deployed file."""
    prov = read_metadata(resolve_model_path(model))["provenance"]
    cfg = prov.get("train_config", {})
    train = prov.get("train")
    data = " + ".join(Path(t).name for t in train) if isinstance(train, list) else Path(str(train)).name
    fragment = f", fragment {cfg['fragment_weight']}" if cfg.get("fragment_weight") else ""
    if cfg.get("fragment_dipole_weight"):
        fragment += f", fragment dipole {cfg['fragment_dipole_weight']}"
    layers = cfg.get("model", {}).get("n_layers", ModelConfig.n_layers)
    if layers != ModelConfig.n_layers:  # an architecture arm
        fragment += f"; {layers} layers"
    return (f"dipole {cfg.get('dipole_weight', 0)}, coulomb {cfg.get('coulomb_weight', 0)}{fragment}; {data} "
            f"({prov.get('n_train')} train); best epoch {prov.get('best_epoch')} of {prov.get('epochs_run')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("arms", nargs="+", help="NAME=MODEL (a deployed file or a shipped model name)")
    parser.add_argument("--grid-level", type=int, default=2)
    parser.add_argument("--json", help="also write every summary here")
    args = parser.parse_args()
    arms = [arm.split("=", 1) for arm in args.arms]
    if any(len(arm) != 2 for arm in arms):
        raise SystemExit("give each arm as NAME=MODEL")
    print("| arm | loss and data | waters | structures | eps_rho (%) | dipole error median, % of sqrt(n) mu | "
          "molecule charge RMS (e) | molecule dipole RMS (e·Å) |")
    print("| --- " * 8 + "|", flush=True)
    results = {}
    for name, model in arms:
        described = arm_description(model)
        for size, dbs in TEST_SETS:
            _, result = evaluate(model, [str(ROOT / db) for db in dbs], args.grid_level)
            s = result["summary"]
            results[f"{name} {size}"] = s
            print(f"| {name} | {described} | {size.split()[0]} | {s['n_structures']} | {s['eps']:.3f} | "
                  f"{s['dipole_error_dft_sqrtn_median']:.2f} | {s['molecule_charge_rms']:.4f} | "
                  f"{s['molecule_dipole_rms']:.4f} |", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
