"""Periodic-table descriptors as a second input of the phonon network (`model: {element_features: true}`)."""

import numpy as np
import pytest
import torch

from ase_e3density.errors import UnsupportedElementError
from ase_e3density.graph.element_features import element_features
from ase_e3density.graph.inputs import crystal_batch_inputs
from ase_e3density.nn import PhononDOSModel, PhononModelConfig
from test_phonon_export import SPECIES, crystals, deployed_runtimes_agree, graphs


@pytest.mark.parametrize("symbol, period, group, f_position", [
    ("H", 1, 1, 0), ("C", 2, 14, 0), ("Si", 3, 14, 0), ("Sc", 4, 3, 0), ("Zn", 4, 12, 0), ("Ge", 4, 14, 0),
    ("Rh", 5, 9, 0), ("La", 6, 3, 1), ("Tb", 6, 3, 9), ("Lu", 6, 3, 15), ("Hf", 6, 4, 0), ("W", 6, 6, 0),
    ("Bi", 6, 15, 0), ("Ac", 7, 3, 1), ("U", 7, 3, 4), ("Pu", 7, 3, 6)])
def test_descriptors_place_each_element_in_the_periodic_table(symbol, period, group, f_position):
    chi, radius, p, g, f = element_features([symbol])[0]
    assert (p * 7, g * 18, f * 15) == pytest.approx((period, group, f_position), abs=1e-12)
    assert 0.15 < chi < 1.0 and 0.1 < radius < 1.1


def test_descriptors_order_the_elements_as_chemistry_does():
    """Electronegativity rises across a period and falls down a group; radii the other way round."""
    rows = dict(zip(["Li", "C", "F", "Na", "K", "Cs"], element_features(["Li", "C", "F", "Na", "K", "Cs"])))
    assert rows["Li"][0] < rows["C"][0] < rows["F"][0] and rows["Li"][1] > rows["C"][1] > rows["F"][1]
    assert rows["Li"][0] > rows["Na"][0] > rows["K"][0] > rows["Cs"][0]
    assert rows["Li"][1] < rows["Na"][1] < rows["K"][1] < rows["Cs"][1]
    with pytest.raises(UnsupportedElementError, match="Xe has no Pauling electronegativity"):
        element_features(["Xe"])


def network(features: bool, seed: int = 4) -> PhononDOSModel:
    torch.manual_seed(seed)
    return PhononDOSModel(PhononModelConfig(species=SPECIES, hidden={0: 8, 1: 4, 2: 2}, radial_hidden=8, n_bins=59,
                                            max_frequency=24.0, element_features=features),
                          dtype=torch.float64).eval()


def test_the_descriptors_enter_as_an_occupancy_weighted_input_and_a_virtual_crystal_mixes_them():
    """The embedding sees occupancy @ descriptors: for a site A_x B_(1-x) the descriptors' weighted mean. With
    the descriptor weights set to zero the network is the one without descriptors, weight for weight."""
    model = network(True)
    assert torch.equal(model.species_features, torch.tensor(element_features(SPECIES), dtype=torch.float64))
    occupancy = torch.zeros(1, len(SPECIES), dtype=torch.float64)
    occupancy[0, 0], occupancy[0, 1] = 0.25, 0.75
    expected = 0.25 * model.species_features[0] + 0.75 * model.species_features[1]
    torch.testing.assert_close((occupancy @ model.species_features)[0], expected, rtol=0, atol=1e-15)
    plain = network(False)
    n_plain = plain.embedding.weight.shape[1]
    assert model.embedding.weight.shape[1] == n_plain + 5
    with torch.no_grad():
        state = plain.state_dict()
        state["embedding.weight"] = torch.cat([plain.embedding.weight, torch.zeros(8, 5, dtype=torch.float64)], 1)
        state["species_features"] = model.species_features
        model.load_state_dict(state)
        inputs = crystal_batch_inputs(graphs(crystals(), model.config.cutoff), torch.float64)
        np.testing.assert_allclose(model(*inputs).numpy(), plain(*inputs).numpy(), atol=1e-12, rtol=0)


def test_a_state_dict_from_before_the_descriptors_loads_and_one_with_them_keeps_them():
    plain = network(False)
    old = {k: v for k, v in plain.state_dict().items() if k != "species_features"}  # a file made before
    network(False, seed=9).load_state_dict(old)
    with pytest.raises(RuntimeError, match="species_features"):
        network(True).load_state_dict({k: v for k, v in network(True).state_dict().items() if k != "species_features"})


@pytest.mark.slow
def test_a_network_with_descriptors_agrees_in_every_runtime(tmp_path):
    model = network(True)
    with torch.no_grad():
        model.embedding.weight.normal_(0, 0.5)  # the descriptors visibly move the output
    deployed_runtimes_agree(model, tmp_path / "features.pt")
