"""Test-time augmentation: average a prediction with the mirrored prediction of the mirror."""

from __future__ import annotations

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


def make_predictor(
    model: nn.Module,
    skeleton: Skeleton,
    *,
    flip_test: bool = True,
    device: str | torch.device = "cpu",
) -> Callable[[np.ndarray], np.ndarray]:
    """Wrap a model as a numpy function: (B, T, J, C_in) clips → (B, T, J, 3) outputs.

    Runs in evaluation mode without gradients, with flip test-time augmentation when
    ``flip_test``. This is the hook the evaluation protocols and inference call.
    """

    def predict(clips: np.ndarray) -> np.ndarray:
        was_training = model.training
        model.eval()
        try:
            with torch.inference_mode():
                x = torch.as_tensor(np.asarray(clips, dtype=np.float32), device=device)
                y = predict_with_flip(model, x, skeleton) if flip_test else model(x)
            return y.float().cpu().numpy()
        finally:
            model.train(was_training)

    return predict
