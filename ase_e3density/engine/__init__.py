"""One resumable engine for every long run: items with a uid, a compute function, a store.

:class:`Run` skips what the store holds, computes the rest in this process or on Dask (``workers``:
a LocalCluster; ``scheduler``: a running cluster), commits each result through the store (the one
writer, holding the output's lock), counts, and turns failures into rows that a rerun skips unless
``retry_failed``. Reference densities, reference phonons and screening all run on it.
"""
from .run import Each, Outcome, Run, Store, Summary, check_engine_options, one_line
from .store import AseDbStore, failures_path
from .uid import compact_key, existing_uids, structure_uid

__all__ = ["Run", "Store", "Summary", "Outcome", "Each", "one_line", "check_engine_options", "AseDbStore",
           "failures_path", "structure_uid", "existing_uids", "compact_key"]
