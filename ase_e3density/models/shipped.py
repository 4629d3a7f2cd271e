"""Models shipped inside the package, loaded by name; which of them covers a set of elements."""
from __future__ import annotations

from importlib import resources
from pathlib import Path

from ..errors import CalculatorParameterError, ModelNotFoundError
from ..kinds import get_kind, registered_kinds
from . import format as fmt

__all__ = ["SHIPPED_MODELS", "shipped_model_path", "resolve_model_path", "shipped_name", "shipped_models_covering"]

SHIPPED_MODELS = {name: f"{name}.pt" for kind in registered_kinds() for name in kind.shipped}
"""Shipped model name -> file in ``ase_e3density/data/models``; the names are declared with their kind."""


def _models_folder() -> Path:
    return Path(str(resources.files("ase_e3density") / "data" / "models"))


def shipped_model_path(name: str = "default") -> Path:
    """Path of a model shipped in ``ase_e3density/data/models``."""
    if name not in SHIPPED_MODELS:
        raise ModelNotFoundError(f"no shipped model named {name!r}; shipped: {', '.join(SHIPPED_MODELS)}")
    path = _models_folder() / SHIPPED_MODELS[name]
    if not path.is_file():
        raise ModelNotFoundError(f"this installation ships no {name!r} model; pass a deployed file instead")
    return path


def resolve_model_path(model: str | Path | None) -> Path:
    """A shipped model's name (or None for the default) or a path, as a path to a deployed file."""
    if model is None:
        return shipped_model_path("default")
    if isinstance(model, str) and model in SHIPPED_MODELS:
        return shipped_model_path(model)
    if not isinstance(model, (str, Path)):
        raise CalculatorParameterError(f"model must be a shipped model's name ({', '.join(SHIPPED_MODELS)}) or a path to a "
                             f"deployed file, not {type(model).__name__}")
    path = Path(model)
    if isinstance(model, str) and not path.exists() and path.suffix == "" and len(path.parts) == 1:
        raise ModelNotFoundError(f"no shipped model named {model!r} and no file of that name; shipped: "
                                 f"{', '.join(SHIPPED_MODELS)}")
    return path


def shipped_name(path: Path) -> str | None:
    """The shipped name of the model file ``path``, or None for any other file."""
    for name, file in SHIPPED_MODELS.items():
        candidate = _models_folder() / file
        if candidate.is_file() and Path(path).resolve() == candidate.resolve():
            return name
    return None


def shipped_models_covering(kind: str, symbols) -> dict[str, list[str]]:
    """Shipped models of ``kind`` whose species include every element of ``symbols``: name -> species."""
    wanted = set(symbols)
    found = {}
    for name in get_kind(kind).shipped:
        path = _models_folder() / SHIPPED_MODELS[name]
        if path.is_file():
            species = list(fmt.read_metadata(path, verify=False)[fmt.SPECIES])
            if wanted <= set(species):
                found[name] = species
    return found
