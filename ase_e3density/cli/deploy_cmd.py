"""``e3density deploy`` and ``e3density info``: make a deployed file, and read its metadata."""
from __future__ import annotations

import argparse
import json

from .common import progress


def add_parser(sub) -> None:
    dep = sub.add_parser("deploy", help="turn a training checkpoint into one model file (TorchScript archive with "
                                        "plain weights; loads with every runtime)")
    dep.add_argument("checkpoint", help="training checkpoint (a run's best.pt or checkpoint.pt)")
    dep.add_argument("-o", "--output", required=True, help="the deployed model file to write")
    dep.add_argument("--export", action="store_true",
                     help="also store the network's torch.export program (runtime='export'; takes seconds to a minute; "
                          "default: TorchScript and weights only)")
    dep.set_defaults(func=run_deploy)

    info = sub.add_parser("info", help="print a deployed model's metadata")
    info.add_argument("model", help="shipped model name or deployed model file")
    info.add_argument("--json", action="store_true", help="all metadata as JSON (default: a readable summary)")
    info.set_defaults(func=run_info)


def run_deploy(args: argparse.Namespace) -> int:
    from ..train.deployment import deploy_checkpoint

    path = deploy_checkpoint(args.checkpoint, args.output, export=args.export)
    progress(f"deployed {args.checkpoint} -> {path}")
    return 0


def run_info(args: argparse.Namespace) -> int:
    from ..train.evaluate import model_file_info

    meta, runtimes = model_file_info(args.model)
    if args.json:
        print(json.dumps(meta, indent=1))
        return 0
    cfg = meta.get("config", {})
    prov = meta.get("provenance", {})
    print(f"model:        {args.model}")
    print(f"kind:         {meta['model_kind']} (format {meta['format_version']}, {meta['dtype']})")
    print(f"runtimes:     {', '.join(runtimes)}")
    print(f"species:      {' '.join(meta['species'])}")
    print(f"cutoff:       {meta['cutoff']} Å")
    if "basis" in meta:
        print(f"basis:        {meta['basis']['name']}")
        for s in meta["species"]:
            print(f"  {s:3s}         {meta['irreps'][s]}")
    parity = f" ({cfg['parity']} parity)" if "parity" in cfg else ""
    print(f"architecture: hidden {cfg.get('hidden')}{parity}, {cfg.get('n_layers')} layers, sh l<={cfg.get('sh_lmax')}")
    if "frequencies" in meta:
        f = meta["frequencies"]
        print(f"output:       phonon DOS per atom on {len(f)} points, {f[0]:g}-{f[-1]:g} THz")
        generator = prov.get("generator", {})
        if generator:
            print("generator:    " + ", ".join(f"{k} {v}" for k, v in generator.items()))
    print("versions:     " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()))
    for key in ("command", "train", "data", "validation", "n_train", "n_val", "counts", "seed", "best_epoch",
                "epochs_run", "training_seconds"):
        if key in prov:
            print(f"provenance:   {key}: {prov[key]}")
    trained = prov.get("train_config", {})
    optimiser = {k: trained[k] for k in ("optimizer", "lr", "weight_decay", "ema_decay", "batch_size") if k in trained}
    if optimiser:
        print("optimiser:    " + ", ".join(f"{k} {v}" for k, v in optimiser.items()))
    start = prov.get("initialised_from")
    if start:
        print(f"provenance:   started from {start['source']} ({start.get('model_checksum', start['weights_sha256'])[:12]})")
    if prov.get("resumes"):
        print(f"provenance:   resumed {len(prov['resumes'])} time(s), after epoch(s) "
              + ", ".join(str(r.get("after_epoch")) for r in prov["resumes"]))
    metrics = prov.get("validation_metrics")
    if metrics:
        print("validation:   " + ", ".join(f"{k} {v:.4g}" for k, v in metrics.items() if isinstance(v, (int, float))))
    print(f"checksum:     {meta['checksum']}")
    return 0
