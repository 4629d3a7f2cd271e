"""Curves against epoch from the runs' own records, averaged over seeds.

``norms_by_l``: mean hidden-feature norm of each l (over channels and both parities) per layer;
``eps_by_l``: validation eps_l at each epoch with density metrics (or the per-l loss of every epoch).
"""
from __future__ import annotations

import numpy as np

__all__ = ["layer_norms_by_l", "norms_by_l", "eps_by_l", "mean_over_seeds"]


def layer_norms_by_l(layer: dict[str, list[float]]) -> dict[int, float]:
    """``{l: mean channel norm}`` of one layer's statistics (irreps keys such as ``"1o"``)."""
    by_l: dict[int, list[float]] = {}
    for irrep, channels in layer.items():
        by_l.setdefault(int(irrep[:-1]), []).extend(channels)
    return {l: float(np.mean(v)) for l, v in sorted(by_l.items())}


def norms_by_l(stats: list[dict]) -> tuple[np.ndarray, list[dict[int, np.ndarray]]]:
    """Epochs of the records, and per layer ``{l: norms over the records}``."""
    epochs = np.array([r["epoch"] for r in stats])
    n_layers = len(stats[0]["layers"]) if stats else 0
    layers = []
    for k in range(n_layers):
        per_record = [layer_norms_by_l(r["layers"][k]) for r in stats]
        layers.append({l: np.array([p[l] for p in per_record]) for l in per_record[0]})
    return epochs, layers


def eps_by_l(history: list[dict], prefix: str = "val_eps_l") -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Epochs that recorded ``prefix{l}`` (validation eps_l, %, by default; ``"val_loss_l"`` for the
    per-l loss of every epoch), and ``{l: values}`` at them."""
    rows = [r for r in history if f"{prefix}0" in r]
    ls = sorted({int(k[len(prefix):]) for r in rows for k in r if k.startswith(prefix)})
    return np.array([r["epoch"] for r in rows]), {l: np.array([r[f"{prefix}{l}"] for r in rows]) for l in ls}


def mean_over_seeds(curves: list[tuple[np.ndarray, dict]]) -> tuple[np.ndarray, dict]:
    """Average curves that share their x values (runs of one configuration); the shortest length wins."""
    n = min(len(x) for x, _ in curves)
    keys = curves[0][1].keys()
    return curves[0][0][:n], {k: np.mean([c[k][:n] for _, c in curves], axis=0) for k in keys}
