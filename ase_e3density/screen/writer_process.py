"""ase.db output committed by a child process: the row encoding and SQL run on another core while the model runs.

The run keeps the output's lock and every read of it (what is done, failed rows, ranking); the child
only inserts batches, each in one transaction, and acknowledges each commit. The run yields a batch's
results after its acknowledgement, so nothing is seen that is not committed. The child is forked
before the run starts its reader thread and dies with its parent (Linux's parent-death signal): a
kill -9 of the run kills the child too, its open transaction rolls back, and at most the batches in
flight are lost (the one being committed and the one being computed), never a row written twice.
Linux only, with a second core, and only from a process running no other Python thread (a notebook
kernel's, a Dask client's: a lock one of them holds at the fork would stay held in the child);
otherwise the run writes itself.

Batches cross the pipe packed (:mod:`.packing`): the structures' numbers, positions, cells and float64
arrays joined into a few NumPy arrays (pickling a few hundred small arrays one by one costs as much as
writing them).
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import warnings
from collections.abc import Sequence

from ..errors import E3DensityError
from ..processes import die_with_parent
from .packing import pack, unpack
from .records import Result, one_line
from .writers import DbWriter

__all__ = ["BackgroundDbWriter", "can_write_in_background", "worth_writing_in_background"]

_ACK_POLL_SECONDS = 1.0


def can_write_in_background() -> bool:
    """Whether this platform can give the writer its own process: Linux (fork, the parent-death signal)."""
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


def worth_writing_in_background() -> bool:
    """The default: possible, a second core to run on, and no other Python thread in this process (a
    notebook kernel's, a Dask client's) that could hold, at the fork, a lock the child needs."""
    return can_write_in_background() and len(os.sched_getaffinity(0)) >= 2 and threading.active_count() == 1


# -- the child -------------------------------------------------------------------------------------
def _serve(path: str, requests, acks, parent: int) -> None:
    """The child: write each packed batch in one transaction, acknowledge it; after an error, only drain."""
    die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the run's to handle; it then closes us
    writer = DbWriter(path, locked=False)  # the run holds the lock
    failed = False
    while True:
        packed = requests.get()
        if packed is None:
            break
        if failed:
            continue
        try:
            writer.write(unpack(packed))
            acks.put(None)
        except BaseException as exc:  # handed back to the run, which raises it
            acks.put(one_line(exc))
            failed = True


class BackgroundDbWriter:
    """Submit batches (returns at once), then wait for each commit in order; close to finish."""

    def __init__(self, path: str):
        context = multiprocessing.get_context("fork")
        self.path = path
        self._requests, self._acks = context.Queue(), context.Queue()
        self._process = context.Process(target=_serve, args=(path, self._requests, self._acks, os.getpid()),
                                        name="ase_e3density-db-writer", daemon=True)
        with warnings.catch_warnings():  # Python 3.12+ warns of fork beside threads (torch's); the child uses none
            warnings.filterwarnings("ignore", message=r".*multi-threaded, use of fork\(\) may lead to deadlocks",
                                    category=DeprecationWarning)
            self._process.start()

    def submit(self, results: Sequence[Result]) -> None:
        """Queue one batch for its transaction (packed here, sent by the queue's own thread)."""
        self._requests.put(pack(results))

    def wait(self) -> None:
        """Block until the oldest submitted batch is committed; its error, or the child's death, raised."""
        import queue

        while True:
            try:
                error = self._acks.get(timeout=_ACK_POLL_SECONDS)
                break
            except queue.Empty:
                if not self._process.is_alive():
                    raise E3DensityError(f"the process writing {self.path} ended (exit code {self._process.exitcode})"
                                         "; rerun to resume") from None
        if error is not None:
            raise E3DensityError(f"writing {self.path} failed: {error}")

    def close(self) -> None:
        """Let the child commit what was submitted, then end it."""
        if self._process.is_alive():
            self._requests.put(None)
        else:  # nobody reads the queue any more: do not wait to flush it
            self._requests.cancel_join_thread()
        self._requests.close()
        self._requests.join_thread()
        self._process.join()
