"""Root trajectory: exact recovery from projections, equivalence with a general least-squares
solver, smoothing, confidence weighting, intrinsics and input errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import least_squares

from ssrstf.geometry import to_root_relative
from ssrstf.keypoints.sample import make_sample
from ssrstf.scene.trajectory import (
    DEFAULT_FOV_DEG,
    CameraIntrinsics,
    reprojection_error,
    resolve_intrinsics,
    solve_root_translation,
)

K = CameraIntrinsics(1145.0, 1140.0, 512.0, 515.0)


@pytest.fixture(scope="module")
def poses() -> np.ndarray:
    """(50, 17, 3) root-relative mm: the demo person walking on the spot and turning."""
    return to_root_relative(make_sample(seconds=1.0).poses_3d)


def _path(frames: int) -> np.ndarray:
    """A curved path: sideways, up and down, and away from the camera (mm)."""
    t = np.arange(frames) / 50.0
    return np.stack([600 * np.sin(2 * t) - 200, 80 * np.cos(3 * t), 3500 + 1500 * t], axis=-1)


def test_known_translation_is_recovered_exactly_from_its_projection(poses: np.ndarray) -> None:
    path = _path(len(poses))
    keypoints = K.project(poses + path[:, None])
    estimate = solve_root_translation(keypoints, poses, K, fps=50, smoothing=0, lateral_smoothing=0)
    assert np.abs(estimate - path).max() < 1e-3  # mm
    assert reprojection_error(keypoints, poses, estimate, K).max() < 1e-6  # px


def test_smoothing_keeps_a_constant_velocity_path_exact(poses: np.ndarray) -> None:
    t = np.arange(len(poses))[:, None] / 50.0
    path = np.array([-300.0, 50.0, 3000.0]) + t * np.array([800.0, -100.0, 1200.0])
    keypoints = K.project(poses + path[:, None])
    for smoothing in (1e2, 1e4, 1e6):  # the prior costs nothing on a straight, even path
        estimate = solve_root_translation(
            keypoints, poses, K, fps=50, smoothing=smoothing, lateral_smoothing=smoothing
        )
        assert np.abs(estimate - path).max() < 1e-2


def test_per_frame_solution_equals_a_general_least_squares_solver(poses: np.ndarray) -> None:
    """Without the prior, each frame's translation minimises the confidence-weighted pixel error
    (checked against scipy's trust-region solver on the projection itself)."""
    rng = np.random.default_rng(0)
    frames = poses[:6]
    path = np.array([250.0, -80.0, 4200.0]) + rng.normal(0, 300, (len(frames), 3))
    pixels = K.project(frames + path[:, None]) + rng.normal(0, 4, (len(frames), 17, 2))
    confidence = rng.uniform(0.1, 1.0, (len(frames), 17))
    keypoints = np.concatenate([pixels, confidence[..., None]], axis=-1)
    estimate = solve_root_translation(keypoints, frames, K, smoothing=0, lateral_smoothing=0)

    def residual(t: np.ndarray, f: int) -> np.ndarray:
        return (np.sqrt(confidence[f])[:, None] * (K.project(frames[f] + t) - pixels[f])).ravel()

    for f in range(len(frames)):
        reference = least_squares(residual, x0=[0.0, 0.0, 3000.0], args=(f,), xtol=1e-12).x
        assert np.abs(estimate[f] - reference).max() < 1e-3


def test_smoothed_solution_minimises_the_whole_cost(poses: np.ndarray) -> None:
    """With the prior: the same optimum as a dense nonlinear solve of data + prior residuals."""
    rng = np.random.default_rng(1)
    frames = poses[:8]
    path = _path(len(frames))
    pixels = K.project(frames + path[:, None]) + rng.normal(0, 3, (len(frames), 17, 2))
    depth, lateral = 50.0, 8.0  # a stronger prior in depth than sideways and up
    estimate = solve_root_translation(
        pixels, frames, K, fps=50, smoothing=depth, lateral_smoothing=lateral
    )
    weights = np.sqrt([lateral, lateral, depth])

    def residual(flat: np.ndarray) -> np.ndarray:
        t = flat.reshape(-1, 3)
        data = (K.project(frames + t[:, None]) - pixels).ravel()
        prior = (weights * (t[:-2] - 2 * t[1:-1] + t[2:])).ravel()
        return np.concatenate([data, prior])

    start = np.tile([0.0, 0.0, 3000.0], len(frames))
    reference = least_squares(residual, start, xtol=1e-12, ftol=1e-12).x.reshape(-1, 3)
    assert np.abs(estimate - reference).max() < 1e-2


def test_smoothing_reduces_jitter_from_noisy_keypoints(poses: np.ndarray) -> None:
    rng = np.random.default_rng(2)
    path = _path(len(poses))
    pixels = K.project(poses + path[:, None]) + rng.normal(0, 3, (len(poses), 17, 2))
    raw = solve_root_translation(pixels, poses, K, fps=50, smoothing=0, lateral_smoothing=0)
    smooth = solve_root_translation(pixels, poses, K, fps=50, smoothing=300, lateral_smoothing=300)
    accel = [np.abs(np.diff(x, 2, axis=0)).mean() for x in (raw, smooth)]
    assert accel[1] < accel[0] / 10
    err = [np.linalg.norm(x - path, axis=-1).mean() for x in (raw, smooth)]
    assert err[1] < err[0] / 2


def test_smoothing_is_frame_rate_independent(poses: np.ndarray) -> None:
    """The same motion sampled at 50 and at 25 fps is smoothed alike (λ scales with fps⁴)."""
    rng = np.random.default_rng(3)
    path = _path(len(poses))
    pixels = K.project(poses + path[:, None]) + rng.normal(0, 3, (len(poses), 17, 2))
    full = solve_root_translation(pixels, poses, K, fps=50, smoothing=1e3, lateral_smoothing=1e3)
    half = solve_root_translation(
        pixels[::2], poses[::2], K, fps=25, smoothing=1e3, lateral_smoothing=1e3
    )
    naive = solve_root_translation(
        pixels[::2], poses[::2], K, fps=50, smoothing=1e3, lateral_smoothing=1e3
    )
    gap = np.abs(half - full[::2]).mean()
    assert gap < np.abs(naive - full[::2]).mean()


def test_unconfident_joints_and_frames_are_ignored(poses: np.ndarray) -> None:
    path = _path(len(poses))
    keypoints = np.concatenate([K.project(poses + path[:, None]), np.ones((len(poses), 17, 1))], -1)
    keypoints[:, 13, :2] += 300.0  # a wrong wrist, with confidence 0
    keypoints[:, 13, 2] = 0.0
    keypoints[20:23, :, 2] = 0.0  # three frames without any person
    keypoints[20:23, :, :2] = np.nan
    per_frame = solve_root_translation(keypoints, poses, K, smoothing=0, lateral_smoothing=0)
    assert np.abs(np.delete(per_frame - path, [20, 21, 22], axis=0)).max() < 1e-3
    linear = path[19] + (path[23] - path[19]) * np.arange(1, 4)[:, None] / 4
    assert np.abs(per_frame[20:23] - linear).max() < 1e-3  # interpolated
    smoothed = solve_root_translation(
        keypoints, poses, K, fps=50, smoothing=1.0, lateral_smoothing=1.0
    )
    assert np.isfinite(smoothed).all() and np.abs(smoothed[20:23] - path[20:23]).max() < 5.0


def test_intrinsics_from_fov_and_focal_length() -> None:
    k = CameraIntrinsics.from_fov(90.0, (1920, 1080))
    assert k.fx == pytest.approx(960.0) and (k.cx, k.cy) == (960.0, 540.0)
    portrait = CameraIntrinsics.from_fov(90.0, (1080, 1920))  # across the larger side
    assert portrait.fx == pytest.approx(960.0)
    assert resolve_intrinsics((1000, 500), focal_length=700).fx == 700.0
    default = resolve_intrinsics((1000, 500))
    assert default.fx == pytest.approx(500 / math.tan(math.radians(DEFAULT_FOV_DEG) / 2))
    assert np.allclose(default.matrix @ [0.0, 0.0, 1.0], [500.0, 250.0, 1.0])
    assert np.allclose(K.project(np.array([[0.0, 0.0, 1000.0]])), [[512.0, 515.0]])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"focal_length": 800.0, "fov": 60.0}, "not both"),
        ({"fov": 180.0}, r"field of view must be in \(0, 180\)"),
        ({"focal_length": -5.0}, "focal length must be positive"),
    ],
)
def test_bad_intrinsics_are_one_line_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        resolve_intrinsics((640, 480), **kwargs)


