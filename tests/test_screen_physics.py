"""Physics in one place: the segmented (batched) forms that screening and single structures share,
and the ase.db writer on ASE's public API."""
from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import molecule
from ase.calculators.singlepoint import SinglePointCalculator
from ase.db import connect

from ase_e3density import AtomicDensity
from ase_e3density.electron.density import (atom_moments, centres_of_mass, fix_electron_count, fix_electron_counts,
                                            multipoles, segment_sums)
from ase_e3density.electron.grids import molecular_grid
from conftest import random_density
from test_density import numeric_multipoles


def structures() -> list[Atoms]:
    """Molecules of several elements and sizes, one of them moved far from the origin."""
    far = molecule("CH3CN")
    far.translate([40.0, -25.0, 12.0])
    return [molecule("H2O"), far, molecule("NH3"), molecule("CH4"), molecule("HCOOH")]


def joined(densities: list[AtomicDensity]):
    """The arrays of several densities end to end, as screening holds a batch."""
    elements = sorted({s for d in densities for s in d.atoms.get_chemical_symbols()})
    basis = densities[0].basis
    kinds = np.concatenate([[elements.index(s) for s in d.atoms.get_chemical_symbols()] for d in densities])
    coefficients = np.concatenate([d.coefficients for d in densities])
    function_offsets = np.concatenate([[0], np.cumsum(np.concatenate([np.diff(d.offsets) for d in densities]))])
    atom_offsets = np.concatenate([[0], np.cumsum([len(d.atoms) for d in densities])])
    positions = np.concatenate([d.atoms.positions for d in densities])
    masses = np.concatenate([d.atoms.get_masses() for d in densities])
    z = np.concatenate([d.nuclear_charges for d in densities])
    tables = [basis[s].moment_integrals for s in elements]
    return coefficients, function_offsets, kinds, tables, atom_offsets, positions, masses, z


def test_segment_sums_with_empty_segments():
    values = np.arange(10.0).reshape(5, 2)
    sums = segment_sums(values, np.array([0, 0, 2, 2, 5, 5]))
    np.testing.assert_array_equal(sums, [[0, 0], [2, 4], [0, 0], [18, 21], [0, 0]])
    with pytest.raises(ValueError, match="from 0 to 5"):
        segment_sums(values, np.array([0, 4]))


def test_the_batch_electron_count_projection_is_each_structures_own():
    """Every structure holds exactly its own electron count, by the smallest change (along q), and the
    projection of a batch equals the projection of each structure alone."""
    densities = [random_density(a, seed=k) for k, a in enumerate(structures())]
    c, function_offsets, *_, atom_offsets, _, _, z = joined(densities)
    q = np.concatenate([np.concatenate([d.basis[s].charge_integrals for s in d.atoms.get_chemical_symbols()])
                        for d in densities])
    wanted = segment_sums(z, atom_offsets) + np.array([0.0, 1.0, -2.0, 0.5, 0.0])
    fixed = fix_electron_counts(c, q, function_offsets[atom_offsets], wanted)
    np.testing.assert_allclose(segment_sums(q * fixed, function_offsets[atom_offsets]), wanted, rtol=0, atol=1e-12)
    for s in range(len(densities)):
        part = slice(function_offsets[atom_offsets[s]], function_offsets[atom_offsets[s + 1]])
        change = fixed[part] - c[part]
        np.testing.assert_allclose(change, q[part] * (change @ q[part]) / (q[part] @ q[part]), atol=1e-14)
        np.testing.assert_allclose(fixed[part], fix_electron_count(c[part], q[part], wanted[s]), rtol=0, atol=1e-14)


def test_batch_multipoles_and_charges_equal_atomic_density_per_structure():
    densities = [random_density(a, seed=10 + k) for k, a in enumerate(structures())]
    c, function_offsets, kinds, tables, atom_offsets, positions, masses, z = joined(densities)
    moments = atom_moments(c, function_offsets, kinds, tables)
    found = multipoles(moments, positions, z, atom_offsets, centres_of_mass(positions, masses, atom_offsets))
    for s, d in enumerate(densities):
        assert found.n_electrons[s] == pytest.approx(d.n_electrons, abs=1e-12)
        np.testing.assert_allclose(found.charges[atom_offsets[s]:atom_offsets[s + 1]], d.charges, rtol=0, atol=1e-12)
        np.testing.assert_allclose(found.dipole[s], d.dipole, rtol=0, atol=1e-12)
        np.testing.assert_allclose(found.quadrupole[s], d.quadrupole, rtol=0, atol=1e-12 * max(1, abs(d.quadrupole).max()))
        np.testing.assert_allclose(centres_of_mass(positions, masses, atom_offsets)[s], d.atoms.get_center_of_mass(),
                                   rtol=0, atol=1e-12)


