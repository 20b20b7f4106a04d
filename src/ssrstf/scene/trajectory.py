"""The root's path through the scene: camera-space translation from 2D keypoints + lifted 3D.

The lifter predicts root-relative poses. `solve_root_translation` puts them back in the camera's
frame: for every frame f it finds the translation ``t_f`` (mm, camera axes: x right, y down,
z forward) such that the pinhole projection of ``pose_f + t_f`` best matches the 2D keypoints,
weighted by their confidences, while the root's acceleration is kept small.

Model. With normalised image coordinates ``a = (u − cx) / fx``, ``b = (v − cy) / fy`` of joint j
and its root-relative 3D position ``(X, Y, Z)``, the projection matches when
``X + tx = a (Z + tz)`` and ``Y + ty = b (Z + tz)``: two equations **linear** in ``t``. Their
residuals times ``fx / (Z + tz)`` (``fy / (Z + tz)``) are the reprojection errors in pixels, so
the solver minimises, over all frames at once,

    E(t) = Σ_f Σ_j c_fj · |reprojection error_fj|²  +  Σ_f Σ_k λ_k (t_{f−1} − 2 t_f + t_{f+1})_k²

(confidence-weighted least squares in pixels plus a second-difference smoothness prior, a
Whittaker smoother). It starts from the linear solution of the two equations (weighted by
``c · (f / depth)²``, the depths of a weak-perspective start, then of the first solution) and
finishes with Gauss-Newton steps on the pixel errors themselves, so it converges to the
minimiser of E (per frame, without the prior, equal to a general nonlinear least-squares solver
on the reprojection errors). Every step is one banded solve (3F unknowns, bandwidth 6): O(F).
Noise-free input gives the true path exactly when the prior costs nothing there (smoothing 0, or
a path of constant velocity). The prior matters most for depth, which the image constrains only
through the pose's apparent size, and each direction is weighted by its own certainty; the
prior is also stronger in depth (``λ_z = smoothing``) than sideways and up (``λ_x = λ_y =
lateral_smoothing``), as measured best on Human3.6M training subjects. Frames
with fewer than two confident joints are filled by the prior between frames that have them (a
smooth interpolation; linear interpolation on an axis with smoothing 0); before the first and
after the last frame with a person the path holds still (the prior alone would carry the last
velocity on for ever), and a smoothed path that would pass behind the camera falls back to
frame-by-frame solutions. Scaling λ by ``(fps / 50)⁴`` makes the amount of smoothing in
seconds independent of the frame rate (the default was chosen on Human3.6M training subjects;
docs/design.md).

Intrinsics. `CameraIntrinsics` holds ``fx, fy, cx, cy`` in pixels (no distortion). When the
camera is unknown, `resolve_intrinsics` assumes the principal point at the image centre and a
field of view of `DEFAULT_FOV_DEG` across the image's larger side (``--fov`` / ``--focal-length``
override it). A focal length wrong by some factor scales the depths by about that factor, while
the lateral positions (viewing angle times depth) barely change: the path is stretched or
squashed along the viewing direction.

API (all arrays numpy, millimetres and pixels):

* ``CameraIntrinsics(fx, fy, cx, cy)``, ``.from_fov(deg, (w, h))``,
  ``.from_focal_length(px, (w, h))``, ``.project(points (..., 3)) -> (..., 2)``, ``.matrix``.
* ``resolve_intrinsics((w, h), focal_length=None, fov=None) -> CameraIntrinsics``.
* ``solve_root_translation(keypoints_2d (F, J, 2|3), poses_3d (F, J, 3) root-relative,
  intrinsics, fps=...) -> trajectory (F, 3)``: the root's camera-space position per frame, mm.
  Absolute poses are ``poses_3d + trajectory[:, None]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.linalg import solveh_banded

DEFAULT_FOV_DEG = 60.0
"""Field of view (degrees, across the image's larger side) assumed when the camera is unknown:
between a studio camera (Human3.6M: 47°), webcams (about 60-65°) and phone main cameras
(about 65-70° across the long side of a video)."""

DEFAULT_SMOOTHING = 1e3
"""`solve_root_translation`'s default ``smoothing`` of depth (px² per (mm/frame²)² at 50 fps),
chosen on Human3.6M training subjects (docs/design.md)."""

DEFAULT_LATERAL_SMOOTHING = 1e2
"""`solve_root_translation`'s default ``lateral_smoothing`` (x and y), chosen likewise."""


@dataclass(frozen=True)
class CameraIntrinsics:
    """Pinhole intrinsics in pixels: focal lengths ``fx``, ``fy`` and principal point ``cx``,
    ``cy`` (pixel (0, 0) is the top-left corner of the image, x right, y down)."""

    fx: float
    fy: float
    cx: float
    cy: float

    def __post_init__(self) -> None:
        values = (self.fx, self.fy, self.cx, self.cy)
        if not all(math.isfinite(v) for v in values) or not (self.fx > 0 and self.fy > 0):
            raise ValueError(f"focal lengths must be positive and finite, got {values}")

    @classmethod
    def from_focal_length(cls, focal_px: float, image_size: tuple[int, int]) -> CameraIntrinsics:
        """Square pixels of focal length ``focal_px``, principal point at the image centre."""
        if not (focal_px > 0 and math.isfinite(focal_px)):
            raise ValueError(f"focal length must be positive pixels, got {focal_px}")
        width, height = image_size
        return cls(float(focal_px), float(focal_px), width / 2.0, height / 2.0)

    @classmethod
    def from_fov(cls, fov_deg: float, image_size: tuple[int, int]) -> CameraIntrinsics:
        """Field of view ``fov_deg`` across the image's larger side, centred principal point."""
        if not 0 < fov_deg < 180:
            raise ValueError(f"field of view must be in (0, 180) degrees, got {fov_deg}")
        half = max(image_size) / 2.0
        return cls.from_focal_length(half / math.tan(math.radians(fov_deg) / 2.0), image_size)

    @property
    def matrix(self) -> np.ndarray:
        """(3, 3) the camera matrix K."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    def project(self, points: np.ndarray) -> np.ndarray:
        """Camera-space points (..., 3) with z > 0 → pixels (..., 2)."""
        points = np.asarray(points, dtype=np.float64)
        xy = points[..., :2] / points[..., 2:3]
        return xy * [self.fx, self.fy] + [self.cx, self.cy]

    def to_dict(self) -> dict[str, float]:
        """``{"fx", "fy", "cx", "cy"}`` for JSON."""
        return {"fx": self.fx, "fy": self.fy, "cx": self.cx, "cy": self.cy}


def resolve_intrinsics(
    image_size: tuple[int, int],
    *,
    focal_length: float | None = None,
    fov: float | None = None,
) -> CameraIntrinsics:
    """The intrinsics for an image size from at most one of a focal length and a field of view.

    Args:
        image_size: (width, height) in pixels.
        focal_length: Focal length in pixels (``--focal-length``).
        fov: Field of view in degrees across the image's larger side (``--fov``).

    Returns:
        Intrinsics with the principal point at the image centre; `DEFAULT_FOV_DEG` when neither
        is given.

    Raises:
        ValueError: If both are given, or a value is out of range.
    """
    if focal_length is not None and fov is not None:
        raise ValueError("give a focal length or a field of view, not both")
    if focal_length is not None:
        return CameraIntrinsics.from_focal_length(focal_length, image_size)
    return CameraIntrinsics.from_fov(DEFAULT_FOV_DEG if fov is None else fov, image_size)


def _check_inputs(
    keypoints_2d: np.ndarray, poses_3d: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    keypoints_2d = np.asarray(keypoints_2d, dtype=np.float64)
    poses_3d = np.asarray(poses_3d, dtype=np.float64)
    if poses_3d.ndim != 3 or poses_3d.shape[-1] != 3 or len(poses_3d) == 0:
        raise ValueError(f"poses_3d must be (F, J, 3) with F > 0, got {poses_3d.shape}")
    if keypoints_2d.shape[:2] != poses_3d.shape[:2] or keypoints_2d.shape[-1] not in (2, 3):
        raise ValueError(
            f"keypoints_2d must be {poses_3d.shape[:2] + (3,)} (x, y[, confidence]) to match "
            f"poses_3d, got {keypoints_2d.shape}"
        )
    if keypoints_2d.shape[-1] == 3:
        confidence = keypoints_2d[..., 2].copy()
    else:
        confidence = np.ones(keypoints_2d.shape[:2])
    confidence[~np.isfinite(keypoints_2d[..., :2]).all(-1)] = 0.0
    if not np.isfinite(poses_3d).all():
        raise ValueError("poses_3d contains NaN or inf")
    if not (np.isfinite(confidence) & (confidence >= 0)).all():
        raise ValueError("keypoint confidences must be finite and non-negative")
    # As the lifter reads them: COCO visibility flags (2) or scores above 1 count as 1, so the
    # balance between the 2D term and the smoothing prior does not depend on their scale.
    confidence = np.minimum(confidence, 1.0)
    xy = np.where(confidence[..., None] > 0, keypoints_2d[..., :2], 0.0)
    if not confidence.any():
        raise ValueError("no keypoint has a positive confidence: the trajectory is undetermined")
    return xy, confidence, poses_3d


def _initial_depth(ab: np.ndarray, weight: np.ndarray, poses: np.ndarray) -> np.ndarray:
    """(F,) depth of the root per frame from the ratio of 3D to 2D spread (a weak-perspective
    start for the iterations); frames without two confident joints take the median."""
    total = weight.sum(-1, keepdims=True)
    safe = np.maximum(total, 1e-12)
    mean_ab = (weight[..., None] * ab).sum(1, keepdims=True) / safe[..., None]
    mean_xy = (weight[..., None] * poses[..., :2]).sum(1, keepdims=True) / safe[..., None]
    spread_2d = (weight * ((ab - mean_ab) ** 2).sum(-1)).sum(-1)
    spread_3d = (weight * ((poses[..., :2] - mean_xy) ** 2).sum(-1)).sum(-1)
    ok = (spread_2d > 1e-12) & ((weight > 0).sum(-1) >= 2)
    depth = np.full(len(poses), np.nan)
    depth[ok] = np.sqrt(spread_3d[ok] / spread_2d[ok])
    fill = np.median(depth[ok]) if ok.any() else 5000.0
    return np.where(np.isfinite(depth) & (depth > 0), depth, fill)


def _normal_equations(
    ab: np.ndarray, weight: np.ndarray, poses: np.ndarray, focal: np.ndarray, depth: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame 3 × 3 normal matrices and right-hand sides of the reprojection term.

    Rows per joint and image axis: ``[1, 0, −a] · t = a Z − X`` and ``[0, 1, −b] · t = b Z − Y``,
    weighted by ``c · (f / depth)²`` (pixels²).
    """
    joint_depth = np.maximum(poses[..., 2] + depth[:, None], 1e-3 * np.abs(depth[:, None]) + 1.0)
    blocks = np.zeros((len(poses), 3, 3))
    rhs = np.zeros((len(poses), 3))
    for axis in range(2):
        w = weight * (focal[axis] / joint_depth) ** 2
        coeff = -ab[..., axis]
        target = ab[..., axis] * poses[..., 2] - poses[..., axis]
        blocks[:, axis, axis] += w.sum(-1)
        blocks[:, axis, 2] += (w * coeff).sum(-1)
        blocks[:, 2, axis] += (w * coeff).sum(-1)
        blocks[:, 2, 2] += (w * coeff**2).sum(-1)
        rhs[:, axis] += (w * target).sum(-1)
        rhs[:, 2] += (w * coeff * target).sum(-1)
    return blocks, rhs


def _gauss_newton_step(
    ab: np.ndarray,
    weight: np.ndarray,
    poses: np.ndarray,
    focal: np.ndarray,
    translation: np.ndarray,
    lam: np.ndarray,
) -> np.ndarray:
    """The Gauss-Newton update of ``translation`` for `solve_root_translation`'s cost.

    Per joint and image axis the residual is ``f · ((X + tx) / (Z + tz) − a)`` pixels, with
    gradient ``f / d · [1, 0, −(X + tx) / d]`` (d = Z + tz); the prior is quadratic, so
    ``(H + λ L) t_new = H t − g``, L = D₂ᵀD₂ ⊗ I₃.
    """
    depth = np.maximum(poses[..., 2] + translation[:, None, 2], 1.0)
    blocks = np.zeros((len(poses), 3, 3))
    gradient = np.zeros((len(poses), 3))
    for axis in range(2):
        lateral = poses[..., axis] + translation[:, None, axis]
        residual = focal[axis] * (lateral / depth - ab[..., axis])
        j_lateral = focal[axis] / depth
        j_depth = -focal[axis] * lateral / depth**2
        blocks[:, axis, axis] += (weight * j_lateral**2).sum(-1)
        blocks[:, axis, 2] += (weight * j_lateral * j_depth).sum(-1)
        blocks[:, 2, axis] += (weight * j_lateral * j_depth).sum(-1)
        blocks[:, 2, 2] += (weight * j_depth**2).sum(-1)
        gradient[:, axis] += (weight * j_lateral * residual).sum(-1)
        gradient[:, 2] += (weight * j_depth * residual).sum(-1)
    rhs = np.einsum("fij,fj->fi", blocks, translation) - gradient
    return _solve_banded(blocks, rhs, lam) - translation


def _solve_banded(blocks: np.ndarray, rhs: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """Solve (blockdiag(blocks) + D₂ᵀD₂ ⊗ diag(λ)) t = rhs for t (F, 3), λ (3,) per axis,
    interleaved unknowns."""
    frames = len(blocks)
    n = 3 * frames
    # Upper banded storage for solveh_banded: ab[u + i - j, j] = A[i, j], u = 6.
    band = np.zeros((7, n))
    for r in range(3):
        for c in range(r, 3):
            band[6 + r - c, 3 * np.arange(frames) + c] += blocks[:, r, c]
    if lam.max() > 0 and frames >= 3:
        # D₂ᵀD₂ for one axis (rows [1, -2, 1] of the second difference): three bands.
        diag = np.zeros(frames)
        diag[:-2] += 1.0
        diag[1:-1] += 4.0
        diag[2:] += 1.0
        off1 = np.zeros(frames - 1)
        off1[:-1] -= 2.0
        off1[1:] -= 2.0
        off2 = np.ones(frames - 2)
        for k in range(3):
            index = 3 * np.arange(frames) + k
            band[6, index] += lam[k] * diag
            band[3, index[1:]] += lam[k] * off1
            band[0, index[2:]] += lam[k] * off2
    data_scale = max(float(np.abs(blocks).max()), 1e-12)
    band[6] += 1e-12 * data_scale  # a vanishing ridge: no exact singularity from rounding
    solution = solveh_banded(band, rhs.reshape(-1), lower=False, check_finite=False)
    return solution.reshape(frames, 3)


def solve_root_translation(
    keypoints_2d: np.ndarray,
    poses_3d: np.ndarray,
    intrinsics: CameraIntrinsics,
    *,
    fps: float | None = None,
    smoothing: float = DEFAULT_SMOOTHING,
    lateral_smoothing: float = DEFAULT_LATERAL_SMOOTHING,
    iterations: int = 10,
) -> np.ndarray:
    """The camera-space root position per frame that makes the 3D poses project onto the 2D.

    Args:
        keypoints_2d: (F, J, 2|3) pixels (and confidence, the weight of each joint; 1 when
            absent; joints with confidence 0 or NaN coordinates are ignored).
        poses_3d: (F, J, 3) mm, root-relative, camera axes (x right, y down, z forward).
        intrinsics: The camera (`resolve_intrinsics`).
        fps: Frame rate, for the frame-rate-independent smoothing (None: 50).
        smoothing: Weight of the root's squared acceleration in depth (z) against the squared
            pixel error (see the module docstring).
        lateral_smoothing: The same for x and y; both 0 solve every frame on its own.
        iterations: At most this many Gauss-Newton steps (each one a banded solve) after the
            linear start; they stop once no coordinate moves by 0.1 µm.

    Returns:
        (F, 3) root positions in mm, camera axes; ``poses_3d + trajectory[:, None]`` are the
        absolute poses. Frames without two confident joints are interpolated (by the prior
        between frames that have them); those before the first and after the last such frame
        hold its position.

    Raises:
        ValueError: On shape mismatches, non-finite poses, or no confident keypoint at all.
    """
    xy, confidence, poses = _check_inputs(keypoints_2d, poses_3d)
    if min(smoothing, lateral_smoothing) < 0 or iterations < 1:
        raise ValueError(f"smoothing must be >= 0 and iterations >= 1: {smoothing}, {iterations}")
    focal = np.array([intrinsics.fx, intrinsics.fy])
    ab = (xy - [intrinsics.cx, intrinsics.cy]) / focal
    rate = 50.0 if fps is None else float(fps)
    if not rate > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    lam = np.array([lateral_smoothing, lateral_smoothing, smoothing]) * (rate / 50.0) ** 4
    determined = (confidence > 0).sum(-1) >= 2  # two joints fix the three unknowns
    if not determined.any():
        raise ValueError("no frame has two confident keypoints: the trajectory is undetermined")
    frames = np.arange(len(poses))
    first, last = frames[determined][[0, -1]]
    if lam.max() > 0 and last - first >= 2:  # the smoothed path between the first and last
        span = slice(first, last + 1)  # frames with a person; outside it nothing would hold
        translation = _solve(ab[span], confidence[span], poses[span], focal, lam, iterations)
        inside = determined[span]
        for k in np.flatnonzero(lam == 0):  # an axis without the prior: its gaps interpolated
            translation[:, k] = np.interp(
                frames[span], frames[span][inside], translation[inside, k]
            )
        if (translation[:, 2] > 0).all():
            return np.concatenate(
                [np.repeat(translation[:1], first, 0), translation,
                 np.repeat(translation[-1:], len(poses) - 1 - last, 0)]
            )  # fmt: skip
    # Frame by frame (also when the smoothed path would pass behind the camera): frames
    # without two confident joints interpolated, the ends held.
    translation = _solve(
        ab[determined], confidence[determined], poses[determined], focal, np.zeros(3), iterations
    )
    return np.stack(
        [np.interp(frames, frames[determined], translation[:, k]) for k in range(3)], axis=-1
    )


def _solve(
    ab: np.ndarray,
    confidence: np.ndarray,
    poses: np.ndarray,
    focal: np.ndarray,
    lam: np.ndarray,
    iterations: int,
) -> np.ndarray:
    """`solve_root_translation`'s cost minimised over consecutive frames (``lam`` > 0) or frame
    by frame (``lam`` = 0): the linear start, then Gauss-Newton."""
    depth = _initial_depth(ab, confidence, poses)
    for _ in range(2):  # the linear (algebraic) solution, reweighted once by its depths
        blocks, rhs = _normal_equations(ab, confidence, poses, focal, depth)
        translation = _solve_banded(blocks, rhs, lam)
        depth = np.maximum(translation[:, 2], 1.0)
    for _ in range(iterations):  # Gauss-Newton on the pixel errors themselves
        step = _gauss_newton_step(ab, confidence, poses, focal, translation, lam)
        translation = translation + step
        if np.abs(step).max() < 1e-4:
            break
    return translation


def reprojection_error(
    keypoints_2d: np.ndarray,
    poses_3d: np.ndarray,
    trajectory: np.ndarray,
    intrinsics: CameraIntrinsics,
) -> np.ndarray:
    """(F, J) pixel distance between the keypoints and the projected absolute poses."""
    absolute = np.asarray(poses_3d, dtype=np.float64) + np.asarray(trajectory)[:, None]
    projected = intrinsics.project(absolute)
    return np.linalg.norm(projected - np.asarray(keypoints_2d)[..., :2], axis=-1)
