"""Accuracy targets of a density model against exact PySCF PBE0/cc-pVDZ, molecule by molecule.

Command (repository root; needs PySCF; the machine's cores are shared, so one thread, niced):
    OMP_NUM_THREADS=1 nice -n 10 python scripts/organic_targets.py --set test_9 --n 10 \
        [--model organic] [--scf] [--cache runs/exact_dft | --no-cache] --out /tmp/targets/test_9.jsonl
    python scripts/organic_targets.py --out FILE.jsonl --summary-only [--per-molecule]

Structures: ``--set test_9`` (``data/qm9/structures/test_9.extxyz``: QM9 molecules with 9 heavy atoms) or
``--set druglike`` (``data/qm9/structures/druglike.extxyz``), or any extxyz with ``--structures PATH``;
``--start``/``--n`` pick frames. Frames with elements the model lacks are skipped (counted, not recorded).

Each molecule runs PySCF RKS PBE0/cc-pVDZ with the settings of the training references
(``e3density reference --density-fit --grid-level 1 --conv-tol 1e-7``: PySCF density fitting with its JK-fit
basis, DFT grid level 1, conv_tol 1e-7 Ha, 'minao' guess, stability check), whose density matrix is the exact
DFT density. Against it:

a. eps_rho = 100 * int |rho - rho_DFT| / N_e (percent) on the SCF's own grid (level 1), of the model's density
   and of the charge-conserving Coulomb fit onto def2-universal-jfit-decontracted (the training target, so
   the floor; the same number as ``fit_error_vs_dft``); also the model against the fit.
b. dipoles about the centre of mass (e·Å and Debye) of model, fit and DFT; |dmu| and |dmu|/|mu| against DFT.
c. ESP RMSE (kcal/(mol e)) on the Merz-Kollman points (1.4, 1.6, 1.8, 2.0 x vdW radii, 1 point/Å^2) against
   the exact potential of the DFT nuclei and density matrix (3-centre integrals, as
   ``benchmarks/bench_esp_accuracy.py``), for the model and the fit.
d. with ``--scf``: SCF iterations to conv_tol 1e-9 (and 1e-7, from the same run) from PySCF's 'minao' guess and
   from the model's ``initial_guess``, with the same grid (level 1) and density fitting, counted as
   ``benchmarks/bench_scf_guess.py`` does (PySCF's convergence test applied to every cycle); every run must reach
   the 'minao' energy within 1e-7 Ha (``scf.same_state``). ``--guesses`` names the guesses as that benchmark
   does: ``model`` (one Kohn-Sham step, ``exact_exchange=0``, always measured) and ``model:key=value,...`` with
   ``guess_from_density`` options on top (``model:exact_exchange=1`` is ``initial_guess``'s default, the
   exact-exchange step); ``fit`` and ``fit:key=value,...`` build the same guess from the
   fit of the exact density instead of the model's (what a network as good as its training target would
   give). Each is kept under its name in the record's ``scf``.

Cache: what does not depend on the model (the SCF grid and the exact and fitted densities on it, the fit's
coefficients, the MK points and the exact potential there, the DFT energy, dipole and cycles, and the 'minao' SCF
of d. once computed) is kept per molecule in ``--cache`` (default ``runs/exact_dft/``, one compressed
``<structure hash>.npz``, written to a temporary name and renamed), so a second model or a rerun runs no DFT: its
records hold the same numbers. An entry is read only when its key (structure hash, REFERENCE, SCF_TOL, fit basis,
MK shells, PySCF version, CACHE_FORMAT) and its arrays match; otherwise it is said on stderr, computed again and
overwritten. Grid weights and densities are stored (and used, also when computed) in float32: the metrics move by
< 1e-7 relative. ``--no-cache`` neither reads nor writes it. A record's ``dft_cache`` says "read", "written",
"write failed" or "off" and ``exact_seconds`` what the exact part cost where it was computed.

One JSON line per molecule is appended to ``--out`` and flushed when it finishes, keyed by frame index and a
hash of the structure; a rerun skips the molecules present (with ``--scf``, those that have SCF results from
every guess asked for; a molecule measured before without ``--scf`` or without one of the guesses gets only the
missing SCF runs, appended as a new line of the whole record) and a
file of another model (checksum) is refused. A molecule whose DFT or prediction fails gets a line with
``error`` (not computed again by a rerun: delete its line to retry). The summary (median, mean, max and counts
as a markdown table) is printed at the end, or alone with ``--summary-only``; where a key has several lines the
last one counts. Times are wall and CPU seconds of this process (the CPU ones are what a loaded machine inflates
least; with the DFT from the cache, the 'minao' SCF's ``seconds_*`` are those of the run that computed it).
Cost on one thread: a 9-heavy-atom QM9 molecule (12-25 atoms) 10-19 CPU s without ``--scf`` (the
reference DFT about 80 %), 0.4-0.7 CPU s from the cache (1.5-1.8 MB a molecule), plus about 4 s to start; with
``--scf`` paracetamol, aspirin and ibuprofen (20, 21, 33 atoms) 59, 88 and 200 CPU s, of which the cache saves the
DFT and the 'minao' SCF.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase.io import read
from ase.units import Bohr, Debye, Hartree, kcal, mol

from ase_e3density.fileio import atomic_path

ROOT = Path(__file__).resolve().parents[1]
SETS = {"test_9": "data/qm9/structures/test_9.extxyz", "druglike": "data/qm9/structures/druglike.extxyz"}
REFERENCE = {"xc": "PBE0", "basis": "cc-pvdz", "density_fit": True, "grid_level": 1, "conv_tol": 1e-7}
SCF_TOL = 1e-9  # the SCF-iteration comparison's threshold (1e-7 read from the same run)
SAME_STATE_HA = 1e-7
ONE_STEP = {"exact_exchange": 0}  # the guess options a bare ``model`` or ``fit`` label stands for
KCAL_PER_MOL_E = kcal / mol  # eV per kcal/mol: a potential in V divided by it is in kcal/(mol e)
_ESP_BLOCK_BYTES = 2e8  # memory of one block of 3-centre integrals against point charges
FIT_BASIS = "def2-universal-jfit-decontracted"  # the training target's basis: the fit floor
MK = {"scales": (1.4, 1.6, 1.8, 2.0), "points_per_A2": 1.0}  # Merz-Kollman shells (x vdW radii)
CACHE_FORMAT = 1  # bump when what the cache holds, or how it is computed, changes
CACHE_DIR = ROOT / "runs" / "exact_dft"
# arrays stored in float32: the metrics they enter move by < 3e-8 relative (measured: eps_rho model/fit/model-vs-fit
# and ESP on a test_9 molecule); grid points stay float64 (float32 ones move eps_rho of the model by 5e-7)
_FLOAT32 = ("grid_weights", "rho_dft", "rho_fit")


class Clock:
    """Wall and CPU seconds of named steps (a step timed twice adds up)."""

    def __init__(self):
        self.seconds: dict[str, list[float]] = {}

    def __call__(self, name: str):
        clock = self

        class _Step:
            def __enter__(self):
                self.start = (time.perf_counter(), time.process_time())

            def __exit__(self, *exc):
                wall, cpu = time.perf_counter() - self.start[0], time.process_time() - self.start[1]
                before = clock.seconds.get(name, [0.0, 0.0])
                clock.seconds[name] = [round(before[0] + wall, 3), round(before[1] + cpu, 3)]

        return _Step()


def structure_hash(atoms) -> str:
    """Hash of numbers, positions (rounded to 1e-6 Å) and charge: a frame that changed is computed again."""
    digest = hashlib.sha1(atoms.numbers.astype(np.int64).tobytes())
    digest.update(np.round(atoms.positions, 6).astype(np.float64).tobytes())
    digest.update(str(int(atoms.info.get("charge", 0))).encode())
    return digest.hexdigest()[:16]


def exact_grid_density(result) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points (Å), weights (Å^3) of the SCF's grid and the exact DFT density there (e/Å^3).

    The same grid and density as :func:`ase_e3density.electron.reference.fit_error_vs_dft`, computed once for
    all the densities compared.
    """
    from pyscf.dft import numint

    from ase_e3density.electron.reference import _total_dm

    mf = result.mf
    if mf.grids.coords is None:
        mf.grids.build()
    coords, weights = mf.grids.coords, mf.grids.weights
    dm = _total_dm(mf)
    exact = np.zeros(len(coords))
    for start in range(0, len(coords), 20000):
        ao = numint.eval_ao(mf.mol, coords[start:start + 20000])
        exact[start:start + 20000] = numint.eval_rho(mf.mol, ao, dm)
    return coords * Bohr, weights * Bohr**3, exact / Bohr**3


