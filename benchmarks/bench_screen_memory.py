"""Peak memory and throughput of the screening runner streaming generated structures into an ase.db.

Command: python benchmarks/bench_screen_memory.py [--n 100000] [--out /tmp/mem.db] [--batch-atoms 2048]

A generator makes distorted water molecules one at a time (nothing is held), the runner writes every
result to a fresh ase.db; at 10^3, 10^4, 10^5, ... structures the script prints the resident set size
now and the peak so far (Linux ``ru_maxrss``) and the rate since the start.
"""
from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np
from ase.build import molecule

from ase_e3density.screen import screen
from ase_e3density.screen.runner import DEFAULT_BATCH_ATOMS


def generated(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    base = molecule("H2O")
    for _ in range(n):
        atoms = base.copy()
        atoms.positions += rng.normal(scale=0.05, size=atoms.positions.shape)
        yield atoms


def rss_mib(status: str | Path = "/proc/self/status") -> float:
    with open(status) as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--out", default="/tmp/bench_screen_memory.db")
    parser.add_argument("--batch-atoms", type=int, default=DEFAULT_BATCH_ATOMS)
    args = parser.parse_args()
    out = Path(args.out)
    for stale in (out, out.with_name(out.name + ".screen-lock")):
        stale.unlink(missing_ok=True)
    marks = {10 ** k for k in range(3, 8)} | {args.n}
    print("| structures | RSS now (MiB) | peak RSS (MiB) | structures/s |\n"
          "| ---: | ---: | ---: | ---: |", flush=True)
    start = time.perf_counter()
    run = screen(output=out, structures=generated(args.n), batch_atoms=args.batch_atoms)
    for k, _ in enumerate(run, 1):
        if k in marks:
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"| {k} | {rss_mib():.0f} | {peak:.0f} | {k / (time.perf_counter() - start):.0f} |", flush=True)
    print(f"summary: {run.summary}; output {out.stat().st_size / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
