"""PhononDOSCalculator: a deployed phonon-DOS model as an ASE calculator."""
from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.calculators.calculator import all_changes

from ..errors import CalculatorParameterError
from .base import ModelCalculator

__all__ = ["PhononDOSCalculator"]


def temperatures_value(value):
    """A temperature (K) or a list of them, checked."""
    t = np.asarray(value, dtype=float) if not isinstance(value, str) else None
    if t is None or t.ndim > 1 or t.size == 0 or not np.isfinite(t).all() or (t < 0).any():
        raise CalculatorParameterError(f"temperatures must be a temperature in K >= 0 or a list of them, got {value!r}")
    return float(t) if t.ndim == 0 else [float(x) for x in t]


class PhononDOSCalculator(ModelCalculator):
    """Predicted phonon density of states of crystals and alloys, and the thermal properties from it.

    Parameters: those of :class:`~ase_e3density.calculator.ModelCalculator` (``model``, default the
    shipped ``"phonon"`` model; ``device``, ``dtype``, ``runtime``, ``model_checksum``) and
    ``temperatures``: K, a number or a list, of the thermal properties.

    Results at ``temperatures``: ``heat_capacity``, ``vibrational_entropy`` (J/(K mol-atoms)),
    ``vibrational_free_energy``, ``vibrational_energy`` (kJ/mol-atoms), ``volumetric_heat_capacity``
    (J/(K cm^3)), ``gravimetric_heat_capacity`` (J/(K g)) and ``domain_warnings``;
    :meth:`get_phonon_dos` gives the spectrum. Partial occupancies in ``atoms.info["occupancy"]`` (ASE's
    CIF reader) make a virtual crystal. Masses set on the atoms (isotopes, ``atoms.set_masses``) are
    honoured: exactly when all of them are scaled alike (a crystal of one element), through the network's
    learnt mass dependence when they change relative to each other (with a domain warning); see
    :meth:`~ase_e3density.models.DeployedPhononModel.to_dos`.
    """

    kind = "phonon_dos"
    kind_parameters = {"temperatures": 300.0}
    domain_message = "{label} is flagged by the domain check of {model} (where its large errors are): "
    implemented_properties = ["heat_capacity", "vibrational_entropy", "vibrational_free_energy", "vibrational_energy",
                              "volumetric_heat_capacity", "gravimetric_heat_capacity"]

    def __init__(self, model="phonon", atoms: Atoms | None = None, **parameters):
        self._phonon_dos = None
        self._used_occupancy = None
        super().__init__("phonon" if model is None else model, atoms, **parameters)

    def check_parameters(self, kwargs: dict) -> dict:
        if "temperatures" in kwargs:
            kwargs["temperatures"] = temperatures_value(kwargs["temperatures"])
        return kwargs

    def check_state(self, atoms: Atoms, tol: float = 1e-15) -> list[str]:
        changes = super().check_state(atoms, tol)
        if self._phonon_dos is not None and atoms.info.get("occupancy") != self._used_occupancy:
            changes.append("occupancy")  # a virtual crystal's atoms.info["occupancy"] is part of the input
        if (self.atoms is not None and len(atoms) == len(self.atoms)
                and not np.array_equal(atoms.get_masses(), self.atoms.get_masses())):
            changes.append("masses")  # isotopes are part of the input (ASE's own check leaves masses out)
        return changes

    def calculate(self, atoms: Atoms | None = None, properties=None, system_changes=all_changes) -> None:
        super().calculate(atoms, properties, system_changes)
        atoms = self.atoms
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
        ``.dos`` per atom (integrates to 3), ``.partial("O")`` the DOS projected on an element's sites
        (states/(THz atom) per atom of the crystal; the elements' partials add up to ``.dos``). The partials
        are the network's own decomposition (the mean of its per-site DOS over each element's sites): the
        shipped model was trained on total DOS only, not against projected DOS. ``occupancy``: partial
        occupancies per site (a virtual crystal; see :func:`~ase_e3density.graph.occupancy.site_occupancy`),
        default ``atoms.info["occupancy"]``."""
        if atoms is None and self.atoms is None:
            raise CalculatorParameterError("no structure yet: pass atoms, or attach the calculator to atoms first")
        if occupancy is not None:
            return self._dos_of(atoms if atoms is not None else self.atoms, occupancy)
        self.get_property("heat_capacity", atoms)  # computed once per structure, as every property
        return self._phonon_dos

    def _dos_of(self, atoms: Atoms, occupancy):
        dos = self.model.predict_dos(atoms, occupancy)
        self.warn_outside_domain(atoms, dos.info["domain_warnings"], dos.info["composition"])  # as predict, screen
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
