"""The resumable engine: one uid convention, failures as rows that readers never see, exactly-once resumption
after kill -9 of the run or of a Dask worker, and Dask runs equal to one process (reference, phonons, screen)."""
from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, molecule
from ase.db import connect

from ase_e3density.engine import AseDbStore, Each, Run, failures_path, structure_uid
from ase_e3density.errors import E3DensityError
from process_helpers import child_pids, wait_until_gone

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data" / "engine"


# -- a fake computation through the engine API: one side-effect line per computation ---------------
def structures(n: int) -> list[Atoms]:
    out = []
    for k in range(n):
        atoms = molecule("H2O")
        atoms.positions[0, 0] += 0.01 * k
        out.append(atoms)
    return out


def fake_compute(atoms: Atoms, log: str, delay: float = 0.0, fail_below: float = -1.0) -> float:
    """Appends a line to ``log`` (one per computation), then returns a number, or fails for small shifts."""
    with open(log, "a") as handle:
        handle.write(f"{structure_uid(atoms, 'fake')}\n")
    time.sleep(delay)
    shift = float(atoms.positions[0, 0] - molecule("H2O").positions[0, 0])
    if shift < fail_below:
        raise ValueError(f"no value for shift {shift:.2f}")
    return 100.0 * shift


def fake_store(path) -> AseDbStore:
    def write(db, outcome):
        db.write(outcome.item, uid=structure_uid(outcome.item, "fake"), value=outcome.value)
    return AseDbStore(path, write, lambda atoms: (structure_uid(atoms, "fake"), "fake", atoms), "test database")


def fake_run(items, out, log, **options) -> Run:
    compute = Each(fake_compute, str(log), options.pop("delay", 0.0), options.pop("fail_below", -1.0))
    return Run(items, compute, fake_store(out), key=lambda atoms: structure_uid(atoms, "fake"), **options)


def computations(log) -> Counter:
    return Counter(Path(log).read_text().split()) if Path(log).exists() else Counter()


def test_uids_keep_the_values_of_every_database_written_so_far():
    """Reference, phonon and screening keys as the code before the engine wrote them (values pinned)."""
    from ase_e3density.electron.database import structure_uid as from_electron
    from ase_e3density.generate import ReferenceSettings
    from ase_e3density.screen.sources import structure_hash

    water = molecule("H2O")
    assert ReferenceSettings().uid(water) == "62ceface715da016b373" == \
        from_electron(water, "pbe0", "cc-pvdz", "def2-universal-jfit-decontracted")
    assert structure_hash(water) == "s1bfe2aaaee2f13cc4859"


def test_failures_are_rows_beside_the_output_and_retry_failed_replaces_them(tmp_path):
    out, log = tmp_path / "out.db", tmp_path / "log"
    items = structures(6)
    results = list(fake_run(items, out, log, fail_below=0.025))  # shifts 0.00, 0.01, 0.02 fail
    assert [r.ok for r in results] == [False] * 3 + [True] * 3
    assert "ValueError: no value for shift 0.01" in results[1].error
    assert [r.value for r in connect(out).select()] == pytest.approx([3.0, 4.0, 5.0])
    failed = list(connect(failures_path(out)).select())
    assert failures_path(out).name == "out.failed.db"
    assert [(r.status, r.source) for r in failed] == [("failed", "fake")] * 3 and "shift 0.02" in failed[2].error
    # a rerun skips failure rows too; --retry-failed computes them again and replaces them
    again = fake_run(items, out, log)
    assert list(again) == [] and (again.summary.skipped, again.summary.skipped_failed) == (6, 3)
    retry = fake_run(items, out, log, retry_failed=True)
    assert [r.ok for r in retry] == [True] * 3 and (retry.summary.retried, retry.summary.done) == (3, 3)
    assert sorted(r.value for r in connect(out).select()) == pytest.approx([0, 1, 2, 3, 4, 5])
    assert connect(failures_path(out)).count() == 0
    assert set(computations(log).values()) == {2, 1} and sum(computations(log).values()) == 9


def test_readers_of_training_data_never_see_failure_rows(tmp_path):
    """A reference database with a failed structure reads as before: the failure lives in the sidecar."""
    pytest.importorskip("pyscf")
    from ase_e3density.cli import main
    from ase_e3density.electron.database import iter_densities

    shutil.copy(DATA / "today_reference.db", tmp_path / "ref.db")
    bad = Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.01]])  # overlapping: refused by the DFT step
    from ase.io import write
    write(tmp_path / "bad.xyz", bad)
    assert main(["reference", str(tmp_path / "bad.xyz"), "-o", str(tmp_path / "ref.db"), "--xc", "LDA", "--basis",
                 "sto-3g", "--grid-level", "0", "--conv-tol", "1e-6", "--no-stability-check"]) == 1
    assert len(list(iter_densities(tmp_path / "ref.db"))) == 2
    (row,) = connect(tmp_path / "ref.failed.db").select()
    assert "overlapping" in row.error and row.formula == "H2"


