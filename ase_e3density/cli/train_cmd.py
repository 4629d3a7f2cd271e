"""``e3density train`` and ``e3density evaluate``: train a model, and measure one on reference data."""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

from .common import progress, require_file


def add_parser(sub) -> None:
    tr = sub.add_parser("train", help="train a model from a YAML configuration (electron density, or `kind: phonon_dos`; resumes by default)")
    tr.add_argument("config")
    tr.add_argument("--restart", action="store_true", help="ignore an existing checkpoint and start over")
    tr.add_argument("--output", help="run directory (overrides the configuration)")
    tr.add_argument("--epochs", type=int, help="number of epochs (overrides the configuration)")
    tr.set_defaults(func=run_train)

    ev = sub.add_parser("evaluate", help="accuracy of a model on a reference database")
    ev.add_argument("model", help="shipped model name or deployed model file")
    ev.add_argument("reference", nargs="+", help="ase.db written by `e3density reference` (several: pooled into one "
                                                 "table and one summary)")
    ev.add_argument("--grid-level", type=int, default=2, choices=range(1, 6), metavar="{1..5}",
                    help="quadrature level for eps_rho (1-5)")
    ev.add_argument("--mu-monomer", type=float, metavar="E_ANGSTROM",
                    help="scale of the dipole error, sqrt(n_molecules) x this (e·Å); default: the RMS of the "
                         "reference's Hirshfeld molecular dipoles in each structure")
    ev.add_argument("--json", help="also write per-structure and summary numbers here")
    ev.add_argument("--split", choices=("train", "validation", "test", "held_out"),
                    help="phonon models: only the rows of this split of the model's training run")
    ev.add_argument("--select", help="phonon models: an ase.db selection of the rows")
    ev.add_argument("--temperatures", default="100,300", help="phonon models: temperatures of the Cv errors, K")
    ev.set_defaults(func=run_evaluate)