def exact_esp(result, points: np.ndarray) -> np.ndarray:
    """Potential (V) of the DFT nuclei and density matrix at ``points`` (Å).

    PySCF's 3-centre integrals against unit point charges (as ``benchmarks/bench_esp_accuracy.py``), with the
    AO-pair symmetry to halve memory and work, in blocks of points bounded in memory.
    """
    from pyscf import df, gto

    from ase_e3density.electron.reference import _total_dm

    molecule = result.mf.mol
    dm = _total_dm(result.mf)
    dm_tril = (2 * dm - np.diag(np.diag(dm)))[np.tril_indices(molecule.nao)]
    coords, charges = molecule.atom_coords(), molecule.atom_charges()
    block = max(1, int(_ESP_BLOCK_BYTES / (8 * len(dm_tril))))
    values = np.empty(len(points))
    for s in range(0, len(points), block):
        p = points[s:s + block] / Bohr
        ints = df.incore.aux_e2(molecule, gto.fakemol_for_charges(p), "int3c2e", aosym="s2ij")  # (npair, npts)
        electrons = dm_tril @ ints
        nuclei = (charges / np.linalg.norm(p[:, None] - coords[None], axis=2)).sum(axis=1)
        values[s:s + block] = (nuclei - electrons) * Hartree
    return values


