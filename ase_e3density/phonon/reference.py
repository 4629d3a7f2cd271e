"""Reference phonons from any ASE calculator: relax, finite displacements with phonopy, DOS on a mesh.

One structure at a time (:func:`reference_phonons`):

1. relax positions and cell with ASE's ``FrechetCellFilter`` and BFGS or FIRE to ``fmax`` (eV/Å; the
   stress is scaled by the filter), or positions only, or not at all;
2. a supercell of the relaxed cell whose every width (distance between opposite faces) is at least
   ``min_width`` Å, with as few atoms as :func:`supercell_matrix` finds (near-cubic, often non-diagonal);
3. phonopy's symmetry-reduced finite displacements (``displacement`` Å), forces from the calculator,
   force constants (symmetrised: translational invariance), phonopy's primitive cell; forces that vanish on
   every displaced supercell (below :data:`VANISHING_FORCE`) are refused (:class:`VanishingForcesError`):
   the relaxed atoms feel no neighbour, as K, Rb and Cs do under SevenNet-l3i5, whose relaxation takes
   them apart beyond its cutoff;
4. the mesh (``mesh``: phonopy's length in Å, or three numbers), the tetrahedron DOS with the
   element-projected DOS (phonopy's projected DOS summed per element) and the thermal properties
   (:class:`~.dos.PhononDOS`, acoustic modes at Gamma set to zero as phonopy's ``exclude_gamma_acoustic``).

Calculators by name (:func:`get_calculator`): ``emt`` (ASE), ``chgnet`` and ``sevennet`` (SevenNet-0; also
``sevennet-0``) or ``sevennet-l3i5`` (SevenNet-l3i5) (their packages, optional extras), or ``module:Class``
(or ``module:function``) called with no arguments; :func:`potential_label` names the exact potential.
"""
from __future__ import annotations

import functools
import importlib
import itertools
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
from ase import Atoms

from ..errors import E3DensityError, MissingDependencyError, VanishingForcesError
from ..graph.checks import PHONOPY_NEEDS_ORDER, check_crystal, check_ordered
from .database import column_temperatures
from .dos import PhononDOS
from .phonopy_io import atoms_to_phonopy, require_phonopy

__all__ = ["CALCULATOR_NAMES", "SEVENNET_CHECKPOINTS", "get_calculator", "calculator_version", "potential_label",
           "check_crystal", "check_masses", "cell_widths", "mass_labels", "nearest_neighbour_distance",
           "supercell_matrix", "relax", "PhononSettings", "PhononResult", "reference_phonons",
           "VANISHING_FORCE", "VanishingForcesError", "check_forces"]

VANISHING_FORCE = 1e-6
"""eV/Å: displaced supercells whose every force component lies below this carry no force constants (a
displacement of 0.01 Å in a solid gives forces of 1e-3 to 1e-1 eV/Å)."""


CALCULATOR_NAMES = ("emt", "chgnet", "sevennet", "sevennet-0", "sevennet-l3i5", "sevennet-mf-0")
RELAX_MODES = ("full", "positions", "none")

# calculator name -> (sevenn's name of the checkpoint its wheel ships, the potential's published name);
# "sevennet" stays SevenNet-0 (the model of the first phonon data, data/phonons/sevennet.db)
SEVENNET_CHECKPOINTS = {"sevennet": ("7net-0", "SevenNet-0"), "sevennet-0": ("7net-0", "SevenNet-0"),
                        "sevennet-l3i5": ("7net-l3i5", "SevenNet-l3i5"),
                        "sevennet-mf-0": ("7net-mf-0", "SevenNet-MF-0 PBE")}
# multi-fidelity checkpoints -> the fidelity (sevenn's "modal") used: PBE/PBE+U, the MPtrj level of theory
SEVENNET_MODALS = {"7net-mf-0": "PBE"}


def _emt():
    from ase.calculators.emt import EMT

    return EMT()


def _chgnet():
    try:
        from chgnet.model.dynamics import CHGNetCalculator
    except ImportError as exc:
        raise MissingDependencyError("calculator 'chgnet' needs the chgnet package: pip install "
                                     "'ase_e3density[chgnet]'") from exc
    return CHGNetCalculator(use_device="cpu")


def _sevennet(checkpoint: str = "7net-0"):
    """SevenNet calculator of a checkpoint in the sevenn wheel; a multi-fidelity one at its SEVENNET_MODALS modal."""
    try:
        from sevenn.calculator import SevenNetCalculator
    except ImportError as exc:
        raise MissingDependencyError(f"calculator 'sevennet' ({checkpoint}) needs the sevenn package: pip install "
                                     "'ase_e3density[sevennet]'") from exc
    modal = SEVENNET_MODALS.get(checkpoint)
    return SevenNetCalculator(checkpoint, device="cpu", **({"modal": modal} if modal else {}))


