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
from typing import ClassVar

from ..errors import ConfigError
from ..train import TrainConfig
from ..train.options import check_fields, known_options, read_yaml_mapping

__all__ = ["Study", "RunSpec", "packaged_study", "output_label"]


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
    """The grid and the shared training configuration (see the module docstring); checked in full, with
    the training configuration of its largest run, by the one validator of :mod:`ase_e3density.train.options`."""

    training: dict
    base_dir: Path = field(metadata={"yaml": False})
    name: str = "hierarchy study"
    hidden_lmax: list[int] = field(default_factory=lambda: [0, 1, 2, 3])
    outputs: list[int | None] = field(default_factory=lambda: [0, 1, None])
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    widths: str = "same_channels"
    channels: int = 8

    RANGES: ClassVar[dict] = {"hidden_lmax": (0, 4, True), "outputs": (0, 4, True), "seeds": (0, 2**31 - 1, True),
                              "channels": (1, None, True)}
    CHOICES: ClassVar[dict] = {"widths": ("same_channels", "same_budget")}
    NONEMPTY: ClassVar[tuple[str, ...]] = ("hidden_lmax", "outputs", "seeds")

    @classmethod
    def from_yaml(cls, path) -> "Study":
        path = Path(path)
        raw = dict(known_options(cls, read_yaml_mapping(path, "study file"), str(path),
                                 {"training": "a training configuration mapping"}, what="study option"))
        outputs = raw.pop("outputs", [0, 1, "all"])
        if isinstance(outputs, list):  # "all": every output component
            words = [o for o in outputs if isinstance(o, str) and o != "all"]
            if words:
                raise ConfigError(f"{path}: option outputs: expected integers 0..4 or 'all', got {words[0]!r}")
            outputs = [None if o == "all" else o for o in outputs]
        raw.setdefault("name", path.stem)
        try:
            study = cls(**raw, outputs=outputs, base_dir=path.resolve().parent)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None
        return study

    def __post_init__(self):
        check_fields(self)
        for key in ("output", "seed", "output_lmax"):
            if key in self.training:
                raise ConfigError(f"training.{key} is set by the study for each run; remove it")
        if "hidden" in (self.training.get("model") or {}):
            raise ConfigError("training.model.hidden is set by the study (hidden_lmax, channels); remove it")
        known_options(TrainConfig, self.training, "training", {"train": "an ase.db of reference densities"})
        try:
            self.train_config(RunSpec(max(self.hidden_lmax), None, self.seeds[0], self.channels), Path("."))
        except ConfigError as exc:
            raise ConfigError(f"training: {exc}") from None

    def train_config(self, spec: RunSpec, output: Path) -> TrainConfig:
        """The ordinary training configuration of one run, writing into ``output``."""
        model = {**self.training.get("model", {}), "hidden": {l: spec.channels for l in range(spec.hidden_lmax + 1)}}
        options = {**self.training, "model": model, "output": str(output), "seed": spec.seed,
                   "output_lmax": spec.output_lmax}
        known_options(TrainConfig, options, "training", {"train": "an ase.db of reference densities"})
        return TrainConfig(**options, base_dir=str(self.base_dir))

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
