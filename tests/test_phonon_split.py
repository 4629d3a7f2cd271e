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
