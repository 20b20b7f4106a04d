"""Training inputs that look like what users have: detector-like 2D and virtual cameras.

A model trained only on ground-truth 2D from Human3.6M's four cameras breaks on detector
keypoints (docs/results.md: 49 mm with ground-truth 2D, 168 mm with Stacked-Hourglass 2D). Per
training clip, `augment_clip` draws (from a generator seeded by ``(seed, epoch, clip)``, so
resumed runs see the same samples):

* **the detector's own 2D** (``data.augment.detector_source``, e.g. the Stacked-Hourglass
  detections) with probability ``detector_fraction`` when the clip's stream has it;
* otherwise the ground truth, optionally seen by a **virtual camera** (`virtual_camera`): the
  3D is rotated about the world's vertical through the clip's mean root (any yaw), tilted in
  elevation, rolled slightly, moved nearer or farther and projected by a pinhole with another
  focal length; the target is the same rotated 3D, so input and target follow one camera;
* and then, with probability ``degrade_fraction``, **degraded like a detector** (`degrade`):
  joint-definition offsets along bones (per clip: a spine, neck, head, hip or shoulder that a
  detector places elsewhere on its bone), smooth per-joint noise whose scale depends on the
  joint (`JOINT_NOISE`, relative to the person's 2D height), white jitter, outliers (a joint
  jumping towards its mirror joint or a bone neighbour for a few frames), left/right swaps of a
  limb, and dropped joints and frames, which get confidence 0 and are filled by the function
  inference uses (`ssrstf.data.missing.fill_missing_joints`).

The confidence channel means at training what it means at inference: 0 for a joint the
detector did not give (filled), 1 from a source without scores (ground truth, Stacked
Hourglass), and otherwise a detector-like score — high for good joints, low for outliers — drawn
in half of the degraded clips (the other half keep 1, like a detector without scores).

Every draw is a config value of `ssrstf.config.AugmentConfig`; ``docs/design.md`` ("Training
inputs") records the evidence behind the values of the recipe.
"""

from __future__ import annotations

import numpy as np

from ssrstf.config import AugmentConfig
from ssrstf.data.missing import fill_missing_joints
from ssrstf.geometry import axis_angle_matrix
from ssrstf.skeleton import H36M_17, Skeleton

# fmt: off
JOINT_NOISE = np.array([
    0.015,                # pelvis
    0.022, 0.020, 0.025,  # right hip, knee, ankle
    0.022, 0.020, 0.025,  # left hip, knee, ankle
    0.020, 0.015, 0.020, 0.025,  # spine, thorax, neck, head
    0.017, 0.020, 0.025,  # left shoulder, elbow, wrist
    0.017, 0.020, 0.025,  # right shoulder, elbow, wrist
])
"""Per-joint standard deviation of the smooth detector noise, per axis, as a fraction of the
person's 2D height (H36M-17 order), at noise scale 1. Set from the Stacked-Hourglass detections
against the ground truth on the training subjects S1-S8 (robust per-joint spread 5-10 px for a
person of ~390 px; wrists and ankles the noisiest, pelvis and thorax the least), as aggregates:
nothing of the data is stored. Scale 1 is that detector; clips draw a scale in
``[0, noise_scale_max]``."""
# fmt: on

DEFINITION_SHIFTS: tuple[tuple[str, str, str], ...] = (
    ("spine", "pelvis", "thorax"),
    ("neck", "thorax", "head"),
    ("head", "neck", "head"),
    ("right_hip", "pelvis", "right_hip"),
    ("left_hip", "pelvis", "left_hip"),
    ("right_shoulder", "thorax", "right_shoulder"),
    ("left_shoulder", "thorax", "left_shoulder"),
)
"""(joint, bone start, bone end): joints whose definition differs between detectors and the
motion capture, moved along the given bone by a per-clip fraction of its length. Measured on
the training subjects: the Stacked-Hourglass spine sits ~40 px (a quarter of pelvis→thorax) above
the motion-capture spine, its head top ~13 px off; COCO and BlazePose synthesise spine and neck."""

