"""What every calculator of this package shares: parameters, loading and checking the model file,
pickling, and warnings for structures outside the training domain.

One calculator class per model kind (declared in :mod:`ase_e3density.kinds`) derives from
:class:`ModelCalculator` and adds only its own parameters, properties and physics.
"""
from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, PropertyNotImplementedError

from ..errors import CalculatorParameterError, DomainWarning, ModelFileError
from ..kinds import get_kind
from ..models import DeployedModel, load_model, read_metadata, resolve_model_path

__all__ = ["ModelCalculator", "kind_of_model", "charge_value"]

COMMON_PARAMETERS: dict[str, Any] = {"model": "default", "device": "cpu", "dtype": None, "runtime": "torchscript",
                                     "model_checksum": None}
"""Parameters every calculator takes: the model (a shipped name, a file or a loaded model), where and in
what precision its network runs, how (``runtime``), and the checksum the file must have."""
_LOAD_PARAMETERS = frozenset(COMMON_PARAMETERS)
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def model_name(model) -> str:
    """How a model is recorded in ``parameters``: a shipped model's name or a file path."""
    if model is None:
        return "default"
    if isinstance(model, DeployedModel):
        return str(model.path)
    if isinstance(model, Path):
        return str(model)
    if not isinstance(model, str):
        raise CalculatorParameterError(f"model must be a shipped model's name, a path or a loaded model, "
                                       f"not {type(model).__name__}")
    return model


def kind_of_model(model) -> str:
    """The model kind of a shipped name, a file path or a loaded model (reads only the file's metadata)."""
    if isinstance(model, DeployedModel):
        return model.kind
    return str(read_metadata(resolve_model_path(None if model is None else model_name(model)))["model_kind"])


def charge_value(charge, where: str) -> float | None:
    """A total charge (e) as a finite float, ``None`` kept."""
    if charge is None:
        return None
    try:
        value = float(charge)
    except (TypeError, ValueError):
        raise CalculatorParameterError(f"{where} must be a number, got {charge!r}") from None
    if not np.isfinite(value):
        raise CalculatorParameterError(f"{where} must be finite, got {charge!r}")
    return value


def _caller_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the first frame outside this package and ASE: the
    user's line that asked for the property."""
    import ase

    skip = (_PACKAGE_DIR, os.path.dirname(os.path.abspath(ase.__file__)))
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(skip):
        frame, level = frame.f_back, level + 1
    return level


