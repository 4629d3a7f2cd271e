"""Calibrate a phonon-DOS model's domain warnings: how well each candidate rule foretells a large error.

    OMP_NUM_THREADS=1 python scripts/phonon_warning_calibration.py MODEL DB \
        [--markdown OUT.md] [--json OUT.json] [--write MODEL_OUT] [--large-w1 1.0] [--large-cv 1.0]

MODEL is a deployed phonon-DOS file whose provenance holds its split by uid (every file the phonon trainer
writes); DB the `e3density phonons` database it was trained on (or one holding the same uids). For every
crystal of the model's validation, test and held-out sets, and for every alloy row of DB (``alloy`` = 1)
not trained on, both as its explicit supercell and as a virtual crystal (its relaxed cell, each mixed site
carrying the alloy's ``composition``), the script computes the errors against the reference (the Wasserstein
distance W1 in THz and |ΔCv| at 100 and 300 K in J/(K mol-atoms), through `e3density evaluate`'s
:func:`evaluate_phonon_model` for the splits) and every candidate flag. A crystal's error is **large** when
W1 > ``--large-w1`` THz or |ΔCv(300 K)| > ``--large-cv`` J/(K mol-atoms).

For each rule it prints, per group and pooled over validation + test + held out: the share of crystals
flagged, precision P(large | flagged) and recall P(flagged | large), as counts; and which of the routine
crystals (bcc W and Ta, fcc Cu, zincblende GaAs, the Cu0.5Ni0.5 virtual crystal, ASE's lattice constants)
each rule flags. The rows "current rule" and "calibrated rule" are what the package itself reports
(:func:`~ase_e3density.graph.domain.pair_report`, the rule of files without ``domain["warnings"]``, and
:func:`~ase_e3density.graph.domain.light_atom_report`, the rule of files with it).

Per-element training counts and first-shell pairs of the training crystals come from DB's rows of the
model's training split (the file's own ``element_crystals`` where it has them). ``--write`` writes a copy
of MODEL (weights bit for bit) whose domain holds ``element_crystals`` and the calibrated rule's settings,
so that it warns by the calibrated rule; a model trained with this version of the package records both itself.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np
from ase.build import bulk
from ase.data import atomic_masses, atomic_numbers, chemical_symbols

from ase_e3density.graph.domain import (PHONON_WARNINGS, edge_lengths, element_crystals, light_atom_report,
                                        pair_report, with_phonon_warnings)
from ase_e3density.models import load_model
from ase_e3density.phonon.database import read_phonon_dos
from ase_e3density.phonon.targets import compare_dos, dos_on_grid
from ase_e3density.train.phonon.data import read_rows, reference_cv
from ase_e3density.train.phonon.evaluate import evaluate_phonon_model

SPLITS = ("validation", "test", "held_out")
GROUPS = (*SPLITS, "alloys", "alloys_vca")
POOLED = "pooled"
TEMPERATURES = (100.0, 300.0)  # K
FIRST_SHELL = 1.2
"""An atom's first shell: its neighbours within this factor of its nearest-neighbour distance."""
ROUTINE = (("W", lambda: bulk("W"), None), ("Ta", lambda: bulk("Ta"), None), ("Cu", lambda: bulk("Cu"), None),
           ("GaAs", lambda: bulk("GaAs", "zincblende", 5.65), None),
           ("Cu0.5Ni0.5", lambda: bulk("Cu", "fcc", 3.59), [{"Cu": 0.5, "Ni": 0.5}]))


def pair_name(a: int, b: int) -> str:
    a, b = sorted((int(a), int(b)))
    return f"{chemical_symbols[a]}-{chemical_symbols[b]}"


def first_shell_pairs(sites: list[np.ndarray], edge_index: np.ndarray, lengths: np.ndarray) -> set[str]:
    """Element pairs that meet in some atom's first shell (within :data:`FIRST_SHELL` x its nearest-neighbour
    distance), every element of a mixed site with every one of its neighbour's."""
    receiver, sender = edge_index
    nearest = np.full(len(sites), np.inf)
    np.minimum.at(nearest, receiver, lengths)
    keep = lengths <= FIRST_SHELL * nearest[receiver]
    return {pair_name(a, b) for i, j in zip(receiver[keep], sender[keep]) for a in sites[i] for b in sites[j]}