OUTLIER_TARGETS: dict[str, tuple[str, ...]] = {
    "right_knee": ("left_knee", "right_hip", "right_ankle"),
    "left_knee": ("right_knee", "left_hip", "left_ankle"),
    "right_ankle": ("left_ankle", "right_knee"),
    "left_ankle": ("right_ankle", "left_knee"),
    "right_elbow": ("left_elbow", "right_shoulder", "right_wrist"),
    "left_elbow": ("right_elbow", "left_shoulder", "left_wrist"),
    "right_wrist": ("left_wrist", "right_elbow", "head"),
    "left_wrist": ("right_wrist", "left_elbow", "head"),
    "head": ("neck", "thorax"),
}
"""Joints that detectors confuse, and the joints they jump towards (mirror joint first)."""

SWAP_LIMBS: tuple[tuple[str, ...], ...] = (
    ("knee", "ankle"),
    ("ankle",),
    ("elbow", "wrist"),
    ("wrist",),
)
"""Limb chains a left/right swap exchanges (``right_<name>`` with ``left_<name>``)."""


def person_height(pixels: np.ndarray) -> float:
    """Median over frames of the 2D bounding-box height (or width, if larger), in pixels."""
    extent = pixels[..., :2].max(axis=-2) - pixels[..., :2].min(axis=-2)
    return float(max(np.median(extent.max(axis=-1)), 1.0))


