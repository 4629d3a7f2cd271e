"""The two-centre Coulomb matrix and the loss's Coulomb (Hartree) term: PySCF's int2c2e, point-charge
limits, and charge moved far costing more than the same error kept on one molecule."""
import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import molecule
from ase.units import Bohr

from model_helpers import waters

from ase_e3density import load_basis
from ase_e3density.electron.coulomb import coulomb_matrix, hartree_metric
from ase_e3density.train.config import TrainConfig
from ase_e3density.train.loss import DensityLoss
from ase_e3density.errors import ConfigError

SPECIES = ["H", "O"]



def setup(atoms: Atoms, coulomb_weight: float = 1.0):
    basis = load_basis()
    max_dim = max(basis[s].n_functions for s in SPECIES)
    loss = DensityLoss(basis, SPECIES, max_dim, coulomb_weight=coulomb_weight)
    species = torch.tensor([SPECIES.index(s) for s in atoms.get_chemical_symbols()])
    return basis, max_dim, loss, species


def s_function(basis, symbol: str, exponent: float) -> int:
    """Index of ``symbol``'s s function whose exponent is closest to ``exponent`` (bohr^-2)."""
    return min((abs(np.log(sh.exponents[0] / exponent)), part.start)
               for sh, part in basis[symbol].shell_slices if sh.l == 0)[1]


def moved_charge(atoms, basis, max_dim, source: int, sink: int, charge: float = 0.01, exponent: float = 0.5):
    """A padded coefficient error that moves ``charge`` electrons from atom ``source`` to atom ``sink``."""
    diff = np.zeros((len(atoms), max_dim))
    for atom, sign in ((source, -1.0), (sink, 1.0)):
        eb = basis[atoms[atom].symbol]
        k = s_function(basis, atoms[atom].symbol, exponent)
        diff[atom, k] += sign * charge / eb.charge_integrals[k]
    return torch.as_tensor(diff)


def term(loss, diff, species, matrix) -> float:
    batch = torch.zeros(len(species), dtype=torch.long)
    return float(loss.coulomb_term(diff, species, batch, [torch.as_tensor(matrix)])[0])


def test_coulomb_matrix_equals_pyscf_int2c2e_and_the_metric_to_1e8():
    gto = pytest.importorskip("pyscf.gto")
    from ase_e3density.electron.reference import _pyscf_basis, _to_e3nn_matrix

    for atoms, name in ((waters([0, 0, 0], [2.9, 0.3, 0.1]), "def2-universal-jfit-decontracted"),
                        (molecule("CH3CN"), "def2-universal-jfit")):  # contracted shells too
        basis = load_basis(name)
        symbols = atoms.get_chemical_symbols()
        aux = gto.M(atom=[(s, tuple(p)) for s, p in zip(symbols, atoms.positions)], unit="Angstrom",
                    basis=_pyscf_basis(basis, symbols), verbose=0)
        to_e3nn = _to_e3nn_matrix(basis, symbols)
        expected = to_e3nn @ aux.intor("int2c2e") @ to_e3nn.T
        ours = coulomb_matrix(atoms, basis)
        np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-9 * np.abs(expected).max())
        dc = np.random.default_rng(0).normal(size=len(ours)) * 0.01
        assert hartree_metric(dc, ours) == pytest.approx(0.5 * dc @ expected @ dc, rel=1e-8)
    # the loss's torch term on padded rows is the same number
    atoms = waters([0, 0, 0], [2.9, 0.3, 0.1])
    basis, max_dim, loss, species = setup(atoms)
    flat = np.random.default_rng(1).normal(size=int(basis.offsets(atoms.get_chemical_symbols())[-1])) * 0.01
    padded = torch.as_tensor(basis.pad(flat, atoms.get_chemical_symbols(), max_dim))
    symbols = atoms.get_chemical_symbols()
    aux = gto.M(atom=[(s, tuple(p)) for s, p in zip(symbols, atoms.positions)], unit="Angstrom",
                basis=_pyscf_basis(basis, symbols), verbose=0)
    to_e3nn = _to_e3nn_matrix(basis, symbols)
    direct = 0.5 * flat @ (to_e3nn @ aux.intor("int2c2e") @ to_e3nn.T) @ flat
    assert term(loss, padded, species, coulomb_matrix(atoms, basis)) == pytest.approx(direct, rel=1e-8)


