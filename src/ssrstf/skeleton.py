"""Skeleton definitions: the single source of truth for joint orders, parents and flip pairs.

Every joint index literal of the project lives in this module. Other modules ask a `Skeleton`
for names, bones, adjacency, the left/right flip permutation or a traversal order, and use a
`JointMapping` to bring 2D keypoints or 3D poses from another layout into ``H36M_17``.

Conventions (see also the package docstring):

* Human3.6M-17 (`H36M_17`) is the model's joint order. Joint 0 (pelvis) is the root.
* "Left" and "right" are the subject's own left and right. H36M joint 1 is the RIGHT hip.
* Skeletons without a pelvis are rooted at a midline joint (COCO-17 and BlazePose-33 at the
  nose), so every tree is mapped onto itself by the left/right flip.

Conversions to H36M-17 (`MAPPINGS_TO_H36M`). Joints not listed are copied from the source joint
of the same name (hips, knees, ankles, shoulders, elbows, wrists). Synthesised joints are
weighted means of source joints; their confidence is the minimum of their sources' confidences.

========  ====================  =====================  =================  ==================
H36M      COCO-17 (MotionBERT)  Halpe-26 (MotionBERT)  MPI-INF-3DHP-17    HumanEva-15
========  ====================  =====================  =================  ==================
pelvis    mean(L/R hip)         Hip                    pelvis             pelvis
spine     mean(pelvis, thorax)  mean(Neck, Hip)        spine              mean(pelvis, thorax)
thorax    mean(L/R shoulder)    Neck                   neck               thorax
neck (9)  nose                  Nose                   head               mean(thorax, head)
head      mean(L/R eye)         Head                   head_top           head
========  ====================  =====================  =================  ==================

* COCO ``spine = mean(pelvis, thorax)`` is the equal-weight mean of the four hip and shoulder
  points. COCO has no head-top point; the eye midpoint stands in for it.
* BlazePose-33 first selects its COCO-17 subset (`BLAZEPOSE_TO_COCO`: nose, eyes, ears and the
  limb landmarks), then applies the COCO rule; head is therefore the mean of the two eyes.
* MPI-INF-3DHP is a relabelling (MotionAGFormer ``H36M_TO_MPI`` inverted), exact in 3D too.
* HumanEva-15 has no nose/neck point: joint 9 is synthesised as mean(thorax, head).
* OpenPose BODY_25 (`OPENPOSE_BODY_25_TO_H36M`) follows the Halpe rule where BODY_25 detects the
  point itself (pelvis = MidHip, thorax = Neck, spine = mean(Neck, MidHip), neck (9) = Nose) and
  the COCO rule for the head, which BODY_25 lacks (head = mean(L/R eye)). Toes and heels are
  unused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TypeVar

import numpy as np

ArrayT = TypeVar("ArrayT")


@dataclass(frozen=True)
class Skeleton:
    """A kinematic tree with named joints and left/right symmetry.

    Attributes:
        name: Short identifier, e.g. ``"h36m17"``.
        joint_names: One name per joint, in storage order.
        parents: Parent index per joint; -1 for the root.
        left_joints: Joints on the subject's left side.
        right_joints: Their mirror images, element-wise (``left_joints[i]`` ↔ ``right_joints[i]``).
        parts: Body-part label per joint (0 torso/head, 1 right leg, 2 left leg, 3 left arm,
            4 right arm), or empty when not defined. Used by the body-part traversal order.
    """

    name: str
    joint_names: tuple[str, ...]
    parents: tuple[int, ...]
    left_joints: tuple[int, ...]
    right_joints: tuple[int, ...]
    parts: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        n = len(self.joint_names)
        if len(self.parents) != n:
            raise ValueError(f"{self.name}: {len(self.parents)} parents for {n} joints")
        if len(self.left_joints) != len(self.right_joints):
            raise ValueError(f"{self.name}: left/right joint lists differ in length")
        if self.parts and len(self.parts) != n:
            raise ValueError(f"{self.name}: {len(self.parts)} part labels for {n} joints")
        if sum(p < 0 for p in self.parents) != 1:
            raise ValueError(f"{self.name}: exactly one root (parent -1) is required")
        if any(not -1 <= p < n for p in self.parents):
            raise ValueError(f"{self.name}: parent index out of range")
        sided = self.left_joints + self.right_joints
        if len(set(sided)) != len(sided) or any(not 0 <= j < n for j in sided):
            raise ValueError(f"{self.name}: left/right joints must be distinct valid indices")
        for joint in range(n):  # every chain of parents must reach the root within n steps
            for _ in range(n):
                joint = self.parents[joint]
                if joint < 0:
                    break
            else:
                raise ValueError(f"{self.name}: the parents contain a cycle")

    @property
    def num_joints(self) -> int:
        """Number of joints."""
        return len(self.joint_names)

    @property
    def root(self) -> int:
        """Index of the root joint (the one whose parent is -1)."""
        return self.parents.index(-1)

    def index(self, joint_name: str) -> int:
        """Index of a joint by name; raises ``ValueError`` listing valid names."""
        try:
            return self.joint_names.index(joint_name)
        except ValueError:
            raise ValueError(
                f"{self.name} has no joint {joint_name!r}; joints: {', '.join(self.joint_names)}"
            ) from None

    @cached_property
    def flip_permutation(self) -> tuple[int, ...]:
        """Permutation that swaps left and right joints; an involution."""
        perm = list(range(self.num_joints))
        for left, right in zip(self.left_joints, self.right_joints, strict=True):
            perm[left], perm[right] = right, left
        return tuple(perm)

    @cached_property
    def bones(self) -> tuple[tuple[int, int], ...]:
        """(parent, child) pairs, one per non-root joint, in child order."""
        return tuple((p, c) for c, p in enumerate(self.parents) if p >= 0)

    @cached_property
    def children(self) -> tuple[tuple[int, ...], ...]:
        """Children of every joint, in index order."""
        kids: list[list[int]] = [[] for _ in range(self.num_joints)]
        for parent, child in self.bones:
            kids[parent].append(child)
        return tuple(tuple(k) for k in kids)

    def adjacency(self, *, self_loops: bool = False) -> np.ndarray:
        """Symmetric 0/1 bone adjacency matrix, (J, J) float32."""
        adj = np.zeros((self.num_joints, self.num_joints), dtype=np.float32)
        for parent, child in self.bones:
            adj[parent, child] = adj[child, parent] = 1.0
        if self_loops:
            adj += np.eye(self.num_joints, dtype=np.float32)
        return adj

    def depth_first_walk(self) -> tuple[int, ...]:
        """Depth-first walk of the tree from the root, with back-tracking.

        Every bone is traversed both ways, so consecutive entries are always bone neighbours and
        the walk has ``2 * J - 1`` entries. This is the "tree-structure skeleton image" order
        used by SSRA's skeleton axis.
        """
        walk: list[int] = []

        def visit(joint: int) -> None:
            walk.append(joint)
            for child in self.children[joint]:
                visit(child)
                walk.append(joint)

        visit(self.root)
        return tuple(walk)

    def flip(self, poses: ArrayT) -> ArrayT:
        """Mirror poses horizontally: negate x and swap left and right joints.

        The one flip of the project: training augmentation and test-time augmentation both
        call it. x must be centred (screen-normalised 2D or root-relative 3D) for the mirror to
        be about the image centre / the body.

        Args:
            poses: numpy array or torch tensor (..., J, C) with x in channel 0.

        Returns:
            A new array of the same type and shape.
        """
        if poses.shape[-2] != self.num_joints:
            raise ValueError(
                f"{self.name} flip expects (..., {self.num_joints}, C) poses, "
                f"got shape {tuple(poses.shape)}"
            )
        flipped = poses[..., list(self.flip_permutation), :]  # advanced indexing copies
        flipped[..., 0] = -flipped[..., 0]
        return flipped

    def body_part_order(self) -> tuple[int, ...]:
        """Joints grouped by body part (torso, right leg, left leg, left arm, right arm).

        Within a part, joints keep their index order (for `H36M_17` this follows each limb
        chain from the body outwards).
        """
        if not self.parts:
            raise ValueError(f"{self.name} has no body-part labels")
        return tuple(sorted(range(self.num_joints), key=lambda j: (self.parts[j], j)))


# fmt: off
H36M_17 = Skeleton(
    name="h36m17",
    joint_names=(
        "pelvis", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee",
        "left_ankle", "spine", "thorax", "neck", "head", "left_shoulder", "left_elbow",
        "left_wrist", "right_shoulder", "right_elbow", "right_wrist",
    ),
    parents=(-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15),
    left_joints=(4, 5, 6, 11, 12, 13),
    right_joints=(1, 2, 3, 14, 15, 16),
    parts=(0, 1, 1, 1, 2, 2, 2, 0, 0, 0, 0, 3, 3, 3, 4, 4, 4),
)
"""Human3.6M 17-joint layout (VideoPose3D / MotionBERT order). Joint 9 is the neck/nose point."""

MPI_INF_3DHP_17 = Skeleton(
    name="mpi_inf_3dhp17",
    joint_names=(
        "head_top", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder",
        "left_elbow", "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip",
        "left_knee", "left_ankle", "pelvis", "spine", "head",
    ),
    parents=(1, 15, 1, 2, 3, 1, 5, 6, 14, 8, 9, 14, 11, 12, -1, 14, 1),
    left_joints=(5, 6, 7, 11, 12, 13),
    right_joints=(2, 3, 4, 8, 9, 10),
    parts=(0, 0, 4, 4, 4, 3, 3, 3, 1, 1, 1, 2, 2, 2, 0, 0, 0),
)
"""MPI-INF-3DHP 17 "relevant" joints (P-STMO npz order). Root = pelvis (14); "head" is the head
centre, "head_top" the top of the head; "neck" corresponds to H36M's thorax."""

