"""Writers for lifted poses: JSON, NPZ and BVH (with an independent BVH reader for checks).

Every writer writes atomically (a temporary file in the target folder, then `os.replace`) and
refuses to replace an existing file unless ``overwrite=True``. Layouts are documented in
docs/data-format.md ("Inference inputs and outputs").

Coordinates: ``poses_3d`` are millimetres in **camera axes** (x right, y down, z forward, away
from the camera), usually root-relative. The BVH file uses a **Y-up** frame instead:
``(X, Y, Z)_bvh = (x, −y, −z)_cam``, a 180° rotation about x, so a person facing the camera faces
+Z and their left is +X (the axes Blender's BVH importer expects with its default settings).

BVH motion: one rotation per joint (channel order ``Zrotation Xrotation Yrotation``, i.e. the
local rotation matrix is ``Rz · Rx · Ry``, in degrees) plus the root position. The rest pose is a
T-pose (legs down, spine and head up, arms sideways) whose bone lengths are the sequence means;
the children of a joint with several children (pelvis: hips and spine; thorax: neck and
shoulders) keep the sequence's mean (Procrustes) shape. Forward kinematics of the file therefore
reproduces the input poses exactly when bone lengths and those torso shapes are constant, and
otherwise up to their variation; `write_bvh` returns the largest deviation.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, NamedTuple

import numpy as np

from ssrstf.files import atomic_write
from ssrstf.inference.readers import Keypoints2D
from ssrstf.skeleton import H36M_17, Skeleton

CAMERA_TO_BVH = np.diag([1.0, -1.0, -1.0])
"""Rotation from camera axes (x right, y down, z forward) to the BVH frame (Y up, facing +Z)."""

BVH_UNITS: dict[str, float] = {"mm": 1.0, "cm": 10.0, "m": 1000.0}
"""Millimetres per BVH length unit."""

_AXES = "camera: x right, y down, z forward (away from the camera), root-relative"


# ------------------------------------------------------------------------------ atomic writing


_JSON_BLOCK = 1000
"""Frames per write of `write_json` and `write_bvh`'s motion."""


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
    if fps is not None and not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    return poses_3d, poses_2d, valid


# ---------------------------------------------------------------------------------- JSON / NPZ


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
            ``foot_contact`` (F, 2) bool (`ssrstf.inference.pipeline.write_outputs`).
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
        if name in arrays or value.dtype == object:
            raise ValueError(f"npz extra {name!r} clashes with a standard key or is not numeric")
        arrays[name] = value
    return _atomic_write(path, overwrite, lambda f: np.savez(f, **arrays))


def write_keypoints(path: str | Path, kp: Keypoints2D, *, overwrite: bool = False) -> Path:
    """Save 2D keypoints as an ``.npz`` that ``read_keypoints(path)`` reads back unchanged.

    Keys: ``keypoints`` (F, J, 3) pixels + confidence, ``skeleton`` (its name), ``valid`` (F,),
    and ``image_size`` (2,) / ``fps`` when known.
    """
    arrays = {
        "keypoints": kp.keypoints,
        "skeleton": np.array(kp.skeleton.name),
        "valid": kp.valid,
    }
    if kp.image_size is not None:
        arrays["image_size"] = np.array(kp.image_size, dtype=np.int64)
    if kp.fps is not None:
        arrays["fps"] = np.float64(kp.fps)
    return _atomic_write(path, overwrite, lambda f: np.savez(f, **arrays))


# ---------------------------------------------------------------------------------- rotations


