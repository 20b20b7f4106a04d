"""Pure clip logic: which frames of a stream form each training or test clip, and back.

A clip is an array of ``clip_len`` frame indices into one stream. Functions return ``(K, T)``
int64 index arrays, so clips of a video shorter than ``clip_len`` (resampled, frames repeated)
and regular windows are handled the same way. This makes MotionBERT's implicit ``split_id``
arrays explicit (``lib/utils/utils_data.split_clips``):

* windows ``[s, s + T)`` start every ``stride`` frames while they fit; the partial tail is
  dropped;
* a stream shorter than ``T`` gives one clip of its frames resampled to ``T`` (`resample_indices`);
* test windows may overlap (``overlap``: windows every ``T − overlap`` frames, the last flush
  with the end, `plan_windows`), their per-frame values then stitched with the triangular
  weights `window_weights` (`stitch_clips`): inference and the evaluation share this logic,
  except for a sequence shorter than ``T``: inference centres it in the clip between copies of
  its first and last frames (`centred_padding`, measured better than resampling and than
  padding at the end, docs/design.md "Inference"), the evaluation resamples it as MotionBERT
  does (no Human3.6M or MPI-INF-3DHP test stream is that short);
* with a frame stride ``s`` (``data.frame_stride``: T inputs spanning (T - 1) s + 1 frames) the
  stream splits into its ``s`` phases (frames p, p + s, ...), each clipped as above
  (`strided_clips`), so training and the full-protocol evaluation still see every frame.

Deviations from MotionBERT, both only for streams shorter than ``T``: resampling is
deterministic (MotionBERT randomly rounds each position up or down), and the last stream of a
split is resampled like every other one (MotionBERT's loop forgets it).
"""

from __future__ import annotations

import numpy as np


def resample_indices(num_frames: int, clip_len: int) -> np.ndarray:
    """``clip_len`` indices spread evenly over ``num_frames`` frames (floor of a linspace).

    For ``num_frames < clip_len`` every frame appears at least once, in order, some repeated.

    Returns:
        (clip_len,) int64 indices in ``[0, num_frames)``.
    """
    if num_frames < 1 or clip_len < 1:
        raise ValueError(f"need num_frames >= 1 and clip_len >= 1, got {num_frames}, {clip_len}")
    even = np.linspace(0, num_frames, num=clip_len, endpoint=False)
    return np.minimum(np.floor(even).astype(np.int64), num_frames - 1)


def centred_padding(num_frames: int, clip_len: int) -> tuple[np.ndarray, int]:
    """A sequence of ``num_frames`` < ``clip_len`` frames made one clip: its frames in the middle,
    the first frame repeated before them and the last after (edge padding on both sides).

    Returns:
        ``(indices, first)``: (clip_len,) int64 indices into the sequence, and the clip position
        of its frame 0 (its outputs are ``clip[first : first + num_frames]``).
    """
    if not 1 <= num_frames <= clip_len:
        raise ValueError(f"need 1 <= num_frames <= clip_len, got {num_frames}, {clip_len}")
    first = (clip_len - num_frames) // 2
    indices = np.clip(np.arange(clip_len, dtype=np.int64) - first, 0, num_frames - 1)
    return indices, first


def split_train_clips(num_frames: int, clip_len: int, stride: int) -> np.ndarray:
    """Training clips of one stream: windows every ``stride`` frames, tail dropped.

    Args:
        num_frames: Length of the stream.
        clip_len: Frames per clip T.
        stride: Frames between the starts of consecutive clips.

    Returns:
        (K, T) int64 frame indices; one resampled clip when ``num_frames < clip_len``; (0, T)
        for an empty stream.
    """
    if clip_len < 1 or stride < 1:
        raise ValueError(f"need clip_len >= 1 and stride >= 1, got {clip_len}, {stride}")
    if num_frames <= 0:
        return np.zeros((0, clip_len), dtype=np.int64)
    if num_frames < clip_len:
        return resample_indices(num_frames, clip_len)[None]
    starts = np.arange(0, num_frames - clip_len + 1, stride, dtype=np.int64)
    return starts[:, None] + np.arange(clip_len, dtype=np.int64)


def plan_windows(num_frames: int, window: int, stride: int) -> list[int]:
    """Start frames of the windows that cover ``[0, num_frames)``.

    Windows start every ``stride`` frames; the last one ends exactly at ``num_frames`` (so it may
    overlap its predecessor more). A sequence shorter than ``window`` gets one window at 0,
    to be padded.
    """
    if num_frames < 1:
        raise ValueError("cannot lift an empty sequence (0 frames)")
    if not 1 <= stride <= window:
        raise ValueError(f"stride must be in [1, {window}], got {stride}")
    if num_frames <= window:
        return [0]
    starts = list(range(0, num_frames - window + 1, stride))
    if starts[-1] != num_frames - window:
        starts.append(num_frames - window)
    return starts


def window_weights(window: int) -> np.ndarray:
    """Triangular stitching weights ``min(t + 1, T − t)`` of the frames of one window, (T,)."""
    t = np.arange(window)
    return np.minimum(t + 1, window - t).astype(np.float64)