def test_repeated_keys_are_computed_once_and_bad_options_are_one_line(tmp_path):
    items = structures(3)
    run = fake_run(items + items[:2], tmp_path / "out.db", tmp_path / "log")
    assert len(list(run)) == 3 and run.summary.repeated == 2
    for options, message in (({"workers": 0}, "at least 1"), ({"workers": 2, "scheduler": "tcp://x:1"}, "not both"),
                             ({"threads_per_worker": 0}, "threads_per_worker")):
        with pytest.raises(E3DensityError, match=message):
            Run([], len, None, key=id, **options)


def test_one_writer_per_output(tmp_path):
    store = fake_store(tmp_path / "out.db")
    with pytest.raises(E3DensityError, match="another process is writing to test database"):
        fake_store(tmp_path / "out.db")
    store.close()
    fake_store(tmp_path / "out.db").close()


def test_in_process_runs_never_import_dask(tmp_path):
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_engine import fake_run, structures
        list(fake_run(structures(2), {str(tmp_path / 'out.db')!r}, {str(tmp_path / 'log')!r}))
        assert "distributed" not in sys.modules and "dask" not in sys.modules, "Dask imported"
    """)
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": str(REPO)})


def test_phonon_generation_has_a_python_api(tmp_path):
    pytest.importorskip("phonopy")
    from ase_e3density.errors import InvalidStructureError
    from ase_e3density.generate import PhononSettings, phonons

    settings = PhononSettings(calculator="emt", min_width=6.0, mesh=(6, 6, 6), relax="none")
    cu = bulk("Cu", "fcc", a=3.6)
    cu.info["charge"] = 0
    lines: list[str] = []
    summary = phonons([("my-cu", cu)], tmp_path / "ph.db", settings, report=lines.append)
    assert (summary.done, summary.failed, summary.unstable) == (1, 0, 0)
    assert lines[0].startswith("[1/1] my-cu Cu: Cv(300 K)=") and lines[-1].startswith("done: 1 computed")
    (row,) = connect(tmp_path / "ph.db").select()
    assert row.source == "my-cu" and row.uid == structure_uid(cu, "phonons", *settings.labels())
    assert cu.info == {"charge": 0} and cu.calc is None  # the caller's Atoms are left as they were
    with pytest.raises(InvalidStructureError):  # refused before any work
        phonons([bulk("Al"), Atoms("Cu2", positions=[[0, 0, 0], [0, 0, 2.3]])], tmp_path / "bad.db", settings)
    assert not (tmp_path / "bad.db").exists()
    assert phonons([cu], tmp_path / "ph.db", settings).skipped == 1


# -- databases written by the commands before the engine resume without recomputing ----------------
def test_a_phonon_database_of_the_old_commands_resumes(tmp_path, capsys):
    pytest.importorskip("phonopy")
    from ase.io import read, write

    from ase_e3density.cli import main

    shutil.copy(DATA / "today_phonons.db", tmp_path / "ph.db")
    crystals = read(DATA / "crystals.extxyz", ":") + [bulk("Ni", "fcc", a=3.52)]
    write(tmp_path / "in.extxyz", crystals)
    before = {r.uid: r.cv_atom_300 for r in connect(tmp_path / "ph.db").select()}
    code = main(["phonons", str(tmp_path / "in.extxyz"), "-o", str(tmp_path / "ph.db"), "--calculator", "emt",
                 "--min-width", "6", "--mesh", "6 6 6", "--relax", "none"])
    err = capsys.readouterr().err
    assert code == 0 and "done: 1 computed (0 with imaginary modes), 2 already present, 0 failed" in err, err
    rows = list(connect(tmp_path / "ph.db").select())
    assert [r.formula for r in rows] == ["Cu", "Al", "Ni"]
    assert {r.uid: r.cv_atom_300 for r in rows[:2]} == before


def test_a_reference_database_of_the_old_commands_resumes(tmp_path, capsys):
    pytest.importorskip("pyscf")
    from ase.io import read, write

    from ase_e3density.cli import main

    shutil.copy(DATA / "today_reference.db", tmp_path / "ref.db")
    write(tmp_path / "in.xyz", read(DATA / "molecules.xyz", ":") + [molecule("CH4")])
    before = [(r.uid, r.energy) for r in connect(tmp_path / "ref.db").select()]
    code = main(["reference", str(tmp_path / "in.xyz"), "-o", str(tmp_path / "ref.db"), "--xc", "LDA", "--basis",
                 "sto-3g", "--grid-level", "0", "--conv-tol", "1e-6", "--no-stability-check"])
    err = capsys.readouterr().err
    assert code == 0 and "done: 1 computed, 2 already present, 0 failed" in err, err
    rows = list(connect(tmp_path / "ref.db").select())
    assert [r.formula for r in rows] == ["H2O", "H3N", "CH4"] and [(r.uid, r.energy) for r in rows[:2]] == before


# -- slow: kill -9 of the run, kill -9 of a Dask worker, Dask equal to one process -----------------
DRIVER = """
import sys
sys.path.insert(0, {tests!r})
from test_engine import fake_run, structures

