"""Result files: ase.db (default), extxyz or CSV by suffix. One writer per file, committed per batch.

Every writer can list the rows already there (for resuming), drop failed rows (for retrying them),
write a batch so that it lands whole or not at all, and stream its ok rows back (for ranking).
A lock file beside the output keeps a second run from writing the same file, and a file that is not a
screening output (another program's database or table, a structure file, a folder) is refused before
anything is written.
"""
from __future__ import annotations

import csv
import io
import json
import os
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path

import numpy as np
from ase.formula import Formula

from ..errors import E3DensityError
from ..fileio import atomic_path, check_output_db, check_output_file, exclusive_writer, mark_db
from ..graph.occupancy import crystal_formula, occupancy_per_atom
from .records import Result

__all__ = ["open_writer", "Writer", "DbWriter", "ExtxyzWriter", "CsvWriter", "Existing", "META", "LABELS", "OCCUPANCY"]

# (source, structure_hash, status, model_checksum) of a row already written
Existing = tuple[str, str, str, str]
META = ("source", "structure_hash", "model_checksum", "status", "error", "time", "seconds")
LABELS = ("name", "formula")
"""Beside META and the model's columns: the input's name (when it has one) and the formula (text outputs)."""
CONTENT = "screening results"
OCCUPANCY = "occupancy"
"""The ``data`` key of an ase.db row holding a virtual crystal's site occupancies (JSON: one {symbol: fraction}
or null per atom), read back by :mod:`.sources`."""


class Writer(ABC):
    """Base: the lock, and the interface each format fills in."""

    def __init__(self, path: str | Path, locked: bool = True):
        """``locked=False``: a helper of a run that holds the lock already (its background writer)."""
        self.path = Path(path)
        self._lock = ExitStack()
        if locked:
            self._lock.enter_context(exclusive_writer(self.path, "screening output"))

    def close(self) -> None:
        self._lock.close()  # releases the lock (the kernel does the same if the process dies)

    def __enter__(self) -> "Writer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @abstractmethod
    def existing(self) -> Iterator[Existing]:
        """(source, structure hash, model checksum, status) of every row already written."""

    @abstractmethod
    def drop_failed(self) -> int:
        """Remove the rows of failed structures (for --retry-failed); how many were removed."""

    @abstractmethod
    def write(self, results: Sequence[Result]) -> None:
        """Commit one batch of results."""

    @abstractmethod
    def rows(self) -> Iterator[dict]:
        """Scalars and metadata of every ok row."""


def _flat_info(r: Result) -> dict:
    info = {"source": r.source, "structure_hash": r.structure_hash, "model_checksum": r.model_checksum,
            "status": r.status, "time": r.time, "seconds": r.seconds}
    if r.error:
        info["error"] = r.error
    if r.name:
        info["name"] = r.name
    info.update(r.scalars)
    return info


# -- ase.db ---------------------------------------------------------------------------------------
def _db_value(text: str):
    """``text`` as an ase.db key-value pair holds it: ase.db refuses a string that reads as a number or a truth
    value ("123", "1e5", "True"), so such a name is stored as that value (what ``ase db name=123`` finds)."""
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return {"True": True, "False": False}.get(text, text)


