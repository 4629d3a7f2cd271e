"""TorchScript (the deployed form) against torch.export: the exported program run as is, and compiled
ahead of time by AOTInductor, on the shipped default model's weights.

Command: OMP_NUM_THREADS=1 python benchmarks/bench_export.py [--sizes 24 300 3000] [--rounds 5] [--no-aoti]

The network is rebuilt from the default file's config and weights (as ``scripts/rescript_model_file.py``
does), put on its dense inference path with all edges at once (``prepare_inference(0)``, and each layer's
chunk loop replaced by its one-chunk body: the loop's trip count depends on the edge count, which an
exported graph would freeze), exported once with
the atom and edge counts dynamic, and compiled once with AOTInductor (a C++ compiler is needed; the
compile time is printed). The TorchScript module is the shipped file itself, prepared as the runtime
prepares it (edges in chunks of ``EDGE_CHUNK``). Every variant is called on the same inputs, checked
against the TorchScript coefficients, and timed interleaved (CPU time, ``time.process_time``, 1 torch
thread): min and median per call, and the ratios TorchScript / variant printed in the same run.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import types
from pathlib import Path

import torch
from ase.io import read

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_model import water_box  # noqa: E402

from ase_e3density.graph import model_inputs  # noqa: E402
from ase_e3density.models import format as fmt  # noqa: E402
from ase_e3density.models import load_model, resolve_model_path  # noqa: E402
from ase_e3density.models.jit import plain_execution, quiet_jit  # noqa: E402
from ase_e3density.nn import DensityModel, ModelConfig  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[1] / "ase_e3density" / "data" / "examples" / "water_20.xyz"
CALLS = {24: 50, 300: 10, 3000: 2}


def structure(n_atoms: int):
    if n_atoms <= 60:  # a cluster: the first waters of the shipped example
        return read(EXAMPLE)[:n_atoms]
    return water_box(n_atoms)


def all_edges_at_once(layer, h, edge_sh, edge_radial, sender, receiver):
    """A layer's dense path with every edge in one chunk and no Python loop over edge counts, which an
    exported graph would freeze at the example's size; same operations as ``Interaction.forward_blocks``
    with one block and one chunk."""
    both = torch.addmm(layer.bias_in, h, layer.weight_in)
    x, skip = both[:, :layer.n_in], both[:, layer.n_in:]
    messages = layer._messages(x.index_select(0, sender), edge_sh, edge_radial)
    pooled = torch.zeros((h.shape[0], layer.n_mid), dtype=h.dtype, device=h.device).index_add_(0, receiver, messages)
    return layer._output(h, pooled, skip)


def eager_model(path: Path) -> DensityModel:
    meta = fmt.read_metadata(path)
    with quiet_jit():
        scripted = torch.jit.load(str(path), map_location="cpu")
    model = DensityModel(ModelConfig.from_dict(meta[fmt.CONFIG]), dtype=getattr(torch, meta[fmt.DTYPE]))
    model.load_state_dict(scripted.state_dict())
    model.eval()
    model.prepare_inference(0)
    for layer in model.layers:
        layer.forward = types.MethodType(all_edges_at_once, layer)
    return model


def timed(fn, inputs, calls: int) -> list[float]:
    out = []
    for _ in range(calls):
        start = time.process_time()
        fn(*inputs)
        out.append((time.process_time() - start) * 1e3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[24, 300, 3000])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-aoti", action="store_true", help="skip the AOTInductor compile")
    args = parser.parse_args()
    torch.set_num_threads(1)
    path = resolve_model_path("default")
    deployed = load_model(path)
    meta = deployed.metadata
    inputs = {n: model_inputs(structure(n), deployed.species_index, deployed.cutoff, 0.0, deployed.dtype)
              for n in args.sizes}
    model = eager_model(path)

    atoms_dim, edges_dim = torch.export.Dim("atoms", min=2), torch.export.Dim("edges", min=2)
    dynamic = ({0: atoms_dim}, {0: atoms_dim}, {1: edges_dim}, {0: edges_dim}, None, {0: atoms_dim})
    example = inputs[args.sizes[-1]]
    with torch.no_grad():
        start = time.perf_counter()
        program = torch.export.export(model, example, dynamic_shapes=dynamic)
        print(f"torch.export: {time.perf_counter() - start:.1f} s")
        variants = {"torchscript": deployed.module, "exported": program.module()}
        if not args.no_aoti:
            start = time.perf_counter()
            package = Path(tempfile.mkdtemp()) / "default.pt2"
            torch._inductor.aoti_compile_and_package(program, package_path=str(package))
            variants["aoti"] = torch._inductor.aoti_load_package(str(package))
            print(f"AOTInductor compile: {time.perf_counter() - start:.1f} s, package {package.stat().st_size / 1e6:.1f} MB")

        times = {(v, n): [] for v in variants for n in args.sizes}
        with plain_execution():
            for n, x in inputs.items():
                reference = deployed.module(*x)
                for name, fn in variants.items():
                    worst = float((fn(*x) - reference).abs().max())
                    print(f"{n} atoms, {name}: largest coefficient difference to TorchScript {worst:.1e}")
            for _ in range(args.rounds):
                for n, x in inputs.items():
                    for name, fn in variants.items():
                        times[name, n] += timed(fn, x, CALLS.get(n, 1))
    print(f"\nCPU ms per network call, 1 torch thread, {args.rounds} interleaved rounds "
          f"(model {meta[fmt.CHECKSUM][:8]}, {deployed.dtype})\n")
    print("| atoms | " + " | ".join(f"{v} min / median" for v in variants) + " | " +
          " | ".join(f"torchscript / {v} (min, median)" for v in variants if v != "torchscript") + " |")
    print("| --- " * (2 * len(variants)) + "|")
    for n in args.sizes:
        ts = times["torchscript", n]
        cells = [f"{min(times[v, n]):.2f} / {statistics.median(times[v, n]):.2f}" for v in variants]
        ratios = [f"{min(ts) / min(times[v, n]):.2f}, {statistics.median(ts) / statistics.median(times[v, n]):.2f}"
                  for v in variants if v != "torchscript"]
        print(f"| {n} | " + " | ".join(cells + ratios) + " |")


if __name__ == "__main__":
    main()
