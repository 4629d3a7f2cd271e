"""The ``e3density`` command line: one module per group of commands, errors as one line."""
from __future__ import annotations

import argparse
import sys
import warnings

from .._version import __version__
from . import deploy_cmd, hierarchy_cmd, phonons_cmd, predict_cmd, reference_cmd, screen_cmd, train_cmd

__all__ = ["main", "build_parser"]

COMMANDS = (predict_cmd, reference_cmd, phonons_cmd, train_cmd, deploy_cmd, screen_cmd, hierarchy_cmd)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="e3density", description="e3nn densities on ASE Atoms")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; bad input ends in one line on stderr and exit status 2."""
    args = build_parser().parse_args(argv)
    with warnings.catch_warnings():  # restored on return: the caller's warning settings stay as they were
        if not args.debug:
            warnings.showwarning = _one_line_warning(args.command)
        return _run(args)


def _one_line_warning(command: str):
    def show(message, category, filename, lineno, file=None, line=None) -> None:
        print(f"e3density {command}: warning: {message}", file=sys.stderr)
    return show


def _run(args: argparse.Namespace) -> int:
    from ..errors import E3DensityError

    try:
        return args.func(args)
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stdout = None
        return 0
    except (E3DensityError, OSError) as exc:
        if args.debug:
            raise
        print(f"e3density {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"e3density {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug, not bad input: still one line, the traceback with --debug
        if args.debug:
            raise
        print(f"e3density {args.command}: internal error: {type(exc).__name__}: {exc} (rerun with --debug "
              "for the traceback)", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
