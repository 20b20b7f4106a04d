"""``ssrstf train`` and ``ssrstf export``: train a model, export its weights."""

from __future__ import annotations

import argparse
from pathlib import Path

from ssrstf.config import ConfigError

_ALLOW_PICKLE_HELP = (
    "read an SMPL .pkl file named by mesh.body_model_path (a pickle: restricted unpickler, numpy "
    "arrays and sparse matrices only; .npz needs no flag)"
)


def _cmd_train(args: argparse.Namespace) -> int:
    from ssrstf.mesh.smpl_body import smpl_pickle_allowed

    with smpl_pickle_allowed(args.allow_pickle):  # SMPL files of a mesh config
        return _train(args)


def _train(args: argparse.Namespace) -> int:
    from ssrstf.config import load_config
    from ssrstf.training.trainer import fit

    if args.resume:
        if args.config or args.set:
            raise ConfigError("--resume continues a run with its saved config; drop --config/--set")
        last = Path(args.resume) / "last.pt"
        if last.is_file():  # say where the run continues (fit restarts a run without one)
            from ssrstf.checkpoint import load_checkpoint

            progress = load_checkpoint(last).get("progress")
            step = progress.get("global_step", "?") if isinstance(progress, dict) else "?"
            print(f"resuming {args.resume} from step {step}")
        best = fit(None, args.resume, resume=True)
    else:
        if not args.config:
            raise ConfigError("train needs --config FILE (or --resume RUN_DIR)")
        cfg = load_config(args.config, args.set)
        best = fit(cfg, args.out or f"runs/{Path(args.config).stem}")
    print(
        f"final weights (scored in final.json): {best.parent / 'last.pt'}; best quick "
        f"evaluation (selected on the test subjects): {best}"
    )
    return 0


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a model (one loop for every config; torchrun-ready)")
    p.add_argument("--config", help="experiment YAML, e.g. configs/tiny_debug.yaml")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a config value (repeatable)")  # fmt: skip
    p.add_argument("--out", help="run directory (default: runs/<config name>)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR exactly")
    p.add_argument("--allow-pickle", action="store_true", help=_ALLOW_PICKLE_HELP)
    p.set_defaults(func=_cmd_train)


def _cmd_export(args: argparse.Namespace) -> int:
    from ssrstf.checkpoint import export_weights, load_model
    from ssrstf.files import check_new_file

    out = Path(args.out)
    fmt = args.format or ("onnx" if out.suffix == ".onnx" else "safetensors")
    if out.suffix != f".{fmt}":
        raise ConfigError(f"--format {fmt} writes a .{fmt} file; got --out {out}")
    check_new_file(out, overwrite=args.overwrite)
    info = {"source": Path(args.checkpoint).name}
    if args.note:
        info["note"] = args.note
    if _is_mesh_run(args.checkpoint):  # a mesh run's .pt: its head (and the backbone's hash)
        from ssrstf.mesh.model import export_mesh_weights, load_mesh_model

        if fmt == "onnx":
            raise ConfigError(f"{args.checkpoint}: a mesh model exports to .safetensors only")
        mesh_model, mesh_cfg = load_mesh_model(args.checkpoint, allow_pickle=args.allow_pickle)
        export_mesh_weights(out, mesh_model, mesh_cfg, overwrite=args.overwrite, **info)
        print(f"wrote {out}")
        return 0
    model, cfg = load_model(args.checkpoint)
    if fmt == "onnx":
        from ssrstf.lifting.backends import export_onnx

        export_onnx(model, cfg, out, **info)
    else:
        export_weights(out, model, cfg, **info)
    print(f"wrote {out}")
    return 0


def _is_mesh_run(checkpoint: str) -> bool:
    """Whether ``checkpoint`` is a mesh run's training checkpoint (``mesh.use_mesh_head``)."""
    from ssrstf.checkpoint import load_checkpoint, stored_config

    path = Path(checkpoint)
    if path.suffix != ".pt" or not path.is_file():
        return False  # the lifter's loader names what is wrong with anything else
    return stored_config(load_checkpoint(path).get("config"), source=path).mesh.use_mesh_head


def _add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export", help="checkpoint -> weights-only .safetensors, or an ONNX graph, with config"
    )
    p.add_argument(
        "--checkpoint", required=True,
        help="'default', a training checkpoint (.pt; a mesh run's gives the mesh model: its head "
        "only, with its backbone's SHA-256, when the backbone was frozen) or .safetensors",
    )  # fmt: skip
    p.add_argument("--out", required=True, help="output .safetensors or .onnx")
    p.add_argument(
        "--format", choices=("safetensors", "onnx"),
        help="safetensors: weights + config; onnx: the model as an ONNX graph (opset 17, dynamic "
        "batch and frame axes, extra onnx) for ONNX Runtime (default: from --out's suffix)",
    )  # fmt: skip
    p.add_argument("--note", help="free text stored in the file's metadata (e.g. licence)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("--allow-pickle", action="store_true", help="a mesh run: " + _ALLOW_PICKLE_HELP)
    p.set_defaults(func=_cmd_export)
