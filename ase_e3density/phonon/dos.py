"""The phonon density of states of a crystal and the harmonic thermal properties it implies.

Units and normalisation, everywhere in this package:

- frequencies in THz (``frequencies_cm``: cm^-1, ``frequencies_mev``: meV); a negative frequency stands
  for an imaginary one, as in phonopy;
- ``dos`` per atom, in states/(THz atom): it integrates to 3 (modes per atom) over the frequency grid
  (trapezoidal rule); ``dos_per_cell`` integrates to ``3 * n_atoms``, ``n_atoms`` being the atoms of
  the cell that "per cell" refers to (``atoms`` when given);
- ``partial(symbol)``, where known, the element-projected DOS on the same grid and in the same unit:
  per atom of the whole structure (not per atom of that element), so the partials of all elements add
  up to ``dos`` and each integrates to 3 times the element's share of the atoms;
- thermal properties with phonopy's formulas and constants (:mod:`.units`): heat capacity Cv and entropy
  S in J/(K mol), Helmholtz free energy F (zero-point energy included) and internal energy U = F + TS
  in kJ/mol. ``per="atom"`` gives them per mole of atoms, ``per="cell"`` per mole of cells (phonopy's
  "per unit cell" when the cell is phonopy's primitive cell); volumetric heat capacity in J/(K cm^3),
  gravimetric in J/(K g).

Modes at zero or negative frequency are left out of every thermal sum, as phonopy does (its cutoff
frequency 0); they are counted (``excluded_fraction``, and ``imaginary_fraction`` /
``n_imaginary_modes`` below ``-IMAGINARY_TOLERANCE``) and an :class:`ImaginaryModesWarning` says so
whenever thermal properties are computed from a DOS with imaginary modes.

A DOS built from the modes of a q-point mesh (:meth:`PhononDOS.from_modes`, :meth:`PhononDOS.from_phonopy`)
keeps those modes and sums over them exactly, as phonopy does; one given only on a grid integrates
over the grid.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from ..errors import E3DensityError, ImaginaryModesWarning
from . import units

__all__ = ["PhononDOS", "ThermalProperties", "PER_CHOICES"]

PER_CHOICES = ("atom", "cell")
THERMAL_UNITS = {"temperatures": "K", "heat_capacity": "J/(K mol)", "entropy": "J/(K mol)",
                 "free_energy": "kJ/mol", "internal_energy": "kJ/mol"}


@dataclass(frozen=True)
class ThermalProperties:
    """Harmonic thermal properties at ``temperatures`` (K), per mole of atoms or of cells (``per``).

    ``heat_capacity`` Cv and ``entropy`` S in J/(K mol); ``free_energy`` F (zero-point energy included)
    and ``internal_energy`` U = F + TS in kJ/mol; ``zero_point_energy`` in kJ/mol.
    """

    temperatures: np.ndarray
    heat_capacity: np.ndarray
    entropy: np.ndarray
    free_energy: np.ndarray
    internal_energy: np.ndarray
    zero_point_energy: float
    per: str
    units: dict = field(default_factory=lambda: dict(THERMAL_UNITS))

    def as_dict(self) -> dict:
        return {"temperatures": self.temperatures, "heat_capacity": self.heat_capacity, "entropy": self.entropy,
                "free_energy": self.free_energy, "internal_energy": self.internal_energy,
                "zero_point_energy": self.zero_point_energy, "per": self.per, "units": dict(self.units)}


def _check_per(per: str) -> str:
    if per not in PER_CHOICES:
        raise E3DensityError(f"per must be 'atom' (per mole of atoms) or 'cell' (per mole of cells), got {per!r}")
    return per


def _temperatures(temperatures) -> np.ndarray:
    t = np.atleast_1d(np.asarray(temperatures, dtype=float))
    if t.ndim != 1 or not np.isfinite(t).all() or (t < 0).any():
        raise E3DensityError(f"temperatures must be finite and >= 0 K, got {np.asarray(temperatures)!r}")
    return t


def _mode_terms(freq_ev: np.ndarray, t: np.ndarray):
    """Per-mode Cv, S (eV/K) and F (eV), phonopy's formulas, shape (n_T, n_modes); ``freq_ev`` > 0."""
    kt = units.KB_EV * t[:, None]
    f = freq_ev[None, :]
    cv = np.zeros((len(t), freq_ev.size))
    s = np.zeros_like(cv)
    fe = np.broadcast_to(f / 2, cv.shape).copy()  # T = 0: the zero-point energy, S = Cv = 0
    hot = t > 0
    if hot.any():
        x = f / kt[hot]
        em = np.exp(-x)  # underflows to 0 at low T; exp(x) would overflow
        om = -np.expm1(-x)
        cv[hot] = units.KB_EV * x**2 * em / om**2
        s[hot] = units.KB_EV * (x * em / om - np.log(om))
        fe[hot] = kt[hot] * np.log(om) + f / 2
    return cv, s, fe


