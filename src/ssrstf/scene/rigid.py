"""Smoothness and rigidity of lifted motion, and a rigid skeleton (one set of bone lengths).

A lifter predicts every frame's joints independently of a fixed skeleton, so bones stretch and
shrink over a clip and joints jitter. This module measures both and removes the stretching:

* `mean_acceleration`: the mean over frames and joints of ``|p_{f−1} − 2 p_f + p_{f+1}|`` in mm
  per frame² (0 for motion at constant velocity; the jitter of a per-frame estimate).
* `bone_length_variation`: per bone (`ssrstf.skeleton.Skeleton.bones`), the coefficient of
  variation (standard deviation / mean) of its length over the clip.
* `fit_bone_lengths` and `make_rigid`: one length per bone for the whole clip, then every frame
  rebuilt from the root outwards along its own bone directions with those lengths. The lengths
  are the least-squares choice: with the root and all bone directions fixed, the joints are
  linear in the lengths, and the lengths minimise the summed squared displacement of every joint
  over every frame (each bone's length enters all joints below it). Bone directions, and hence
  joint angles, are unchanged; joint positions move by the stretch that was removed.
* `motion_statistics`: both figures for a clip, as printed and stored by ``ssrstf infer``.

API: ``mean_acceleration(poses (F, J, 3)) -> float``, ``bone_length_variation(poses, skeleton)
-> (B,)``, ``fit_bone_lengths(poses, skeleton) -> (B,)``, ``make_rigid(poses, skeleton,
lengths=None) -> (F, J, 3)``, ``motion_statistics(poses, skeleton) -> MotionStatistics``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ssrstf.skeleton import H36M_17, Skeleton


def _check_poses(poses: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    poses = np.asarray(poses, dtype=np.float64)
    if poses.ndim != 3 or poses.shape[1:] != (skeleton.num_joints, 3) or len(poses) == 0:
        raise ValueError(
            f"poses must be (F, {skeleton.num_joints}, 3) with F > 0, got {poses.shape}"
        )
    if not np.isfinite(poses).all():
        raise ValueError("poses contain NaN or inf")
    return poses


def bone_vectors(poses: np.ndarray, skeleton: Skeleton = H36M_17) -> np.ndarray:
    """(F, B, 3) child minus parent for every bone of ``skeleton.bones``."""
    poses = _check_poses(poses, skeleton)
    parents, children = np.array(skeleton.bones).T
    return poses[:, children] - poses[:, parents]


def mean_acceleration(poses: np.ndarray) -> float:
    """Mean ``|p_{f−1} − 2 p_f + p_{f+1}|`` over frames and joints (mm / frame²); 0 below 3 frames.

    ``poses`` is (F, J, 3) or (F, 3) (a trajectory), in mm.
    """
    poses = np.asarray(poses, dtype=np.float64)
    if len(poses) < 3:
        return 0.0
    return float(np.linalg.norm(poses[:-2] - 2 * poses[1:-1] + poses[2:], axis=-1).mean())


def bone_length_variation(poses: np.ndarray, skeleton: Skeleton = H36M_17) -> np.ndarray:
    """(B,) coefficient of variation (std / mean) of each bone's length over the frames."""
    lengths = np.linalg.norm(bone_vectors(poses, skeleton), axis=-1)
    mean = lengths.mean(0)
    return np.where(mean > 1e-9, lengths.std(0) / np.maximum(mean, 1e-12), 0.0)


def _chain_matrix(skeleton: Skeleton) -> np.ndarray:
    """(J, B) 1 where bone b lies on the path from the root to joint j."""
    index = {child: b for b, (_, child) in enumerate(skeleton.bones)}
    matrix = np.zeros((skeleton.num_joints, len(skeleton.bones)))
    for joint in range(skeleton.num_joints):
        node = joint
        while skeleton.parents[node] >= 0:
            matrix[joint, index[node]] = 1.0
            node = skeleton.parents[node]
    return matrix


def _directions(poses: np.ndarray, skeleton: Skeleton) -> tuple[np.ndarray, np.ndarray]:
    """Unit bone directions (F, B, 3) (zero for zero-length bones) and lengths (F, B)."""
    bones = bone_vectors(poses, skeleton)
    lengths = np.linalg.norm(bones, axis=-1)
    return bones / np.maximum(lengths, 1e-12)[..., None], lengths


