"""One default cube spacing, defined in the physics layer, used by the API and by ``e3density predict``."""
import inspect

import numpy as np
import pytest
from ase.build import molecule
from ase.io import write
from ase.io.cube import read_cube_data
from ase.units import Bohr

from ase_e3density.calculator import E3DensityCalculator
from ase_e3density.cli import build_parser, main
from ase_e3density.cli import predict_cmd
from ase_e3density.electron import AtomicDensity
from ase_e3density.electron.grids import CUBE_SPACING, ESP_CUBE_SPACING, uniform_grid


def default_of(function, name: str = "spacing"):
    return inspect.signature(function).parameters[name].default


def test_the_api_defaults_are_the_physics_constants():
    assert default_of(AtomicDensity.write_cube) == default_of(AtomicDensity.on_grid) == CUBE_SPACING
    assert default_of(uniform_grid) == default_of(E3DensityCalculator.check_grid) == CUBE_SPACING
    assert default_of(AtomicDensity.write_esp_cube) == default_of(AtomicDensity.esp_on_grid) == ESP_CUBE_SPACING


def test_the_command_line_help_states_the_physics_constants():
    assert (predict_cmd.CUBE_SPACING, predict_cmd.ESP_CUBE_SPACING) == (CUBE_SPACING, ESP_CUBE_SPACING)
    predict = next(a for a in build_parser()._actions if a.dest == "command").choices["predict"]
    spacing = next(a for a in predict._actions if a.dest == "spacing")
    assert spacing.default is None  # the command takes the physics layer's constants, not a copy
    assert f"{CUBE_SPACING} for --cube, {ESP_CUBE_SPACING} for --esp-cube" in spacing.help


@pytest.fixture(scope="module")
def cubes(tmp_path_factory):
    """``e3density predict`` on one water with --cube and --esp-cube and no --spacing: the two files."""
    root = tmp_path_factory.mktemp("cubes")
    write(root / "water.xyz", molecule("H2O"))
    assert main(["predict", str(root / "water.xyz"), "--cube", str(root / "rho.cube"),
                 "--esp-cube", str(root / "esp.cube")]) == 0
    return root


def test_the_command_writes_cubes_at_the_physics_spacings(cubes):
    for name, spacing in (("rho.cube", CUBE_SPACING), ("esp.cube", ESP_CUBE_SPACING)):
        data, atoms = read_cube_data(str(cubes / name))
        voxel = atoms.cell.array / np.array(data.shape)[:, None]
        assert np.allclose(voxel, np.eye(3) * spacing, atol=1e-6), name


def test_the_default_spacing_counts_the_electrons_and_the_coarser_one_does_not(cubes):
    """The reason for 0.1 Å: summed over the cube, the density of one water (10 electrons) holds 10 e to
    about 1 %; at 0.2 Å the sum misses the oxygen's core density by several electrons."""
    data, atoms = read_cube_data(str(cubes / "rho.cube"))
    voxel_bohr3 = abs(np.linalg.det(atoms.cell.array / np.array(data.shape)[:, None])) / Bohr**3
    error_default = data.sum() * voxel_bohr3 - 10.0  # the file holds e/bohr^3
    grid, values = E3DensityCalculator().get_atomic_density(molecule("H2O")).on_grid(0.2)
    error_coarse = values.sum() * grid.voxel_volume - 10.0
    assert abs(error_default) < 0.2
    assert abs(error_coarse) > 1.0