def site_numbers(model, fractions: np.ndarray) -> list[np.ndarray]:
    numbers = np.array([atomic_numbers[s] for s in model.species])
    return [numbers[row > 0] for row in fractions]


def top_frequency(grid: np.ndarray, dos: np.ndarray, share: float = 0.99) -> float:
    """The frequency (THz) below which ``share`` of the modes of a DOS (normalised to 3) lie."""
    cumulative = np.cumsum(dos) * (grid[1] - grid[0]) / 3.0
    return float(np.interp(share, cumulative, grid))


class Calibration:
    """One model and database: the training statistics, each crystal's errors and features, the rules."""

    def __init__(self, model_path, db_path, large_w1: float = 1.0, large_cv: float = 1.0):
        self.model = load_model(model_path)
        self.db_path = str(db_path)
        self.large_w1, self.large_cv = float(large_w1), float(large_cv)
        metadata = self.model.metadata
        provenance = metadata.get("provenance", {})
        self.split = provenance.get("split")
        if not self.split or "domain" not in metadata:
            sys.exit(f"{model_path}: no split by uid or no training domain in its metadata (not a file of the "
                     "phonon trainer)")
        fraction = float(provenance.get("train_config", {}).get("max_imaginary_fraction", 0.01))
        self.rows, _ = read_rows(self.db_path, None, fraction)
        self.old_domain = {k: v for k, v in metadata["domain"].items() if k not in ("element_crystals", "warnings")}
        self.training_statistics()
        self.records: list[dict] = []
        self.skipped: list[str] = []  # alloy rows with elements the model lacks

    def training_statistics(self) -> None:
        """Per-element training crystal counts and first-shell pairs from the training split's rows."""
        train = set(self.split.get("train", []))
        crystals, shells = [], set()
        for row in self.rows:
            if row.uid in train:
                atoms = row.toatoms()
                graph = self.model.checked_graph(atoms)
                lengths = edge_lengths(atoms.positions, graph[2], graph[3])
                shells |= first_shell_pairs(site_numbers(self.model, graph[1]), graph[2], lengths)
                crystals.append(atoms.get_chemical_symbols())
        recorded = self.model.metadata["domain"].get("element_crystals")
        self.n_train_rows = len(crystals)
        self.counts = dict(recorded) if recorded is not None else element_crystals(crystals)
        self.train_shells = shells if crystals else None
        settings = self.model.metadata["domain"].get("warnings", PHONON_WARNINGS)
        self.new_domain = with_phonon_warnings(self.old_domain, self.counts, settings)

    def features(self, atoms, occupancy=None) -> dict:
        """Everything a rule may look at: the package's own reports (current and calibrated rule) and the
        candidates' raw numbers."""
        graph = self.model.checked_graph(atoms, occupancy)
        edges = graph[2]
        lengths = edge_lengths(atoms.positions, edges, graph[3])
        sites = site_numbers(self.model, graph[1])
        domain = self.old_domain
        shells = first_shell_pairs(sites, edges, lengths)
        within = {pair_name(a, b) for i, j in edges.T for a in sites[i] for b in sites[j]}
        elements = sorted({chemical_symbols[int(z)] for s in sites for z in s}, key=atomic_numbers.__getitem__)
        receiver, sender = edges
        seen = np.array([domain["shortest"].get(pair_name(a, b), np.nan)
                         for a, b in zip(atoms.numbers[receiver], atoms.numbers[sender])])
        counts = np.bincount(receiver, minlength=len(atoms))
        nearest = np.full(len(atoms), np.inf)
        np.minimum.at(nearest, receiver, lengths)
        symbols = atoms.get_chemical_symbols()
        most = np.array([domain["most_neighbours"].get(s, np.inf) for s in symbols])
        farthest = np.array([domain["farthest_nearest"].get(s, np.inf) for s in symbols])
        values = self.model.forward([graph])[0]
        grid = self.model.frequencies
        return {
            "elements": elements,
            "current": pair_report(domain, atoms.numbers, sites, edges, lengths),
            "calibrated": light_atom_report(self.new_domain, atoms.numbers, sites, edges, lengths),
            "unseen_pairs": sorted(within - set(domain["shortest"])),
            "unseen_shell_pairs": sorted(shells - set(domain["shortest"])),
            "unseen_shell_as_shell": None if self.train_shells is None else sorted(shells - self.train_shells),
            "training_crystals": {e: int(self.counts.get(e, 0)) for e in elements},
            "lightest_amu": float(min(atomic_masses[atomic_numbers[e]] for e in elements)),
            "closest_over_seen": float(np.nanmin(lengths / seen)) if np.isfinite(seen).any() else None,
            "crowding": float((counts / most).max()),
            "isolation": float((np.minimum(nearest, domain["cutoff"]) / farthest).max()),
            "predicted_top_thz": top_frequency(grid, values),
            "predicted_above_25_thz": float(1.0 - np.interp(25.0, grid, np.cumsum(values) * (grid[1] - grid[0]) / 3.0)),
            "_values": values,
        }

    def add(self, group: str, name: str, atoms, occupancy, errors: dict | None, prototype: str = "") -> dict:
        record = {"group": group, "name": name, "prototype": prototype, **self.features(atoms, occupancy)}
        if errors is not None:
            record.update(errors)
            record["large"] = bool(errors["w1"] > self.large_w1 or errors["dcv_300"] > self.large_cv)
        record.pop("_values")
        self.records.append(record)
        return record

    def evaluate_splits(self) -> None:
        """The validation, test and held-out crystals, their errors by `e3density evaluate`'s code path."""
        for split in SPLITS:
            uids = set(self.split.get(split, []))
            rows = [r for r in self.rows if r.uid in uids]
            if not rows:
                continue
            result = evaluate_phonon_model(self.model, self.db_path, split=split, temperatures=TEMPERATURES)
            per = result["per_structure"]
            if per["name"] != [str(r.get("name", r.formula)) for r in rows]:
                raise RuntimeError(f"{split}: the evaluation's rows are not the database's rows in order")
            for k, row in enumerate(rows):
                predicted, reference = per["cv_predicted"][k], per["cv_reference"][k]
                errors = {"w1": per["wasserstein"][k], "dcv_100": abs(predicted[0] - reference[0]),
                          "dcv_300": abs(predicted[1] - reference[1])}
                self.add(split, per["name"][k], read_phonon_dos(row).atoms, None, errors, per["prototype"][k])

    def evaluate_alloys(self) -> None:
        """Alloy rows not trained on: the explicit supercell and the virtual crystal of the same relaxed cell,
        each against the supercell's reference."""
        train, known = set(self.split.get("train", [])), set(self.model.species)
        for row in self.rows:
            if not row.get("alloy") or row.uid in train:
                continue
            dos = read_phonon_dos(row)
            if not set(dos.atoms.get_chemical_symbols()) <= known:
                self.skipped.append(str(row.get("name", row.formula)))
                continue
            reference = dos_on_grid(dos, self.model.frequencies)
            mesh_cv = reference_cv(row, dos, TEMPERATURES)
            mix = {s: float(x) for s, x in re.findall(r"([A-Z][a-z]?)(\d*\.\d+)", str(row.get("composition", "")))}
            virtual = [dict(mix) if s in mix else None for s in dos.atoms.get_chemical_symbols()]
            name = str(row.get("name", row.formula))
            for group, occupancy in (("alloys", None), ("alloys_vca", virtual if mix else None)):
                if group == "alloys_vca" and not mix:
                    continue
                graph = self.model.checked_graph(dos.atoms, occupancy)
                errors = compare_dos(self.model.frequencies, self.model.forward([graph]), reference[None], TEMPERATURES,
                                     reference_cv=mesh_cv[None])["per_structure"]
                self.add(group, name + ("-vca" if occupancy else ""), dos.atoms, occupancy,
                         {"w1": errors["wasserstein"][0], "dcv_100": abs(errors["cv_predicted"][0][0] - mesh_cv[0]),
                          "dcv_300": abs(errors["cv_predicted"][0][1] - mesh_cv[1])}, str(row.get("prototype", "")))

    def evaluate_routine(self) -> None:
        """The routine crystals whose elements the model knows: flags only (no reference)."""
        known = set(self.model.species)
        for name, build, occupancy in ROUTINE:
            atoms = build()
            elements = set(atoms.get_chemical_symbols()) | {s for site in occupancy or [] for s in site}
            if elements <= known:
                self.add("routine", name, atoms, occupancy, None)

    def rules(self) -> dict:
        """Candidate rules: name -> predicate on a record."""
        def light(m):
            return lambda r: r["lightest_amu"] < m

        def scarce(k):
            return lambda r: min(r["training_crystals"].values()) < k

        def closer(f):
            return lambda r: r["closest_over_seen"] is not None and r["closest_over_seen"] < f

        rules = {
            "current rule (any warning)": lambda r: bool(r["current"]),
            "calibrated rule (any warning)": lambda r: bool(r["calibrated"]),
            "element pair never met within the cutoff": lambda r: bool(r["unseen_pairs"]),
            f"first-shell pair (<= {FIRST_SHELL:g} x nearest) never met within the cutoff":
                lambda r: bool(r["unseen_shell_pairs"]),
        }
        if self.train_shells is not None:
            rules["first-shell pair never first-shell in training"] = lambda r: bool(r["unseen_shell_as_shell"])
        rules.update({
            "pair closer than 0.9 x shortest seen": closer(0.9),
            "pair closer than 0.75 x shortest seen": closer(0.75),
            "more than 1.5 x the most neighbours seen": lambda r: r["crowding"] > 1.5,
            "more than 2 x the most neighbours seen": lambda r: r["crowding"] > 2.0,
            "nearest neighbour beyond 1.5 x farthest seen": lambda r: r["isolation"] > 1.5,
            "element in no training crystal": scarce(1),
            "element in < 3 training crystals": scarce(3),
            "element in < 5 training crystals": scarce(5),
            "lightest element < 17 amu": light(17.0),
            "lightest element < 20 amu": light(20.0),
            "lightest element < 25 amu": light(25.0),
            "predicted DOS: > 1 % of modes above 25 THz": lambda r: r["predicted_above_25_thz"] > 0.01,
            "predicted DOS: 99 % of modes reach >= 15 THz": lambda r: r["predicted_top_thz"] >= 15.0,
            "predicted DOS: 99 % of modes reach >= 18 THz": lambda r: r["predicted_top_thz"] >= 18.0,
            "lightest < 20 amu or element in no training crystal": lambda r: light(20.0)(r) or scarce(1)(r),
        })
        return rules

    def table(self) -> dict:
        """rule -> group -> (crystals, flagged, flagged and large, large), and the routine crystals flagged."""
        out = {}
        groups = {g: [r for r in self.records if r["group"] == g] for g in GROUPS}
        groups[POOLED] = [r for r in self.records if r["group"] in SPLITS]
        for name, rule in self.rules().items():
            row = {}
            for group, records in groups.items():
                if records:
                    flagged = [rule(r) for r in records]
                    large = [r["large"] for r in records]
                    row[group] = (len(records), sum(flagged), sum(f and b for f, b in zip(flagged, large)), sum(large))
            row["routine"] = [r["name"] for r in self.records if r["group"] == "routine" and rule(r)]
            out[name] = row
        return out

    def run(self) -> dict:
        self.evaluate_splits()
        self.evaluate_alloys()
        self.evaluate_routine()
        return self.table()


