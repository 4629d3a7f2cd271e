"""The one place TorchScript is called: its own deprecation notices are silenced here only."""
from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

__all__ = ["quiet_jit"]

_JIT_DEPRECATION = r"`torch\.jit\.[\w.]+` is deprecated"


@contextlib.contextmanager
def quiet_jit() -> Iterator[None]:
    """Silence only TorchScript's ``torch.jit.* is deprecated`` notices, only inside the block."""
    with warnings.catch_warnings():
        for category in (DeprecationWarning, FutureWarning):
            warnings.filterwarnings("ignore", message=_JIT_DEPRECATION, category=category)
        yield
