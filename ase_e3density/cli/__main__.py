"""``python -m ase_e3density.cli ...``: the same as the ``e3density`` command."""
import sys

from . import main

sys.exit(main())
