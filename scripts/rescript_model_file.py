"""Script a deployed file's network again from this package's code, weights and metadata kept.

Command (how the shipped default model got the dense, edge-chunked inference path,
from its file of commit 2e8e82c):
    git show 2e8e82c:ase_e3density/data/models/default.pt > ase_e3density/data/models/default.pt
    python scripts/rescript_model_file.py ase_e3density/data/models/default.pt

A TorchScript archive carries the code it was scripted from, so a file scripted before a change
to the network's code runs the old code. This rebuilds the network from the file's own
architecture (metadata ``config``) and weights, scripts it with the current code and writes it
with the same metadata plus a ``provenance.rescripted`` note (hence a new checksum), in the current
format (plain weights beside the scripted network, :mod:`ase_e3density.models.format`). It refuses
to write unless every weight is bit for bit the file's (``weights_sha256`` unchanged) and the
rescripted network gives the file's coefficients on a water box.
"""
from __future__ import annotations

import argparse
import copy
import json
import zipfile
from pathlib import Path

import numpy as np
import torch
from ase.build import molecule

from ase_e3density._version import __version__
from ase_e3density.graph import model_inputs
from ase_e3density.models import format as fmt
from ase_e3density.models.jit import plain_execution, quiet_jit
from ase_e3density.nn import DensityModel, ModelConfig


def raw_metadata(path: Path) -> dict:
    with zipfile.ZipFile(path) as archive:
        name = next(n for n in archive.namelist() if n.endswith(f"extra/{fmt.METADATA_FILE}"))
        return json.loads(archive.read(name))


def probe_inputs(meta: dict) -> tuple[torch.Tensor, ...]:
    atoms = molecule("H2O")
    for k in range(1, 6):
        w = molecule("H2O")
        w.translate([2.8 * (k % 3), 2.9 * (k // 3), 0.4 * k])
        atoms += w
    index = {s: k for k, s in enumerate(meta[fmt.SPECIES])}
    return model_inputs(atoms, index, meta[fmt.CUTOFF], 0.0, getattr(torch, meta[fmt.DTYPE]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("-o", "--output", type=Path, help="default: overwrite the input")
    args = parser.parse_args()
    meta = fmt.read_metadata(args.model)
    with quiet_jit():
        old = torch.jit.load(str(args.model), map_location="cpu")
    model = DensityModel(ModelConfig.from_dict(meta[fmt.CONFIG]), dtype=getattr(torch, meta[fmt.DTYPE]))
    model.load_state_dict(old.state_dict())
    from e3nn.util.jit import script
    with quiet_jit():
        scripted = script(model.eval())  # written as built: the runtime prepares it on load
        check = script(copy.deepcopy(model).eval())  # scripting one module twice shares its submodules
    if fmt.weights_sha256(scripted) != meta[fmt.WEIGHTS_SHA256]:
        raise SystemExit("weights changed on rebuilding: refusing to write")
    inputs = probe_inputs(meta)
    with torch.no_grad(), plain_execution():
        before = old(*inputs).double().numpy()
        check.prepare_inference(4)  # several edge chunks and blocks of receivers
        after = check(*inputs).double().numpy()
    worst = float(np.abs(after - before).max())
    if worst > 1e-5:
        raise SystemExit(f"rescripted network differs from the file by {worst:.2e}: refusing to write")
    body = {k: v for k, v in meta.items() if k not in (fmt.CHECKSUM, fmt.WEIGHTS_SHA256, fmt.FORMAT)}
    notes = list(body[fmt.PROVENANCE].get("rescripted", []))
    notes.append({"command": f"python scripts/rescript_model_file.py {args.model.as_posix()}",
                  "by": f"ase_e3density {__version__}, torch {torch.__version__}",
                  "reason": "dense inference path, edges in chunks, receivers in blocks; weights unchanged",
                  "max_coefficient_change": worst})
    body[fmt.PROVENANCE] = {**body[fmt.PROVENANCE], "rescripted": notes}
    out = args.output or args.model
    fmt.write_archive(scripted, body, out)  # atomic: the file is replaced whole or not at all
    new = fmt.read_metadata(out)
    assert new[fmt.WEIGHTS_SHA256] == meta[fmt.WEIGHTS_SHA256]
    print(f"{out}: weights {new[fmt.WEIGHTS_SHA256][:16]}... unchanged, checksum {meta[fmt.CHECKSUM][:16]}... -> "
          f"{new[fmt.CHECKSUM][:16]}..., largest coefficient change {worst:.2e}")


if __name__ == "__main__":
    main()
