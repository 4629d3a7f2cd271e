"""The package as a user installs it: `python -m build` makes an sdist and a wheel (the wheel built from the
sdist, so the sdist is complete); the wheel, installed into a fresh venv, runs the README's Python snippet and
the `e3density` command from a folder outside the repository.

The fresh venv has no pip and no network: it is made with this interpreter's ``venv --without-pip``, the wheel
goes in with this environment's pip (``pip --python``, ``--no-deps --no-index``), and one ``.pth`` line lets it
reuse this environment's installed dependencies (a plain path line: the ``.pth`` files there, such as an
editable install's finder of this repository, are not run). The test checks that ``ase_e3density`` is
imported from the wheel, not from the repository.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

from ase_e3density import __version__

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ["ase_e3density/data/models/default.pt", "ase_e3density/data/models/phonon.pt",
           "ase_e3density/data/examples/water_20.xyz", "ase_e3density/data/basis/def2-universal-jfit.json"]


def readme_snippet() -> str:
    """The README's first Python block: what a new user runs first."""
    match = re.search(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert match, "README.md has no ```python block"
    return match.group(1)


def clean_env() -> dict:
    """This environment without PYTHONPATH and the like (a checkout on PYTHONPATH would shadow the wheel)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}


def run(cmd, cwd: Path, env: dict, timeout: float = 600) -> subprocess.CompletedProcess:
    done = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(map(str, cmd))} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    """The sdist and the wheel of this checkout, built once (no build isolation: no network needed)."""
    out = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "build", "--no-isolation", "--outdir", out, ROOT], cwd=ROOT, env=clean_env())
    wheels, sdists = sorted(out.glob("*.whl")), sorted(out.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, sorted(p.name for p in out.iterdir())
    return {"wheel": wheels[0], "sdist": sdists[0]}


def test_wheel_holds_the_package_its_models_and_examples_only(built):
    names = zipfile.ZipFile(built["wheel"]).namelist()
    assert built["wheel"].name == f"ase_e3density-{__version__}-py3-none-any.whl"
    for shipped in SHIPPED:
        assert shipped in names
    top = {name.split("/")[0] for name in names}
    assert top == {"ase_e3density", f"ase_e3density-{__version__}.dist-info"}, top  # no data/, runs/, tests/, docs/
    assert sum(zipfile.ZipFile(built["wheel"]).getinfo(n).file_size for n in names) < 10e6  # bytes, unpacked
    sdist = tarfile.open(built["sdist"]).getnames()
    prefix = f"ase_e3density-{__version__}/"
    for member in ("setup.cfg", "pyproject.toml", "README.md", *SHIPPED):
        assert prefix + member in sdist
    assert not any(n.startswith(prefix + d) for n in sdist for d in ("tests/", "data/", "runs/"))


def test_wheel_in_a_fresh_venv_runs_the_readme_from_any_folder(built, tmp_path):
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=tmp_path, env=clean_env())
    python = venv / "bin" / "python"
    purelib = Path(run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=tmp_path,
                       env={"PATH": os.environ["PATH"]}).stdout.strip())
    here = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (purelib / "_dependencies.pth").write_text("".join(f"{p}\n" for p in sorted(here)))
    run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "--quiet",
         built["wheel"]], cwd=tmp_path, env=clean_env())

    user = tmp_path / "user"  # a folder outside the repository, as a new user's
    user.mkdir()
    env = {"PATH": f"{venv / 'bin'}:{os.environ['PATH']}", "HOME": str(tmp_path), "OMP_NUM_THREADS": "1"}
    found = run([python, "-I", "-c", "import ase_e3density, sys; print(ase_e3density.__file__); "
                 "print(ase_e3density.example_path('water_20.xyz'))"], cwd=user, env=env).stdout.split()
    assert Path(found[0]).is_relative_to(purelib), found  # the wheel's copy, not the repository's
    assert Path(found[1]).is_relative_to(purelib) and Path(found[1]).is_file(), found

    snippet = user / "snippet.py"
    snippet.write_text(readme_snippet())
    printed = run([python, "-I", snippet], cwd=user, env=env).stdout
    assert (user / "water_20.cube").stat().st_size > 1e5  # bytes: the cube file the snippet writes
    numbers = [float(x) for x in re.findall(r"-?\d+\.\d+(?:e[-+]\d+)?", printed)]
    assert len(numbers) > 60  # 60 charges of 20 waters, a dipole, a quadrupole and heat capacities

    command = venv / "bin" / "e3density"  # the console script the wheel installed
    version = run([command, "--version"], cwd=user, env=env).stdout
    assert version.split() == ["e3density", __version__]
    predicted = run([command, "predict"], cwd=user, env=env)  # the shipped 20-water cluster
    assert "dipole" in predicted.stdout.lower(), predicted.stdout
