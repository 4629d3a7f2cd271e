"""Structure files for PySCF reference densities of small organic molecules (QM9) and a drug-like test set.

Command (from the repository root, deterministic for a given --seed)::

    .venv/bin/python scripts/make_qm9_dataset.py --seed 2026

Writes, into data/qm9/structures/ (extxyz, info keys ``qm9_index``, ``smiles``, ``n_heavy`` and, for QM9
molecules, ``qm9_dipole_debye``: QM9's B3LYP/6-31G(2df,p) dipole magnitude):

- train.extxyz: a seeded random sample (default 4000) of the QM9 molecules with at most 7 heavy atoms
  (C, N, O, F), in random order, so that the first N rows computed are a random subset of size N and a
  learning curve can be read from any prefix of the reference database. Small molecules (1-4 heavy atoms)
  come in through the sample like any other; nothing is capped or stratified.
- val_8.extxyz: 150 seeded random QM9 molecules with exactly 8 heavy atoms (a size one step beyond training).
- test_9.extxyz: 150 seeded random QM9 molecules with exactly 9 heavy atoms (never in training: a size
  extrapolation test).
- druglike.extxyz: drug-like molecules of 10-25 heavy atoms, elements H C N O F only, from the fixed SMILES
  list below; one RDKit conformer each (ETKDGv3 with a fixed random seed, then MMFF94 optimisation), hydrogens
  explicit; ``qm9_index`` is -1 and there is no QM9 dipole. Molecules that fail the element, size or
  embedding checks are dropped and reported.

QM9 comes from the ``qm9pack`` wheel (qm9pack/data/qm9_part{1,2,3}.csv: 133,885 molecules, B3LYP geometries
in Angstrom in ``XYZ_Ang``, written with Mathematica exponents ``*^`` and bare ``0.``, hence ast.literal_eval
after replacing ``*^`` by ``e``).
"""
from __future__ import annotations

import argparse
import ast
import csv
import sys
import importlib.util
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.io import read, write

HEAVY = {"C", "N", "O", "F"}

