"""Any input as `Keypoints2D`: a video (through the detector), a keypoint file, or an array.

`load_keypoints` runs the offline detector on a video (extra ``video``, `ssrstf.keypoints.video`)
or reads a keypoint file (`ssrstf.keypoints.readers.read_keypoints`); `array_keypoints` wraps a
user's array (``ssrstf.lift(array, ...)``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from ssrstf.keypoints.keypoints2d import Keypoints2D, clean_keypoints, resolve_skeleton
from ssrstf.keypoints.readers import read_keypoints


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
        fmt: ``auto``, ``video`` or a keypoint format of `ssrstf.keypoints.readers.FORMATS`.
        image_size: (width, height) of the keypoints' image: needed for files that do not
            record it, and it wins over a recorded one (ignored for videos).
        skeleton_name: Joint order of a numpy array file.
        fps: Frame rate, overriding the file's.
        progress: Show the detector's progress bar.
        quiet: Keep the detector's native log lines (MediaPipe, TFLite) off standard error.
        seconds: For a video, gets ``detect``: the seconds spent inside the detector
            (`ssrstf.keypoints.video.DetectionTiming`, decoding not included).
    """
    from ssrstf.keypoints import video

    path = Path(source)
    if fmt == "video" or (fmt == "auto" and video.is_video(path)):
        kp, timing = video.detect_keypoints_timed(path, progress=progress, quiet=quiet)
        if seconds is not None:
            seconds["detect"] = timing.detect_s
        if fps is not None:
            kp = dataclasses.replace(kp, fps=fps)
        return kp
    return read_keypoints(path, fmt, skeleton_name=skeleton_name, image_size=image_size, fps=fps)


def array_keypoints(
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
