"""Detector-like training inputs and virtual cameras (`ssrstf.data.augment`), and the one
missing-joint rule training and inference share (`ssrstf.data.missing`)."""

from __future__ import annotations

import numpy as np
import pytest

from ssrstf.config import AugmentConfig, ConfigError, from_dict, load_config, to_dict
from ssrstf.data.augment import (
    JOINT_NOISE,
    augment_clip,
    degrade,
    person_height,
    virtual_camera,
)
from ssrstf.data.missing import fill_missing_joints
from ssrstf.geometry import axis_angle_matrix, project_to_image
from ssrstf.keypoints.keypoints2d import Keypoints2D
from ssrstf.keypoints.prepare import fill_missing
from ssrstf.skeleton import H36M_17

INTRINSICS = np.array([1145.0, 1144.0, 512.0, 515.0, 0, 0, 0, 0, 0])
UP = np.array([0.03, -0.98, -0.19]) / np.linalg.norm([0.03, -0.98, -0.19])


def _walking_clip(num_frames: int = 27, seed: int = 0) -> np.ndarray:
    """A plausible camera-frame clip (mm): a rest skeleton 5 m away, drifting and swaying."""
    rng = np.random.default_rng(seed)
    rest = np.array(
        [[0, 0, 0], [-130, 0, 0], [-130, 450, 0], [-130, 880, 0], [130, 0, 0], [130, 450, 0],
         [130, 880, 0], [0, -230, 0], [0, -480, 0], [0, -580, -40], [0, -680, 0], [170, -460, 0],
         [180, -200, 0], [190, 50, 0], [-170, -460, 0], [-180, -200, 0], [-190, 50, 0]],
        dtype=np.float64,
    )  # fmt: skip
    t = np.arange(num_frames)[:, None, None]
    sway = 30.0 * np.sin(0.3 * t + rng.uniform(0, 6, (1, 17, 3)))
    return rest[None] + sway + np.array([200.0, 100.0, 5000.0]) + t * np.array([5.0, 0, 3.0])


def _pixels(points: np.ndarray) -> np.ndarray:
    xy = project_to_image(points, INTRINSICS[:2], INTRINSICS[2:4])
    return np.concatenate([xy, np.ones(xy.shape[:-1] + (1,))], axis=-1)


def _bone_lengths(points: np.ndarray) -> np.ndarray:
    return np.stack([np.linalg.norm(points[..., c, :] - points[..., p, :], axis=-1)
                     for p, c in H36M_17.bones], axis=-1)  # fmt: skip


# --- virtual cameras ------------------------------------------------------------------------


def test_virtual_camera_reprojects_rotated_3d_and_keeps_bones() -> None:
    points = _walking_clip()
    cfg = AugmentConfig(virtual_camera_fraction=1.0)
    for seed in range(20):
        moved, pixels = virtual_camera(points, INTRINSICS, UP, np.random.default_rng(seed), cfg)
        # Re-projecting the moved 3D with the generated camera gives the generated 2D: the
        # generated camera is a pinhole with the stream's principal point and a scaled focal.
        f = (pixels[..., 0] - INTRINSICS[2]) * moved[..., 2] / moved[..., 0]
        focal_x = np.median(f[np.abs(moved[..., 0]) > 50])
        assert 0.6 * 1145 - 1e-6 <= focal_x <= 1.5 * 1145 + 1e-6
        focal = np.array([focal_x, focal_x * 1144 / 1145])
        np.testing.assert_allclose(project_to_image(moved, focal, INTRINSICS[2:4]), pixels,
                                   atol=1e-6)  # fmt: skip
        # A rigid motion: bone lengths and the target's shape are unchanged.
        np.testing.assert_allclose(_bone_lengths(moved), _bone_lengths(points), atol=1e-9)
        assert moved[..., 2].min() > 500.0


