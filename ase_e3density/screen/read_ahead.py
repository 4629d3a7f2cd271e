"""Reading ahead: an iterator run in a background thread, a few items ahead of its consumer.

The model's forward pass releases the GIL, so while one batch runs the next ones are read, hashed
and checked against the output. Exceptions of the reader reach the consumer unchanged; a consumer
that stops early stops the reader (within one item) and closes its generator.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

__all__ = ["read_ahead"]

T = TypeVar("T")
_END = object()


def read_ahead(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """Yield what ``items`` yields, produced by a background thread at most ``depth`` items ahead."""
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry) -> bool:
        while not stop.is_set():
            try:
                ready.put(entry, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
            put((_END, None))
        except BaseException as exc:  # handed to the consumer, raised there
            put((_END, exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="ase_e3density-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item, exc = ready.get()
            if item is _END:
                if exc is not None:
                    raise exc
                return
            yield item
    finally:
        stop.set()
        thread.join()
