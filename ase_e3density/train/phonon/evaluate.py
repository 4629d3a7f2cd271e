"""A deployed phonon-DOS model against reference phonons (rows of `e3density phonons`), through the runtime."""
from __future__ import annotations

import numpy as np

from ...errors import E3DensityError
from ...models.phonon_runtime import DeployedPhononModel
from ...phonon.database import read_phonon_dos
from ...phonon.targets import compare_dos, dos_on_grid
from .data import read_rows, reference_cv

__all__ = ["evaluate_phonon_model", "SPLITS"]

SPLITS = ("train", "validation", "test", "held_out")


def evaluate_phonon_model(model: DeployedPhononModel, path, split: str | None = None, selection: str | None = None,
                          temperatures=(100.0, 300.0), max_imaginary_fraction: float | None = None) -> dict:
    """Errors of ``model`` on the rows of ``path`` (optionally one ``split`` of its training run, by the uids
    recorded in the model file, and an ase.db ``selection``). Cv is compared with the generator's mesh sums
    (``cv_atom_T`` columns) where the rows have them; ``floor`` is the error of the reference put on the
    model's grid (the best any model on this grid can do). Rows with a larger share of imaginary modes
    than ``max_imaginary_fraction`` (default: the model's training setting) are left out."""
    if max_imaginary_fraction is None:
        trained = model.metadata.get("provenance", {}).get("train_config", {})
        max_imaginary_fraction = float(trained.get("max_imaginary_fraction", 0.01))
    rows, counts = read_rows(path, selection, max_imaginary_fraction)
    if split is not None:
        if split not in SPLITS:
            raise E3DensityError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
        splits = model.metadata.get("provenance", {}).get("split", {})
        if split not in splits:
            raise E3DensityError(f"{model.path} records no {split!r} split")
        uids = set(splits[split])
        if not uids:
            raise E3DensityError(f"the {split!r} split of {model.path} is empty")
        rows = [r for r in rows if r.uid in uids]
        if not rows:
            raise E3DensityError(f"no row of {path} belongs to the model's {split!r} split")
    temps = [float(t) for t in temperatures]
    grid = model.frequencies
    doses = [read_phonon_dos(r) for r in rows]
    predicted = model.forward([model.checked_graph(d.atoms) for d in doses])
    reference = np.stack([dos_on_grid(d, grid) for d in doses])
    mesh_cv = np.stack([reference_cv(r, d, temps) for r, d in zip(rows, doses)])
    out = compare_dos(grid, predicted, reference, temps, reference_cv=mesh_cv)
    floor = compare_dos(grid, reference, reference, temps, reference_cv=mesh_cv)
    out["floor"] = {k: v for k, v in floor.items() if k.startswith("cv_mae")}
    out["per_structure"]["name"] = [str(r.get("name", r.formula)) for r in rows]
    out["per_structure"]["prototype"] = [str(r.get("prototype", "")) for r in rows]
    out["counts"] = counts
    return out
