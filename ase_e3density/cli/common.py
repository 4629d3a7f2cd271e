"""Helpers shared by the commands: progress lines, a live status line, reading structures, number formatting."""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..errors import E3DensityError
from ..examples import example_path
from ..structure_files import cif_block_names

__all__ = ["progress", "Status", "read_structures", "frame_names", "example_path", "format_vector", "require_file", "add_engine_options",
           "positive_int", "check_output_files", "parse_index", "SIGNATURES"]

SIGNATURES = {
    "extxyz": (b"n_electrons=", b"domain_warnings="),  # e3density predict's frames (density, phonon models)
    "cube": (b"ase_e3density",),                        # the comment line of our cube files
    "dos": (b"frequency (THz)  DOS per atom",),          # the header of e3density predict --dos
    "json": (b'"model_checksum"',),                     # e3density evaluate --json
}
"""What the first bytes of each single-file output of the command line hold, to know it as ours."""


def progress(message: str) -> None:
    """A progress or status line on stderr (stdout stays for results)."""
    print(message, file=sys.stderr, flush=True)


class Status:
    """What a long command is doing, on stderr, with the seconds since it started; silent when not
    ``enabled`` (``--no-progress``). On a terminal it is one line rewritten in place, cleared before each
    result line (:meth:`result`) goes to stdout and when a ``with`` block around it ends (an error message
    then starts on a clean line); elsewhere (a log file) one line per step."""

    def __init__(self, command: str, enabled: bool = True, stream=None) -> None:
        self.prefix = f"e3density {command}: "
        self.enabled = enabled
        self.stream = sys.stderr if stream is None else stream
        self.live = enabled and self.stream.isatty()
        self.start = time.perf_counter()
        self.shown = False

    def __call__(self, message: str) -> None:
        if not self.enabled:
            return
        text = f"{self.prefix}{message} [{time.perf_counter() - self.start:.0f} s]"
        if self.live:
            width = shutil.get_terminal_size().columns - 1
            self.stream.write("\r\033[K" + text[:width])
            self.stream.flush()
            self.shown = True
        else:
            print(text, file=self.stream, flush=True)

    def __enter__(self) -> "Status":
        return self

    def __exit__(self, *exc) -> None:
        self.clear()

    def clear(self) -> None:
        """Remove the live line (before anything else is written to the terminal)."""
        if self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.shown = False

    def result(self, text: str = "") -> None:
        """A line of the command's result, on stdout."""
        self.clear()
        print(text, flush=True)


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text}")
    return value


def shipped_names() -> str:
    """The shipped model names, for help texts ("default, organic, phonon"; no torch import)."""
    from ..kinds import registered_kinds

    return ", ".join(name for kind in registered_kinds() for name in kind.shipped)


