"""The hierarchy study's data, a seeded subset of data/water/train.db shipped in the package.

    python scripts/make_hierarchy_data.py --seed 2026

writes ase_e3density/data/studies/water_hierarchy_{train,val,quick_val}.db: 120 training and
12 validation clusters of 1-4 waters (stratified by size), and the first 4 validation clusters
as the quick study's validation set. Rows are copied unchanged (PBE0/cc-pVDZ densities fitted
onto def2-universal-jfit-decontracted, see data/water/README.md).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from ase.db import connect

ROOT = Path(__file__).resolve().parents[1]


def copy_rows(rows, path: Path) -> None:
    path.unlink(missing_ok=True)
    with connect(path, use_lock_file=False) as db:
        for row in rows:
            db.write(row.toatoms(), key_value_pairs=row.key_value_pairs, data=row.data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=str(ROOT / "data" / "water" / "train.db"))
    parser.add_argument("--out", default=str(ROOT / "ase_e3density" / "data" / "studies"))
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--train", type=int, default=120)
    parser.add_argument("--val", type=int, default=12)
    parser.add_argument("--quick-val", type=int, default=4)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    with connect(args.source, use_lock_file=False) as db:
        rows = list(db.select())
    by_size: dict[int, list] = {}
    for row in rows:
        by_size.setdefault(row.natoms // 3, []).append(row)
    picked_train, picked_val = [], []
    for _, group in sorted(by_size.items()):
        order = rng.permutation(len(group))
        share = len(group) / len(rows)
        n_val, n_train = max(1, round(args.val * share)), max(1, round(args.train * share))
        picked_val += [group[i] for i in order[:n_val]]
        picked_train += [group[i] for i in order[n_val:n_val + n_train]]
    picked_train = [picked_train[i] for i in rng.permutation(len(picked_train))]
    picked_val = [picked_val[i] for i in rng.permutation(len(picked_val))]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    copy_rows(picked_train, out / "water_hierarchy_train.db")
    copy_rows(picked_val, out / "water_hierarchy_val.db")
    copy_rows(sorted(picked_val, key=lambda r: r.natoms)[: args.quick_val], out / "water_hierarchy_quick_val.db")
    print(f"{len(picked_train)} training, {len(picked_val)} validation, {args.quick_val} quick validation rows -> {out}")


if __name__ == "__main__":
    main()
