"""Our BlazePose-33 JSON (``blazepose``), as written by the MediaPipe detector's users.

``{"frames": [[[x, y, visibility] × 33] | null, ...], "image_size": [w, h], "fps": f,
"coordinates": "pixels" | "normalized"}`` or a bare frames list; a ``.npy`` of (F, 33, 2|3) is
read by `ssrstf.keypoints.npy`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ssrstf.keypoints.keypoints2d import KeypointFormatError, Keypoints2D
from ssrstf.keypoints.parsing import check_size_value, clean
from ssrstf.skeleton import BLAZEPOSE_33


def read_blazepose_json(
    path: Path, data: Any, image_size: tuple[int, int] | None = None
) -> Keypoints2D:
    """Our BlazePose-33 JSON: frames of 33 × [x, y, visibility] (or [x, y]), null = no person.

    ``image_size`` (width, height), the user's ``--image-size``, wins over the file's
    ``image_size``: ``"normalized"`` coordinates are scaled to pixels with it, and it is the
    size reported; the file's own size (checked all the same) is used only without it.
    """
    meta = data if isinstance(data, dict) else {}
    frames = meta.get("frames") if isinstance(data, dict) else data
    if not isinstance(frames, list):
        raise KeypointFormatError(f"{path}: not a BlazePose file (no list of frames)")
    if not frames:
        raise KeypointFormatError(f"{path}: no frames")
    joints = BLAZEPOSE_33.num_joints
    keypoints = np.zeros((len(frames), joints, 3))
    for i, frame in enumerate(frames):
        if frame is None:
            continue
        try:
            values = np.asarray(frame, dtype=np.float64)
        except (TypeError, ValueError):
            raise KeypointFormatError(f"{path}: frame {i} is not a list of numbers") from None
        if values.shape not in ((joints, 3), (joints, 2)):
            raise KeypointFormatError(
                f"{path}: frame {i}: expected {joints} landmarks of [x, y(, visibility)], "
                f"got shape {values.shape}"
            )
        if values.shape[1] == 2:
            values = np.concatenate([values, np.ones((joints, 1))], axis=1)
        keypoints[i] = clean(path, values, f"frame {i}")
    size = meta.get("image_size")
    if size is not None:
        check_size_value(path, size)
        size = (size[0], size[1])
    if image_size is not None:
        check_size_value(path, image_size)
        size = (image_size[0], image_size[1])
    units = meta.get("coordinates", "pixels")
    if units == "normalized":
        if size is None:
            raise KeypointFormatError(
                f"{path}: normalized coordinates need an image_size (in the file or --image-size)"
            )
        keypoints[..., :2] *= size
    elif units != "pixels":
        raise KeypointFormatError(
            f"{path}: coordinates must be 'pixels' or 'normalized', got {units!r}"
        )
    fps = meta.get("fps")
    if fps is not None and not (isinstance(fps, (int, float)) and fps > 0):
        raise KeypointFormatError(f"{path}: fps must be a positive number, got {fps!r}")
    return Keypoints2D.from_detections(
        keypoints,
        BLAZEPOSE_33,
        source="blazepose json",
        image_size=size,
        fps=None if fps is None else float(fps),
    )