def cell(counts) -> str:
    """'rate · TP/flagged · TP/large' of one group: flag rate, precision and recall as counts."""
    n, flagged, hit, large = counts
    return f"{flagged / n:.0%} · {hit}/{flagged} · {hit}/{large}"


def markdown(calibration: Calibration, table: dict) -> list[str]:
    groups = [g for g in (*GROUPS, POOLED) if g in next(iter(table.values()))]
    sizes = {g: next(iter(table.values()))[g] for g in groups}
    lines = [f"Large error: W1 > {calibration.large_w1:g} THz or |ΔCv(300 K)| > {calibration.large_cv:g} "
             "J/(K mol-atoms). "
             "Each cell: share flagged · large among flagged (precision) · flagged among large (recall). "
             + "; ".join(f"{g}: {sizes[g][3]} large of {sizes[g][0]}" for g in groups) + ".", "",
             "| rule | " + " | ".join(g.replace("_", " ") for g in groups) + " | routine crystals flagged |",
             "| --- | " + " | ".join("---" for _ in groups) + " | --- |"]
    for name, row in table.items():
        lines.append(f"| {name} | " + " | ".join(cell(row[g]) for g in groups) + " | "
                     + (", ".join(row["routine"]) or "none") + " |")
    return lines


def crystal_lines(calibration: Calibration) -> list[str]:
    lines = ["| group | crystal | W1 (THz) | ΔCv 100 K | ΔCv 300 K | large | current rule | calibrated rule |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in calibration.records:
        errors = (f"{r['w1']:.2f} | {r['dcv_100']:.2f} | {r['dcv_300']:.2f} | {'yes' if r['large'] else ''}"
                  if "w1" in r else " | | | ")
        lines.append(f"| {r['group']} | {r['name']} | {errors} | {'; '.join(r['current'])} | "
                     f"{'; '.join(r['calibrated'])} |")
    return lines


def write_with_warnings(model_path, output, calibration: Calibration, command: str) -> Path:
    """A copy of ``model_path`` whose domain holds ``element_crystals`` and the calibrated rule's settings,
    the scripted network, weights and program unchanged; ``provenance.domain_updates`` records the step."""
    from ase_e3density.models.upgrade import rewrite_domain

    return rewrite_domain(model_path, output, calibration.new_domain,
                          {"fields": ["element_crystals", "warnings"], "training_rows": calibration.n_train_rows,
                           "command": command})


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("db")
    parser.add_argument("--large-w1", type=float, default=1.0, help="THz (default 1.0)")
    parser.add_argument("--large-cv", type=float, default=1.0, help="|ΔCv(300 K)|, J/(K mol-atoms) (default 1.0)")
    parser.add_argument("--markdown", help="write the tables here")
    parser.add_argument("--json", help="write the per-crystal records and the table here")
    parser.add_argument("--write", help="write a copy of MODEL that warns by the calibrated rule here")
    args = parser.parse_args(argv)
    calibration = Calibration(args.model, args.db, args.large_w1, args.large_cv)
    table = calibration.run()
    recorded = "element_crystals" in calibration.model.metadata["domain"]
    source = "the file" if recorded else f"{calibration.n_train_rows} training rows of DB"
    lines = [f"{args.model} on {args.db} (training crystals per element from {source})", "",
             *markdown(calibration, table)]
    if calibration.skipped:
        lines += ["", f"Alloy rows left out (elements the model lacks): {', '.join(calibration.skipped)}"]
    routine = [r for r in calibration.records if r["group"] == "routine"]
    if routine:
        lines += ["", "Routine crystals:"]
        lines += [f"- {r['name']}: current rule: {'; '.join(r['current']) or 'quiet'}; calibrated rule: "
                  f"{'; '.join(r['calibrated']) or 'quiet'}" for r in routine]
    print("\n".join(lines))
    if args.markdown:
        Path(args.markdown).write_text("\n".join([*lines, "", *crystal_lines(calibration)]) + "\n")
    if args.json:
        Path(args.json).write_text(json.dumps({"table": table, "records": calibration.records}, indent=1))
    if args.write:
        command = "python scripts/phonon_warning_calibration.py " + " ".join(sys.argv[1:] if argv is None else argv)
        print(f"wrote {write_with_warnings(args.model, args.write, calibration, command)} (calibrated rule: "
              f"{json.dumps(calibration.new_domain['warnings'])})")
    return {"table": table, "records": calibration.records, "calibration": calibration}


if __name__ == "__main__":
    main()
