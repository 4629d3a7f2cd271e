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
    - ``model_checksum``: filled in on load; when given, the loaded file must match it;
    - ``temperatures``: K, a number or a list, for the thermal properties of phonon-DOS models.

    Results (ASE units): ``charges`` (e, the s-function partition), ``esp_charges`` (e, fitted to the
    predicted electrostatic potential on Merz-Kollman surfaces: the charges force fields want),
    ``dipole`` (e·Å) and ``quadrupole`` (traceless, Buckingham, e·Å²) about the centre of mass,
    ``n_electrons``, ``density_coefficients``, and ``domain_warnings``: why the structure lies outside
    the model's training domain (also issued as a :class:`~ase_e3density.errors.DomainWarning`); empty
    when it lies inside. The potential and field at any points: :meth:`get_electrostatic_potential`,
    :meth:`get_electric_field`, :meth:`get_surface_potential`.
    A phonon-DOS model file (``model="phonon"``, the shipped one) gives instead :meth:`get_phonon_dos` and
    ``heat_capacity``, ``vibrational_entropy`` (J/(K mol-atoms)), ``vibrational_free_energy``,
    ``vibrational_energy`` (kJ/mol-atoms), ``volumetric_heat_capacity`` (J/(K cm^3)) and
    ``gravimetric_heat_capacity`` (J/(K g)) at ``temperatures``; partial occupancies in
    ``atoms.info["occupancy"]`` (ASE's CIF reader) make a virtual crystal.
    Loaded models are shared between calculators using the same file, so a calculator per
    frame is cheap; a pickled calculator reloads its model from the file.
    """

    implemented_properties = ["charges", "esp_charges", "dipole", "quadrupole", "n_electrons", "density_coefficients"]
    phonon_properties = ["heat_capacity", "vibrational_entropy", "vibrational_free_energy", "vibrational_energy",
                         "volumetric_heat_capacity", "gravimetric_heat_capacity"]
    default_parameters = {"model": "default", "charge": None, "device": "cpu", "dtype": None, "temperatures": 300.0}
    discard_results_on_any_change = True

    def __init__(self, model=None, device: str = "cpu", dtype=None, charge: float | None = None,
                 temperatures=300.0, **kwargs):
        self.model: DeployedModel | None = model if isinstance(model, DeployedModel) else None
        self._density: AtomicDensity | None = None
        self._phonon_dos = None
        self._used_charge: float | None = None
        self._used_occupancy = None
        super().__init__(model=model, device=device, dtype=dtype, charge=charge, temperatures=temperatures, **kwargs)

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
        if "temperatures" in kwargs:
            kwargs["temperatures"] = _temperatures_value(kwargs["temperatures"])
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
        # what a calculator offers follows the file's model kind
        self.implemented_properties = list(self.phonon_properties if self.is_phonon_model
                                           else type(self).implemented_properties)

    @property
    def is_phonon_model(self) -> bool:
        """True when the loaded file predicts phonon DOS (model kind ``phonon_dos``)."""
        return self.model is not None and self.model.kind == "phonon_dos"

    def get_property(self, name, atoms=None, allow_calculation=True):
        if name not in self.implemented_properties and self.model is not None:
            from ase.calculators.calculator import PropertyNotImplementedError

            raise PropertyNotImplementedError(
                f"{name!r} is not predicted by {self.parameters['model']} (a {self.model.kind} model); it gives "
                f"{', '.join(self.implemented_properties)}")
        if atoms is None and self.atoms is None:
            raise CalculatorParameterError("no structure yet: pass atoms, or call a property of atoms that carry this "
                                           "calculator first")
        return super().get_property(name, atoms, allow_calculation)

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
        if self._phonon_dos is not None and atoms.info.get("occupancy") != self._used_occupancy:
            changes.append("occupancy")  # so is a virtual crystal's atoms.info["occupancy"]
        return changes

    def calculate(self, atoms: Atoms | None = None, properties=None, system_changes=all_changes) -> None:
        if self.is_phonon_model:
            super().calculate(atoms, properties, system_changes)
            self._predict_phonons(self.atoms)
            return
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

    # -- phonon-DOS models -----------------------------------------------------------------------
    def _predict_phonons(self, atoms: Atoms) -> None:
        dos = self._dos_of(atoms, None)
        self._phonon_dos, self._used_occupancy = dos, atoms.info.get("occupancy")
        t = self.parameters["temperatures"]
        tp, volumetric, gravimetric = dos.thermal_summary(t)
        pick = (lambda a: float(a[0])) if np.ndim(t) == 0 else np.asarray
        self.results = {"heat_capacity": pick(tp.heat_capacity), "vibrational_entropy": pick(tp.entropy),
                        "vibrational_free_energy": pick(tp.free_energy), "vibrational_energy": pick(tp.internal_energy),
                        "volumetric_heat_capacity": pick(volumetric), "gravimetric_heat_capacity": pick(gravimetric),
                        "domain_warnings": list(dos.info["domain_warnings"])}

    def get_phonon_dos(self, atoms: Atoms | None = None, occupancy=None):
        """The predicted :class:`~ase_e3density.phonon.PhononDOS` of a crystal: ``.frequencies`` in THz,
        ``.dos`` per atom (integrates to 3). ``occupancy``: partial occupancies per site (a virtual crystal;
        see :func:`~ase_e3density.graph.occupancy.site_occupancy`), default ``atoms.info["occupancy"]``."""
        if not self.is_phonon_model:
            raise CalculatorParameterError(f"{self.parameters['model']} predicts {self.model.kind}, not phonon DOS; these "
                                           "come from a phonon_dos model, e.g. E3DensityCalculator(model=\"phonon\")")
        if atoms is None and self.atoms is None:
            raise CalculatorParameterError("no structure yet: pass atoms, or attach the calculator to atoms first")
        if occupancy is not None:
            return self._dos_of(atoms if atoms is not None else self.atoms, occupancy)
        self.get_property("heat_capacity", atoms)  # computed once per structure, as every property
        return self._phonon_dos

    def _dos_of(self, atoms: Atoms, occupancy):
        dos = self.model.predict_dos(atoms, occupancy)
        reasons = dos.info["domain_warnings"]
        if reasons:
            warnings.warn(f"{atoms.get_chemical_formula()} is outside the training domain of {self.parameters['model']}: "
                          + "; ".join(reasons), DomainWarning, stacklevel=2)
        return dos

    def get_heat_capacity(self, atoms: Atoms | None = None):
        """Cv at the calculator's ``temperatures``, J/(K mol-atoms) (harmonic, from the predicted DOS)."""
        return self.get_property("heat_capacity", atoms)

    def get_vibrational_entropy(self, atoms: Atoms | None = None):
        """Vibrational entropy at ``temperatures``, J/(K mol-atoms)."""
        return self.get_property("vibrational_entropy", atoms)

    def get_vibrational_free_energy(self, atoms: Atoms | None = None):
        """Harmonic vibrational (Helmholtz) free energy at ``temperatures``, kJ/mol-atoms, zero-point energy
        included (not ASE's electronic ``free_energy``, which is in eV)."""
        return self.get_property("vibrational_free_energy", atoms)


def _temperatures_value(value):
    """A temperature (K) or a list of them, checked."""
    t = np.asarray(value, dtype=float) if not isinstance(value, str) else None
    if t is None or t.ndim > 1 or t.size == 0 or not np.isfinite(t).all() or (t < 0).any():
        raise CalculatorParameterError(f"temperatures must be a temperature in K >= 0 or a list of them, got {value!r}")
    return float(t) if t.ndim == 0 else [float(x) for x in t]
