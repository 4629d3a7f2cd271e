"""E3DensityCalculator: a deployed density model as an ASE calculator."""
from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes

from .density import AtomicDensity
from .deploy import DeployedModel, load_model
from .errors import ModelFileError
from .validation import check_structure

__all__ = ["E3DensityCalculator", "default_model_path"]


def default_model_path() -> Path:
    """Path of the pretrained model shipped inside the package."""
    path = Path(str(resources.files("ase_e3density") / "data" / "models" / "default.pt"))
    if not path.is_file():
        raise ModelFileError("this installation ships no default model; pass E3DensityCalculator(model='file.pt')")
    return path


class E3DensityCalculator(Calculator):
    """Predicted electron density and its multipoles for ASE ``Atoms``.

    ``model``: a deployed file (or a loaded :class:`DeployedModel`); ``None`` takes the
    embedded default. ``charge``: total charge, else ``atoms.info["charge"]``, else 0.
    Results (ASE units): ``charges`` (e), ``dipole`` (e·Å) and ``quadrupole`` (traceless,
    Buckingham, e·Å²) about the centre of mass, ``n_electrons``, ``density_coefficients``.
    """

    implemented_properties = ["charges", "dipole", "quadrupole", "n_electrons", "density_coefficients"]

    def __init__(self, model=None, device: str = "cpu", dtype=None, charge: float | None = None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(model, DeployedModel):
            self.model = model
        else:
            self.model = load_model(default_model_path() if model is None else model, device=device, dtype=dtype)
        self.charge = charge
        self._density: AtomicDensity | None = None
        self._used_charge: float | None = None

    def _charge_of(self, atoms: Atoms) -> float:
        return float(self.charge if self.charge is not None else atoms.info.get("charge", 0.0))

    def check_state(self, atoms: Atoms, tol: float = 1e-15) -> list[str]:
        changes = super().check_state(atoms, tol)
        if self._used_charge is not None and self._charge_of(atoms) != self._used_charge:
            changes.append("charge")
        return changes

    def calculate(self, atoms: Atoms | None = None, properties=None, system_changes=all_changes) -> None:
        super().calculate(atoms, properties, system_changes)
        atoms = self.atoms
        check_structure(atoms)
        self.model.basis.check_supported(atoms.numbers)
        charge = self._charge_of(atoms)
        coefficients = self.model.predict(atoms, charge)
        density = AtomicDensity(atoms, self.model.basis, coefficients, validate=False)  # checked above
        self._density, self._used_charge = density, charge
        self.results = {
            "charges": density.charges,
            "dipole": density.dipole,
            "quadrupole": density.quadrupole,
            "n_electrons": density.n_electrons,
            "density_coefficients": coefficients,
        }

    def get_atomic_density(self, atoms: Atoms | None = None) -> AtomicDensity:
        """The predicted :class:`AtomicDensity` (values at points, grids, cube files)."""
        self.get_property("n_electrons", atoms)
        assert self._density is not None
        return self._density

    def get_quadrupole(self, atoms: Atoms | None = None) -> np.ndarray:
        return self.get_property("quadrupole", atoms)
