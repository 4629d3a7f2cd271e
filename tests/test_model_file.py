"""Model file format 3: the eager and torch.export runtimes equal TorchScript, format-2 files keep loading,
the plain weights and the program are under the checksum, and checkpoints never run code on loading."""
import dataclasses
import hashlib
import io
import json
import os
import shlex
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk, molecule
from ase.io import read

from ase_e3density.errors import CalculatorParameterError, InvalidStructureError, ModelFileError
from ase_e3density.calculator import E3DensityCalculator
from ase_e3density.cli import main
from ase_e3density.graph import model_inputs
from ase_e3density.models import clear_model_cache, deploy, load_model, read_metadata, shipped_model_path
from ase_e3density.models import format as fmt
from ase_e3density.train.checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from model_helpers import predict, small_model, waters

EXAMPLE = Path(__file__).resolve().parents[1] / "ase_e3density" / "data" / "examples" / "water_20.xyz"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A small float64 density model, deployed with its torch.export program."""
    model = small_model(seed=4)
    path = tmp_path_factory.mktemp("format3") / "model.pt"
    deploy(model, path, provenance={"test": "format 3"}, export=True)
    return model, path


def molecules():
    """A few structures of H, C, N, O: one molecule, a charged one, three waters."""
    return [(molecule("CH3CONH2"), 0.0), (molecule("CH3CH2OH"), 1.0), (waters([0, 0, 0], [2.9, 0, 0], [0, 3.0, 0.5]), 0.0)]


@pytest.fixture
def no_torchscript(monkeypatch):
    """``torch.jit.load`` raises: whatever loads must do without TorchScript."""
    clear_model_cache()

    def refuse(*args, **kwargs):
        raise AssertionError("torch.jit.load called")

    monkeypatch.setattr(torch.jit, "load", refuse)
    yield
    clear_model_cache()


def rewrite(src, dst, meta_edit=None, drop=(), replace=None):
    """Copy a deployed archive member by member: metadata edited (checksum recomputed when
    ``meta_edit`` returns True), members ending in ``drop`` left out, ``replace`` {suffix: bytes}."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            if any(item.filename.endswith(d) for d in drop):
                continue
            data = zin.read(item.filename)
            if item.filename.endswith(f"extra/{fmt.METADATA_FILE}") and meta_edit:
                meta = json.loads(data)
                if meta_edit(meta):
                    meta[fmt.CHECKSUM] = fmt.metadata_checksum(meta)
                data = json.dumps(meta).encode()
            for suffix, new in (replace or {}).items():
                if item.filename.endswith(suffix):
                    data = new
            zout.writestr(item, data)
    return dst


def as_format2(src, dst):
    """The file as the format-2 writer wrote it: TorchScript archive and metadata.json only."""
    def edit(meta):
        meta[fmt.FORMAT] = 2
        meta.pop(fmt.PROGRAM_SHA256, None)
        return True
    return rewrite(src, dst, edit, drop=(f"extra/{fmt.WEIGHTS_FILE}", f"extra/{fmt.PROGRAM_FILE}"))


def test_format3_layout(exported, capsys):
    model, path = exported
    meta = read_metadata(path)
    assert meta[fmt.FORMAT] == fmt.FORMAT_VERSION == 3 and meta[fmt.CONFIG] == model.config.to_dict()
    with zipfile.ZipFile(path) as archive:
        raw = archive.read(next(n for n in archive.namelist() if n.endswith("extra/weights.pt")))
        program = archive.read(next(n for n in archive.namelist() if n.endswith("extra/program.pt2")))
    plain = torch.load(io.BytesIO(raw), weights_only=True)  # plain tensors: no code to run
    assert set(plain) == set(model.state_dict()) and all(torch.equal(plain[k], v) for k, v in model.state_dict().items())
    assert fmt.state_sha256(plain) == meta[fmt.WEIGHTS_SHA256]
    assert hashlib.sha256(program).hexdigest() == meta[fmt.PROGRAM_SHA256]
    capsys.readouterr()
    assert main(["info", str(path)]) == 0
    assert "runtimes:     torchscript, eager, export\n" in capsys.readouterr().out


