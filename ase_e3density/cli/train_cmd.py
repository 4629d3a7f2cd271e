"""``e3density train`` and ``e3density evaluate``: train a model, and measure one on reference data."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .common import check_output_files, progress, require_file


def add_parser(sub) -> None:
    tr = sub.add_parser("train", help="train a model from a YAML configuration (electron density, or `kind: phonon_dos`; resumes by default)")
    tr.add_argument("config", help="training configuration, YAML (e.g. configs/tiny_example.yaml)")
    tr.add_argument("--restart", action="store_true", help="ignore an existing checkpoint and start over (default: resume from it)")
    tr.add_argument("--output", help="run directory (default: the configuration's output)")
    tr.add_argument("--epochs", type=int, help="number of epochs (default: the configuration's epochs)")
    tr.set_defaults(func=run_train)

    ev = sub.add_parser("evaluate", help="accuracy of a model on a reference database")
    ev.add_argument("model", help="shipped model name or deployed model file")
    ev.add_argument("reference", nargs="+", help="ase.db written by `e3density reference` (several: pooled into one "
                                                 "table and one summary)")
    ev.add_argument("--grid-level", type=int, choices=range(1, 6), metavar="{1..5}",
                    help="electron-density models: quadrature level for eps_rho (default: 2)")
    ev.add_argument("--mu-monomer", type=float, metavar="E_ANGSTROM",
                    help="scale of the dipole error, sqrt(n_molecules) x this (e·Å); default: the RMS of the "
                         "reference's Hirshfeld molecular dipoles in each structure")
    ev.add_argument("--json", help="also write per-structure and summary numbers to this JSON file (default: not written)")
    ev.add_argument("--split", choices=("train", "validation", "test", "held_out"),
                    help="phonon models: only the rows of this split of the model's training run (default: all rows)")
    ev.add_argument("--select", help="phonon models: an ase.db selection of the rows (default: all rows)")
    ev.add_argument("--no-progress", action="store_true",
                    help="no progress lines on stderr (default: what it is doing, structure by structure; the "
                         "results go to stdout either way)")
    ev.add_argument("--temperatures", help="phonon models: comma-separated temperatures of the Cv errors, K (default: 100,300)")
    ev.set_defaults(func=run_evaluate, grid_level=None)  # None: not given (each kind's default)


def run_train(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from ..errors import ConfigError, ModelFileError
    from ..kinds import DEFAULT_KIND, get_kind
    from ..train.options import read_yaml_mapping

    try:
        kind = get_kind(read_yaml_mapping(Path(args.config), "training configuration").get("kind", DEFAULT_KIND))
    except ModelFileError as exc:
        raise ConfigError(f"{args.config}: option kind: {exc}") from None
    config, train = kind.load("train_config").from_yaml(args.config), kind.load("trainer")
    if args.output:
        config = replace(config, output=str(Path(args.output).resolve()))
    if args.epochs is not None:
        config = replace(config, epochs=args.epochs)
    command = " ".join(["e3density", *sys.argv[1:]]) if Path(sys.argv[0]).name == "e3density" else None
    path = train(config, resume=not args.restart, command=command or f"e3density train {args.config}")
    if os.environ.get("RANK", "0") == "0":
        progress(f"model: {path}")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from ..kinds import get_kind
    from ..train.evaluate import model_kind

    for path in args.reference:
        require_file(path, "reference database")
    check_output_files(args, "e3density evaluate", json="json")
    return get_kind(model_kind(args.model)).load("evaluate")(args)
