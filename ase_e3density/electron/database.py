"""Reference densities in an ase.db: one row per structure, written as it is computed.

Rows carry the structure, a single-point calculator with the DFT energy (eV) and exact DFT
dipole (e·Å), key-value pairs ``uid`` (a hash of structure and level of theory), ``source``,
``xc``, ``basis``, ``auxbasis``, ``fit_eps`` (percent), and data ``density_coefficients``
and ``nuclear_charges``. Each row is committed on its own, so an interrupted run loses
nothing and a rerun skips the rows it already has.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
from ase.calculators.singlepoint import SinglePointCalculator

from ..engine.uid import existing_uids, structure_uid  # kind-neutral: kept importable from here
from ..errors import InputFileError
from .density import AtomicDensity

__all__ = ["structure_uid", "write_density_row", "read_density", "iter_densities", "existing_uids"]


def write_density_row(db, density: AtomicDensity, uid: str, source: str = "", **extra) -> int:
    """Append one density (with its ``info`` from :mod:`ase_e3density.reference`) as a row."""
    atoms = density.atoms.copy()
    info = density.info
    if "energy" in info or "dft_dipole" in info:
        atoms.calc = SinglePointCalculator(atoms, energy=info.get("energy"), dipole=np.asarray(info.get("dft_dipole")))
    kvp = {"uid": uid, "source": source, "auxbasis": density.basis.name, "n_electrons": density.n_electrons}
    for key in ("xc", "basis", "charge", "spin"):
        if info.get(key) is not None:
            kvp[key] = info[key]
    kvp.update({k: v for k, v in extra.items() if v is not None})
    data = {"density_coefficients": density.coefficients, "nuclear_charges": density.nuclear_charges}
    return db.write(atoms, key_value_pairs=kvp, data=data)


def read_density(row) -> AtomicDensity:
    """The :class:`AtomicDensity` stored in an ase.db row."""
    info = {k: row.get(k) for k in ("xc", "basis", "charge", "spin", "fit_eps") if row.get(k) is not None}
    if row.get("energy") is not None:
        info["energy"] = row.energy
    if row.get("dipole") is not None:
        info["dft_dipole"] = np.asarray(row.dipole).tolist()
    atoms = row.toatoms()
    return AtomicDensity(atoms, row.auxbasis, row.data["density_coefficients"], row.data.get("nuclear_charges"),
                         info=info)


def iter_densities(path, selection=None) -> Iterator[AtomicDensity]:
    """Every density in the database at ``path`` (optionally an ase.db ``selection``)."""
    from ase.db import connect

    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"no such reference database: {path}")
    try:
        db = connect(path)
        db.count()
    except Exception as exc:  # sqlite3.DatabaseError, ValueError for unknown file types, ...
        raise InputFileError(f"{path} is not an ase.db database ({type(exc).__name__}: {exc})") from exc
    try:
        rows = list(db.select(selection))
    except Exception as exc:  # ase.db's parser: ValueError, KeyError, sqlite3 errors, ...
        what = f"cannot select {selection!r}" if selection else "cannot read its rows"
        raise InputFileError(f"{path}: {what} ({type(exc).__name__}: {exc})") from exc
    for row in rows:
        if "density_coefficients" not in row.data or row.get("auxbasis") is None:
            raise InputFileError(f"{path}: row {row.id} holds no reference density (no density_coefficients); "
                                 "write reference databases with `e3density reference`")
        yield read_density(row)
