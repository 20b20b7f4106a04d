"""Model complexity: parameter counts and FLOPs, for ``ssrstf info`` and the benchmarks.

FLOPs follow torch's ``FlopCounterMode`` convention: one multiply-accumulate counts as 2 FLOPs
(FLOPs = 2 × MACs), attention matmuls inside ``scaled_dot_product_attention`` included.
Element-wise operations (norms, activations) are not counted. Counting runs on the ``meta``
device, so it allocates no memory and takes milliseconds even for the large variant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from ssrstf.config import ModelConfig, model_config_from_name
from ssrstf.models import create_model
from ssrstf.skeleton import SKELETONS


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def count_flops(cfg: ModelConfig, *, num_frames: int, batch_size: int = 1) -> int:
    """Forward FLOPs (2 × MACs) of one batch of ``batch_size`` clips of ``num_frames`` frames.

    Layers of one kind are identical, so the count is exact from models of depth 1 and 2:
    ``F(N) = F(1) + (N - 1) · (F(2) - F(1))``; with ``model.local_layers`` the dual-stream and
    the global-only layers are counted apart the same way. This keeps ``ssrstf info`` fast
    (meta-device execution runs torch's Python reference kernels).
    """

    def base_and_layer(c: ModelConfig) -> tuple[int, int]:
        one, two = (
            _count_flops(replace(c, depth=d), num_frames=num_frames, batch_size=batch_size)
            for d in (1, 2)
        )
        return one - (two - one), two - one

    if cfg.local_layers is None or cfg.local_stream == "none":
        base, layer = base_and_layer(replace(cfg, local_layers=None))
        return base + cfg.depth * layer
    base, dual = base_and_layer(replace(cfg, local_layers=None))
    _, plain = base_and_layer(replace(cfg, local_layers=None, local_stream="none"))
    local = len(cfg.local_layers)
    return base + local * dual + (cfg.depth - local) * plain


def _count_flops(cfg: ModelConfig, *, num_frames: int, batch_size: int) -> int:
    # The meta device also makes SDPA decompose into counted matmuls: torch's counter has no
    # formula for the CPU flash-attention kernel and would miss the attention FLOPs.
    joints = SKELETONS[cfg.skeleton].num_joints
    with torch.device("meta"):
        model = create_model(cfg).eval()
        x = torch.zeros(batch_size, num_frames, joints, cfg.in_channels)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(x)
    return int(counter.get_total_flops())


def describe_model(cfg: ModelConfig, *, name: str, num_frames: int | None = None) -> dict[str, Any]:
    """Parameters and FLOPs per clip and per frame of one model config (any architecture).

    Args:
        cfg: The model.
        name: Label of the row (a variant or config name).
        num_frames: Clip length; None uses the config's training length.
    """
    frames = num_frames or cfg.num_frames
    with torch.device("meta"):
        params = count_parameters(create_model(cfg))
    flops = count_flops(cfg, num_frames=frames)
    return {
        "variant": name,
        "dim": cfg.dim,
        "depth": cfg.depth,
        "frames": frames,
        "params": params,
        "flops": flops,
        "flops_per_frame": flops / frames,
    }


def describe_variants(
    names: Sequence[str], *, num_frames: int | None = None, **overrides: Any
) -> list[dict[str, Any]]:
    """One `describe_model` row per variant.

    Args:
        names: Variant names from `ssrstf.config.VARIANTS`.
        num_frames: Clip length; None uses each variant's own training length.
        **overrides: `ModelConfig` fields applied to every variant (e.g. an ablation).
    """
    return [
        describe_model(model_config_from_name(name, **overrides), name=name, num_frames=num_frames)
        for name in names
    ]


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """Plain-text table of `describe_model` rows."""
    width = max([8, *(len(r["variant"]) for r in rows)])
    header = (
        f"{'variant':<{width}} {'dim':>4} {'depth':>5} {'frames':>6} {'params':>9} "
        f"{'GFLOPs/clip':>11} {'MFLOPs/frame':>12}"
    )
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(
            f"{r['variant']:<{width}} {r['dim']:>4} {r['depth']:>5} {r['frames']:>6} "
            f"{r['params'] / 1e6:>8.2f}M {r['flops'] / 1e9:>11.2f} "
            f"{r['flops_per_frame'] / 1e6:>12.1f}"
        )
    lines.append("FLOPs = 2 x MACs (torch.utils.flop_counter); batch 1.")
    return "\n".join(lines)