def dipole_record(mu: np.ndarray, reference: np.ndarray) -> dict:
    """A dipole (e·Å), its magnitude in e·Å and Debye, and its error against ``reference``."""
    error = float(np.linalg.norm(mu - reference))
    norm_ref = float(np.linalg.norm(reference))
    return {"vector_eA": [round(float(x), 6) for x in mu], "norm_eA": float(np.linalg.norm(mu)),
            "norm_D": float(np.linalg.norm(mu)) / Debye, "error_eA": error, "error_D": error / Debye,
            "relative_error": error / norm_ref if norm_ref > 0 else None}


def scf_iterations(atoms, model, clock: Clock, minao: dict | None = None, guesses=("model",),
                   have: dict | None = None, fit=None) -> dict:
    """SCF iterations to 1e-9 (and 1e-7) from 'minao' and the model's guesses, reference grid and fitting.

    ``minao``: the 'minao' run's part from the cache (model-independent), which is then not run again
    (``minao_cached`` says which). ``guesses``: ``model``, ``fit`` or either with ``:key=value,...`` (options
    of ``guess_from_density``); ``fit``: the fitted exact density (AtomicDensity) the ``fit`` guesses start
    from. ``have``: an earlier record's ``scf``, whose runs are kept and not run again.
    """
    bench = _bench_scf_guess()
    THRESHOLDS, parse_guess, scf = bench.THRESHOLDS, bench.parse_guess, bench.scf
    from ase_e3density import initial_guess
    from ase_e3density.electron.scf_guess import build_mole, guess_from_density

    if min(THRESHOLDS) != SCF_TOL:
        raise RuntimeError(f"bench_scf_guess.THRESHOLDS {THRESHOLDS} lacks {SCF_TOL}")
    mole = build_mole(atoms, basis=REFERENCE["basis"])
    out = dict(have or {})
    if "minao" not in out and minao is not None:
        out["minao"], out["minao_cached"] = minao, True
    for label in ("minao", *dict.fromkeys(("model", *guesses))):
        if label in out:
            continue
        dm0, options = None, {}
        if label != "minao":
            name, options = parse_guess(label)
            pinned = {**ONE_STEP, **options}  # a label means the same guess whatever the library's defaults
            with clock(f"guess_{label}"):
                if name == "fit":
                    dm0 = guess_from_density(fit, mole, xc=REFERENCE["xc"], **pinned)
                else:
                    dm0 = initial_guess(atoms, model=model, mol=mole, xc=REFERENCE["xc"], **pinned)
        with clock(f"scf_{label}"):
            energy, rows, _ = scf(mole, REFERENCE["grid_level"], REFERENCE["density_fit"], dm0=dm0,
                                  init_guess="minao")
        out[label] = {"energy_Ha": energy, **{f"cycles_{tol:.0e}": rows[tol][0] for tol in THRESHOLDS},
                      **{f"seconds_{tol:.0e}": [round(float(x), 3) for x in rows[tol][1]] for tol in THRESHOLDS}}
        if options:
            out[label]["options"] = options
        if label == "minao":
            out["minao_cached"] = False
    delta = out["model"]["energy_Ha"] - out["minao"]["energy_Ha"]
    out["energy_model_minus_minao_Ha"] = delta
    out["same_state"] = all(abs(out[g]["energy_Ha"] - out["minao"]["energy_Ha"]) < SAME_STATE_HA
                            for g in scf_guesses(out))
    return out


def _bench_scf_guess():
    """benchmarks/bench_scf_guess.py as a module (its SCF runner and guess labels)."""
    if str(ROOT / "benchmarks") not in sys.path:
        sys.path.insert(0, str(ROOT / "benchmarks"))
    import bench_scf_guess

    return bench_scf_guess


def valid_guess(label: str) -> bool:
    """``model`` or ``fit``, alone or with ``:key=value,...``, keys among the options of ``guess_from_density``."""
    import inspect

    from ase_e3density.electron.scf_guess import guess_from_density

    allowed = set(inspect.signature(guess_from_density).parameters) - {"density", "mol", "xc", "grids", "unrestricted"}
    try:
        name, options = _bench_scf_guess().parse_guess(label)
    except ValueError:  # an option without one "="
        return False
    return name in ("model", "fit") and set(options) <= allowed and (":" in label) == bool(options)


