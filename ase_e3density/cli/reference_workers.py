"""Reference structures computed one by one or by a pool of worker processes, outcomes in input order.

Each worker process computes whole structures (DFT, fit, fit error) with cores/N threads (at most
``OMP_NUM_THREADS`` when set); the run alone writes the database, committing rows in input order so
that a database made with N workers holds the rows of one made with one, in the same order (the
trainer's seeded split depends on row order). Workers are spawned (fresh interpreters: nothing of the
run's threads, OpenMP state or open files is inherited) and die with the thread that started them
(Linux's parent-death signal), so a kill -9 of the run stops every computation at once; any other end
of the run terminates them too. Drive :func:`outcomes_in_order` from a thread that outlives the pool.
"""
from __future__ import annotations

import argparse
import importlib.util
import multiprocessing
import os
import signal
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from itertools import islice

from ..errors import E3DensityError
from ..processes import die_with_parent

__all__ = ["Outcome", "compute_one", "outcomes_in_order", "threads_per_worker"]


@dataclass
class Outcome:
    """One structure's fitted density (None when it failed, with ``error`` saying why)."""

    density: object = None
    fit_eps: float = float("nan")
    energy: float = float("nan")
    scf_cycles: int = 0
    seconds: float = 0.0
    error: str = ""


def compute_one(atoms, args: argparse.Namespace, aux: str) -> Outcome:
    """DFT, fit onto ``aux`` and the fit's error for one structure; a failure becomes ``Outcome.error``."""
    from ..electron.reference import fit_density, fit_error_vs_dft, run_dft

    start = time.perf_counter()
    try:
        result = run_dft(atoms, xc=args.xc, basis=args.basis, grid_level=args.grid_level, conv_tol=args.conv_tol,
                         check_stability=not args.no_stability_check, guess=_guess(args, atoms),
                         density_fit=args.density_fit)
        density = fit_density(result, aux)
        eps = fit_error_vs_dft(density, result)
    except Exception as exc:  # one bad structure must not stop a long run
        return Outcome(error=str(exc), seconds=time.perf_counter() - start)
    return Outcome(density, eps, result.energy, result.info["scf_cycles"], time.perf_counter() - start)


def _guess(args: argparse.Namespace, atoms):
    """PySCF's guess by name, or a callable giving the model's dm0 for the built molecule."""
    if args.guess != "model":
        return args.guess
    from ..scf import initial_guess

    # the exact-exchange step builds its own density-fitting tensors: it pays when the SCF's iterations
    # are conventional (8 waters, 1e-9: 65 s CPU against 72 s), not when they are density-fitted
    return lambda mol: initial_guess(atoms, args.model, mol=mol, xc=args.xc, exact_exchange=not args.density_fit)


def outcomes_in_order(items: Sequence, args: argparse.Namespace, aux: str, workers: int = 1) -> Iterator[tuple]:
    """``(item, Outcome)`` for each ``item = (..., atoms)`` in input order, computed by ``workers`` processes.

    At most ``2 * workers`` structures are handed out ahead of the one awaited, so memory stays flat
    however long the input.
    """
    workers = min(workers, len(items))  # a resumed run with one structure left computes it on every core
    if workers <= 1:
        for item in items:
            yield item, compute_one(item[-1], args, aux)
        return
    if importlib.util.find_spec("pyscf") is None:  # said once here, not by each worker's start-up
        raise E3DensityError("reference densities need PySCF: pip install 'ase_e3density[reference]'")
    plain = argparse.Namespace(**{k: v for k, v in vars(args).items() if k != "func"})
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_start_worker,
                               initargs=(os.getpid(), threads_per_worker(workers), args.guess == "model"))
    pending, queue = iter(items), deque()
    try:
        for item in islice(pending, 2 * workers):
            queue.append((item, pool.submit(compute_one, item[-1], plain, aux)))
        while queue:
            item, future = queue.popleft()
            try:
                outcome = future.result()
            except BrokenProcessPool as exc:
                raise E3DensityError("a reference worker process died (killed, or out of memory?); the rows "
                                     "committed so far are kept: rerun the same command to continue") from exc
            for nxt in islice(pending, 1):
                queue.append((nxt, pool.submit(compute_one, nxt[-1], plain, aux)))
            yield item, outcome
    finally:
        # a structure in progress would run on for minutes holding the database's lock: end the workers
        processes = list((getattr(pool, "_processes", None) or {}).values())  # the executor has no public terminate
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()


def threads_per_worker(workers: int) -> int:
    """This machine's usable cores shared out among ``workers``, at most ``OMP_NUM_THREADS`` when set."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    threads = max(1, cores // workers)
    limit = os.environ.get("OMP_NUM_THREADS", "")
    return min(threads, int(limit)) if limit.isdigit() and int(limit) > 0 else threads


def _start_worker(parent: int, threads: int, uses_torch: bool) -> None:
    """A worker: dies with the run, leaves Ctrl-C to the run (which ends it), computes with ``threads``
    threads (PySCF's OpenMP, torch's for the guess)."""
    die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from pyscf import lib

    lib.num_threads(threads)
    if uses_torch:
        import torch

        torch.set_num_threads(threads)
