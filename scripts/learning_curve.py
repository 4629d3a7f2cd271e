"""Learning curve: train one configuration on growing numbers of structures and measure each model on
held-out data.

    OMP_NUM_THREADS=1 nice -n 5 python scripts/learning_curve.py configs/organic_default.yaml \
        --sizes 100,200,400,800 --test data/qm9/val_8.db --out runs/learning_curve/organic \
        [--epochs 300] [--markdown docs/organic_learning_curve.md]
    OMP_NUM_THREADS=1 python scripts/learning_curve.py configs/phonon_l3i5.yaml --sizes 50,100,200,364 \
        --out runs/learning_curve/phonon [--markdown docs/phonon_learning_curve.md]

For each size N the script writes ``OUT/nN.yaml``: the configuration with ``max_structures: N``,
``output`` the run folder ``OUT/nN`` and ``time_budget_minutes`` removed, so every size trains to early stopping or ``--epochs``.
It then runs ``e3density train`` there (resuming an unfinished run) and ``e3density evaluate`` of the
deployed model on ``--test`` (``OUT/nN/test.json``). Sizes with a ``test.json`` are not recomputed, so the
script may be killed and rerun. With a seeded split (no ``validation`` database) the trainer draws the
validation set from every row present, so it is the same for every size, and trains on the first N of
the rest: only the training set grows. The table (printed, and written to ``--markdown``) gives per size the
structures trained on, the epochs run, training minutes and, on the test set, eps_rho (median, %) and the
dipole error against the fit (median, Debye).

Phonon-DOS configurations (``kind: phonon_dos``) get ``max_train: N`` instead: the trainer trains on the
first N of its seeded training crystals and keeps the validation, test and held-out crystals of the full
split, so no ``--test`` is given. Each size's deployed model is measured on the test and held-out crystals
recorded in its own file (``OUT/nN/test.json``, :func:`compare_phonon_models.split_statistics`): median DOS
R2, mean and largest Wasserstein distance (THz), Cv MAE at 100 and 300 K (J/(K mol-atoms)). With three or
more sizes the table is followed by power laws fitted to each split's mean W1 and 1 - median R2 against the
number of training crystals, and the numbers of crystals at which they reach W1 0.4 THz and R2 0.7.

If the ``--markdown`` file exists and holds the lines ``<!-- learning_curve:start -->`` and
``<!-- learning_curve:end -->``, only the text between them is replaced (a page with prose around the
table); otherwise the file is the table.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import yaml
from ase.units import Debye
from compare_phonon_models import split_statistics

ROOT = Path(__file__).resolve().parents[1]
DENSITY, PHONON = "electron_density", "phonon_dos"
PATH_KEYS = {DENSITY: ("train", "validation"), PHONON: ("data",)}
SIZE_KEY = {DENSITY: "max_structures", PHONON: "max_train"}  # the trainer's cap on the training set
PHONON_SPLITS = ("test", "held_out")
W1_TARGET, R2_TARGET = 0.4, 0.7  # THz, held-out mean W1; median R2
START, END = "<!-- learning_curve:start -->", "<!-- learning_curve:end -->"


def config_kind(config: Path) -> str:
    """The configuration's ``kind`` (electron density unless it says otherwise); other kinds are refused."""
    kind = yaml.safe_load(config.read_text()).get("kind", DENSITY)
    if kind not in SIZE_KEY:
        raise SystemExit(f"{config}: kind {kind!r} has no learning curve (only {', '.join(SIZE_KEY)})")
    return kind


def derived_config(config: Path, size: int, folder: Path, epochs: int | None) -> Path:
    """Write ``folder.yaml``: ``config`` capped at ``size`` structures (``max_structures``, or ``max_train``
    crystals of a phonon configuration), run folder ``folder``, paths made relative to the new file."""
    options = yaml.safe_load(config.read_text())
    kind = config_kind(config)
    for key in PATH_KEYS[kind]:
        value = options.get(key)
        if value is None:
            continue
        names = [value] if isinstance(value, str) else value
        moved = [os.path.relpath((config.parent / name).resolve(), folder.parent) for name in names]
        options[key] = moved[0] if isinstance(value, str) else moved
    options.update({SIZE_KEY[kind]: size, "output": folder.name})
    options.pop("time_budget_minutes", None)
    if epochs is not None:
        options["epochs"] = epochs
    folder.parent.mkdir(parents=True, exist_ok=True)
    path = folder.with_suffix(".yaml")
    path.write_text(f"# {config} with {SIZE_KEY[kind]} {size}: written by scripts/learning_curve.py\n"
                    + yaml.safe_dump(options, sort_keys=False))
    return path


def phonon_data(config: Path) -> Path:
    """The database a phonon configuration reads (its ``data``, relative to the configuration's folder)."""
    return (config.parent / yaml.safe_load(config.read_text())["data"]).resolve()


def phonon_result(model_path: Path, data: Path) -> dict:
    """A deployed phonon model measured on the test and held-out crystals recorded in its file: the number
    of crystals it trained on and :func:`split_statistics` per split."""
    from ase_e3density.models import load_model

    model = load_model(model_path)
    provenance = model.metadata.get("provenance", {})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # domain warnings of held-out crystals are expected
        splits = {name: split_statistics(model, str(data), name) for name in PHONON_SPLITS}
    return {"model": str(model_path), "data": str(data), "train_crystals": len(provenance["split"]["train"]),
            "epochs_run": provenance.get("epochs_run"), "best_epoch": provenance.get("best_epoch"),
            "training_seconds": provenance.get("training_seconds"), "splits": splits}


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
        if config_kind(config) == PHONON:
            partial.write_text(json.dumps(phonon_result(folder / "model.pt", phonon_data(config)), indent=1))
        else:
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