def scf_guesses(scf: dict) -> list[str]:
    """The guesses of a record's ``scf`` other than 'minao' (the model's and the fit's)."""
    return [k for k, v in scf.items() if k != "minao" and isinstance(v, dict)]


@dataclass
class ExactDFT:
    """What a molecule's measurement needs from the exact DFT, independent of the model (the cache's content).

    Grid points (Å), weights (Å^3), exact and fitted densities there (e/Å^3); the fit (``FIT_BASIS``); Merz-Kollman
    points (Å) and the exact potential there (V); DFT energy (eV), dipole about the centre of mass (e·Å) and SCF
    cycles; the 'minao' SCF part of ``scf_iterations`` once computed; ``seconds``: [wall, CPU] of the steps that
    computed it (in the run that did).
    """

    n_electrons: int
    energy_eV: float
    dipole: np.ndarray
    scf_cycles: int
    points: np.ndarray
    weights: np.ndarray
    rho_dft: np.ndarray
    rho_fit: np.ndarray
    fit: object  # AtomicDensity
    mk: np.ndarray
    esp_dft: np.ndarray
    seconds: dict
    minao: dict | None = None


def _as_stored(name: str, values: np.ndarray) -> np.ndarray:
    """``values`` as the cache holds them (float32 for ``_FLOAT32``), in float64: cached and computed agree."""
    return np.asarray(values, dtype=np.float32 if name in _FLOAT32 else np.float64).astype(np.float64)


def compute_exact(atoms) -> ExactDFT:
    """The reference DFT of ``atoms`` and everything the metrics take from it (see the module docstring)."""
    from ase_e3density.electron.reference import fit_density, run_dft
    from ase_e3density.electron.surfaces import mk_points

    clock = Clock()
    with clock("dft"):
        result = run_dft(atoms, xc=REFERENCE["xc"], basis=REFERENCE["basis"], grid_level=REFERENCE["grid_level"],
                         conv_tol=REFERENCE["conv_tol"], density_fit=REFERENCE["density_fit"],
                         charge=int(atoms.info.get("charge", 0)))
    with clock("fit"):
        fit = fit_density(result, FIT_BASIS)
    with clock("exact_grid"):
        points, weights, rho_dft = exact_grid_density(result)
        rho_fit = fit.evaluate(points)
    with clock("esp_exact"):
        mk = mk_points(atoms, MK["scales"], MK["points_per_A2"])
        esp_dft = exact_esp(result, mk)
    return ExactDFT(int(result.mf.mol.nelectron), float(result.energy), np.asarray(result.dipole, dtype=float),
                    int(result.info["scf_cycles"]), points, _as_stored("grid_weights", weights),
                    _as_stored("rho_dft", rho_dft), _as_stored("rho_fit", rho_fit), fit, mk, esp_dft, clock.seconds)


def cache_key(atoms) -> str:
    """What a cache entry must match (JSON): structure, reference settings, fit basis, MK shells, PySCF version."""
    import pyscf

    return json.dumps({"format": CACHE_FORMAT, "structure": structure_hash(atoms), "reference": REFERENCE,
                       "scf_conv_tol": SCF_TOL, "fit_basis": FIT_BASIS, "mk": MK, "pyscf": pyscf.__version__},
                      sort_keys=True)


def cache_path(cache: Path, atoms) -> Path:
    """The cache file of ``atoms``: one per structure (a changed setting overwrites it)."""
    return cache / f"{structure_hash(atoms)}.npz"


def write_cache(cache: Path, atoms, exact: ExactDFT) -> None:
    """Store ``exact`` (compressed .npz), written to a temporary name and renamed: never a half-written file."""
    arrays = {"key": np.array(cache_key(atoms)), "numbers": atoms.numbers, "positions": atoms.positions,
              "charge": int(atoms.info.get("charge", 0)), "n_electrons": exact.n_electrons,
              "energy_eV": exact.energy_eV, "dipole_eA": exact.dipole, "scf_cycles": exact.scf_cycles,
              "grid_points": exact.points, "grid_weights": exact.weights, "rho_dft": exact.rho_dft,
              "rho_fit": exact.rho_fit, "fit_coefficients": exact.fit.coefficients,
              "fit_nuclear_charges": exact.fit.nuclear_charges, "mk_points": exact.mk, "esp_dft_V": exact.esp_dft,
              "seconds": np.array(json.dumps(exact.seconds)),
              "minao": np.array(json.dumps(exact.minao))}
    arrays = {k: np.asarray(v, dtype=np.float32) if k in _FLOAT32 else v for k, v in arrays.items()}
    path = cache_path(cache, atoms)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary, temporary.open("wb") as handle:
        np.savez_compressed(handle, **arrays)


