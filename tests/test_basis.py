"""Shipped auxiliary basis sets: sizes, irreps, normalisation, analytic integrals."""
import numpy as np
import pytest

from ase_e3density import UnsupportedElementError, available_basis_sets, load_basis


def test_founding_code_sizes():
    dc = load_basis("def2-universal-jfit-decontracted")
    assert dc["H"].n_functions == 16 and dc["O"].n_functions == 70
    assert dc["H"].irreps == "5x0e+2x1o+1x2e"
    assert dc["O"].irreps == "12x0e+5x1o+4x2e+2x3o+1x4e"
    contracted = load_basis("def2-universal-jfit")
    assert 2 * contracted["O"].n_functions + 4 * contracted["H"].n_functions == 142  # water dimer, MISSION.md
    assert 2 * dc["O"].n_functions + 4 * dc["H"].n_functions == 204


@pytest.mark.parametrize("name", ["def2-universal-jfit", "def2-universal-jkfit"])
def test_every_element_is_normalised(name):
    from math import gamma
    basis = load_basis(name)
    assert len(basis.symbols) == 86 and basis.symbols[0] == "H" and basis.symbols[-1] == "Rn"
    for eb in basis.elements.values():
        for sh in eb.shells:
            a, w = np.array(sh.exponents), np.array(sh.weights)
            norm = w @ (gamma(sh.l + 1.5) / (2 * (a[:, None] + a[None]) ** (sh.l + 1.5))) @ w
            assert norm == pytest.approx(1.0, rel=1e-12)


def test_integrals_match_radial_quadrature():
    basis = load_basis()
    sh = basis["O"].shells[0]
    r = np.linspace(0, 20, 200001)
    radial = sum(w * np.exp(-a * r * r) for a, w in zip(sh.exponents, sh.weights))
    charge = np.trapezoid(radial * r * r, r) * np.sqrt(4 * np.pi)
    assert basis["O"].charge_integrals[0] == pytest.approx(charge, rel=1e-6)
    # only s functions carry charge; only p functions a dipole about their own centre
    l = basis["O"].function_l
    assert np.all(basis["O"].charge_integrals[l != 0] == 0)
    assert np.all(basis["O"].dipole_integrals[l != 1] == 0)
    assert np.all(basis["O"].second_moment_integrals[(l != 0) & (l != 2)] == 0)


def test_unknown_basis_and_element():
    with pytest.raises(ValueError, match="unknown basis set 'nope'.*def2-universal-jfit"):
        load_basis("nope")
    with pytest.raises(UnsupportedElementError, match=r"U.*supported: H He"):
        load_basis()["U"]
    assert "def2-universal-jkfit-decontracted" in available_basis_sets()
