"""The phonon network's learned frequency scale: each atom's spectrum read on its own stretched axis."""
import copy

import numpy as np
import pytest
import torch

from ase_e3density.graph.inputs import crystal_batch_inputs
from ase_e3density.models.export import export_network, load_program
from ase_e3density.nn import PhononDOSModel, PhononModelConfig
from test_phonon_export import SPECIES, crystals, deployed_runtimes_agree, graphs


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
    deployed_runtimes_agree(model, tmp_path / "scaled.pt")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("log_scale", [-200.0, 200.0])
def test_an_extreme_scale_head_output_gives_a_finite_dos_of_three_modes(log_scale, dtype):
    """In float32 exp(-200) underflows to 0 and the grid index becomes NaN (an index error); in float64 the
    spectrum is squeezed into no bin or stretched off the grid (0 modes). ln(scale) is held to +-LOG_SCALE_LIMIT,
    so the DOS keeps 3 modes per atom and equals the DOS at the limit; the scripted network (what a file ships)
    does the same."""
    from e3nn.util.jit import script

    from ase_e3density.nn.phonon_model import LOG_SCALE_LIMIT

    model = scaled_network().to(dtype)
    inputs = crystal_batch_inputs(graphs(crystals(), model.config.cutoff), dtype)
    with torch.no_grad():
        model.scale_heads[0].weight.zero_()
        model.scale_heads[0].bias.fill_(log_scale)
        extreme = model(*inputs)
        # the case that failed (float32 underflow), compiled as deploy compiles it
        scripted = script(copy.deepcopy(model))(*inputs) if dtype == torch.float32 and log_scale < 0 else extreme
        model.scale_heads[0].bias.fill_(LOG_SCALE_LIMIT if log_scale > 0 else -LOG_SCALE_LIMIT)
        at_limit = model(*inputs)
    assert torch.isfinite(extreme).all()
    np.testing.assert_allclose((extreme.sum(dim=1) * model.step).double().numpy(), 3.0,
                               rtol=1e-10 if dtype == torch.float64 else 1e-5)
    np.testing.assert_allclose(extreme.numpy(), at_limit.numpy(), rtol=0, atol=0)
    np.testing.assert_allclose(scripted.numpy(), extreme.numpy(), rtol=0, atol=1e-12 if dtype == torch.float64 else 1e-6)
