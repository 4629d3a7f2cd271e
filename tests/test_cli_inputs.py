"""Structure files on the command line: each selected frame keeps its own frame number as its source."""
import gzip

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


def test_a_cifs_data_block_names_name_its_frames_in_predict_and_screen(tmp_path, capsys):
    """ASE's CIF reader drops the data-block names; the command line and screening carry them as the frames'
    names (a name the frame already has wins), and `predict` shows them in a name column."""
    from ase.build import bulk

    from ase_e3density.cli import main
    from ase_e3density.screen.sources import iter_items

    path = tmp_path / "two.cif"
    write(path, [bulk("Cu"), bulk("NaCl", "rocksalt", a=5.6), bulk("Si")])
    text = path.read_text()
    for k, name in enumerate(["copper_fcc", "halite", "silicon"]):
        text = text.replace(f"data_image{k}\n", f"data_{name}\n")
    path.write_text(text)
    assert [atoms.info["name"] for _, atoms in read_structures([str(path)], "1:")] == ["halite", "silicon"]
    assert [item.atoms.info["name"] for item in iter_items([str(path)])] == ["copper_fcc", "halite", "silicon"]
    packed = tmp_path / "two.cif.gz"
    packed.write_bytes(gzip.compress(path.read_bytes()))
    assert [atoms.info["name"] for _, atoms in read_structures([str(packed)], "-1")] == ["silicon"]
    assert main(["predict", str(path), "--model", "phonon", "--index", "0:2"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| frame | name | formula |")
    assert rows[2].startswith("| 0 | copper_fcc | Cu |") and rows[3].startswith("| 1 | halite | NaCl |")


def test_predict_at_the_default_index_says_when_the_file_holds_more_frames(tmp_path, capsys):
    """ASE's default (-1) reads the last frame; `predict` then names the frames it did not read, and is silent
    for a one-frame file and for an --index given explicitly."""
    from ase_e3density.cli import main

    many, one = tmp_path / "three.xyz", tmp_path / "one.xyz"
    waters = [molecule("H2O") for _ in range(3)]
    waters[2].positions[0, 2] += 0.05  # the last frame differs: its results are the ones printed
    write(many, waters)
    write(one, waters[2])
    assert main(["predict", str(many)]) == 0
    from_many = capsys.readouterr()
    assert f"{many} holds more than one frame; predicting the last (--index : predicts all" in from_many.err
    assert main(["predict", str(one)]) == 0
    from_one = capsys.readouterr()
    results = lambda out: [line for line in out.splitlines() if line.startswith(("dipole", "electrons"))]  # noqa: E731
    assert "frame" not in from_one.err and results(from_one.out) == results(from_many.out) != []
    assert main(["predict", str(many), "--index", "-1"]) == 0
    assert "more than one frame" not in capsys.readouterr().err
