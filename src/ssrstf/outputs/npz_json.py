"""Writers for lifted poses: JSON and NPZ (``poses_3d.json``, ``poses_3d.npz``).

Every writer writes atomically (a temporary file in the target folder, then `os.replace`) and
refuses to replace an existing file unless ``overwrite=True``. Layouts are documented in
docs/data-format.md ("Inference inputs and outputs"); the BVH writer is `ssrstf.outputs.bvh`.

Coordinates: ``poses_3d`` are millimetres in **camera axes** (x right, y down, z forward, away
from the camera), usually root-relative. ``animation_extras`` describes the poses the animation
files (BVH, GLB) carry, in their Y-up frame.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

import numpy as np

from ssrstf.files import atomic_write
from ssrstf.geometry import check_fps
from ssrstf.outputs.rig import RIGID_TOLERANCE_MM, bone_directions
from ssrstf.skeleton import H36M_17, Skeleton

_AXES = "camera: x right, y down, z forward (away from the camera), root-relative"


# ------------------------------------------------------------------------------ atomic writing


_JSON_BLOCK = 1000
"""Frames per write of `write_json`."""


def _atomic_write(path: str | Path, overwrite: bool, write: Callable[[IO[bytes]], None]) -> Path:
    """Call ``write`` on a temporary file next to ``path`` and move it into place."""

    def write_file(temp: Path) -> None:
        with temp.open("wb") as handle:
            write(handle)

    return atomic_write(path, write_file, overwrite=overwrite)


def _check_results(
    poses_3d: np.ndarray,
    poses_2d: np.ndarray | None,
    valid: np.ndarray,
    fps: float | None,
    joint_names: Sequence[str],
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    poses_3d = np.asarray(poses_3d, dtype=np.float64)
    frames, joints = poses_3d.shape[:2] if poses_3d.ndim == 3 else (0, 0)
    if poses_3d.ndim != 3 or poses_3d.shape[-1] != 3:
        raise ValueError(f"poses_3d must be (F, J, 3), got {poses_3d.shape}")
    if not np.isfinite(poses_3d).all():
        raise ValueError("poses_3d contains NaN or inf")
    if len(joint_names) != joints:
        raise ValueError(f"{len(joint_names)} joint names for {joints} joints")
    if poses_2d is not None:
        poses_2d = np.asarray(poses_2d, dtype=np.float64)
        if poses_2d.shape[:2] != (frames, joints) or poses_2d.shape[-1] not in (2, 3):
            raise ValueError(f"poses_2d must be ({frames}, {joints}, 2|3), got {poses_2d.shape}")
        if not np.isfinite(poses_2d).all():
            raise ValueError("poses_2d contains NaN or inf")
    valid = np.asarray(valid, dtype=bool)
    if valid.shape != (frames,):
        raise ValueError(f"valid must be ({frames},), got {valid.shape}")
    check_fps(fps, optional=True)
    return poses_3d, poses_2d, valid


def _check_extras(extras: Mapping[str, np.ndarray] | None, frames: int) -> dict[str, np.ndarray]:
    out = {}
    for name, value in (extras or {}).items():
        value = np.asarray(value)
        if len(value) != frames or not (value.dtype == bool or np.isfinite(value).all()):
            raise ValueError(f"per-frame {name!r} must be {frames} finite rows, got {value.shape}")
        out[name] = value if value.dtype == bool else value.astype(np.float64)
    return out


def write_json(
    path: str | Path,
    poses_3d: np.ndarray,
    poses_2d: np.ndarray | None,
    valid: np.ndarray,
    fps: float | None,
    joint_names: Sequence[str],
    *,
    frame_extras: Mapping[str, np.ndarray] | None = None,
    extras: Mapping[str, object] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write poses as a JSON object with one entry per frame.

    Layout: ``{"format": "ssrstf-poses", "format_version": 1, "joint_names": [...],
    "num_frames": F, "fps": f | null, "poses_3d": {"units": "mm", "axes": ...}, "poses_2d":
    {"units": "pixels", "channels": "x, y, confidence"} | null, "frames": [{"index": i,
    "valid": bool, "pose_3d": [[x, y, z] × J], "pose_2d": [[x, y, c] × J]}]}``. Values are
    rounded to 3 decimals (µm, 0.001 px).

    Args:
        path: Output file.
        poses_3d: (F, J, 3) millimetres, camera axes, root-relative.
        poses_2d: (F, J, 2|3) input keypoints in pixels, or None.
        valid: (F,) bool, a person was detected in the frame.
        fps: Frame rate, or None when unknown.
        joint_names: J names.
        frame_extras: More per-frame entries: name → (F, ...) array, stored in every frame
            under that name (floats rounded to 3 decimals), e.g. ``trajectory`` (F, 3) and
            ``foot_contact`` (F, 2) bool (`ssrstf.outputs.folder.write_outputs`).
        extras: More top-level entries (plain JSON data), e.g. ``trajectory``, ``world``,
            ``statistics`` descriptions.
        overwrite: Replace an existing file.

    Returns:
        The path written.
    """
    poses_3d, poses_2d, valid = _check_results(poses_3d, poses_2d, valid, fps, joint_names)
    per_frame = _check_extras(frame_extras, len(poses_3d))

    def frame_text(i: int) -> str:
        frame = {"index": i, "valid": bool(valid[i]), "pose_3d": poses_3d[i].round(3).tolist()}
        if poses_2d is not None:
            frame["pose_2d"] = poses_2d[i].round(3).tolist()
        for name, values in per_frame.items():
            value = values[i]
            frame[name] = value.tolist() if value.dtype == bool else value.round(3).tolist()
        return json.dumps(frame, allow_nan=False, separators=(",", ":"))

    channels = "x, y, confidence" if poses_2d is not None and poses_2d.shape[-1] == 3 else "x, y"
    standard = ("format", "format_version", "joint_names", "num_frames", "fps", "poses_3d",
                "poses_2d", "frames")  # fmt: skip
    clashes = sorted(set(extras or {}) & set(standard))
    if clashes:
        raise ValueError(f"JSON extra(s) {', '.join(map(repr, clashes))} clash with standard keys")
    document = {
        "format": "ssrstf-poses",
        "format_version": 1,
        "joint_names": list(joint_names),
        "num_frames": len(poses_3d),
        "fps": None if fps is None else float(fps),
        "poses_3d": {"units": "mm", "axes": _AXES},
        "poses_2d": None if poses_2d is None else {"units": "pixels", "channels": channels},
        **dict(extras or {}),
        "frames": [],
    }
    head = json.dumps(document, allow_nan=False, separators=(",", ":"))
    assert head.endswith('"frames":[]}')  # "frames" is the last key: the frames go in between

    def write(handle: IO[bytes]) -> None:
        # Frame by frame, in blocks: the text of a 100,000-frame clip is never in memory at once
        # (the same bytes as one json.dumps of the whole document).
        handle.write(head[:-2].encode("utf-8"))
        for start in range(0, len(poses_3d), _JSON_BLOCK):
            stop = min(start + _JSON_BLOCK, len(poses_3d))
            block = ",".join(frame_text(i) for i in range(start, stop))
            handle.write((("," if start else "") + block).encode("utf-8"))
        handle.write(b"]}")

    return _atomic_write(path, overwrite, write)


