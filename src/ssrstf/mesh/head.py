"""Mesh recovery from the motion representation: `MeshHead` and `MeshRecovery`.

`MeshHead` follows MotionBERT's mesh head (docs/mesh.md) on the (B, T, 17, 512) output of
`ssrstf.models.SSRSTF.forward_features`:

* **pose, per frame**: the 17 joint features, each first reduced to ``joint_dim`` channels by
  one shared linear layer (MotionBERT flattens all 17 × 512; the reduction keeps the head at
  ~1 M instead of ~18 M parameters, see docs/design.md), flattened → dropout →
  Linear → LayerNorm → ReLU → Linear → a 6D rotation per posable bone, added to the rest pose's
  6D (the root's: upright, facing the camera);
* **shape and scale, per clip**: the same branch on the features averaged over time → the
  backend's shape parameters (anny: phenotypes through a sigmoid, 0.5 at the start) and a log
  scale (1 at the start).

The output layers start at 1 % of Xavier's scale (MotionBERT's ``gain=0.01``), so a new head
predicts the rest pose and the average body. Joints come from the body model
(`ssrstf.mesh.body.BodyModel`) plus a **learnable offset table** (17 × 3 metres, zero at the
start) in each joint's bone frame, which absorbs the difference between the body model's and
Human3.6M's joint definitions; no fitted table is shipped.

`MeshRecovery` chains the backbone, the head and the body model. Its outputs are root-relative
(the pelvis at 0), metres, in the lifter's camera axes (x right, y down, z forward).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from einops import rearrange
from torch import Tensor, nn

from ssrstf.mesh.body import BodyModel, IKSetup
from ssrstf.mesh.ik import solve_swing_ik
from ssrstf.mesh.rotations import matrix_to_rotation_6d, rotation_6d_to_matrix
from ssrstf.skeleton import H36M_17

SHAPE_FIT_FRAMES = 16
"""Frames of a sequence `MeshRecovery.fit_shape` matches (evenly spaced)."""
SHAPE_FIT_ITERATIONS = 30
"""Adam steps of `MeshRecovery.fit_shape`."""
SHAPE_FIT_LR = 0.1
"""Its learning rate (on shape logits and the log scale)."""


class _Branch(nn.Module):
    """Per-joint reduction → flatten → dropout → Linear → LayerNorm → ReLU → Linear."""

    def __init__(
        self, *, in_dim: int, num_joints: int, joint_dim: int, hidden_dim: int, out_dim: int,
        dropout: float,
    ) -> None:  # fmt: skip
        super().__init__()
        self.reduce = nn.Linear(in_dim, joint_dim)
        self.mlp = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(num_joints * joint_dim, hidden_dim),
            nn.LayerNorm(hidden_dim),
            nn.ReLU(),
        )
        self.out = nn.Linear(hidden_dim, out_dim)
        nn.init.xavier_uniform_(self.out.weight, gain=0.01)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: Tensor) -> Tensor:
        """(..., J, C) features → (..., out_dim)."""
        return self.out(self.mlp(self.reduce(x).flatten(-2)))


@dataclass
class MeshOutput:
    """What `MeshRecovery.forward` returns (metres, camera axes, root-relative).

    Attributes:
        joints: (B, T, 17, 3) H36M-17 joints of the mesh (with the offsets).
        pose: (B, T, P, 3, 3) rotations fed to the body model (root first).
        shape: (B, S) shape parameters per clip.
        scale: (B,) size factor per clip.
        vertices: (B, T, V', 3) the requested vertices, or None.
        lifter_joints: (B, T, 17, 3) the backbone's own 3D output (root-relative), or None.
        root: (B, T, 3) where the body model put the pelvis joint (its axes, before the scale):
            ``vertices = scale · (body vertices − root)``.
        residual: (B, T, P, 3, 3) the head's regressed rotations on top of its starting pose
            (swing IK or the rest pose), or None.
    """

    joints: Tensor
    pose: Tensor
    shape: Tensor
    scale: Tensor
    vertices: Tensor | None = None
    lifter_joints: Tensor | None = None
    root: Tensor | None = None
    residual: Tensor | None = None

    def float(self) -> MeshOutput:
        """The same output in float32 (the trainer casts predictions after autocast)."""
        cast = {k: v.float() if isinstance(v, Tensor) else v for k, v in vars(self).items()}
        return MeshOutput(**cast)


class MeshHead(nn.Module):
    """Regresses body-model parameters from the motion representation (module docstring).

    Args:
        num_pose_bones: P rotations to predict (root first).
        num_shape: S shape parameters.
        rest_root: (3, 3) the root rotation at the start (upright, facing the camera).
        rep_dim: Channels of the motion representation.
        joint_dim: Channels per joint after the shared reduction.
        hidden_dim: Width of the hidden layer of both branches.
        dropout: Dropout before the hidden layer.
        shape_activation: ``sigmoid`` (anny's phenotypes in [0, 1]) or ``identity`` (SMPL β).
        neutral_shape: (S,) the shape at the start.
    """

    def __init__(
        self,
        *,
        num_pose_bones: int,
        num_shape: int,
        rest_root: Tensor,
        neutral_shape: Tensor,
        rep_dim: int = 512,
        joint_dim: int = 32,
        hidden_dim: int = 1024,
        dropout: float = 0.1,
        shape_activation: str = "sigmoid",
    ) -> None:
        super().__init__()
        if shape_activation not in ("sigmoid", "identity"):
            raise ValueError(f"shape_activation must be sigmoid or identity: {shape_activation}")
        j = H36M_17.num_joints
        kw = dict(in_dim=rep_dim, num_joints=j, joint_dim=joint_dim, hidden_dim=hidden_dim,
                  dropout=dropout)  # fmt: skip
        self.pose_branch = _Branch(out_dim=num_pose_bones * 6, **kw)
        self.shape_branch = _Branch(out_dim=num_shape + 1, **kw)
        rest = torch.eye(3).expand(num_pose_bones, 3, 3).clone()
        rest[0] = rest_root.float()
        self.register_buffer("rest_pose", rest)
        self.register_buffer("identity_6d", matrix_to_rotation_6d(torch.eye(3)))
        self.shape_activation = shape_activation
        neutral = neutral_shape.float().clamp(1e-4, 1 - 1e-4) if shape_activation == "sigmoid" \
            else neutral_shape.float()  # fmt: skip
        base = torch.logit(neutral) if shape_activation == "sigmoid" else neutral
        self.register_buffer("shape_base", base)
        self.joint_offsets = nn.Parameter(torch.zeros(j, 3))
        """Per-joint offsets (metres) in each joint's bone frame; zero at the start."""

    def forward(
        self, features: Tensor, base: Tensor | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Pose (B, T, P, 3, 3), shape (B, S) and scale (B,) from features (B, T, 17, C).

        Each bone's rotation is ``base · residual``: the regressed residual (identity at the
        start) after ``base`` (B, T, P, 3, 3), by default the rest pose facing the camera, with
        swing IK the backbone's joints' pose (`MeshRecovery`).
        """
        d6 = rearrange(self.pose_branch(features), "b t (p six) -> b t p six", six=6)
        residual = rotation_6d_to_matrix(d6 + self.identity_6d)
        self.last_residual = residual  # for the rotation prior (MeshLoss)
        pose = (self.rest_pose if base is None else base) @ residual
        clip = self.shape_branch(features.mean(dim=1))  # (B, S + 1)
        shape = clip[:, :-1] + self.shape_base
        if self.shape_activation == "sigmoid":
            shape = torch.sigmoid(shape)
        return pose, shape, torch.exp(clip[:, -1])


class MeshRecovery(nn.Module):
    """Backbone → `MeshHead` → body model → root-relative mesh joints (and vertices).

    ``forward(x)`` returns a `MeshOutput`; `joints_only` wraps the model as a plain lifter
    ((B, T, 17, C_in) → (B, T, 17, 3) metres) for the evaluation protocols. The body model is
    shared data, not weights: it is kept outside ``state_dict`` (see `body`).

    Args:
        backbone: An `ssrstf.models.SSRSTF` (its ``forward_features`` and lifting ``head``).
        head: The mesh head.
        body: The body model.
        freeze_backbone: Keep the backbone fixed (no gradients, always in evaluation mode).
    """

    def __init__(
        self,
        backbone: nn.Module,
        head: MeshHead,
        body: BodyModel,
        *,
        freeze_backbone: bool,
        use_joint_ik: bool = True,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.__dict__["body"] = body  # outside the module tree: not in state_dict
        self.freeze_backbone = freeze_backbone
        self.ik: IKSetup | None = body.ik_setup() if use_joint_ik else None
        if freeze_backbone:
            for p in backbone.parameters():
                p.requires_grad_(False)
        self.vertex_ids: Tensor | bool = False
        """Vertices `forward` returns: False (none), True (all) or an index tensor."""
        self.trained_body: dict[str, str] | None = None
        """The body-model record of the checkpoint this model was loaded from (None: a new
        model, or a file without one); what its checkpoints record (`ssrstf.mesh.model`)."""

    @property
    def body(self) -> BodyModel:
        """The body model (not registered as a submodule). ``.to`` gives this model its own
        moved copy (`BodyModel.moved`), leaving the body it was built with, which other models
        may share, where it was."""
        return self.__dict__["body"]

    def _apply(self, fn, recurse=True):  # noqa: D401 - nn.Module hook
        super()._apply(fn, recurse)
        self.__dict__["body"] = self.body.moved(fn)
        return self

    def train(self, mode: bool = True) -> MeshRecovery:
        """Training mode for the head (and the backbone unless it is frozen)."""
        super().train(mode)
        if self.freeze_backbone:
            self.backbone.eval()
        return self

    def features(self, x: Tensor) -> Tensor:
        """The backbone's motion representation (without gradients when frozen)."""
        if self.freeze_backbone:
            with torch.no_grad():
                return self.backbone.forward_features(x)
        return self.backbone.forward_features(x)

    def forward(self, x: Tensor, *, vertices: bool | Tensor | None = None) -> MeshOutput:
        """Mesh of 2D clips (B, T, 17, C_in); ``vertices`` overrides `vertex_ids`."""
        features = self.features(x)
        return self.from_features(features, vertices=vertices)

    def from_features(self, features: Tensor, *, vertices: bool | Tensor | None = None):
        """`MeshOutput` of a motion representation (B, T, 17, C)."""
        lifter = self.lifter_joints(features)
        pose, shape, scale = self.parameters_of(features, lifter)
        out = self.from_parameters(pose, shape, scale, vertices=vertices)
        out.lifter_joints = lifter
        out.residual = self.head.last_residual
        return out

    def lifter_joints(self, features: Tensor) -> Tensor:
        """The backbone's own root-relative 3D joints (B, T, 17, 3) from its features."""
        lifter = self.backbone.head(features)
        lifter = lifter - lifter[..., H36M_17.root : H36M_17.root + 1, :]
        return lifter.detach() if self.freeze_backbone else lifter

    def parameters_of(self, features: Tensor, lifter: Tensor | None = None):
        """Pose (B, T, P, 3, 3), shape (B, S), scale (B,) of features (B, T, 17, C); with swing
        IK the pose starts from the backbone's joints (``lifter``, computed when None)."""
        base = None
        if self.ik is not None:
            base = self.ik_pose(self.lifter_joints(features) if lifter is None else lifter)
        return self.head(features, base)

    def ik_pose(self, joints: Tensor) -> Tensor:
        """Swing IK of the body model onto joints (..., 17, 3) → pose (..., P, 3, 3)."""
        ik = self.ik if self.ik is not None else self.body.ik_setup()
        return solve_swing_ik(
            joints, ik.links, num_pose_bones=self.body.num_pose_bones,
            rest_up=torch.tensor(ik.rest_up), rest_across=torch.tensor(ik.rest_across),
            up_joints=ik.up_joints, across_joints=ik.across_joints,
        )  # fmt: skip

    def from_parameters(
        self, pose: Tensor, shape: Tensor, scale: Tensor, *, vertices: bool | Tensor | None = None
    ) -> MeshOutput:
        """`MeshOutput` of body parameters: pose (B, T, P, 3, 3), shape (B, S), scale (B,)."""
        want = self.vertex_ids if vertices is None else vertices
        body = self.body(pose, shape, vertices=want)
        offsets = torch.einsum("btjik,jk->btji", body.joint_rotations, self.head.joint_offsets)
        joints = body.joints + offsets
        root = joints[..., H36M_17.root : H36M_17.root + 1, :]
        size = scale[:, None, None, None]
        out_vertices = None if body.vertices is None else size * (body.vertices - root)
        return MeshOutput(
            joints=size * (joints - root),
            pose=pose,
            shape=shape,
            scale=scale,
            vertices=out_vertices,
            root=root[..., 0, :],
        )

    def fit_shape(
        self,
        pose: Tensor,
        shape: Tensor,
        scale: Tensor,
        joints: Tensor,
        *,
        frames: int = SHAPE_FIT_FRAMES,
        iterations: int = SHAPE_FIT_ITERATIONS,
        lr: float = SHAPE_FIT_LR,
    ) -> tuple[Tensor, Tensor]:
        """One body for a sequence that best matches given joints, its poses kept.

        Adam on the shape (anny: its logits, so phenotypes stay in [0, 1]) and the log scale,
        from the head's values, minimising the mean distance between the mesh joints and
        ``joints`` on ``frames`` evenly spaced frames. The head predicts the body of a
        Human3.6M subject from the motion representation; a lifted skeleton on other input can
        be a different size and build, and this brings the mesh onto it (docs/design.md, "Mesh
        recovery": settings and their figures).

        Args:
            pose: (1, F, P, 3, 3) the rotations (fixed).
            shape: (1, S) and scale (1,): the starting body.
            joints: (1, F, 17, 3) root-relative target joints, metres.
            frames, iterations, lr: The fit's frames, Adam steps and learning rate.

        Returns:
            The fitted shape (1, S) and scale (1,), without gradients.
        """
        count = pose.shape[1]
        index = torch.linspace(0, count - 1, min(count, frames)).round().long().to(pose.device)
        sigmoid = self.head.shape_activation == "sigmoid"

        def body_of(free: Tensor) -> Tensor:
            return torch.sigmoid(free) if sigmoid else free

        with torch.inference_mode(False), torch.enable_grad():
            # clones: tensors made under inference mode cannot enter autograd
            pose, target = pose[:, index].float().clone(), joints[:, index].float().clone()
            start = shape.float().clone()
            start = start.clamp(1e-4, 1 - 1e-4) if sigmoid else start
            free = (torch.logit(start) if sigmoid else start).detach().requires_grad_(True)
            log_scale = scale.float().clone().log().detach().requires_grad_(True)
            optimiser = torch.optim.Adam([free, log_scale], lr=lr)
            for _ in range(iterations):
                out = self.from_parameters(pose, body_of(free), log_scale.exp(), vertices=False)
                loss = (out.joints - target).norm(dim=-1).mean()
                # gradients for the two fitted tensors only (the head's offsets stay untouched)
                free.grad, log_scale.grad = torch.autograd.grad(loss, [free, log_scale])
                optimiser.step()
        return body_of(free).detach(), log_scale.exp().detach()

    def joints_only(self) -> nn.Module:
        """This model as a lifter: (B, T, 17, C_in) → mesh joints (B, T, 17, 3), metres."""
        return _MeshJoints(self)


class _MeshJoints(nn.Module):
    """`MeshRecovery` seen as a lifter (evaluation protocols, flip TTA)."""

    def __init__(self, recovery: MeshRecovery) -> None:
        super().__init__()
        self.recovery = recovery

    def forward(self, x: Tensor) -> Tensor:
        """Mesh joints (B, T, 17, 3) of 2D clips (B, T, 17, C_in)."""
        return self.recovery(x, vertices=False).joints
