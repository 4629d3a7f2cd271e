"""AtomicDensity: an electron density written in an atom-centred Gaussian basis.

``rho(r) = sum_A sum_k c_Ak phi_k(r - R_A)`` with the functions of :mod:`ase_e3density.electron.basis`.
Coefficients are in atomic units (the basis functions are normalised in bohr); everything
users read is in ASE units: positions Å, charges e, dipole e·Å, quadrupole e·Å^2, density
e/Å^3 (cube files: e/bohr^3, the cube convention).
"""
from __future__ import annotations

from functools import cached_property

import numpy as np
from ase import Atoms
from ase.units import Bohr, Hartree
from scipy.spatial import cKDTree

from ..errors import E3DensityError
from ..graph.checks import check_structure
from . import electrostatics
from .basis import BasisSet, load_basis
from .electrostatics import TOLERANCE
from .grids import UniformGrid, uniform_grid
from .harmonics import evaluate_solid_harmonics

__all__ = ["AtomicDensity", "fix_electron_count"]

SCREENING = 1e-11  # e/bohr^3: functions are dropped where they contribute less than this


def fix_electron_count(coefficients: np.ndarray, charge_integrals: np.ndarray, n_electrons: float) -> np.ndarray:
    """The smallest change ``c + lambda q`` (``q``: charge integrals, s functions only) that
    makes the coefficients hold exactly ``n_electrons``."""
    q = np.asarray(charge_integrals, dtype=float)
    return coefficients + (n_electrons - q @ coefficients) / (q @ q) * q


