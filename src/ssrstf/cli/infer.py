"""``ssrstf infer``: one input, several inputs (batch) or a live stream; the model options."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

from ssrstf.cli.common import _image_size, _non_negative_int, _positive_int, _shard
from ssrstf.cli.infer_one import _infer_input, _infer_options
from ssrstf.config import ConfigError


def _cmd_infer(args: argparse.Namespace) -> int:
    from ssrstf.pipeline.batch import names_several_inputs

    if args.stream is not None:
        if args.input:
            raise ConfigError("infer takes an input file or --stream SOURCE, not both")
        if args.workers is not None or args.shard is not None:
            raise ConfigError("--workers and --shard are for several inputs, not --stream")
        return _infer_stream(args)
    if not args.input:
        raise ConfigError("infer needs an input (video, keypoint file or folder) or --stream")
    if args.lookahead is not None:
        raise ConfigError("--lookahead applies to --stream only")
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
    from ssrstf.pipeline.batch import print_failures, run_batch

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
        # With --overwrite too: the batch skips, when rerun, the inputs this run redid.
        kept = "; the inputs this --overwrite run redid are kept" if args.overwrite else ""
        print(f"interrupted; run the same command again to resume{kept} ({args.out}/batch.csv)",
              file=sys.stderr)  # fmt: skip
        return 130
    print(result.describe())
    print(f"summary: {result.summary['csv']}, {result.summary['json']}")
    print_failures(result)
    return 0 if result.ok else 1


def _infer_stream(args: argparse.Namespace) -> int:
    """``infer --stream SOURCE``: JSON lines of 3D poses to stdout or ``--out FILE``."""
    from ssrstf.files import atomic_write
    from ssrstf.keypoints.streams import stream_keypoints
    from ssrstf.lifting.streaming import StreamingLifter
    from ssrstf.pipeline.stream import latency_percentiles_ms, run_stream

    if args.frame_stride is not None and args.frame_stride > 1:
        raise ConfigError(
            f"--frame-stride {args.frame_stride}: --stream lifts consecutive frames only "
            "(stride 1); lift the recorded file with infer INPUT instead"
        )
    given = _whole_input_options(args)
    if given:  # they would be silently ignored
        raise ConfigError(f"{given[0]} needs a whole input; it does not combine with --stream")
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
    failure: list[Exception] = []

    def write(tmp: Path) -> None:
        with open(tmp, "w") as handle:
            try:
                latencies.extend(
                    run_stream(frames, make_lifter, handle, image_size=args.image_size)
                )
            except Exception as exc:
                if not handle.tell():  # nothing lifted: no file
                    raise
                failure.append(exc)  # keep the poses lifted before it, then report it

    if args.out:
        with _terminate_like_ctrl_c():  # `kill`, `timeout`, `docker stop`: the file is kept
            atomic_write(args.out, write, overwrite=args.overwrite)
        if failure:
            raise failure[0]
    else:
        latencies = run_stream(frames, make_lifter, sys.stdout, image_size=args.image_size)
    if not latencies:
        print("the stream had no frame with a person", file=sys.stderr)
        return 0
    p50, p99 = latency_percentiles_ms(latencies)
    print(f"{len(latencies)} frames lifted; compute latency per frame p50 {p50:.1f} ms, "
          f"p99 {p99:.1f} ms{f' -> {args.out}' if args.out else ''}", file=sys.stderr)  # fmt: skip
    return 0


@contextlib.contextmanager
def _terminate_like_ctrl_c() -> Iterator[None]:
    """SIGTERM / SIGHUP end a stream as Ctrl-C does (the waiting poses flushed, the file
    written) instead of killing the process with the stream's file still a temporary one."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signals = [signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    previous = {s: signal.signal(s, interrupt) for s in signals}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _whole_input_options(args: argparse.Namespace) -> list[str]:
    """The options given that act on a whole input (its windows, scene, files), not a stream:
    those whose value is not their default."""
    from ssrstf.keypoints.tracking import MIN_TRACK_FRAMES

    defaults = {
        "--render": ("render", False), "--mesh": ("mesh", False),
        "--viewer-video": ("viewer_video", False), "--format": ("format", "auto"),
        "--fps": ("fps", None), "--overlap": ("overlap", None),
        "--focal-length": ("focal_length", None), "--fov": ("fov", None),
        "--frame": ("frame", "world"), "--rigid": ("rigid", None),
        "--min-track-frames": ("min_track_frames", MIN_TRACK_FRAMES),
    }  # fmt: skip
    given = [flag for flag, (name, default) in defaults.items() if getattr(args, name) != default]
    return ["--no-rigid" if flag == "--rigid" and not args.rigid else flag for flag in given]


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
    p.add_argument(
        "--frame-stride", type=_positive_int, metavar="S",
        help="run the model on every S-th frame (phases interleaved: every frame gets a pose); "
        "default: from the input's fps, fps/50 rounded half up for a Human3.6M model (2 from "
        "75 fps, 3 from 125), which matches the 50 fps it was trained at (every frame at "
        "100-120 fps measured 1.4 mm worse); the model's own (1) when the fps is unknown; "
        "--stream: 1 only",
    )  # fmt: skip
    p.add_argument(
        "--threads", type=_non_negative_int, default=0,
        help="torch CPU threads (default 0: torch's)",
    )  # fmt: skip
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
    mesh.add_argument(
        "--allow-pickle", action="store_true",
        help="read an SMPL .pkl file (a pickle: restricted unpickler, numpy arrays and sparse "
        "matrices only; .npz needs no flag); also one a mesh checkpoint's config names",
    )  # fmt: skip


def _add_infer(sub: argparse._SubParsersAction) -> None:
    from ssrstf.keypoints.readers import FORMATS
    from ssrstf.keypoints.tracking import MIN_TRACK_FRAMES

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
        help="worker processes, --threads torch threads each (default: the CPUs available "
        "divided by --threads, at most one per input); implies the batch layout",
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
