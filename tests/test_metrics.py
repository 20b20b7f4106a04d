"""Tests for ssrstf.evaluation.metrics: golden values, invariances and slow loop references."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.linalg import orthogonal_procrustes
from scipy.spatial.transform import Rotation

from ssrstf.evaluation.metrics import (
    AUC_THRESHOLDS_MM,
    PCK_THRESHOLD_MM,
    acceleration_error,
    auc,
    joint_errors,
    mean_per_group,
    mpjpe,
    mpjve,
    n_mpjpe,
    p_mpjpe,
    pck,
    procrustes_joint_errors,
)

# A 14-of-17 subset for tests only (the real MPI-INF-3DHP lists live in ssrstf.skeleton).
SUBSET_14 = list(range(14))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def random_poses(rng: np.random.Generator, *shape: int) -> np.ndarray:
    """Random non-degenerate poses in mm, (*shape, 3)."""
    return rng.normal(scale=300.0, size=(*shape, 3))


# --------------------------------------------------------------------------------------------
# Slow, independent references: plain loops, per-frame linear algebra.
# --------------------------------------------------------------------------------------------


def ref_joint_errors(pred: np.ndarray, gt: np.ndarray) -> list[float]:
    """Per-joint errors of one frame (J, C) with explicit loops."""
    out = []
    for j in range(pred.shape[0]):
        out.append(math.sqrt(sum((pred[j, c] - gt[j, c]) ** 2 for c in range(pred.shape[1]))))
    return out


def ref_mpjpe(pred: np.ndarray, gt: np.ndarray) -> float:
    errors = ref_joint_errors(pred, gt)
    return sum(errors) / len(errors)


def ref_umeyama(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Umeyama (1991) similarity fit of one frame of ``pred`` (J, 3) onto ``gt``; returns aligned.

    Written from the paper's covariance form (column vectors, S = diag(1, 1, -1) when
    det(U) det(V) < 0), not from the VideoPose3D code the library follows.
    """
    n = pred.shape[0]
    mu_x = [sum(gt[j, c] for j in range(n)) / n for c in range(3)]
    mu_y = [sum(pred[j, c] for j in range(n)) / n for c in range(3)]
    cov = np.zeros((3, 3))
    var_y = 0.0
    for j in range(n):
        x = np.array([gt[j, c] - mu_x[c] for c in range(3)])
        y = np.array([pred[j, c] - mu_y[c] for c in range(3)])
        cov += np.outer(x, y) / n
        var_y += float(y @ y) / n
    u, d, vt = np.linalg.svd(cov)
    s = np.eye(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        s[2, 2] = -1.0
    rot = u @ s @ vt
    scale = float(np.trace(np.diag(d) @ s)) / var_y
    t = np.array(mu_x) - scale * rot @ np.array(mu_y)
    aligned = np.zeros_like(pred)
    for j in range(n):
        aligned[j] = scale * rot @ pred[j] + t
    return aligned


def ref_p_mpjpe(pred: np.ndarray, gt: np.ndarray) -> float:
    return ref_mpjpe(ref_umeyama(pred, gt), gt)


def ref_n_mpjpe(pred: np.ndarray, gt: np.ndarray) -> float:
    num = den = 0.0
    for j in range(pred.shape[0]):
        for c in range(3):
            num += pred[j, c] * gt[j, c]
            den += pred[j, c] ** 2
    return ref_mpjpe(pred * (num / den), gt)


def ref_pck(pred: np.ndarray, gt: np.ndarray, threshold: float, joints: list[int]) -> float:
    errors = ref_joint_errors(pred, gt)
    return sum(1 for j in joints if errors[j] < threshold) / len(joints)


def ref_auc(pred: np.ndarray, gt: np.ndarray, thresholds: list[float], joints: list[int]) -> float:
    return sum(ref_pck(pred, gt, t, joints) for t in thresholds) / len(thresholds)


def ref_sequence_error(pred: np.ndarray, gt: np.ndarray, order: int) -> list[float]:
    """Velocity (order 1) or acceleration (order 2) error of one sequence (T, J, 3), with loops."""
    coeffs = {1: (-1.0, 1.0), 2: (1.0, -2.0, 1.0)}[order]
    out = []
    for t in range(pred.shape[0] - order):
        total = 0.0
        for j in range(pred.shape[1]):
            dp = sum(k * pred[t + i, j] for i, k in enumerate(coeffs))
            dg = sum(k * gt[t + i, j] for i, k in enumerate(coeffs))
            total += math.sqrt(sum((dp[c] - dg[c]) ** 2 for c in range(3)))
        out.append(total / pred.shape[1])
    return out


# --------------------------------------------------------------------------------------------
# Golden values (hand-computed).
# --------------------------------------------------------------------------------------------


def test_mpjpe_golden() -> None:
    pred = np.zeros((2, 3))
    gt = np.array([[3.0, 4.0, 0.0], [0.0, 0.0, 1.0]])
    np.testing.assert_array_equal(joint_errors(pred, gt), [5.0, 1.0])
    assert mpjpe(pred, gt) == 3.0
    assert mpjpe(pred, gt).shape == ()


def test_mpjpe_accepts_2d_keypoints_and_lists() -> None:
    assert mpjpe([[0.0, 0.0], [1.0, 1.0]], [[3.0, 4.0], [1.0, 1.0]]) == 2.5


def test_mpjpe_float64_even_for_float32_input() -> None:
    pred = np.zeros((2, 3), dtype=np.float32)
    gt = np.array([[3.0, 4.0, 0.0], [0.0, 0.0, 1.0]], dtype=np.float32)
    assert mpjpe(pred, gt).dtype == np.float64


def test_p_mpjpe_golden_scaled_rotated_copy() -> None:
    gt = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 3.0]])
    rot_z90 = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    pred = 0.5 * gt @ rot_z90 + np.array([10.0, -4.0, 7.0])
    assert p_mpjpe(pred, gt) == pytest.approx(0.0, abs=1e-12)
    assert mpjpe(pred, gt) > 1.0