def test_virtual_camera_rotates_about_the_vertical_through_the_person() -> None:
    points = _walking_clip()
    cfg = AugmentConfig(yaw_deg=90, elevation_deg=0, roll_deg=0, distance_range=(1, 1),
                        focal_range=(1, 1))  # fmt: skip
    moved, pixels = virtual_camera(points, INTRINSICS, UP, np.random.default_rng(3), cfg)
    pivot = points[:, 0].mean(0)
    # A pure yaw: heights along `up` are unchanged and the pivot stays where it was.
    np.testing.assert_allclose((moved - pivot) @ UP, (points - pivot) @ UP, atol=1e-9)
    np.testing.assert_allclose(moved[:, 0].mean(0), pivot, atol=1e-9)
    # ... so the person stays at the same place in the image.
    centre = project_to_image(pivot, INTRINSICS[:2], INTRINSICS[2:4])
    assert np.linalg.norm(project_to_image(moved[:, 0].mean(0), INTRINSICS[:2], INTRINSICS[2:4])
                          - centre) < 1e-6  # fmt: skip
    # and the rotation is the yaw drawn first, about `up` (root-relative poses rotate by it).
    yaw = np.deg2rad(np.random.default_rng(3).uniform(-90, 90))
    rel, rel_moved = points - points[:, :1], moved - moved[:, :1]
    np.testing.assert_allclose(rel_moved, rel @ axis_angle_matrix(UP, yaw).T, atol=1e-6)


def test_virtual_camera_targets_follow_the_camera_in_augment_clip() -> None:
    points = _walking_clip()
    cfg = AugmentConfig(virtual_camera_fraction=1.0)
    kp, moved, kind = augment_clip(_pixels(points), points, detector_pixels=None,
                                   intrinsics=INTRINSICS, up=UP,
                                   rng=np.random.default_rng(5), cfg=cfg)  # fmt: skip
    assert kind == "virtual+gt"
    assert not np.allclose(moved, points)
    # The returned input is the projection of the returned 3D (pinhole, scaled focal).
    ratio = (kp[..., 0] - INTRINSICS[2]) / (moved[..., 0] / moved[..., 2])
    np.testing.assert_allclose(ratio, np.median(ratio), rtol=1e-6)
    np.testing.assert_array_equal(kp[..., 2], 1.0)


# --- detector degradation -------------------------------------------------------------------


def test_noise_statistics_follow_the_joint_profile_on_seeded_draws() -> None:
    pixels = _pixels(_walking_clip(num_frames=81))
    cfg = AugmentConfig(noise_scale_max=1.0, jitter=0.0, definition_shift=0.0, outlier_prob=0.0,
                        swap_prob=0.0, drop_prob=0.0)  # fmt: skip
    height = person_height(pixels)
    errors = np.stack([degrade(pixels, np.random.default_rng(seed), cfg)[..., :2] - pixels[..., :2]
                       for seed in range(400)])  # (draws, T, J, 2)  # fmt: skip
    # Per draw the error is sigma_j · s · height · unit noise with s ~ U(0, 1), so pooled over
    # draws its spread is sigma_j · height / sqrt(3) (E[s²] = 1/3), joint by joint.
    std = errors.std(axis=(0, 1, 3)) / height * np.sqrt(3.0)
    np.testing.assert_allclose(std / JOINT_NOISE, 1.0, atol=0.12)
    unit = errors / (JOINT_NOISE[None, None, :, None] * height)
    # Wrists and ankles are noisier than the pelvis.
    pelvis, wrist = H36M_17.index("pelvis"), H36M_17.index("left_wrist")
    assert std[wrist] > 1.4 * std[pelvis]
    # The noise is smooth in time (a detector's error drifts): neighbouring frames correlate.
    lag1 = np.mean(unit[:, 1:] * unit[:, :-1]) / np.mean(unit**2)
    assert lag1 > 0.8


def test_degrade_drops_joints_with_confidence_zero_filled_by_the_inference_rule() -> None:
    pixels = _pixels(_walking_clip())
    cfg = AugmentConfig(drop_prob=1.0, outlier_prob=0.0, swap_prob=0.0)
    dropped_any = False
    for seed in range(30):
        out = degrade(pixels, np.random.default_rng(seed), cfg)
        assert np.isfinite(out).all()
        dropped = out[..., 2] == 0
        dropped_any |= dropped.any()
        # Dropped entries are exactly what fill_missing_joints makes of the observed rest.
        refilled, unfillable = fill_missing_joints(out, ~dropped)
        assert not unfillable
        np.testing.assert_allclose(refilled, out)
    assert dropped_any


