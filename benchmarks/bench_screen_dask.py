"""Screening on a Dask LocalCluster: what Dask's worker memory setting and the batches' transport cost, as ratios.

Command: python benchmarks/bench_screen_dask.py [--input qm9_subset.extxyz] [--n 3000] [--model organic]
         [--workers 2] [--repeats 1]

(a) Transport: every batch (``DEFAULT_BATCH_ATOMS`` atoms) and its results through Dask's serialisation
(``serialize_bytes``/``deserialize_bytes``, what a task's arguments and result go through), as plain
lists (each structure's arrays a frame of their own) and as the runner's packed batches: CPU time of
each and the ratio. (b) The whole run, ``e3density screen --workers N`` into a fresh ase.db, with Dask's worker
default ``MALLOC_TRIM_THRESHOLD_=65536`` (set in this process's environment, which the workers inherit:
what every run had before the engine stopped Dask from setting it) and without it, alternating, each ``e3density screen`` in a
fresh process: wall time (start-up of the model and the cluster included) and CPU time of that
process and all its children (Dask workers, the writer process), each ratio.
On a machine shared with other jobs the wall times follow the load; the CPU times much less.

Without --input, small distorted molecules of H, C, N, O (3-13 atoms) are generated.
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from ase.build import molecule
from ase.db import connect
from ase.io import iread, write

from ase_e3density.screen import screen
from ase_e3density.screen.batches import batches
from ase_e3density.screen.packing import ItemBatch, ResultBatch
from ase_e3density.screen.runner import DEFAULT_BATCH_ATOMS
from ase_e3density.screen.sources import iter_items
from ase_e3density.screen.worker import ModelRef, evaluate_batch

MALLOC = "MALLOC_TRIM_THRESHOLD_"


def generated(n: int, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    names = ["H2O", "NH3", "CH4", "CH3OH", "HCOOH", "CH3CN", "C2H6", "CH3CH2OH", "C3H8", "CH3COOH"]
    out = []
    for k in range(n):
        atoms = molecule(names[k % len(names)])
        atoms.positions += rng.normal(scale=0.03, size=atoms.positions.shape)
        out.append(atoms)
    return out


def cpu_seconds() -> float:
    """User and system CPU seconds of this process and of its children that have ended."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def transport(path: Path, model: str) -> dict[str, float]:
    """CPU seconds of Dask's serialisation of every batch and its results, there and back: plain and packed."""
    from distributed.protocol import deserialize_bytes, serialize_bytes

    run = screen(path, model=model)  # only to resolve and check the model
    ref = ModelRef(str(run.model.path), run.model.checksum)
    groups = list(batches(iter_items([str(path)]), DEFAULT_BATCH_ATOMS))
    results = [evaluate_batch(ref, group) for group in groups]
    seconds = {}
    for name, wrap_items, wrap_results in (("plain lists", list, list), ("packed batches", ItemBatch, ResultBatch)):
        objects = [wrap_items(g) for g in groups] + [wrap_results(r) for r in results]
        start = time.process_time()
        for obj in objects:
            list(deserialize_bytes(serialize_bytes(obj)))  # read, as the worker and the run read them
        seconds[name] = time.process_time() - start
    return seconds


def timed_run(path: Path, out: Path, model: str, workers: int, dask_memory_setting: bool) -> tuple[float, float]:
    """Wall and CPU seconds of one ``e3density screen`` in a fresh process (its Dask workers and writer process
    included), as a user runs it."""
    env = {k: v for k, v in os.environ.items() if k != MALLOC}
    if dask_memory_setting:
        env[MALLOC] = "65536"
    command = [sys.executable, "-m", "ase_e3density.cli", "screen", str(path), "-o", str(out), "--model", model,
               "--no-progress", "--workers", str(workers)]
    wall, cpu = time.perf_counter(), cpu_seconds()
    done = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr}")
    return time.perf_counter() - wall, cpu_seconds() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", help="an (ext)xyz file; its first --n structures are screened")
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--model", default="organic")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "in.extxyz"
        if args.input:
            frames = iread(args.input, index=f":{args.n}")
        else:
            frames = generated(args.n)
        write(path, list(frames))
        n = sum(1 for _ in iread(str(path), index=":"))
        seconds = transport(path, args.model)
        runs: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
        for k in range(args.repeats):
            for setting in (True, False) if k % 2 == 0 else (False, True):
                out = Path(tmp) / f"out-{k}-{setting}.db"
                runs[setting].append(timed_run(path, out, args.model, args.workers, setting))
                assert len(connect(out)) == n
    plain, packed = seconds["plain lists"], seconds["packed batches"]
    print(f"{n} structures, {args.workers} Dask workers, model {args.model}, load average {os.getloadavg()[0]:.1f}\n")
    print(f"transport (serialise and deserialise every batch and its results): plain lists {1e3 * plain / n:.3f} "
          f"ms/structure, packed batches {1e3 * packed / n:.3f} ms/structure: {plain / packed:.1f}x less CPU\n")
    print("| workers' environment | wall (s) | structures/s | CPU, all processes (s) | CPU ms/structure |\n"
          "| --- | ---: | ---: | ---: | ---: |")
    medians = {}
    for setting, label in ((True, f"{MALLOC}=65536 (Dask's default)"), (False, "glibc's own (the engine's)")):
        wall, cpu = np.median(np.array(runs[setting]), axis=0)
        medians[setting] = (wall, cpu)
        print(f"| {label} | {wall:.1f} | {n / wall:.1f} | {cpu:.1f} | {1e3 * cpu / n:.2f} |")
    print(f"\nratio, Dask's default over the engine's: wall {medians[True][0] / medians[False][0]:.2f}x, "
          f"CPU {medians[True][1] / medians[False][1]:.2f}x (start-up included in both)")


if __name__ == "__main__":
    main()
