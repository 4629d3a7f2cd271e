"""``e3density evaluate`` says what it is doing on stderr (off with --no-progress); stdout holds the result only."""
import io
from pathlib import Path

import pytest
from ase.db import connect

from ase_e3density.cli import main
from ase_e3density.cli.common import Status

DATA = Path(__file__).resolve().parents[1] / "data" / "water" / "train.db"


@pytest.fixture(scope="module")
def two_sets(tmp_path_factory):
    """Two reference databases: one water monomer in the first, one monomer and one dimer in the second."""
    root = tmp_path_factory.mktemp("sets")
    with connect(DATA) as src:
        monomers = list(src.select(natoms=3, limit=2))
        dimer = next(src.select(natoms=6, limit=1))
    for name, rows in (("first.db", monomers[:1]), ("second.db", [monomers[1], dimer])):
        with connect(root / name) as dst:
            for row in rows:
                dst.write(row.toatoms(), data=row.data, **row.key_value_pairs)
    return root / "first.db", root / "second.db"


def test_evaluate_reports_each_structure_and_its_set_on_stderr(two_sets, capsys):
    assert main(["evaluate", "default", *map(str, two_sets), "--grid-level", "1"]) == 0
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert lines[0].startswith("e3density evaluate: loading model default [")
    assert any("3 structures (1 in " in line and "first.db, 2 in " in line for line in lines)
    assert any("structure 1/3 (H2O, first.db): the model's density" in line for line in lines)
    assert any("structure 3/3 (H4O2, second.db): the reference on a level-1 quadrature grid" in line
               for line in lines)
    assert sum("structure 2/3 (H2O, second.db)" in line for line in lines) == 3  # density, grid, errors
    assert "e3density evaluate" not in out.replace("command: e3density evaluate", "")  # stdout: the result only
    assert out.startswith("| # | formula |") and "mean over 3 structures" in out


def test_no_progress_leaves_stderr_empty_and_stdout_the_same(two_sets, capsys):
    first = str(two_sets[0])
    assert main(["evaluate", "default", first, "--grid-level", "1"]) == 0
    with_progress = capsys.readouterr().out
    assert main(["evaluate", "default", first, "--grid-level", "1", "--no-progress"]) == 0
    out, err = capsys.readouterr()
    assert err == "" and out == with_progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_status_is_one_line_cleared_before_results(capsys):
    stream = Terminal()
    status = Status("evaluate", stream=stream)
    status("loading model")
    status("structure 1/2")
    status.result("| 1 | H2O |")
    status.clear()  # nothing left to clear: writes nothing
    assert "\n" not in stream.getvalue()  # rewritten in place, never a new line
    assert stream.getvalue().endswith("\r\033[K") and stream.getvalue().count("\r\033[K") == 3
    assert capsys.readouterr().out == "| 1 | H2O |\n"


def test_a_with_block_clears_the_live_line_when_it_ends_in_an_error():
    stream = Terminal()
    with pytest.raises(ValueError), Status("evaluate", stream=stream) as status:
        status("structure 1/2")
        raise ValueError("bad row")
    assert stream.getvalue().endswith("\r\033[K")  # the error message starts on a clean line
