"""3D pose metrics: MPJPE (P1), P-MPJPE (P2), N-MPJPE (P3), velocity / acceleration error, PCK, AUC.

One numpy implementation of each metric. All of them

* accept ``pred`` and ``gt`` of identical shape ``(..., J, 3)`` in the same unit (mm for reported
  numbers), batched over any leading dimensions;
* compute in float64, whatever the input dtype;
* return **per-frame** values of shape ``(...)`` (``joint_errors`` and
  ``procrustes_joint_errors``: per joint, ``(..., J)``); averaging over frames, sequences or
  actions is the caller's explicit choice (see `mean_per_group` for the frame-weighted group mean).

Definitions follow the reference code bases (VideoPose3D, MotionBERT, MotionAGFormer and the
official MPI-INF-3DHP MATLAB evaluation); see ``docs/reference-codebases.md`` §3.1 and §3.4. Joint
subsets (e.g. the 14 PCK joints of MPI-INF-3DHP) are passed in as index sequences; the lists live
in `ssrstf.skeleton`, never here. Training losses live in ``ssrstf.training.losses`` (``*_loss``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

PCK_THRESHOLD_MM: float = 150.0
"""Default PCK threshold of MPI-INF-3DHP (``pck_thresh = 150`` in ``mpii_compute_3d_pck.m``)."""

AUC_THRESHOLDS_MM: tuple[float, ...] = tuple(float(t) for t in range(0, 151, 5))
"""Default AUC thresholds 0, 5, ..., 150 mm (31 values; ``thresh = 0:5:150`` in the MATLAB code)."""


def _as_float64(x: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if np.isnan(arr).any():
        raise ValueError(f"{name} contains NaN")
    if np.isinf(arr).any():
        raise ValueError(f"{name} contains inf")
    return arr


def _check_pair(
    pred: np.ndarray,
    gt: np.ndarray,
    *,
    coord_dims: tuple[int, ...] = (3,),
    min_ndim: int = 2,
) -> tuple[np.ndarray, np.ndarray]:
    """Validate a (pred, gt) pair of poses and return both as float64 arrays."""
    pred_arr = _as_float64(pred, "pred")
    gt_arr = _as_float64(gt, "gt")
    if pred_arr.shape != gt_arr.shape:
        raise ValueError(
            f"pred and gt must have the same shape, got pred {pred_arr.shape} and gt {gt_arr.shape}"
        )
    if pred_arr.ndim < min_ndim:
        layout = "(..., T, J, C)" if min_ndim > 2 else "(..., J, C)"
        raise ValueError(f"poses must have layout {layout}, got shape {pred_arr.shape}")
    if pred_arr.shape[-1] not in coord_dims:
        allowed = " or ".join(str(c) for c in coord_dims)
        raise ValueError(
            f"last dimension (coordinates) must be {allowed}, got shape {pred_arr.shape}"
        )
    if pred_arr.shape[-2] == 0:
        raise ValueError(f"poses must have at least one joint, got shape {pred_arr.shape}")
    return pred_arr, gt_arr


def _select_joints(errors: np.ndarray, joints: Sequence[int] | np.ndarray | None) -> np.ndarray:
    """Pick the joint columns ``joints`` of per-joint errors ``(..., J)``."""
    if joints is None:
        return errors
    idx = np.asarray(joints)
    num_joints = errors.shape[-1]
    if idx.ndim != 1 or idx.size == 0 or not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(f"joints must be a non-empty 1-D sequence of int indices, got {joints!r}")
    if idx.min() < 0 or idx.max() >= num_joints:
        raise ValueError(f"joints {idx.tolist()} out of range for {num_joints} joints")
    if np.unique(idx).size != idx.size:
        raise ValueError(f"joints contains duplicates: {idx.tolist()}")
    return errors[..., idx]


def joint_errors(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Per-joint Euclidean errors, the building block of the other metrics.

    Args:
        pred: Predicted poses, (..., J, C) with C = 3 (or 2 for 2D keypoints).
        gt: Ground-truth poses, same shape and unit as ``pred``.

    Returns:
        Euclidean distance per joint, (..., J), float64, in the input unit.

    Raises:
        ValueError: On mismatched shapes, C not in {2, 3}, no joints, or NaN / inf input.
    """
    pred_arr, gt_arr = _check_pair(pred, gt, coord_dims=(2, 3))
    return np.linalg.norm(pred_arr - gt_arr, axis=-1)