_FACTORIES = {"emt": _emt, "chgnet": _chgnet,
              **{name: functools.partial(_sevennet, checkpoint) for name, (checkpoint, _) in SEVENNET_CHECKPOINTS.items()}}


def get_calculator(name: str):
    """A fresh ASE calculator: ``emt``, ``chgnet``, ``sevennet`` (SevenNet-0; also ``sevennet-0``),
    ``sevennet-l3i5`` (SevenNet-l3i5), ``sevennet-mf-0`` (SevenNet-MF-0 at its PBE fidelity; the checkpoints
    ship in the sevenn wheel, run on the CPU) or
    ``module:Class`` (called with no arguments; the module must be importable)."""
    key = name.strip().lower()
    if key in _FACTORIES:
        return _FACTORIES[key]()
    if ":" not in name:
        raise E3DensityError(f"unknown calculator {name!r}: choose one of {', '.join(CALCULATOR_NAMES)}, or "
                             "module:Class for your own ASE calculator")
    module_name, _, attr = name.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise MissingDependencyError(f"calculator {name!r}: cannot import module {module_name!r} ({exc})") from exc
    factory = getattr(module, attr, None)
    if factory is None or not callable(factory):
        raise E3DensityError(f"calculator {name!r}: module {module_name!r} has no callable {attr!r}")
    calc = factory()
    if not hasattr(calc, "get_forces") and not hasattr(calc, "calculate"):
        raise E3DensityError(f"calculator {name!r} did not give an ASE calculator (got {type(calc).__name__})")
    return calc


def _calculator_package(name: str) -> str:
    key = name.strip().lower()
    if key in SEVENNET_CHECKPOINTS:
        return "sevenn"
    return {"emt": "ase", "chgnet": "chgnet"}.get(key, name.partition(":")[0].split(".")[0])


def calculator_version(name: str) -> str:
    """The version of the package behind a calculator name ("" when unknown)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(_calculator_package(name))
    except (PackageNotFoundError, ValueError):
        return ""


def potential_label(name: str) -> str:
    """The exact potential behind a calculator name, e.g. "SevenNet-l3i5 (7net-l3i5, sevenn 0.13.0)",
    "SevenNet-0 (7net-0, sevenn 0.13.0)", "EMT (ase 3.29.0)", "CHGNet (chgnet 0.4.2)"; for
    ``module:Class`` the name and its top package's version."""
    key = name.strip().lower()
    package, ver = _calculator_package(name), calculator_version(name)
    if key in SEVENNET_CHECKPOINTS:
        checkpoint, model = SEVENNET_CHECKPOINTS[key]
        return f"{model} ({checkpoint}, {package} {ver or 'version unknown'})"
    model = {"emt": "EMT", "chgnet": "CHGNet"}.get(key, name.strip())
    return f"{model} ({package} {ver})" if ver else model


def cell_widths(cell) -> np.ndarray:
    """Distances between opposite faces of a cell (Å): volume / area of each face."""
    cell = np.asarray(cell, dtype=float)
    volume = abs(np.linalg.det(cell))
    return np.array([volume / np.linalg.norm(np.cross(cell[(i + 1) % 3], cell[(i + 2) % 3])) for i in range(3)])


_FLOOR_OR_CEIL = np.array(list(itertools.product((0, 1), repeat=9)), dtype=float).reshape(-1, 3, 3)


