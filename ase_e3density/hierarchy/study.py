"""A hierarchy study: a grid of ordinary training runs over hidden l_max, output order and seed.

The study file (YAML) holds one training configuration (``training``, paths relative to the
study file) and the grid::

    training: {train: data.db, validation: val.db, epochs: 30, feature_stats_every: 10, ...}
    hidden_lmax: [0, 1, 2, 3]
    outputs: [0, 1, all]          # output_lmax of the runs; "all" learns every component
    seeds: [0, 1, 2]
    widths: same_channels         # or same_budget
    channels: 8                   # per l (same_channels); same_budget: the largest l_max's count sets the budget

``same_channels`` gives every hidden l up to l_max the same number of channels;
``same_budget`` picks, for each l_max, the channel count whose model has the parameter count
nearest to that of the largest l_max with ``channels`` channels.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from ..errors import ConfigError
from ..train import TrainConfig
from ..train.config import read_yaml_mapping

__all__ = ["Study", "RunSpec", "packaged_study", "output_label"]

STUDY_KEYS = {"name", "training", "hidden_lmax", "outputs", "seeds", "widths", "channels"}


def output_label(output_lmax: int | None) -> str:
    """``"l0"``, ``"l<=1"``, ... or ``"all"``."""
    return "all" if output_lmax is None else ("l0" if output_lmax == 0 else f"l<={output_lmax}")


@dataclass(frozen=True)
class RunSpec:
    """One training run of the grid."""

    hidden_lmax: int
    output_lmax: int | None
    seed: int
    channels: int

    @property
    def name(self) -> str:
        out = "all" if self.output_lmax is None else f"l{self.output_lmax}"
        return f"lmax{self.hidden_lmax}-out_{out}-seed{self.seed}"

    @property
    def configuration(self) -> tuple[int, str]:
        return self.hidden_lmax, output_label(self.output_lmax)


@dataclass
class Study:
    """The grid and the shared training configuration (see the module docstring)."""

    training: dict
    base_dir: Path
    name: str = "hierarchy study"
    hidden_lmax: list[int] = field(default_factory=lambda: [0, 1, 2, 3])
    outputs: list[int | None] = field(default_factory=lambda: [0, 1, None])
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    widths: str = "same_channels"
    channels: int = 8

    @classmethod
    def from_yaml(cls, path) -> "Study":
        path = Path(path)
        raw = read_yaml_mapping(path, "study file")
        unknown = sorted(set(raw) - STUDY_KEYS)
        if unknown:
            raise ConfigError(f"{path}: unknown study option(s) {', '.join(unknown)}; known: {', '.join(sorted(STUDY_KEYS))}")
        if not isinstance(raw.get("training"), dict):
            raise ConfigError(f"{path}: 'training' (a training configuration mapping) is required")
        outputs = [None if o == "all" else o for o in raw.get("outputs", [0, 1, "all"])]
        study = cls(training=raw["training"], base_dir=path.resolve().parent, name=raw.get("name", path.stem),
                    hidden_lmax=raw.get("hidden_lmax", [0, 1, 2, 3]), outputs=outputs,
                    seeds=raw.get("seeds", [0, 1, 2]), widths=raw.get("widths", "same_channels"),
                    channels=raw.get("channels", 8))
        study.check(str(path))
        return study

    def check(self, where: str) -> None:
        """Refuse a grid that cannot run, naming the option."""
        def ints(values, lo, hi, key):
            if not isinstance(values, list) or not values or not all(isinstance(v, int) and lo <= v <= hi for v in values):
                raise ConfigError(f"{where}: {key} must be a non-empty list of integers in {lo}..{hi}, got {values!r}")
        ints(self.hidden_lmax, 0, 4, "hidden_lmax")
        ints(self.seeds, 0, 2**31 - 1, "seeds")
        ints([o for o in self.outputs if o is not None] or [0], 0, 4, "outputs (integers or 'all')")
        if self.widths not in ("same_channels", "same_budget"):
            raise ConfigError(f"{where}: widths must be same_channels or same_budget, got {self.widths!r}")
        if not isinstance(self.channels, int) or self.channels < 1:
            raise ConfigError(f"{where}: channels must be a positive integer, got {self.channels!r}")
        for key in ("output", "seed", "output_lmax"):
            if key in self.training:
                raise ConfigError(f"{where}: training.{key} is set by the study for each run; remove it")
        if "hidden" in self.training.get("model", {}):
            raise ConfigError(f"{where}: training.model.hidden is set by the study (hidden_lmax, channels); remove it")
        self.train_config(RunSpec(max(self.hidden_lmax), None, self.seeds[0], self.channels), Path("."))

    def train_config(self, spec: RunSpec, output: Path) -> TrainConfig:
        """The ordinary training configuration of one run, writing into ``output``."""
        model = {**self.training.get("model", {}), "hidden": {l: spec.channels for l in range(spec.hidden_lmax + 1)}}
        options = {**self.training, "model": model, "output": str(output), "seed": spec.seed,
                   "output_lmax": spec.output_lmax}
        try:
            return TrainConfig(**options, base_dir=str(self.base_dir))
        except TypeError as exc:
            raise ConfigError(f"study training configuration: {exc}") from exc

    def runs(self, channels_for: dict[int, int]) -> list[RunSpec]:
        """Every run of the grid, in the order they are trained (seed last, so early results span the grid)."""
        return [RunSpec(lmax, out, seed, channels_for[lmax])
                for seed in self.seeds for out in self.outputs for lmax in self.hidden_lmax]


def packaged_study(name: str) -> Path:
    """A study file shipped in ase_e3density/data/studies/ (``default`` or ``quick``)."""
    path = Path(str(resources.files("ase_e3density") / "data" / "studies" / f"hierarchy_{name}.yaml"))
    if not path.is_file():
        raise ConfigError(f"no packaged study {name!r}")
    return path
