"""Batches packed for another process: the structures' numbers, positions, cells and float64 arrays joined.

Pickling a batch of a hundred small molecules one object at a time makes hundreds of small arrays,
and Dask sends each as a frame of its own (each copied, checked for compression, framed): on QM9 that
cost as much CPU time as the multipoles. Packed, a batch is a few arrays and some small Python values.
:class:`ItemBatch` and :class:`ResultBatch` are sequences that pickle packed (what a Dask task takes
and returns); :func:`pack` and :func:`unpack` are what the writer process receives.

Plain structures (numbers, positions, cell and pbc only: what nearly every screened structure is) are
joined; any other structure (a calculator, constraints, tags or other per-atom arrays) travels whole.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from ase import Atoms

from .records import Item, Result

__all__ = ["pack", "unpack", "pack_items", "unpack_items", "ItemBatch", "ResultBatch"]


def _plain(atoms: Atoms) -> bool:
    """Only numbers, positions, cell and pbc (and ``info``) to send."""
    return (atoms.calc is None and not atoms.constraints and len(atoms.arrays) == 2
            and not np.any(atoms.get_celldisp()))


def _join(parts: list[np.ndarray], shape: tuple[int, ...], dtype) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(shape, dtype=dtype)


class _Structures:
    """Plain structures joined into four arrays (:meth:`add` each, then :meth:`arrays`); others kept whole."""

    def __init__(self):
        self.numbers, self.positions, self.cells, self.pbcs = [], [], [], []

    def add(self, atoms: Atoms) -> int | Atoms:
        """What a row records: the atom count of a plain structure, else the structure itself."""
        if not _plain(atoms):
            return atoms
        self.numbers.append(atoms.arrays["numbers"])
        self.positions.append(atoms.arrays["positions"])
        self.cells.append(atoms.cell.array)
        self.pbcs.append(atoms.pbc)
        return len(atoms)

    def arrays(self) -> tuple[np.ndarray, ...]:
        return (_join(self.numbers, (0,), int), _join(self.positions, (0, 3), float),
                np.array(self.cells, dtype=float).reshape(-1, 3, 3), np.array(self.pbcs, dtype=bool).reshape(-1, 3))


class _Rebuild:
    """The structures of :class:`_Structures`, rebuilt one after another from its arrays."""

    def __init__(self, numbers: np.ndarray, positions: np.ndarray, cells: np.ndarray, pbcs: np.ndarray):
        self.numbers, self.positions, self.cells, self.pbcs = numbers, positions, cells, pbcs
        self.atom = self.plain = 0

    def next(self, recorded: int | Atoms, info: dict | None) -> Atoms:
        if isinstance(recorded, Atoms):
            return recorded
        end = self.atom + recorded
        atoms = Atoms(numbers=self.numbers[self.atom:end], positions=self.positions[self.atom:end],
                      cell=self.cells[self.plain], pbc=self.pbcs[self.plain], info=info)
        self.atom, self.plain = end, self.plain + 1
        return atoms


def pack(results: Sequence[Result], info: bool = False) -> tuple:
    """``results`` as a few joined arrays and small Python values; :func:`unpack` inverts it.
    ``info``: keep each plain structure's ``atoms.info`` too (ase.db rows do not store it)."""
    rows, structures, flat = [], _Structures(), []
    for r in results:
        shapes, other = [], {}
        for name, value in r.arrays.items():
            value = np.asarray(value)
            if value.dtype == np.float64:
                flat.append(value.ravel())
                shapes.append((name, value.shape))
            else:
                other[name] = value
        recorded = structures.add(r.atoms)
        rows.append((r.source, r.structure_hash, r.model_checksum, r.ok, r.error, r.scalars, r.seconds, r.time,
                     recorded, r.atoms.info if info and not isinstance(recorded, Atoms) else None, tuple(shapes),
                     other, r.name))
    return (rows, *structures.arrays(), _join(flat, (0,), float))


def unpack(packed: tuple) -> list[Result]:
    """The results :func:`pack` was given (structures rebuilt from the joined arrays)."""
    rows, *joined, flat = packed
    structures = _Rebuild(*joined)
    results, value = [], 0
    for (source, structure_hash, checksum, ok, error, scalars, seconds, finished, recorded, info, shapes, other,
         label) in rows:
        atoms = structures.next(recorded, info)
        arrays = {}
        for name, shape in shapes:
            size = int(np.prod(shape))
            arrays[name] = flat[value:value + size].reshape(shape)
            value += size
        arrays.update(other)
        results.append(Result(source, structure_hash, atoms, checksum, ok, error=error, scalars=scalars,
                              arrays=arrays, seconds=seconds, time=finished, name=label))
    return results


def pack_items(items: Iterable[Item]) -> tuple:
    """Input structures (with their ``info``) as a few joined arrays; :func:`unpack_items` inverts it."""
    rows, structures = [], _Structures()
    for item in items:
        recorded = structures.add(item.atoms)
        rows.append((item.source, item.structure_hash, item.charge, recorded,
                     None if isinstance(recorded, Atoms) else item.atoms.info))
    return (rows, *structures.arrays())


def unpack_items(packed: tuple) -> list[Item]:
    """The items :func:`pack_items` was given."""
    rows, *joined = packed
    structures = _Rebuild(*joined)
    return [Item(source, structure_hash, structures.next(recorded, info), charge)
            for source, structure_hash, charge, recorded, info in rows]


def _item_batch(packed: tuple) -> "ItemBatch":
    return ItemBatch(packed=packed)


def _result_batch(packed: tuple) -> "ResultBatch":
    return ResultBatch(unpack(packed))


class ItemBatch(Sequence):
    """A batch of :class:`Item` that pickles packed: what a Dask task takes. Unpickled, it rebuilds its
    structures only when read, so a scheduler that unpickles a task to send it on packs nothing again."""

    def __init__(self, items: Iterable[Item] = (), *, packed: tuple | None = None):
        self._items = None if packed is not None else list(items)
        self._packed = packed

    def _list(self) -> list[Item]:
        if self._items is None:
            self._items = unpack_items(self._packed)
        return self._items

    def __len__(self) -> int:
        return len(self._packed[0]) if self._items is None else len(self._items)

    def __getitem__(self, index):
        return self._list()[index]

    def __iter__(self):
        return iter(self._list())

    def __reduce__(self):
        if self._packed is None:
            self._packed = pack_items(self._items)
        return _item_batch, (self._packed,)


class ResultBatch(list):
    """A batch's :class:`Result` objects (a list) that pickles packed, ``atoms.info`` kept: what a task returns."""

    def __reduce__(self):
        return _result_batch, (pack(self, info=True),)
