"""Torch datasets over clips of a prepared dataset, and the per-stream views used by evaluation.

`PoseClipDataset` returns ``(input (T, J, C) float32, target (T, J, 3) float32)`` per clip:

* input: one 2D source (``gt``, ``sh``, ``cpn``, ...) screen-normalised, with the confidence
  as third channel when ``use_confidence`` (C = 3, else C = 2);
* target, root-relative: ``"camera"`` = camera-frame metres (VideoPose3D style); ``"image_2.5d"`` =
  MotionBERT's 2.5D image space in normalised units (x, y screen-normalised, depth × 2 / w).
  `ssrstf.data.transforms.target_scale_mm` turns either into millimetres.

Random horizontal flips (p = 0.5, input and target together, `flip_poses`) draw from a
``np.random.Generator`` seeded by ``(seed, epoch, clip index)``: the same seed gives the same
samples whatever the worker count or shuffling. Detector-like inputs and virtual cameras
(`ssrstf.data.augment`, ``data.augment``) draw from their own generator seeded the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ssrstf.config import AugmentConfig, ExperimentConfig
from ssrstf.data.augment import augment_clip
from ssrstf.data.clips import strided_clips
from ssrstf.data.h36m import Streams, load_streams
from ssrstf.data.transforms import (
    camera_targets,
    flip_poses,
    image_targets,
    normalize_keypoints,
    target_scale_mm,
)
from ssrstf.skeleton import H36M_17, MPI_INF_3DHP_17, SKELETONS, Skeleton

logger = logging.getLogger(__name__)

TARGET_SPACES = ("camera", "image_2.5d")
"""Supported target spaces (``DataConfig.target_space``)."""

DATASET_JOINT_LAYOUTS: dict[str, str] = {"h36m": H36M_17.name, "mpi_inf_3dhp": MPI_INF_3DHP_17.name}
"""Joint layout of the prepared files of each ``DataConfig.dataset``."""


def check_joint_layout(streams: Streams, dataset: str, path: str = "the dataset") -> None:
    """Raise a ValueError naming ``path`` when its joint layout is not that of ``dataset``."""
    expected = DATASET_JOINT_LAYOUTS[dataset]
    if streams.joint_layout != expected:
        raise ValueError(
            f"{path} has joint layout {streams.joint_layout!r}, but data.dataset={dataset!r} "
            f"needs {expected!r} (prepare it with the matching `ssrstf data` command)"
        )


def streams_with_source(streams: Streams, source: str) -> Streams:
    """The streams that have 2D source ``source`` (others are dropped with a log message).

    Raises:
        ValueError: If the dataset does not store that source at all.
    """
    if source in streams.has_2d and source not in streams.poses_2d:
        raise ValueError(
            f"2D source {source!r} is stored but was not loaded: pass 'poses_2d_{source}' in "
            "load_streams(arrays=...)"
        )
    if source not in streams.poses_2d:
        available = ", ".join(sorted(streams.has_2d))
        raise ValueError(f"2D source {source!r} is not in the dataset; available: {available}")
    has = streams.has_2d[source]
    if not has.all():
        dropped = [k for k, ok in zip(streams.keys, has, strict=True) if not ok]
        shown = ", ".join(dropped[:5]) + (" ..." if len(dropped) > 5 else "")
        logger.info(
            "%d streams lack 2D source %r and are left out: %s", len(dropped), source, shown
        )
        return streams.select(np.flatnonzero(has))
    return streams


def clip_frames(
    streams: Streams,
    clip_len: int,
    *,
    stride: int | None = None,
    cover_all: bool = False,
    frame_stride: int = 1,
) -> np.ndarray:
    """Clips of every stream as global frame indices into the concatenated arrays.

    Args:
        streams: The streams.
        clip_len: Frames per clip T.
        stride: Training clips every ``stride`` (sub-sampled) frames; None gives test clips
            (non-overlapping, `split_test_clips`).
        cover_all: For test clips, add a last clip so every frame is covered.
        frame_stride: Temporal sub-sampling of each stream before clipping (a clip of T inputs
            then spans (T - 1) * frame_stride + 1 source frames); clips come from every phase
            of the sub-sampling (`strided_clips`), so no frame is left out.

    Returns:
        (K, T) int64 global frame indices, streams in order (phases in order within a stream).
    """
    out = []
    for i in range(streams.num_streams):
        local = strided_clips(
            int(streams.lengths[i]), clip_len, frame_stride, stride=stride, cover_all=cover_all
        )
        out.append(local + streams.offsets[i])
    return np.concatenate(out) if out else np.zeros((0, clip_len), dtype=np.int64)


class PoseClipDataset(Dataset):
    """Clips of one 2D source and one target space (see the module docstring).

    Args:
        streams: The streams (all must have ``input_source``; see `streams_with_source`).
        clips: (K, T) global frame indices (`clip_frames`).
        input_source: Name of the 2D source.
        target_space: ``"camera"`` or ``"image_2.5d"``.
        use_confidence: Include the confidence channel in the input.
        flip: Random horizontal flip with p = 0.5.
        seed: Seed of the flip generator.
        skeleton: Joint layout (flip pairs, root).
        augment: Detector-like inputs and virtual cameras (`ssrstf.data.augment`); None or a
            disabled config for none. Its ``detector_source`` must be loaded when it is used.
    """

    def __init__(
        self,
        streams: Streams,
        clips: np.ndarray,
        *,
        input_source: str,
        target_space: str = "camera",
        use_confidence: bool = True,
        flip: bool = False,
        seed: int = 0,
        skeleton: Skeleton = H36M_17,
        augment: AugmentConfig | None = None,
    ) -> None:
        if input_source not in streams.poses_2d:
            raise ValueError(f"2D source {input_source!r} is not loaded")
        if target_space not in TARGET_SPACES:
            raise ValueError(f"unknown target space {target_space!r}; valid: {TARGET_SPACES}")
        source_3d = streams.poses_3d if target_space == "camera" else streams.poses_3d_image
        if source_3d is None:
            need = "poses_3d" if target_space == "camera" else "poses_3d_image"
            raise ValueError(f"target space {target_space!r} needs {need}, absent in the dataset")
        self.streams = streams
        self.clips = np.asarray(clips, dtype=np.int64)
        self.input_source = input_source
        self.target_space = target_space
        self.use_confidence = use_confidence
        self.flip = flip
        self.seed = seed
        self.skeleton = skeleton
        self.epoch = 0
        self.augment = augment if augment is not None and augment.enabled else None
        if self.augment is not None:
            self._check_augment(self.augment)
        self._frame_stream = streams.frame_streams()
        self._frame_size = streams.image_size[self._frame_stream]

    def __len__(self) -> int:
        return len(self.clips)

    def set_epoch(self, epoch: int) -> None:
        """Choose the flip draws of this epoch (call once per epoch before iterating)."""
        self.epoch = epoch

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self._clips(np.asarray([index], dtype=np.int64))
        return torch.from_numpy(x[0]), torch.from_numpy(y[0])

    def __getitems__(self, indices: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """A batch of samples at once (the `DataLoader` calls this instead of ``__getitem__``).

        Identical samples to ``[self[i] for i in indices]``, with the normalisation and flips
        vectorised over the batch: single-frame training (batches of 1,024 one-frame clips) was
        bound by per-item overhead.
        """
        x, y = self._clips(np.asarray(indices, dtype=np.int64))
        xs, ys = torch.from_numpy(x), torch.from_numpy(y)
        return list(zip(xs, ys, strict=True))

    def flipped(self, indices: np.ndarray) -> np.ndarray:
        """(B,) bool: which of these clips this epoch's augmentation mirrors (p = 0.5 each)."""
        if not self.flip:
            return np.zeros(len(indices), dtype=bool)
        draws = [np.random.default_rng((self.seed, self.epoch, int(i))).random() for i in indices]
        return np.asarray(draws) < 0.5

    def _check_augment(self, augment: AugmentConfig) -> None:
        if augment.detector_fraction > 0 and augment.detector_source not in self.streams.poses_2d:
            raise ValueError(
                f"data.augment.detector_source {augment.detector_source!r} is not loaded"
            )
        if augment.virtual_camera_fraction > 0:
            if self.target_space != "camera":
                raise ValueError("virtual cameras need camera-space targets")
            if self.streams.intrinsics is None or self.streams.up is None:
                raise ValueError(
                    "virtual cameras need stream_intrinsics and stream_up in the prepared file "
                    "(prepare it again with `ssrstf data prepare-h36m`)"
                )

    def augmented(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Pixel inputs (B, T, J, 3), camera-frame 3D (B, T, J, 3) mm and the kind of each clip
        after `ssrstf.data.augment.augment_clip` (this epoch's draws)."""
        assert self.augment is not None
        frames = self.clips[indices]
        pixels = self.streams.poses_2d[self.input_source][frames].astype(np.float64)
        points = (
            np.zeros(pixels.shape)
            if self.streams.poses_3d is None
            else self.streams.poses_3d[frames].astype(np.float64)
        )
        source = self.augment.detector_source
        detector = self.streams.poses_2d.get(source) if self.augment.detector_fraction else None
        kinds = []
        for b, (index, clip) in enumerate(zip(indices, frames, strict=True)):
            stream = int(self._frame_stream[clip[0]])
            rng = np.random.default_rng((self.seed, self.epoch, int(index), 1))
            has_detector = detector is not None and bool(self.streams.has_2d[source][stream])
            pixels[b], points[b], kind = augment_clip(
                pixels[b],
                points[b],
                detector_pixels=detector[clip] if has_detector else None,
                intrinsics=None
                if self.streams.intrinsics is None
                else self.streams.intrinsics[stream],
                up=None if self.streams.up is None else self.streams.up[stream],
                rng=rng,
                cfg=self.augment,
                skeleton=self.skeleton,
            )
            kinds.append(kind)
        return pixels, points, kinds

    def _clips(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(B, T, J, C) inputs and (B, T, J, 3) targets of the clips ``indices``."""
        frames = self.clips[indices]
        width, height = self._frame_size[frames, 0], self._frame_size[frames, 1]
        if self.augment is not None:
            pixels, points, _ = self.augmented(indices)
        else:
            pixels = self.streams.poses_2d[self.input_source][frames]
            points = None if self.streams.poses_3d is None else self.streams.poses_3d[frames]
        x = normalize_keypoints(pixels, width, height, use_confidence=self.use_confidence)
        if self.target_space == "camera":
            y = camera_targets(points, self.skeleton)
        else:
            y = image_targets(self.streams.poses_3d_image[frames], width, height, self.skeleton)
        flip = self.flipped(indices)
        if flip.any():
            x[flip] = flip_poses(x[flip], self.skeleton)
            y[flip] = flip_poses(y[flip], self.skeleton)
        return x, y


def _required_arrays(source: str, target_space: str, augment: AugmentConfig) -> list[str]:
    arrays = [f"poses_2d_{source}", "poses_3d" if target_space == "camera" else "poses_3d_image"]
    if augment.detector_fraction > 0:
        arrays.append(f"poses_2d_{augment.detector_source}")
    return arrays


def build_datasets(
    cfg: ExperimentConfig, streams: Streams | None = None
) -> tuple[PoseClipDataset, PoseClipDataset]:
    """Training and test clip datasets of an experiment config.

    Train: ``cfg.data.train_subjects``, windows of ``cfg.model.num_frames`` every
    ``cfg.data.train_stride`` frames (``num_frames // 3`` when 0) at the frame stride
    ``cfg.data.frame_stride`` (or at each of ``cfg.data.train_frame_strides``), flips when
    ``cfg.data.flip_augment``. Test: ``cfg.data.test_subjects``, non-overlapping clips covering
    every frame, no flips.

    Args:
        cfg: The experiment config.
        streams: Already loaded streams (default: read ``cfg.data.path``).

    Raises:
        ValueError: If ``model.in_channels`` disagrees with ``data.use_confidence`` or the
            dataset lacks the configured source or target arrays.
    """
    data = cfg.data
    if cfg.model.in_channels != (3 if data.use_confidence else 2):
        raise ValueError(
            f"model.in_channels={cfg.model.in_channels} but data.use_confidence="
            f"{data.use_confidence} gives {3 if data.use_confidence else 2} input channels"
        )
    if streams is None:
        streams = load_streams(
            data.path,
            subjects=(*data.train_subjects, *data.test_subjects),
            arrays=_required_arrays(data.input_source, data.target_space, data.augment),
        )
    check_joint_layout(streams, data.dataset, data.path)
    if streams.joint_layout != cfg.model.skeleton:
        raise ValueError(
            f"model.skeleton={cfg.model.skeleton!r} differs from the joint layout "
            f"{streams.joint_layout!r} of {data.path}; training needs the same layout"
        )
    skeleton = SKELETONS[cfg.model.skeleton]
    streams = streams_with_source(streams, data.input_source)
    clip_len = cfg.model.num_frames
    stride = data.train_stride or max(1, clip_len // 3)
    common = {
        "input_source": data.input_source,
        "target_space": data.target_space,
        "use_confidence": data.use_confidence,
        "skeleton": skeleton,
    }
    train = streams.subset(data.train_subjects)
    test = streams.subset(data.test_subjects)
    train_clips = np.concatenate(
        [
            clip_frames(train, clip_len, stride=stride, frame_stride=s)
            for s in data.train_frame_strides or (data.frame_stride,)
        ]
    )
    test_clips = clip_frames(test, clip_len, cover_all=True, frame_stride=data.frame_stride)
    return (
        PoseClipDataset(
            train,
            train_clips,
            flip=data.flip_augment,
            seed=cfg.seed,
            augment=data.augment,
            **common,
        ),
        PoseClipDataset(test, test_clips, **common),
    )


def build_dataloaders(
    cfg: ExperimentConfig, streams: Streams | None = None
) -> tuple[DataLoader, DataLoader]:
    """Training and test loaders (`build_datasets`), shuffling from a seeded generator.

    Call ``loader.dataset.set_epoch(epoch)`` on the training loader each epoch to vary flips.
    """
    train, test = build_datasets(cfg, streams)
    generator = torch.Generator().manual_seed(cfg.seed)
    workers = cfg.data.num_workers
    train_loader = DataLoader(
        train,
        batch_size=cfg.train.batch_size,
        shuffle=True,
        generator=generator,
        num_workers=workers,
        persistent_workers=False,
    )
    test_loader = DataLoader(test, batch_size=cfg.eval.batch_size, num_workers=workers)
    return train_loader, test_loader


@dataclass(frozen=True, eq=False)
class StreamClips:
    """One test stream as the evaluation protocol sees it (`ssrstf.evaluation.protocol`).

    Attributes:
        key: ``"S9/Walking 1/54138969"``.
        subject: ``"S9"``.
        action: ``"Walking 1"``.
        sequence_id: Human3.6M sequence id or ``""``.
        ground_truth: (F, J, 3) float64 ground truth in mm, absolute (camera frame or 2.5D).
        clips: (K, T) int64 frame indices of the evaluated clips.
        inputs: (F, J, C) float32 model inputs, or None when only predictions are scored.
        output_scale: (F,) float64 factor from model outputs to mm, or None.
        valid: (F,) bool, the frames evaluation may score, or None for all (MPI-INF-3DHP).
        action_label: The source's own action label (`Streams.action_label`) or ``""``.
        origin: The command that made the dataset (`Streams.origin`), for result labels.
        windows: (K', T) int64 frame indices of overlapping windows whose stitched predictions
            score the frames of ``clips`` (``stream_clips(..., overlap=)``), or None.
    """

    key: str
    subject: str
    action: str
    sequence_id: str
    ground_truth: np.ndarray
    clips: np.ndarray
    inputs: np.ndarray | None = None
    output_scale: np.ndarray | None = None
    valid: np.ndarray | None = None
    action_label: str = ""
    origin: str = ""
    windows: np.ndarray | None = None


def stream_clips(
    streams: Streams,
    *,
    ground_truth: str,
    clip_len: int,
    cover_all: bool,
    subjects: Collection[str] | None = None,
    input_source: str | None = None,
    target_space: str = "camera",
    use_confidence: bool = True,
    frame_stride: int = 1,
    overlap: int = 0,
) -> list[StreamClips]:
    """Per-stream evaluation views of a dataset.

    Args:
        streams: The prepared dataset.
        ground_truth: ``"camera"`` (``poses_3d``) or ``"image_2.5d"`` (2.5D ground truth, mm).
        clip_len: Test clip length T.
        cover_all: Clips cover every frame (VideoPose3D protocol) or drop the tails (MotionBERT).
        subjects: Keep only these subjects.
        input_source: Also attach normalised model inputs of this 2D source (streams without
            it are left out, with a log message).
        target_space: Space of the model outputs (for ``output_scale``).
        use_confidence: Confidence channel in the inputs.
        frame_stride: The model's input stride (``data.frame_stride``): clips of every
            ``frame_stride``-th frame, from every phase (`strided_clips`).
        overlap: With ``cover_all``: also ``windows`` overlapping by this many frames
            (`split_test_clips`), for an evaluation that stitches their predictions.

    Returns:
        One `StreamClips` per stream, sorted by key.

    Raises:
        ValueError: If the dataset lacks the ground-truth arrays.
    """
    if subjects is not None:
        streams = streams.subset(subjects)
    if input_source is not None:
        streams = streams_with_source(streams, input_source)
    if ground_truth == "camera" and streams.poses_3d is None:
        raise ValueError("this dataset has no camera-frame 3D poses (poses_3d)")
    out = []
    for i, key in enumerate(streams.keys):
        frames = streams.frames(i)
        width, height = streams.image_size[i]
        if ground_truth == "camera":
            gt = streams.poses_3d[frames].astype(np.float64)
        elif ground_truth == "image_2.5d":
            gt = streams.ground_truth_2_5d(i)
        else:
            raise ValueError(f"unknown ground truth {ground_truth!r}; valid: {TARGET_SPACES}")
        inputs = scale = None
        if input_source is not None:
            inputs = normalize_keypoints(
                streams.poses_2d[input_source][frames], width, height, use_confidence=use_confidence
            )
            lam = None if streams.scale_2_5d is None else streams.scale_2_5d[frames]
            scale = target_scale_mm(target_space, np.full(len(gt), width), lam)
        out.append(
            StreamClips(
                key=key,
                subject=str(streams.subject[i]),
                action=str(streams.action[i]),
                sequence_id=str(streams.sequence_id[i]),
                ground_truth=gt,
                clips=strided_clips(len(gt), clip_len, frame_stride, cover_all=cover_all),
                inputs=inputs,
                output_scale=scale,
                valid=None if streams.valid is None else streams.valid[frames],
                action_label=str(streams.action_label[i]),
                origin=streams.origin,
                windows=None
                if not overlap
                else strided_clips(
                    len(gt), clip_len, frame_stride, cover_all=cover_all, overlap=overlap
                ),
            )
        )
    return sorted(out, key=lambda s: s.key)
