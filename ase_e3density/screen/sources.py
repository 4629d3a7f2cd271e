"""Input structures, read lazily: files ASE reads (every frame), glob patterns, ase.db files with a selection."""
from __future__ import annotations

import glob
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.data import atomic_masses

from ..engine import structure_uid
from ..errors import E3DensityError
from ..graph.occupancy import occupancy_per_atom, set_occupancy_per_atom
from ..structure_files import cif_block_names
from .records import Item
from .writers import OCCUPANCY

__all__ = ["structure_hash", "expand_inputs", "iter_items", "items_from_atoms", "count_structures", "is_database",
           "check_selection"]

DB_SUFFIXES = (".db",)


def is_database(path: str | Path) -> bool:
    """Whether ``path`` is read as an ase.db (by suffix)."""
    return Path(path).suffix.lower() in DB_SUFFIXES


def expand_inputs(inputs: Iterable[str | Path]) -> list[str]:
    """Paths and glob patterns as a list of existing files, each once, in the order given."""
    paths: list[str] = []
    for entry in inputs:
        entry = str(entry)
        matches = sorted(glob.glob(entry)) if glob.has_magic(entry) else [entry]
        if not matches:
            raise E3DensityError(f"no file matches {entry!r}")
        for path in matches:
            if not Path(path).is_file():
                raise E3DensityError(f"input {path} does not exist" if not Path(path).exists()
                                     else f"input {path} is not a file")
            if path not in paths:
                paths.append(path)
    return paths


def check_selection(paths: list[str], select: str | None) -> None:
    """Refuse, before any work, a selection that has no ase.db input to apply to, that ase.db cannot parse,
    or that matches no row of any input (when nothing else is given: the run would do nothing)."""
    if not select:
        return
    from ase.db import connect

    databases = [p for p in paths if is_database(p)]
    if not databases:
        raise E3DensityError(f"select {select!r} applies to ase.db inputs (*.db); none of the inputs is one")
    counts = {}
    for path in databases:
        try:
            db = connect(path, use_lock_file=False)
            total = db.count()
        except Exception as exc:
            raise E3DensityError(f"input {path} is not an ase.db database ({type(exc).__name__}: {exc})") from exc
        try:
            counts[path] = (db.count(select), total)
        except Exception as exc:  # ASE raises ValueError, KeyError, sqlite3 errors for bad selections
            raise E3DensityError(f"select {select!r} is not an ase.db selection that {path} can answer "
                                 f"({type(exc).__name__}: {exc}); write e.g. 'natoms<30,charge=0'") from exc
    if len(databases) == len(paths) and not any(matched for matched, _ in counts.values()):
        held = ", ".join(f"{p} ({total} rows)" for p, (_, total) in counts.items())
        raise E3DensityError(f"select {select!r} matches no row of {held}: nothing to screen")


def _charge(atoms: Atoms) -> float:
    try:
        return float(atoms.info.get("charge", 0.0) or 0.0)
    except (TypeError, ValueError):
        return float("nan")  # the runner records it as a failure


def structure_hash(atoms: Atoms) -> str:
    """The structure's hash (numbers, positions to 1e-6 Å, cell, pbc, charge, spin; site occupancies and masses
    (amu, to 1e-6) where they are not the plain elements'), prefixed with ``s`` so that ase.db never reads an
    all-digit or ``...e1`` hash as a number. A structure without occupancies or set masses hashes as before both
    entered, so older screening databases resume."""
    return "s" + structure_uid(atoms, *_beyond_the_elements(atoms))


def _beyond_the_elements(atoms: Atoms) -> tuple[str, ...]:
    """Labels for what changes the physics besides numbers and positions: the per-atom site occupancies and
    masses that differ from the elements' standard ones (isotopes). Empty for plain structures."""
    labels = []
    try:
        sites = occupancy_per_atom(atoms)
        if sites is not None:
            labels.append("occupancy " + json.dumps([None if site is None else {k: round(v, 6) for k, v in
                                                                                sorted(site.items())} for site in sites]))
    except (E3DensityError, AttributeError, TypeError, ValueError):  # unreadable: the model refuses it, as a failed row
        labels.append("occupancy " + repr(atoms.info.get("occupancy")))
    if atoms.has("masses"):
        masses = np.round(atoms.get_masses(), 6)
        if not np.array_equal(masses, np.round(atomic_masses[atoms.numbers], 6)):
            labels.append("masses " + json.dumps(masses.tolist()))
    return tuple(labels)


def _item(source: str, atoms: Atoms) -> Item:
    return Item(source, structure_hash(atoms), atoms, _charge(atoms))


def _fractions(amounts: dict[str, float]) -> dict[str, float]:
    total = sum(amounts.values())
    return {k: v / total for k, v in amounts.items() if v > 0} if total > 0 else {}


