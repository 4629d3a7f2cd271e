"""The dense, edge-chunked inference path computes the network's function, not timings."""
import numpy as np
import pytest
import torch
from ase.build import molecule
from e3nn import o3

from ase_e3density.graph import model_inputs
from ase_e3density.models import load_model, resolve_model_path
from ase_e3density.models import runtime
from ase_e3density.models.jit import plain_execution
from ase_e3density.nn import DensityModel, ModelConfig
from model_helpers import SPECIES, coefficient_rotation, predict, small_model


def water_box():
    """12 waters in a periodic 7 Å box: every atom has neighbours across the cell boundary."""
    rng = np.random.default_rng(3)
    box = molecule("H2O")
    box.set_cell([7.0] * 3)
    box.pbc = True
    grid = [(i, j, k) for i in range(3) for j in range(2) for k in range(2)]
    atoms = box[:0]
    for i, j, k in grid:
        w = molecule("H2O")
        w.rotate(rng.uniform(0, 360), rng.normal(size=3))
        w.translate([2.33 * i + 0.5, 3.5 * j + 0.5, 3.5 * k + 0.5])
        atoms += w
    return atoms


def prepared(model, edge_chunk: int):
    """``model`` itself, switched to the dense path (see :func:`plain`)."""
    model.prepare_inference(edge_chunk)
    return model


def plain(model):
    """``model`` switched back to e3nn's modules, every edge at once, in the network and each layer."""
    for _, module in model.named_modules():
        if hasattr(module, "fused"):
            module.fused = False
    return model


@pytest.fixture(scope="module")
def model():
    return small_model()


def test_chunked_and_unchunked_paths_give_the_same_coefficients(model):
    lonely = molecule("CH3CONH2") + molecule("H2O")
    lonely.positions[-3:] += [12.0, 0.0, 0.0]
    lonely = lonely + lonely[-3:-2]  # an oxygen with no neighbour: a block of receivers without edges
    lonely.positions[-1] += [0.0, 9.0, 0.0]
    for atoms in (water_box(), molecule("CH3CONH2"), lonely):
        reference = predict(plain(model), atoms)  # e3nn's modules, all edges at once
        for edge_chunk in (0, 1, 97, 100000):  # blocks of one receiver; several blocks, the last one short
            np.testing.assert_allclose(predict(prepared(model, edge_chunk), atoms), reference, atol=1e-6, rtol=0)


def test_dense_path_with_both_parities():
    """Odd scalars (tanh gates) and pseudo-irreps that layer 0 cannot make yet (they stay zero)."""
    torch.manual_seed(1)
    cfg = ModelConfig(species=SPECIES, hidden={0: 6, 1: 3, 2: 2, 3: 1}, parity="both", n_layers=2, radial_hidden=8)
    model = DensityModel(cfg, dtype=torch.float64)
    atoms = water_box()
    reference = predict(model, atoms)
    np.testing.assert_allclose(predict(prepared(model, 97), atoms), reference, atol=1e-6, rtol=0)


@pytest.mark.parametrize("reflect", [False, True])
def test_dense_path_is_equivariant(model, reflect):
    prepared(model, 5)
    atoms = molecule("CH3CONH2")
    rot = o3.rand_matrix(dtype=torch.float64).numpy() * (-1 if reflect else 1)
    moved = atoms.copy()
    moved.positions = atoms.positions @ rot.T
    np.testing.assert_allclose(predict(model, moved), coefficient_rotation(atoms, model.config.basis, rot)
                               @ predict(model, atoms), atol=1e-6)


def test_training_keeps_autograd_through_e3nn():
    model, dense = small_model(), prepared(small_model(), 3)
    atoms = molecule("CH3CN")
    index = {s: k for k, s in enumerate(SPECIES)}
    inputs = model_inputs(atoms, index, model.config.cutoff, 0.0, torch.float64)
    for net in (model, dense):
        net.zero_grad()
        net(*inputs).square().sum().backward()
    grads = {n: p.grad for n, p in model.named_parameters()}
    for name, p in dense.named_parameters():
        assert (p.grad is None) == (grads[name] is None), name  # heads of absent elements get none
        assert p.grad is None or torch.equal(p.grad, grads[name]), name


def test_prepare_copies_the_weights_of_the_moment():
    model = prepared(small_model(), 4)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(1.1)
    fresh = predict(plain(model), molecule("H2O"))
    model.fused = True
    for layer in model.layers:
        layer.fused = True
    stale = predict(model, molecule("H2O"))
    assert np.abs(stale - fresh).max() > 1e-4  # documented: prepare again after the weights change
    model.prepare_inference(4)
    np.testing.assert_allclose(predict(model, molecule("H2O")), fresh, atol=1e-6, rtol=0)


def test_shipped_model_runs_the_dense_path_with_the_files_numbers():
    loaded = load_model(resolve_model_path("default"), dtype="float64")
    module = loaded.module
    assert module.fused and runtime.EDGE_CHUNK > 0
    atoms = water_box().repeat((2, 2, 2))  # 288 atoms: more edges than one block of receivers
    assert loaded.checked_graph(atoms, 0.0)[2].shape[1] > module.block_edges()
    dense = loaded.predict(atoms)
    try:
        plain(module)
        unfused = loaded.predict(atoms)
    finally:
        with plain_execution():  # as the runtime does: TorchScript's profiling executor costs seconds here
            module.prepare_inference(runtime.EDGE_CHUNK)
    np.testing.assert_allclose(dense, unfused, atol=1e-6, rtol=0)
