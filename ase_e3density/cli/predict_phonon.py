"""``e3density predict`` for phonon-DOS models: DOS and thermal properties of crystals and alloys."""
from __future__ import annotations

import argparse
import time
import warnings

from ..errors import E3DensityError
from .common import frame_names, parse_temperatures
from .predict_cmd import refuse_options

__all__ = ["predict"]


def predict(args: argparse.Namespace, path: str, frames: list, calc, start: float) -> int:
    """Phonon DOS and thermal properties of each crystal, from a phonon-DOS model."""
    import numpy as np

    from ..errors import DomainWarning

    temps = list(parse_temperatures(args.temperatures or "100,300,500"))
    refuse_options(args, ("cube", "esp_cube", "esp_charges", "hirshfeld_charges", "charge", "spacing"),
                   "phonon density of states")
    if args.dos and len(frames) != 1:
        raise E3DensityError(f"--dos writes one frame; --index {args.index} selects {len(frames)}")
    calc.set(temperatures=temps)
    generator = calc.model.metadata.get("provenance", {}).get("generator", {}).get("force_calculator", "unrecorded")
    print(f"model:       {args.model} (phonon DOS per atom, 0-{calc.model.frequencies[-1]:g} THz; trained on "
          f"{generator} phonons; checksum {calc.model.checksum[:12]})")
    print(f"structure:   {path}, {len(frames)} frame(s)")
    names = frame_names(frames)
    print("| frame | " + ("name | " if names else "") + "formula | atoms | " + " | ".join(f"Cv {t:g} K" for t in temps)
          + f" | S {temps[-1]:g} K | F {temps[-1]:g} K | Cv {temps[-1]:g} K (J/(K cm^3)) | training domain |")
    print("| --- " * (len(temps) + 7 + bool(names)) + "|")
    for k, atoms in enumerate(frames):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DomainWarning)  # reported in the table instead
            cv = np.atleast_1d(calc.get_heat_capacity(atoms))
            formula = calc.get_phonon_dos(atoms).info["composition"]  # a virtual crystal's, not its majority atoms'
        r = calc.results
        reasons = r["domain_warnings"]
        print(f"| {k} | " + (f"{names[k]} | " if names else "") + f"{formula} | {len(atoms)} | " + " | ".join(f"{v:.3f}" for v in cv)
              + f" | {np.atleast_1d(r['vibrational_entropy'])[-1]:.3f} | {np.atleast_1d(r['vibrational_free_energy'])[-1]:.3f}"
              f" | {np.atleast_1d(r['volumetric_heat_capacity'])[-1]:.4f} | "
              f"{'outside: ' + '; '.join(reasons) if reasons else 'inside'} |", flush=True)
        _keep_results(atoms, temps, r)
    print("units: Cv and S in J/(K mol-atoms), F in kJ/mol-atoms (harmonic, zero-point energy included)")
    if args.dos:
        dos = calc.get_phonon_dos(frames[0])
        np.savetxt(args.dos, np.column_stack([dos.frequencies, dos.dos]), fmt="%.6f",
                   header="frequency (THz)  DOS per atom (states/THz), integrates to 3")
        print(f"DOS:         {args.dos}")
    if args.output:
        from ase.io import write

        write(args.output, frames, format="extxyz")
        print(f"frames with results: {args.output} (info: Cv, S in J/(K mol-atoms), F in kJ/mol-atoms per temperature)")
    print(f"{len(frames)} frame(s) in {time.perf_counter() - start:.2f} s (model load included)")
    return 0


def _keep_results(atoms, temps: list[float], results: dict) -> None:
    """A frame's own copy of its thermal properties, in ``atoms.info`` (one key per temperature), and no
    calculator left attached: the frame keeps its numbers after the shared calculator moves on."""
    import numpy as np

    columns = {"cv": "heat_capacity", "s": "vibrational_entropy", "f": "vibrational_free_energy",
               "cv_vol": "volumetric_heat_capacity"}
    for short, name in columns.items():
        for t, value in zip(temps, np.atleast_1d(results[name])):
            atoms.info[f"{short}_{t:g}"] = float(value)
    atoms.info["domain_warnings"] = "; ".join(results["domain_warnings"]) or "inside"
    atoms.calc = None
