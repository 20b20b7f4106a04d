"""One person's output folder: ``poses_3d.npz``, ``.json``, ``.bvh``, ``.glb``, ``viewer.html``.

`write_outputs` writes an `ssrstf.scene.result.InferenceResult` with the writer of each format
(`ssrstf.outputs.npz_json`, `ssrstf.outputs.bvh`, `ssrstf.outputs.gltf`,
`ssrstf.outputs.viewer`) and, on request, ``render.mp4`` (`ssrstf.outputs.render`); every file
written atomically, none overwritten without ``overwrite``. `check_outputs` refuses existing
files (and an ``out_dir`` that is a file) and `check_output_extras` missing optional packages up
front, before any work. The file names are `OUTPUT_FILES`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ssrstf.extras import require
from ssrstf.outputs import bvh, gltf, npz_json, viewer
from ssrstf.outputs.bvh import CAMERA_TO_BVH
from ssrstf.scene.result import InferenceResult
from ssrstf.scene.rigid import make_rigid

logger = logging.getLogger(__name__)

OUTPUT_FILES = {
    "npz": "poses_3d.npz",
    "json": "poses_3d.json",
    "bvh": "poses_3d.bvh",
    "glb": "poses_3d.glb",
    "viewer": "viewer.html",
    "render": "render.mp4",
}
"""File names written into the output folder."""

RENDER_MODULES = (
    ("matplotlib.figure", "viz"), ("matplotlib.backends.backend_agg", "viz"),
    ("PIL.Image", "viz"), ("PIL.ImageDraw", "viz"), ("imageio_ffmpeg", "viz"),
)  # fmt: skip
"""The modules (and their extra) the renderings (``render.mp4``, with or without a mesh) import."""
VIEWER_VIDEO_WARN_MB = 64.0
"""``--viewer-video`` frames above this many MB are named in a warning (at the 4.9-8.0 KB a
frame measured in docs/design.md: 8,000-13,000 frames, 4.5-7 minutes at 30 fps)."""
VIEWER_VIDEO_MODULES = (("PIL.Image", "viz"), ("imageio_ffmpeg", "video"))
"""The modules (and their extra) ``viewer_video`` imports: the video's frames as JPEGs."""


def output_paths(out_dir: str | Path, *, render: bool) -> dict[str, Path]:
    """The files an inference run writes into ``out_dir``."""
    names = {k: v for k, v in OUTPUT_FILES.items() if render or k != "render"}
    return {k: Path(out_dir) / v for k, v in names.items()}


def check_outputs(out_dir: str | Path, *, render: bool, overwrite: bool) -> dict[str, Path]:
    """Output paths, after refusing up front (before any work) to replace existing files or to
    write into a file (`check_output_folder`)."""
    check_output_folder(out_dir)
    return refuse_existing(output_paths(out_dir, render=render), overwrite=overwrite)


