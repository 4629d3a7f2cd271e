"""Cost per atom of the organic model against the water model, each on molecules of its own domain.

Command: OMP_NUM_THREADS=1 python benchmarks/bench_organic_cost.py [--rounds 5]

The organic model predicts the 150 QM9 molecules of ``data/qm9/structures/test_9.extxyz`` (12-25 atoms) and
the 52 drug-like molecules of ``druglike.extxyz`` (16-47 atoms); the water model (``default``) the 8-, 12-
and 16-water clusters of ``data/water/test_*.db`` (24-48 atoms). Each round times every set once, the sets
interleaved, so a change of machine load hits both models alike. The time is CPU time
(``time.process_time``, 1 torch thread) of the whole call a user makes, ``predict_density`` (checks, graph,
network, electron-count projection, domain test), and of the network alone (``forward`` on ready graphs);
reported per atom, min over rounds, and the organic / water ratio.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from ase.db import connect
from ase.io import read

from ase_e3density.models import load_model

ROOT = Path(__file__).resolve().parents[1]


def molecules() -> dict[str, tuple[str, list]]:
    """Set name -> (shipped model, structures)."""
    water = [row.toatoms() for n in (8, 12, 16) for row in connect(ROOT / f"data/water/test_{n}.db").select()]
    return {"QM9, 9 heavy atoms": ("organic", read(ROOT / "data/qm9/structures/test_9.extxyz", ":")),
            "drug-like": ("organic", read(ROOT / "data/qm9/structures/druglike.extxyz", ":")),
            "water clusters (8-16)": ("default", water)}


def cpu_per_atom(call, structures) -> float:
    """CPU seconds per atom of ``call`` over ``structures``."""
    n_atoms = sum(len(a) for a in structures)
    start = time.process_time()
    for atoms in structures:
        call(atoms)
    return (time.process_time() - start) / n_atoms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    models = {name: load_model(name) for name in ("organic", "default")}
    sets = molecules()
    graphs = {name: [models[m].checked_graph(a, 0.0) for a in structures] for name, (m, structures) in sets.items()}
    whole: dict[str, list[float]] = {name: [] for name in sets}
    network: dict[str, list[float]] = {name: [] for name in sets}
    for _ in range(args.rounds + 1):  # the first round warms up and is dropped
        for name, (m, structures) in sets.items():
            model = models[m]
            whole[name].append(cpu_per_atom(lambda a: model.predict_density(a, 0.0), structures))
            by_graph = dict(zip(map(id, structures), graphs[name]))
            network[name].append(cpu_per_atom(lambda a: model.forward([by_graph[id(a)]], [0.0]), structures))
    print(f"CPU time per atom, 1 torch thread, min over {args.rounds} rounds (the first dropped):")
    print("| set | model | atoms per molecule | predict_density (ms/atom) | network alone (ms/atom) |")
    print("| --- | --- | --- | --- | --- |")
    for name, (m, structures) in sets.items():
        sizes = [len(a) for a in structures]
        print(f"| {name} | {m} | {min(sizes)}-{max(sizes)} | {1e3 * min(whole[name][1:]):.3f} | "
              f"{1e3 * min(network[name][1:]):.3f} |")
    water = "water clusters (8-16)"
    for name in sets:
        if name != water:
            print(f"{name}: organic / water per atom = {min(whole[name][1:]) / min(whole[water][1:]):.2f} (whole call), "
                  f"{min(network[name][1:]) / min(network[water][1:]):.2f} (network)")


if __name__ == "__main__":
    main()