if __name__ == "__main__":  # Dask's worker processes are spawned: they import this file again
    workers = int(sys.argv[1]) or None
    list(fake_run(structures(int(sys.argv[2])), {out!r}, {log!r}, delay=0.3, workers=workers))
"""


def _rows(path: Path) -> int:
    """Rows committed so far (read with sqlite3: ASE's connect would create the tables of a file being made)."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as con:
            return con.execute("select count(*) from systems").fetchone()[0]
    except sqlite3.Error:
        return 0


def _kill_when(proc, out: Path, rows: int, timeout: float = 180) -> list[int]:
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
        if _rows(out) >= rows:
            break
    children = child_pids(proc.pid)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return children


@pytest.mark.slow
@pytest.mark.parametrize("workers", [0, 2])
def test_kill_9_of_the_run_then_a_rerun_computes_exactly_the_rest(tmp_path, workers):
    """Every item is computed once across the killed run and the rerun, except those in flight at the kill
    (in one process: at most one; on Dask: at most the window of 2 x 2 + 2 batches handed out)."""
    if workers:
        pytest.importorskip("distributed")
    out, log, n = tmp_path / "out.db", tmp_path / "log", 30
    script = tmp_path / "driver.py"
    script.write_text(DRIVER.format(tests=str(Path(__file__).parent), out=str(out), log=str(log)))
    command = [sys.executable, str(script), str(workers), str(n)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    children = _kill_when(subprocess.Popen(command, env=env), out, rows=8)
    assert not wait_until_gone(children), "a worker of the killed run lives on"
    kept = {r.uid for r in connect(out, use_lock_file=False).select()}
    assert 8 <= len(kept) < n
    first = computations(log)
    subprocess.run(command, env=env, check=True, timeout=300)
    counts = computations(log)
    rows = list(connect(out, use_lock_file=False).select())
    uids = {structure_uid(a, "fake") for a in structures(n)}
    assert {r.uid for r in rows} == uids and len(rows) == n
    twice = {uid for uid, k in counts.items() if k > 1}
    assert all(counts[uid] == 2 for uid in twice) and not twice & kept  # only items never committed
    assert len(twice) <= (1 if not workers else 2 * workers + 2)
    assert all(first[uid] == 1 for uid in kept)
    order = [r.uid for r in rows]  # committed in input order, the rerun after the kept rows
    expected = [structure_uid(a, "fake") for a in structures(n)]
    assert order == [u for u in expected if u in kept] + [u for u in expected if u not in kept]


@pytest.mark.slow
def test_kill_9_of_a_dask_worker_loses_nothing(tmp_path):
    distributed = pytest.importorskip("distributed")
    out, log, n = tmp_path / "out.db", tmp_path / "log", 40
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        run = fake_run(structures(n), out, log, delay=0.1, scheduler=cluster.scheduler_address)
        killed = False
        for k, _ in enumerate(run):
            if k == 5:
                pid = next(iter(client.run(os.getpid).values()))
                os.kill(pid, signal.SIGKILL)  # the nanny starts another; the scheduler reruns its task
                killed = True
        threads = client.run(lambda: (os.environ.get("OMP_NUM_THREADS"), __import__("torch").get_num_threads()))
    assert killed and run.summary.done == n
    assert set(threads.values()) == {("1", 1)}
    rows = list(connect(out).select())
    assert len(rows) == n and {r.uid for r in rows} == {structure_uid(a, "fake") for a in structures(n)}
    assert [r.value for r in rows] == pytest.approx([k for k in range(n)])  # input order kept


@pytest.mark.slow
def test_phonons_on_two_workers_equal_one_process(tmp_path):
    pytest.importorskip("distributed")
    pytest.importorskip("phonopy")
    from ase.io import write

    from ase_e3density.cli import main

    write(tmp_path / "in.extxyz", [bulk("Cu", "fcc", a=3.6), bulk("Al", "fcc", a=4.05), bulk("Ni", "fcc", a=3.5),
                                   Atoms("Cu", cell=[2.4] * 3, pbc=True)])
    argv = ["phonons", str(tmp_path / "in.extxyz"), "--calculator", "emt", "--min-width", "6", "--mesh", "6 6 6"]
    assert main([*argv, "-o", str(tmp_path / "one.db")]) == 0
    assert main([*argv, "-o", str(tmp_path / "two.db"), "--workers", "2"]) == 0
    one, two = (list(connect(tmp_path / name).select()) for name in ("one.db", "two.db"))
    assert [r.uid for r in one] == [r.uid for r in two] and len(one) == 4
    for a, b in zip(one, two):
        assert a.source == b.source and a.cv_atom_300 == pytest.approx(b.cv_atom_300, rel=1e-9)
        np.testing.assert_allclose(a.data["dos"], b.data["dos"], rtol=1e-9, atol=1e-12)


@pytest.mark.slow
def test_references_on_two_workers_equal_one_process_and_die_with_a_killed_run(tmp_path):
    """--workers 2: the rows of one process, in its order, failures counted alike; kill -9 of the run ends
    the workers; the rerun adds each missing structure once."""
    pytest.importorskip("distributed")
    pytest.importorskip("pyscf")
    from ase.io import write

    # Many quick molecules before the slow one: rows commit in input order, so a slow first item would hold
    # back every row and they would all land at once, after the kill was due.
    n = 20
    frames = []
    for k in range(n - 1):
        frames.append(molecule(["H2O", "NH3", "CH4"][k % 3]))
        frames[-1].rattle(0.05, seed=k)
    frames += [molecule("C6H6"), Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.01]]), frames[1].copy()]
    write(tmp_path / "in.xyz", frames)  # above: the overlapping pair fails; the last frame repeats frame 1
    parallel, serial = tmp_path / "parallel.db", tmp_path / "serial.db"
    command = [sys.executable, "-m", "ase_e3density.cli", "reference", str(tmp_path / "in.xyz"), "--xc", "LDA",
               "--basis", "sto-3g", "--grid-level", "1", "--conv-tol", "1e-8", "-o"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(command + [str(parallel), "--workers", "2"], env=env, stderr=subprocess.DEVNULL)
    children = _kill_when(proc, parallel, rows=2)
    assert not wait_until_gone(children), "a worker of the killed run computes on"
    kept = connect(parallel, use_lock_file=False).count()
    runs = [subprocess.run(command + [str(db), *extra], env=env, capture_output=True, text=True, timeout=600)
            for db, extra in ((parallel, ["--workers", "2"]), (serial, []))]
    assert [r.returncode for r in runs] == [1, 1], runs[0].stderr[-2000:]  # the overlapping pair failed
    # frames 0 and 1 were kept (rows commit in input order), so the repeat of frame 1 is already present
    assert 2 <= kept < n, f"{kept} of {n} rows were committed before the kill"
    assert f"{n - kept} computed, {kept + 1} already present, 1 failed" in runs[0].stderr
    assert f"{n} computed, 0 already present, 1 repeated in the input, 1 failed" in runs[1].stderr
    assert f"in.xyz@{n} H2: FAILED: " in runs[0].stderr and "overlapping" in runs[0].stderr
    rows_parallel, rows_serial = (list(connect(db, use_lock_file=False).select()) for db in (parallel, serial))
    sources = [f"{tmp_path / 'in.xyz'}@{k}" for k in range(n)]
    assert [r.source for r in rows_parallel] == [r.source for r in rows_serial] == sources
    assert [r.uid for r in rows_parallel] == [r.uid for r in rows_serial]
    for a, b in zip(rows_parallel, rows_serial):
        np.testing.assert_allclose(a.data["density_coefficients"], b.data["density_coefficients"], atol=1e-6)
        assert a.energy == pytest.approx(b.energy, abs=1e-5)
    assert [r.source for r in connect(failures_path(parallel)).select()] == [f"{tmp_path / 'in.xyz'}@{n}"]


@pytest.mark.slow
def test_screen_on_two_workers_equals_one_process(tmp_path, capsys):
    pytest.importorskip("distributed")
    from ase.io import write

    from ase_e3density.cli import main
    from test_screen import waters

    write(tmp_path / "in.extxyz", waters(40))
    assert main(["screen", str(tmp_path / "in.extxyz"), "-o", str(tmp_path / "one.db"), "--no-progress"]) == 0
    assert main(["screen", str(tmp_path / "in.extxyz"), "-o", str(tmp_path / "two.db"), "--no-progress",
                 "--workers", "2", "--batch-atoms", "64"]) == 0
    one, two = ({r.source: r for r in connect(tmp_path / name).select()} for name in ("one.db", "two.db"))
    assert sorted(one) == sorted(two) and len(one) == 40
    for source, row in one.items():
        assert two[source].structure_hash == row.structure_hash
        for name in ("charges", "dipole", "quadrupole"):
            np.testing.assert_allclose(two[source].data[name], row.data[name], atol=1e-6, rtol=0)


@pytest.mark.slow
def test_a_local_cluster_leaves_the_callers_environment_as_it_was():
    """Dask's nannies write OMP_NUM_THREADS=1 into the starting process; the engine puts it back."""
    pytest.importorskip("distributed")
    from ase_e3density.engine.dask_run import dask_client

    before = dict(os.environ)
    with dask_client(workers=1) as client:
        assert client.run(lambda: os.environ.get("OMP_NUM_THREADS")) != {}
    assert dict(os.environ) == before


@pytest.mark.slow
def test_local_cluster_workers_keep_glibcs_memory_settings():
    """Dask's nannies would start workers with MALLOC_TRIM_THRESHOLD_=65536 (every large array of a forward pass
    mapped and zeroed afresh by the kernel: twice the CPU time); the engine's LocalCluster leaves it unset, unless
    the caller's environment sets it."""
    pytest.importorskip("distributed")
    from ase_e3density.engine.dask_run import dask_client

    name = "MALLOC_TRIM_THRESHOLD_"
    saved = os.environ.pop(name, None)
    try:
        with dask_client(workers=1) as client:
            assert set(client.run(lambda: os.environ.get(name)).values()) == {None}
        os.environ[name] = "1000000"
        with dask_client(workers=1) as client:
            assert set(client.run(lambda: os.environ.get(name)).values()) == {"1000000"}
    finally:
        os.environ.pop(name, None)
        if saved is not None:
            os.environ[name] = saved


@pytest.mark.slow
def test_a_stopped_local_cluster_worker_is_not_dropped_for_missed_heartbeats():
    """A worker stopped (SIGSTOP, a suspended machine) for longer than the scheduler's worker-ttl was dropped and,
    with the run's own process stopped too, never replaced: the run waited for ever. The engine's LocalCluster has
    no worker-ttl, even where the caller's Dask configuration sets one (here 2 s, shorter than the stop)."""
    pytest.importorskip("distributed")
    import signal
    import time

    import dask

    from ase_e3density.engine.dask_run import dask_client

    with dask.config.set({"distributed.scheduler.worker-ttl": "2s"}):
        with dask_client(workers=1) as client:
            assert client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.worker_ttl) is None
            (pid,) = client.run(os.getpid).values()
            os.kill(pid, signal.SIGSTOP)
            try:
                time.sleep(8)
            finally:
                os.kill(pid, signal.SIGCONT)
            time.sleep(2)
            assert list(client.run(os.getpid).values()) == [pid]  # the same worker process, still serving
            assert client.submit(sum, [1, 2], pure=False).result(timeout=30) == 3


