"""Every bad input in tests/bad_input_cases.py gives its clear error or warning; none is silent.

docs/bad_input.md lists the exact messages (scripts/make_bad_input_table.py).
"""
import re

import pytest

from bad_input_cases import CASES, make_context, run_case

pytest.importorskip("pyscf")


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    return make_context(tmp_path_factory.mktemp("bad"))


def test_there_are_many_cases():
    assert len(CASES) >= 60
    assert sum(c.cli for c in CASES) >= 15


@pytest.mark.parametrize("case", CASES, ids=[f"{c.area}: {c.what}" for c in CASES])
def test_bad_input_is_refused_or_flagged(case, ctx):
    outcome, message = run_case(case, ctx)
    if case.cli:
        assert outcome == "exit 2", (outcome, message)
        assert message.startswith(f"e3density {case.run(ctx)[0]}: error: ")
    else:
        assert outcome == case.expect.__name__ or issubclass(_class(outcome), case.expect), (outcome, message)
    assert "Traceback" not in message and "\n" not in message
    assert re.search(case.pattern, message), message


def _class(name: str) -> type:
    from ase.calculators.calculator import PropertyNotImplementedError

    from ase_e3density import errors
    return getattr(errors, name, None) or {"PropertyNotImplementedError": PropertyNotImplementedError}.get(name, object)


def test_errors_are_also_the_matching_builtins():
    from ase.calculators.calculator import CalculatorSetupError

    from ase_e3density import errors
    assert issubclass(errors.ModelNotFoundError, FileNotFoundError)
    assert issubclass(errors.InputFileError, FileNotFoundError)
    assert issubclass(errors.UnsupportedElementError, KeyError)
    assert issubclass(errors.CalculatorParameterError, CalculatorSetupError)
    assert all(issubclass(getattr(errors, n), ValueError) for n in errors.__all__ if n.endswith("Error"))
    assert str(errors.UnsupportedElementError("element U")) == "element U"  # not KeyError's quoted repr
