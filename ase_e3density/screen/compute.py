"""One batch of structures through an evaluator; every structure gets a result, failures included."""
from __future__ import annotations

import time
from collections.abc import Sequence

from .kinds import Evaluator
from .records import Item, Result, one_line, structure_name

__all__ = ["prepare_batch", "run_batch"]


def _failed(item: Item, checksum: str, exc: BaseException) -> Result:
    return Result(item.source, item.structure_hash, item.atoms, checksum, ok=False, error=one_line(exc),
                  name=structure_name(item.atoms))


def _evaluate(evaluator: Evaluator, items: Sequence[Item], prepared: list) -> list:
    try:
        return evaluator.evaluate(items, prepared)
    except Exception:
        if len(items) == 1:
            raise
    outcomes = []  # the batch failed as a whole: one structure at a time finds the culprit
    for item, graph in zip(items, prepared):
        try:
            outcomes.extend(evaluator.evaluate([item], [graph]))
        except Exception as exc:
            outcomes.append(exc)
    return outcomes


def prepare_batch(evaluator: Evaluator, items: Sequence[Item]) -> list:
    """Each item's checked inputs (graph), or the exception that refused it."""
    prepared: list = []
    for item in items:
        try:
            prepared.append(evaluator.prepare(item))
        except Exception as exc:
            prepared.append(exc)
    return prepared


def run_batch(evaluator: Evaluator, items: Sequence[Item], checksum: str, prepared: list | None = None) -> list[Result]:
    """Results for ``items`` in their order; ``checksum`` is the model's, recorded in every row.
    ``prepared``: :func:`prepare_batch` of ``items`` if already done (by the reader thread)."""
    start = time.perf_counter()
    if prepared is None:
        prepared = prepare_batch(evaluator, items)
    results: list[Result | None] = [None] * len(items)
    good = []
    for k, (item, graph) in enumerate(zip(items, prepared)):
        if isinstance(graph, Exception):
            results[k] = _failed(item, checksum, graph)
        else:
            good.append(k)
    if good:
        try:
            outcomes = _evaluate(evaluator, [items[k] for k in good], [prepared[k] for k in good])
        except Exception as exc:
            outcomes = [exc]
        for k, outcome in zip(good, outcomes):
            item = items[k]
            if isinstance(outcome, BaseException):
                results[k] = _failed(item, checksum, outcome)
            else:
                scalars, arrays = outcome
                results[k] = Result(item.source, item.structure_hash, item.atoms, checksum, ok=True,
                                    scalars=scalars, arrays=arrays, name=structure_name(item.atoms))
    seconds = (time.perf_counter() - start) / len(items)
    finished = time.time()
    for r in results:
        r.seconds, r.time = seconds, finished
    return results  # type: ignore[return-value]
