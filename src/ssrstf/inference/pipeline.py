"""From an input (video, keypoint file or array) to 3D poses and output files.

The steps, each a function so the CLI (`ssrstf infer`, `ssrstf demo`) and the Python API
(`lift`) share them:

1. `load_keypoints`: a video goes through the offline detector (extra ``video``), a keypoint
   file through `ssrstf.inference.readers.read_keypoints`.
2. `prepare_keypoints`: convert to H36M-17 (`to_h36m`), fill missing joints and frames by
   interpolation (`fill_missing`, confidence 0, reported in ``filled`` and ``valid``), and check
   the image size against the keypoints.
3. `Lifter.lift`: windowed lifting with flip test-time augmentation; then (`place_in_scene`)
   the root's camera-space trajectory (`ssrstf.inference.trajectory`), the floor, foot contacts
   and the Y-up world frame (`ssrstf.inference.world`), optionally a rigid skeleton and the
   smoothness and rigidity figures (`ssrstf.inference.rigid`).
4. `write_outputs`: ``poses_3d.npz``, ``poses_3d.json``, ``poses_3d.bvh``, ``poses_3d.glb``,
   ``viewer.html`` and, on request, ``render.mp4``; every file written atomically, none
   overwritten without ``overwrite``.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ssrstf.inference.lifter import Lifter
from ssrstf.inference.readers import (
    Keypoints2D,
    check_image_size,
    clean_keypoints,
    fill_missing,
    read_keypoints,
    resolve_skeleton,
    to_h36m,
)
from ssrstf.inference.rigid import MotionStatistics, make_rigid, motion_statistics
from ssrstf.inference.trajectory import (
    DEFAULT_SMOOTHING,
    CameraIntrinsics,
    resolve_intrinsics,
    solve_root_translation,
)
from ssrstf.inference.world import Floor, WorldFrame, ground

OUTPUT_FILES = {
    "npz": "poses_3d.npz",
    "json": "poses_3d.json",
    "bvh": "poses_3d.bvh",
    "glb": "poses_3d.glb",
    "viewer": "viewer.html",
    "render": "render.mp4",
}
"""File names written into the output folder."""


@dataclass(frozen=True)
class InferenceResult:
    """3D poses lifted from one input.

    Attributes:
        poses_3d: (F, 17, 3) mm, root-relative, camera axes (x right, y down, z forward),
            H36M-17 order.
        keypoints: The H36M-17 2D input after filling (pixels, confidence; filled joints have
            confidence 0), with ``valid`` (F,) = a person was detected in the frame.
        filled: (F, 17) bool, joints that were interpolated rather than detected.
        seconds: Wall time of each stage (``detect``, ``lift``).
        trajectory: (F, 3) camera-space position of the root (pelvis) in mm, so that
            ``poses_3d + trajectory[:, None]`` are the absolute camera-space poses; None when
            not computed.
        floor: The floor under the person and the per-frame foot contacts (`Floor`), or None.
        world: The Y-up world frame on that floor (`WorldFrame`: ``to_world``, ``matrix``), or
            None.
        intrinsics: The camera the trajectory assumes, or None.
        statistics: Smoothness and rigidity of ``poses_3d`` (`MotionStatistics`), or None.
        rigid: ``poses_3d`` have one set of bone lengths for the whole clip (`make_rigid`).
    """

    poses_3d: np.ndarray
    keypoints: Keypoints2D
    filled: np.ndarray
    seconds: dict[str, float] = field(default_factory=dict)
    trajectory: np.ndarray | None = None
    floor: Floor | None = None
    world: WorldFrame | None = None
    intrinsics: CameraIntrinsics | None = None
    statistics: MotionStatistics | None = None
    rigid: bool = False

    @property
    def world_from_camera(self) -> np.ndarray | None:
        """(4, 4) rigid camera → world transform in mm (`WorldFrame.matrix`), or None."""
        return None if self.world is None else self.world.matrix

    @property
    def foot_contacts(self) -> np.ndarray | None:
        """(F, 2) bool, (right, left) ankle on the floor (`Floor.contacts`), or None."""
        return None if self.floor is None else self.floor.contacts

    def poses_world(self) -> np.ndarray | None:
        """(F, 17, 3) absolute poses in the world frame, mm (Y up, floor at 0), or None."""
        if self.world is None or self.trajectory is None:
            return None
        return self.world.to_world(self.poses_3d + self.trajectory[:, None])

    @property
    def valid(self) -> np.ndarray:
        """(F,) bool: frames in which a person was detected."""
        return self.keypoints.valid

    @property
    def num_frames(self) -> int:
        """Number of frames F."""
        return len(self.poses_3d)


def load_keypoints(
    source: str | Path,
    fmt: str = "auto",
    *,
    image_size: tuple[int, int] | None = None,
    skeleton_name: str | None = None,
    fps: float | None = None,
    progress: bool = True,
    quiet: bool = True,
    seconds: dict[str, float] | None = None,
) -> Keypoints2D:
    """Read 2D keypoints from a video (running the detector) or a keypoint file.

    Args:
        source: A video (by extension, or ``fmt="video"``), a keypoint file or an OpenPose folder.
        fmt: ``auto``, ``video`` or a keypoint format of `ssrstf.inference.readers.FORMATS`.
        image_size: (width, height) for keypoint files that do not record it.
        skeleton_name: Joint order of a numpy array file.
        fps: Frame rate, overriding the file's.
        progress: Show the detector's progress bar.
        quiet: Keep the detector's native log lines (MediaPipe, TFLite) off standard error.
        seconds: For a video, gets ``detect``: the seconds spent inside the detector
            (`ssrstf.inference.video.DetectionTiming`, decoding not included).
    """
    from ssrstf.inference import video

    path = Path(source)
    if fmt == "video" or (fmt == "auto" and video.is_video(path)):
        kp, timing = video.detect_keypoints_timed(path, progress=progress, quiet=quiet)
        if seconds is not None:
            seconds["detect"] = timing.detect_s
        if fps is not None:
            kp = dataclasses.replace(kp, fps=fps)
        return kp
    return read_keypoints(path, fmt, skeleton_name=skeleton_name, image_size=image_size, fps=fps)


def prepare_keypoints(
    kp: Keypoints2D, image_size: tuple[int, int] | None = None
) -> tuple[Keypoints2D, np.ndarray]:
    """H36M-17 keypoints with every gap filled, and the (F, 17) mask of filled joints.

    Raises:
        ValueError: If the image size is unknown, does not fit the keypoints, or a joint is never
            detected.
    """
    size = image_size or kp.image_size
    if size is None:
        raise ValueError(
            f"{kp.source}: the image size is unknown; pass it (--image-size WIDTHxHEIGHT)"
        )
    h36m = to_h36m(kp)
    filled = ~(h36m.valid[:, None] & (h36m.keypoints[..., 2] > 0))
    h36m = fill_missing(h36m)
    check_image_size(h36m, size)
    return dataclasses.replace(h36m, image_size=size), filled


def lift_keypoints(
    kp: Keypoints2D,
    lifter: Lifter,
    *,
    progress: bool = False,
    intrinsics: CameraIntrinsics | None = None,
    focal_length: float | None = None,
    fov: float | None = None,
    rigid: bool = False,
) -> InferenceResult:
    """Prepare ``kp`` (any skeleton), lift it with ``lifter`` and place it in the scene.

    Args:
        kp: The 2D keypoints.
        lifter: The loaded model.
        progress: Show the lifting progress bar.
        intrinsics: The camera; default from ``focal_length`` (pixels) or ``fov`` (degrees
            across the image's larger side), else `resolve_intrinsics`'s default.
        focal_length: See ``intrinsics``.
        fov: See ``intrinsics``.
        rigid: Rebuild the poses with one set of bone lengths (`make_rigid`).
    """
    h36m, filled = prepare_keypoints(kp)
    assert h36m.image_size is not None
    if intrinsics is None:
        intrinsics = resolve_intrinsics(h36m.image_size, focal_length=focal_length, fov=fov)
    start = time.perf_counter()
    poses = lifter.lift(h36m.keypoints, h36m.image_size, progress=progress)
    lift_s = time.perf_counter() - start
    start = time.perf_counter()
    # From the poses as lifted: their per-frame proportions match the 2D better than a rigid
    # skeleton's (measured on Human3.6M, docs/design.md); make_rigid keeps the root in place.
    trajectory, floor, world = place_in_scene(poses, h36m, intrinsics)
    if rigid:
        poses = make_rigid(poses)
    return InferenceResult(
        poses_3d=poses,
        keypoints=h36m,
        filled=filled,
        seconds={"lift": lift_s, "scene": time.perf_counter() - start},
        trajectory=trajectory,
        floor=floor,
        world=world,
        intrinsics=intrinsics,
        statistics=motion_statistics(poses, trajectory=trajectory),
        rigid=rigid,
    )


def place_in_scene(
    poses_3d: np.ndarray,
    keypoints: Keypoints2D,
    intrinsics: CameraIntrinsics,
    *,
    smoothing: float = DEFAULT_SMOOTHING,
) -> tuple[np.ndarray, Floor, WorldFrame]:
    """The root trajectory, the floor (with foot contacts) and the world frame of a clip.

    Args:
        poses_3d: (F, 17, 3) root-relative lifted poses, mm, camera axes.
        keypoints: The H36M-17 2D keypoints they were lifted from (confidences weight the
            trajectory fit; filled joints have confidence 0).
        intrinsics: The camera.
        smoothing: The trajectory's smoothness weight (`solve_root_translation`).

    Returns:
        ``(trajectory (F, 3) mm, floor, world frame)``.
    """
    fps = keypoints.fps or 30.0
    trajectory = solve_root_translation(
        keypoints.keypoints, poses_3d, intrinsics, fps=fps, smoothing=smoothing
    )
    floor, world = ground(poses_3d + trajectory[:, None], fps, skeleton=keypoints.skeleton)
    return trajectory, floor, world


def output_paths(out_dir: str | Path, *, render: bool) -> dict[str, Path]:
    """The files an inference run writes into ``out_dir``."""
    names = {k: v for k, v in OUTPUT_FILES.items() if render or k != "render"}
    return {k: Path(out_dir) / v for k, v in names.items()}


def check_outputs(out_dir: str | Path, *, render: bool, overwrite: bool) -> dict[str, Path]:
    """Output paths, after refusing up front (before any work) to replace existing files."""
    return refuse_existing(output_paths(out_dir, render=render), overwrite=overwrite)


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
    ``animation_rigid``, ``animation_frame``, ``animation_axes``: `export.animation_extras`),
    and the JSON says which they are (top-level ``animation``).
    """
    from ssrstf.inference import export, gltf, viewer

    if frame not in ("world", "camera"):
        raise ValueError(f"frame must be 'world' or 'camera', got {frame!r}")
    paths = check_outputs(out_dir, render=render, overwrite=overwrite)
    kp = result.keypoints
    names = list(kp.skeleton.joint_names)
    fps = kp.fps
    trajectory = result.trajectory
    world = result.world_from_camera
    animation_world = world if frame == "world" else None  # no world frame: the camera's
    rebuilt = rigid_animation and not result.rigid
    animation = make_rigid(result.poses_3d, kp.skeleton) if rebuilt else result.poses_3d
    carried = export.animation_extras(
        gltf.animation_positions_mm(animation, trajectory, animation_world),
        frame="world" if animation_world is not None else "camera", skeleton=kp.skeleton,
    )  # fmt: skip
    export.write_npz(
        paths["npz"], result.poses_3d, kp.keypoints, kp.valid, fps, names,
        extras={**_npz_extras(result), **carried}, overwrite=overwrite,
    )  # fmt: skip
    frame_extras, extras = _json_extras(result)
    extras["animation"] = _animation_description(carried, rebuilt=rebuilt, result=result)
    export.write_json(
        paths["json"], result.poses_3d, kp.keypoints, kp.valid, fps, names,
        frame_extras=frame_extras, extras=extras, overwrite=overwrite,
    )  # fmt: skip
    absolute = animation if trajectory is None else animation + trajectory[:, None]
    export.write_bvh(
        paths["bvh"], absolute, fps or 30.0, world_from_camera=animation_world,
        overwrite=overwrite,
    )  # fmt: skip
    gltf.write_glb(
        paths["glb"], animation, fps or 30.0, trajectory_mm=trajectory,
        world_from_camera=animation_world, overwrite=overwrite,
    )  # fmt: skip
    person = viewer.ViewerPerson("person", result.poses_3d, trajectory, valid=kp.valid)
    video_frames = None
    if viewer_video and frames_from is not None:
        video_frames = _viewer_frames(frames_from, kp.image_size, result.num_frames)
    viewer.write_viewer(
        paths["viewer"], [person], fps, world_from_camera=world, video_frames=video_frames,
        title=f"ssrstf: {kp.source}", overwrite=overwrite,
    )  # fmt: skip
    if render:
        from ssrstf.inference import render as rendering

        shown, path = _render_poses(result)
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


def _render_poses(result: InferenceResult) -> tuple[np.ndarray, np.ndarray | None]:
    """The poses the rendering shows and the root path: absolute and upright (world frame, in
    the camera-like axes ``(X, −Y, −Z)`` the renderer takes) when known, else root-relative."""
    from ssrstf.inference.export import CAMERA_TO_BVH

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
    """Per-frame entries and top-level descriptions for `export.write_json`."""
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
    ``animation_*`` entries, `export.animation_extras`, hold them)."""
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


def _viewer_frames(
    video_path: str | Path, image_size: tuple[int, int] | None, count: int
) -> list[str]:
    """The first ``count`` frames of the input video as JPEG data URIs for the viewer page."""
    from ssrstf.inference.video import iter_frames
    from ssrstf.inference.viewer import VIDEO_FRAME_HEIGHT, encode_video_frames

    size = None
    if image_size is not None:  # let ffmpeg scale while decoding
        width = max(2, 2 * round(image_size[0] * VIDEO_FRAME_HEIGHT / image_size[1] / 2))
        size = (width, VIDEO_FRAME_HEIGHT)
    frames = iter_frames(video_path, size=size)
    try:
        return encode_video_frames(frames, count=count)
    finally:
        close = getattr(frames, "close", None)
        if close is not None:
            close()  # stop ffmpeg early


@functools.lru_cache(maxsize=4)
def _cached_lifter(checkpoint: str, device: str, flip: bool, backend: str | None) -> Lifter:
    return Lifter(checkpoint, device=device, flip=flip, backend=backend)


def lift(
    source: np.ndarray | str | Path,
    image_size: tuple[int, int] | None = None,
    *,
    checkpoint: str | Path = "default",
    skeleton: str = "h36m",
    fmt: str = "auto",
    flip: bool = True,
    device: str = "cpu",
    backend: str | None = None,
) -> np.ndarray:
    """Lift 2D keypoints, a keypoint file or a video to 3D poses: (F, 17, 3) mm.

    The poses are root-relative (pelvis at the origin) in camera axes (x right, y down, z away
    from the camera), in H36M-17 joint order (`ssrstf.skeleton.H36M_17`). One person: a file
    with several people per frame gives the best-scored one of each frame; track and lift
    everyone with `ssrstf.inference.people` (`load_people`, `lift_people`) or ``ssrstf infer``.

    Args:
        source: An array (F, J, 2|3) of pixel coordinates (and confidences) in the joint order
            ``skeleton``; or the path of a video or a keypoint file (see `load_keypoints`).
        image_size: (width, height) of the images; needed for arrays and for keypoint files that
            do not record it.
        checkpoint: ``"default"`` (the packaged model), a checkpoint path or an exported
            ``.onnx`` file.
        skeleton: Joint order of an array ``source`` (``h36m``, ``coco``, ``halpe``,
            ``blazepose``, ``openpose``, ...).
        fmt: Format of a path ``source`` (``auto`` detects it).
        flip: Flip test-time augmentation.
        device: ``"cpu"`` or ``"cuda"``.
        backend: ``"torch"`` or ``"onnxruntime"`` (extra ``onnx``); None: torch, or
            onnxruntime for an ``.onnx`` checkpoint.

    Example::

        poses = ssrstf.lift(keypoints_coco, (1920, 1080), skeleton="coco")
        poses = ssrstf.lift("walk.mp4")  # needs pip install 'ssrstf[video]'
    """
    if isinstance(source, str | Path):
        kp = load_keypoints(source, fmt, image_size=image_size, progress=False)
    else:
        kp = _array_keypoints(np.asarray(source, dtype=np.float64), skeleton, image_size)
    lifter = _cached_lifter(str(checkpoint), device, flip, backend)
    return lift_keypoints(kp, lifter).poses_3d


def _array_keypoints(
    array: np.ndarray, skeleton: str, image_size: tuple[int, int] | None
) -> Keypoints2D:
    """Wrap a user array as `Keypoints2D`.

    Without a confidence channel every joint gets confidence 1, and a joint with NaN coordinates
    is missing. With one, confidence 0 (or NaN) marks a missing joint; NaN coordinates with a
    positive confidence are an error, as in keypoint files.
    """
    joints = resolve_skeleton(skeleton)
    if array.ndim != 3 or array.shape[1] != joints.num_joints or array.shape[2] not in (2, 3):
        raise ValueError(
            f"keypoints must have shape (frames, {joints.num_joints}, 2 or 3) for skeleton "
            f"{skeleton!r}, got {array.shape}"
        )
    if len(array) == 0:
        raise ValueError("keypoints have 0 frames")
    if array.shape[2] == 2:
        confidence = np.isfinite(array).all(-1, keepdims=True).astype(np.float64)
        array = np.concatenate([array, confidence], axis=-1)
    array = clean_keypoints(array, "keypoints")
    return Keypoints2D.from_detections(
        array, joints, source="keypoint array", image_size=image_size
    )