def read_cache(cache: Path, atoms) -> ExactDFT | None:
    """The cache entry of ``atoms``, or None when there is none or it does not match (said on stderr)."""
    from ase_e3density.electron.density import AtomicDensity

    path = cache_path(cache, atoms)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            stored = {k: data[k] for k in data.files}
        if str(stored["key"]) != cache_key(atoms):
            have, want = json.loads(str(stored["key"])), json.loads(cache_key(atoms))
            raise ValueError("its key differs in " + ", ".join(sorted(k for k in have.keys() | want.keys()
                                                                    if have.get(k) != want.get(k))))
        n = len(stored["grid_points"])
        shapes = {"numbers": (len(atoms),), "positions": (len(atoms), 3), "grid_points": (n, 3),
                  "grid_weights": (n,), "rho_dft": (n,), "rho_fit": (n,), "dipole_eA": (3,),
                  "mk_points": (len(stored["mk_points"]), 3), "esp_dft_V": (len(stored["mk_points"]),)}
        wrong = [k for k, shape in shapes.items() if stored[k].shape != shape or not np.isfinite(stored[k]).all()]
        if wrong:
            raise ValueError(f"arrays {', '.join(wrong)} have the wrong shape or are not finite")
        if (stored["numbers"] != atoms.numbers).any() or np.abs(stored["positions"] - atoms.positions).max() > 2e-6:
            raise ValueError("its atoms differ from the frame's")
        charge = int(atoms.info.get("charge", 0))
        if int(stored["charge"]) != charge or int(stored["n_electrons"]) != int(atoms.numbers.sum()) - charge:
            raise ValueError("its charge or electron count differs from the frame's")
        fit = AtomicDensity(atoms, FIT_BASIS, stored["fit_coefficients"], nuclear_charges=stored["fit_nuclear_charges"])
        return ExactDFT(int(stored["n_electrons"]), float(stored["energy_eV"]), stored["dipole_eA"].astype(float),
                        int(stored["scf_cycles"]), stored["grid_points"].astype(float),
                        *(stored[k].astype(float) for k in ("grid_weights", "rho_dft", "rho_fit")), fit,
                        stored["mk_points"].astype(float), stored["esp_dft_V"].astype(float),
                        json.loads(str(stored["seconds"])), json.loads(str(stored["minao"])))
    except Exception as exc:  # noqa: BLE001 - any unreadable or stale entry is computed again
        print(f"cache: ignoring {path} ({type(exc).__name__}: {exc}); computing the DFT again", file=sys.stderr)
        return None


def store(cache: Path | None, atoms, exact: ExactDFT) -> str:
    """Write ``exact`` to the cache: "written", or "write failed" (said on stderr); "off" without a cache."""
    if cache is None:
        return "off"
    try:
        write_cache(cache, atoms, exact)
        return "written"
    except OSError as exc:
        print(f"cache: could not write {cache_path(cache, atoms)} ({exc})", file=sys.stderr)
        return "write failed"


def measure(atoms, model, do_scf: bool, cache: Path | None = None, guesses=("model",)) -> dict:
    """Every measurement of one molecule (see the module docstring); times in ``seconds``.

    The exact-DFT part comes from ``cache`` where it holds a matching entry, else is computed (and stored there);
    ``dft_cache`` says which ("read", "written", "write failed", "off" without a cache) and ``exact_seconds`` what
    that part cost where it was computed.
    """
    from ase_e3density.electron.metrics import l1_error

    clock = Clock()
    charge = int(atoms.info.get("charge", 0))
    exact = None
    if cache is not None:
        with clock("cache_read"):
            exact = read_cache(cache, atoms)
        if exact is None:
            del clock.seconds["cache_read"]
    state = "read"
    if exact is None:
        exact = compute_exact(atoms)
        clock.seconds.update(exact.seconds)
        with clock("cache_write"):
            state = store(cache, atoms, exact)
        if cache is None:
            del clock.seconds["cache_write"]
    fit = exact.fit
    with clock("model"):
        predicted = model.predict_density(atoms, float(charge))
    with clock("eps"):
        n_e = exact.n_electrons
        model_on_grid = predicted.evaluate(exact.points)
        eps = {"model": l1_error(model_on_grid, exact.rho_dft, exact.weights, n_e),
               "fit": l1_error(exact.rho_fit, exact.rho_dft, exact.weights, n_e),
               "model_vs_fit": l1_error(model_on_grid, exact.rho_fit, exact.weights, n_e)}
    origin = atoms.get_center_of_mass()
    dipoles = {"dft": dipole_record(exact.dipole, exact.dipole),
               "fit": dipole_record(fit.get_dipole(origin), exact.dipole),
               "model": dipole_record(predicted.get_dipole(origin), exact.dipole)}
    with clock("esp_densities"):
        esp = {name: float(np.sqrt(np.mean((d.electrostatic_potential(exact.mk) - exact.esp_dft) ** 2)))
               / KCAL_PER_MOL_E for name, d in (("model", predicted), ("fit", fit))}
    record = {"n_atoms": len(atoms), "n_electrons": n_e, "grid_points": len(exact.points), "mk_points": len(exact.mk),
              "dft_energy_eV": exact.energy_eV, "dft_scf_cycles": exact.scf_cycles,
              "model_electrons": predicted.n_electrons, "domain_warnings": predicted.info.get("domain_warnings"),
              "eps_rho": eps, "dipole": dipoles, "esp_rmse_kcal_mol_e": esp}
    if do_scf:
        record["scf"] = scf_iterations(atoms, model, clock, exact.minao, guesses, fit=exact.fit)
        if exact.minao is None:
            exact.minao = record["scf"]["minao"]
            exact.seconds["scf_minao"] = clock.seconds["scf_minao"]
            if cache is not None and state != "write failed":
                with clock("cache_write"):
                    store(cache, atoms, exact)
    record["dft_cache"] = state
    record["exact_seconds"] = exact.seconds
    record["seconds"] = clock.seconds
    return record