def check_output_folder(out_dir: str | Path) -> Path:
    """``out_dir``, after raising `NotADirectoryError` when it exists and is not a folder."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(f"{out_dir} is a file, not a folder; pass --out DIR")
    return out_dir


def check_output_extras(*, render: bool, viewer_video: bool = False) -> None:
    """Raise `MissingExtraError` up front, before any work or file, when an optional package
    the outputs need is missing: `RENDER_MODULES` for ``render``, `VIEWER_VIDEO_MODULES` for
    ``viewer_video`` (pass it only when there is a video to show)."""
    needed = (RENDER_MODULES if render else ()) + (VIEWER_VIDEO_MODULES if viewer_video else ())
    for module, extra in needed:
        require(module, extra)


def refuse_existing(paths: dict[str, Path], *, overwrite: bool) -> dict[str, Path]:
    """``paths``, after raising `FileExistsError` naming those that exist (unless ``overwrite``)."""
    existing = [str(p) for p in paths.values() if p.exists()]
    if existing and not overwrite:
        raise FileExistsError(
            f"{', '.join(existing)} already exist(s); pass --overwrite to replace, or --out DIR"
        )
    return paths


def write_outputs(
    result: InferenceResult,
    out_dir: str | Path,
    *,
    render: bool = False,
    frames_from: str | Path | None = None,
    overwrite: bool = False,
    progress: bool = True,
    viewer_video: bool = False,
    frame: str = "world",
    rigid_animation: bool = True,
) -> dict[str, Path]:
    """Write the npz, JSON, BVH, GLB files and ``viewer.html`` (and ``render.mp4``) to ``out_dir``.

    Args:
        result: What `lift_keypoints` returned.
        out_dir: The output folder (created when missing).
        render: Also render the input beside the 3D poses (extra ``viz``).
        frames_from: The input video whose frames the rendering shows; None draws the 2D
            skeleton on a blank canvas.
        overwrite: Replace existing files.
        progress: Show the rendering's progress bar.
        viewer_video: Embed the frames of ``frames_from`` in ``viewer.html`` (JPEG,
            `viewer.VIDEO_FRAME_HEIGHT` pixels high; needs Pillow, extra ``viz``).
        frame: Frame of the animation files (BVH, GLB): ``"world"`` (Y up, floor at Y = 0,
            `WorldFrame`) or ``"camera"`` (the camera's ``(x, −y, −z)``); the root moves along
            the trajectory in both (the camera's when ``result`` has no world frame). npz and
            JSON always hold camera-space poses, the trajectory and the world frame.
        rigid_animation: BVH and GLB get one set of bone lengths (`make_rigid`) even when
            ``result.poses_3d`` are not rigid.

    The npz also holds the poses BVH and GLB carry, in their frame (``animation_poses``,
    ``animation_rigid``, ``animation_frame``, ``animation_axes``: `npz_json.animation_extras`),
    and the JSON says which they are (top-level ``animation``).
    """
    if frame not in ("world", "camera"):
        raise ValueError(f"frame must be 'world' or 'camera', got {frame!r}")
    paths = check_outputs(out_dir, render=render, overwrite=overwrite)
    check_output_extras(render=render, viewer_video=viewer_video and frames_from is not None)
    kp = result.keypoints
    names = list(kp.skeleton.joint_names)
    fps = kp.fps
    trajectory = result.trajectory
    world = result.world_from_camera
    animation_world = world if frame == "world" else None  # no world frame: the camera's
    rebuilt = rigid_animation and not result.rigid
    animation = make_rigid(result.poses_3d, kp.skeleton) if rebuilt else result.poses_3d
    carried = npz_json.animation_extras(
        gltf.animation_positions_mm(animation, trajectory, animation_world),
        frame="world" if animation_world is not None else "camera", skeleton=kp.skeleton,
    )  # fmt: skip
    video_frames = None  # decoded before the first file: a video that fails leaves none
    if viewer_video and frames_from is not None:
        video_frames = viewer_frames(frames_from, kp.image_size, result.num_frames)
    npz_json.write_npz(
        paths["npz"], result.poses_3d, kp.keypoints, kp.valid, fps, names,
        extras={**_npz_extras(result), **carried}, overwrite=overwrite,
    )  # fmt: skip
    frame_extras, extras = _json_extras(result)
    extras["animation"] = _animation_description(carried, rebuilt=rebuilt, result=result)
    npz_json.write_json(
        paths["json"], result.poses_3d, kp.keypoints, kp.valid, fps, names,
        frame_extras=frame_extras, extras=extras, overwrite=overwrite,
    )  # fmt: skip
    absolute = animation if trajectory is None else animation + trajectory[:, None]
    bvh.write_bvh(
        paths["bvh"], absolute, fps or 30.0, world_from_camera=animation_world,
        overwrite=overwrite,
    )  # fmt: skip
    gltf.write_glb(
        paths["glb"], animation, fps or 30.0, trajectory_mm=trajectory,
        world_from_camera=animation_world, overwrite=overwrite,
    )  # fmt: skip
    person = viewer.ViewerPerson("person", result.poses_3d, trajectory, valid=kp.valid)
    viewer.write_viewer(
        paths["viewer"], [person], fps, world_from_camera=world, video_frames=video_frames,
        title=f"ssrstf: {kp.source}", overwrite=overwrite,
    )  # fmt: skip
    if render:
        from ssrstf.outputs import render as rendering

        shown, path = render_poses(result)
        rendering.render_video(
            paths["render"],
            shown,
            kp.keypoints,
            fps=fps or 30.0,
            image_size=kp.image_size,
            frames=frames_from,
            valid=kp.valid,
            overwrite=overwrite,
            progress=progress,
            path=path,
        )
    return paths


def render_poses(result: InferenceResult) -> tuple[np.ndarray, np.ndarray | None]:
    """The poses the rendering shows and the root path: absolute and upright (world frame, in
    the camera-like axes ``(X, −Y, −Z)`` the renderer takes) when known, else root-relative."""
    if result.trajectory is None:
        return result.poses_3d, None
    absolute = result.poses_3d + result.trajectory[:, None]
    if result.world is None:
        return absolute, result.trajectory
    to_axes = CAMERA_TO_BVH  # its own inverse: world (Y up) → camera-like axes (y down)
    path = result.world.to_world(result.trajectory) @ to_axes
    return result.world.to_world(absolute) @ to_axes, path


_CAMERA_AXES = "camera: x right, y down, z forward (away from the camera)"


def _npz_extras(result: InferenceResult) -> dict[str, np.ndarray]:
    """The trajectory, world frame, contacts and statistics as npz arrays (those present)."""
    out: dict[str, np.ndarray] = {"rigid": np.bool_(result.rigid)}
    if result.trajectory is not None:
        out["trajectory"] = result.trajectory
        out["trajectory_axes"] = np.array(_CAMERA_AXES)
    if result.intrinsics is not None:
        k = result.intrinsics
        out["intrinsics"] = np.array([k.fx, k.fy, k.cx, k.cy])
    if result.world is not None:
        out["world_from_camera"] = result.world.matrix
        world = result.poses_world()
        if world is not None:
            out["poses_world"] = world
    if result.floor is not None:
        out["floor_normal"] = result.floor.normal
        out["floor_height"] = np.float64(result.floor.height)
        out["foot_contact"] = result.floor.contacts
        out["foot_contact_joints"] = np.array(result.floor.foot_joints)
    if result.statistics is not None:
        stats = result.statistics
        out["mean_acceleration_mm"] = np.float64(stats.mean_acceleration_mm)
        out["bone_length_cv"] = stats.bone_length_cv
        out["bone_names"] = np.array(stats.bone_names)
        if stats.trajectory_acceleration_mm is not None:
            out["trajectory_acceleration_mm"] = np.float64(stats.trajectory_acceleration_mm)
    return out


def _json_extras(result: InferenceResult) -> tuple[dict[str, np.ndarray], dict[str, object]]:
    """Per-frame entries and top-level descriptions for `npz_json.write_json`."""
    frame_extras: dict[str, np.ndarray] = {}
    extras: dict[str, object] = {"rigid": result.rigid}
    if result.trajectory is not None:
        frame_extras["trajectory"] = result.trajectory
        extras["trajectory"] = {
            "units": "mm",
            "axes": _CAMERA_AXES,
            "meaning": "camera-space position of the root; absolute pose = pose_3d + trajectory",
            "intrinsics": None if result.intrinsics is None else result.intrinsics.to_dict(),
        }
    if result.floor is not None:
        frame_extras["foot_contact"] = result.floor.contacts
        extras["foot_contact"] = {"joints": list(result.floor.foot_joints)}
    if result.world is not None:
        extras["world"] = {
            "world_from_camera": result.world.matrix.round(6).tolist(),
            "axes": "Y up (floor normal), floor at Y = 0, -Z = the camera's forward made "
            "horizontal, origin under the root at frame 0; mm",
            "floor_normal_camera": result.world.up.round(6).tolist(),
        }
    if result.statistics is not None:
        extras["statistics"] = result.statistics.to_dict()
    return frame_extras, extras


def _animation_description(
    carried: dict[str, np.ndarray], *, rebuilt: bool, result: InferenceResult
) -> dict[str, object]:
    """The JSON's ``animation`` entry: which poses the BVH and GLB files carry (the npz's
    ``animation_*`` entries, `npz_json.animation_extras`, hold them)."""
    frame = str(carried["animation_frame"])
    poses = "pose_3d rebuilt with one set of bone lengths (make_rigid)" if rebuilt else "pose_3d"
    if result.trajectory is not None:
        poses += " + trajectory"
    world = frame == "world"
    poses += ", mapped by world.world_from_camera" if world else " in the axes (x, -y, -z)"
    return {
        "files": [OUTPUT_FILES["bvh"], OUTPUT_FILES["glb"]],
        "poses": poses,
        "frame": frame,
        "axes": str(carried["animation_axes"]),
        "rigid": bool(carried["animation_rigid"]),
        "npz_key": "animation_poses",
    }


def viewer_frames(
    video_path: str | Path, image_size: tuple[int, int] | None, count: int
) -> list[str]:
    """The first ``count`` frames of the input video as JPEG data URIs for the viewer page."""
    from ssrstf.keypoints.video import iter_frames

    size = None
    if image_size is not None:  # let ffmpeg scale while decoding
        width = max(2, 2 * round(image_size[0] * viewer.VIDEO_FRAME_HEIGHT / image_size[1] / 2))
        size = (width, viewer.VIDEO_FRAME_HEIGHT)
    frames = iter_frames(video_path, size=size)
    try:
        encoded = viewer.encode_video_frames(frames, count=count)
    finally:
        close = getattr(frames, "close", None)
        if close is not None:
            close()  # stop ffmpeg early
    size_mb = sum(len(frame) for frame in encoded) / 1e6
    if size_mb > VIEWER_VIDEO_WARN_MB:
        logger.warning(
            "viewer.html embeds %.0f MB of video frames (%d frames): browsers may open it "
            "slowly; leave out --viewer-video for long videos",
            size_mb, len(encoded),
        )  # fmt: skip
    return encoded
