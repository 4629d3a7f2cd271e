"""E3DensityCalculator: a deployed electron-density model as an ASE calculator."""
from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.calculators.calculator import all_changes

from ..electron.density import AtomicDensity
from ..electron.grids import CUBE_SPACING, ESP_CUBE_SPACING
from ..errors import CalculatorParameterError, E3DensityError
from ..kinds import get_kind
from .base import ModelCalculator, charge_value, kind_of_model

__all__ = ["E3DensityCalculator", "CUBE_SPACING", "ESP_CUBE_SPACING"]


def _spin_info(atoms: Atoms) -> tuple:
    """The spin state ``atoms.info`` asks for (``spin``, ``multiplicity``), as given."""
    return atoms.info.get("spin"), atoms.info.get("multiplicity")


class E3DensityCalculator(ModelCalculator):
    """Predicted electron density and its multipoles for ASE ``Atoms``.

    Parameters: those of :class:`~ase_e3density.calculator.ModelCalculator` (``model``, ``device``,
    ``dtype``, ``runtime``, ``model_checksum``) and ``charge``: the total charge (e); ``None`` reads
    ``atoms.info["charge"]``, else 0.

    Results (ASE units): ``charges`` (e, the s-function partition), ``hirshfeld_charges`` (e, the
    Hirshfeld partition of the predicted density, finite systems with elements H-Ar), ``esp_charges`` (e,
    fitted to the predicted electrostatic potential on Merz-Kollman surfaces), ``dipole`` (e·Å) and
    ``quadrupole`` (traceless, Buckingham, e·Å²) about the centre of mass, ``n_electrons``,
    ``density_coefficients``, and ``domain_warnings``: why the structure lies outside the model's
    training domain (also issued as a :class:`~ase_e3density.errors.DomainWarning`); empty when it lies
    inside. The potential and field at any points: :meth:`get_electrostatic_potential`,
    :meth:`get_electric_field`, :meth:`get_surface_potential`.

    Which charges: ``hirshfeld_charges`` are the chemically meaningful atomic charges of the density
    (a carbonyl O negative); ``esp_charges`` are for force fields (they reproduce the potential outside
    the molecule); ``charges``, the electrons in each atom's s functions, are fast bookkeeping that
    depends on the auxiliary basis (acetamide's O comes out positive with the ``organic`` model), kept
    because screening computes them in batches. ``hirshfeld_charges`` and ``esp_charges`` are computed
    only when asked (a Becke grid: seconds for 20 atoms; a surface fit), from the same cached prediction.

    ``E3DensityCalculator(model=...)`` with a model of another kind (``model="phonon"``) gives that
    kind's calculator (:class:`~ase_e3density.calculator.PhononDOSCalculator`). Loaded models are shared
    between calculators using the same file, so a calculator per frame is cheap; a pickled calculator
    reloads its model from the file.
    """

    kind = "electron_density"
    kind_parameters = {"charge": None}
    implemented_properties = ["charges", "hirshfeld_charges", "esp_charges", "dipole", "quadrupole", "n_electrons",
                              "density_coefficients"]

    def __new__(cls, model=None, *args, **kwargs):
        if cls is E3DensityCalculator and model is not None:
            target = get_kind(kind_of_model(model)).load("calculator")
            if not issubclass(target, cls):  # a model of another kind: that kind's calculator
                return target(model, *args, **kwargs)
        return super().__new__(cls)

    def __init__(self, model=None, atoms: Atoms | None = None, **parameters):
        self._density: AtomicDensity | None = None
        self._used_charge: float | None = None
        self._used_spin: tuple = (None, None)
        super().__init__(model, atoms, **parameters)

    def check_parameters(self, kwargs: dict) -> dict:
        if "charge" in kwargs:
            kwargs["charge"] = charge_value(kwargs["charge"], "charge")
        return kwargs

    def todict(self, skip_default: bool = True) -> dict:
        """Parameters as ASE records them, with the model, its checksum and the charge used."""
        out = super().todict(skip_default)
        charge = self.parameters.get("charge")
        out["charge"] = self._used_charge if charge is None else charge
        return out

    # -- calculation -----------------------------------------------------------------------------
    def _charge_of(self, atoms: Atoms) -> float:
        if self.parameters["charge"] is not None:
            return self.parameters["charge"]
        return charge_value(atoms.info.get("charge", 0.0), 'atoms.info["charge"]') or 0.0

    def check_state(self, atoms: Atoms, tol: float = 1e-15) -> list[str]:
        changes = super().check_state(atoms, tol)
        if self._used_charge is not None and self.parameters["charge"] is None \
                and atoms.info.get("charge", 0.0) != self._used_charge:
            changes.append("charge")  # atoms.info["charge"] is part of the input
        if self._used_charge is not None and _spin_info(atoms) != self._used_spin:
            changes.append("spin")  # so is the spin state asked for (checked against the training domain)
        return changes

    def calculate(self, atoms: Atoms | None = None, properties=None, system_changes=all_changes) -> None:
        hirshfeld = "hirshfeld_charges" in (properties or ())
        if hirshfeld:
            self.check_hirshfeld(atoms if atoms is not None else self.atoms)  # refused before any prediction
        if not system_changes and self._density is not None and self.results:
            super().calculate(atoms, properties, system_changes)
        else:
            self._predict(atoms, properties, system_changes)
        if "esp_charges" in (properties or ()) and "esp_charges" not in self.results:
            self.results["esp_charges"] = self._density.esp_charges("mk").charges  # only when asked: costs more
        if hirshfeld and "hirshfeld_charges" not in self.results:
            from ..electron.partition import hirshfeld_charges

            self.results["hirshfeld_charges"] = hirshfeld_charges(self._density)  # only when asked: a Becke grid

    def check_hirshfeld(self, atoms: Atoms) -> None:
        """Refuse, in one line, a structure whose Hirshfeld charges cannot be computed: a periodic one, or
        one with elements outside the free-atom table that the model predicts (an element the model lacks is
        refused by the prediction, with the model's own message)."""
        from ase.data import atomic_numbers

        from ..electron.free_atoms import load_free_atoms
        from ..errors import UnsupportedElementError

        if atoms.pbc.any():
            raise E3DensityError(f"hirshfeld_charges are for finite structures: {atoms.get_chemical_formula()} is "
                                 f"periodic (pbc={atoms.pbc.tolist()}) and the Hirshfeld partition of a periodic "
                                 "density is not implemented; use charges (the s partition) or pbc=False")
        table = load_free_atoms()
        predicted = set(atoms.get_chemical_symbols()) & set(self.model.species if self.model is not None else ())
        missing = sorted(predicted - set(table.terms), key=atomic_numbers.__getitem__)
        if missing:
            raise UnsupportedElementError(f"hirshfeld_charges: no free-atom density for {', '.join(missing)} in the "
                                          f"{table.name!r} table (H-Ar); use charges (the s partition) or esp_charges")

    def _predict(self, atoms: Atoms | None, properties, system_changes) -> None:
        super().calculate(atoms, properties, system_changes)
        atoms = self.atoms
        charge = self._charge_of(atoms)
        density = self.model.predict_density(atoms, charge)
        self._density, self._used_charge, self._used_spin = density, charge, _spin_info(atoms)
        reasons = density.info["domain_warnings"]
        self.warn_outside_domain(atoms, reasons)
        self.results = {
            "charges": density.charges,
            "dipole": density.dipole,
            "quadrupole": density.quadrupole,
            "n_electrons": density.n_electrons,
            "density_coefficients": density.coefficients,
            "domain_warnings": list(reasons),
        }

    @staticmethod
    def check_grid(atoms: Atoms, spacing: float = CUBE_SPACING, padding: float = 4.0) -> None:
        """Refuse, before any prediction, a cube grid (``spacing``, ``padding`` in Å) that cannot be made or
        would be absurdly large (:class:`~ase_e3density.errors.ResourceError`)."""
        from ..electron.grids import uniform_grid

        uniform_grid(atoms, spacing, padding)

    def get_atomic_density(self, atoms: Atoms | None = None) -> AtomicDensity:
        """The predicted :class:`AtomicDensity` (values at points, grids, cube files)."""
        if atoms is None and self.atoms is None:
            raise CalculatorParameterError("no structure yet: pass atoms, or attach the calculator to atoms first")
        self.get_property("n_electrons", atoms)
        assert self._density is not None
        return self._density

    def get_quadrupole(self, atoms: Atoms | None = None) -> np.ndarray:
        """Traceless quadrupole (e·Å², Buckingham) about the centre of mass."""
        return self.get_property("quadrupole", atoms)

    def get_esp_charges(self, atoms: Atoms | None = None) -> np.ndarray:
        """Charges (e) fitted to the predicted potential on Merz-Kollman surfaces (1.4-2.0 x vdW radii)."""
        return self.get_property("esp_charges", atoms)

    def get_hirshfeld_charges(self, atoms: Atoms | None = None) -> np.ndarray:
        """Hirshfeld charges (e) of the predicted density (free atoms ``pbe0-cc-pvdz``, H-Ar; Becke grid level 2,
        within 2e-5 e of a fine grid), summing to the total charge; finite structures only."""
        return self.get_property("hirshfeld_charges", atoms)

    def get_electrostatic_potential(self, atoms: Atoms | None = None, points=None) -> np.ndarray:
        """Electrostatic potential (V) of the predicted density plus nuclei at points (Å), shape (..., 3)."""
        if points is None:
            raise E3DensityError("pass the points (Å) at which to evaluate the potential")
        return self.get_atomic_density(atoms).electrostatic_potential(points)

    def get_electric_field(self, atoms: Atoms | None = None, points=None) -> np.ndarray:
        """Electric field (V/Å) of the predicted density plus nuclei at points (Å), shape (..., 3)."""
        if points is None:
            raise E3DensityError("pass the points (Å) at which to evaluate the field")
        return self.get_atomic_density(atoms).electric_field(points)

    def get_surface_potential(self, atoms: Atoms | None = None, scale: float = 1.4,
                              density: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """Points (Å) on the ``scale`` x vdW surface and the potential (V) there: an ESP map."""
        from ..electron.surfaces import molecular_surface

        rho = self.get_atomic_density(atoms)
        points = molecular_surface(rho.atoms, scale, density)
        return points, rho.electrostatic_potential(points)
