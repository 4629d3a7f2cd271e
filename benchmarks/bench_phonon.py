"""Phonon DOS and heat capacity: the shipped model against the reference path (relax + phonopy + a potential).

Command: python benchmarks/bench_phonon.py [--n 12] [--calculator NAME] [--model phonon] [--threads 1]
         python benchmarks/bench_phonon.py --recorded [--n 100] [--model phonon]

Live (default): for the first ``n`` crystals of data/phonons/crystals.extxyz (small cells, before
relaxation), times in one run (wall clock): the reference path as `e3density phonons` runs it (the model's
own generator unless ``--calculator``, with the settings recorded in the model file) and the model's DOS +
thermal properties at 100/300/500 K, and prints each crystal's Cv(300 K) from both and the ratio of the
total times.

``--recorded``: ``n`` rows drawn at random (seed 0) from the model's own reference database, whose
``seconds`` column is the reference path's wall time when the row was made (relaxation, phonopy
displacements, mesh and DOS on one thread; on a shared machine, so an upper bound on the cost), against
the model's time on the rows' relaxed structures, timed here. This is the ratio over the data's own mix of
cells, not only small ones.
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
    parser.add_argument("--calculator", help="the reference potential (default: the model's generator)")
    parser.add_argument("--recorded", action="store_true", help="use the database's recorded reference times")
    parser.add_argument("--model", default="phonon")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model(resolve_model_path(args.model))
    gen = model.metadata["provenance"]["generator"]
    if args.recorded:
        recorded(model, args.n, args.threads)
        return
    args.calculator = args.calculator or gen["force_calculator"]
    crystals = read(ROOT / "data" / "phonons" / "crystals.extxyz", f":{args.n}")
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


def recorded(model, n: int, threads: int) -> None:
    """The ratio of the recorded reference times of ``n`` random rows of the model's database to the model's."""
    from ase.db import connect

    database = ROOT / "data" / "phonons" / Path(model.metadata["provenance"]["data"]).name
    rows = [r for r in connect(database, use_lock_file=False).select() if r.get("seconds")]
    picks = np.random.default_rng(0).choice(len(rows), size=min(n, len(rows)), replace=False)
    structures = [rows[i].toatoms() for i in picks]
    t_ref = sum(float(rows[i].seconds) for i in picks)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # domain warnings: beside the point here
        model.predict_dos(structures[0])  # first call (TorchScript warm-up) outside the timing
        start = time.perf_counter()
        for atoms in structures:
            model.predict_dos(atoms).heat_capacity(TEMPERATURES)
        t_model = time.perf_counter() - start
    sizes = [len(a) for a in structures]
    print(f"{len(structures)} rows of {database.name} ({min(sizes)}-{max(sizes)} atoms per cell, median "
          f"{int(np.median(sizes))}): recorded reference path {t_ref:,.0f} s ({t_ref / len(structures):.1f} s per crystal), "
          f"model {t_model:.3f} s ({1000 * t_model / len(structures):.1f} ms per crystal, {threads} torch thread(s)): "
          f"ratio {t_ref / max(t_model, 1e-9):,.0f}x")


if __name__ == "__main__":
    main()
