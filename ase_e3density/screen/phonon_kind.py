"""Screening with phonon-DOS models: one forward pass per batch, thermal properties per crystal.

Each crystal's result is what :meth:`E3DensityCalculator.get_phonon_dos
<ase_e3density.calculator.E3DensityCalculator.get_phonon_dos>` gives: the predicted DOS per atom
and, at ``TEMPERATURES``, heat capacity per mole of atoms, per volume and per mass (the thermal-storage
ranking), entropy and free energy. Partial occupancies in ``atoms.info["occupancy"]`` make a virtual crystal.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import E3DensityError
from ..graph.occupancy import composition as site_composition
from ..models import DeployedPhononModel
from ..phonon.database import column_temperatures, temperature_key
from .records import Item

__all__ = ["PhononEvaluator", "TEMPERATURES"]

TEMPERATURES = (100.0, 300.0, 500.0)  # K


class PhononEvaluator:
    """Cv (J/(K mol-atoms), J/(K cm^3), J/(K g)), S (J/(K mol-atoms)), F (kJ/mol-atoms) at ``temperatures``
    (K; default ``TEMPERATURES``), one column each (``cv_atom_300``, ``cv_atom_298p15``)."""

    OPTIONS = ("temperatures",)
    arrays = ("dos",)
    UNITS = {"cv_atom": "J/(K mol-atoms)", "cv_vol": "J/(K cm^3)", "cv_grav": "J/(K g)", "s_atom": "J/(K mol-atoms)",
             "f_atom": "kJ/mol-atoms", "mean_frequency": "THz"}

    def unit(self, column: str) -> str:
        """The unit of a scalar column (``cv_vol_300``: J/(K cm^3); "" for counts and text)."""
        return self.UNITS.get(column, self.UNITS.get(column.rsplit("_", 1)[0], ""))

    def __init__(self, model: DeployedPhononModel, temperatures: Sequence[float] | None = None):
        self.model = model
        temps = TEMPERATURES if temperatures is None else column_temperatures(temperatures)
        self.temperatures = temps
        self.columns = ("n_atoms", *(temperature_key(p, t) for t in temps
                                     for p in ("cv_atom", "cv_vol", "cv_grav", "s_atom", "f_atom")),
                        "composition", "mean_frequency", "in_domain", "domain_warnings")

    def prepare(self, item: Item):
        return self.model.checked_graph(item.atoms)

    def result(self, item: Item, values: np.ndarray, graph) -> tuple[dict, dict]:
        if not np.isfinite(values).all():
            raise E3DensityError("the model gave non-finite results (NaN or inf)")
        dos = self.model.to_dos(item.atoms, values, fractions=graph[1])
        tp, vol, grav = dos.thermal_summary(self.temperatures)
        scalars: dict = {"n_atoms": len(item.atoms)}
        for k, t in enumerate(self.temperatures):
            scalars[temperature_key("cv_atom", t)] = float(tp.heat_capacity[k])
            scalars[temperature_key("cv_vol", t)] = float(vol[k])
            scalars[temperature_key("cv_grav", t)] = float(grav[k])
            scalars[temperature_key("s_atom", t)] = float(tp.entropy[k])
            scalars[temperature_key("f_atom", t)] = float(tp.free_energy[k])
        scalars["composition"] = composition(item.atoms, graph[1], self.model.species)
        scalars["mean_frequency"] = float(np.trapezoid(dos.frequencies * dos.dos, dos.frequencies) / 3.0)
        reasons = self.model.domain_report(item.atoms, graph)
        scalars["in_domain"] = not reasons
        scalars["domain_warnings"] = "; ".join(reasons)
        return scalars, {"dos": np.asarray(dos.dos)}

    def evaluate(self, items: Sequence[Item], prepared: Sequence) -> list:
        outputs = self.model.forward(prepared)
        outcomes: list = []
        for item, values, graph in zip(items, outputs, prepared):
            try:
                outcomes.append(self.result(item, values, graph))
            except Exception as exc:  # one structure's failure must not fail its batch
                outcomes.append(exc)
        return outcomes


def composition(atoms, fractions: np.ndarray, species: Sequence[str]) -> str:
    """The cell's formula; for a virtual crystal, its composition per formula unit from the site fractions
    (Cu0.3Ni0.7, where the cell's majority atoms alone read Ni4); cations first, by Pauling electronegativity
    (TiN, Ti0.75V0.25N: :func:`~ase_e3density.graph.occupancy.electronegativity_order`)."""
    return site_composition(atoms, fractions, species)
