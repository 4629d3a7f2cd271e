"""Phonon reference generators (CHGNet, SevenNet-0, SevenNet-l3i5, SevenNet-MF-0) against measured phonons and heat capacities.

Command (35 min wall, 10 CPU min, for the four generators and 27 crystals on one thread; resumable):
    OMP_NUM_THREADS=1 nice -n 10 python scripts/compare_phonon_generators.py \
        --results data/phonons/generator_comparison.json

Crystals and measured numbers: data/phonons/measured/reference_values.csv (approximate handbook values,
data/phonons/measured/README.md). Settings are those of the training set (data/phonons/README_v2.md): full
relaxation to fmax 2e-3 eV/Å, supercell of minimum width 10 Å, finite displacements of 0.03 Å,
Gamma-centred mesh of length 30 Å. Starting structures: ASE's ``bulk`` (at the CSV's lattice constant
where one is given); each generator relaxes them.

Compared frequency (THz), by the CSV's ``compared`` column: ``Gamma``, the mean of the three optical modes at
Gamma (the Raman line of Si, Ge, C); ``TO(Gamma)``, the same for the polar crystals, which is their TO
frequency (finite displacements without a non-analytical correction give no LO splitting); ``E2g``, the mean
of the closest pair of optical modes at Gamma of an hcp crystal; ``max``, the highest mode on the mesh
(metals). The table gives the spread of the averaged modes, which are degenerate in the crystal. Heat
capacity: the generator's harmonic Cv(300 K) per mole of atoms against the measured Cp(298 K); Cp - Cv
(thermal expansion, anharmonicity) and, in metals, the electronic heat capacity are in the measured number
and not in the computed one; nothing is corrected.

Every (generator, crystal) result is stored in the ``--results`` JSON as it comes (a rerun skips those
present), then a markdown table and the summary per generator are printed.
"""
from __future__ import annotations

import argparse
import csv
import json
import platform
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
REFERENCE_CSV = ROOT / "data" / "phonons" / "measured" / "reference_values.csv"
GENERATORS = {"chgnet": "CHGNet", "sevennet-0": "SevenNet-0", "sevennet-l3i5": "SevenNet-l3i5",
              "sevennet-mf-0": "SevenNet-MF-0"}


def _float(text: str) -> float | None:
    return float(text) if text.strip() else None


def load_reference(path: Path) -> dict[str, dict]:
    """The CSV's rows by crystal name, numbers as floats (None where blank)."""
    rows = {}
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            for key in ("a_start", "exp_THz", "cp298_per_atom", "gamma_mJ_mol_K2"):
                row[key] = _float(row[key])
            rows[row["name"]] = row
    return rows


def build(row: dict):
    """The starting structure: ase.build.bulk(symbols, structure[, a])."""
    from ase.build import bulk

    kwargs = {"a": row["a_start"]} if row["a_start"] else {}
    return bulk(row["symbols"], row["structure"], **kwargs)


def gamma_optical(dos) -> list[float]:
    """The optical modes at Gamma (THz, increasing): the first q-point of phonopy's Gamma-centred mesh,
    without its three acoustic modes (checked: within 0.1 THz of zero)."""
    gamma = np.sort(dos.modes[0][0])
    if np.abs(gamma[:3]).max() > 0.1:
        raise ValueError(f"first mesh point is not Gamma (lowest modes {gamma[:3]})")
    return [float(f) for f in gamma[3:]]


def compared_frequency(result: dict, what: str) -> tuple[float | None, float | None]:
    """The frequency (THz) compared with experiment (module docstring) and the relative spread (max - min) /
    mean of the degenerate modes it averages (None for ``max``); (None, None) when nothing is compared.

    ``Gamma`` and ``TO(Gamma)`` are for crystals of two atoms per primitive cell, whose three optical modes at
    Gamma are one triply degenerate mode in the cubic crystal; a supercell of lower symmetry than the crystal
    (phonopy's symmetry-reduced displacements in a non-diagonal supercell) can split them."""
    if not what:
        return None, None
    if what == "max":
        return result["max_frequency"], None
    optical = np.asarray(result["gamma_optical"])
    if what in ("Gamma", "TO(Gamma)"):
        if len(optical) != 3:
            raise ValueError(f"{what} needs two atoms per primitive cell, got {len(optical)} optical modes")
        modes = optical
    elif what == "E2g":  # the closest pair of the three optical modes of hcp
        i = int(np.argmin(np.diff(optical)))
        modes = optical[i:i + 2]
    else:
        raise ValueError(f"unknown compared mode {what!r}")
    mean = float(modes.mean())
    return mean, float((modes.max() - modes.min()) / mean)


