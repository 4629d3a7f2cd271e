"""Thermal-storage screening: rank crystals and alloys by volumetric heat capacity at 300 K, then check the ranking.

Command: python examples/thermal_storage.py [--model phonon] [--data DB] [-o runs/thermal_storage]
(``--data`` defaults to the reference database named in the model's provenance, found in data/phonons/.)

1. Candidates, none of which the model was trained on: the relaxed crystals of the model's test split and
   held-out prototypes (from the reference database), and every substitutional alloy of the database as a
   virtual crystal: its relaxed supercell with each mixed site carrying the alloy's composition as partial
   occupancies. All are written as CIF files (P1, `_atom_site_occupancy`), the form alloys come in.
2. `e3density screen CANDIDATES/*.cif -o screen.db --sort-by cv_vol_300 --top 10` with the phonon model.
3. The ranking against the reference generator (its phonopy Cv of the same crystals; for an alloy, of its
   explicit random supercell): Spearman rank correlation, overlap of the top 10, errors; and each alloy
   predicted both ways (explicit supercell, virtual crystal) beside the reference.
"""
from __future__ import annotations

import argparse
import re
import warnings
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.db import connect
from scipy.stats import spearmanr

from ase_e3density import E3DensityCalculator
from ase_e3density.cli import main as cli
from ase_e3density.errors import DomainWarning, UnsupportedElementError
from ase_e3density.models import load_model, resolve_model_path

ROOT = Path(__file__).resolve().parents[1]


def write_cif(path: Path, atoms: Atoms, occupancy: list[dict[str, float]]) -> None:
    """A P1 CIF with one `_atom_site` row per (site, element) and its occupancy."""
    a, b, c, alpha, beta, gamma = atoms.cell.cellpar()
    lines = [f"data_{path.stem}", f"_cell_length_a {a:.6f}", f"_cell_length_b {b:.6f}", f"_cell_length_c {c:.6f}",
             f"_cell_angle_alpha {alpha:.6f}", f"_cell_angle_beta {beta:.6f}", f"_cell_angle_gamma {gamma:.6f}",
             "_symmetry_space_group_name_H-M 'P 1'", "_symmetry_Int_Tables_number 1", "loop_", "_atom_site_label",
             "_atom_site_type_symbol", "_atom_site_fract_x", "_atom_site_fract_y", "_atom_site_fract_z",
             "_atom_site_occupancy"]
    for i, (site, frac) in enumerate(zip(occupancy, atoms.get_scaled_positions())):
        for symbol, x in site.items():
            lines.append(f"{symbol}{i} {symbol} {frac[0]:.8f} {frac[1]:.8f} {frac[2]:.8f} {x:.6f}")
    path.write_text("\n".join(lines) + "\n")


def mixing(composition: str) -> dict[str, float]:
    """The elements that share a sublattice and their fractions: 'Al0.25Ga0.75As' -> {Al: 0.25, Ga: 0.75}."""
    return {s: float(x) for s, x in re.findall(r"([A-Z][a-z]?)(\d*\.\d+)", composition)}


