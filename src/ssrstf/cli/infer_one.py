"""Lifting one input for ``infer`` and ``demo``: the pipeline's options from the arguments, the
pipeline (`ssrstf.pipeline.run.Pipeline`), and its printed report."""

from __future__ import annotations

import argparse

from ssrstf.pipeline.options import InferOptions, MeshOptions
from ssrstf.pipeline.run import Pipeline, PipelineRun


def _infer_options(
    args: argparse.Namespace,
    *,
    fmt: str,
    image_size: tuple[int, int] | None,
    skeleton: str | None,
    fps: float | None,
    render: bool,
    threads: int | None = None,
) -> InferOptions:
    """The options of ``infer`` / ``demo`` as `InferOptions`.

    ``threads`` is a batch worker's (default ``--threads``, at least 1: one input's own lifter,
    `_pipeline`, takes ``--threads`` as given, 0 leaving torch's setting alone).
    """
    from ssrstf.keypoints.tracking import MIN_TRACK_FRAMES

    return InferOptions(
        fmt=fmt, image_size=image_size, skeleton=skeleton, fps=fps, checkpoint=args.checkpoint,
        device=args.device, flip=args.flip, overlap=args.overlap,
        frame_stride=args.frame_stride,
        threads=max(args.threads, 1) if threads is None else threads,
        backend=args.backend, render=render, viewer_video=args.viewer_video,
        focal_length=args.focal_length, fov=args.fov, frame=args.frame, rigid=args.rigid,
        min_track_frames=getattr(args, "min_track_frames", MIN_TRACK_FRAMES),  # demo: default
    )  # fmt: skip


def _pipeline(args: argparse.Namespace, options: InferOptions) -> Pipeline:
    """The pipeline of ``options`` with the model and mesh options of ``args``."""
    mesh = None
    if getattr(args, "mesh", False):
        mesh = MeshOptions(
            args.mesh_checkpoint, fit_shape=args.mesh_shape == "fit", body_model=args.body_model,
            body_model_path=args.body_model_path, allow_pickle=args.allow_pickle,
        )  # fmt: skip
    return Pipeline(
        options, mesh=mesh, num_threads=args.threads, progress=not args.quiet,
        quiet=not args.verbose,
    )  # fmt: skip


def _print(run: PipelineRun, *, camera_given: bool | None = None) -> None:
    for line in run.report(camera_given=camera_given):
        print(line)


def _infer_input(args: argparse.Namespace, **fields) -> int:
    """Lift ``args.input`` (a video or keypoint file) with the model options of ``args``;
    ``fields`` are `_infer_options`'s (format, image size, skeleton, fps, render)."""
    options = _infer_options(args, **fields)
    run = _pipeline(args, options).infer(args.input, args.out, overwrite=args.overwrite)
    _print(run)
    return 0