def test_n_mpjpe_golden() -> None:
    gt = np.array([[3.0, 4.0, 0.0], [0.0, 0.0, 1.0]])
    assert n_mpjpe(2.0 * gt, gt) == pytest.approx(0.0, abs=1e-12)
    # pred = [[1,0,0],[0,0,0]]: s = <pred,gt>/|pred|^2 = 3, errors |(0,-4,0)| = 4 and 1 → 2.5.
    pred = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    assert n_mpjpe(pred, gt) == pytest.approx(2.5, abs=1e-12)


def test_mpjve_and_acceleration_golden() -> None:
    gt = np.zeros((4, 1, 3))
    pred = np.zeros((4, 1, 3))
    pred[1, 0] = [3.0, 4.0, 0.0]  # a single 5 mm spike at frame 1
    # Velocity residuals: +5, -5, 0 in norm.
    np.testing.assert_allclose(mpjve(pred, gt), [5.0, 5.0, 0.0])
    # Second differences at frames 1, 2: x0 - 2 x1 + x2 = -2·spike (10), x1 - 2 x2 + x3 = spike (5).
    np.testing.assert_allclose(acceleration_error(pred, gt), [10.0, 5.0])


def test_pck_threshold_is_strict() -> None:
    # Errors exactly 150 mm (150² = 90² + 120² = 22500 exactly in float64) and just below.
    gt = np.array([[150.0, 0.0, 0.0], [90.0, 120.0, 0.0], [149.999, 0.0, 0.0], [0.0, 0.0, 0.0]])
    pred = np.zeros_like(gt)
    np.testing.assert_array_equal(joint_errors(pred, gt)[:2], [150.0, 150.0])
    assert PCK_THRESHOLD_MM == 150.0
    assert pck(pred, gt) == 0.5  # joints 2 and 3 only
    assert pck(pred, gt, threshold=150.0 + 1e-9) == 1.0
    assert pck(pred, gt, threshold=0.0) == 0.0  # even the exact joint 3 fails "< 0"


