"""The body-model interface: pose and shape parameters → vertices, faces and H36M-17 joints.

Two backends implement it: `ssrstf.mesh.anny_body.AnnyBody` (the default: anny, an open
body model whose data ships inside its wheel) and `ssrstf.mesh.smpl_body.SMPLBody` (the
user's own SMPL model files). The mesh head (`ssrstf.mesh.head`) only sees this interface.

Conventions, for every backend:

* **Pose**: ``(B, T, P, 3, 3)`` rotation matrices, one per posable bone (``pose_bone_names``,
  the root first). The root's is the body's global orientation *in the body model's own
  axes*; the others are each bone's rotation relative to its rest pose, in the backend's own
  parameterisation (documented by the backend). Identity everywhere is the rest pose.
* **Shape**: ``(B, S)``, one vector per clip (shared by its T frames); `neutral_shape` is the
  backend's average body.
* **Outputs** (`BodyOutput`): metres, the body model's axes, the root bone at the origin.
  ``joints`` are the 17 Human3.6M joints in `ssrstf.skeleton.H36M_17` order, each with the
  global rotation of the bone it is attached to (``joint_rotations``), the frame of the mesh
  head's learnable per-joint offsets.
"""

from __future__ import annotations

import copy
import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from ssrstf.skeleton import H36M_17


@dataclass
class BodyOutput:
    """A posed body.

    Attributes:
        joints: (B, T, 17, 3) H36M-17 joints, metres.
        joint_rotations: (B, T, 17, 3, 3) global rotation of each joint's bone.
        vertices: (B, T, V, 3) metres (all vertices or the requested subset), or None.
    """

    joints: Tensor
    joint_rotations: Tensor
    vertices: Tensor | None = None


@dataclass
class SkinnedMesh:
    """One shape's mesh as a skeleton with linear-blend-skinning weights, posed over F frames
    (what an animation file needs; numpy, metres, the body model's axes).

    ``posed[t, k] @ inv(bind[k])`` is bone k's skinning transform at frame t, so that the posed
    vertices are ``Σ_k w_vk · posed[t, k] · inv(bind[k]) · rest_vertices[v]``.

    Attributes:
        rest_vertices: (V, 3) the shape's rest vertices.
        faces: (F_tri, 3) triangles.
        bone_names: (K,) names; bone_parents: (K,) parent index, -1 for the root (parents first).
        bind: (K, 4, 4) global rest transform of each bone.
        posed: (T, K, 4, 4) global posed transform of each bone per frame.
        skin_bones: (V, N) bone of each skinning weight; skin_weights: (V, N) the weights.
        note: What the skinning leaves out, if anything (SMPL: its pose-corrective shapes).
    """

    rest_vertices: np.ndarray
    faces: np.ndarray
    bone_names: tuple[str, ...]
    bone_parents: tuple[int, ...]
    bind: np.ndarray
    posed: np.ndarray
    skin_bones: np.ndarray
    skin_weights: np.ndarray
    note: str = ""


@dataclass(frozen=True)
class IKLink:
    """One bone aimed by `ssrstf.mesh.ik.solve_swing_ik`.

    Attributes:
        bone: Its index among the posable bones.
        ancestor: Index (in the link list) of the nearest aimed ancestor; -1: the root.
        joints: (from, to) H36M-17 joints of the segment it must point along.
        rest_direction: Its rest direction in the body model's axes (that segment at rest).
    """

    bone: int
    ancestor: int
    joints: tuple[int, int]
    rest_direction: tuple[float, float, float]


@dataclass(frozen=True)
class IKSetup:
    """What `ssrstf.mesh.ik.solve_swing_ik` needs of a body model (its rest torso frame)."""

    links: tuple[IKLink, ...]
    rest_up: tuple[float, float, float]
    rest_across: tuple[float, float, float]
    up_joints: tuple[int, int] = (H36M_17.index("pelvis"), H36M_17.index("spine"))
    across_joints: tuple[int, int] = (H36M_17.index("right_hip"), H36M_17.index("left_hip"))


def ik_links(
    segments: Sequence[tuple[int, str, str]],
    rest_joints: np.ndarray,
    ancestors: Sequence[int],
) -> tuple[IKLink, ...]:
    """`IKLink`s of (bone, from joint, to joint) rows with the rest joints (17, 3)."""
    links = []
    for (bone, start, end), ancestor in zip(segments, ancestors, strict=True):
        a, b = H36M_17.index(start), H36M_17.index(end)
        direction = rest_joints[b] - rest_joints[a]
        links.append(IKLink(bone, ancestor, (a, b), tuple(float(v) for v in direction)))
    return tuple(links)


@dataclass(frozen=True)
class JointLimit:
    """Allowed rotation of one posable bone (radians), for the joint-angle-limit loss.

    ``max_angle``: the largest rotation angle. A hinge (``hinge_axis`` set, a unit 3-vector
    in the parameterisation's axes) additionally allows flexion ``θ = r·axis`` only within
    ``[-max_extension, max_angle]`` and at most ``max_off_axis`` of rotation about other axes.
    """

    max_angle: float
    hinge_axis: tuple[float, float, float] | None = None
    max_extension: float = 0.0
    max_off_axis: float = 0.0


