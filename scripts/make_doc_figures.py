"""The figures of the documentation site (docs/images/), made by the package from its shipped models and data.

    python scripts/make_doc_figures.py            # writes docs/images/phonon_dos.png, phonon_alloy.png, esp_water_20.png

- phonon_dos.png: the shipped phonon model on four crystals of its test split (never seen in training),
  chosen by rank of DOS R2 (best, two between, worst) so the figure shows the spread, not the best case,
  against the reference of the model's own database (data/phonons/, named in its provenance); and Cv(T) of
  the four.
- phonon_alloy.png: ``PhononDOS.plot`` of the Cu0.3Ni0.7 virtual crystal of the README's snippet.
- esp_water_20.png: the electrostatic potential of the shipped 20-water cluster on its 1.4 x vdW surface,
  from the density of the embedded default model (``E3DensityCalculator.get_surface_potential``).

Deterministic: the same models and data give the same pictures (matplotlib's version stamp is left out).
About 40 s on a loaded 2-core machine (11 s of CPU).
"""
from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
from ase.build import bulk
from ase.db import connect
from ase.io import read
from matplotlib.figure import Figure

from ase_e3density import E3DensityCalculator, PhononDOSCalculator, example_path
from ase_e3density.errors import DomainWarning
from ase_e3density.models import load_model, shipped_model_path
from ase_e3density.phonon.database import read_phonon_dos
from ase_e3density.train.phonon.evaluate import evaluate_phonon_model

ROOT = Path(__file__).resolve().parents[1]
PNG = {"dpi": 100, "bbox_inches": "tight", "metadata": {"Software": None}}  # no version stamp: the same figure gives the same file
GAS_CONSTANT = 8.314462618  # J/(K mol)