def test_an_output_database_whose_writer_was_killed_mid_transaction_is_resumed(tmp_path):
    """A writer killed with its transaction open leaves a hot journal; the rerun's output check lets SQLite roll it
    back (as any SQLite open does) and sees the committed rows, instead of calling the file not SQLite."""
    import subprocess
    import sys

    from ase_e3density.fileio import check_output_db

    db = tmp_path / "r.db"
    code = (f"import os, signal, sqlite3\nfrom ase.db import connect\nfrom ase.build import molecule\n"
            f"connect({str(db)!r}).write(molecule('H2O'), uid='a')\n"
            f"con = sqlite3.connect({str(db)!r}); con.execute('PRAGMA cache_size=1'); con.execute('BEGIN')\n"
            "con.execute('CREATE TABLE big (x BLOB)')\n"
            "for i in range(200): con.execute('INSERT INTO big VALUES (?)', (os.urandom(4000),))\n"
            "os.kill(os.getpid(), signal.SIGKILL)\n")
    subprocess.run([sys.executable, "-c", code], check=False)
    assert (tmp_path / "r.db-journal").stat().st_size > 0  # the interrupted transaction
    assert check_output_db(db, "screening results", ("uid",)) is True
    from ase.db import connect
    assert [row.uid for row in connect(db).select()] == ["a"]  # the committed row kept, the open one rolled back
