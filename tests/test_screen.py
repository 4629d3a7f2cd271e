"""The screening runner: same numbers as the calculator, resumable, failures recorded, Dask equal to one process."""
from __future__ import annotations

import csv
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.build import molecule
from ase.db import connect
from ase.io import write

from ase_e3density import E3DensityCalculator
from ase_e3density.cli import main
from ase_e3density.errors import E3DensityError
from ase_e3density.screen import screen
from ase_e3density.screen.writers import open_writer
from process_helpers import child_pids, wait_until_gone

REPO = Path(__file__).resolve().parents[1]


def waters(n: int, seed: int = 0) -> list[Atoms]:
    """``n`` small structures: one to three distorted waters, a few charged."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        atoms = Atoms()
        for m in range(int(rng.integers(1, 4))):
            w = molecule("H2O")
            w.positions += rng.normal(scale=0.03, size=w.positions.shape) + [3.0 * m, rng.normal(), 0]
            atoms += w
        if k % 17 == 0:
            atoms.info["charge"] = 1.0
        out.append(atoms)
    return out


def bad_structures() -> list[Atoms]:
    """Unsupported element, overlapping atoms, NaN positions (the default model knows H and O)."""
    nan = molecule("H2O")
    nan.positions[1, 0] = np.nan
    overlap = molecule("H2O")
    overlap.positions[2] = overlap.positions[1] + 0.01
    return [molecule("CH4"), overlap, nan]


def rows_by_source(path) -> dict[str, list]:
    out: dict[str, list] = {}
    for row in connect(path).select():
        out.setdefault(row.source, []).append(row)
    return out


@pytest.mark.parametrize("dtype, n, atol", [("float64", 24, 1e-9), ("float32", 24, 5e-6),
                                             pytest.param("float64", 300, 1e-9, marks=pytest.mark.slow)])
def test_batched_results_equal_the_calculator(tmp_path, dtype, n, atol):
    """float64: the batching is exact; float32: the network's own rounding differs between a 9-atom
    and a 200-atom graph (measured up to 2e-6 e·Å on dipoles, 4e-7 e on charges)."""
    structures = waters(n)
    calc = E3DensityCalculator(dtype=dtype)
    results = list(screen(output=tmp_path / "r.db", structures=structures, batch_atoms=200, dtype=dtype))
    assert len(results) == len(structures) and all(r.ok for r in results)
    by_source = {r.source: r for r in results}
    rows = rows_by_source(tmp_path / "r.db")
    for i, atoms in enumerate(structures):
        atoms = atoms.copy()
        atoms.calc = calc
        r = by_source[f"stream@{i}"]
        row, = rows[f"stream@{i}"]
        for name, tol in (("charges", min(atol, 1e-6)), ("dipole", atol), ("quadrupole", atol)):
            expected = calc.get_property(name, atoms)
            np.testing.assert_allclose(r.arrays[name], expected, atol=tol, rtol=0)
            np.testing.assert_allclose(row.data[name], r.arrays[name], atol=0, rtol=0)
        assert abs(r.scalars["n_electrons"] - calc.get_property("n_electrons", atoms)) < 1e-9
        assert row.dipole_norm == pytest.approx(np.linalg.norm(calc.get_property("dipole", atoms)), abs=atol)
        assert row.model_checksum == calc.parameters["model_checksum"] and row.status == "ok" and row.time > 0


def test_failures_are_rows_and_the_rest_goes_on(tmp_path):
    out = tmp_path / "r.db"
    structures = waters(2) + bad_structures() + waters(2, seed=1)
    run = screen(output=out, structures=structures, batch_atoms=1000)
    results = list(run)
    assert [r.ok for r in results] == [True, True, False, False, False, True, True]
    errors = [r.error for r in results if not r.ok]
    assert "UnsupportedElementError" in errors[0] and "C" in errors[0]
    assert "overlapping" in errors[1] and "non-finite" in errors[2]
    assert (run.summary.done, run.summary.failed) == (4, 3)
    again = screen(output=out, structures=structures)
    assert list(again) == [] and again.summary.skipped == 7
    retry = screen(output=out, structures=structures, retry_failed=True)
    assert len(list(retry)) == 3 and retry.summary.retried == 3 and retry.summary.failed == 3
    rows = rows_by_source(out)
    assert sorted(rows) == [f"stream@{i}" for i in range(7)] and all(len(v) == 1 for v in rows.values())
    assert rows["stream@2"][0].status == "failed" and "error" in rows["stream@2"][0]


def test_interrupted_run_resumes_each_structure_once(tmp_path):
    path, out = tmp_path / "in.extxyz", tmp_path / "r.db"
    write(path, waters(60))
    run = screen(path, out, batch_atoms=60)
    for k, _ in enumerate(run):
        if k == 25:  # stop inside the third batch: those results were never committed
            break
    first = sum(len(v) for v in rows_by_source(out).values())
    assert 0 < first < 60
    rest = screen(path, out, batch_atoms=60)
    assert rest.start().total == 60 - first
    list(rest)
    rows = rows_by_source(out)
    assert sorted(rows) == sorted(f"{path}@{i}" for i in range(60)) and all(len(v) == 1 for v in rows.values())
    assert rest.summary.skipped == first


@pytest.mark.parametrize("suffix", [".csv", ".extxyz"])
def test_text_outputs_resume_after_a_cut_line(tmp_path, suffix):
    out = tmp_path / f"r{suffix}"
    structures = waters(12) + bad_structures()
    first = list(screen(output=out, structures=structures[:8], batch_atoms=30))
    with open(out, "a") as handle:
        handle.write("9\nPartial frame, stru" if suffix == ".extxyz" else "stream@99,abc,partial")  # a kill mid-write
    second = list(screen(output=out, structures=structures))
    assert len(first) + len(second) == len(structures)
    with open_writer(out) if suffix != ".csv" else open_writer(out, *_density_columns()) as writer:
        existing = list(writer.existing())
        ranked = [r["source"] for r in writer.rows()]
    assert sorted(e[0] for e in existing) == sorted(f"stream@{i}" for i in range(len(structures)))
    assert sum(e[2] == "failed" for e in existing) == 3 and len(ranked) == 12


def test_a_csv_written_before_names_were_carried_resumes_without_them(tmp_path):
    """A CSV output whose header lacks the name column (written by an earlier version) is resumed as it is."""
    out = tmp_path / "r.csv"
    named = waters(4)
    for k, atoms in enumerate(named):
        atoms.info["name"] = f"w{k}"
    list(screen(output=out, structures=named[:2]))
    with open(out, newline="") as handle:
        old = [{k: v for k, v in row.items() if k != "name"} for row in csv.DictReader(handle)]
    with open(out, "w", newline="") as handle:
        writer = csv.DictWriter(handle, list(old[0]))
        writer.writeheader()
        writer.writerows(old)
    assert len(list(screen(output=out, structures=named))) == 2  # the other two; the first two skipped
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert "name" not in rows[0] and [r["source"] for r in rows] == [f"stream@{k}" for k in range(4)]


def _density_columns():
    from ase_e3density.screen.density_kind import DensityEvaluator

    return DensityEvaluator.columns, ("charges", "dipole", "quadrupole")


def test_cli_over_files_and_an_ase_db_with_ranked_table(tmp_path, capsys):
    write(tmp_path / "a.xyz", waters(6))
    write(tmp_path / "b.xyz", waters(4, seed=3))
    src = connect(tmp_path / "src.db")
    for k, atoms in enumerate(waters(5, seed=4)):
        src.write(atoms, group=k % 2)
    assert main(["screen", str(tmp_path / "*.xyz"), str(tmp_path / "src.db"), "--select", "group=1",
                 "-o", str(tmp_path / "r.db"), "--no-progress", "--sort-by", "dipole_norm", "--top", "3"]) == 0
    captured = capsys.readouterr()
    assert "12 done, 0 failed, 0 skipped" in captured.err and "dipole_norm in e·Å" in captured.err
    table = captured.out.strip().splitlines()
    assert table[0].split()[:2] == ["rank", "dipole_norm"] and len(table) == 4
    values = [float(line.split()[1]) for line in table[1:]]
    assert values == sorted(values, reverse=True)
    sources = set(rows_by_source(tmp_path / "r.db"))
    assert sum("src.db@id=" in s for s in sources) == 2 and len(sources) == 12
    assert main(["screen", str(tmp_path / "a.xyz"), "-o", str(tmp_path / "r.db"), "--sort-by", "nope"]) == 2


def _table_cells(lines: list[str]) -> list[dict[str, str]]:
    """The ranked table's rows by column name (left-aligned columns start where their header does; a cell
    may be empty)."""
    head = lines[0]
    names = head.split()
    starts = [head.index(" " + n + " ") + 1 if k else 0 for k, n in enumerate(names[:-1])] + [head.rindex(" source") + 1]
    bounds = list(zip(starts, starts[1:] + [None]))
    return [{n: line[a:b].strip() for n, (a, b) in zip(names[2:], bounds[2:])} for line in lines[1:]]


def test_ranked_table_shows_in_domain_and_the_inputs_names(tmp_path, capsys):
    """The shipped water model flags a water with a 0.7 Å O-H bond (training: >= 0.88 Å) and not a plain one:
    the ranked table's in_domain column is each row's flag, beside the name its input gave (extxyz info, an
    ase.db row's name), so a flagged structure is not ranked on top unknowingly and can be found."""
    plain = molecule("H2O")
    plain.info["name"] = "plain-water"
    squeezed = molecule("H2O")
    squeezed.positions[1] = squeezed.positions[0] + [0.7, 0.0, 0.0]
    squeezed.info["name"] = "squeezed"
    unnamed = molecule("H2O")
    unnamed.positions[2, 0] += 0.05
    write(tmp_path / "in.extxyz", [plain, squeezed, unnamed])
    with connect(tmp_path / "in.db") as db:
        db.write(plain, name="db-water")
        db.write(squeezed, name=123)  # a number: ase.db refuses "123" as a string, so the output stores 123
    assert main(["screen", str(tmp_path / "in.extxyz"), str(tmp_path / "in.db"), "-o", str(tmp_path / "r.db"),
                 "--no-progress", "--sort-by", "dipole_norm"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert lines[0].split() == ["rank", "dipole_norm", "formula", "n_atoms", "in_domain", "name", "source"]
    cells = {c["source"]: c for c in _table_cells(lines)}
    rows = {row.source: row for row in connect(tmp_path / "r.db").select()}
    assert set(cells) == set(rows) and len(rows) == 5
    for source, row in rows.items():
        assert cells[source]["in_domain"] == str(row.in_domain)  # the flag, as the row stores it
        assert cells[source]["name"] == str(row.get("name", ""))
    expected = {"in.extxyz@0": ("plain-water", True), "in.extxyz@1": ("squeezed", False),
                "in.extxyz@2": (None, True), "in.db@id=1": ("db-water", True), "in.db@id=2": (123, False)}
    found = {Path(s).name: (row.get("name"), row.in_domain) for s, row in rows.items()}
    assert found == expected
    assert "0.7 Å" in rows[str(tmp_path / "in.extxyz") + "@1"].domain_warnings
    assert "2 of the 5 ranked rows are flagged by the model's domain check" in captured.err
    # the Python API and a CSV output carry the name too
    results = list(screen([tmp_path / "in.extxyz"], tmp_path / "r.csv"))
    assert [(r.name, r.scalars["in_domain"]) for r in results] == \
        [("plain-water", True), ("squeezed", False), ("", True)]
    with open(tmp_path / "r.csv", newline="") as handle:
        assert [(r["name"], r["in_domain"]) for r in csv.DictReader(handle)] == \
            [("plain-water", "True"), ("squeezed", "False"), ("", "True")]


def test_one_writer_per_output(tmp_path):
    with open_writer(tmp_path / "r.db"):
        with pytest.raises(E3DensityError, match="another process is writing to screening output"):
            open_writer(tmp_path / "r.db")


def test_the_command_line_batches_as_the_runner_does():
    from ase_e3density.cli.screen_cmd import BATCH_ATOMS
    from ase_e3density.screen.runner import DEFAULT_BATCH_ATOMS

    assert BATCH_ATOMS == DEFAULT_BATCH_ATOMS


def test_bad_inputs_are_one_line_errors(tmp_path):
    with pytest.raises(E3DensityError, match="no file matches"):
        screen(str(tmp_path / "*.xyz"))
    with pytest.raises(E3DensityError, match="unknown output type"):
        list(screen(output=tmp_path / "r.parquet", structures=waters(1)))


# -- slow: subprocesses and Dask clusters ---------------------------------------------------------
def _count_rows(path) -> int:
    try:
        with sqlite3.connect(path, timeout=1) as con:
            return con.execute("select count(*) from systems").fetchone()[0]
    except sqlite3.Error:
        return 0


@pytest.mark.slow
def test_kill_9_mid_run_then_rerun_gives_every_structure_once(tmp_path):
    path, out = tmp_path / "in.extxyz", tmp_path / "r.db"
    n = 400
    write(path, waters(n))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "ase_e3density.cli", "screen", str(path), "-o", str(out), "--batch-atoms", "24",
           "--no-progress"]
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while _count_rows(out) < 30 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    children = child_pids(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not wait_until_gone(children), "a child of the killed run lives on"
    written = _count_rows(out)
    assert 0 < written < n, "the run ended before it could be killed"
    subprocess.run(cmd, env=env, check=True, stderr=subprocess.DEVNULL)
    rows = rows_by_source(out)
    assert sorted(rows) == sorted(f"{path}@{i}" for i in range(n))
    assert all(len(v) == 1 and v[0].status == "ok" for v in rows.values())


@pytest.mark.slow
def test_two_dask_workers_equal_one_process(tmp_path):
    pytest.importorskip("distributed")
    path = tmp_path / "in.extxyz"
    write(path, waters(120))
    one = {r.source: r for r in screen(path, tmp_path / "one.db", batch_atoms=64)}
    two = {r.source: r for r in screen(path, tmp_path / "two.db", batch_atoms=64, workers=2)}
    assert sorted(one) == sorted(two)
    for source, r in one.items():
        assert two[source].atoms == r.atoms and two[source].atoms.info == r.atoms.info  # back from the workers
        assert two[source].scalars == pytest.approx(r.scalars, abs=1e-6)
        for name in ("charges", "dipole", "quadrupole"):
            np.testing.assert_allclose(two[source].arrays[name], r.arrays[name], atol=1e-6, rtol=0)
    assert len(rows_by_source(tmp_path / "two.db")) == 120


@pytest.mark.slow
def test_a_worker_killed_mid_run_loses_nothing(tmp_path):
    distributed = pytest.importorskip("distributed")
    path, out = tmp_path / "in.extxyz", tmp_path / "r.db"
    n = 300
    write(path, waters(n))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        run = screen(path, out, batch_atoms=24, scheduler=cluster.scheduler_address)
        killed = False
        for k, _ in enumerate(run):
            if k == 20 and not killed:
                pids = client.run(os.getpid)
                os.kill(next(iter(pids.values())), signal.SIGKILL)  # the nanny restarts it
                killed = True
        threads = client.run(lambda: __import__("torch").get_num_threads())
    assert set(threads.values()) == {1}  # the plugin, rerun on the restarted worker too
    assert killed and run.summary.done == n
    rows = rows_by_source(out)
    assert sorted(rows) == sorted(f"{path}@{i}" for i in range(n)) and all(len(v) == 1 for v in rows.values())


def test_read_ahead_keeps_order_passes_errors_and_stops_its_reader():
    from ase_e3density.screen.read_ahead import read_ahead
    from ase_e3density.errors import E3DensityError

    assert list(read_ahead(iter(range(50)), depth=2)) == list(range(50))

    def failing():
        yield 1
        raise E3DensityError("frame 1 unreadable")

    got = []
    with pytest.raises(E3DensityError, match="frame 1 unreadable"):
        for x in read_ahead(failing()):
            got.append(x)
    assert got == [1]

    closed, produced = [], []

    def endless():
        try:
            k = 0
            while True:
                produced.append(k)
                yield k
                k += 1
        finally:
            closed.append(True)

    stream = read_ahead(endless(), depth=2)
    assert [next(stream) for _ in range(3)] == [0, 1, 2]
    stream.close()  # the consumer stops early: the reader stops within one item and closes its source
    assert closed == [True] and len(produced) <= 3 + 2 + 1
def test_packed_batches_give_back_every_result():
    """What crosses the pipe to the writer process: plain structures joined into arrays, the rest whole."""
    from ase.constraints import FixAtoms

    from ase_e3density.screen.records import Result
    from ase_e3density.screen.packing import pack, unpack

    fixed = molecule("NH3")
    fixed.set_constraint(FixAtoms([0]))
    tagged = molecule("CH4")
    tagged.set_tags([1, 0, 0, 0, 2])
    periodic = molecule("H2O", vacuum=3.0, pbc=[True, False, True])
    results = [Result("a@0", "s0", molecule("H2O"), "c", True, scalars={"n_atoms": 3, "note": "x"},
                      arrays={"charges": np.arange(3.0), "quadrupole": np.eye(3), "counts": np.arange(2)},
                      name="first water"),
               Result("a@1", "s1", fixed, "c", False, error="ValueError: no"),
               Result("a@2", "s2", periodic, "c", True, arrays={"dipole": np.ones(3)}, seconds=0.5, time=7.0),
               Result("a@3", "s3", tagged, "c", True, arrays={"charges": np.zeros(5)})]
    back = unpack(pack(results))
    assert len(back) == len(results)
    for r, b in zip(results, back):
        assert (b.source, b.structure_hash, b.model_checksum, b.ok, b.error, b.scalars, b.seconds, b.time, b.name) == \
            (r.source, r.structure_hash, r.model_checksum, r.ok, r.error, r.scalars, r.seconds, r.time, r.name)
        assert b.atoms == r.atoms and b.atoms.constraints.__repr__() == r.atoms.constraints.__repr__()
        np.testing.assert_array_equal(b.atoms.get_tags(), r.atoms.get_tags())
        assert b.arrays.keys() == r.arrays.keys()
        for name, value in r.arrays.items():
            assert b.arrays[name].dtype == value.dtype
            np.testing.assert_array_equal(b.arrays[name], value)
    assert unpack(pack([])) == []
    assert unpack(pack(results))[0].atoms.info == {}  # the writer's rows store no info: it stays behind
    assert unpack(pack(results, info=True))[0].atoms.info == results[0].atoms.info


def test_batches_sent_to_dask_workers_pickle_packed_and_whole():
    """A Dask task's batch and its results pickle as a few joined arrays, yet arrive as they left: structures
    (their info and charge included; a structure with constraints or tags whole), scalars, arrays."""
    import pickle

    from ase.constraints import FixAtoms

    from ase_e3density.screen.packing import ItemBatch, ResultBatch
    from ase_e3density.screen.records import Item, Result

    fixed = molecule("NH3")
    fixed.set_constraint(FixAtoms([0]))
    tagged = molecule("CH4")
    tagged.set_tags([1, 0, 0, 0, 2])
    charged = molecule("H2O")
    charged.info.update(charge=1.0, multiplicity=2, smiles="[OH2+]")
    structures = [charged, fixed, molecule("CH3CN", vacuum=3.0, pbc=[True, False, True]), tagged]
    items = ItemBatch(Item(f"a@{k}", f"s{k}", atoms, float(k)) for k, atoms in enumerate(structures))
    plain = ItemBatch(Item(f"w@{k}", f"w{k}", atoms) for k, atoms in enumerate(waters(50)))
    pickle.dumps(plain, protocol=5, buffer_callback=(buffers := []).append)
    assert len(buffers) == 4  # numbers, positions, cells, pbc joined: not a few arrays per structure
    back = pickle.loads(pickle.dumps(items, protocol=5, buffer_callback=(buffers := []).append), buffers=buffers)
    assert type(back) is ItemBatch and [i.key for i in back] == [i.key for i in items]
    for item, b in zip(items, back):
        assert b.charge == item.charge and b.atoms == item.atoms and b.atoms.info == item.atoms.info
        assert repr(b.atoms.constraints) == repr(item.atoms.constraints)
        np.testing.assert_array_equal(b.atoms.get_tags(), item.atoms.get_tags())
    results = ResultBatch(Result(i.source, i.structure_hash, i.atoms, "c", True, scalars={"n_atoms": len(i.atoms)},
                                 arrays={"charges": np.arange(len(i.atoms), dtype=float), "dipole": np.ones(3)})
                          for i in items)
    back = pickle.loads(pickle.dumps(results))
    assert type(back) is ResultBatch
    for r, b in zip(results, back):
        assert (b.key, b.scalars, b.atoms, b.atoms.info) == (r.key, r.scalars, r.atoms, r.atoms.info)
        np.testing.assert_array_equal(b.arrays["charges"], r.arrays["charges"])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the writer process is Linux only")
def test_writer_process_writes_what_the_run_would(tmp_path):
    structures = waters(40) + bad_structures()
    for name, background in (("child.db", True), ("here.db", False)):
        run = screen(output=tmp_path / name, structures=structures, batch_atoms=30, background_writer=background)
        results = list(run)
        assert [r.source for r in results] == [f"stream@{i}" for i in range(43)]
        assert (run.summary.done, run.summary.failed) == (40, 3)
    child, here = rows_by_source(tmp_path / "child.db"), rows_by_source(tmp_path / "here.db")
    assert sorted(child) == sorted(here) and all(len(v) == 1 for v in child.values())
    for source, (row,) in here.items():
        (other,) = child[source]
        a, b = other.toatoms(), row.toatoms()
        np.testing.assert_array_equal(a.positions, b.positions)  # NaN where NaN (a failed structure)
        assert (a.numbers == b.numbers).all() and (a.cell.array == b.cell.array).all() and (a.pbc == b.pbc).all()
        timeless = lambda r: {k: v for k, v in r.key_value_pairs.items() if k not in ("time", "seconds")}  # noqa: E731
        assert timeless(other) == timeless(row)
        assert other.data.keys() == row.data.keys()
        for name in row.data:
            np.testing.assert_array_equal(other.data[name], row.data[name])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the writer process is Linux only")
def test_a_writer_process_that_dies_stops_the_run_with_one_line(tmp_path):
    import multiprocessing

    run = screen(output=tmp_path / "r.db", structures=waters(200), batch_atoms=12, background_writer=True)
    with pytest.raises(E3DensityError, match="the process writing .*r.db ended .*rerun to resume"):
        for k, _ in enumerate(run):
            if k == 5:
                writer, = [p for p in multiprocessing.active_children() if p.name == "ase_e3density-db-writer"]
                os.kill(writer.pid, signal.SIGKILL)
    again = screen(output=tmp_path / "r.db", structures=waters(200), batch_atoms=12)
    list(again)
    assert again.summary.skipped + again.summary.done == 200
    assert all(len(v) == 1 for v in rows_by_source(tmp_path / "r.db").values())