# name, SMILES (neutral molecules, elements H C N O F only)
DRUGLIKE = [
    ("aspirin", "CC(=O)Oc1ccccc1C(=O)O"),
    ("paracetamol", "CC(=O)Nc1ccc(O)cc1"),
    ("ibuprofen", "CC(C)Cc1ccc(cc1)C(C)C(=O)O"),
    ("caffeine", "Cn1cnc2c1c(=O)n(C)c(=O)n2C"),
    ("nicotine", "CN1CCC[C@H]1c1cccnc1"),
    ("theophylline", "Cn1c2nc[nH]c2c(=O)n(C)c1=O"),
    ("theobromine", "Cn1cnc2c1c(=O)[nH]c(=O)n2C"),
    ("phenacetin", "CCOc1ccc(NC(C)=O)cc1"),
    ("benzocaine", "CCOC(=O)c1ccc(N)cc1"),
    ("lidocaine", "CCN(CC)CC(=O)Nc1c(C)cccc1C"),
    ("procaine", "CCN(CC)CCOC(=O)c1ccc(N)cc1"),
    ("salicylamide", "NC(=O)c1ccccc1O"),
    ("salicylic acid", "OC(=O)c1ccccc1O"),
    ("methyl salicylate", "COC(=O)c1ccccc1O"),
    ("naproxen", "COc1ccc2cc(ccc2c1)[C@H](C)C(=O)O"),
    ("ketoprofen", "CC(C(=O)O)c1cccc(c1)C(=O)c1ccccc1"),
    ("flurbiprofen", "CC(C(=O)O)c1ccc(c(F)c1)-c1ccccc1"),
    ("fluoxetine", "CNCCC(Oc1ccc(cc1)C(F)(F)F)c1ccccc1"),
    ("venlafaxine", "COc1ccc(cc1)C(CN(C)C)C1(O)CCCCC1"),
    ("phenobarbital", "CCC1(c2ccccc2)C(=O)NC(=O)NC1=O"),
    ("primidone", "CCC1(c2ccccc2)C(=O)NCNC1=O"),
    ("phenytoin", "O=C1NC(=O)C(N1)(c1ccccc1)c1ccccc1"),
    ("carbamazepine", "NC(=O)N1c2ccccc2C=Cc2ccccc12"),
    ("melatonin", "COc1ccc2[nH]cc(CCNC(C)=O)c2c1"),
    ("serotonin", "NCCc1c[nH]c2ccc(O)cc12"),
    ("dopamine", "NCCc1ccc(O)c(O)c1"),
    ("adrenaline", "CNC[C@H](O)c1ccc(O)c(O)c1"),
    ("ephedrine", "CN[C@@H](C)[C@H](O)c1ccccc1"),
    ("amphetamine", "CC(N)Cc1ccccc1"),
    ("mexiletine", "CC(N)COc1c(C)cccc1C"),
    ("propranolol", "CC(C)NCC(O)COc1cccc2ccccc12"),
    ("atenolol", "CC(C)NCC(O)COc1ccc(CC(N)=O)cc1"),
    ("metoprolol", "COCCc1ccc(OCC(O)CNC(C)C)cc1"),
    ("isoniazid", "NNC(=O)c1ccncc1"),
    ("acetanilide", "CC(=O)Nc1ccccc1"),
    ("coumarin", "O=c1ccc2ccccc2o1"),
    ("vanillin", "COc1cc(C=O)ccc1O"),
    ("menthol", "CC(C)[C@@H]1CC[C@@H](C)C[C@H]1O"),
    ("eugenol", "COc1cc(CC=C)ccc1O"),
    ("gabapentin", "NCC1(CC(=O)O)CCCCC1"),
    ("tranexamic acid", "NC[C@H]1CC[C@H](CC1)C(=O)O"),
    ("levetiracetam", "CC[C@@H](N1CCCC1=O)C(N)=O"),
    ("fluconazole", "OC(Cn1cncn1)(Cn1cncn1)c1ccc(F)cc1F"),
    ("metronidazole", "Cc1ncc([N+](=O)[O-])n1CCO"),
    ("mescaline", "COc1cc(CCN)cc(OC)c1OC"),
    ("tramadol", "COc1cccc(c1)[C@]1(O)CCCC[C@@H]1CN(C)C"),
    ("diphenhydramine", "CN(C)CCOC(c1ccccc1)c1ccccc1"),
    ("flutamide", "CC(C)C(=O)Nc1ccc([N+](=O)[O-])c(c1)C(F)(F)F"),
    ("leflunomide", "Cc1oncc1C(=O)Nc1ccc(cc1)C(F)(F)F"),
    ("estradiol", "C[C@]12CC[C@H]3[C@@H](CCc4cc(O)ccc34)[C@@H]1CC[C@@H]2O"),
    ("ciprofloxacin", "OC(=O)c1cn(C2CC2)c2cc(N3CCNCC3)c(F)cc2c1=O"),
    ("linezolid", "CC(=O)NC[C@H]1CN(C(=O)O1)c1ccc(N2CCOCC2)c(F)c1"),
]


def _parse_xyz(text: str) -> np.ndarray:
    return np.array(ast.literal_eval(text.replace("*^", "e")), dtype=float)


def _parse_float(text: str) -> float | None:
    text = text.strip().replace("*^", "e")
    try:
        return float(text)
    except ValueError:
        return None


def load_qm9() -> list[dict]:
    """Every QM9 molecule of qm9pack's CSV files: index, SMILES, symbols, positions (Angstrom), dipole (Debye)."""
    # found without importing qm9pack: its __init__ needs pkg_resources (setuptools), absent here
    spec = importlib.util.find_spec("qm9pack")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("qm9pack is not installed: .venv/bin/pip install -c constraints.txt qm9pack")
    base = Path(list(spec.submodule_search_locations)[0]) / "data"
    molecules = []
    for part in (1, 2, 3):
        with (base / f"qm9_part{part}.csv").open(newline="") as handle:
            for row in csv.DictReader(handle):
                symbols = ast.literal_eval(row["Elements"])
                positions = _parse_xyz(row["XYZ_Ang"])
                if positions.shape != (len(symbols), 3) or len(symbols) != int(row["N_atoms"]):
                    raise ValueError(f"QM9 index {row['Index']}: element list and geometry disagree")
                molecules.append({"index": int(row["Index"]), "smiles": row["SMILES"], "symbols": symbols,
                                  "positions": positions, "dipole": _parse_float(row["Dipole_debye"]),
                                  "n_heavy": sum(s in HEAVY for s in symbols)})
    molecules.sort(key=lambda m: m["index"])
    return molecules


