"""``e3density evaluate`` for phonon-DOS models: DOS and heat-capacity errors, one row per crystal."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from .common import Status

__all__ = ["evaluate"]


def evaluate(args: argparse.Namespace) -> int:
    """``e3density evaluate`` for a phonon-DOS model: DOS and heat-capacity errors, one row per crystal."""
    from ..errors import E3DensityError
    from ..train.evaluate import load_deployed

    from .predict_cmd import refuse_options

    refuse_options(args, ("grid_level", "mu_monomer"), "phonon density of states")
    args.temperatures = args.temperatures or "100,300"
    if len(args.reference) > 1:
        raise E3DensityError("phonon models: evaluate one reference database at a time")
    args.reference = args.reference[0]
    from ..train.phonon.evaluate import evaluate_phonon_model

    try:
        temps = [float(t) for t in args.temperatures.split(",") if t.strip()]
    except ValueError:
        raise E3DensityError(f"--temperatures takes comma-separated numbers (K), got {args.temperatures!r}") from None
    with Status("evaluate", enabled=not args.no_progress) as status:
        status(f"loading model {args.model}")
        model = load_deployed(args.model)
        status(f"predicting and comparing the crystals of {args.reference}")
        result = evaluate_phonon_model(model, args.reference, args.split, args.select, temps)
    per = result["per_structure"]
    print("| # | crystal | prototype | DOS MAE | R2 | W1 (THz) | " + " | ".join(f"Cv {t:g} K pred / ref" for t in temps) + " |")
    print("| --- " * (6 + len(temps)) + "|")
    for k, name in enumerate(per["name"]):
        print(f"| {k + 1} | {name} | {per['prototype'][k]} | {per['dos_mae'][k]:.4f} | {per['r2'][k]:.3f} | "
              f"{per['wasserstein'][k]:.3f} | " + " | ".join(f"{per['cv_predicted'][k][j]:.2f} / "
                                                              f"{per['cv_reference'][k][j]:.2f}"
                                                              for j in range(len(temps))) + " |")
    print(f"\nmean over {result['n']} crystals: DOS MAE {result['dos_mae']:.4f} states/(THz atom), R2 {result['r2']:.3f}, "
          f"Wasserstein {result['wasserstein']:.3f} THz, Cv MAE "
          + ", ".join(f"{t:g} K {result[f'cv_mae_{t:g}']:.3f}" for t in temps) + " J/(K mol-atoms) (floor of the grid: "
          + ", ".join(f"{result['floor'][f'cv_mae_{t:g}']:.3f}" for t in temps) + ")")
    if result.get("partial_n"):
        print(f"element-projected DOS, {result['partial_n']} crystals with one: L1 {result['partial_l1']:.3f} (share of "
              f"the modes misplaced, 0-2), Wasserstein {result['partial_wasserstein']:.3f} THz, R2 "
              f"{result['partial_r2']:.3f} (per element, weighted by atom fraction)")
    split = f" --split {args.split}" if args.split else ""
    select = f" --select '{args.select}'" if args.select else ""
    print(f"command: e3density evaluate {args.model} {args.reference}{split}{select} --temperatures {args.temperatures}")
    if args.json:
        Path(args.json).write_text(json.dumps({**result, "model_checksum": model.checksum}, indent=1))
    return 0
