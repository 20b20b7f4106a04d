"""2D keypoints made ready for the model: H36M-17 joint order, every gap filled, size checked.

`prepare_keypoints` is the step every lifted input takes (`ssrstf.pipeline.run`): `to_h36m`
(the model's joint order, through `ssrstf.skeleton.MAPPINGS_TO_H36M`), `fill_missing` (the
rule training uses, `ssrstf.data.missing`) and `check_image_size`.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np

from ssrstf.data.missing import fill_missing_joints
from ssrstf.keypoints.keypoints2d import Keypoints2D, check_image_size
from ssrstf.skeleton import H36M_17, MAPPINGS_TO_H36M, convert_keypoints

logger = logging.getLogger(__name__)


def to_h36m(kp: Keypoints2D) -> Keypoints2D:
    """The same keypoints in `H36M_17` order, through ``MAPPINGS_TO_H36M`` (the model's input).

    A synthesised joint's confidence is the minimum of its sources' (see `convert_keypoints`),
    so a joint built from a missing source is itself missing (confidence 0); a joint with NaN
    or inf coordinates counts as missing.
    """
    mapping = MAPPINGS_TO_H36M[kp.skeleton.name]
    keypoints = np.array(kp.keypoints, dtype=np.float64)
    # A joint without finite coordinates is missing (confidence 0): left as NaN, the mapping's
    # weighted sums would spread it over every joint of its frame.
    keypoints[~np.isfinite(keypoints[..., :2]).all(-1)] = 0.0
    converted = convert_keypoints(keypoints, mapping)
    return dataclasses.replace(kp, keypoints=converted, skeleton=H36M_17)


def fill_missing(kp: Keypoints2D) -> Keypoints2D:
    """Fill missing joints and frames with the rule training uses (`fill_missing_joints`).

    A joint is *observed* in a frame when the frame is valid, its confidence is > 0 (not NaN)
    and its coordinates are finite. Every other entry, including every joint of an invalid
    frame, gets x and y interpolated linearly in the frame index between the nearest observed
    frames of that joint and confidence 0. A torso joint never observed (a Stacked-Hourglass
    neck, a detector without spine) gets its stand-in position (`H36M_STAND_INS`), with a log
    message. ``valid`` is unchanged: filled frames stay invalid. Convert with `to_h36m` first
    to fill only the joints the model uses.

    Raises:
        ValueError: If no frame is valid, or a joint without a stand-in is never observed
            (named in the message).
    """
    observed = observed_joints(kp)
    if not kp.valid.any():
        raise ValueError(f"{kp.source}: no frame with a detected person, nothing to fill from")
    filled, unfillable = fill_missing_joints(kp.keypoints, observed, kp.skeleton)
    if unfillable:
        names = ", ".join(kp.skeleton.joint_names[j] for j in unfillable)
        raise ValueError(f"{kp.source}: joint(s) {names} never detected; cannot fill them")
    stood_in = [kp.skeleton.joint_names[j] for j in np.flatnonzero(~observed.any(0))]
    if stood_in:
        logger.info("%s: joint(s) %s never detected; using stand-ins", kp.source, stood_in)
    return dataclasses.replace(kp, keypoints=filled.astype(kp.keypoints.dtype, copy=False))


def observed_joints(kp: Keypoints2D) -> np.ndarray:
    """(F, J) the joints `fill_missing` keeps: in a valid frame, with a positive confidence and
    finite coordinates; the others it fills."""
    with np.errstate(invalid="ignore"):
        return (
            kp.valid[:, None]
            & (kp.keypoints[..., 2] > 0)
            & np.isfinite(kp.keypoints[..., :2]).all(-1)
        )


def prepare_keypoints(
    kp: Keypoints2D, image_size: tuple[int, int] | None = None
) -> tuple[Keypoints2D, np.ndarray]:
    """H36M-17 keypoints with every gap filled, and the (F, 17) mask of filled joints.

    Raises:
        ValueError: If the image size is unknown, does not fit the keypoints, or a joint is never
            detected.
    """
    size = image_size or kp.image_size
    if size is None:
        raise ValueError(
            f"{kp.source}: the image size is unknown; pass it (--image-size WIDTHxHEIGHT)"
        )
    h36m = to_h36m(kp)
    filled = ~observed_joints(h36m)
    h36m = fill_missing(h36m)
    check_image_size(h36m, size)
    return dataclasses.replace(h36m, image_size=size), filled
