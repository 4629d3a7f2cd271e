"""AtomicDensity: an electron density written in an atom-centred Gaussian basis.

``rho(r) = sum_A sum_k c_Ak phi_k(r - R_A)`` with the functions of :mod:`ase_e3density.electron.basis`.
Coefficients are in atomic units (the basis functions are normalised in bohr); everything
users read is in ASE units: positions Å, charges e, dipole e·Å, quadrupole e·Å^2, density
e/Å^3 (cube files: e/bohr^3, the cube convention).

The analytic integrals (the float64 electron-count projection, per-atom charges, dipole and
quadrupole) are written once, in a segmented form over many structures end to end
(:func:`fix_electron_counts`, :func:`atom_moments`, :func:`multipoles`): :class:`AtomicDensity` is
its case of one structure, and screening runs it on whole batches.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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
from .grids import CUBE_SPACING, ESP_CUBE_SPACING, UniformGrid, as_points, uniform_grid
from .harmonics import evaluate_solid_harmonics

__all__ = ["AtomicDensity", "Multipoles", "fix_electron_count", "fix_electron_counts", "atom_moments", "multipoles",
           "segment_sums", "centres_of_mass"]

SCREENING = 1e-11  # e/bohr^3: functions are dropped where they contribute less than this

# -- the segmented form: many structures' densities in one set of arrays -------------------------------
# Coefficients of all structures lie end to end (atom by atom, each atom's functions in e3nn order);
# ``offsets`` arrays (length n_segments + 1) mark where each atom's or each structure's part starts.
# AtomicDensity is the case of one structure; screening passes a whole batch. Everything is float64.


def segment_sums(values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Sums of ``values[offsets[k]:offsets[k + 1]]`` along the first axis for each k (empty segments: 0)."""
    values = np.asarray(values, dtype=float)
    offsets = np.asarray(offsets, dtype=np.int64)
    if offsets[-1] != len(values) or offsets[0] != 0:
        raise ValueError(f"segment offsets must run from 0 to {len(values)}, got {offsets[0]} to {offsets[-1]}")
    starts, stops = offsets[:-1], offsets[1:]
    out = np.zeros((len(starts), *values.shape[1:]))
    filled = stops > starts
    if filled.any():  # each non-empty segment runs to the next non-empty start (empty ones have none)
        out[filled] = np.add.reduceat(values, starts[filled], axis=0)
    return out


def _owners(offsets: np.ndarray) -> np.ndarray:
    """The segment of every element, shape (offsets[-1],)."""
    return np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))


def fix_electron_counts(coefficients: np.ndarray, charge_integrals: np.ndarray, offsets: np.ndarray,
                        n_electrons: np.ndarray) -> np.ndarray:
    """Per structure (coefficients ``offsets[s]:offsets[s + 1]``), the smallest change ``c + lambda_s q``
    (``q``: charge integrals, bohr^3/2, nonzero for s functions only) that makes it hold exactly
    ``n_electrons[s]`` electrons."""
    c = np.asarray(coefficients, dtype=float)
    q = np.asarray(charge_integrals, dtype=float)
    offsets = np.asarray(offsets, dtype=np.int64)
    lam = (np.asarray(n_electrons, dtype=float) - segment_sums(q * c, offsets)) / segment_sums(q * q, offsets)
    return c + lam[_owners(offsets)] * q


def fix_electron_count(coefficients: np.ndarray, charge_integrals: np.ndarray, n_electrons: float) -> np.ndarray:
    """:func:`fix_electron_counts` of one structure."""
    c = np.asarray(coefficients, dtype=float)
    return fix_electron_counts(c, charge_integrals, np.array([0, len(c)]), np.array([n_electrons]))


