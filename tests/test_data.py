"""Data pipeline: clip logic, transforms, the prepared-file schema and the clip datasets."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from ssrstf.config import DataConfig, ExperimentConfig, ModelConfig, TrainConfig
from ssrstf.data.clips import (
    centred_padding,
    plan_windows,
    resample_indices,
    split_test_clips,
    split_train_clips,
    stitch_clips,
    strided_clips,
    subsample_frames,
    window_weights,
)
from ssrstf.data.dataset import (
    PoseClipDataset,
    build_dataloaders,
    build_datasets,
    clip_frames,
    stream_clips,
    streams_with_source,
)
from ssrstf.data.h36m import load_streams, save_streams, stream_key, summarize_streams
from ssrstf.data.transforms import flip_poses, target_scale_mm
from ssrstf.geometry import denormalize_screen_coordinates, to_root_relative
from ssrstf.skeleton import H36M_17

# ----------------------------------------------------------------------------- clips


@pytest.mark.parametrize(
    ("num_frames", "clip_len", "stride"), [(100, 9, 3), (243, 243, 81), (50, 7, 7)]
)
def test_train_clips_have_length_and_stride_and_drop_the_tail(num_frames, clip_len, stride) -> None:
    clips = split_train_clips(num_frames, clip_len, stride)
    assert clips.shape[1] == clip_len
    np.testing.assert_array_equal(np.diff(clips, axis=1), 1)
    np.testing.assert_array_equal(np.diff(clips[:, 0]), stride)
    assert clips[0, 0] == 0 and clips[-1, -1] < num_frames
    assert clips[-1, 0] + stride + clip_len > num_frames  # no further window fits


def test_short_streams_give_one_resampled_clip_covering_every_frame() -> None:
    clips = split_train_clips(5, 12, 4)
    assert clips.shape == (1, 12)
    assert set(clips[0]) == set(range(5)) and np.all(np.diff(clips[0]) >= 0)
    np.testing.assert_array_equal(split_test_clips(5, 12), clips)
    assert split_train_clips(0, 12, 4).shape == (0, 12)


def test_centred_padding_repeats_the_end_frames_around_the_sequence() -> None:
    indices, first = centred_padding(3, 8)
    assert indices.tolist() == [0, 0, 0, 1, 2, 2, 2, 2] and first == 2
    assert centred_padding(8, 8)[0].tolist() == list(range(8))
    one, first = centred_padding(1, 4)
    assert one.tolist() == [0, 0, 0, 0] and first == 1
    with pytest.raises(ValueError, match="num_frames <= clip_len"):
        centred_padding(9, 8)


def test_resample_indices_are_sorted_in_range_and_even() -> None:
    out = resample_indices(10, 4)
    np.testing.assert_array_equal(out, [0, 2, 5, 7])
    assert resample_indices(3, 7).tolist() == [0, 0, 0, 1, 1, 2, 2]


@pytest.mark.parametrize("num_frames", [1, 8, 9, 10, 17, 18, 100])
def test_test_clips_do_not_overlap_and_drop_the_tail(num_frames: int) -> None:
    clips = split_test_clips(num_frames, 9)
    if num_frames >= 9:
        assert clips.size == (num_frames // 9) * 9
        assert len(np.unique(clips)) == clips.size
        np.testing.assert_array_equal(clips.reshape(-1), np.arange(clips.size))
    else:  # one clip of the stream's frames, in order, resampled to T
        assert clips.shape == (1, 9) and set(clips[0]) == set(range(num_frames))
        assert (np.diff(clips[0]) >= 0).all()
        np.testing.assert_array_equal(clips[0], resample_indices(num_frames, 9))


@pytest.mark.parametrize("num_frames", [1, 8, 9, 10, 17, 18, 100, 243, 1000])
@pytest.mark.parametrize("clip_len", [1, 9, 27, 243])
def test_stitch_inverts_split_test_clips(num_frames: int, clip_len: int) -> None:
    x = np.random.default_rng(num_frames).normal(size=(num_frames, 17, 3))
    clips = split_test_clips(num_frames, clip_len, cover_all=True)
    np.testing.assert_allclose(stitch_clips(x[clips], clips, num_frames), x)


def test_stitch_averages_repeated_frames_and_leaves_uncovered_frames_nan() -> None:
    clips = np.array([[0, 1, 2], [2, 3, 4]])
    values = np.array([[1.0, 2.0, 3.0], [5.0, 6.0, 7.0]])
    out = stitch_clips(values, clips, 6)
    np.testing.assert_allclose(out[:5], [1.0, 2.0, 4.0, 6.0, 7.0])
    assert np.isnan(out[5])


@pytest.mark.parametrize("num_frames", [1, 8, 9, 10, 30, 100])
@pytest.mark.parametrize("overlap", [0, 1, 4, 8])
def test_overlapping_test_clips_are_the_windows_inference_lifts(num_frames, overlap) -> None:
    """Overlap 0 is the VideoPose3D split (every frame, last clip flush with the end); any
    overlap gives `plan_windows`' windows, as `ssrstf infer` cuts a sequence."""
    clips = split_test_clips(num_frames, 9, cover_all=True, overlap=overlap)
    assert np.unique(clips).tolist() == list(range(num_frames))
    if num_frames >= 9:
        assert clips[:, 0].tolist() == plan_windows(num_frames, 9, 9 - overlap)
        np.testing.assert_array_equal(np.diff(clips, axis=1), 1)
    if overlap == 0:
        old = split_train_clips(num_frames, 9, 9)  # disjoint clips plus the flush tail clip
        assert clips[: len(old)].tolist() == old.tolist() and len(clips) - len(old) <= 1