def test_far_apart_functions_interact_as_point_multipoles():
    basis = load_basis()
    r = 40.0  # Å: diffuse functions overlap by exp(-a R^2 / 2) < 1e-100
    atoms = Atoms("OO", positions=[[0, 0, 0], [0, 0, r]])
    matrix = coulomb_matrix(atoms, basis)
    eb = basis["O"]
    n = eb.n_functions
    k = s_function(basis, "O", 0.3)
    q = eb.charge_integrals[k]
    assert matrix[k, n + k] == pytest.approx(q * q / (r / Bohr), rel=1e-10)  # charge - charge
    # dipole - dipole along the axis: -2 p^2 / R^3, with p the z dipole of the p function along z
    part = next(part for sh, part in eb.shell_slices if sh.l == 1)
    z = part.start + int(np.argmax(np.abs(eb.dipole_integrals[part, 2])))
    p = eb.dipole_integrals[z, 2]
    assert matrix[z, n + z] == pytest.approx(-2 * p * p / (r / Bohr) ** 3, rel=1e-10)
    assert np.linalg.eigvalsh(coulomb_matrix(molecule("H2O"), basis)).min() > 0


def test_charge_moved_far_costs_more_than_the_same_error_kept_on_one_molecule():
    q = 0.01
    atoms = waters([0, 0, 0], [10.0, 0, 0], [20.0, 0, 0])  # oxygens 0, 3, 6 at 0, 10, 20 Å
    basis, max_dim, loss, species = setup(atoms)
    matrix = coulomb_matrix(atoms, basis)
    kept = term(loss, moved_charge(atoms, basis, max_dim, 0, 1, q), species, matrix)  # O -> H of one water
    far = term(loss, moved_charge(atoms, basis, max_dim, 0, 3, q), species, matrix)  # O -> O 10 Å away
    farther = term(loss, moved_charge(atoms, basis, max_dim, 0, 6, q), species, matrix)  # 20 Å away
    assert far > 2 * kept
    # the difference is the point-charge interaction the move undoes: q^2 (1/10 Å - 1/20 Å), in Hartree
    assert farther - far == pytest.approx(q * q * (1 / 10 - 1 / 20) * Bohr, rel=1e-6)
    # the one-centre overlap term cannot tell 10 Å from 20 Å: the Coulomb term is what sees it
    d10, d20 = moved_charge(atoms, basis, max_dim, 0, 3, q), moved_charge(atoms, basis, max_dim, 0, 6, q)
    assert float(loss.density_term(d10, species)) == pytest.approx(float(loss.density_term(d20, species)), rel=1e-12)