def atom_moments(coefficients: np.ndarray, function_offsets: np.ndarray, kinds: np.ndarray,
                 tables: Sequence[np.ndarray]) -> np.ndarray:
    """Each atom's electron count, first and second moments about its own nucleus (bohr units), shape
    (n_atoms, 13): count, 3 dipole, 9 second-moment components.

    ``function_offsets`` (n_atoms + 1): where each atom's coefficients start; ``kinds`` (n_atoms): each
    atom's index into ``tables``, whose entry k holds the moment integrals (n_functions, 13) of that
    element's functions (:attr:`ElementBasis.moment_integrals`). One matrix product per element.
    """
    c = np.asarray(coefficients, dtype=float)
    function_offsets = np.asarray(function_offsets, dtype=np.int64)
    kinds = np.asarray(kinds, dtype=np.int64)
    sizes = np.array([len(t) for t in tables], dtype=np.int64)
    if len(kinds) and (np.diff(function_offsets) != sizes[kinds]).any():
        raise ValueError("function offsets do not match the atoms' numbers of basis functions")
    out = np.zeros((len(kinds), 13))
    for k in np.unique(kinds):
        atoms = np.flatnonzero(kinds == k)
        rows = c[function_offsets[atoms][:, None] + np.arange(sizes[k])]  # (atoms of this element, functions)
        out[atoms] = rows @ tables[k]
    return out


@dataclass(frozen=True)
class Multipoles:
    """Electron counts (e), per-atom charges (e), dipoles (e·Å) and traceless quadrupoles (e·Å^2) of
    one or more structures, about the origins they were computed for."""

    n_electrons: np.ndarray  # (n_structures,)
    charges: np.ndarray      # (n_atoms,) nuclear charge minus the electrons in the atom's own functions
    dipole: np.ndarray       # (n_structures, 3)
    quadrupole: np.ndarray   # (n_structures, 3, 3), Buckingham: 1/2 int rho_q (3 r r - r^2 I)


def multipoles(moments: np.ndarray, positions: np.ndarray, nuclear_charges: np.ndarray, atom_offsets: np.ndarray,
               origins: np.ndarray) -> Multipoles:
    """Multipoles of nuclei plus electrons of every structure (atoms ``atom_offsets[s]:atom_offsets[s + 1]``)
    about ``origins[s]`` (Å), from :func:`atom_moments` (bohr units), positions (Å) and nuclear charges (e)."""
    moments = np.asarray(moments, dtype=float)
    positions = np.asarray(positions, dtype=float)
    z = np.asarray(nuclear_charges, dtype=float)
    atom_offsets = np.asarray(atom_offsets, dtype=np.int64)
    m0, m1, m2 = moments[:, 0], moments[:, 1:4], moments[:, 4:13]
    r = positions - np.asarray(origins, dtype=float).reshape(-1, 3)[_owners(atom_offsets)]  # Å
    rb = r / Bohr
    outer = lambda a, b: (a[:, :, None] * b[:, None, :]).reshape(-1, 9)  # noqa: E731
    # per atom: electrons; electronic first and second moments about the origin (bohr); nuclear ones (Å)
    electronic_second = m2 + outer(rb, m1) + outer(m1, rb) + outer(rb * m0[:, None], rb)
    parts = np.concatenate([m0[:, None], m1 + rb * m0[:, None], electronic_second, z[:, None] * r,
                            outer(z[:, None] * r, r)], axis=1)
    sums = segment_sums(parts, atom_offsets)
    first, second = sums[:, 1:4], sums[:, 4:13].reshape(-1, 3, 3)
    dipole = sums[:, 13:16] - first * Bohr
    total = sums[:, 16:25].reshape(-1, 3, 3) - second * Bohr**2
    quadrupole = 0.5 * (3 * total - np.trace(total, axis1=1, axis2=2)[:, None, None] * np.eye(3))
    return Multipoles(sums[:, 0], z - m0, dipole, quadrupole)


