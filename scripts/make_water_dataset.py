"""Make the water reference datasets: structures, then PySCF densities via `e3density reference`.

Command (resumable: rerun to continue; the base sets take about 45 min on 2 cores, the large sets
about 2 h on one core):
    python scripts/make_water_dataset.py --out data/water --seed 2026 --seed-large 2027
`--sets base` makes only the base sets, `--sets large` only the large ones, `--sets more` only the
second large-cluster training pool. `--workers N` computes N structures at once (one process each,
cores/N threads); the databases are the same, row for row.

Training pool: 1-4 waters, half hydrogen-bonded random placements, half snapshots of rigid
TIP3P Langevin MD at 250 K (ASE's TIP3P, RATTLE), every monomer then distorted (O-H
sigma 0.02 Å, HOH sigma 3°). Held-out tests: 8, 12 and 16 waters, made the same way.
Large sets, from streams spawned from a second seed (`--seed-large`, one per set, in plan order) so
that the base sets stay as they are:
more held-out clusters (`test_N_more.db`: with `test_N.db` 10 x 8, 10 x 12 and 5 x 16 waters),
then the large-cluster training pool `train_large.db` (8 waters, then 12), in that order; then a
second pool `train_more.db` (12 waters, then 16) from the streams spawned next, so that the sets
before it stay as they are.
Level of theory: PBE0/cc-pVDZ, density fitted onto def2-universal-jfit-decontracted
(the founding code's basis; docs/fit_floors.md: eps 1.0 %, dipole error 0.002 e·Å on water).
"""
from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import numpy as np
from ase.io import write

from ase_e3density import __version__
from ase_e3density.cli import main as cli
from water_clusters import distort_monomers, hydrogen_bonded_cluster, md_snapshots

TRAIN = {1: 20, 2: 100, 3: 120, 4: 160}
TESTS = {8: 6, 12: 3, 16: 2}
MORE_TESTS = {8: 4, 12: 7, 16: 3}  # added to TESTS: 10 / 10 / 5
TRAIN_LARGE = {8: 60, 12: 20}
TRAIN_MORE = {12: 40, 16: 20}  # the second pool: the crowding of the 12- and 16-water test clusters
# `e3density reference` options of the large sets: 4x cheaper on 8 waters, fitted density within 0.0013 % eps
# and 1.1e-4 e·Å of the base settings' (docs/training.md, "Reference cost")
LARGE_REFERENCE = ["--grid-level", "1", "--conv-tol", "1e-7", "--density-fit", "--guess", "model"]


def sample(n_waters: int, count: int, rng: np.random.Generator) -> list:
    """``count`` clusters of ``n_waters``: half placements, half MD snapshots, all distorted."""
    n_md = count // 2 if n_waters > 1 else 0
    frames = [hydrogen_bonded_cluster(n_waters, rng) for _ in range(count - n_md)]
    if n_md:
        frames += md_snapshots(hydrogen_bonded_cluster(n_waters, rng), n_md, rng, interval_fs=50.0)
    return [distort_monomers(f, rng) for f in frames]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="data/water")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--seed-large", type=int, default=2027, help="seed of the large sets' own stream")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every count (e.g. 0.05 for a smoke run)")
    parser.add_argument("--sets", choices=("all", "base", "large", "more"), default="all")
    parser.add_argument("--workers", type=int, default=1,
                        help="structures computed at once (`e3density reference --workers`); the databases do not change")
    args = parser.parse_args()
    if args.workers < 1:
        parser.error(f"--workers must be at least 1, got {args.workers}")
    out = Path(args.out)
    (out / "structures").mkdir(parents=True, exist_ok=True)
    if args.sets in ("all", "base"):
        base(out, args)
    if args.sets in ("all", "large"):
        large(out, args)
    if args.sets in ("all", "more"):
        more(out, args)