def test_loss_term_is_differentiable_weighted_and_off_by_default():
    atoms = waters([0, 0, 0], [2.9, 0.3, 0.1])
    basis, max_dim, loss, species = setup(atoms, coulomb_weight=0.5)
    matrix = torch.as_tensor(coulomb_matrix(atoms, basis))
    rng = np.random.default_rng(2)
    symbols = atoms.get_chemical_symbols()
    flat = rng.normal(size=matrix.shape[0]) * 0.01
    target = torch.zeros(len(atoms), max_dim, dtype=torch.float64)
    predicted = torch.as_tensor(basis.pad(flat, symbols, max_dim)).requires_grad_(True)
    pos, batch = torch.as_tensor(atoms.positions), torch.zeros(len(atoms), dtype=torch.long)
    plain = DensityLoss(basis, SPECIES, max_dim)
    with_term = loss(predicted, target, species, pos, batch, 1, [matrix])
    expected = plain(predicted, target, species, pos, batch, 1) + 0.5 * 0.5 * flat @ matrix.numpy() @ flat
    assert float(with_term.detach()) == pytest.approx(float(expected.detach()), rel=1e-12)
    (grad,) = torch.autograd.grad(loss.coulomb_term(predicted - target, species, batch, [matrix]).sum(), predicted)
    np.testing.assert_allclose(basis.unpad(grad.numpy(), symbols), matrix.numpy() @ flat, rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match="one Coulomb matrix per structure"):
        loss(predicted, target, species, pos, batch, 1)
    assert TrainConfig(train="x.db").coulomb_weight == 0.0
    with pytest.raises(ConfigError, match="coulomb_weight"):
        TrainConfig(train="x.db", coulomb_weight=-1.0)


def test_batches_take_each_structure_with_its_own_matrix():
    a, b = waters([0, 0, 0]), waters([0, 0, 0], [2.9, 0.3, 0.1])
    basis = load_basis()
    max_dim = max(basis[s].n_functions for s in SPECIES)
    loss = DensityLoss(basis, SPECIES, max_dim, coulomb_weight=1.0)
    rng = np.random.default_rng(3)
    diffs, matrices, singles = [], [], []
    for atoms in (a, b):
        flat = rng.normal(size=int(basis.offsets(atoms.get_chemical_symbols())[-1])) * 0.01
        m = coulomb_matrix(atoms, basis)
        diffs.append(basis.pad(flat, atoms.get_chemical_symbols(), max_dim))
        matrices.append(torch.as_tensor(m))
        singles.append(hartree_metric(flat, m))
    species = torch.tensor([SPECIES.index(s) for s in a.get_chemical_symbols() + b.get_chemical_symbols()])
    batch = torch.tensor([0] * len(a) + [1] * len(b))
    out = loss.coulomb_term(torch.as_tensor(np.concatenate(diffs)), species, batch, matrices)
    np.testing.assert_allclose(out.numpy(), singles, rtol=1e-12)


@pytest.mark.slow  # a training run: about 6 s
def test_training_with_the_coulomb_term_runs_and_records_molecule_metrics(tmp_path):
    """Two epochs on six clusters of the water data with the Coulomb and both fragment terms, the fragment shares
    computed in two processes (no PySCF: mean free atoms)."""
    import json
    from pathlib import Path

    from ase.db import connect

    from ase_e3density.train import train

    source = Path(__file__).resolve().parents[1] / "data" / "water" / "train.db"
    db = tmp_path / "small.db"
    with connect(source) as src, connect(db) as dst:
        for row in list(src.select(natoms=6, limit=4)) + list(src.select(natoms=9, limit=4)):
            dst.write(row.toatoms(), data=row.data, **row.key_value_pairs)
    config = TrainConfig(train=str(db), output=str(tmp_path / "run"), seed=1, batch_size=2, epochs=2,
                         validation_fraction=0.25, free_atom="mean", coulomb_weight=1.0, dipole_weight=0.01, fragment_weight=1.0,
                         fragment_dipole_weight=0.1, share_workers=2,
                         model={"hidden": {0: 4, 1: 2, 2: 2}, "n_layers": 2, "radial_hidden": 8, "sh_lmax": 2})
    train(config)
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert len(log) == 2 and all(np.isfinite(r["train_loss"]) for r in log)
    assert log[-1]["val_n_molecules"] == pytest.approx(2.5)  # one dimer and one trimer validate
    assert log[-1]["val_molecule_charge_rms"] > 0 and log[-1]["val_molecule_dipole_rms"] > 0
    with np.load(tmp_path / "run" / "fragment_shares.npz") as shares:  # kept for a resume
        assert len(shares.files) == 8 and all(shares[k].shape[1] == 4 for k in shares.files)
