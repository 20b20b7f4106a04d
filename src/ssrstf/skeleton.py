"""Skeleton definitions: the single source of truth for joint orders, parents and flip pairs.

Every joint index literal of the project lives in this module. Other modules ask a `Skeleton`
for names, bones, adjacency, the left/right flip permutation or a traversal order.

Conventions (see also the package docstring):

* Human3.6M-17 (`H36M_17`) is the model's joint order. Joint 0 (pelvis) is the root.
* "Left" and "right" are the subject's own left and right. H36M joint 1 is the RIGHT hip.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np


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

    def body_part_order(self) -> tuple[int, ...]:
        """Joints grouped by body part (torso, right leg, left leg, left arm, right arm).

        Within a part, joints keep their index order (which follows the chain for every
        skeleton defined here).
        """
        if not self.parts:
            raise ValueError(f"{self.name} has no body-part labels")
        return tuple(sorted(range(self.num_joints), key=lambda j: (self.parts[j], j)))


H36M_17 = Skeleton(
    name="h36m17",
    joint_names=(
        "pelvis", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee",
        "left_ankle", "spine", "thorax", "neck", "head", "left_shoulder", "left_elbow",
        "left_wrist", "right_shoulder", "right_elbow", "right_wrist",
    ),  # fmt: skip
    parents=(-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15),
    left_joints=(4, 5, 6, 11, 12, 13),
    right_joints=(1, 2, 3, 14, 15, 16),
    parts=(0, 1, 1, 1, 2, 2, 2, 0, 0, 0, 0, 3, 3, 3, 4, 4, 4),
)
"""Human3.6M 17-joint layout (VideoPose3D / MotionBERT order). Joint 9 is the neck/nose point."""