def test_pck_joint_subset() -> None:
    gt = np.array([[200.0, 0.0, 0.0], [0.0, 10.0, 0.0], [0.0, 0.0, 160.0], [0.0, 0.0, 0.0]])
    pred = np.zeros_like(gt)
    assert pck(pred, gt) == 0.5
    assert pck(pred, gt, joints=[1, 3]) == 1.0
    assert pck(pred, gt, joints=np.array([0, 2])) == 0.0
    assert pck(pred, gt, joints=(0, 1, 3)) == pytest.approx(2 / 3)


def test_auc_golden() -> None:
    assert tuple(float(t) for t in np.arange(0, 151, 5)) == AUC_THRESHOLDS_MM
    assert len(AUC_THRESHOLDS_MM) == 31
    # Errors 0, 12, 150, 200 mm. Counted at thresholds t with err < t:
    # 0 → t in 5..150 (30 of 31); 12 → t in 15..150 (28); 150 → none; 200 → none.
    gt = np.array([[0.0, 0.0, 0.0], [12.0, 0.0, 0.0], [0.0, 150.0, 0.0], [0.0, 0.0, 200.0]])
    pred = np.zeros_like(gt)
    assert auc(pred, gt) == pytest.approx(58 / (4 * 31), abs=1e-15)
    assert auc(pred, gt, joints=[0, 1]) == pytest.approx(58 / (2 * 31), abs=1e-15)
    assert auc(pred, gt, thresholds=[10.0, 160.0]) == pytest.approx((1 + 3) / 8)


def test_auc_of_perfect_prediction_is_30_of_31() -> None:
    gt = np.ones((5, 17, 3))
    np.testing.assert_allclose(auc(gt, gt), np.full(5, 30 / 31))


def test_auc_equals_mean_of_pck(rng: np.random.Generator) -> None:
    gt = random_poses(rng, 6, 17) / 4
    pred = gt + rng.normal(scale=60.0, size=gt.shape)
    expected = np.mean([pck(pred, gt, threshold=t) for t in AUC_THRESHOLDS_MM], axis=0)
    np.testing.assert_allclose(auc(pred, gt), expected, rtol=0, atol=1e-15)


# --------------------------------------------------------------------------------------------
# Identities and invariances.
# --------------------------------------------------------------------------------------------


def test_zero_error_for_identical_poses(rng: np.random.Generator) -> None:
    x = random_poses(rng, 3, 5, 17)
    for metric in (mpjpe, p_mpjpe, n_mpjpe):
        out = metric(x, x)
        assert out.shape == (3, 5)
        np.testing.assert_allclose(out, 0.0, atol=1e-9)
    np.testing.assert_array_equal(mpjve(x, x), np.zeros((3, 4)))
    np.testing.assert_array_equal(acceleration_error(x, x), np.zeros((3, 3)))
    np.testing.assert_array_equal(pck(x, x), np.ones((3, 5)))


def test_p_mpjpe_invariant_to_similarity_transform(rng: np.random.Generator) -> None:
    gt = random_poses(rng, 4, 5, 17)
    rot = Rotation.random(20, random_state=1).as_matrix().reshape(4, 5, 3, 3)
    scale = rng.uniform(0.2, 5.0, size=(4, 5, 1, 1))
    shift = rng.normal(scale=1000.0, size=(4, 5, 1, 3))
    pred = scale * gt @ rot + shift
    assert np.all(mpjpe(pred, gt) > 10.0)
    np.testing.assert_allclose(p_mpjpe(pred, gt), 0.0, atol=1e-9)


def test_p_mpjpe_rejects_reflections(rng: np.random.Generator) -> None:
    gt = random_poses(rng, 8, 17)
    mirrored = gt * np.array([-1.0, 1.0, 1.0])
    # An alignment that allows reflections (scipy's orthogonal Procrustes) undoes the mirror ...
    for g, m in zip(gt, mirrored, strict=True):
        r, _ = orthogonal_procrustes(m - m.mean(0), g - g.mean(0))
        assert np.linalg.det(r) < 0
        np.testing.assert_allclose((m - m.mean(0)) @ r + g.mean(0), g, atol=1e-9)
    # ... but P-MPJPE restricts to proper rotations, so a mirrored pose keeps a real error.
    errors = p_mpjpe(mirrored, gt)
    assert np.all(errors > 10.0)
    expected = [ref_p_mpjpe(m, g) for m, g in zip(mirrored, gt, strict=True)]
    np.testing.assert_allclose(errors, expected, rtol=1e-9)


