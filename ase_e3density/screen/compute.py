"""One batch of structures through an evaluator; every structure gets a result, failures included."""
from __future__ import annotations

import time
from collections.abc import Sequence

from .kinds import Evaluator
from .records import Item, Result, one_line

__all__ = ["run_batch"]


def _failed(item: Item, checksum: str, exc: BaseException) -> Result:
    return Result(item.source, item.structure_hash, item.atoms, checksum, ok=False, error=one_line(exc))


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


def run_batch(evaluator: Evaluator, items: Sequence[Item], checksum: str) -> list[Result]:
    """Results for ``items`` in their order; ``checksum`` is the model's, recorded in every row."""
    start = time.perf_counter()
    results: list[Result | None] = [None] * len(items)
    good, prepared = [], []
    for k, item in enumerate(items):
        try:
            prepared.append(evaluator.prepare(item))
            good.append(k)
        except Exception as exc:
            results[k] = _failed(item, checksum, exc)
    if good:
        try:
            outcomes = _evaluate(evaluator, [items[k] for k in good], prepared)
        except Exception as exc:
            outcomes = [exc]
        for k, outcome in zip(good, outcomes):
            item = items[k]
            if isinstance(outcome, BaseException):
                results[k] = _failed(item, checksum, outcome)
            else:
                scalars, arrays = outcome
                results[k] = Result(item.source, item.structure_hash, item.atoms, checksum, ok=True,
                                    scalars=scalars, arrays=arrays)
    seconds = (time.perf_counter() - start) / len(items)
    finished = time.time()
    for r in results:
        r.seconds, r.time = seconds, finished
    return results  # type: ignore[return-value]
