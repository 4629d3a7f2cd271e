"""The phonon network under torch.export: any number of structures, the same DOS as the eager network."""
import copy

import numpy as np
import pytest
import torch
from ase.build import bulk

from ase_e3density.graph.inputs import crystal_batch_inputs
from ase_e3density.graph.neighbours import neighbour_list
from ase_e3density.graph.occupancy import site_occupancy
from ase_e3density.models import clear_model_cache, deploy, load_model
from ase_e3density.models.export import export_network, load_program
from ase_e3density.nn import PhononDOSModel, PhononModelConfig

SPECIES = ["Al", "Ni", "Cu", "Au"]


def network() -> PhononDOSModel:
    torch.manual_seed(3)
    model = PhononDOSModel(PhononModelConfig(species=SPECIES, hidden={0: 8, 1: 4, 2: 2}, n_layers=3, radial_hidden=8,
                                             n_bins=30, max_frequency=12.0), dtype=torch.float64)
    with torch.no_grad():  # a random head, so that different inputs give visibly different DOS
        model.head.weight.normal_(0, 2.0)
    return model.eval()


def crystals():
    cuni = bulk("Cu", "fcc", 3.6, cubic=True)
    cuni.symbols[[1, 2]] = "Ni"
    nial = bulk("NiAl", "cesiumchloride", a=2.88).repeat((2, 1, 1))
    return [cuni, bulk("Au", "fcc", 4.08), nial, bulk("Al", "fcc", 4.05) * (2, 2, 2)]


def graphs(atoms_list, cutoff: float):
    out = []
    for atoms in atoms_list:
        edges, shifts = neighbour_list(atoms, cutoff)
        out.append((atoms.positions, site_occupancy(atoms, SPECIES), edges, shifts))
    out[1] = (out[1][0], np.array([[0.0, 0.0, 0.3, 0.7]]), *out[1][2:])  # a virtual crystal Cu0.3Au0.7
    return out


def test_exported_network_equals_eager_for_any_number_of_structures():
    model = network()
    program = load_program(export_network(copy.deepcopy(model), len(SPECIES)), torch.device("cpu"))
    all_graphs = graphs(crystals(), model.config.cutoff)
    for chosen in ([0], [1, 2], [0, 1, 2, 3], [3, 2, 1, 0, 1]):  # 1 to 5 structures, more than the example's 2
        inputs = crystal_batch_inputs([all_graphs[i] for i in chosen], torch.float64)
        with torch.no_grad():
            eager = model(*inputs)
        with torch.no_grad():
            exported = program(*inputs)
        assert exported.shape == (len(chosen), len(model.config.frequencies()))
        assert eager.max() > 0.1
        np.testing.assert_allclose(exported.numpy(), eager.numpy(), atol=1e-12, rtol=0)


def deployed_runtimes_agree(model: PhononDOSModel, path) -> dict:
    """Deploy ``model`` (with its export program) to ``path``; assert that the TorchScript, eager and export
    runtimes give the same DOS, with 3 modes, on every test crystal; return the three loaded models."""
    deploy(model, path, provenance={"test": "runtimes"}, export=True)
    clear_model_cache()
    runtimes = {name: load_model(path, runtime=name) for name in ("torchscript", "eager", "export")}
    for atoms in crystals():
        reference = runtimes["torchscript"].predict_dos(atoms)
        assert abs(np.trapezoid(reference.dos, reference.frequencies) - 3.0) < 1e-9
        for name in ("eager", "export"):
            np.testing.assert_allclose(runtimes[name].predict_dos(atoms).dos, reference.dos, atol=1e-10, rtol=0)
    return runtimes


@pytest.mark.slow  # 5-10 s of training or export: the default run stays near 3 min
def test_deployed_phonon_model_runs_exported(tmp_path):
    runtimes = deployed_runtimes_agree(network(), tmp_path / "phonon.pt")
    batch = [runtimes["export"].checked_graph(a) for a in crystals()]
    np.testing.assert_allclose(runtimes["export"].forward(batch), runtimes["torchscript"].forward(batch),
                               atol=1e-10, rtol=0)


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [torch.float32])
def test_float32_network_exports(dtype):
    """The shipped model's dtype: the exported float32 program agrees with the eager float32 network."""
    model = network().to(dtype)
    model.masses = model.masses.to(dtype)
    program = load_program(export_network(copy.deepcopy(model), len(SPECIES)), torch.device("cpu"))
    inputs = crystal_batch_inputs(graphs(crystals(), model.config.cutoff), dtype)
    with torch.no_grad():  # float32 sums in another order: a few units of roundoff (6e-8) of outputs up to ~2
        np.testing.assert_allclose(program(*inputs).numpy(), model(*inputs).numpy(), atol=1e-6, rtol=1e-6)
