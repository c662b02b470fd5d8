"""The ``firstpoint`` command line: one entry point, sub-commands in firstpoint.commands."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from firstpoint import commands


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every module in firstpoint.commands registered."""
    parser = argparse.ArgumentParser(
        prog="firstpoint",
        description="FirstPoint: first-point-of-contact assistant for council Business Support.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    return int(func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
