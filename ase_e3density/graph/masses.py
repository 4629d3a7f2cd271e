"""Site masses of a crystal against the standard ones: isotopes, for the phonon models.

A phonon model's input is mass-weighted (each site's standard mass, ASE's ``atomic_masses``, at the
index of its element; a virtual crystal's site the mean of its elements' by fraction). Masses of one's
own (``atoms.set_masses``) enter as each site's ratio rho = mass / standard mass; a site whose mass is
ASE's standard mass of its symbol keeps rho = 1 (so a virtual crystal read back with its majority
element's mass is not an isotope).

The harmonic frequencies of a crystal scale as 1/sqrt(mass) when every mass is scaled alike, exactly
(the force constants do not depend on masses). :func:`mass_scale` splits the ratios into that uniform
part s (their geometric mean) and what is left per site, rho / s: a model sees the crystal with masses
m / s, and its DOS is mapped back exactly (frequencies / sqrt(s), DOS x sqrt(s)). A crystal of one
element with any one isotope mass, or any crystal with all masses scaled alike, is therefore exact; only
masses changed relative to each other go through the network.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms
from ase.data import atomic_masses, atomic_numbers

from ..errors import E3DensityError

__all__ = ["site_mass_ratios", "mass_scale"]


def site_mass_ratios(atoms: Atoms, fractions: np.ndarray, species: Sequence[str]) -> np.ndarray:
    """Each site's mass over its standard mass (amu / amu), shape (n_atoms,): 1 for every site without a
    mass of its own. ``fractions`` (n_atoms, len(species)) are the site occupancies."""
    n = len(atoms)
    if not atoms.has("masses"):
        return np.ones(n)
    masses = np.asarray(atoms.get_masses(), dtype=float)
    if not (np.isfinite(masses).all() and (masses > 0).all()):
        raise E3DensityError("atoms.get_masses(): every mass must be finite and > 0 amu")
    standard = np.asarray(fractions, dtype=float) @ np.array([atomic_masses[atomic_numbers[s]] for s in species])
    ratios = masses / standard
    ratios[np.isclose(masses, atomic_masses[atoms.numbers], rtol=1e-9, atol=0)] = 1.0
    return ratios


def mass_scale(ratios: np.ndarray) -> tuple[float, np.ndarray]:
    """``(s, rho / s)``: the uniform part s of the site mass ratios rho (their geometric mean) and what is
    left per site."""
    ratios = np.asarray(ratios, dtype=float)
    if len(ratios) == 0 or np.all(ratios == 1.0):
        return 1.0, np.ones(len(ratios))
    s = float(np.exp(np.log(ratios).mean()))
    return s, ratios / s
