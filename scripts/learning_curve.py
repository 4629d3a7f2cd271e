"""Learning curve: train one configuration on growing numbers of structures and measure each model on
one held-out reference set.

    OMP_NUM_THREADS=1 nice -n 5 python scripts/learning_curve.py configs/organic_default.yaml \
        --sizes 100,200,400,800 --test data/qm9/val_8.db --out runs/learning_curve/organic \
        [--epochs 300] [--markdown docs/organic_learning_curve.md]

For each size N the script writes ``OUT/nN.yaml``: the configuration with ``max_structures: N``,
``output`` the run folder ``OUT/nN`` and ``time_budget_minutes`` removed, so every size trains to early stopping or ``--epochs``.
It then runs ``e3density train`` there (resuming an unfinished run) and ``e3density evaluate`` of the
deployed model on ``--test`` (``OUT/nN/test.json``). Sizes with a ``test.json`` are not recomputed, so the
script may be killed and rerun. With a seeded split (no ``validation`` database) the trainer draws the
validation set from every row present, so it is the same for every size, and trains on the first N of
the rest: only the training set grows. The table (printed, and written to ``--markdown``) gives per size the
structures trained on, the epochs run, training minutes and, on the test set, eps_rho (median, %) and the
dipole error against the fit (median, Debye).

Electron-density configurations only for now (the phonon trainer has no ``max_structures``).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml
from ase.units import Debye

ROOT = Path(__file__).resolve().parents[1]
PATH_KEYS = ("train", "validation")


def derived_config(config: Path, size: int, folder: Path, epochs: int | None) -> Path:
    """Write ``folder.yaml``: ``config`` capped at ``size`` structures, run folder ``folder``, paths made
    relative to the new file."""
    options = yaml.safe_load(config.read_text())
    if options.get("kind", "electron_density") != "electron_density":
        raise SystemExit(f"{config}: only electron-density configurations have max_structures")
    for key in PATH_KEYS:
        value = options.get(key)
        if value is None:
            continue
        names = [value] if isinstance(value, str) else value
        moved = [os.path.relpath((config.parent / name).resolve(), folder.parent) for name in names]
        options[key] = moved[0] if isinstance(value, str) else moved
    options.update(max_structures=size, output=folder.name)
    options.pop("time_budget_minutes", None)
    if epochs is not None:
        options["epochs"] = epochs
    folder.parent.mkdir(parents=True, exist_ok=True)
    path = folder.with_suffix(".yaml")
    path.write_text(f"# {config} with max_structures {size}: written by scripts/learning_curve.py\n"
                    + yaml.safe_dump(options, sort_keys=False))
    return path


def run_size(config: Path, size: int, out: Path, test: list[str], epochs: int | None, grid_level: int) -> dict:
    """Train (or resume) and evaluate the model of one size; the evaluation's JSON."""
    folder = out / f"n{size}"
    result = folder / "test.json"
    if not result.exists():
        cfg = derived_config(config, size, folder, epochs)
        e3density = [sys.executable, "-m", "ase_e3density.cli"]
        subprocess.run(e3density + ["train", str(cfg)], check=True, cwd=ROOT)
        partial = folder / "test.json.part"
        partial.unlink(missing_ok=True)
        subprocess.run(e3density + ["evaluate", str(folder / "model.pt"), *test, "--grid-level", str(grid_level),
                                    "--json", str(partial), "--no-progress"], check=True, cwd=ROOT,
                       stdout=subprocess.DEVNULL)
        partial.rename(result)
    return json.loads(result.read_text())


def training_log(folder: Path) -> tuple[int, float, int | None]:
    """(epochs run, training minutes, best epoch) from the run's log.jsonl."""
    lines = [json.loads(line) for line in (folder / "log.jsonl").read_text().splitlines() if line.strip()]
    epochs = [line for line in lines if "epoch" in line and "val_loss" in line]
    best = min(epochs, key=lambda line: line["val_loss"])["epoch"] if epochs else None
    return len(epochs), (epochs[-1].get("seconds", 0.0) / 60 if epochs else 0.0), best


def table(config: Path, out: Path, sizes: list[int], test: list[str]) -> str:
    """The markdown table of every size with a result."""
    lines = [f"Configuration `{config.relative_to(ROOT) if config.is_relative_to(ROOT) else config}`, test set "
             f"{', '.join(f'`{t}`' for t in test)}; command: `python scripts/learning_curve.py {' '.join(sys.argv[1:])}`.",
             "",
             "| training structures | epochs (best) | training minutes | eps_rho median (%) "
             "| eps_rho mean (%) | abs(Δmu) vs fit, median (D) |",
             "| --- | --- | --- | --- | --- | --- |"]
    for size in sizes:
        folder = out / f"n{size}"
        if not (folder / "test.json").exists():
            continue
        rows = json.loads((folder / "test.json").read_text())["structures"]
        eps = np.array([row["eps"] for row in rows])
        dipole = np.array([row["dipole_error"] for row in rows]) / Debye
        n_epochs, minutes, best = training_log(folder)
        lines.append(f"| {size} | {n_epochs} ({best}) | {minutes:.0f} | {np.median(eps):.3f} | "
                     f"{eps.mean():.3f} | {np.median(dipole):.3f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", type=Path)
    parser.add_argument("--sizes", required=True, help="comma-separated numbers of structures, e.g. 100,200,400")
    parser.add_argument("--test", required=True, nargs="+", help="held-out reference database(s)")
    parser.add_argument("--out", required=True, type=Path, help="folder of the runs (one subfolder per size)")
    parser.add_argument("--epochs", type=int, help="epochs per run (default: the configuration's)")
    parser.add_argument("--grid-level", type=int, default=1, help="quadrature level of eps_rho (default 1)")
    parser.add_argument("--markdown", type=Path, help="also write the table here")
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    config, out = args.config.resolve(), args.out.resolve()
    for size in sizes:
        run_size(config, size, out, args.test, args.epochs, args.grid_level)
        text = table(config, out, sizes, args.test)
        if args.markdown:
            args.markdown.write_text(text)
    print(table(config, out, sizes, args.test))


if __name__ == "__main__":
    main()
