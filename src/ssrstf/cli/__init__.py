"""Command-line interface: ``ssrstf <command>`` and ``python -m ssrstf <command>``.

Each subcommand only parses arguments, builds a config and calls the library. User errors
(bad files, bad values) end as a one-line ``error: ...`` on stderr and exit code 2; Ctrl-C as
``interrupted`` and exit code 130.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from ssrstf.cli.data import _add_data
from ssrstf.cli.demo import _add_demo
from ssrstf.cli.evaluate import _add_evaluate
from ssrstf.cli.infer import _add_infer
from ssrstf.cli.info import _add_info
from ssrstf.cli.train import _add_export, _add_train
from ssrstf.config import ConfigError

__all__ = ["build_parser", "main"]


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (``ssrstf infer: error: ...``), exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = _Parser(prog="ssrstf", description="SSR-STF 2D-to-3D human pose lifting.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_info(sub)
    _add_data(sub)
    _add_evaluate(sub)
    _add_train(sub)
    _add_export(sub)
    _add_infer(sub)
    _add_demo(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    from ssrstf.extras import MissingExtraError
    from ssrstf.files import OutputLockedError
    from ssrstf.mesh.extra import MissingMeshError

    user_errors = (ConfigError, ValueError, OSError, MissingExtraError, MissingMeshError)
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (*user_errors, OutputLockedError) as exc:
        log = getattr(exc, "native_log", None)  # what the detector said before it failed
        if log:
            print(f"the 2D detector's log:\n{log}", file=sys.stderr)
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: one line, the shell's code for SIGINT
        print("interrupted", file=sys.stderr)
        return 130


def _one_line(exc: Exception) -> str:
    """The message of a user-facing error on one line, naming the file for OS errors."""
    if isinstance(exc, OSError) and exc.strerror and str(exc).startswith("[Errno"):
        # e.g. PermissionError / ENOSPC raised by the OS itself: "[Errno 28] ...: 'x'"
        text = f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())
