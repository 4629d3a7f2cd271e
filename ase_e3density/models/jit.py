"""The one place TorchScript is called: its own deprecation notices are silenced here only."""
from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

__all__ = ["quiet_jit", "plain_execution"]

_JIT_DEPRECATION = r"`torch\.jit\.[\w.]+` is deprecated"


@contextlib.contextmanager
def quiet_jit() -> Iterator[None]:
    """Silence only TorchScript's ``torch.jit.* is deprecated`` notices, only inside the block."""
    with warnings.catch_warnings():
        for category in (DeprecationWarning, FutureWarning):
            warnings.filterwarnings("ignore", message=_JIT_DEPRECATION, category=category)
        yield


@contextlib.contextmanager
def plain_execution() -> Iterator[None]:
    """Run scripted modules without TorchScript's profiling optimiser, only inside the block.

    Measured on 2 cores: the optimiser's first two calls of the density network took 0.2-0.6 s
    (over a minute when the cores were busy) and the calls after them were no faster than plain
    execution (7-11 ms for a water trimer, 23-38 ms for 60 atoms), so plain execution wins. Eager and
    exported modules run the same under it; a torch without TorchScript skips it.
    """
    import torch

    optimized_execution = getattr(getattr(torch, "jit", None), "optimized_execution", None)
    if optimized_execution is None:  # a torch without TorchScript: eager and exported modules need nothing
        yield
        return
    with optimized_execution(False):
        yield
