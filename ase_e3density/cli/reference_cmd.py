"""``e3density reference``: PySCF DFT densities fitted onto an auxiliary basis, into an ase.db."""
from __future__ import annotations

import argparse

from .common import add_engine_options, progress, read_structures


def add_parser(sub) -> None:
    ref = sub.add_parser("reference", help="PySCF DFT densities fitted onto an auxiliary basis, into an ase.db",
                         description="Resumable: rows are committed one by one, in input order; a rerun skips the "
                                     "structures already in OUTPUT and those whose failure row is in its sidecar "
                                     "OUTPUT-stem.failed.db (unless --retry-failed).")
    ref.add_argument("inputs", nargs="+", help="structure files ASE can read")
    ref.add_argument("-o", "--output", required=True, help="ase.db to append to (resumable)")
    ref.add_argument("--index", default=":", help="ASE index of the frames to take from each file (default: '%(default)s', all)")
    ref.add_argument("--xc", default="PBE0", help="exchange-correlation functional, a PySCF name (default: %(default)s)")
    ref.add_argument("--basis", default="cc-pvdz", help="orbital basis of the DFT run, a PySCF name (default: %(default)s)")
    ref.add_argument("--auxbasis", default="def2-universal-jfit",
                     help="auxiliary basis the density is fitted onto; a model trained on the data predicts in it "
                          "(default: %(default)s)")
    ref.add_argument("--contracted", action="store_true", help="keep the auxiliary basis contracted (default: decontracted)")
    ref.add_argument("--charge", type=int, default=None, help="total charge (default: atoms.info['charge'] or 0)")
    ref.add_argument("--spin", type=int, default=None, help="2S (default: atoms.info['spin'] or lowest)")
    ref.add_argument("--grid-level", type=int, default=3, choices=range(10), metavar="{0..9}",
                     help="PySCF DFT grid level (default: %(default)s)")
    ref.add_argument("--conv-tol", type=_positive, default=1e-9, metavar="HARTREE",
                     help="SCF energy convergence threshold (default: %(default)s)")
    ref.add_argument("--density-fit", action="store_true",
                     help="Coulomb and exchange in the SCF through PySCF's density fitting (its JK-fit basis; default: "
                          "exact integrals)")
    ref.add_argument("--no-stability-check", action="store_true",
                     help="skip PySCF's stability analysis of closed-shell solutions (done when no spin is given)")
    ref.add_argument("--guess", choices=("minao", "atom", "huckel", "model"), default="minao",
                     help="SCF initial guess: PySCF's, or 'model' (one Kohn-Sham step from the predicted density; "
                     "without --density-fit a second step with the exact-exchange part, which pays there; default: %(default)s)")
    ref.add_argument("--model", default=None, help="model for --guess model (default: the shipped model 'default')")
    add_engine_options(ref)
    ref.set_defaults(func=run)


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def run(args: argparse.Namespace) -> int:
    from ..generate import ReferenceSettings, references

    settings = ReferenceSettings(xc=args.xc, basis=args.basis, auxbasis=args.auxbasis, contracted=args.contracted,
                                 charge=args.charge, spin=args.spin, grid_level=args.grid_level,
                                 conv_tol=args.conv_tol, density_fit=args.density_fit,
                                 stability_check=not args.no_stability_check, guess=args.guess, model=args.model)
    summary = references(read_structures(args.inputs, args.index), args.output, settings, workers=args.workers,
                         scheduler=args.scheduler, threads_per_worker=args.threads_per_worker,
                         retry_failed=args.retry_failed, report=progress)
    return 1 if summary.failed else 0