def test_procrustes_joint_errors_per_joint_against_umeyama(rng: np.random.Generator) -> None:
    gt = random_poses(rng, 6, 17)
    pred = gt + rng.normal(scale=40.0, size=gt.shape)
    errors = procrustes_joint_errors(pred, gt)
    assert errors.shape == (6, 17)
    for e, p, g in zip(errors, pred, gt, strict=True):
        np.testing.assert_allclose(e, ref_joint_errors(ref_umeyama(p, g), g), rtol=1e-9)
    np.testing.assert_allclose(errors.mean(axis=-1), p_mpjpe(pred, gt), rtol=1e-12)


def test_p_mpjpe_degenerate_pred_aligns_to_centroid(rng: np.random.Generator) -> None:
    gt = random_poses(rng, 17)
    pred = np.full_like(gt, 7.0)  # all joints at one point
    expected = np.linalg.norm(gt - gt.mean(0), axis=-1).mean()
    assert p_mpjpe(pred, gt) == pytest.approx(expected, rel=1e-12)
    assert p_mpjpe(gt, np.full_like(gt, 3.0)) == pytest.approx(0.0, abs=1e-12)


def test_n_mpjpe_invariant_to_scaling_pred(rng: np.random.Generator) -> None:
    gt = random_poses(rng, 6, 17)
    pred = gt + rng.normal(scale=50.0, size=gt.shape)
    base = n_mpjpe(pred, gt)
    for c in (0.01, 0.5, 3.0, 1000.0):
        np.testing.assert_allclose(n_mpjpe(c * pred, gt), base, rtol=1e-10)
    assert n_mpjpe(np.zeros_like(gt), gt) == pytest.approx(mpjpe(np.zeros_like(gt), gt))


def test_mpjve_zero_under_constant_offset(rng: np.random.Generator) -> None:
    gt = random_poses(rng, 2, 10, 17)
    pred = gt + rng.normal(size=(2, 1, 17, 3)) * 100.0  # per-joint offset, constant in time
    assert np.all(mpjpe(pred, gt) > 1.0)
    np.testing.assert_allclose(mpjve(pred, gt), 0.0, atol=1e-9)


def test_acceleration_zero_under_linear_offset(rng: np.random.Generator) -> None:
    gt = random_poses(rng, 2, 10, 17)
    t = np.arange(10.0)[None, :, None, None]
    pred = gt + rng.normal(size=(2, 1, 17, 3)) + t * rng.normal(size=(2, 1, 17, 3)) * 20.0
    assert np.all(mpjve(pred, gt) > 1.0)
    np.testing.assert_allclose(acceleration_error(pred, gt), 0.0, atol=1e-9)


def test_temporal_axis_argument(rng: np.random.Generator) -> None:
    gt = random_poses(rng, 3, 9, 17)  # (B, T, J, 3)
    pred = gt + rng.normal(scale=10.0, size=gt.shape)
    time_first = (np.moveaxis(pred, 1, 0), np.moveaxis(gt, 1, 0))  # (T, B, J, 3)
    np.testing.assert_allclose(mpjve(*time_first, axis=0), mpjve(pred, gt).T, rtol=1e-12)
    np.testing.assert_allclose(
        acceleration_error(*time_first, axis=0), acceleration_error(pred, gt, axis=1).T, rtol=1e-12
    )
    assert mpjve(pred, gt, axis=0).shape == (2, 9)


# --------------------------------------------------------------------------------------------
# Agreement with the slow references on random data.
# --------------------------------------------------------------------------------------------


def test_frame_metrics_match_loop_reference(rng: np.random.Generator) -> None:
    gt = random_poses(rng, 3, 4, 17)
    pred = 0.8 * gt + rng.normal(scale=80.0, size=gt.shape)
    frames = [(b, f) for b in range(3) for f in range(4)]
    for metric, ref in ((mpjpe, ref_mpjpe), (p_mpjpe, ref_p_mpjpe), (n_mpjpe, ref_n_mpjpe)):
        expected = np.array([ref(pred[b, f], gt[b, f]) for b, f in frames]).reshape(3, 4)
        np.testing.assert_allclose(metric(pred, gt), expected, rtol=1e-9, atol=1e-9)
    expected_je = np.array([ref_joint_errors(pred[b, f], gt[b, f]) for b, f in frames])
    np.testing.assert_allclose(joint_errors(pred, gt), expected_je.reshape(3, 4, 17), rtol=1e-12)


