"""Import a module of the repository's scripts/ folder in a test (scripts import their siblings by name)."""
from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def import_script(name: str) -> ModuleType:
    """``scripts/<name>.py`` as a module, with scripts/ on the path only while it (and its siblings) load."""
    sys.path.insert(0, str(SCRIPTS))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(SCRIPTS))
