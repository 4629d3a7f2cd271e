"""The phonon network's learned frequency scale: each atom's spectrum read on its own stretched axis."""
import copy

import numpy as np
import pytest
import torch

from ase_e3density.graph.inputs import crystal_batch_inputs
from ase_e3density.models import clear_model_cache, deploy, load_model
from ase_e3density.models.export import export_network, load_program
from ase_e3density.nn import PhononDOSModel, PhononModelConfig
from test_phonon_export import SPECIES, crystals, graphs


def scaled_network(seed: int = 5) -> PhononDOSModel:
    torch.manual_seed(seed)
    model = PhononDOSModel(PhononModelConfig(species=SPECIES, hidden={0: 8, 1: 4, 2: 2}, n_layers=3, radial_hidden=8,
                                             n_bins=59, max_frequency=24.0, frequency_scale=True), dtype=torch.float64)
    with torch.no_grad():  # a random shape and visibly different scales per site
        model.head.weight.normal_(0, 2.0)
        model.scale_heads[0].weight.normal_(0, 0.5)
    return model.eval()


def test_stretch_moves_a_peak_by_the_scale_and_keeps_three_modes():
    model = scaled_network()
    grid = torch.tensor(model.config.frequencies(), dtype=torch.float64)
    peak = torch.exp(-0.5 * ((grid - 4.0) / 0.6) ** 2)  # a Gaussian at 4 THz on the reduced axis
    peak[[0, -1]] = 0
    shape = (peak * 3 / (peak.sum() * model.step)).repeat(3, 1)
    scale = torch.tensor([[1.0], [2.5], [0.5]], dtype=torch.float64)
    out = model.stretch(shape, scale)
    np.testing.assert_allclose((out.sum(dim=1) * model.step).numpy(), 3.0, rtol=1e-12)
    mean = (out * grid).sum(dim=1) / out.sum(dim=1)
    np.testing.assert_allclose(mean.numpy(), [4.0, 10.0, 2.0], rtol=2e-3)  # the peak moves to s x 4 THz
    assert float(out[:, -1].abs().max()) == 0.0 and float(out[:, 0].abs().max()) == 0.0


def test_unit_scale_is_the_fixed_grid_model_and_old_weights_keep_their_names():
    plain_config = PhononModelConfig(species=SPECIES, hidden={0: 8, 1: 4, 2: 2}, radial_hidden=8, n_bins=59,
                                     max_frequency=24.0)
    plain = PhononDOSModel(plain_config, dtype=torch.float64).eval()
    assert not any(name.startswith("scale_heads") for name in plain.state_dict())
    scaled = PhononDOSModel(PhononModelConfig(**{**plain_config.to_dict(), "hidden": {0: 8, 1: 4, 2: 2},
                                                 "frequency_scale": True}), dtype=torch.float64).eval()
    scaled.load_state_dict(plain.state_dict(), strict=False)  # the new head starts at scale 1
    inputs = crystal_batch_inputs(graphs(crystals(), plain_config.cutoff), torch.float64)
    with torch.no_grad():
        np.testing.assert_allclose(scaled(*inputs).numpy(), plain(*inputs).numpy(), atol=1e-12, rtol=0)


@pytest.mark.slow
def test_scaled_network_every_runtime_and_export_agree(tmp_path):
    model = scaled_network()
    program = load_program(export_network(copy.deepcopy(model), len(SPECIES)), torch.device("cpu"))
    inputs = crystal_batch_inputs(graphs(crystals(), model.config.cutoff), torch.float64)
    with torch.no_grad():
        eager = model(*inputs)
        np.testing.assert_allclose(program(*inputs).numpy(), eager.numpy(), atol=1e-12, rtol=0)
    path = tmp_path / "scaled.pt"
    deploy(model, path, provenance={"test": "frequency scale"}, export=True)
    clear_model_cache()
    runtimes = {name: load_model(path, runtime=name) for name in ("torchscript", "eager", "export")}
    for atoms in crystals():
        reference = runtimes["torchscript"].predict_dos(atoms)
        assert abs(np.trapezoid(reference.dos, reference.frequencies) - 3.0) < 1e-9
        for name in ("eager", "export"):
            np.testing.assert_allclose(runtimes[name].predict_dos(atoms).dos, reference.dos, atol=1e-10, rtol=0)