class DbWriter(Writer):
    """Rows of an ase.db: metadata and scalars as key-value pairs, arrays in ``data``, written through
    ase.db's public API only (``connect``, ``write``, ``select``, ``delete``)."""

    def __init__(self, path, locked: bool = True):
        super().__init__(path, locked)
        from ase.db import connect

        if locked:  # (a helper of the run that holds the lock: the run checked the file)
            try:
                check_output_db(self.path, CONTENT, ("source", "structure_hash"), "screening output")
            except BaseException:
                self.close()
                raise
        self._marked = False
        # our lock is the single-writer guarantee; ASE's own lock file would outlive a kill -9 and block reruns
        self.db = connect(str(self.path), use_lock_file=False)

    def existing(self) -> Iterator[Existing]:
        if not self.path.exists():
            return
        for row in self.db.select(columns=["id", "key_value_pairs"]):
            kvp = row.key_value_pairs
            if "source" in kvp and "structure_hash" in kvp:
                yield kvp["source"], kvp["structure_hash"], kvp.get("status", "ok"), kvp.get("model_checksum", "")

    def drop_failed(self) -> int:
        if not self.path.exists():
            return 0
        ids = [row.id for row in self.db.select(status="failed", columns=["id"])]
        if ids:
            self.db.delete(ids)  # one transaction
        return len(ids)

    def write(self, results: Sequence[Result]) -> None:
        """One transaction per batch (``with db:``, ase.db's way to write many rows at once): a killed run
        keeps whole batches only. (ASE commits inside it every 5000 writes, so a batch of more structures
        may land in parts; a rerun then skips each row written, so nothing is written twice.)"""
        if not self._marked:
            mark_db(self.db, CONTENT)
            self._marked = True
        with self.db:
            for r in results:
                atoms = r.atoms if r.atoms.calc is None else r.atoms.copy()  # the structure, not a calculator's results
                data = {k: np.asarray(v) for k, v in r.arrays.items()}
                sites = occupancy_per_atom(atoms)
                if sites is not None:  # a virtual crystal: ase.db keeps no atoms.info, so its occupancies go in data
                    data[OCCUPANCY] = json.dumps(sites)
                pairs = _flat_info(r)
                if "name" in pairs:
                    pairs["name"] = _db_value(pairs["name"])
                self.db.write(atoms, key_value_pairs=pairs, data=data)

    def rows(self) -> Iterator[dict]:
        for row in self.db.select(status="ok", columns=["id", "key_value_pairs", "numbers"]):
            out = dict(row.key_value_pairs)
            out["formula"] = Formula(row.formula).format("hill")  # as the CSV and extxyz writers (ase.db's is "metal")
            yield out


# -- extxyz ---------------------------------------------------------------------------------------
def _complete_length(path: Path) -> int:
    """Bytes of ``path`` that hold whole extxyz frames (a frame cut by a kill is left out)."""
    good = 0
    with open(path, "rb") as handle:
        while True:
            header = handle.readline()
            if not header:
                return good
            if not header.strip():
                good = handle.tell()
                continue
            try:
                n = int(header)
            except ValueError:
                return good
            lines = [handle.readline() for _ in range(n + 1)]
            if any(not line.endswith(b"\n") for line in lines):
                return good
            good = handle.tell()


