"""Rotation representations for the mesh head (torch, batched over any leading dimensions).

* **6D** (Zhou et al., "On the continuity of rotation representations in neural networks",
  CVPR 2019; the mesh heads of HMR 2.0 and MotionBERT): the first two columns of a rotation
  matrix, ``(..., 6)`` laid out as ``(r00, r01, r10, r11, r20, r21)`` (the (3, 2) block read row
  by row). Gram-Schmidt turns any 6 numbers (two non-parallel 3-vectors) back into a rotation,
  so a network can regress them without a discontinuity.
* **Rotation vectors** (axis × angle, radians), through unit quaternions (w, x, y, z): used by
  the rotation-size prior and the joint-angle limits, which need an angle per bone.
"""

from __future__ import annotations

import torch
from torch import Tensor

_EPS = 1e-8


def rotation_6d_to_matrix(d6: Tensor) -> Tensor:
    """Rotation matrices (..., 3, 3) from 6D vectors (..., 6) by Gram-Schmidt.

    The two columns ``a1 = d6[..., 0::2]``, ``a2 = d6[..., 1::2]`` become ``b1 = a1 / |a1|``,
    ``b2 = (a2 − (b1·a2) b1) / |…|``, ``b3 = b1 × b2``; the result's columns are b1, b2, b3.
    """
    a1, a2 = d6[..., 0::2], d6[..., 1::2]
    b1 = a1 / a1.norm(dim=-1, keepdim=True).clamp_min(_EPS)
    a2 = a2 - (b1 * a2).sum(-1, keepdim=True) * b1
    b2 = a2 / a2.norm(dim=-1, keepdim=True).clamp_min(_EPS)
    b3 = torch.linalg.cross(b1, b2, dim=-1)
    return torch.stack([b1, b2, b3], dim=-1)


def matrix_to_rotation_6d(matrix: Tensor) -> Tensor:
    """6D vectors (..., 6) of rotation matrices (..., 3, 3): their first two columns."""
    return matrix[..., :, :2].reshape(*matrix.shape[:-2], 6)


def matrix_to_quaternion(matrix: Tensor) -> Tensor:
    """Unit quaternions (..., 4) as (w, x, y, z), w >= 0, of rotation matrices (..., 3, 3).

    Each quaternion comes from the largest of the four candidate denominators (Shepperd's
    method), which is accurate at every angle including 180°.
    """
    m = matrix
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    candidates = torch.stack(
        [1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22], -1
    )
    root = candidates.clamp_min(_EPS).sqrt()  # = 2|q_k| for candidate k
    # Row k: the quaternion scaled by 2 q_k, written from the entries of m.
    rows = torch.stack(
        [
            torch.stack([candidates[..., 0], m[..., 2, 1] - m[..., 1, 2],
                         m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]], -1),
            torch.stack([m[..., 2, 1] - m[..., 1, 2], candidates[..., 1],
                         m[..., 1, 0] + m[..., 0, 1], m[..., 0, 2] + m[..., 2, 0]], -1),
            torch.stack([m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] + m[..., 0, 1],
                         candidates[..., 2], m[..., 2, 1] + m[..., 1, 2]], -1),
            torch.stack([m[..., 1, 0] - m[..., 0, 1], m[..., 0, 2] + m[..., 2, 0],
                         m[..., 2, 1] + m[..., 1, 2], candidates[..., 3]], -1),
        ],
        dim=-2,
    )  # fmt: skip
    best = candidates.argmax(dim=-1, keepdim=True)
    index = best[..., None].expand(*best.shape, 4)
    q = torch.gather(rows, -2, index).squeeze(-2) / torch.gather(root, -1, best)
    q = q / q.norm(dim=-1, keepdim=True).clamp_min(_EPS)
    return torch.where(q[..., :1] < 0, -q, q)


def quaternion_to_matrix(q: Tensor) -> Tensor:
    """Rotation matrices (..., 3, 3) of quaternions (..., 4) as (w, x, y, z) (normalised here)."""
    q = q / q.norm(dim=-1, keepdim=True).clamp_min(_EPS)
    w, x, y, z = q.unbind(-1)
    rows = [
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ]
    return torch.stack([torch.stack(r, -1) for r in rows], -2)


def matrix_to_rotation_vector(matrix: Tensor) -> Tensor:
    """Rotation vectors (..., 3), angle in [0, π], of rotation matrices (..., 3, 3).

    Through the quaternion: ``angle = 2·atan2(|v|, w)``, ``vector = v · angle / |v|``, with the
    small-angle limit ``2v`` below 1e-4 rad (finite gradients at the identity).
    """
    q = matrix_to_quaternion(matrix)
    w, v = q[..., :1], q[..., 1:]
    sin_half = v.norm(dim=-1, keepdim=True)
    angle = 2 * torch.atan2(sin_half, w)
    small = sin_half < 5e-5
    factor = torch.where(small, torch.full_like(angle, 2.0), angle / sin_half.clamp_min(_EPS))
    return v * factor


def rotation_vector_to_matrix(vector: Tensor) -> Tensor:
    """Rotation matrices (..., 3, 3) of rotation vectors (..., 3) (Rodrigues' formula)."""
    angle = vector.norm(dim=-1, keepdim=True)
    half = angle / 2
    small = angle < 1e-4
    # sin(θ/2)/θ → 1/2 − θ²/48 near 0 (finite gradients at the identity).
    scale = torch.where(small, 0.5 - angle**2 / 48, torch.sin(half) / angle.clamp_min(_EPS))
    q = torch.cat([torch.cos(half), vector * scale], dim=-1)
    return quaternion_to_matrix(q)
