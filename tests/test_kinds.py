"""The kind registry: a third kind, declared in tests/toy_kind.py and registered here (two files), runs
through deployment, loading, the calculator factory, screening and ``e3density predict`` without any
change to the package."""
from __future__ import annotations

import numpy as np
import pytest
from ase.build import molecule

import toy_kind
from ase_e3density.kinds import ModelKind, get_kind, register_kind, unregister_kind

ROLES = {role: f"toy_kind:{name}" for role, name in (
    ("network", "PairNetwork"), ("config", "PairConfig"), ("runtime", "PairRuntime"),
    ("calculator", "PairCalculator"), ("evaluator", "PairEvaluator"), ("predict", "predict"))}


@pytest.fixture
def toy_file(tmp_path):
    from ase_e3density.models import deploy

    register_kind(ModelKind(name=toy_kind.KIND, title="per-atom pair scalars", roles=ROLES))
    try:
        yield deploy(toy_kind.PairNetwork(toy_kind.PairConfig()), tmp_path / "pair.pt")
    finally:
        unregister_kind(toy_kind.KIND)


def expected(atoms, scale: float = 1.0) -> np.ndarray:
    """The pair sums by hand, from all distances."""
    w = toy_kind.PairNetwork(toy_kind.PairConfig()).weights.detach().numpy()
    index = {"H": 0, "O": 1}
    z = [index[s] for s in atoms.get_chemical_symbols()]
    d = atoms.get_all_distances()
    out = np.zeros(len(atoms))
    for i in range(len(atoms)):
        for j in range(len(atoms)):
            if i != j and d[i, j] < 3.0:
                out[i] += w[z[i], z[j]] * 0.5 * (np.cos(np.pi * d[i, j] / 3.0) + 1)
    return scale * out


def test_third_kind_through_calculator_factory_and_screen(toy_file, tmp_path):
    from ase.db import connect

    from ase_e3density import E3DensityCalculator
    from ase_e3density.screen import screen

    atoms = molecule("H2O")
    atoms.calc = E3DensityCalculator(toy_file, scale=2.0)  # the factory hands over to the kind's calculator
    assert type(atoms.calc).__name__ == "PairCalculator"
    np.testing.assert_allclose(atoms.get_potential_energies(), expected(atoms, 2.0), rtol=1e-12)
    with pytest.raises(Exception, match="does not take 'charge'"):
        E3DensityCalculator(toy_file, charge=1)
    results = list(screen(structures=[atoms, molecule("H2O2")], output=tmp_path / "pairs.db", model=toy_file))
    assert all(r.ok for r in results), [r.error for r in results]
    rows = list(connect(tmp_path / "pairs.db").select())
    assert len(rows) == 2
    for row in rows:
        np.testing.assert_allclose(row.pair_sum, expected(row.toatoms()).sum(), rtol=1e-12)


def test_third_kind_through_the_command_line(toy_file, tmp_path, capsys):
    from ase.io import write

    from ase_e3density.cli import main

    write(tmp_path / "w.xyz", molecule("H2O"))
    assert main(["predict", str(tmp_path / "w.xyz"), "--model", str(toy_file)]) == 0
    assert f"pair sum {expected(molecule('H2O')).sum():.6f} eV" in capsys.readouterr().out


def test_unknown_kinds_and_roles_are_refused_in_one_line():
    with pytest.raises(Exception, match="unknown model kind 'spin_density'; this ase_e3density knows electron_density, phonon_dos"):
        get_kind("spin_density")
    with pytest.raises(ValueError, match="unknown roles"):
        ModelKind(name="x", title="x", roles={"plotter": "a:b"})
    with pytest.raises(ValueError, match="registered already"):
        register_kind(ModelKind(name="phonon_dos", title="again"))
    assert get_kind("phonon").name == "phonon_dos"


def test_no_kind_switch_outside_the_registry():
    """No module of the package compares a kind's name: the declarations in kinds/builtin.py, and each
    class's own ``kind`` attribute, are the only places a kind is spelt."""
    import re
    from pathlib import Path

    package = Path(__file__).resolve().parents[1] / "ase_e3density"
    switch = re.compile(r"""(==|!=|\bin\b|\bis\b)\s*\(?\s*["'](electron_density|phonon_dos)["']|["'](electron_density|phonon_dos)["']\s*(==|!=)""")
    offenders = [f"{p.relative_to(package)}:{n}" for p in package.rglob("*.py") if p.parent.name != "kinds"
                 for n, line in enumerate(p.read_text().splitlines(), 1) if switch.search(line)]
    assert offenders == []