def supercell_matrix(cell, min_width: float, n_lengths: int = 60) -> np.ndarray:
    """An integer matrix P (ASE's convention: supercell = P @ cell) whose supercell has every width
    >= ``min_width`` Å, with as few cells as found.

    A cube has the largest smallest width for its volume, so the search rounds the matrix of a cube of
    side L, ``L inv(cell)``, each entry down or up (512 matrices), for ``n_lengths`` sides L from
    ``min_width`` to 1.5 ``min_width``, and keeps the smallest that qualifies; the diagonal multiples of
    ``cell`` are the fallback and win ties. About 0.1 s.
    """
    cell = np.asarray(cell, dtype=float)
    if min_width <= 0:
        return np.eye(3, dtype=int)
    best = np.diag(np.ceil(min_width / cell_widths(cell) - 1e-9).astype(int))
    best_n = int(round(np.linalg.det(best)))
    volume = abs(np.linalg.det(cell))
    inverse = np.linalg.inv(cell)
    for side in np.linspace(min_width, 1.5 * min_width, n_lengths):
        candidates = np.floor(side * inverse)[None] + _FLOOR_OR_CEIL
        det = np.rint(np.linalg.det(candidates))
        lattice = candidates @ cell
        areas = np.stack([np.linalg.norm(np.cross(lattice[:, (i + 1) % 3], lattice[:, (i + 2) % 3]), axis=1)
                          for i in range(3)], axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            widths = (np.abs(det) * volume)[:, None] / areas
        ok = (det > 0) & (det < best_n) & (widths.min(axis=1) >= min_width - 1e-9)
        if ok.any():
            i = np.flatnonzero(ok)[np.argmin(det[ok])]
            best, best_n = candidates[i].astype(int), int(det[i])
    return best


def nearest_neighbour_distance(atoms: Atoms) -> float:
    """The shortest distance (Å) between two atoms of a periodic crystal, periodic images included."""
    from ase.neighborlist import neighbor_list

    reach = 4.0
    while True:
        distances = neighbor_list("d", atoms, reach)
        if distances.size or reach > 1e3:
            return float(distances.min()) if distances.size else float("inf")
        reach *= 2


def check_forces(forces: list[np.ndarray], relaxed: Atoms, displacement: float) -> None:
    """Refuse forces (eV/Å) of phonopy's displaced supercells that all vanish (below :data:`VANISHING_FORCE`):
    phonopy would find no force constants and fail obscurely; one line names the cause, the relaxed cell's
    nearest-neighbour distance beyond the potential's reach."""
    largest = max((float(np.abs(f).max()) for f in forces if np.size(f)), default=0.0)
    if largest < VANISHING_FORCE:
        raise VanishingForcesError(
            f"forces vanish on every displaced supercell (largest {largest:.1e} eV/Å for {len(forces)} displacement(s) of "
            f"{displacement:g} Å): the relaxed cell (nearest neighbour {nearest_neighbour_distance(relaxed):.2f} Å, "
            f"{relaxed.get_volume() / len(relaxed):.1f} Å^3 per atom) puts the neighbours beyond the potential's reach")


def relax(atoms: Atoms, calculator, mode: str = "full", fmax: float = 1e-3, steps: int = 500,
          optimizer: str = "BFGS") -> tuple[Atoms, dict]:
    """A relaxed copy of ``atoms`` and what was done: ``mode`` "full" (positions and cell, ASE's
    ``FrechetCellFilter``), "positions" or "none"; ``fmax`` in eV/Å (on the filter's scaled stress too).
    A relaxation that does not reach ``fmax`` in ``steps`` is an error."""
    from ase.optimize import BFGS, FIRE

    if mode not in RELAX_MODES:
        raise E3DensityError(f"relax mode must be one of {RELAX_MODES}, got {mode!r}")
    opt_class = {"bfgs": BFGS, "fire": FIRE}.get(optimizer.lower())
    if opt_class is None:
        raise E3DensityError(f"optimizer must be BFGS or FIRE, got {optimizer!r}")
    atoms = atoms.copy()
    atoms.calc = calculator
    info = {"relax": mode, "fmax": fmax, "optimizer": opt_class.__name__, "relax_steps": 0}
    if mode == "none":
        info["max_force"] = float(np.linalg.norm(atoms.get_forces(), axis=1).max())
        return atoms, info
    if mode == "full":
        from ase.filters import FrechetCellFilter

        target = FrechetCellFilter(atoms)
    else:
        target = atoms
    opt = opt_class(target, logfile=None)
    converged = opt.run(fmax=fmax, steps=steps)
    info["relax_steps"] = int(opt.nsteps)
    info["max_force"] = float(np.linalg.norm(atoms.get_forces(), axis=1).max())
    if not converged:
        raise E3DensityError(f"relaxation did not reach fmax={fmax} eV/Å in {steps} steps (max force "
                             f"{info['max_force']:.3g} eV/Å)")
    return atoms, info


@dataclass
class PhononSettings:
    """Settings of the reference generator; all of them are recorded in each row."""

    calculator: str = "emt"
    relax: str = "full"
    fmax: float = 1e-3  # eV/Å
    relax_steps: int = 500
    optimizer: str = "BFGS"
    min_width: float = 10.0  # Å, every width of the supercell
    displacement: float = 0.01  # Å
    mesh: float | tuple = 50.0  # phonopy's length (Å) or three numbers
    temperatures: tuple = (100.0, 300.0, 500.0, 1000.0)  # K
    pitch: float = 0.05  # THz, grid of the stored DOS
    symprec: float = 1e-5

    def __post_init__(self):
        self.temperatures = column_temperatures(self.temperatures)  # one thermal column each

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        d["mesh"] = list(d["mesh"]) if isinstance(d["mesh"], (tuple, list)) else d["mesh"]
        d["temperatures"] = [float(t) for t in d["temperatures"]]
        return d

    def labels(self) -> tuple:
        """What makes two results different: hashed with the input structure."""
        d = self.as_dict()
        return tuple(f"{k}={d[k]}" for k in sorted(d))


@dataclass
class PhononResult:
    """One structure's reference phonons."""

    relaxed: Atoms
    energy: float  # eV, relaxed structure
    dos: PhononDOS
    supercell_matrix: np.ndarray  # ASE convention: supercell = P @ relaxed.cell
    n_supercell_atoms: int
    n_displacements: int
    seconds: float
    info: dict = field(default_factory=dict)


def mass_labels(atoms: Atoms) -> tuple[str, ...]:
    """What the masses of ``atoms`` add to its uid: nothing for ASE's standard masses (so the uids of such
    structures stay as they were), else one label with every mass (amu, 6 decimals)."""
    from ase.data import atomic_masses

    if not atoms.has("masses"):
        return ()
    masses = np.asarray(atoms.get_masses(), dtype=float)
    if np.allclose(masses, atomic_masses[atoms.numbers], rtol=1e-9, atol=0):
        return ()
    return ("masses=" + " ".join(f"{m:.6f}" for m in masses),)


def check_masses(atoms: Atoms, label: str = "structure") -> None:
    """Refuse masses that differ between atoms of one element (finite and > 0 otherwise): phonopy's
    symmetry and primitive cell see elements only, and would mix them."""
    from ..errors import InvalidStructureError

    masses = np.asarray(atoms.get_masses(), dtype=float)
    if not (np.isfinite(masses).all() and (masses > 0).all()):
        raise InvalidStructureError(f"{label}: every mass must be finite and > 0 amu")
    symbols = np.array(atoms.get_chemical_symbols())
    for symbol in dict.fromkeys(symbols):
        own = masses[symbols == symbol]
        if not np.allclose(own, own[0], rtol=1e-9, atol=0):
            raise InvalidStructureError(f"{label}: the {symbol} atoms have different masses ({own.min():g} to "
                                        f"{own.max():g} amu); phonopy's symmetry sees elements only: give all atoms "
                                        "of an element one mass")


def reference_phonons(atoms: Atoms, calculator, settings: PhononSettings | None = None) -> PhononResult:
    """Relax ``atoms`` with ``calculator``, then phonopy's finite displacements, force constants and DOS.

    phonopy takes the masses of ``atoms`` (``atoms.get_masses()``: ASE's standard ones, or isotopes set
    with ``atoms.set_masses``, one mass per element: :func:`check_masses`); the relaxed structure of the
    result keeps them."""
    require_phonopy()
    from phonopy import Phonopy

    settings = settings or PhononSettings()
    start = time.perf_counter()
    check_crystal(atoms)
    check_ordered(atoms, why=PHONOPY_NEEDS_ORDER)
    check_masses(atoms)
    relaxed, info = relax(atoms, calculator, settings.relax, settings.fmax, settings.relax_steps, settings.optimizer)
    energy = float(relaxed.get_potential_energy())
    P = supercell_matrix(relaxed.cell.array, settings.min_width)
    with warnings.catch_warnings():
        # non-diagonal supercells may lower the point group phonopy sees; its numbers stay right
        warnings.filterwarnings("ignore", message=".*Point group symmetries of supercell and primitivecell.*")
        warnings.filterwarnings("ignore", message=".*primitive_matrix defaulted to 'auto'.*")  # we ask for 'auto'
        phonon = Phonopy(atoms_to_phonopy(relaxed), supercell_matrix=P.T, primitive_matrix="auto",
                         symprec=settings.symprec, log_level=0)
    phonon.generate_displacements(distance=settings.displacement)
    forces = []
    for cell in phonon.supercells_with_displacements:
        displaced = Atoms(symbols=list(cell.symbols), cell=cell.cell, scaled_positions=cell.scaled_positions,
                          pbc=True)
        displaced.calc = calculator
        forces.append(np.array(displaced.get_forces(), dtype=float))
    check_forces(forces, relaxed, settings.displacement)
    phonon.forces = forces
    phonon.produce_force_constants(show_drift=False)
    phonon.symmetrize_force_constants(show_drift=False)
    mesh = list(settings.mesh) if isinstance(settings.mesh, (tuple, list)) else float(settings.mesh)
    relaxed_plain = relaxed.copy()
    relaxed_plain.calc = None
    dos = PhononDOS.from_phonopy(phonon, mesh=mesh, atoms=relaxed_plain, pitch=settings.pitch)
    info.update(primitive_atoms=len(phonon.primitive), widths=cell_widths(P @ relaxed.cell.array).tolist())
    return PhononResult(relaxed=relaxed_plain, energy=energy, dos=dos, supercell_matrix=P,
                        n_supercell_atoms=len(phonon.supercell), n_displacements=len(forces),
                        seconds=time.perf_counter() - start, info=info)