def read_records(path: Path) -> dict:
    """The last line of each (frame, hash) key of a results file."""
    records = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                records[(row["frame"], row["hash"])] = row
    return records


def _stats(values) -> list[str]:
    v = np.array([x for x in values if x is not None], dtype=float)
    if not len(v):
        return ["0", "", "", ""]
    return [f"{len(v)}", f"{np.median(v):.4g}", f"{v.mean():.4g}", f"{v.max():.4g}"]


def _get(record: dict, *path):
    """``record[path[0]][path[1]]...``, or None where a key is missing."""
    for key in path:
        if isinstance(record, dict) and key in record or isinstance(record, list) and key < len(record):
            record = record[key]
        else:
            return None
    return record


def scf_counts(records: list[dict], guess: str) -> tuple[int, int, int]:
    """(molecules, cycles from ``guess``, cycles from 'minao') to SCF_TOL, over the records that have both."""
    key = f"cycles_{SCF_TOL:.0e}"
    both = [r["scf"] for r in records if guess in r.get("scf", {})]
    return len(both), sum(s[guess][key] for s in both), sum(s["minao"][key] for s in both)


def scf_totals(with_scf: list[dict], guess: str) -> str:
    """One line: the cycles to SCF_TOL from ``guess`` and from 'minao', summed over the molecules that have both."""
    n, model, minao = scf_counts(with_scf, guess)
    return (f"SCF to {SCF_TOL:g} on {n} molecules: {guess} guess {model} cycles, minao {minao}: "
            f"{100 * (1 - model / minao):.1f} % fewer")


def _percent(x):
    return None if x is None else 100 * x


