"""Test-time augmentation: average a prediction with the mirrored prediction of the mirror."""

from __future__ import annotations

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
    return (model(x) + skeleton.flip(model(skeleton.flip(x)))) / 2
