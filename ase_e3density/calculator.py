"""E3DensityCalculator: a deployed density model as an ASE calculator."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes

from .electron.density import AtomicDensity
from .errors import CalculatorParameterError, DomainWarning, E3DensityError
from .models import DeployedModel, load_model, resolve_model_path

__all__ = ["E3DensityCalculator"]

_MODEL_PARAMETERS = {"model", "device", "dtype", "model_checksum"}


def _model_name(model) -> str:
    """How a model is recorded in ``parameters``: a shipped model's name or a file path."""
    if model is None:
        return "default"
    if isinstance(model, DeployedModel):
        return str(model.path)
    if isinstance(model, Path):
        return str(model)
    if not isinstance(model, str):
        raise CalculatorParameterError(f"model must be a shipped model's name, a path or a loaded model, "
                             f"not {type(model).__name__}")
    return model


def _charge_value(charge, where: str) -> float | None:
    if charge is None:
        return None
    try:
        value = float(charge)
    except (TypeError, ValueError):
        raise CalculatorParameterError(f"{where} must be a number, got {charge!r}") from None
    if not np.isfinite(value):
        raise CalculatorParameterError(f"{where} must be finite, got {charge!r}")
    return value


class E3DensityCalculator(Calculator):
    """Predicted electron density and its multipoles for ASE ``Atoms``.

    Parameters (``calc.parameters``, changed with ``calc.set(...)``, recorded by ``todict()``):

    - ``model``: a shipped model's name (``"default"``), a deployed file, or a loaded model;
    - ``charge``: total charge; ``None`` reads ``atoms.info["charge"]``, else 0;
    - ``device``: where the network runs (``"cpu"``, ``"cuda"``);
    - ``dtype``: ``"float32"`` or ``"float64"``; ``None`` keeps the file's;
    - ``model_checksum``: filled in on load; when given, the loaded file must match it.

    Results (ASE units): ``charges`` (e, the s-function partition), ``esp_charges`` (e, fitted to the
    predicted electrostatic potential on Merz-Kollman surfaces: the charges force fields want),
    ``dipole`` (e·Å) and ``quadrupole`` (traceless, Buckingham, e·Å²) about the centre of mass,
    ``n_electrons``, ``density_coefficients``, and ``domain_warnings``: why the structure lies outside
    the model's training domain (also issued as a :class:`~ase_e3density.errors.DomainWarning`); empty
    when it lies inside. The potential and field at any points: :meth:`get_electrostatic_potential`,
    :meth:`get_electric_field`, :meth:`get_surface_potential`.
    Loaded models are shared between calculators using the same file, so a calculator per
    frame is cheap; a pickled calculator reloads its model from the file.
    """

    implemented_properties = ["charges", "esp_charges", "dipole", "quadrupole", "n_electrons", "density_coefficients"]
    default_parameters = {"model": "default", "charge": None, "device": "cpu", "dtype": None}
    discard_results_on_any_change = True

    def __init__(self, model=None, device: str = "cpu", dtype=None, charge: float | None = None, **kwargs):
        self.model: DeployedModel | None = model if isinstance(model, DeployedModel) else None
        self._density: AtomicDensity | None = None
        self._used_charge: float | None = None
        super().__init__(model=model, device=device, dtype=dtype, charge=charge, **kwargs)

    # -- parameters (ASE protocol) -------------------------------------------------------------
    def set(self, **kwargs) -> dict:
        if "model" in kwargs:
            given = kwargs["model"]
            kwargs["model"] = _model_name(given)
            if isinstance(given, DeployedModel):
                self.model = given
        if "dtype" in kwargs and kwargs["dtype"] is not None:
            kwargs["dtype"] = str(kwargs["dtype"]).replace("torch.", "")
        if "device" in kwargs:
            kwargs["device"] = str(kwargs["device"])
        if "charge" in kwargs:
            kwargs["charge"] = _charge_value(kwargs["charge"], "charge")
        previous = dict(self.parameters or {})
        changed = super().set(**kwargs)
        if "model" in changed and "model_checksum" not in kwargs:
            self.parameters.pop("model_checksum", None)  # a new file brings its own checksum
        if self.model is None or changed.keys() & _MODEL_PARAMETERS:
            try:
                self._load_model()
            except Exception:
                self.parameters.clear()
                self.parameters.update(previous)
                raise
        return changed

    def _load_model(self) -> None:
        p = self.parameters
        held = self.model
        if held is not None and str(held.path) == p["model"] and str(held.device) == str(p["device"]) \
                and (p["dtype"] is None or str(held.dtype).endswith(p["dtype"])):
            model = held
        else:
            model = load_model(resolve_model_path(p["model"]), device=p["device"], dtype=p["dtype"])
        expected = p.get("model_checksum")
        if expected is not None and expected != model.checksum:
            raise CalculatorParameterError(f"{model.path} has checksum {model.checksum[:12]}..., not the expected "
                                 f"{str(expected)[:12]}...: another file than the one asked for")
        self.model = model
        p["model_checksum"] = model.checksum

    def todict(self, skip_default: bool = True) -> dict:
        """Parameters as ASE records them, always with the model, its checksum and the charge used."""
        out = super().todict(skip_default)
        out["model"] = self.parameters["model"]
        out["model_checksum"] = self.parameters.get("model_checksum")
        charge = self.parameters.get("charge")
        out["charge"] = self._used_charge if charge is None else charge
        return out

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["model"] = None  # TorchScript modules do not pickle: reload from the file
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._load_model()

    # -- calculation -----------------------------------------------------------------------------
    def _charge_of(self, atoms: Atoms) -> float:
        if self.parameters["charge"] is not None:
            return self.parameters["charge"]
        return _charge_value(atoms.info.get("charge", 0.0), 'atoms.info["charge"]') or 0.0

    def check_state(self, atoms: Atoms, tol: float = 1e-15) -> list[str]:
        changes = super().check_state(atoms, tol)
        if self._used_charge is not None and self.parameters["charge"] is None \
                and atoms.info.get("charge", 0.0) != self._used_charge:
            changes.append("charge")  # atoms.info["charge"] is part of the input
        return changes

    def calculate(self, atoms: Atoms | None = None, properties=None, system_changes=all_changes) -> None:
        if not system_changes and self._density is not None and self.results:
            super().calculate(atoms, properties, system_changes)
        else:
            self._predict(atoms, properties, system_changes)
        if "esp_charges" in (properties or ()) and "esp_charges" not in self.results:
            self.results["esp_charges"] = self._density.esp_charges("mk").charges  # only when asked: costs more

    def _predict(self, atoms: Atoms | None, properties, system_changes) -> None:
        super().calculate(atoms, properties, system_changes)
        atoms = self.atoms
        charge = self._charge_of(atoms)
        density = self.model.predict_density(atoms, charge)
        self._density, self._used_charge = density, charge
        reasons = density.info["domain_warnings"]
        if reasons:
            warnings.warn(f"{atoms.get_chemical_formula()} is outside the training domain of {self.parameters['model']}: "
                          + "; ".join(reasons), DomainWarning, stacklevel=2)
        self.results = {
            "charges": density.charges,
            "dipole": density.dipole,
            "quadrupole": density.quadrupole,
            "n_electrons": density.n_electrons,
            "density_coefficients": density.coefficients,
            "domain_warnings": list(reasons),
        }

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
        from .electron.surfaces import molecular_surface

        rho = self.get_atomic_density(atoms)
        points = molecular_surface(rho.atoms, scale, density)
        return points, rho.electrostatic_potential(points)
