"""Rewrite a format-1 deployed file (no metadata checksum) in the current format, same weights.

Command (how the shipped default model was brought to format 2, from its format-1 file of commit a450a6c):
    git show a450a6c:ase_e3density/data/models/default.pt > /tmp/default_v1.pt
    python scripts/upgrade_model_file.py /tmp/default_v1.pt --config configs/water_default.yaml \
        -o ase_e3density/data/models/default.pt

The network is rebuilt from the file's own architecture and weights (bit for bit), its training
provenance is carried over (paths made relative to the training configuration), and the full
validation metrics of the deployed weights are recomputed on the validation split that the
configuration and seed define, exactly as the trainer records them today.
"""
from __future__ import annotations

import argparse
import json
import zipfile
from pathlib import Path

import torch

from ase_e3density.models import deploy, load_model
from ase_e3density.models.jit import quiet_jit
from ase_e3density.nn import DensityModel, ModelConfig
from ase_e3density.train import TrainConfig
from ase_e3density.train.loop import density_metrics, load_data, training_domain

ROOT = Path(__file__).resolve().parents[1]


def old_metadata(path: Path) -> dict:
    with zipfile.ZipFile(path) as archive:
        name = next(n for n in archive.namelist() if n.endswith("extra/metadata.json"))
        return json.loads(archive.read(name))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--config", type=Path, required=True, help="the training configuration that made it")
    parser.add_argument("-o", "--output", type=Path, help="default: overwrite the input")
    args = parser.parse_args()
    meta = old_metadata(args.model)
    if meta.get("format_version") != 1:
        raise SystemExit(f"{args.model} is format {meta.get('format_version')}, not 1")
    with quiet_jit():
        weights = torch.jit.load(str(args.model), map_location="cpu").state_dict()
    model = DensityModel(ModelConfig.from_dict(meta["config"]), dtype=getattr(torch, meta["dtype"]))
    model.load_state_dict(weights)
    config = TrainConfig.from_yaml(args.config)
    recorded = {k: v for k, v in meta["provenance"]["train_config"].items() if k not in ("train", "output", "validation")}
    mismatch = {k: (v, getattr(config, k)) for k, v in recorded.items() if k != "model" and getattr(config, k) != v}
    if mismatch:
        raise SystemExit(f"{args.config} differs from the recorded training configuration: {mismatch}")
    options = dict(config.model, avg_neighbours=meta["config"]["avg_neighbours"])
    run = load_data(TrainConfig(**{**config.to_dict(), "model": options, "base_dir": config.base_dir}),
                    config.path("output"), 0, 1)
    from ase_e3density.electron.evaluation import ReferenceOnGrid
    run.refs = [ReferenceOnGrid.build(s.density, config.grid_level) for s in run.val_set]
    validation = density_metrics(run, model)
    old = meta["provenance"]
    provenance = {
        "command": f"e3density train {args.config.as_posix()}",
        "train_config": config.to_dict(),
        "train": config.train, "validation": config.validation or f"{config.validation_fraction} of train",
        "n_train": old["n_train"], "n_val": old["n_val"], "seed": old["seed"], "best_epoch": old["best_epoch"],
        "epochs_run": old["epochs_run"], "training_seconds": old["training_seconds"],
        "val_loss": old["val_metrics"]["val_loss"],
        "validation_metrics": {**validation, "grid_level": config.grid_level},
        "resumes": [],
        "upgraded": {"from_format": 1, "trained_with": meta["versions"],
                     "command": "python scripts/upgrade_model_file.py DEFAULT_V1.pt --config configs/water_default.yaml -o ase_e3density/data/models/default.pt (DEFAULT_V1.pt: the format-1 file of commit a450a6c)"},
    }
    out = args.output or args.model
    deploy(model, out, provenance=provenance, domain=training_domain(run))
    reloaded = load_model(out)
    assert all(torch.equal(v, reloaded.module.state_dict()[k]) for k, v in weights.items()), "weights changed"
    print(f"{out}: format 2, validation eps {validation['eps']:.3f} %, dipole error {validation['dipole_error']:.4f} e·Å")


if __name__ == "__main__":
    main()
