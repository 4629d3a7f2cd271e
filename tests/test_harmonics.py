"""The component order: our harmonics are e3nn's, and the PySCF conversion is exact."""
import numpy as np
import pytest
import torch
from e3nn import o3

from ase_e3density.electron.harmonics import evaluate_solid_harmonics, monomials, pyscf_to_e3nn, solid_harmonic_matrix


def test_solid_harmonics_equal_e3nn_spherical_harmonics():
    pts = np.random.default_rng(1).normal(size=(50, 3))
    ours = evaluate_solid_harmonics(pts, 6)
    for l in range(7):
        ref = o3.spherical_harmonics(l, torch.tensor(pts), normalize=False, normalization="integral").numpy()
        np.testing.assert_allclose(ours[l], ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("l", range(7))
def test_pyscf_conversion_is_orthogonal_and_maps_functions(l):
    t = pyscf_to_e3nn(l)
    np.testing.assert_allclose(t @ t.T, np.eye(2 * l + 1), atol=1e-12)
    pts = np.random.default_rng(l).normal(size=(30, 3))
    mono = np.prod(pts[:, None, :] ** monomials(l)[None], axis=2)
    c_pyscf = np.random.default_rng(7).normal(size=2 * l + 1)
    via_pyscf = mono @ solid_harmonic_matrix(l, "pyscf").T @ c_pyscf
    via_e3nn = mono @ solid_harmonic_matrix(l, "e3nn").T @ (t @ c_pyscf)
    np.testing.assert_allclose(via_e3nn, via_pyscf, atol=1e-12)


def test_pyscf_order_matches_pyscf_itself():
    gto = pytest.importorskip("pyscf.gto")
    mol = gto.M(atom="He 0 0 0", basis={"He": [[l, [1.0, 1.0]] for l in range(7)]}, unit="Bohr", spin=0)
    pts = np.random.default_rng(3).normal(size=(40, 3))
    ao = mol.eval_gto("GTOval_sph", pts)
    from math import gamma
    off = 0
    for l in range(7):
        norm = np.sqrt(2 * 2 ** (l + 1.5) / gamma(l + 1.5))
        mono = np.prod(pts[:, None, :] ** monomials(l)[None], axis=2)
        ours = mono @ solid_harmonic_matrix(l, "pyscf").T * (norm * np.exp(-(pts**2).sum(1)))[:, None]
        np.testing.assert_allclose(ours, ao[:, off:off + 2 * l + 1], atol=1e-12)
        off += 2 * l + 1
