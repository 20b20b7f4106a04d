"""Test-time augmentation: average a prediction with the mirrored prediction of the mirror."""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor, nn

from ssrstf.skeleton import Skeleton


def predict_with_flip(model: nn.Module, x: Tensor, skeleton: Skeleton) -> Tensor:
    """``(f(x) + flip(f(flip(x)))) / 2``, the flip test-time augmentation of every reference repo.

    Args:
        model: Maps (B, T, J, C_in) screen-normalised 2D to (B, T, J, 3).
        x: 2D keypoints (B, T, J, C_in), x in channel 0 centred on the image.
        skeleton: Supplies the left/right flip.

    Returns:
        (B, T, J, 3). Exactly flip-equivariant by construction.
    """
    # One forward pass over both halves: fewer, larger kernels (the model is batch-independent).
    plain, mirrored = model(torch.cat([x, skeleton.flip(x)])).chunk(2)
    return (plain + skeleton.flip(mirrored)) / 2


CPU_TOKENS_PER_FORWARD = 8192
"""Tokens (clips x frames x joints, both flip halves counted) per forward pass on the CPU.

The packaged model's activations for this many tokens (the widest, the MLP's 4C = 256 channels,
8 MB) stay in the processor's caches; one large batch instead spills every element-wise kernel
to memory (measurements: docs/results.md, "Lifting speed, ONNX, live streams and evaluation
time")."""


def make_predictor(
    model: nn.Module,
    skeleton: Skeleton,
    *,
    flip_test: bool = True,
    device: str | torch.device = "cpu",
    max_tokens: int | None = None,
    dtype: torch.dtype = torch.float32,
) -> Callable[[np.ndarray], np.ndarray]:
    """Wrap a model as a numpy function: (B, T, J, C_in) clips → (B, T, J, 3) outputs.

    Runs in evaluation mode without gradients, with flip test-time augmentation when
    ``flip_test``. This is the hook the evaluation protocols and inference call. A batch is
    run in chunks of at most ``max_tokens`` tokens (default: `CPU_TOKENS_PER_FORWARD` on the
    CPU, the whole batch on other devices); the model is batch-independent, so the outputs do
    not depend on the chunking or on the caller's batch size. ``dtype=torch.bfloat16`` runs a
    bfloat16 copy of the model (outputs returned as float32).
    """
    if max_tokens is None and torch.device(device).type == "cpu":
        max_tokens = CPU_TOKENS_PER_FORWARD
    if dtype != torch.float32:
        model = copy.deepcopy(model).to(dtype)

    def forward(x: Tensor) -> Tensor:
        return predict_with_flip(model, x, skeleton) if flip_test else model(x)

    def predict(clips: np.ndarray) -> np.ndarray:
        x = torch.as_tensor(np.asarray(clips, dtype=np.float32), device=device).to(dtype)
        tokens = x.shape[1] * x.shape[2] * (2 if flip_test else 1)
        chunk = len(x) if max_tokens is None else max(1, max_tokens // max(tokens, 1))
        was_training = model.training
        model.eval()
        try:
            with torch.inference_mode():
                y = torch.cat([forward(part) for part in x.split(chunk)]) if len(x) else forward(x)
            return y.float().cpu().numpy()
        finally:
            model.train(was_training)

    return predict