def test_eager_equals_torchscript_without_torchscript(exported, no_torchscript, monkeypatch):
    model, path = exported
    eager = load_model(path, runtime="eager")
    assert eager.runtime == "eager" and not isinstance(eager.module, torch.jit.ScriptModule)
    with pytest.raises(ModelFileError, match="torch.jit.load called"):  # the guard is live
        load_model(path, runtime="torchscript")
    atoms = molecule("CH3CONH2")
    atoms.calc = E3DensityCalculator(model=str(path), runtime="eager")  # calculators pass the runtime on
    dipole = atoms.get_dipole_moment()
    assert atoms.calc.model is eager
    monkeypatch.undo()
    scripted = load_model(path)
    assert scripted.runtime == "torchscript" and isinstance(scripted.module, torch.jit.ScriptModule)
    assert load_model(path, runtime="eager") is eager  # cached per runtime
    for atoms, charge in molecules():
        a, b = scripted.predict(atoms, charge), eager.predict(atoms, charge)
        assert np.abs(a).max() > 0.1
        np.testing.assert_allclose(b, a, atol=1e-6, rtol=0)
        np.testing.assert_allclose(b, predict(model, atoms, charge), atol=1e-6, rtol=0)
    atoms = molecule("CH3CONH2")
    atoms.calc = E3DensityCalculator(model=str(path))
    np.testing.assert_allclose(atoms.get_dipole_moment(), dipole, atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["default", "phonon"])
def test_shipped_models_eager_equals_torchscript_in_float64(name, no_torchscript, monkeypatch):
    path = shipped_model_path(name)
    eager = load_model(path, dtype="float64", runtime="eager")
    monkeypatch.undo()
    clear_model_cache()
    scripted = load_model(path, dtype="float64")
    if name == "default":
        cluster = read(EXAMPLE)
        for atoms in (cluster, cluster[:9], molecule("H2O")):
            np.testing.assert_allclose(eager.predict(atoms), scripted.predict(atoms), atol=1e-6, rtol=0)
    else:
        crystals = [bulk("NaCl", "rocksalt", a=5.64), bulk("Si", "diamond", a=5.43).repeat(2), bulk("Cu", "fcc", a=3.6)]
        for atoms in crystals:
            a, b = scripted.predict_dos(atoms).dos, eager.predict_dos(atoms).dos
            assert a.max() > 0.1
            np.testing.assert_allclose(b, a, atol=1e-6, rtol=0)


FRESH_EXPORT = """
import json, sys, torch
def refuse(*args, **kwargs):
    raise AssertionError("torch.jit.load called")
torch.jit.load = refuse
from ase.build import molecule
from ase_e3density.models import load_model
m = load_model(sys.argv[1], runtime="export")
c = m.predict(molecule("CH3CONH2"), charge=0.0)
print(json.dumps({"c": c.tolist(), "runtime": m.runtime, "e3nn": "e3nn" in sys.modules}))
"""


def test_export_round_trip_in_a_fresh_process(exported):
    model, path = exported
    out = subprocess.run([sys.executable, "-c", FRESH_EXPORT, str(path)], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout)
    assert result["runtime"] == "export" and result["e3nn"] is False  # neither TorchScript nor e3nn needed
    np.testing.assert_allclose(result["c"], predict(model, molecule("CH3CONH2")), atol=1e-6, rtol=0)


