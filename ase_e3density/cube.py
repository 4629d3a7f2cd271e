"""Gaussian cube output of densities on uniform grids."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.io.cube import write_cube

from .grids import UniformGrid

__all__ = ["write_density_cube"]


def write_density_cube(path, atoms: Atoms, grid: UniformGrid, values: np.ndarray, comment: str | None = None) -> None:
    """Write ``values`` (shape ``grid.shape``, written as given) with ``atoms`` to a cube file.

    The file appears atomically: it is written beside the target and renamed into place.
    """
    boxed = atoms.copy()
    boxed.set_cell(grid.axes * np.array(grid.shape)[:, None])
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent or ".", prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            write_cube(handle, boxed, data=np.asarray(values).reshape(grid.shape), origin=grid.origin,
                       comment=comment or "ase_e3density electron density (e/bohr^3)")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
