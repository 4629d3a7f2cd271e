"""Hidden-feature statistics during training: how large the features of each order l grow.

Every ``feature_stats_every`` optimiser steps the recorder runs the network's
:meth:`~ase_e3density.nn.DensityModel.features` on a fixed probe batch of validation structures
and appends one JSON line to ``feature_stats.jsonl`` in the run directory::

    {"step": 120, "epoch": 2.5, "layers": [{"0e": [...]}, {"0e": [...], "1o": [...], ...}, ...]}

``layers[0]`` is the embedding, ``layers[k]`` the output of interaction block k. Under each
irrep (``"1o"``: l = 1, odd) is, per channel, the mean over the probe atoms of that channel's
Euclidean norm ``sqrt(sum_m h_m^2)`` (e3nn's component normalisation, so scalars and vectors
are on one scale). It costs one forward pass of a few structures without gradients.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from e3nn import o3

from ..fileio import atomic_path
from ..nn import DensityModel

__all__ = ["feature_norms", "layer_irreps", "FeatureRecorder", "read_feature_stats"]


def layer_irreps(model: DensityModel) -> list[o3.Irreps]:
    """Irreps of the embedding and of each interaction block's output."""
    return [o3.Irreps(f"{model.config.hidden[0]}x0e")] + [o3.Irreps(layer.irreps_out) for layer in model.layers]


def feature_norms(model: DensityModel, inputs: tuple[torch.Tensor, ...]) -> list[dict[str, list[float]]]:
    """Per layer and irrep, each channel's norm averaged over the atoms of ``inputs``."""
    positions, species, edge_index, edge_shift = inputs[:4]
    with torch.no_grad():
        features = model.features(positions, species, edge_index, edge_shift)
    out = []
    for h, irreps in zip(features, layer_irreps(model)):
        stats: dict[str, list[float]] = {}
        for (mul, ir), part in zip(irreps, irreps.slices()):
            block = h[:, part].reshape(h.shape[0], mul, ir.dim)
            stats.setdefault(str(ir), []).extend(block.double().norm(dim=-1).mean(dim=0).tolist())
        out.append(stats)
    return out


class FeatureRecorder:
    """Appends feature statistics of a fixed probe batch to ``path`` every ``every`` steps."""

    def __init__(self, path: Path, probe_inputs: tuple[torch.Tensor, ...], every: int):
        self.path, self.inputs, self.every = Path(path), probe_inputs, int(every)

    def discard_after(self, step: int) -> None:
        """Drop records newer than ``step`` (written after the checkpoint a resume starts from)."""
        if self.path.exists():
            kept = [line for line in self.path.read_text().splitlines(keepends=True)
                    if line.strip() and json.loads(line)["step"] <= step]
            with atomic_path(self.path) as tmp:
                tmp.write_text("".join(kept))

    def maybe_record(self, model: DensityModel, step: int, epoch: float) -> None:
        if self.every <= 0 or step % self.every:
            return
        was_training = model.training
        model.eval()
        record = {"step": step, "epoch": round(epoch, 6), "layers": feature_norms(model, self.inputs)}
        model.train(was_training)
        with self.path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")
            handle.flush()


def read_feature_stats(path) -> list[dict]:
    """The records of a ``feature_stats.jsonl``, oldest first."""
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
