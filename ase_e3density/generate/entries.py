"""The items of a generation run: each input structure with its place, source label and uid."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from ase import Atoms

from ..errors import E3DensityError

__all__ = ["Entry", "entries", "Structures"]

# Atoms, or (source label, Atoms) pairs such as e3density's command line reads from files
Structures = Iterable[Atoms | tuple[str, Atoms]]


@dataclass
class Entry:
    """One input structure: its place in the input (from 1), where it came from, its uid, the structure."""

    number: int
    source: str
    uid: str
    atoms: Atoms

    def describe(self) -> tuple[str, str, Atoms]:
        """(uid, source, atoms), for a failure row."""
        return self.uid, self.source, self.atoms


def entries(structures: Structures, uid: Callable[[Atoms], str], prepare: Callable[[Atoms], None] | None = None,
            label: str = "structure") -> Iterator[Entry]:
    """An :class:`Entry` per structure (a copy, so the caller's Atoms stay as they were); ``prepare``
    completes each copy's ``info`` (charge, spin) before its uid is taken. Bare Atoms get the source
    ``label@i`` (i from 0)."""
    for n, entry in enumerate(structures, 1):
        source, atoms = entry if isinstance(entry, tuple) else (f"{label}@{n - 1}", entry)
        if not isinstance(atoms, Atoms):
            raise E3DensityError(f"structure {n}: expected ase.Atoms, got {type(atoms).__name__}")
        atoms = atoms.copy()
        if prepare is not None:
            prepare(atoms)
        yield Entry(n, str(source), uid(atoms), atoms)