def shown(path: Path) -> Path:
    """``path`` relative to the repository where it lies inside it."""
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def power_law(n, y) -> tuple[float, float]:
    """(a, b) of the least-squares line log y = log a - b log n: y = a n^-b."""
    slope, intercept = np.polyfit(np.log(np.asarray(n, float)), np.log(np.asarray(y, float)), 1)
    return float(np.exp(intercept)), float(-slope)


def crystals_for(a: float, b: float, target: float) -> float:
    """The n at which a n^-b reaches ``target`` (inf when the fit does not fall)."""
    return float((a / target) ** (1.0 / b)) if b > 0 else float("inf")


def phonon_fits(results: list[dict]) -> list[str]:
    """Power laws of the mean W1 and 1 - median R2 against training crystals on each split, and the crystals
    they put at the targets (markdown lines; none with fewer than three distinct sizes)."""
    n = [r["train_crystals"] for r in results]
    if len(set(n)) < 3:
        return []
    lines = ["", f"Power laws fitted to the {len(n)} sizes ({min(n)}-{max(n)} training crystals); the N at the "
                 "targets are extrapolations of the fits:", ""]
    for name in reversed(PHONON_SPLITS):  # held out first: the targets are set there
        stats = [r["splits"][name] for r in results]
        a, b = power_law(n, [s["w1"] for s in stats])
        c, d = power_law(n, [1.0 - s["r2"] for s in stats])
        lines.append(f"- {name}: mean W1 = {a:.3g} N^{-b:.3f} THz, {W1_TARGET:g} THz at N = "
                     f"{crystals_for(a, b, W1_TARGET):.3g}; 1 - median R2 = {c:.3g} N^{-d:.3f}, R2 {R2_TARGET:g} at "
                     f"N = {crystals_for(c, d, 1.0 - R2_TARGET):.3g}.")
    return lines


def phonon_table(config: Path, out: Path, sizes: list[int]) -> str:
    """The markdown table of every size with a result: two rows (test, held out) per size."""
    lines = [f"Configuration `{shown(config)}`, data `{shown(phonon_data(config))}`; each model measured on the "
             f"test and held-out crystals of its own split; command: `python scripts/learning_curve.py "
             f"{' '.join(sys.argv[1:])}`.",
             "",
             "| training crystals | epochs (best) | training minutes | split (crystals) | median R2 | mean W1 (THz) "
             "| max W1 (THz) | Cv MAE 100 K | Cv MAE 300 K |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    results = []
    for size in sizes:
        folder = out / f"n{size}"
        if not (folder / "test.json").exists():
            continue
        result = json.loads((folder / "test.json").read_text())
        results.append(result)
        n_epochs, minutes, best = training_log(folder)
        for name in PHONON_SPLITS:
            s = result["splits"][name]
            lines.append(f"| {result['train_crystals']} | {n_epochs} ({best}) | {minutes:.0f} | {name} ({s['n']}) | "
                         f"{s['r2']:.3f} | {s['w1']:.3f} | {s['w1_max']:.2f} | {s['cv100']:.3f} | {s['cv300']:.3f} |")
    lines += ["", "Cv MAE in J/(K mol-atoms) against the generator's mesh sums.", *phonon_fits(results)]
    return "\n".join(lines) + "\n"


def table(config: Path, out: Path, sizes: list[int], test: list[str]) -> str:
    """The markdown table of every size with a result."""
    if config_kind(config) == PHONON:
        return phonon_table(config, out, sizes)
    lines = [f"Configuration `{shown(config)}`, test set "
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
    parser.add_argument("--test", nargs="+", help="held-out reference database(s) (electron density only; phonon "
                        "models are measured on their own test and held-out crystals)")
    parser.add_argument("--out", required=True, type=Path, help="folder of the runs (one subfolder per size)")
    parser.add_argument("--epochs", type=int, help="epochs per run (default: the configuration's)")
    parser.add_argument("--grid-level", type=int, default=1, help="quadrature level of eps_rho (default 1)")
    parser.add_argument("--markdown", type=Path, help="also write the table here")
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    config, out = args.config.resolve(), args.out.resolve()
    if not config.is_file():
        parser.error(f"no such configuration {args.config}")
    kind = config_kind(config)
    if kind == DENSITY and not args.test:
        parser.error("--test is required for electron-density configurations")
    if kind == PHONON and args.test:
        parser.error("--test: phonon models are measured on the test and held-out crystals of their own split")
    for size in sizes:
        run_size(config, size, out, args.test, args.epochs, args.grid_level)
        text = table(config, out, sizes, args.test)
        if args.markdown:
            write_markdown(args.markdown, text)
    print(table(config, out, sizes, args.test))


def write_markdown(path: Path, text: str) -> None:
    """``text`` into ``path``: between its START and END lines where it has both, else the whole file."""
    old = path.read_text() if path.is_file() else ""
    if START in old and END in old and old.index(START) < old.index(END):
        head, rest = old.split(START, 1)
        text = head + START + "\n" + text + END + rest.split(END, 1)[1]
    path.write_text(text)


if __name__ == "__main__":
    main()
