"""Multi-head self-attention over joints (spatial) or frames (temporal).

One core computes q, k, v on the unfolded (B, T, J, C) tensor and runs fused
``scaled_dot_product_attention``; the two wrappers only differ in the einops fold pattern. On the
CPU, short sequences (<= 32 tokens: 17 joints, 27 frames) take faster routes: plain matmuls at
inference, and in training, when ``compile_training`` is set, a broadcast formulation compiled by
TorchInductor into one fused loop nest (`broadcast_attention`; docs/design.md, "Training
throughput").
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

PLAIN_ATTENTION_MAX_TOKENS = 32
"""Up to this many tokens, inference on the CPU uses plain matmuls instead of the fused kernel
(faster for short sequences, slower for long ones: 81 and 243 frames stay fused). The same bound
limits the compiled training path (measured at 17 and 27 tokens only)."""

logger = logging.getLogger(__name__)


def broadcast_attention(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    """Softmax attention written as broadcast products and sums. Shapes: (..., N, d) -> (..., N, d).

    ``softmax(q kᵀ / √d) v`` without matrix products: eagerly this materialises (..., N, N, d)
    and is slow, but TorchInductor fuses it into one loop nest per sequence, forward and
    backward, which for head dim 8 and <= 32 tokens is about twice as fast on a CPU core as the
    fused SDPA kernel, whose per-(sequence, head) GEMM calls dominate at these sizes.
    """
    scores = (q.unsqueeze(-2) * k.unsqueeze(-3)).sum(-1) * (q.shape[-1] ** -0.5)
    return (scores.softmax(dim=-1).unsqueeze(-1) * v.unsqueeze(-3)).sum(-2)


_compiled: Callable[[Tensor, Tensor, Tensor], Tensor] | None = None
_compile_failed = False


def _is_compiler_error(err: Exception) -> bool:
    """True for errors of the compiler (e.g. no working C++ compiler), which mean "compilation
    unavailable"; any other error (a shape or dtype mismatch of the model's own) is not. Looked
    up only on failure: importing TorchInductor's exception module costs a second at start-up."""
    from torch._dynamo.exc import BackendCompilerFailed, InternalTorchDynamoError
    from torch._inductor.exc import CppCompileError, InductorError

    errors = (InductorError, CppCompileError, BackendCompilerFailed, InternalTorchDynamoError)
    return isinstance(err, errors)


def _compiled_attention(q: Tensor, k: Tensor, v: Tensor) -> Tensor | None:
    """`broadcast_attention` compiled by TorchInductor (once per process and shape), or None
    when compilation is unavailable (no C++ compiler, unsupported platform): then the caller
    falls back to the fused kernel, with one warning."""
    global _compiled, _compile_failed
    if _compile_failed:
        return None
    try:
        if _compiled is None:
            _compiled = torch.compile(broadcast_attention, dynamic=False)
        return _compiled(q, k, v)
    except Exception as err:
        if not _is_compiler_error(err):
            raise
        _compile_failed = True
        warnings.warn(
            f"compiled training attention unavailable ({type(err).__name__}: "
            f"{str(err).splitlines()[0] if str(err) else ''}); using the fused kernel "
            "(set train.compile_attention: false to silence this)",
            RuntimeWarning,
            stacklevel=3,
        )
        return None


def set_compiled_training_attention(model: nn.Module, enabled: bool) -> int:
    """Switch the compiled CPU training path of every attention module of ``model``.

    Returns:
        How many attention modules were switched.
    """
    modules = [m for m in model.modules() if isinstance(m, MultiHeadSelfAttention)]
    for module in modules:
        module.compile_training = enabled
    return len(modules)


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
        self.compile_training = False
        """Use the compiled `broadcast_attention` for CPU training over <= 32 tokens."""

    def forward(self, x: Tensor) -> Tensor:
        """Attend along the wrapper's token axis. Shapes: (B, T, J, C) -> (B, T, J, C)."""
        b, t, j, _ = x.shape
        q, k, v = (rearrange(z, self.fold, h=self.num_heads) for z in self.qkv(x).chunk(3, dim=-1))
        dropout = self.attn_drop if self.training else 0.0
        short_on_cpu = (
            q.device.type == "cpu" and not dropout and q.shape[-2] <= PLAIN_ATTENTION_MAX_TOKENS
        )
        out = None
        if short_on_cpu and not torch.is_grad_enabled():
            # Inference on the CPU over few tokens (17 joints, 27 frames): the plain
            # matmul-softmax-matmul is 1.3-1.9x faster than the fused kernel (docs/design.md).
            weights = torch.matmul(q, k.transpose(-1, -2)) * (q.shape[-1] ** -0.5)
            out = torch.matmul(weights.softmax(dim=-1), v)
        elif short_on_cpu and self.compile_training:
            out = _compiled_attention(q, k, v)  # None: compilation unavailable
        if out is None:
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
