"""Command-line interface: ``ssrstf <command>`` and ``python -m ssrstf <command>``.

Each subcommand only parses arguments, builds a config and calls the library. User errors
(bad files, bad values) end as a one-line ``error: ...`` on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

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


def _cmd_data_prepare(args: argparse.Namespace) -> int:
    from ssrstf.data.h36m import save_streams
    from ssrstf.data.prepare import prepare_h36m

    _check_data_out(args)
    streams = prepare_h36m(args.source, subjects=args.subjects, progress=not args.quiet)
    return _finish_data(save_streams(streams, args.out), streams)


def _cmd_data_videopose3d(args: argparse.Namespace) -> int:
    from ssrstf.data.h36m import save_streams
    from ssrstf.data.prepare import convert_videopose3d, source_name_from_path

    _check_data_out(args)
    sources = {}
    for item in args.keypoints_2d:
        name, sep, path = item.rpartition("=")
        sources[name if sep else source_name_from_path(path)] = path
    streams = convert_videopose3d(
        args.positions_3d, sources, args.cameras, subjects=args.subjects, progress=not args.quiet
    )
    return _finish_data(save_streams(streams, args.out), streams)


def _cmd_data_motionbert(args: argparse.Namespace) -> int:
    from ssrstf.data.h36m import save_streams
    from ssrstf.data.prepare import convert_motionbert

    _check_data_out(args)
    streams = convert_motionbert(args.pickle, allow_pickle=args.allow_pickle)
    return _finish_data(save_streams(streams, args.out), streams)


def _cmd_data_3dhp(args: argparse.Namespace) -> int:
    from ssrstf.data.h36m import save_streams
    from ssrstf.data.mpi_inf_3dhp import prepare_mpi_inf_3dhp

    _check_data_out(args)
    streams = prepare_mpi_inf_3dhp(args.source, allow_pickle=args.allow_pickle)
    return _finish_data(save_streams(streams, args.out), streams)


def _cmd_data_info(args: argparse.Namespace) -> int:
    from ssrstf.data.h36m import summarize_file

    summary = summarize_file(args.path)
    print(json.dumps(summary, indent=2) if args.json else _format_summary(summary))
    return 0


def _check_data_out(args: argparse.Namespace) -> None:
    """Refuse an unusable --out before the (long) preparation starts."""
    from ssrstf.data.h36m import prepared_path
    from ssrstf.files import check_new_file

    check_new_file(prepared_path(args.out), overwrite=args.overwrite)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def _finish_data(path, streams) -> int:
    from ssrstf.data.h36m import summarize_streams

    print(f"wrote {path}\n{_format_summary(summarize_streams(streams))}")
    return 0


def _format_summary(summary: dict) -> str:
    lines = [f"{summary['streams']} streams, {summary['frames']} frames"]
    for subject, counts in summary["subjects"].items():
        lines.append(f"  {subject:<5} {counts['streams']:>4} streams {counts['frames']:>9} frames")
    lines.append(f"2D sources (streams): {summary['sources_2d']}")
    lines.append(f"3D arrays: {', '.join(summary['arrays']) or 'none'}")
    if summary.get("joint_layout", "h36m17") != "h36m17":
        lines.append(f"joint layout: {summary['joint_layout']}")
    if summary.get("valid_frames") is not None:
        lines.append(f"valid (scored) frames: {summary['valid_frames']}")
    return "\n".join(lines)


def _add_data(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help="prepare Human3.6M in the project format")
    data.description = "Write the prepared-dataset .npz described in docs/data-format.md."
    cmds = data.add_subparsers(dest="data_command", required=True, metavar="DATA_COMMAND")
    raw = cmds.add_parser("prepare-h36m", help="from the raw layout (world 3D, cameras, SH 2D)")
    raw.add_argument("--source", required=True, help="folder, e.g. ../shared/data/h36m")
    raw.set_defaults(func=_cmd_data_prepare)
    vp3d = cmds.add_parser("convert-videopose3d", help="from VideoPose3D's npz files")
    vp3d.add_argument("--positions-3d", required=True, help="data_3d_h36m.npz")
    vp3d.add_argument(
        "--keypoints-2d", nargs="+", default=[], metavar="[NAME=]FILE",
        help="data_2d_h36m_<source>.npz files (name defaults from the file: cpn, sh, ...)",
    )  # fmt: skip
    vp3d.add_argument("--cameras", required=True, help="h36m_cameras.json (docs/data-format.md)")
    vp3d.set_defaults(func=_cmd_data_videopose3d)
    mb = cmds.add_parser("convert-motionbert", help="from h36m_sh_conf_cam_source_final.pkl")
    mb.add_argument("--pickle", required=True, help="MotionBERT's preprocessed pickle")
    mb.add_argument(
        "--allow-pickle", action="store_true",
        help="required: unpickling runs code from the file; only use files you trust",
    )  # fmt: skip
    mb.set_defaults(func=_cmd_data_motionbert)
    hp = cmds.add_parser("prepare-3dhp", help="MPI-INF-3DHP: P-STMO npz or the official .mat files")
    hp.add_argument(
        "--source", required=True,
        help="data_train_3dhp.npz / data_test_3dhp.npz (or their folder), or the official "
        "release folder (S*/Seq*/annot.mat, mpi_inf_3dhp_test_set/TS*/annot_data.mat)",
    )  # fmt: skip
    hp.add_argument(
        "--allow-pickle", action="store_true",
        help="required for P-STMO's npz files (pickled object arrays; read with a restricted "
        "unpickler that builds numpy arrays, dicts and lists only)",
    )  # fmt: skip
    hp.set_defaults(func=_cmd_data_3dhp)
    for parser in (raw, vp3d, mb, hp):
        parser.add_argument("--out", required=True, help="output .npz")
        parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    for parser in (raw, vp3d):
        parser.add_argument("--subjects", nargs="+", help="only these subjects (default: all)")
        parser.add_argument("--quiet", action="store_true", help="no progress bar")
    info = cmds.add_parser("info", help="stream and frame counts of a prepared file")
    info.add_argument("path", help="prepared .npz")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(func=_cmd_data_info)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from ssrstf.evaluation import mpi_inf_3dhp
    from ssrstf.evaluation import protocol as ev

    if args.mesh:
        return _evaluate_mesh(args)
    dataset = args.dataset.replace("-", "_")
    if dataset == "mpi_inf_3dhp" and args.protocol:
        raise ConfigError("--protocol applies to --dataset h36m only")
    if args.gt_2d and dataset == "mpi_inf_3dhp":
        raise ConfigError("--gt-2d applies to --dataset h36m --protocol motionbert only")
    if args.checkpoint:
        from ssrstf.training.scoring import evaluate_checkpoint

        result = evaluate_checkpoint(
            args.checkpoint, args.data, protocol=args.protocol, dataset=dataset,
            input_source=args.input, flip_test=args.flip, every=args.every, device=args.device,
            gt_2d=args.gt_2d, predictor=_predictor_factory(args.backend, args.device),
        )  # fmt: skip
    elif dataset == "mpi_inf_3dhp":
        result = _evaluate_3dhp_predictions(args)
    else:
        result = _evaluate_predictions(args)
    tables = mpi_inf_3dhp if isinstance(result, mpi_inf_3dhp.MPIInf3DHPResult) else ev
    print(json.dumps(result.to_dict(), indent=2) if args.json else tables.format_table(result))
    if args.out:
        tables.write_tables(result, args.out)
    return 0


def _evaluate_mesh(args: argparse.Namespace) -> int:
    """``evaluate --mesh``: the mesh protocol (ssrstf.training.mesh_scoring)."""
    from ssrstf.training.mesh_scoring import evaluate_mesh_checkpoint, write_mesh_result

    if args.dataset != "h36m" or args.protocol not in (None, "videopose3d") or args.gt_2d:
        raise ConfigError("--mesh scores Human3.6M with the videopose3d protocol only")
    result = evaluate_mesh_checkpoint(
        args.mesh, args.data, input_source=args.input, body_model_path=args.body_model_path,
        device=args.device, every=args.every, sample_every=args.sample_every,
        with_flip=args.flip,
    )  # fmt: skip
    print(json.dumps(result.to_dict(), indent=2) if args.json else result.table())
    if args.out:
        write_mesh_result(result, f"{args.out}.json")
    return 0


def _predictor_factory(backend: str, device: str):
    """None (torch, the default) or a factory running the model in ONNX Runtime."""
    if backend == "torch":
        return None
    from ssrstf.inference.backends import make_backend_predictor

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
        return ev.evaluate_predictions(
            proto, clips, predictions, every=args.every, gt_2d=args.gt_2d
        )
    except ValueError as exc:  # name the file the problem is in
        raise ValueError(f"{args.predictions}: {exc}") from None


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
    p.add_argument("--every", type=int, default=1, help="quick mode: score 1 in N test clips")
    p.add_argument(
        "--sample-every", type=_positive_int, default=100, metavar="N",
        help="--mesh: plausibility figures on 1 in N test clips (default %(default)s)",
    )  # fmt: skip
    p.add_argument(
        "--body-model-path", metavar="DIR",
        help="--mesh with an SMPL-trained head: the folder of SMPL_NEUTRAL.npz/.pkl",
    )  # fmt: skip
    p.add_argument("--json", action="store_true", help="print a JSON object instead of a table")
    p.add_argument(
        "--out", metavar="FILE", help="also write FILE.md and FILE.csv tables (--mesh: FILE.json)"
    )
    p.set_defaults(func=_cmd_evaluate)


def _cmd_train(args: argparse.Namespace) -> int:
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
    print(f"best checkpoint: {best}")
    return 0


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a model (one loop for every config; torchrun-ready)")
    p.add_argument("--config", help="experiment YAML, e.g. configs/tiny_debug.yaml")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a config value (repeatable)")  # fmt: skip
    p.add_argument("--out", help="run directory (default: runs/<config name>)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR exactly")
    p.set_defaults(func=_cmd_train)


def _cmd_export(args: argparse.Namespace) -> int:
    from ssrstf.checkpoint import export_weights, load_model
    from ssrstf.files import check_new_file

    out = Path(args.out)
    fmt = args.format or ("onnx" if out.suffix == ".onnx" else "safetensors")
    if out.suffix != f".{fmt}":
        raise ConfigError(f"--format {fmt} writes a .{fmt} file; got --out {out}")
    check_new_file(out, overwrite=args.overwrite)
    model, cfg = load_model(args.checkpoint)
    info = {"source": Path(args.checkpoint).name}
    if args.note:
        info["note"] = args.note
    if fmt == "onnx":
        from ssrstf.inference.backends import export_onnx

        export_onnx(model, cfg, out, **info)
    else:
        export_weights(out, model, cfg, **info)
    print(f"wrote {out}")
    return 0


def _add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export", help="checkpoint -> weights-only .safetensors, or an ONNX graph, with config"
    )
    p.add_argument(
        "--checkpoint", required=True, help="'default', a training checkpoint (.pt) or .safetensors"
    )
    p.add_argument("--out", required=True, help="output .safetensors or .onnx")
    p.add_argument(
        "--format", choices=("safetensors", "onnx"),
        help="safetensors: weights + config; onnx: the model as an ONNX graph (opset 17, dynamic "
        "batch and frame axes, extra onnx) for ONNX Runtime (default: from --out's suffix)",
    )  # fmt: skip
    p.add_argument("--note", help="free text stored in the file's metadata (e.g. licence)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.set_defaults(func=_cmd_export)


def _shard(text: str) -> tuple[int, int]:
    from ssrstf.inference.batch import parse_shard

    try:
        return parse_shard(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _image_size(text: str) -> tuple[int, int]:
    width, sep, height = text.lower().partition("x")
    try:
        size = (int(width), int(height))
    except ValueError:
        size = (0, 0)
    if not sep or min(size) <= 0:
        raise argparse.ArgumentTypeError(
            f"expected WIDTHxHEIGHT in pixels, e.g. 1920x1080: {text!r}"
        )
    return size


def _run_inference(args: argparse.Namespace, kp, options, *, frames_from=None):
    """Lift ``kp`` and write the outputs (``--mesh``: also the mesh's); returns (result, paths)."""
    import dataclasses

    from ssrstf.inference.one_input import lift_and_write

    mesh = getattr(args, "mesh", False)
    if mesh:  # before any work
        from ssrstf.inference.meshes import check_mesh_outputs

        check_mesh_outputs(args.out, render=options.render, overwrite=args.overwrite)
    lifter = _lifter(args)
    recoverer = _mesh_recoverer(args, lifter) if mesh else None
    result, paths = lift_and_write(
        kp, args.out, dataclasses.replace(options, render=options.render and not mesh), lifter,
        frames_from=frames_from, overwrite=args.overwrite, progress=not args.quiet,
    )  # fmt: skip
    if recoverer is not None:
        paths |= _write_mesh(
            args, result, recoverer, render=options.render, frames_from=frames_from
        )
    return result, paths


def _lifter(args: argparse.Namespace):
    """The `Lifter` of the model options of ``args``."""
    from ssrstf.inference.lifter import Lifter

    return Lifter(
        args.checkpoint, device=args.device, flip=args.flip, overlap=args.overlap,
        num_threads=args.threads, backend=args.backend,
    )  # fmt: skip


def _infer_options(
    args: argparse.Namespace,
    *,
    fmt: str,
    image_size: tuple[int, int] | None,
    skeleton: str | None,
    fps: float | None,
    render: bool,
    threads: int | None = None,
):
    """The options of ``infer`` / ``demo`` as `InferOptions`.

    ``threads`` is a batch worker's (default ``--threads``, at least 1: one input's own lifter,
    `_lifter`, takes ``--threads`` as given, 0 leaving torch's setting alone).
    """
    from ssrstf.inference.one_input import InferOptions
    from ssrstf.inference.tracking import MIN_TRACK_FRAMES

    return InferOptions(
        fmt=fmt, image_size=image_size, skeleton=skeleton, fps=fps, checkpoint=args.checkpoint,
        device=args.device, flip=args.flip, overlap=args.overlap,
        threads=max(args.threads, 1) if threads is None else threads,
        backend=args.backend, render=render, viewer_video=args.viewer_video,
        focal_length=args.focal_length, fov=args.fov, frame=args.frame, rigid=args.rigid,
        min_track_frames=getattr(args, "min_track_frames", MIN_TRACK_FRAMES),  # demo: default
    )  # fmt: skip


def _mesh_recoverer(args: argparse.Namespace, lifter):
    """The `MeshRecoverer` of ``--mesh-checkpoint`` (checked against ``--body-model``)."""
    from ssrstf.inference.meshes import MeshRecoverer

    recoverer = MeshRecoverer(
        args.mesh_checkpoint, lifter=lifter, device=args.device, overlap=args.overlap,
        body_model_path=args.body_model_path,
    )  # fmt: skip
    trained = recoverer.cfg.mesh.body_model
    if args.body_model and args.body_model != trained:
        raise ConfigError(
            f"--mesh-checkpoint {args.mesh_checkpoint} is a head for the {trained} body model; "
            f"--body-model {args.body_model} needs a head trained on it (mesh.body_model)"
        )
    return recoverer


def _write_mesh(args: argparse.Namespace, result, recoverer, *, render: bool, frames_from):
    """Recover and write the mesh of a lifted result; one summary line."""
    import numpy as np

    from ssrstf.inference.meshes import mesh_agreement_mm, recover_mesh, write_mesh_outputs

    mesh = recover_mesh(result, recoverer, fit_shape=args.mesh_shape == "fit")
    paths = write_mesh_outputs(
        result, mesh, args.out, render=render, frames_from=frames_from,
        overwrite=args.overwrite, progress=not args.quiet,
    )  # fmt: skip
    seconds = sum(mesh.seconds.values())
    agreement = float(np.median(mesh_agreement_mm(mesh, result.poses_3d)))
    print(
        f"mesh ({mesh.body_model}, {mesh.vertices.shape[1]} vertices): recovered in "
        f"{seconds:.2f} s ({1000 * seconds / mesh.num_frames:.1f} ms/frame); its joints are "
        f"{agreement:.1f} mm (median) from poses_3d"
    )
    return paths


def _report_scene(result, *, camera_given: bool) -> None:
    """The trajectory, floor and motion figures of a run, one line each."""
    import numpy as np

    from ssrstf.inference.trajectory import DEFAULT_FOV_DEG

    if result.trajectory is not None and result.intrinsics is not None:
        path = result.trajectory
        travelled = float(np.linalg.norm(np.diff(path, axis=0), axis=-1).sum()) / 1000
        camera = f"focal length {result.intrinsics.fx:.0f} px"
        if not camera_given:
            camera += f" (default {DEFAULT_FOV_DEG:g}° field of view; set --focal-length or --fov)"
        print(
            f"root path: starts {path[0, 2] / 1000:.2f} m in front of the camera, "
            f"{travelled:.2f} m travelled; {camera}"
        )
    if result.floor is not None:
        tilt = np.degrees(np.arccos(np.clip(-result.floor.normal[1], -1.0, 1.0)))
        contact = result.floor.contacts.any(axis=1).mean()
        print(
            f"floor: from the foot contacts (a foot on the floor in {contact:.0%} of frames); "
            f"its normal is {tilt:.1f}° from the camera's up axis (-y)"
        )
    if result.statistics is not None:
        rigid = " (poses rigid)" if result.rigid else ""
        print(result.statistics.summary() + rigid)


def _report(result, paths, *, camera_given: bool = False) -> None:
    kp = result.keypoints
    frames = result.num_frames
    filled = result.filled.mean()
    print(f"input: {kp.source}")
    print(
        f"{frames} frames, {kp.image_size[0]}x{kp.image_size[1]} px, "
        f"{f'{kp.fps:.4g} fps' if kp.fps else 'fps unknown'}; person detected in "
        f"{kp.valid.mean():.1%} of frames; {filled:.1%} of joints filled by interpolation"
    )
    lift_s = result.seconds.get("lift", 0.0)
    print(f"lifted in {lift_s:.2f} s ({frames / max(lift_s, 1e-9):,.0f} frames/s)")
    _report_scene(result, camera_given=camera_given)
    for name, path in paths.items():
        print(f"  {name:6s} {path}")


def _infer_input(
    args: argparse.Namespace,
    *,
    fmt: str,
    image_size: tuple[int, int] | None,
    skeleton: str | None,
    fps: float | None,
    render: bool,
) -> int:
    """Lift ``args.input`` (a video or keypoint file) with the model options of ``args``."""
    from ssrstf.inference.one_input import infer_input

    options = _infer_options(
        args, fmt=fmt, image_size=image_size, skeleton=skeleton, fps=fps, render=render
    )

    def several_people(people) -> None:
        if getattr(args, "mesh", False):
            raise ConfigError("--mesh recovers one person; this keypoint file has several")

    run = infer_input(
        args.input, args.out, options, lambda: _lifter(args), overwrite=args.overwrite,
        progress=not args.quiet, quiet=not args.verbose, several_people=several_people,
        one_person=lambda kp, frames_from: _run_inference(
            args, kp, options, frames_from=frames_from
        ),
    )  # fmt: skip
    if run.people is not None:
        _report_people(run, args.out)
    else:
        camera_given = args.focal_length is not None or args.fov is not None
        _report(run.result, run.paths, camera_given=camera_given)
    return 0


def _report_people(run, out: str) -> None:
    """The tracked people of a multi-person input and their folders, one line each."""
    people, results, paths = run.people, run.person_results, run.paths
    print(f"input: {people.source}")
    print(f"{people.num_frames} frames; {len(results)} people tracked"
          f"{f' ({people.dropped} shorter tracks dropped)' if people.dropped else ''}")  # fmt: skip
    for r in results:
        last = r.start_frame + r.result.num_frames - 1
        print(f"  {r.name}: frames {r.start_frame}-{last}, detected in "
              f"{r.result.valid.mean():.1%} of them -> {Path(out) / r.name}")  # fmt: skip
    for key in ("viewer", "people", "render"):
        if key in paths:
            print(f"  {key:6s} {paths[key]}")


def _cmd_infer(args: argparse.Namespace) -> int:
    from ssrstf.inference.batch import names_several_inputs

    if args.stream is not None:
        if args.input:
            raise ConfigError("infer takes an input file or --stream SOURCE, not both")
        if args.workers is not None or args.shard is not None:
            raise ConfigError("--workers and --shard are for several inputs, not --stream")
        return _infer_stream(args)
    if not args.input:
        raise ConfigError("infer needs an input (video, keypoint file or folder) or --stream")
    args.out = args.out or "ssrstf_out"
    batch = args.workers is not None or args.shard is not None
    if batch or len(args.input) > 1 or names_several_inputs(args.input[0]):
        return _infer_batch(args)
    args.input = args.input[0]  # one input: its files go straight into --out
    return _infer_input(
        args, fmt=args.format, image_size=args.image_size, skeleton=args.skeleton, fps=args.fps,
        render=args.render,
    )  # fmt: skip


def _infer_batch(args: argparse.Namespace) -> int:
    """Several inputs: one folder each under --out, worker processes, batch.csv/batch.json."""
    from ssrstf.inference.batch import print_failures, run_batch

    if args.mesh:
        raise ConfigError("--mesh lifts one input at a time; run infer once per input for meshes")
    options = _infer_options(
        args, fmt=args.format, image_size=args.image_size, skeleton=args.skeleton, fps=args.fps,
        render=args.render, threads=args.threads or 1,
    )  # fmt: skip
    try:
        result = run_batch(
            args.input, args.out, options, workers=args.workers, shard=args.shard,
            overwrite=args.overwrite, progress=not args.quiet, verbose=args.verbose,
        )  # fmt: skip
    except KeyboardInterrupt:  # the summary is written; finished inputs stay finished
        print(f"interrupted; run the same command again to resume ({args.out}/batch.csv)",
              file=sys.stderr)  # fmt: skip
        return 130
    print(result.describe())
    print(f"summary: {result.summary['csv']}, {result.summary['json']}")
    print_failures(result)
    return 0 if result.ok else 1


def _infer_stream(args: argparse.Namespace) -> int:
    """``infer --stream SOURCE``: JSON lines of 3D poses to stdout or ``--out FILE``."""
    from ssrstf.files import atomic_write
    from ssrstf.inference.streaming import (
        StreamingLifter,
        latency_percentiles_ms,
        run_stream,
        stream_keypoints,
    )

    if args.render:
        raise ConfigError("--render needs a whole input; it does not combine with --stream")
    if args.out and Path(args.out).exists() and not args.overwrite:  # before the model loads
        raise FileExistsError(f"{args.out} already exists; pass --overwrite to replace it")
    frames = stream_keypoints(args.stream, skeleton=args.skeleton or "h36m",
                              image_size=args.image_size, quiet=not args.verbose)  # fmt: skip

    def make_lifter(size: tuple[int, int]) -> StreamingLifter:
        return StreamingLifter(
            args.checkpoint, size, lookahead=args.lookahead, flip=args.flip, device=args.device,
            backend=args.backend, num_threads=args.threads,
        )  # fmt: skip

    latencies: list[float] = []

    def write(tmp: Path) -> None:
        with open(tmp, "w") as handle:
            latencies.extend(run_stream(frames, make_lifter, handle, image_size=args.image_size))

    if args.out:
        atomic_write(args.out, write, overwrite=args.overwrite)
    else:
        latencies = run_stream(frames, make_lifter, sys.stdout, image_size=args.image_size)
    if not latencies:
        print("the stream had no frame with a person", file=sys.stderr)
        return 0
    p50, p99 = latency_percentiles_ms(latencies)
    print(f"{len(latencies)} frames lifted; compute latency per frame p50 {p50:.1f} ms, "
          f"p99 {p99:.1f} ms{f' -> {args.out}' if args.out else ''}", file=sys.stderr)  # fmt: skip
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    import importlib.util

    import numpy as np

    from ssrstf.evaluation.metrics import mpjpe, p_mpjpe
    from ssrstf.files import output_lock
    from ssrstf.geometry import to_root_relative
    from ssrstf.inference.pipeline import check_outputs
    from ssrstf.inference.sample import FOCAL_PX, make_sample

    if args.input:
        return _infer_input(args, fmt="auto", image_size=None, skeleton=None, fps=None, render=True)
    render = all(importlib.util.find_spec(m) for m in ("matplotlib", "imageio_ffmpeg"))
    check_outputs(args.out, render=render, overwrite=args.overwrite)
    sample = make_sample()
    print(f"demo input: {sample.description}")
    if args.focal_length is None and args.fov is None:
        args.focal_length = FOCAL_PX  # the sample's own camera
    options = _infer_options(
        args, fmt="auto", image_size=None, skeleton=None, fps=None, render=render
    )
    with output_lock(args.out):
        check_outputs(args.out, render=render, overwrite=args.overwrite)
        result, paths = _run_inference(args, sample.keypoints, options)
    _report(result, paths, camera_given=True)
    truth = to_root_relative(sample.poses_3d)
    p1 = mpjpe(result.poses_3d, truth).mean()
    p2 = p_mpjpe(result.poses_3d, truth).mean()
    root = np.linalg.norm(result.trajectory - sample.poses_3d[:, 0], axis=-1).mean()
    print(
        f"error against the generated 3D truth: MPJPE {p1:.1f} mm, P-MPJPE {p2:.1f} mm, "
        f"root position {root:.0f} mm "
        "(a synthetic person with its own proportions, not a benchmark)"
    )
    print(
        "poses_3d.npz/.json: 3D joints in mm, root-relative, camera axes (x right, y down, "
        "z forward), H36M-17 order, with the root's camera-space trajectory, foot contacts and "
        "the world frame; poses_3d.bvh: the motion as a BVH animation, upright on the floor "
        "and moving along the trajectory (Blender: File > Import > Motion Capture)"
    )
    if render:
        mesh = " and the shaded mesh" if args.mesh else ""
        print(f"render.mp4: the 2D input (left) beside the lifted 3D skeleton{mesh} (right)")
    else:
        print("rendering skipped: pip install 'ssrstf[viz]' to also get render.mp4")
    return 0


def _add_inference_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--checkpoint", default="default", metavar="default|PATH",
        help="model: 'default' (packaged, trained on Human3.6M, research use), .pt, .safetensors "
        "or an exported .onnx",
    )  # fmt: skip
    p.add_argument("--device", default="cpu", help="cpu, cuda, ... (default %(default)s)")
    p.add_argument(
        "--flip", action=argparse.BooleanOptionalAction, default=True,
        help="flip test-time augmentation (default on)",
    )  # fmt: skip
    p.add_argument("--overlap", type=int, help="frames shared by consecutive windows (default T/6)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's)")
    p.add_argument(
        "--backend", choices=("torch", "onnxruntime"),
        help="run the model in torch or ONNX Runtime (extra onnx); default: torch, onnxruntime "
        "for an .onnx --checkpoint",
    )  # fmt: skip
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument(
        "--viewer-video", action="store_true",
        help="show the input video's frames in viewer.html (video input; embeds small JPEGs)",
    )  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument(
        "--verbose", action="store_true",
        help="let the 2D detector's own log lines (MediaPipe, TFLite) through to stderr",
    )  # fmt: skip
    camera = p.add_mutually_exclusive_group()
    camera.add_argument(
        "--focal-length", type=float, metavar="PX",
        help="the camera's focal length in pixels, for the root trajectory",
    )  # fmt: skip
    camera.add_argument(
        "--fov", type=float, metavar="DEG",
        help="the camera's field of view across the image's larger side (default 60)",
    )  # fmt: skip
    p.add_argument(
        "--frame", choices=("world", "camera"), default="world",
        help="frame of the BVH and GLB files: world (Y up, floor at 0; default) or camera",
    )  # fmt: skip
    p.add_argument(
        "--rigid", action=argparse.BooleanOptionalAction, default=None,
        help="one set of bone lengths for the clip: --rigid for every output, --no-rigid for "
        "none (default: BVH and GLB only)",
    )  # fmt: skip
    mesh = p.add_argument_group("body mesh (extra mesh)")
    mesh.add_argument(
        "--mesh", action="store_true",
        help="also recover a body mesh: mesh.glb (animated), mesh.npz (vertices in mm); with "
        "--render the mesh is drawn beside the skeleton",
    )  # fmt: skip
    mesh.add_argument(
        "--mesh-checkpoint", default="default", metavar="default|PATH",
        help="mesh head: 'default' (packaged, on the default model; trained on Human3.6M, "
        "research use), a mesh run's .pt or an exported .safetensors",
    )  # fmt: skip
    mesh.add_argument(
        "--mesh-shape", choices=("fit", "head"), default="fit",
        help="the body's shape and size: 'fit' (default) matches them to the lifted skeleton, "
        "'head' keeps the mesh head's prediction",
    )  # fmt: skip
    mesh.add_argument(
        "--body-model", choices=("anny", "smpl"),
        help="body model (default: the mesh head's own; the packaged head uses anny)",
    )  # fmt: skip
    mesh.add_argument(
        "--body-model-path", metavar="DIR",
        help="--body-model smpl: the folder of your SMPL files (SMPL_NEUTRAL.npz or .pkl)",
    )  # fmt: skip


