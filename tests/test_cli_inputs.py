"""Structure files on the command line: each selected frame keeps its own frame number as its source."""
from ase.build import molecule
from ase.io import write

from ase_e3density.cli.common import read_structures


def test_sources_name_the_files_own_frame_numbers(tmp_path):
    path = tmp_path / "frames.extxyz"
    write(path, [molecule("H2O") for _ in range(10)])
    labels = lambda index: [s.rsplit("@", 1)[1] for s, _ in read_structures([str(path)], index)]  # noqa: E731
    assert labels(":") == [str(k) for k in range(10)]
    assert labels("4:10:3") == ["4", "7"]
    assert labels("-3:") == ["7", "8", "9"]
    assert labels("::-4") == ["9", "5", "1"]
    assert labels("6") == ["6"]