def test_pck_auc_match_loop_reference(rng: np.random.Generator) -> None:
    gt = random_poses(rng, 20, 17) / 3
    pred = gt + rng.normal(scale=60.0, size=gt.shape)
    thresholds = list(AUC_THRESHOLDS_MM)
    for joints in (SUBSET_14, list(range(17)), [16, 3, 5]):
        exp_pck = [ref_pck(p, g, 150.0, joints) for p, g in zip(pred, gt, strict=True)]
        exp_auc = [ref_auc(p, g, thresholds, joints) for p, g in zip(pred, gt, strict=True)]
        np.testing.assert_allclose(pck(pred, gt, joints=joints), exp_pck, atol=1e-12)
        np.testing.assert_allclose(auc(pred, gt, joints=joints), exp_auc, atol=1e-12)
    assert 0.0 < pck(pred, gt).mean() < 1.0  # the random case is not trivially all/none


def test_temporal_metrics_match_loop_reference(rng: np.random.Generator) -> None:
    gt = random_poses(rng, 2, 8, 5)
    pred = gt + rng.normal(scale=30.0, size=gt.shape)
    for order, metric in ((1, mpjve), (2, acceleration_error)):
        expected = [ref_sequence_error(pred[b], gt[b], order) for b in range(2)]
        np.testing.assert_allclose(metric(pred, gt), expected, rtol=1e-9, atol=1e-9)


def test_pck_with_the_skeleton_joint_list(rng: np.random.Generator) -> None:
    from ssrstf.skeleton import PCK_JOINTS_MPI as joints

    assert 0 < len(joints) < 17
    gt = random_poses(rng, 5, 17) / 3
    pred = gt + rng.normal(scale=60.0, size=gt.shape)
    expected = [ref_pck(p, g, 150.0, list(joints)) for p, g in zip(pred, gt, strict=True)]
    np.testing.assert_allclose(pck(pred, gt, joints=joints), expected, atol=1e-12)


# --------------------------------------------------------------------------------------------
# mean_per_group.
# --------------------------------------------------------------------------------------------


def test_mean_per_group() -> None:
    values = np.array([1.0, 2.0, 3.0, 10.0])
    groups = ["walk", "walk", "sit", "sit"]
    assert mean_per_group(values, groups) == {"walk": 1.5, "sit": 6.5}
    assert list(mean_per_group(values, groups)) == ["walk", "sit"]  # order of first appearance
    weighted = mean_per_group(values, groups, weights=np.array([1.0, 3.0, 0.0, 2.0]))
    assert weighted == pytest.approx({"walk": 1.75, "sit": 10.0})


def test_mean_per_group_sequence_means_weighted_by_frames_equal_frame_mean(
    rng: np.random.Generator,
) -> None:
    per_frame = rng.uniform(size=30)
    seq = np.repeat([0, 1, 2], [5, 10, 15])
    scene = ["a" if s < 2 else "b" for s in seq]
    by_frame = mean_per_group(per_frame, scene)
    seq_means = np.array([per_frame[seq == s].mean() for s in range(3)])
    by_seq = mean_per_group(seq_means, ["a", "a", "b"], weights=np.array([5.0, 10.0, 15.0]))
    assert by_seq == pytest.approx(by_frame, rel=1e-12)


def test_mean_per_group_errors() -> None:
    with pytest.raises(ValueError, match="one entry per group label"):
        mean_per_group(np.zeros(3), ["a", "b"])
    with pytest.raises(ValueError, match=r"weights must have shape \(2,\)"):
        mean_per_group(np.zeros(2), ["a", "b"], weights=np.ones(3))
    with pytest.raises(ValueError, match="weights must be >= 0"):
        mean_per_group(np.zeros(2), ["a", "b"], weights=np.array([1.0, -1.0]))
    with pytest.raises(ValueError, match=r"zero total weight: \['b'\]"):
        mean_per_group(np.zeros(2), ["a", "b"], weights=np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match="values contains NaN"):
        mean_per_group(np.array([1.0, np.nan]), ["a", "b"])


