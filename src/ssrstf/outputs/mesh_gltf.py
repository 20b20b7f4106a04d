"""glTF 2.0 binary (``mesh.glb``) of a recovered body mesh: skinned to its skeleton, animated.

Built with the binary layout of `ssrstf.outputs.gltf` (the same writer as ``poses_3d.glb``).
One file holds:

* **the body model's skeleton** as a node hierarchy (anny: 104 bones named as in anny; SMPL:
  its 24 joints) under one node, ``body``, which carries the sequence's scale and the turn from
  camera axes to the file's frame; an animated bone's static transform is its bind (rest)
  pose, a bone that does not move over the clip holds its clip-long value;
* **the mesh** (positions, smooth normals, triangles) in the rest pose of the sequence's shape,
  **skinned** to those bones with the body model's own weights (anny: 9 per vertex, as three
  sets of ``JOINTS_n``/``WEIGHTS_n``), inverse bind matrices = the inverse rest poses;
* **one animation** (``ssrstf``, linear keys at ``k / fps`` s): the rotation of every bone that
  turns, the translation of every bone that moves relative to its parent, and the root's
  translation, which keeps the mesh's pelvis at the origin as in ``mesh.npz``.

Skinning the file at frame k gives ``mesh.npz``'s ``vertices[k]`` (up to float32 rounding) in
the file's frame: glTF's Y up, metres, ``(X, Y, Z) = (x, −y, −z)`` of the camera (the frame of
``poses_3d.glb`` without a world transform), a person facing the camera facing +Z.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ssrstf.files import atomic_write
from ssrstf.geometry import check_fps
from ssrstf.lifting.meshes import MeshSequence
from ssrstf.outputs.bvh import CAMERA_TO_BVH
from ssrstf.outputs.gltf import ANIMATION_NAME, _Buffer, _continuous, _glb_bytes, _quaternions

MESH_NODE = "body_mesh"
"""Name of the node holding the skinned mesh."""
BODY_NODE = "body"
"""Name of the node above the skeleton (scale and axes)."""
SKIN_COLOUR = (0.80, 0.62, 0.52, 1.0)
"""Linear RGBA base colour of the mesh's material."""
STATIC_TOLERANCE = 1e-6
"""A bone's rotation (quaternion components) or translation (metres) counts as animated when
it varies by more than this over the sequence."""

_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963


def _local(globals_: np.ndarray, parents: tuple[int, ...]) -> np.ndarray:
    """Parent-relative transforms (..., K, 4, 4) of global ones (the root's stays global)."""
    local = globals_.copy()
    for k, p in enumerate(parents):
        if p >= 0:
            local[..., k, :, :] = np.linalg.inv(globals_[..., p, :, :]) @ globals_[..., k, :, :]
    return local


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(V, 3) unit normals: the area-weighted sum of the adjacent faces' normals."""
    a, b, c = (vertices[faces[:, i]] for i in range(3))
    face_normals = np.cross(b - a, c - a)
    normals = np.zeros_like(vertices)
    for i in range(3):
        np.add.at(normals, faces[:, i], face_normals)
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    return np.where(length > 0, normals / np.maximum(length, 1e-12), [0.0, 1.0, 0.0])