class AtomicDensity:
    """Electron density of ``atoms`` in ``basis`` with flat ``coefficients`` (atom by atom).

    ``nuclear_charges`` defaults to the atomic numbers (all-electron); pass ``Z - n_core``
    per atom when the density excludes ECP cores. ``validate=False`` skips the structure
    checks for callers that have just made them.
    """

    def __init__(self, atoms: Atoms, basis: BasisSet | str, coefficients, nuclear_charges=None,
                 info: dict | None = None, validate: bool = True):
        if validate:
            check_structure(atoms)
        self.atoms = atoms.copy()
        self.atoms.calc = None
        self.basis = load_basis(basis) if isinstance(basis, str) else basis
        self.basis.check_supported(atoms.numbers)
        self.offsets = self.basis.offsets(atoms.get_chemical_symbols())
        c = np.asarray(coefficients, dtype=float).ravel()
        if len(c) != self.offsets[-1]:
            raise E3DensityError(f"expected {self.offsets[-1]} coefficients for {atoms.get_chemical_formula()} "
                                 f"in {self.basis.name}, got {len(c)}")
        if not np.isfinite(c).all():
            raise E3DensityError("density coefficients contain NaN or inf")
        self.coefficients = c
        z = atoms.numbers if nuclear_charges is None else nuclear_charges
        self.nuclear_charges = np.asarray(z, dtype=float)
        self.info = dict(info or {})

    def __repr__(self) -> str:
        return f"AtomicDensity({self.atoms.get_chemical_formula()}, {self.basis.name}, N_e={self.n_electrons:.6f})"

    # -- coefficients ------------------------------------------------------------------
    def atom_coefficients(self, index: int) -> np.ndarray:
        """Coefficients of atom ``index`` in e3nn order."""
        return self.coefficients[self.offsets[index]:self.offsets[index + 1]]

    def padded_coefficients(self, width: int) -> np.ndarray:
        """Coefficients as per-atom rows zero-padded to ``width``, shape (n_atoms, width)."""
        return self.basis.pad(self.coefficients, self.atoms.get_chemical_symbols(), width)

    # -- analytic integrals ------------------------------------------------------------
    @cached_property
    def _local_moments(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each atom's own electron count, first and second moments about its nucleus (bohr units),
        shapes (N,), (N, 3), (N, 3, 3); computed once, element by element."""
        symbols = np.array(self.atoms.get_chemical_symbols())
        n = len(symbols)
        m0, m1, m2 = np.zeros(n), np.zeros((n, 3)), np.zeros((n, 3, 3))
        for symbol in dict.fromkeys(symbols.tolist()):
            atoms = np.flatnonzero(symbols == symbol)
            eb = self.basis[symbol]
            c = self.coefficients[self.offsets[atoms][:, None] + np.arange(eb.n_functions)]  # (n_el, k)
            moments = c @ eb.moment_integrals  # (n_el, 13): charge, dipole, second moment, in one product
            m0[atoms] = moments[:, 0]
            m1[atoms] = moments[:, 1:4]
            m2[atoms] = moments[:, 4:].reshape(-1, 3, 3)
        return m0, m1, m2

    @property
    def atomic_populations(self) -> np.ndarray:
        """Electrons in each atom's functions (only s functions carry charge), shape (N,)."""
        return self._local_moments[0]

    @property
    def n_electrons(self) -> float:
        """Total number of electrons, ``int rho``."""
        return float(self.atomic_populations.sum())

    @property
    def charges(self) -> np.ndarray:
        """Per-atom charges in e: nuclear charge minus the electrons in the atom's s functions."""
        return self.nuclear_charges - self.atomic_populations

    @property
    def total_charge(self) -> float:
        return float(self.nuclear_charges.sum() - self.n_electrons)

    def default_origin(self) -> np.ndarray:
        """The centre of mass (Å), the default origin of multipoles."""
        return self.atoms.get_center_of_mass()

    def _electronic_moments(self, origin: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """First and second moments of the electron density about origin (bohr units)."""
        m0, m1, m2 = self._local_moments
        r = (self.atoms.get_positions() - origin) / Bohr
        first = (m1 + r * m0[:, None]).sum(axis=0)
        cross = r.T @ m1
        second = m2.sum(axis=0) + cross + cross.T + (r * m0[:, None]).T @ r
        return first, second

    def get_dipole(self, origin=None) -> np.ndarray:
        """Dipole moment (e·Å) of nuclei plus electrons about ``origin`` (default: centre of mass).

        For a neutral system the origin does not matter.
        """
        o = self.default_origin() if origin is None else np.asarray(origin, dtype=float)
        first, _ = self._electronic_moments(o)
        nuclear = self.nuclear_charges @ (self.atoms.get_positions() - o)
        return nuclear - first * Bohr

    def get_quadrupole(self, origin=None) -> np.ndarray:
        """Traceless quadrupole (e·Å^2), Buckingham's convention ``1/2 int rho_q (3 r r - r^2 I)``.

        ``rho_q`` is the charge density (nuclei minus electrons); origin defaults to the
        centre of mass.
        """
        o = self.default_origin() if origin is None else np.asarray(origin, dtype=float)
        _, second = self._electronic_moments(o)
        r = self.atoms.get_positions() - o
        total = (r * self.nuclear_charges[:, None]).T @ r - second * Bohr**2
        return 0.5 * (3 * total - np.trace(total) * np.eye(3))

    @property
    def dipole(self) -> np.ndarray:
        """Dipole moment in e·Å about the centre of mass (see :meth:`get_dipole`)."""
        return self.get_dipole()

    @property
    def quadrupole(self) -> np.ndarray:
        """Traceless quadrupole in e·Å^2 about the centre of mass (see :meth:`get_quadrupole`)."""
        return self.get_quadrupole()

    # -- values in space ---------------------------------------------------------------
    def _image_atoms(self, points: np.ndarray, reach: float) -> tuple[np.ndarray, np.ndarray]:
        """Atom indices and positions (Å) of all periodic images within ``reach`` of the points."""
        pos = self.atoms.get_positions()
        if not self.atoms.pbc.any():
            return np.arange(len(pos)), pos
        cell = self.atoms.cell
        lo, hi = points.min(axis=0) - reach, points.max(axis=0) + reach
        corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
        box_frac, atom_frac = cell.scaled_positions(corners), cell.scaled_positions(pos)
        ranges = [range(int(np.floor(box_frac[:, k].min() - atom_frac[:, k].max())),
                        int(np.ceil(box_frac[:, k].max() - atom_frac[:, k].min())) + 1) if self.atoms.pbc[k] else range(1)
                  for k in range(3)]
        shifts = np.array([[i, j, k] for i in ranges[0] for j in ranges[1] for k in ranges[2]]) @ cell.array
        images = (pos[None] + shifts[:, None]).reshape(-1, 3)
        owner = np.tile(np.arange(len(pos)), len(shifts))
        inside = ((images >= lo) & (images <= hi)).all(axis=1)
        return owner[inside], images[inside]

    def evaluate_by_l(self, points, screening: float = SCREENING) -> np.ndarray:
        """Density (e/Å^3) split by angular order: shape (lmax+1, n); row l holds order-l functions.

        ``screening`` (e/bohr^3) is the contribution below which a shell is skipped.
        """
        pts = np.asarray(points, dtype=float).reshape(-1, 3) / Bohr
        symbols = self.atoms.get_chemical_symbols()
        lmax = max(self.basis[s].lmax for s in set(symbols))
        out = np.zeros((lmax + 1, len(pts)))
        if len(pts) == 0:
            return out
        radii: dict[int, list[float]] = {}
        for a, s in enumerate(symbols):
            c = self.atom_coefficients(a)
            radii[a] = []
            for shell, part in self.basis[s].shell_slices:
                norm = float(np.linalg.norm(c[part]))
                radii[a].append(shell.radius(screening / norm) if norm > 0 else 0.0)
        for l, part, a, near, values in self.shell_values(pts, radii):
            # k-d tree indices are unique, so a plain fancy-index add is exact
            out[l, near] += values @ self.atom_coefficients(a)[part]
        return out / Bohr**3

    def shell_values(self, pts: np.ndarray, radii: dict[int, list[float]]):
        """Every shell's functions at the points (bohr) within its radius (bohr) ``radii[atom][shell]``,
        periodic images included: yields ``(l, columns of the atom's coefficients, atom, point indices,
        values (n, 2l+1))``, values in bohr^-3 per unit coefficient."""
        symbols = self.atoms.get_chemical_symbols()
        reach = max((max(r) for r in radii.values() if r), default=0.0)
        if reach == 0.0 or len(pts) == 0:
            return
        owners, centres = self._image_atoms(pts * Bohr, reach * Bohr)
        tree = cKDTree(pts)
        for a, centre in zip(owners, centres / Bohr):
            eb, rad = self.basis[symbols[a]], radii[a]
            near = np.asarray(tree.query_ball_point(centre, max(rad)), dtype=np.int64)
            if len(near) == 0:
                continue
            d = pts[near] - centre
            r2 = np.einsum("ij,ij->i", d, d)
            order = np.argsort(r2)
            near, d, r2 = near[order], d[order], r2[order]
            harm = evaluate_solid_harmonics(d, eb.lmax)
            for (shell, part), radius in zip(eb.shell_slices, rad):
                n = int(np.searchsorted(r2, radius * radius))
                if n:
                    yield shell.l, part, int(a), near[:n], shell.radial(r2[:n])[:, None] * harm[shell.l][:n]

    def evaluate(self, points, screening: float = SCREENING) -> np.ndarray:
        """Electron density (e/Å^3) at points given in Å, shape (n, 3) -> (n,).

        Each shell is evaluated only within the radius where it can contribute more than
        ``screening`` (default 1e-11 e/bohr^3), so the cost grows linearly with system size.
        """
        pts = np.asarray(points, dtype=float)
        return self.evaluate_by_l(pts.reshape(-1, 3), screening).sum(axis=0).reshape(pts.shape[:-1])

    def on_grid(self, spacing: float = 0.1, padding: float = 4.0) -> tuple[UniformGrid, np.ndarray]:
        """Density (e/Å^3) on a uniform grid: the cell if fully periodic, else a padded box."""
        grid = uniform_grid(self.atoms, spacing, padding)
        return grid, self.evaluate(grid.points())

    def write_cube(self, path, spacing: float = 0.1, padding: float = 4.0) -> UniformGrid:
        """Write the density to a Gaussian cube file (values in e/bohr^3, as the format expects)."""
        from .cube import write_density_cube

        grid, values = self.on_grid(spacing, padding)
        write_density_cube(path, self.atoms, grid, values * Bohr**3)
        return grid

    # -- electrostatics ------------------------------------------------------------------
    def electrostatic_potential(self, points, tolerance: float = TOLERANCE) -> np.ndarray:
        """Electrostatic potential (V) of nuclei plus electrons at points (Å), shape (..., 3) -> (...).

        Closed-form Gaussian integrals; see :mod:`ase_e3density.electron.electrostatics` for ``tolerance``.
        """
        return electrostatics.electrostatic_potential(self, points, tolerance)

    def electric_field(self, points, tolerance: float = TOLERANCE) -> np.ndarray:
        """Electric field (V/Å) of nuclei plus electrons at points (Å), shape (..., 3)."""
        return electrostatics.electric_field(self, points, tolerance)

    def esp_charges(self, sampling: str = "mk", restraint: float = 0.0, **options):
        """Charges (an :class:`~ase_e3density.electron.esp_charges.ESPFit`) fitted to this density's potential."""
        from .esp_charges import esp_charges

        return esp_charges(self, sampling, restraint, **options)

    def esp_on_grid(self, spacing: float = 0.2, padding: float = 4.0) -> tuple[UniformGrid, np.ndarray]:
        """Electrostatic potential (V) on a padded uniform box grid (molecules only)."""
        grid = uniform_grid(self.atoms, spacing, padding)
        return grid, self.electrostatic_potential(grid.points())

    def write_esp_cube(self, path, spacing: float = 0.2, padding: float = 4.0) -> UniformGrid:
        """Write the electrostatic potential to a cube file in Hartree/e (atomic units, as cubegen does)."""
        from .cube import write_density_cube

        grid, values = self.esp_on_grid(spacing, padding)
        write_density_cube(path, self.atoms, grid, values / Hartree,
                           comment="ase_e3density electrostatic potential (Hartree/e)")
        return grid

    # -- (de)serialisation ---------------------------------------------------------------
    def to_dict(self) -> dict:
        """Plain data (lists) for storage; the basis is stored by name."""
        return {"basis": self.basis.name, "coefficients": self.coefficients.tolist(),
                "nuclear_charges": self.nuclear_charges.tolist()}

    @classmethod
    def from_dict(cls, atoms: Atoms, doc: dict) -> "AtomicDensity":
        return cls(atoms, doc["basis"], doc["coefficients"], doc.get("nuclear_charges"))
