"""PhononDOS from phonopy: ``Phonopy`` objects, ``phonopy.yaml`` files and ``total_dos.dat`` (phonopy optional).

phonopy's thermal properties and total DOS are per unit cell of its primitive cell; a
:class:`~.dos.PhononDOS` is per atom and knows the cell it calls "per cell" (``atoms``, by default
phonopy's primitive cell).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers

from ..errors import E3DensityError, InputFileError, MissingDependencyError
from .dos import PhononDOS

__all__ = ["require_phonopy", "phonopy_to_atoms", "atoms_to_phonopy", "dos_from_phonopy", "element_partial_dos",
           "dos_from_phonopy_files",
           "dos_from_total_dos_file", "gamma_acoustic_zeroed"]


def require_phonopy():
    """The phonopy module, or a clear error naming the extra to install."""
    try:
        import phonopy
    except ImportError as exc:
        raise MissingDependencyError("this needs phonopy: pip install 'ase_e3density[phonons]'") from exc
    return phonopy


def phonopy_to_atoms(cell) -> Atoms:
    """A ``PhonopyAtoms`` as periodic ASE ``Atoms`` (masses kept)."""
    return Atoms(symbols=list(cell.symbols), cell=np.asarray(cell.cell), scaled_positions=cell.scaled_positions,
                 masses=cell.masses, pbc=True)


def atoms_to_phonopy(atoms: Atoms):
    """ASE ``Atoms`` as ``PhonopyAtoms`` with ASE's masses."""
    require_phonopy()
    from phonopy.structure.atoms import PhonopyAtoms

    return PhonopyAtoms(symbols=atoms.get_chemical_symbols(), cell=atoms.cell.array,
                        scaled_positions=atoms.get_scaled_positions(), masses=atoms.get_masses())


def gamma_acoustic_zeroed(frequencies: np.ndarray, qpoints: np.ndarray) -> np.ndarray:
    """A copy with the three modes of smallest |frequency| at Gamma set to 0 (phonopy's
    ``exclude_gamma_acoustic``): their computed values are numerical noise of either sign."""
    freqs = np.array(frequencies, dtype=float)
    at_gamma = np.flatnonzero(np.abs(qpoints - np.rint(qpoints)).max(axis=1) < 1e-8)
    for i in at_gamma:
        freqs[i, np.argsort(np.abs(freqs[i]))[:3]] = 0.0
    return freqs