def test_overlapping_test_clips_are_refused_where_clips_are_fixed() -> None:
    with pytest.raises(ValueError, match="cover_all"):
        split_test_clips(30, 9, overlap=3)
    with pytest.raises(ValueError, match=r"overlap must be in \[0, 8\]"):
        split_test_clips(30, 9, cover_all=True, overlap=9)


def test_weighted_stitch_equals_a_per_frame_loop() -> None:
    """`stitch_clips` with triangular weights against an independent per-frame loop."""
    rng = np.random.default_rng(3)
    clips = split_test_clips(40, 9, cover_all=True, overlap=5)
    values = rng.normal(size=(*clips.shape, 17, 3))
    weights = window_weights(9)
    expected = np.zeros((40, 17, 3))
    for frame in range(40):
        acc, total = np.zeros((17, 3)), 0.0
        for k, clip in enumerate(clips):
            for t, index in enumerate(clip):
                if index == frame:
                    acc += weights[t] * values[k, t]
                    total += weights[t]
        expected[frame] = acc / total
    np.testing.assert_allclose(stitch_clips(values, clips, 40, weights=weights), expected)
    with pytest.raises(ValueError, match="weights must be 9 positive values"):
        stitch_clips(values, clips, 40, weights=np.ones(8))


def test_subsample_frames() -> None:
    np.testing.assert_array_equal(subsample_frames(7, 3), [0, 3, 6])
    np.testing.assert_array_equal(subsample_frames(7, 3, phase=2), [2, 5])
    with pytest.raises(ValueError, match="frame_stride must be >= 1"):
        subsample_frames(7, 0)
    with pytest.raises(ValueError, match="phase must be in"):
        subsample_frames(7, 3, phase=3)


# ----------------------------------------------------------------------------- transforms


def test_flip_is_an_involution_that_swaps_sides_and_negates_x(rng: np.random.Generator) -> None:
    x = rng.normal(size=(2, 5, 17, 3))
    flipped = flip_poses(x)
    np.testing.assert_array_equal(flip_poses(flipped), x)
    for left, right in zip(H36M_17.left_joints, H36M_17.right_joints, strict=True):
        np.testing.assert_array_equal(flipped[..., left, 0], -x[..., right, 0])
        np.testing.assert_array_equal(flipped[..., right, 1:], x[..., left, 1:])
    np.testing.assert_array_equal(flipped[..., H36M_17.root, :], x[..., 0, :] * [-1, 1, 1])
    assert flipped is not x and not np.shares_memory(flipped, x)


