"""Independent readers of the animation files, for the tests: nothing here comes from the writers.

* BVH: bvhio (a BVH library, dev extra) parses the file and computes every joint's world
  position by its own forward kinematics (`bvh_positions_mm`).
* GLB: pygltflib (dev extra) parses the file; the glTF 2.0 rules do the rest (`Glb`: node matrix
  T · R · S, global = parent · local, accessors as typed views of the binary chunk, skinning
  ``Σ w · joint_global · inverse_bind``).

Both return positions in the file's own Y-up frame, in millimetres.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

_COMPONENTS = {5126: np.float32, 5123: np.uint16, 5125: np.uint32, 5121: np.uint8}
_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}


def bvh_positions_mm(path: Path, joints: Sequence[str], mm_per_unit: float = 10.0) -> np.ndarray:
    """(F, J, 3) world positions of the named joints in every frame, by bvhio's kinematics."""
    import bvhio

    root = bvhio.readAsHierarchy(str(path))
    by_name = {joint.Name: joint for joint, _, _ in root.layout()}
    frames = len(root.Keyframes)
    out = np.zeros((frames, len(joints), 3))
    for frame in range(frames):
        root.loadPose(frame)
        for k, name in enumerate(joints):
            out[frame, k] = np.array(by_name[name].PositionWorld)
    return out * mm_per_unit


def rotation_matrices(q: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices of quaternions (..., 4) stored x, y, z, w."""
    x, y, z, w = np.moveaxis(q / np.linalg.norm(q, axis=-1, keepdims=True), -1, 0)
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
        np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
        np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
    ], axis=-2)  # fmt: skip


class Glb:
    """A GLB parsed by pygltflib, with accessors decoded to numpy arrays."""

    def __init__(self, path: Path) -> None:
        import pygltflib

        self.gltf = pygltflib.GLTF2().load(str(path))
        self.blob = self.gltf.binary_blob()

    def accessor(self, index: int) -> np.ndarray:
        acc = self.gltf.accessors[index]
        view = self.gltf.bufferViews[acc.bufferView]
        width = _WIDTH[acc.type]
        dtype = np.dtype(_COMPONENTS[acc.componentType]).newbyteorder("<")
        start = (view.byteOffset or 0) + (acc.byteOffset or 0)
        raw = np.frombuffer(self.blob, dtype=dtype, count=acc.count * width, offset=start)
        return raw.reshape(acc.count, width).astype(np.float64)

    def channels(self) -> dict[tuple[int, str], tuple[np.ndarray, np.ndarray]]:
        """(node, path) → (key times, values) of the file's one animation."""
        (animation,) = self.gltf.animations
        out = {}
        for channel in animation.channels:
            sampler = animation.samplers[channel.sampler]
            out[channel.target.node, channel.target.path] = (
                self.accessor(sampler.input)[:, 0],
                self.accessor(sampler.output),
            )
        return out

    def node_index(self, name: str) -> int:
        return next(i for i, node in enumerate(self.gltf.nodes) if node.name == name)

    def joint_matrices(self) -> np.ndarray:
        """(F, N, 4, 4) global matrices of the skin's joints by forward kinematics."""
        gltf = self.gltf
        (skin,) = gltf.skins
        channels = self.channels()
        frames = len(next(iter(channels.values()))[0])
        parent = {c: i for i, node in enumerate(gltf.nodes) for c in (node.children or [])}
        globals_: dict[int, np.ndarray] = {}

        def global_matrix(index: int) -> np.ndarray:
            if index in globals_:
                return globals_[index]
            node = gltf.nodes[index]
            t = np.tile(np.array(node.translation or [0.0, 0.0, 0.0]), (frames, 1))
            q = np.tile(np.array(node.rotation or [0.0, 0.0, 0.0, 1.0]), (frames, 1))
            s = np.tile(np.array(node.scale or [1.0, 1.0, 1.0]), (frames, 1))
            if (index, "translation") in channels:
                t = channels[index, "translation"][1]
            if (index, "rotation") in channels:
                q = channels[index, "rotation"][1]
            if (index, "scale") in channels:
                s = channels[index, "scale"][1]
            local = np.tile(np.eye(4), (frames, 1, 1))
            local[:, :3, :3] = rotation_matrices(q) * s[:, None, :]
            local[:, :3, 3] = t
            result = local if index not in parent else global_matrix(parent[index]) @ local
            globals_[index] = result
            return result

        return np.stack([global_matrix(j) for j in skin.joints], axis=1)

    def positions_mm(self, names: Sequence[str]) -> np.ndarray:
        """(F, J, 3) global positions of the named skin joints in mm."""
        skin_names = [self.gltf.nodes[j].name for j in self.gltf.skins[0].joints]
        matrices = self.joint_matrices()
        chosen = matrices[:, [skin_names.index(n) for n in names]]
        return chosen[..., :3, 3] * 1000.0

    def skinned_vertices_mm(self) -> tuple[np.ndarray, np.ndarray]:
        """The skinned mesh: rest vertex positions (V, 3) and posed ones (F, V, 3), mm."""
        gltf = self.gltf
        mesh_node = next(n for n in gltf.nodes if n.mesh is not None)
        (primitive,) = gltf.meshes[mesh_node.mesh].primitives
        attributes = primitive.attributes
        position = self.accessor(attributes.POSITION)
        inverse_bind = self.accessor(gltf.skins[0].inverseBindMatrices).reshape(-1, 4, 4)
        inverse_bind = np.swapaxes(inverse_bind, 1, 2)  # column-major in the file
        skinning = self.joint_matrices() @ inverse_bind  # (F, N, 4, 4)
        homogeneous = np.concatenate([position, np.ones((len(position), 1))], axis=1)
        posed = np.zeros((len(skinning), len(position), 3))
        sets = 0  # JOINTS_0/WEIGHTS_0, JOINTS_1/WEIGHTS_1, ...: 4 influences each
        while getattr(attributes, f"JOINTS_{sets}", None) is not None:
            joints = self.accessor(getattr(attributes, f"JOINTS_{sets}")).astype(int)
            weights = self.accessor(getattr(attributes, f"WEIGHTS_{sets}"))
            for k in range(4):
                per_vertex = skinning[:, joints[:, k]]  # (F, V, 4, 4)
                moved = np.einsum("fvab,vb->fva", per_vertex, homogeneous)[..., :3]
                posed += weights[None, :, k : k + 1] * moved
            sets += 1
        return position * 1000.0, posed * 1000.0
