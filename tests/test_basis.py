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
def test_every_function_has_unit_norm_by_numerical_integration(name):
    """int phi^2 d^3r = int (sum_i w_i r^l e^(-a_i r^2))^2 r^2 dr (the angular part integrates to 1),
    by Gauss-Legendre quadrature in the Mura-Knowles variable, independent of the closed form."""
    basis = load_basis(name)
    assert len(basis.symbols) == 86 and basis.symbols[0] == "H" and basis.symbols[-1] == "Rn"
    x, wx = np.polynomial.legendre.leggauss(400)
    x, wx = 0.5 * (x + 1), 0.5 * wx
    worst = 0.0
    for eb in basis.elements.values():
        for sh in eb.shells:
            scale = 1.0 / np.sqrt(min(sh.exponents))
            r = -scale * np.log1p(-(x**3))
            jacobian = scale * 3 * x**2 / (1 - x**3)
            radial = sum(w * r**sh.l * np.exp(-a * r * r) for a, w in zip(sh.exponents, sh.weights))
            worst = max(worst, abs(np.sum(wx * jacobian * radial**2 * r**2) - 1.0))
    assert worst < 1e-8


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