def test_flip_works_on_tensors_and_matches_numpy(rng: np.random.Generator) -> None:
    x = rng.normal(size=(3, 17, 3)).astype(np.float32)
    t = torch.from_numpy(x.copy())
    out = flip_poses(t)
    assert isinstance(out, torch.Tensor)
    np.testing.assert_array_equal(out.numpy(), flip_poses(x))
    np.testing.assert_array_equal(t.numpy(), x)  # input untouched


def test_target_scale_mm() -> None:
    np.testing.assert_allclose(target_scale_mm("camera", [1000, 1000]), 1000.0)
    np.testing.assert_allclose(
        target_scale_mm("image_2.5d", [1000, 2000], [4.0, 5.0]), [2000, 5000]
    )
    with pytest.raises(ValueError, match="unknown target space"):
        target_scale_mm("metres", [1000])


# ----------------------------------------------------------------------------- schema


def test_prepared_file_round_trip(synthetic_h36m: Path, tmp_path: Path) -> None:
    streams = load_streams(synthetic_h36m)
    assert streams.num_streams == 24 and streams.sources == ("gt", "sh")
    again = load_streams(save_streams(streams, tmp_path / "copy"))
    assert again.keys == streams.keys
    for name in (
        "offsets",
        "image_size",
        "fps",
        "poses_3d",
        "poses_3d_image",
        "scale_2_5d",
        "intrinsics",
    ):
        np.testing.assert_array_equal(getattr(again, name), getattr(streams, name))
    for source in streams.sources:
        np.testing.assert_array_equal(again.poses_2d[source], streams.poses_2d[source])
        np.testing.assert_array_equal(again.has_2d[source], streams.has_2d[source])


_BREAK_ONE_ARRAY = {  # what is changed in a prepared file → what the error must say
    "a stream field too short": (
        lambda a: a | {"stream_action": a["stream_action"][:-1]},
        "stream_action has shape (23,), not one entry per stream (24)",
    ),
    "image sizes of 3 numbers": (
        lambda a: a | {"stream_image_size": np.zeros((24, 3), np.int32)},
        "image_size must be",
    ),
    "intrinsics of 4 numbers": (
        lambda a: a | {"stream_intrinsics": np.zeros((24, 4))},
        "intrinsics must be (24, 9)",
    ),
    "an up vector of 2 numbers": (lambda a: a | {"stream_up": np.zeros((24, 2))}, "up must be"),
    "one camera for all": (
        lambda a: a | {"stream_camera": np.full(24, "c")},
        "keys subject/action/camera must be",
    ),
    "a frame too few": (
        lambda a: a | {"poses_3d": a["poses_3d"][:-1]},
        "poses_3d has shape (959, 17, 3), not one entry per frame (960, by stream_offsets)",
    ),
    "2D-shaped 3D poses": (lambda a: a | {"poses_3d": a["poses_3d"][..., :2]}, "poses_3d must be"),
    "a float mask": (lambda a: a | {"valid": np.ones(len(a["poses_3d"]))}, "valid must be a"),
    "a 2D source of 2 channels": (
        lambda a: a | {"poses_2d_sh": a["poses_2d_sh"][..., :2]},
        "poses_2d['sh'] must be",
    ),
    "a has-2D flag per frame": (
        lambda a: a | {"has_2d_sh": np.ones(len(a["poses_3d"]), bool)},
        "has_2d_sh has shape (960,), not one entry per stream (24)",
    ),
    "a 2D source name with capitals": (
        lambda a: a | {"poses_2d_SH": a["poses_2d_sh"], "has_2d_SH": a["has_2d_sh"]},
        "2D source name 'SH' must match",
    ),
    "an unknown joint layout": (
        lambda a: a | {"joint_layout": np.asarray("h36m_18")},
        "unknown joint_layout 'h36m_18'",
    ),
    "another format version": (
        lambda a: a | {"format_version": np.asarray(99)},
        "format_version 99, this code reads",
    ),
    "decreasing offsets": (
        lambda a: a | {"stream_offsets": a["stream_offsets"][[0, 2, 1, *range(3, 25)]]},
        "stream_offsets must be (25,) increasing integers",
    ),
    "no scale for the 2.5D poses": (
        lambda a: {k: v for k, v in a.items() if k != "scale_2_5d"},
        "poses_3d_image and scale_2_5d come together",
    ),
    "NaN in a scored 3D pose": (
        lambda a: (
            a
            | {
                "poses_3d": np.where(
                    np.arange(len(a["poses_3d"]))[:, None, None] == 5, np.nan, a["poses_3d"]
                )
            }
        ),  # fmt: skip
        "poses_3d has NaN or inf in 1 frame(s) (first: frame 5)",
    ),
    "NaN in a scored 2.5D pose": (
        lambda a: (
            a
            | {
                "poses_2_5d": np.where(
                    np.arange(len(a["poses_3d"]))[:, None, None] == 7, np.nan, a["poses_3d"]
                )
            }
        ),
        "poses_2_5d has NaN or inf in 1 frame(s) (first: frame 7)",
    ),
}