def summary(records: list[dict], per_molecule: bool = False) -> str:
    """Markdown tables: medians, means and maxima of each measurement; counts; optionally one row per molecule."""
    done = [r for r in records if "error" not in r]
    failed = [r for r in records if "error" in r]
    with_scf = [r for r in done if "scf" in r]
    rows = [(name, [_get(r, *path) for r in done]) for name, path in (
        ("eps_rho model vs DFT (%)", ("eps_rho", "model")),
        ("eps_rho fit vs DFT (%, the floor)", ("eps_rho", "fit")),
        ("eps_rho model vs fit (%)", ("eps_rho", "model_vs_fit")),
        ("dipole DFT, norm (D)", ("dipole", "dft", "norm_D")),
        ("dipole error model (D)", ("dipole", "model", "error_D")),
        ("dipole error model (e·Å)", ("dipole", "model", "error_eA")),
        ("dipole error fit (D)", ("dipole", "fit", "error_D")),
        ("ESP RMSE model (kcal/(mol e))", ("esp_rmse_kcal_mol_e", "model")),
        ("ESP RMSE fit (kcal/(mol e))", ("esp_rmse_kcal_mol_e", "fit")))]
    rows.insert(6, ("dipole error model / DFT norm (%)", [_percent(_get(r, "dipole", "model", "relative_error"))
                                                         for r in done]))
    guesses = list(dict.fromkeys(g for r in with_scf for g in scf_guesses(r["scf"])))
    for tol in (f"{SCF_TOL:.0e}", "1e-07") if with_scf else ():
        rows.append((f"SCF cycles to {tol}, minao", [_get(r, "scf", "minao", f"cycles_{tol}") for r in with_scf]))
        for guess in guesses:
            pairs = [(_get(r, "scf", "minao", f"cycles_{tol}"), r["scf"][guess][f"cycles_{tol}"])
                     for r in with_scf if guess in r["scf"]]
            rows += [(f"SCF cycles to {tol}, {guess} guess", [m for _, m in pairs]),
                     (f"SCF cycles saved to {tol} (minao - {guess})", [a - m for a, m in pairs])]
    for guess in guesses:
        rows.append((f"E({guess} guess) - E(minao), absolute (Ha)",
                     [abs(r["scf"][guess]["energy_Ha"] - r["scf"]["minao"]["energy_Ha"])
                      for r in with_scf if guess in r["scf"]]))
    for which, kind in ((0, "wall"), (1, "CPU")):
        rows += [(f"{kind} s: {step}", [_get(r, "seconds", step, which) for r in done])
                 for step in sorted({k for r in done for k in r["seconds"]})]
    rows += [("wall s: molecule", [r["wall_seconds"] for r in done]),
             ("CPU s: molecule", [r["cpu_seconds"] for r in done]), ("atoms", [r["n_atoms"] for r in done])]
    lines = ["| quantity | n | median | mean | max |", "| --- | ---: | ---: | ---: | ---: |"]
    lines += [f"| {name} | " + " | ".join(_stats(values)) + " |" for name, values in rows]
    warned = sum(bool(r.get("domain_warnings")) for r in done)
    cached = sum(r.get("dft_cache") == "read" for r in done)
    lines += ["", f"molecules: {len(done)} measured ({cached} with the exact DFT from the cache), {len(failed)} "
              f"failed, {warned} with domain warnings"
              + (f"; SCF compared on {len(with_scf)}, {sum(not r['scf']['same_state'] for r in with_scf)} reached "
                 f"a different state (|dE| >= {SAME_STATE_HA:g} Ha)" if with_scf else "")]
    lines += [f"failed: frame {r['frame']}: {r['error']}" for r in failed]
    lines += [scf_totals(with_scf, guess) for guess in guesses]
    if per_molecule:
        runs = ["minao", *guesses]
        lines += ["", "| frame | formula | atoms | eps model (%) | eps fit (%) | dipole DFT (D) | "
                  "dipole error model (D) | ESP model | ESP fit | " + " | ".join(f"SCF {g}" for g in runs) + " | wall s |",
                  "| ---: | --- " + "| ---: " * (8 + len(runs)) + "|"]
        for r in sorted(done, key=lambda r: r["frame"]):
            scf = r.get("scf", {})
            cycles = [str(scf[g][f"cycles_{SCF_TOL:.0e}"]) if g in scf else "" for g in runs]
            lines.append(f"| {r['frame']} | {r['formula']} | {r['n_atoms']} | {r['eps_rho']['model']:.3f} | "
                         f"{r['eps_rho']['fit']:.3f} | {r['dipole']['dft']['norm_D']:.3f} | "
                         f"{r['dipole']['model']['error_D']:.3f} | {r['esp_rmse_kcal_mol_e']['model']:.3f} | "
                         f"{r['esp_rmse_kcal_mol_e']['fit']:.3f} | " + " | ".join(cycles) +
                         f" | {r['wall_seconds']:.1f} |")
    return "\n".join(lines)