def _append(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


class ExtxyzWriter(Writer):
    """Frames of an extended XYZ file: metadata and scalars in the comment line, arrays per atom or flat."""

    def __init__(self, path):
        super().__init__(path)
        try:
            check_output_file(self.path, "screening output", (b"structure_hash=",), "e3density screen")
        except BaseException:
            self.close()
            raise
        if self.path.exists():
            size = _complete_length(self.path)
            if size < self.path.stat().st_size:
                with open(self.path, "r+b") as handle:
                    handle.truncate(size)

    def _frames(self):
        from ase.io import iread

        if self.path.exists() and self.path.stat().st_size:
            yield from iread(str(self.path), index=":", format="extxyz")

    def existing(self) -> Iterator[Existing]:
        for atoms in self._frames():
            i = atoms.info
            yield str(i["source"]), str(i["structure_hash"]), str(i.get("status", "ok")), str(i.get("model_checksum", ""))

    def drop_failed(self) -> int:
        from ase.io import write

        kept, dropped = [], 0
        for atoms in self._frames():
            if atoms.info.get("status") == "failed":
                dropped += 1
            else:
                kept.append(atoms)
        if dropped:
            with atomic_path(self.path) as tmp:
                write(str(tmp), kept, format="extxyz")
        return dropped

    @staticmethod
    def _atoms(r: Result):
        atoms = r.atoms.copy()
        atoms.calc = None
        atoms.info = {k: v for k, v in _flat_info(r).items()}
        for name, value in r.arrays.items():
            value = np.asarray(value)
            if value.ndim >= 1 and value.shape[0] == len(atoms) and value.ndim <= 2 and name == "charges":
                atoms.arrays["e3d_charges"] = value
            else:
                atoms.info[f"e3d_{name}"] = value.ravel()
        return atoms

    def write(self, results: Sequence[Result]) -> None:
        from ase.io import write

        buffer = io.StringIO()
        write(buffer, [self._atoms(r) for r in results], format="extxyz")
        _append(self.path, buffer.getvalue())  # one write and fsync per batch

    def rows(self) -> Iterator[dict]:
        for atoms in self._frames():
            if atoms.info.get("status") == "ok":
                yield {**atoms.info, "formula": crystal_formula(atoms)}


# -- CSV ------------------------------------------------------------------------------------------
class CsvWriter(Writer):
    """One line per structure: metadata, scalars, and arrays as JSON lists."""

    def __init__(self, path, columns: Sequence[str] = (), arrays: Sequence[str] = ()):
        super().__init__(path)
        self.header = list(META) + list(LABELS) + list(columns) + list(arrays)
        self.arrays = set(arrays)
        try:
            check_output_file(self.path, "screening output", (",".join(META[:2]).encode(),), "e3density screen")
        except BaseException:
            self.close()
            raise
        if self.path.exists():
            data = self.path.read_bytes()
            if data and not data.endswith(b"\n"):  # a line cut by a kill
                with open(self.path, "r+b") as handle:
                    handle.truncate(data.rfind(b"\n") + 1)
            with open(self.path, newline="") as handle:
                first = next(csv.reader(handle), None)
            if first and first == [c for c in self.header if c != "name"]:
                self.header = first  # written before names were carried: go on without that column
            if first and first != self.header:
                raise E3DensityError(f"{self.path} has other columns than this run writes; use another output")

    def _lines(self) -> Iterator[dict]:
        if self.path.exists():
            with open(self.path, newline="") as handle:
                yield from csv.DictReader(handle)

    def existing(self) -> Iterator[Existing]:
        for row in self._lines():
            yield row["source"], row["structure_hash"], row["status"], row["model_checksum"]

    def drop_failed(self) -> int:
        rows = list(self._lines())
        kept = [r for r in rows if r["status"] != "failed"]
        if len(kept) < len(rows):
            with atomic_path(self.path) as tmp, open(tmp, "w", newline="") as handle:
                out = csv.DictWriter(handle, self.header)
                out.writeheader()
                out.writerows(kept)
        return len(rows) - len(kept)

    def write(self, results: Sequence[Result]) -> None:
        buffer = io.StringIO()
        out = csv.DictWriter(buffer, self.header, extrasaction="ignore")
        if not self.path.exists() or self.path.stat().st_size == 0:
            out.writeheader()
        for r in results:
            row = _flat_info(r)
            row["formula"] = crystal_formula(r.atoms)  # a virtual crystal's composition, not its majority atoms
            row.update({k: json.dumps(np.asarray(v).tolist()) for k, v in r.arrays.items()})
            out.writerow(row)
        _append(self.path, buffer.getvalue())

    def rows(self) -> Iterator[dict]:
        for row in self._lines():
            if row["status"] == "ok":
                yield {k: v for k, v in row.items() if k not in self.arrays}


def open_writer(path: str | Path, columns: Sequence[str] = (), arrays: Sequence[str] = ()) -> Writer:
    """The writer for ``path``'s suffix: .db (ase.db), .xyz/.extxyz, .csv."""
    suffix = Path(path).suffix.lower()
    if suffix == ".db":
        return DbWriter(path)
    if suffix in (".xyz", ".extxyz"):
        return ExtxyzWriter(path)
    if suffix == ".csv":
        return CsvWriter(path, columns, arrays)
    raise E3DensityError(f"unknown output type {suffix or '(none)'!r} for {path}; use .db, .extxyz, .xyz or .csv")
