"""Models shipped inside the package, loaded by name."""
from __future__ import annotations

from importlib import resources
from pathlib import Path

from ..errors import CalculatorParameterError, ModelNotFoundError

__all__ = ["SHIPPED_MODELS", "shipped_model_path", "resolve_model_path"]

SHIPPED_MODELS = {"default": "default.pt", "phonon": "phonon.pt"}


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
