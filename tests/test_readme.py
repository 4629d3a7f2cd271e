"""The README says what `make venv` (behind `make demo` and `make test`) installs."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_names_the_extras_the_makefile_installs():
    makefile = (ROOT / "Makefile").read_text()
    venv = makefile[makefile.index("$(VENV)/.installed:"):]
    extras = re.search(r'-e "\.(\[[a-z,]+\])"', venv).group(1)
    assert f"`{extras}`" in (ROOT / "README.md").read_text(), f"README.md: say that make venv installs {extras}"
