"""``e3density predict``: charges, dipole, quadrupole (and a cube file) of a structure."""
from __future__ import annotations

import argparse
import time

from .common import example_path, format_vector, read_structures


def add_parser(sub) -> None:
    pr = sub.add_parser("predict", help="charges, dipole, quadrupole (and a cube file) of a structure")
    pr.add_argument("structure", nargs="?", help="any file ASE reads (default: the shipped 20-water cluster)")
    pr.add_argument("--model", help="shipped model name or deployed model file (default: the embedded model)")
    pr.add_argument("--index", default="-1", help="frame of the file (ASE index, default: last)")
    pr.add_argument("--charge", type=float, help="total charge (default: atoms.info['charge'] or 0)")
    pr.add_argument("--cube", help="also write the density to this cube file")
    pr.add_argument("--spacing", type=float, default=0.2, help="cube grid spacing in Å")
    pr.add_argument("--device", default="cpu")
    pr.set_defaults(func=run)


def _charge_text(value: float) -> str:
    value = 0.0 if abs(value) < 5e-7 else value
    return f"{value:+g}" if value else "0"


def run(args: argparse.Namespace) -> int:
    import numpy as np
    from ase.units import Debye

    from ..calculator import E3DensityCalculator

    path = args.structure or str(example_path("water_20.xyz"))
    (source, atoms), = list(read_structures([path], args.index))[-1:]
    if args.charge is not None:
        atoms.info["charge"] = args.charge
    start = time.perf_counter()
    atoms.calc = E3DensityCalculator(args.model, device=args.device)
    charges, dipole = atoms.get_charges(), atoms.get_dipole_moment()
    quadrupole = atoms.calc.get_quadrupole(atoms)
    seconds = time.perf_counter() - start
    density = atoms.calc.get_atomic_density(atoms)
    model = atoms.calc.model
    trained_on = model.metadata.get("provenance", {}).get("train", "unrecorded data")
    print(f"structure:   {path} ({atoms.get_chemical_formula()}, {len(atoms)} atoms, "
          f"charge {_charge_text(density.total_charge)})")
    print(f"model:       {args.model or 'default (embedded)'} ({model.basis.name}; trained on {trained_on}; "
          f"checksum {model.checksum[:12]})")
    print(f"electrons:   {density.n_electrons:.6f}")
    print("charges (e):")
    for i, (s, q) in enumerate(zip(atoms.get_chemical_symbols(), charges)):
        print(f"  {i:4d} {s:2s} {q:+.4f}")
    norm = float(np.linalg.norm(dipole))
    print(f"dipole (e·Å, about the centre of mass): {format_vector(dipole)}  |mu| = {norm:.4f} e·Å "
          f"= {norm / Debye:.3f} D")
    print("quadrupole (e·Å², traceless, Buckingham, about the centre of mass):")
    print(format_vector(quadrupole))
    print(f"prediction took {seconds:.2f} s (model load included)")
    if args.cube:
        t = time.perf_counter()
        grid = density.write_cube(args.cube, spacing=args.spacing)
        print(f"cube file:   {args.cube} ({grid.shape[0]}x{grid.shape[1]}x{grid.shape[2]} points, "
              f"{args.spacing} Å spacing, e/bohr³; {time.perf_counter() - t:.1f} s)")
    return 0