def write_npz(
    path: str | Path,
    poses_3d: np.ndarray,
    poses_2d: np.ndarray | None,
    valid: np.ndarray,
    fps: float | None,
    joint_names: Sequence[str],
    *,
    extras: Mapping[str, np.ndarray] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write poses as an uncompressed ``.npz`` (readable with ``allow_pickle=False``).

    Keys: ``poses_3d`` (F, J, 3) float64 mm (camera axes, root-relative), ``poses_2d``
    (F, J, 2|3) float64 pixels (absent when None), ``valid`` (F,) bool, ``fps`` float64 scalar
    (NaN when unknown), ``joint_names`` (J,) str, ``units`` ``"mm"``, ``axes`` (a description),
    ``format_version`` 1; plus ``extras`` (name → array, not object arrays, no clash with these
    keys; e.g. ``trajectory`` (F, 3), ``foot_contact`` (F, 2), the world frame). Other arguments
    as in `write_json`.

    Returns:
        The path written.
    """
    poses_3d, poses_2d, valid = _check_results(poses_3d, poses_2d, valid, fps, joint_names)
    arrays = {
        "poses_3d": poses_3d,
        "valid": valid,
        "fps": np.float64(np.nan if fps is None else fps),
        "joint_names": np.array(list(joint_names), dtype=str),
        "units": np.array("mm"),
        "axes": np.array(_AXES),
        "format_version": np.int64(1),
    }
    if poses_2d is not None:
        arrays["poses_2d"] = poses_2d
    for name, value in (extras or {}).items():
        value = np.asarray(value)
        if name in arrays or name == "file" or value.dtype == object:  # file: savez's argument
            raise ValueError(f"npz extra {name!r} clashes with a standard key or is not numeric")
        arrays[name] = value
    return _atomic_write(path, overwrite, lambda f: np.savez(f, **arrays))


ANIMATION_FRAMES = ("world", "camera")
"""Frames of the animation files: the Y-up world on the floor, or the camera's ``(x, −y, −z)``."""


def animation_extras(
    points_mm: np.ndarray, *, frame: str, skeleton: Skeleton = H36M_17
) -> dict[str, np.ndarray]:
    """The npz entries that say which poses ``poses_3d.bvh`` and ``poses_3d.glb`` carry.

    Both files encode ``points_mm`` exactly (`ssrstf.outputs.rig`), so a reader compares them
    with ``animation_poses``, not with ``poses_world``, which differs when the files got a rigid
    skeleton (`ssrstf.scene.rigid.make_rigid`) and ``poses_3d`` did not.

    Args:
        points_mm: (F, J, 3) the joints the animation files encode, mm, in their Y-up frame:
            `ssrstf.outputs.gltf.animation_positions_mm` of the poses, trajectory and world
            transform handed to the writers.
        frame: The files' frame, one of `ANIMATION_FRAMES`.
        skeleton: Joint hierarchy.

    Returns:
        ``animation_poses`` (F, J, 3) float64 mm; ``animation_rigid`` bool, one set of bone
        lengths over the clip (within `RIGID_TOLERANCE_MM`); ``animation_frame`` ``"world"`` or
        ``"camera"``; ``animation_axes`` a description of the axes.
    """
    points = np.asarray(points_mm, dtype=np.float64)
    if points.ndim != 3 or points.shape[1:] != (skeleton.num_joints, 3) or len(points) == 0:
        raise ValueError(f"points_mm must be (F, {skeleton.num_joints}, 3), got {points.shape}")
    if frame not in ANIMATION_FRAMES:
        raise ValueError(f"frame must be one of {ANIMATION_FRAMES}, got {frame!r}")
    lengths, _ = bone_directions(points, skeleton)
    axes = (
        "world: Y up (floor normal), floor at Y = 0, mm (see world_from_camera)"
        if frame == "world"
        else "camera (x, -y, -z): X right, Y up, Z towards the camera, mm"
    )
    return {
        "animation_poses": points,
        "animation_rigid": np.bool_(np.abs(lengths - lengths.mean(0)).max() <= RIGID_TOLERANCE_MM),
        "animation_frame": np.array(frame),
        "animation_axes": np.array(axes),
    }
