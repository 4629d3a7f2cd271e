"""The study's figures (PNG and PDF), drawn on matplotlib Figures without pyplot's global state."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import E3DensityError
from .curves import mean_over_seeds

__all__ = ["plot_error_vs_lmax", "plot_feature_norms", "plot_eps_by_l", "save"]


def _figure(n_panels: int, width: float = 4.0, height: float = 3.2):
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise E3DensityError("the study's plots need matplotlib: pip install matplotlib") from exc
    fig = Figure(figsize=(width * n_panels, height), layout="constrained")
    return fig, [fig.add_subplot(1, n_panels, k + 1) for k in range(n_panels)]


def save(fig, out: Path, stem: str) -> list[Path]:
    """``stem.png`` and ``stem.pdf`` in ``out``."""
    paths = [Path(out) / f"{stem}.{ext}" for ext in ("png", "pdf")]
    for path in paths:
        fig.savefig(path, dpi=150)
    return paths


def plot_error_vs_lmax(rows: list[dict], out: Path) -> list[Path]:
    """Final eps_rho and dipole error against hidden l_max, one line per output restriction (mean ± std)."""
    fig, axes = _figure(2)
    for ax, key, label in zip(axes, ("eps", "dipole_error"), ("eps_rho (%)", "dipole error (e·Å)")):
        for outputs in dict.fromkeys(r["outputs"] for r in rows):
            sel = sorted((r for r in rows if r["outputs"] == outputs), key=lambda r: r["hidden_lmax"])
            ax.errorbar([r["hidden_lmax"] for r in sel], [r[f"{key}_mean"] for r in sel],
                        yerr=[r[f"{key}_std"] for r in sel], marker="o", capsize=3, label=f"outputs {outputs}")
        ax.set_xlabel("hidden l_max")
        ax.set_ylabel(label)
        ax.set_yscale("log")
        ax.set_xticks(sorted({r["hidden_lmax"] for r in rows}))
    axes[0].legend(fontsize=8)
    fig.suptitle("final validation error (best epoch), mean ± std over seeds")
    return save(fig, out, "error_vs_lmax")


def plot_feature_norms(curves: list[tuple[np.ndarray, list[dict]]], title: str, out: Path, stem: str) -> list[Path]:
    """Mean hidden-feature norm of each l against epoch, one panel per interaction layer (seed mean)."""
    n_layers = len(curves[0][1])
    per_layer = [mean_over_seeds([(x, layers[k]) for x, layers in curves]) for k in range(1, n_layers)]
    fig, axes = _figure(len(per_layer))
    for k, (ax, (epochs, by_l)) in enumerate(zip(axes, per_layer), start=1):
        for l, values in by_l.items():
            ax.plot(epochs, values, label=f"l={l}")
        ax.set_title(f"layer {k}" + (" (last: feeds the heads)" if k == len(per_layer) else ""))
        ax.set_xlabel("epoch")
        ax.set_yscale("log")
    axes[0].set_ylabel("mean channel norm")
    axes[-1].legend(fontsize=8)
    fig.suptitle(title)
    return save(fig, out, stem)


def plot_eps_by_l(panels: dict[str, list[tuple[np.ndarray, dict]]], title: str, out: Path,
                  ylabel: str = "validation eps_l (%)", stem: str = "eps_l_vs_epoch") -> list[Path]:
    """Validation eps_l (or another per-l curve) against epoch, one panel per output restriction (seed mean)."""
    fig, axes = _figure(len(panels))
    for ax, (outputs, curves) in zip(axes, panels.items()):
        epochs, by_l = mean_over_seeds(curves)
        for l, values in by_l.items():
            if np.any(values > 0):
                ax.plot(epochs, values, marker=".", label=f"l={l}")
        ax.set_title(f"outputs {outputs}")
        ax.set_xlabel("epoch")
        ax.set_yscale("log")
        ax.legend(fontsize=8)
    axes[0].set_ylabel(ylabel)
    fig.suptitle(title)
    return save(fig, out, stem)
