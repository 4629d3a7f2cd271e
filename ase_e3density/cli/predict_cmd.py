"""``e3density predict``: charges, dipole, quadrupole (and density or ESP cube files) of a structure or trajectory."""
from __future__ import annotations

import argparse
import sys
import time

from ..errors import E3DensityError
from .common import check_output_files, example_path, read_structures, shipped_names

CUBE_SPACING, ESP_CUBE_SPACING = 0.1, 0.2
"""Å: the physics layer's ``CUBE_SPACING`` and ``ESP_CUBE_SPACING``, for the help text only (the parser does
not import the physics layer; a test keeps them equal); the command itself uses the physics layer's."""


def add_parser(sub) -> None:
    pr = sub.add_parser("predict", help="charges, dipole, quadrupole (and a cube file) of structures")
    pr.add_argument("structure", nargs="?", help="any file ASE reads (default: the shipped 20-water cluster)")
    pr.add_argument("--model", help=f"shipped model name ({shipped_names()}) or deployed model file; a phonon model "
                    "prints thermal properties (default: default, the embedded water model)")
    pr.add_argument("--index", help="frames of the file (ASE index: -1 last, ':' all, '0:10:2'; default: -1, the last, "
                    "with a note on stderr when the file holds more)")
    pr.add_argument("--charge", type=float, help="total charge (default: atoms.info['charge'] or 0)")
    pr.add_argument("-o", "--output", help="write every frame with its results to this extxyz file (density models: charges, dipole, "
                    "quadrupole; phonon models: Cv, S, F per temperature; default: not written)")
    pr.add_argument("--cube", help="also write the density to this cube file (one frame only; default: not written)")
    pr.add_argument("--esp-cube", help="also write the electrostatic potential (Hartree/e) to this cube file "
                    "(one frame only; default: not written)")
    pr.add_argument("--esp-charges", action="store_true",
                    help="also print ESP charges (Merz-Kollman fit to the predicted potential; one frame only)")
    pr.add_argument("--hirshfeld-charges", action="store_true",
                    help="also print Hirshfeld charges (the predicted density shared out by free atoms; finite "
                         "structures, H-Ar; one frame only)")
    pr.add_argument("--spacing", type=float, metavar="ANGSTROM",
                    help=f"grid spacing of the cube files, Å (default: {CUBE_SPACING} for --cube, {ESP_CUBE_SPACING} "
                         "for --esp-cube, as AtomicDensity.write_cube and write_esp_cube)")
    pr.add_argument("--device", default="cpu", help="where the network runs: cpu, cuda or cuda:N (default: %(default)s)")
    pr.add_argument("--temperatures", default=None,
                    help="phonon models: temperatures of the thermal properties, K (default: 100,300,500)")
    pr.add_argument("--dos", help="phonon models: write the predicted DOS here (THz, states/(THz atom); one frame; default: not "
                    "written)")
    pr.set_defaults(func=run, spacing=None)  # None: not given (each cube kind's default)


def run(args: argparse.Namespace) -> int:
    from ..calculator import E3DensityCalculator
    from ..kinds import get_kind

    check_output_files(args, "e3density predict", output="extxyz", cube="cube", esp_cube="cube", dos="dos")
    path = args.structure or str(example_path("water_20.xyz"))
    default_index = args.index is None
    args.index = "-1" if default_index else args.index
    frames = [atoms for _, atoms in read_structures([path], args.index)]
    if default_index:
        note_unread_frames(path)
    start = time.perf_counter()
    calc = E3DensityCalculator(args.model, device=args.device)  # the calculator of the file's kind
    return get_kind(calc.kind).load("predict")(args, path, frames, calc, start)


def note_unread_frames(path: str) -> None:
    """Say on stderr when a file read at the default index (its last frame) holds more than one frame (reading
    at most two frames: ASE iterates lazily, so a long trajectory costs no second full parse)."""
    from itertools import islice

    from ase.io import iread

    try:
        more = sum(1 for _ in islice(iread(path, index=":"), 2)) > 1
    except Exception:  # the last frame was read; a file ASE cannot iterate is taken as that one frame
        return
    if more:
        print(f"e3density predict: {path} holds more than one frame; predicting the last (--index : predicts "
              f"all, --index 0 the first)", file=sys.stderr)


def refuse_options(args: argparse.Namespace, names: tuple[str, ...], kind_title: str) -> None:
    """Refuse, in one line, options given that belong to another model kind than ``kind_title``."""
    given = [f"--{n.replace('_', '-')}" for n in names if getattr(args, n, None) not in (None, False)]
    if given:
        raise E3DensityError(f"{' and '.join(given)} {'is' if len(given) == 1 else 'are'} not for models of "
                             f"{kind_title}; this model predicts {kind_title}")
