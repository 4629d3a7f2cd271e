"""Physical descriptors of the elements, shared by all of them: what lets a network say something about an
element it saw in few crystals, or none.

A one-hot input gives each element its own learned weights, so an element never trained on enters with its
random initial ones. These five numbers place every element in the periodic table instead (the kind of atom
features CGCNN and Mat2Spec feed their networks), scaled to about 0-1:

- Pauling electronegativity / 4 (:data:`~ase_e3density.graph.occupancy.PAULING_ELECTRONEGATIVITY`);
- covalent radius / 2 Å (ASE's ``covalent_radii``: Cordero et al., Dalton Trans. 2008);
- period / 7;
- group / 18 (lanthanides and actinides in group 3);
- f-block position / 15 (La and Ac 1, Ce and Th 2, ..., Lu and Lr 15; 0 outside the f block).
"""
from __future__ import annotations

from collections.abc import Sequence

from ase.data import atomic_numbers, covalent_radii

from ..errors import UnsupportedElementError
from .occupancy import PAULING_ELECTRONEGATIVITY

__all__ = ["ELEMENT_FEATURE_NAMES", "element_features"]

ELEMENT_FEATURE_NAMES = ("electronegativity / 4", "covalent radius / 2 Å", "period / 7", "group / 18",
                         "f-block position / 15")

_PERIOD_STARTS = (1, 3, 11, 19, 37, 55, 87, 119)  # Z of the first element of periods 1-7 (and the end)


def _period_and_group(z: int) -> tuple[int, int, int]:
    """(period, group 1-18, f-block position 0-15) of atomic number ``z``."""
    period = next(p for p in range(1, 8) if z < _PERIOD_STARTS[p])
    k = z - _PERIOD_STARTS[period - 1]  # 0-based position within the period
    if period == 1:
        return period, (1 if z == 1 else 18), 0
    if period <= 3:
        return period, (k + 1 if k < 2 else k + 11), 0
    if period <= 5:
        return period, k + 1, 0
    if k < 2:  # periods 6 and 7: s block, then La-Lu / Ac-Lr (f block, group 3), then Hf / Rf onwards
        return period, k + 1, 0
    if k <= 16:
        return period, 3, k - 1  # La and Ac (k = 2): 1, ..., Lu and Lr: 15
    return period, k - 13, 0


def element_features(symbols: Sequence[str]) -> list[list[float]]:
    """The five descriptors of each element of ``symbols`` (``ELEMENT_FEATURE_NAMES``), dimensionless."""
    rows = []
    for symbol in symbols:
        if symbol not in PAULING_ELECTRONEGATIVITY:
            raise UnsupportedElementError(f"element {symbol} has no Pauling electronegativity in this package")
        z = atomic_numbers[symbol]
        period, group, f_position = _period_and_group(z)
        rows.append([PAULING_ELECTRONEGATIVITY[symbol] / 4.0, float(covalent_radii[z]) / 2.0, period / 7.0,
                     group / 18.0, f_position / 15.0])
    return rows