def test_drop_spans_covering_a_limb_joint_s_whole_clip_keep_that_joint() -> None:
    """At T = 5 the drop spans (up to T / 2 each, up to three, plus whole frames) can cover a
    limb joint in every frame, which nothing can fill (seed 5671): that joint is kept, and the
    clip is otherwise what the same draws give (the assertion here would end a training run,
    and again at the same step on every resume)."""
    pixels = _pixels(_walking_clip())[:5]
    out = degrade(pixels, np.random.default_rng(5671), AugmentConfig())
    assert out.shape == pixels.shape and np.isfinite(out).all()
    dropped = out[..., 2] == 0
    assert dropped.any() and not dropped.all(axis=0).any()  # no joint lost in every frame
    refilled, unfillable = fill_missing_joints(out, ~dropped)
    assert not unfillable
    np.testing.assert_allclose(refilled, out)


def test_degrade_outliers_and_swaps_lower_the_confidence_when_scored() -> None:
    pixels = _pixels(_walking_clip())
    cfg = AugmentConfig(outlier_prob=1.0, swap_prob=1.0, drop_prob=0.0, noise_scale_max=0.0,
                        jitter=0.0, definition_shift=0.0)  # fmt: skip
    scored = 0
    for seed in range(40):
        out = degrade(pixels, np.random.default_rng(seed), cfg)
        moved = np.linalg.norm(out[..., :2] - pixels[..., :2], axis=-1) > 1.0
        assert moved.any()  # an outlier or a swap moved something
        if (out[..., 2] < 1).any():  # a clip with detector-like scores
            scored += 1
            assert out[..., 2][moved].mean() < out[..., 2][~moved].mean()
    assert 5 < scored < 35  # about half of the clips carry scores


def test_definition_shift_moves_joints_along_their_bone() -> None:
    pixels = _pixels(_walking_clip())
    cfg = AugmentConfig(definition_shift=0.3, noise_scale_max=0.0, jitter=0.0, outlier_prob=0.0,
                        swap_prob=0.0, drop_prob=0.0)  # fmt: skip
    out = degrade(pixels, np.random.default_rng(1), cfg)
    spine, pelvis, thorax = (H36M_17.index(n) for n in ("spine", "pelvis", "thorax"))
    shift = out[:, spine, :2] - pixels[:, spine, :2]
    bone = pixels[:, thorax, :2] - pixels[:, pelvis, :2]
    fraction = (shift * bone).sum(-1) / (bone * bone).sum(-1)
    np.testing.assert_allclose(fraction, fraction[0], atol=1e-9)  # one shift per clip
    np.testing.assert_allclose(shift, fraction[:, None] * bone, atol=1e-9)  # along the bone
    # Joints without a definition offset are untouched.
    knee = H36M_17.index("left_knee")
    np.testing.assert_allclose(out[:, knee, :2], pixels[:, knee, :2])


def test_detector_clips_use_the_stored_detections_with_the_stand_in_neck() -> None:
    points = _walking_clip()
    detector = _pixels(points) + np.array([3.0, -2.0, 0.0])
    neck = H36M_17.index("neck")
    detector[:, neck, 2] = 0.0  # Stacked Hourglass has no neck: confidence 0 everywhere
    kp, out_points, kind = augment_clip(_pixels(points), points, detector_pixels=detector,
                                        intrinsics=INTRINSICS, up=UP,
                                        rng=np.random.default_rng(0),
                                        cfg=AugmentConfig(detector_fraction=1.0))  # fmt: skip
    assert kind == "detector"
    np.testing.assert_allclose(out_points, points)
    thorax, head = H36M_17.index("thorax"), H36M_17.index("head")
    np.testing.assert_allclose(
        kp[:, neck, :2], (detector[:, thorax, :2] + detector[:, head, :2]) / 2
    )
    assert (kp[:, neck, 2] == 0).all() and (np.delete(kp, neck, 1)[..., 2] == 1).all()


def test_augment_clip_is_a_function_of_the_generator_seed() -> None:
    points = _walking_clip()
    cfg = AugmentConfig(detector_fraction=0.0, virtual_camera_fraction=0.5, degrade_fraction=0.7)
    draws = [
        augment_clip(_pixels(points), points, detector_pixels=None, intrinsics=INTRINSICS, up=UP,
                     rng=np.random.default_rng(9), cfg=cfg)
        for _ in range(2)
    ]  # fmt: skip
    np.testing.assert_array_equal(draws[0][0], draws[1][0])
    np.testing.assert_array_equal(draws[0][1], draws[1][1])
    other = augment_clip(_pixels(points), points, detector_pixels=None, intrinsics=INTRINSICS,
                         up=UP, rng=np.random.default_rng(10), cfg=cfg)  # fmt: skip
    assert not np.array_equal(other[0], draws[0][0])  # another seed, another draw


