"""BVH: lifted poses as a BVH animation, with an independent BVH reader for checks.

Every file is written atomically and refuses to replace an existing file unless
``overwrite=True`` (as the npz and JSON writers, `ssrstf.outputs.npz_json`). Layouts are
documented in docs/data-format.md ("Inference inputs and outputs").

Coordinates: ``poses_3d`` are millimetres in **camera axes** (x right, y down, z forward, away
from the camera), usually root-relative. The BVH file uses a **Y-up** frame instead:
``(X, Y, Z)_bvh = (x, −y, −z)_cam``, a 180° rotation about x, so a person facing the camera faces
+Z and their left is +X (the axes Blender's BVH importer expects with its default settings).

BVH: the rig of `ssrstf.outputs.rig`, whose forward kinematics gives back every input joint in
every frame, rigid poses and poses whose bone lengths vary alike. Joints in depth-first order:
the skeleton's joints plus a helper joint ``"{parent}_to_{child}"`` (zero OFFSET) between each
branching joint (pelvis, thorax) and each of its children, which aims that child's bone. The
OFFSETs are the rest pose (a T-pose with the clip's mean bone lengths). Channels: every joint
has ``Zrotation Xrotation Yrotation`` (degrees; the local rotation matrix is ``Rz · Rx · Ry``);
the root also ``Xposition Yposition Zposition`` first (its position; OFFSET zero); when bone
lengths vary (more than `ssrstf.outputs.rig.RIGID_TOLERANCE_MM`) every skeleton joint has
them too, holding its whole translation from its parent (they *replace* its OFFSET, as
Blender's BVH importer and exporter and bvhio read them). Helpers never have position channels,
so rigid poses are rotations plus the root path.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import IO, NamedTuple

import numpy as np

from ssrstf.geometry import check_fps, check_rigid_transform
from ssrstf.outputs.npz_json import _atomic_write
from ssrstf.outputs.rig import fit_rest, forward_kinematics, pose_rig
from ssrstf.skeleton import H36M_17, Skeleton

CAMERA_TO_BVH = np.diag([1.0, -1.0, -1.0])
"""Rotation from camera axes (x right, y down, z forward) to the BVH frame (Y up, facing +Z)."""


BVH_UNITS: dict[str, float] = {"mm": 1.0, "cm": 10.0, "m": 1000.0}
"""Millimetres per BVH length unit."""

_MOTION_BLOCK = 1000
"""Frames per write of `write_bvh`'s motion."""


# ---------------------------------------------------------------------------------- rotations


def _euler_zxy(rot: np.ndarray) -> np.ndarray:
    """(..., 3) angles (z, x, y) in degrees with ``rot = Rz(z) · Rx(x) · Ry(y)``."""
    cos_x = np.hypot(rot[..., 2, 0], rot[..., 2, 2])  # |cos x|, exact also near x = ±90°
    x = np.arctan2(rot[..., 2, 1], cos_x)
    regular = cos_x > 1e-12
    z = np.where(regular, np.arctan2(-rot[..., 0, 1], rot[..., 1, 1]), 0.0)
    y = np.where(regular, np.arctan2(-rot[..., 2, 0], rot[..., 2, 2]), 0.0)
    z = np.where(regular, z, np.arctan2(rot[..., 1, 0], rot[..., 0, 0]))  # gimbal lock: y = 0
    return np.degrees(np.stack([z, x, y], axis=-1))


def _continuous(angles: np.ndarray, previous: np.ndarray | None) -> np.ndarray:
    """(F, ..., 3) degrees, each channel shifted by whole turns so that it never jumps by more
    than 180° from one frame to the next (starting from ``previous``, the frame before): the
    same rotations, for tools that interpolate the channels."""
    if previous is not None:
        angles = np.concatenate([previous[None], angles])
    unwrapped = np.degrees(np.unwrap(np.radians(angles), axis=0))
    return unwrapped[1:] if previous is not None else unwrapped