def fit_bone_lengths(poses: np.ndarray, skeleton: Skeleton = H36M_17) -> np.ndarray:
    """(B,) the constant bone lengths (mm) that move the joints least (see the module docstring).

    Falls back to a bone's mean length when the least-squares system cannot fix it (a bone of
    length 0 in every frame).
    """
    poses = _check_poses(poses, skeleton)
    directions, lengths = _directions(poses, skeleton)
    chain = _chain_matrix(skeleton)
    relative = poses - poses[:, skeleton.root : skeleton.root + 1]
    # joint j, axis k of frame f = Σ_b chain[j, b] · d[f, b, k] · L_b
    gram = np.einsum("jb,jc,fbk,fck->bc", chain, chain, directions, directions)
    rhs = np.einsum("jb,fbk,fjk->b", chain, directions, relative)
    mean = lengths.mean(0)
    fixed = np.diag(gram) > 1e-9 * max(float(np.diag(gram).max()), 1e-12)
    out = mean.copy()
    if fixed.any():
        sub = np.ix_(fixed, fixed)
        rhs_fixed = rhs[fixed] - gram[np.ix_(fixed, ~fixed)] @ mean[~fixed]
        out[fixed] = np.linalg.lstsq(gram[sub], rhs_fixed, rcond=None)[0]
    return np.maximum(out, 0.0)


def make_rigid(
    poses: np.ndarray, skeleton: Skeleton = H36M_17, lengths: np.ndarray | None = None
) -> np.ndarray:
    """The poses rebuilt with constant bone lengths along each frame's bone directions.

    Args:
        poses: (F, J, 3) mm (root-relative or absolute: the root stays where it is).
        skeleton: Joint hierarchy.
        lengths: (B,) bone lengths in ``skeleton.bones`` order; default `fit_bone_lengths`.

    Returns:
        (F, J, 3) poses whose bones have exactly ``lengths`` in every frame.
    """
    poses = _check_poses(poses, skeleton)
    directions, _ = _directions(poses, skeleton)
    if lengths is None:
        lengths = fit_bone_lengths(poses, skeleton)
    lengths = np.asarray(lengths, dtype=np.float64)
    if lengths.shape != (len(skeleton.bones),) or not (np.isfinite(lengths) & (lengths >= 0)).all():
        raise ValueError(f"lengths must be ({len(skeleton.bones)},) finite and >= 0")
    out = np.empty_like(poses)
    out[:, skeleton.root] = poses[:, skeleton.root]
    depth = _chain_matrix(skeleton).sum(1)  # bones between the root and each joint
    for b in sorted(range(len(skeleton.bones)), key=lambda b: depth[skeleton.bones[b][1]]):
        parent, child = skeleton.bones[b]  # parents are placed before their children
        out[:, child] = out[:, parent] + lengths[b] * directions[:, b]
    return out


@dataclass(frozen=True)
class MotionStatistics:
    """Smoothness and rigidity of one clip (``ssrstf infer`` prints and stores it).

    Attributes:
        mean_acceleration_mm: `mean_acceleration` of the root-relative poses, mm / frame².
        bone_length_cv: (B,) `bone_length_variation`, in ``bone_names`` order.
        bone_names: ``"parent-child"`` per bone.
        trajectory_acceleration_mm: `mean_acceleration` of the root's camera-space path, or
            None without one.
    """

    mean_acceleration_mm: float
    bone_length_cv: np.ndarray
    bone_names: tuple[str, ...]
    trajectory_acceleration_mm: float | None = None

    @property
    def median_bone_length_cv(self) -> float:
        """The median over bones of the coefficient of variation."""
        return float(np.median(self.bone_length_cv))

    def summary(self) -> str:
        """One line for the terminal."""
        worst = int(np.argmax(self.bone_length_cv))
        text = (
            f"smoothness: mean acceleration {self.mean_acceleration_mm:.2f} mm/frame²"
            + (
                ""
                if self.trajectory_acceleration_mm is None
                else f" (root path {self.trajectory_acceleration_mm:.2f})"
            )
            + f"; bone length variation: median {self.median_bone_length_cv:.1%}, "
            f"max {self.bone_length_cv[worst]:.1%} ({self.bone_names[worst]})"
        )
        return text

    def to_dict(self) -> dict[str, object]:
        """Plain data for JSON."""
        return {
            "mean_acceleration_mm_per_frame2": self.mean_acceleration_mm,
            "trajectory_acceleration_mm_per_frame2": self.trajectory_acceleration_mm,
            "bone_length_cv": dict(zip(self.bone_names, self.bone_length_cv.tolist(), strict=True)),
            "median_bone_length_cv": self.median_bone_length_cv,
        }


def motion_statistics(
    poses: np.ndarray, skeleton: Skeleton = H36M_17, trajectory: np.ndarray | None = None
) -> MotionStatistics:
    """`MotionStatistics` of root-relative ``poses`` (F, J, 3) and an optional path (F, 3)."""
    poses = _check_poses(poses, skeleton)
    names = tuple(f"{skeleton.joint_names[p]}-{skeleton.joint_names[c]}" for p, c in skeleton.bones)
    return MotionStatistics(
        mean_acceleration_mm=mean_acceleration(poses - poses[:, skeleton.root : skeleton.root + 1]),
        bone_length_cv=bone_length_variation(poses, skeleton),
        bone_names=names,
        trajectory_acceleration_mm=None if trajectory is None else mean_acceleration(trajectory),
    )