# --- the shared missing-joint rule ----------------------------------------------------------


def test_fill_missing_joints_interpolates_and_stands_in() -> None:
    rng = np.random.default_rng(0)
    kp = np.concatenate([rng.uniform(0, 900, (5, 17, 2)), np.full((5, 17, 1), 0.7)], -1)
    observed = np.ones((5, 17), bool)
    wrist, spine = H36M_17.index("right_wrist"), H36M_17.index("spine")
    observed[[1, 2], wrist] = False
    observed[:, spine] = False
    out, unfillable = fill_missing_joints(kp, observed)
    assert unfillable == []
    np.testing.assert_allclose(
        out[1, wrist, :2], kp[0, wrist, :2] + (kp[3, wrist, :2] - kp[0, wrist, :2]) / 3
    )
    pelvis, thorax = H36M_17.index("pelvis"), H36M_17.index("thorax")
    np.testing.assert_allclose(out[:, spine, :2], (kp[:, pelvis, :2] + kp[:, thorax, :2]) / 2)
    np.testing.assert_array_equal(out[..., 2] == 0, ~observed)
    # A limb joint never observed cannot be filled and is reported.
    observed[:, wrist] = False
    _, unfillable = fill_missing_joints(kp, observed)
    assert unfillable == [wrist]


def test_training_and_inference_fill_missing_joints_identically() -> None:
    rng = np.random.default_rng(1)
    kp = np.concatenate([rng.uniform(0, 900, (8, 17, 2)), rng.uniform(0.1, 1, (8, 17, 1))], -1)
    kp[:, H36M_17.index("neck"), 2] = 0.0  # never detected
    kp[[2, 3, 4], H36M_17.index("left_ankle"), 2] = 0.0  # dropped for a while
    inference = fill_missing(Keypoints2D(kp, H36M_17, np.ones(8, bool), None, None, "x"))
    training, _ = fill_missing_joints(kp, kp[..., 2] > 0)
    np.testing.assert_allclose(inference.keypoints, training)


def test_lift_accepts_stacked_hourglass_like_arrays_without_a_neck() -> None:
    import ssrstf

    points = _walking_clip(num_frames=30)
    kp = _pixels(points)
    kp[:, H36M_17.index("neck"), 2] = 0.0  # the SH layout: no neck/nose in any frame
    poses = ssrstf.lift(kp, image_size=(1000, 1002))
    assert poses.shape == (30, 17, 3) and np.isfinite(poses).all()


# --- config ---------------------------------------------------------------------------------


def test_augment_config_round_trip_and_validation(tmp_path) -> None:
    cfg = load_config("configs/ssrstf-robust_27f_h36m-mix.yaml")
    assert cfg.data.augment.enabled and not cfg.data.constant_confidence
    assert cfg.eval.extra_inputs == ("sh",)
    assert from_dict(to_dict(cfg)) == cfg
    clean = load_config("configs/ssrstf-budget_27f_h36m-gt.yaml")
    assert not clean.data.augment.enabled and clean.data.constant_confidence
    # Old checkpoints' configs (no augment section) load with augmentation off.
    plain = to_dict(clean)
    del plain["data"]["augment"]
    assert from_dict(plain) == clean
    with pytest.raises(ConfigError, match="data.augment.degrade_fraction"):
        load_config(None, ["data.augment.degrade_fraction=1.5"])
    with pytest.raises(ConfigError, match="data.augment.focal_range"):
        load_config(None, ["data.augment.focal_range=[2, 1]"])
    with pytest.raises(ConfigError, match="target_space: camera"):
        load_config(None, ["data.augment.virtual_camera_fraction=0.5",
                           "data.target_space=image_2.5d"])  # fmt: skip
    with pytest.raises(ConfigError, match="unknown config key 'data.augment.nois'"):
        load_config(None, ["data.augment.nois=1"])


# --- dataset and training loop --------------------------------------------------------------

