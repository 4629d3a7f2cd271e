"""``e3density hierarchy``: the founding paper's study of hidden features by order l."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .common import progress


def add_parser(sub) -> None:
    p = sub.add_parser("hierarchy", help="train the hierarchy study grid (hidden l_max x outputs x seeds), then "
                                         "summary, plots and report (resumes where it stopped)")
    p.add_argument("study", nargs="?", help="study YAML (default: the packaged default study, about 90 min on 2 cores)")
    p.add_argument("-o", "--output", required=True, help="study directory: runs/, summary.csv/json, plots, report.md")
    p.add_argument("--quick", action="store_true", help="the packaged minute-scale study (same grid, tiny runs)")
    p.add_argument("--threads", type=int, help="torch threads for training (default: torch's own choice)")
    p.set_defaults(func=run_hierarchy)


def run_hierarchy(args: argparse.Namespace) -> int:
    import torch

    from ..errors import E3DensityError
    from ..hierarchy import Study, analyse_study, packaged_study, run_study

    if args.study and args.quick:
        raise E3DensityError("give a study file or --quick, not both")
    path = Path(args.study) if args.study else packaged_study("quick" if args.quick else "default")
    study = Study.from_yaml(path)
    if args.threads is not None:
        if args.threads < 1:
            raise E3DensityError(f"--threads must be at least 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    command = " ".join(["e3density", *sys.argv[1:]]) if Path(sys.argv[0]).name == "e3density" else \
        f"e3density hierarchy {args.study or ('--quick' if args.quick else '')} -o {args.output}".replace("  ", " ")
    finished = run_study(study, args.output, log=progress)
    for path in analyse_study(study, args.output, finished, command):
        print(path)
    progress(f"report: {Path(args.output) / 'report.md'}")
    return 0
