"""Plausibility figures of recovered meshes (no surface ground truth needed).

* `SelfIntersection`: whether a posed mesh intersects itself, by anny's own triangle-triangle
  test (separating axes, on a bounding-volume hierarchy; ``anny.utils.collision``), which skips
  pairs of triangles that share a bone, so that the folds of a bent knee are not counted;
* `feet_below_floor`: how far the lowest foot vertex goes under a given floor plane;
* `shape_spread`: how much the body shape varies over the clips of one subject (one person has
  one shape; the head predicts it per clip).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from ssrstf.mesh.extra import require_mesh


class SelfIntersection:
    """Self-intersection test of posed anny meshes (extra ``mesh``; compiles a warp kernel
    once, ~45 s, cached by warp afterwards).

    Args:
        anny_model: The anny model the vertices come from (`ssrstf.mesh.anny_body.AnnyBody`'s
            ``anny``).
    """

    def __init__(self, anny_model) -> None:
        collision = require_mesh("anny.utils.collision")
        self._module = collision.SelfInterpenetrationModule(anny_model)

    def intersecting_faces(self, vertices: Tensor) -> int:
        """How many triangles of one mesh (V, 3) metres intersect another of its triangles."""
        colliding = self._module.detect_self_intersections(vertices.detach().float().cpu())
        return int((colliding >= 0).sum())

    def __call__(self, vertices: Tensor) -> np.ndarray:
        """(N,) int: intersecting triangles of each mesh of (N, V, 3)."""
        return np.array([self.intersecting_faces(v) for v in vertices], dtype=np.int64)


def foot_vertex_ids(vertex_bones: Tensor, vertex_weights: Tensor, foot_bones: Sequence[int]):
    """Vertices whose largest skinning weight belongs to one of ``foot_bones`` (foot, toes).

    Args:
        vertex_bones: (V, K) bone index of each skinning weight.
        vertex_weights: (V, K) the weights.
        foot_bones: Bone indices of the feet.
    """
    dominant = vertex_bones.gather(1, vertex_weights.argmax(1, keepdim=True)).squeeze(1)
    feet = torch.as_tensor(list(foot_bones), device=dominant.device)
    return torch.nonzero(torch.isin(dominant, feet)).flatten()


def feet_below_floor(foot_heights_mm: np.ndarray, floor_mm: float | np.ndarray) -> np.ndarray:
    """Per frame, how far (mm, >= 0) the lowest foot vertex is below the floor.

    Args:
        foot_heights_mm: (F, V_foot) heights of the foot vertices above some origin, along up.
        floor_mm: The floor's height on the same axis (scalar or (F,)).
    """
    lowest = np.asarray(foot_heights_mm, dtype=np.float64).min(axis=1)
    return np.maximum(np.asarray(floor_mm, dtype=np.float64) - lowest, 0.0)


def shape_spread(values: np.ndarray, groups: Sequence[str]) -> dict[str, np.ndarray]:
    """Standard deviation of per-clip values within each group (e.g. subject).

    Args:
        values: (N, D) one row per clip (e.g. phenotypes, scale, height).
        groups: (N,) the group of each clip.

    Returns:
        Group → (D,) standard deviation over that group's clips.
    """
    values = np.asarray(values, dtype=np.float64)
    labels = np.asarray(groups)
    return {g: values[labels == g].std(axis=0) for g in sorted(set(labels.tolist()))}
