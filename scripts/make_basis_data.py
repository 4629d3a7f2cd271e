"""Regenerate the auxiliary basis sets shipped in ase_e3density/data/basis/.

Command: python scripts/make_basis_data.py   (needs the `reference` extra: PySCF)

The basis sets are read from the Basis Set Exchange files bundled with PySCF and
written as plain JSON (exponents in bohr^-2, raw contraction coefficients as in the
file; normalisation is done on load), so inference never needs PySCF.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pyscf
from ase.data import chemical_symbols
from pyscf.gto import basis as pyscf_basis

BASES = ["def2-universal-jfit", "def2-universal-jkfit"]
OUT = Path(__file__).resolve().parents[1] / "ase_e3density" / "data" / "basis"


def elements_in(path: Path) -> list[str]:
    """Element symbols that define shells in an NWChem-format basis file, in Z order."""
    found = set(re.findall(r"^([A-Z][a-z]?)\s+[SPDFGHIK]\s*$", path.read_text(), flags=re.M))
    return [s for s in chemical_symbols if s in found]


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name in BASES:
        path = Path(pyscf_basis.__file__).parent / f"{name}.dat"
        elements = {}
        for symbol in elements_in(path):
            shells = []
            for shell in pyscf_basis.load(str(path), symbol):
                l, prims = shell[0], shell[1:]
                ncol = len(prims[0]) - 1
                for col in range(ncol):  # general contractions become one shell per column
                    used = [(p[0], p[col + 1]) for p in prims if p[col + 1] != 0.0]
                    shells.append({"l": l, "exponents": [e for e, _ in used], "coefficients": [c for _, c in used]})
            elements[symbol] = shells
        doc = {
            "name": name,
            "source": f"Basis Set Exchange file {path.name} as bundled with PySCF {pyscf.__version__}",
            "units": {"exponents": "bohr^-2"},
            "elements": elements,
        }
        (OUT / f"{name}.json").write_text(json.dumps(doc, separators=(",", ":")))
        print(f"{name}: {len(elements)} elements -> {OUT / (name + '.json')}")


if __name__ == "__main__":
    main()
