"""What flows through a screening run: structures in (:class:`Item`), results out (:class:`Result`)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from ase import Atoms

from ..engine import one_line  # failures: one line, as every store writes them

__all__ = ["Item", "Result", "one_line", "structure_name"]


def structure_name(atoms: Atoms) -> str:
    """``atoms.info["name"]`` as text ("" if absent or empty): how users find their structures in the results."""
    name = atoms.info.get("name")
    return "" if name is None else str(name)


@dataclass
class Item:
    """One input structure: where it came from, its hash, the structure and its total charge (e)."""

    source: str
    structure_hash: str
    atoms: Atoms
    charge: float = 0.0

    @property
    def key(self) -> tuple[str, str]:
        return self.source, self.structure_hash


@dataclass
class Result:
    """The outcome for one structure: scalars (``ase db`` columns) and arrays, or an error message;
    ``name``: the input's ``atoms.info["name"]`` (an ase.db input: its row's ``name``), "" if it has none."""

    source: str
    structure_hash: str
    atoms: Atoms
    model_checksum: str
    ok: bool
    error: str = ""
    scalars: dict[str, float] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    seconds: float = 0.0
    time: float = field(default_factory=time.time)
    name: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return self.source, self.structure_hash

    @property
    def status(self) -> str:
        return "ok" if self.ok else "failed"
