"""Example structures shipped in the package, reachable from any folder."""
from __future__ import annotations

from importlib import resources
from pathlib import Path

from .errors import InputFileError

__all__ = ["example_path", "example_names"]


def _folder() -> Path:
    return Path(str(resources.files("ase_e3density") / "data" / "examples"))


def example_names() -> list[str]:
    """The file names of the shipped examples."""
    return sorted(p.name for p in _folder().iterdir() if p.is_file() and not p.name.startswith("."))


def example_path(name: str) -> Path:
    """The path of a shipped example, e.g. ``ase.io.read(example_path("water_20.xyz"))``."""
    path = _folder() / name
    if not path.is_file():
        raise InputFileError(f"no shipped example named {name!r}; shipped: {', '.join(example_names())}")
    return path
