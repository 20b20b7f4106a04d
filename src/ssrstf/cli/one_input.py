"""Lifting one input for ``infer`` and ``demo``: options, outputs, the printed report."""

from __future__ import annotations

import argparse
from pathlib import Path

from ssrstf.config import ConfigError


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
