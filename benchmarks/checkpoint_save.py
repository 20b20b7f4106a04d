"""What one training checkpoint save costs (the basis of ``train.checkpoint_minutes``).

For each model variant (and the packaged default model): build it with an Adam(W) optimiser
state, then time `ssrstf.checkpoint.save_checkpoint` (``torch.save`` to a temporary file,
fsync, rename) five times into a temporary folder next to the repository (the disk runs use).

    python benchmarks/checkpoint_save.py
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import torch

from ssrstf.checkpoint import load_model, save_checkpoint
from ssrstf.config import VARIANTS, TrainConfig, to_dict
from ssrstf.models import create_model
from ssrstf.training.optim import build_optimizer

ROOT = Path(__file__).resolve().parents[1]


def _state(model: torch.nn.Module) -> dict:
    optimizer = build_optimizer(model, TrainConfig())
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    optimizer.step()  # materialise the optimiser's moment buffers
    return {"model": model.state_dict(), "optimizer": optimizer.state_dict()}


def main() -> None:
    models = {"default": load_model("default")[0]}
    models |= {name: create_model(cfg) for name, cfg in VARIANTS.items()}
    print("model      params      file   save (median of 5, min-max)")
    for name, model in models.items():
        state = _state(model)
        state["config"] = to_dict(load_model("default")[1]) if name == "default" else {}
        params = sum(p.numel() for p in model.parameters())
        with tempfile.TemporaryDirectory(dir=ROOT) as folder:
            path = Path(folder) / "last.pt"
            times = []
            for _ in range(5):
                start = time.perf_counter()
                save_checkpoint(path, state)
                times.append(time.perf_counter() - start)
            size = path.stat().st_size / 1e6
        print(
            f"{name:8s} {params / 1e6:6.2f} M {size:7.1f} MB   {statistics.median(times):.3f} s "
            f"({min(times):.3f}-{max(times):.3f})"
        )


if __name__ == "__main__":
    main()
