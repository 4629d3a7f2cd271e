"""The registry of model kinds: each kind (electron density, phonon DOS, ...) is declared once.

A :class:`ModelKind` names, by dotted path, the pieces every layer needs for that kind: the network and
its configuration (``nn``), the runtime that turns a loaded file into physics objects (``models``), the
ASE calculator, the screening evaluator, the trainer and the command-line printers. The paths are
resolved lazily with :meth:`ModelKind.load`, so this module imports nothing of the package and every
layer may read it; a layer resolves only the roles at or below its own (``models`` the runtime and the
network, ``screen`` the evaluator, ``cli`` the printers). No other module branches on a kind's name.
"""
from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass, field
from typing import Any

from ..errors import ModelFileError

__all__ = ["DEFAULT_KIND", "ModelKind", "ROLES", "register_kind", "unregister_kind", "get_kind", "registered_kinds", "kind_names"]

DEFAULT_KIND = "electron_density"
"""The kind of training configurations and checkpoints that name none (they predate kinds)."""

ROLES = ("network", "config", "runtime", "calculator", "evaluator", "train_config", "trainer", "predict", "evaluate")
"""What a kind declares (each a ``"module:attribute"`` path, or ``""`` where the kind has none):

- ``network``: the ``torch.nn.Module`` class, built as ``network(config, dtype=...)``, with ``kind``,
  ``config`` and ``deploy_metadata()``;
- ``config``: its configuration class (``from_dict``/``to_dict``);
- ``runtime``: the :class:`~ase_e3density.models.runtime.DeployedModel` subclass of a loaded file;
- ``calculator``: the ASE calculator class of the kind;
- ``evaluator``: the screening evaluator class, built as ``evaluator(model, **options)``;
- ``train_config``: the training configuration class (``from_yaml``), ``trainer``: ``train(config,
  resume=..., command=...) -> Path``;
- ``predict``: ``predict(args, path, frames, calc, start) -> int``, the ``e3density predict`` printer;
- ``evaluate``: ``evaluate(args) -> int``, the ``e3density evaluate`` printer.
"""


@dataclass(frozen=True)
class ModelKind:
    """One model kind: the name recorded in its files, words for messages, and where each role lives."""

    name: str
    title: str
    roles: dict[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    shipped: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = set(self.roles) - set(ROLES)
        if unknown:
            raise ValueError(f"model kind {self.name!r}: unknown roles {', '.join(sorted(unknown))}; roles: "
                             f"{', '.join(ROLES)}")

    def has(self, role: str) -> bool:
        """Whether the kind declares ``role``."""
        return bool(self.roles.get(role))

    def load(self, role: str) -> Any:
        """The object behind ``role`` (imported on first use)."""
        path = self.roles.get(role)
        if not path:
            raise ModelFileError(f"model kind {self.name!r} ({self.title}) has no {role.replace('_', ' ')}")
        module, _, attribute = path.partition(":")
        return getattr(importlib.import_module(module), attribute)


_KINDS: dict[str, ModelKind] = {}
_LOCK = threading.Lock()


def register_kind(kind: ModelKind, replace: bool = False) -> ModelKind:
    """Add ``kind`` to the registry (``replace=True`` to declare a name again, e.g. in tests)."""
    with _LOCK:
        if kind.name in _KINDS and not replace:
            raise ValueError(f"model kind {kind.name!r} is registered already")
        _KINDS[kind.name] = kind
    return kind


def unregister_kind(name: str) -> None:
    """Remove a kind (tests that register a kind of their own clean up with this)."""
    with _LOCK:
        _KINDS.pop(name, None)


def kind_names() -> tuple[str, ...]:
    """The names of every registered kind, in registration order."""
    return tuple(_KINDS)


def registered_kinds() -> tuple[ModelKind, ...]:
    """Every registered kind, in registration order."""
    return tuple(_KINDS.values())


def get_kind(name: str) -> ModelKind:
    """The kind recorded as ``name`` in a model file (or one of its aliases); refused in one line if unknown."""
    name = str(name)
    if name in _KINDS:
        return _KINDS[name]
    for kind in _KINDS.values():
        if name in kind.aliases:
            return kind
    raise ModelFileError(f"unknown model kind {name!r}; this ase_e3density knows {', '.join(_KINDS)}")