class PhononDOS:
    """A phonon DOS per atom on a frequency grid (THz), normalised to 3 modes per atom.

    Parameters
    ----------
    frequencies : increasing grid in THz (negative values: imaginary modes).
    dos : states/(THz atom) on that grid, non-negative; must integrate to 3 unless ``normalize``.
    n_atoms : atoms in the cell "per cell" refers to (``len(atoms)`` when ``atoms`` is given).
    atoms : the structure (masses and volume for volumetric and gravimetric heat capacities).
    modes : optional ``(mode_frequencies (n_q, n_bands) in THz, q_weights (n_q,))``; when given, thermal
        sums run over these modes exactly (phonopy's way) instead of over the grid.
    normalize : rescale ``dos`` to integrate to exactly 3 (the factor is kept in ``info["normalization"]``).
    info : free-form provenance (source, mesh, calculator, ...).
    partials : optional ``{element symbol: DOS on the same grid}``, the element-projected DOS in
        states/(THz atom) per atom of the whole structure (they add up to ``dos``); scaled with ``dos``
        when ``normalize`` rescales it.
    """

    IMAGINARY_TOLERANCE = 0.01  # THz: modes below -this count as imaginary (Gamma acoustic noise is ~1e-6)

    def __init__(self, frequencies, dos, *, n_atoms: int | None = None, atoms=None, modes=None,
                 normalize: bool = False, info: dict | None = None, partials=None):
        freqs = np.asarray(frequencies, dtype=float)
        values = np.asarray(dos, dtype=float)
        if freqs.ndim != 1 or values.shape != freqs.shape or freqs.size < 2:
            raise E3DensityError(f"frequencies and dos must be 1-D arrays of the same length >= 2, got shapes "
                                 f"{freqs.shape} and {values.shape}")
        if not (np.isfinite(freqs).all() and np.isfinite(values).all()):
            raise E3DensityError("frequencies and dos must be finite")
        if (np.diff(freqs) <= 0).any():
            raise E3DensityError("frequencies must be strictly increasing (THz)")
        if (values < -1e-9 * max(values.max(), 1.0)).any():
            raise E3DensityError(f"the DOS is negative (min {values.min():.3g}); a density of states is >= 0")
        values = np.clip(values, 0.0, None)
        self.info = dict(info or {})
        integral = float(np.trapezoid(values, freqs))
        if integral <= 0:
            raise E3DensityError("the DOS integrates to zero over the grid")
        scale = 1.0
        if normalize:
            scale = 3.0 / integral
            self.info["normalization"] = scale
            values = values * scale
        elif abs(integral - 3.0) > 1e-4 * 3.0:
            raise E3DensityError(f"a DOS per atom integrates to 3 modes per atom, this one to {integral:.6g}; pass "
                                 "normalize=True (or use PhononDOS.from_arrays with per='cell' and n_atoms)")
        if atoms is not None:
            if n_atoms is not None and n_atoms != len(atoms):
                raise E3DensityError(f"n_atoms={n_atoms} but the structure has {len(atoms)} atoms")
            n_atoms = len(atoms)
        n_atoms = 1 if n_atoms is None else int(n_atoms)
        if n_atoms < 1:
            raise E3DensityError(f"n_atoms must be >= 1, got {n_atoms}")
        self._frequencies = freqs
        self._dos = values
        self.n_atoms = n_atoms
        self.atoms = atoms.copy() if atoms is not None else None
        self._modes = None
        if modes is not None:
            mf, mw = modes
            mf = np.atleast_2d(np.asarray(mf, dtype=float))
            mw = np.ones(len(mf)) if mw is None else np.asarray(mw, dtype=float)
            if mw.shape != (len(mf),) or mf.shape[1] % 3 or not np.isfinite(mf).all() or (mw <= 0).any():
                raise E3DensityError("modes must be (frequencies (n_q, 3 n), positive weights (n_q,)), finite")
            self._modes = (mf, mw)
        self._partials = _checked_partials(partials, freqs.shape, scale)
        self._frequencies.flags.writeable = False
        self._dos.flags.writeable = False

    def with_partials(self, partials) -> PhononDOS:
        """A copy carrying ``partials`` (``{element: DOS}`` on this grid, states/(THz atom) per atom of the
        structure, as in the constructor; None: none)."""
        return PhononDOS(self._frequencies, self._dos, n_atoms=self.n_atoms, atoms=self.atoms, modes=self._modes,
                         info=self.info, partials=partials)

    def mass_scaled(self, factor: float) -> PhononDOS:
        """The DOS of the same crystal with every mass multiplied by ``factor``: harmonic frequencies scale
        by 1/sqrt(factor), exactly (the force constants do not depend on masses); the DOS, its modes, its
        partials and the structure's masses follow."""
        factor = float(factor)
        if not (np.isfinite(factor) and factor > 0):
            raise E3DensityError(f"a mass factor must be finite and > 0, got {factor}")
        root = np.sqrt(factor)
        atoms = None
        if self.atoms is not None:
            atoms = self.atoms.copy()
            atoms.set_masses(atoms.get_masses() * factor)
        modes = None if self._modes is None else (self._modes[0] / root, self._modes[1])
        return PhononDOS(self._frequencies / root, self._dos * root, n_atoms=self.n_atoms, atoms=atoms, modes=modes,
                         info=self.info, partials={k: v * root for k, v in self._partials.items()})

    # ---- constructors -------------------------------------------------------------------------------
    @classmethod
    def from_arrays(cls, frequencies, dos, *, per: str = "atom", n_atoms: int | None = None, atoms=None,
                    normalize: bool = True, info: dict | None = None, partials=None) -> PhononDOS:
        """A DOS given on a grid (THz): ``per="atom"`` (integrates to about 3) or ``per="cell"`` (about
        3 n_atoms, e.g. phonopy's total DOS of its primitive cell); rescaled to exactly 3 per atom unless
        ``normalize=False``. ``partials`` (``{element: DOS}``, the same ``per``) are scaled alike."""
        _check_per(per)
        n = len(atoms) if atoms is not None else n_atoms
        values = np.asarray(dos, dtype=float)
        if per == "cell":
            if n is None:
                raise E3DensityError("a DOS per cell needs n_atoms (or atoms) to become a DOS per atom")
            values = values / n
            if partials is not None:
                partials = {k: np.asarray(v, dtype=float) / n for k, v in dict(partials).items()}
        return cls(frequencies, values, n_atoms=n, atoms=atoms, normalize=normalize, info=info, partials=partials)

    @classmethod
    def from_modes(cls, frequencies, weights=None, *, n_atoms: int | None = None, atoms=None, grid=None,
                   sigma: float | None = None, pitch: float = 0.05, info: dict | None = None) -> PhononDOS:
        """The modes of a q-point mesh: ``frequencies`` (n_q, n_bands) in THz with q-point ``weights``.

        Thermal sums use these modes exactly. The grid DOS (for plots and storage) is a Gaussian smearing
        of width ``sigma`` THz (default: phonopy's, a hundredth of the frequency range) on ``grid``
        (default: ``pitch`` THz steps covering every mode and 5 sigma), normalised to 3 per atom.
        ``n_atoms`` defaults to the cell of the modes (n_bands / 3).
        """
        mf = np.atleast_2d(np.asarray(frequencies, dtype=float))
        mw = np.ones(len(mf)) if weights is None else np.asarray(weights, dtype=float)
        if mf.shape[1] % 3 or mw.shape != (len(mf),):
            raise E3DensityError(f"mode frequencies must be (n_q, 3 n) with weights (n_q,), got {mf.shape} "
                                 f"and {mw.shape}")
        if not np.isfinite(mf).all():
            raise E3DensityError("mode frequencies must be finite")
        if n_atoms is None and atoms is None:
            n_atoms = mf.shape[1] // 3
        lo, hi = float(mf.min()), float(mf.max())
        if sigma is None:
            sigma = max((hi - min(lo, 0.0)) / 100.0, 1e-3)
        if grid is None:
            start = np.floor((min(lo, 0.0) - 5 * sigma) / pitch) * pitch
            grid = np.arange(start, hi + 5 * sigma + pitch, pitch)
        grid = np.asarray(grid, dtype=float)
        dos = _smear(grid, mf.ravel(), np.repeat(mw, mf.shape[1]), sigma)
        info = {"dos_method": f"gaussian sigma={sigma:.4g} THz", **(info or {})}
        return cls(grid, dos, n_atoms=n_atoms, atoms=atoms, modes=(mf, mw), normalize=True, info=info)

    @classmethod
    def from_phonopy(cls, phonon, *, mesh=None, dos: str = "tetrahedron", atoms=None,
                     exclude_gamma_acoustic: bool = True, pitch: float = 0.05, partial: bool = True) -> PhononDOS:
        """From a ``phonopy.Phonopy`` object, with the element-projected DOS unless ``partial=False``; see
        :func:`ase_e3density.phonon.phonopy_io.dos_from_phonopy`."""
        from .phonopy_io import dos_from_phonopy

        return dos_from_phonopy(phonon, mesh=mesh, dos=dos, atoms=atoms,
                                exclude_gamma_acoustic=exclude_gamma_acoustic, pitch=pitch, partial=partial)

    @classmethod
    def from_phonopy_files(cls, path, *, mesh=50.0, force_sets=None, force_constants=None, **kwargs) -> PhononDOS:
        """From ``phonopy.yaml`` / ``phonopy_disp.yaml`` with force sets or force constants (phonopy's loader)."""
        from .phonopy_io import dos_from_phonopy_files

        return dos_from_phonopy_files(path, mesh=mesh, force_sets=force_sets, force_constants=force_constants,
                                      **kwargs)

    @classmethod
    def from_total_dos_file(cls, path, *, n_atoms: int | None = None, atoms=None) -> PhononDOS:
        """From phonopy's ``total_dos.dat`` (THz, states per primitive cell)."""
        from .phonopy_io import dos_from_total_dos_file

        return dos_from_total_dos_file(path, n_atoms=n_atoms, atoms=atoms)

    # ---- the DOS ------------------------------------------------------------------------------------
    @property
    def frequencies(self) -> np.ndarray:
        """The grid in THz."""
        return self._frequencies

    @property
    def frequencies_cm(self) -> np.ndarray:
        """The grid in cm^-1."""
        return self._frequencies * units.THZ_TO_CM

    @property
    def frequencies_mev(self) -> np.ndarray:
        """The grid in meV."""
        return self._frequencies * units.THZ_TO_MEV

    @property
    def dos(self) -> np.ndarray:
        """States/(THz atom): integrates to 3 over :attr:`frequencies`."""
        return self._dos

    @property
    def dos_per_cell(self) -> np.ndarray:
        """States/(THz cell): integrates to 3 n_atoms."""
        return self._dos * self.n_atoms

    @property
    def dos_cm(self) -> np.ndarray:
        """States/(cm^-1 atom), on :attr:`frequencies_cm`."""
        return self._dos / units.THZ_TO_CM

    @property
    def dos_mev(self) -> np.ndarray:
        """States/(meV atom), on :attr:`frequencies_mev`."""
        return self._dos / units.THZ_TO_MEV

    @property
    def partials(self) -> dict[str, np.ndarray]:
        """The element-projected DOS, ``{element: states/(THz atom)}`` on :attr:`frequencies`, per atom of the
        whole structure (they add up to :attr:`dos`); empty when not known."""
        return dict(self._partials)

    def partial(self, symbol: str) -> np.ndarray:
        """The DOS projected on the atoms of element ``symbol``, states/(THz atom) per atom of the whole
        structure, on :attr:`frequencies`; it integrates to 3 times the element's share of the atoms."""
        if not self._partials:
            raise E3DensityError("this phonon DOS carries no element-projected DOS (it comes from a source "
                                 "without one, e.g. a reference row written before they were stored, or a file)")
        if symbol not in self._partials:
            raise E3DensityError(f"no partial DOS of {symbol!r}: the elements of this structure are "
                                 f"{', '.join(self._partials)}")
        return self._partials[symbol]

    @property
    def modes(self):
        """``(mode frequencies (n_q, n_bands) THz, q weights)`` or None for a DOS known only on a grid."""
        return self._modes

    def integrate(self, per: str = "atom") -> float:
        """Modes per atom (3) or per cell (3 n_atoms) over the grid."""
        return float(np.trapezoid(self._dos, self._frequencies)) * (self.n_atoms if _check_per(per) == "cell" else 1)

    # ---- imaginary modes ----------------------------------------------------------------------------
    def _fraction(self, below: float, inclusive: bool) -> float:
        """Fraction of all modes at frequencies < ``below`` (<= when ``inclusive``)."""
        if self._modes is not None:
            mf, mw = self._modes
            hit = (mf <= below) if inclusive else (mf < below)
            return float((hit.sum(axis=1) * mw).sum() / (mw.sum() * mf.shape[1]))
        f, g = self._frequencies, self._dos
        mask = (f <= below) if inclusive else (f < below)
        if not mask.any():
            return 0.0
        cut = np.flatnonzero(mask)[-1] + 1
        return float(np.trapezoid(g[:cut], f[:cut])) / 3.0 if cut > 1 else 0.0

    @property
    def excluded_fraction(self) -> float:
        """Fraction of the modes at frequency <= 0, left out of the thermal sums (as phonopy does)."""
        return self._fraction(0.0, inclusive=True)

    @property
    def imaginary_fraction(self) -> float:
        """Fraction of the modes below ``-IMAGINARY_TOLERANCE`` THz (imaginary, not acoustic noise)."""
        return self._fraction(-self.IMAGINARY_TOLERANCE, inclusive=False)

    @property
    def n_imaginary_modes(self) -> int | None:
        """Modes below ``-IMAGINARY_TOLERANCE`` on the full q-point mesh (weights counted); None without modes."""
        if self._modes is None:
            return None
        mf, mw = self._modes
        return int(round(float(((mf < -self.IMAGINARY_TOLERANCE).sum(axis=1) * mw).sum())))

    @property
    def min_frequency(self) -> float:
        """The lowest mode (THz) when modes are known, else the lowest grid point with DOS > 0."""
        if self._modes is not None:
            return float(self._modes[0].min())
        return float(self._frequencies[np.flatnonzero(self._dos > 0)[0]])

    @property
    def max_frequency(self) -> float:
        """The highest mode (THz) when modes are known, else the highest grid point with DOS > 0."""
        if self._modes is not None:
            return float(self._modes[0].max())
        return float(self._frequencies[np.flatnonzero(self._dos > 0)[-1]])

    # ---- thermal properties -------------------------------------------------------------------------
    def _sums(self, t: np.ndarray):
        """Cv, S (eV/K) and F, ZPE (eV) per atom, over modes at frequency > 0."""
        if self._modes is not None:
            mf, mw = self._modes
            keep = mf > 0
            f_ev = mf[keep] * units.THZ_TO_EV
            w = np.broadcast_to(mw[:, None], mf.shape)[keep] / (mw.sum() * mf.shape[1] / 3)
            cv, s, fe = (np.asarray(a) @ w for a in _mode_terms(f_ev, t))
            zpe = float((f_ev / 2) @ w)
            return cv, s, fe, zpe
        f, g = self._frequencies, self._dos
        keep = f > 0
        out = []
        for terms in _mode_terms(f[keep] * units.THZ_TO_EV, t):
            full = np.zeros((len(t), f.size))
            full[:, keep] = terms * g[keep]
            out.append(np.trapezoid(full, f, axis=1))
        zpe_integrand = np.where(keep, f * units.THZ_TO_EV / 2 * g, 0.0)
        return out[0], out[1], out[2], float(np.trapezoid(zpe_integrand, f))

    def thermal_properties(self, temperatures, per: str = "atom") -> ThermalProperties:
        """Cv, S (J/(K mol)), F, U (kJ/mol) at ``temperatures`` (K), per mole of atoms or of cells."""
        t = _temperatures(temperatures)
        scale = self.n_atoms if _check_per(per) == "cell" else 1
        if self.imaginary_fraction > 0:
            warnings.warn(ImaginaryModesWarning(
                f"{self.imaginary_fraction:.2%} of the phonon modes are imaginary (below -{self.IMAGINARY_TOLERANCE} "
                f"THz, lowest {self.min_frequency:.3f} THz); they are left out of the thermal properties, which "
                "are then those of a dynamically unstable structure"), stacklevel=2)
        cv, s, fe, zpe = self._sums(t)
        to_j = units.EV_TO_KJ_MOL * 1000 * scale
        to_kj = units.EV_TO_KJ_MOL * scale
        f_kj = fe * to_kj
        s_j = s * to_j
        return ThermalProperties(temperatures=t, heat_capacity=cv * to_j, entropy=s_j, free_energy=f_kj,
                                 internal_energy=f_kj + t * s_j / 1000, zero_point_energy=zpe * to_kj, per=per)

    def heat_capacity(self, temperatures, per: str = "atom"):
        """Cv in J/(K mol): per mole of atoms (``per="atom"``) or of cells (``per="cell"``)."""
        return self._one(self.thermal_properties(temperatures, per).heat_capacity, temperatures)

    def entropy(self, temperatures, per: str = "atom"):
        """S in J/(K mol): per mole of atoms (``per="atom"``) or of cells (``per="cell"``)."""
        return self._one(self.thermal_properties(temperatures, per).entropy, temperatures)

    def free_energy(self, temperatures, per: str = "atom"):
        """Helmholtz F (zero-point energy included) in kJ/mol, per mole of atoms or of cells."""
        return self._one(self.thermal_properties(temperatures, per).free_energy, temperatures)

    def internal_energy(self, temperatures, per: str = "atom"):
        """U = F + TS in kJ/mol, per mole of atoms or of cells."""
        return self._one(self.thermal_properties(temperatures, per).internal_energy, temperatures)

    def zero_point_energy(self, per: str = "atom") -> float:
        """Zero-point energy in kJ/mol, per mole of atoms or of cells."""
        return self.thermal_properties([0.0], per).zero_point_energy

    def _structure(self, atoms):
        atoms = self.atoms if atoms is None else atoms
        if atoms is None:
            raise E3DensityError("volumetric and gravimetric heat capacities need the structure: pass atoms= "
                                 "(here or when building the PhononDOS)")
        if not atoms.pbc.all() or atoms.cell.rank != 3 or atoms.get_volume() <= 0:
            raise E3DensityError("volumetric heat capacity needs a 3D periodic structure with a cell")
        return atoms

    def volumetric_heat_capacity(self, temperatures, atoms=None):
        """Cv per volume in J/(K cm^3) of the crystal ``atoms`` (default: the stored structure)."""
        cv_atom = self.thermal_properties(temperatures, "atom").heat_capacity
        return self._one(cv_atom * self._atoms_per_cm3_mol(self._structure(atoms)), temperatures)

    def gravimetric_heat_capacity(self, temperatures, atoms=None):
        """Cv per mass in J/(K g) of the crystal ``atoms`` (default: the stored structure; ASE's masses)."""
        cv_atom = self.thermal_properties(temperatures, "atom").heat_capacity
        return self._one(cv_atom * self._atoms_per_gram_mol(self._structure(atoms)), temperatures)

    def thermal_summary(self, temperatures, atoms=None) -> tuple[ThermalProperties, np.ndarray, np.ndarray]:
        """Thermal properties per mole of atoms, Cv per volume (J/(K cm^3)) and Cv per mass (J/(K g)) at
        ``temperatures``, from one sum over the modes (the three methods above would each sum again)."""
        atoms = self._structure(atoms)
        tp = self.thermal_properties(np.atleast_1d(temperatures), "atom")
        return (tp, tp.heat_capacity * self._atoms_per_cm3_mol(atoms),
                tp.heat_capacity * self._atoms_per_gram_mol(atoms))

    @staticmethod
    def _atoms_per_cm3_mol(atoms) -> float:
        """Moles of atoms per cm^3 of the crystal."""
        return len(atoms) / (units.AVOGADRO * atoms.get_volume() * units.CM3_PER_A3)

    @staticmethod
    def _atoms_per_gram_mol(atoms) -> float:
        """Moles of atoms per gram of the crystal."""
        return len(atoms) / atoms.get_masses().sum()

    @staticmethod
    def _one(values: np.ndarray, temperatures):
        return float(values[0]) if np.ndim(temperatures) == 0 else values

    # ---- presentation -------------------------------------------------------------------------------
    def plot(self, temperatures=None, unit: str = "THz", figure=None):
        """A figure with the DOS per atom (left) and Cv(T) per mole of atoms (right); needs matplotlib.

        ``unit``: "THz", "cm-1" or "meV" for the frequency axis. Returns the matplotlib Figure.
        """
        try:
            import matplotlib.pyplot as plt
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("plots need matplotlib: pip install matplotlib") from exc
        views = {"THz": (self.frequencies, self.dos, "THz"), "cm-1": (self.frequencies_cm, self.dos_cm, "cm$^{-1}$"),
                 "meV": (self.frequencies_mev, self.dos_mev, "meV")}
        if unit not in views:
            raise E3DensityError(f"unit must be one of {sorted(views)}, got {unit!r}")
        x, y, label = views[unit]
        t = np.linspace(1, 1000, 200) if temperatures is None else _temperatures(temperatures)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ImaginaryModesWarning)
            cv = self.thermal_properties(t, "atom").heat_capacity
        fig = figure if figure is not None else plt.figure(figsize=(9, 3.5))
        ax_dos, ax_cv = fig.subplots(1, 2)
        ax_dos.fill_between(x, y, alpha=0.4)
        ax_dos.plot(x, y)
        ax_dos.set_xlabel(f"frequency ({label})")
        ax_dos.set_ylabel(f"DOS (states / {label} / atom)")
        ax_cv.plot(t, cv)
        ax_cv.axhline(3 * units.GAS_CONSTANT, ls=":", c="k", lw=0.8)
        ax_cv.set_xlabel("T (K)")
        ax_cv.set_ylabel("$C_V$ (J / K / mol-atoms)")
        fig.tight_layout()
        return fig

    def __repr__(self) -> str:
        kind = f"{len(self._modes[0])} q-points" if self._modes is not None else "grid only"
        return (f"PhononDOS({self._frequencies.size} points {self._frequencies[0]:.2f}..{self._frequencies[-1]:.2f} "
                f"THz, per atom, n_atoms={self.n_atoms}, {kind}, imaginary fraction {self.imaginary_fraction:.3g})")