def _add_infer(sub: argparse._SubParsersAction) -> None:
    from ssrstf.inference.readers import FORMATS
    from ssrstf.inference.tracking import MIN_TRACK_FRAMES

    p = sub.add_parser("infer", help="video or 2D keypoint file -> 3D poses, BVH, rendering")
    p.add_argument(
        "input", nargs="*", metavar="INPUT",
        help="video (.mp4, .avi, .mov, ...), keypoint file or OpenPose folder; several inputs, "
        "a folder of them or a quoted glob ('clips/*.mp4') make a batch: one folder per input "
        "under --out, with batch.csv and batch.json",
    )  # fmt: skip
    batch = p.add_argument_group("several inputs")
    batch.add_argument(
        "--workers", type=_positive_int, metavar="N",
        help="worker processes, one torch thread each (default: the CPUs available, at most "
        "one per input); implies the batch layout",
    )  # fmt: skip
    batch.add_argument(
        "--shard", type=_shard, metavar="K/N",
        help="process only the K-th of N deterministic shares of the sorted inputs (1 <= K <= "
        "N), e.g. a SLURM array task; implies the batch layout",
    )  # fmt: skip
    p.add_argument(
        "--stream", metavar="SOURCE",
        help="live stream instead of INPUT: '-' (JSON lines of 2D keypoints on stdin, see "
        "docs/data-format.md), a camera index (OpenCV) or a video played at its frame rate; "
        "writes JSON lines of 3D poses to stdout or --out FILE",
    )  # fmt: skip
    p.add_argument(
        "--lookahead", type=int, metavar="N",
        help="--stream: frames of delay, 0 to T/2 (default T/2): more look-ahead, more accuracy",
    )  # fmt: skip
    p.add_argument(
        "--format", default="auto", choices=(*FORMATS, "video"),
        help="input format (default: detect it and say what was chosen)",
    )  # fmt: skip
    p.add_argument("--skeleton", help="joint order of a numpy array (h36m, coco, halpe, ...)")
    p.add_argument(
        "--image-size", type=_image_size, metavar="WxH",
        help="image size of keypoint files that do not record it, e.g. 1920x1080",
    )  # fmt: skip
    p.add_argument("--fps", type=float, help="frame rate (default: the file's)")
    p.add_argument(
        "--out", help="output folder (default ssrstf_out); with --stream a .jsonl file (default: "
        "standard output)",
    )  # fmt: skip
    p.add_argument("--render", action="store_true", help="also write render.mp4 (extra viz)")
    p.add_argument(
        "--min-track-frames", type=int, default=MIN_TRACK_FRAMES, metavar="N",
        help="several people per frame: lift the people tracked in at least N frames "
        "(default %(default)s)",
    )  # fmt: skip
    _add_inference_options(p)
    p.set_defaults(func=_cmd_infer)


def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo", help="lift the built-in sample (or INPUT, like infer --render) and render it"
    )
    p.add_argument("input", nargs="?", help="optional video or keypoint file")
    p.add_argument("--out", default="ssrstf_demo", help="output folder (default %(default)s)")
    _add_inference_options(p)
    p.set_defaults(func=_cmd_demo)


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
    from ssrstf.files import OutputLockedError
    from ssrstf.inference.extras import MissingExtraError
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


def _one_line(exc: Exception) -> str:
    """The message of a user-facing error on one line, naming the file for OS errors."""
    if isinstance(exc, OSError) and exc.strerror and str(exc).startswith("[Errno"):
        # e.g. PermissionError / ENOSPC raised by the OS itself: "[Errno 28] ...: 'x'"
        text = f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())
