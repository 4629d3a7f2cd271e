"""ESP sampling surfaces and ESP-fitted charges (MK, CHELPG, RESP restraint)."""
import numpy as np
import pytest
from ase.build import molecule

from ase_e3density import E3DensityError
from ase_e3density.electron.esp_charges import fit_charges
from ase_e3density.electron.surfaces import chelpg_points, mk_points, molecular_surface, vdw_radii


def test_surface_points_lie_on_the_outer_scaled_spheres(acetonitrile):
    radii = vdw_radii(acetonitrile.numbers)
    points = molecular_surface(acetonitrile, scale=1.4, density=2.0)
    d = np.linalg.norm(points[:, None] - acetonitrile.positions[None], axis=2) / (1.4 * radii)
    assert (d >= 1 - 1e-9).all() and np.allclose(d.min(axis=1), 1.0)
    assert len(mk_points(acetonitrile)) > 4 * len(acetonitrile) * 20
    grid = chelpg_points(acetonitrile)
    dist = np.linalg.norm(grid[:, None] - acetonitrile.positions[None], axis=2)
    assert (dist >= radii * (1 - 1e-9)).all() and (dist.min(axis=1) <= 2.8 + 1e-9).all()


def test_charges_that_made_a_potential_are_recovered(acetonitrile):
    q = np.array([-0.4, 0.5, -0.5, 0.15, 0.12, 0.13])
    points = mk_points(acetonitrile)
    v = 14.399645 * (q / np.linalg.norm(points[:, None] - acetonitrile.positions[None], axis=2)).sum(axis=1)
    fit = fit_charges(acetonitrile.positions, points, v, total_charge=0.0)
    np.testing.assert_allclose(fit.charges, q, atol=1e-8)
    assert fit.rmse < 1e-8


def test_total_charge_is_exact_and_restraint_shrinks_heavy_atoms(acetonitrile):
    rng = np.random.default_rng(0)
    points = mk_points(acetonitrile)
    v = rng.normal(scale=0.3, size=len(points))
    plain = fit_charges(acetonitrile.positions, points, v, total_charge=-1.0)
    restrained = fit_charges(acetonitrile.positions, points, v, total_charge=-1.0, restraint=0.01,
                             restrained=acetonitrile.numbers > 1)
    for fit in (plain, restrained):
        assert fit.charges.sum() == pytest.approx(-1.0, abs=1e-12)
    heavy = acetonitrile.numbers > 1
    assert np.abs(restrained.charges[heavy]).sum() < np.abs(plain.charges[heavy]).sum()
    assert restrained.rmse >= plain.rmse
    with pytest.raises(E3DensityError):
        fit_charges(acetonitrile.positions, points[:3], v[:3])


def test_esp_charges_of_a_dft_density_reproduce_its_potential():
    pytest.importorskip("pyscf")
    from ase_e3density.electron.reference import dft_density

    density = dft_density(molecule("H2O"))  # PBE0/cc-pVDZ, fitted onto def2-universal-jfit-decontracted
    for sampling, rmse in (("mk", 0.07), ("chelpg", 0.095)):  # measured: 0.064 V and 0.089 V
        fit = density.esp_charges(sampling)
        assert fit.charges.sum() == pytest.approx(0.0, abs=1e-12)
        assert fit.rmse < rmse
        assert fit.charges[0] == pytest.approx(-0.70, abs=0.02)  # O; H share the rest
    with pytest.raises(E3DensityError, match="sampling"):
        density.esp_charges("hirshfeld")


def test_cli_predict_writes_an_esp_cube_and_prints_esp_charges(tmp_path, capsys):
    from ase.io import read

    from ase_e3density.cli import main
    from ase_e3density.cli.common import example_path

    cube = tmp_path / "esp.cube"
    assert main(["predict", str(example_path("water_trimer.xyz")), "--esp-cube", str(cube), "--esp-charges",
                 "--spacing", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "ESP cube:" in out and "ESP (Merz-Kollman fit)" in out
    rows = [line.split() for line in out.splitlines() if line.startswith("     ") and len(line.split()) == 4]
    assert len(rows) == 9 and abs(sum(float(r[3]) for r in rows)) < 1e-3  # printed to 4 decimals
    from ase.io.cube import read_cube_data

    values, atoms = read_cube_data(str(cube))
    assert len(atoms) == len(read(example_path("water_trimer.xyz"))) and np.isfinite(values).all()
