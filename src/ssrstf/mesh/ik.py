"""Swing inverse kinematics: a body-model pose whose bones point along given 3D joints.

The mesh head starts from this pose instead of the rest pose (``mesh.use_joint_ik``): the
backbone's own 3D joints (its lifting head, a linear readout of the same motion
representation) are turned analytically into bone rotations, and the head regresses only the
residual rotations (twists, the joints' definitional differences, what IK cannot see). Without
it a head must find the global orientation and every rotation from scratch, which a short CPU
budget does not allow (docs/design.md, "Mesh recovery").

The solve, per frame (all batched, differentiable):

1. **root**: the rotation taking the body's rest pelvis frame (right → left hip "across",
   exact; pelvis → spine "up", made perpendicular) to the target's; a target without that
   frame (coincident hips, all joints equal, "up" along the hips) keeps the root at rest
   (identity, the body model's own axes) rather than a singular matrix;
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
_OPPOSITE = 0.5  # `swing` switches to its axis-angle form where 1 + cos(angle) < this
_AXIS_TOLERANCE = 1e-6  # |â × b̂| below this: no axis, the half turn about one ⟂ â
_FRAME_TOLERANCE = 1e-6  # sine of the angle below which two vectors span no frame


def _unit(v: Tensor) -> Tensor:
    return v / v.norm(dim=-1, keepdim=True).clamp_min(_EPS)


def frame_from_vectors(first: Tensor, second: Tensor) -> Tensor:
    """(..., 3, 3) rotation whose columns are ``first``, ``second`` ⟂ ``first``, their cross."""
    e1 = _unit(first)
    e2 = _unit(second - (second * e1).sum(-1, keepdim=True) * e1)
    return torch.stack([e1, e2, torch.linalg.cross(e1, e2, dim=-1)], dim=-1)


def _has_frame(first: Tensor, second: Tensor) -> Tensor:
    """(...,) whether ``first`` and ``second`` span a plane (``first`` not zero, ``second`` not
    along it), so that `frame_from_vectors` is a rotation."""
    n1 = first.norm(dim=-1)
    perp = torch.linalg.cross(first, second, dim=-1).norm(dim=-1) / n1.clamp_min(_EPS)
    return (n1 > _EPS) & (perp > _EPS) & (perp > _FRAME_TOLERANCE * second.norm(dim=-1))


def _skew(v: Tensor) -> Tensor:
    zero = torch.zeros_like(v[..., 0])
    return torch.stack(
        [
            torch.stack([zero, -v[..., 2], v[..., 1]], -1),
            torch.stack([v[..., 2], zero, -v[..., 0]], -1),
            torch.stack([-v[..., 1], v[..., 0], zero], -1),
        ],
        dim=-2,
    )


def _perpendicular(a: Tensor) -> Tensor:
    """A unit vector ⟂ unit ``a`` (..., 3): the basis axis least aligned with it, made ⟂."""
    axis = torch.nn.functional.one_hot(a.abs().argmin(-1), 3).to(a)
    return _unit(axis - (axis * a).sum(-1, keepdim=True) * a)


def swing(a: Tensor, b: Tensor) -> Tensor:
    """The smallest rotation (..., 3, 3) taking direction ``a`` to direction ``b`` (..., 3).

    ``R = I + [v]× + [v]×² / (1 + c)`` with ``v = â × b̂``, ``c = â · b̂``. Towards opposite
    directions (``c < −0.5``, beyond 120°), where that quotient loses its precision (float32:
    3e-5 at 171°, a non-rotation at 179.5°), the same rotation is built from its axis
    ``v / |v|`` (kept ⟂ ``â``) and angle ``atan2(|v|, c)``;
    at exactly 180° (no axis) it is the half turn about an axis ⟂ ``â``. Always a proper
    rotation that maps ``â`` to ``b̂``; a zero ``a`` or ``b`` gives the identity.
    """
    a, b = _unit(a), _unit(b)
    v = torch.linalg.cross(a, b, dim=-1)
    c = (a * b).sum(-1)
    eye = torch.eye(3, dtype=a.dtype, device=a.device)
    vx = _skew(v)
    direct = eye + vx + (vx @ vx) / (1 + c).clamp_min(_OPPOSITE)[..., None, None]
    # Near opposite: Rodrigues' formula about the unit axis k ⟂ a (⟂ b too in exact arithmetic).
    k = v - (v * a).sum(-1, keepdim=True) * a
    k_norm = k.norm(dim=-1, keepdim=True)
    has_axis = k_norm > _AXIS_TOLERANCE
    k = torch.where(has_axis, k / k_norm.clamp_min(_EPS), _perpendicular(a))
    near = c < -1 + _OPPOSITE
    # (the other frames get a half turn's safe atan2 arguments: finite gradients everywhere)
    sine, cosine = torch.where(near, v.norm(dim=-1), 0), torch.where(near, c, -1)
    angle = torch.atan2(sine, cosine)[..., None, None]
    kx = _skew(k)
    opposite = eye + torch.sin(angle) * kx + (1 - torch.cos(angle)) * (kx @ kx)
    return torch.where(near[..., None, None], opposite, direct)


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
    # turn about the hip axis. A frame without one (coincident hips, all joints equal, "up"
    # along the hips) keeps the rest orientation of the root (identity); its bones are still
    # aimed from there.
    across, up = segment(across_joints), segment(up_joints)
    target = frame_from_vectors(across, up)
    rest = frame_from_vectors(rest_across.to(joints), rest_up.to(joints))
    root = torch.where(
        _has_frame(across, up)[..., None, None], target @ rest.transpose(-1, -2), eye
    )
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
