"""One validator for every configuration of this package: training configurations of each kind, their
model options, and hierarchy study files.

A configuration is a dataclass. Its annotations give the types; three class attributes give the rest:

- ``RANGES``: ``{name: (low, high, low_included)}`` (``high`` is included; ``None``: no bound). For a
  list, every item must lie in the range;
- ``CHOICES``: ``{name: allowed values}``;
- ``NONEMPTY``: names of list options that must hold at least one item.

:func:`check_fields` checks an instance, :func:`known_options` a mapping read from YAML (unknown keys
refused, naming the accepted ones), :func:`check_model_options` the ``model:`` mapping of a training
configuration against the network's own configuration dataclass. Every problem is one
:class:`~ase_e3density.errors.ConfigError` line that names the option.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path

import yaml

from ..errors import ConfigError, E3DensityError

_UNIONS = (typing.Union, types.UnionType)

__all__ = ["read_yaml_mapping", "known_options", "options_from_yaml", "check_fields", "check_model_options",
           "type_ok", "describe", "defaults_of"]


def read_yaml_mapping(path: Path, what: str) -> dict:
    """The mapping of options in the YAML file ``path`` (a ``what``), or one :class:`ConfigError` line."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"no such {what}: {path}")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" (line {where.line + 1})" if where is not None else ""
        raise ConfigError(f"{path}: not valid YAML{at}: {getattr(exc, 'problem', exc)}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of options, got {type(raw).__name__}")
    return raw


def _yaml_fields(cls) -> list[str]:
    return [f.name for f in dataclasses.fields(cls) if f.metadata.get("yaml", True)]


def defaults_of(cls) -> dict:
    """The default of every YAML option of the configuration dataclass ``cls`` that has one."""
    out = {}
    for f in dataclasses.fields(cls):
        if not f.metadata.get("yaml", True):
            continue
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    return out


