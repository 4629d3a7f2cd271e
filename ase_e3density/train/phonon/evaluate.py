"""A deployed phonon-DOS model against reference phonons (rows of `e3density phonons`), through the runtime."""
from __future__ import annotations

import numpy as np

from ...errors import E3DensityError
from ...models.phonon_runtime import DeployedPhononModel
from ...phonon.database import read_phonon_dos
from ...phonon.targets import compare_dos, dos_on_grid
from .data import read_rows, reference_cv
from .partials import partial_errors, partial_targets

__all__ = ["evaluate_phonon_model", "SPLITS"]

SPLITS = ("train", "validation", "test", "held_out")


def evaluate_phonon_model(model: DeployedPhononModel, path, split: str | None = None, selection: str | None = None,
                          temperatures=(100.0, 300.0), max_imaginary_fraction: float | None = None) -> dict:
    """Errors of ``model`` on the rows of ``path`` (optionally one ``split`` of its training run, by the uids
    recorded in the model file, and an ase.db ``selection``). Cv is compared with the generator's mesh sums
    (``cv_atom_T`` columns) where the rows have them; ``floor`` is the error of the reference put on the
    model's grid (the best any model on this grid can do). Rows with a larger share of imaginary modes
    than ``max_imaginary_fraction`` (default: the model's training setting) are left out.

    On the rows with an element-projected DOS (rows of `e3density phonons` written since it stores them) the
    model's own projection (each element's share of its sites' DOS, per atom of the crystal) is compared with
    it: ``partial_l1`` (the share of the modes put on the wrong element or frequency, 0 to 2),
    ``partial_wasserstein`` (THz, each element's earth mover's distance weighted by its atom fraction),
    ``partial_r2`` (each element's R2 weighted by its atom fraction) and ``partial_n``
    (:func:`~.partials.partial_errors`); ``per_structure["partial_name"]`` names those rows."""
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
    graphs = [model.checked_graph(d.atoms) for d in doses]
    sites = model.site_forward(graphs)
    predicted = np.stack([values.mean(axis=0) for values in sites])  # = model.forward(graphs)
    reference = np.stack([dos_on_grid(d, grid) for d in doses])
    mesh_cv = np.stack([reference_cv(r, d, temps) for r, d in zip(rows, doses)])
    out = compare_dos(grid, predicted, reference, temps, reference_cv=mesh_cv)
    floor = compare_dos(grid, reference, reference, temps, reference_cv=mesh_cv)
    out["floor"] = {k: v for k, v in floor.items() if k.startswith("cv_mae")}
    out["per_structure"]["name"] = [str(r.get("name", r.formula)) for r in rows]
    out["per_structure"]["prototype"] = [str(r.get("prototype", "")) for r in rows]
    out["counts"] = counts
    species = list(model.species)
    with_partial = [k for k, d in enumerate(doses) if d.partials]
    if with_partial:
        ref = np.zeros((len(with_partial), len(species), len(grid)))
        own = np.stack([graphs[k][1].T @ sites[k] / len(sites[k]) for k in with_partial])
        for j, k in enumerate(with_partial):
            index, values = partial_targets(doses[k], reference[k], grid, species)
            ref[j, index] = values
        errors = partial_errors(grid, own, ref)
        out["per_structure"].update(errors.pop("per_structure"))
        out["per_structure"]["partial_name"] = [out["per_structure"]["name"][k] for k in with_partial]
        out.update(errors)
    return out
