"""``e3density reference``: PySCF DFT densities fitted onto an auxiliary basis, into an ase.db."""
from __future__ import annotations

import argparse

from .common import progress, read_structures


def add_parser(sub) -> None:
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
    ref.add_argument("--grid-level", type=int, default=3, choices=range(10), metavar="{0..9}", help="PySCF DFT grid level")
    ref.add_argument("--conv-tol", type=_positive, default=1e-9, metavar="HARTREE",
                     help="SCF energy convergence threshold (default 1e-9)")
    ref.add_argument("--density-fit", action="store_true",
                     help="Coulomb and exchange in the SCF through PySCF's density fitting (its JK-fit basis)")
    ref.add_argument("--no-stability-check", action="store_true",
                     help="skip PySCF's stability analysis of closed-shell solutions (done when no spin is given)")
    ref.add_argument("--guess", choices=("minao", "atom", "huckel", "model"), default="minao",
                     help="SCF initial guess: PySCF's, or 'model' (one Kohn-Sham step from the predicted density; "
                     "without --density-fit a second step with the exact-exchange part, which pays there)")
    ref.add_argument("--model", default=None, help="model for --guess model (default: the shipped default)")
    ref.add_argument("--workers", type=_positive_int, default=1, metavar="N",
                     help="structures computed at once, one process each with cores/N threads; rows are still "
                     "committed in input order: the rows of a one-process run, in its order (default 1)")
    ref.set_defaults(func=run)


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text}")
    return value


def run(args: argparse.Namespace) -> int:
    from ase.db import connect

    from ..fileio import exclusive_writer

    aux = args.auxbasis + ("" if args.contracted or args.auxbasis.endswith("-decontracted") else "-decontracted")
    structures = list(read_structures(args.inputs, args.index))
    with exclusive_writer(args.output, "reference database"):
        # our own lock is the single-writer guarantee; ASE's lock file would outlive a kill -9 and block reruns forever
        return _compute(args, structures, aux, connect(args.output, use_lock_file=False))


def _compute(args, structures, aux: str, db) -> int:
    """Compute what the database lacks; ``db`` is used without `with`, so every row commits on its own."""
    from ..electron.database import existing_uids, structure_uid, write_density_row
    from .reference_workers import outcomes_in_order

    present, queued = existing_uids(db), set()
    total, todo, skipped, repeated, failed = len(structures), [], 0, 0, 0
    for n, (source, atoms) in enumerate(structures, 1):
        if args.charge is not None:
            atoms.info["charge"] = args.charge
        if args.spin is not None:
            atoms.info["spin"] = args.spin
        uid = structure_uid(atoms, args.xc.lower(), args.basis.lower(), aux.lower())
        if uid in present:
            skipped += 1
        elif uid in queued:  # a structure repeated in the input is computed once
            repeated += 1
        else:
            queued.add(uid)
            todo.append((n, source, uid, atoms))
    for (n, source, uid, atoms), out in outcomes_in_order(todo, args, aux, args.workers):
        label = f"[{n}/{total}] {source} {atoms.get_chemical_formula()}"
        if out.density is None:
            failed += 1
            progress(f"{label}: FAILED: {out.error}")
            continue
        write_density_row(db, out.density, uid, source=source, fit_eps=out.fit_eps, grid_level=args.grid_level,
                          conv_tol=args.conv_tol, density_fit=args.density_fit)
        progress(f"{label}: E={out.energy:.6f} eV fit eps={out.fit_eps:.3f}% {out.scf_cycles} SCF iterations "
                 f"({out.seconds:.1f} s)")
    again = f", {repeated} repeated in the input" if repeated else ""
    progress(f"done: {len(todo) - failed} computed, {skipped} already present{again}, {failed} failed -> {args.output}")
    return 1 if failed else 0