def run_one(row: dict, calc, key: str, settings) -> dict:
    """Relax and phonons of one crystal with one generator: the numbers the table needs."""
    from ase_e3density.errors import ImaginaryModesWarning
    from ase_e3density.phonon.reference import reference_phonons

    settings.calculator = key
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImaginaryModesWarning)
        r = reference_phonons(build(row), calc, settings)
        cv = float(r.dos.heat_capacity(300.0))
    return {"gamma_optical": gamma_optical(r.dos), "cv300": cv,
            "max_frequency": float(r.dos.max_frequency), "min_frequency": float(r.dos.min_frequency),
            "n_imaginary_modes": int(r.dos.n_imaginary_modes or 0),
            "imaginary_fraction": float(r.dos.imaginary_fraction),
            "volume_per_atom": float(r.relaxed.get_volume() / len(r.relaxed)),
            "relax_steps": int(r.info.get("relax_steps", 0)), "n_supercell_atoms": int(r.n_supercell_atoms),
            "n_displacements": int(r.n_displacements), "seconds": float(r.seconds)}  # wall clock


def compute(reference: dict, generators: list[str], names: list[str], results: dict, path: Path | None,
            settings) -> None:
    """Fill ``results[generator]['crystals'][name]``, saving the JSON after each crystal."""
    from ase_e3density.phonon.reference import calculator_version, get_calculator, potential_label

    for key in generators:
        entry = results.setdefault(key, {"crystals": {}})
        todo = [n for n in names if n not in entry["crystals"]]
        if not todo:
            continue
        t0 = time.perf_counter()
        calc = get_calculator(key)
        entry.update(potential=potential_label(key), version=calculator_version(key),
                     load_seconds=time.perf_counter() - t0)
        print(f"# {entry['potential']}: loaded in {entry['load_seconds']:.1f} s", flush=True)
        for name in todo:
            cpu0 = time.process_time()
            try:
                entry["crystals"][name] = run_one(reference[name], calc, key, settings)
                entry["crystals"][name]["cpu_seconds"] = time.process_time() - cpu0
            except Exception as exc:  # a relaxation that does not converge
                entry["crystals"][name] = {"failed": f"{type(exc).__name__}: {exc}"}
            print(f"# {key} {name}: {entry['crystals'][name]}", flush=True)
            if path is not None:
                path.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")


def _ok(res: dict | None) -> bool:
    return bool(res) and "failed" not in res


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)] + ["| " + " | ".join(r) + " |" for r in rows]


