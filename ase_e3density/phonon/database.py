"""Reference phonons in an ase.db: one row per structure, written as it is computed.

A row holds the relaxed structure (with a single-point calculator: its energy, eV), key-value pairs
``uid`` (hash of the input structure and every setting), ``source``, ``generator``, ``force_calculator``,
``potential`` (the exact potential: model, checkpoint and package version, e.g. "SevenNet-l3i5 (7net-l3i5,
sevenn 0.13.0)", "EMT (ase 3.29.0)"),
the settings (``relax``, ``relax_fmax``, ``min_width``, ``displacement``, ``mesh``, ...), ``supercell``,
``n_supercell_atoms``, ``n_displacements``, ``n_imaginary_modes``, ``imaginary_fraction``,
``min_frequency`` / ``max_frequency`` (THz), versions, and at each temperature T (K) of the run:
``cv_atom_T``, ``s_atom_T`` (J/(K mol-atoms)), ``f_atom_T``, ``u_atom_T`` (kJ/mol-atoms),
``cv_vol_T`` (J/(K cm^3)), ``cv_grav_T`` (J/(K g)); ``zpe_atom`` (kJ/mol-atoms). Data: the DOS
grid ``frequencies`` (THz) and ``dos`` (per atom, integrates to 3), the mesh modes
``mode_frequencies`` (THz) and ``q_weights``, the thermal arrays per atom, ``supercell_matrix`` and
``settings``; rows with the element-projected DOS also ``partial_elements`` (symbols) and ``partial_dos``
(float32, one row per element on the ``frequencies`` grid, states/(THz atom) per atom of the structure:
they add up to ``dos``). Rows written without them read back as a DOS without partials.

Labels of the input structure: the scalar entries of its ``atoms.info`` (str, int, float, bool; bools
become 0/1) that are valid ase.db keys and are not one of the row's own keys are stored as key-value
pairs too (e.g. ``name``, ``prototype``, ``alloy``); anything else in ``info`` (arrays, dicts, keys that
ase.db refuses or that read as a chemical formula, text that reads as a number) is left out without a word.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
from ase.calculators.singlepoint import SinglePointCalculator

from ..errors import E3DensityError, InputFileError
from .dos import PhononDOS

__all__ = ["GENERATOR", "temperature_key", "column_temperatures", "info_key_value_pairs", "write_phonon_row", "read_phonon_dos", "iter_phonon_dos"]

GENERATOR = "e3density phonons"


def temperature_key(prefix: str, t: float) -> str:
    """``cv_atom_300`` for 300 K, ``cv_atom_298p15`` for 298.15 K (ase.db keys are identifiers)."""
    text = f"{t:g}".replace(".", "p").replace("-", "m").replace("+", "")
    return f"{prefix}_{text}"


def column_temperatures(values, name: str = "temperatures (--temperatures)") -> tuple[float, ...]:
    """Temperatures (K) that name result columns: at least one, each in [0, 1e5), none repeated (one column
    each, see :func:`temperature_key`); a one-line error naming ``name`` otherwise."""
    temps = tuple(float(t) for t in values)
    if not temps or not all(0 <= t < 1e5 for t in temps) or len(set(temps)) < len(temps):
        raise E3DensityError(f"{name} takes distinct temperatures in K (0 to 1e5), got {values!r}")
    return temps


def info_key_value_pairs(info: dict | None, taken=()) -> dict:
    """The entries of ``info`` that ase.db stores as key-value pairs: scalars (str, int, float; bools as
    0/1) under keys ase.db accepts that are not in ``taken``; everything else is left out."""
    import numbers
    import warnings

    from ase.db.core import check

    out = {}
    for key, value in (info or {}).items():
        if not isinstance(key, str) or key in taken:
            continue
        if isinstance(value, (bool, np.bool_)):
            value = int(bool(value))
        elif isinstance(value, numbers.Integral):
            value = int(value)
        elif isinstance(value, numbers.Real):
            value = float(value)
            if not np.isfinite(value):
                continue
        elif not isinstance(value, str):
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # ase.db only warns about keys that read as a chemical formula
                check({key: value})
        except (ValueError, UserWarning):
            continue
        out[key] = value
    return out


def write_phonon_row(db, result, uid: str, source: str, settings: dict, versions: dict,
                     info: dict | None = None) -> int:
    """Append one :class:`~.reference.PhononResult` as a row (committed on its own when ``db`` is not in `with`).

    ``info``: the input structure's ``atoms.info``; its scalar labels become key-value pairs of the row
    (:func:`info_key_value_pairs`), never overriding the row's own keys."""
    import warnings

    from ..errors import ImaginaryModesWarning
    from .reference import potential_label

    atoms = result.relaxed.copy()
    atoms.calc = SinglePointCalculator(atoms, energy=result.energy)
    dos = result.dos
    temps = np.asarray(settings["temperatures"], dtype=float)
    with warnings.catch_warnings():  # imaginary modes are in the row's own columns
        warnings.simplefilter("ignore", ImaginaryModesWarning)
        tp, vol, grav = dos.thermal_summary(temps)
        zpe = dos.zero_point_energy("atom")
    mesh = settings["mesh"]
    kvp = {"uid": uid, "source": source, "generator": GENERATOR, "force_calculator": settings["calculator"],
           "potential": potential_label(settings["calculator"]),
           "relax": settings["relax"], "relax_fmax": float(settings["fmax"]), "optimizer": settings["optimizer"],
           "min_width": float(settings["min_width"]), "displacement": float(settings["displacement"]),
           "mesh": " ".join(str(m) for m in mesh) if isinstance(mesh, (list, tuple)) else float(mesh),
           "supercell": " ".join(str(int(v)) for v in np.asarray(result.supercell_matrix).ravel()),
           "n_supercell_atoms": int(result.n_supercell_atoms), "n_displacements": int(result.n_displacements),
           "n_imaginary_modes": int(dos.n_imaginary_modes or 0), "imaginary_fraction": float(dos.imaginary_fraction),
           "min_frequency": float(dos.min_frequency), "max_frequency": float(dos.max_frequency),
           "relax_steps": int(result.info.get("relax_steps", 0)), "seconds": float(result.seconds),
           "zpe_atom": float(zpe)}
    kvp.update({k: str(v) for k, v in versions.items() if v})
    for i, t in enumerate(temps):
        kvp[temperature_key("cv_atom", t)] = float(tp.heat_capacity[i])
        kvp[temperature_key("s_atom", t)] = float(tp.entropy[i])
        kvp[temperature_key("f_atom", t)] = float(tp.free_energy[i])
        kvp[temperature_key("u_atom", t)] = float(tp.internal_energy[i])
        kvp[temperature_key("cv_vol", t)] = float(vol[i])
        kvp[temperature_key("cv_grav", t)] = float(grav[i])
    kvp.update(info_key_value_pairs(info, taken=kvp))
    mode_frequencies, q_weights = dos.modes
    data = {"frequencies": np.asarray(dos.frequencies), "dos": np.asarray(dos.dos),
            "mode_frequencies": mode_frequencies, "q_weights": q_weights, "temperatures": temps,
            "heat_capacity": tp.heat_capacity, "entropy": tp.entropy, "free_energy": tp.free_energy,
            "internal_energy": tp.internal_energy, "supercell_matrix": np.asarray(result.supercell_matrix),
            "settings": dict(settings), "units": {"frequencies": "THz", "dos": "states/(THz atom)",
                                                  "thermal": "per mole of atoms: J/(K mol), kJ/mol"}}
    if dos.partials:
        data["partial_elements"] = list(dos.partials)
        data["partial_dos"] = np.array(list(dos.partials.values()), dtype=np.float32)
    return db.write(atoms, key_value_pairs=kvp, data=data)


