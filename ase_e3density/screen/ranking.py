"""Ranked tables of a result file: the top K rows by one scalar column, streamed (memory O(K))."""
from __future__ import annotations

import heapq
import math

from ..errors import E3DensityError
from .writers import Writer

__all__ = ["top_rows", "format_table", "outside_domain"]


def _number(value) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def top_rows(writer: Writer, key: str, k: int = 10, ascending: bool = False) -> list[dict]:
    """The ``k`` ok rows with the largest (or smallest) ``key``."""
    scored = ((v, n, row) for n, row in enumerate(writer.rows()) if (v := _number(row.get(key))) is not None)
    pick = heapq.nsmallest if ascending else heapq.nlargest
    best = pick(k, scored, key=lambda t: (t[0], -t[1]))
    if not best and k > 0:
        raise E3DensityError(f"no ok row has a numeric {key!r} in {writer.path}")
    return [{**row, key: v} for v, _, row in best]


def _given(value) -> bool:
    return value is not None and value != ""


def outside_domain(rows: list[dict]) -> int:
    """How many ``rows`` the model flagged as outside its training domain (``in_domain`` false: False in
    ase.db and extxyz rows, "False" in CSV rows)."""
    return sum(str(r.get("in_domain")) in ("False", "0") for r in rows)


def format_table(rows: list[dict], key: str, extra: tuple[str, ...] = ("n_atoms", "in_domain")) -> str:
    """A plain-text table: rank, key, formula (a virtual crystal's composition), the ``extra`` columns that
    some row holds (``in_domain``: True/False, False for a structure outside the model's training domain),
    name (when some row has one: the input's ``atoms.info["name"]`` or ase.db ``name``), source."""
    extra = tuple(c for c in extra if any(_given(r.get(c)) for r in rows))
    if any(_given(r.get("name")) for r in rows):
        extra += ("name",)
    head = ["rank", key, "formula", *extra, "source"]
    lines = [[str(i + 1), f"{float(r[key]):.6g}", str(r.get("composition") or r.get("formula", "")),
              *[str(r.get(c, "")) for c in extra], str(r.get("source", ""))] for i, r in enumerate(rows)]
    widths = [max(len(x) for x in col) for col in zip(head, *lines)]
    fmt = "  ".join(f"{{:{'>' if i < 2 else '<'}{w}}}" for i, w in enumerate(widths))
    return "\n".join(fmt.format(*line) for line in [head, *lines])
