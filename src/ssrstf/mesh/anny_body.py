"""The default `BodyModel`: anny (NAVER, code Apache-2.0, MakeHuman body data CC0-1.0).

anny's default model (``anny.Anny()``, extra ``mesh``) ships all its data inside the wheel and
downloads nothing. Its first construction builds a cache of about 0.8 GB (35-75 s on an idle
2-core CPU, several minutes on a busy one) in ``ANNY_CACHE_DIR`` (default ``~/.cache/anny``);
later constructions read it in well under a second. `load_anny` says so once before building,
never rebuilds a present cache, and keeps one float32 model per process.

anny's frame: z up, the body facing −y, its left at +x, metres, an A-pose at rest (1.63 m tall at
phenotype 0.5). 104 bones; the mesh head poses the root (the global orientation) and the 33
**body bones** (`BODY_BONES`: spine, neck, head, clavicles, shoulders, arms with their twist
bones, wrists, legs with their twist bones, feet); fingers, toes, eyes and the two rigid pelvis
bones stay at rest. Pose rotations are anny's ``local-ref`` deltas: each bone's rotation about
its head in the axes of the rest pose (carried along by its parents), so a knee bends about the
x axis. Shape: anny's six phenotype values (gender, age, muscle, weight, height, proportions)
in [0, 1], 0.5 the average.

Human3.6M joints (docs/mesh.md): bone heads for 15 joints, the COCO ``nose`` keypoint of anny's
keypoint regressor for the neck/nose point, the top of the skull (the highest midline vertex
at the average shape) for the head.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ssrstf.mesh.body import (
    BodyModel,
    BodyOutput,
    IKSetup,
    JointLimit,
    SkinnedMesh,
    content_sha256,
    ik_links,
    module_copy,
)
from ssrstf.mesh.extra import require_mesh
from ssrstf.mesh.metrics import foot_vertex_ids
from ssrstf.mesh.smpl_body import hinge_limit
from ssrstf.skeleton import H36M_17

logger = logging.getLogger(__name__)

ANNY_VERSION = "0.6.2"
"""The anny release this backend is written and tested against (extra ``mesh`` pins it)."""

BODY_BONES: tuple[str, ...] = (
    "spine05", "spine04", "spine03", "spine02", "spine01",
    "neck01", "neck02", "neck03", "head",
    "clavicle.L", "shoulder01.L", "upperarm01.L", "upperarm02.L", "lowerarm01.L",
    "lowerarm02.L", "wrist.L",
    "clavicle.R", "shoulder01.R", "upperarm01.R", "upperarm02.R", "lowerarm01.R",
    "lowerarm02.R", "wrist.R",
    "upperleg01.L", "upperleg02.L", "lowerleg01.L", "lowerleg02.L", "foot.L",
    "upperleg01.R", "upperleg02.R", "lowerleg01.R", "lowerleg02.R", "foot.R",
)  # fmt: skip
"""anny's 33 body bones, posed by the mesh head (after the root)."""

H36M_FROM_ANNY: dict[str, str] = {
    "pelvis": "root", "right_hip": "upperleg01.R", "right_knee": "lowerleg01.R",
    "right_ankle": "foot.R", "left_hip": "upperleg01.L", "left_knee": "lowerleg01.L",
    "left_ankle": "foot.L", "spine": "spine02", "thorax": "neck01", "neck": "nose",
    "head": "skull_top", "left_shoulder": "upperarm01.L", "left_elbow": "lowerarm01.L",
    "left_wrist": "wrist.L", "right_shoulder": "upperarm01.R", "right_elbow": "lowerarm01.R",
    "right_wrist": "wrist.R",
}  # fmt: skip
"""Human3.6M joint → anny bone whose head it is (``nose``, ``skull_top``: mesh points that move
with the ``head`` bone). anny's subject's left is +x; H36M's left joints map to ``.L``."""

