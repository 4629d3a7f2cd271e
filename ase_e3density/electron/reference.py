"""Reference densities from PySCF: DFT, then a charge-conserving Coulomb-metric density fit.

Needs the ``reference`` extra (PySCF). The fit solves ``J c = (P|ij) D_ij`` with ``J`` the
Coulomb metric of the auxiliary basis, then adds ``lambda J^-1 q`` (``q_P = int phi_P``)
so that the fitted density holds exactly the DFT electron count.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from ase import Atoms
from ase.units import Bohr, Hartree

from ..errors import E3DensityError
from ..graph.checks import check_structure
from .basis import BasisSet, load_basis
from .density import AtomicDensity
from .harmonics import pyscf_to_e3nn
from .metrics import l1_error

__all__ = ["DFTResult", "run_dft", "fit_density", "dft_density", "fit_error_vs_dft", "free_atom_coefficients"]


def _pyscf():
    try:
        import pyscf  # noqa: F401
        from pyscf import df, dft, gto
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("reference densities need PySCF: pip install 'ase_e3density[reference]'") from exc
    return gto, dft, df


@dataclass
class DFTResult:
    """A converged PySCF calculation and what the fit needs from it."""

    atoms: Atoms
    mf: object
    xc: str
    basis: str
    energy: float  # eV
    dipole: np.ndarray  # e·Å about the centre of mass, exact DFT density
    seconds: float
    info: dict = field(default_factory=dict)


def _charge_and_spin(atoms: Atoms, charge, spin) -> tuple[int, int | None]:
    charge = int(atoms.info.get("charge", 0) if charge is None else charge)
    spin = atoms.info.get("spin") if spin is None else spin
    return charge, (None if spin is None else int(spin))


def run_dft(atoms: Atoms, xc: str = "PBE0", basis: str = "cc-pvdz", charge: int | None = None,
            spin: int | None = None, grid_level: int = 3, conv_tol: float = 1e-9, verbose: int = 0,
            check_stability: bool = True, guess="minao", density_fit: bool = False) -> DFTResult:
    """Kohn-Sham DFT with PySCF: RKS for closed shells, UKS when ``spin`` (2S) > 0.

    ``guess``: a PySCF ``init_guess`` name ("minao", "atom", "huckel", ...) or a callable that takes
    the built ``Mole`` and returns ``dm0`` (e.g. a model's guess, :func:`ase_e3density.scf.initial_guess`).
    ``info["scf_cycles"]`` holds the number of SCF iterations. ``density_fit``: Coulomb and exchange
    through PySCF's density fitting (``mf.density_fit()``, its default JK-fit basis for ``basis``).

    ``charge`` and ``spin`` default to ``atoms.info["charge"]`` / ``atoms.info["spin"]``;
    with no spin given, an odd electron count gets a doublet and an even one a singlet, whose
    closed-shell solution is then checked with PySCF's stability analysis (``check_stability``,
    run when the HOMO-LUMO gap is below 4 eV): a solution unstable towards an open-shell one (O2,
    stretched bonds) is refused rather than stored. A structure with periodic directions is refused (molecular calculation).
    """
    gto, dft, _ = _pyscf()
    check_structure(atoms)
    if atoms.pbc.any():
        raise E3DensityError("PySCF references are molecular: pass atoms with pbc=False")
    charge, spin = _charge_and_spin(atoms, charge, spin)
    n_e = int(atoms.numbers.sum()) - charge
    if n_e < 0:
        raise E3DensityError(f"charge {charge:+d} on {atoms.get_chemical_formula()} leaves {n_e} electrons")
    if grid_level not in range(10):
        raise E3DensityError(f"PySCF grid level must be 0-9, got {grid_level}")
    guessed_spin = spin is None
    if spin is None:
        spin = n_e % 2
    elif spin < 0 or spin > n_e or (n_e - spin) % 2:
        kind = "closed-shell" if spin == 0 else f"spin={spin}"
        raise E3DensityError(f"{n_e} electrons (charge {charge}) cannot form a {kind} state; set spin (2S) accordingly")
    start = time.perf_counter()
    mol = gto.M(atom=[(s, tuple(p)) for s, p in zip(atoms.get_chemical_symbols(), atoms.positions)],
                unit="Angstrom", basis=basis, charge=charge, spin=spin, verbose=verbose)
    mf = (dft.RKS(mol) if spin == 0 else dft.UKS(mol))
    if density_fit:
        mf = mf.density_fit()
    mf.xc, mf.conv_tol, mf.grids.level = xc, conv_tol, grid_level
    if callable(guess):
        energy = mf.kernel(dm0=guess(mol))
    else:
        mf.init_guess = guess
        energy = mf.kernel()
    if not mf.converged:
        raise E3DensityError(f"SCF did not converge for {atoms.get_chemical_formula()}")
    if check_stability and guessed_spin and spin == 0:
        _check_closed_shell(mf, atoms.get_chemical_formula())
    dm = _total_dm(mf)
    com = atoms.get_center_of_mass() / Bohr
    with mol.with_common_orig(com):
        electronic = np.einsum("xij,ji->x", mol.intor_symmetric("int1e_r"), dm)
    nuclear = mol.atom_charges() @ (mol.atom_coords() - com)
    return DFTResult(atoms.copy(), mf, xc, basis, float(energy) * Hartree, (nuclear - electronic) * Bohr,
                     time.perf_counter() - start, {"charge": charge, "spin": spin, "scf_cycles": int(mf.cycles)})


STABILITY_GAP_EV = 4.0  # closed shells with a smaller HOMO-LUMO gap get PySCF's stability analysis


def _check_closed_shell(mf, formula: str) -> None:
    """Refuse a closed-shell solution that PySCF's stability analysis finds unstable.

    The analysis costs several SCFs (CH3CN: 2.6 s -> 15 s), so it runs only where an instability
    is plausible: a HOMO-LUMO gap below ``STABILITY_GAP_EV`` (PBE0/cc-pVDZ: O2 2.5 eV and singlet CH2
    3.8 eV, both unstable; H2O and CH3CN about 10 eV).
    """
    occupied = mf.mo_occ > 0
    gap = (mf.mo_energy[~occupied].min() - mf.mo_energy[occupied].max()) * Hartree if (~occupied).any() else np.inf
    if gap >= STABILITY_GAP_EV:
        return
    *_, internal, external = mf.stability(internal=True, external=True, return_status=True)
    if not (internal and external):
        towards = "an open-shell (unrestricted) solution" if not external else "a lower closed-shell solution"
        raise E3DensityError(f"the closed-shell solution of {formula} is unstable towards {towards}: give its spin "
                             "(2S: --spin, or atoms.info['spin']) to compute it as it is")


def _total_dm(mf) -> np.ndarray:
    dm = mf.make_rdm1()
    return dm[0] + dm[1] if dm.ndim == 3 else dm


def _pyscf_basis(basis: BasisSet, symbols) -> dict:
    """The basis in PySCF's format; PySCF renormalises, so primitive norms are divided out."""
    return {s: [[sh.l] + [[float(a), float(c)] for a, c in zip(sh.exponents, sh.raw_coefficients())]
                for sh in basis[s].shells] for s in set(symbols)}


