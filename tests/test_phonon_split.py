"""The phonon trainer's split: whole prototypes and elements held out, max_train for learning curves."""
import numpy as np
from ase.build import bulk

from ase_e3density.train.phonon.data import CrystalSample, split


def _sample(k: int, symbol: str, prototype: str) -> CrystalSample:
    atoms = bulk(symbol, "fcc", a=4.0)
    return CrystalSample(uid=f"u{k}", name=f"{symbol}{k}", prototype=prototype, atoms=atoms, graph=(),
                         target=np.zeros(3), reference_cv=np.zeros(2))


SAMPLES = [_sample(k, symbol, prototype) for k, (symbol, prototype) in
           enumerate([(s, p) for s in ("Cu", "Ni", "Al", "Ag", "Au") for p in ("fcc", "L12", "B2", "rocksalt")] * 3)]


def test_held_out_elements_and_prototypes_are_never_trained_on():
    sets = split(SAMPLES, ["B2"], 0.1, 0.1, seed=3, test_elements=["Au"])
    held = sets["held_out"]
    assert all(s.prototype == "B2" or "Au" in s.atoms.get_chemical_symbols() for s in held)
    for name in ("train", "validation", "test"):
        assert not any(s.prototype == "B2" or "Au" in s.atoms.get_chemical_symbols() for s in sets[name])
    assert sum(len(v) for v in sets.values()) == len(SAMPLES)


def test_max_train_shrinks_only_the_training_set_and_keeps_a_prefix():
    full = split(SAMPLES, [], 0.1, 0.1, seed=3, test_elements=["Au"])
    small = split(SAMPLES, [], 0.1, 0.1, seed=3, test_elements=["Au"], max_train=7)
    assert [s.uid for s in small["train"]] == [s.uid for s in full["train"][:7]]
    for name in ("validation", "test", "held_out"):
        assert [s.uid for s in small[name]] == [s.uid for s in full[name]]


def _crystal(k: int, *symbols: str) -> CrystalSample:
    atoms = bulk("NaCl", "rocksalt", a=5.0) if len(symbols) > 1 else bulk(symbols[0], "fcc", a=4.0)
    if len(symbols) > 1:
        atoms.set_chemical_symbols(list(symbols))
    return CrystalSample(uid=f"c{k}", name=f"{''.join(symbols)}{k}", prototype="p", atoms=atoms, graph=(),
                         target=np.zeros(3), reference_cv=np.zeros(2))


def test_keep_elements_leaves_each_element_and_its_last_elemental_crystal_in_training():
    # C has two elemental crystals and several compounds; X (Xe) is in one crystal only; many routine crystals
    routine = [_crystal(k, "N") for k in range(20)] + [_crystal(20 + k, "O") for k in range(20)]
    special = [_crystal(100, "C"), _crystal(101, "C"), _crystal(102, "C", "N"), _crystal(103, "C", "O"), _crystal(104, "Xe")]
    samples = routine + special
    for seed in range(40):
        sets = split(samples, [], 0.2, 0.2, seed=seed, keep_elements=True)
        train = sets["train"]
        assert sorted(s.uid for v in sets.values() for s in v) == sorted(s.uid for s in samples)
        assert len(sets["validation"]) == len(sets["test"]) == 9
        trained = {e for s in train for e in s.atoms.get_chemical_symbols()}
        assert trained == {"C", "N", "O", "Xe"}
        assert any(set(s.atoms.get_chemical_symbols()) == {"C"} for s in train)
    # without the option some seed draws both pure-carbon crystals or the only Xe crystal out of training
    lost = 0
    for seed in range(40):
        train = split(samples, [], 0.2, 0.2, seed=seed)["train"]
        elemental_c = [s for s in train if set(s.atoms.get_chemical_symbols()) == {"C"}]
        lost += not elemental_c or not any("Xe" in s.atoms.get_chemical_symbols() for s in train)
    assert lost > 0
