"""Throughput of the screening runner against a plain loop of calculator calls, in one run.

Command: python benchmarks/bench_screen.py [--n 10000] [--batch-atoms 512 2048] [--workers 0] [--threads 1]

The same small water clusters (1-3 molecules, 3-9 atoms) go (a) one by one through
``E3DensityCalculator()`` (the shipped default model): charges, dipole and quadrupole read, nothing
written; (b) through the runner from an extxyz file into a fresh ase.db, every result committed (ASE's
``db.write``, one transaction per batch), once per --batch-atoms value, and with --workers N > 0 on a
Dask LocalCluster. Torch runs one thread by default: on a machine shared with other jobs, two threads
spin against them and slow both sides tenfold or more. Prints
structures per second and the ratio to the loop, all measured in this run: over the whole run
(start-up of the model and of the Dask cluster included) and after the first batch was committed
(the steady rate).
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from ase import Atoms
from ase.build import molecule
from ase.io import iread, write

from ase_e3density import E3DensityCalculator
from ase_e3density.screen import screen


def clusters(n: int, seed: int = 0) -> list[Atoms]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        atoms = Atoms()
        for m in range(int(rng.integers(1, 4))):
            w = molecule("H2O")
            w.positions += rng.normal(scale=0.03, size=w.positions.shape) + [3.0 * m, rng.normal(), 0]
            atoms += w
        out.append(atoms)
    return out


def loop_rate(path: Path, n: int) -> float:
    calc = E3DensityCalculator()
    start = time.perf_counter()
    for atoms in iread(str(path), index=":"):
        atoms.calc = calc
        atoms.get_charges(), atoms.get_dipole_moment(), calc.get_quadrupole(atoms)
    return n / (time.perf_counter() - start)


def runner_rate(path: Path, n: int, out: Path, **options) -> tuple[float, float]:
    """Structures per second over the whole run (start-up included: model, Dask cluster) and after the
    first batch was committed (the steady rate; a batch's results share their ``time``)."""
    start = time.perf_counter()
    first_at, first_batch, in_first = None, None, 0
    run = screen(path, out, **options)
    for r in run:
        if first_at is None:
            first_at, first_batch = time.perf_counter(), r.time
        if r.time == first_batch:
            in_first += 1
    end = time.perf_counter()
    assert run.summary.done == n, run.summary
    steady = (n - in_first) / (end - first_at) if n > in_first else float("nan")
    return n / (end - start), steady


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--batch-atoms", type=int, nargs="+", default=[512, 2048])
    parser.add_argument("--workers", type=int, default=0, help="also time a Dask LocalCluster of N workers")
    parser.add_argument("--threads", type=int, default=1, help="torch threads in this process")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clusters.extxyz"
        write(path, clusters(args.n))
        list(screen(path, batch_atoms=64))  # load the model and warm TorchScript up once, for both sides
        rates = {"calculator loop": (loop_rate(path, args.n), float("nan"))}
        for ba in args.batch_atoms:
            rates[f"runner, batch_atoms={ba}"] = runner_rate(path, args.n, Path(tmp) / f"r{ba}.db", batch_atoms=ba)
        if args.workers:
            ba = args.batch_atoms[-1]
            rates[f"runner, {args.workers} Dask workers, batch_atoms={ba}"] = runner_rate(
                path, args.n, Path(tmp) / "dask.db", batch_atoms=ba, workers=args.workers)
    loop = rates["calculator loop"][0]
    print(f"{args.n} water clusters (3-9 atoms), torch threads {args.threads}\n")
    print("| method | structures/s | ratio to the loop | after the first batch: structures/s | ratio |\n"
          "| --- | ---: | ---: | ---: | ---: |")
    for name, (rate, steady) in rates.items():
        tail = "- | -" if steady != steady else f"{steady:.1f} | {steady / loop:.1f}x"
        print(f"| {name} | {rate:.1f} | {rate / loop:.1f}x | {tail} |")


if __name__ == "__main__":
    main()
