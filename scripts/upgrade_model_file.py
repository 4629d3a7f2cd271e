"""Rewrite a deployed file (format 2 or 3) in format 3: same scripted network, same weights, plus plain tensors.

Command (how the shipped models were brought to format 3, from their format-2 files of commit 532c0c7):
    python scripts/upgrade_model_file.py ase_e3density/data/models/default.pt
    python scripts/upgrade_model_file.py ase_e3density/data/models/phonon.pt

``--export`` also stores the network's torch.export program (``runtime="export"``; the shipped files carry
none: the phonon network does not export, and the density program would add about 1.5 MB).

The scripted network is kept as scripted; the weights are written beside it as plain tensors and must
hash to the file's ``weights_sha256`` (checked: the weights are unchanged bit for bit). The step is
recorded in ``provenance.format_upgrades``, so the checksum changes. The earlier format-1 -> 2 upgrade of
the default model was made by this script as of commit 8394d91 (``git show 8394d91:scripts/upgrade_model_file.py``).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ase_e3density.models import format as fmt
from ase_e3density.models.upgrade import upgrade_model_file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("-o", "--output", type=Path, help="default: overwrite the input")
    parser.add_argument("--export", action="store_true", help="also store the torch.export program")
    args = parser.parse_args()
    before = fmt.read_metadata(args.model)
    command = "python scripts/upgrade_model_file.py " + args.model.as_posix() + (" --export" if args.export else "")
    out = upgrade_model_file(args.model, args.output, export=args.export, command=command)
    after = fmt.read_metadata(out)
    print(f"{out}: format {before[fmt.FORMAT]} -> {after[fmt.FORMAT]}, weights {after[fmt.WEIGHTS_SHA256][:16]}... "
          f"unchanged, runtimes {', '.join(fmt.runtimes_of(after))}")


if __name__ == "__main__":
    main()
