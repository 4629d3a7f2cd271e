"""The ``e3density`` command line."""
from __future__ import annotations

import argparse
import sys
import time

__all__ = ["main"]


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _read_structures(inputs: list[str], index: str):
    from ase.io import read

    from ase import Atoms

    for path in inputs:
        frames = read(path, index=index)
        for i, atoms in enumerate([frames] if isinstance(frames, Atoms) else frames):
            yield f"{path}@{i}", atoms


def cmd_reference(args: argparse.Namespace) -> int:
    from ase.db import connect

    from .database import existing_uids, structure_uid, write_density_row
    from .reference import fit_density, fit_error_vs_dft, run_dft

    aux = args.auxbasis + ("" if args.contracted or args.auxbasis.endswith("-decontracted") else "-decontracted")
    structures = list(_read_structures(args.inputs, args.index))
    with connect(args.output) as db:
        done = existing_uids(db)
    total, skipped, failed = len(structures), 0, 0
    with connect(args.output) as db:
        for n, (source, atoms) in enumerate(structures, 1):
            if args.charge is not None:
                atoms.info["charge"] = args.charge
            if args.spin is not None:
                atoms.info["spin"] = args.spin
            uid = structure_uid(atoms, args.xc.lower(), args.basis.lower(), aux.lower())
            if uid in done:
                skipped += 1
                continue
            start = time.perf_counter()
            try:
                result = run_dft(atoms, xc=args.xc, basis=args.basis, grid_level=args.grid_level)
                density = fit_density(result, aux)
                eps = fit_error_vs_dft(density, result)
            except Exception as exc:  # one bad structure must not stop a screening run
                failed += 1
                _progress(f"[{n}/{total}] {source} {atoms.get_chemical_formula()}: FAILED: {exc}")
                continue
            write_density_row(db, density, uid, source=source, fit_eps=eps)
            done.add(uid)
            _progress(f"[{n}/{total}] {source} {atoms.get_chemical_formula()}: E={result.energy:.6f} eV "
                      f"fit eps={eps:.3f}% ({time.perf_counter() - start:.1f} s)")
    _progress(f"done: {total - skipped - failed} computed, {skipped} already present, {failed} failed -> {args.output}")
    return 1 if failed else 0


def cmd_deploy(args: argparse.Namespace) -> int:
    from .checkpoint import load_checkpoint, model_from_checkpoint
    from .deploy import deploy

    state = load_checkpoint(args.checkpoint)
    provenance = dict(state.get("provenance", {}), checkpoint=str(args.checkpoint))
    path = deploy(model_from_checkpoint(state), args.output, provenance=provenance)
    _progress(f"deployed {args.checkpoint} -> {path}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    import json

    from .deploy import read_metadata

    meta = read_metadata(args.model)
    if args.json:
        print(json.dumps(meta, indent=1))
        return 0
    cfg = meta.get("config", {})
    print(f"model:        {args.model}")
    print(f"kind:         {meta['model_kind']} (format {meta['format_version']}, {meta['dtype']})")
    print(f"species:      {' '.join(meta['species'])}")
    print(f"cutoff:       {meta['cutoff']} Å")
    print(f"basis:        {meta['basis']['name']}")
    for s in meta["species"]:
        print(f"  {s:3s}         {meta['irreps'][s]}")
    print(f"architecture: hidden {cfg.get('hidden')} ({cfg.get('parity')} parity), {cfg.get('n_layers')} layers, "
          f"sh l<={cfg.get('sh_lmax')}")
    print(f"versions:     " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()))
    for k, v in meta.get("provenance", {}).items():
        print(f"provenance:   {k}: {v}")
    print(f"checksum:     {meta['checksum']}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="e3density", description="e3nn densities on ASE Atoms")
    sub = parser.add_subparsers(dest="command", required=True)

    ref = sub.add_parser("reference", help="PySCF DFT densities fitted onto an auxiliary basis, into an ase.db")
    ref.add_argument("inputs", nargs="+", help="structure files ASE can read")
    ref.add_argument("-o", "--output", required=True, help="ase.db to append to (resumable)")
    ref.add_argument("--index", default=":", help="ASE index of the frames to take from each file (default: all)")
    ref.add_argument("--xc", default="PBE0")
    ref.add_argument("--basis", default="cc-pvdz")
    ref.add_argument("--auxbasis", default="def2-universal-jfit")
    ref.add_argument("--contracted", action="store_true", help="keep the auxiliary basis contracted")
    ref.add_argument("--charge", type=int, default=None, help="total charge (default: atoms.info['charge'] or 0)")
    ref.add_argument("--spin", type=int, default=None, help="2S (default: atoms.info['spin'] or lowest)")
    ref.add_argument("--grid-level", type=int, default=3, help="PySCF DFT grid level")
    ref.set_defaults(func=cmd_reference)

    dep = sub.add_parser("deploy", help="turn a training checkpoint into one TorchScript model file")
    dep.add_argument("checkpoint")
    dep.add_argument("-o", "--output", required=True)
    dep.set_defaults(func=cmd_deploy)

    info = sub.add_parser("info", help="print a deployed model's metadata")
    info.add_argument("model")
    info.add_argument("--json", action="store_true", help="all metadata as JSON")
    info.set_defaults(func=cmd_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    from .errors import E3DensityError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except E3DensityError as exc:
        print(f"e3density {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