def read_phonon_dos(row) -> PhononDOS:
    """The :class:`PhononDOS` of a row (thermal sums over its stored mesh modes; element-projected DOS where
    the row has it)."""
    atoms = row.toatoms()
    atoms.calc = None
    modes = (row.data["mode_frequencies"], row.data["q_weights"]) if "mode_frequencies" in row.data else None
    info = {k: row.get(k) for k in ("uid", "source", "force_calculator", "generator", "mesh") if row.get(k) is not None}
    partials = None
    if "partial_dos" in row.data and "partial_elements" in row.data:
        partials = dict(zip(row.data["partial_elements"], np.asarray(row.data["partial_dos"], dtype=float)))
    return PhononDOS(row.data["frequencies"], row.data["dos"], atoms=atoms, modes=modes, info=info, partials=partials)


def iter_phonon_dos(path, selection=None) -> Iterator[PhononDOS]:
    """Every phonon DOS in the ase.db at ``path`` (optionally an ase.db ``selection``)."""
    from ase.db import connect

    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"no such phonon database: {path}")
    try:
        rows = list(connect(path, use_lock_file=False).select(selection))
    except Exception as exc:  # sqlite3.DatabaseError, ValueError for unknown file types, ...
        raise InputFileError(f"{path} is not an ase.db database ({type(exc).__name__}: {exc})") from exc
    for row in rows:
        if "dos" not in row.data or "frequencies" not in row.data:
            raise InputFileError(f"{path}: row {row.id} holds no phonon DOS; write phonon databases with "
                                 "`e3density phonons`")
        yield read_phonon_dos(row)