def qm9_atoms(mol: dict) -> Atoms:
    atoms = Atoms(mol["symbols"], positions=mol["positions"])
    atoms.info.update(qm9_index=mol["index"], smiles=mol["smiles"], n_heavy=mol["n_heavy"])
    if mol["dipole"] is not None:
        atoms.info["qm9_dipole_debye"] = mol["dipole"]
    return atoms


def druglike_atoms(seed: int) -> tuple[list[Atoms], list[str]]:
    from rdkit import Chem
    from rdkit.Chem import AllChem

    out, dropped = [], []
    for name, smiles in DRUGLIKE:
        mol = Chem.MolFromSmiles(smiles)
        if mol is None:
            dropped.append(f"{name}: SMILES does not parse")
            continue
        elements = {a.GetSymbol() for a in mol.GetAtoms()}
        n_heavy = mol.GetNumHeavyAtoms()
        if not elements <= HEAVY:
            dropped.append(f"{name}: elements {sorted(elements - HEAVY)} outside H C N O F")
            continue
        if not 10 <= n_heavy <= 25:
            dropped.append(f"{name}: {n_heavy} heavy atoms, outside 10-25")
            continue
        if Chem.GetFormalCharge(mol) != 0 or any(a.GetNumRadicalElectrons() for a in mol.GetAtoms()):
            dropped.append(f"{name}: charged or radical")
            continue
        mol = Chem.AddHs(mol)
        params = AllChem.ETKDGv3()
        params.randomSeed = seed
        if AllChem.EmbedMolecule(mol, params) != 0:
            dropped.append(f"{name}: ETKDG embedding failed")
            continue
        if AllChem.MMFFHasAllMoleculeParams(mol):
            AllChem.MMFFOptimizeMolecule(mol, maxIters=2000)
        else:
            dropped.append(f"{name}: no MMFF parameters")
            continue
        conf = mol.GetConformer()
        atoms = Atoms([a.GetSymbol() for a in mol.GetAtoms()], positions=np.array(conf.GetPositions()))
        atoms.info.update(qm9_index=-1, smiles=Chem.MolToSmiles(Chem.RemoveHs(mol)), n_heavy=n_heavy, name=name)
        out.append(atoms)
    return out, dropped


def write_checked(path: Path, frames: list[Atoms]) -> None:
    write(path, frames, format="extxyz")
    back = read(path, index=":")
    assert len(back) == len(frames)
    for a, b in zip(frames, back):
        assert a.get_chemical_symbols() == b.get_chemical_symbols()
        assert np.allclose(a.positions, b.positions, atol=1e-6)
        assert a.info["smiles"] == b.info["smiles"], (a.info["smiles"], b.info["smiles"])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--n-train", type=int, default=4000)
    parser.add_argument("--n-val", type=int, default=150)
    parser.add_argument("--n-test", type=int, default=150)
    parser.add_argument("--out", default="data/qm9/structures")
    args = parser.parse_args(argv)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)

    molecules = load_qm9()
    print(f"QM9: {len(molecules)} molecules")
    small = [m for m in molecules if m["n_heavy"] <= 7]
    eight = [m for m in molecules if m["n_heavy"] == 8]
    nine = [m for m in molecules if m["n_heavy"] == 9]
    print(f"<=7 heavy atoms: {len(small)}, 8: {len(eight)}, 9: {len(nine)}")

    splits = {}
    for name, pool, n in (("train", small, args.n_train), ("val_8", eight, args.n_val), ("test_9", nine, args.n_test)):
        pick = rng.choice(len(pool), size=min(n, len(pool)), replace=False)  # random order, kept as drawn
        splits[name] = [qm9_atoms(pool[i]) for i in pick]
    for name, frames in splits.items():
        write_checked(out / f"{name}.extxyz", frames)
        counts = np.bincount([a.info["n_heavy"] for a in frames])
        print(f"{name}.extxyz: {len(frames)} molecules; by heavy-atom count {dict(enumerate(counts.tolist()))}")

    drug, dropped = druglike_atoms(args.seed)
    write_checked(out / "druglike.extxyz", drug)
    print(f"druglike.extxyz: {len(drug)} molecules, {min(len(a) for a in drug)}-{max(len(a) for a in drug)} atoms")
    for line in dropped:
        print(f"  dropped {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
