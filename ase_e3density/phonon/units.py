"""Physical constants of the phonon code: phonopy's own defaults, so that our numbers equal phonopy's.

phonopy (``phonopy.physical_units.set_physical_units``) uses CODATA 2006 values; CODATA 2018's exact
Boltzmann constant differs from them by 1e-6 relative, which is visible at the 1e-6 agreement the
tests demand. ``tests/test_phonon.py`` checks these against phonopy's when phonopy is installed.
"""
from __future__ import annotations

KB_J = 1.3806504e-23          # Boltzmann constant, J/K
PLANCK_EV_S = 4.13566733e-15  # Planck constant, eV s
AVOGADRO = 6.02214179e23      # 1/mol
EV_J = 1.60217733e-19         # J per eV
SPEED_OF_LIGHT = 299792458.0  # m/s

THZ_TO_EV = PLANCK_EV_S * 1e12            # h * 1 THz in eV
THZ_TO_MEV = THZ_TO_EV * 1e3
THZ_TO_CM = 1e12 / (SPEED_OF_LIGHT * 100)  # wavenumber of 1 THz, cm^-1
KB_EV = KB_J / EV_J                        # eV/K
EV_TO_KJ_MOL = EV_J / 1000 * AVOGADRO      # kJ/mol per eV per particle
GAS_CONSTANT = KB_EV * EV_TO_KJ_MOL * 1000  # R in J/(K mol), phonopy's value
CM3_PER_A3 = 1e-24

__all__ = ["KB_J", "PLANCK_EV_S", "AVOGADRO", "EV_J", "SPEED_OF_LIGHT", "THZ_TO_EV", "THZ_TO_MEV", "THZ_TO_CM",
           "KB_EV", "EV_TO_KJ_MOL", "GAS_CONSTANT", "CM3_PER_A3"]
