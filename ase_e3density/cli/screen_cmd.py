"""``e3density screen``: many structures through a model, results into an ase.db / extxyz / CSV as they come."""
from __future__ import annotations

import argparse
import sys

from .common import add_engine_options, parse_temperatures, progress, shipped_names

BATCH_ATOMS = 2048
"""The runner's default, written here so that the parser does not import torch (a test keeps them equal)."""
SHOWN_FAILURES = 5
"""Failed structures whose reasons are printed after the summary."""


def add_parser(sub) -> None:
    sc = sub.add_parser("screen", help="many structures through a model, batched and resumable (optionally on Dask)",
                        description="Results are committed batch by batch; rerunning skips structures already "
                                    "in RESULTS (by source and structure hash).")
    sc.add_argument("inputs", nargs="+", metavar="INPUT", help="files ASE reads (all frames), glob patterns, ase.db files")
    sc.add_argument("-o", "--output", required=True, metavar="RESULTS", help="results: .db (ase.db), .extxyz/.xyz or .csv")
    sc.add_argument("--model", help=f"shipped model name ({shipped_names()}) or deployed model file (default: "
                    "default, the embedded water model)")
    sc.add_argument("--select", help="ase.db selection applied to .db inputs (e.g. 'natoms<30,charge=0'; default: every row)")
    sc.add_argument("--batch-atoms", type=int, metavar="N", help=f"atoms per forward pass (default: {BATCH_ATOMS})")
    add_engine_options(sc)
    sc.add_argument("--keep-coefficients", action="store_true", help="density models: also store the density coefficients (default: not stored)")
    sc.add_argument("--temperatures", metavar="T1,T2,...", help="phonon models: comma-separated temperatures (K) of "
                    "the Cv, S and F columns, e.g. 298.15 gives cv_atom_298p15 (default: 100,300,500)")
    sc.add_argument("--sort-by", metavar="KEY", help="after the run, print the rows ranked by this column (default: no ranking)")
    sc.add_argument("--top", type=int, metavar="K", help="rows in the ranked table, with --sort-by (default: 10)")
    sc.add_argument("--ascending", action="store_true", help="rank smallest first (default: largest first)")
    sc.add_argument("--no-progress", action="store_true", help="no progress bar on stderr (default: a bar)")
    sc.add_argument("--device", default="cpu", help="where the network runs: cpu, cuda or cuda:N (default: %(default)s)")
    sc.set_defaults(func=run, top=None)  # None: not given (10 rows when --sort-by ranks)


def _bar(total: int | None, disable: bool):
    try:
        from tqdm import tqdm
    except ImportError:
        return None

    class Bar(tqdm):
        monitor_interval = 0  # no monitor thread: the run forks its ase.db writer only from a single-threaded process

    return Bar(total=total, unit="structure", file=sys.stderr, disable=disable, dynamic_ncols=True, smoothing=0.1)


def run(args: argparse.Namespace) -> int:
    from ..errors import E3DensityError
    from ..screen import screen
    from ..screen.ranking import format_table, outside_domain, top_rows
    from ..screen.writers import open_writer

    if args.sort_by is None and (args.top is not None or args.ascending):
        raise E3DensityError("--top and --ascending shape the ranked table of --sort-by KEY; give --sort-by")
    top = 10 if args.top is None else args.top
    if top < 1:
        raise E3DensityError(f"--top must be at least 1 row, got {top}")
    batch_atoms = BATCH_ATOMS if args.batch_atoms is None else args.batch_atoms
    temperatures = None if args.temperatures is None else parse_temperatures(args.temperatures)
    run = screen(args.inputs, args.output, args.model, select=args.select, batch_atoms=batch_atoms,
                 workers=args.workers, scheduler=args.scheduler, threads_per_worker=args.threads_per_worker,
                 retry_failed=args.retry_failed, keep_coefficients=args.keep_coefficients,
                 temperatures=temperatures, device=args.device)
    if args.sort_by and args.sort_by not in run.columns:
        raise E3DensityError(f"--sort-by {args.sort_by}: not a result column; choose from {', '.join(run.columns)}")
    run.start()
    if run.summary.retried:
        progress(f"retrying {run.summary.retried} failed structure(s)")
    bar = _bar(run.total, args.no_progress)
    failures: list = []  # the first few failed structures, to say why
    try:
        for result in run:
            if not result.ok and len(failures) < SHOWN_FAILURES:
                failures.append(result)
            if bar is not None:
                bar.update(1)
                if not result.ok:
                    bar.set_postfix(failed=run.summary.failed, refresh=False)
    finally:  # an error then starts a line of its own
        if bar is not None:
            bar.close()
    progress(f"e3density screen: {run.summary}")
    for result in failures:
        progress(f"  failed: {result.source}: {result.error}")
    if run.summary.failed:
        more = f"the first {len(failures)} shown; " if run.summary.failed > len(failures) else ""
        progress(f"  ({more}each failed row holds its error in the 'error' column; --retry-failed computes them again)")
    if args.sort_by:
        with open_writer(args.output, run.columns, run.evaluator.arrays) as writer:
            rows = top_rows(writer, args.sort_by, top, args.ascending)
        print(format_table(rows, args.sort_by))
        if unit := run.evaluator.unit(args.sort_by):
            progress(f"  {args.sort_by} in {unit}")
        if outside := outside_domain(rows):
            progress(f"  {outside} of the {len(rows)} ranked rows are flagged by the model's domain check "
                     "(in_domain False; their domain_warnings column says why)")
    return 1 if run.summary.failed else 0