def dos_from_phonopy(phonon, *, mesh=None, dos: str = "tetrahedron", atoms: Atoms | None = None,
                     exclude_gamma_acoustic: bool = True, pitch: float = 0.05, partial: bool = True) -> PhononDOS:
    """The DOS of a ``phonopy.Phonopy`` object with force constants.

    ``mesh``: run phonopy's mesh (a length in Å or three numbers); without it, the mesh already run on
    the object is used. Thermal sums run over the mesh modes, as phonopy's do; with
    ``exclude_gamma_acoustic`` (default) the three acoustic modes at Gamma are set to zero first, as
    phonopy's option of that name does (their tiny computed values otherwise enter F and S).
    The grid DOS (``dos``) is phonopy's tetrahedron-method total DOS (``"tetrahedron"``, computed on
    the object) or a Gaussian smearing of the modes (``"gaussian"``), ``pitch`` THz apart.
    ``atoms``: the cell "per cell" refers to (default: phonopy's primitive cell).

    ``partial`` (default): also the element-projected DOS (:func:`element_partial_dos`: phonopy's
    projected DOS by the same method, on the same mesh and grid, summed over the atoms of each element),
    scaled like the total, so that :meth:`PhononDOS.partial` is in states/(THz atom) per atom of the
    whole structure and the elements' partials add up to the total DOS. It runs the mesh a second time,
    without symmetry reduction and with eigenvectors (that mesh then stays on ``phonon``); the mesh modes
    and thermal sums stay those of the symmetry-reduced mesh. The tetrahedron total DOS is then the sum of
    the projected DOS, i.e. phonopy's total DOS of the full mesh: on the reduced mesh phonopy's tetrahedra
    break the crystal's symmetry, and its DOS differs pointwise (measured on Cu3Au, 13x13x13: up to 13 %
    of the peak, twice as far as the full mesh's from a 39x39x39 mesh; same integral). A crystal of one
    element needs neither: its partial DOS is the total.
    """
    require_phonopy()
    if dos not in ("tetrahedron", "gaussian"):
        raise E3DensityError(f"dos must be 'tetrahedron' or 'gaussian', got {dos!r}")
    if mesh is not None:
        if phonon.force_constants is None:
            raise E3DensityError("the phonopy object has no force constants: produce them before asking for a DOS")
        phonon.run_mesh(mesh, is_gamma_center=True)  # Gamma-centred: keeps the full point group
    result = phonon.mesh
    if result is None:
        raise E3DensityError("the phonopy object has no mesh: pass mesh= (e.g. 50.0) or call run_mesh first")
    qpoints = np.asarray(result.qpoints, dtype=float)
    raw = np.asarray(result.frequencies, dtype=float)
    weights = np.asarray(result.weights, dtype=float)
    mesh_numbers = [int(n) for n in np.asarray(result.mesh_numbers)]
    freqs = gamma_acoustic_zeroed(raw, qpoints) if exclude_gamma_acoustic else raw
    primitive = phonopy_to_atoms(phonon.primitive)
    atoms = primitive if atoms is None else atoms
    info = {"source": "phonopy", "mesh": mesh_numbers,
            "exclude_gamma_acoustic": bool(exclude_gamma_acoustic), "n_primitive_atoms": len(primitive)}
    elements = sorted(set(primitive.get_chemical_symbols()))
    if partial and len(elements) == 1:  # one element: its projected DOS is the total, on any mesh
        total = dos_from_phonopy(phonon, dos=dos, atoms=atoms, exclude_gamma_acoustic=exclude_gamma_acoustic,
                                 pitch=pitch, partial=False)
        return total.with_partials({elements[0]: total.dos})
    if dos == "gaussian":
        lo, hi = min(float(freqs.min()), 0.0), float(freqs.max())
        sigma = max((hi - lo) / 100.0, 1e-3)  # PhononDOS.from_modes' defaults, grid too
        start = np.floor((lo - 5 * sigma) / pitch) * pitch
        grid = np.arange(start, hi + 5 * sigma + pitch, pitch)
        total = PhononDOS.from_modes(freqs, weights, atoms=atoms, grid=grid, sigma=sigma, info=info)
        if not partial:
            return total
        points, elements, values = element_partial_dos(phonon, mesh_numbers, grid[0], grid[-1], pitch, sigma=sigma)
        values = np.array([np.interp(grid, points, row, left=0.0, right=0.0) for row in values])
        # normalised as the total (3 modes per atom); the total's factor also holds the q-point weights
        return total.with_partials(dict(zip(elements, values * (3.0 / np.trapezoid(values.sum(axis=0), grid)))))
    lo, hi = min(float(raw.min()), 0.0), float(raw.max())
    grid_min = (np.floor(lo / pitch) - 2) * pitch
    grid_max = (np.ceil(hi / pitch) + 2) * pitch
    if partial:  # the total is the projected DOS summed: both from the full mesh
        grid, elements, values = element_partial_dos(phonon, mesh_numbers, grid_min, grid_max, pitch)
        per_cell = values.sum(axis=0)
        info["dos_method"] = f"tetrahedron pitch={pitch} THz, full mesh (sum of the projected DOS)"
    else:
        computed = phonon.run_total_dos(freq_min=grid_min, freq_max=grid_max, freq_pitch=pitch,
                                        use_tetrahedron_method=True)
        if computed is None:  # older phonopy returns nothing
            computed = phonon.total_dos
        grid, per_cell = np.asarray(computed.frequency_points, dtype=float), np.asarray(computed.dos, dtype=float)
        info["dos_method"] = f"tetrahedron pitch={pitch} THz"
    total = PhononDOS(grid, per_cell / len(primitive), atoms=atoms, modes=(freqs, weights), normalize=True, info=info)
    if not partial:
        return total
    scale = total.info["normalization"] / len(primitive)
    return total.with_partials(dict(zip(elements, values * scale)))


