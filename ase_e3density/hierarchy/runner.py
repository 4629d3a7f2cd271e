"""Run a study: each run an ordinary training run in ``DIR/runs/NAME``, resumable run by run.

A run whose deployed ``model.pt`` exists is finished and never redone; an interrupted run
resumes from its checkpoint (the trainer's own resume, bitwise exact). The widths chosen for
``same_budget`` are kept in ``DIR/widths.json`` so a resumed study uses the same ones.
"""
from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from ..errors import ConfigError
from ..fileio import atomic_path, claim_folder, exclusive_writer
from ..nn import DensityModel, ModelConfig
from ..train import train
from ..train.skeleton import RUN_FILES
from .study import RunSpec, Study

__all__ = ["run_study", "study_widths", "run_directory"]

STUDY_FILES = ("widths.json", "runs", "summary.csv", "summary.json", "report.md")
"""What a study folder made before folders carried their marker holds."""


def run_directory(out: Path, spec: RunSpec) -> Path:
    return Path(out) / "runs" / spec.name


def count_parameters(study: Study, hidden_lmax: int, channels: int) -> int:
    """Parameters of the study's network with ``channels`` per l up to ``hidden_lmax`` (species from the data)."""
    from ..train.loop import species_of

    config = study.train_config(RunSpec(hidden_lmax, None, 0, channels), Path("."))
    options = dict(config.model)
    species = options.pop("species", None) or species_of(*config.train_paths(), selection=config.selection)
    model = DensityModel(ModelConfig(species=species, **options))
    return sum(p.numel() for p in model.parameters())


def study_widths(study: Study, out: Path) -> dict[int, int]:
    """Channels per l for each hidden l_max (computed once and kept in ``out/widths.json``)."""
    path = Path(out) / "widths.json"
    key = {"widths": study.widths, "channels": study.channels, "hidden_lmax": study.hidden_lmax}
    if path.exists():
        saved = json.loads(path.read_text())
        if saved["key"] != key:
            raise ConfigError(f"{out} was run with widths {saved['key']}, the study now asks {key}; use a new output")
        return {int(k): v for k, v in saved["channels"].items()}
    if study.widths == "same_channels":
        channels = {lmax: study.channels for lmax in study.hidden_lmax}
        parameters = {}
    else:
        budget = count_parameters(study, max(study.hidden_lmax), study.channels)
        channels, parameters = {}, {}
        for lmax in study.hidden_lmax:
            channels[lmax], parameters[lmax] = _channels_for_budget(study, lmax, budget)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps({"key": key, "channels": channels, "parameters": parameters}, indent=1))
    return channels


def _channels_for_budget(study: Study, lmax: int, budget: int) -> tuple[int, int]:
    """The channel count whose parameter count is nearest ``budget`` (parameters grow with channels)."""
    lo, hi = 1, max(2, study.channels)
    while count_parameters(study, lmax, hi) < budget:
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if count_parameters(study, lmax, mid) < budget:
            lo = mid
        else:
            hi = mid
    return min(((c, count_parameters(study, lmax, c)) for c in (lo, hi)), key=lambda cp: abs(cp[1] - budget))


def run_study(study: Study, out, log: Callable[[str], None] | None = None) -> list[tuple[RunSpec, Path]]:
    """Train every run of ``study`` that is not finished; returns (run, deployed file) for all of them."""
    out = claim_folder(out, "hierarchy study", STUDY_FILES)  # never a folder of someone else's files
    log = log or (lambda message: print(message, file=sys.stderr, flush=True))
    with exclusive_writer(out / "study", "the study in"):
        specs = study.runs(study_widths(study, out))
        done = []
        start = time.perf_counter()
        for k, spec in enumerate(specs, start=1):
            folder = run_directory(out, spec)
            deployed = folder / "model.pt"
            if deployed.exists():
                log(f"[{k}/{len(specs)}] {spec.name}: done before, skipped")
            else:
                resumed = (folder / "checkpoint.pt").exists()
                log(f"[{k}/{len(specs)}] {spec.name}: {'resuming' if resumed else 'training'} "
                    f"({spec.channels} channels per l; {time.perf_counter() - start:.0f} s into this session)")
                deployed = train_run(study, spec, folder)
            done.append((spec, deployed))
    return done


def train_run(study: Study, spec: RunSpec, folder: Path) -> Path:
    """One run: its configuration written beside its results, then the trainer (which resumes)."""
    claim_folder(folder, "training run", (*RUN_FILES, "config.yaml"))
    config = study.train_config(spec, folder.resolve())
    options = config.to_dict()  # absolute paths: `e3density train runs/NAME/config.yaml` reruns it as it is
    options.update({key: str(config.path(key)) for key in ("validation", "output") if options[key]})
    paths = [str(p) for p in config.train_paths()]
    options["train"] = paths[0] if isinstance(config.train, str) else paths
    with atomic_path(folder / "config.yaml") as tmp:
        tmp.write_text(yaml.safe_dump(options, sort_keys=False))
    return train(config, resume=True, command=f"e3density hierarchy (run {spec.name})")
