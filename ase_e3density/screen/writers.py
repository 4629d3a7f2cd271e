"""Result files: ase.db (default), extxyz or CSV by suffix. One writer per file, committed per batch.

Every writer can list the rows already there (for resuming), drop failed rows (for retrying them),
write a batch so that it lands whole or not at all, and stream its ok rows back (for ranking).
A lock file beside the output keeps a second run from writing the same file.
"""
from __future__ import annotations

import csv
import io
import json
import numbers
import os
import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path

import numpy as np
from ase.data import atomic_numbers

from ..errors import E3DensityError
from ..fileio import atomic_path, exclusive_writer
from .records import Result

__all__ = ["open_writer", "Writer", "DbWriter", "ExtxyzWriter", "CsvWriter", "Existing"]

# (source, structure_hash, status, model_checksum) of a row already written
Existing = tuple[str, str, str, str]
META = ("source", "structure_hash", "model_checksum", "status", "error", "time", "seconds")


class Writer(ABC):
    """Base: the lock, and the interface each format fills in."""

    def __init__(self, path: str | Path, locked: bool = True):
        self.path = Path(path)
        self._lock = ExitStack()
        if locked:  # False only for a helper process of the run that holds the lock
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
    info.update(r.scalars)
    return info


# -- ase.db ---------------------------------------------------------------------------------------
def _float_or_none(value):
    return None if value is None else float(value)


class DbWriter(Writer):
    """Rows of an ase.db: metadata and scalars as key-value pairs, arrays in ``data``."""

    def __init__(self, path, locked: bool = True):
        super().__init__(path, locked)
        from ase.db import connect

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
        with self.db:  # one transaction per batch: a killed run keeps whole batches only
            rows = [(r.atoms, _flat_info(r), {k: np.asarray(v) for k, v in r.arrays.items()}) for r in results]
            if self._checked(rows):
                self._insert(rows)  # reads the structures only: no copies
                return
            for atoms, kvp, data in rows:  # ASE's own checks, one row at a time: they raise what is wrong
                self.db.write(atoms.copy(), key_value_pairs=kvp, data=data)

    _keys_seen: frozenset = frozenset()

    def _checked(self, rows) -> bool:
        """Whether ase.db's checks pass for every row: key names once per set of keys (ASE parses each name
        as a chemical formula on every row), values every row. False: let ASE's write say what is wrong."""
        from ase.db.core import check, convert_str_to_int_float_bool_or_str as parsed

        if type(self.db).__name__ != "SQLite3Database":
            return False
        if not self.db.initialized:  # a new file: create ASE's tables now, so its schema version is known
            with self.db.managed_connection():
                pass
        if getattr(self.db, "version", None) != 9:
            return False  # the row layout below is that of ASE's SQLite schema version 9
        for _, kvp, _ in rows:
            keys = frozenset(kvp)
            if keys not in self._keys_seen:
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("error")  # a key that reads as a formula: ASE's path warns
                        check(kvp)
                except (ValueError, UserWarning):
                    return False
                self._keys_seen = self._keys_seen | {keys}
                continue
            for value in kvp.values():
                if isinstance(value, str):
                    if not isinstance(parsed(value), str):  # ASE would store it as a number or a bool
                        return False
                elif not isinstance(value, (numbers.Real, np.bool_)):
                    return False
        return True

    def _insert(self, rows) -> None:
        """The rows as ASE's ``SQLite3Database._write`` lays them out (new rows, no calculator, no
        external tables), with each table's inserts of the whole batch in one ``executemany``."""
        from ase.db.core import now
        from ase.db.row import AtomsRow

        db = self.db
        blob, mtime, user = db.blob, now(), os.getenv("USER")
        species_rows, text_rows, number_rows, key_rows = [], [], [], []
        with db.managed_connection() as con:
            cur = con.cursor()
            for atoms, kvp, data in rows:
                row = AtomsRow(atoms)
                row.ctime = mtime
                row.user = user
                constraints = row._constraints
                constraints = db.encode(constraints) if constraints and isinstance(constraints, list) else (
                    constraints or None)
                values = (row.unique_id, row.ctime, mtime, row.user, blob(row.numbers), blob(row.positions),
                          blob(row.cell), int(np.dot(row.pbc, [1, 2, 4])), blob(row.get("initial_magmoms")),
                          blob(row.get("initial_charges")), blob(row.get("masses")), blob(row.get("tags")),
                          blob(row.get("momenta")), constraints, None, None,
                          None, None, None, None, None, None, None, None,
                          db.encode(kvp), db.encode(data, binary=True), len(row.numbers), None, None,
                          _float_or_none(row.get("volume")), float(row.mass), float(row.charge))
                cur.execute(f"INSERT INTO systems VALUES ({db.default}, {', '.join('?' * len(values))})", values)
                id = db.get_last_id(cur)
                species_rows += [(atomic_numbers[symbol], n, id) for symbol, n in row.count_atoms().items()]
                for key, value in kvp.items():
                    if isinstance(value, (numbers.Real, np.bool_)):
                        number_rows.append((key, float(value), id))
                    else:
                        text_rows.append((key, value, id))
                    key_rows.append((key, id))
            cur.executemany("INSERT INTO species VALUES (?, ?, ?)", species_rows)
            cur.executemany("INSERT INTO text_key_values VALUES (?, ?, ?)", text_rows)
            cur.executemany("INSERT INTO number_key_values VALUES (?, ?, ?)", number_rows)
            cur.executemany("INSERT INTO keys VALUES (?, ?)", key_rows)

    def rows(self) -> Iterator[dict]:
        for row in self.db.select(status="ok", columns=["id", "key_value_pairs", "numbers"]):
            out = dict(row.key_value_pairs)
            out["formula"] = row.formula
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
                yield {**atoms.info, "formula": atoms.get_chemical_formula()}


# -- CSV ------------------------------------------------------------------------------------------
class CsvWriter(Writer):
    """One line per structure: metadata, scalars, and arrays as JSON lists."""

    def __init__(self, path, columns: Sequence[str] = (), arrays: Sequence[str] = ()):
        super().__init__(path)
        self.header = list(META) + ["formula"] + list(columns) + list(arrays)
        self.arrays = set(arrays)
        if self.path.exists():
            data = self.path.read_bytes()
            if data and not data.endswith(b"\n"):  # a line cut by a kill
                with open(self.path, "r+b") as handle:
                    handle.truncate(data.rfind(b"\n") + 1)
            with open(self.path, newline="") as handle:
                first = next(csv.reader(handle), None)
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
            row["formula"] = r.atoms.get_chemical_formula()
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
