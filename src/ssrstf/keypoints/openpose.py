"""OpenPose output (``openpose``): a folder of per-frame ``*_keypoints.json`` files, or one file.

BODY_25 ``pose_keypoints_2d[75]`` per person; one frame per file in natural file-name order.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ssrstf.keypoints.keypoints2d import KeypointFormatError, Keypoints2D
from ssrstf.keypoints.parsing import load_json, natural_key, person_array
from ssrstf.skeleton import OPENPOSE_BODY_25


def openpose_people(
    path: Path,
) -> tuple[tuple[str, ...], tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
    """OpenPose BODY_25 per-frame files: (file names, people, mean confidences) per frame."""
    if path.is_dir():
        files = sorted(path.glob("*_keypoints.json")) or sorted(path.glob("*.json"))
        if not files:
            raise KeypointFormatError(f"{path}: no OpenPose *_keypoints.json files in the folder")
        files.sort(key=lambda f: natural_key(f.name))
    else:
        files = [path]
    people, scores = [], []
    for file in files:
        data = load_json(file)
        if not isinstance(data, dict) or not isinstance(data.get("people"), list):
            raise KeypointFormatError(f"{file}: not an OpenPose frame (no 'people' list)")
        frame = [
            person_array(file, p.get("pose_keypoints_2d") if isinstance(p, dict) else p,
                          OPENPOSE_BODY_25, f"person {i} pose_keypoints_2d")
            for i, p in enumerate(data["people"])
        ]  # fmt: skip
        joints = OPENPOSE_BODY_25.num_joints
        people.append(np.stack(frame) if frame else np.zeros((0, joints, 3)))
        scores.append(people[-1][:, :, 2].mean(-1))
    return tuple(f.name for f in files), tuple(people), tuple(scores)


def read_openpose(path: Path) -> Keypoints2D:
    """OpenPose BODY_25 per-frame files: the person with the highest mean confidence."""
    names, people, scores = openpose_people(path)
    empty = np.zeros((OPENPOSE_BODY_25.num_joints, 3))
    keypoints = np.stack(
        [p[np.argmax(c)] if len(p) else empty for p, c in zip(people, scores, strict=True)]
    )
    return Keypoints2D.from_detections(
        keypoints,
        OPENPOSE_BODY_25,
        source="openpose " + ("folder" if path.is_dir() else "file"),
        frame_ids=names,
    )
