"""Model kinds: one declaration per kind (:mod:`.builtin`), looked up by every layer through :func:`get_kind`."""
from .registry import DEFAULT_KIND, ROLES, ModelKind, get_kind, kind_names, register_kind, registered_kinds, unregister_kind
from . import builtin  # noqa: F401  (registers the shipped kinds)

__all__ = ["DEFAULT_KIND", "ModelKind", "ROLES", "get_kind", "register_kind", "unregister_kind", "registered_kinds", "kind_names"]