def summarise(reference: dict, generators: list[str], names: list[str], results: dict) -> list[str]:
    """Markdown: frequencies, heat capacities, imaginary modes and time per crystal, then one summary row per
    generator."""
    labels = [GENERATORS.get(k, k) for k in generators]
    got = {n: [results.get(k, {}).get("crystals", {}).get(n) for k in generators] for n in names}
    freq_rows, cv_rows, cost_rows = [], [], []
    for name in names:
        ref = reference[name]
        exp, cp = ref["exp_THz"], ref["cp298_per_atom"]
        if exp:
            row = [name, ref["compared"], f"{exp:g}"]
            for res in got[name]:
                if not _ok(res):
                    row.append("failed" if res else "")
                    continue
                f, split = compared_frequency(res, ref["compared"])
                row.append(f"{f:.2f} ({100 * (f - exp) / exp:+.0f} %)" + (f", split {100 * split:.0f} %"
                                                                       if split is not None and split >= 0.005 else ""))
            freq_rows.append(row)
        cv_rows.append([name, ref["class"], f"{cp:.2f}" if cp else ""]
                       + [f"{res['cv300']:.2f}" if _ok(res) else ("failed" if res else "") for res in got[name]])
        cost_rows.append([name] + [f"{res['n_imaginary_modes']} ({100 * res['imaginary_fraction']:.1f} %)"
                                   if _ok(res) and res["n_imaginary_modes"] else ("0" if _ok(res) else "")
                                   for res in got[name]]
                         + [f"{res['seconds']:.0f}" if _ok(res) else "" for res in got[name]])
    lines = ["Frequencies (THz; error against experiment; split: spread of the averaged degenerate modes):", ""]
    lines += _table(["crystal", "compared", "exp."] + labels, freq_rows)
    lines += ["", "Cv(300 K) computed against Cp(298 K) measured, J/(K mol-atoms):", ""]
    lines += _table(["crystal", "class", "Cp meas."] + labels, cv_rows)
    lines += ["", "Imaginary modes on the mesh (fraction of all modes) and wall seconds per crystal:", ""]
    lines += _table(["crystal"] + [f"{lab} imag." for lab in labels] + [f"{lab} s" for lab in labels], cost_rows)
    summary = []
    for key, label in zip(generators, labels):
        entry = results.get(key, {})
        done = {n: entry["crystals"][n] for n in names if n in entry.get("crystals", {})}
        ok = {n: r for n, r in done.items() if _ok(r)}
        ferr = [abs(100 * (compared_frequency(r, reference[n]["compared"])[0] - reference[n]["exp_THz"])
                    / reference[n]["exp_THz"]) for n, r in ok.items() if reference[n]["exp_THz"]]
        dcv = {n: r["cv300"] - reference[n]["cp298_per_atom"] for n, r in ok.items() if reference[n]["cp298_per_atom"]}
        metal = {n for n in dcv if reference[n]["class"] in ("metal", "3d magnetic")}

        def mae(values):
            values = list(values)
            return f"{np.mean(np.abs(values)):.2f} ({len(values)})" if values else ""

        seconds = sum(r["seconds"] for r in ok.values())
        cpu = sum(r.get("cpu_seconds", np.nan) for r in ok.values())
        summary.append([label, entry.get("potential", ""), f"{np.mean(ferr):.1f} ({len(ferr)})" if ferr else "",
                        mae(dcv.values()), f"{np.mean(list(dcv.values())):+.2f}" if dcv else "",
                        mae(v for n, v in dcv.items() if n not in metal), mae(v for n, v in dcv.items() if n in metal),
                        f"{sum(r['n_imaginary_modes'] > 0 for r in ok.values())} of {len(ok)}",
                        str(len(done) - len(ok)), f"{seconds / len(ok):.0f}" if ok else "", f"{seconds:.0f}",
                        f"{cpu:.0f}", f"{entry.get('load_seconds', np.nan):.0f}"])
    lines += ["", "Summary (MAE: mean absolute error, number of crystals in brackets; Cv - Cp in J/(K mol-atoms)):", ""]
    lines += _table(["generator", "potential", "freq. MAE %", "Cv-Cp MAE", "Cv-Cp mean", "Cv-Cp MAE non-metals",
                     "Cv-Cp MAE metals", "with imag. modes", "failed", "wall s per crystal", "wall s", "CPU s",
                     "load s"], summary)
    return lines


def main() -> None:
    import torch

    from ase_e3density.phonon.reference import PhononSettings

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--generators", nargs="+", default=list(GENERATORS), help="calculator names (get_calculator)")
    ap.add_argument("--crystals", nargs="+", default=None, help="names from the CSV (default: all)")
    ap.add_argument("--reference", type=Path, default=REFERENCE_CSV)
    ap.add_argument("--results", type=Path, default=None, help="JSON of the results, read and extended")
    ap.add_argument("--table-only", action="store_true", help="print the table from --results, compute nothing")
    ap.add_argument("--fmax", type=float, default=2e-3)
    ap.add_argument("--displacement", type=float, default=0.03)
    ap.add_argument("--min-width", type=float, default=10.0)
    ap.add_argument("--mesh", type=float, default=30.0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    reference = load_reference(args.reference)
    names = args.crystals or list(reference)
    unknown = [n for n in names if n not in reference]
    if unknown:
        raise SystemExit(f"not in {args.reference}: {', '.join(unknown)}")
    results = json.loads(args.results.read_text()) if args.results and args.results.exists() else {}
    settings = PhononSettings(fmax=args.fmax, displacement=args.displacement, min_width=args.min_width,
                              mesh=args.mesh)
    if not args.table_only:
        start = time.perf_counter()
        compute(reference, args.generators, names, results, args.results, settings)
        print(f"# wall time of this run {time.perf_counter() - start:.0f} s on {platform.node()}, "
              f"torch {torch.__version__}, {torch.get_num_threads()} thread", flush=True)
    print("\n".join(summarise(reference, args.generators, names, results)))


if __name__ == "__main__":
    main()