# --------------------------------------------------------------------------------------------
# Input validation.
# --------------------------------------------------------------------------------------------

POSE_METRICS = [mpjpe, p_mpjpe, n_mpjpe, joint_errors, pck, auc]
SEQUENCE_METRICS = [mpjve, acceleration_error]


@pytest.mark.parametrize("metric", POSE_METRICS + SEQUENCE_METRICS)
def test_shape_mismatch_raises(metric) -> None:
    with pytest.raises(ValueError, match=r"same shape.*pred \(2, 4, 17, 3\).*gt \(2, 4, 16, 3\)"):
        metric(np.zeros((2, 4, 17, 3)), np.zeros((2, 4, 16, 3)))


@pytest.mark.parametrize("metric", [p_mpjpe, n_mpjpe, pck, auc, *SEQUENCE_METRICS])
def test_2d_coordinates_rejected_where_3d_required(metric) -> None:
    with pytest.raises(ValueError, match=r"must be 3, got shape \(4, 17, 2\)"):
        metric(np.zeros((4, 17, 2)), np.zeros((4, 17, 2)))


@pytest.mark.parametrize("metric", [mpjpe, joint_errors])
def test_bad_coordinate_dim_rejected(metric) -> None:
    with pytest.raises(ValueError, match=r"must be 2 or 3, got shape \(17, 4\)"):
        metric(np.zeros((17, 4)), np.zeros((17, 4)))


@pytest.mark.parametrize("metric", POSE_METRICS + SEQUENCE_METRICS)
def test_nan_raises(metric) -> None:
    x = np.zeros((3, 17, 3))
    bad = x.copy()
    bad[1, 2, 0] = np.nan
    with pytest.raises(ValueError, match="pred contains NaN"):
        metric(bad, x)
    with pytest.raises(ValueError, match="gt contains NaN"):
        metric(x, bad)


def test_inf_raises() -> None:
    x = np.zeros((17, 3))
    bad = x.copy()
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="pred contains inf"):
        p_mpjpe(bad, x)


def test_layout_errors() -> None:
    with pytest.raises(ValueError, match=r"layout \(\.\.\., J, C\)"):
        mpjpe(np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="at least one joint"):
        mpjpe(np.zeros((4, 0, 3)), np.zeros((4, 0, 3)))
    with pytest.raises(ValueError, match=r"layout \(\.\.\., T, J, C\)"):
        mpjve(np.zeros((17, 3)), np.zeros((17, 3)))
    with pytest.raises(ValueError, match="at least 2 frames"):
        mpjve(np.zeros((1, 17, 3)), np.zeros((1, 17, 3)))
    with pytest.raises(ValueError, match="at least 3 frames"):
        acceleration_error(np.zeros((2, 17, 3)), np.zeros((2, 17, 3)))
    with pytest.raises(ValueError, match="must be a frame axis"):
        mpjve(np.zeros((5, 17, 3)), np.zeros((5, 17, 3)), axis=-2)
    with pytest.raises(ValueError, match="out of range"):
        mpjve(np.zeros((5, 17, 3)), np.zeros((5, 17, 3)), axis=3)


def test_joint_and_threshold_errors() -> None:
    x = np.zeros((2, 17, 3))
    with pytest.raises(ValueError, match="out of range for 17 joints"):
        pck(x, x, joints=[0, 17])
    with pytest.raises(ValueError, match="duplicates"):
        pck(x, x, joints=[1, 1])
    with pytest.raises(ValueError, match="non-empty 1-D sequence of int"):
        auc(x, x, joints=[])
    with pytest.raises(ValueError, match="non-empty 1-D sequence of int"):
        auc(x, x, joints=[0.5, 1.0])
    with pytest.raises(ValueError, match="threshold must be finite"):
        pck(x, x, threshold=-1.0)
    with pytest.raises(ValueError, match="thresholds must be"):
        auc(x, x, thresholds=[])
