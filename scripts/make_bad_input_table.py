"""Write docs/bad_input.md: every case of tests/bad_input_cases.py with the exact message a user sees.

Command: python scripts/make_bad_input_table.py   (needs the `reference` extra; about a minute)
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from bad_input_cases import CASES, make_context, run_case  # noqa: E402


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ctx = make_context(Path(tmp))
        rows = []
        for k, case in enumerate(CASES, 1):
            outcome, message = run_case(case, ctx)
            shown = message.replace(tmp, "TMP").replace("|", "\\|")
            command = " ".join(a.replace(tmp, "TMP") for a in case.run(ctx)) if case.cli else ""
            what = (f"{case.what}: `e3density {command}`" if case.cli else case.what).replace("|", "\\|")
            rows.append(f"| {k} | {case.area} | {what} | {outcome} | {shown} |")
    refused = sum(1 for c in CASES if not issubclass(c.expect, Warning))
    text = "\n".join([
        "# Bad input and what it gives",
        "",
        f"{len(CASES)} cases across the Python API and the command line, run by `tests/test_bad_input.py`; this table is "
        "written by `python scripts/make_bad_input_table.py` from the same cases (TMP: a temporary folder).",
        f"{refused} are refused with an error; the rest are computed but flagged with a `DomainWarning` (also in "
        "`calc.results['domain_warnings']`), because the structure lies outside what the model saw in training.",
        "On the command line every error is one line on stderr with exit status 2 (`--debug` shows the traceback).",
        "Output is written only into new files and folders or into those the package made itself (docs/engine.md: "
        "how it knows them); anything else given as an output is refused before any work.",
        "",
        "| # | area | input | outcome | message |",
        "| --- | --- | --- | --- | --- |",
        *rows,
        "",
    ])
    (ROOT / "docs" / "bad_input.md").write_text(text)
    print(f"wrote docs/bad_input.md ({len(rows)} cases)")


if __name__ == "__main__":
    main()
