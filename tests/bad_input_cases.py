"""Bad input across the Python API and the command line, with what each must produce.

Used by tests/test_bad_input.py (every case must give its error or warning) and by
scripts/make_bad_input_table.py (docs/bad_input.md: the exact message a user sees).
"""
from __future__ import annotations

import contextlib
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from ase import Atoms
from ase.build import molecule
from ase.calculators.calculator import PropertyNotImplementedError

from ase_e3density import errors as E

__all__ = ["Case", "Context", "CASES", "run_case", "make_context"]


@dataclass
class Context:
    """Files the cases use, made once in a temporary folder."""

    root: Path
    model: Path           # a small deployed model (H, C, N, O)
    reference_db: Path     # a one-row reference database in the default basis (water)
    other_basis_db: Path   # the same water fitted onto def2-universal-jkfit


@dataclass
class Case:
    area: str
    what: str
    run: Callable[[Context], object]
    expect: type            # exception class, or a Warning class for flagged (not refused) input
    pattern: str            # regular expression the message must match
    cli: bool = False       # run(ctx) returns argv for `e3density`


def water(**info) -> Atoms:
    atoms = molecule("H2O")
    atoms.info.update(info)
    return atoms


def calc(ctx: Context, **kwargs):
    from ase_e3density import E3DensityCalculator
    return E3DensityCalculator(kwargs.pop("model", ctx.model), **kwargs)


def dipole_of(atoms: Atoms, ctx: Context, **kwargs):
    atoms.calc = calc(ctx, **kwargs)
    return atoms.get_dipole_moment()


def periodic_water(cell: float) -> Atoms:
    atoms = molecule("H2O")
    atoms.cell, atoms.pbc = [cell] * 3, True
    atoms.center()
    return atoms


def default_dipole(atoms: Atoms):
    from ase_e3density import E3DensityCalculator
    atoms.calc = E3DensityCalculator()
    return atoms.get_dipole_moment()


def edited_model(ctx: Context, **changes) -> Path:
    out = ctx.root / f"edited_{'_'.join(changes)}.pt"
    with zipfile.ZipFile(ctx.model) as zin, zipfile.ZipFile(out, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename.endswith("extra/metadata.json"):
                data = json.dumps({**json.loads(data), **changes}).encode()
            zout.writestr(item, data)
    return out


def write(ctx: Context, name: str, text: str | bytes) -> Path:
    path = ctx.root / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def load(path):
    from ase_e3density.models import load_model
    return load_model(path)


def plain_torchscript(ctx: Context) -> Path:
    import torch

    from ase_e3density.models.jit import quiet_jit
    path = ctx.root / "plain.pt"
    with quiet_jit():
        torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(path))
    return path


def yaml_config(ctx: Context, name: str, text: str) -> Path:
    return write(ctx, name, text)


def train_config(ctx: Context, text: str):
    from ase_e3density.train import TrainConfig
    return TrainConfig.from_yaml(yaml_config(ctx, "cfg.yaml", text))


def run_train(ctx: Context, text: str):
    from ase_e3density.train import TrainConfig, train
    return train(TrainConfig.from_yaml(yaml_config(ctx, "run.yaml", text)))


def rng_atoms(n: int, box: float, symbol: str = "H", seed: int = 0) -> Atoms:
    return Atoms(symbol * n, positions=np.random.default_rng(seed).uniform(0, box, (n, 3)))


def dft(atoms: Atoms, **kwargs):
    from ase_e3density.electron.reference import run_dft
    return run_dft(atoms, **kwargs)


def density(atoms: Atoms, coefficients):
    from ase_e3density import AtomicDensity
    return AtomicDensity(atoms, "def2-universal-jfit-decontracted", coefficients)


def default_density(atoms: Atoms):
    from ase_e3density.models import load_model, shipped_model_path
    return load_model(shipped_model_path()).predict_density(atoms)


def partition_of(atoms: Atoms, **kwargs):
    """A Hirshfeld partition of a neutral density of s functions only (each atom holds Z electrons)."""
    from ase_e3density import load_basis
    from ase_e3density.electron.partition import partition
    basis = load_basis()
    c = np.concatenate([basis[s].charge_integrals * z / (basis[s].charge_integrals @ basis[s].charge_integrals)
                        for s, z in zip(atoms.get_chemical_symbols(), atoms.numbers)])
    return partition(density(atoms, c), level=1, **kwargs)


def hydrogen_lattice() -> Atoms:
    grid = np.stack(np.meshgrid(*[np.arange(6)] * 3, indexing="ij"), -1).reshape(-1, 3) * 1.2
    return Atoms(f"H{len(grid)}", positions=grid)


def hirshfeld_of(atoms: Atoms, ctx: Context):
    atoms.calc = calc(ctx)
    return atoms.calc.get_hirshfeld_charges(atoms)


def energy_of(atoms: Atoms, ctx: Context):
    atoms.calc = calc(ctx)
    return atoms.get_potential_energy()


def compare_different():
    from ase_e3density import density_error
    moved = water()
    moved.positions[0] += 0.2
    return density_error(default_density(water()), default_density(moved))


def locked_reference(ctx: Context):
    """A second writer while the first holds the database."""
    from ase_e3density.fileio import exclusive_writer
    with exclusive_writer(ctx.root / "busy.db", "reference database"):
        from ase_e3density.cli import main
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr):
            main(["reference", str(write(ctx, "w.xyz", "3\n\nO 0 0 0\nH 0.96 0 0\nH -0.24 0.93 0\n")), "-o",
                  str(ctx.root / "busy.db")])
        raise E.E3DensityError(stderr.getvalue().strip().split("error: ", 1)[-1])


def plain_sqlite(ctx: Context, name: str = "foreign.db") -> Path:
    """An SQLite database that is not an ase.db (one table 'foo')."""
    import sqlite3

    path = ctx.root / name
    with contextlib.closing(sqlite3.connect(path)) as con:
        con.execute("CREATE TABLE IF NOT EXISTS foo (x INTEGER)")
        con.commit()
    return path


def other_ase_db(ctx: Context, name: str = "someone_elses.db") -> Path:
    """An ase.db written by someone else: a water row with other key-value pairs, no metadata of ours."""
    from ase.db import connect

    path = ctx.root / name
    if not path.exists():
        connect(path).write(water(), energy_tag=1.0, project="thesis")
    return path


def folder_with(ctx: Context, name: str, *files: str) -> Path:
    """A folder holding ``files`` (a user's own)."""
    path = ctx.root / name
    path.mkdir(exist_ok=True)
    for f in files:
        (path / f).write_text("my own notes\n")
    return path