@pytest.mark.parametrize("case", list(_BREAK_ONE_ARRAY))
def test_a_malformed_prepared_file_names_the_problem(
    case: str, synthetic_h36m: Path, tmp_path: Path
) -> None:
    """Every check of `Streams` and `load_streams` on a file broken in one array: a ValueError
    that names the file and the problem (never a numpy or torch traceback from later on)."""
    with np.load(synthetic_h36m) as data:
        arrays = {k: data[k] for k in data.files}
    shape = (len(arrays["stream_subject"]), int(arrays["stream_offsets"][-1]))
    assert shape == (24, 960), "the cases above are written for 24 streams of 960 frames in all"
    assert {"stream_intrinsics", "poses_3d_image", "scale_2_5d", "poses_2d_sh"} <= set(arrays)
    arrays.setdefault("stream_up", np.tile([0.0, 0.0, 1.0], (24, 1)))
    arrays.setdefault("valid", np.ones(len(arrays["poses_3d"]), bool))
    intact = tmp_path / "intact.npz"
    np.savez(intact, **arrays)
    load_streams(intact)  # the additions themselves are valid
    change, message = _BREAK_ONE_ARRAY[case]
    broken = tmp_path / "broken.npz"
    np.savez(broken, **change(arrays))
    with pytest.raises(ValueError) as error:
        load_streams(broken)
    assert str(error.value).startswith(str(broken)) and message in str(error.value)


def test_load_can_select_subjects_and_arrays(synthetic_h36m: Path, caplog) -> None:
    full = load_streams(synthetic_h36m)
    part = load_streams(synthetic_h36m, subjects=["S9"], arrays=["poses_3d"])
    assert set(part.subject) == {"S9"} and part.poses_2d == {} and part.poses_3d_image is None
    expected = full.subset(["S9"])
    assert part.keys == expected.keys
    np.testing.assert_array_equal(part.poses_3d, expected.poses_3d)
    i = part.keys.index("S9/Walking 1/58860488")
    np.testing.assert_array_equal(
        part.poses_3d[part.frames(i)], full.poses_3d[full.frames(full.keys.index(part.keys[i]))]
    )
    with caplog.at_level(logging.WARNING, logger="ssrstf.data.h36m"):
        typo = load_streams(synthetic_h36m, subjects=["S9", "s11"], arrays=())
    assert typo.keys == part.keys  # the streams of the subjects it has, and a warning
    assert "has no streams of subject(s) s11 (it holds S1, S11, S9)" in caplog.text
    with pytest.raises(ValueError, match=r"'sh' is stored but was not loaded: pass 'poses_2d_sh'"):
        streams_with_source(typo, "sh")