# Bones aimed by swing IK (ssrstf.mesh.ik): (bone, H36M segment start, end), parents first.
_IK_SEGMENTS = (
    ("spine05", "pelvis", "spine"), ("spine02", "spine", "thorax"), ("neck01", "thorax", "head"),
    ("clavicle.L", "thorax", "left_shoulder"), ("upperarm01.L", "left_shoulder", "left_elbow"),
    ("lowerarm01.L", "left_elbow", "left_wrist"),
    ("clavicle.R", "thorax", "right_shoulder"), ("upperarm01.R", "right_shoulder", "right_elbow"),
    ("lowerarm01.R", "right_elbow", "right_wrist"),
    ("upperleg01.L", "left_hip", "left_knee"), ("lowerleg01.L", "left_knee", "left_ankle"),
    ("upperleg01.R", "right_hip", "right_knee"), ("lowerleg01.R", "right_knee", "right_ankle"),
)  # fmt: skip
_FRONT = np.array([0.0, -1.0, 0.0])  # anny faces -y
_DEG = np.pi / 180

# Largest rotation (degrees) of each body bone; hinges and twist bones below.
_MAX_ANGLE = {
    "spine": 30, "neck": 30, "head": 45, "clavicle": 30, "shoulder01": 30, "upperarm01": 150,
    "wrist": 80, "upperleg01": 120, "foot": 45,
}  # fmt: skip
_TWIST = {"upperarm02": 90, "lowerarm02": 90, "upperleg02": 45, "lowerleg02": 30}
_HINGES = {"lowerarm01": ("wrist", _FRONT), "lowerleg01": ("foot", -_FRONT)}


def anny_cache_dir() -> Path:
    """Where anny keeps its built model data: ``$ANNY_CACHE_DIR``, else ``~/.cache/anny``."""
    return Path(os.environ.get("ANNY_CACHE_DIR") or Path.home() / ".cache" / "anny")


def is_cache_built(cache_dir: Path | None = None) -> bool:
    """Whether anny's cache folder already holds built model data (safetensors files)."""
    folder = cache_dir or anny_cache_dir()
    return folder.is_dir() and any(folder.glob("v*/*.safetensors"))


_MODEL: dict[str, object] = {}


def load_anny(*, quiet: bool = False):
    """The process's one anny model (``anny.Anny()`` in float32), built on first use.

    Prints a one-time note to stderr before a first construction builds anny's cache.

    Raises:
        ImportError: `ssrstf.mesh.extra.MissingMeshError` naming the ``mesh`` extra.
    """
    key = str(anny_cache_dir())
    if key in _MODEL:
        return _MODEL[key]
    anny = require_mesh("anny")
    require_mesh("anny.paths").set_anny_cache_path(anny_cache_dir())
    building = not is_cache_built()
    if building and not quiet:
        print(
            f"building anny's body-model cache in {anny_cache_dir()} (first use only: about "
            "0.8 GB and 1 minute on an idle CPU; set ANNY_CACHE_DIR to put it elsewhere) ...",
            file=sys.stderr,
            flush=True,
        )
    start = time.perf_counter()
    model = anny.Anny().to(torch.float32).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    logger.info("anny model ready in %.1f s (cache %s)", time.perf_counter() - start, key)
    _MODEL[key] = model
    return model


