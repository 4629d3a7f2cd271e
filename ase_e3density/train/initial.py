"""Starting a training run from a trained network (fine-tuning): the option ``init_from``.

The source is a shipped model's name, a deployed model file or a checkpoint of this package (``best.pt``
holds the best epoch's weights, averaged where the run averaged them). The new run takes the source's
architecture and every weight and buffer (the free-atom baseline and output scales of a density network,
the output bias of a phonon network) instead of a new network; the data, loss, optimiser and schedule are
the configuration's. Options of the configuration's ``model`` section must agree with the source's network.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import ConfigError, E3DensityError
from ..kinds import DEFAULT_KIND
from ..models import format as fmt
from ..models.modules import build_network, plain_weights
from ..models.shipped import SHIPPED_MODELS, shipped_model_path
from .checkpoint import load_checkpoint

__all__ = ["InitialNetwork", "read_initial_network"]


@dataclass(frozen=True)
class InitialNetwork:
    """The network a run starts from: its kind, configuration (``to_dict`` form), dtype and weights."""

    source: str
    path: Path
    kind: str
    config: dict
    dtype: str
    weights: dict
    model_checksum: str | None   # the deployed file's checksum (None for a checkpoint)

    def network_config(self, config_class, options: dict, data_species) -> object:
        """The source's network configuration (a ``config_class``), after checking that the configuration's
        ``model`` ``options`` agree with it and that it knows every element of the training data."""
        source = config_class.from_dict(self.config)
        try:
            requested = config_class.from_dict({**self.config, **options})
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"option model: {exc}") from None
        differ = sorted(k for k in options if getattr(requested, k) != getattr(source, k))
        if differ:
            detail = ", ".join(f"{k} {getattr(requested, k)!r} (source: {getattr(source, k)!r})" for k in differ)
            raise ConfigError(f"option model: {detail} differ from the network of init_from {self.source!r}; a run "
                              "started from a network keeps its architecture: leave them out of model")
        missing = [s for s in data_species if s not in source.species]
        if missing:
            raise ConfigError(f"option init_from: the training data holds {', '.join(missing)}, which the network of "
                              f"{self.source!r} does not know (it covers {', '.join(source.species)})")
        return source

    def network(self, dtype: torch.dtype) -> torch.nn.Module:
        """The source's network (its kind and configuration) holding its weights, in ``dtype``."""
        try:
            return build_network({fmt.KIND: self.kind, fmt.CONFIG: self.config, fmt.DTYPE: self.dtype},
                                 self.weights).to(dtype)
        except E3DensityError as exc:
            raise ConfigError(f"option init_from: {self.source!r}: {exc}") from None

    def provenance(self) -> dict:
        """What the deployed file records of its starting point."""
        return {"source": self.source, "file": self.path.name, "weights_sha256": fmt.state_sha256(self.weights),
                **({"model_checksum": self.model_checksum} if self.model_checksum else {})}


def read_initial_network(source: str, base_dir, kind: str) -> InitialNetwork:
    """The network named by ``init_from``: a file (relative to ``base_dir``) or a shipped model's name; it must be
    of ``kind``. Deployed files are checked against their checksums; checkpoints load tensors and plain data only."""
    path = (Path(base_dir) / source).resolve()
    if not path.is_file():
        if source not in SHIPPED_MODELS:
            raise ConfigError(f"option init_from: {source!r} is neither a file nor a shipped model "
                              f"({', '.join(SHIPPED_MODELS)})")
        path = shipped_model_path(source)
    try:
        deployed = fmt.read_member(path, fmt.METADATA_FILE) is not None
    except E3DensityError:  # not a zip archive: load_checkpoint says what it is not
        deployed = False
    if deployed:
        try:
            metadata = fmt.read_metadata(path)
            found = InitialNetwork(source, path, metadata[fmt.KIND], metadata[fmt.CONFIG], metadata[fmt.DTYPE],
                                   plain_weights(path, metadata), metadata[fmt.CHECKSUM])
        except E3DensityError as exc:
            raise ConfigError(f"option init_from: {exc}") from None
    else:
        try:
            state = load_checkpoint(path)
        except E3DensityError as exc:
            raise ConfigError(f"option init_from: {path} is neither a model file nor a checkpoint ({exc})") from None
        found = InitialNetwork(source, path, state.get("kind", DEFAULT_KIND), state["config"], state["dtype"],
                               state["model"], None)
    if found.kind != kind:
        raise ConfigError(f"option init_from: {source!r} is a {found.kind} network, this configuration trains {kind}")
    return found