class ModelCalculator(Calculator):
    """An ASE calculator over a deployed model file of one kind (the base of each kind's calculator).

    Parameters common to every kind (``calc.parameters``, changed with ``calc.set(...)``, recorded by
    ``todict()``):

    - ``model``: a shipped model's name, a deployed file, or a loaded model;
    - ``device``: where the network runs (``"cpu"``, ``"cuda"``, ``"cuda:N"``);
    - ``dtype``: ``"float32"`` or ``"float64"``; ``None`` keeps the file's;
    - ``runtime``: how the network runs (``"torchscript"``, the default and fastest);
    - ``model_checksum``: filled in on load; when given, the loaded file must match it.

    Any other parameter, or one of another kind's, is refused in one line that names those accepted.
    """

    kind: ClassVar[str] = ""
    """The model kind this calculator serves (a name in :mod:`ase_e3density.kinds`)."""
    kind_parameters: ClassVar[dict[str, Any]] = {}
    """The kind's own parameters and their defaults."""
    implemented_properties: list[str] = []
    discard_results_on_any_change = True

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        cls.default_parameters = {**COMMON_PARAMETERS, **cls.kind_parameters}

    def __init__(self, model=None, atoms: Atoms | None = None, **parameters):
        self.model: DeployedModel | None = model if isinstance(model, DeployedModel) else None
        self._check_names(parameters)
        super().__init__(atoms=atoms, model=model, **parameters)

    # -- parameters (ASE protocol) -------------------------------------------------------------
    @classmethod
    def accepted_parameters(cls) -> tuple[str, ...]:
        """Every parameter this calculator takes."""
        return tuple(cls.default_parameters)

    def _check_names(self, parameters: dict) -> None:
        unknown = [k for k in parameters if k not in self.default_parameters]
        if unknown:
            raise CalculatorParameterError(
                f"{type(self).__name__} ({get_kind(self.kind).title}) does not take "
                f"{', '.join(map(repr, unknown))}; it takes {', '.join(self.accepted_parameters())}")

    def set(self, **kwargs) -> dict:
        self._check_names(kwargs)
        if "model" in kwargs:
            given = kwargs["model"]
            kwargs["model"] = model_name(given)
            if isinstance(given, DeployedModel):
                self.model = given
        if kwargs.get("dtype") is not None:
            kwargs["dtype"] = str(kwargs["dtype"]).replace("torch.", "")
        if "device" in kwargs:
            kwargs["device"] = str(kwargs["device"])
        kwargs = self.check_parameters(kwargs)
        previous = dict(self.parameters or {})
        changed = super().set(**kwargs)
        if "model" in changed and "model_checksum" not in kwargs:
            self.parameters.pop("model_checksum", None)  # a new file brings its own checksum
        if self.model is None or changed.keys() & _LOAD_PARAMETERS:
            try:
                self._load_model()
            except Exception:
                self.parameters.clear()
                self.parameters.update(previous)
                raise
        return changed

    def check_parameters(self, kwargs: dict) -> dict:
        """The kind's own parameters, checked and normalised (subclasses override)."""
        return kwargs

    def _load_model(self) -> None:
        p = self.parameters
        held = self.model
        if held is not None and str(held.path) == p["model"] and str(held.device) == str(p["device"]) \
                and (p["dtype"] is None or str(held.dtype).endswith(p["dtype"])) \
                and getattr(held, "runtime", "torchscript") == p["runtime"]:
            model = held
        else:
            model = load_model(resolve_model_path(p["model"]), device=p["device"], dtype=p["dtype"],
                               runtime=p["runtime"])
        if model.kind != self.kind:
            right = get_kind(model.kind).load("calculator").__name__
            raise CalculatorParameterError(
                f"{p['model']} predicts {get_kind(model.kind).title}; {type(self).__name__} is for models of "
                f"{get_kind(self.kind).title}: use {right}(model={p['model']!r})")
        expected = p.get("model_checksum")
        if expected is not None and expected != model.checksum:
            raise ModelFileError(f"{model.path} has checksum {model.checksum[:12]}..., not the expected "
                                           f"{str(expected)[:12]}...: another file than the one asked for")
        self.model = model
        p["model_checksum"] = model.checksum

    def get_property(self, name, atoms=None, allow_calculation=True):
        if name not in self.implemented_properties:
            title = get_kind(self.kind).title
            raise PropertyNotImplementedError(
                f"{name!r} is not predicted by {self.parameters['model']} "
                f"({'an' if title[0] in 'aeiou' else 'a'} {title} model); "
                f"it gives {', '.join(self.implemented_properties)}")
        if atoms is None and self.atoms is None:
            raise CalculatorParameterError("no structure yet: pass atoms, or call a property of atoms that carry this "
                                           "calculator first")
        return super().get_property(name, atoms, allow_calculation)

    def todict(self, skip_default: bool = True) -> dict:
        """Parameters as ASE records them, always with the model and its checksum."""
        out = super().todict(skip_default)
        out["model"] = self.parameters["model"]
        out["model_checksum"] = self.parameters.get("model_checksum")
        return out

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["model"] = None  # TorchScript modules do not pickle: reload from the file
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._load_model()

    def __getattr__(self, name: str):
        """A method of another kind's calculator (``get_phonon_dos`` on a density calculator) is refused in
        one line that names the calculator it belongs to."""
        if name.startswith("get_"):
            from ..kinds import registered_kinds

            for kind in registered_kinds():
                other = kind.load("calculator") if kind.has("calculator") and kind.name != self.kind else None
                if other is not None and hasattr(other, name):
                    raise AttributeError(f"{name} is a method of {other.__name__} ({kind.title} models); this "
                                         f"{type(self).__name__} runs a model of {get_kind(self.kind).title}")
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # -- shared by every kind --------------------------------------------------------------------
    domain_message: ClassVar[str] = "{label} is outside the training domain of {model}: "
    """How a :class:`DomainWarning` introduces its reasons (a kind whose check flags known weak spots says so)."""

    def warn_outside_domain(self, atoms: Atoms, reasons: list[str], label: str | None = None) -> None:
        """A :class:`DomainWarning` pointing at the user's line, when ``reasons`` is not empty; the structure is
        named by ``label`` (default: ASE's Hill formula)."""
        if reasons:
            intro = self.domain_message.format(label=label or atoms.get_chemical_formula(), model=self.parameters["model"])
            warnings.warn(intro + "; ".join(reasons), DomainWarning,
                          stacklevel=_caller_stacklevel())