def parse_temperatures(text: str, option: str = "--temperatures") -> tuple[float, ...]:
    """Comma-separated numbers (K), or a one-line error; the command's API checks their range."""
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        values = ()
    if not values:
        raise E3DensityError(f"{option} takes comma-separated temperatures in K, got {text!r}")
    return values


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    """The options every resumable command takes (``reference``, ``phonons``, ``screen``): where the
    work runs, and whether failure rows are computed again."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=positive_int, metavar="N",
                       help="compute on a Dask LocalCluster of N worker processes on this machine (default: in "
                            "this process, without Dask); results equal a one-process run")
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="compute on a running Dask cluster (tcp://host:8786, e.g. dask-jobqueue on SLURM; default: in this "
                            "process, or on --workers)")
    parser.add_argument("--threads-per-worker", type=positive_int, default=1, metavar="T",
                        help="torch/OpenMP threads in each Dask worker (default: %(default)s)")
    parser.add_argument("--retry-failed", action="store_true",
                        help="compute again the structures whose earlier attempt left a failure row (default: skip them)")


def require_file(path, what: str) -> Path:
    """``path`` as a Path, or a clear error if it is not an existing file."""
    path = Path(path)
    if not path.is_file():
        raise E3DensityError(f"{what} {path} does not exist" if not path.exists() else f"{what} {path} is not a file")
    return path


def check_output_files(args: argparse.Namespace, command: str, **kinds: str) -> None:
    """Refuse, before any work, each output option given (``kinds``: option name -> key of
    :data:`SIGNATURES`) whose path is a folder, lies in a missing folder, or is a file ``command`` did not write."""
    from ..fileio import check_output_file

    for name, kind in kinds.items():
        value = getattr(args, name, None)
        if value:
            check_output_file(value, f"--{name.replace('_', '-')}", SIGNATURES[kind], command)


def parse_index(index: str):
    """An ASE frame index (``-1``, ``:``, ``0:10:2``) as ASE reads it; refused in one line when it is none."""
    from ase.io.formats import string2index

    text = str(index).strip()
    parts = text.split(":")
    try:
        if len(parts) > 3 or not text:
            raise ValueError
        numbers = [int(p) if p.strip() else None for p in parts]
    except ValueError:
        hint = ""
        try:
            value = float(text)
            if value == int(value):
                hint = f" (write it as {int(value)})"
        except (ValueError, OverflowError):
            pass
        raise E3DensityError(f"--index {index!r} is not a frame index{hint}: give a whole number (-1: the last "
                             "frame) or a slice start:stop:step of whole numbers (':' all, '0:10:2')") from None
    if len(numbers) == 3 and numbers[2] == 0:
        raise E3DensityError(f"--index {index!r}: a slice step cannot be 0")
    return string2index(text)


def read_structures(inputs: list[str], index: str) -> Iterator[tuple[str, object]]:
    """(source label, Atoms) for every selected frame of every input file."""
    from ase import Atoms
    from ase.io import read

    parse_index(index)
    for path in inputs:
        require_file(path, "structure file")
        try:
            frames = read(path, index=index)
        except (IndexError, StopIteration) as exc:
            raise E3DensityError(f"{path}: --index {index} selects no frame") from exc
        except Exception as exc:  # ASE raises many kinds for unreadable files
            raise E3DensityError(f"{path}: ASE cannot read it ({type(exc).__name__}: {exc})") from exc
        frames = [frames] if isinstance(frames, Atoms) else list(frames)
        if not frames:
            raise E3DensityError(f"{path}: --index {index} selects no frame")
        names = cif_block_names(path)
        for label, atoms in zip(_frame_numbers(path, index, len(frames)), frames):
            if names and not atoms.info.get("name"):
                atoms.info["name"] = names[int(label)]
            yield f"{path}@{label}", atoms


def _frame_numbers(path: str, index: str, n_selected: int) -> list[str]:
    """The file's own frame number of each selected frame (``@187`` for frame 187, whatever the --index)."""
    from ase.io import iread
    from ase.io.formats import string2index

    selected = string2index(index)
    if isinstance(selected, int):
        return [str(selected)]
    start, step = selected.start or 0, selected.step or 1
    if start >= 0 and step > 0:
        return [str(start + i * step) for i in range(n_selected)]
    total = sum(1 for _ in iread(path, index=":"))  # negative start or step: count the frames once
    return [str(k) for k in range(total)[selected]]


def frame_names(frames) -> list[str] | None:
    """Each frame's ``atoms.info["name"]`` (a CIF's data block, an extxyz ``name``), "" where absent; None when no
    frame has one (the tables then have no name column)."""
    from ..screen.records import structure_name  # what screening calls a structure's name (imported when printed)

    names = [structure_name(atoms).replace("|", "\\|") for atoms in frames]  # a markdown table cell
    return names if any(names) else None


def format_vector(values, digits: int = 4) -> str:
    """``[ 0.1234 -0.5000  0.0000]`` without touching numpy's global print options."""
    return np.array2string(np.asarray(values), precision=digits, suppress_small=True, floatmode="fixed")