class AnnyBody(BodyModel):
    """anny as a `BodyModel` (see the module docstring for frames and parameters).

    Args:
        model: A constructed anny model (default: `load_anny`, shared by the process).
    """

    def __init__(self, model=None) -> None:
        super().__init__()
        model = model if model is not None else load_anny()
        # Kept outside the module tree: anny's tensors are data, not weights to checkpoint.
        # `_apply` (``.to``) points ``anny`` at a copy of the model on the new device and dtype,
        # made once per (device, dtype) and shared by this body's moved copies; the given model
        # (the process's shared one) is never moved.
        self.__dict__["anny"] = model
        self.__dict__["_annys"] = {(model.template_vertices.device, model.dtype): model}
        self.__dict__["_kinematics"] = require_mesh("anny.utils.kinematics")
        self.__dict__["_keypoints"] = require_mesh("anny.keypoints")
        labels = list(model.bone_labels)
        self.bone_labels = tuple(labels)
        self.bone_parents = tuple(int(p) for p in model.bone_parents)
        self.pose_bone_names = ("root", *BODY_BONES)
        self.shape_names = tuple(model.phenotype_labels)
        self.register_buffer("faces", model.faces.to(torch.int64), persistent=False)
        pose_ids = [labels.index(name) for name in self.pose_bone_names]
        self.register_buffer("pose_bone_ids", torch.tensor(pose_ids), persistent=False)
        rest = self._rest_model(self.neutral_shape()[None])
        self._define_joints(model, rest["rest_vertices"][0], labels)
        self._identity = self._make_identity(model)

    def _make_identity(self, model) -> dict[str, str]:
        """anny's `identity`: for the record, its version and variant (the settings
        ``anny.Anny`` was built with); compared on load, the SHA-256 of its mesh, rig, pose
        parameterisation, phenotype names and H36M joint definition (integers and names only:
        floats rebuilt from anny's cache may differ in their last bits between machines)."""
        content = (model.pose_parameterization, model.bone_orientation)
        content += (model.root_identity_orientation, self.faces, self.bone_labels)
        content += (self.bone_parents, self.pose_bone_names, self.shape_names, self.num_vertices)
        content += (self.point_vertex_ids, self.joint_bones, self.joint_points)
        return {
            "kind": "anny",
            "version": str(getattr(require_mesh("anny"), "__version__", "unknown")),
            "variant": repr(getattr(model, "config", None)),
            "content_sha256": content_sha256("anny", *content),
        }

    def _define_joints(self, model, rest_vertices: Tensor, labels: list[str]) -> None:
        regressor = self._keypoints.KeypointsRegressor.coco(model)
        nose = regressor.regression_weights[regressor.labels.index("nose")].float()
        support = torch.nonzero(nose > 0).flatten()
        midline = rest_vertices[:, 0].abs() < 0.01
        top = int(torch.where(midline, rest_vertices[:, 2], -torch.inf).argmax())
        self.register_buffer("point_vertex_ids", torch.cat([support, torch.tensor([top])]), False)
        weights = torch.zeros(2, len(support) + 1)
        weights[0, : len(support)] = nose[support] / nose[support].sum()
        weights[1, -1] = 1.0
        self.register_buffer("point_weights", weights, persistent=False)
        head = labels.index("head")
        bones, points = [], []
        for name in H36M_17.joint_names:
            target = H36M_FROM_ANNY[name]
            if target in ("nose", "skull_top"):
                points.append(0 if target == "nose" else 1)
                bones.append(head)
            else:
                points.append(-1)
                bones.append(labels.index(target))
        self.register_buffer("joint_bones", torch.tensor(bones), persistent=False)
        # Per H36M joint: -1 (a bone head) or the row of point_weights it is.
        self.register_buffer("joint_points", torch.tensor(points), persistent=False)

    def _apply(self, fn, recurse=True):  # noqa: D401 - nn.Module hook
        super()._apply(fn, recurse)
        like = self.point_weights  # a floating buffer: the body's device and dtype now
        self.__dict__["anny"] = self._anny_for(like.device, like.dtype)
        return self

    def _anny_for(self, device: torch.device, dtype: torch.dtype):
        """The anny model on ``device`` in ``dtype`` (a copy of the given one, made once)."""
        cache = self.__dict__["_annys"]
        key = (torch.device(device), dtype)
        if key not in cache:
            base = next(iter(cache.values()))  # the model given at construction
            cache[key] = module_copy(base).to(device=device, dtype=dtype)
        return cache[key]

    @property
    def cpu_anny(self):
        """The anny model on the CPU in float32 (what anny's CPU-side tools expect)."""
        return self._anny_for(torch.device("cpu"), torch.float32)

    @property
    def num_vertices(self) -> int:
        """V = 13,718."""
        return int(self.anny.template_vertices.shape[0])

    def facing_camera(self) -> Tensor:
        """anny's up (+z) to the camera's up (−y), its front (−y) towards the camera (−z)."""
        return torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])

    def neutral_shape(self) -> Tensor:
        """Every phenotype value at 0.5."""
        like = self.anny.template_vertices  # anny follows the body's device and dtype
        return torch.full((len(self.shape_names),), 0.5, device=like.device, dtype=like.dtype)

    def foot_vertex_ids(self) -> Tensor:
        """Vertices skinned mostly to ``foot.*`` or a toe bone."""
        feet = [i for i, n in enumerate(self.bone_labels) if n.startswith(("foot.", "toe"))]
        model = self.anny
        return foot_vertex_ids(model.vertex_bone_indices, model.vertex_bone_weights, feet)

    def ik_setup(self) -> IKSetup:
        """13 aimed bones (spine, neck, clavicles, arms, legs); the rest frame at phenotype 0.5."""
        with torch.no_grad():
            rest = self(self.rest_pose(), self.neutral_shape()[None], vertices=False)
        joints = rest.joints[0, 0].double().cpu().numpy()
        names = self.pose_bone_names
        aimed = [self.bone_labels.index(bone) for bone, _, _ in _IK_SEGMENTS]
        ancestors = []
        for bone in aimed:  # the nearest aimed ancestor in anny's tree (-1: the root)
            parent = self.bone_parents[bone]
            while parent > 0 and parent not in aimed:
                parent = self.bone_parents[parent]
            ancestors.append(aimed.index(parent) if parent in aimed else -1)
        segments = [(names.index(b), s, e) for b, s, e in _IK_SEGMENTS]
        index = H36M_17.index
        return IKSetup(
            links=ik_links(segments, joints, ancestors),
            rest_up=tuple(joints[index("spine")] - joints[index("pelvis")]),
            rest_across=tuple(joints[index("left_hip")] - joints[index("right_hip")]),
        )

    def joint_limits(self) -> list[JointLimit | None]:
        """Per posed bone: free root, hinged elbows and knees, twist-only twist bones."""
        rest = self._rest_model(self.neutral_shape()[None])
        heads = rest["rest_bone_poses"][0, :, :3, 3].cpu().numpy()
        labels = list(self.bone_labels)
        limits: list[JointLimit | None] = [None]
        for name in BODY_BONES:
            kind = name.split(".")[0]
            for prefix in ("spine", "neck"):
                kind = prefix if kind.startswith(prefix) else kind
            side = name[len(name.split(".")[0]) :]
            if kind in _HINGES:
                child, flexion = _HINGES[kind]
                bone = heads[labels.index(child + side)] - heads[labels.index(name)]
                limits.append(hinge_limit(bone, flexion, max_angle=150 * _DEG))
            elif kind in _TWIST:
                child = labels[self.bone_parents.index(labels.index(name))]
                axis = heads[labels.index(child)] - heads[labels.index(name)]
                axis = axis / np.linalg.norm(axis)
                limits.append(JointLimit(
                    max_angle=_TWIST[kind] * _DEG, hinge_axis=tuple(float(a) for a in axis),
                    max_extension=_TWIST[kind] * _DEG, max_off_axis=5 * _DEG,
                ))  # fmt: skip
            else:
                limits.append(JointLimit(max_angle=_MAX_ANGLE[kind] * _DEG))
        return limits

    def _rest_model(self, shape: Tensor) -> dict[str, Tensor]:
        """anny's rest model (vertices, bone heads and poses) of phenotypes (B, 6)."""
        model = self.anny
        empty = shape.new_zeros(len(shape), 0)
        local = shape.new_zeros(len(shape), len(model.local_change_labels))
        coeffs = model._get_phenotype_blendshape_coefficients(shape, local, empty)
        return model.get_rest_model(coeffs)

    def deltas(self, pose: Tensor) -> Tensor:
        """anny's (B, T, 104, 4, 4) local-ref pose parameters of our (B, T, P, 3, 3) pose.

        The root's delta ``D_0`` is conjugated by its reference orientation ``U_0`` so that
        ``pose[:, :, 0]`` is the global orientation (anny: ``W_0 = U_0ᵀ D_0 U_0``).
        """
        b, t = pose.shape[:2]
        eye = torch.eye(4, dtype=pose.dtype, device=pose.device)
        deltas = eye.expand(b, t, len(self.bone_labels), 4, 4).clone()
        rotations = pose.clone()
        u0 = self.anny.reference_bone_orientations[0].to(pose.dtype)
        rotations[:, :, 0] = u0 @ pose[:, :, 0] @ u0.T
        deltas[:, :, self.pose_bone_ids, :3, :3] = rotations
        return deltas

    def _posed(self, pose: Tensor, shape: Tensor):
        """anny's rest model of ``shape`` and its bone transforms and poses (B, T, 104, 4, 4)."""
        model = self.anny
        b, t = pose.shape[:2]
        rest = self._rest_model(shape)
        rest_poses = rest["rest_bone_poses"][:, None].expand(b, t, -1, 4, 4)
        transforms, poses = self._kinematics.forward_kinematic(
            (model.kinematic_chain_levels, model.kinematic_chain_indices),
            rest_poses,
            self.deltas(pose),
            "local-ref",
            model.reference_bone_orientations,
        )
        return rest, transforms, poses

    def skinned_mesh(self, pose: Tensor, shape: Tensor) -> SkinnedMesh:
        """anny's 104 bones, its rest mesh of ``shape`` and its skinning weights (9 per vertex)."""
        self.check_inputs(pose, shape)
        with torch.no_grad():
            rest, _, poses = self._posed(pose[:1], shape[:1])
        model = self.anny
        return SkinnedMesh(
            rest_vertices=rest["rest_vertices"][0].double().cpu().numpy(),
            faces=self.faces.cpu().numpy(),
            bone_names=self.bone_labels,
            bone_parents=self.bone_parents,
            bind=rest["rest_bone_poses"][0].double().cpu().numpy(),
            posed=poses[0].double().cpu().numpy(),
            skin_bones=model.vertex_bone_indices.cpu().numpy(),
            skin_weights=model.vertex_bone_weights.double().cpu().numpy(),
        )

    def forward(self, pose: Tensor, shape: Tensor, *, vertices: bool | Tensor = True) -> BodyOutput:
        """Pose anny (see `BodyModel.forward`); the root bone's head is at the origin."""
        self.check_inputs(pose, shape)
        model = self.anny
        b, t = pose.shape[:2]
        rest, transforms, poses = self._posed(pose, shape)
        rest_vertices = rest["rest_vertices"]  # (B, V, 3)
        points = self.skin(rest_vertices, transforms, self.point_vertex_ids)
        points = torch.einsum("pk,btkc->btpc", self.point_weights, points)
        is_point = self.joint_points >= 0
        joints = torch.where(
            is_point[:, None],
            points[..., self.joint_points.clamp_min(0), :],
            poses[..., self.joint_bones, :3, 3],
        )
        out_vertices = None
        if isinstance(vertices, Tensor):
            out_vertices = self.skin(rest_vertices, transforms, vertices)
        elif vertices:
            flat = transforms.reshape(b * t, -1, 4, 4)
            full = model.get_skinned_vertices(
                rest_vertices[:, None].expand(b, t, -1, 3).reshape(b * t, -1, 3), flat
            )
            out_vertices = full.reshape(b, t, -1, 3)
        return BodyOutput(
            joints=joints,
            joint_rotations=poses[..., self.joint_bones, :3, :3],
            vertices=out_vertices,
        )

    def skin(self, rest_vertices: Tensor, transforms: Tensor, ids: Tensor) -> Tensor:
        """Linear blend skinning of the vertices ``ids`` only: (B, T, V', 3).

        The blend ``Σ_k w_vk T_k`` runs as one matrix product over the bones that influence
        these vertices (a dense (V', bones) weight matrix), not as a gather of per-vertex
        bone transforms, which would copy 16 floats per vertex, weight and frame.

        Args:
            rest_vertices: (B, V, 3) rest vertices of each clip's shape.
            transforms: (B, T, 104, 4, 4) bone transforms (posed pose · rest pose⁻¹).
            ids: (V',) vertex indices.
        """
        model = self.anny
        bones = model.vertex_bone_indices[ids]  # (V', K)
        weights = model.vertex_bone_weights[ids].to(transforms.dtype)
        used, slot = torch.unique(bones, return_inverse=True)
        dense = weights.new_zeros(len(ids), len(used))
        dense.scatter_add_(1, slot, weights)
        blended = torch.einsum("vu,btuij->btvij", dense, transforms[:, :, used, :3, :])
        rest = rest_vertices[:, ids]  # (B, V', 3)
        return torch.einsum("btvij,bvj->btvi", blended[..., :3], rest) + blended[..., 3]
