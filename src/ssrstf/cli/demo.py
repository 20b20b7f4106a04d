"""``ssrstf demo``: lift and render the built-in sample (or one input)."""

from __future__ import annotations

import argparse

from ssrstf.cli.infer import _add_inference_options
from ssrstf.cli.infer_one import _infer_input, _infer_options, _pipeline, _print

_NO_RENDER = "rendering skipped: pip install 'ssrstf[viz]' to also get render.mp4"
"""What ``demo`` prints when the ``viz`` extra is missing (it lifts and writes the rest)."""


def _can_render() -> bool:
    """Whether the packages of the rendering (extra ``viz``) are installed."""
    from ssrstf.extras import MissingExtraError
    from ssrstf.outputs.folder import check_output_extras

    try:
        check_output_extras(render=True)
    except MissingExtraError:
        return False
    return True


def _cmd_demo(args: argparse.Namespace) -> int:
    import numpy as np

    from ssrstf.evaluation.metrics import mpjpe, p_mpjpe
    from ssrstf.geometry import to_root_relative
    from ssrstf.keypoints.sample import FOCAL_PX, make_sample
    from ssrstf.outputs.folder import check_outputs

    render = _can_render()  # without the viz extra: everything but render.mp4, and a note
    if args.input:
        code = _infer_input(
            args, fmt="auto", image_size=None, skeleton=None, fps=None, render=render
        )
        if not render:
            print(_NO_RENDER)
        return code
    check_outputs(args.out, render=render, overwrite=args.overwrite)
    sample = make_sample()
    print(f"demo input: {sample.description}")
    if args.focal_length is None and args.fov is None:
        args.focal_length = FOCAL_PX  # the sample's own camera
    options = _infer_options(
        args, fmt="auto", image_size=None, skeleton=None, fps=None, render=render
    )
    run = _pipeline(args, options).infer(sample.keypoints, args.out, overwrite=args.overwrite)
    _print(run, camera_given=True)
    result = run.result
    assert result is not None and result.trajectory is not None
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
        print(_NO_RENDER)
    return 0


def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="lift the built-in sample (or INPUT, like infer --render) and render it "
        "(rendering skipped, with a note, without the viz extra)",
    )
    p.add_argument("input", nargs="?", help="optional video or keypoint file")
    p.add_argument("--out", default="ssrstf_demo", help="output folder (default %(default)s)")
    _add_inference_options(p)
    p.set_defaults(func=_cmd_demo)