def base(out: Path, args) -> None:
    """The training pool of 1-4 waters and the first held-out sets, from ``--seed``."""
    rng = np.random.default_rng(args.seed)
    plan = [("train", n, max(1, round(c * args.scale))) for n, c in TRAIN.items()]
    plan += [(f"test_{n}", n, max(1, round(c * args.scale))) for n, c in TESTS.items()]
    for name, n, count in plan:  # structures first, all from one seeded stream
        xyz = out / "structures" / f"{name}_{n}w.xyz"
        frames = sample(n, count, rng)
        if not xyz.exists():
            write(xyz, frames)
    manifest = {"seed": args.seed, "scale": args.scale, "train": TRAIN, "tests": TESTS, "xc": "PBE0",
                "basis": "cc-pvdz", "auxbasis": "def2-universal-jfit-decontracted",
                "versions": _versions()}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    for name, n, _ in plan:
        db = out / f"{name.split('_')[0] if name == 'train' else name}.db"
        reference([str(out / "structures" / f"{name}_{n}w.xyz"), "-o", str(db), "--workers", str(args.workers)])


def _large_plan(args) -> list[tuple[str, int, int]]:
    plan = [(f"test_{n}_more", n, max(1, round(c * args.scale))) for n, c in MORE_TESTS.items()]
    return plan + [("train_large", n, max(1, round(c * args.scale))) for n, c in TRAIN_LARGE.items()]


def _more_plan(args) -> list[tuple[str, int, int]]:
    return [("train_more", n, max(1, round(c * args.scale))) for n, c in TRAIN_MORE.items()]


def large(out: Path, args) -> None:
    """More held-out clusters, then the 8- and 12-water training pool, from ``--seed-large``."""
    plan = _large_plan(args)
    manifest = {"seed_large": args.seed_large, "scale": args.scale, "more_tests": MORE_TESTS,
                "train_large": TRAIN_LARGE, "reference_options": LARGE_REFERENCE, "xc": "PBE0", "basis": "cc-pvdz",
                "auxbasis": "def2-universal-jfit-decontracted", "versions": _versions()}
    (out / "manifest_large.json").write_text(json.dumps(manifest, indent=1))
    # one stream per set, spawned from --seed-large in plan order: a set's structures are made just
    # before its references (TIP3P MD of 12 waters takes minutes), and a rerun need not remake them
    _make(out, plan, np.random.SeedSequence(args.seed_large).spawn(len(plan)), args.workers)


def more(out: Path, args) -> None:
    """The second large-cluster training pool (12 and 16 waters), from the streams after the large sets'."""
    plan, before = _more_plan(args), len(_large_plan(args))
    manifest = {"seed_large": args.seed_large, "scale": args.scale, "train_more": TRAIN_MORE,
                "streams": f"{before}..{before + len(plan) - 1} of SeedSequence(seed_large).spawn",
                "reference_options": LARGE_REFERENCE, "xc": "PBE0", "basis": "cc-pvdz",
                "auxbasis": "def2-universal-jfit-decontracted", "versions": _versions()}
    (out / "manifest_more.json").write_text(json.dumps(manifest, indent=1))
    _make(out, plan, np.random.SeedSequence(args.seed_large).spawn(before + len(plan))[before:], args.workers)


def _make(out: Path, plan: list[tuple[str, int, int]], streams: list, workers: int) -> None:
    for (name, n, count), stream in zip(plan, streams):
        xyz = out / "structures" / f"{name}_{n}w.xyz"
        if not xyz.exists():
            write(xyz, sample(n, count, np.random.default_rng(stream)))
        reference([str(xyz), "-o", str(out / f"{name}.db"), *LARGE_REFERENCE, "--workers", str(workers)])


def reference(args: list[str]) -> None:
    """`e3density reference ARGS`; stop on an error (exit 2), go on past failed structures (exit 1: a rerun retries them)."""
    code = cli(["reference", *args])
    if code > 1:
        raise SystemExit(code)


def _versions() -> dict:
    return {"ase_e3density": __version__, "python": platform.python_version(),
            **{m: __import__(m).__version__ for m in ("ase", "pyscf", "numpy")}}


if __name__ == "__main__":
    main()
