"""Network cost per atom at 300, 3,000 and 30,000 atoms in one process, interleaved, and the 30,000 / 300 ratio.

Command: OMP_NUM_THREADS=1 python benchmarks/bench_per_atom_ratio.py [--rounds 5] [--model default]

Periodic water boxes at 1 g/cm^3 (``bench_model.water_box``); each round calls the runtime's ``forward`` on
ready graphs (20 calls at 300 atoms, 4 at 3,000, 1 at 30,000) and records CPU time per atom
(``time.process_time``, 1 torch thread). Sizes alternate within every round, so a change of machine load
hits all of them alike; min and median over all calls.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_model import water_box  # noqa: E402

from ase_e3density.models import load_model, resolve_model_path  # noqa: E402

CALLS = {300: 20, 3000: 4, 30000: 1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--model", default="default")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = load_model(resolve_model_path(args.model))
    graphs = {n: model.checked_graph(water_box(n), 0.0) for n in CALLS}
    for graph in graphs.values():
        model.forward([graph], [0.0])  # warm-up
    times: dict[int, list[float]] = {n: [] for n in CALLS}
    for _ in range(args.rounds):
        for n, graph in graphs.items():
            for _ in range(CALLS[n]):
                start = time.process_time()
                model.forward([graph], [0.0])
                times[n].append((time.process_time() - start) / n * 1e3)
    print("| atoms | network ms/atom min | median | calls |\n| --- | --- | --- | --- |")
    for n, values in times.items():
        print(f"| {n} | {min(values):.3f} | {statistics.median(values):.3f} | {len(values)} |")
    for n in (3000, 30000):
        print(f"{n} / 300: {min(times[n]) / min(times[300]):.2f} (min), "
              f"{statistics.median(times[n]) / statistics.median(times[300]):.2f} (median)")


if __name__ == "__main__":
    main()
