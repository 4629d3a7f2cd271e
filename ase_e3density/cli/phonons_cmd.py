"""``e3density phonons``: reference phonon DOS and thermal properties from an ASE calculator, into an ase.db."""
from __future__ import annotations

import argparse
import warnings

from ..errors import E3DensityError
from .common import progress, read_structures


def add_parser(sub) -> None:
    ph = sub.add_parser("phonons", help="reference phonon DOS and thermal properties (relax, phonopy finite "
                        "displacements, mesh) from an ASE calculator, into an ase.db")
    ph.add_argument("inputs", nargs="+", help="crystal structure files ASE can read (3D periodic, with a cell); scalar "
                    "atoms.info entries (e.g. extxyz comment keys) become key-value pairs of the row")
    ph.add_argument("-o", "--output", required=True, help="ase.db to append to (resumable)")
    ph.add_argument("--calculator", required=True,
                    help="emt, chgnet, sevennet, or module:Class (an ASE calculator made with no arguments)")
    ph.add_argument("--index", default=":", help="ASE index of the frames to take from each file (default: all)")
    ph.add_argument("--relax", choices=("full", "positions", "none"), default="full",
                    help="relax positions and cell (FrechetCellFilter), positions only, or nothing (default: full)")
    ph.add_argument("--fmax", type=float, default=1e-3, help="relaxation force threshold, eV/Å (default: 0.001)")
    ph.add_argument("--relax-steps", type=int, default=500, help="most optimiser steps (default: 500)")
    ph.add_argument("--optimizer", choices=("BFGS", "FIRE"), default="BFGS")
    ph.add_argument("--min-width", type=float, default=10.0,
                    help="every width of the supercell (distance between opposite faces) at least this, Å "
                         "(default: 10)")
    ph.add_argument("--displacement", type=float, default=0.01, help="finite displacement, Å (default: 0.01)")
    ph.add_argument("--mesh", default="50",
                    help="q-point mesh: phonopy's length in Å, or three numbers 'n1 n2 n3' (default: 50)")
    ph.add_argument("--temperatures", default="100,300,500,1000",
                    help="comma-separated temperatures (K) of the thermal columns (default: 100,300,500,1000)")
    ph.add_argument("--pitch", type=float, default=0.05, help="frequency step of the stored DOS, THz (default: 0.05)")
    ph.set_defaults(func=run)


def _settings(args: argparse.Namespace):
    from ..phonon.reference import PhononSettings

    try:
        numbers = [float(v) for v in args.mesh.replace(",", " ").split()]
        temperatures = tuple(float(v) for v in args.temperatures.split(",") if v.strip())
    except ValueError as exc:
        raise E3DensityError(f"--mesh and --temperatures take numbers ({exc})") from None
    if len(numbers) == 1 and numbers[0] > 0:
        mesh = numbers[0]
    elif len(numbers) == 3 and all(n >= 1 and n == int(n) for n in numbers):
        mesh = tuple(int(n) for n in numbers)
    else:
        raise E3DensityError(f"--mesh takes a length in Å or three positive integers, got {args.mesh!r}")
    if not temperatures or any(not (t >= 0 and t < 1e5) for t in temperatures):
        raise E3DensityError(f"--temperatures takes temperatures in K >= 0, got {args.temperatures!r}")
    for name, value in (("--fmax", args.fmax), ("--displacement", args.displacement), ("--pitch", args.pitch)):
        if not value > 0:
            raise E3DensityError(f"{name} must be > 0, got {value}")
    if not args.min_width >= 0 or args.relax_steps < 1:
        raise E3DensityError("--min-width must be >= 0 and --relax-steps >= 1")
    return PhononSettings(calculator=args.calculator, relax=args.relax, fmax=args.fmax, relax_steps=args.relax_steps,
                          optimizer=args.optimizer, min_width=args.min_width, displacement=args.displacement,
                          mesh=mesh, temperatures=temperatures, pitch=args.pitch)


def run(args: argparse.Namespace) -> int:
    from ase.db import connect

    from ..fileio import exclusive_writer
    from ..phonon.phonopy_io import require_phonopy
    from ..phonon.reference import check_crystal, get_calculator

    require_phonopy()
    settings = _settings(args)
    structures = list(read_structures(args.inputs, args.index))
    for source, atoms in structures:  # refuse bad input before any work
        check_crystal(atoms, source)
    calculator = get_calculator(args.calculator)
    with exclusive_writer(args.output, "phonon database"):
        # our own lock is the single-writer guarantee; ASE's lock file would outlive a kill -9 and block reruns
        return _compute(args, structures, settings, calculator, connect(args.output, use_lock_file=False))


def _versions(calculator_name: str) -> dict:
    from importlib.metadata import version

    from .._version import __version__
    from ..phonon.reference import calculator_version

    return {"e3density_version": __version__, "phonopy_version": version("phonopy"), "ase_version": version("ase"),
            "calculator_version": calculator_version(calculator_name)}


def _compute(args, structures, settings, calculator, db) -> int:
    """Compute what the database lacks; every row commits on its own (``db`` is used without `with`)."""
    from ..electron.database import existing_uids, structure_uid
    from ..errors import ImaginaryModesWarning
    from ..phonon.database import write_phonon_row
    from ..phonon.reference import reference_phonons

    done = existing_uids(db)
    labels = ("phonons", *settings.labels())
    versions = _versions(settings.calculator)
    total, skipped, failed, unstable = len(structures), 0, 0, 0
    t300 = 300.0 if 300.0 in settings.temperatures else settings.temperatures[0]
    for n, (source, atoms) in enumerate(structures, 1):
        uid = structure_uid(atoms, *labels)
        if uid in done:
            skipped += 1
            continue
        formula = atoms.get_chemical_formula()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ImaginaryModesWarning)  # reported on this command's own line
                result = reference_phonons(atoms, calculator, settings)
                dos = result.dos
                cv, s, f = dos.heat_capacity(t300), dos.entropy(t300), dos.free_energy(t300)
        except Exception as exc:  # one bad structure must not stop a long run
            failed += 1
            progress(f"[{n}/{total}] {source} {formula}: FAILED: {type(exc).__name__}: {exc}")
            continue
        write_phonon_row(db, result, uid, source, settings.as_dict(), versions, info=atoms.info)
        done.add(uid)
        line = (f"[{n}/{total}] {source} {formula}: Cv({t300:g} K)={cv:.3f} J/(K mol-atoms) S={s:.3f} J/(K mol-atoms) "
                f"F={f:.3f} kJ/mol-atoms; supercell {result.n_supercell_atoms} atoms, {result.n_displacements} "
                f"displacements, max {dos.max_frequency:.2f} THz ({result.seconds:.1f} s)")
        progress(line)
        if dos.imaginary_fraction > 0:
            unstable += 1
            progress(f"[{n}/{total}] {source} {formula}: WARNING: {dos.n_imaginary_modes} imaginary modes on the mesh "
                     f"({dos.imaginary_fraction:.2%} of all modes, lowest {dos.min_frequency:.3f} THz): left out of "
                     "the thermal properties; the structure is dynamically unstable with this calculator")
    progress(f"done: {total - skipped - failed} computed ({unstable} with imaginary modes), {skipped} already "
             f"present, {failed} failed -> {args.output}")
    return 1 if failed else 0
