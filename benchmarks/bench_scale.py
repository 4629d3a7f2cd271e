"""Cost and peak memory per atom of the deployed default model from 300 to 100,000 atoms, and a 24-atom
calculator loop, before (a git commit of this repository) and after (this checkout), in one run.

Command: python benchmarks/bench_scale.py [--sizes 300 3000 30000 100000] [--before 2e8e82c]
         [--rounds 2] [--threads 1] [--loop-calls 300] [--before-max 30000]

Every measurement runs in a fresh subprocess (``--child``) with ``PYTHONPATH`` set to one code tree,
so each reads its own ``ru_maxrss``; "before" is ``git archive <commit>`` unpacked to a temporary
folder (its own shipped default.pt included). Variants are interleaved (before, after, before, ...)
for ``--rounds`` rounds and each reports every repeat, so the tables show the minimum and the median
over all of them. Times are CPU seconds of the process (``time.process_time``) with ``--threads``
torch threads, the least noisy measure on a shared machine; every table is printed again with wall seconds.

Per size: the network alone (the runtime's ``forward`` on a ready graph) and the whole deployed call
(``predict_density(atoms).dipole``: checks, neighbour list, network, float64 projection, domain
report, multipoles), and the peak RSS (``ru_maxrss``) of the process, in total and above the RSS it held just before the
first big call (structure and its graph built, model loaded, one 24-atom call made) per atom. Boxes are periodic water
at 1 g/cm^3 (``bench_model.water_box``). The loop is one calculator over rattled frames of an
8-water cluster (the first 24 atoms of the shipped 20-water example), ``atoms.get_dipole_moment()``
per frame: the trajectory case.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPEATS = {300: 7, 3000: 3, 30000: 2}


def child(args) -> None:
    """One measurement in this process; prints one JSON line."""
    import numpy as np
    import torch
    from ase.io import read

    torch.set_num_threads(args.threads)
    from ase_e3density import E3DensityCalculator
    from ase_e3density.cli.common import example_path
    from ase_e3density.models import load_model, resolve_model_path
    from bench_model import density_g_cm3, water_box

    model = load_model(resolve_model_path("default"))
    cluster = read(example_path("water_20.xyz"))[:24]
    _ = model.predict_density(cluster).dipole  # warm-up: first calls allocate and compile
    if args.child == "loop":
        calc = E3DensityCalculator(model=model)
        rng = np.random.default_rng(0)
        times = []
        for k in range(args.loop_calls + 20):
            atoms = cluster.copy()
            atoms.positions += rng.normal(scale=0.01, size=atoms.positions.shape)
            atoms.calc = calc
            c, w = time.process_time(), time.perf_counter()
            atoms.get_dipole_moment()
            if k >= 20:
                times.append((time.process_time() - c, time.perf_counter() - w))
        print(json.dumps({"cpu": [t[0] for t in times], "wall": [t[1] for t in times]}))
        return
    n = int(args.child)
    atoms = water_box(n)
    graph = model.checked_graph(atoms, 0.0)
    base = rss_kib()
    net, full = [], []
    for _ in range(REPEATS.get(n, 1)):
        c, w = time.process_time(), time.perf_counter()
        model.forward([graph], [0.0])
        net.append((time.process_time() - c, time.perf_counter() - w))
        c, w = time.process_time(), time.perf_counter()
        _ = model.predict_density(atoms).dipole
        full.append((time.process_time() - c, time.perf_counter() - w))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"atoms": len(atoms), "edges": int(graph[2].shape[1]), "density": density_g_cm3(atoms),
                      "net_cpu": [t[0] for t in net], "net_wall": [t[1] for t in net],
                      "full_cpu": [t[0] for t in full], "full_wall": [t[1] for t in full],
                      "base_kib": base, "peak_kib": peak}))


def rss_kib() -> int:
    """Resident memory of this process now (KiB)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def run_child(tree: Path, what: str, args) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree), OMP_NUM_THREADS=str(args.threads))
    cmd = [sys.executable, __file__, "--child", what, "--threads", str(args.threads), "--loop-calls", str(args.loop_calls)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=tree)
    if out.returncode:
        return {"error": (out.stderr.strip().splitlines() or [f"exit {out.returncode}"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def export(commit: str, into: Path) -> Path:
    """The package as it was at ``commit``, unpacked under ``into``."""
    data = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", commit, "ase_e3density"],
                          capture_output=True, check=True).stdout
    tar = into / "before.tar"
    tar.write_bytes(data)
    with tarfile.open(tar) as archive:
        archive.extractall(into, filter="data")
    return into


def stats(values: list[float], scale: float) -> tuple[float, float]:
    return min(values) * scale, statistics.median(values) * scale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[300, 3000, 30000, 100000])
    parser.add_argument("--before", default="2e8e82c", help="git commit measured as 'before'")
    parser.add_argument("--before-max", type=int, default=30000,
                        help="largest box for 'before' (100,000 atoms need about 21 GB there)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds (1 above 10,000 atoms)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--loop-calls", type=int, default=300)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        before = export(args.before, Path(tmp))
        trees = {"before": before, "after": ROOT}
        print(f"before: commit {args.before}; after: this checkout; torch threads {args.threads}; "
              f"CPU time (process_time) and wall time, min / median over interleaved repeats\n", flush=True)
        loop: dict[str, dict] = {"before": {"cpu": [], "wall": []}, "after": {"cpu": [], "wall": []}}
        for _ in range(args.rounds):
            for name, tree in trees.items():
                got = run_child(tree, "loop", args)
                for clock in ("cpu", "wall"):
                    loop[name][clock] += got.get(clock, [])
        rows = []
        for n in args.sizes:
            got: dict[str, list[dict]] = {"before": [], "after": []}
            for _ in range(args.rounds if n <= 10000 else 1):
                for name, tree in trees.items():
                    if name == "before" and n > args.before_max:
                        continue
                    got[name].append(run_child(tree, str(n), args))
                    print(f"  {n} atoms, {name}: {json.dumps(got[name][-1])[:160]}", file=sys.stderr, flush=True)
            rows.append((n, got))

    for clock in ("cpu", "wall"):
        report(loop, rows, args, clock)


def report(loop: dict, rows: list, args, clock: str) -> None:
    """The loop and size tables with one clock: ``cpu`` (process CPU time) or ``wall``."""
    print(f"## {'CPU' if clock == 'cpu' else 'wall'} time, {args.threads} torch thread(s)\n")
    print("24-atom calculator loop (8 waters, one calculator, dipole per rattled frame), ms per call:\n")
    print("| code | min | median | calls |")
    print("| --- | --- | --- | --- |")
    for name in ("before", "after"):
        lo, med = stats(loop[name][clock], 1e3)
        print(f"| {name} | {lo:.2f} | {med:.2f} | {len(loop[name][clock])} |")
    ratio = (min(loop["before"][clock]) / min(loop["after"][clock]),
             statistics.median(loop["before"][clock]) / statistics.median(loop["after"][clock]))
    print(f"\nbefore / after: {ratio[0]:.2f}x (min), {ratio[1]:.2f}x (median)\n")

    print("| atoms | edges | g/cm³ | network ms/atom before (min / median) | after | before / after | "
          "whole call ms/atom before | after | before / after | peak MiB before | after | "
          "peak kB/atom above the graph before | after | peak kB/atom in total before | after |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    per_atom = {}
    for n, got in rows:
        cells, ok = [], {k: [g for g in v if "error" not in g] for k, v in got.items()}
        first = (ok["after"] or ok["before"] or [{}])[0]
        for key in (f"net_{clock}", f"full_{clock}"):
            both = []
            for name in ("before", "after"):
                values = [t for g in ok[name] for t in g[key]]
                if values:
                    lo, med = stats(values, 1e3 / first["atoms"])
                    cells.append(f"{lo:.3f} / {med:.3f}")
                    both.append(lo)
                    per_atom[(name, key, n)] = lo
                else:
                    cells.append("not run" if not got[name] else got[name][0].get("error", "failed")[:40])
            cells.append(f"{both[0] / both[1]:.2f}x" if len(both) == 2 else "-")
        for name in ("before", "after"):
            cells.append(f"{min(g['peak_kib'] for g in ok[name]) / 1024:.0f}" if ok[name] else "-")
        for name in ("before", "after"):
            cells.append(f"{min(g['peak_kib'] - g['base_kib'] for g in ok[name]) * 1.024 / first['atoms']:.1f}"
                         if ok[name] else "-")
        for name in ("before", "after"):
            cells.append(f"{min(g['peak_kib'] for g in ok[name]) * 1.024 / first['atoms']:.1f}" if ok[name] else "-")
        print(f"| {first.get('atoms', n)} | {first.get('edges', '-')} | {first.get('density', float('nan')):.3f} | "
              + " | ".join(cells) + " |")
    print()
    small = min(args.sizes)
    for n in args.sizes:
        for name in ("before", "after"):
            if (name, f"net_{clock}", n) in per_atom and (name, f"net_{clock}", small) in per_atom and n != small:
                print(f"{name}: network ms/atom at {n} / at {small} = "
                      f"{per_atom[(name, f'net_{clock}', n)] / per_atom[(name, f'net_{clock}', small)]:.2f}; whole call "
                      f"{per_atom[(name, f'full_{clock}', n)] / per_atom[(name, f'full_{clock}', small)]:.2f} (1.0 = linear)")


if __name__ == "__main__":
    main()
