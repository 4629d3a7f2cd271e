"""CHGNet against SevenNet-0 as phonon reference generators, on crystals with measured phonons.

Command (about 3 min on one core):
    OMP_NUM_THREADS=1 python scripts/compare_phonon_generators.py

Same settings as the training set (data/phonons/README.md): full relaxation to fmax 2e-3 eV/Å, supercell
of minimum width 10 Å, finite displacements of 0.03 Å, Gamma-centred mesh of length 30 Å. Starting
structures: ASE's ``bulk`` with its reference lattice constants (rocksalt and zincblende at the experimental
ones); each generator relaxes them.

Experimental numbers are approximate (read off published inelastic neutron scattering dispersions and
Raman/infrared spectra, to about 3 %). For the semiconductors and the polar crystals the compared frequency is
the optical mode at Gamma (Raman line of Si, Ge, C; the transverse optical TO(Gamma) of GaAs and MgO, since
finite displacements without a non-analytical correction give the TO, not the LO, frequency); for the
metals it is the highest frequency of the whole dispersion.

Prints a markdown table (frequencies in THz, errors in % of experiment, Cv(300 K) in J/(K mol-atoms),
imaginary modes, seconds per crystal), the mean absolute % error per generator and the total time.
"""
from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from ase.build import bulk

# name: (ase.build.bulk arguments, experimental frequency in THz (approximate), what it is)
CRYSTALS = {
    "Si": (("Si", "diamond"), {}, 15.6, "Gamma"),  # Raman 520 cm^-1
    "Ge": (("Ge", "diamond"), {}, 9.1, "Gamma"),  # Raman 301 cm^-1
    "C (diamond)": (("C", "diamond"), {}, 39.9, "Gamma"),  # Raman 1332 cm^-1
    "GaAs": (("GaAs", "zincblende"), {"a": 5.653}, 8.05, "Gamma"),  # TO(Gamma) 268 cm^-1 (LO 8.7)
    "MgO": (("MgO", "rocksalt"), {"a": 4.212}, 12.0, "Gamma"),  # TO(Gamma) 401 cm^-1 (LO 21.9)
    "Cu": (("Cu", "fcc"), {}, 7.3, "max"),
    "Al": (("Al", "fcc"), {}, 9.7, "max"),
    "Ni": (("Ni", "fcc"), {}, 8.9, "max"),
    "Ag": (("Ag", "fcc"), {}, 5.1, "max"),
    "Au": (("Au", "fcc"), {}, 4.6, "max"),
    "Pb": (("Pb", "fcc"), {}, 2.2, "max"),
    "W": (("W", "bcc"), {}, 6.5, "max"),
}
GENERATORS = {"chgnet": "CHGNet", "sevennet": "SevenNet-0"}


def compared_frequency(dos, what: str) -> float:
    """Highest frequency on the mesh, or the highest at Gamma (the first q-point of phonopy's Gamma-centred mesh)."""
    freqs, _ = dos.modes
    return float(np.max(freqs[0])) if what == "Gamma" else float(dos.max_frequency)


def main() -> None:
    import torch

    from ase_e3density.errors import ImaginaryModesWarning
    from ase_e3density.phonon.reference import PhononSettings, calculator_version, get_calculator, reference_phonons

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fmax", type=float, default=2e-3)
    ap.add_argument("--displacement", type=float, default=0.03)
    ap.add_argument("--min-width", type=float, default=10.0)
    ap.add_argument("--mesh", type=float, default=30.0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    settings = PhononSettings(fmax=args.fmax, displacement=args.displacement, min_width=args.min_width,
                              mesh=args.mesh)
    results: dict[str, dict[str, tuple]] = {}
    start = time.perf_counter()
    for key in GENERATORS:
        t0 = time.perf_counter()
        calc = get_calculator(key)
        print(f"# {GENERATORS[key]} {calculator_version(key)}: loaded in {time.perf_counter() - t0:.1f} s", flush=True)
        for name, (bulk_args, kwargs, _exp, what) in CRYSTALS.items():
            settings.calculator = key
            atoms = bulk(*bulk_args, **kwargs)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ImaginaryModesWarning)
                    r = reference_phonons(atoms, calc, settings)
                    cv = r.dos.heat_capacity(300.0)
                results.setdefault(name, {})[key] = (compared_frequency(r.dos, what), cv,
                                                     int(r.dos.n_imaginary_modes or 0), r.seconds)
                print(f"# {key} {name}: {results[name][key]}", flush=True)
            except Exception as exc:  # a relaxation that does not converge
                results.setdefault(name, {})[key] = None
                print(f"# {key} {name}: FAILED {type(exc).__name__}: {exc}", flush=True)
    total = time.perf_counter() - start

    head = ["crystal", "compared", "exp (THz)"]
    for label in GENERATORS.values():
        head += [f"{label} (THz)", f"{label} err"]
    for label in GENERATORS.values():
        head += [f"{label} imag. modes", f"{label} Cv(300 K)", f"{label} s"]
    print("| " + " | ".join(head) + " |")
    print("|" + " --- |" * len(head))
    errors: dict[str, list[float]] = {k: [] for k in GENERATORS}
    for name, (_b, _k, exp, what) in CRYSTALS.items():
        row = [name, "TO(Gamma)" if name in ("GaAs", "MgO") else ("Gamma" if what == "Gamma" else "max"), f"{exp:g}"]
        for key in GENERATORS:
            res = results[name].get(key)
            if res is None:
                row += ["failed", ""]
                continue
            err = 100 * (res[0] - exp) / exp
            errors[key].append(abs(err))
            row += [f"{res[0]:.2f}", f"{err:+.0f} %"]
        for key in GENERATORS:
            res = results[name].get(key)
            row += ["", "", ""] if res is None else [str(res[2]), f"{res[1]:.2f}", f"{res[3]:.1f}"]
        print("| " + " | ".join(row) + " |")
    print()
    for key, label in GENERATORS.items():
        seconds = sum(results[n][key][3] for n in CRYSTALS if results[n].get(key))
        print(f"{label}: mean absolute error {np.mean(errors[key]):.1f} % over {len(errors[key])} crystals, "
              f"{seconds:.0f} s in all")
    print(f"total wall time {total:.0f} s (both generators, model loading included)")


if __name__ == "__main__":
    main()
