"""Generating reference data on the resumable engine: DFT densities and phonons, in one process or on Dask.

``references(structures, "ref.db", ReferenceSettings(...), workers=2)`` and
``phonons(crystals, "phonons.db", PhononSettings(calculator="emt"), scheduler="tcp://head:8786")``;
``e3density reference`` and ``e3density phonons`` are their command lines. The physics lives in
:mod:`ase_e3density.electron.reference` and :mod:`ase_e3density.phonon.reference`.
"""
from .phonons import PhononSettings, PhononSummary, phonons
from .references import ReferenceSettings, references

__all__ = ["references", "ReferenceSettings", "phonons", "PhononSettings", "PhononSummary"]
