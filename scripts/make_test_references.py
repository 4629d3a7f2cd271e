"""Reference values stored for the tests (tests/data/).

Command: python scripts/make_test_references.py   (needs the `reference` extra)
water_dimer_s22.json: the S22 water dimer (not in the training data), PBE0/cc-pVDZ exact DFT
dipole about the centre of mass, in e·Å.
"""
import json
from pathlib import Path

from ase.collections import s22

from ase_e3density.electron.reference import run_dft

OUT = Path(__file__).resolve().parents[1] / "tests" / "data"

if __name__ == "__main__":
    atoms = s22["Water_dimer"]
    result = run_dft(atoms)
    doc = {"symbols": atoms.get_chemical_symbols(), "positions": atoms.positions.tolist(), "xc": "PBE0",
           "basis": "cc-pvdz", "dft_dipole": result.dipole.tolist(), "energy_eV": result.energy}
    (OUT / "water_dimer_s22.json").write_text(json.dumps(doc, indent=1))
    print(doc["dft_dipole"])