COCO_17 = Skeleton(
    name="coco17",
    joint_names=(
        "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
        "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
        "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    ),
    parents=(-1, 0, 0, 1, 2, 0, 0, 5, 6, 7, 8, 5, 6, 11, 12, 13, 14),
    left_joints=(1, 3, 5, 7, 9, 11, 13, 15),
    right_joints=(2, 4, 6, 8, 10, 12, 14, 16),
    parts=(0, 0, 0, 0, 0, 3, 4, 3, 4, 3, 4, 2, 1, 2, 1, 2, 1),
)
"""COCO-17 keypoints (also MoveNet, YOLO-pose, RTMPose). The tree is rooted at the nose: eyes →
ears, shoulders → elbows → wrists, and each hip hangs from its same-side shoulder."""

HALPE_26 = Skeleton(
    name="halpe26",
    joint_names=COCO_17.joint_names + (
        "head", "neck", "hip", "left_big_toe", "right_big_toe", "left_small_toe",
        "right_small_toe", "left_heel", "right_heel",
    ),
    parents=(18, 0, 0, 1, 2, 18, 18, 5, 6, 7, 8, 19, 19, 11, 12, 13, 14,
             18, 19, -1, 15, 16, 15, 16, 15, 16),
    left_joints=COCO_17.left_joints + (20, 22, 24),
    right_joints=COCO_17.right_joints + (21, 23, 25),
    parts=COCO_17.parts + (0, 0, 0, 2, 1, 2, 1, 2, 1),
)
"""AlphaPose Halpe-26: COCO-17 plus head (17), neck (18), mid-hip (19) and the feet (20-25).
Rooted at the mid-hip; neck → nose and head; each ankle → big toe, small toe and heel."""

BLAZEPOSE_33 = Skeleton(
    name="blazepose33",
    joint_names=(
        "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
        "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right",
        "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
        "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index", "left_thumb",
        "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
        "right_ankle", "left_heel", "right_heel", "left_foot_index", "right_foot_index",
    ),
    parents=(-1, 0, 1, 2, 0, 4, 5, 3, 6, 0, 0, 0, 0, 11, 12, 13, 14, 15, 16, 15, 16, 15, 16,
             11, 12, 23, 24, 25, 26, 27, 28, 27, 28),
    left_joints=(1, 2, 3, 7, 9, *range(11, 32, 2)),
    right_joints=(4, 5, 6, 8, 10, *range(12, 33, 2)),
    parts=(0,) * 11 + (3, 4) * 6 + (2, 1) * 5,
)
"""MediaPipe BlazePose 33 landmarks. Rooted at the nose: eye chain → ear, mouth corners,
shoulders → arms → (pinky, index, thumb), shoulder → hip → knee → ankle → (heel, foot index)."""

HUMANEVA_15 = Skeleton(
    name="humaneva15",
    joint_names=(
        "pelvis", "thorax", "left_shoulder", "left_elbow", "left_wrist", "right_shoulder",
        "right_elbow", "right_wrist", "left_hip", "left_knee", "left_ankle", "right_hip",
        "right_knee", "right_ankle", "head",
    ),
    parents=(-1, 0, 1, 2, 3, 1, 5, 6, 0, 8, 9, 0, 11, 12, 1),
    left_joints=(2, 3, 4, 8, 9, 10),
    right_joints=(5, 6, 7, 11, 12, 13),
    parts=(0, 0, 3, 3, 3, 4, 4, 4, 2, 2, 2, 1, 1, 1, 0),
)
"""HumanEva-I 15-joint layout (VideoPose3D ``humaneva15``). Root = pelvis."""

OPENPOSE_BODY_25 = Skeleton(
    name="openpose_body25",
    joint_names=(
        "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder",
        "left_elbow", "left_wrist", "mid_hip", "right_hip", "right_knee", "right_ankle",
        "left_hip", "left_knee", "left_ankle", "right_eye", "left_eye", "right_ear", "left_ear",
        "left_big_toe", "left_small_toe", "left_heel", "right_big_toe", "right_small_toe",
        "right_heel",
    ),
    parents=(1, 8, 1, 2, 3, 1, 5, 6, -1, 8, 9, 10, 8, 12, 13, 0, 0, 15, 16, 14, 19, 14, 11, 22,
             11),
    left_joints=(5, 6, 7, 12, 13, 14, 16, 18, 19, 20, 21),
    right_joints=(2, 3, 4, 9, 10, 11, 15, 17, 22, 23, 24),
    parts=(0, 0, 4, 4, 4, 3, 3, 3, 0, 1, 1, 1, 2, 2, 2, 0, 0, 0, 0, 2, 2, 2, 1, 1, 1),
)
"""OpenPose BODY_25 (``pose_keypoints_2d`` of the default OpenPose model). Rooted at MidHip (8),
with OpenPose's limb pairs as bones: MidHip → Neck → Nose → eye → ear, Neck → shoulders → arms,
MidHip → hips → legs, ankle → big toe → small toe and ankle → heel."""

SKELETONS: dict[str, Skeleton] = {
    s.name: s for s in (
        H36M_17, MPI_INF_3DHP_17, COCO_17, HALPE_26, BLAZEPOSE_33, HUMANEVA_15, OPENPOSE_BODY_25,
    )
}
"""Every skeleton defined here, keyed by `Skeleton.name`."""

PCK_JOINT_GROUPS_MPI: dict[str, tuple[int, ...]] = {
    "head": (0,), "neck": (1,), "shoulders": (2, 5), "elbows": (3, 6),
    "wrists": (4, 7), "hips": (8, 11), "knees": (9, 12), "ankles": (10, 13),
}
"""Official MPI-INF-3DHP PCK/AUC joint groups (``mpii_get_pck_auc_joint_groups.m``), as
`MPI_INF_3DHP_17` indices; "head" is head_top. Pelvis, spine and head centre are not scored."""

PCK_JOINTS_MPI: tuple[int, ...] = tuple(sorted(j for g in PCK_JOINT_GROUPS_MPI.values() for j in g))
"""The 14 `MPI_INF_3DHP_17` joints scored by PCK and AUC (indices 0..13)."""

MPI_INF_3DHP_TEST_SCENES: dict[str, tuple[str, ...]] = {
    "GS": ("TS1", "TS2"), "noGS": ("TS3", "TS4"), "Outdoor": ("TS5", "TS6"),
}
"""MPI-INF-3DHP test sequences per scene (green screen, no green screen, outdoor); scene scores
are frame-weighted averages over these sequences."""

MPI_INF_3DHP_28_JOINT_NAMES: tuple[str, ...] = (
    "spine3", "spine4", "spine2", "spine", "pelvis", "neck", "head", "head_top",
    "left_clavicle", "left_shoulder", "left_elbow", "left_wrist", "left_hand",
    "right_clavicle", "right_shoulder", "right_elbow", "right_wrist", "right_hand",
    "left_hip", "left_knee", "left_ankle", "left_foot", "left_toe",
    "right_hip", "right_knee", "right_ankle", "right_foot", "right_toe",
)
"""The 28 joints of the MPI-INF-3DHP training annotations (``annot2``, ``annot3``,
``univ_annot3`` of ``S*/Seq*/annot.mat``), in storage order (``mpii_get_joints('all')``)."""

MPI_INF_3DHP_28_TO_17: tuple[int, ...] = tuple(
    MPI_INF_3DHP_28_JOINT_NAMES.index(name) for name in MPI_INF_3DHP_17.joint_names
)
"""Indices of the `MPI_INF_3DHP_17` joints among the 28 training joints (0-based; the
"relevant" set of ``mpii_get_joints.m``, P-STMO ``data_to_npz_3dhp.py``)."""

H36M_COMPARABLE_JOINTS_MPI: tuple[int, ...] = tuple(
    j for j in range(MPI_INF_3DHP_17.num_joints) if MPI_INF_3DHP_17.joint_names[j] != "head_top"
)
"""`MPI_INF_3DHP_17` joints scored when a Human3.6M-skeleton model is evaluated on
MPI-INF-3DHP (through `H36M_TO_MPI_INF_3DHP`): every joint but the head top. H36M's "head" sits
well below MPI's head top (thorax → head 136-215 mm on the mmpose H36M frames, neck → head top
290-298 mm on the MPI frames), while the other correspondences agree: H36M's neck/nose point vs
MPI's head centre (107-121 vs 98-100 mm from the thorax/neck), spine at 0.47-0.51 vs 0.47 of the
way from pelvis to thorax/neck, limbs and pelvis by name."""

# fmt: on


@dataclass(frozen=True)
class JointMapping:
    """A linear, declarative conversion from one joint layout to another.

    Target joint ``t`` is ``sum(w * source[s] for s, w in weights[t])``. Weights of a joint sum
    to 1 (an affine combination), so conversion commutes with translating, scaling and mirroring
    the coordinates. A target joint with no source entries is absent: zeros, confidence 0.

    Attributes:
        source: Layout of the input keypoints.
        target: Layout of the output keypoints.
        weights: Per target joint, the ``(source_index, weight)`` pairs to combine.
    """

    source: Skeleton
    target: Skeleton
    weights: tuple[tuple[tuple[int, float], ...], ...]

    def __post_init__(self) -> None:
        if len(self.weights) != self.target.num_joints:
            raise ValueError(
                f"{self.name}: {len(self.weights)} entries for {self.target.num_joints} joints"
            )
        for t, entries in enumerate(self.weights):
            if any(not 0 <= s < self.source.num_joints for s, _ in entries):
                raise ValueError(f"{self.name}: source index out of range for target joint {t}")
            if entries and not np.isclose(sum(w for _, w in entries), 1.0):
                raise ValueError(f"{self.name}: weights of target joint {t} do not sum to 1")

    @property
    def name(self) -> str:
        """``"<source>_to_<target>"``, for messages."""
        return f"{self.source.name}_to_{self.target.name}"

    @classmethod
    def from_names(
        cls,
        source: Skeleton,
        target: Skeleton,
        synthesised: Mapping[str, Mapping[str, float]] | None = None,
    ) -> JointMapping:
        """Build a mapping from joint names.

        Args:
            source: Source layout.
            target: Target layout.
            synthesised: Target joint name → {source joint name: weight}. Every other target
                joint is copied from the source joint with the same name.

        Returns:
            The mapping.
        """
        synthesised = synthesised or {}
        weights = []
        for name in target.joint_names:
            recipe = synthesised.get(name, {name: 1.0})
            weights.append(tuple((source.index(s), float(w)) for s, w in recipe.items()))
        return cls(source, target, tuple(weights))


def mapping_matrix(mapping: JointMapping) -> np.ndarray:
    """Dense weight matrix of a mapping.

    Returns:
        (J_target, J_source) float64 matrix ``M`` with ``target = M @ source``.
    """
    matrix = np.zeros((mapping.target.num_joints, mapping.source.num_joints))
    for t, entries in enumerate(mapping.weights):
        for s, w in entries:
            matrix[t, s] += w
    return matrix


def compose(first: JointMapping, second: JointMapping) -> JointMapping:
    """The mapping equivalent to applying ``first`` and then ``second``.

    Weights multiply exactly; a composed joint's sources are the union of the sources of the
    intermediate joints it uses, so the confidence min rule is preserved.

    Raises:
        ValueError: If ``first.target`` is not ``second.source``.
    """
    if first.target != second.source:
        raise ValueError(f"cannot compose {first.name} with {second.name}")
    weights = []
    for entries in second.weights:
        combined: dict[int, float] = {}
        for mid, w_mid in entries:
            for s, w in first.weights[mid]:
                combined[s] = combined.get(s, 0.0) + w_mid * w
        weights.append(tuple(sorted(combined.items())))
    return JointMapping(first.source, second.target, tuple(weights))


def convert_keypoints(
    keypoints: np.ndarray, mapping: JointMapping, *, has_confidence: bool | None = None
) -> np.ndarray:
    """Convert keypoints or poses from ``mapping.source`` to ``mapping.target`` joint order.

    Coordinates are combined linearly with the mapping's weights. The confidence of a target
    joint is the minimum of its sources' confidences (0 for a joint without sources), so a
    synthesised joint is only as reliable as its weakest source.

    Args:
        keypoints: (..., J_source, C) array.
        mapping: The conversion, e.g. ``COCO_TO_H36M`` or ``MAPPINGS_TO_H36M[name]``.
        has_confidence: Whether the last channel is a confidence. By default it is when
            ``C == 3`` (2D keypoints with scores); pass ``False`` for 3D poses.

    Returns:
        (..., J_target, C) floating array in the target order, confidence (if any) last.

    Raises:
        ValueError: If the joint axis does not match the source skeleton, or if ``C`` is
            neither 2 nor 3 and ``has_confidence`` is not given.
    """
    x = np.asarray(keypoints)
    num_source = mapping.source.num_joints
    if x.ndim < 2 or x.shape[-2] != num_source:
        got = f"{x.shape[-2]} joints" if x.ndim >= 2 else "no joint axis"
        raise ValueError(
            f"{mapping.name} expects (..., {num_source}, C) keypoints in {mapping.source.name} "
            f"order; got {got} (shape {x.shape})"
        )
    channels = x.shape[-1]
    if has_confidence is None:
        if channels not in (2, 3):
            raise ValueError(f"got C={channels} channels; pass has_confidence for C not in (2, 3)")
        has_confidence = channels == 3
    num_coords = channels - 1 if has_confidence else channels
    if num_coords < 1:
        raise ValueError(f"got C={channels}: no coordinate channel besides the confidence")
    dtype = np.result_type(x.dtype, np.float32)
    x = x.astype(dtype, copy=False)
    out = np.empty((*x.shape[:-2], mapping.target.num_joints, channels), dtype=dtype)
    matrix = mapping_matrix(mapping).astype(dtype)
    out[..., :num_coords] = np.einsum("ts,...sc->...tc", matrix, x[..., :num_coords])
    if has_confidence:
        conf = x[..., -1]
        for t, entries in enumerate(mapping.weights):
            sources = [s for s, _ in entries]
            out[..., t, -1] = conf[..., sources].min(axis=-1) if sources else 0.0
    return out


def _mean(*names: str) -> dict[str, float]:
    return {name: 1.0 / len(names) for name in names}


# fmt: off
COCO_TO_H36M = JointMapping.from_names(COCO_17, H36M_17, {
    "pelvis": _mean("left_hip", "right_hip"),
    "spine": _mean("left_hip", "right_hip", "left_shoulder", "right_shoulder"),
    "thorax": _mean("left_shoulder", "right_shoulder"),
    "neck": {"nose": 1.0},
    "head": _mean("left_eye", "right_eye"),
})
"""COCO-17 → H36M-17 (MotionBERT ``coco2h36m``): pelvis = mid-hips, thorax = mid-shoulders,
spine = mean(pelvis, thorax), neck (9) = nose, head = mid-eyes; limbs copied."""

HALPE_TO_H36M = JointMapping.from_names(HALPE_26, H36M_17, {
    "pelvis": {"hip": 1.0},
    "spine": _mean("neck", "hip"),
    "thorax": {"neck": 1.0},
    "neck": {"nose": 1.0},
    "head": {"head": 1.0},
})
"""Halpe-26 → H36M-17 (MotionBERT ``halpe2h36m``): pelvis = Hip, thorax = Neck,
spine = mean(Neck, Hip), neck (9) = Nose, head = Head; limbs copied."""

BLAZEPOSE_TO_COCO = JointMapping.from_names(BLAZEPOSE_33, COCO_17)
"""BlazePose-33 → COCO-17: the 17 landmarks with COCO names, no synthesis."""

BLAZEPOSE_TO_H36M = compose(BLAZEPOSE_TO_COCO, COCO_TO_H36M)
"""BlazePose-33 → H36M-17: `BLAZEPOSE_TO_COCO` then `COCO_TO_H36M` (head = mid-eyes)."""

MPI_INF_3DHP_TO_H36M = JointMapping.from_names(MPI_INF_3DHP_17, H36M_17, {
    "thorax": {"neck": 1.0},
    "neck": {"head": 1.0},
    "head": {"head_top": 1.0},
})
"""MPI-INF-3DHP-17 → H36M-17: a pure relabelling (thorax ← neck, neck ← head centre,
head ← head_top, the rest by name); valid for 2D and 3D."""

H36M_TO_MPI_INF_3DHP = JointMapping.from_names(H36M_17, MPI_INF_3DHP_17, {
    "neck": {"thorax": 1.0},
    "head": {"neck": 1.0},
    "head_top": {"head": 1.0},
})
"""H36M-17 → MPI-INF-3DHP-17, the inverse of `MPI_INF_3DHP_TO_H36M` (MotionAGFormer
``H36M_TO_MPI``)."""

HUMANEVA_TO_H36M = JointMapping.from_names(HUMANEVA_15, H36M_17, {
    "spine": _mean("pelvis", "thorax"),
    "neck": _mean("thorax", "head"),
})
"""HumanEva-15 → H36M-17: spine = mean(pelvis, thorax) and neck (9) = mean(thorax, head) are
synthesised; every other joint is copied by name."""

OPENPOSE_BODY_25_TO_H36M = JointMapping.from_names(OPENPOSE_BODY_25, H36M_17, {
    "pelvis": {"mid_hip": 1.0},
    "spine": _mean("neck", "mid_hip"),
    "thorax": {"neck": 1.0},
    "neck": {"nose": 1.0},
    "head": _mean("left_eye", "right_eye"),
})
"""OpenPose BODY_25 → H36M-17: pelvis = MidHip, thorax = Neck, spine = mean(Neck, MidHip),
neck (9) = Nose, head = mid-eyes (no head-top point, as for COCO); limbs copied."""

MAPPINGS_TO_H36M: dict[str, JointMapping] = {m.source.name: m for m in (
    JointMapping.from_names(H36M_17, H36M_17), COCO_TO_H36M, HALPE_TO_H36M, BLAZEPOSE_TO_H36M,
    MPI_INF_3DHP_TO_H36M, HUMANEVA_TO_H36M, OPENPOSE_BODY_25_TO_H36M,
)}
"""Conversion to `H36M_17` for every skeleton in `SKELETONS` (identity for ``"h36m17"``), keyed
by the source skeleton's name."""
# fmt: on


# fmt: off
H36M_STAND_INS: dict[str, dict[str, float]] = {
    "pelvis": _mean("left_hip", "right_hip"),
    "thorax": _mean("left_shoulder", "right_shoulder"),
    "spine": _mean("pelvis", "thorax"),
    "neck": _mean("thorax", "head"),
    "head": {"neck": 2.0, "thorax": -1.0},
}
"""Stand-in positions for the torso joints of `H36M_17` that a detector may not provide, as
affine combinations of other H36M-17 joints of the same frame, applied in this order (a stand-in
may use an earlier one). The same rules as the converters (`COCO_TO_H36M`: pelvis = mid-hips,
thorax = mid-shoulders, spine = mean(pelvis, thorax); `SH_TO_H36M`: neck = mean(thorax, head));
head = neck mirrored through the thorax. Used by the one missing-joint rule of training and
inference (`ssrstf.data.missing.fill_missing_joints`) for a joint never observed in a sequence.
Limb joints have no stand-in."""
# fmt: on


# Source layouts of the Human3.6M data converters (`ssrstf.data.prepare`).

# fmt: off
STACKED_HOURGLASS_16 = Skeleton(
    name="stacked_hourglass16",
    joint_names=(
        "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
        "pelvis", "spine", "thorax", "head", "right_wrist", "right_elbow", "right_shoulder",
        "left_shoulder", "left_elbow", "left_wrist",
    ),
    parents=(1, 2, 6, 6, 3, 4, -1, 6, 7, 8, 11, 12, 8, 8, 13, 14),
    left_joints=(3, 4, 5, 13, 14, 15),
    right_joints=(2, 1, 0, 12, 11, 10),
    parts=(1, 1, 1, 2, 2, 2, 0, 0, 0, 0, 4, 4, 4, 3, 3, 3),
)
"""The 16-joint order of the Stacked-Hourglass Human3.6M detections (Martinez et al.'s
``StackedHourglassFineTuned240``, VideoPose3D ``data_2d_h36m_sh_ft_h36m.npz``): MPII order with
"spine" in place of the upper neck. "head" is the head top. It has no H36M neck/nose point."""

SH_TO_H36M = JointMapping.from_names(STACKED_HOURGLASS_16, H36M_17, {
    "neck": H36M_STAND_INS["neck"],
})
"""Stacked-Hourglass-16 → H36M-17. Every joint is copied by name except the neck/nose point (9),
which SH does not detect: its stand-in position is the midpoint of thorax and head top, and the
data converters set its confidence to 0 (`SH_MISSING_JOINTS`)."""

SH_MISSING_JOINTS: tuple[int, ...] = (H36M_17.index("neck"),)
"""H36M-17 joints for which Stacked Hourglass has no detection (stand-in position, confidence 0)."""

H36M_32_TO_17: tuple[int, ...] = (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)
"""Indices of the `H36M_17` joints among the 32 joints of the original Human3.6M motion capture
(VideoPose3D ``data_3d_h36m.npz``; the complement is VideoPose3D's 15 removed static joints)."""
# fmt: on

H36M_14_JOINTS: tuple[int, ...] = tuple(
    H36M_17.index(name)
    for name in (
        "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
        "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow",
        "left_wrist", "thorax", "head",
    )
)  # fmt: skip
"""The 14 joints of the mesh-recovery benchmarks (LSP order; MotionBERT's ``H36M_TO_J14``):
every H36M-17 joint but the pelvis, the spine and the neck/nose point. Scored after centring
both poses on the mid-hip point."""