def phonon_test_figure(reference_db: Path | None) -> Figure:
    """Predicted against reference DOS of four test crystals (spread by R2 rank), and their Cv(T)."""
    model = load_model(shipped_model_path("phonon"))
    provenance = model.metadata["provenance"]
    reference_db = reference_db or ROOT / "data" / "phonons" / Path(provenance["data"]).name
    generator = str(provenance["generator"].get("potential", provenance["generator"].get("force_calculator")))
    result = evaluate_phonon_model(model, reference_db, "test")
    per = result["per_structure"]
    order = np.argsort(per["r2"])[::-1]  # best first
    picks = [int(order[i]) for i in np.linspace(0, len(order) - 1, 4).round().astype(int)]
    names = [per["name"][i] for i in picks]
    uids = set(model.metadata["provenance"]["split"]["test"])
    rows = {str(r.get("name", r.formula)): r for r in connect(reference_db, use_lock_file=False).select()
            if r.get("uid") in uids}
    calc = PhononDOSCalculator()
    t = np.linspace(5, 800, 160)

    fig = Figure(figsize=(10, 5.2))
    grid = fig.add_gridspec(2, 3, width_ratios=[1, 1, 1.15])
    ax_cv = fig.add_subplot(grid[:, 2])
    for k, (i, name) in enumerate(zip(picks, names)):
        reference = read_phonon_dos(rows[name])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DomainWarning)
            predicted = calc.get_phonon_dos(reference.atoms)
        ax = fig.add_subplot(grid[k // 2, k % 2])
        ax.fill_between(reference.frequencies, reference.dos, color="0.75", label=f"{generator.split(' (')[0]} reference")
        ax.plot(predicted.frequencies, predicted.dos, color=f"C{k}", label="model")
        top = max(reference.max_frequency, predicted.frequencies[predicted.dos > 1e-2 * predicted.dos.max()][-1])
        ax.set_xlim(0, 1.08 * top)
        ax.set_ylim(0, None)
        ax.set_title(f"{name}: R$^2$ {per['r2'][i]:.2f}", fontsize=10)
        if k // 2:
            ax.set_xlabel("frequency (THz)")
        if k % 2 == 0:
            ax.set_ylabel("DOS (states/THz/atom)")
        if k == 0:
            ax.legend(fontsize=8, frameon=False)
        ax_cv.plot(t, predicted.heat_capacity(t), color=f"C{k}", label=f"{name} model")
        ax_cv.plot(t, reference.heat_capacity(t), color=f"C{k}", ls="--", lw=1)
    ax_cv.axhline(3 * GAS_CONSTANT, ls=":", c="k", lw=0.8)
    ax_cv.set_xlabel("T (K)")
    ax_cv.set_ylabel("$C_V$ (J/(K mol-atoms)); dashed: reference")
    ax_cv.legend(fontsize=8, frameon=False, loc="lower right")
    fig.suptitle(f"Shipped phonon model on its test crystals (4 of {len(order)}, from best to worst DOS R$^2$)",
                 fontsize=11)
    fig.tight_layout()
    return fig


def phonon_alloy_figure() -> Figure:
    """``PhononDOS.plot`` of the predicted Cu0.3Ni0.7 virtual crystal (fcc, a = 3.59 Å)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DomainWarning)
        dos = PhononDOSCalculator().get_phonon_dos(bulk("Cu", "fcc", 3.59), occupancy=[{"Cu": 0.3, "Ni": 0.7}])
    fig = dos.plot(temperatures=np.linspace(5, 800, 160), figure=Figure(figsize=(9, 3.4)))
    fig.axes[0].set_xlim(0, 1.3 * dos.frequencies[dos.dos > 1e-2 * dos.dos.max()][-1])  # not the empty grid up to 45 THz
    fig.suptitle("Cu$_{0.3}$Ni$_{0.7}$ (virtual crystal), predicted: PhononDOS.plot", fontsize=10)
    fig.tight_layout()
    return fig


def esp_figure() -> Figure:
    """The ESP (V) of the 20-water cluster on its 1.4 x vdW surface, from the default model's density, seen
    from the front and from the back along the cluster's thinnest principal axis (points drawn back to front)."""
    atoms = read(example_path("water_20.xyz"))
    points, potential = E3DensityCalculator().get_surface_potential(atoms, density=4.0)
    p = points - points.mean(axis=0)
    axes = np.linalg.eigh(p.T @ p)[1][:, ::-1]  # widest first; the last one is the view direction
    axes *= np.sign(axes[np.abs(axes).argmax(axis=0), range(3)])  # a fixed sign for each axis
    limit = float(np.percentile(np.abs(potential), 99))
    fig = Figure(figsize=(9, 4))
    panels = fig.subplots(1, 2)
    for ax, side, title in zip(panels, (1.0, -1.0), ("front", "back")):
        x, y, depth = side * (p @ axes[:, 0]), p @ axes[:, 1], side * (p @ axes[:, 2])
        order = np.argsort(depth)  # far points first, the near ones drawn over them
        shown = ax.scatter(x[order], y[order], c=potential[order], cmap="coolwarm_r", vmin=-limit, vmax=limit,
                           s=12, linewidths=0)
        ax.set_aspect("equal")
        ax.set_axis_off()
        ax.set_title(title, fontsize=10)
    bar = fig.colorbar(shown, ax=panels, shrink=0.8, pad=0.02)
    bar.set_label("electrostatic potential (V)")
    fig.suptitle(f"ESP of 20 waters on the 1.4 x vdW surface ({len(points)} points), default model", fontsize=11)
    return fig


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=ROOT / "docs" / "images", help="folder of the PNGs (default: docs/images)")
    parser.add_argument("--reference", type=Path,
                        help="the phonon reference database of the shipped model (default: its own, in data/phonons/)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, make in (("phonon_dos.png", lambda: phonon_test_figure(args.reference)),
                       ("phonon_alloy.png", phonon_alloy_figure), ("esp_water_20.png", esp_figure)):
        path = args.out / name
        make().savefig(path, **PNG)
        print(f"{path}: {path.stat().st_size / 1024:.0f} kB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
