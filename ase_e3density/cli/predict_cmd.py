"""``e3density predict``: charges, dipole, quadrupole (and density or ESP cube files) of a structure or trajectory."""
from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

from ..errors import E3DensityError, ResourceError
from .common import example_path, format_vector, read_structures


def add_parser(sub) -> None:
    pr = sub.add_parser("predict", help="charges, dipole, quadrupole (and a cube file) of structures")
    pr.add_argument("structure", nargs="?", help="any file ASE reads (default: the shipped 20-water cluster)")
    pr.add_argument("--model", help="shipped model name or deployed model file (default: the embedded model)")
    pr.add_argument("--index", default="-1", help="frames of the file (ASE index: -1 last, ':' all, '0:10:2')")
    pr.add_argument("--charge", type=float, help="total charge (default: atoms.info['charge'] or 0)")
    pr.add_argument("-o", "--output", help="write every frame with its results (extxyz: charges, dipole, quadrupole)")
    pr.add_argument("--cube", help="also write the density to this cube file (one frame only)")
    pr.add_argument("--esp-cube", help="also write the electrostatic potential (Hartree/e) to this cube file "
                    "(one frame only)")
    pr.add_argument("--esp-charges", action="store_true",
                    help="also print ESP charges (Merz-Kollman fit to the predicted potential; one frame only)")
    pr.add_argument("--spacing", type=float, default=0.2, help="cube grid spacing in Å")
    pr.add_argument("--device", default="cpu")
    pr.add_argument("--temperatures", default="100,300,500",
                    help="phonon models: temperatures of the thermal properties, K (default: 100,300,500)")
    pr.add_argument("--dos", help="phonon models: write the predicted DOS here (THz, states/(THz atom); one frame)")
    pr.set_defaults(func=run)


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


