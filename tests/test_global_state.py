"""Importing the package and using a model change no global state.

Some dependencies change state when first imported (scipy.special and sympy add warning
filters; e3nn's import of torch._inductor sets TORCHINDUCTOR_CACHE_DIR). They are imported
first, so that what is measured is this package's own behaviour.
"""
import subprocess
import sys

SCRIPT = """
import os, sys, warnings, torch
import numpy, scipy, scipy.special, scipy.spatial, scipy.linalg, ase, ase.io, vesin, yaml, e3nn, e3nn.o3, e3nn.nn, e3nn.util.jit
before = (torch.get_default_dtype(), torch.get_num_threads(), list(warnings.filters), dict(os.environ))
import ase_e3density, ase_e3density.calculator, ase_e3density.models, ase_e3density.nn, ase_e3density.train, ase_e3density.screen
from ase_e3density.nn import DensityModel, ModelConfig
from ase_e3density.models import deploy, load_model
from ase.build import molecule
deploy(DensityModel(ModelConfig(species=["H", "O"], hidden={0: 4, 1: 2}, n_layers=2)), sys.argv[1])
load_model(sys.argv[1]).predict(molecule("H2O"))
after = (torch.get_default_dtype(), torch.get_num_threads(), list(warnings.filters), dict(os.environ))
print("same" if before == after else f"changed: {[i for i, (a, b) in enumerate(zip(before, after)) if a != b]}")
"""


def test_no_global_state_changes(tmp_path):
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "m.pt")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "same"
