"""From an input (video, keypoint file or array) to 3D poses and output files.

The steps, each a function so the CLI (`ssrstf infer`, `ssrstf demo`) and the Python API
(`lift`) share them:

1. `load_keypoints`: a video goes through the offline detector (extra ``video``), a keypoint
   file through `ssrstf.inference.readers.read_keypoints`.
2. `prepare_keypoints`: convert to H36M-17 (`to_h36m`), fill missing joints and frames by
   interpolation (`fill_missing`, confidence 0, reported in ``filled`` and ``valid``), and check
   the image size against the keypoints.
3. `Lifter.lift`: windowed lifting with flip test-time augmentation.
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
    """

    poses_3d: np.ndarray
    keypoints: Keypoints2D
    filled: np.ndarray
    seconds: dict[str, float] = field(default_factory=dict)

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
) -> Keypoints2D:
    """Read 2D keypoints from a video (running the detector) or a keypoint file.

    Args:
        source: A video (by extension, or ``fmt="video"``), a keypoint file or an OpenPose folder.
        fmt: ``auto``, ``video`` or a keypoint format of `ssrstf.inference.readers.FORMATS`.
        image_size: (width, height) for keypoint files that do not record it.
        skeleton_name: Joint order of a numpy array file.
        fps: Frame rate, overriding the file's.
        progress: Show the detector's progress bar.
    """
    from ssrstf.inference import video

    path = Path(source)
    if fmt == "video" or (fmt == "auto" and video.is_video(path)):
        kp = video.detect_keypoints(path, progress=progress)
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


def lift_keypoints(kp: Keypoints2D, lifter: Lifter, *, progress: bool = False) -> InferenceResult:
    """Prepare ``kp`` (any skeleton) and lift it with ``lifter``."""
    h36m, filled = prepare_keypoints(kp)
    assert h36m.image_size is not None
    start = time.perf_counter()
    poses = lifter.lift(h36m.keypoints, h36m.image_size, progress=progress)
    return InferenceResult(
        poses_3d=poses,
        keypoints=h36m,
        filled=filled,
        seconds={"lift": time.perf_counter() - start},
    )


def output_paths(out_dir: str | Path, *, render: bool) -> dict[str, Path]:
    """The files an inference run writes into ``out_dir``."""
    names = {k: v for k, v in OUTPUT_FILES.items() if render or k != "render"}
    return {k: Path(out_dir) / v for k, v in names.items()}


def check_outputs(out_dir: str | Path, *, render: bool, overwrite: bool) -> dict[str, Path]:
    """Output paths, after refusing up front (before any work) to replace existing files."""
    paths = output_paths(out_dir, render=render)
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
    """
    from ssrstf.inference import export, gltf, viewer

    paths = check_outputs(out_dir, render=render, overwrite=overwrite)
    kp = result.keypoints
    names = list(kp.skeleton.joint_names)
    fps = kp.fps
    export.write_npz(
        paths["npz"], result.poses_3d, kp.keypoints, kp.valid, fps, names, overwrite=overwrite
    )
    export.write_json(
        paths["json"], result.poses_3d, kp.keypoints, kp.valid, fps, names, overwrite=overwrite
    )
    export.write_bvh(paths["bvh"], result.poses_3d, fps or 30.0, overwrite=overwrite)
    # Root motion and the world frame come from the trajectory/floor steps when they ran.
    trajectory = getattr(result, "trajectory", None)
    world = getattr(result, "world_from_camera", None)
    gltf.write_glb(
        paths["glb"], result.poses_3d, fps or 30.0, trajectory_mm=trajectory,
        world_from_camera=world, overwrite=overwrite,
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

        rendering.render_video(
            paths["render"],
            result.poses_3d,
            kp.keypoints,
            fps=fps or 30.0,
            image_size=kp.image_size,
            frames=frames_from,
            valid=kp.valid,
            overwrite=overwrite,
            progress=progress,
        )
    return paths


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
def _cached_lifter(checkpoint: str, device: str, flip: bool) -> Lifter:
    return Lifter(checkpoint, device=device, flip=flip)


def lift(
    source: np.ndarray | str | Path,
    image_size: tuple[int, int] | None = None,
    *,
    checkpoint: str | Path = "default",
    skeleton: str = "h36m",
    fmt: str = "auto",
    flip: bool = True,
    device: str = "cpu",
) -> np.ndarray:
    """Lift 2D keypoints, a keypoint file or a video to 3D poses: (F, 17, 3) mm.

    The poses are root-relative (pelvis at the origin) in camera axes (x right, y down, z away
    from the camera), in H36M-17 joint order (`ssrstf.skeleton.H36M_17`).

    Args:
        source: An array (F, J, 2|3) of pixel coordinates (and confidences) in the joint order
            ``skeleton``; or the path of a video or a keypoint file (see `load_keypoints`).
        image_size: (width, height) of the images; needed for arrays and for keypoint files that
            do not record it.
        checkpoint: ``"default"`` (the packaged model) or a checkpoint path.
        skeleton: Joint order of an array ``source`` (``h36m``, ``coco``, ``halpe``,
            ``blazepose``, ``openpose``, ...).
        fmt: Format of a path ``source`` (``auto`` detects it).
        flip: Flip test-time augmentation.
        device: ``"cpu"`` or ``"cuda"``.

    Example::

        poses = ssrstf.lift(keypoints_coco, (1920, 1080), skeleton="coco")
        poses = ssrstf.lift("walk.mp4")  # needs pip install 'ssrstf[video]'
    """
    if isinstance(source, str | Path):
        kp = load_keypoints(source, fmt, image_size=image_size, progress=False)
    else:
        kp = _array_keypoints(np.asarray(source, dtype=np.float64), skeleton, image_size)
    lifter = _cached_lifter(str(checkpoint), device, flip)
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
