"""Training the mesh head without mesh ground truth: joint losses plus body priors.

Human3.6M has 3D joints but no meshes, so the mesh is learned through its joints and kept
plausible by priors (all differentiable ``*_loss`` terms, weights in `ssrstf.config.MeshConfig`):

* ``mpjpe`` and ``velocity``: the mesh joints against the 3D joints (metres), as the lifter;
* ``agreement``: the mesh joints against the backbone's own joints (optional);
* ``lifter``: the backbone's own joints against the 3D joints (optional; for a backbone that
  trains, e.g. from scratch, so that its joints stay a lifter's and swing IK starts from them);
* ``rotation_prior``: mean squared rotation angle of the non-root bones (radians²) that the
  head regresses (with swing IK: its residual on the IK pose), which prefers the smallest
  rotations that explain the joints (twists are otherwise free);
* ``joint_limits``: mean squared excess over each bone's `JointLimit` (knees and elbows bend
  one way only, about one axis);
* ``smoothness``: mean acceleration of a fixed subset of vertices over the clip (metres per
  frame²), which the joints alone do not constrain (e.g. a forearm's twist);
* ``shape_prior``: squared distance of the shape from the neutral body plus the squared log
  scale, so the shape and scale only move as far as the bone lengths ask.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ssrstf.config import MeshConfig
from ssrstf.mesh.body import BodyModel, JointLimit
from ssrstf.mesh.head import MeshOutput
from ssrstf.mesh.rotations import matrix_to_rotation_vector


def _joint_loss(pred: Tensor, target: Tensor) -> Tensor:
    return (pred - target).norm(dim=-1).mean()


def joint_limit_loss(
    rotvec: Tensor, max_angle: Tensor, axis: Tensor, max_extension: Tensor, max_off_axis: Tensor,
    is_hinge: Tensor,
) -> Tensor:  # fmt: skip
    """Mean squared excess of rotation vectors (..., P, 3) over per-bone limits (P,) / (P, 3).

    A plain bone may turn up to ``max_angle``; a hinge (``is_hinge``) turns by ``θ = r·axis`` in
    ``[−max_extension, max_angle]`` with at most ``max_off_axis`` about other axes. Bones with
    ``max_angle = inf`` (the root) are free.
    """
    angle = rotvec.norm(dim=-1)
    theta = (rotvec * axis).sum(-1)
    off = (rotvec - theta[..., None] * axis).norm(dim=-1)
    plain = torch.relu(angle - max_angle).square()
    hinge = (
        torch.relu(theta - max_angle).square()
        + torch.relu(-theta - max_extension).square()
        + torch.relu(off - max_off_axis).square()
    )
    excess = torch.where(is_hinge, hinge, plain)
    return torch.where(torch.isfinite(max_angle), excess, torch.zeros_like(excess)).mean()


def vertex_acceleration_loss(vertices: Tensor) -> Tensor:
    """Mean norm of the second difference along T of (B, T, V, 3); 0 below 3 frames."""
    if vertices.shape[1] < 3:
        return vertices.new_zeros(())
    return vertices.diff(n=2, dim=1).norm(dim=-1).mean()


class MeshLoss(nn.Module):
    """The weighted sum of the module docstring's terms, for one body model.

    Args:
        cfg: Loss weights.
        body: Supplies the joint limits and the neutral shape.
    """

    def __init__(self, cfg: MeshConfig, body: BodyModel) -> None:
        super().__init__()
        self.cfg = cfg
        limits = body.joint_limits()
        free = JointLimit(max_angle=float("inf"))
        limits = [free if limit is None else limit for limit in limits]
        self.register_buffer("max_angle", torch.tensor([lim.max_angle for lim in limits]))
        axes = [lim.hinge_axis or (0.0, 0.0, 0.0) for lim in limits]
        self.register_buffer("axis", torch.tensor(axes))
        self.register_buffer("max_extension", torch.tensor([lim.max_extension for lim in limits]))
        self.register_buffer("max_off_axis", torch.tensor([lim.max_off_axis for lim in limits]))
        hinges = [lim.hinge_axis is not None for lim in limits]
        self.register_buffer("is_hinge", torch.tensor(hinges))
        self.register_buffer("neutral_shape", body.neutral_shape().detach().cpu().float())

    def forward(self, out: MeshOutput, target: Tensor) -> tuple[Tensor, dict[str, float]]:
        """Total loss and its detached terms; ``target``: (B, T, 17, 3) root-relative metres."""
        cfg = self.cfg
        rotvec = matrix_to_rotation_vector(out.pose[..., 1:, :, :])
        # The prior keeps what the head adds small: its residual on top of the swing-IK pose
        # when there is one (the IK pose itself is what the joints ask for).
        regressed = out.pose if out.residual is None else out.residual
        prior = matrix_to_rotation_vector(regressed[..., 1:, :, :]).square().sum(-1).mean()
        limits = (self.max_angle, self.axis, self.max_extension, self.max_off_axis, self.is_hinge)
        terms: dict[str, tuple[float, Tensor | None]] = {
            "mpjpe": (cfg.loss_mpjpe, _joint_loss(out.joints, target)),
            "velocity": (
                cfg.loss_velocity,
                _joint_loss(out.joints.diff(dim=1), target.diff(dim=1))
                if out.joints.shape[1] > 1
                else None,
            ),
            "agreement": (
                cfg.loss_agreement,
                _joint_loss(out.joints, out.lifter_joints)
                if cfg.loss_agreement and out.lifter_joints is not None
                else None,
            ),
            "lifter": (
                cfg.loss_lifter,
                _joint_loss(out.lifter_joints, target)
                if cfg.loss_lifter and out.lifter_joints is not None
                else None,
            ),
            "rotation_prior": (cfg.loss_rotation_prior, prior),
            "joint_limits": (
                cfg.loss_joint_limits,
                joint_limit_loss(rotvec, *(t[1:] for t in limits)),
            ),
            "smoothness": (
                cfg.loss_smoothness,
                vertex_acceleration_loss(out.vertices) if out.vertices is not None else None,
            ),
            "shape_prior": (
                cfg.loss_shape_prior,
                (out.shape - self.neutral_shape.to(out.shape)).square().mean()
                + torch.log(out.scale).square().mean(),
            ),
        }
        total = sum(w * v for w, v in terms.values() if v is not None and w)
        assert isinstance(total, Tensor)
        return total, {k: float(v.detach()) for k, (_, v) in terms.items() if v is not None}
