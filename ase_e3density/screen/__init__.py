"""Screening at scale: many structures through a deployed model, batched, resumable, optionally on Dask.

``screen(inputs, output)`` yields results as they come; ``e3density screen`` is the command line.
Dask (the ``screen`` extra) is imported only when ``workers`` or ``scheduler`` is given.
"""
from .records import Item, Result
from .ranking import top_rows
from .runner import Screening, Summary, screen

__all__ = ["screen", "Screening", "Summary", "Result", "Item", "top_rows"]