def virtual_crystal(atoms: Atoms, composition: str) -> list[dict[str, float]]:
    """Per-site occupancies of an explicit alloy supercell: mixed sites take the composition."""
    mix = mixing(composition)
    return [dict(mix) if s in mix else {s: 1.0} for s in atoms.get_chemical_symbols()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="phonon")
    parser.add_argument("--data", help="the model's reference database (default: its own, in data/phonons/)")
    parser.add_argument("-o", "--out", default="runs/thermal_storage")
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args()
    out = Path(args.out)
    model = load_model(resolve_model_path(args.model))
    run = model.checksum[:12]  # each model's candidates and screen apart: a rerun resumes, a new model starts afresh
    folder = out / f"candidates_{run}"
    folder.mkdir(parents=True, exist_ok=True)
    data = args.data or str(ROOT / "data" / "phonons" / Path(model.metadata["provenance"]["data"]).name)
    split = model.metadata["provenance"]["split"]
    unseen = set(split["test"]) | set(split["held_out"])
    reference: dict[str, tuple[float, float, str]] = {}  # candidate name -> (Cv per atom, Cv per cm^3, kind)
    alloys = []
    for row in connect(data).select():
        if row.get("imaginary_fraction", 0.0) > 0.01:
            continue
        atoms = row.toatoms()
        name = str(row.get("name", row.formula))
        if row.get("alloy"):
            name = f"{name}-vca"
            write_cif(folder / f"{name}.cif", atoms, virtual_crystal(atoms, row.composition))
            alloys.append((row, atoms))
        elif row.uid in unseen:
            write_cif(folder / f"{name}.cif", atoms, [{s: 1.0} for s in atoms.get_chemical_symbols()])
        else:
            continue
        reference[name] = (row.cv_atom_300, row.cv_vol_300, "alloy (virtual crystal)" if row.get("alloy") else
                           "crystal (" + ("held-out prototype" if row.uid in split["held_out"] else "test") + ")")
    print(f"{len(reference)} candidates ({len(alloys)} alloys as virtual crystals) in {folder}\n")
    screen_db = out / f"screen_{run}.db"
    if cli(["screen", *sorted(str(folder / f"{name}.cif") for name in reference), "-o", str(screen_db),
            "--model", args.model, "--sort-by", "cv_vol_300", "--top", str(args.top)]) == 2:
        raise SystemExit("the screen refused its input (above)")
    rows = list(connect(screen_db).select("status=ok"))
    names = [Path(r.source.split("@")[0]).stem for r in rows]
    predicted = np.array([r.cv_vol_300 for r in rows])
    truth = np.array([reference[n][1] for n in names])
    order, true_order = np.argsort(-predicted), np.argsort(-truth)
    top, true_top = set(order[:args.top]), set(true_order[:args.top])
    rank_of = {i: k + 1 for k, i in enumerate(true_order)}
    print(f"\nTop {args.top} by the model, against the reference generator ({model.metadata['provenance']['generator'].get('force_calculator')} + phonopy):\n")
    print("| rank | candidate | kind | Cv 300 K model (J/(K cm^3)) | reference | reference rank |")
    print("| --- | --- | --- | --- | --- | --- |")
    for k, i in enumerate(order[:args.top]):
        print(f"| {k + 1} | {names[i]} | {reference[names[i]][2]} | {predicted[i]:.3f} | {truth[i]:.3f} | {rank_of[i]} |")
    rho = spearmanr(predicted, truth).statistic
    print(f"\n{len(rows)} candidates: Spearman rank correlation {rho:.3f}; {len(top & true_top)} of the model's top "
          f"{args.top} are in the reference top {args.top}; Cv(300 K) per volume MAE "
          f"{np.abs(predicted - truth).mean():.4f} J/(K cm^3) (mean {truth.mean():.3f})")
    if not alloys:
        return
    calc = E3DensityCalculator(args.model, temperatures=[100.0, 300.0])
    print("\nAlloys both ways (Cv in J/(K mol-atoms) at 100 / 300 K; the model was trained on ordered crystals only):\n")
    print("| alloy | reference (explicit supercell) | model, explicit supercell | model, virtual crystal | "
          "training domain |")
    print("| --- | --- | --- | --- | --- |")
    errors = {"explicit": [], "virtual crystal": []}
    for row, atoms in alloys:
        ref = (row.cv_atom_100, row.cv_atom_300)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", DomainWarning)
                explicit = calc.get_phonon_dos(atoms).heat_capacity([100.0, 300.0])
                vca = calc.get_phonon_dos(atoms, occupancy=virtual_crystal(atoms, row.composition)).heat_capacity(
                    [100.0, 300.0])
        except UnsupportedElementError as exc:
            print(f"| {row.composition} ({row.prototype}) | {ref[0]:.2f} / {ref[1]:.2f} | - | - | not covered: "
                  f"{str(exc).split(';')[0]} |")
            continue
        errors["explicit"].append(np.abs(explicit - ref))
        errors["virtual crystal"].append(np.abs(vca - ref))
        flagged = sorted({str(w.message).split(": ", 1)[1] for w in caught if issubclass(w.category, DomainWarning)})
        print(f"| {row.composition} ({row.prototype}) | {ref[0]:.2f} / {ref[1]:.2f} | "
              f"{explicit[0]:.2f} / {explicit[1]:.2f} | {vca[0]:.2f} / {vca[1]:.2f} | "
              f"{'flagged: ' + '; '.join(flagged) if flagged else 'inside'} |")
    for way, values in errors.items():
        mae = np.mean(values, axis=0)
        print(f"\n{way}: Cv MAE against the reference {mae[0]:.3f} (100 K) / {mae[1]:.3f} (300 K) J/(K mol-atoms) "
              f"over {len(values)} alloys", end="")
    print()


if __name__ == "__main__":
    main()
