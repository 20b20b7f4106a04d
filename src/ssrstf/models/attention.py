"""Multi-head self-attention over joints (spatial) or frames (temporal).

One core computes q, k, v on the unfolded (B, T, J, C) tensor and runs fused
``scaled_dot_product_attention`` (plain matmuls for short sequences at CPU inference); the two
wrappers only differ in the einops fold pattern.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

PLAIN_ATTENTION_MAX_TOKENS = 32
"""Up to this many tokens, inference on the CPU uses plain matmuls instead of the fused kernel
(faster for short sequences, slower for long ones: 81 and 243 frames stay fused)."""


class MultiHeadSelfAttention(nn.Module):
    """Self-attention whose token axis is chosen by a fold pattern.

    Subclasses set ``fold``: an einops pattern from ``b t j (h d)`` to ``(batch) h tokens d``.
    """

    fold: str
    unfold: str

    def __init__(
        self,
        *,
        dim: int,
        num_heads: int,
        qkv_bias: bool = False,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
    ) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim={dim} is not divisible by num_heads={num_heads}")
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.attn_drop = attn_drop
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop) if proj_drop > 0 else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        """Attend along the wrapper's token axis. Shapes: (B, T, J, C) -> (B, T, J, C)."""
        b, t, j, _ = x.shape
        q, k, v = (rearrange(z, self.fold, h=self.num_heads) for z in self.qkv(x).chunk(3, dim=-1))
        dropout = self.attn_drop if self.training else 0.0
        if (
            q.device.type == "cpu"
            and not torch.is_grad_enabled()
            and not dropout
            and (q.shape[-2] <= PLAIN_ATTENTION_MAX_TOKENS)
        ):
            # Inference on the CPU over few tokens (17 joints, 27 frames): the plain
            # matmul-softmax-matmul is 1.3-1.9x faster than the fused kernel (docs/design.md).
            weights = torch.matmul(q, k.transpose(-1, -2)) * (q.shape[-1] ** -0.5)
            out = torch.matmul(weights.softmax(dim=-1), v)
        else:
            out = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout)
        return self.proj_drop(self.proj(rearrange(out, self.unfold, b=b, t=t, j=j)))


class SpatialAttention(MultiHeadSelfAttention):
    """Attention among the J joints of each frame."""

    fold = "b t j (h d) -> (b t) h j d"
    unfold = "(b t) h j d -> b t j (h d)"


class TemporalAttention(MultiHeadSelfAttention):
    """Attention among the T frames of each joint."""

    fold = "b t j (h d) -> (b j) h t d"
    unfold = "(b j) h t d -> b t j (h d)"