def test_bad_inputs_are_named(poses: np.ndarray) -> None:
    keypoints = K.project(poses + _path(len(poses))[:, None])
    with pytest.raises(ValueError, match="keypoints_2d must be"):
        solve_root_translation(keypoints[:, :10], poses, K)
    with pytest.raises(ValueError, match="no keypoint has a positive confidence"):
        solve_root_translation(np.concatenate([keypoints, 0 * keypoints[..., :1]], -1), poses, K)
    bad = poses.copy()
    bad[3, 2, 0] = np.nan
    with pytest.raises(ValueError, match="poses_3d contains NaN"):
        solve_root_translation(keypoints, bad, K)
    with pytest.raises(ValueError, match="fps must be positive"):
        solve_root_translation(keypoints, poses, K, fps=0)


def test_frames_without_a_person_at_the_ends_hold_still(poses: np.ndarray) -> None:
    """A person who walks in late and leaves early: the frames around them hold the first and
    last solved positions (the prior alone would carry the end velocities on for ever, here
    behind the camera), in every smoothing setting."""
    path = np.array([0.0, 0.0, 3000.0]) + np.arange(len(poses))[:, None] * [0.0, 0.0, 30.0]
    keypoints = np.concatenate(
        [K.project(poses + path[:, None]), np.ones((len(poses), 17, 1))], axis=-1
    )
    keypoints[:20, :, 2] = keypoints[45:, :, 2] = 0.0  # seen in frames 20-44 only
    for smoothing, lateral in ((1e3, 1e2), (0.0, 0.0), (1e3, 0.0), (0.0, 1e2)):
        estimate = solve_root_translation(
            keypoints, poses, K, fps=50, smoothing=smoothing, lateral_smoothing=lateral
        )
        assert (estimate[:20] == estimate[20]).all() and (estimate[45:] == estimate[44]).all()
        assert np.abs(estimate[20:45] - path[20:45]).max() < 1e-2  # constant velocity: exact


