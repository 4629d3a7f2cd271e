"""Structures grouped into batches of about ``batch_atoms`` atoms for one forward pass each."""
from __future__ import annotations

from collections.abc import Iterable, Iterator

from .records import Item

__all__ = ["batches"]


def batches(items: Iterable[Item], batch_atoms: int) -> Iterator[list[Item]]:
    """Consecutive groups of items holding at least ``batch_atoms`` atoms (the last may hold fewer).

    A structure larger than ``batch_atoms`` goes alone.
    """
    if batch_atoms < 1:
        raise ValueError("batch_atoms must be at least 1")
    batch: list[Item] = []
    atoms = 0
    for item in items:
        batch.append(item)
        atoms += len(item.atoms)
        if atoms >= batch_atoms:
            yield batch
            batch, atoms = [], 0
    if batch:
        yield batch