def _to_e3nn_matrix(basis: BasisSet, symbols) -> np.ndarray:
    """Block-diagonal orthogonal map from PySCF's to e3nn's component order for all atoms."""
    from scipy.linalg import block_diag

    return block_diag(*[pyscf_to_e3nn(sh.l) for s in symbols for sh in basis[s].shells])


def _coulomb_fit(mol, dm: np.ndarray, basis: BasisSet, symbols: list[str]) -> np.ndarray:
    """Charge-conserving Coulomb-metric fit of density matrix ``dm`` (e3nn order)."""
    gto, _, df = _pyscf()
    from scipy.linalg import cho_factor, cho_solve

    auxmol = gto.M(atom=mol.atom, unit=mol.unit, basis=_pyscf_basis(basis, symbols), charge=0, spin=None, verbose=0)
    int3c = df.incore.aux_e2(mol, auxmol, "int3c2e", aosym="s2ij")  # (npair, naux)
    dm_tril = 2 * dm - np.diag(np.diag(dm))
    projection = int3c.T @ dm_tril[np.tril_indices(mol.nao)]
    metric = cho_factor(auxmol.intor("int2c2e"))
    to_e3nn = _to_e3nn_matrix(basis, symbols)
    charge_integrals = to_e3nn.T @ np.concatenate([basis[s].charge_integrals for s in symbols])
    c = cho_solve(metric, projection)
    direction = cho_solve(metric, charge_integrals)
    c = c + (mol.nelectron - charge_integrals @ c) / (charge_integrals @ direction) * direction
    return to_e3nn @ c


