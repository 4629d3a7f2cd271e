"""Reference values stored for the tests (tests/data/).

Command: python scripts/make_test_references.py   (needs the `reference` extra)
water_dimer_s22.json: the S22 water dimer (not in the training data), PBE0/cc-pVDZ exact DFT
dipole about the centre of mass, in e·Å.
water_12_held_out.json: the first cluster of the held-out set data/water/test_12.db (12 waters):
its exact DFT dipole (e·Å, as stored in the row) and mu_monomer, the RMS of its molecules' dipoles in
the fitted DFT density (Hirshfeld partition on a level-2 grid, as `e3density evaluate` computes it),
the unit of the dipole-error metric sqrt(n) mu_monomer.
"""
import json
from pathlib import Path

from ase.collections import s22

from ase_e3density.electron.database import read_density
from ase_e3density.electron.evaluation import ReferenceOnGrid, compare
from ase_e3density.electron.reference import run_dft

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "data"


def water_dimer() -> None:
    atoms = s22["Water_dimer"]
    result = run_dft(atoms)
    doc = {"symbols": atoms.get_chemical_symbols(), "positions": atoms.positions.tolist(), "xc": "PBE0",
           "basis": "cc-pvdz", "dft_dipole": result.dipole.tolist(), "energy_eV": result.energy}
    (OUT / "water_dimer_s22.json").write_text(json.dumps(doc, indent=1))
    print("water dimer: DFT dipole", doc["dft_dipole"])


def held_out_12_waters() -> None:
    from ase.db import connect

    path = ROOT / "data" / "water" / "test_12.db"
    row = next(connect(path).select())
    ref = read_density(row)
    scale = compare(ref, ReferenceOnGrid.build(ref, 2))  # the reference against itself: only its scale is used
    doc = {"source": f"data/water/test_12.db@id={row.id} ({row.source})", "symbols": ref.atoms.get_chemical_symbols(),
           "positions": ref.atoms.positions.tolist(), "xc": "PBE0", "basis": "cc-pvdz",
           "dft_dipole": ref.info["dft_dipole"], "n_molecules": scale["n_molecules"],
           "mu_monomer": scale["mu_monomer"]}
    (OUT / "water_12_held_out.json").write_text(json.dumps(doc, indent=1))
    print("12 waters: DFT dipole", doc["dft_dipole"], "mu_monomer", doc["mu_monomer"])


if __name__ == "__main__":
    water_dimer()
    held_out_12_waters()