def centres_of_mass(positions: np.ndarray, masses: np.ndarray, atom_offsets: np.ndarray) -> np.ndarray:
    """Centre of mass (Å) of every structure, shape (n_structures, 3): the default origin of multipoles."""
    masses = np.asarray(masses, dtype=float)
    return segment_sums(masses[:, None] * np.asarray(positions, dtype=float), atom_offsets) \
        / segment_sums(masses, atom_offsets)[:, None]


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

    # -- analytic integrals (the segmented form of one structure) ----------------------------------
    @cached_property
    def _local_moments(self) -> np.ndarray:
        """Each atom's own electron count, first and second moments about its nucleus (bohr units),
        shape (N, 13) (see :func:`atom_moments`); computed once."""
        symbols = self.atoms.get_chemical_symbols()
        elements = {s: k for k, s in enumerate(dict.fromkeys(symbols))}
        kinds = np.fromiter((elements[s] for s in symbols), dtype=np.int64, count=len(symbols))
        return atom_moments(self.coefficients, self.offsets, kinds, [self.basis[s].moment_integrals for s in elements])

    def _multipoles(self, origin) -> Multipoles:
        o = self.default_origin() if origin is None else as_points(origin, "origin", one=True)
        return multipoles(self._local_moments, self.atoms.get_positions(), self.nuclear_charges,
                          np.array([0, len(self.atoms)]), o[None])

    @property
    def atomic_populations(self) -> np.ndarray:
        """Electrons in each atom's functions (only s functions carry charge), shape (N,)."""
        return self._local_moments[:, 0]

    @property
    def n_electrons(self) -> float:
        """Total number of electrons, ``int rho``."""
        return float(segment_sums(self.atomic_populations, np.array([0, len(self.atoms)]))[0])

    @property
    def charges(self) -> np.ndarray:
        """Per-atom charges in e: nuclear charge minus the electrons in the atom's s functions."""
        return self.nuclear_charges - self.atomic_populations

    @property
    def total_charge(self) -> float:
        return float(self.nuclear_charges.sum() - self.n_electrons)

    def default_origin(self) -> np.ndarray:
        """The centre of mass (Å), the default origin of multipoles."""
        return centres_of_mass(self.atoms.positions, self.atoms.get_masses(), np.array([0, len(self.atoms)]))[0]

    def get_dipole(self, origin=None) -> np.ndarray:
        """Dipole moment (e·Å) of nuclei plus electrons about ``origin`` (default: centre of mass).

        For a neutral system the origin does not matter.
        """
        return self._multipoles(origin).dipole[0]

    def get_quadrupole(self, origin=None) -> np.ndarray:
        """Traceless quadrupole (e·Å^2), Buckingham's convention ``1/2 int rho_q (3 r r - r^2 I)``.

        ``rho_q`` is the charge density (nuclei minus electrons); origin defaults to the
        centre of mass.
        """
        return self._multipoles(origin).quadrupole[0]

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
        pts = as_points(points).reshape(-1, 3) / Bohr
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
        """Electron density (e/Å^3) at points given in Å, shape (n, 3) -> (n,) (any (..., 3) -> (...)).

        Each shell is evaluated only within the radius where it can contribute more than
        ``screening`` (default 1e-11 e/bohr^3), so the cost grows linearly with system size.
        """
        pts = as_points(points)
        return self.evaluate_by_l(pts.reshape(-1, 3), screening).sum(axis=0).reshape(pts.shape[:-1])

    def on_grid(self, spacing: float = CUBE_SPACING, padding: float = 4.0) -> tuple[UniformGrid, np.ndarray]:
        """Density (e/Å^3) on a uniform grid (``spacing``, ``padding`` in Å; default spacing
        :data:`~ase_e3density.electron.grids.CUBE_SPACING`): the cell if fully periodic, else a padded box."""
        grid = uniform_grid(self.atoms, spacing, padding)
        return grid, self.evaluate(grid.points())

    def write_cube(self, path, spacing: float = CUBE_SPACING, padding: float = 4.0) -> UniformGrid:
        """Write the density to a Gaussian cube file (values in e/bohr^3, as the format expects; ``spacing``
        and ``padding`` in Å, default spacing :data:`~ase_e3density.electron.grids.CUBE_SPACING`)."""
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

    def esp_on_grid(self, spacing: float = ESP_CUBE_SPACING, padding: float = 4.0) -> tuple[UniformGrid, np.ndarray]:
        """Electrostatic potential (V) on a padded uniform box grid (molecules only; Å, default spacing
        :data:`~ase_e3density.electron.grids.ESP_CUBE_SPACING`)."""
        grid = uniform_grid(self.atoms, spacing, padding)
        return grid, self.electrostatic_potential(grid.points())

    def write_esp_cube(self, path, spacing: float = ESP_CUBE_SPACING, padding: float = 4.0) -> UniformGrid:
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
