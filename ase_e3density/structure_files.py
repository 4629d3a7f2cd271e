"""Structure files as users give them: what ASE's readers leave out and users look for."""
from __future__ import annotations

from pathlib import Path

__all__ = ["cif_block_names"]


def cif_block_names(path) -> list[str] | None:
    """The data-block names (``data_<name>``) of a CIF file's structures, one per frame ASE reads from it, in
    order; None for any other file. ASE's CIF reader drops them; they are how a CIF's structures are known
    (a database code, a mineral name)."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes[-1:] in ([".gz"], [".bz2"], [".xz"]):  # ASE reads compressed files too
        suffixes = suffixes[:-1]
    if suffixes[-1:] != [".cif"]:
        return None
    from ase.io.cif import parse_cif
    from ase.io.formats import open_with_compression

    with open_with_compression(str(path), "rb") as handle:
        return [block.name for block in parse_cif(handle) if block.has_structure()]