def known_options(cls, raw: dict, where: str, required: dict[str, str], what: str = "training option") -> dict:
    """``raw`` after refusing options the dataclass ``cls`` lacks and missing ``required`` ones (name: what)."""
    known = _yaml_fields(cls)
    unknown = sorted(str(k) for k in set(raw) - set(known))
    if unknown:
        raise ConfigError(f"{where}: unknown {what}(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    for name, meaning in required.items():
        if name not in raw:
            raise ConfigError(f"{where}: the option '{name}' ({meaning}) is required")
    return raw


def options_from_yaml(cls, path, required: dict[str, str]) -> dict:
    """The options of the dataclass ``cls`` in the YAML file ``path``, with ``base_dir`` its folder."""
    path = Path(path)
    raw = read_yaml_mapping(path, "training configuration")
    if "base_dir" in raw:
        raise ConfigError(f"{path}: base_dir is not an option (paths are relative to the YAML file)")
    return {**known_options(cls, raw, str(path), required), "base_dir": str(path.resolve().parent)}


def type_ok(value, annotation) -> bool:
    """Whether ``value`` (as read from YAML) fits ``annotation``: int, float (an int is a number too), str,
    bool, None, unions, ``list[...]`` and ``dict[...]`` (an int key may be written as a string of digits)."""
    origin = typing.get_origin(annotation)
    if origin in _UNIONS:
        return any(type_ok(value, a) for a in typing.get_args(annotation))
    if annotation is type(None) or annotation is None:
        return value is None
    if annotation is typing.Any:
        return True
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    if annotation is list or origin is list:
        args = typing.get_args(annotation)
        return isinstance(value, list) and (not args or all(type_ok(v, args[0]) for v in value))
    if annotation is dict or origin is dict:
        args = typing.get_args(annotation)
        if not isinstance(value, dict):
            return False
        if not args:
            return True
        key_ok = (lambda k: type_ok(k, int) or (isinstance(k, str) and k.lstrip("-").isdigit())) \
            if args[0] is int else (lambda k: type_ok(k, args[0]))
        return all(key_ok(k) and type_ok(v, args[1]) for k, v in value.items())
    return isinstance(value, annotation) if isinstance(annotation, type) else True


def describe(annotation) -> str:
    """``annotation`` in words, for messages."""
    origin = typing.get_origin(annotation)
    if origin in _UNIONS:
        args = typing.get_args(annotation)
        text = " or ".join(describe(a) for a in args if a is not type(None))
        return text + (" or null" if type(None) in args else "")
    if origin is list or annotation is list:
        args = typing.get_args(annotation)
        return "a list" + (f" of {_plural(args[0])}" if args else "")
    if origin is dict or annotation is dict:
        args = typing.get_args(annotation)
        return "a mapping" + (f" of {_plural(args[0])} to {_plural(args[1])}" if args else "")
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(annotation,
                                                                                             str(annotation))


def _plural(annotation) -> str:
    if typing.get_origin(annotation) in _UNIONS:
        args = typing.get_args(annotation)
        return " or ".join(_plural(a) for a in args if a is not type(None)) + (" or null" if type(None) in args else "")
    return {int: "integers", float: "numbers", str: "strings", bool: "booleans"}.get(annotation, describe(annotation))


def _range_text(lo, hi, closed) -> str:
    bound = f">= {lo}" if closed else f"> {lo}"
    return bound + (f" and <= {hi}" if hi is not None else "")


def _in_range(value, lo, hi, closed) -> bool:
    low_bad = value < lo if closed else value <= lo
    return not (low_bad or (hi is not None and value > hi))


def check_value(name: str, value, annotation, bounds=None, choices=None, nonempty: bool = False) -> None:
    """One option: its type, its range (each item's, for a list), its choices; one :class:`ConfigError` line."""
    if not type_ok(value, annotation):
        raise ConfigError(f"option {name}: expected {describe(annotation)}, got {value!r}")
    if value is None:
        return
    if nonempty and isinstance(value, list) and not value:
        raise ConfigError(f"option {name}: expected a non-empty list, got []")
    if bounds is not None:
        lo, hi, closed = bounds
        items = value if isinstance(value, list) else [value]
        for item in items:
            if item is not None and not _in_range(item, lo, hi, closed):
                every = "every item " if isinstance(value, list) else ""
                raise ConfigError(f"option {name}: {every}must be {_range_text(lo, hi, closed)}, got {value!r}")
    if choices is not None and value not in choices:
        raise ConfigError(f"option {name}: must be one of {', '.join(map(str, choices))}, got {value!r}")


def check_fields(config, prefix: str = "") -> None:
    """Every field of the dataclass instance ``config`` against its type and its class's ``RANGES``,
    ``CHOICES`` and ``NONEMPTY``; the first problem as one :class:`ConfigError` line."""
    cls = type(config)
    hints = typing.get_type_hints(cls)
    ranges, choices = getattr(cls, "RANGES", {}), getattr(cls, "CHOICES", {})
    nonempty = getattr(cls, "NONEMPTY", ())
    for f in dataclasses.fields(config):
        if not f.metadata.get("yaml", True):
            continue
        check_value(prefix + f.name, getattr(config, f.name), hints[f.name], ranges.get(f.name), choices.get(f.name),
                    f.name in nonempty)


def check_model_options(config_cls, options, ranges: dict, default_species: list[str]) -> None:
    """The ``model:`` mapping of a training configuration, before any data is read: only fields of the
    network's configuration dataclass ``config_cls``, each of its annotated type and within ``ranges``,
    and a trial ``config_cls(...)`` (``species`` from the options or ``default_species``) so that its
    own checks (e.g. the l range of ``hidden``) run too."""
    if not isinstance(options, dict):
        raise ConfigError(f"option model: expected a mapping of model options, got {options!r}")
    known = [f.name for f in dataclasses.fields(config_cls)]
    unknown = sorted(str(k) for k in set(options) - set(known))
    if unknown:
        raise ConfigError(f"option model.{unknown[0]}: unknown; model options are {', '.join(sorted(known))}")
    hints = typing.get_type_hints(config_cls)
    for key, value in options.items():
        check_value(f"model.{key}", value, hints[key], ranges.get(key), nonempty=key == "species")
    trial = {**options, "species": options.get("species") or list(default_species)}
    try:
        config_cls(**trial)
    except (E3DensityError, TypeError, ValueError, KeyError) as exc:
        raise ConfigError(f"option model: {exc}") from None