def mpjpe(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Mean per-joint position error (protocol #1), per frame.

    No root alignment is done here: pass root-relative poses when the protocol asks for them.

    Args:
        pred: Predicted poses, (..., J, C) with C = 3 (or 2 for 2D keypoints).
        gt: Ground-truth poses, same shape and unit as ``pred``.

    Returns:
        Mean over joints of the Euclidean error, (...), float64.

    Raises:
        ValueError: On mismatched shapes, C not in {2, 3}, no joints, or NaN / inf input.
    """
    return joint_errors(pred, gt).mean(axis=-1)


def _procrustes_align(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Similarity-align ``pred`` onto ``gt`` per frame; both float64 (..., J, 3)."""
    mu_gt = gt.mean(axis=-2, keepdims=True)
    mu_pred = pred.mean(axis=-2, keepdims=True)
    gt0 = gt - mu_gt
    pred0 = pred - mu_pred
    norm_gt = np.sqrt(np.sum(gt0**2, axis=(-2, -1), keepdims=True))
    norm_pred = np.sqrt(np.sum(pred0**2, axis=(-2, -1), keepdims=True))
    # A degenerate pose (all joints at one point) has norm 0. Dividing by 1 instead keeps its
    # centred coordinates at 0, so H = 0, the scale becomes 0 and the aligned pose collapses to the
    # gt centroid: the optimal similarity fit, instead of NaN.
    gt0 = gt0 / np.where(norm_gt > 0, norm_gt, 1.0)
    pred0 = pred0 / np.where(norm_pred > 0, norm_pred, 1.0)

    h = np.swapaxes(gt0, -1, -2) @ pred0  # (..., 3, 3)
    u, s, vt = np.linalg.svd(h)
    v = np.swapaxes(vt, -1, -2)
    ut = np.swapaxes(u, -1, -2)
    rot = v @ ut
    # Forbid reflections: where det(R) < 0, flip V's last column and the last singular value.
    sign = np.where(np.linalg.det(rot) < 0, -1.0, 1.0)
    v[..., :, -1] *= sign[..., None]
    s[..., -1] *= sign
    rot = v @ ut

    trace = s.sum(axis=-1)[..., None, None]
    scale = trace * norm_gt / np.where(norm_pred > 0, norm_pred, 1.0)
    translation = mu_gt - scale * (mu_pred @ rot)
    return scale * (pred @ rot) + translation


def p_mpjpe(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Procrustes-aligned MPJPE (protocol #2), per frame.

    Each predicted frame is aligned to its ground truth by the similarity transform (rotation,
    uniform scale, translation) that minimises the squared error, then the MPJPE is taken. The
    algorithm is that of VideoPose3D / MotionBERT / MotionAGFormer: centre both poses, normalise by
    their Frobenius norms, SVD of H = X0ᵀ Y0 = U S Vᵀ, R = V Uᵀ; where det(R) < 0 flip the sign of
    V's last column and of the last singular value (no reflections); scale a = ΣS · ‖X0‖ / ‖Y0‖,
    translation t = μX − a μY R; aligned = a Y R + t. A prediction whose joints all coincide is
    aligned to the gt centroid.

    Args:
        pred: Predicted poses, (..., J, 3).
        gt: Ground-truth poses, (..., J, 3), same unit as ``pred``.

    Returns:
        Per-frame P-MPJPE, (...), float64.

    Raises:
        ValueError: On mismatched shapes, C != 3, no joints, or NaN / inf input.
    """
    return procrustes_joint_errors(pred, gt).mean(axis=-1)


def procrustes_joint_errors(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Per-joint errors after `p_mpjpe`'s per-frame similarity alignment (their mean is P2).

    Args:
        pred: Predicted poses, (..., J, 3).
        gt: Ground-truth poses, (..., J, 3), same unit as ``pred``.

    Returns:
        Euclidean distance per joint of the aligned prediction, (..., J), float64.

    Raises:
        ValueError: On mismatched shapes, C != 3, no joints, or NaN / inf input.
    """
    pred_arr, gt_arr = _check_pair(pred, gt)
    aligned = _procrustes_align(pred_arr, gt_arr)
    return np.linalg.norm(aligned - gt_arr, axis=-1)


def n_mpjpe(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Scale-normalised MPJPE (protocol #3, VideoPose3D), per frame.

    Per frame, ``s = Σ⟨pred, gt⟩ / Σ‖pred‖²`` (sums over joints and coordinates; the least-squares
    scale of ``pred`` onto ``gt``), then ``MPJPE(s · pred, gt)``. There is no centring: pass
    root-relative poses. An all-zero prediction gets s = 0.

    Args:
        pred: Predicted poses, (..., J, 3).
        gt: Ground-truth poses, (..., J, 3), same unit as ``pred``.

    Returns:
        Per-frame N-MPJPE, (...), float64.

    Raises:
        ValueError: On mismatched shapes, C != 3, no joints, or NaN / inf input.
    """
    pred_arr, gt_arr = _check_pair(pred, gt)
    num = np.sum(pred_arr * gt_arr, axis=(-2, -1), keepdims=True)
    den = np.sum(pred_arr**2, axis=(-2, -1), keepdims=True)
    scale = num / np.where(den > 0, den, 1.0)
    return np.linalg.norm(scale * pred_arr - gt_arr, axis=-1).mean(axis=-1)


def _frame_axis(ndim: int, axis: int) -> int:
    """Normalise ``axis`` and check that it is a leading (frame) axis of a (..., T, J, 3) array."""
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} out of range for an array with {ndim} dimensions")
    axis %= ndim
    if axis >= ndim - 2:
        raise ValueError(f"axis {axis} must be a frame axis, not the joint or coordinate axis")
    return axis


def _difference_error(pred: np.ndarray, gt: np.ndarray, *, order: int, axis: int) -> np.ndarray:
    pred_arr, gt_arr = _check_pair(pred, gt, min_ndim=3)
    axis = _frame_axis(pred_arr.ndim, axis)
    if pred_arr.shape[axis] < order + 1:
        raise ValueError(
            f"need at least {order + 1} frames along axis {axis}, got shape {pred_arr.shape}"
        )
    # Difference the residual instead of each input: np.diff is linear, so this is the same value.
    diff = np.diff(pred_arr - gt_arr, n=order, axis=axis)
    return np.linalg.norm(diff, axis=-1).mean(axis=-1)


def mpjve(pred: np.ndarray, gt: np.ndarray, axis: int = -3) -> np.ndarray:
    """Mean per-joint velocity error (VideoPose3D MPJVE), per frame pair.

    The L2 norm of the difference between the first temporal differences ``X[t+1] − X[t]`` of
    prediction and ground truth, averaged over joints. Velocities are per frame, not per second.

    Args:
        pred: Predicted pose sequences, (..., T, J, 3).
        gt: Ground-truth pose sequences, same shape and unit as ``pred``.
        axis: The frame axis; must not be one of the last two (joint, coordinate) axes.

    Returns:
        Velocity error, shape of ``pred`` without its last two axes and with the frame axis of
        length T − 1, e.g. (..., T − 1) for the default ``axis=-3``.

    Raises:
        ValueError: On mismatched shapes, C != 3, fewer than 2 frames, a bad ``axis``, or NaN / inf.
    """
    return _difference_error(pred, gt, order=1, axis=axis)


def acceleration_error(pred: np.ndarray, gt: np.ndarray, axis: int = -3) -> np.ndarray:
    """Mean per-joint acceleration error (as logged by MotionAGFormer), per frame.

    The L2 norm of the difference between the second temporal differences
    ``X[t−1] − 2 X[t] + X[t+1]`` of prediction and ground truth, averaged over joints. The unit is
    the input unit per frame² (MotionAGFormer labels it "mm/s²", which it is not).

    Args:
        pred: Predicted pose sequences, (..., T, J, 3).
        gt: Ground-truth pose sequences, same shape and unit as ``pred``.
        axis: The frame axis; must not be one of the last two (joint, coordinate) axes.

    Returns:
        Acceleration error for the T − 2 interior frames: shape of ``pred`` without its last two
        axes and with the frame axis of length T − 2, e.g. (..., T − 2) for the default ``axis=-3``.

    Raises:
        ValueError: On mismatched shapes, C != 3, fewer than 3 frames, a bad ``axis``, or NaN / inf.
    """
    return _difference_error(pred, gt, order=2, axis=axis)


def _selected_errors(
    pred: np.ndarray, gt: np.ndarray, joints: Sequence[int] | np.ndarray | None
) -> np.ndarray:
    pred_arr, gt_arr = _check_pair(pred, gt)
    return _select_joints(np.linalg.norm(pred_arr - gt_arr, axis=-1), joints)


def pck(
    pred: np.ndarray,
    gt: np.ndarray,
    *,
    threshold: float = PCK_THRESHOLD_MM,
    joints: Sequence[int] | np.ndarray | None = None,
) -> np.ndarray:
    """3D percentage of correct keypoints, as a fraction in [0, 1], per frame.

    A joint is correct when its Euclidean error is **strictly less** than ``threshold``. This is
    the comparison of the official MPI-INF-3DHP MATLAB evaluation, ``mpii_compute_3d_pck.m``
    (``error(joint_groups{j,2},1,:) < pck_thresh`` with ``pck_thresh = 150``), as redistributed in
    QitaoZhao/PoseFormerV2 ``mpi_inf_3dhp/3dhp_test/test_util/mpii_compute_3d_pck.m`` (commit
    73f6b5f); an error of exactly 150 mm is *not* correct. MATLAB pools a sequence's frames and
    reports × 100; the frame mean of this function over the sequence, × 100, is the same number.

    Args:
        pred: Predicted poses, (..., J, 3), root-relative for MPI-INF-3DHP.
        gt: Ground-truth poses, (..., J, 3), same unit as ``threshold`` (mm).
        threshold: Error threshold, in the unit of the poses.
        joints: Indices of the joints to score (e.g. the 14 MPI-INF-3DHP PCK joints from
            `ssrstf.skeleton`); all joints when None.

    Returns:
        Fraction of the selected joints with error < ``threshold``, (...), float64.

    Raises:
        ValueError: On mismatched shapes, C != 3, bad ``joints`` or ``threshold``, or NaN / inf.
    """
    if not np.isfinite(threshold) or threshold < 0:
        raise ValueError(f"threshold must be finite and >= 0, got {threshold}")
    errors = _selected_errors(pred, gt, joints)
    return (errors < threshold).mean(axis=-1)


def auc(
    pred: np.ndarray,
    gt: np.ndarray,
    *,
    thresholds: Sequence[float] | np.ndarray = AUC_THRESHOLDS_MM,
    joints: Sequence[int] | np.ndarray | None = None,
) -> np.ndarray:
    """Area under the 3D PCK curve: the mean of `pck` over ``thresholds``, per frame.

    With the default thresholds 0, 5, ..., 150 mm this is the MPI-INF-3DHP AUC of
    ``mpii_compute_3d_pck.m`` as a fraction (MATLAB reports × 100). Because the comparison is a
    strict ``<`` (see `pck`), the 0 mm threshold never counts a joint, so a perfect prediction
    scores 30 / 31 ≈ 0.968, as in the official code.

    Args:
        pred: Predicted poses, (..., J, 3), root-relative for MPI-INF-3DHP.
        gt: Ground-truth poses, (..., J, 3), same unit as ``thresholds`` (mm).
        thresholds: PCK thresholds, 1-D, in the unit of the poses.
        joints: Indices of the joints to score; all joints when None.

    Returns:
        Mean over thresholds of the PCK fraction, (...), float64 in [0, 1].

    Raises:
        ValueError: On mismatched shapes, C != 3, bad ``joints`` or ``thresholds``, or NaN / inf.
    """
    thr = np.asarray(thresholds, dtype=np.float64)
    if thr.ndim != 1 or thr.size == 0 or not np.isfinite(thr).all() or (thr < 0).any():
        raise ValueError(
            f"thresholds must be a non-empty 1-D sequence of finite values >= 0, got {thresholds!r}"
        )
    errors = _selected_errors(pred, gt, joints)
    return (errors[..., None] < thr).mean(axis=(-2, -1))


def mean_per_group(
    values: np.ndarray,
    groups: Sequence[str],
    weights: np.ndarray | None = None,
) -> dict[str, float]:
    """Weighted mean of ``values`` within each group (e.g. per action, per test sequence).

    With per-frame ``values`` and no weights this is the frame-weighted mean of each group. With
    per-sequence means as ``values`` and frame counts as ``weights`` it is the same number (the
    MPI-INF-3DHP "sequence-wise, frame-weighted" average).

    Args:
        values: One value per item, (N,).
        groups: Group label per item, length N.
        weights: Non-negative weight per item, (N,); all ones when None.

    Returns:
        ``{group: Σ w·v / Σ w}``, with groups in order of first appearance.

    Raises:
        ValueError: On length mismatches, NaN values, negative weights, or a group of zero weight.
    """
    vals = _as_float64(values, "values")
    labels = [str(g) for g in groups]
    if vals.ndim != 1 or len(labels) != vals.shape[0]:
        raise ValueError(
            f"values must be 1-D with one entry per group label, got values {vals.shape} "
            f"and {len(labels)} labels"
        )
    w = np.ones_like(vals) if weights is None else _as_float64(weights, "weights")
    if w.shape != vals.shape:
        raise ValueError(f"weights must have shape {vals.shape}, got {w.shape}")
    if (w < 0).any():
        raise ValueError("weights must be >= 0")

    keys = list(dict.fromkeys(labels))
    index = {key: i for i, key in enumerate(keys)}
    inverse = np.array([index[label] for label in labels], dtype=np.intp)
    total = np.bincount(inverse, weights=w * vals, minlength=len(keys))
    weight_sum = np.bincount(inverse, weights=w, minlength=len(keys))
    empty = [key for key, ws in zip(keys, weight_sum, strict=True) if ws <= 0]
    if empty:
        raise ValueError(f"groups with zero total weight: {empty}")
    return {key: float(t / ws) for key, t, ws in zip(keys, total, weight_sum, strict=True)}
