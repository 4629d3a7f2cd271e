"""The model on Dask workers: a plugin that installs the model file once per worker.

Imported only when Dask is asked for (the ``screen`` extra); the cluster, the tasks in flight and a
lost worker's tasks are the engine's (:mod:`ase_e3density.engine.dask_run`).
"""
from __future__ import annotations

from pathlib import Path

from distributed import WorkerPlugin

from .worker import ModelRef, evaluator, register_local_copy

__all__ = ["ModelPlugin"]


class ModelPlugin(WorkerPlugin):
    """Per worker: torch threads, the model file's bytes written locally, the model loaded once."""

    name = "ase-e3density-model"

    def __init__(self, ref: ModelRef, data: bytes, threads: int = 1):
        self.ref, self.data, self.threads = ref, data, threads

    def setup(self, worker) -> None:
        import torch

        torch.set_num_threads(self.threads)
        path = Path(worker.local_directory) / f"model-{self.ref.checksum[:16]}.pt"
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(self.data)
            tmp.replace(path)
        register_local_copy(self.ref.checksum, path)
        evaluator(self.ref)  # load now, not in the first task