def partial_cif(ctx: Context) -> Path:
    """A CIF whose one site is half C, half N (ASE's reader: atoms.info['occupancy'])."""
    return write(ctx, "cn.cif", "data_CN\n_cell_length_a 3\n_cell_length_b 3\n_cell_length_c 3\n_cell_angle_alpha 90\n"
                 "_cell_angle_beta 90\n_cell_angle_gamma 90\n_symmetry_space_group_name_H-M 'P 1'\nloop_\n"
                 "_atom_site_label\n_atom_site_type_symbol\n_atom_site_fract_x\n_atom_site_fract_y\n_atom_site_fract_z\n"
                 "_atom_site_occupancy\nC1 C 0 0 0 0.5\nN1 N 0 0 0 0.5\n")


def alloy_cif(ctx: Context) -> Path:
    """CuNi on one fcc site (a virtual crystal for the phonon model)."""
    return write(ctx, "cuni.cif", "data_CuNi\n_cell_length_a 3.6\n_cell_length_b 3.6\n_cell_length_c 3.6\n"
                 "_cell_angle_alpha 90\n_cell_angle_beta 90\n_cell_angle_gamma 90\n"
                 "_symmetry_space_group_name_H-M 'F m -3 m'\n_symmetry_Int_Tables_number 225\nloop_\n"
                 "_atom_site_label\n_atom_site_type_symbol\n_atom_site_fract_x\n_atom_site_fract_y\n_atom_site_fract_z\n"
                 "_atom_site_occupancy\nCu1 Cu 0 0 0 0.5\nNi1 Ni 0 0 0 0.5\n")


def read_one(path: Path) -> Atoms:
    from ase.io import read
    return read(path)


def magnetic_water() -> Atoms:
    atoms = water()
    atoms.set_initial_magnetic_moments([2.0, 0.0, 0.0])
    return atoms


def water_file(ctx: Context) -> Path:
    return write(ctx, "w.xyz", "3\n\nO 0 0 0\nH 0.96 0 0\nH -0.24 0.93 0\n")


def references_into(ctx: Context, output: Path):
    from ase_e3density.generate import references
    return references([water()], output)


def train_into(ctx: Context, output: str):
    return ["train", str(yaml_config(ctx, f"out_{output}.yaml", f"train: x.db\noutput: {output}\n"))]


