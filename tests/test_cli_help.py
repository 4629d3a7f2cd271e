"""Every option of every ``e3density`` command explains itself: help text, and what happens when it is left out."""
import argparse

import pytest

from ase_e3density.cli import build_parser

SKIPPED = (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)
FLAGS = (argparse._StoreTrueAction, argparse._StoreFalseAction, argparse._StoreConstAction)


def commands() -> list[tuple[str, argparse.ArgumentParser]]:
    """(name, parser) of the top level and of every subcommand."""
    parser = build_parser()
    found = [("e3density", parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found += [(f"e3density {name}", sub) for name, sub in action.choices.items()]
    return found


def arguments() -> list[tuple[str, argparse.ArgumentParser, argparse.Action]]:
    return [(name, parser, action) for name, parser in commands() for action in parser._actions
            if not isinstance(action, SKIPPED)]


def label(case) -> str:
    name, _, action = case
    return f"{name} {'/'.join(action.option_strings) or action.dest}"


def needs_default(action: argparse.Action) -> bool:
    """Whether leaving the argument out is possible and so has a default to show: not a required argument,
    not a switch (off unless given)."""
    if isinstance(action, FLAGS):
        return False
    if action.option_strings:
        return not action.required
    return action.nargs in (argparse.OPTIONAL, argparse.ZERO_OR_MORE)


def shown_help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    """The help text as ``--help`` prints it (``%(default)s`` and the like filled in)."""
    return parser._get_formatter()._expand_help(action)


def test_the_walk_finds_every_command():
    names = {name for name, _ in commands()}
    assert {"e3density predict", "e3density reference", "e3density phonons", "e3density train",
            "e3density evaluate", "e3density deploy", "e3density info", "e3density screen",
            "e3density hierarchy"} <= names
    assert len(arguments()) > 60


@pytest.mark.parametrize("case", arguments(), ids=label)
def test_every_argument_has_help(case):
    _, parser, action = case
    assert action.help and action.help is not argparse.SUPPRESS and shown_help(parser, action).strip(), \
        f"{label(case)} has no help text"


@pytest.mark.parametrize("case", [c for c in arguments() if needs_default(c[2])], ids=label)
def test_every_optional_argument_shows_its_default(case):
    _, parser, action = case
    text = shown_help(parser, action)
    assert "default:" in text, f"{label(case)}: the help does not say 'default: ...' ({text!r})"
    assert "default: None" not in text, f"{label(case)}: say what happens when it is left out, not 'None' ({text!r})"
    if action.default not in (None, argparse.SUPPRESS):  # the value itself, so that the text cannot drift from it
        assert "%(default)s" in action.help, f"{label(case)}: show its default {action.default!r} as %(default)s"


def test_the_check_catches_an_option_without_help():
    parser = argparse.ArgumentParser()
    parser.add_argument("--new-option", type=int, default=3)
    action = parser._actions[-1]
    assert needs_default(action) and not action.help
    parser.add_argument("--described", type=int, default=3, help="a number (default: %(default)s)")
    assert shown_help(parser, parser._actions[-1]) == "a number (default: 3)"