def split_test_clips(
    num_frames: int, clip_len: int, *, cover_all: bool = False, overlap: int = 0
) -> np.ndarray:
    """Test clips of one stream: consecutive windows of ``clip_len`` frames.

    Args:
        num_frames: Length of the stream.
        clip_len: Frames per clip T.
        cover_all: Add one last window ending at the final frame, so every frame is in a clip
            (it overlaps the previous window). Without it the ``num_frames % T`` tail frames are
            in no clip, as in MotionBERT's test split.
        overlap: Frames shared by consecutive windows (``cover_all`` only): windows every
            ``T − overlap`` frames, the last flush with the end (`plan_windows`, as
            ``ssrstf infer`` cuts a sequence). 0: non-overlapping.

    Returns:
        (K, T) int64 frame indices; one resampled clip when ``num_frames < clip_len``.
    """
    if not 0 <= overlap < clip_len:
        raise ValueError(f"overlap must be in [0, {clip_len - 1}], got {overlap}")
    if overlap and not cover_all:
        raise ValueError("overlapping test clips need cover_all (a protocol scoring every frame)")
    if not cover_all or num_frames < clip_len:
        return split_train_clips(num_frames, clip_len, clip_len)
    starts = np.asarray(plan_windows(num_frames, clip_len, clip_len - overlap), dtype=np.int64)
    return starts[:, None] + np.arange(clip_len, dtype=np.int64)


def strided_clips(
    num_frames: int,
    clip_len: int,
    frame_stride: int,
    *,
    stride: int | None = None,
    cover_all: bool = False,
    overlap: int = 0,
) -> np.ndarray:
    """Clips of one stream sub-sampled by ``frame_stride``, from every phase of the sub-sampling.

    Phase p holds frames p, p + s, p + 2s, ... (s = ``frame_stride``); each phase is split like
    a stream of its own (`split_train_clips` every ``stride`` of its frames, or `split_test_clips`
    with ``cover_all`` and ``overlap`` when ``stride`` is None) and the clips of all phases are
    returned, phase 0 first, as frame indices of the whole stream. With s = 1 this is exactly
    `split_train_clips` / `split_test_clips`; with ``cover_all`` test clips cover every frame of
    the stream.

    Returns:
        (K, T) int64 frame indices into the stream.
    """
    out = []
    for phase in range(frame_stride):
        frames = subsample_frames(num_frames, frame_stride, phase)
        if len(frames) == 0:
            continue
        if stride is None:
            local = split_test_clips(len(frames), clip_len, cover_all=cover_all, overlap=overlap)
        else:
            local = split_train_clips(len(frames), clip_len, stride)
        out.append(frames[local])
    return np.concatenate(out) if out else np.zeros((0, clip_len), dtype=np.int64)


def stitch_clips(
    values: np.ndarray, clips: np.ndarray, num_frames: int, *, weights: np.ndarray | None = None
) -> np.ndarray:
    """Per-frame values from per-clip values, averaging frames that occur more than once.

    ``stitch_clips(x[split_test_clips(n, T, cover_all=True)], ..., n) == x`` for any ``x`` of
    length ``n``.

    Args:
        values: (K, T, ...) values of each clip frame.
        clips: (K, T) frame indices of the clips.
        num_frames: Length of the stream.
        weights: (T,) weight of each clip position (e.g. `window_weights`, the cross-fade of
            overlapping windows); None: a plain mean.

    Returns:
        (num_frames, ...) float64 (weighted) means; NaN for frames in no clip.
    """
    values = np.asarray(values, dtype=np.float64)
    clips = np.asarray(clips, dtype=np.int64)
    if values.shape[:2] != clips.shape:
        raise ValueError(f"values {values.shape} do not match clips {clips.shape}")
    per_position = np.ones(clips.shape[1]) if weights is None else np.asarray(weights, float)
    if per_position.shape != (clips.shape[1],) or not (per_position > 0).all():
        raise ValueError(f"weights must be {clips.shape[1]} positive values, got {per_position}")
    flat_idx = clips.reshape(-1)
    flat_weights = np.broadcast_to(per_position, clips.shape).reshape(-1)
    flat_values = values.reshape(flat_idx.size, -1) * flat_weights[:, None]
    sums = np.zeros((num_frames, flat_values.shape[1]))
    np.add.at(sums, flat_idx, flat_values)
    totals = np.bincount(flat_idx, weights=flat_weights, minlength=num_frames)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(totals > 0, sums / np.where(totals > 0, totals, 1.0), np.nan)
    return mean.reshape((num_frames, *values.shape[2:]))


def subsample_frames(num_frames: int, frame_stride: int, phase: int = 0) -> np.ndarray:
    """Indices ``p, p + s, p + 2s, ...`` of a stream sub-sampled by ``frame_stride`` = s from
    frame ``phase`` = p (0 <= p < s) before clipping."""
    if frame_stride < 1:
        raise ValueError(f"frame_stride must be >= 1, got {frame_stride}")
    if not 0 <= phase < frame_stride:
        raise ValueError(f"phase must be in [0, {frame_stride}), got {phase}")
    return np.arange(phase, max(num_frames, 0), frame_stride, dtype=np.int64)
