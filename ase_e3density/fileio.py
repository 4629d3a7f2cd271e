"""Files this package writes: atomic writes, the single-writer lock, and the outputs it may write to.

Results appear whole or not at all (:func:`atomic_path`); one process writes a database at a time
(:func:`exclusive_writer`); and output never goes into a file, database or folder that the package did
not make: :func:`check_output_db`, :func:`check_output_file` and :func:`claim_folder` refuse, in one line
naming the path, a folder where a file is meant, a missing parent folder, a file that is not an ase.db,
an ase.db of other content, a file or a non-empty folder written by someone else.

How the package knows its own: an ase.db it creates carries ``{"ase_e3density": {"content": ...}}``
in ``db.metadata``; databases written before that marker existed are recognised by the key-value pairs
every row of theirs has (e.g. ``uid`` and ``auxbasis`` for reference densities). A folder it creates holds
the file ``.ase_e3density`` (JSON with its content); older folders are recognised by the files they hold.
Single files (cube files, DOS tables, extxyz frames, JSON reports) are recognised by a signature in
their first bytes.
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_path", "exclusive_writer", "check_output_db", "mark_db", "check_output_file", "claim_folder",
           "DB_MARKER", "FOLDER_MARKER"]

DB_MARKER = "ase_e3density"
"""The ``db.metadata`` key of every ase.db this package creates: ``{"content": what it holds, "version": ...}``."""
FOLDER_MARKER = ".ase_e3density"
"""The file in every output folder this package creates: JSON ``{"content": what it holds, "version": ...}``."""
_SQLITE = b"SQLite format 3\x00"
_HEAD = 65536  # bytes read to recognise a file


@contextmanager
def atomic_path(path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block succeeds, flush it to disk and
    rename it onto ``path``; when it fails, remove it and leave ``path`` untouched."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def exclusive_writer(path, what: str = "this file") -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (through ``path.writer.lock``) for one writing process.

    A second writer is refused at once with a clear message rather than failing later with
    "database is locked"; the lock is released by the kernel when the holder dies, even by kill -9.
    """
    import fcntl

    from .errors import E3DensityError

    _check_place(Path(path), what)
    lock_path = Path(f"{path}.writer.lock")  # not ASE's own {path}.lock
    while True:
        handle = open(lock_path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise E3DensityError(f"another process is writing to {what} {path} (lock {lock_path}); wait for it "
                                 "to finish or write to another file") from None
        try:  # the holder before us may have removed the file after we opened it: lock the one in place
            same = os.stat(lock_path).st_ino == os.fstat(handle.fileno()).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        handle.close()
    try:
        yield
    finally:
        lock_path.unlink(missing_ok=True)  # removed while still held, so no run is left a stale file
        handle.close()


def _version() -> str:
    from ._version import __version__
    return __version__


def _refuse(message: str):
    from .errors import E3DensityError
    return E3DensityError(message)


def _check_place(path: Path, what: str) -> None:
    """Refuse a folder where a file is meant, and a file whose folder does not exist."""
    if path.is_dir():
        raise _refuse(f"{what} {path} is a folder, not a file; give a file name")
    parent = path.parent
    if not parent.is_dir():
        raise _refuse(f"{what} {path}: folder {parent} does not exist" if not parent.exists()
                      else f"{what} {path}: {parent} is not a folder")


def _head(path: Path) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(_HEAD)


def _tables(path: Path) -> set[str] | None:
    """The tables of an SQLite file, read without writing to it (None: not SQLite). A database whose writer was
    killed mid-transaction (its hot ``-journal`` beside it) is opened as SQLite opens it, which rolls the
    interrupted transaction back first: the only write, and SQLite's own."""
    import sqlite3

    journal = path.with_name(path.name + "-journal")
    interrupted = journal.is_file() and journal.stat().st_size > 0
    if not interrupted and not _head(path).startswith(_SQLITE):
        return None
    try:
        con = sqlite3.connect(path) if interrupted else sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            return {name for name, in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        finally:
            con.close()
    except sqlite3.DatabaseError:
        return None


def check_output_db(path, content: str, keys: Iterable[str], what: str = "output database") -> bool:
    """Refuse to write ``content`` (e.g. "reference densities") into the ase.db ``path`` unless it is new,
    empty, or this package's database of that content; True when it exists with rows already.

    Its own: ``db.metadata["ase_e3density"]["content"] == content``, or (databases written before the
    marker) every row has the key-value pairs ``keys``. Refused, in one line naming the path: a folder, a
    missing folder, a file that is not SQLite, an SQLite file that is not an ase.db, an ase.db of other content
    or of rows without ``keys``. Nothing is written to the file here.
    """
    from ase.db import connect

    path = Path(path)
    _check_place(path, what)
    if path.suffix.lower() != ".db":
        raise _refuse(f"{what} {path}: give a file name ending in .db (an ase.db SQLite database)")
    if not path.exists() or path.stat().st_size == 0:
        return False
    tables = _tables(path)
    if tables is None:
        raise _refuse(f"{what} {path} is not an ase.db database (not an SQLite file); write to another file")
    if "systems" not in tables:
        shown = ", ".join(sorted(tables)[:5]) or "none"
        raise _refuse(f"{what} {path} is an SQLite database but not an ase.db (tables: {shown}); write to another "
                      "file")
    try:
        db = connect(str(path), use_lock_file=False)
        marker = db.metadata.get(DB_MARKER)
        rows = db.count()
        keys = tuple(keys)
        ours = db.count(",".join(keys)) if rows and keys else rows
    except Exception as exc:  # a newer ASE's file, a corrupt one
        raise _refuse(f"{what} {path}: ase.db cannot read it ({type(exc).__name__}: {exc})") from exc
    if isinstance(marker, dict):
        if marker.get("content") != content:
            raise _refuse(f"{what} {path} holds {marker.get('content', 'other results')} (written by ase_e3density), "
                          f"not {content}; write to another file")
        return rows > 0
    if ours < rows:
        raise _refuse(f"{what} {path} is an ase.db of other rows than {content} ({rows - ours} of {rows} lack "
                      f"{', '.join(keys)}); write to another file")
    return rows > 0


def mark_db(db, content: str) -> None:
    """Record in ``db.metadata`` (kept, and extended) that this package writes ``content`` there."""
    metadata = db.metadata
    if metadata.get(DB_MARKER, {}).get("content") != content:
        db.metadata = {**metadata, DB_MARKER: {"content": content, "version": _version()}}


def check_output_file(path, what: str, signatures: Iterable[bytes], writer: str) -> Path:
    """``path`` as a Path, after refusing a folder, a missing parent folder, or an existing non-empty file
    without one of ``signatures`` in its first 64 KiB (so not written by ``writer``, e.g. "e3density predict")."""
    path = Path(path)
    _check_place(path, what)
    if path.exists() and path.stat().st_size:
        head = _head(path)
        if not any(s in head for s in signatures):
            raise _refuse(f"{what} {path} exists and was not written by {writer}; remove it or give another file")
    return path


def claim_folder(path, content: str, known: Iterable[str] = ()) -> Path:
    """Make (or take back) the output folder ``path`` for ``content`` (e.g. "training run"); its Path.

    Taken: a new or empty folder, one with the marker of ``content``, or one made before the marker
    existed that holds any of the names ``known``; each then holds the :data:`FOLDER_MARKER` file. Refused,
    in one line: a file, a folder of other content, a non-empty folder of other files.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise _refuse(f"output folder {path} is a file, not a folder")
    marker = path / FOLDER_MARKER
    if marker.is_file():
        try:
            recorded = json.loads(marker.read_text()).get("content")
        except (ValueError, AttributeError, OSError):
            recorded = None
        if recorded != content:
            raise _refuse(f"output folder {path} holds {recorded or 'something else'} (written by ase_e3density), "
                          f"not a {content}; give another folder")
        return path
    # (the marker being written by another process of the same run, e.g. a second torchrun rank, counts as ours)
    # (atomic_path writes it as a hidden temporary file first: ".<marker>.<pid>.tmp")
    names = sorted(p.name for p in path.iterdir() if FOLDER_MARKER not in p.name) if path.is_dir() else []
    if names and not set(names) & set(known):
        shown = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
        raise _refuse(f"output folder {path} is not empty ({shown}) and was not made by ase_e3density; give a new "
                      f"or empty folder for the {content}")
    path.mkdir(parents=True, exist_ok=True)
    if not marker.exists():
        with atomic_path(marker) as tmp:
            tmp.write_text(json.dumps({"content": content, "version": _version()}) + "\n")
    return path
