"""glTF 2.0 binary (``.glb``) export of lifted poses: an animated, skinned stick figure.

Written with numpy and the standard library only; the layout follows the Khronos glTF 2.0
specification (a 12-byte header, a JSON chunk, a binary chunk). One file holds:

* **the skeleton as a node hierarchy**: the rig of `ssrstf.outputs.rig`, which the BVH file
  (`ssrstf.outputs.bvh.write_bvh`) encodes too: one node per joint, named after the joint
  (``pelvis`` is the root node), plus a helper node ``"{parent}_to_{child}"`` between each
  branching joint (pelvis, thorax) and each of its children, which aims that child's bone; the
  rest pose is a T-pose with per-sequence mean bone lengths;
* **a skin** over those nodes (the armature Blender's importer builds) and a mesh bound to it:
  one octahedral bone per skeleton bone, coloured by side like the renderings (left
  `LEFT_COLOUR`, right `RIGHT_COLOUR`, midline `CENTRE_COLOUR`), base and ring on the parent
  joint (on the helper, where there is one), tip on the child joint, so viewers without a
  skeleton display still show the figure;
* **one animation** (``ssrstf``, linear keys at ``k / fps`` seconds): the rotation of every
  node, the root's translation (the root motion: the trajectory, when one is given), and the
  translation of every other joint whose offset from its parent varies (when bone lengths
  change from frame to frame; rigid poses need none). Forward kinematics of the file therefore
  reproduces the input joints exactly (up to float32 rounding, well under 0.01 mm).

Frame and units: glTF is Y up, metres, and a model's front faces +Z. Without a world transform
the file's axes are the BVH frame of the camera, ``(X, Y, Z) = (x, −y, −z)_camera`` (a person
facing the camera faces +Z, their left is +X); with ``world_from_camera`` (a 4 × 4 rigid
transform in mm into a Y-up world, e.g. floor at Y = 0) they are that world's.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ssrstf.files import atomic_write
from ssrstf.geometry import check_fps, check_rigid_transform
from ssrstf.outputs.bvh import CAMERA_TO_BVH
from ssrstf.outputs.colours import side_colours
from ssrstf.outputs.rig import RigHierarchy, fit_rest, pose_rig
from ssrstf.skeleton import H36M_17, Skeleton

GLB_MAGIC = 0x46546C67
"""``b"glTF"`` read as a little-endian uint32: the first four bytes of every GLB file."""
CHUNK_JSON = 0x4E4F534A
CHUNK_BIN = 0x004E4942
ANIMATION_NAME = "ssrstf"
"""Name of the file's only animation."""
MESH_NODE_NAME = "skeleton_mesh"
"""Name of the node holding the skinned bone mesh."""
STATIC_TOLERANCE_MM = 1e-3
"""A joint's translation is animated when its offset from its parent varies by more than this."""

_FLOAT, _USHORT = 5126, 5123
_ARRAY_BUFFER = 34962
_M = 1e-3
"""Metres per millimetre: glTF lengths are metres."""
_RING = 0.2
"""Position of an octahedral bone's widest ring, as a fraction of the bone length."""


# ------------------------------------------------------------------------------ binary layout


