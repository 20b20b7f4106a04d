"""The single-frame baseline: a residual MLP that lifts each frame on its own.

Martinez et al., "A simple yet effective baseline for 3d human pose estimation" (ICCV 2017),
re-implemented from the paper's description: the frame's 2D joints, flattened, go through a
linear layer to ``dim`` (1024) features, ``depth`` (2) residual blocks of two
[Linear, BatchNorm, ReLU, Dropout] layers each, and a linear layer to the 3D joints. It has no
temporal context, which is what the temporal models are measured against (`ModelConfig.architecture
= "mlp"`; dropout is ``ModelConfig.proj_drop``).
"""

from __future__ import annotations

from torch import Tensor, nn

from ssrstf.config import ModelConfig
from ssrstf.skeleton import SKELETONS


def _layer(dim: int, dropout: float) -> list[nn.Module]:
    return [nn.Linear(dim, dim), nn.BatchNorm1d(dim), nn.ReLU(), nn.Dropout(dropout)]


class _ResidualBlock(nn.Module):
    def __init__(self, dim: int, dropout: float) -> None:
        super().__init__()
        self.body = nn.Sequential(*_layer(dim, dropout), *_layer(dim, dropout))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class SingleFrameMLP(nn.Module):
    """Per-frame residual MLP. Shapes: (B, T, J, C_in) -> (B, T, J, 3); frames are independent."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        joints = SKELETONS[cfg.skeleton].num_joints
        self.stem = nn.Sequential(
            nn.Linear(joints * cfg.in_channels, cfg.dim),
            nn.BatchNorm1d(cfg.dim),
            nn.ReLU(),
            nn.Dropout(cfg.proj_drop),
        )
        self.blocks = nn.Sequential(
            *(_ResidualBlock(cfg.dim, cfg.proj_drop) for _ in range(cfg.depth))
        )
        self.head = nn.Linear(cfg.dim, joints * cfg.out_channels)

    def forward(self, x: Tensor) -> Tensor:
        """Lift every frame of (B, T, J, C_in) independently."""
        b, t, j, c = x.shape
        y = self.head(self.blocks(self.stem(x.reshape(b * t, j * c))))
        return y.reshape(b, t, j, self.cfg.out_channels)
