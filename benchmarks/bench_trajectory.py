"""Trajectory loops and mixed periodicity: memory flat with a calculator per frame, overlap check cost.

Command: python benchmarks/bench_trajectory.py [--frames 10000] [--threads 1]

1. A new E3DensityCalculator (the embedded default model) for every frame of a water-trimer
   trajectory, the pattern many scripts use: peak RSS after 1, 100, 1,000 and every later
   thousand frames, and time per frame. Loaded models are shared per file, so memory stays flat.
2. The same frames with one shared calculator, for the cost of a calculator per frame.
3. Structure checks (overlap search) against the network's own neighbour list on a 60-atom water
   cluster in a 30 Å cell, for every combination of periodic directions.
"""
from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import torch
from ase.io import read

from ase_e3density import E3DensityCalculator
from ase_e3density.graph.checks import check_overlaps, check_structure
from ase_e3density.graph.domain import edge_lengths
from ase_e3density.graph.neighbours import neighbour_list
from ase_e3density.cli.common import example_path


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def frames(n: int):
    base = read(example_path("water_trimer.xyz"))
    rng = np.random.default_rng(0)
    for _ in range(n):
        atoms = base.copy()
        atoms.positions += rng.normal(scale=0.01, size=atoms.positions.shape)
        yield atoms


def calculator_per_frame(n: int) -> list[tuple[int, float, float]]:
    rows, start = [], time.perf_counter()
    for k, atoms in enumerate(frames(n), 1):
        atoms.calc = E3DensityCalculator()
        atoms.get_dipole_moment()
        if k in (1, 100) or k % 1000 == 0:
            rows.append((k, rss_mib(), (time.perf_counter() - start) / k * 1e3))
    return rows


def shared_calculator(n: int) -> float:
    calc = E3DensityCalculator()
    start = time.perf_counter()
    for atoms in frames(n):
        atoms.calc = calc
        atoms.get_dipole_moment()
    return (time.perf_counter() - start) / n * 1e3


def best(f, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times) * 1e3


def mixed_pbc() -> list[tuple[str, float, float, float]]:
    cluster = read(example_path("water_20.xyz"))
    cluster.set_cell([30.0, 30.0, 30.0])
    cluster.center()
    rows = []
    for pbc in ([False] * 3, [True, False, False], [True, True, False], [True] * 3):
        cluster.pbc = pbc
        edges, shifts = neighbour_list(cluster, 3.5)
        lengths = edge_lengths(cluster.positions, edges, shifts)
        rows.append(("".join("T" if p else "F" for p in pbc), best(lambda: check_structure(cluster)),
                     best(lambda: (check_structure(cluster, overlaps=False), check_overlaps(cluster, edges, lengths))),
                     best(lambda: neighbour_list(cluster, 3.5))))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=10000)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch threads: {args.threads}; frames: water trimer, rattled 0.01 Å\n", flush=True)
    print("| frames | peak RSS (MiB) | ms per frame (new calculator each frame) |")
    print("| --- | --- | --- |")
    rows = calculator_per_frame(args.frames)
    for k, rss, ms in rows:
        print(f"| {k} | {rss:.0f} | {ms:.2f} |", flush=True)
    shared = shared_calculator(min(args.frames, 2000))
    after_warmup = next((r for r in rows if r[0] >= 100), rows[0])
    print(f"\none shared calculator: {shared:.2f} ms per frame; a calculator per frame costs "
          f"{rows[-1][2] / shared:.2f}x; peak RSS growth from frame {after_warmup[0]:,} to {rows[-1][0]:,}: "
          f"{rows[-1][1] - after_warmup[1]:.1f} MiB", flush=True)
    print("\n| pbc | standalone check, own 2 Å search (ms) | check on the network's neighbour list (ms) | "
          "network neighbour list, 3.5 Å (ms) | ratio: check in the calculator / neighbour list |")
    print("| --- | --- | --- | --- | --- |")
    for pbc, alone, shared, nl in mixed_pbc():
        print(f"| {pbc} | {alone:.2f} | {shared:.2f} | {nl:.2f} | {shared / nl:.2f} |")


if __name__ == "__main__":
    main()
