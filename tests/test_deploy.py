"""Deployed files: round trip in a fresh process without e3nn, metadata, and bad files."""
import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import torch
from ase.build import molecule

from ase_e3density import ModelFileError, ModelVersionError
from ase_e3density.cli import main
from ase_e3density.models import FORMAT_VERSION, deploy, load_model, read_metadata
from model_helpers import predict, small_model


@pytest.fixture(scope="module")
def model_and_file(tmp_path_factory):
    model = small_model()
    path = tmp_path_factory.mktemp("deployed") / "model.pt"
    deploy(model, path, provenance={"test": "round trip"})
    return model, path


FRESH = """
import json, sys, warnings
warnings.simplefilter("error")
from ase.build import molecule
from ase_e3density.models import load_model
m = load_model(sys.argv[1])
atoms = molecule("CH3CONH2")
c = m.predict(atoms, charge=0.0)
print(json.dumps({"c": c.tolist(), "e3nn": "e3nn" in sys.modules}))
"""


def test_round_trip_in_fresh_process(model_and_file):
    model, path = model_and_file
    out = subprocess.run([sys.executable, "-c", FRESH, str(path)], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout)
    assert result["e3nn"] is False
    np.testing.assert_allclose(result["c"], predict(model, molecule("CH3CONH2")), atol=1e-6)


def test_metadata(model_and_file, capsys):
    model, path = model_and_file
    meta = read_metadata(path)
    assert meta["format_version"] == FORMAT_VERSION == 3 and meta["model_kind"] == "electron_density"
    assert meta["species"] == ["H", "C", "N", "O"] and meta["cutoff"] == model.config.cutoff
    assert meta["dtype"] == "float64" and meta["units"]["density"] == "e/angstrom^3"
    assert meta["basis"]["elements"]["O"][0]["l"] == 0 and meta["irreps"]["O"] == "12x0e+5x1o+4x2e+2x3o+1x4e"
    assert set(meta["versions"]) >= {"ase_e3density", "torch", "e3nn"} and meta["provenance"] == {"test": "round trip"}
    assert len(meta["free_atom"]["O"]) == 70
    assert main(["info", str(path)]) == 0
    assert "12x0e+5x1o+4x2e+2x3o+1x4e" in capsys.readouterr().out


def test_loads_in_other_dtype(model_and_file):
    model, path = model_and_file
    m32 = load_model(path, dtype="float32")
    c32 = m32.predict(molecule("H2O"))
    np.testing.assert_allclose(c32, predict(model, molecule("H2O")), atol=1e-4)
    from ase_e3density import AtomicDensity
    assert AtomicDensity(molecule("H2O"), m32.basis, c32).n_electrons == pytest.approx(10.0, abs=1e-10)


@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")
def test_bad_files(tmp_path, model_and_file):
    _, path = model_and_file
    with pytest.raises(ModelFileError, match="no such model file"):
        load_model(tmp_path / "missing.pt")
    text = tmp_path / "notes.pt"
    text.write_text("not a model")
    with pytest.raises(ModelFileError, match="not an ase_e3density model"):
        load_model(text)
    plain = tmp_path / "plain.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(plain))
    with pytest.raises(ModelFileError, match="without ase_e3density metadata"):
        load_model(plain)
    with pytest.raises(ModelFileError, match="bare torch.export program"):
        load_model(tmp_path / "model.pt2")


def rewrite(src, dst, edit_meta=None, edit_member=None):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename.endswith("extra/metadata.json") and edit_meta:
                meta = json.loads(data)
                edit_meta(meta)
                data = json.dumps(meta).encode()
            if edit_member and edit_member[0](item.filename):
                data = edit_member[1](data)
            zout.writestr(item, data)


def test_newer_format_and_corrupt_weights(tmp_path, model_and_file):
    _, path = model_and_file
    newer = tmp_path / "newer.pt"
    rewrite(path, newer, edit_meta=lambda m: m.update(format_version=FORMAT_VERSION + 1))
    with pytest.raises(ModelVersionError, match=f"format version {FORMAT_VERSION + 1}.*upgrade"):
        load_model(newer)
    older = tmp_path / "older.pt"
    rewrite(path, older, edit_meta=lambda m: m.update(format_version=1))
    with pytest.raises(ModelVersionError, match="format version 1.*deploy its checkpoint again"):
        load_model(older)
    weights = tmp_path / "weights.pt"
    rewrite(path, weights, edit_member=(lambda name: name.endswith("data/0"), lambda b: bytes(len(b))))
    with pytest.raises(ModelFileError, match="weights do not match"):
        load_model(weights)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(ModelFileError):
        load_model(truncated)


def test_cli_deploy_from_checkpoint(tmp_path):
    from ase_e3density.train.checkpoint import save_checkpoint
    model = small_model(dtype=torch.float32)
    save_checkpoint(tmp_path / "ck.pt", model, provenance={"data": "none"})
    assert main(["deploy", str(tmp_path / "ck.pt"), "-o", str(tmp_path / "m.pt")]) == 0
    m = load_model(tmp_path / "m.pt")
    np.testing.assert_allclose(m.predict(molecule("H2O")), predict(model, molecule("H2O")), atol=1e-4)
    assert main(["info", str(tmp_path / "ck.pt")]) == 2  # a checkpoint is not a deployed model: clear error


def edits(meta: dict):
    """One small edit of every metadata field: a number nudged, a string changed, a list shortened."""
    for key, value in meta.items():
        if key == "format_version":
            continue
        if isinstance(value, bool) or value is None:
            yield key, not value
        elif isinstance(value, (int, float)):
            yield key, value * 1.01 + 0.01
        elif isinstance(value, str):
            yield key, value[:-1] + ("0" if value[-1:] != "0" else "1")
        elif isinstance(value, list):
            yield key, value[:-1]
        elif isinstance(value, dict):
            yield key, {**value, "edited": True}


def test_editing_any_metadata_field_is_refused(tmp_path, model_and_file):
    _, path = model_and_file
    meta = read_metadata(path)
    tried = []
    for key, value in edits(meta):
        edited = tmp_path / f"edited_{key}.pt"
        rewrite(path, edited, edit_meta=lambda m, key=key, value=value: m.update({key: value}))
        with pytest.raises(ModelFileError, match="was edited or is corrupt|weights do not match"):
            load_model(edited)
        tried.append(key)
    assert {"cutoff", "species", "basis", "free_atom", "config", "provenance", "checksum", "weights_sha256"} <= set(tried)


def test_info_states_the_optimiser_and_weight_averaging_of_the_shipped_phonon_model(capsys):
    """The shipped phonon file was trained without weight decay and with ema_decay 0.99: `e3density info` says so."""
    assert main(["info", "phonon"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("optimiser:"))
    assert "weight_decay 0.0" in line and "ema_decay 0.99" in line
