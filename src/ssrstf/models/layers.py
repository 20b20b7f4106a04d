"""Building blocks shared by both streams: MLP, scaled residual, the MetaFormer block."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class Mlp(nn.Module):
    """Two-layer perceptron with GELU, applied per token. Shapes: (..., C) -> (..., C)."""

    def __init__(self, *, dim: int, hidden_dim: int, drop: float = 0.0) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dim, dim)
        self.drop = nn.Dropout(drop) if drop > 0 else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        """Apply the MLP to the last axis."""
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class ScaledResidual(nn.Module):
    """``x + DropPath(γ ⊙ branch)`` in one fused ``addcmul``.

    γ is LayerScale (CaiT), a learnable per-channel scale initialised to ``layer_scale_init``
    (disabled when 0). DropPath (stochastic depth) zeroes a whole sample's branch with
    probability ``drop_path`` during training and rescales the kept ones.
    """

    def __init__(self, *, dim: int, layer_scale_init: float, drop_path: float) -> None:
        super().__init__()
        self.drop_path = drop_path
        if layer_scale_init > 0:
            self.gamma = nn.Parameter(torch.full((dim,), layer_scale_init))
        else:  # a fixed unit scale keeps forward a single addcmul
            self.register_buffer("gamma", torch.ones(dim), persistent=False)

    def forward(self, x: Tensor, branch: Tensor) -> Tensor:
        """Add the scaled branch to ``x``; both (B, ...)."""
        scale = self.gamma
        if self.training and self.drop_path > 0:
            keep = 1.0 - self.drop_path
            mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
            scale = scale * mask / keep
        return torch.addcmul(x, branch, scale)


class MetaFormerBlock(nn.Module):
    """Pre-norm residual block around a token mixer and an MLP.

    ``x = x + DropPath(LayerScale(mixer(LN(x))))``, then the same with the MLP. The mixer decides
    which tokens talk to each other (joints, frames or both). ``mlp_ratio=0`` leaves the MLP
    sub-block out (a mixer-only block). Shapes: (B, T, J, C) -> (B, T, J, C).
    """

    def __init__(
        self,
        *,
        mixer: nn.Module,
        dim: int,
        mlp_ratio: float,
        layer_scale_init: float,
        drop_path: float,
        drop: float = 0.0,
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.mixer = mixer
        self.residual1 = ScaledResidual(
            dim=dim, layer_scale_init=layer_scale_init, drop_path=drop_path
        )
        self.has_mlp = mlp_ratio > 0
        if self.has_mlp:
            self.norm2 = nn.LayerNorm(dim, eps=1e-6)
            self.mlp = Mlp(dim=dim, hidden_dim=int(dim * mlp_ratio), drop=drop)
            self.residual2 = ScaledResidual(
                dim=dim, layer_scale_init=layer_scale_init, drop_path=drop_path
            )

    def forward(self, x: Tensor) -> Tensor:
        """Mixer then MLP, each as a scaled residual branch."""
        x = self.residual1(x, self.mixer(self.norm1(x)))
        if not self.has_mlp:
            return x
        return self.residual2(x, self.mlp(self.norm2(x)))
