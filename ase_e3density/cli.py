"""The ``e3density`` command line."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

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


def example_path(name: str) -> Path:
    """A structure shipped in ase_e3density/data/examples/."""
    from importlib import resources

    return Path(str(resources.files("ase_e3density") / "data" / "examples" / name))


def cmd_predict(args: argparse.Namespace) -> int:
    import numpy as np
    from ase.io import read

    from .calculator import E3DensityCalculator

    path = args.structure or str(example_path("water_20.xyz"))
    atoms = read(path, index=args.index)
    if args.charge is not None:
        atoms.info["charge"] = args.charge
    start = time.perf_counter()
    atoms.calc = E3DensityCalculator(args.model, device=args.device)
    charges, dipole = atoms.get_charges(), atoms.get_dipole_moment()
    quadrupole = atoms.calc.get_quadrupole(atoms)
    seconds = time.perf_counter() - start
    model = atoms.calc.model
    np.set_printoptions(precision=4, suppress=True)
    print(f"structure:   {path} ({atoms.get_chemical_formula()}, {len(atoms)} atoms, charge {atoms.calc.get_atomic_density(atoms).total_charge:+.0f})")
    print(f"model:       {args.model or 'embedded default'} ({model.basis.name}, trained on "
          f"{model.metadata.get('provenance', {}).get('train', 'unknown data')})")
    print(f"electrons:   {atoms.calc.get_property('n_electrons', atoms):.6f}")
    print("charges (e):")
    for i, (s, q) in enumerate(zip(atoms.get_chemical_symbols(), charges)):
        print(f"  {i:4d} {s:2s} {q:+.4f}")
    print(f"dipole (e·Å, about the centre of mass): {dipole}  |mu| = {np.linalg.norm(dipole):.4f} e·Å "
          f"= {np.linalg.norm(dipole) / 0.20819434:.3f} D")
    print("quadrupole (e·Å², traceless, Buckingham, about the centre of mass):")
    print(quadrupole)
    print(f"prediction took {seconds:.2f} s (model load included)")
    if args.cube:
        t = time.perf_counter()
        grid = atoms.calc.get_atomic_density(atoms).write_cube(args.cube, spacing=args.spacing)
        print(f"cube file:   {args.cube} ({grid.shape[0]}x{grid.shape[1]}x{grid.shape[2]} points, "
              f"{args.spacing} Å spacing, e/bohr³; {time.perf_counter() - t:.1f} s)")
    return 0


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


def cmd_train(args: argparse.Namespace) -> int:
    from .train import TrainConfig, train

    config = TrainConfig.from_yaml(args.config)
    if args.output:
        config.output = args.output
    if args.epochs is not None:
        config.epochs = args.epochs
    import os

    path = train(config, resume=not args.restart)
    if os.environ.get("RANK", "0") == "0":
        _progress(f"model: {path}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    import json

    from .calculator import E3DensityCalculator
    from .database import iter_densities
    from .evaluation import ReferenceOnGrid, compare, summarise

    calc = E3DensityCalculator(args.model)
    rows = []
    refs = list(iter_densities(args.reference))
    print("| # | formula | eps_rho (%) | eps l=0 | eps l=1 | eps l=2 | dipole err vs fit (e·Å) | vs DFT (e·Å) | |mu_DFT| | charge MAE (e) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for k, ref in enumerate(refs, 1):
        atoms = ref.atoms.copy()
        atoms.info["charge"] = ref.total_charge
        predicted = calc.get_atomic_density(atoms)
        row = compare(predicted, ReferenceOnGrid.build(ref, args.grid_level))
        rows.append(row)
        print(f"| {k} | {atoms.get_chemical_formula()} | {row['eps']:.3f} | {row.get('eps_l0', 0):.3f} | "
              f"{row.get('eps_l1', 0):.3f} | {row.get('eps_l2', 0):.3f} | {row['dipole_error']:.4f} | "
              f"{row.get('dipole_error_dft', float('nan')):.4f} | {row.get('dipole_dft_norm', float('nan')):.3f} | "
              f"{row['charge_mae']:.4f} |", flush=True)
    summary = summarise(rows)
    print(f"\nmean over {len(rows)} structures: eps_rho {summary['eps']:.3f} %, dipole error {summary['dipole_error']:.4f} e·Å "
          f"vs fit, {summary.get('dipole_error_dft', float('nan')):.4f} e·Å vs DFT "
          f"({summary.get('dipole_error_dft_percent', float('nan')):.1f} % of |mu_DFT|), charge MAE {summary['charge_mae']:.4f} e")
    print(f"command: e3density evaluate {args.model} {args.reference} --grid-level {args.grid_level}")
    if args.json:
        Path(args.json).write_text(json.dumps({"structures": rows, "summary": summary}, indent=1))
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

    pr = sub.add_parser("predict", help="charges, dipole, quadrupole (and a cube file) of a structure")
    pr.add_argument("structure", nargs="?", help="any file ASE reads (default: the shipped 20-water cluster)")
    pr.add_argument("--model", help="deployed model file (default: the embedded model)")
    pr.add_argument("--index", default="-1", help="frame of the file (ASE index, default: last)")
    pr.add_argument("--charge", type=float, help="total charge (default: atoms.info['charge'] or 0)")
    pr.add_argument("--cube", help="also write the density to this cube file")
    pr.add_argument("--spacing", type=float, default=0.2, help="cube grid spacing in Å")
    pr.add_argument("--device", default="cpu")
    pr.set_defaults(func=cmd_predict)

    dep = sub.add_parser("deploy", help="turn a training checkpoint into one TorchScript model file")
    dep.add_argument("checkpoint")
    dep.add_argument("-o", "--output", required=True)
    dep.set_defaults(func=cmd_deploy)

    tr = sub.add_parser("train", help="train a density model from a YAML configuration (resumes by default)")
    tr.add_argument("config")
    tr.add_argument("--restart", action="store_true", help="ignore an existing checkpoint and start over")
    tr.add_argument("--output", help="run directory (overrides the configuration)")
    tr.add_argument("--epochs", type=int, help="number of epochs (overrides the configuration)")
    tr.set_defaults(func=cmd_train)

    ev = sub.add_parser("evaluate", help="accuracy of a model on a reference database")
    ev.add_argument("model")
    ev.add_argument("reference", help="ase.db written by `e3density reference`")
    ev.add_argument("--grid-level", type=int, default=2, help="quadrature level for eps_rho (1-5)")
    ev.add_argument("--json", help="also write per-structure and summary numbers here")
    ev.set_defaults(func=cmd_evaluate)

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
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stdout = None
        return 0


if __name__ == "__main__":
    sys.exit(main())