def test_batch_multipoles_against_quadrature():
    """A structure inside a batch (s..g functions with random coefficients): electron count, dipole,
    quadrupole about its centre of mass and the oxygen's charge, integrated on a molecular grid."""
    densities = [random_density(molecule("CH4"), seed=3), random_density(molecule("H2O"), seed=4),
                 random_density(molecule("NH3"), seed=5)]
    c, function_offsets, kinds, tables, atom_offsets, positions, masses, z = joined(densities)
    found = multipoles(atom_moments(c, function_offsets, kinds, tables), positions, z, atom_offsets,
                       centres_of_mass(positions, masses, atom_offsets))
    d = densities[1]
    assert set(d.basis["O"].function_l) == {0, 1, 2, 3, 4}
    n_e, dipole, quadrupole = numeric_multipoles(d, d.atoms.get_center_of_mass(), level=3)
    assert found.n_electrons[1] == pytest.approx(n_e, rel=1e-4)
    np.testing.assert_allclose(found.dipole[1], dipole, rtol=1e-4, atol=1e-4 * np.abs(dipole).max())
    np.testing.assert_allclose(found.quadrupole[1], quadrupole, rtol=1e-4, atol=1e-4 * np.abs(quadrupole).max())
    pts, w = molecular_grid(d.atoms, 3)
    alone = np.zeros_like(d.coefficients)
    alone[d.offsets[0]:d.offsets[1]] = d.atom_coefficients(0)  # the oxygen's own functions
    electrons = w @ AtomicDensity(d.atoms, d.basis, alone).evaluate(pts)
    assert found.charges[atom_offsets[1]] == pytest.approx(8 - electrons, abs=1e-4 * 8)


def test_moments_refuse_offsets_that_do_not_fit_the_basis():
    d = random_density(molecule("H2O"))
    tables = [d.basis["O"].moment_integrals, d.basis["H"].moment_integrals]
    with pytest.raises(ValueError, match="numbers of basis functions"):
        atom_moments(d.coefficients, d.offsets, np.array([1, 0, 0]), tables)


def test_segmented_domain_test_equals_one_structure_at_a_time():
    from ase_e3density.graph.domain import domain_of, edge_lengths, inside_domain, inside_domains
    from ase_e3density.graph.neighbours import neighbour_list

    cutoff = 4.0

    def graph(atoms):
        edges, shifts = neighbour_list(atoms, cutoff)
        return atoms.numbers, edges, edge_lengths(atoms.positions, edges, shifts)

    domain = domain_of([(*graph(a), 0.0) for a in (molecule("H2O"), molecule("CH4"), molecule("CH3OH"))], cutoff)
    squeezed = molecule("H2O")
    squeezed.positions[1:] = squeezed.positions[0] + 0.6 * (squeezed.positions[1:] - squeezed.positions[0])
    tests = [(molecule("H2O"), 0.0), (squeezed, 0.0), (molecule("CH4"), 1.0), (molecule("NH3"), 0.0),
             (molecule("CH3OH"), 0.0)]
    graphs = [graph(a) for a, _ in tests]
    offsets = np.concatenate([[0], np.cumsum([len(a) for a, _ in tests])])
    edges = np.concatenate([g[1] + o for g, o in zip(graphs, offsets)], axis=1)
    batch = inside_domains(domain, np.concatenate([g[0] for g in graphs]), edges,
                           np.concatenate([g[2] for g in graphs]), offsets, [q for _, q in tests])
    alone = [inside_domain(domain, *g, q) for g, (_, q) in zip(graphs, tests)]
    assert batch.tolist() == alone == [True, False, False, False, True]


def test_screening_evaluator_gives_atomic_density_numbers_and_domain_words():
    """The evaluator on a batch (float64) equals the model's AtomicDensity of each structure to 1e-12,
    warnings (charged structures lie outside the default model's domain) worded as for one."""
    from ase_e3density.models import load_model, resolve_model_path
    from ase_e3density.screen.density_kind import DensityEvaluator
    from ase_e3density.screen.records import Item

    model = load_model(resolve_model_path("default"), dtype="float64")
    evaluator = DensityEvaluator(model, keep_coefficients=True)
    waters = []
    for k in range(7):
        atoms = molecule("H2O")
        atoms += molecule("H2O")
        atoms.positions[3:] += [3.0, 0.2 * k, 0.0]
        atoms.positions += np.random.default_rng(k).normal(scale=0.03, size=atoms.positions.shape)
        waters.append(atoms[: 3 * (1 + k % 2)])
    items = [Item(f"x@{k}", "h", a, 1.0 if k == 2 else 0.0) for k, a in enumerate(waters)]
    outcomes = evaluator.evaluate(items, [evaluator.prepare(item) for item in items])
    for item, (scalars, arrays) in zip(items, outcomes):
        density = model.predict_density(item.atoms, item.charge)
        np.testing.assert_allclose(arrays["density_coefficients"], density.coefficients, rtol=0, atol=1e-12)
        np.testing.assert_allclose(arrays["charges"], density.charges, rtol=0, atol=1e-12)
        np.testing.assert_allclose(arrays["dipole"], density.dipole, rtol=0, atol=1e-12)
        np.testing.assert_allclose(arrays["quadrupole"], density.quadrupole, rtol=0, atol=1e-12)
        assert scalars["n_electrons"] == pytest.approx(item.atoms.numbers.sum() - item.charge, abs=1e-12)
        assert scalars["domain_warnings"] == "; ".join(density.info["domain_warnings"])
        assert scalars["in_domain"] == (item.charge == 0.0)


