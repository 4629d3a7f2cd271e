"""Cost per atom of the density network on water boxes, against the founding configuration.

Command: python benchmarks/bench_model.py [--sizes 96 300 3000 30000] [--founding-max 3000] [--threads 2] [--layers 3]

For each box: the vesin neighbour list, the network forward in eager mode (e3nn's modules) and
TorchScript with the dense, edge-chunked inference path the runtime uses (our default architecture, float32), and e3nn 0.6's gate_points_2101.Network in the
founding configuration (125/40/25/15 channels for l=0..3, both parities, sh l<=3,
3 layers, cutoff 3.5 Å, 10 radial functions, radial MLP 128), fed the same neighbour list
so both networks are timed alone. Forward+backward of a 4-water cluster is also timed, both networks
at batch 1 and both in batches of 16 clusters.
Prints a markdown table and the ratios, all measured in this run.
"""
from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch
from ase import Atoms
from ase.build import molecule

from ase_e3density.graph import model_inputs, neighbour_list
from ase_e3density.models.jit import plain_execution
from ase_e3density.nn import DensityModel, ModelConfig


WATER_PER_A3 = 0.03343  # molecules per Å^3 at 1.000 g/cm^3 (18.015 g/mol)


def water_box(n_atoms: int, seed: int = 0) -> Atoms:
    """Periodic water at 1 g/cm^3: ``n_atoms // 3`` randomly rotated molecules on randomly chosen sites
    of a jittered cubic lattice, in the cube that holds them at that density (any count, not only cubes:
    the box is sized by the molecules, the lattice only spreads them)."""
    from scipy.spatial.transform import Rotation

    n_mol = max(1, n_atoms // 3)
    length = (n_mol / WATER_PER_A3) ** (1 / 3)
    side = int(np.ceil(n_mol ** (1 / 3) - 1e-9))
    spacing = length / side
    rng = np.random.default_rng(seed)
    sites = np.sort(rng.choice(side ** 3, size=n_mol, replace=False))
    base = molecule("H2O")
    local = base.positions - base.positions[0]
    turns = Rotation.random(n_mol, random_state=rng.integers(1 << 31)).as_matrix()
    centres = (np.stack(np.unravel_index(sites, (side,) * 3), axis=1) + 0.5 + rng.uniform(-0.1, 0.1, (n_mol, 3))) * spacing
    positions = (np.einsum("mij,aj->mai", turns, local) + centres[:, None, :]).reshape(-1, 3)
    return Atoms(np.tile(base.numbers, n_mol), positions=positions, cell=[length] * 3, pbc=True)


def density_g_cm3(atoms: Atoms) -> float:
    """Mass density of a periodic box (g/cm^3)."""
    return float(atoms.get_masses().sum() / atoms.get_volume() * 1.66053906660)


def best_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def founding_network():
    from e3nn import o3
    from e3nn.nn.models import gate_points_2101
    net = gate_points_2101.Network(
        irreps_in="2x0e", irreps_hidden="125x0e+125x0o+40x1e+40x1o+25x2e+25x2o+15x3e+15x3o",
        irreps_out="12x0e+5x1o+4x2e+2x3o+1x4e", irreps_node_attr=None,
        irreps_edge_attr=o3.Irreps.spherical_harmonics(3), layers=3, max_radius=3.5, number_of_basis=10,
        radial_layers=1, radial_neurons=128, num_neighbors=12.0, num_nodes=12.0, reduce_output=False)
    return gate_points_2101, net


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[96, 300, 3000, 30000])
    parser.add_argument("--founding-max", type=int, default=3000, help="largest box for the founding network")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cutoff", type=float, default=3.5, help="our model's cutoff (Å)")
    parser.add_argument("--sh-lmax", type=int, default=3, help="our model's spherical-harmonic order")
    parser.add_argument("--layers", type=int, default=3, help="our model's interaction layers")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)  # a benchmark script, not the library: it may set this

    cfg = ModelConfig(species=["H", "O"], cutoff=args.cutoff, sh_lmax=args.sh_lmax, n_layers=args.layers)
    model = DensityModel(cfg).eval()
    from e3nn.util.jit import script
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        scripted = script(DensityModel(cfg).eval())
    scripted.load_state_dict(model.state_dict())
    scripted.prepare_inference(256)  # the deployed runtime's dense, edge-chunked path (runtime.EDGE_CHUNK)
    gp, founding = founding_network()
    print(f"ours: {sum(p.numel() for p in model.parameters()):,} parameters; "
          f"founding: {sum(p.numel() for p in founding.parameters()):,}; threads {args.threads}")

    rows = []
    for n in args.sizes:
        atoms = water_box(n)
        index = {"H": 0, "O": 1}
        t_nl = best_time(lambda: neighbour_list(atoms, cfg.cutoff), args.repeat)
        inputs = model_inputs(atoms, index, cfg.cutoff, 0.0)
        rep = 1 if len(atoms) > 5000 else args.repeat
        with torch.no_grad(), plain_execution():  # as the runtime runs deployed files
            t_eager = best_time(lambda: model(*inputs), rep)
            scripted(*inputs)  # first call compiles/optimises
            t_script = best_time(lambda: scripted(*inputs), rep)
            t_found = float("nan")
            if len(atoms) <= args.founding_max:
                edges, shifts = neighbour_list(atoms, 3.5)
                pos = torch.tensor(atoms.positions, dtype=torch.float32)
                # same neighbour list for both networks: the stock radius_graph is O(N^2) and ignores cells
                src, dst = torch.as_tensor(edges[1]), torch.as_tensor(edges[0])
                gp.radius_graph = lambda p, r, b: torch.stack([src, dst])
                data = {"pos": pos, "x": torch.nn.functional.one_hot(inputs[1], 2).float()}
                t_found = best_time(lambda: founding(data), 1 if len(atoms) > 1000 else args.repeat)
        rows.append((len(atoms), t_nl, t_eager, t_script, t_found))

    cluster = molecule("H2O")
    for k in range(1, 4):
        w = molecule("H2O")
        w.translate([2.9 * k, 0.3 * k, 0])
        cluster += w
    inputs = model_inputs(cluster, {"H": 0, "O": 1}, cfg.cutoff, 0.0)
    t_train = best_time(lambda: model(*inputs).square().sum().backward(), args.repeat)
    edges, _ = neighbour_list(cluster, 3.5)
    src, dst = torch.as_tensor(edges[1]), torch.as_tensor(edges[0])
    gp.radius_graph = lambda p, r, b: torch.stack([src, dst])
    data = {"pos": torch.tensor(cluster.positions, dtype=torch.float32),
            "x": torch.nn.functional.one_hot(inputs[1], 2).float()}
    t_train_found = best_time(lambda: founding(data).square().sum().backward(), args.repeat)
    # training-style batch: 16 such clusters in one graph (per-call overhead amortised)
    batch = [tuple(t.clone() for t in inputs) for _ in range(16)]
    offsets = [k * len(cluster) for k in range(16)]
    batched = (torch.cat([b[0] + 30.0 * k for k, b in enumerate(batch)]), torch.cat([b[1] for b in batch]),
               torch.cat([b[2] + o for b, o in zip(batch, offsets)], dim=1), torch.cat([b[3] for b in batch]),
               torch.cat([b[4] for b in batch]), torch.cat([b[5] + k for k, b in enumerate(batch)]))
    t_batch = best_time(lambda: model(*batched).square().sum().backward(), args.repeat) / 16
    src, dst = batched[2][1], batched[2][0]
    gp.radius_graph = lambda p, r, b: torch.stack([src, dst])
    data = {"pos": batched[0], "x": torch.nn.functional.one_hot(batched[1], 2).float(), "batch": batched[5]}
    t_batch_found = best_time(lambda: founding(data).square().sum().backward(), args.repeat) / 16

    print("\n| atoms | neighbour list (ms) | ours eager (ms/atom) | ours TorchScript (ms/atom) | founding (ms/atom) | founding / ours (TorchScript) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for n, nl, eager, scr, found in rows:
        ratio = found / scr if found == found else float("nan")
        print(f"| {n} | {nl * 1e3:.1f} | {eager / n * 1e3:.3f} | {scr / n * 1e3:.3f} | "
              f"{found / n * 1e3:.3f} | {ratio:.1f}x |")
    print(f"\nforward+backward, 4-water cluster: ours {t_train * 1e3:.1f} ms, founding {t_train_found * 1e3:.1f} ms, "
          f"ratio {t_train_found / t_train:.1f}x")
    print(f"forward+backward per 4-water cluster in batches of 16: ours {t_batch * 1e3:.1f} ms, founding "
          f"{t_batch_found * 1e3:.1f} ms, ratio {t_batch_found / t_batch:.1f}x (founding at batch 1, as trained "
          f"there: {t_train_found / t_batch:.1f}x our batched cost)")
    first, last = rows[0], rows[-1]
    print(f"scaling: ours TorchScript ms/atom at {last[0]} atoms / at {first[0]} atoms = "
          f"{(last[3] / last[0]) / (first[3] / first[0]):.2f} (1.0 = linear)")


if __name__ == "__main__":
    main()