class _Buffer:
    """The binary chunk, built up one 4-byte-aligned buffer view (and accessor) at a time."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.views: list[dict[str, Any]] = []
        self.accessors: list[dict[str, Any]] = []

    def add(
        self,
        array: np.ndarray,
        kind: str,
        *,
        target: int | None = None,
        bounds: bool = False,
    ) -> int:
        """Append ``array`` (rows of ``kind`` = SCALAR / VEC3 / VEC4 / MAT4); its accessor index."""
        component = _USHORT if array.dtype == np.uint16 else _FLOAT
        array = np.ascontiguousarray(array, dtype=np.uint16 if component == _USHORT else "<f4")
        self.data.extend(b"\0" * (-len(self.data) % 4))
        view: dict[str, Any] = {
            "buffer": 0,
            "byteOffset": len(self.data),
            "byteLength": array.nbytes,
        }
        if target is not None:
            view["target"] = target
        self.data.extend(array.tobytes())
        self.views.append(view)
        rows = array.reshape(len(array), -1)
        accessor: dict[str, Any] = {
            "bufferView": len(self.views) - 1,
            "componentType": component,
            "count": len(array),
            "type": kind,
        }
        if bounds:  # required for POSITION and animation inputs
            accessor["min"] = [float(v) for v in rows.min(0)]
            accessor["max"] = [float(v) for v in rows.max(0)]
        self.accessors.append(accessor)
        return len(self.accessors) - 1


def _glb_chunks(document: dict[str, Any], binary: bytes | bytearray) -> list[bytes | memoryview]:
    """A GLB container in pieces: header, JSON chunk (space padded), BIN chunk (zero padded).

    Pieces, so that a long animation's binary chunk is written without another copy of it.
    """
    text = json.dumps(document, separators=(",", ":"), allow_nan=False).encode("utf-8")
    text += b" " * (-len(text) % 4)
    padding = b"\0" * (-len(binary) % 4)
    size = len(binary) + len(padding)
    total = 12 + 8 + len(text) + 8 + size
    return [
        struct.pack("<III", GLB_MAGIC, 2, total),
        struct.pack("<II", len(text), CHUNK_JSON),
        text,
        struct.pack("<II", size, CHUNK_BIN),
        memoryview(binary),
        padding,
    ]


def _glb_bytes(document: dict[str, Any], binary: bytes | bytearray) -> bytes:
    """The GLB container of `_glb_chunks` as one ``bytes``."""
    return b"".join(_glb_chunks(document, binary))


# ---------------------------------------------------------------------------------- geometry


def _quaternions(rot: np.ndarray) -> np.ndarray:
    """(..., 4) unit quaternions (x, y, z, w) of rotation matrices (..., 3, 3).

    Each quaternion is computed from the largest of the four candidate denominators, which is
    accurate for every angle including 180°.
    """
    m = rot
    trace = m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2]
    candidates = np.stack([trace, m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]], axis=-1)
    choice = np.argmax(candidates, axis=-1)
    q = np.zeros((*m.shape[:-2], 4))
    for case in range(4):
        sel = choice == case
        if not sel.any():
            continue
        r = m[sel]
        if case == 0:
            s = 2.0 * np.sqrt(np.maximum(1.0 + trace[sel], 1e-300))
            vals = [
                r[:, 2, 1] - r[:, 1, 2],
                r[:, 0, 2] - r[:, 2, 0],
                r[:, 1, 0] - r[:, 0, 1],
                s * s / 4,
            ]
        else:
            i = case - 1
            j, k = (i + 1) % 3, (i + 2) % 3
            s = 2.0 * np.sqrt(np.maximum(1.0 + r[:, i, i] - r[:, j, j] - r[:, k, k], 1e-300))
            vals = [None, None, None, r[:, k, j] - r[:, j, k]]
            vals[i] = s * s / 4
            vals[j] = r[:, j, i] + r[:, i, j]
            vals[k] = r[:, k, i] + r[:, i, k]
        q[sel] = np.stack(vals, axis=-1) / s[:, None]
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def _continuous(q: np.ndarray) -> np.ndarray:
    """Flip the signs of (F, ..., 4) quaternions so consecutive keys take the short way."""
    q = q.copy()
    for k in range(1, len(q)):
        flip = np.sum(q[k] * q[k - 1], axis=-1) < 0
        q[k][flip] *= -1
    return q


def _srgb_to_linear(rgb: Sequence[int]) -> list[float]:
    """glTF vertex colours are linear; the palette is sRGB bytes."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return [float(v) for v in linear]


def _joint_colours(skeleton: Skeleton) -> list[list[float]]:
    return [_srgb_to_linear(rgb) for rgb in side_colours(skeleton)]


