"""The ``e3density`` command line: one module per group of commands, errors as one line."""
from __future__ import annotations

import argparse
import sys

from . import deploy_cmd, predict_cmd, reference_cmd, train_cmd

__all__ = ["main", "build_parser"]

COMMANDS = (predict_cmd, reference_cmd, train_cmd, deploy_cmd)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="e3density", description="e3nn densities on ASE Atoms")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; bad input ends in one line on stderr and exit status 2."""
    from ..errors import E3DensityError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (E3DensityError, FileNotFoundError) as exc:
        if args.debug:
            raise
        print(f"e3density {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"e3density {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stdout = None
        return 0


if __name__ == "__main__":
    sys.exit(main())