def _skin_sets(bones: np.ndarray, weights: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """The skinning weights as glTF sets of four (``JOINTS_n``, ``WEIGHTS_n``), normalised."""
    count = -(-bones.shape[1] // 4) * 4
    pad = count - bones.shape[1]
    bones = np.pad(bones, ((0, 0), (0, pad))).astype(np.uint16)
    weights = np.pad(weights, ((0, 0), (0, pad)))
    weights = np.where(weights > 0, weights, 0.0)
    weights = weights / weights.sum(1, keepdims=True)
    bones = np.where(weights > 0, bones, 0).astype(np.uint16)
    return [(bones[:, i : i + 4], weights[:, i : i + 4]) for i in range(0, count, 4)]


def mesh_glb_document(mesh: MeshSequence, fps: float) -> bytes:
    """The ``.glb`` bytes of `write_mesh_glb` (same arguments, no file)."""
    check_fps(fps)
    skin = mesh.skinned
    k = len(skin.bone_names)
    vertices = skin.rest_vertices
    if len(vertices) >= 2**16:
        raise ValueError(f"{len(vertices)} vertices exceed the 16-bit indices of this writer")
    frames = len(skin.posed)
    posed = skin.posed.copy()
    # The pelvis at the origin, as in mesh.npz: every bone moves with it (the pelvis need not
    # be the root bone's head; SMPL's regressed H36M pelvis is not).
    posed[..., :3, 3] -= mesh.root[:, None]
    rest_local = _local(skin.bind, skin.bone_parents)
    local = _local(posed, skin.bone_parents)
    rotations = _continuous(_quaternions(local[..., :3, :3]))
    translations = local[..., :3, 3]

    buffer = _Buffer()
    nodes: list[dict[str, Any]] = [
        {
            "name": BODY_NODE,
            "rotation": [float(v) for v in _quaternions(CAMERA_TO_BVH)],
            "scale": [mesh.scale] * 3,
            "children": [1 + i for i, p in enumerate(skin.bone_parents) if p < 0],
        }
    ]
    children: list[list[int]] = [[] for _ in range(k)]
    for bone, parent in enumerate(skin.bone_parents):
        if parent >= 0:
            children[parent].append(1 + bone)
    rest_rotation = _quaternions(rest_local[:, :3, :3])
    # A channel is written where a value varies over the clip; elsewhere the node holds the
    # clip's constant value (a bone's posed offset from its parent need not be its bind offset:
    # anny poses its bones from reference orientations, not from the bind orientations).
    rotated = [np.ptp(rotations[:, b], axis=0).max() > STATIC_TOLERANCE for b in range(k)]
    moved = [
        skin.bone_parents[b] < 0 or np.ptp(translations[:, b], axis=0).max() > STATIC_TOLERANCE
        for b in range(k)
    ]
    for bone in range(k):
        rotation = rest_rotation[bone] if rotated[bone] else rotations[0, bone]
        translation = rest_local[bone, :3, 3] if moved[bone] else translations[0, bone]
        node: dict[str, Any] = {
            "name": skin.bone_names[bone],
            "rotation": [float(v) for v in rotation],
            "translation": [float(v) for v in translation],
        }
        if children[bone]:
            node["children"] = children[bone]
        nodes.append(node)
    attributes = {
        "POSITION": buffer.add(vertices, "VEC3", target=_ARRAY_BUFFER, bounds=True),
        "NORMAL": buffer.add(vertex_normals(vertices, skin.faces), "VEC3", target=_ARRAY_BUFFER),
    }
    for i, (bones, weights) in enumerate(_skin_sets(skin.skin_bones, skin.skin_weights)):
        attributes[f"JOINTS_{i}"] = buffer.add(bones, "VEC4", target=_ARRAY_BUFFER)
        attributes[f"WEIGHTS_{i}"] = buffer.add(weights, "VEC4", target=_ARRAY_BUFFER)
    indices = buffer.add(
        skin.faces.reshape(-1).astype(np.uint16), "SCALAR", target=_ELEMENT_ARRAY_BUFFER
    )
    inverse_bind = np.linalg.inv(skin.bind)
    ibm = buffer.add(np.swapaxes(inverse_bind, 1, 2).reshape(k, 16), "MAT4")  # column-major
    nodes.append({"name": MESH_NODE, "mesh": 0, "skin": 0})

    times = buffer.add(np.arange(frames) / fps, "SCALAR", bounds=True)
    samplers: list[dict[str, Any]] = []
    channels: list[dict[str, Any]] = []
    for bone in range(k):
        tracks = []
        if rotated[bone]:
            tracks.append(("rotation", buffer.add(rotations[:, bone], "VEC4")))
        if moved[bone]:
            tracks.append(("translation", buffer.add(translations[:, bone], "VEC3")))
        for path, output in tracks:
            channels.append({"sampler": len(samplers), "target": {"node": 1 + bone, "path": path}})
            samplers.append({"input": times, "output": output, "interpolation": "LINEAR"})
    document = {
        "asset": {
            "version": "2.0",
            "generator": "ssrstf",
            "extras": {
                "units": "metres",
                "frame": "camera (x, -y, -z)",
                "fps": float(fps),
                "num_frames": int(frames),
                "body_model": mesh.body_model,
                "shape": {n: float(v) for n, v in zip(mesh.shape_names, mesh.shape, strict=True)},
                "scale": mesh.scale,
                **({"note": skin.note} if skin.note else {}),
            },
        },
        "scene": 0,
        "scenes": [{"name": "ssrstf", "nodes": [0, len(nodes) - 1]}],
        "nodes": nodes,
        "skins": [
            {
                "name": "body",
                "joints": list(range(1, k + 1)),
                "skeleton": 0,
                "inverseBindMatrices": ibm,
            }
        ],  # fmt: skip
        "meshes": [
            {
                "name": "body",
                "primitives": [
                    {"attributes": attributes, "indices": indices, "material": 0, "mode": 4}
                ],
            }
        ],
        "materials": [
            {
                "name": "skin",
                "pbrMetallicRoughness": {
                    "baseColorFactor": list(SKIN_COLOUR),
                    "metallicFactor": 0.0,
                    "roughnessFactor": 0.8,
                },
            }
        ],
        "animations": [{"name": ANIMATION_NAME, "channels": channels, "samplers": samplers}],
        "accessors": buffer.accessors,
        "bufferViews": buffer.views,
        "buffers": [{"byteLength": len(buffer.data) + (-len(buffer.data) % 4)}],
    }
    return _glb_bytes(document, bytes(buffer.data))


def write_mesh_glb(
    path: str | Path, mesh: MeshSequence, fps: float, *, overwrite: bool = False
) -> Path:
    """Write the animated, skinned mesh as ``.glb`` (Blender: File → Import → glTF 2.0).

    Raises:
        ValueError: A non-positive fps, or a mesh too large for 16-bit indices.
        FileExistsError: ``path`` exists and not ``overwrite``.
    """
    data = mesh_glb_document(mesh, fps)
    return atomic_write(path, lambda temp: temp.write_bytes(data), overwrite=overwrite)
