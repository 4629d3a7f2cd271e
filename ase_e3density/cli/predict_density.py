"""``e3density predict`` for electron-density models: charges, dipole, quadrupole, cube files."""
from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

from ..errors import E3DensityError, ResourceError
from .common import format_vector, frame_names
from .predict_cmd import refuse_options

__all__ = ["predict"]


def _charge_text(value: float) -> str:
    value = 0.0 if abs(value) < 5e-7 else value
    return f"{value:+g}" if value else "0"


def _predict(atoms, calc) -> list[str]:
    """Attach ``calc``, compute every property, and return the domain warnings."""
    from ase.calculators.singlepoint import SinglePointCalculator

    from ..errors import DomainWarning

    atoms.calc = calc
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DomainWarning)  # reported in the output instead
        charges, dipole = atoms.get_charges(), atoms.get_dipole_moment()
        quadrupole = calc.get_quadrupole(atoms)
    reasons = list(calc.results["domain_warnings"])
    # a snapshot, so that the frame keeps its own numbers after the shared calculator moves on
    atoms.calc = SinglePointCalculator(atoms, charges=charges, dipole=dipole)
    atoms.info["quadrupole"] = quadrupole
    atoms.info["n_electrons"] = calc.results["n_electrons"]
    return reasons


def predict(args: argparse.Namespace, path: str, frames: list, calc, start: float) -> int:
    """Charges, dipole and quadrupole of each frame (and cube files of one), from an electron-density model."""
    import numpy as np
    from ase.units import Debye

    from ..calculator.density import CUBE_SPACING, ESP_CUBE_SPACING

    refuse_options(args, ("temperatures", "dos"), "electron density")
    if args.spacing is not None and not (args.cube or args.esp_cube):
        raise E3DensityError("--spacing sets the grid of --cube and --esp-cube; give one of them")
    if args.spacing is not None and not args.spacing > 0:
        raise E3DensityError(f"--spacing must be positive, got {args.spacing}")
    spacing, esp_spacing = (CUBE_SPACING, ESP_CUBE_SPACING) if args.spacing is None else (args.spacing, args.spacing)
    for flag, value in (("--cube", args.cube), ("--esp-cube", args.esp_cube), ("--esp-charges", args.esp_charges),
                        ("--hirshfeld-charges", args.hirshfeld_charges)):
        if value and len(frames) != 1:
            verb = "prints charges of" if flag.endswith("-charges") else "writes"
            raise E3DensityError(f"{flag} {verb} one frame; --index {args.index} selects {len(frames)}")
    for given, step in ((args.cube, spacing), (args.esp_cube, esp_spacing)):
        if given:
            calc.check_grid(frames[0], step)  # refuse an absurd grid before any work
    if args.hirshfeld_charges:
        calc.check_hirshfeld(frames[0])  # a periodic structure or an element beyond Ar: refused before any work
    if args.charge is not None:
        for atoms in frames:
            atoms.info["charge"] = args.charge
    model = calc.model
    trained_on = model.metadata.get("provenance", {}).get("train", "unrecorded data")
    # the names of its training databases (the recorded paths are relative to the training configuration)
    trained_on = " + ".join(Path(t).name for t in (trained_on if isinstance(trained_on, list) else [trained_on]))
    print(f"model:       {args.model or 'default (embedded)'} ({model.basis.name}; trained on {trained_on}; "
          f"checksum {model.checksum[:12]})")
    if len(frames) > 1:
        print(f"structure:   {path}, {len(frames)} frames (--index {args.index})")
        names = frame_names(frames)
        print("| frame | " + ("name | " if names else "") + "formula | charge | electrons | dipole (e·Å) | |mu| (D) | "
              "training domain |")
        print("| --- " * (7 + bool(names)) + "|")
        for k, atoms in enumerate(frames):
            reasons = _predict(atoms, calc)
            mu = atoms.get_dipole_moment()
            print(f"| {k} | " + (f"{names[k]} | " if names else "") + f"{atoms.get_chemical_formula()} | {_charge_text(atoms.info.get('charge', 0.0))} | "
                  f"{atoms.info['n_electrons']:.6f} | {format_vector(mu)} | {np.linalg.norm(mu) / Debye:.3f} | "
                  f"{'outside: ' + '; '.join(reasons) if reasons else 'inside'} |", flush=True)
        print(f"{len(frames)} frames in {time.perf_counter() - start:.2f} s (model load included)")
    else:
        atoms = frames[0]
        reasons = _predict(atoms, calc)
        seconds = time.perf_counter() - start
        charges, dipole = atoms.get_charges(), atoms.get_dipole_moment()
        charge = float(atoms.numbers.sum()) - atoms.info["n_electrons"]
        name = f" {atoms.info['name']}" if atoms.info.get("name") else ""
        print(f"structure:   {path}{name} ({atoms.get_chemical_formula()}, {len(atoms)} atoms, charge {_charge_text(charge)})")
        print(f"training domain: {'outside: ' + '; '.join(reasons) if reasons else 'inside'}")
        print(f"electrons:   {atoms.info['n_electrons']:.6f}")
        columns = [("s partition", charges)]
        if args.esp_charges:
            columns.append(("ESP (Merz-Kollman fit)", calc.get_esp_charges(calc.atoms)))
        if args.hirshfeld_charges:
            columns.append(("Hirshfeld", calc.get_hirshfeld_charges(calc.atoms)))
        print("charges (e):" + ("  " + ", ".join(name for name, _ in columns) if len(columns) > 1 else ""))
        for i, s in enumerate(atoms.get_chemical_symbols()):
            print(f"  {i:4d} {s:2s} " + "  ".join(f"{q[i]:+.4f}" for _, q in columns))
        norm = float(np.linalg.norm(dipole))
        print(f"dipole (e·Å, about the centre of mass): {format_vector(dipole)}  |mu| = {norm:.4f} e·Å "
              f"= {norm / Debye:.3f} D")
        print("quadrupole (e·Å², traceless, Buckingham, about the centre of mass):")
        print(format_vector(atoms.info["quadrupole"]))
        print(f"prediction took {seconds:.2f} s (model load included)")
        density = calc.get_atomic_density(calc.atoms) if args.cube or args.esp_cube else None
        if args.cube:
            _write_cube(density.write_cube, args.cube, spacing, "cube file:  ", "e/bohr³")
        if args.esp_cube:
            _write_cube(density.write_esp_cube, args.esp_cube, esp_spacing, "ESP cube:   ",
                        "Hartree/e, nuclei included")
    if args.output:
        from ase.io import write

        write(args.output, frames, format="extxyz")
        print(f"frames with results: {args.output}")
    return 0


def _write_cube(write, path: str, spacing: float, label: str, units: str) -> None:
    """Write one cube file with ``write(path, spacing=...)`` and say what was written."""
    start = time.perf_counter()
    try:
        grid = write(path, spacing=spacing)
    except ResourceError as exc:
        raise ResourceError(f"{exc} (--spacing)") from exc
    print(f"{label} {path} ({grid.shape[0]}x{grid.shape[1]}x{grid.shape[2]} points, {spacing} Å spacing, "
          f"{units}; {time.perf_counter() - start:.1f} s)")
