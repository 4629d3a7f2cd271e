"""A small phonon database with element-projected DOS: EMT crystals through `e3density phonons`' Python API."""
from __future__ import annotations

import warnings
from pathlib import Path

from ase.build import bulk

WITHOUT_PARTIALS = "Au3Cu"
ELEMENTS = ["Al", "Ni", "Cu", "Au"]


def _l12(host: str, corner: str, a: float):
    atoms = bulk(host, "fcc", a, cubic=True)
    atoms.symbols[[0]] = corner
    return atoms


def emt_partial_db(folder: Path) -> Path:
    """``folder/emt.db``: L1_2 Cu3Au, Ni3Al, Ni3Cu and Au3Cu, B2 NiAl (unstable with EMT: 7 % imaginary modes)
    and fcc Cu, unrelaxed, supercells >= 6 Å, mesh 8 Å (2-3 s); every row with its partial DOS but Au3Cu's,
    written as rows were before they were stored."""
    from ase.db import connect

    from ase_e3density.generate import PhononSettings, phonons

    crystals = [("Cu3Au", _l12("Cu", "Au", 3.75)), ("Ni3Al", _l12("Ni", "Al", 3.6)), ("Ni3Cu", _l12("Ni", "Cu", 3.56)),
                ("NiAl", bulk("NiAl", "cesiumchloride", a=2.88)), ("Cu", bulk("Cu", "fcc", 3.61)),
                (WITHOUT_PARTIALS, _l12("Au", "Cu", 4.0))]
    for name, atoms in crystals:
        atoms.info.update(name=name, prototype="L12" if len(atoms) == 4 else "other")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        phonons([a for _, a in crystals], folder / "all.db",
                PhononSettings(calculator="emt", relax="none", min_width=6.0, mesh=8.0))
    path = folder / "emt.db"
    with connect(folder / "all.db", use_lock_file=False) as source, connect(path, use_lock_file=False) as db:
        for row in source.select():
            data = dict(row.data)
            assert "partial_dos" in data
            if row.name == WITHOUT_PARTIALS:
                del data["partial_dos"], data["partial_elements"]
            db.write(row.toatoms(), key_value_pairs=row.key_value_pairs, data=data)
    return path