def test_one_frame_with_a_person_or_a_gap_on_an_unsmoothed_axis(poses: np.ndarray) -> None:
    path = _path(len(poses))
    keypoints = np.concatenate(
        [K.project(poses + path[:, None]), np.ones((len(poses), 17, 1))], axis=-1
    )
    # One frame with a person, even with only two of its joints: that frame's solution everywhere.
    single = keypoints.copy()
    single[np.arange(len(poses)) != 5, :, 2] = 0.0
    single[5, 2:, 2] = 0.0
    for joints in (slice(None), slice(0, 2)):
        frame = single.copy()
        frame[5, joints, 2] = 1.0
        estimate = solve_root_translation(frame, poses, K, fps=50)
        assert np.isfinite(estimate).all() and (estimate == estimate[5]).all()
        assert estimate[5, 2] > 0
    # A gap on the axes without the prior (lateral 0): x and y interpolated, never 0.
    gap = keypoints.copy()
    gap[20:23, :, 2] = 0.0
    estimate = solve_root_translation(gap, poses, K, fps=50, smoothing=1e3, lateral_smoothing=0)
    for k in (0, 1):
        expected = np.interp([20, 21, 22], [19, 23], estimate[[19, 23], k])
        np.testing.assert_allclose(estimate[20:23, k], expected, atol=1e-9)
    assert np.abs(estimate[20:23, :2] - path[20:23, :2]).max() < 60  # mm, not hundreds


def test_confidences_above_one_count_as_one(poses: np.ndarray) -> None:
    """COCO visibility flags (2 = visible) or scores above 1 weigh as 1, as the lifter reads
    them: the smoothing prior's balance does not depend on the confidence scale."""
    rng = np.random.default_rng(5)
    pixels = K.project(poses + _path(len(poses))[:, None]) + rng.normal(0, 3, (len(poses), 17, 2))
    ones, twos = (np.concatenate([pixels, np.full((len(poses), 17, 1), c)], -1) for c in (1, 2))
    kwargs = {"fps": 50, "smoothing": 300, "lateral_smoothing": 300}
    np.testing.assert_array_equal(
        solve_root_translation(twos, poses, K, **kwargs),
        solve_root_translation(ones, poses, K, **kwargs),
    )
