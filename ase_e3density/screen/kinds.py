"""What a model kind contributes to screening: an evaluator that runs batches of structures.

Each deployed file records its kind; :func:`evaluator_for` builds the evaluator that the kind declares
(:mod:`ase_e3density.kinds`). Each evaluator is a class with the members of :class:`Evaluator`.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from ..errors import E3DensityError, ModelFileError
from ..kinds import get_kind
from ..models import DeployedModel
from .records import Item

__all__ = ["Evaluator", "Outcome", "evaluator_for"]

# one structure's outcome: its scalars (ase.db columns) and arrays, or the exception that stopped it
Outcome = Any


class Evaluator(Protocol):
    """Runs one model kind on batches."""

    OPTIONS: tuple[str, ...]   # its options (constructor keywords) among evaluator_for's; none if absent
    columns: tuple[str, ...]   # scalar result names, in table order
    arrays: tuple[str, ...]    # array result names

    def prepare(self, item: Item) -> Any:
        """Checks and inputs of one structure (raises for structures the model cannot take)."""

    def evaluate(self, items: Sequence[Item], prepared: Sequence[Any]) -> list[Any]:
        """One outcome per item (a (scalars, arrays) pair or an exception), from one forward pass."""


def evaluator_for(model: DeployedModel, keep_coefficients: bool = False,
                  temperatures: Sequence[float] | None = None) -> Evaluator:
    """The screening evaluator of the model's kind (the kind's ``evaluator`` role), with the options that
    kind takes (``OPTIONS`` of its class); an option another kind's evaluator takes is refused."""
    kind = get_kind(model.kind)
    if not kind.has("evaluator"):
        raise ModelFileError(f"{model.path}: screening has no evaluator for {kind.title} models")
    cls = kind.load("evaluator")
    taken = getattr(cls, "OPTIONS", ())
    given = {"keep_coefficients": bool(keep_coefficients), "temperatures": temperatures}
    for name, value in given.items():
        if value not in (None, False) and name not in taken:
            raise E3DensityError(f"--{name.replace('_', '-')} ({name}=) is not for models of {kind.title}; "
                                 f"theirs: {', '.join(taken) or 'none'}")
    return cls(model, **{name: given[name] for name in taken})
