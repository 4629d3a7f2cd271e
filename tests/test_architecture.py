"""The layering of the package: data flows one way, and no folder reaches back.

Atoms -> graph -> network -> coefficients -> density object -> properties. Each folder may
import its own modules and those of lower layers only; the physics layer never needs torch.
"""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ase_e3density"

# lowest first; a module may import from its own layer's folder or any lower layer
LAYERS = [
    {"errors", "fileio", "processes", "_version", "kinds", "examples", "engine", "structure_files"},  # exceptions,
    # files, processes, the kind registry, shipped examples, the resumable engine (items with a uid, a compute
    # function, a store; Dask), what ASE's readers leave out of users' structure files
    {"graph"},                          # Atoms -> checked structure, neighbour lists, network inputs
    {"electron", "phonon"},             # densities as physics objects (numpy, scipy, ase; optional PySCF, phonopy)
    {"nn"},                             # e3nn networks
    {"models"},                         # deployed files: format, writing, loading, runtime
    {"train", "calculator", "scf", "screen"},  # applications of the layers below
    {"hierarchy", "generate"},          # studies built on the trainer; reference data (its guess: scf)
    {"cli"},                            # the command line
]
LAYER_OF = {name: k for k, names in enumerate(LAYERS) for name in names}
APPLICATIONS = {"train", "calculator", "scf", "screen", "hierarchy", "generate"}


def unit_of(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def imported_units(path: Path, text: str | None = None) -> set[tuple[str, int]]:
    """(top-level unit of this package, line) for every import in a module (its ``text``, default: read)."""
    tree = ast.parse(path.read_text() if text is None else text)
    depth = len(path.relative_to(PACKAGE).parts) - 1  # folders below the package root
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0:
                parts = (node.module or "").split(".")
                if parts[0] == "ase_e3density":
                    names = parts[1:2] or [a.name for a in node.names]
                    found |= {(n, node.lineno) for n in names}
                continue
            up = node.level - 1
            if up < depth:  # stays inside this module's own folder
                continue
            rest = (node.module or "").split(".")[0] if node.module else None
            names = [rest] if rest else [a.name for a in node.names]
            found |= {(n, node.lineno) for n in names}
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "ase_e3density":
                    found.add((parts[1] if len(parts) > 1 else "", node.lineno))
    return found


def modules():
    """Library modules; the package root (the public API) and ``__main__`` entry points are exempt."""
    return sorted(p for p in PACKAGE.rglob("*.py")
                  if (p.parent != PACKAGE or p.name != "__init__.py") and p.name != "__main__.py")


def test_every_folder_has_a_layer():
    units = {unit_of(p) for p in modules()}
    assert units <= set(LAYER_OF), f"add {sorted(units - set(LAYER_OF))} to LAYERS and docs/architecture.md"


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_only_reach_down(path):
    own = unit_of(path)
    for unit, line in imported_units(path):
        assert unit != "", f"{path.name}:{line} imports the package root; import the module that defines the name"
        assert unit in LAYER_OF, f"{path.name}:{line} imports unknown unit {unit}"
        if unit != own:
            assert LAYER_OF[unit] <= LAYER_OF[own], \
                f"{path.relative_to(PACKAGE)}:{line} ({own}, layer {LAYER_OF[own]}) reaches up to {unit} (layer {LAYER_OF[unit]})"
            assert LAYER_OF[unit] == 0 or LAYER_OF[unit] < LAYER_OF[own], \
                f"{path.relative_to(PACKAGE)}:{line}: {own} imports {unit}, a room beside it in layer {LAYER_OF[own]}"


@pytest.mark.parametrize("path", sorted((PACKAGE / "cli").rglob("*.py")), ids=lambda p: p.name)
def test_command_line_uses_only_applications(path):
    """The command line parses, prints and calls the application rooms; the physics and models below them
    are reached through those rooms (and the layer-0 units: errors, files, the kind registry)."""
    for unit, line in imported_units(path):
        assert unit == "cli" or unit in APPLICATIONS or LAYER_OF.get(unit) == 0, \
            f"cli/{path.name}:{line} imports {unit}; the command line calls application rooms only"


def test_physics_layers_do_not_need_torch():
    for folder in ("electron", "phonon"):
        for path in (PACKAGE / folder).rglob("*.py"):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                    [node.module or ""] if isinstance(node, ast.ImportFrom) else []
                assert not any(n.split(".")[0] in ("torch", "e3nn") for n in names), f"{path} imports torch/e3nn"


def test_layer_checker_catches_a_reach_up():
    probe = PACKAGE / "graph" / "probe.py"  # never written: the checker reads the text given
    units = {u for u, _ in imported_units(probe, "from ..models import load_model\nfrom . import neighbours\n")}
    assert units == {"models"} and LAYER_OF["models"] > LAYER_OF["graph"]
