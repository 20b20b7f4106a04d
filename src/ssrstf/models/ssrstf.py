"""The SSR-STF network: embedding, N dual-stream layers, motion-representation head.

Each layer runs two streams on the same input and fuses them per token:

* global stream (STFormer): spatial then temporal multi-head self-attention blocks;
* local stream (SSRFormer): spatial then temporal SSRA blocks (or one joint-time SSRA block),
  or, for the ``"gcn"`` ablation, MotionAGFormer-style skeleton and kNN-frame GCN blocks;
* fusion: ``α = softmax(Linear([X_G ‖ X_L]))``, ``X' = α₀·X_G + α₁·X_L`` (or a plain mean).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from ssrstf.config import ModelConfig
from ssrstf.models.attention import SpatialAttention, TemporalAttention
from ssrstf.models.graph import SkeletonGCN, TemporalKNNGCN
from ssrstf.models.layers import MetaFormerBlock
from ssrstf.models.ssra import SSRA
from ssrstf.skeleton import SKELETONS, Skeleton


class AdaptiveFusion(nn.Module):
    """Per-token softmax weights over two streams, initialised to an equal mix.

    ``α = softmax(Linear(2C → 2)([X_G ‖ X_L]))`` and ``X' = α₀·X_G + α₁·X_L``. A softmax over two
    logits is the sigmoid of their difference, so the forward pass computes
    ``lerp(X_L, X_G, sigmoid(l₀ − l₁))`` without materialising the concatenation.
    """

    def __init__(self, *, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.gate = nn.Linear(2 * dim, 2)

    def reset_parameters(self) -> None:
        """Weight 0 and bias 0.5: an equal mix at the start (MotionBERT, MotionAGFormer)."""
        nn.init.zeros_(self.gate.weight)
        nn.init.constant_(self.gate.bias, 0.5)

    def forward(self, streams: Sequence[Tensor]) -> Tensor:
        """Fuse two (B, T, J, C) stream outputs into one (B, T, J, C) tensor."""
        x_global, x_local = streams
        w = self.gate.weight[0] - self.gate.weight[1]  # (2C,)
        logit = (
            x_global @ w[: self.dim]
            + x_local @ w[self.dim :]
            + (self.gate.bias[0] - self.gate.bias[1])
        )
        return torch.lerp(x_local, x_global, torch.sigmoid(logit).unsqueeze(-1))


class MeanFusion(nn.Module):
    """Unweighted mean of the streams (also used when only one stream exists)."""

    def forward(self, streams: Sequence[Tensor]) -> Tensor:
        """Average (B, T, J, C) stream outputs."""
        return sum(streams) / len(streams)


def _skeleton_order(cfg: ModelConfig, skeleton: Skeleton) -> tuple[int, ...] | None:
    if cfg.ssra_order == "walk":
        return skeleton.depth_first_walk()
    if cfg.ssra_order == "parts":
        return skeleton.body_part_order()
    return None


def _mixers(cfg: ModelConfig, skeleton: Skeleton, stream: str) -> list[nn.Module]:
    """Token mixers of one stream of one layer, in order."""
    dim, j = cfg.dim, skeleton.num_joints
    if stream == "global":
        kw = dict(dim=dim, num_heads=cfg.num_heads, qkv_bias=cfg.qkv_bias,
                  attn_drop=cfg.attn_drop, proj_drop=cfg.proj_drop)  # fmt: skip
        return [SpatialAttention(**kw), TemporalAttention(**kw)]
    if stream == "gcn":
        return [
            SkeletonGCN(dim=dim, adjacency=skeleton.adjacency()),
            TemporalKNNGCN(dim=dim, num_neighbours=cfg.gcn_neighbours),
        ]

    def ssra(spatial: bool, temporal: bool) -> SSRA:
        return SSRA(
            dim=dim,
            spatial_kernel=cfg.ssra_spatial_kernel if spatial else None,
            temporal_kernel=cfg.ssra_temporal_kernel if temporal else None,
            skeleton_order=_skeleton_order(cfg, skeleton),
            num_joints=j,
            use_selection=cfg.ssra_selection,
            reduction=cfg.ssra_reduction,
            gate_bias=cfg.ssra_gate_bias,
        )

    if cfg.ssra_mixing == "joint_time":
        return [ssra(True, True)]
    return [ssra(True, False), ssra(False, True)]


class DualStreamLayer(nn.Module):
    """One SSR-STF layer: the enabled streams on the same input, then fusion."""

    def __init__(
        self, *, streams: Sequence[nn.Sequential], fusion: Callable[[int], nn.Module]
    ) -> None:
        super().__init__()
        self.streams = nn.ModuleList(streams)
        self.fusion = fusion(len(streams))

    def forward(self, x: Tensor) -> Tensor:
        """(B, T, J, C) -> (B, T, J, C)."""
        return self.fusion([stream(x) for stream in self.streams])


class SSRSTF(nn.Module):
    """SSR-STF 2D-to-3D lifter.

    Args:
        cfg: Architecture; see `ssrstf.config.ModelConfig` and `ssrstf.config.VARIANTS`.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        skeleton = SKELETONS[cfg.skeleton]
        self.num_joints = skeleton.num_joints
        dim = cfg.dim
        self.joint_embed = nn.Linear(cfg.in_channels, dim)
        self.spatial_pos_embed = nn.Parameter(torch.zeros(1, 1, self.num_joints, dim))
        self.temporal_pos_embed = (
            nn.Parameter(torch.zeros(1, cfg.num_frames, 1, dim))
            if cfg.use_temporal_pos_embed
            else None
        )

        def stream_names(layer: int) -> list[str]:
            local = cfg.local_stream != "none" and (
                cfg.local_layers is None or layer in cfg.local_layers
            )
            return (["global"] if cfg.global_stream else []) + ([cfg.local_stream] if local else [])

        # Stochastic depth grows linearly with depth (MotionBERT); plain floats so that building
        # on the meta device (FLOP counting) needs no tensor data.
        drop_path = [cfg.drop_path_rate * i / max(cfg.depth - 1, 1) for i in range(cfg.depth)]

        def stream(name: str, rate: float) -> nn.Sequential:
            mlp_ratio = cfg.mlp_ratio
            if name != "global" and cfg.local_mlp_ratio is not None:
                mlp_ratio = cfg.local_mlp_ratio
            return nn.Sequential(*(
                MetaFormerBlock(mixer=m, dim=dim, mlp_ratio=mlp_ratio,
                                layer_scale_init=cfg.layer_scale_init, drop_path=rate,
                                drop=cfg.proj_drop)
                for m in _mixers(cfg, skeleton, name)
            ))  # fmt: skip

        def fusion(n: int) -> nn.Module:
            if cfg.fusion == "adaptive" and n == 2:
                return AdaptiveFusion(dim=dim)
            return MeanFusion()

        self.layers = nn.ModuleList(
            DualStreamLayer(streams=[stream(s, rate) for s in stream_names(i)], fusion=fusion)
            for i, rate in enumerate(drop_path)
        )
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.representation = nn.Sequential(nn.Linear(dim, cfg.rep_dim), nn.Tanh())
        self.head = nn.Linear(cfg.rep_dim, cfg.out_channels)
        self.apply(_init_weights)
        nn.init.trunc_normal_(self.spatial_pos_embed, std=0.02)
        if self.temporal_pos_embed is not None:
            nn.init.trunc_normal_(self.temporal_pos_embed, std=0.02)
        for module in self.modules():
            if isinstance(module, AdaptiveFusion | SSRA):
                module.reset_parameters()

    def _check_input(self, x: Tensor) -> None:
        expected = f"(B, T, {self.num_joints}, {self.cfg.in_channels})"
        if x.ndim != 4 or x.shape[2] != self.num_joints or x.shape[3] != self.cfg.in_channels:
            raise ValueError(f"SSRSTF expects input {expected}, got {tuple(x.shape)}")
        if x.shape[1] < 1:
            raise ValueError("SSRSTF needs at least one frame")
        if self.temporal_pos_embed is not None and x.shape[1] > self.cfg.num_frames:
            raise ValueError(
                f"{x.shape[1]} frames exceed the temporal position embedding "
                f"({self.cfg.num_frames}); split the sequence into windows"
            )

    def forward_features(self, x: Tensor) -> Tensor:
        """Motion representation.

        Args:
            x: Screen-normalised 2D keypoints, (B, T, J, C_in).

        Returns:
            (B, T, J, rep_dim) features in [-1, 1] (Tanh), reused by downstream heads.
        """
        self._check_input(x)
        x = self.joint_embed(x) + self.spatial_pos_embed
        if self.temporal_pos_embed is not None:
            x = x + self.temporal_pos_embed[:, : x.shape[1]]
        for layer in self.layers:
            x = layer(x)
        return self.representation(self.norm(x))

    def forward(self, x: Tensor) -> Tensor:
        """Lift 2D keypoints (B, T, J, C_in) to 3D poses (B, T, J, 3)."""
        return self.head(self.forward_features(x))


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
