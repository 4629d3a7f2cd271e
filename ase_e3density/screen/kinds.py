"""What a model kind contributes to screening: an evaluator that runs batches of structures.

Each deployed file records its kind; :func:`evaluator_for` picks the evaluator for it. Each kind (electron
density, phonon DOS) is a class with the same three members and an entry in ``EVALUATORS``.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from ..errors import ModelFileError
from ..models import DeployedModel
from .records import Item

__all__ = ["Evaluator", "Outcome", "evaluator_for", "EVALUATORS"]

# one structure's outcome: its scalars (ase.db columns) and arrays, or the exception that stopped it
Outcome = Any


class Evaluator(Protocol):
    """Runs one model kind on batches."""

    columns: tuple[str, ...]   # scalar result names, in table order
    arrays: tuple[str, ...]    # array result names

    def prepare(self, item: Item) -> Any:
        """Checks and inputs of one structure (raises for structures the model cannot take)."""

    def evaluate(self, items: Sequence[Item], prepared: Sequence[Any]) -> list[Any]:
        """One outcome per item (a (scalars, arrays) pair or an exception), from one forward pass."""


def _density(model: DeployedModel, **options) -> Evaluator:
    from .density_kind import DensityEvaluator

    return DensityEvaluator(model, **options)


def _phonon(model: DeployedModel, **options) -> Evaluator:
    from .phonon_kind import PhononEvaluator

    return PhononEvaluator(model, **options)


EVALUATORS: dict[str, Callable[..., Evaluator]] = {"electron_density": _density, "phonon_dos": _phonon}


def evaluator_for(model: DeployedModel, **options) -> Evaluator:
    """The evaluator of the model's kind."""
    if model.kind not in EVALUATORS:
        raise ModelFileError(f"{model.path}: screening has no evaluator for model kind {model.kind!r}; "
                             f"it knows {', '.join(EVALUATORS)}")
    return EVALUATORS[model.kind](model, **options)
