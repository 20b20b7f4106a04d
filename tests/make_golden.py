"""Regenerate tests/data/golden_tiny.pt — only on purpose, after a deliberate architecture change.

Usage: ``python tests/make_golden.py`` (say so in the commit message).
"""

from __future__ import annotations

from pathlib import Path

import torch

from ssrstf.models import SSRSTF, build_model


def golden_model() -> SSRSTF:
    """A seeded tiny SSR-STF; layer scale 0.5 so every branch visibly shapes the output."""
    torch.manual_seed(0)
    return build_model(
        "xsmall", dim=16, depth=2, num_heads=2, rep_dim=32, layer_scale_init=0.5
    ).eval()


def golden_input() -> torch.Tensor:
    """A fixed (1, 9, 17, 3) input."""
    return torch.randn(1, 9, 17, 3, generator=torch.Generator().manual_seed(1))


if __name__ == "__main__":
    out = Path(__file__).parent / "data" / "golden_tiny.pt"
    out.parent.mkdir(exist_ok=True)
    with torch.no_grad():
        torch.save(golden_model()(golden_input()), out)
    print(f"wrote {out}")
