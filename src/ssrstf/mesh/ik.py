"""Swing inverse kinematics: a body-model pose whose bones point along given 3D joints.

The mesh head starts from this pose instead of the rest pose (``mesh.use_joint_ik``): the
backbone's own 3D joints (its lifting head, a linear readout of the same motion
representation) are turned analytically into bone rotations, and the head regresses only the
residual rotations (twists, the joints' definitional differences, what IK cannot see). Without
it a head must find the global orientation and every rotation from scratch, which a short CPU
budget does not allow (docs/design.md, "Mesh recovery").

The solve, per frame (all batched, differentiable):

1. **root**: the rotation taking the body's rest pelvis frame (right → left hip "across",
   exact; pelvis → spine "up", made perpendicular) to the target's;
2. **links**, parents first (`ssrstf.mesh.body.IKLink`): the bone's rest direction, carried by
   the global rotation of its nearest solved ancestor ``G_p``, is turned onto the target
   segment by the smallest rotation ``S`` (a swing, no twist); the bone's local rotation is
   ``D = G_pᵀ S G_p`` (its rotation in the rest axes carried by its parents, the convention of
   both backends) and its global rotation ``S G_p``.

Bones between two links (anny's twist bones, its lower spine) stay at rest.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from ssrstf.mesh.body import IKLink

_EPS = 1e-8


def _unit(v: Tensor) -> Tensor:
    return v / v.norm(dim=-1, keepdim=True).clamp_min(_EPS)


def frame_from_vectors(first: Tensor, second: Tensor) -> Tensor:
    """(..., 3, 3) rotation whose columns are ``first``, ``second`` ⟂ ``first``, their cross."""
    e1 = _unit(first)
    e2 = _unit(second - (second * e1).sum(-1, keepdim=True) * e1)
    return torch.stack([e1, e2, torch.linalg.cross(e1, e2, dim=-1)], dim=-1)


def swing(a: Tensor, b: Tensor) -> Tensor:
    """The smallest rotation (..., 3, 3) taking direction ``a`` to direction ``b`` (..., 3).

    ``R = I + [v]× + [v]×² / (1 + c)`` with ``v = â × b̂``, ``c = â · b̂``; opposite directions
    (c → −1, where the axis is undefined) are clamped to ``c ≥ −1 + 1e-4``.
    """
    a, b = _unit(a), _unit(b)
    v = torch.linalg.cross(a, b, dim=-1)
    c = (a * b).sum(-1).clamp_min(-1 + 1e-4)
    zero = torch.zeros_like(c)
    vx = torch.stack(
        [
            torch.stack([zero, -v[..., 2], v[..., 1]], -1),
            torch.stack([v[..., 2], zero, -v[..., 0]], -1),
            torch.stack([-v[..., 1], v[..., 0], zero], -1),
        ],
        dim=-2,
    )
    eye = torch.eye(3, dtype=a.dtype, device=a.device)
    return eye + vx + (vx @ vx) / (1 + c)[..., None, None]


def solve_swing_ik(
    joints: Tensor,
    links: Sequence[IKLink],
    *,
    num_pose_bones: int,
    rest_up: Tensor,
    rest_across: Tensor,
    up_joints: tuple[int, int],
    across_joints: tuple[int, int],
) -> Tensor:
    """Body-model pose (..., P, 3, 3) whose bones follow ``joints`` (..., 17, 3).

    Args:
        joints: Target H36M-17 joints in the output axes.
        links: The bones to aim, parents first.
        num_pose_bones: P.
        rest_up: (3,) the rest torso's up vector in the body model's axes.
        rest_across: (3,) the rest torso's right-to-left vector.
        up_joints: (from, to) H36M joints of the target's up vector.
        across_joints: (from, to) H36M joints of its across vector.
    """
    batch = joints.shape[:-2]
    eye = torch.eye(3, dtype=joints.dtype, device=joints.device)
    pose = [eye.expand(*batch, 3, 3)] * num_pose_bones

    def segment(pair: tuple[int, int]) -> Tensor:
        return joints[..., pair[1], :] - joints[..., pair[0], :]

    # The hips fix the pelvis exactly (they hang rigidly from the root); "up" only resolves the
    # turn about the hip axis.
    target = frame_from_vectors(segment(across_joints), segment(up_joints))
    rest = frame_from_vectors(rest_across.to(joints), rest_up.to(joints))
    root = target @ rest.transpose(-1, -2)
    pose[0] = root
    solved: list[Tensor] = []
    for link in links:
        parent = root if link.ancestor < 0 else solved[link.ancestor]
        rest_dir = torch.as_tensor(link.rest_direction, dtype=joints.dtype, device=joints.device)
        carried = torch.einsum("...ij,j->...i", parent, rest_dir)
        turn = swing(carried, segment(link.joints))
        pose[link.bone] = parent.transpose(-1, -2) @ turn @ parent
        solved.append(turn @ parent)
    return torch.stack(pose, dim=-3)