def structures_path(args) -> Path:
    if args.structures:
        return Path(args.structures)
    path = ROOT / SETS[args.set]
    return path if path.is_file() else Path("/work/main") / SETS[args.set]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=sorted(SETS), default="test_9")
    parser.add_argument("--structures", help="an extxyz file instead of --set")
    parser.add_argument("--start", type=int, default=0, help="first frame")
    parser.add_argument("--n", type=int, help="number of frames from --start (default: all)")
    parser.add_argument("--model", default="organic", help="shipped model name or deployed file")
    parser.add_argument("--scf", action="store_true", help="also SCF iterations from minao and the model's guess")
    parser.add_argument("--guesses", nargs="+", default=["model"], metavar="GUESS",
                        help="with --scf: model or model:key=value,... (guess_from_density options, e.g. "
                             "model:exact_exchange=1), or fit[:key=value,...] from the fitted exact density; "
                             "default: model")
    parser.add_argument("--out", required=True, help="results, one JSON line per molecule (appended)")
    parser.add_argument("--summary-only", action="store_true", help="print the summary of --out and stop")
    parser.add_argument("--per-molecule", action="store_true", help="also one summary row per molecule")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--cache", default=str(CACHE_DIR),
                       help="folder of the exact-DFT cache, one .npz per molecule (default: runs/exact_dft/)")
    where.add_argument("--no-cache", action="store_true", help="compute the exact DFT, read and write no cache")
    args = parser.parse_args(argv)
    guesses = list(dict.fromkeys(["model", *args.guesses]))
    bad = [g for g in guesses if not valid_guess(g)]
    if bad:
        print(f"error: unknown guess {bad[0]!r}: give model or fit, alone or with :key=value,... "
              "(options of guess_from_density)", file=sys.stderr)
        return 2
    out = Path(args.out)
    if args.summary_only:
        if not out.is_file():
            print(f"error: no results file {out}", file=sys.stderr)
            return 2
        print(summary(list(read_records(out).values()), args.per_molecule))
        return 0

    from ase_e3density.errors import E3DensityError
    from ase_e3density.models import load_model, resolve_model_path
    from ase_e3density.models.format import same_network_checksums

    path = structures_path(args)
    if not path.is_file():
        print(f"error: no structure file {path}", file=sys.stderr)
        return 2
    try:
        model = load_model(resolve_model_path(args.model))
    except E3DensityError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not hasattr(model, "predict_density"):
        print(f"error: {args.model} is a {model.kind} model, not an electron-density model", file=sys.stderr)
        return 2
    frames = read(path, f"{args.start}:" + ("" if args.n is None else f"{args.start + args.n}"))
    records = read_records(out)
    others = {r["model_checksum"] for r in records.values()} - same_network_checksums(model.metadata)
    if others:
        print(f"error: {out} holds results of another model (checksum {sorted(others)[0][:12]}...); "
              "give another --out", file=sys.stderr)
        return 2
    out.parent.mkdir(parents=True, exist_ok=True)
    cache = None if args.no_cache else Path(args.cache)
    unsupported = already = 0
    with out.open("a") as handle:
        for offset, atoms in enumerate(frames):
            frame = args.start + offset
            if set(atoms.get_chemical_symbols()) - set(model.species):
                unsupported += 1
                continue
            key = (frame, structure_hash(atoms))
            old = records.get(key)
            if old is not None and ("error" in old or not args.scf or set(guesses) <= set(old.get("scf", {}))):
                already += 1
                continue
            start = (time.perf_counter(), time.process_time())
            row = {"frame": frame, "hash": key[1], "structures": str(path), "formula": atoms.get_chemical_formula(),
                   "smiles": atoms.info.get("smiles"), "name": atoms.info.get("name"),
                   "model": str(model.path), "model_checksum": model.checksum,
                   "reference": {**REFERENCE, "scf_conv_tol": SCF_TOL if args.scf else None}}
            earlier = (0.0, 0.0)
            try:
                if old is not None and args.scf:  # measured before without (some of) the SCF: add it, keep the rest
                    earlier = (old["wall_seconds"], old["cpu_seconds"])
                    clock = Clock()
                    warnings_now = model.predict_density(atoms, float(atoms.info.get("charge", 0))).info
                    exact = None if cache is None else read_cache(cache, atoms)
                    computed = exact is None and any(g.startswith("fit") for g in guesses)  # the fit guesses need it
                    if computed:
                        exact = compute_exact(atoms)
                        clock.seconds.update(exact.seconds)
                    row = {**old, **{k: row[k] for k in ("model", "model_checksum", "reference")},
                           "domain_warnings": warnings_now.get("domain_warnings"),  # this file's words
                           "scf": scf_iterations(atoms, model, clock, None if exact is None else exact.minao,
                                                 guesses, old.get("scf"), None if exact is None else exact.fit)}
                    minao_added = exact is not None and exact.minao is None and "scf_minao" in clock.seconds
                    if minao_added:  # the cache entry gets the 'minao' part
                        exact.minao, exact.seconds["scf_minao"] = row["scf"]["minao"], clock.seconds["scf_minao"]
                    if computed or minao_added:  # a DFT computed here is kept, as measure() keeps it
                        store(cache, atoms, exact)
                    row["seconds"] = {**old["seconds"], **clock.seconds}
                else:
                    row.update(measure(atoms, model, args.scf, cache, guesses))
            except Exception as exc:  # noqa: BLE001 - recorded, the run goes on
                row["error"] = f"{type(exc).__name__}: {exc}"
                if not isinstance(exc, E3DensityError):  # a refusal says enough in one line; a fault needs its trace
                    traceback.print_exc()
            row["wall_seconds"] = earlier[0] + time.perf_counter() - start[0]
            row["cpu_seconds"] = earlier[1] + time.process_time() - start[1]
            handle.write(json.dumps(row) + "\n")
            handle.flush()
            records[key] = row
            state = row.get("error") or (f"eps model {row['eps_rho']['model']:.3f} % fit {row['eps_rho']['fit']:.3f} %"
                                         f", dipole error {row['dipole']['model']['error_D']:.3f} D, ESP "
                                         f"{row['esp_rmse_kcal_mol_e']['model']:.3f} kcal/(mol e)")
            print(f"frame {frame} {row['formula']}: {state} ({row['wall_seconds']:.1f} s)", flush=True)
    if unsupported:
        print(f"skipped {unsupported} frame(s) with elements the model lacks ({' '.join(model.species)})")
    if already:
        print(f"skipped {already} frame(s) already in {out} (this run measured nothing for them)")
    print(f"model: {model.path} (checksum {model.checksum[:12]}...); the summary covers every record of {out}")
    print(summary(list(records.values()), args.per_molecule))
    return 0


if __name__ == "__main__":
    sys.exit(main())
