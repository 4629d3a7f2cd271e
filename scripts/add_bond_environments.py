"""Record the bonding environments of a density model's training atoms in a copy of its deployed file.

Usage: python scripts/add_bond_environments.py CONFIG MODEL OUTPUT [--rows N]

CONFIG is the training configuration MODEL was trained with; ``--rows N`` reads only the first N rows of
each training database (the rows present when the model was trained, for a database that has grown since).
The script rebuilds the training set exactly as the trainer split it, checks that its charges, distances and
neighbour counts equal the domain the file records (so it is the same training set), and writes OUTPUT:
MODEL with ``domain["environments"]`` added (:mod:`ase_e3density.graph.environments`), the network and
weights unchanged, ``provenance.domain_updates`` noting the step. Files trained since the trainer records
environments need no update.

Made the shipped files' environments (2026-12-06):
    python scripts/add_bond_environments.py configs/organic_default.yaml ase_e3density/data/models/organic.pt \
        ase_e3density/data/models/organic.pt --rows 725
    python scripts/add_bond_environments.py configs/ablation/fragment_both.yaml ase_e3density/data/models/default.pt \
        ase_e3density/data/models/default.pt
"""
from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from ase_e3density.models import format as fmt
from ase_e3density.models.upgrade import rewrite_domain
from ase_e3density.train.config import TrainConfig
from ase_e3density.train.loop import load_data, training_domain
from make_model_card import first_rows

CHECKED = ("charge", "shortest", "farthest_nearest", "most_neighbours", "spin")


def same(a, b) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return bool(np.isclose(a, b, rtol=1e-9, atol=1e-12))
    return a == b


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config")
    parser.add_argument("model")
    parser.add_argument("output")
    parser.add_argument("--rows", type=int, help="read only the first N rows of each training database")
    args = parser.parse_args(argv)
    config = TrainConfig.from_yaml(args.config)
    # the domain needs the structures only: no Coulomb matrices or fragment shares
    config = replace(config, coulomb_weight=0.0, fragment_weight=0.0, fragment_dipole_weight=0.0)
    recorded = fmt.read_metadata(args.model)["domain"]
    with tempfile.TemporaryDirectory() as folder:
        if args.rows:
            config = replace(config, train=[str(first_rows(p, args.rows, Path(folder) / p.name))
                                            for p in config.train_paths()])
        trainer = load_data(config, Path(folder))
        domain = training_domain(trainer)
    differ = [k for k in CHECKED if k in recorded and not same(recorded[k], domain.get(k))]
    if differ:
        sys.exit(f"{args.model}: the rebuilt training set ({len(trainer.train_set)} structures) does not match the "
                 f"file's domain ({', '.join(differ)} differ): wrong configuration or --rows")
    note = {"fields": ["environments"], "training_structures": len(trainer.train_set),
            "command": shlex.join(["python", "scripts/add_bond_environments.py", *(argv or sys.argv[1:])])}
    out = rewrite_domain(args.model, args.output, {**recorded, "environments": domain["environments"]}, note)
    print(f"{out}: {len(domain['environments']['seen'])} environments of {len(trainer.train_set)} training structures")
    return out


if __name__ == "__main__":
    main()
