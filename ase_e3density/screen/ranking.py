"""Ranked tables of a result file: the top K rows by one scalar column, streamed (memory O(K))."""
from __future__ import annotations

import heapq
import math

from ..errors import E3DensityError
from .writers import Writer

__all__ = ["top_rows", "format_table"]


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


def format_table(rows: list[dict], key: str, extra: tuple[str, ...] = ("n_atoms",)) -> str:
    """A plain-text table: rank, key, formula (a virtual crystal's composition), extra columns, source."""
    head = ["rank", key, "formula", *extra, "source"]
    lines = [[str(i + 1), f"{float(r[key]):.6g}", str(r.get("composition") or r.get("formula", "")),
              *[str(r.get(c, "")) for c in extra], str(r.get("source", ""))] for i, r in enumerate(rows)]
    widths = [max(len(x) for x in col) for col in zip(head, *lines)]
    fmt = "  ".join(f"{{:{'>' if i < 2 else '<'}{w}}}" for i, w in enumerate(widths))
    return "\n".join(fmt.format(*line) for line in [head, *lines])