@pytest.mark.slow
def test_export_runtime_equals_torchscript_and_refuses_what_it_cannot_run(exported, tmp_path):
    model, path = exported
    clear_model_cache()
    program, scripted = load_model(path, runtime="export"), load_model(path)
    for atoms, charge in molecules():
        np.testing.assert_allclose(program.predict(atoms, charge), scripted.predict(atoms, charge), atol=1e-6, rtol=0)
    with pytest.raises(InvalidStructureError, match="at least 2 atoms and 2 edges; use runtime='torchscript'"):
        program.predict(Atoms("N", positions=[[0, 0, 0]]), charge=0.0)
    with pytest.raises(CalculatorParameterError, match="runs in float64 only"):
        load_model(path, runtime="export", dtype="float32")
    plain = tmp_path / "plain.pt"
    deploy(small_model(seed=4), plain)
    with pytest.raises(ModelFileError, match="carries no torch.export program.*--export"):
        load_model(plain, runtime="export")
    with pytest.raises(CalculatorParameterError, match="runtime must be one of 'torchscript', 'eager', 'export'"):
        load_model(plain, runtime="aot")


def test_format2_files_keep_loading(exported, tmp_path):
    model, path = exported
    old = as_format2(path, tmp_path / "format2.pt")
    meta = read_metadata(old)
    assert meta[fmt.FORMAT] == 2 and fmt.runtimes_of(meta) == ["torchscript", "eager"]
    clear_model_cache()
    for runtime in ("torchscript", "eager"):
        loaded = load_model(old, runtime=runtime)
        for atoms, charge in molecules():
            np.testing.assert_allclose(loaded.predict(atoms, charge), predict(model, atoms, charge), atol=1e-6, rtol=0)
    with pytest.raises(ModelFileError, match="carries no torch.export program"):
        load_model(old, runtime="export")


@pytest.mark.slow
def test_shipped_model_as_format2_keeps_loading(tmp_path):
    shipped = as_format2(shipped_model_path("default"), tmp_path / "default_format2.pt")
    atoms = read(EXAMPLE)
    np.testing.assert_allclose(load_model(shipped, runtime="eager").predict(atoms),
                               load_model(shipped_model_path("default")).predict(atoms), atol=1e-6, rtol=0)


def test_plain_weights_and_program_are_under_the_checksum(exported, tmp_path):
    model, path = exported
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state["free_atom"][0, 0] += 1e-9
    edited = io.BytesIO()
    torch.save(state, edited)
    bad_weights = rewrite(path, tmp_path / "weights.pt", replace={"extra/weights.pt": edited.getvalue()})
    for runtime in ("torchscript", "eager"):
        with pytest.raises(ModelFileError, match="weights do not match the checksum"):
            load_model(bad_weights, runtime=runtime)
    missing = rewrite(path, tmp_path / "missing.pt", drop=("extra/weights.pt",))
    with pytest.raises(ModelFileError, match="without its weights.pt"):
        load_model(missing, runtime="eager")
    program = (Path(__file__).parent / "test_model_file.py").read_bytes()
    bad_program = rewrite(path, tmp_path / "program.pt", replace={"extra/program.pt2": program})
    with pytest.raises(ModelFileError, match="program does not match the checksum"):
        load_model(bad_program, runtime="export")


