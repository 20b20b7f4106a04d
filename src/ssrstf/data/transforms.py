"""Pose transforms of the data pipeline: flip, normalisation, root-relative targets.

The horizontal flip is `ssrstf.skeleton.Skeleton.flip`; training augmentation (`flip_poses`)
and test-time flip use that one implementation, so they cannot disagree on joint order.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import torch

from ssrstf.geometry import normalize_image_poses, normalize_screen_coordinates, to_root_relative
from ssrstf.skeleton import H36M_17, Skeleton

ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)


def flip_poses(poses: ArrayT, skeleton: Skeleton = H36M_17) -> ArrayT:
    """Mirror poses horizontally: negate x and swap left and right joints (`Skeleton.flip`).

    Training augmentation uses this and test-time flip uses `Skeleton.flip` directly: both are
    the same implementation. In screen-normalised or root-relative coordinates x = 0 is the image
    centre / the body, so the negation mirrors about it. Other channels (y, z, confidence) are
    unchanged; ``flip_poses(flip_poses(x)) == x``.

    A flipped camera-space training pair is mirrored about two slightly different lines: the 2D
    about the image centre, the 3D about the optical axis (through the principal point cx). On
    Human3.6M the flipped 2D is thus shifted by 2 (w/2 − cx), 18 to 40 pixels, a translation
    the root-relative target does not see but for its perspective (about 1-2°); VideoPose3D
    flips the same way, test-time flip is consistent with it, and 2.5D targets are exact.

    Args:
        poses: (..., J, C) numpy array or torch tensor, x in channel 0.
        skeleton: Supplies the flip pairs.

    Returns:
        The flipped poses, a new array or tensor of the same type and shape.
    """
    return skeleton.flip(poses)


def normalize_keypoints(
    keypoints: np.ndarray, width, height, *, use_confidence: bool = True
) -> np.ndarray:
    """Pixel keypoints with confidence → model inputs (screen-normalised, float32).

    Args:
        keypoints: (..., J, 3) x px, y px, confidence.
        width: Image width(s), broadcasting against ``keypoints[..., 0, 0]``.
        height: Image height(s).
        use_confidence: Keep the confidence channel (C = 3) or drop it (C = 2).

    Returns:
        (..., J, 3) or (..., J, 2) float32.
    """
    keypoints = np.asarray(keypoints)
    w = np.asarray(width, dtype=np.float64)[..., None]
    h = np.asarray(height, dtype=np.float64)[..., None]
    xy = normalize_screen_coordinates(keypoints[..., :2], w, h)
    if use_confidence:
        xy = np.concatenate([xy, keypoints[..., 2:3]], axis=-1)
    return xy.astype(np.float32)


CAMERA_TARGET_MM = 1000.0
"""Camera-space targets are in metres (VideoPose3D's training unit): network outputs of order
0.1-1 suit the unit-scale features and the loss weights; mm = target × this factor."""


def camera_targets(poses_3d: np.ndarray, skeleton: Skeleton = H36M_17) -> np.ndarray:
    """Camera-frame poses in mm → root-relative float32 targets in metres (VideoPose3D style)."""
    poses = np.asarray(poses_3d, dtype=np.float32) / np.float32(CAMERA_TARGET_MM)
    return to_root_relative(poses, skeleton.root)


def image_targets(poses_image: np.ndarray, width, height, skeleton: Skeleton = H36M_17):
    """2.5D image-space poses (px) → root-relative MotionBERT-normalised float32 targets.

    Args:
        poses_image: (..., J, 3) pixels (u, v, depth).
        width: Image width(s), broadcasting against ``poses_image[..., 0, 0]``.
        height: Image height(s).
        skeleton: Supplies the root joint.

    Returns:
        (..., J, 3) float32; multiply by ``w / 2 · λ`` to get mm (`target_scale_mm`).
    """
    normalized = normalize_image_poses(poses_image, width, height)
    return to_root_relative(normalized, skeleton.root).astype(np.float32)


def target_scale_mm(target_space: str, width, scale_2_5d=None) -> np.ndarray:
    """Per-frame factor turning targets (and model outputs) of ``target_space`` into mm.

    ``"camera"`` targets are metres (factor `CAMERA_TARGET_MM`). ``"image_2.5d"`` targets are in
    normalised pixel units: denormalising multiplies by ``w / 2`` and λ converts pixels to mm
    (MotionBERT ``evaluate``: ``denormalize`` then ``pred *= factor``).

    Args:
        target_space: ``"camera"`` or ``"image_2.5d"``.
        width: Image width per frame, (F,).
        scale_2_5d: λ per frame, (F,); needed for ``"image_2.5d"``.

    Returns:
        (F,) float64.
    """
    width = np.asarray(width, dtype=np.float64)
    if target_space == "camera":
        return np.full_like(width, CAMERA_TARGET_MM)
    if target_space == "image_2.5d":
        if scale_2_5d is None:
            raise ValueError("the image_2.5d target space needs scale_2_5d")
        return width / 2.0 * np.asarray(scale_2_5d, dtype=np.float64)
    raise ValueError(f"unknown target space {target_space!r}; valid: camera, image_2.5d")