def fit_density(result: DFTResult, auxbasis: str | BasisSet = "def2-universal-jfit-decontracted") -> AtomicDensity:
    """Fit the DFT density onto ``auxbasis`` in the Coulomb metric, conserving the electron count."""
    basis = load_basis(auxbasis) if isinstance(auxbasis, str) else auxbasis
    atoms, mol = result.atoms, result.mf.mol
    basis.check_supported(atoms.numbers)
    coefficients = _coulomb_fit(mol, _total_dm(result.mf), basis, atoms.get_chemical_symbols())
    core = [mol.atom_nelec_core(i) for i in range(mol.natm)]
    info = {"xc": result.xc, "basis": result.basis, "energy": result.energy, "dft_dipole": result.dipole.tolist(),
            "charge": result.info["charge"], "spin": result.info["spin"], "seconds": result.seconds}
    return AtomicDensity(atoms, basis, coefficients, nuclear_charges=atoms.numbers - np.array(core), info=info)


def free_atom_coefficients(symbols, xc: str = "PBE0", basis: str = "cc-pvdz",
                           auxbasis: str = "def2-universal-jfit-decontracted") -> dict[str, np.ndarray]:
    """Spherically averaged neutral free-atom densities (PySCF's atom_ks), fitted onto ``auxbasis``.

    Only s coefficients are nonzero: the density of a spherical atom has no l > 0 part.
    """
    gto, _, _ = _pyscf()
    from pyscf.scf import atom_ks

    aux = load_basis(auxbasis) if isinstance(auxbasis, str) else auxbasis
    out = {}
    for symbol in dict.fromkeys(symbols):
        mol = gto.M(atom=[(symbol, (0.0, 0.0, 0.0))], basis=basis, spin=None, verbose=0)
        _, _, mo_coeff, mo_occ = atom_ks.get_atm_nrks(mol, xc=xc)[symbol]
        dm = (mo_coeff * mo_occ) @ mo_coeff.T
        c = _coulomb_fit(mol, dm, aux, [symbol])
        out[symbol] = np.where(aux[symbol].function_l == 0, c, 0.0)
    return out


def fit_error_vs_dft(density: AtomicDensity, result: DFTResult) -> float:
    """eps_rho (percent) of a density against the exact DFT density, on PySCF's own grid."""
    from pyscf.dft import numint

    mf = result.mf
    if mf.grids.coords is None:
        mf.grids.build()
    coords, weights = mf.grids.coords, mf.grids.weights
    exact = np.zeros(len(coords))
    dm = _total_dm(mf)
    for start in range(0, len(coords), 50000):
        ao = numint.eval_ao(mf.mol, coords[start:start + 50000])
        exact[start:start + 50000] = numint.eval_rho(mf.mol, ao, dm)
    fitted = density.evaluate(coords * Bohr) * Bohr**3
    return l1_error(fitted, exact, weights, mf.mol.nelectron)


def dft_density(atoms: Atoms, xc: str = "PBE0", basis: str = "cc-pvdz", auxbasis: str = "def2-universal-jfit",
                decontract: bool = True, charge: int | None = None, spin: int | None = None,
                grid_level: int = 3, conv_tol: float = 1e-9) -> AtomicDensity:
    """DFT density of ``atoms`` fitted onto an auxiliary basis (decontracted by default).

    The returned density's ``info`` holds the level of theory, the DFT energy (eV) and the
    exact DFT dipole (e·Å, about the centre of mass).
    """
    name = auxbasis + ("-decontracted" if decontract and not auxbasis.endswith("-decontracted") else "")
    result = run_dft(atoms, xc=xc, basis=basis, charge=charge, spin=spin, grid_level=grid_level, conv_tol=conv_tol)
    return fit_density(result, name)
