"""Cost of the loss's Coulomb term per training step, and of precomputing the Coulomb matrices.

Command: python benchmarks/bench_coulomb_loss.py [--threads 1] [--steps 30] [--batch-size 8]

The default model's architecture (configs/water_default.yaml, float32), batches of 1-4-water clusters
from data/water/train.db (one batch per cluster size, and mixed batches as training draws them):
time of one optimiser step (forward, loss, backward, Adam) with ``coulomb_weight`` 0 and 1, the
matrices' precomputation per cluster size, and their memory over the whole training set.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from ase_e3density.electron.basis import load_basis
from ase_e3density.electron.coulomb import coulomb_matrix
from ase_e3density.nn import DensityModel, ModelConfig
from ase_e3density.train.data import collate, coulomb_matrices, load_samples
from ase_e3density.train.loss import DensityLoss

ROOT = Path(__file__).resolve().parents[1]
SPECIES = ["H", "O"]


def one_step(model, loss_fn, optimizer, samples) -> float:
    """Seconds of one optimiser step (forward, loss, backward, Adam) on ``samples``."""
    inputs, target = collate(samples, torch.float32)
    positions, species, _, _, charge, batch = inputs
    start = time.perf_counter()
    loss = loss_fn(model(*inputs), target, species, positions, batch, len(charge), coulomb_matrices(samples))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return time.perf_counter() - start


def step_times(model, losses, optimizer, batches, steps: int) -> tuple[float, float]:
    """Median step seconds without and with the Coulomb term, the two interleaved step by step
    (so the load of a shared machine hits both alike)."""
    plain, with_term = [], []
    for k in range(steps + 2):
        samples = batches[k % len(batches)]
        a = one_step(model, losses[0.0], optimizer, samples)
        b = one_step(model, losses[1.0], optimizer, samples)
        if k >= 2:  # warm-up steps left out
            plain.append(a)
            with_term.append(b)
    return float(np.median(plain)), float(np.median(with_term))


def term_time(loss_fn, samples, repeats: int = 50) -> float:
    """Median seconds of the Coulomb term alone, forward and backward, on one batch."""
    inputs, target = collate(samples, torch.float32)
    _, species, _, _, _, batch = inputs
    matrices = coulomb_matrices(samples)
    times = []
    for _ in range(repeats):
        diff = (0.01 * torch.randn_like(target)).requires_grad_(True)
        start = time.perf_counter()
        loss_fn.coulomb_term(diff, species, batch, matrices).mean().backward()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    basis = load_basis()
    max_dim = max(basis[s].n_functions for s in SPECIES)
    start = time.perf_counter()
    samples = load_samples(ROOT / "data" / "water" / "train.db", SPECIES, 3.5, max_dim, coulomb=True)
    load_seconds = time.perf_counter() - start
    config = ModelConfig(species=SPECIES, hidden={0: 32, 1: 16, 2: 8, 3: 4}, n_layers=3, cutoff=3.5, sh_lmax=3,
                         avg_neighbours=5.5)
    model = DensityModel(config, dtype=torch.float32)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    losses = {w: DensityLoss(basis, SPECIES, max_dim, dipole_weight=0.01, coulomb_weight=w) for w in (0.0, 1.0)}
    by_size: dict[int, list] = {}
    for s in samples:
        by_size.setdefault(len(s.species) // 3, []).append(s)
    print(f"{len(samples)} samples loaded with Coulomb matrices in {load_seconds:.1f} s "
          f"({args.threads} thread(s)); matrices hold {sum(s.coulomb.nbytes for s in samples) / 2**20:.0f} MiB")
    print("\n| waters | functions | matrix (ms) | matrix (MiB) | step, coulomb_weight 0 (ms) | step, 1 (ms) | "
          "term alone, fwd+bwd (ms) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    rng = np.random.default_rng(0)
    groups = {f"{n}": [group[i:i + args.batch_size] for i in range(0, min(len(group), 4 * args.batch_size), args.batch_size)]
              for n, group in sorted(by_size.items())}
    order = rng.permutation(len(samples))
    groups["mixed"] = [[samples[i] for i in order[k:k + args.batch_size]]
                       for k in range(0, 8 * args.batch_size, args.batch_size)]
    for label, batches in groups.items():
        first = batches[0][0]
        t0 = time.perf_counter()
        coulomb_matrix(first.density.atoms, first.density.basis)
        build_ms = 1e3 * (time.perf_counter() - t0)
        plain, with_term = step_times(model, losses, optimizer, batches, args.steps)
        alone = term_time(losses[1.0], batches[0])
        size = "-" if label == "mixed" else f"{first.coulomb.nbytes / 2**20:.2f}"
        n_fn = "-" if label == "mixed" else str(first.coulomb.shape[0])
        print(f"| {label} | {n_fn} | {build_ms if label != 'mixed' else float('nan'):.1f} | {size} | "
              f"{1e3 * plain:.1f} | {1e3 * with_term:.1f} | {1e3 * alone:.2f} |", flush=True)
    print(f"\nbatches of {args.batch_size}; median of {args.steps} steps; command: python benchmarks/bench_coulomb_loss.py "
          f"--threads {args.threads} --steps {args.steps} --batch-size {args.batch_size}")


if __name__ == "__main__":
    main()