def run(args: argparse.Namespace) -> int:
    import numpy as np
    from ase.units import Debye

    from ..calculator import E3DensityCalculator

    if args.spacing <= 0:
        raise E3DensityError(f"--spacing must be positive, got {args.spacing}")
    path = args.structure or str(example_path("water_20.xyz"))
    frames = [atoms for _, atoms in read_structures([path], args.index)]
    for flag, value in (("--cube", args.cube), ("--esp-cube", args.esp_cube), ("--esp-charges", args.esp_charges)):
        if value and len(frames) != 1:
            verb = "prints charges of" if flag == "--esp-charges" else "writes"
            raise E3DensityError(f"{flag} {verb} one frame; --index {args.index} selects {len(frames)}")
    if args.cube or args.esp_cube:
        from ..electron.grids import uniform_grid

        uniform_grid(frames[0], args.spacing)  # refuse an absurd grid before any work
    if args.charge is not None:
        for atoms in frames:
            atoms.info["charge"] = args.charge
    start = time.perf_counter()
    calc = E3DensityCalculator(args.model, device=args.device)
    if calc.is_phonon_model:
        return _run_phonons(args, path, frames, calc, start)
    model = calc.model
    trained_on = model.metadata.get("provenance", {}).get("train", "unrecorded data")
    # the names of its training databases (the recorded paths are relative to the training configuration)
    trained_on = " + ".join(Path(t).name for t in (trained_on if isinstance(trained_on, list) else [trained_on]))
    print(f"model:       {args.model or 'default (embedded)'} ({model.basis.name}; trained on {trained_on}; "
          f"checksum {model.checksum[:12]})")
    if len(frames) > 1:
        print(f"structure:   {path}, {len(frames)} frames (--index {args.index})")
        print("| frame | formula | charge | electrons | dipole (e·Å) | |mu| (D) | training domain |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for k, atoms in enumerate(frames):
            reasons = _predict(atoms, calc)
            mu = atoms.get_dipole_moment()
            print(f"| {k} | {atoms.get_chemical_formula()} | {_charge_text(atoms.info.get('charge', 0.0))} | "
                  f"{atoms.info['n_electrons']:.6f} | {format_vector(mu)} | {np.linalg.norm(mu) / Debye:.3f} | "
                  f"{'outside: ' + '; '.join(reasons) if reasons else 'inside'} |", flush=True)
        print(f"{len(frames)} frames in {time.perf_counter() - start:.2f} s (model load included)")
    else:
        atoms = frames[0]
        reasons = _predict(atoms, calc)
        seconds = time.perf_counter() - start
        charges, dipole = atoms.get_charges(), atoms.get_dipole_moment()
        charge = float(atoms.numbers.sum()) - atoms.info["n_electrons"]
        print(f"structure:   {path} ({atoms.get_chemical_formula()}, {len(atoms)} atoms, charge {_charge_text(charge)})")
        print(f"training domain: {'outside: ' + '; '.join(reasons) if reasons else 'inside'}")
        print(f"electrons:   {atoms.info['n_electrons']:.6f}")
        esp = calc.get_esp_charges(calc.atoms) if args.esp_charges else None
        print("charges (e):" + ("  s partition, ESP (Merz-Kollman fit)" if esp is not None else ""))
        for i, (s, q) in enumerate(zip(atoms.get_chemical_symbols(), charges)):
            print(f"  {i:4d} {s:2s} {q:+.4f}" + (f"  {esp[i]:+.4f}" if esp is not None else ""))
        norm = float(np.linalg.norm(dipole))
        print(f"dipole (e·Å, about the centre of mass): {format_vector(dipole)}  |mu| = {norm:.4f} e·Å "
              f"= {norm / Debye:.3f} D")
        print("quadrupole (e·Å², traceless, Buckingham, about the centre of mass):")
        print(format_vector(atoms.info["quadrupole"]))
        print(f"prediction took {seconds:.2f} s (model load included)")
        density = calc.get_atomic_density(calc.atoms) if args.cube or args.esp_cube else None
        if args.cube:
            _write_cube(density.write_cube, args.cube, args.spacing, "cube file:  ", "e/bohr³")
        if args.esp_cube:
            _write_cube(density.write_esp_cube, args.esp_cube, args.spacing, "ESP cube:   ",
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


def _run_phonons(args: argparse.Namespace, path: str, frames, calc, start: float) -> int:
    """Phonon DOS and thermal properties of each crystal, from a phonon-DOS model."""
    import numpy as np

    from ..errors import DomainWarning

    try:
        temps = [float(t) for t in args.temperatures.split(",") if t.strip()]
    except ValueError:
        raise E3DensityError(f"--temperatures takes comma-separated numbers (K), got {args.temperatures!r}") from None
    if args.cube or args.esp_cube or args.esp_charges or args.charge is not None:
        raise E3DensityError("--cube and --charge are for electron-density models (so are --esp-cube and "
                             "--esp-charges); this is a phonon-DOS model")
    if args.dos and len(frames) != 1:
        raise E3DensityError(f"--dos writes one frame; --index {args.index} selects {len(frames)}")
    calc.set(temperatures=temps)
    generator = calc.model.metadata.get("provenance", {}).get("generator", {}).get("force_calculator", "unrecorded")
    print(f"model:       {args.model} (phonon DOS per atom, 0-{calc.model.frequencies[-1]:g} THz; trained on "
          f"{generator} phonons; checksum {calc.model.checksum[:12]})")
    print(f"structure:   {path}, {len(frames)} frame(s)")
    print("| frame | formula | atoms | " + " | ".join(f"Cv {t:g} K" for t in temps)
          + f" | S {temps[-1]:g} K | F {temps[-1]:g} K | Cv {temps[-1]:g} K (J/(K cm^3)) | training domain |")
    print("| --- " * (len(temps) + 7) + "|")
    for k, atoms in enumerate(frames):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DomainWarning)  # reported in the table instead
            cv = np.atleast_1d(calc.get_heat_capacity(atoms))
        r = calc.results
        reasons = r["domain_warnings"]
        print(f"| {k} | {atoms.get_chemical_formula()} | {len(atoms)} | " + " | ".join(f"{v:.3f}" for v in cv)
              + f" | {np.atleast_1d(r['vibrational_entropy'])[-1]:.3f} | {np.atleast_1d(r['vibrational_free_energy'])[-1]:.3f}"
              f" | {np.atleast_1d(r['volumetric_heat_capacity'])[-1]:.4f} | "
              f"{'outside: ' + '; '.join(reasons) if reasons else 'inside'} |", flush=True)
    print("units: Cv and S in J/(K mol-atoms), F in kJ/mol-atoms (harmonic, zero-point energy included)")
    if args.dos:
        dos = calc.get_phonon_dos(frames[0])
        np.savetxt(args.dos, np.column_stack([dos.frequencies, dos.dos]), fmt="%.6f",
                   header="frequency (THz)  DOS per atom (states/THz), integrates to 3")
        print(f"DOS:         {args.dos}")
    print(f"{len(frames)} frame(s) in {time.perf_counter() - start:.2f} s (model load included)")
    return 0
