"""An ase.db store keyed by ``uid``: a row per result, committed on its own, failures beside it.

The output holds only results, so every reader of it (training data, evaluation) sees data rows
alone. A failure becomes a row of the sidecar ase.db :func:`failures_path` (``out.db`` ->
``out.failed.db``): the input structure with key-value pairs ``uid``, ``source``, ``status="failed"``
and ``error`` (one line); ``ase db out.failed.db source,error`` lists them. A rerun skips them;
``retry_failed`` drops them first, so their structures are computed again. One process writes both
files: the store holds :func:`~ase_e3density.fileio.exclusive_writer`'s lock on the output from its
creation to :meth:`AseDbStore.close` (the kernel releases it if the process dies, kill -9 included).
An output the package did not write (another program's ase.db or SQLite file, a text file, a folder) is
refused before anything is written (:func:`~ase_e3density.fileio.check_output_db`); the store marks
the databases it writes to as its own (:func:`~ase_e3density.fileio.mark_db`).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path

from ..fileio import check_output_db, exclusive_writer, mark_db
from .run import Outcome
from .uid import existing_uids

__all__ = ["AseDbStore", "failures_path"]


def failures_path(output) -> Path:
    """The sidecar ase.db of failure rows beside ``output`` (``out.db`` -> ``out.failed.db``)."""
    output = Path(output)
    return output.with_name(f"{output.stem}.failed{output.suffix or '.db'}")


class AseDbStore:
    """Results of :class:`~.run.Each` (an :class:`Outcome` per item) as ase.db rows.

    ``write_row(db, outcome)`` writes one successful outcome's row (its ``uid`` key-value pair
    included); ``describe(item)`` gives a failed item's ``(uid, source, atoms)`` for its failure row.
    ``content`` names what the rows hold (recorded in the database's metadata), ``keys`` the key-value
    pairs every row of it has (how databases written before that record are recognised).
    """

    def __init__(self, path, write_row: Callable[[object, Outcome], object],
                 describe: Callable[[object], tuple[str, str, object]], what: str = "database",
                 content: str = "results", keys: Sequence[str] = ("uid",)):
        from ase.db import connect

        self.path, self.failed_path = Path(path), failures_path(path)
        self.write_row, self.describe = write_row, describe
        self.content = content
        self._lock = ExitStack()
        self._lock.enter_context(exclusive_writer(self.path, what))
        try:
            check_output_db(self.path, content, keys, what)
            check_output_db(self.failed_path, f"{content}: failures", ("uid", "status"), f"{what}'s failure file")
        except BaseException:
            self._lock.close()
            raise
        # our lock is the single-writer guarantee; ASE's lock file would outlive a kill -9 and block reruns
        self.db = connect(str(self.path), use_lock_file=False)
        self._failed_db = None
        self._marked = self._failed_marked = False

    def _failures(self, create: bool = False):
        if self._failed_db is None and (create or self.failed_path.exists()):
            from ase.db import connect

            self._failed_db = connect(str(self.failed_path), use_lock_file=False)
        if create and not self._failed_marked:
            mark_db(self._failed_db, f"{self.content}: failures")
            self._failed_marked = True
        return self._failed_db

    def existing(self) -> Iterator[tuple[Hashable, bool]]:
        done = existing_uids(self.db) if self.path.exists() else set()
        yield from ((uid, True) for uid in done)
        failures = self._failures()
        if failures is not None:
            stale = []
            for row in failures.select(columns=["id", "key_value_pairs"]):
                uid = row.get("uid")
                if uid in done:  # computed after it failed (the run died before removing this row)
                    stale.append(row.id)
                elif uid is not None:
                    yield str(uid), False
            if stale:
                failures.delete(stale)

    def drop_failed(self) -> int:
        failures = self._failures()
        if failures is None:
            return 0
        ids = [row.id for row in failures.select(columns=["id"])]
        if ids:
            failures.delete(ids)  # one transaction
        return len(ids)

    def write(self, results: Sequence[Outcome]) -> list[Sequence[Outcome]]:
        if not self._marked and any(outcome.ok for outcome in results):
            mark_db(self.db, self.content)
            self._marked = True
        for outcome in results:  # each row commits on its own (no `with db`)
            if outcome.ok:
                self.write_row(self.db, outcome)
            else:
                uid, source, atoms = self.describe(outcome.item)
                atoms = atoms.copy()
                atoms.calc = None
                self._failures(create=True).write(atoms, uid=uid, source=source, status="failed",
                                                  error=outcome.error, time=time.time(), seconds=outcome.seconds)
        return [results]

    def finish(self) -> list:
        return []

    def close(self) -> None:
        self._lock.close()