ROBUST = [
    "data.input_source=gt",
    "data.augment.detector_fraction=0.3",
    "data.augment.virtual_camera_fraction=0.5",
    "data.augment.degrade_fraction=0.6",
    "data.train_subjects=[S1]",
    "model.num_frames=9",
    "train.batch_size=4",
    "train.num_threads=1",
    "eval.every=1",
    "eval.batch_size=16",
    "eval.extra_inputs=[sh]",
]


def _robust_cfg(path, *overrides: str):
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    return load_config(root / "configs" / "tiny_debug.yaml", [f"data.path={path}", *ROBUST,
                                                               *overrides])  # fmt: skip


def test_augmented_dataset_draws_per_clip_and_epoch(synthetic_h36m) -> None:
    from ssrstf.data.dataset import build_datasets

    train, test = build_datasets(_robust_cfg(synthetic_h36m))
    assert train.augment is not None and test.augment is None
    indices = list(range(len(train)))
    batch = train.__getitems__(indices)
    for i in (0, len(train) // 2, len(train) - 1):  # one clip alone = the same clip in a batch
        x, y = train[i]
        torch_equal = (x == batch[i][0]).all() and (y == batch[i][1]).all()
        assert bool(torch_equal)
    _, _, kinds = train.augmented(np.asarray(indices))
    assert {"detector", "gt", "degraded"} <= {k.removeprefix("virtual+") for k in kinds}
    assert any(k.startswith("virtual+") for k in kinds)
    first = np.stack([x.numpy() for x, _ in batch])
    train.set_epoch(1)
    second = np.stack([x.numpy() for x, _ in train.__getitems__(indices)])
    assert not np.allclose(first, second)  # each epoch draws anew
    assert np.isfinite(first).all() and (first[..., 2] >= 0).all() and (first[..., 2] <= 1).all()


def test_robust_run_scores_extra_inputs_and_resumes_exactly(synthetic_h36m, tmp_path) -> None:
    import json

    import torch

    from ssrstf.checkpoint import load_checkpoint, save_checkpoint
    from ssrstf.training.trainer import fit

    full = tmp_path / "full"
    fit(_robust_cfg(synthetic_h36m, "train.epochs=2"), full)
    records = [json.loads(line) for line in (full / "metrics.jsonl").read_text().splitlines()]
    assert all(r["p1_mm_sh"] > 0 and r["p2_mm_sh"] > 0 for r in records)
    assert json.loads((full / "final_sh.json").read_text())["p1_mm"] == records[-1]["p1_mm_sh"]
    # Augmented samples are a function of (seed, epoch, clip): a resumed run is bit-identical.
    part = tmp_path / "part"
    fit(_robust_cfg(synthetic_h36m, "train.epochs=1"), part)
    ckpt = load_checkpoint(part / "last.pt")
    ckpt["config"]["train"]["epochs"] = 2
    save_checkpoint(part / "last.pt", {k: v for k, v in ckpt.items() if k != "format_version"})
    fit(None, part, resume=True)
    a, b = load_checkpoint(full / "last.pt"), load_checkpoint(part / "last.pt")
    for key, value in a["model"].items():
        torch.testing.assert_close(value, b["model"][key], rtol=0, atol=0, msg=key)


def test_cpu_clock_budget_ignores_wall_time(synthetic_h36m, tmp_path, monkeypatch) -> None:

    from ssrstf.checkpoint import load_checkpoint
    from ssrstf.training import trainer

    # Every reading of the wall clock advances it by 61 s: a wall-clock budget of 1 minute stops
    # after the first step on any machine, however fast its steps are.
    ticks = iter(range(10**6))
    monkeypatch.setattr(trainer.time, "monotonic", lambda: 61.0 * next(ticks))
    overrides = ("train.max_steps=3", "train.max_minutes=1", "train.schedule=cosine_time")
    run = tmp_path / "cpu"
    trainer.fit(_robust_cfg(synthetic_h36m, *overrides, "train.clock=cpu"), run)
    progress = load_checkpoint(run / "last.pt")["progress"]
    assert progress["global_step"] == 3 and progress["elapsed_s"] < 60
    wall = tmp_path / "wall"
    trainer.fit(_robust_cfg(synthetic_h36m, *overrides), wall)
    assert load_checkpoint(wall / "last.pt")["progress"]["global_step"] == 1
