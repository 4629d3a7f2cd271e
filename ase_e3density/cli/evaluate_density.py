"""``e3density evaluate`` for electron-density models: eps_rho per l, dipoles, per-molecule charges."""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from .common import Status

__all__ = ["evaluate"]


def _percent(summary: dict) -> str:
    """The dipole error as a share of the DFT dipole, where that dipole is large enough to divide by."""
    if summary.get("dipole_dft_norm", 0.0) < 0.05:
        return "no share of |mu_DFT| given: it is below 0.05 e·Å"
    return f"{summary['dipole_error_dft_percent']:.1f} % of |mu_DFT|"


def _scaled(row: dict) -> str:
    """The dipole error (vs DFT where known) in percent of sqrt(n_molecules) mu_monomer."""
    value = row.get("dipole_error_dft_sqrtn", row.get("dipole_error_sqrtn"))
    return "-" if value is None else f"{value:.2f}"


def evaluate(args: argparse.Namespace) -> int:
    """eps_rho (total and per l), dipoles and per-molecule charges of an electron-density model against
    reference densities, one table row per structure."""
    with Status("evaluate", enabled=not args.no_progress) as status:
        return _evaluate(args, status)


def _evaluate(args: argparse.Namespace, status: Status) -> int:
    from ..calculator import E3DensityCalculator
    from ..errors import E3DensityError
    from ..train.evaluate import density_errors, free_atoms_name, highest_l, reference_sets, summarise_errors

    from .predict_cmd import refuse_options

    refuse_options(args, ("split", "select", "temperatures"), "electron density")
    args.grid_level = 2 if args.grid_level is None else args.grid_level
    if args.mu_monomer is not None and not (math.isfinite(args.mu_monomer) and args.mu_monomer > 0):
        raise E3DensityError(f"--mu-monomer must be a positive dipole in e·Å, got {args.mu_monomer}")
    status(f"loading model {args.model}")
    calc = E3DensityCalculator(args.model)
    sources = " ".join(args.reference)
    status(f"reading {sources}")
    sets = reference_sets(args.reference, calc.model.basis.name)
    refs = [ref for _, found in sets for ref in found]
    where = [Path(path).name for path, found in sets for _ in found]
    status(f"{len(refs)} structures (" + ", ".join(f"{len(found)} in {path}" for path, found in sets) + ")")
    ls = range(highest_l(refs) + 1)
    status.result("| # | formula | eps_rho (%) | " + " | ".join(f"eps l={l}" for l in ls)
                  + " | dipole err vs fit (e·Å) | vs DFT (e·Å) | |mu_DFT| | charge MAE (e) "
                  "| molecules | dipole err / sqrt(n) mu (%) | mol. charge RMS (e) | mol. dipole RMS (e·Å) |")
    status.result("| --- " * (len(ls) + 11) + "|")

    def step(k: int, what: str) -> None:
        status(f"structure {k + 1}/{len(refs)} ({refs[k].atoms.get_chemical_formula()}, {where[k]}): {what}")

    rows = []
    for k, (atoms, row) in enumerate(density_errors(calc.get_atomic_density, refs, args.grid_level, args.mu_monomer,
                                                    report=step), 1):
        rows.append(row)
        status.result(f"| {k} | {atoms.get_chemical_formula()} | {row['eps']:.3f} | "
                      + " | ".join(f"{row.get(f'eps_l{l}', 0.0):.3f}" for l in ls)
                      + f" | {row['dipole_error']:.4f} | {row.get('dipole_error_dft', float('nan')):.4f} | "
                      f"{row.get('dipole_dft_norm', float('nan')):.3f} | {row['charge_mae']:.4f} | "
                      f"{row.get('n_molecules', '-')} | {_scaled(row)} | "
                      f"{row.get('molecule_charge_rms', float('nan')):.4f} | "
                      f"{row.get('molecule_dipole_rms', float('nan')):.4f} |")
    status.clear()
    summary = summarise_errors(rows)
    print(f"\nmean over {len(rows)} structures: eps_rho {summary['eps']:.3f} %, dipole error "
          f"{summary['dipole_error']:.4f} e·Å vs fit, {summary.get('dipole_error_dft', float('nan')):.4f} e·Å vs DFT "
          f"({_percent(summary)}), "
          f"charge MAE {summary['charge_mae']:.4f} e")
    if "molecule_charge_rms" in summary:
        scale_source = ("given" if args.mu_monomer is not None
                        else "mean over structures of the RMS of the reference's molecular dipoles")
        key, which = ("dipole_error_dft_sqrtn", "DFT") if "dipole_error_dft_sqrtn" in summary else \
            ("dipole_error_sqrtn", "fit")
        print(f"molecules (Hirshfeld, free atoms {free_atoms_name()}): dipole error vs {which} median "
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
