"""``e3density phonons``: reference phonon DOS and thermal properties from an ASE calculator, into an ase.db."""
from __future__ import annotations

import argparse

from ..errors import E3DensityError
from .common import add_engine_options, parse_temperatures, progress, read_structures


def add_parser(sub) -> None:
    ph = sub.add_parser("phonons", help="reference phonon DOS and thermal properties (relax, phonopy finite "
                        "displacements, mesh) from an ASE calculator, into an ase.db")
    ph.add_argument("inputs", nargs="+", help="crystal structure files ASE can read (3D periodic, with a cell); scalar "
                    "atoms.info entries (e.g. extxyz comment keys) become key-value pairs of the row")
    ph.add_argument("-o", "--output", required=True, help="ase.db to append to (resumable)")
    ph.add_argument("--calculator", required=True,
                    help="emt, chgnet, sevennet (= sevennet-0), sevennet-l3i5, or module:Class (an ASE calculator made "
                    "with no arguments)")
    ph.add_argument("--index", default=":", help="ASE index of the frames to take from each file (default: '%(default)s', all)")
    ph.add_argument("--relax", choices=("full", "positions", "none"), default="full",
                    help="relax positions and cell (FrechetCellFilter), positions only, or nothing (default: %(default)s)")
    ph.add_argument("--fmax", type=float, default=1e-3, help="relaxation force threshold, eV/Å (default: %(default)s)")
    ph.add_argument("--relax-steps", type=int, default=500, help="most optimiser steps (default: %(default)s)")
    ph.add_argument("--optimizer", choices=("BFGS", "FIRE"), default="BFGS",
                    help="ASE optimiser of the relaxation (default: %(default)s)")
    ph.add_argument("--min-width", type=float, default=10.0,
                    help="every width of the supercell (distance between opposite faces) at least this, Å "
                         "(default: %(default)s)")
    ph.add_argument("--displacement", type=float, default=0.01, help="finite displacement, Å (default: %(default)s)")
    ph.add_argument("--mesh", default="50",
                    help="q-point mesh: phonopy's length in Å, or three numbers 'n1 n2 n3' (default: %(default)s)")
    ph.add_argument("--temperatures", default="100,300,500,1000",
                    help="comma-separated temperatures (K) of the thermal columns (default: %(default)s)")
    ph.add_argument("--pitch", type=float, default=0.05, help="frequency step of the stored DOS, THz (default: %(default)s)")
    add_engine_options(ph)
    ph.set_defaults(func=run)


def _settings(args: argparse.Namespace):
    from ..generate import PhononSettings

    temperatures = parse_temperatures(args.temperatures)
    try:
        numbers = [float(v) for v in args.mesh.replace(",", " ").split()]
    except ValueError:
        numbers = []
    if len(numbers) == 1 and numbers[0] > 0:
        mesh = numbers[0]
    elif len(numbers) == 3 and all(n >= 1 and n == int(n) for n in numbers):
        mesh = tuple(int(n) for n in numbers)
    else:
        raise E3DensityError(f"--mesh takes a length in Å or three positive integers, got {args.mesh!r}")
    for name, value in (("--fmax", args.fmax), ("--displacement", args.displacement), ("--pitch", args.pitch)):
        if not value > 0:
            raise E3DensityError(f"{name} must be > 0, got {value}")
    if not args.min_width >= 0 or args.relax_steps < 1:
        raise E3DensityError("--min-width must be >= 0 and --relax-steps >= 1")
    return PhononSettings(calculator=args.calculator, relax=args.relax, fmax=args.fmax, relax_steps=args.relax_steps,
                          optimizer=args.optimizer, min_width=args.min_width, displacement=args.displacement,
                          mesh=mesh, temperatures=temperatures, pitch=args.pitch)


def run(args: argparse.Namespace) -> int:
    from ..generate import phonons

    summary = phonons(read_structures(args.inputs, args.index), args.output, _settings(args), workers=args.workers,
                      scheduler=args.scheduler, threads_per_worker=args.threads_per_worker,
                      retry_failed=args.retry_failed, report=progress)
    return 1 if summary.failed else 0
