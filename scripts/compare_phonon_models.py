"""Phonon models side by side on one split: the issue's target statistics per model and split, and the
heat capacity of the light, stiff crystals that fixed-grid models got wrong.

    OMP_NUM_THREADS=1 python scripts/compare_phonon_models.py runs/phonon_l3i5/model.pt \
        runs/phonon_l3i5_fs/model.pt ... --data data/phonons/sevennet_l3i5.db [--split-from MODEL] [--ensemble]

Every model is measured on the validation, test and held-out crystals recorded in ``--split-from`` (default:
the first model), so arms trained with the same configuration, data and seed, or redeployed from a
checkpoint (`e3density deploy` records no split), compare on the same crystals. Per split: median R2 of
the DOS, mean and largest Wasserstein distance (THz), Cv MAE at 100 and 300 K (J/(K mol-atoms)), against the
generator's rows; then Cv(298.15 K) of the named light crystals, model / generator. ``--ensemble`` adds the
same statistics of the mean of all the models' DOS (an ensemble of them), and the Spearman rank correlation
between each crystal's ensemble spread (mean L1 distance of the members' DOS from their mean) and its W1 error.
"""
from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
from ase.db import connect

from ase_e3density.models import load_model
from ase_e3density.phonon.database import read_phonon_dos
from ase_e3density.phonon.targets import compare_dos, dos_on_grid
from ase_e3density.train.phonon.data import read_rows, reference_cv
from ase_e3density.train.phonon.evaluate import evaluate_phonon_model

SPLITS = ("validation", "test", "held_out")
LIGHT = ("C-diamond", "C-lonsdaleite", "ScH2-fluorite", "LuH2-fluorite", "TbH2-fluorite", "LiH-rocksalt",
         "BeO-wurtzite", "SiC-wurtzite")


def statistics(per: dict) -> dict:
    """Median R2, mean and max W1 (THz), Cv MAE at 100 and 300 K of the per-structure errors ``per``."""
    r2, w1 = np.asarray(per["r2"]), np.asarray(per["wasserstein"])
    error = np.abs(np.asarray(per["cv_predicted"]) - np.asarray(per["cv_reference"]))
    return {"n": len(r2), "r2": float(np.median(r2)), "w1": float(w1.mean()), "w1_max": float(w1.max()),
            "cv100": float(error[:, 0].mean()), "cv300": float(error[:, 1].mean())}


def split_statistics(model, data: str, split: str) -> dict:
    """:func:`statistics` of ``model`` on one split."""
    return statistics(evaluate_phonon_model(model, data, split=split, temperatures=(100.0, 300.0))["per_structure"])


def ensemble_statistics(models, data: str, uids: set[str]) -> dict:
    """:func:`statistics` of the mean DOS of ``models`` on the rows ``uids``, with the Spearman correlation
    of each crystal's spread between the members and its W1 error."""
    from scipy.stats import spearmanr

    rows, _ = read_rows(data, None, float(models[0].metadata["provenance"]["train_config"]["max_imaginary_fraction"]))
    rows = [r for r in rows if r.uid in uids]
    doses = [read_phonon_dos(r) for r in rows]
    grid, temperatures = models[0].frequencies, [100.0, 300.0]
    reference = np.stack([dos_on_grid(d, grid) for d in doses])
    cv = np.stack([reference_cv(r, d, temperatures) for r, d in zip(rows, doses)])
    members = np.stack([m.forward([m.checked_graph(d.atoms) for d in doses]) for m in models])
    mean = members.mean(axis=0)
    per = compare_dos(grid, mean, reference, temperatures, reference_cv=cv)["per_structure"]
    spread = np.abs(members - mean).sum(axis=2).mean(axis=0) * (grid[1] - grid[0])
    return {**statistics(per), "spearman": float(spearmanr(spread, per["wasserstein"])[0])}


def light_crystals(model, data: str) -> dict[str, tuple[float, float]]:
    """Cv(298.15 K) of the LIGHT crystals present in ``data``: (model, generator), J/(K mol-atoms)."""
    out = {}
    for row in connect(data).select():
        if row.get("name") in LIGHT:
            reference = read_phonon_dos(row)
            predicted = model.predict_dos(reference.atoms)
            out[row.name] = (float(predicted.heat_capacity(298.15)), float(reference.heat_capacity(298.15)))
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--data", required=True, help="the phonon database the models were trained on")
    parser.add_argument("--split-from", type=Path, help="model file whose recorded split is used (default: the first)")
    parser.add_argument("--ensemble", action="store_true", help="also the mean DOS of all the models (an ensemble)")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")  # domain warnings of held-out crystals are expected here
    split = load_model(args.split_from or args.models[0]).metadata["provenance"]["split"]
    print("| model | split | crystals | median R2 | mean W1 (THz) | max W1 (THz) | Cv MAE 100 K | Cv MAE 300 K |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    light = {}
    for path in args.models:
        model = load_model(path)
        model.metadata.setdefault("provenance", {})["split"] = split
        for name in SPLITS:
            s = split_statistics(model, args.data, name)
            print(f"| {path.parent.name} | {name} | {s['n']} | {s['r2']:.3f} | {s['w1']:.3f} | {s['w1_max']:.2f} | "
                  f"{s['cv100']:.3f} | {s['cv300']:.3f} |")
        light[path.parent.name] = light_crystals(model, args.data)
    if args.ensemble:
        models = [load_model(path) for path in args.models]
        for name in SPLITS:
            s = ensemble_statistics(models, args.data, set(split[name]))
            print(f"| mean of the {len(models)} | {name} | {s['n']} | {s['r2']:.3f} | {s['w1']:.3f} | {s['w1_max']:.2f} | "
                  f"{s['cv100']:.3f} | {s['cv300']:.3f} | (spread-error Spearman {s['spearman']:.2f})")
    names = sorted({n for values in light.values() for n in values})
    print("\nCv(298.15 K), model / generator, J/(K mol-atoms):\n")
    print("| model | " + " | ".join(names) + " |")
    print("| --- " * (len(names) + 1) + "|")
    for tag, values in light.items():
        print(f"| {tag} | " + " | ".join(f"{values[n][0]:.2f} / {values[n][1]:.2f}" if n in values else ""
                                          for n in names) + " |")


if __name__ == "__main__":
    main()
