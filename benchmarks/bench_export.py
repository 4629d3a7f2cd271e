"""The three runtimes of a deployed file on the shipped default model: TorchScript (the default), eager
(rebuilt from this package's code and the file's plain weights) and torch.export (the exported program),
optionally also compiled ahead of time by AOTInductor.

Command: OMP_NUM_THREADS=1 python benchmarks/bench_export.py [--sizes 60 300] [--rounds 5] [--aoti]

The default file carries no torch.export program, so a copy with one is written first
(:func:`ase_e3density.models.upgrade.upgrade_model_file` with ``export=True``; the time is printed). Each
runtime is loaded with :func:`~ase_e3density.models.load_model` as a calculator loads it, so each runs its
own inference path: TorchScript and eager the dense path with edges in chunks of ``EDGE_CHUNK``, the
program all edges in one chunk. ``--aoti`` compiles the program with AOTInductor (a C++ compiler is needed;
the compile time is printed). Every variant is called on the same network inputs (60 atoms: the shipped
20-water example; more: a periodic water box), checked against TorchScript, and timed interleaved (CPU time,
``time.process_time``, 1 torch thread): min and median ms per network call, and the ratios
variant / TorchScript printed in the same run.
"""
from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from ase.io import read

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_model import water_box  # noqa: E402

from ase_e3density.graph import model_inputs  # noqa: E402
from ase_e3density.models import format as fmt  # noqa: E402
from ase_e3density.models import load_model, resolve_model_path  # noqa: E402
from ase_e3density.models.jit import plain_execution  # noqa: E402
from ase_e3density.models.upgrade import upgrade_model_file  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[1] / "ase_e3density" / "data" / "examples" / "water_20.xyz"
CALLS = {60: 20, 300: 5, 3000: 1}


def structure(n_atoms: int):
    if n_atoms <= 60:  # a cluster: the first waters of the shipped example
        return read(EXAMPLE)[:n_atoms]
    return water_box(n_atoms)


def timed(fn, inputs, calls: int) -> list[float]:
    out = []
    for _ in range(calls):
        start = time.process_time()
        fn(*inputs)
        out.append((time.process_time() - start) * 1e3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[60, 300])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--aoti", action="store_true", help="also compile the program with AOTInductor")
    args = parser.parse_args()
    torch.set_num_threads(1)
    path = resolve_model_path("default")
    start = time.perf_counter()
    with_program = Path(tempfile.mkdtemp()) / "default_export.pt"
    upgrade_model_file(path, with_program, export=True)
    print(f"torch.export of the default network: {time.perf_counter() - start:.1f} s, file "
          f"{path.stat().st_size / 1e6:.2f} -> {with_program.stat().st_size / 1e6:.2f} MB")
    loaded = {"torchscript": load_model(path), "eager": load_model(path, runtime="eager"),
              "export": load_model(with_program, runtime="export")}
    variants = {name: m.module for name, m in loaded.items()}
    if args.aoti:
        start = time.perf_counter()
        program = torch.export.load(io.BytesIO(fmt.read_program(with_program, fmt.read_metadata(with_program))))
        package = with_program.with_suffix(".aoti.pt2")
        torch._inductor.aoti_compile_and_package(program, package_path=str(package))
        variants["aoti"] = torch._inductor.aoti_load_package(str(package))
        print(f"AOTInductor compile: {time.perf_counter() - start:.1f} s, package {package.stat().st_size / 1e6:.1f} MB")
    deployed = loaded["torchscript"]
    inputs = {n: model_inputs(structure(n), deployed.species_index, deployed.cutoff, 0.0, deployed.dtype)
              for n in args.sizes}
    times = {(v, n): [] for v in variants for n in args.sizes}
    with torch.no_grad(), plain_execution():
        for n, x in inputs.items():
            reference = variants["torchscript"](*x)
            for name, fn in variants.items():
                worst = float((fn(*x) - reference).abs().max())
                print(f"{n} atoms, {name}: largest coefficient difference to TorchScript {worst:.1e}")
        for _ in range(args.rounds):
            for n, x in inputs.items():
                for name, fn in variants.items():
                    times[name, n] += timed(fn, x, CALLS.get(n, 1))
    print(f"\nCPU ms per network call, 1 torch thread, {args.rounds} interleaved rounds "
          f"(model {deployed.checksum[:8]}, {deployed.dtype})\n")
    others = [v for v in variants if v != "torchscript"]
    print("| atoms | " + " | ".join(f"{v} min / median" for v in variants) + " | " +
          " | ".join(f"{v} / torchscript (min, median)" for v in others) + " |")
    print("| --- " * (1 + len(variants) + len(others)) + "|")
    for n in args.sizes:
        ts = times["torchscript", n]
        cells = [f"{min(times[v, n]):.2f} / {statistics.median(times[v, n]):.2f}" for v in variants]
        ratios = [f"{min(times[v, n]) / min(ts):.2f}, {statistics.median(times[v, n]) / statistics.median(ts):.2f}"
                  for v in others]
        print(f"| {n} | " + " | ".join(cells + ratios) + " |")


if __name__ == "__main__":
    main()