def _swing(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(..., 3, 3) minimal rotations taking unit vectors ``a`` to unit vectors ``b``."""
    v = np.cross(a, b)
    c = np.sum(a * b, axis=-1)[..., None, None]
    k = np.zeros((*v.shape[:-1], 3, 3))
    k[..., 0, 1], k[..., 0, 2], k[..., 1, 2] = -v[..., 2], v[..., 1], -v[..., 0]
    k -= np.swapaxes(k, -1, -2)
    eye = np.eye(3)
    opposite = c[..., 0, 0] < -1 + 1e-9
    rot = eye + k + k @ k / np.where(opposite[..., None, None], 1.0, 1.0 + c)
    if opposite.any():  # 180° about an axis perpendicular to a
        a_opp = a[opposite]
        helper = eye[np.argmin(np.abs(a_opp), axis=-1)]
        n = np.cross(a_opp, helper)
        n /= np.linalg.norm(n, axis=-1, keepdims=True)
        rot[opposite] = 2 * n[:, :, None] * n[:, None, :] - eye
    return rot


def _kabsch(rest: np.ndarray, posed: np.ndarray) -> np.ndarray:
    """(F, 3, 3) rotations R minimising ``Σ_i |R rest_i − posed_f,i|²``.

    ``rest`` is (K, 3), ``posed`` (F, K, 3).
    """
    h = np.einsum("ki,fkj->fij", rest, posed)
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(np.swapaxes(vt, -1, -2) @ np.swapaxes(u, -1, -2)))
    fix = np.broadcast_to(np.eye(3), h.shape).copy()
    fix[:, 2, 2] = d
    return np.swapaxes(vt, -1, -2) @ fix @ np.swapaxes(u, -1, -2)


def _euler_zxy(rot: np.ndarray) -> np.ndarray:
    """(..., 3) angles (z, x, y) in degrees with ``rot = Rz(z) · Rx(x) · Ry(y)``."""
    sin_x = np.clip(rot[..., 2, 1], -1.0, 1.0)
    x = np.arcsin(sin_x)
    regular = np.abs(sin_x) < 1 - 1e-9
    z = np.where(regular, np.arctan2(-rot[..., 0, 1], rot[..., 1, 1]), 0.0)
    y = np.where(regular, np.arctan2(-rot[..., 2, 0], rot[..., 2, 2]), 0.0)
    z = np.where(regular, z, np.arctan2(rot[..., 1, 0], rot[..., 0, 0]))  # gimbal lock: y = 0
    return np.degrees(np.stack([z, x, y], axis=-1))


# ----------------------------------------------------------------------------------------- BVH


def _topological_order(skeleton: Skeleton) -> list[int]:
    order, stack = [], [skeleton.root]
    while stack:
        joint = stack.pop()
        order.append(joint)
        stack.extend(reversed(skeleton.children[joint]))
    return order  # depth-first, children in index order: also the BVH joint order


def _t_pose_directions(skeleton: Skeleton, first: np.ndarray) -> np.ndarray:
    """(J, 3) unit rest direction of the bone ending at each joint, BVH frame (root: zeros).

    From the body-part labels: a sided joint hanging from a midline joint (hip, shoulder) points
    sideways (+X = subject's left), legs down, arms sideways, torso and head up. Skeletons
    without part labels use the first frame's directions ``first`` (J, 3).
    """
    if not skeleton.parts:
        return first
    side = np.zeros(skeleton.num_joints)
    side[list(skeleton.left_joints)], side[list(skeleton.right_joints)] = 1.0, -1.0
    dirs = np.zeros((skeleton.num_joints, 3))
    for parent, child in skeleton.bones:
        part = skeleton.parts[child]
        if (side[child] != 0 and side[parent] == 0) or part in (3, 4):
            dirs[child] = [side[child], 0.0, 0.0]
        elif part in (1, 2):
            dirs[child] = [0.0, -1.0, 0.0]
        else:
            dirs[child] = [0.0, 1.0, 0.0]
    return dirs


def _group_rest_shape(rest: np.ndarray, posed: np.ndarray, iterations: int = 10) -> np.ndarray:
    """Mean (generalised Procrustes) shape of child offsets ``posed`` (F, K, 3).

    Row lengths are those of ``rest`` (K, 3), and the shape is turned to best match ``rest``.
    """
    lengths = np.linalg.norm(rest, axis=-1, keepdims=True)
    shape = posed[0]
    for _ in range(iterations):
        rot = _kabsch(shape, posed)
        shape = np.einsum("fji,fkj->ki", rot, posed) / len(posed)  # mean of Rᵀ posed
        shape *= lengths / np.maximum(np.linalg.norm(shape, axis=-1, keepdims=True), 1e-12)
    return shape @ _kabsch(shape, rest[None])[0].T  # orient like the T-pose


def _bone_directions(pts: np.ndarray, skeleton: Skeleton) -> tuple[np.ndarray, np.ndarray]:
    """Bone lengths (F, J) and unit directions (F, J, 3) of joint positions (the bone of joint
    j runs from its parent to j; the root's is zero)."""
    parents = np.maximum(np.array(skeleton.parents), 0)
    bone = pts - pts[:, parents]
    bone[:, skeleton.root] = 0.0
    length = np.linalg.norm(bone, axis=-1)
    direction = np.where(length[..., None] > 1e-9, bone / np.maximum(length, 1e-12)[..., None], 0.0)
    return length, direction


def _bvh_offsets(pts: np.ndarray, skeleton: Skeleton) -> tuple[np.ndarray, np.ndarray]:
    """Rest offsets (J, 3) in the parent's frame and mean bone lengths (J,) of a clip."""
    length, posed_dir = _bone_directions(pts, skeleton)
    mean_length = length.mean(0)
    rest_dir = _t_pose_directions(skeleton, posed_dir[0])
    offsets = mean_length[:, None] * rest_dir
    scaled = mean_length[:, None] * posed_dir  # posed bones with the constant lengths
    for joint in range(pts.shape[1]):
        kids = list(skeleton.children[joint])
        if len(kids) > 1:
            offsets[kids] = _group_rest_shape(offsets[kids], scaled[:, kids])
    return offsets, mean_length


def _bvh_rotations(
    pts: np.ndarray, offsets: np.ndarray, mean_length: np.ndarray, skeleton: Skeleton
) -> tuple[np.ndarray, float]:
    """Local rotations (F, J, 3, 3) of frames ``pts`` on the rest offsets, and the largest
    distance (mm) between an input joint and its forward-kinematics position. Frames are
    independent of each other, so a long clip can go through in blocks."""
    frames, joints = pts.shape[:2]
    parents = np.array(skeleton.parents)
    length, posed_dir = _bone_directions(pts, skeleton)
    scaled = mean_length[:, None] * posed_dir
    glob = np.zeros((frames, joints, 3, 3))
    local = np.zeros((frames, joints, 3, 3))
    for joint in _topological_order(skeleton):
        kids = list(skeleton.children[joint])
        parent_rot = np.broadcast_to(np.eye(3), (frames, 3, 3))
        if parents[joint] >= 0:
            parent_rot = glob[:, parents[joint]]
        if not kids or (len(kids) == 1 and mean_length[kids[0]] < 1e-9):
            glob[:, joint] = parent_rot
        elif len(kids) == 1:
            current = parent_rot @ (offsets[kids[0]] / max(mean_length[kids[0]], 1e-12))
            target = np.where(length[:, kids[0], None] > 1e-9, posed_dir[:, kids[0]], current)
            glob[:, joint] = _swing(current, target) @ parent_rot
        else:
            glob[:, joint] = _kabsch(offsets[kids], scaled[:, kids])
        local[:, joint] = np.swapaxes(parent_rot, -1, -2) @ glob[:, joint]
    fk = np.zeros_like(pts)
    fk[:, skeleton.root] = pts[:, skeleton.root]
    for joint in _topological_order(skeleton)[1:]:
        p = parents[joint]
        fk[:, joint] = fk[:, p] + glob[:, p] @ offsets[joint]
    return local, float(np.linalg.norm(fk - pts, axis=-1).max())


def write_bvh(
    path: str | Path,
    poses_mm: np.ndarray,
    fps: float,
    *,
    skeleton: Skeleton = H36M_17,
    units: str = "cm",
    world_from_camera: np.ndarray | None = None,
    overwrite: bool = False,
) -> float:
    """Write poses as a BVH animation (opens in Blender: File → Import → Motion Capture).

    Bone lengths are per-sequence means, so frames whose bones are longer or shorter than the
    mean are reproduced up to that difference (see the module docstring for the frame, the rest
    pose and the rotation order). Leaf joints get an End Site half their bone's length further
    along the bone.

    Args:
        path: Output ``.bvh`` file.
        poses_mm: (F, J, 3) millimetres in camera axes in ``skeleton`` order, root-relative or
            absolute; the root joint's position becomes the root's position channels.
        fps: Frame rate (the file's ``Frame Time`` is ``1 / fps``).
        skeleton: Joint hierarchy and names.
        units: Length unit of the file, a `BVH_UNITS` key (Blender's importer takes the numbers
            as metres times its scale option).
        world_from_camera: (4, 4) rigid transform (mm) from camera axes into a Y-up world
            frame (`ssrstf.inference.world.WorldFrame.matrix`: floor at Y = 0); the file is
            then in that frame instead of the camera's ``(x, −y, −z)``. `read_bvh` returns
            ``positions_mm`` in ``(X, −Y, −Z)`` of the file's frame either way.
        overwrite: Replace an existing file.

    Returns:
        The largest distance in mm between an input joint and the same joint computed by forward
        kinematics of the written file (0 up to rounding for constant bone lengths and rigid
        torso shapes).
    """
    poses_mm = np.asarray(poses_mm, dtype=np.float64)
    if poses_mm.ndim != 3 or poses_mm.shape[1:] != (skeleton.num_joints, 3):
        raise ValueError(f"poses_mm must be (F, {skeleton.num_joints}, 3), got {poses_mm.shape}")
    if len(poses_mm) == 0 or not np.isfinite(poses_mm).all():
        raise ValueError("poses_mm must have at least one frame and only finite values")
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if units not in BVH_UNITS:
        raise ValueError(f"units must be one of {sorted(BVH_UNITS)}, got {units!r}")
    if world_from_camera is not None:
        matrix = np.asarray(world_from_camera, dtype=np.float64)
        rotation = matrix[:3, :3] if matrix.shape == (4, 4) else np.zeros((3, 3))
        if not (np.allclose(rotation @ rotation.T, np.eye(3), atol=1e-6) and matrix[3, 3] == 1):
            raise ValueError("world_from_camera must be a 4x4 rigid transform")
        # The fit below maps its input by CAMERA_TO_BVH, its own inverse: hand it the world points
        # in a form that maps back onto themselves.
        poses_mm = (poses_mm @ rotation.T + matrix[:3, 3]) @ CAMERA_TO_BVH
    pts = poses_mm @ CAMERA_TO_BVH.T
    offsets, mean_length = _bvh_offsets(pts, skeleton)
    scale = 1.0 / BVH_UNITS[units]
    lines = ["HIERARCHY"]
    rotation_channels = "Zrotation Xrotation Yrotation"

    def emit(joint: int, depth: int) -> None:
        pad = "  " * depth
        keyword = "ROOT" if joint == skeleton.root else "JOINT"
        offset = np.zeros(3) if joint == skeleton.root else offsets[joint] * scale
        channels = ("6 Xposition Yposition Zposition " if joint == skeleton.root else "3 ") + (
            rotation_channels
        )
        lines.extend([f"{pad}{keyword} {skeleton.joint_names[joint]}", f"{pad}{{"])
        lines.append(f"{pad}  OFFSET {' '.join(f'{v:.6f}' for v in offset)}")
        lines.append(f"{pad}  CHANNELS {channels}")
        for child in skeleton.children[joint]:
            emit(child, depth + 1)
        if not skeleton.children[joint]:
            end = 0.5 * offset if joint != skeleton.root else np.array([0.0, 1.0, 0.0])
            lines.extend([f"{pad}  End Site", f"{pad}  {{"])
            lines.append(f"{pad}    OFFSET {' '.join(f'{v:.6f}' for v in end)}")
            lines.append(f"{pad}  }}")
        lines.append(f"{pad}}}")

    emit(skeleton.root, 0)
    order = _topological_order(skeleton)
    lines.extend(["MOTION", f"Frames: {len(pts)}", f"Frame Time: {1.0 / fps:.10f}"])
    head = ("\n".join(lines) + "\n").encode("utf-8")
    errors = []

    def write(handle: IO[bytes]) -> None:
        handle.write(head)
        # The motion block by block: rotations and text of a long clip are never in memory
        # at once (frames are independent given the rest offsets).
        for start in range(0, len(pts), _JSON_BLOCK):
            block = pts[start : start + _JSON_BLOCK]
            local, error = _bvh_rotations(block, offsets, mean_length, skeleton)
            errors.append(error)
            angles = _euler_zxy(local[:, order])  # (f, J, 3)
            values = np.concatenate(
                [block[:, skeleton.root] * scale, angles.reshape(len(angles), -1)], axis=1
            )
            values = np.round(values, 6) + 0.0  # no "-0.000000"
            text = "".join(" ".join(f"{v:.6f}" for v in row) + "\n" for row in values)
            handle.write(text.encode("utf-8"))

    _atomic_write(path, overwrite, write)
    return max(errors)


class BvhAnimation(NamedTuple):
    """What `read_bvh` returns."""

    positions_mm: np.ndarray
    """(F, J, 3) joint positions in millimetres, camera axes (x right, y down, z forward)."""
    fps: float
    """1 / Frame Time."""
    joint_names: tuple[str, ...]
    """Joint names in file order (End Sites excluded)."""


def _axis_rotation(axis: str, degrees: np.ndarray) -> np.ndarray:
    t = np.radians(degrees)
    c, s = np.cos(t), np.sin(t)
    rot = np.zeros((*t.shape, 3, 3))
    i, j = {"X": (1, 2), "Y": (2, 0), "Z": (0, 1)}[axis]
    k = 3 - i - j
    rot[..., k, k] = 1.0
    rot[..., i, i], rot[..., j, j], rot[..., i, j], rot[..., j, i] = c, c, -s, s
    return rot


def read_bvh(path: str | Path, *, units: str = "cm") -> BvhAnimation:
    """Read any BVH file and compute its joint positions by forward kinematics.

    Independent of `write_bvh`'s fitting: it parses the hierarchy and the channels in whatever
    order the file lists them (rotation = product of the axis rotations in channel order;
    position channels add to the joint's offset) and converts the BVH frame back to camera axes.

    Args:
        path: The BVH file.
        units: Length unit of the file, a `BVH_UNITS` key.

    Raises:
        ValueError: If the file is not valid BVH (the message names the file).
    """
    path = Path(path)
    tokens = path.read_text(encoding="utf-8").split()
    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    channels: list[list[str]] = []
    pos = 0

    def expect(word: str) -> None:
        nonlocal pos
        if pos >= len(tokens) or tokens[pos] != word:
            found = tokens[pos] if pos < len(tokens) else "end of file"
            raise ValueError(f"expected {word!r}, found {found!r}")
        pos += 1

    def parse_joint(parent: int) -> None:
        nonlocal pos
        index = len(names)
        names.append(tokens[pos + 1])
        parents.append(parent)
        pos += 2
        expect("{")
        expect("OFFSET")
        offsets.append([float(v) for v in tokens[pos : pos + 3]])
        pos += 3
        expect("CHANNELS")
        count = int(tokens[pos])
        channels.append(tokens[pos + 1 : pos + 1 + count])
        pos += 1 + count
        while tokens[pos] != "}":
            if tokens[pos] == "JOINT":
                parse_joint(index)
            elif tokens[pos : pos + 2] == ["End", "Site"]:
                pos += 2
                expect("{")
                expect("OFFSET")
                pos += 3
                expect("}")
            else:
                raise ValueError(f"unexpected {tokens[pos]!r}")
        expect("}")

    try:
        expect("HIERARCHY")
        if tokens[pos] != "ROOT":
            raise ValueError(f"expected 'ROOT', found {tokens[pos]!r}")
        parse_joint(-1)
        expect("MOTION")
        expect("Frames:")
        frames = int(tokens[pos])
        pos += 1
        expect("Frame")
        expect("Time:")
        frame_time = float(tokens[pos])
        data = np.array(tokens[pos + 1 :], dtype=np.float64)
    except (IndexError, ValueError) as err:
        raise ValueError(f"{path}: invalid BVH ({err})") from None
    width = sum(len(c) for c in channels)
    if data.size != frames * width:
        raise ValueError(f"{path}: {data.size} motion values for {frames} frames × {width}")
    data = data.reshape(frames, width)
    positions = np.zeros((frames, len(names), 3))
    glob = np.zeros((frames, len(names), 3, 3))
    column = 0
    for joint, joint_channels in enumerate(channels):  # parents precede children in the file
        translation = np.broadcast_to(np.array(offsets[joint]), (frames, 3)).copy()
        rot = np.broadcast_to(np.eye(3), (frames, 3, 3)).copy()
        for name in joint_channels:
            axis, kind = name[0].upper(), name[1:].lower()
            if kind == "position":
                translation[:, "XYZ".index(axis)] += data[:, column]
            else:
                rot = rot @ _axis_rotation(axis, data[:, column])
            column += 1
        parent = parents[joint]
        if parent < 0:
            positions[:, joint], glob[:, joint] = translation, rot
        else:
            positions[:, joint] = positions[:, parent] + np.einsum(
                "fij,fj->fi", glob[:, parent], translation
            )
            glob[:, joint] = glob[:, parent] @ rot
    positions_mm = positions * BVH_UNITS[units] @ CAMERA_TO_BVH  # CAMERA_TO_BVH is its own inverse
    return BvhAnimation(positions_mm, 1.0 / frame_time, tuple(names))