def _checked_partials(partials, shape: tuple, scale: float) -> dict[str, np.ndarray]:
    """``{element: DOS}`` checked (known elements, the grid's shape, finite, >= 0) and scaled, read-only."""
    from ase.data import atomic_numbers

    out: dict[str, np.ndarray] = {}
    for symbol, values in dict(partials or {}).items():
        if symbol not in atomic_numbers:
            raise E3DensityError(f"partial DOS of an unknown element {symbol!r}")
        values = np.asarray(values, dtype=float)
        if values.shape != shape or not np.isfinite(values).all():
            raise E3DensityError(f"the partial DOS of {symbol} must be finite, one value per grid point "
                                 f"({shape[0]}), got shape {values.shape}")
        if (values < -1e-9 * max(values.max(), 1.0)).any():
            raise E3DensityError(f"the partial DOS of {symbol} is negative (min {values.min():.3g})")
        values = np.clip(values, 0.0, None) * scale
        values.flags.writeable = False
        out[symbol] = values
    return dict(sorted(out.items(), key=lambda item: atomic_numbers[item[0]]))


def _smear(grid: np.ndarray, freqs: np.ndarray, weights: np.ndarray, sigma: float) -> np.ndarray:
    """Sum of normalised Gaussians (width ``sigma``) at ``freqs`` with ``weights``, on ``grid``; in chunks."""
    out = np.zeros(grid.size)
    chunk = max(1, 2_000_000 // max(grid.size, 1))
    norm = 1.0 / (sigma * np.sqrt(2 * np.pi))
    for lo in range(0, freqs.size, chunk):
        d = (grid[None, :] - freqs[lo:lo + chunk, None]) / sigma
        out += weights[lo:lo + chunk] @ np.exp(-0.5 * d * d) * norm
    return out