def run_train(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from ..train import TrainConfig, train
    from ..train.config import read_yaml_mapping
    from ..train.phonon import PhononTrainConfig, train_phonon
    from ..train.phonon.config import PHONON_KIND

    if read_yaml_mapping(Path(args.config), "training configuration").get("kind") == PHONON_KIND:
        config, train = PhononTrainConfig.from_yaml(args.config), train_phonon
    else:
        config = TrainConfig.from_yaml(args.config)
    if args.output:
        config = replace(config, output=str(Path(args.output).resolve()))
    if args.epochs is not None:
        config = replace(config, epochs=args.epochs)
    command = " ".join(["e3density", *sys.argv[1:]]) if Path(sys.argv[0]).name == "e3density" else None
    path = train(config, resume=not args.restart, command=command or f"e3density train {args.config}")
    if os.environ.get("RANK", "0") == "0":
        progress(f"model: {path}")
    return 0


def _percent(summary: dict) -> str:
    """The dipole error as a share of the DFT dipole, where that dipole is large enough to divide by."""
    if summary.get("dipole_dft_norm", 0.0) < 0.05:
        return "no share of |mu_DFT| given: it is below 0.05 e·Å"
    return f"{summary['dipole_error_dft_percent']:.1f} % of |mu_DFT|"


def _scaled(row: dict) -> str:
    """The dipole error (vs DFT where known) in percent of sqrt(n_molecules) mu_monomer."""
    value = row.get("dipole_error_dft_sqrtn", row.get("dipole_error_sqrtn"))
    return "-" if value is None else f"{value:.2f}"


def run_evaluate(args: argparse.Namespace) -> int:
    from ..calculator import E3DensityCalculator
    from ..electron.database import iter_densities
    from ..errors import E3DensityError
    from ..electron.evaluation import ReferenceOnGrid, compare, summarise
    from ..electron.free_atoms import load_free_atoms

    for path in args.reference:
        require_file(path, "reference database")
    from ..models import read_metadata, resolve_model_path

    if read_metadata(resolve_model_path(args.model)).get("model_kind") == "phonon_dos":
        if len(args.reference) > 1:
            raise E3DensityError("phonon models: evaluate one reference database at a time")
        args.reference = args.reference[0]
        return run_evaluate_phonons(args)
    if args.mu_monomer is not None and not (math.isfinite(args.mu_monomer) and args.mu_monomer > 0):
        raise E3DensityError(f"--mu-monomer must be a positive dipole in e·Å, got {args.mu_monomer}")
    calc = E3DensityCalculator(args.model)
    sources = " ".join(args.reference)
    refs = [ref for path in args.reference for ref in iter_densities(path)]
    if not refs:
        raise E3DensityError(f"{sources} holds no reference densities")
    other = sorted({ref.basis.name for ref in refs} - {calc.model.basis.name})
    if other:
        raise E3DensityError(f"{sources} holds densities in {', '.join(other)}; the model predicts "
                             f"{calc.model.basis.name}: compare like with like")
    lmax = max((ref.basis[s].lmax for ref in refs for s in set(ref.atoms.get_chemical_symbols())), default=0)
    ls = range(lmax + 1)
    print("| # | formula | eps_rho (%) | " + " | ".join(f"eps l={l}" for l in ls)
          + " | dipole err vs fit (e·Å) | vs DFT (e·Å) | |mu_DFT| | charge MAE (e) "
          "| molecules | dipole err / sqrt(n) mu (%) | mol. charge RMS (e) | mol. dipole RMS (e·Å) |")
    print("| --- " * (len(ls) + 11) + "|")
    rows = []
    for k, ref in enumerate(refs, 1):
        atoms = ref.atoms.copy()
        atoms.info["charge"] = ref.total_charge
        row = compare(calc.get_atomic_density(atoms), ReferenceOnGrid.build(ref, args.grid_level), args.mu_monomer)
        rows.append(row)
        print(f"| {k} | {atoms.get_chemical_formula()} | {row['eps']:.3f} | "
              + " | ".join(f"{row.get(f'eps_l{l}', 0.0):.3f}" for l in ls)
              + f" | {row['dipole_error']:.4f} | {row.get('dipole_error_dft', float('nan')):.4f} | "
              f"{row.get('dipole_dft_norm', float('nan')):.3f} | {row['charge_mae']:.4f} | "
              f"{row.get('n_molecules', '-')} | {_scaled(row)} | {row.get('molecule_charge_rms', float('nan')):.4f} | "
              f"{row.get('molecule_dipole_rms', float('nan')):.4f} |", flush=True)
    summary = summarise(rows)
    print(f"\nmean over {len(rows)} structures: eps_rho {summary['eps']:.3f} %, dipole error "
          f"{summary['dipole_error']:.4f} e·Å vs fit, {summary.get('dipole_error_dft', float('nan')):.4f} e·Å vs DFT "
          f"({_percent(summary)}), "
          f"charge MAE {summary['charge_mae']:.4f} e")
    if "molecule_charge_rms" in summary:
        scale_source = ("given" if args.mu_monomer is not None
                        else "mean over structures of the RMS of the reference's molecular dipoles")
        key, which = ("dipole_error_dft_sqrtn", "DFT") if "dipole_error_dft_sqrtn" in summary else \
            ("dipole_error_sqrtn", "fit")
        print(f"molecules (Hirshfeld, free atoms {load_free_atoms().name}): dipole error vs {which} median "
              f"{summary[key + '_median']:.2f} % (mean {summary[key]:.2f} %) of sqrt(n) mu_monomer, "
              f"mu_monomer {summary['mu_monomer']:.3f} e·Å ({scale_source}); per-molecule charge RMS {summary['molecule_charge_rms']:.4f} e (max "
              f"{summary['molecule_charge_max']:.4f} e), dipole RMS {summary['molecule_dipole_rms']:.4f} e·Å, "
              f"pooled over {sum(r.get('n_molecules', 0) for r in rows)} molecules")
        print(f"dipole error vs fit, in two parts (median % of sqrt(n) mu_monomer): charge moved between molecules "
              f"{summary['dipole_error_transfer_sqrtn_median']:.2f} %, the molecules' own dipoles "
              f"{summary['dipole_error_molecular_sqrtn_median']:.2f} %")
    given = f" --mu-monomer {args.mu_monomer}" if args.mu_monomer is not None else ""
    print(f"command: e3density evaluate {args.model} {sources} --grid-level {args.grid_level}{given}")
    if args.json:
        Path(args.json).write_text(json.dumps({"structures": rows, "summary": summary,
                                               "model_checksum": calc.model.checksum}, indent=1))
    return 0


def run_evaluate_phonons(args: argparse.Namespace) -> int:
    """``e3density evaluate`` for a phonon-DOS model: DOS and heat-capacity errors, one row per crystal."""
    from ..errors import E3DensityError
    from ..models import load_model, resolve_model_path
    from ..train.phonon.evaluate import evaluate_phonon_model

    try:
        temps = [float(t) for t in args.temperatures.split(",") if t.strip()]
    except ValueError:
        raise E3DensityError(f"--temperatures takes comma-separated numbers (K), got {args.temperatures!r}") from None
    model = load_model(resolve_model_path(args.model))
    result = evaluate_phonon_model(model, args.reference, args.split, args.select, temps)
    per = result["per_structure"]
    print("| # | crystal | prototype | DOS MAE | R2 | W1 (THz) | " + " | ".join(f"Cv {t:g} K pred / ref" for t in temps) + " |")
    print("| --- " * (6 + len(temps)) + "|")
    for k, name in enumerate(per["name"]):
        print(f"| {k + 1} | {name} | {per['prototype'][k]} | {per['dos_mae'][k]:.4f} | {per['r2'][k]:.3f} | "
              f"{per['wasserstein'][k]:.3f} | " + " | ".join(f"{per['cv_predicted'][k][j]:.2f} / "
                                                              f"{per['cv_reference'][k][j]:.2f}"
                                                              for j in range(len(temps))) + " |")
    print(f"\nmean over {result['n']} crystals: DOS MAE {result['dos_mae']:.4f} states/(THz atom), R2 {result['r2']:.3f}, "
          f"Wasserstein {result['wasserstein']:.3f} THz, Cv MAE "
          + ", ".join(f"{t:g} K {result[f'cv_mae_{t:g}']:.3f}" for t in temps) + " J/(K mol-atoms) (floor of the grid: "
          + ", ".join(f"{result['floor'][f'cv_mae_{t:g}']:.3f}" for t in temps) + ")")
    split = f" --split {args.split}" if args.split else ""
    select = f" --select '{args.select}'" if args.select else ""
    print(f"command: e3density evaluate {args.model} {args.reference}{split}{select} --temperatures {args.temperatures}")
    if args.json:
        Path(args.json).write_text(json.dumps({**result, "model_checksum": model.checksum}, indent=1))
    return 0
