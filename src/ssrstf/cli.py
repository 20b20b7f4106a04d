"""Command-line interface: ``ssrstf <command>`` and ``python -m ssrstf <command>``.

Each subcommand only parses arguments, builds a config and calls the library. User errors
(bad files, bad values) end as a one-line ``error: ...`` on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from ssrstf.config import VARIANTS, ConfigError


def _cmd_info(args: argparse.Namespace) -> int:
    from ssrstf.models.complexity import describe_variants, format_table

    names = list(VARIANTS) if args.variant is None else [args.variant]
    if args.variant is not None and args.variant not in VARIANTS:
        raise ConfigError(f"unknown variant {args.variant!r}; valid: {', '.join(VARIANTS)}")
    rows = describe_variants(names, num_frames=args.frames)
    print(json.dumps(rows, indent=2) if args.json else format_table(rows))
    return 0


def _add_info(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="model catalogue: parameters and FLOPs of each variant")
    p.add_argument("--variant", help=f"one variant ({', '.join(VARIANTS)})")
    p.add_argument("--frames", type=int, help="clip length (default: each variant's own T)")
    p.add_argument("--json", action="store_true", help="print a JSON array instead of a table")
    p.set_defaults(func=_cmd_info)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="ssrstf", description="SSR-STF 2D-to-3D human pose lifting."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_info(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (ConfigError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