def test_load_errors_are_actionable(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not found"):
        load_streams(tmp_path / "nope.npz")
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(ValueError, match="not a prepared ssrstf dataset"):
        load_streams(tmp_path / "other.npz")


def test_summary_and_keys(synthetic_h36m: Path) -> None:
    streams = load_streams(synthetic_h36m, arrays=())
    summary = summarize_streams(streams)
    assert summary["streams"] == 24 and summary["sources_2d"] == {"gt": 24, "sh": 23}
    assert summary["frames"] == int(streams.lengths.sum())
    assert stream_key("S9", "Walking 1", "54138969") in streams.keys


# ----------------------------------------------------------------------------- datasets


def _cfg(path: Path, **data) -> ExperimentConfig:
    return ExperimentConfig(
        model=ModelConfig(dim=16, depth=1, num_heads=2, num_frames=9),
        data=DataConfig(path=str(path), input_source="sh", **data),
        train=TrainConfig(batch_size=4),
        seed=3,
    )


def test_dataset_items_have_the_documented_shapes_and_targets(synthetic_h36m: Path) -> None:
    train, test = build_datasets(_cfg(synthetic_h36m, flip_augment=False))
    x, y = train[0]
    assert x.shape == (9, 17, 3) and y.shape == (9, 17, 3)
    assert x.dtype == torch.float32 and y.dtype == torch.float32
    assert torch.all(y[:, H36M_17.root] == 0)
    assert set(train.streams.subject) == {"S1"} and set(test.streams.subject) == {"S9", "S11"}
    # The stream without SH detections is left out; test clips cover every frame.
    assert "S11/Directions/54138969" not in test.streams.keys
    assert len(np.unique(test.clips)) == test.streams.num_frames
    # Targets are root-relative camera metres; inputs are the normalised SH keypoints.
    frames = train.clips[0]
    np.testing.assert_allclose(
        y.numpy() * 1000.0, to_root_relative(train.streams.poses_3d[frames]), atol=1e-3
    )
    w, h = train.streams.image_size[0]
    np.testing.assert_allclose(
        denormalize_screen_coordinates(x[..., :2].numpy(), w, h),
        train.streams.poses_2d["sh"][frames, :, :2],
        atol=1e-3,
    )


def test_train_clips_use_the_configured_stride(synthetic_h36m: Path) -> None:
    train, _ = build_datasets(_cfg(synthetic_h36m, train_stride=5))
    streams = train.streams
    expected = sum(len(split_train_clips(n, 9, 5)) for n in streams.lengths)
    assert len(train) == expected
    default, _ = build_datasets(_cfg(synthetic_h36m))
    assert len(default) == sum(len(split_train_clips(n, 9, 3)) for n in streams.lengths)


def test_temporal_scale_augmentation_trains_at_each_stride_and_tests_at_the_model_stride(
    synthetic_h36m: Path,
) -> None:
    cfg = _cfg(synthetic_h36m, train_stride=5, frame_stride=3, train_frame_strides=(1, 2, 3))
    train, test = build_datasets(cfg)
    steps = np.diff(train.clips, axis=1)
    assert (steps == steps[:, :1]).all()  # one stride per clip
    per_stride = {s: int((steps[:, 0] == s).sum()) for s in (1, 2, 3)}
    # Each stride's clips are exactly the strided split at that stride (all phases).
    for s, n in per_stride.items():
        assert n == len(clip_frames(train.streams, 9, stride=5, frame_stride=s)) > 0
    assert len(train) == sum(per_stride.values())
    # Evaluation stays at the model's stride, every frame covered.
    assert (np.diff(test.clips, axis=1) == 3).all()
    assert len(np.unique(test.clips)) == test.streams.num_frames
    with pytest.raises(ValueError, match="data.train_frame_strides"):
        _cfg(synthetic_h36m, train_frame_strides=(0, 1))
    with pytest.raises(ValueError, match="data.train_frame_strides"):
        _cfg(synthetic_h36m, train_frame_strides=(2, 2))


def test_flip_augmentation_flips_input_and_target_together(synthetic_h36m: Path) -> None:
    cfg = _cfg(synthetic_h36m)
    plain, _ = build_datasets(replace(cfg, data=replace(cfg.data, flip_augment=False)))
    flipping, _ = build_datasets(cfg)
    flipped_any = kept_any = False
    for i in range(len(plain)):
        (x0, y0), (x1, y1) = plain[i], flipping[i]
        if torch.equal(x0, x1):
            kept_any = True
            assert torch.equal(y0, y1)
        else:
            flipped_any = True
            assert torch.equal(x1, flip_poses(x0)) and torch.equal(y1, flip_poses(y0))
    assert flipped_any and kept_any


@pytest.mark.parametrize("target_space", ["camera", "image_2.5d"])
def test_batched_items_equal_single_items(synthetic_h36m: Path, target_space: str) -> None:
    # The DataLoader fetches through __getitems__ (vectorised); it must give exactly the samples
    # of __getitem__, flips included, in the order asked, and the raw-data targets.
    train, _ = build_datasets(_cfg(synthetic_h36m, target_space=target_space))
    train.set_epoch(2)
    indices = [5, 0, 3, 3, len(train) - 1, 1, 2]
    flips = train.flipped(np.asarray(indices))
    assert flips.any() and not flips.all()
    batch = train.__getitems__(indices)
    for i, (x, y) in zip(indices, batch, strict=True):
        x1, y1 = train[i]
        assert torch.equal(x, x1) and torch.equal(y, y1)
    unflipped = indices[int(np.flatnonzero(~flips)[0])]
    if target_space == "camera":
        frames = train.clips[unflipped]
        expected = to_root_relative(train.streams.poses_3d[frames]) / 1000.0
        np.testing.assert_allclose(train[unflipped][1].numpy(), expected, atol=1e-6)


def test_same_seed_same_batches_and_epochs_differ(synthetic_h36m: Path) -> None:
    def batches(epoch: int) -> list[torch.Tensor]:
        loader, _ = build_dataloaders(_cfg(synthetic_h36m))
        loader.dataset.set_epoch(epoch)
        return [x for x, _ in loader]

    first, again, other = batches(0), batches(0), batches(1)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert first[0].shape == (4, 9, 17, 3)
    assert not all(torch.equal(a, b) for a, b in zip(first, other, strict=True))


def test_strided_clips_cover_every_frame_from_every_phase(synthetic_h36m: Path) -> None:
    streams = streams_with_source(load_streams(synthetic_h36m), "gt")
    train = clip_frames(streams, 5, stride=5, frame_stride=3)
    steps = np.diff(train, axis=1)
    assert (steps == 3).all()  # 5 inputs span 13 source frames
    # Every phase of every stream starts clips, so every frame that fits a clip is trained on.
    stream_of = np.searchsorted(streams.offsets, train[:, 0], side="right") - 1
    phases = (train[:, 0] - streams.offsets[stream_of]) % 3
    assert set(phases.tolist()) == {0, 1, 2}
    covered = np.zeros(int(streams.lengths.sum()), dtype=bool)
    covered[train.ravel()] = True
    for offset, length in zip(streams.offsets, streams.lengths, strict=False):
        # Phase p holds ceil((length - p) / 3) frames, n_p whole clips of 5: 15 n_p source frames.
        whole = min((-(-(int(length) - p) // 3) - 5) // 5 + 1 for p in range(3))
        assert whole > 0 and covered[offset : offset + 15 * whole].all()
    # Same number of clips per epoch as without striding (up to the dropped tails).
    plain = clip_frames(streams, 5, stride=5)
    assert abs(len(train) - len(plain)) <= 3 * streams.num_streams
    # Test clips (VideoPose3D's cover_all): every frame, each clip within one phase.
    test = clip_frames(streams, 5, cover_all=True, frame_stride=3)
    assert (np.diff(test, axis=1) == 3).all()
    assert np.array_equal(np.unique(test), np.arange(int(streams.lengths.sum())))
    # Stride 1 is exactly the consecutive split.
    np.testing.assert_array_equal(strided_clips(50, 9, 1, cover_all=True),
                                  split_test_clips(50, 9, cover_all=True))  # fmt: skip
    np.testing.assert_array_equal(strided_clips(50, 9, 1, stride=4), split_train_clips(50, 9, 4))
    assert strided_clips(2, 5, 3, cover_all=True).shape == (2, 5)  # phases of 1 frame, resampled


def test_image_space_targets_times_scale_are_the_2_5d_ground_truth(synthetic_h36m: Path) -> None:
    streams = load_streams(synthetic_h36m)
    streams = streams_with_source(streams.subset(["S9"]), "gt")
    clips = clip_frames(streams, 9, stride=4)
    dataset = PoseClipDataset(
        streams, clips, input_source="gt", target_space="image_2.5d", use_confidence=False
    )
    x, y = dataset[2]
    assert x.shape == (9, 17, 2)
    frames = clips[2]
    stream = int(np.searchsorted(streams.offsets, frames[0], side="right") - 1)
    scale = target_scale_mm(
        "image_2.5d", streams.image_size[stream, 0].repeat(9), streams.scale_2_5d[frames]
    )
    expected = to_root_relative(streams.ground_truth_2_5d(stream)[frames - streams.offsets[stream]])
    np.testing.assert_allclose(y.numpy() * scale[:, None, None], expected, atol=1e-3)


def test_configuration_errors_are_clear(synthetic_h36m: Path) -> None:
    with pytest.raises(ValueError, match="in_channels"):
        build_datasets(_cfg(synthetic_h36m, use_confidence=False))
    cfg = _cfg(synthetic_h36m)
    with pytest.raises(
        ValueError, match="2D source 'cpn' is not in the dataset; available: gt, sh"
    ):
        build_datasets(replace(cfg, data=replace(cfg.data, input_source="cpn")))


def test_stream_clips_for_both_ground_truths(synthetic_h36m: Path) -> None:
    streams = load_streams(synthetic_h36m)
    camera = stream_clips(
        streams, ground_truth="camera", clip_len=9, cover_all=True, subjects=["S9"]
    )
    image = stream_clips(
        streams, ground_truth="image_2.5d", clip_len=9, cover_all=False, input_source="sh",
        target_space="image_2.5d",
    )  # fmt: skip
    assert [s.key for s in camera] == sorted(k for k in streams.keys if k.startswith("S9/"))
    assert all(len(np.unique(s.clips)) == len(s.ground_truth) for s in camera)
    assert all(s.clips.size == len(s.ground_truth) // 9 * 9 for s in image)
    assert len(image) == 23 and image[0].inputs.shape[1:] == (17, 3)
    assert image[0].output_scale.shape == (len(image[0].ground_truth),)


def test_strided_test_clips_follow_the_videopose3d_protocol(synthetic_h36m: Path) -> None:
    """A frame-stride model (27 inputs every 3rd frame) is scored on every frame."""
    from ssrstf.evaluation.protocol import VIDEOPOSE3D, check_clips

    streams = load_streams(synthetic_h36m)
    strided = stream_clips(streams, ground_truth="camera", clip_len=9, cover_all=True,
                           subjects=["S9"], frame_stride=3)  # fmt: skip
    for s in strided:
        check_clips(VIDEOPOSE3D, s)  # raises unless every frame is in some clip
        assert (np.diff(s.clips, axis=1) == 3).all()
    empty = replace(strided[0], ground_truth=strided[0].ground_truth[:0],
                                clips=strided[0].clips[:0])  # fmt: skip
    with pytest.raises(ValueError, match=f"stream {empty.key!r} has no frames"):
        check_clips(VIDEOPOSE3D, empty)
