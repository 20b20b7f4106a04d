"""Training losses on root-relative 3D poses (torch). Metrics for reporting live in
`ssrstf.evaluation.metrics`; these are differentiable ``*_loss`` functions returning scalars.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


def mpjpe_loss(pred: Tensor, target: Tensor) -> Tensor:
    """Mean per-joint position error. pred, target: (..., J, 3)."""
    return (pred - target).norm(dim=-1).mean()


def n_mpjpe_loss(pred: Tensor, target: Tensor) -> Tensor:
    """MPJPE after the per-frame least-squares scale of ``pred`` (MotionBERT "loss_3d_scale").

    ``s = Σ⟨pred, target⟩ / Σ‖pred‖²`` over the joints of each frame. pred, target: (..., J, 3).
    """
    num = (pred * target).sum(dim=(-1, -2), keepdim=True)
    den = pred.square().sum(dim=(-1, -2), keepdim=True).clamp_min(1e-8)
    return mpjpe_loss(num / den * pred, target)


def velocity_loss(pred: Tensor, target: Tensor) -> Tensor:
    """Error of the frame-to-frame velocities along T. pred, target: (B, T, J, 3); 0 if T = 1."""
    if pred.shape[1] < 2:
        return pred.new_zeros(())
    return mpjpe_loss(pred.diff(dim=1), target.diff(dim=1))


@dataclass(frozen=True)
class LiftingLoss:
    """Weighted sum ``w_mpjpe·MPJPE + w_n·N-MPJPE + w_vel·velocity`` (weights from TrainConfig).

    Defaults are the MotionBERT/MotionAGFormer recipe: 1, 0.5, 20 (the velocity loss is in the
    target unit per frame, small, hence the large weight).
    """

    mpjpe: float = 1.0
    n_mpjpe: float = 0.5
    velocity: float = 20.0

    def __call__(self, pred: Tensor, target: Tensor) -> tuple[Tensor, dict[str, float]]:
        """Total loss and its detached terms. pred, target: (B, T, J, 3) root-relative."""
        terms = {
            "mpjpe": mpjpe_loss(pred, target),
            "n_mpjpe": n_mpjpe_loss(pred, target) if self.n_mpjpe else None,
            "velocity": velocity_loss(pred, target) if self.velocity else None,
        }
        weights = {"mpjpe": self.mpjpe, "n_mpjpe": self.n_mpjpe, "velocity": self.velocity}
        total = sum(weights[k] * v for k, v in terms.items() if v is not None)
        assert isinstance(total, torch.Tensor)
        return total, {k: float(v.detach()) for k, v in terms.items() if v is not None}