CASES: list[Case] = [
    # --- the calculator ------------------------------------------------------------------------
    Case("calculator", "model=123", lambda c: calc(c, model=123), E.CalculatorParameterError, "model must be .* not int"),
    Case("calculator", "model file does not exist", lambda c: calc(c, model=c.root / "missing.pt"), E.ModelNotFoundError, "no such model file"),
    Case("calculator", "model name that is not shipped", lambda c: calc(c, model="mace"), E.ModelNotFoundError, "no shipped model named 'mace'"),
    Case("calculator", "dtype='int32'", lambda c: calc(c, dtype="int32"), E.CalculatorParameterError, "dtype must be 'float32' or 'float64'"),
    Case("calculator", "device='gpu'", lambda c: calc(c, device="gpu"), E.CalculatorParameterError, "unknown device 'gpu'"),
    Case("calculator", "device='cuda' on a machine without a GPU", lambda c: calc(c, device="cuda"), E.CalculatorParameterError, "sees no CUDA GPU"),
    Case("calculator", "charge='abc'", lambda c: calc(c, charge="abc"), E.CalculatorParameterError, "charge must be a number"),
    Case("calculator", "charge=nan", lambda c: calc(c, charge=float("nan")), E.CalculatorParameterError, "charge must be finite"),
    Case("calculator", "charge=inf", lambda c: calc(c, charge=float("inf")), E.CalculatorParameterError, "charge must be finite"),
    Case("calculator", "atoms.info['charge'] = 'x'", lambda c: dipole_of(water(charge="x"), c), E.CalculatorParameterError, r"atoms.info\[\"charge\"\] must be a number"),
    Case("calculator", "charge +5 on one H atom (-4 electrons)", lambda c: dipole_of(Atoms("H"), c, charge=5), E.InvalidStructureError, "leaves -4 electrons"),
    Case("calculator", "charge 1e9 on water", lambda c: dipole_of(water(), c, charge=1e9), E.InvalidStructureError, "leaves -1e\\+09 electrons"),
    Case("calculator", "empty Atoms", lambda c: dipole_of(Atoms(), c), E.InvalidStructureError, "no atoms"),
    Case("calculator", "NaN position", lambda c: dipole_of(Atoms("H2", positions=[[0, 0, 0], [np.nan, 0, 0]]), c), E.InvalidStructureError, "non-finite"),
    Case("calculator", "infinite position", lambda c: dipole_of(Atoms("H2", positions=[[0, 0, 0], [np.inf, 0, 0]]), c), E.InvalidStructureError, "non-finite"),
    Case("calculator", "two atoms 0.11 Å apart", lambda c: dipole_of(Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.11]]), c), E.InvalidStructureError, "0.11 Å from atom 1.*overlapping"),
    Case("calculator", "O 0.3 Å from H (a bond squeezed to a third)", lambda c: dipole_of(Atoms("OH", positions=[[0, 0, 0], [0.3, 0, 0]]), c), E.InvalidStructureError, "closer than 0.485 Å"),
    Case("calculator", "periodic images 0.5 Å apart", lambda c: dipole_of(Atoms("O", cell=[0.5, 5, 5], pbc=True), c), E.InvalidStructureError, "periodic image of itself"),
    Case("calculator", "singular cell with pbc", lambda c: dipole_of(Atoms("H", cell=[[1, 0, 0], [2, 0, 0], [0, 0, 1]], pbc=True), c), E.InvalidStructureError, "cell is singular"),
    Case("calculator", "zero cell with pbc=True", lambda c: dipole_of(Atoms("H", pbc=True), c), E.InvalidStructureError, "cell is singular"),
    Case("calculator", "element the model lacks (Si)", lambda c: dipole_of(Atoms("SiH4", positions=rng_atoms(5, 4.0).positions), c), E.UnsupportedElementError, "Si.*supported: H C N O"),
    Case("calculator", "ethanol with the default (water) model", lambda c: default_dipole(molecule("CH3CH2OH")), E.UnsupportedElementError, "C not supported by the shipped model 'default'.*the shipped model 'organic' covers them"),
    Case("calculator", "silane with the default (water) model: no shipped model covers Si", lambda c: default_dipole(molecule("SiH4")), E.UnsupportedElementError, "Si not supported by the shipped model 'default'.*no shipped model covers them"),
    Case("calculator", "dummy atom X (Z=0)", lambda c: dipole_of(Atoms("XH", positions=[[0, 0, 0], [1, 0, 0]]), c), E.InvalidStructureError, "dummy atom"),
    Case("calculator", "get_atomic_density() before any atoms", lambda c: calc(c).get_atomic_density(), E.CalculatorParameterError, "no structure yet"),
    Case("calculator", "a property it does not compute (energy)", lambda c: energy_of(water(), c), PropertyNotImplementedError, "energy"),
    Case("calculator", "model_checksum of another file", lambda c: calc(c, model_checksum="0" * 64), E.ModelFileError, "another file than the one asked for"),
    # --- flagged, not refused -----------------------------------------------------------------
    Case("domain", "water with charge +10 (default model)", lambda c: default_dipole(water(charge=10)), E.DomainWarning, r"total charge \+10 outside the training range"),
    Case("domain", "216 H atoms on a 1.2 Å cubic lattice (default model)", lambda c: default_dipole(hydrogen_lattice()), E.DomainWarning, "closer than in training.*more crowded|closer than in training"),
    Case("domain", "water in a periodic 4 Å box (default model: trained on isolated clusters)", lambda c: default_dipole(periodic_water(4.0)), E.DomainWarning, "periodic images within the cutoff .* isolated molecules and clusters only"),
    Case("domain", "an isolated O atom (default model)", lambda c: default_dipole(Atoms("O")), E.DomainWarning, "more isolated than in training"),
    Case("domain", "O2 (default model: O-O never that close)", lambda c: default_dipole(molecule("O2")), E.DomainWarning, "O-O at 1.2.* Å"),
    Case("domain", "water dimer squeezed to O...O 2.2 Å (default model)", lambda c: default_dipole(_squeezed_dimer()), E.DomainWarning, "O-O at 2.2"),
    # --- deployed files -------------------------------------------------------------------------
    Case("model file", "a text file named .pt", lambda c: load(write(c, "notes.pt", "not a model")), E.ModelFileError, "not an ase_e3density model"),
    Case("model file", "TorchScript without our metadata", lambda c: load(plain_torchscript(c)), E.ModelFileError, "without ase_e3density metadata"),
    Case("model file", "truncated file", lambda c: load(write(c, "half.pt", c.model.read_bytes()[: c.model.stat().st_size // 2])), E.ModelFileError, "not an ase_e3density model|corrupt|could not be loaded"),
    Case("model file", "a bare torch.export .pt2 file", lambda c: load(c.root / "model.pt2"), E.ModelFileError, "bare torch.export program carries no metadata"),
    Case("model file", "cutoff edited in the metadata", lambda c: load(edited_model(c, cutoff=5.0)), E.ModelFileError, "was edited or is corrupt"),
    Case("model file", "species edited in the metadata", lambda c: load(edited_model(c, species=["H", "O"])), E.ModelFileError, "was edited or is corrupt"),
    Case("model file", "written by a newer format", lambda c: load(edited_model(c, format_version=99)), E.ModelVersionError, "format version 99.*upgrade"),
    Case("model file", "written by format 1 (no checksum)", lambda c: load(edited_model(c, format_version=1)), E.ModelVersionError, "deploy its checkpoint again"),
    # --- physics core -----------------------------------------------------------------------
    Case("physics", "unknown basis set name", lambda c: __import__("ase_e3density").load_basis("nope"), E.UnknownBasisError, "unknown basis set 'nope'"),
    Case("physics", "element missing from the basis (U)", lambda c: __import__("ase_e3density").load_basis()["U"], E.UnsupportedElementError, "U is not in basis set"),
    Case("physics", "AtomicDensity with one coefficient too few", lambda c: density(water(), np.zeros(101)), E.E3DensityError, "expected 102 coefficients"),
    Case("physics", "AtomicDensity with a NaN coefficient", lambda c: density(water(), np.full(102, np.nan)), E.E3DensityError, "NaN or inf"),
    Case("physics", "grid spacing 0", lambda c: default_density(water()).on_grid(spacing=0), E.E3DensityError, "spacing must be a positive"),
    Case("physics", "grid padding -1", lambda c: default_density(water()).on_grid(padding=-1), E.E3DensityError, "padding must be a non-negative"),
    Case("physics", "cube grid of 7 TiB (spacing 0.001 Å)", lambda c: default_density(water()).write_cube(c.root / "x.cube", spacing=0.001), E.ResourceError, "would need about .* GiB"),
    Case("physics", "quadrature grid level 9", lambda c: __import__("ase_e3density.electron.grids", fromlist=["x"]).molecular_grid(water(), 9), E.E3DensityError, "grid level must be one of"),
    Case("physics", "partition: fragments that miss an atom", lambda c: partition_of(water(), fragments=[[0, 1]]), E.E3DensityError, "fragments must hold every atom index"),
    Case("physics", "partition: an element without a free-atom density (K)", lambda c: partition_of(Atoms("KH", positions=[[0, 0, 0], [0, 0, 2.3]])), E.UnsupportedElementError, "no free-atom density for K"),
    Case("physics", "density_error of two different structures", lambda c: compare_different(), E.E3DensityError, "same structure"),
    # --- PySCF references ---------------------------------------------------------------------
    Case("reference", "water with charge +1 forced closed-shell", lambda c: dft(water(), charge=1, spin=0), E.E3DensityError, "cannot form a closed-shell state"),
    Case("reference", "water with charge +20", lambda c: dft(water(), charge=20), E.E3DensityError, "leaves -10 electrons"),
    Case("reference", "spin larger than the electron count", lambda c: dft(Atoms("H"), spin=3), E.E3DensityError, "cannot form a spin=3 state"),
    Case("reference", "a periodic structure", lambda c: dft(Atoms("H2", positions=[[0, 0, 0], [0.74, 0, 0]], cell=[5, 5, 5], pbc=True)), E.E3DensityError, "molecular: pass atoms with pbc=False"),
    Case("reference", "PySCF grid level 12", lambda c: dft(water(), grid_level=12), E.E3DensityError, "grid level must be 0-9"),
    Case("reference", "O2 as a closed-shell singlet", lambda c: dft(molecule("O2")), E.E3DensityError, "unstable towards an open-shell"),
    Case("reference", "a second writer on one database", locked_reference, E.E3DensityError, "another process is writing to reference database"),
    # --- training configuration -----------------------------------------------------------------
    Case("training", "unknown option", lambda c: train_config(c, "train: x.db\nlearning_rate: 0.1\n"), E.ConfigError, "unknown training option.*learning_rate"),
    Case("training", "epochs: ten", lambda c: train_config(c, "train: x.db\nepochs: ten\n"), E.ConfigError, "option epochs: expected an integer, got 'ten'"),
    Case("training", "lr: -1", lambda c: train_config(c, "train: x.db\nlr: -1\n"), E.ConfigError, "option lr: must be > 0"),
    Case("training", "validation_fraction: 2", lambda c: train_config(c, "train: x.db\nvalidation_fraction: 2\n"), E.ConfigError, "option validation_fraction: must be > 0.0 and <= 1.0"),
    Case("training", "misspelt model option", lambda c: train_config(c, "train: x.db\nmodel: {hiden: {0: 4}}\n"), E.ConfigError, "option model.hiden: unknown"),
    Case("training", "negative cutoff", lambda c: train_config(c, "train: x.db\nmodel: {cutoff: -3}\n"), E.ConfigError, "option model.cutoff: must be > 0"),
    Case("training", "free_atom: zero", lambda c: train_config(c, "train: x.db\nfree_atom: zero\n"), E.ConfigError, "option free_atom: must be one of pyscf, mean"),
    Case("training", "dtype: float16", lambda c: train_config(c, "train: x.db\ndtype: float16\n"), E.ConfigError, "option dtype: must be one of float32, float64"),
    Case("training", "no train option", lambda c: train_config(c, "epochs: 3\n"), E.ConfigError, "'train'.*is required"),
    Case("training", "output_lmax: 7", lambda c: train_config(c, "train: x.db\noutput_lmax: 7\n"), E.ConfigError, "option output_lmax: must be >= 0 and <= 4"),
    Case("training", "feature_stats_every: -1", lambda c: train_config(c, "train: x.db\nfeature_stats_every: -1\n"), E.ConfigError, "option feature_stats_every: must be >= 0"),
    Case("training", "coulomb_weight: -1", lambda c: train_config(c, "train: x.db\ncoulomb_weight: -1\n"), E.ConfigError, "option coulomb_weight: must be >= 0"),
    Case("training", "fragment_weight: -1", lambda c: train_config(c, "train: x.db\nfragment_weight: -1\n"), E.ConfigError, "option fragment_weight: must be >= 0"),
    Case("training", "not valid YAML", lambda c: train_config(c, "train: [unclosed\n"), E.ConfigError, "not valid YAML"),
    Case("training", "a YAML list instead of options", lambda c: train_config(c, "- 1\n- 2\n"), E.ConfigError, "expected a mapping of options"),
    Case("training", "configuration file missing", lambda c: __import__("ase_e3density.train", fromlist=["x"]).TrainConfig.from_yaml(c.root / "none.yaml"), E.ConfigError, "no such training configuration"),
    Case("training", "training database missing (none is created)", lambda c: run_train(c, "train: missing.db\n"), E.ConfigError, "option train: no such database"),
    # --- the command line (one line on stderr, exit status 2, no traceback) ----------------------
    Case("cli", "predict: structure file missing", lambda c: ["predict", str(c.root / "none.xyz")], E.E3DensityError, "structure file .*none.xyz does not exist", cli=True),
    Case("cli", "predict: file ASE cannot read", lambda c: ["predict", str(write(c, "junk.xyz", "3\nnot xyz\nfoo bar\n"))], E.E3DensityError, "ASE cannot read it", cli=True),
    Case("cli", "predict: --index 99 of a 1-frame file", lambda c: ["predict", str(write(c, "one.xyz", "1\n\nO 0 0 0\n")), "--index", "99"], E.E3DensityError, "--index 99 selects no frame", cli=True),
    Case("cli", "predict: --cube with --index ':' over several frames", lambda c: ["predict", str(write(c, "two.xyz", "1\n\nO 0 0 0\n1\n\nO 0 0 0\n")), "--index", ":", "--cube", str(c.root / "x.cube")], E.E3DensityError, "--cube writes one frame", cli=True),
    Case("cli", "predict: --spacing 0", lambda c: ["predict", "--spacing", "0", "--cube", str(c.root / "x.cube")], E.E3DensityError, "--spacing must be positive", cli=True),
    Case("cli", "predict: --spacing 0.001 (a 7 TiB grid)", lambda c: ["predict", "--spacing", "0.001", "--cube", str(c.root / "x.cube")], E.ResourceError, "would need about", cli=True),
    Case("cli", "predict: --model file missing", lambda c: ["predict", "--model", str(c.root / "none.pt")], E.ModelNotFoundError, "no such model file", cli=True),
    Case("cli", "predict: --charge nan", lambda c: ["predict", "--charge", "nan"], E.E3DensityError, "must be finite", cli=True),
    Case("cli", "evaluate: database missing (none is created)", lambda c: ["evaluate", "default", str(c.root / "none.db")], E.E3DensityError, "reference database .*none.db does not exist", cli=True),
    Case("cli", "evaluate: an xyz file as the database", lambda c: ["evaluate", "default", str(write(c, "w.xyz", "1\n\nO 0 0 0\n"))], E.E3DensityError, "is not an ase.db database", cli=True),
    Case("cli", "evaluate: reference in another basis", lambda c: ["evaluate", "default", str(c.other_basis_db)], E.E3DensityError, "holds densities in def2-universal-jkfit.*compare like with like", cli=True),
    Case("cli", "evaluate: --mu-monomer 0", lambda c: ["evaluate", "default", str(c.reference_db), "--mu-monomer", "0"], E.E3DensityError, "--mu-monomer must be a positive dipole", cli=True),
    Case("cli", "train: configuration missing", lambda c: ["train", str(c.root / "none.yaml")], E.ConfigError, "no such training configuration", cli=True),
    Case("cli", "train: epochs: ten", lambda c: ["train", str(yaml_config(c, "ten.yaml", "train: x.db\nepochs: ten\n"))], E.ConfigError, "option epochs: expected an integer", cli=True),
    Case("cli", "info: a checkpoint, not a deployed model", lambda c: ["info", str(write(c, "ck.pt", b"PK\x03\x04"))], E.ModelFileError, "not an ase_e3density model", cli=True),
    Case("cli", "deploy: checkpoint missing", lambda c: ["deploy", str(c.root / "none.ck"), "-o", str(c.root / "m.pt")], E.ModelNotFoundError, "no such checkpoint", cli=True),
    Case("cli", "hierarchy: study file missing", lambda c: ["hierarchy", str(c.root / "none.yaml"), "-o", str(c.root / "s")], E.ConfigError, "no such study file", cli=True),
    Case("cli", "hierarchy: hidden_lmax: [5]", lambda c: ["hierarchy", str(write(c, "study.yaml", "training: {train: x.db}\nhidden_lmax: [5]\n")), "-o", str(c.root / "s")], E.ConfigError, "option hidden_lmax: every item must be >= 0 and <= 4", cli=True),
    Case("cli", "hierarchy: a study file and --quick", lambda c: ["hierarchy", str(write(c, "s2.yaml", "training: {train: x.db}\n")), "--quick", "-o", str(c.root / "s")], E.E3DensityError, "a study file or --quick, not both", cli=True),
    Case("cli", "reference: structure file missing", lambda c: ["reference", str(c.root / "none.xyz"), "-o", str(c.root / "r.db")], E.E3DensityError, "structure file .*does not exist", cli=True),
    # --- phonons -------------------------------------------------------------------------------
    Case("phonons", "a DOS per atom that does not integrate to 3", lambda c: phonon_dos(np.full(11, 1.0)), E.E3DensityError, "integrates to 3 modes per atom"),
    Case("phonons", "a negative DOS", lambda c: phonon_dos(np.linspace(-1, 1, 11), normalize=True), E.E3DensityError, "the DOS is negative"),
    Case("phonons", "frequencies not increasing", lambda c: phonon_dos(np.ones(11), frequencies=np.linspace(10, 0, 11), normalize=True), E.E3DensityError, "strictly increasing"),
    Case("phonons", "heat capacity per='mole'", lambda c: phonon_dos(None).heat_capacity(300, per="mole"), E.E3DensityError, "per must be 'atom' .* or 'cell'"),
    Case("phonons", "a negative temperature", lambda c: phonon_dos(None).heat_capacity(-5), E.E3DensityError, "temperatures must be finite and >= 0 K"),
    Case("phonons", "volumetric heat capacity without a structure", lambda c: phonon_dos(None).volumetric_heat_capacity(300), E.E3DensityError, "need the structure"),
    Case("phonons", "total_dos.dat missing", lambda c: phonon_module("dos").PhononDOS.from_total_dos_file(c.root / "none.dat"), E.InputFileError, "no such DOS file"),
    Case("phonons", "phonopy.yaml missing", lambda c: phonon_module("dos").PhononDOS.from_phonopy_files(c.root / "phonopy.yaml"), E.InputFileError, "no such phonopy file"),
    Case("phonons", "unknown calculator 'lj'", lambda c: phonon_module("reference").get_calculator("lj"), E.E3DensityError, "unknown calculator 'lj'"),
    Case("phonons", "a molecule (no cell)", lambda c: phonon_module("reference").check_crystal(molecule("H2O")), E.InvalidStructureError, "no 3D cell"),
    Case("cli", "phonons: a molecule (no cell)", lambda c: ["phonons", str(write(c, "cu2.xyz", "2\n\nCu 0 0 0\nCu 0 0 2.3\n")), "-o", str(c.root / "p.db"), "--calculator", "emt"], E.InvalidStructureError, "no 3D cell", cli=True),
    Case("cli", "phonons: a slab (pbc T T F)", lambda c: ["phonons", str(write(c, "slab.xyz", '1\nLattice="2.5 0 0 0 2.5 0 0 0 10" pbc="T T F"\nCu 0 0 0\n')), "-o", str(c.root / "p.db"), "--calculator", "emt"], E.InvalidStructureError, "periodic boundary conditions in all three directions", cli=True),
    Case("cli", "phonons: unknown calculator", lambda c: ["phonons", str(crystal_file(c)), "-o", str(c.root / "p.db"), "--calculator", "lj"], E.E3DensityError, "unknown calculator 'lj'", cli=True),
    Case("cli", "phonons: module:Class that cannot be imported", lambda c: ["phonons", str(crystal_file(c)), "-o", str(c.root / "p.db"), "--calculator", "no_such_package:Calc"], E.MissingDependencyError, "cannot import module 'no_such_package'", cli=True),
    Case("cli", "phonons: a CuNi CIF (partial occupancies): the reference path computes ordered cells only", lambda c: ["phonons", str(alloy_cif(c)), "-o", str(c.root / "p.db"), "--calculator", "emt"], E.InvalidStructureError, "partial occupancies for 4 atom.*build an explicit .random. supercell", cli=True),
    Case("cli", "phonons: --mesh '1 2'", lambda c: ["phonons", str(crystal_file(c)), "-o", str(c.root / "p.db"), "--calculator", "emt", "--mesh", "1 2"], E.E3DensityError, "--mesh takes a length", cli=True),
    # --- the phonon-DOS model (shipped) ---------------------------------------------------------
    Case("phonon model", "a molecule (no cell)", lambda c: phonon_model().predict_dos(molecule("H2O")), E.InvalidStructureError, "no 3D cell"),
    Case("phonon model", "a slab (pbc T T F)", lambda c: phonon_model().predict_dos(_slab()), E.InvalidStructureError, "periodic boundary conditions in all three"),
    Case("phonon model", "occupancies summing to 0.9", lambda c: phonon_model().predict_dos(_cu(), [{"Cu": 0.5, "Ni": 0.4}]), E.E3DensityError, "occupancies sum to 0.9"),
    Case("phonon model", "a negative occupancy", lambda c: phonon_model().predict_dos(_cu(), [{"Cu": 1.2, "Ni": -0.2}]), E.E3DensityError, "finite fraction >= 0"),
    Case("phonon model", "an unknown element in an occupancy", lambda c: phonon_model().predict_dos(_cu(), [{"Cu": 0.5, "Xx": 0.5}]), E.E3DensityError, "unknown element 'Xx'"),
    Case("phonon model", "an element without training data (Am)", lambda c: phonon_model().predict_dos(_cu("Am")), E.UnsupportedElementError, "Am not supported by this model"),
    Case("phonon model", "occupancy for atom 5 of a 1-atom cell", lambda c: phonon_model().predict_dos(_cu(), {5: {"Cu": 1.0}}), E.E3DensityError, "atom indices 0..0"),
    Case("phonon model", "Cu squeezed to a = 2.5 Å", lambda c: phonon_calc().get_phonon_dos(_cu(a=2.5)), E.DomainWarning, "closer than in training"),
    Case("phonon model", "a dipole from a phonon model", lambda c: _attached(phonon_calc(), water()).get_dipole_moment(), PropertyNotImplementedError, "not predicted by phonon .a phonon density of states model"),
    Case("phonon model", "phonon DOS from a density model", lambda c: calc(c).get_phonon_dos(_cu()), AttributeError, "get_phonon_dos is a method of PhononDOSCalculator"),
    Case("phonon model", "temperatures=-5", lambda c: phonon_calc(temperatures=-5), E.CalculatorParameterError, "temperatures must be"),
    Case("training", "phonon loss: huber", lambda c: phonon_config(c, "loss: huber\n"), E.ConfigError, "option loss: must be one of wasserstein, mse"),
    Case("training", "phonon test_prototypes: heusler (not a list)", lambda c: phonon_config(c, "test_prototypes: heusler\n"), E.ConfigError, "option test_prototypes: expected a list"),
    Case("training", "phonon test_elements: an unknown element", lambda c: phonon_config(c, "test_elements: [Cu, Xx]\n"), E.ConfigError, "option test_elements: unknown element\\(s\\) Xx"),
    Case("training", "phonon validation + test fractions >= 1", lambda c: phonon_config(c, "validation_fraction: 0.6\ntest_fraction: 0.5\n"), E.ConfigError, "validation_fraction \\+ test_fraction must be < 1"),
    Case("cli", "predict: a molecule with the phonon model", lambda c: ["predict", "--model", "phonon"], E.InvalidStructureError, "no 3D cell", cli=True),
    Case("cli", "predict: --cube with the phonon model", lambda c: ["predict", str(crystal_file(c)), "--model", "phonon", "--cube", str(c.root / "x.cube")], E.E3DensityError, "--cube is not for models of phonon density of states", cli=True),
    Case("cli", "evaluate: the phonon model on a density database", lambda c: ["evaluate", "phonon", str(c.reference_db), "--split", "test"], E.ConfigError, "holds no phonon DOS", cli=True),
    # --- asked-for output is written or refused, never dropped ----------------------------------
    Case("cli", "predict: --dos with a density model", lambda c: ["predict", "--dos", str(c.root / "d.dat")], E.E3DensityError, "--dos is not for models of electron density", cli=True),
    Case("cli", "predict: --temperatures with a density model", lambda c: ["predict", "--temperatures", "300"], E.E3DensityError, "--temperatures is not for models of electron density", cli=True),
    Case("cli", "predict: --esp-cube with the phonon model", lambda c: ["predict", str(crystal_file(c)), "--model", "phonon", "--esp-cube", str(c.root / "e.cube")], E.E3DensityError, "--esp-cube is not for models of phonon density of states", cli=True),
    Case("cli", "predict: --spacing without a cube file", lambda c: ["predict", "--spacing", "0.1"], E.E3DensityError, "--spacing sets the grid of --cube and --esp-cube", cli=True),
    Case("cli", "predict: --spacing with the phonon model", lambda c: ["predict", str(crystal_file(c)), "--model", "phonon", "--spacing", "0.1"], E.E3DensityError, "--spacing is not for models of phonon density of states", cli=True),
    Case("cli", "predict: --esp-charges with the phonon model", lambda c: ["predict", str(crystal_file(c)), "--model", "phonon", "--esp-charges"], E.E3DensityError, "--esp-charges is not for models of phonon", cli=True),
    Case("cli", "evaluate: --split with a density model", lambda c: ["evaluate", "default", str(c.reference_db), "--split", "test"], E.E3DensityError, "--split is not for models of electron density", cli=True),
    Case("cli", "evaluate: --temperatures with a density model", lambda c: ["evaluate", "default", str(c.reference_db), "--temperatures", "300"], E.E3DensityError, "--temperatures is not for models of electron density", cli=True),
    Case("cli", "evaluate: --grid-level with the phonon model", lambda c: ["evaluate", "phonon", str(c.reference_db), "--grid-level", "3"], E.E3DensityError, "--grid-level is not for models of phonon density of states", cli=True),
    Case("cli", "reference: --model without --guess model", lambda c: ["reference", str(water_file(c)), "-o", str(c.root / "rm.db"), "--model", "organic"], E.E3DensityError, "model \\(--model\\) is the model of guess='model'", cli=True),
    Case("cli", "screen: --keep-coefficients with the phonon model", lambda c: ["screen", str(crystal_file(c)), "-o", str(c.root / "kc.db"), "--model", "phonon", "--keep-coefficients", "--no-progress"], E.E3DensityError, "--keep-coefficients \\(keep_coefficients=\\) is not for models of phonon density of states", cli=True),
    Case("cli", "screen: --temperatures with a density model", lambda c: ["screen", str(water_file(c)), "-o", str(c.root / "tt.db"), "--temperatures", "300", "--no-progress"], E.E3DensityError, "--temperatures \\(temperatures=\\) is not for models of electron density", cli=True),
    Case("cli", "screen: --temperatures repeated", lambda c: ["screen", str(crystal_file(c)), "-o", str(c.root / "tr.db"), "--model", "phonon", "--temperatures", "300,300", "--no-progress"], E.E3DensityError, "temperatures \\(--temperatures\\) takes distinct temperatures in K", cli=True),
    Case("cli", "screen: --top without --sort-by", lambda c: ["screen", str(water_file(c)), "-o", str(c.root / "top.db"), "--top", "5", "--no-progress"], E.E3DensityError, "--top and --ascending shape the ranked table of --sort-by", cli=True),
    Case("cli", "screen: --top 0", lambda c: ["screen", str(water_file(c)), "-o", str(c.root / "top0.db"), "--sort-by", "dipole_norm", "--top", "0", "--no-progress"], E.E3DensityError, "--top must be at least 1", cli=True),
    # --- output never goes into a file, database or folder the package did not make --------------
    Case("cli", "screen: -o an SQLite database that is not an ase.db", lambda c: ["screen", str(water_file(c)), "-o", str(plain_sqlite(c)), "--no-progress"], E.E3DensityError, "is an SQLite database but not an ase.db .tables: foo.", cli=True),
    Case("cli", "screen: -o someone else's ase.db", lambda c: ["screen", str(water_file(c)), "-o", str(other_ase_db(c)), "--no-progress"], E.E3DensityError, "is an ase.db of other rows than screening results", cli=True),
    Case("cli", "screen: -o a folder", lambda c: ["screen", str(water_file(c)), "-o", str(folder_with(c, "results.db")), "--no-progress"], E.E3DensityError, "is a folder, not a file", cli=True),
    Case("cli", "screen: -o the input structure file", lambda c: ["screen", str(water_file(c)), "-o", str(water_file(c)), "--no-progress"], E.E3DensityError, "exists and was not written by e3density screen", cli=True),
    Case("cli", "screen: -o a CSV file of other columns", lambda c: ["screen", str(water_file(c)), "-o", str(write(c, "table.csv", "a,b\n1,2\n")), "--no-progress"], E.E3DensityError, "exists and was not written by e3density screen", cli=True),
    Case("cli", "screen: -o a .db in a folder that does not exist", lambda c: ["screen", str(water_file(c)), "-o", str(c.root / "no_such_folder" / "r.db"), "--no-progress"], E.E3DensityError, "folder .*no_such_folder does not exist", cli=True),
    Case("cli", "reference: -o someone else's ase.db", lambda c: ["reference", str(water_file(c)), "-o", str(other_ase_db(c))], E.E3DensityError, "is an ase.db of other rows than reference densities .1 of 1 lack uid, auxbasis", cli=True),
    Case("cli", "reference: -o a file without .db", lambda c: ["reference", str(water_file(c)), "-o", str(c.root / "refs")], E.E3DensityError, "give a file name ending in .db", cli=True),
    Case("cli", "phonons: -o a text file named .db", lambda c: ["phonons", str(crystal_file(c)), "-o", str(write(c, "notes.db", "my notes\n")), "--calculator", "emt"], E.E3DensityError, "is not an ase.db database .not an SQLite file", cli=True),
    Case("cli", "phonons: -o a reference database", lambda c: ["phonons", str(crystal_file(c)), "-o", str(c.reference_db), "--calculator", "emt"], E.E3DensityError, "is an ase.db of other rows than phonon references", cli=True),
    Case("reference", "references() into an SQLite database that is not an ase.db", lambda c: references_into(c, plain_sqlite(c)), E.E3DensityError, "SQLite database but not an ase.db"),
    Case("cli", "predict: -o the input structure file", lambda c: ["predict", str(water_file(c)), "-o", str(water_file(c))], E.E3DensityError, "--output .*w.xyz exists and was not written by e3density predict", cli=True),
    Case("cli", "predict: -o in a folder that does not exist", lambda c: ["predict", "-o", str(c.root / "no_such_folder" / "out.xyz")], E.E3DensityError, "folder .*no_such_folder does not exist", cli=True),
    Case("cli", "predict: --cube onto a file it did not write", lambda c: ["predict", "--cube", str(write(c, "mine.cube", "my own cube file\n"))], E.E3DensityError, "--cube .*mine.cube exists and was not written by e3density predict", cli=True),
    Case("cli", "predict: --dos into a folder (phonon model)", lambda c: ["predict", str(crystal_file(c)), "--model", "phonon", "--dos", str(folder_with(c, "dos_folder"))], E.E3DensityError, "--dos .*dos_folder is a folder, not a file", cli=True),
    Case("physics", "write_cube onto a file it did not write", lambda c: default_density(water()).write_cube(write(c, "theirs.cube", "cube file of another program\n"), spacing=0.5), E.E3DensityError, "cube file .*theirs.cube exists and was not written by ase_e3density"),
    Case("cli", "evaluate: --json onto a file it did not write", lambda c: ["evaluate", "default", str(c.reference_db), "--json", str(write(c, "notes.json", "{}"))], E.E3DensityError, "--json .*notes.json exists and was not written by e3density evaluate", cli=True),
    Case("cli", "train: output folder holding someone's files", lambda c: (folder_with(c, "thesis", "chapter1.tex"), train_into(c, "thesis"))[1], E.E3DensityError, "output folder .*thesis is not empty .chapter1.tex. and was not made by ase_e3density", cli=True),
    Case("cli", "train: output is a file", lambda c: (water_file(c), train_into(c, "w.xyz"))[1], E.E3DensityError, "output folder .*w.xyz is a file, not a folder", cli=True),
    Case("cli", "hierarchy: -o a folder holding someone's files", lambda c: ["hierarchy", "--quick", "-o", str(folder_with(c, "thesis", "chapter1.tex"))], E.E3DensityError, "output folder .*thesis is not empty", cli=True),
    # --- empty results that would look like success -----------------------------------------------
    Case("cli", "screen: --select that ase.db cannot parse", lambda c: ["screen", str(c.reference_db), "-o", str(c.root / "sel1.db"), "--select", "natoms>>3", "--no-progress"], E.E3DensityError, "select 'natoms>>3' is not an ase.db selection", cli=True),
    Case("cli", "screen: --select that matches no row", lambda c: ["screen", str(c.reference_db), "-o", str(c.root / "sel2.db"), "--select", "natoms>100", "--no-progress"], E.E3DensityError, "select 'natoms>100' matches no row of .*1 rows.: nothing to screen", cli=True),
    Case("cli", "screen: --select with no ase.db input", lambda c: ["screen", str(water_file(c)), "-o", str(c.root / "sel3.db"), "--select", "natoms=3", "--no-progress"], E.E3DensityError, "applies to ase.db inputs .*none of the inputs is one", cli=True),
    Case("cli", "screen: --sort-by when every structure failed", lambda c: ["screen", str(write(c, "si.xyz", "1\n\nSi 0 0 0\n")), "-o", str(c.root / "failed.db"), "--sort-by", "dipole_norm", "--no-progress"], E.E3DensityError, "no ok row has a numeric 'dipole_norm'", cli=True),
    Case("cli", "evaluate: the phonon model with --select that matches no row", lambda c: ["evaluate", "phonon", str(c.reference_db), "--select", "natoms>100"], E.ConfigError, "no rows of .* match the selection 'natoms>100'", cli=True),
    # --- ordinary mistakes in numbers, shapes and indices -----------------------------------------
    Case("physics", "density at points of shape (4, 2)", lambda c: default_density(water()).evaluate(np.zeros((4, 2))), E.E3DensityError, r"points must have shape \(n, 3\).*got shape \(4, 2\)"),
    Case("physics", "density at a string", lambda c: default_density(water()).evaluate("0 0 0"), E.E3DensityError, "points must be numbers"),
    Case("physics", "density at a NaN point", lambda c: default_density(water()).evaluate([[np.nan, 0, 0], [0, 0, 1]]), E.E3DensityError, "points must be finite: 1 point"),
    Case("physics", "potential at points of shape (3, 2)", lambda c: default_density(water()).electrostatic_potential(np.ones((3, 2))), E.E3DensityError, r"points must have shape \(n, 3\)"),
    Case("physics", "dipole about an origin of shape (2,)", lambda c: default_density(water()).get_dipole([0.0, 0.0]), E.E3DensityError, r"origin must have shape \(3,\)"),
    Case("physics", "cube spacing NaN", lambda c: default_density(water()).write_cube(c.root / "nan.cube", spacing=float("nan")), E.E3DensityError, "grid spacing must be a positive number of Å, got nan"),
    Case("physics", "cube spacing 'fine' (text)", lambda c: default_density(water()).write_cube(c.root / "fine.cube", spacing="fine"), E.E3DensityError, "grid spacing must be a positive number of Å, got 'fine'"),
    Case("calculator", "potential at a point of shape (2,)", lambda c: calc(c).get_electrostatic_potential(water(), points=[0.0, 1.0]), E.E3DensityError, r"points must have shape"),
    Case("cli", "predict: --index 1e3", lambda c: ["predict", str(water_file(c)), "--index", "1e3"], E.E3DensityError, "--index '1e3' is not a frame index .write it as 1000.", cli=True),
    Case("cli", "predict: --index a:b", lambda c: ["predict", str(water_file(c)), "--index", "a:b"], E.E3DensityError, "--index 'a:b' is not a frame index", cli=True),
    Case("cli", "predict: --index empty", lambda c: ["predict", str(water_file(c)), "--index", ""], E.E3DensityError, "--index '' is not a frame index", cli=True),
    Case("cli", "predict: --index 0::0", lambda c: ["predict", str(water_file(c)), "--index", "0::0"], E.E3DensityError, "a slice step cannot be 0", cli=True),
    Case("cli", "predict: --spacing abc", lambda c: ["predict", "--spacing", "abc", "--cube", str(c.root / "abc.cube")], E.E3DensityError, "argument --spacing: invalid float value: 'abc'", cli=True),
    # --- partial occupancies: a virtual crystal has no electron density of its own -----------------
    Case("calculator", "a CIF with partial occupancies (C/N on one site)", lambda c: dipole_of(read_one(partial_cif(c)), c), E.InvalidStructureError, "partial occupancies for 1 atom.*C 0.5, N 0.5.*one element per site"),
    Case("cli", "predict: a CuNi CIF (partial occupancies) with a density model", lambda c: ["predict", str(alloy_cif(c))], E.InvalidStructureError, "partial occupancies for 4 atom.*no virtual crystals", cli=True),
    # --- spin states the model never saw ----------------------------------------------------------
    Case("domain", "OH radical, 9 electrons (default model: closed shells only)", lambda c: default_dipole(Atoms("OH", positions=[[0, 0, 0], [0.97, 0, 0]])), E.DomainWarning, "odd electron count .9.: an open-shell state"),
    Case("domain", "water with charge +1 (9 electrons; default model)", lambda c: default_dipole(water(charge=1)), E.DomainWarning, r"total charge \+1 outside the training range.*odd electron count"),
    Case("domain", "triplet water, atoms.info['spin'] = 2 (default model)", lambda c: default_dipole(water(spin=2)), E.DomainWarning, "spin 2S = 2 .*outside the training range: the model has no spin input"),
    Case("domain", "atoms.info['multiplicity'] = 3 (default model)", lambda c: default_dipole(water(multiplicity=3)), E.DomainWarning, "spin 2S = 2 .atoms.info..multiplicity.. = 3."),
    Case("domain", "initial magnetic moments (default model)", lambda c: default_dipole(magnetic_water()), E.DomainWarning, "initial magnetic moments on 1 atom"),
    Case("calculator", "atoms.info['spin'] = 1 on water (10 electrons)", lambda c: dipole_of(water(spin=1), c), E.InvalidStructureError, "10 electrons .* cannot have 2S = 1"),
    Case("calculator", "atoms.info['spin'] = 'high'", lambda c: dipole_of(water(spin="high"), c), E.CalculatorParameterError, "must be a whole number >= 0, got 'high'"),
    Case("calculator", "atoms.info['spin'] and ['multiplicity'] disagree", lambda c: dipole_of(water(spin=0, multiplicity=3), c), E.CalculatorParameterError, "disagree"),
    Case("calculator", "hirshfeld_charges of water in a periodic box", lambda c: hirshfeld_of(periodic_water(8.0), c), E.E3DensityError, "hirshfeld_charges are for finite structures: H2O is periodic"),
    Case("calculator", "hirshfeld_charges of KH with a model without K (the model's refusal, not the free-atom table's)", lambda c: hirshfeld_of(Atoms("KH", positions=[[0, 0, 0], [0, 0, 2.2]]), c), E.UnsupportedElementError, "element.s. K not supported by the model"),
    Case("cli", "predict: --hirshfeld-charges of a periodic structure", lambda c: ["predict", str(write(c, "box.xyz", '3\nLattice="8 0 0 0 8 0 0 0 8" pbc="T T T"\nO 0 0 0.12\nH 0 0.76 -0.48\nH 0 -0.76 -0.48\n')), "--hirshfeld-charges"], E.E3DensityError, "hirshfeld_charges are for finite structures", cli=True),
]


def phonon_model():
    from ase_e3density.models import load_model, shipped_model_path
    return load_model(shipped_model_path("phonon"))


def phonon_calc(**kwargs):
    from ase_e3density import E3DensityCalculator
    return E3DensityCalculator("phonon", **kwargs)


def phonon_config(ctx: Context, text: str):
    from ase_e3density.train.phonon import PhononTrainConfig
    return PhononTrainConfig.from_yaml(yaml_config(ctx, "phonon.yaml", "kind: phonon_dos\ndata: x.db\n" + text))


def _cu(symbol: str = "Cu", a: float = 3.6) -> Atoms:
    from ase.build import bulk
    return bulk(symbol, "fcc", a)


def _slab() -> Atoms:
    atoms = _cu()
    atoms.pbc = (True, True, False)
    return atoms


def _attached(calculator, atoms: Atoms) -> Atoms:
    atoms.calc = calculator
    return atoms


def phonon_module(name: str):
    from importlib import import_module

    return import_module(f"ase_e3density.phonon.{name}")


def phonon_dos(dos, frequencies=None, **kwargs):
    """A PhononDOS on 0..10 THz; ``dos=None`` gives a valid flat one."""
    from ase_e3density.phonon import PhononDOS

    frequencies = np.linspace(0, 10, 11) if frequencies is None else frequencies
    return PhononDOS(frequencies, np.full(11, 0.3) if dos is None else dos, **kwargs)


def crystal_file(ctx: Context) -> Path:
    return write(ctx, "cu_fcc.xyz", '1\nLattice="0 1.8 1.8 1.8 0 1.8 1.8 1.8 0" pbc="T T T"\nCu 0 0 0\n')


def _squeezed_dimer() -> Atoms:
    dimer = molecule("H2O") + molecule("H2O")
    dimer.positions[3:] += [2.2, 0.0, 0.0]
    return dimer


def run_case(case: Case, ctx: Context) -> tuple[str, str]:
    """(outcome, message): outcome is the exception or warning class name, or 'no error'/'exit N'."""
    import warnings

    if case.cli:
        from ase_e3density.cli import main
        stderr, stdout = io.StringIO(), io.StringIO()
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(stdout):
            try:
                code = main(case.run(ctx))
            except SystemExit as exc:  # argparse's own errors: usage, then one line, exit status 2
                code = exc.code
        lines = [line for line in stderr.getvalue().splitlines() if line.strip()]
        return f"exit {code}", lines[-1] if lines else ""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            case.run(ctx)
        except Exception as exc:  # noqa: BLE001 - the point is to see what comes out
            return type(exc).__name__, str(exc)
    flagged = [w for w in caught if issubclass(w.category, E.DomainWarning)]
    if flagged:
        return flagged[0].category.__name__, str(flagged[0].message)
    return "no error", ""


def make_context(root: Path) -> Context:
    """The files the cases need: a small deployed model and two one-row reference databases."""
    from ase.db import connect

    from ase_e3density import AtomicDensity, load_basis
    from ase_e3density.electron.database import write_density_row
    from ase_e3density.models import deploy
    from model_helpers import small_model

    root.mkdir(parents=True, exist_ok=True)
    model = root / "model.pt"
    deploy(small_model(), model)
    paths = {}
    for name in ("def2-universal-jfit-decontracted", "def2-universal-jkfit"):
        basis, atoms = load_basis(name), water()
        coefficients = np.concatenate([basis[s].charge_integrals * z / (basis[s].charge_integrals @ basis[s].charge_integrals)
                                       for s, z in zip(atoms.get_chemical_symbols(), atoms.numbers)])
        path = root / f"{name}.db"
        write_density_row(connect(path), AtomicDensity(atoms, basis, coefficients), uid=name)
        paths[name] = path
    return Context(root, model, paths["def2-universal-jfit-decontracted"], paths["def2-universal-jkfit"])
