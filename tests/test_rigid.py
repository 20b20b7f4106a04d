"""Smoothness and rigidity figures, and the rigid skeleton: constant lengths, kept directions,
least-squares lengths against a general solver, and the identity on rigid input."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import least_squares

from ssrstf.keypoints.sample import make_sample
from ssrstf.scene.rigid import (
    bone_length_variation,
    bone_vectors,
    fit_bone_lengths,
    make_rigid,
    mean_acceleration,
    motion_statistics,
)
from ssrstf.skeleton import H36M_17


@pytest.fixture(scope="module")
def rigid_poses() -> np.ndarray:
    """(50, 17, 3) mm: the demo motion, whose bone lengths are constant by construction."""
    return make_sample(seconds=1.0).poses_3d


def _stretched(poses: np.ndarray, seed: int = 0, amount: float = 0.1) -> np.ndarray:
    """The poses with every bone scaled by its own random factor per frame (directions kept)."""
    rng = np.random.default_rng(seed)
    bones = bone_vectors(poses)
    bones = bones * rng.uniform(1 - amount, 1 + amount, bones.shape[:2])[..., None]
    out = np.zeros_like(poses)
    out[:, 0] = poses[:, 0]
    for b, (parent, child) in enumerate(H36M_17.bones):
        out[:, child] = out[:, parent] + bones[:, b]
    return out


def test_rigid_keeps_lengths_constant_and_directions(rigid_poses: np.ndarray) -> None:
    noisy = rigid_poses + np.random.default_rng(1).normal(0, 20, rigid_poses.shape)
    rigid = make_rigid(noisy)
    assert bone_length_variation(rigid).max() < 1e-12
    lengths = np.linalg.norm(bone_vectors(rigid), axis=-1)
    assert np.allclose(lengths, fit_bone_lengths(noisy))
    before, after = bone_vectors(noisy), bone_vectors(rigid)
    unit = [v / np.linalg.norm(v, axis=-1, keepdims=True) for v in (before, after)]
    assert np.allclose(unit[0], unit[1])  # every bone keeps its direction
    assert np.allclose(rigid[:, 0], noisy[:, 0])  # the root stays


def test_rigid_is_the_identity_on_rigid_motion(rigid_poses: np.ndarray) -> None:
    assert np.allclose(make_rigid(rigid_poses), rigid_poses)
    true_lengths = np.linalg.norm(bone_vectors(rigid_poses[:1]), axis=-1)[0]
    assert np.allclose(fit_bone_lengths(rigid_poses), true_lengths)


def test_lengths_equal_a_general_least_squares_fit(rigid_poses: np.ndarray) -> None:
    """The fitted lengths minimise the summed squared joint displacement of the rebuilt poses."""
    stretched = _stretched(rigid_poses[:20])

    def residual(lengths: np.ndarray) -> np.ndarray:
        return (make_rigid(stretched, lengths=lengths) - stretched).ravel()

    start = np.linalg.norm(bone_vectors(stretched), axis=-1).mean(0)
    reference = least_squares(residual, start, xtol=1e-12, ftol=1e-12).x
    assert np.allclose(fit_bone_lengths(stretched), reference, atol=1e-6)
    squared = np.square(residual(fit_bone_lengths(stretched))).sum()
    assert squared < np.square(residual(start)).sum()  # better than the mean lengths


def test_stretched_motion_gets_its_lengths_back(rigid_poses: np.ndarray) -> None:
    stretched = _stretched(rigid_poses, amount=0.15)
    assert np.median(bone_length_variation(stretched)) > 0.05
    rigid = make_rigid(stretched)
    # Per-frame stretch averages out: the rebuilt poses are close to the true rigid motion.
    assert (
        np.linalg.norm(rigid - rigid_poses, axis=-1).mean()
        < np.linalg.norm(stretched - rigid_poses, axis=-1).mean()
    )


def test_mean_acceleration_known_values() -> None:
    t = np.arange(20, dtype=float)[:, None, None]
    constant_velocity = np.tile(t * [3.0, 0.0, 4.0], (1, 17, 1))
    assert mean_acceleration(constant_velocity) == pytest.approx(0.0, abs=1e-12)
    parabola = np.tile(0.5 * t**2 * [0.0, 2.0, 0.0], (1, 17, 1))  # 2 mm / frame²
    assert mean_acceleration(parabola) == pytest.approx(2.0)
    assert mean_acceleration(parabola[:2]) == 0.0
    assert mean_acceleration(parabola[:, 0]) == pytest.approx(2.0)  # a path (F, 3)


def test_bone_length_variation_known_values(rigid_poses: np.ndarray) -> None:
    poses = rigid_poses[:2].copy()
    knee = H36M_17.index("right_knee")
    poses[1, 2:4] += (poses[1, knee] - poses[1, H36M_17.index("right_hip")]) * 0.5
    cv = bone_length_variation(poses)  # the thigh is 1.0 and 1.5 times its length
    thigh = H36M_17.bones.index((H36M_17.index("right_hip"), knee))
    assert cv[thigh] == pytest.approx(0.25 / 1.25)
    assert np.allclose(np.delete(cv, thigh), 0.0, atol=1e-12)


def test_motion_statistics_summary(rigid_poses: np.ndarray) -> None:
    stretched = _stretched(rigid_poses)
    stats = motion_statistics(stretched, trajectory=rigid_poses[:, 0])
    assert len(stats.bone_length_cv) == 16 and stats.bone_names[0] == "pelvis-right_hip"
    np.testing.assert_allclose(stats.bone_length_cv, bone_length_variation(stretched))
    relative = stretched - stretched[:, :1]  # of the root-relative poses
    assert stats.mean_acceleration_mm == pytest.approx(mean_acceleration(relative))
    assert stats.trajectory_acceleration_mm == pytest.approx(mean_acceleration(rigid_poses[:, 0]))
    assert stats.trajectory_acceleration_mm != pytest.approx(stats.mean_acceleration_mm)
    line = stats.summary()
    assert "mm/frame²" in line and "bone length variation: median" in line and "root path" in line
    data = stats.to_dict()
    assert set(data["bone_length_cv"]) == set(stats.bone_names)
    assert data["median_bone_length_cv"] == pytest.approx(np.median(stats.bone_length_cv))


def test_bad_inputs_are_named(rigid_poses: np.ndarray) -> None:
    with pytest.raises(ValueError, match=r"poses must be \(F, 17, 3\)"):
        make_rigid(rigid_poses[:, :10])
    with pytest.raises(ValueError, match="lengths must be"):
        make_rigid(rigid_poses, lengths=np.ones(3))