def test_a_structure_with_non_finite_output_fails_alone(monkeypatch):
    from ase_e3density.models import load_model, resolve_model_path
    from ase_e3density.screen.density_kind import DensityEvaluator
    from ase_e3density.screen.records import Item

    model = load_model(resolve_model_path("default"), dtype="float64")
    evaluator = DensityEvaluator(model)
    items = [Item(f"x@{k}", "h", molecule("H2O"), 0.0) for k in range(3)]
    prepared = [evaluator.prepare(item) for item in items]
    forward = type(model).forward

    def poisoned(self, graphs, charges):
        out = forward(self, graphs, charges)
        out[1][0, 0] = np.nan  # an s function of the second structure's oxygen
        return out

    monkeypatch.setattr(type(model), "forward", poisoned)
    outcomes = evaluator.evaluate(items, prepared)
    assert isinstance(outcomes[1], Exception) and "non-finite" in str(outcomes[1])
    assert all(isinstance(outcomes[k], tuple) for k in (0, 2))


def test_check_crystal_lives_in_graph_and_stays_importable_from_phonon():
    from ase_e3density.graph.checks import check_crystal
    from ase_e3density.phonon import reference

    assert reference.check_crystal is check_crystal


# -- the ase.db writer: ASE's public API -----------------------------------------------------------
def _result(source: str, atoms: Atoms, **scalars):
    from ase_e3density.screen.records import Result

    return Result(source, f"h-{source}", atoms, "abc", True, scalars={"n_atoms": len(atoms), **scalars},
                  arrays={"charges": np.arange(float(len(atoms)))}, seconds=0.1, time=1.0)


def test_database_rows_are_what_ase_db_reads_back(tmp_path):
    from ase.constraints import FixAtoms

    from ase_e3density.screen.writers import DbWriter

    fixed = molecule("NH3")
    fixed.set_constraint(FixAtoms([0]))
    periodic = molecule("H2O", vacuum=3.0, pbc=[True, False, True])
    computed = molecule("CH4")
    computed.calc = SinglePointCalculator(computed, energy=-1.5)  # its results are not the screening's
    results = [_result("a@0", molecule("H2O"), dipole_norm=0.5, domain_warnings=""), _result("a@1", fixed),
               _result("a@2", periodic), _result("a@3", computed)]
    with DbWriter(tmp_path / "r.db") as writer:
        writer.write(results[:2])
        writer.write(results[2:])
        assert sorted(writer.existing()) == [(f"a@{k}", f"h-a@{k}", "ok", "abc") for k in range(4)]
        assert [row["source"] for row in writer.rows()] == [f"a@{k}" for k in range(4)]
    rows = {row.source: row for row in connect(tmp_path / "r.db").select()}
    for r in results:
        row = rows[r.source]
        assert row.toatoms() == r.atoms and row.structure_hash == r.structure_hash and row.n_atoms == len(r.atoms)
        np.testing.assert_array_equal(row.data["charges"], r.arrays["charges"])
    assert rows["a@0"].dipole_norm == 0.5 and rows["a@0"].domain_warnings == ""
    assert rows["a@1"].constraints[0].index.tolist() == [0]
    assert "energy" not in rows["a@3"] and rows["a@3"].get("calculator") is None


def test_a_batch_ase_db_refuses_leaves_nothing_of_that_batch(tmp_path):
    from ase_e3density.screen.writers import DbWriter

    with DbWriter(tmp_path / "r.db") as writer:
        writer.write([_result("a@0", molecule("H2O"))])
        with pytest.raises(ValueError, match="1.5"):  # ASE's own check: text that reads as a number
            writer.write([_result("a@1", molecule("H2O")), _result("a@2", molecule("H2O"), note="1.5")])
        assert [e[0] for e in writer.existing()] == ["a@0"]
        writer.write([_result("a@1", molecule("H2O"))])
        assert writer.drop_failed() == 0
    assert connect(tmp_path / "r.db").count() == 2
