"""The study's numbers: one row per run from its deployed file, then mean and spread over seeds.

Every number is read from what the run itself recorded: the validation metrics of the deployed
(best) epoch, its parameter count and training time (the model file's provenance), and the
per-epoch history (``log.jsonl``) and feature statistics (``feature_stats.jsonl``).
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from ..fileio import atomic_path
from ..models.format import read_metadata
from ..train.feature_stats import read_feature_stats
from .study import RunSpec, output_label

__all__ = ["run_record", "summarise_runs", "write_summary", "read_history", "METRICS"]

METRICS = ("eps", "eps_l0", "eps_l1", "eps_l2", "eps_l3", "eps_l4", "dipole_error", "dipole_error_dft",
           "dipole_error_sqrtn", "charge_mae", "molecule_charge_rms", "training_seconds")


def run_record(spec: RunSpec, deployed: Path) -> dict:
    """One run's final numbers, as its deployed file records them."""
    provenance = read_metadata(deployed)["provenance"]
    metrics = provenance["validation_metrics"]
    record = {"run": spec.name, "hidden_lmax": spec.hidden_lmax, "outputs": output_label(spec.output_lmax),
              "seed": spec.seed, "channels": spec.channels, "n_parameters": provenance["n_parameters"],
              "best_epoch": provenance["best_epoch"], "epochs_run": provenance["epochs_run"],
              "training_seconds": provenance["training_seconds"]}
    record.update({k: metrics[k] for k in METRICS if k in metrics})
    return record


def summarise_runs(records: list[dict]) -> list[dict]:
    """Per (hidden l_max, outputs): mean and sample standard deviation over seeds of every metric."""
    groups: dict[tuple[int, str], list[dict]] = {}
    for r in records:
        groups.setdefault((r["hidden_lmax"], r["outputs"]), []).append(r)
    rows = []
    for (lmax, outputs), runs in groups.items():
        row = {"hidden_lmax": lmax, "outputs": outputs, "channels": runs[0]["channels"],
               "n_parameters": runs[0]["n_parameters"], "n_seeds": len(runs)}
        for key in METRICS:  # only metrics every run of the group recorded
            if all(key in r for r in runs):
                values = np.array([r[key] for r in runs], dtype=float)
                row[f"{key}_mean"] = float(values.mean())
                row[f"{key}_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        rows.append(row)
    return rows


def write_summary(out: Path, study_name: str, records: list[dict], rows: list[dict]) -> None:
    """``summary.csv`` (one row per configuration) and ``summary.json`` (configurations and runs)."""
    out = Path(out)
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with atomic_path(out / "summary.csv") as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    with atomic_path(out / "summary.json") as tmp:
        tmp.write_text(json.dumps({"study": study_name, "configurations": rows, "runs": records}, indent=1))


def read_history(folder: Path) -> tuple[list[dict], list[dict]]:
    """A run's per-epoch log and its feature statistics."""
    log = Path(folder) / "log.jsonl"
    history = [json.loads(line) for line in log.read_text().splitlines() if line.strip()] if log.exists() else []
    return history, read_feature_stats(Path(folder) / "feature_stats.jsonl")
