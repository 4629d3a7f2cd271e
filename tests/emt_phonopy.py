"""phonopy with EMT forces: the force constants the phonon tests compare against."""
from __future__ import annotations

import numpy as np
from ase import Atoms


def emt_phonopy(unitcell, supercell: int = 2, distance: float = 0.01):
    """A Phonopy object of ``unitcell`` (a PhonopyAtoms) in the diagonal ``supercell``, with EMT forces of
    phonopy's finite displacements (``distance`` Å) and symmetrised force constants."""
    from ase.calculators.emt import EMT
    from phonopy import Phonopy

    ph = Phonopy(unitcell, supercell_matrix=np.eye(3, dtype=int) * supercell, primitive_matrix="auto", log_level=0)
    ph.generate_displacements(distance=distance)
    forces = []
    for sc in ph.supercells_with_displacements:
        displaced = Atoms(list(sc.symbols), cell=sc.cell, scaled_positions=sc.scaled_positions, pbc=True)
        displaced.calc = EMT()
        forces.append(displaced.get_forces())
    ph.forces = forces
    ph.produce_force_constants(show_drift=False)
    ph.symmetrize_force_constants(show_drift=False)
    return ph
