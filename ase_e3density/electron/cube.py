"""Gaussian cube output of densities on uniform grids."""
from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.io.cube import write_cube

from ..fileio import atomic_path, check_output_file
from .grids import UniformGrid

__all__ = ["write_density_cube"]


def write_density_cube(path, atoms: Atoms, grid: UniformGrid, values: np.ndarray, comment: str | None = None) -> None:
    """Write ``values`` (shape ``grid.shape``, written as given) with ``atoms`` to a cube file.

    The file appears atomically: it is written beside the target and renamed into place. An existing
    file there is replaced only if this package wrote it (another file, or a folder, is refused).
    """
    check_output_file(path, "cube file", (b"ase_e3density",), "ase_e3density")
    boxed = atoms.copy()
    boxed.set_cell(grid.axes * np.array(grid.shape)[:, None])
    with atomic_path(path) as tmp, open(tmp, "w") as handle:
        write_cube(handle, boxed, data=np.asarray(values).reshape(grid.shape), origin=grid.origin,
                   comment=comment or "ase_e3density electron density (e/bohr^3)")
