"""Atomic file writes: results appear whole or not at all."""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_path", "exclusive_writer"]


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
