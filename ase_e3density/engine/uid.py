"""One hash convention for every store: a structure's uid, the uids a database holds, compact keys.

The values are those every database written so far holds (reference rows: ``structure_uid(atoms, xc,
basis, auxbasis)``; phonon rows: ``structure_uid(atoms, "phonons", *settings)``; screening rows:
``"s" + structure_uid(atoms)`` beside their source): a test pins them, so old databases resume.
"""
from __future__ import annotations

import hashlib
from collections.abc import Hashable

import numpy as np

__all__ = ["structure_uid", "existing_uids", "compact_key"]


def structure_uid(atoms, *labels: str) -> str:
    """A stable hash of numbers, positions (1e-6 Å), cell, pbc, charge, spin and ``labels``."""
    h = hashlib.sha1()
    h.update(np.asarray(atoms.numbers, dtype=np.int64).tobytes())
    h.update(np.round(atoms.positions, 6).astype(np.float64).tobytes())
    h.update(np.round(atoms.cell.array, 6).astype(np.float64).tobytes())
    h.update(np.asarray(atoms.pbc, dtype=bool).tobytes())
    h.update(repr((atoms.info.get("charge", 0), atoms.info.get("spin"), labels)).encode())
    uid = h.hexdigest()[:20]
    try:  # ase.db would store a hash such as "8040819478071098e123" as a number: keep it text
        float(uid)
    except ValueError:
        return uid
    return "u" + uid


def existing_uids(db) -> set[str]:
    """The ``uid`` of every row already in the ase.db ``db``."""
    return {str(row.get("uid")) for row in db.select(columns=["key_value_pairs"]) if row.get("uid") is not None}


def compact_key(*parts: str) -> Hashable:
    """``parts`` as one 8-byte integer, so that a million done structures cost tens of MB, not hundreds."""
    digest = hashlib.blake2b("\0".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")
