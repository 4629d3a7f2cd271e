"""Accuracy of predicted densities against references: per structure and summarised.

Beside eps_rho and the dipole error, both densities are shared out into molecules by one Hirshfeld
partition on the reference's grid (:mod:`ase_e3density.electron.partition`): per-molecule net
charges and dipoles and their RMS errors show charge moving between molecules, which dominates the
dipole error of large clusters. The dipole error is also given in units of ``sqrt(n) mu_monomer``,
the size of a sum of ``n`` randomly oriented molecular dipoles. ``mu_monomer`` defaults to the RMS of
the reference's own (Hirshfeld) molecular dipoles in that structure, which needs no separate monomer
calculation and works for any molecules; a fixed value (e.g. the gas-phase monomer's DFT dipole,
0.40 e·Å for PBE0/cc-pVDZ water) can be given instead.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import E3DensityError, UnsupportedElementError
from .density import AtomicDensity
from .free_atoms import ProAtoms, load_free_atoms
from .metrics import errors_by_l, quadrature
from .partition import GridPartition, find_molecules

__all__ = ["ReferenceOnGrid", "compare", "summarise"]


@dataclass
class ReferenceOnGrid:
    """A reference density with its quadrature grid, values per l and molecule partition, computed once.

    ``molecules`` is None where no partition can be made (periodic cells, elements without a
    free-atom density); the per-molecule metrics are then left out.
    """

    density: AtomicDensity
    points: np.ndarray
    weights: np.ndarray
    values_by_l: np.ndarray
    molecules: GridPartition | None = None

    @classmethod
    def build(cls, density: AtomicDensity, level: int = 2, free_atoms: ProAtoms | None = None,
              fragments=None) -> "ReferenceOnGrid":
        """Grid, values and the Hirshfeld partition into ``fragments`` (default: molecules by bonding)."""
        points, weights = quadrature(density, level)
        molecules = None
        if not density.atoms.pbc.any():
            try:
                atoms = density.atoms
                molecules = GridPartition.build(atoms, density.nuclear_charges, points, weights,
                                                fragments if fragments is not None else find_molecules(atoms),
                                                free_atoms or load_free_atoms())
            except UnsupportedElementError:
                molecules = None
        return cls(density, points, weights, density.evaluate_by_l(points), molecules)


def compare(predicted: AtomicDensity, reference: ReferenceOnGrid, mu_monomer: float | None = None) -> dict:
    """eps_rho and eps_l (%), dipole errors (e·Å, against the fit and the DFT density), charge MAE (e),
    and, with a molecule partition, per-molecule charge and dipole errors and the scaled dipole error.

    Scalar keys: ``eps``, ``eps_l0``.. (every l of the basis), ``dipole_error``, ``charge_mae``,
    ``dipole_error_dft``/``dipole_dft_norm`` (with a DFT dipole), ``n_molecules``, ``mu_monomer``
    (e·Å), ``dipole_error_sqrtn``/``dipole_error_dft_sqrtn`` (percent of ``sqrt(n) mu_monomer``),
    ``molecule_charge_rms`` (e), ``molecule_dipole_rms`` (e·Å, RMS of ``|dmu_F|``), ``molecule_charge_max``,
    and the two parts of the dipole error against the fit: ``dipole_error_transfer`` (e·Å,
    ``|sum_F dq_F R_F|``, charge moved between molecules) and ``dipole_error_molecular`` (``|sum_F dmu_F|``,
    the molecules' own dipoles), each also ``_sqrtn``. ``molecules`` holds the per-molecule values (lists)
    of both densities. ``mu_monomer`` (e·Å) fixes the scale instead of the reference's RMS molecular dipole.
    """
    if mu_monomer is not None and not (np.isfinite(mu_monomer) and mu_monomer > 0):
        raise E3DensityError(f"mu_monomer must be a positive dipole in e·Å, got {mu_monomer}")
    ref = reference.density
    predicted_by_l = predicted.evaluate_by_l(reference.points)
    errors = errors_by_l(predicted_by_l, reference.values_by_l, reference.weights, ref.n_electrons)
    out = {"n_atoms": len(ref.atoms), "eps": errors["eps"], **{f"eps_l{l}": v for l, v in errors["eps_l"].items()},
           "dipole_error": float(np.linalg.norm(predicted.dipole - ref.dipole)),
           "charge_mae": float(np.abs(predicted.charges - ref.charges).mean())}
    dft = ref.info.get("dft_dipole")
    if dft is not None:
        out["dipole_error_dft"] = float(np.linalg.norm(predicted.dipole - np.asarray(dft)))
        out["dipole_dft_norm"] = float(np.linalg.norm(dft))
    if reference.molecules is not None:
        out.update(_molecule_metrics(reference.molecules, predicted_by_l.sum(axis=0),
                                     reference.values_by_l.sum(axis=0), out, mu_monomer))
    return out


def _molecule_metrics(molecules: GridPartition, predicted: np.ndarray, reference: np.ndarray, row: dict,
                      mu_monomer: float | None) -> dict:
    q_pred, mu_pred = molecules.charges_and_dipoles(predicted)
    q_ref, mu_ref = molecules.charges_and_dipoles(reference)
    n = len(q_ref)
    if mu_monomer is None:
        mu_monomer = float(np.sqrt(np.mean(np.sum(mu_ref**2, axis=1))))
    scale = np.sqrt(n) * mu_monomer
    out = {"n_molecules": n, "mu_monomer": mu_monomer,
           "dipole_error_sqrtn": 100 * row["dipole_error"] / scale,
           "molecule_charge_rms": float(np.sqrt(np.mean((q_pred - q_ref) ** 2))),
           "molecule_charge_max": float(np.abs(q_pred - q_ref).max()),
           "molecule_dipole_rms": float(np.sqrt(np.mean(np.sum((mu_pred - mu_ref) ** 2, axis=1))))}
    if "dipole_error_dft" in row:
        out["dipole_error_dft_sqrtn"] = 100 * row["dipole_error_dft"] / scale
    # the dipole error vs the fit = charge moved between molecules + the molecules' own dipole errors
    arms = molecules.centres - molecules.centres.mean(axis=0)
    transfer = np.linalg.norm((q_pred - q_ref) @ arms)
    own = np.linalg.norm((mu_pred - mu_ref).sum(axis=0))
    out.update({"dipole_error_transfer": float(transfer), "dipole_error_transfer_sqrtn": 100 * transfer / scale,
                "dipole_error_molecular": float(own), "dipole_error_molecular_sqrtn": 100 * own / scale})
    out["molecules"] = {"atoms": [g.tolist() for g in molecules.groups],
                        "charges_predicted": q_pred.tolist(), "charges_reference": q_ref.tolist(),
                        "dipoles_predicted": mu_pred.tolist(), "dipoles_reference": mu_ref.tolist()}
    return out


def summarise(rows: list[dict]) -> dict:
    """Means over structures of every scalar, plus the dipole error relative to |mu_DFT| in percent (of the
    means), the median dipole error against DFT (e·Å, ``dipole_error_dft_median``) and the median of each
    structure's relative error (percent, ``dipole_error_dft_relative_median``), the median scaled dipole errors, and per-molecule RMS errors pooled over all molecules
    (``molecule_charge_rms``, ``molecule_dipole_rms``; their per-structure means are not kept)."""
    keys = sorted({k for r in rows for k, v in r.items() if k != "n_atoms" and np.isscalar(v)})
    out = {k: float(np.mean([r[k] for r in rows if k in r])) for k in keys}
    if "dipole_error_dft" in out:
        out["dipole_error_dft_percent"] = 100 * out["dipole_error_dft"] / out["dipole_dft_norm"]
        pairs = [(r["dipole_error_dft"], r["dipole_dft_norm"]) for r in rows if "dipole_error_dft" in r]
        out["dipole_error_dft_median"] = float(np.median([e for e, _ in pairs]))
        out["dipole_error_dft_relative_median"] = float(np.median([100 * e / n for e, n in pairs if n > 0] or [np.nan]))
    for key in ("dipole_error_sqrtn", "dipole_error_dft_sqrtn", "dipole_error_transfer_sqrtn",
                "dipole_error_molecular_sqrtn"):
        values = [r[key] for r in rows if key in r]
        if values:
            out[f"{key}_median"] = float(np.median(values))
    pooled = [r["molecules"] for r in rows if "molecules" in r]
    if pooled:
        dq = np.concatenate([np.subtract(m["charges_predicted"], m["charges_reference"]) for m in pooled])
        dmu = np.concatenate([np.subtract(m["dipoles_predicted"], m["dipoles_reference"]) for m in pooled])
        out["molecule_charge_rms"] = float(np.sqrt(np.mean(dq**2)))
        out["molecule_dipole_rms"] = float(np.sqrt(np.mean(np.sum(dmu**2, axis=1))))
        out["molecule_charge_max"] = float(np.abs(dq).max())
    out["n_structures"] = len(rows)
    return out
