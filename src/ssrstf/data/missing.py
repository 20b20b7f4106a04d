"""The one rule for joints a detector did not provide, shared by training and inference.

A joint is *observed* in a frame when the detector gave it (confidence > 0, finite
coordinates, the frame has a person). `fill_missing_joints`:

1. a joint observed in some frames gets x, y in every other frame by linear interpolation in
   the frame index between the nearest observed frames (the nearest observed value before the
   first / after the last one);
2. a joint observed in no frame gets its stand-in position in every frame when it has one
   (`ssrstf.skeleton.H36M_STAND_INS`: pelvis, thorax, spine, neck, head from other joints of the
   same frame, as the data converters synthesise them);
3. every filled entry has confidence 0, so the model can tell it from a detection.

Inference calls it on whole sequences (`ssrstf.keypoints.prepare.fill_missing`), the training
augmentation on every clip whose joints it dropped (`ssrstf.data.augment`), so a model sees
at training time exactly what it is given later.
"""

from __future__ import annotations

import numpy as np

from ssrstf.skeleton import H36M_17, H36M_STAND_INS, Skeleton


def stand_ins(skeleton: Skeleton) -> dict[int, tuple[tuple[int, float], ...]]:
    """Stand-in recipes of a layout, joint index → ((source joint, weight), ...), in order.

    Only `H36M_17` has stand-ins; other layouts are converted to it before lifting.
    """
    if skeleton.name != H36M_17.name:
        return {}
    return {
        skeleton.index(name): tuple((skeleton.index(s), w) for s, w in recipe.items())
        for name, recipe in H36M_STAND_INS.items()
    }


def fill_missing_joints(
    keypoints: np.ndarray, observed: np.ndarray, skeleton: Skeleton = H36M_17
) -> tuple[np.ndarray, list[int]]:
    """Fill every unobserved entry of a sequence (see the module docstring).

    Args:
        keypoints: (F, J, C) with x, y in channels 0-1 and, when C = 3, a confidence.
        observed: (F, J) bool, True where the detector gave the joint.
        skeleton: The joint layout (supplies the stand-ins).

    Returns:
        The filled copy (float64; confidence 0 at every filled entry when C = 3) and the joints
        that could not be filled (never observed and without a usable stand-in), sorted. Their
        entries are left as they were.

    Raises:
        ValueError: If the shapes disagree.
    """
    kp = np.array(keypoints, dtype=np.float64)
    observed = np.asarray(observed, dtype=bool)
    if kp.ndim != 3 or kp.shape[-1] < 2 or observed.shape != kp.shape[:2]:
        raise ValueError(
            f"keypoints (F, J, C >= 2) and observed (F, J) must agree, got {kp.shape} and "
            f"{observed.shape}"
        )
    frames = np.arange(kp.shape[0])
    seen_any = observed.any(axis=0)
    for joint in np.flatnonzero(seen_any & ~observed.all(axis=0)):
        seen = observed[:, joint]
        for c in range(2):
            kp[~seen, joint, c] = np.interp(frames[~seen], frames[seen], kp[seen, joint, c])
    available = seen_any.copy()
    for joint, recipe in stand_ins(skeleton).items():
        if available[joint] or not all(available[s] for s, _ in recipe):
            continue
        kp[:, joint, :2] = sum(w * kp[:, s, :2] for s, w in recipe)
        available[joint] = True
    if kp.shape[-1] >= 3:
        kp[~observed, 2] = 0.0
    return kp, [int(j) for j in np.flatnonzero(~available)]