class Payload:
    """A pickle that would run code on loading: a shell command that creates ``marker``."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {shlex.quote(str(self.marker))}",))


def test_plain_weights_are_read_without_running_code(exported, tmp_path):
    _, path = exported
    marker = tmp_path / "ran"
    crafted = io.BytesIO()
    torch.save({"free_atom": Payload(marker)}, crafted)
    evil = rewrite(path, tmp_path / "evil.pt", replace={"extra/weights.pt": crafted.getvalue()})
    with pytest.raises(ModelFileError, match="unreadable weights.pt"):
        load_model(evil, runtime="eager")
    assert not marker.exists()


def test_crafted_checkpoint_is_refused_in_one_line(tmp_path, capsys):
    marker = tmp_path / "ran"
    crafted = tmp_path / "crafted.pt"
    state = {"format": "ase_e3density-checkpoint-1", "kind": "electron_density", "payload": Payload(marker)}
    torch.save(state, crafted)
    with pytest.raises(ModelFileError, match=r"refused.*could run code, here (posix|nt)\.system") as error:
        load_checkpoint(crafted)
    assert "\n" not in str(error.value)
    capsys.readouterr()
    assert main(["deploy", str(crafted), "-o", str(tmp_path / "model.pt")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "refused" in err
    assert not marker.exists() and not (tmp_path / "model.pt").exists()


@dataclasses.dataclass
class Settings:
    lr: float
    path: Path


def test_checkpoints_are_plain_data(tmp_path):
    model = small_model(dtype=torch.float32, seed=2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(*model_inputs(molecule("H2O"), {"H": 0, "C": 1, "N": 2, "O": 3}, 3.5, 0.0, torch.float32)).sum().backward()
    optimizer.step()
    extra = {"optimizer": optimizer.state_dict(), "epoch": np.int64(3), "metrics": {"eps": np.float32(1.5)},
             "settings": Settings(0.1, tmp_path), "counts": np.array([1, 2]), "seen": {"b", "a"}}
    save_checkpoint(tmp_path / "ck.pt", model, **extra)
    state = load_checkpoint(tmp_path / "ck.pt")
    assert state["epoch"] == 3 and type(state["epoch"]) is int and state["metrics"]["eps"] == 1.5
    assert state["settings"] == {"lr": 0.1, "path": str(tmp_path)} and state["seen"] == ["a", "b"]
    assert torch.equal(state["counts"], torch.tensor([1, 2]))
    fresh = torch.optim.AdamW(model.parameters(), lr=1e-3)
    fresh.load_state_dict(state["optimizer"])
    rebuilt = model_from_checkpoint(state)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in rebuilt.state_dict().items())
    with pytest.raises(ModelFileError, match=r"checkpoint\['bad'\]: a object cannot be stored"):
        save_checkpoint(tmp_path / "bad.pt", model, bad=object())


@pytest.mark.slow
def test_training_checkpoints_load_safely_and_deploy_with_every_runtime(tmp_path, capsys):
    pytest.importorskip("pyscf")
    from ase.io import write

    from ase_e3density.train import train
    from test_train import tiny_config

    frames = []
    for k in range(4):
        w = molecule("H2O")
        w.rattle(0.04, seed=k)
        frames.append(w)
    write(tmp_path / "in.xyz", frames)
    assert main(["reference", str(tmp_path / "in.xyz"), "-o", str(tmp_path / "ref.db"), "--no-stability-check"]) == 0
    train(tiny_config(tmp_path / "ref.db", tmp_path / "run", epochs=2))
    state = load_checkpoint(tmp_path / "run" / "checkpoint.pt")  # weights_only: optimiser, scheduler, progress
    assert {"optimizer", "scheduler", "progress", "train_config", "model"} <= set(state)
    assert state["progress"]["epoch"] == 2
    assert main(["deploy", str(tmp_path / "run" / "checkpoint.pt"), "-o", str(tmp_path / "m.pt"), "--export"]) == 0
    network = model_from_checkpoint(state)
    atoms = waters([0, 0, 0], [2.9, 0.1, 0])
    expected = predict(network, atoms)
    clear_model_cache()
    for runtime in ("torchscript", "eager", "export"):
        np.testing.assert_allclose(load_model(tmp_path / "m.pt", runtime=runtime).predict(atoms), expected, atol=1e-5)


def test_load_model_takes_a_shipped_name_as_the_calculator_does():
    """load_model("phonon") is the shipped file (the same cached object), and an unknown bare name is refused
    in one line that lists the shipped names."""
    from ase_e3density.errors import ModelNotFoundError

    assert load_model("phonon") is load_model(shipped_model_path("phonon"))
    with pytest.raises(ModelNotFoundError, match="no shipped model named 'phonnon'.*shipped: default, organic, phonon"):
        load_model("phonnon")
