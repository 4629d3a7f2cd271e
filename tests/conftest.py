"""Shared fixtures: small molecules and synthetic densities with every l in play."""
from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import molecule

from ase_e3density import AtomicDensity, load_basis


def random_density(atoms: Atoms, basis: str = "def2-universal-jfit-decontracted", seed: int = 0) -> AtomicDensity:
    """A density with random coefficients on every function (s..g), electron count near neutral."""
    b = load_basis(basis)
    rng = np.random.default_rng(seed)
    coeffs = []
    for s, z in zip(atoms.get_chemical_symbols(), atoms.numbers):
        q = b[s].charge_integrals
        c = rng.normal(scale=0.05, size=b[s].n_functions)
        coeffs.append(c + q * (z - c @ q) / (q @ q))  # each atom holds Z electrons
    return AtomicDensity(atoms, b, np.concatenate(coeffs))


@pytest.fixture
def acetonitrile() -> Atoms:
    return molecule("CH3CN")


@pytest.fixture
def water() -> Atoms:
    return molecule("H2O")


@pytest.fixture(autouse=True)
def _environment_kept():
    """Each test leaves ``os.environ`` as it found it (a Dask LocalCluster started in a test writes
    ``OMP_NUM_THREADS=1`` into it, which later subprocesses would inherit and compute with other floats)."""
    import os

    saved = dict(os.environ)
    yield
    for name in set(os.environ) - set(saved):
        del os.environ[name]
    os.environ.update(saved)
