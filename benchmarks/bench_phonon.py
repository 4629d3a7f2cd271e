"""Phonon DOS and heat capacity: the shipped model against the reference path (relax + phonopy + a potential).

Command: python benchmarks/bench_phonon.py [--n 12] [--calculator sevennet] [--model phonon] [--threads 1]

For the first ``n`` crystals of data/phonons/crystals.extxyz (the training set's inputs, before relaxation),
times in one run (1 torch thread, wall clock): the reference path as `e3density phonons` runs it (with the
settings recorded in the model file) and the model's DOS + thermal properties at 100/300/500 K, and prints
each crystal's Cv(300 K) from both and the ratio of the total times.
"""
from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from ase.io import read

from ase_e3density.errors import ImaginaryModesWarning
from ase_e3density.models import load_model, resolve_model_path
from ase_e3density.phonon.reference import PhononSettings, get_calculator, reference_phonons

ROOT = Path(__file__).resolve().parents[1]
TEMPERATURES = (100.0, 300.0, 500.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=12)
    parser.add_argument("--calculator", default="sevennet")
    parser.add_argument("--model", default="phonon")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    crystals = read(ROOT / "data" / "phonons" / "crystals.extxyz", f":{args.n}")
    model = load_model(resolve_model_path(args.model))
    gen = model.metadata["provenance"]["generator"]
    settings = PhononSettings(calculator=args.calculator, displacement=float(gen.get("displacement", 0.03)),
                              min_width=float(gen.get("min_width", 10.0)), mesh=float(gen.get("mesh", 30.0)))
    calculator = get_calculator(args.calculator)
    model.predict_dos(crystals[0])  # first call (TorchScript warm-up) outside the timing
    t_ref = t_model = 0.0
    differences = []
    print("| crystal | atoms | reference Cv(300 K) | model Cv(300 K) | reference s | model ms |")
    print("| --- | --- | --- | --- | --- | --- |")
    for atoms in crystals:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ImaginaryModesWarning)
            start = time.perf_counter()
            result = reference_phonons(atoms, calculator, settings)
            cv_ref = result.dos.heat_capacity(TEMPERATURES)[1]
            middle = time.perf_counter()
            dos = model.predict_dos(result.relaxed)
            cv_model = dos.heat_capacity(TEMPERATURES)[1]
            end = time.perf_counter()
        t_ref += middle - start
        differences.append(abs(cv_model - cv_ref))
        t_model += end - middle
        print(f"| {atoms.info.get('name', atoms.get_chemical_formula())} | {len(atoms)} | {cv_ref:.3f} | {cv_model:.3f} | "
              f"{middle - start:.2f} | {1000 * (end - middle):.1f} |", flush=True)
    print(f"\n{len(crystals)} crystals: reference ({args.calculator} + phonopy, relaxation included) {t_ref:.1f} s, "
          f"model {t_model:.3f} s (on the relaxed structures): ratio {t_ref / max(t_model, 1e-9):,.0f}x "
          f"({args.threads} torch thread(s))")
    print(f"mean |Cv model - Cv reference| at 300 K: {np.mean(differences):.3f} J/(K mol-atoms) (these crystals may be "
          "in the training set: a check, not a test error; docs/phonon_model_card.md has those)")


if __name__ == "__main__":
    main()
