"""``ssrstf info``: the model catalogue (parameters and FLOPs)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ssrstf.cli.common import _positive_int
from ssrstf.config import VARIANTS, ConfigError


def _cmd_info(args: argparse.Namespace) -> int:
    from ssrstf.models.complexity import describe_model, describe_variants, format_table

    if args.config:
        from ssrstf.config import load_config

        if args.variant:
            raise ConfigError("info takes --variant or --config, not both")
        cfg = load_config(args.config, args.set)
        rows = [describe_model(cfg.model, name=Path(args.config).stem, num_frames=args.frames)]
    else:
        if args.set:
            raise ConfigError("--set needs --config")
        names = list(VARIANTS) if args.variant is None else [args.variant]
        if args.variant is not None and args.variant not in VARIANTS:
            raise ConfigError(f"unknown variant {args.variant!r}; valid: {', '.join(VARIANTS)}")
        rows = describe_variants(names, num_frames=args.frames)
    print(json.dumps(rows, indent=2) if args.json else format_table(rows))
    return 0


def _add_info(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "info", help="model catalogue: parameters and FLOPs of each variant or of a config"
    )
    p.add_argument("--variant", help=f"one variant ({', '.join(VARIANTS)})")
    p.add_argument("--config", help="the model of an experiment YAML instead of the variants")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a value of --config (repeatable)")  # fmt: skip
    p.add_argument("--frames", type=_positive_int, help="clip length (default: each model's own T)")
    p.add_argument("--json", action="store_true", help="print a JSON array instead of a table")
    p.set_defaults(func=_cmd_info)