# ----------------------------------------------------------------------------------------- BVH


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

    The file encodes the rig of `ssrstf.outputs.rig` (see the module docstring for the frame
    and the channels): forward kinematics of the file gives back every input joint in every
    frame, rigid or not. Leaf joints get an End Site half their bone's length further along
    the bone.

    Args:
        path: Output ``.bvh`` file.
        poses_mm: (F, J, 3) millimetres in camera axes in ``skeleton`` order, root-relative or
            absolute; the root joint's position becomes the root's position channels.
        fps: Frame rate (the file's ``Frame Time`` is ``1 / fps``).
        skeleton: Joint hierarchy and names.
        units: Length unit of the file, a `BVH_UNITS` key (Blender's importer takes the numbers
            as metres times its scale option).
        world_from_camera: (4, 4) rigid transform (mm) from camera axes into a Y-up world
            frame (`ssrstf.scene.world.WorldFrame.matrix`: floor at Y = 0); the file is
            then in that frame instead of the camera's ``(x, −y, −z)``. `read_bvh` returns
            ``positions_mm`` in ``(X, −Y, −Z)`` of the file's frame either way.
        overwrite: Replace an existing file.

    Returns:
        The largest distance in mm between an input joint and the same joint computed by forward
        kinematics of the rig before the text's rounding to 6 decimals (floating-point rounding:
        far below 0.001 mm).
    """
    poses_mm = np.asarray(poses_mm, dtype=np.float64)
    if poses_mm.ndim != 3 or poses_mm.shape[1:] != (skeleton.num_joints, 3):
        raise ValueError(f"poses_mm must be (F, {skeleton.num_joints}, 3), got {poses_mm.shape}")
    if len(poses_mm) == 0 or not np.isfinite(poses_mm).all():
        raise ValueError("poses_mm must have at least one frame and only finite values")
    fps = check_fps(fps)
    if units not in BVH_UNITS:
        raise ValueError(f"units must be one of {sorted(BVH_UNITS)}, got {units!r}")
    if world_from_camera is not None:
        matrix = check_rigid_transform(world_from_camera)
        pts = poses_mm @ matrix[:3, :3].T + matrix[:3, 3]
    else:
        pts = poses_mm @ CAMERA_TO_BVH.T
    rest = fit_rest(pts, skeleton)
    hierarchy = rest.hierarchy
    # Position channels replace the OFFSET (Blender's importer and exporter, bvhio): the root
    # always (its OFFSET is zero), every other joint when bone lengths vary; helpers never.
    positioned = [
        node == skeleton.root or not (rest.rigid or hierarchy.is_helper(node))
        for node in range(hierarchy.num_nodes)
    ]
    scale = 1.0 / BVH_UNITS[units]
    lines = ["HIERARCHY"]

    def numbers(values: np.ndarray) -> str:
        return " ".join(f"{v:.6f}" for v in np.round(values, 6) + 0.0)  # no "-0.000000"

    def emit(node: int, depth: int) -> None:
        pad = "  " * depth
        keyword = "ROOT" if node == skeleton.root else "JOINT"
        offset = rest.offsets[node] * scale
        channels = "6 Xposition Yposition Zposition " if positioned[node] else "3 "
        lines.extend([f"{pad}{keyword} {hierarchy.names[node]}", f"{pad}{{"])
        lines.append(f"{pad}  OFFSET {numbers(offset)}")
        lines.append(f"{pad}  CHANNELS {channels}Zrotation Xrotation Yrotation")
        children = hierarchy.children(node)
        for child in children:
            emit(child, depth + 1)
        if not children:
            end = 0.5 * offset if node != skeleton.root else np.array([0.0, 1.0, 0.0])
            lines.extend([f"{pad}  End Site", f"{pad}  {{"])
            lines.append(f"{pad}    OFFSET {numbers(end)}")
            lines.append(f"{pad}  }}")
        lines.append(f"{pad}}}")

    emit(skeleton.root, 0)
    order = list(hierarchy.order)
    lines.extend(["MOTION", f"Frames: {len(pts)}", f"Frame Time: {1.0 / fps:.17g}"])
    head = ("\n".join(lines) + "\n").encode("utf-8")
    errors = []
    last_angles = None  # the previous block's last frame, for continuous angles

    def write(handle: IO[bytes]) -> None:
        nonlocal last_angles
        handle.write(head)
        # The motion block by block: rotations and text of a long clip are never in memory
        # at once (frames are independent given the rest pose).
        for start in range(0, len(pts), _MOTION_BLOCK):
            block = pts[start : start + _MOTION_BLOCK]
            local, translations = pose_rig(block, rest)
            fk = forward_kinematics(local, translations, hierarchy)[:, : skeleton.num_joints]
            errors.append(float(np.linalg.norm(fk - block, axis=-1).max()))
            angles = _continuous(_euler_zxy(local), last_angles)  # (f, N, 3)
            last_angles = angles[-1]
            columns = []
            for node in order:
                if positioned[node]:
                    columns.append(translations[:, node] * scale)
                columns.append(angles[:, node])
            values = np.round(np.concatenate(columns, axis=1), 6) + 0.0  # no "-0.000000"
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
    """Joint names in file order (End Sites excluded), or those asked for."""


def _axis_rotation(axis: str, degrees: np.ndarray) -> np.ndarray:
    t = np.radians(degrees)
    c, s = np.cos(t), np.sin(t)
    rot = np.zeros((*t.shape, 3, 3))
    i, j = {"X": (1, 2), "Y": (2, 0), "Z": (0, 1)}[axis]
    k = 3 - i - j
    rot[..., k, k] = 1.0
    rot[..., i, i], rot[..., j, j], rot[..., i, j], rot[..., j, i] = c, c, -s, s
    return rot


def read_bvh(
    path: str | Path, *, units: str = "cm", joints: Sequence[str] | None = None
) -> BvhAnimation:
    """Read any BVH file and compute its joint positions by forward kinematics.

    Independent of `write_bvh`'s fitting: it parses the hierarchy and the channels in whatever
    order the file lists them (rotation = product of the axis rotations in channel order;
    position channels, where a joint has them, are its translation from its parent and replace
    its OFFSET, as Blender's BVH importer and exporter read and write them) and converts the
    BVH frame back to camera axes.

    Args:
        path: The BVH file.
        units: Length unit of the file, a `BVH_UNITS` key.
        joints: Names of the joints to return, in that order (e.g. a skeleton's
            ``joint_names``, leaving out `write_bvh`'s helper joints); None returns every joint
            in file order.

    Raises:
        ValueError: If the file is not valid BVH, or lacks one of ``joints`` (the message names
            the file), or if ``units`` is not a `BVH_UNITS` key.
    """
    path = Path(path)
    if units not in BVH_UNITS:
        raise ValueError(f"units must be one of {sorted(BVH_UNITS)}, got {units!r}")
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
    if not (np.isfinite(frame_time) and frame_time > 0):
        raise ValueError(f"{path}: invalid BVH (Frame Time {frame_time} is not a positive number)")
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
                translation[:, "XYZ".index(axis)] = data[:, column]
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
    if joints is None:
        return BvhAnimation(positions_mm, 1.0 / frame_time, tuple(names))
    missing = [name for name in joints if name not in names]
    if missing:
        raise ValueError(f"{path}: no joint(s) {', '.join(missing)} in the file")
    selected = [names.index(name) for name in joints]
    return BvhAnimation(positions_mm[:, selected], 1.0 / frame_time, tuple(joints))