def virtual_camera(
    points: np.ndarray,
    intrinsics: np.ndarray,
    up: np.ndarray,
    rng: np.random.Generator,
    cfg: AugmentConfig,
    root: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """See a clip's camera-frame 3D from a random virtual camera.

    The rotation ``R = R_roll · R_elevation · R_yaw`` acts about the clip's mean root ``p``:
    yaw about the world's up axis ``up``, elevation about the horizontal axis orthogonal to the
    viewing ray of ``p``, roll about that ray. The pivot then moves along its ray to
    ``s · p`` (``s`` in ``cfg.distance_range``), so the person stays at the same place in the
    image, and the focal lengths are scaled by ``cfg.focal_range``. A draw that would put a joint
    closer than 0.5 m is redrawn (the original camera after 10 tries).

    Args:
        points: (T, J, 3) camera-frame 3D in mm.
        intrinsics: (9,) or (4+,) fx, fy, cx, cy (distortion is not applied: pinhole).
        up: (3,) unit vector of the world's up direction in camera axes.
        rng: The clip's generator.
        cfg: Ranges of the draws.
        root: Root joint index.

    Returns:
        The rotated (T, J, 3) mm points and their (T, J, 2) pixel projections.
    """
    points = np.asarray(points, dtype=np.float64)
    fx, fy, cx, cy = np.asarray(intrinsics, dtype=np.float64)[:4]
    pivot = points[:, root].mean(axis=0)
    ray = pivot / np.linalg.norm(pivot)
    up = np.asarray(up, dtype=np.float64)
    side = np.cross(up, ray)
    side /= max(np.linalg.norm(side), 1e-9)
    for _ in range(10):
        yaw = np.deg2rad(rng.uniform(-cfg.yaw_deg, cfg.yaw_deg))
        elevation = np.deg2rad(rng.uniform(-cfg.elevation_deg, cfg.elevation_deg))
        roll = np.deg2rad(rng.uniform(-cfg.roll_deg, cfg.roll_deg))
        rotation = (
            axis_angle_matrix(ray, roll)
            @ axis_angle_matrix(side, elevation)
            @ axis_angle_matrix(up, yaw)
        )
        distance = rng.uniform(*cfg.distance_range)
        focal = rng.uniform(*cfg.focal_range)
        moved = (points - pivot) @ rotation.T + distance * pivot
        if moved[..., 2].min() > 500.0:
            break
    else:
        moved, focal = points, 1.0
    xy = moved[..., :2] / moved[..., 2:3]
    pixels = xy * np.array([fx * focal, fy * focal]) + np.array([cx, cy])
    return moved, pixels


def _span(rng: np.random.Generator, num_frames: int, longest: int) -> slice:
    """A random run of 1..longest frames (never the whole clip when it has > 1 frame)."""
    longest = max(1, min(longest, num_frames - 1 if num_frames > 1 else 1))
    length = int(rng.integers(1, longest + 1))
    start = int(rng.integers(0, num_frames - length + 1))
    return slice(start, start + length)


def _smooth_noise(rng: np.random.Generator, num_frames: int, shape: tuple[int, ...]) -> np.ndarray:
    """Unit-variance noise varying slowly over time: knots every 9 frames, linear in between."""
    knots = np.arange(0, num_frames + 8, 9)
    values = rng.standard_normal((len(knots), *shape))
    frames = np.arange(num_frames)
    right = np.minimum(np.searchsorted(knots, frames, side="right"), len(knots) - 1)
    left = np.maximum(right - 1, 0)
    span = np.maximum(knots[right] - knots[left], 1)
    t = ((frames - knots[left]) / span).reshape(-1, *([1] * len(shape)))
    # Linear interpolation of unit-variance knots has variance t² + (1 − t)² ≥ 1/2: renormalise.
    return (values[left] * (1 - t) + values[right] * t) / np.sqrt(t**2 + (1 - t) ** 2)


def degrade(
    keypoints: np.ndarray,
    rng: np.random.Generator,
    cfg: AugmentConfig,
    skeleton: Skeleton = H36M_17,
) -> np.ndarray:
    """Degrade a clip of clean 2D keypoints like a detector (see the module docstring).

    Args:
        keypoints: (T, J, 3) pixels and confidence (1), `H36M_17` order.
        rng: The clip's generator.
        cfg: Strengths and probabilities.
        skeleton: The layout (must be `H36M_17`: the noise table and bones use its names).

    Returns:
        (T, J, 3) float64: degraded pixels; confidence 0 where a joint was dropped (and its
        position filled by `fill_missing_joints`), a detector-like score or 1 elsewhere.
    """
    if skeleton.name != H36M_17.name:
        raise ValueError(f"detector degradation is defined for {H36M_17.name}, not {skeleton.name}")
    kp = np.array(keypoints, dtype=np.float64)
    num_frames, num_joints = kp.shape[:2]
    xy, index = kp[..., :2], skeleton.index
    height = person_height(kp)
    clean = xy.copy()
    # Joint definitions: per clip, a shift along the bone (same fraction in every frame).
    for joint, start, end in DEFINITION_SHIFTS:
        fraction = float(np.clip(rng.normal(0.0, cfg.definition_shift), -0.5, 0.5))
        bone = clean[:, index(end)] - clean[:, index(start)]
        xy[:, index(joint)] += fraction * bone
    # Noise: smooth per-joint error plus white jitter, relative to the person's height.
    scale = rng.uniform(0.0, cfg.noise_scale_max) * height
    sigma = JOINT_NOISE[:, None] * scale
    xy += sigma * _smooth_noise(rng, num_frames, (num_joints, 2))
    xy += cfg.jitter * height * rng.standard_normal(xy.shape)
    error = np.linalg.norm(xy - clean, axis=-1) / (JOINT_NOISE[None] * height * 3.0)
    outlier = np.zeros((num_frames, num_joints), dtype=bool)
    if rng.random() < cfg.outlier_prob:
        name = str(rng.choice(list(OUTLIER_TARGETS)))
        target = str(rng.choice(OUTLIER_TARGETS[name]))
        frames = _span(rng, num_frames, max(1, num_frames // 3))
        amount = rng.uniform(0.5, 1.0)
        j, t = index(name), index(target)
        xy[frames, j] += amount * (clean[frames, t] - xy[frames, j])
        outlier[frames, j] = True
    if rng.random() < cfg.swap_prob:
        names = SWAP_LIMBS[int(rng.integers(len(SWAP_LIMBS)))]
        frames = _span(rng, num_frames, max(1, num_frames // 3))
        right = [index(f"right_{n}") for n in names]
        left = [index(f"left_{n}") for n in names]
        xy[frames, right + left] = xy[frames, left + right]
        outlier[frames, right + left] = True
    # Confidence: a detector-like score in half of the clips, 1 (no scores) in the others.
    if rng.random() < 0.5:
        base = rng.uniform(0.6, 1.0, num_joints)
        conf = base - 0.3 * np.minimum(error, 1.0) + rng.normal(0.0, 0.05, (num_frames, num_joints))
        conf[outlier] = rng.uniform(0.05, 0.5, int(outlier.sum()))
        kp[..., 2] = np.clip(conf, 0.05, 1.0)
    else:
        kp[..., 2] = 1.0
    # Dropped joints and frames: confidence 0, filled by inference's rule.
    observed = np.ones((num_frames, num_joints), dtype=bool)
    if rng.random() < cfg.drop_prob:
        for _ in range(int(rng.integers(1, 4))):
            observed[
                _span(rng, num_frames, max(1, num_frames // 2)), int(rng.integers(num_joints))
            ] = False
    if num_frames > 1 and rng.random() < cfg.drop_prob / 4:
        observed[_span(rng, num_frames, 3)] = False
    if not observed.all():
        filled, unfillable = fill_missing_joints(kp, observed, skeleton)
        if unfillable:  # spans that happened to cover a limb joint's whole clip: keep that joint
            observed[:, unfillable] = True  # (no further draws: every other clip is unchanged)
            filled, _ = fill_missing_joints(kp, observed, skeleton)
        kp = filled
    return kp


def augment_clip(
    gt_pixels: np.ndarray,
    points: np.ndarray,
    *,
    detector_pixels: np.ndarray | None,
    intrinsics: np.ndarray | None,
    up: np.ndarray | None,
    rng: np.random.Generator,
    cfg: AugmentConfig,
    skeleton: Skeleton = H36M_17,
) -> tuple[np.ndarray, np.ndarray, str]:
    """One training clip's input and 3D, drawn as the module docstring says.

    Args:
        gt_pixels: (T, J, 3) ground-truth 2D pixels with confidence 1.
        points: (T, J, 3) camera-frame 3D in mm (the target before root-centring).
        detector_pixels: (T, J, 3) the stored detector 2D of the clip, or None when its stream
            has none.
        intrinsics: (9,) camera intrinsics (needed for virtual cameras).
        up: (3,) world up in camera axes (needed for virtual cameras).
        rng: The clip's generator.
        cfg: The augmentation config.
        skeleton: The joint layout.

    Returns:
        (T, J, 3) input pixels + confidence, (T, J, 3) 3D in mm, and which kind of input was
        drawn: ``"detector"``, ``"gt"``, ``"degraded"`` (prefixed ``"virtual+"`` for a
        virtual camera).
    """
    if detector_pixels is not None and rng.random() < cfg.detector_fraction:
        observed = detector_pixels[..., 2] > 0
        kp, unfillable = fill_missing_joints(detector_pixels, observed, skeleton)
        if not unfillable:
            return kp, np.asarray(points, dtype=np.float64), "detector"
    kp = np.array(gt_pixels, dtype=np.float64)
    points = np.asarray(points, dtype=np.float64)
    kind = "gt"
    if intrinsics is not None and up is not None and rng.random() < cfg.virtual_camera_fraction:
        points, kp[..., :2] = virtual_camera(points, intrinsics, up, rng, cfg, skeleton.root)
        kind = "virtual+gt"
    if rng.random() < cfg.degrade_fraction:
        kp = degrade(kp, rng, cfg, skeleton)
        kind = kind.replace("gt", "degraded")
    return kp, points, kind