def _bone_mesh(
    rest: np.ndarray, skeleton: Skeleton, hierarchy: RigHierarchy
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Octahedral bones in the rest pose: positions, normals, colours, joints, weights per vertex.

    Triangles are not indexed (three vertices each) so that every face has its own flat
    normal. ``rest`` is (N, 3) global rest positions of the rig's nodes in metres; a bone's base
    belongs to the node that aims it (the helper above the child, else the parent joint).
    """
    colours = _joint_colours(skeleton)
    positions, normals, vertex_colours, joints = [], [], [], []
    for parent, child in skeleton.bones:
        axis = rest[child] - rest[parent]
        length = float(np.linalg.norm(axis))
        if length < 1e-6:
            continue
        axis /= length
        helper = np.eye(3)[np.argmin(np.abs(axis))]
        u = np.cross(axis, helper)
        u /= np.linalg.norm(u)
        v = np.cross(axis, u)
        radius = min(0.1 * length, 0.03)
        centre = rest[parent] + _RING * length * axis
        ring = [centre + radius * (np.cos(a) * u + np.sin(a) * v) for a in np.arange(4) * np.pi / 2]
        base = hierarchy.parents[child]  # the parent joint or the helper between them
        for k in range(4):
            a, b = ring[k], ring[(k + 1) % 4]
            # Outward winding (counter-clockwise seen from outside): the face towards the base
            # moves with the bone's base node, the face towards the tip reaches the child joint.
            for face, owners in (
                ([rest[parent], b, a], [base, base, base]),
                ([a, b, rest[child]], [base, base, child]),
            ):
                normal = np.cross(face[1] - face[0], face[2] - face[0])
                positions.extend(face)
                normals.extend([normal / np.linalg.norm(normal)] * 3)
                vertex_colours.extend([colours[child]] * 3)
                joints.extend(owners)
    count = len(positions)
    joint_ids = np.zeros((count, 4), dtype=np.uint16)
    joint_ids[:, 0] = joints
    weights = np.zeros((count, 4))
    weights[:, 0] = 1.0
    return (
        np.asarray(positions),
        np.asarray(normals),
        np.asarray(vertex_colours),
        joint_ids,
        weights,
    )


# ------------------------------------------------------------------------------------ writing


def animation_positions_mm(
    poses_mm: np.ndarray,
    trajectory_mm: np.ndarray | None = None,
    world_from_camera: np.ndarray | None = None,
) -> np.ndarray:
    """(F, J, 3) joint positions in mm in the Y-up frame of the GLB file and the viewer.

    ``poses_mm + trajectory_mm`` (camera axes) mapped by ``world_from_camera``, or without it
    into the camera's BVH frame ``(x, −y, −z)`` (see the module docstring).
    """
    points = poses_mm if trajectory_mm is None else poses_mm + trajectory_mm[:, None]
    if world_from_camera is None:
        return points @ CAMERA_TO_BVH.T
    return points @ world_from_camera[:3, :3].T + world_from_camera[:3, 3]


def _check_inputs(
    poses_mm: np.ndarray,
    fps: float,
    trajectory_mm: np.ndarray | None,
    world_from_camera: np.ndarray | None,
    skeleton: Skeleton,
) -> None:
    frames = len(poses_mm)
    if poses_mm.ndim != 3 or poses_mm.shape[1:] != (skeleton.num_joints, 3):
        raise ValueError(f"poses_mm must be (F, {skeleton.num_joints}, 3), got {poses_mm.shape}")
    if frames == 0 or not np.isfinite(poses_mm).all():
        raise ValueError("poses_mm must have at least one frame and only finite values")
    check_fps(fps)
    if trajectory_mm is not None and (
        trajectory_mm.shape != (frames, 3) or not np.isfinite(trajectory_mm).all()
    ):
        raise ValueError(f"trajectory_mm must be finite ({frames}, 3), got {trajectory_mm.shape}")
    if world_from_camera is not None:
        check_rigid_transform(world_from_camera)


_FRAMES_PER_BLOCK = 1000
"""Frames per block of `_rig`."""


class _Rig(NamedTuple):
    hierarchy: RigHierarchy
    rest_local: np.ndarray  # (N, 3) rest translation of each node (root: its first position), mm
    rest_global: np.ndarray  # (N, 3) rest (bind) positions, mm
    rotations: np.ndarray  # (F, N, 4) local rotations, quaternions x, y, z, w
    translations: np.ndarray  # (F, N, 3) local translations, mm
    animated: list[int]  # nodes whose translation is animated


def _rig(points: np.ndarray, skeleton: Skeleton) -> _Rig:
    """Rest pose and per-frame local transforms reproducing ``points`` (F, J, 3) exactly."""
    rest = fit_rest(points, skeleton)
    hierarchy = rest.hierarchy
    nodes = hierarchy.num_nodes
    translations = np.zeros((len(points), nodes, 3))
    rotations = np.zeros((len(points), nodes, 4))
    # Block by block (frames are independent given the rest pose), so that the rotation
    # matrices of a long clip are never in memory at once.
    for start in range(0, len(points), _FRAMES_PER_BLOCK):
        stop = min(start + _FRAMES_PER_BLOCK, len(points))
        local, translations[start:stop] = pose_rig(points[start:stop], rest)
        quats = _quaternions(local)
        if start:  # continue the short-way signs from the previous block's last key
            quats = _continuous(np.concatenate([rotations[start - 1 : start], quats]))[1:]
        else:
            quats = _continuous(quats)
        rotations[start:stop] = quats
    rest_local = rest.offsets.copy()
    rest_local[skeleton.root] = points[0, skeleton.root]
    moves = np.abs(translations - rest_local).max(axis=(0, 2)) > STATIC_TOLERANCE_MM
    animated = [n for n in range(nodes) if n == skeleton.root or moves[n]]
    rest_global = rest.rest_positions() + rest_local[skeleton.root]
    return _Rig(hierarchy, rest_local, rest_global, rotations, translations, animated)


def _nodes(rig: _Rig) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    for node in range(rig.hierarchy.num_nodes):
        entry: dict[str, Any] = {"name": rig.hierarchy.names[node]}
        if np.any(rig.rest_local[node]):
            entry["translation"] = [float(v) for v in rig.rest_local[node] * _M]
        children = rig.hierarchy.children(node)
        if children:
            entry["children"] = list(children)
        nodes.append(entry)
    nodes.append({"name": MESH_NODE_NAME, "mesh": 0, "skin": 0})
    return nodes


def _mesh(buffer: _Buffer, rig: _Rig, skeleton: Skeleton) -> tuple[dict[str, Any], int]:
    """The bone mesh's primitive and the inverse-bind-matrix accessor of the skin."""
    positions, normals, colours, joint_ids, weights = _bone_mesh(
        rig.rest_global * _M, skeleton, rig.hierarchy
    )
    if not len(positions):  # glTF has no empty accessors
        raise ValueError("every bone of the rest pose has zero length: no skeleton to draw")
    primitive = {
        "attributes": {
            "POSITION": buffer.add(positions, "VEC3", target=_ARRAY_BUFFER, bounds=True),
            "NORMAL": buffer.add(normals, "VEC3", target=_ARRAY_BUFFER),
            "COLOR_0": buffer.add(colours, "VEC3", target=_ARRAY_BUFFER),
            "JOINTS_0": buffer.add(joint_ids, "VEC4", target=_ARRAY_BUFFER),
            "WEIGHTS_0": buffer.add(weights, "VEC4", target=_ARRAY_BUFFER),
        },
        "material": 0,
        "mode": 4,  # triangles
    }
    nodes = rig.hierarchy.num_nodes
    inverse_bind = np.tile(np.eye(4), (nodes, 1, 1))
    inverse_bind[:, :3, 3] = -rig.rest_global * _M  # the bind pose has no rotations
    column_major = np.swapaxes(inverse_bind, 1, 2).reshape(nodes, 16)
    return primitive, buffer.add(column_major, "MAT4")


def _animation(buffer: _Buffer, rig: _Rig, fps: float) -> dict[str, Any]:
    frames, joints = rig.rotations.shape[:2]
    times = buffer.add(np.arange(frames) / fps, "SCALAR", bounds=True)
    samplers: list[dict[str, Any]] = []
    channels: list[dict[str, Any]] = []
    for joint in range(joints):
        tracks = [("rotation", buffer.add(rig.rotations[:, joint], "VEC4"))]
        if joint in rig.animated:
            tracks.append(("translation", buffer.add(rig.translations[:, joint] * _M, "VEC3")))
        for path, output in tracks:
            channels.append({"sampler": len(samplers), "target": {"node": joint, "path": path}})
            samplers.append({"input": times, "output": output, "interpolation": "LINEAR"})
    return {"name": ANIMATION_NAME, "channels": channels, "samplers": samplers}


def _glb_pieces(
    poses_mm: np.ndarray,
    fps: float,
    *,
    trajectory_mm: np.ndarray | None = None,
    world_from_camera: np.ndarray | None = None,
    skeleton: Skeleton = H36M_17,
) -> list[bytes | memoryview]:
    """The pieces of `write_glb`'s file, in order (`_glb_chunks`)."""
    poses_mm = np.asarray(poses_mm, dtype=np.float64)
    if trajectory_mm is not None:
        trajectory_mm = np.asarray(trajectory_mm, dtype=np.float64)
    if world_from_camera is not None:
        world_from_camera = np.asarray(world_from_camera, dtype=np.float64)
    _check_inputs(poses_mm, fps, trajectory_mm, world_from_camera, skeleton)
    points = animation_positions_mm(poses_mm, trajectory_mm, world_from_camera)
    rig = _rig(points, skeleton)
    buffer = _Buffer()
    primitive, inverse_bind = _mesh(buffer, rig, skeleton)
    animation = _animation(buffer, rig, fps)
    material = {
        "name": "bones",
        "pbrMetallicRoughness": {
            "baseColorFactor": [1.0, 1.0, 1.0, 1.0],  # the vertex colours show
            "metallicFactor": 0.0,
            "roughnessFactor": 0.7,
        },
    }
    extras = {
        "units": "metres",
        "frame": "camera (x, -y, -z)" if world_from_camera is None else "world",
        "fps": float(fps),
        "num_frames": len(points),
    }
    document = {
        "asset": {"version": "2.0", "generator": "ssrstf", "extras": extras},
        "scene": 0,
        "scenes": [{"name": "ssrstf", "nodes": [skeleton.root, rig.hierarchy.num_nodes]}],
        "nodes": _nodes(rig),
        "skins": [
            {
                "name": "skeleton",
                "joints": list(range(rig.hierarchy.num_nodes)),
                "skeleton": skeleton.root,
                "inverseBindMatrices": inverse_bind,
            }
        ],
        "meshes": [{"name": "bones", "primitives": [primitive]}],
        "materials": [material],
        "animations": [animation],
        "accessors": buffer.accessors,
        "bufferViews": buffer.views,
        "buffers": [{"byteLength": len(buffer.data) + (-len(buffer.data) % 4)}],
    }
    return _glb_chunks(document, buffer.data)


def glb_document(
    poses_mm: np.ndarray,
    fps: float,
    *,
    trajectory_mm: np.ndarray | None = None,
    world_from_camera: np.ndarray | None = None,
    skeleton: Skeleton = H36M_17,
) -> bytes:
    """The ``.glb`` bytes of `write_glb` (same arguments, no file)."""
    return b"".join(
        _glb_pieces(
            poses_mm,
            fps,
            trajectory_mm=trajectory_mm,
            world_from_camera=world_from_camera,
            skeleton=skeleton,
        )  # fmt: skip
    )


def write_glb(
    path: str | Path,
    poses_mm: np.ndarray,
    fps: float,
    *,
    trajectory_mm: np.ndarray | None = None,
    world_from_camera: np.ndarray | None = None,
    skeleton: Skeleton = H36M_17,
    overwrite: bool = False,
) -> Path:
    """Write poses as an animated glTF 2.0 binary (Blender: File → Import → glTF 2.0).

    See the module docstring for the file's content, frame and units.

    Args:
        path: Output ``.glb`` file.
        poses_mm: (F, J, 3) millimetres in camera axes (x right, y down, z forward) in
            ``skeleton`` order, usually root-relative.
        fps: Frame rate (key ``k`` is at ``k / fps`` seconds).
        trajectory_mm: (F, 3) camera-space position of the root in mm, added to every joint
            (the root motion); None keeps the poses where they are.
        world_from_camera: (4, 4) rigid transform (mm) from camera axes into a Y-up world frame;
            None uses the camera's BVH frame ``(x, −y, −z)``.
        skeleton: Joint hierarchy and names.
        overwrite: Replace an existing file.

    Returns:
        ``path``.

    Raises:
        ValueError: Bad shapes, non-finite values, a non-positive fps or a non-rigid transform.
        FileExistsError: ``path`` exists and not ``overwrite``.
    """
    pieces = _glb_pieces(
        poses_mm, fps, trajectory_mm=trajectory_mm, world_from_camera=world_from_camera,
        skeleton=skeleton,
    )  # fmt: skip

    def write(temp: Path) -> None:
        with temp.open("wb") as handle:
            for piece in pieces:
                handle.write(piece)

    return atomic_write(path, write, overwrite=overwrite)