def _stated_composition(text: str) -> dict[str, float]:
    """{element: share of the atoms} of a composition such as "Ti0.75V0.25N" (empty if it is not one)."""
    amounts: dict[str, float] = {}
    for symbol, amount in re.findall(r"([A-Z][a-z]?)(\d*\.?\d*)", text):
        amounts[symbol] = amounts.get(symbol, 0.0) + (float(amount) if amount else 1.0)
    return _fractions(amounts)


def _restore_occupancy(atoms: Atoms, row, where: str) -> None:
    """A virtual crystal's site occupancies from the row's ``data``, where screen outputs keep them. A row whose
    ``composition`` the atoms do not have (a virtual crystal's cell holds one element per site) needs them: one
    without (a screen output written before they were kept) is refused, since its atoms alone are another crystal.
    An explicit alloy supercell (Mg6Cd2 stated as Mg0.75Cd0.25) has its composition and is read as it is."""
    stated = _stated_composition(str(row.key_value_pairs.get("composition", "")))
    own = _fractions({s: float(n) for s, n in atoms.symbols.formula.count().items()})
    if not stated or (stated.keys() == own.keys() and all(abs(stated[k] - own[k]) < 1e-3 for k in own)):
        return  # its data (maybe large) is not decoded
    sites = (getattr(row, "data", None) or {}).get(OCCUPANCY)
    if sites is None:
        raise E3DensityError(f"{where} is a virtual crystal ({row.key_value_pairs['composition']}) stored without its "
                             f"site occupancies: its atoms alone are the ordered cell {row.formula}; screen the "
                             "structure files it came from")
    set_occupancy_per_atom(atoms, json.loads(sites))


def _iter_database(path: str, select: str | None) -> Iterator[Item]:
    from ase.db import connect

    db = connect(path)
    rows = iter(())
    try:
        rows = db.select(select) if select else db.select()
        for row in rows:
            atoms = row.toatoms()
            for key in ("charge", "name"):  # the total charge, and how the user finds the structure
                if key in row.key_value_pairs:
                    atoms.info[key] = row.key_value_pairs[key]
            _restore_occupancy(atoms, row, f"{path} row {row.id}")
            yield _item(f"{path}@id={row.id}", atoms)
    except E3DensityError:
        raise
    except Exception as exc:  # bad selection syntax, not an ase.db file
        raise E3DensityError(f"{path}: cannot select rows ({type(exc).__name__}: {exc})") from exc
    finally:  # ase.db's row generator holds a connection of this thread: close it here, not at garbage collection
        close = getattr(rows, "close", None)
        if close is not None:
            close()


def _iter_file(path: str) -> Iterator[Item]:
    from ase.io import iread

    frames = iread(path, index=":")
    try:
        names = cif_block_names(path)
    except Exception:  # ASE's reader says what is wrong with the file, frame by frame, below
        names = None
    index = 0
    while True:
        try:
            atoms = next(frames)
        except StopIteration:
            return
        except Exception as exc:  # ASE raises many kinds for unreadable files
            raise E3DensityError(f"{path}: ASE cannot read frame {index} ({type(exc).__name__}: {exc})") from exc
        if names and not atoms.info.get("name"):
            atoms.info["name"] = names[index]
        yield _item(f"{path}@{index}", atoms)
        index += 1


def iter_items(paths: list[str], select: str | None = None) -> Iterator[Item]:
    """Every structure of every input, one at a time; ``select`` applies to ase.db inputs."""
    for path in paths:
        yield from (_iter_database(path, select) if is_database(path) else _iter_file(path))


def items_from_atoms(structures: Iterable[Atoms | tuple[str, Atoms]], label: str = "stream") -> Iterator[Item]:
    """Items from Atoms (source ``label@i``) or from (source, Atoms) pairs, e.g. a generator."""
    for i, entry in enumerate(structures):
        source, atoms = entry if isinstance(entry, tuple) else (f"{label}@{i}", entry)
        yield _item(str(source), atoms)


def _count_xyz_frames(path: str) -> int | None:
    """Frames of an (ext)xyz file by skipping atom lines, without parsing them; None if malformed."""
    n = 0
    with open(path, "rb") as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                atoms = int(line)
            except ValueError:
                return None
            for _ in range(atoms + 1):
                handle.readline()
            n += 1
    return n


def count_structures(paths: list[str], select: str | None = None) -> int | None:
    """How many structures the inputs hold, when that is cheap to find out; else None."""
    total = 0
    for path in paths:
        if is_database(path):
            from ase.db import connect

            try:
                total += connect(path).count(select) if select else connect(path).count()
            except Exception:
                return None
        elif Path(path).suffix.lower() in (".xyz", ".extxyz"):
            n = _count_xyz_frames(path)
            if n is None:
                return None
            total += n
        else:
            return None
    return total