def content_sha256(*parts: object) -> str:
    """Hex SHA-256 of ``parts`` in order, independent of the machine and of the file they came
    from: a tensor or array by its dtype, shape and little-endian bytes (on the CPU), a list or
    tuple element by element, None as such, anything else by its text."""
    digest = hashlib.sha256()

    def add(part: object) -> None:
        if isinstance(part, Tensor):
            part = part.detach().cpu().numpy()
        if isinstance(part, np.ndarray):
            array = np.ascontiguousarray(part, dtype=part.dtype.newbyteorder("<"))
            digest.update(f"array {array.dtype.str} {array.shape}\n".encode())
            digest.update(array.tobytes())
        elif isinstance(part, (list, tuple)):
            digest.update(f"sequence {len(part)}\n".encode())
            for item in part:
                add(item)
        elif part is None:
            digest.update(b"none\n")
        else:
            text = str(part).encode()
            digest.update(f"text {len(text)}\n".encode() + text)

    for part in parts:
        add(part)
    return digest.hexdigest()


def module_copy(module: nn.Module) -> nn.Module:
    """A copy of ``module`` and its submodules that shares their tensors but not the tables
    that hold them, so that ``_apply`` (``.to``, ``.double``) on the copy leaves ``module`` as it
    was."""
    clone = copy.copy(module)
    clone.__dict__["_parameters"] = {
        k: None if p is None else nn.Parameter(p.data, requires_grad=p.requires_grad)
        for k, p in module._parameters.items()
    }
    clone.__dict__["_buffers"] = dict(module._buffers)
    clone.__dict__["_modules"] = {
        k: None if m is None else module_copy(m) for k, m in module._modules.items()
    }
    return clone


class BodyModel(nn.Module, ABC):
    """A parametric body: `forward` maps pose and shape to joints (and vertices).

    Subclasses set ``pose_bone_names`` (P names, root first), ``shape_names`` (S names) and
    ``_identity`` (what `identity` returns, computed once at construction) and register
    ``faces`` ((F, 3) int64 triangles) as a buffer.
    """

    pose_bone_names: tuple[str, ...]
    shape_names: tuple[str, ...]
    faces: Tensor
    _identity: dict[str, str]

    def identity(self) -> dict[str, str]:
        """What a mesh checkpoint records of the body model it was trained with
        (`ssrstf.mesh.model.check_body_record` compares it on load): ``kind`` (``anny``,
        ``smpl``) and ``content_sha256`` (`content_sha256` of the data that gives the head's
        parameters their meaning), plus informational keys (an SMPL file's name and SHA-256,
        anny's version and variant). Moved copies (`moved`) keep it."""
        identity = self.__dict__.get("_identity")
        if identity is None:
            raise TypeError(
                f"{type(self).__name__} sets no _identity: a BodyModel subclass records what it "
                "is at construction (`BodyModel.identity`)"
            )
        return dict(identity)

    @property
    def num_pose_bones(self) -> int:
        """P, the posable bones (root first)."""
        return len(self.pose_bone_names)

    @property
    def num_shape(self) -> int:
        """S, the shape parameters."""
        return len(self.shape_names)

    @property
    @abstractmethod
    def num_vertices(self) -> int:
        """V, the vertices of the full mesh."""

    @abstractmethod
    def facing_camera(self) -> Tensor:
        """(3, 3) the root rotation of an upright body facing the camera (camera axes: x right,
        y down, z forward), the mesh head's starting orientation."""

    @abstractmethod
    def neutral_shape(self) -> Tensor:
        """(S,) the average body's shape parameters."""

    @abstractmethod
    def foot_vertex_ids(self) -> Tensor:
        """(V_foot,) the vertices of both feet (for the feet-below-floor figure)."""

    @abstractmethod
    def joint_limits(self) -> list[JointLimit | None]:
        """Per posable bone, its `JointLimit` (None: unlimited, e.g. the root)."""

    @abstractmethod
    def forward(self, pose: Tensor, shape: Tensor, *, vertices: bool | Tensor = True) -> BodyOutput:
        """Pose the body.

        Args:
            pose: (B, T, P, 3, 3) rotations (see the module docstring).
            shape: (B, S) shape parameters, one per clip.
            vertices: True for every vertex, False for none (joints only, the fast path), or
                a (V',) int64 tensor of vertex indices.
        """

    @abstractmethod
    def ik_setup(self) -> IKSetup:
        """The bones swing IK aims and the rest torso frame (`ssrstf.mesh.ik`)."""

    @abstractmethod
    def skinned_mesh(self, pose: Tensor, shape: Tensor) -> SkinnedMesh:
        """The `SkinnedMesh` of one clip: pose (1, T, P, 3, 3), shape (1, S)."""

    def check_inputs(self, pose: Tensor, shape: Tensor) -> None:
        """Raise a `ValueError` naming the expected shapes when ``pose``/``shape`` do not fit."""
        p, s = self.num_pose_bones, self.num_shape
        if pose.ndim != 5 or pose.shape[2:] != (p, 3, 3):
            raise ValueError(f"pose must be (B, T, {p}, 3, 3), got {tuple(pose.shape)}")
        if shape.ndim != 2 or shape.shape != (pose.shape[0], s):
            raise ValueError(f"shape must be ({pose.shape[0]}, {s}), got {tuple(shape.shape)}")

    def moved(self, fn: Callable[[Tensor], Tensor]) -> BodyModel:
        """A copy of this body with ``fn`` applied to its tensors as ``nn.Module._apply`` does
        (``.to(device)``, ``.double()``); this body stays where it is, so a body shared by
        several models (anny's) is never moved under another user's feet."""
        clone = module_copy(self)
        clone._apply(fn)
        return clone

    def rest_pose(self, batch: int = 1, frames: int = 1) -> Tensor:
        """(batch, frames, P, 3, 3) identity rotations: the rest pose."""
        like = self.neutral_shape()
        eye = torch.eye(3, dtype=like.dtype, device=like.device)
        return eye.expand(batch, frames, self.num_pose_bones, 3, 3).clone()


NUM_JOINTS = H36M_17.num_joints
"""The joints every backend returns (Human3.6M-17)."""
