"""``ssrstf evaluate``: score a checkpoint, a mesh head or 3D predictions."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ssrstf.cli.common import _positive_int
from ssrstf.config import ConfigError

if TYPE_CHECKING:
    from ssrstf.evaluation.protocol import H36MProtocol
    from ssrstf.evaluation.results import EvalResult


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from ssrstf.evaluation.protocol import describe_left_out
    from ssrstf.evaluation.results import EvalResult, write_result_tables
    from ssrstf.evaluation.tables import format_text, write_tables

    if args.overlap and not args.checkpoint:
        raise ConfigError(
            "--overlap applies to --checkpoint (a lifter): stored --predictions are per frame "
            "and --mesh scores disjoint clips"
        )
    dataset = args.dataset.replace("-", "_")
    if args.per_joint and (args.mesh or dataset != "h36m"):
        raise ConfigError("--per-joint applies to a lifter or predictions on --dataset h36m")
    if args.mesh:
        return _evaluate_mesh(args)
    if dataset == "mpi_inf_3dhp" and args.protocol:
        raise ConfigError("--protocol applies to --dataset h36m only")
    if args.gt_2d and dataset == "mpi_inf_3dhp":
        raise ConfigError("--gt-2d applies to --dataset h36m --protocol motionbert only")
    by_joint = dataset == "h36m"  # H36M protocols (EvalResult); MPI-INF-3DHP reports its own
    outputs = _check_outputs(args, _out_files(args.out, joints=by_joint))  # before any work
    if args.checkpoint:
        from ssrstf.training.scoring import evaluate_checkpoint

        result = evaluate_checkpoint(
            args.checkpoint, args.data, protocol=args.protocol, dataset=dataset,
            input_source=args.input, flip_test=args.flip, every=args.every, device=args.device,
            gt_2d=args.gt_2d, predictor=_predictor_factory(args.backend, args.device),
            frame_stride=args.frame_stride, overlap=args.overlap,
        )  # fmt: skip
    elif dataset == "mpi_inf_3dhp":
        result = _evaluate_3dhp_predictions(args)
    else:
        result = _evaluate_predictions(args)
    left_out = result.left_out if isinstance(result, EvalResult) else ()
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(format_text(result.table()))
        if args.per_joint:
            print(format_text(result.joint_table()))
    if left_out:  # on stderr beside --json, so that standard output stays one JSON object
        print(f"left out: {describe_left_out(left_out)}", file=sys.stderr if args.json else None)
    if outputs:
        _check_outputs(args, outputs)  # again: a file that appeared during the evaluation
        if by_joint:
            write_result_tables(result, outputs[0])
        else:
            write_tables(result.table(), outputs[0])
    return 0


def _out_path(out: str, suffix: str) -> str:
    """``--out FILE`` as ``FILE<suffix>``, for writers that replace a suffix: a dot inside the
    name stays (``robust-2.5d`` is not ``robust-2``); a ``.md``, ``.csv`` or ``.json`` given
    is replaced."""
    path = Path(out)
    if path.suffix in (".md", ".csv", ".json"):
        path = path.with_suffix("")
    return f"{path}{suffix}"


def _out_files(out: str | None, *, joints: bool = False, mesh: bool = False) -> list[Path]:
    """Every file ``--out`` makes (none without it), the one its writer is given first:
    ``FILE.md``, ``FILE.csv`` (`write_tables`) and with ``joints`` ``FILE_joints.md``,
    ``FILE_joints.csv`` (`write_result_tables`); ``mesh``: ``FILE.json``."""
    if not out:
        return []
    if mesh:
        return [Path(_out_path(out, ".json"))]
    stems = [_out_path(out, ""), _out_path(out, "_joints")] if joints else [_out_path(out, "")]
    return [Path(f"{stem}{suffix}") for stem in stems for suffix in (".md", ".csv")]


def _check_outputs(args: argparse.Namespace, paths: list[Path]) -> list[Path]:
    """``paths``, after refusing one that exists without ``--overwrite`` (or that cannot be
    written): a one-line error naming it, before any evaluation work."""
    from ssrstf.files import check_new_file

    for path in paths:
        check_new_file(path, overwrite=args.overwrite)
    return paths


def _record_left_out(result: EvalResult, data: str, protocol: H36MProtocol) -> EvalResult:
    """Stored predictions scored with ``--gt-2d``: ``result`` with the test streams that lack
    the ground-truth 2D recorded (`evaluate_checkpoint` records its own)."""
    from ssrstf.data.h36m import load_streams
    from ssrstf.evaluation.protocol import streams_without_input, with_left_out

    streams = load_streams(data, subjects=protocol.test_subjects, arrays=())
    return with_left_out(result, "gt", *streams_without_input(protocol, streams, "gt"))


def _evaluate_mesh(args: argparse.Namespace) -> int:
    """``evaluate --mesh``: the mesh protocol (ssrstf.training.mesh_scoring)."""
    from ssrstf.training.mesh_scoring import evaluate_mesh_checkpoint, write_mesh_result

    if args.dataset != "h36m" or args.protocol not in (None, "videopose3d") or args.gt_2d:
        raise ConfigError("--mesh scores Human3.6M with the videopose3d protocol only")
    outputs = _check_outputs(args, _out_files(args.out, mesh=True))  # before any work
    result = evaluate_mesh_checkpoint(
        args.mesh, args.data, input_source=args.input, body_model_path=args.body_model_path,
        device=args.device, every=args.every, sample_every=args.sample_every,
        with_flip=args.flip, allow_pickle=args.allow_pickle,
    )  # fmt: skip
    print(json.dumps(result.to_dict(), indent=2) if args.json else result.text())
    if outputs:
        write_mesh_result(result, _check_outputs(args, outputs)[0])
    return 0


def _predictor_factory(backend: str, device: str):
    """None (torch, the default) or a factory running the model in ONNX Runtime."""
    if backend == "torch":
        return None
    from ssrstf.lifting.backends import make_backend_predictor

    def factory(model, cfg):
        return make_backend_predictor(
            model, cfg, backend=backend, flip_test=cfg.eval.flip_test, device=device
        )

    return factory


def _evaluate_3dhp_predictions(args: argparse.Namespace):
    from ssrstf.data.dataset import check_joint_layout, stream_clips
    from ssrstf.data.h36m import load_streams
    from ssrstf.evaluation import mpi_inf_3dhp

    proto = mpi_inf_3dhp.MPI_INF_3DHP
    streams = load_streams(args.data, subjects=proto.test_subjects, arrays=("poses_3d",))
    check_joint_layout(streams, "mpi_inf_3dhp", args.data)
    clips = stream_clips(streams, ground_truth="camera", clip_len=args.frames, cover_all=True)
    predictions = mpi_inf_3dhp.load_predictions(args.predictions)
    return mpi_inf_3dhp.evaluate_predictions(proto, clips, predictions, source=args.predictions)


def _evaluate_predictions(args: argparse.Namespace):
    from ssrstf.data.dataset import stream_clips
    from ssrstf.data.h36m import ground_truth_arrays, load_streams
    from ssrstf.evaluation import protocol as ev

    proto = ev.PROTOCOLS[args.protocol or "videopose3d"]
    if args.gt_2d and proto.ground_truth != "image_2.5d":
        raise ConfigError("--gt-2d (MotionBERT's gt_2d setting) needs --protocol motionbert")
    arrays = ground_truth_arrays(proto.ground_truth)
    # --gt-2d: the predicted x, y are replaced by the ground-truth 2D, in mm (λ · pixels).
    extra = ("poses_2d_gt", *ground_truth_arrays("image_2.5d")) if args.gt_2d else ()
    streams = load_streams(args.data, subjects=proto.test_subjects, arrays=(*arrays, *extra))
    clips = stream_clips(
        streams, ground_truth=proto.ground_truth, clip_len=args.frames,
        cover_all=proto.cover_all_frames, input_source="gt" if args.gt_2d else None,
        target_space="image_2.5d",
    )  # fmt: skip
    predictions = ev.load_predictions(args.predictions)
    try:
        result = ev.evaluate_predictions(
            proto, clips, predictions, every=args.every, gt_2d=args.gt_2d
        )
    except ValueError as exc:  # name the file the problem is in
        raise ValueError(f"{args.predictions}: {exc}") from None
    return _record_left_out(result, args.data, proto) if args.gt_2d else result


def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    from ssrstf.config import ModelConfig

    p = sub.add_parser("evaluate", help="score a model or 3D predictions (H36M or MPI-INF-3DHP)")
    p.add_argument("--data", required=True, help="prepared dataset .npz")
    p.add_argument(
        "--dataset", choices=("h36m", "mpi-inf-3dhp"), default="h36m",
        help="benchmark of --data (default %(default)s); mpi-inf-3dhp reports MPJPE, PCK, AUC",
    )  # fmt: skip
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--checkpoint", metavar="default|PATH",
        help="run a model: 'default' (packaged), a training .pt or a .safetensors",
    )  # fmt: skip
    source.add_argument(
        "--mesh", nargs="?", const="default", metavar="default|PATH",
        help="the mesh protocol for a mesh model (default: the packaged mesh head): mesh-joint "
        "P1/P2 (17 and 14 joints) beside the backbone's, acceleration, plausibility (extra mesh)",
    )  # fmt: skip
    source.add_argument(
        "--predictions", metavar="FILE.npz",
        help='per-stream (F, 17, 3) mm arrays keyed "S9/Walking 1/54138969" (H36M) or '
        '"TS1".."TS6" (MPI-INF-3DHP, MPI joint order, all frames)',
    )  # fmt: skip
    p.add_argument(
        "--protocol", choices=("videopose3d", "motionbert"),
        help="default: the checkpoint's own, else videopose3d",
    )  # fmt: skip
    p.add_argument(
        "--frames", type=_positive_int, default=ModelConfig().num_frames,
        help="clip length T for --predictions (default %(default)s; a checkpoint uses its own)",
    )  # fmt: skip
    p.add_argument("--input", help="2D source for --checkpoint (gt, sh, ...; default: its own)")
    p.add_argument(
        "--flip", action=argparse.BooleanOptionalAction, default=True,
        help="flip test-time augmentation for --checkpoint (default on)",
    )  # fmt: skip
    p.add_argument("--device", default="cpu", help="cpu, cuda, ... for --checkpoint")
    p.add_argument(
        "--backend", choices=("torch", "onnxruntime"), default="torch",
        help="run --checkpoint in torch or ONNX Runtime (extra onnx; default %(default)s)",
    )  # fmt: skip
    p.add_argument(
        "--gt-2d", action="store_true",
        help="MotionBERT's gt_2d setting (--protocol motionbert): ground-truth 2D as the "
        "model's input, and the predicted x, y replaced by it (also for --predictions)",
    )  # fmt: skip
    p.add_argument(
        "--frame-stride", type=_positive_int, metavar="S",
        help="--checkpoint on every S-th frame instead of its training stride (a model trained "
        "at several strides, data.train_frame_strides, runs at each of them)",
    )  # fmt: skip
    p.add_argument(
        "--overlap", type=int, default=0, metavar="K",
        help="--checkpoint, videopose3d protocol: test windows overlapping by K frames, their "
        "predictions stitched as `ssrstf infer` stitches them (default 0: disjoint clips)",
    )  # fmt: skip
    p.add_argument("--every", type=int, default=1, help="quick mode: score 1 in N test clips")
    p.add_argument(
        "--sample-every", type=_positive_int, default=100, metavar="N",
        help="--mesh: plausibility figures on 1 in N test clips (default %(default)s)",
    )  # fmt: skip
    p.add_argument(
        "--body-model-path", metavar="DIR",
        help="--mesh with an SMPL-trained head: the folder of SMPL_NEUTRAL.npz/.pkl",
    )  # fmt: skip
    p.add_argument(
        "--allow-pickle", action="store_true",
        help="--mesh: read an SMPL .pkl file (a pickle: restricted unpickler, numpy arrays and "
        "sparse matrices only; .npz needs no flag); also one the checkpoint's config names",
    )  # fmt: skip
    p.add_argument(
        "--per-joint", action="store_true",
        help="H36M: also print P1 and P2 per joint (averaged as the headline: per action, then "
        "over actions); --json and --out always include them",
    )  # fmt: skip
    p.add_argument("--json", action="store_true", help="print a JSON object instead of a table")
    p.add_argument(
        "--out", metavar="FILE",
        help="also write FILE.md and FILE.csv tables (H36M: and FILE_joints.md/.csv per joint; "
        "--mesh: FILE.json); refused before any work if one exists, unless --overwrite",
    )  # fmt: skip
    p.add_argument(
        "--overwrite", action="store_true", help="replace the existing files of --out"
    )  # fmt: skip
    p.set_defaults(func=_cmd_evaluate)