def element_partial_dos(phonon, mesh_numbers, freq_min: float, freq_max: float, pitch: float,
                        sigma: float | None = None) -> tuple[np.ndarray, list[str], np.ndarray]:
    """phonopy's projected DOS summed over the atoms of each element of its primitive cell, states/(THz
    primitive cell): its frequency points (THz, ``freq_min`` to ``freq_max`` by ``pitch``), the elements
    (by atomic number) and the DOS (n_elements, n_points).

    The Gamma-centred mesh ``mesh_numbers`` is run without symmetry reduction and with eigenvectors (phonopy's
    projected DOS needs both) unless it is the object's mesh already; the method is the tetrahedron method,
    or Gaussian smearing of width ``sigma`` THz when given. Summed over the elements it is phonopy's total
    DOS of the full mesh.
    """
    now = phonon.mesh
    ready = (now is not None and now.with_eigenvectors and len(now.ir_grid_points) == int(np.prod(now.mesh_numbers))
             and [int(n) for n in now.mesh_numbers] == [int(n) for n in mesh_numbers])
    if not ready:
        phonon.run_mesh(list(mesh_numbers), is_gamma_center=True, is_mesh_symmetry=False, with_eigenvectors=True)
    projected = phonon.run_projected_dos(sigma=sigma, freq_min=float(freq_min), freq_max=float(freq_max),
                                         freq_pitch=float(pitch), use_tetrahedron_method=sigma is None)
    if projected is None:  # older phonopy returns nothing
        projected = phonon.projected_dos
    per_atom = np.asarray(projected.projected_dos, dtype=float)
    symbols = list(phonon.primitive.symbols)
    elements = sorted(set(symbols), key=lambda s: atomic_numbers[s])
    values = np.array([per_atom[[i for i, s in enumerate(symbols) if s == e]].sum(axis=0) for e in elements])
    return np.asarray(projected.frequency_points, dtype=float), elements, values


def dos_from_phonopy_files(path, *, mesh=50.0, force_sets=None, force_constants=None, **kwargs) -> PhononDOS:
    """The DOS from ``phonopy.yaml`` / ``phonopy_disp.yaml`` / ``phonopy_params.yaml`` through
    ``phonopy.load``: forces or force constants inside the file, or ``FORCE_SETS`` /
    ``FORCE_CONSTANTS`` / ``force_constants.hdf5`` beside it, or the files named by ``force_sets`` /
    ``force_constants``. ``kwargs`` go to :func:`dos_from_phonopy`."""
    phonopy = require_phonopy()
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"no such phonopy file: {path}")
    for name, extra in (("force sets", force_sets), ("force constants", force_constants)):
        if extra is not None and not Path(extra).is_file():
            raise InputFileError(f"no such {name} file: {extra}")
    try:
        phonon = phonopy.load(path, force_sets_filename=force_sets, force_constants_filename=force_constants,
                              log_level=0)
    except Exception as exc:  # phonopy raises many kinds on unreadable or inconsistent files
        raise InputFileError(f"{path}: phonopy cannot load it ({type(exc).__name__}: {exc})") from exc
    if phonon.force_constants is None:
        raise E3DensityError(f"{path}: no forces or force constants (put FORCE_SETS or FORCE_CONSTANTS beside it, "
                             "or pass force_sets= / force_constants=)")
    dos = dos_from_phonopy(phonon, mesh=mesh, **kwargs)
    dos.info["source"] = str(path)
    return dos


def dos_from_total_dos_file(path, *, n_atoms: int | None = None, atoms: Atoms | None = None) -> PhononDOS:
    """phonopy's ``total_dos.dat`` (frequency in THz, DOS per primitive cell). Without ``n_atoms`` or
    ``atoms``, the atoms of phonopy's cell are read off the integral (3 per atom, within 2 %)."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"no such DOS file: {path}")
    try:
        table = np.loadtxt(path, comments="#", ndmin=2)
    except ValueError as exc:
        raise InputFileError(f"{path}: not a two-column total_dos.dat ({exc})") from exc
    if table.shape[1] < 2 or table.shape[0] < 2:
        raise InputFileError(f"{path}: not a two-column total_dos.dat (shape {table.shape})")
    freqs, values = table[:, 0], table[:, 1]
    integral = float(np.trapezoid(values, freqs))
    n = len(atoms) if atoms is not None else n_atoms
    if n is None:
        n = int(round(integral / 3))
        if n < 1 or abs(integral / 3 - n) > 0.02 * n:
            raise E3DensityError(f"{path}: the DOS integrates to {integral:.4g}, not 3 per atom of a whole number "
                                 "of atoms; pass n_atoms= (atoms in phonopy's primitive cell)")
    return PhononDOS.from_arrays(freqs, values, per="cell", n_atoms=n, atoms=atoms, normalize=True,
                                 info={"source": str(path), "integral_per_cell": integral})
