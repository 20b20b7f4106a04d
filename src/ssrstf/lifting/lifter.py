"""Lift a 2D keypoint sequence of any length to 3D with a trained checkpoint.

The model sees clips of ``T = model.num_frames`` frames. A sequence is cut into windows of ``T``
frames every ``stride = T − overlap`` frames (the last window flush with the end), lifted in
batches, and stitched: each frame's pose is the weighted mean of the windows covering it, with a
triangular weight ``min(t + 1, T − t)`` at position ``t`` of a window, so overlapping windows
cross-fade instead of jumping at window borders. A sequence shorter than ``T`` is centred in
one clip between copies of its first and last frames (`centred_padding`) and cropped back.
Memory is bounded by the batch of windows; the (F, J, 3) result arrays are the only per-frame
storage.

Inputs go through the same normalisation as training (`ssrstf.data.transforms.normalize_keypoints`)
and outputs through the same unit conversion (`target_scale_mm`): poses in millimetres,
root-relative, camera axes (x right, y down, z forward), H36M-17 joint order.

Confidence channel: a checkpoint trained on clean ground-truth 2D only ever saw confidence 1
(`DataConfig.constant_confidence`), so its input confidences are set to 1 (detector scores would
be out of distribution); a checkpoint trained on detections or on detector-like degraded inputs
(`ssrstf.data.augment`) gets the detector's confidences, 0 for filled joints.

Frame rate: a model sees its T inputs at the frame rate it was trained at. `auto_frame_stride`
picks the frame stride that brings an input's rate closest to that of a Human3.6M model
(`TRAINING_FPS`), and ``Lifter.lift(..., frame_stride=s)`` runs the model on every s-th frame
(each phase p, p + s, ... lifted on its own and interleaved back: every frame gets a pose).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from tqdm.auto import tqdm

from ssrstf.checkpoint import load_model
from ssrstf.data.clips import centred_padding, plan_windows, window_weights
from ssrstf.data.transforms import normalize_keypoints, target_scale_mm
from ssrstf.geometry import to_root_relative
from ssrstf.lifting.backends import check_backend, load_onnx, make_backend_predictor
from ssrstf.skeleton import SKELETONS, Skeleton

if TYPE_CHECKING:
    from ssrstf.config import ExperimentConfig

DEFAULT_OVERLAP_FRACTION = 6
"""The default overlap is ``T // 6`` frames: 1.17 windows per frame instead of T/3's 1.5; with
the packaged model it keeps most of what stitching buys on Human3.6M (0.20 / 0.60 mm of T/3's
0.36 / 0.93 on GT / SH 2D) and of the border jitter it removes (docs/design.md, "Inference",
has the measurements)."""


TRAINING_FPS = 50.0
"""Frame rate of Human3.6M's videos: the rate at which a ``data.dataset: h36m`` model (the
packaged default among them) saw consecutive frames in training, at ``data.frame_stride`` 1."""


def check_frame_stride(frame_stride: int) -> int:
    """``frame_stride`` as an int >= 1, else a ValueError that names it."""
    if isinstance(frame_stride, bool) or not float(frame_stride).is_integer() or frame_stride < 1:
        raise ValueError(f"frame_stride must be >= 1 (a whole number), got {frame_stride!r}")
    return int(frame_stride)


def auto_frame_stride(fps: float | None, cfg: ExperimentConfig) -> int:
    """The frame stride to lift an input of ``fps`` frames per second with a model of ``cfg``
    (a `Lifter`'s ``cfg``): the one that brings the input's rate closest to the training rate.

    For a Human3.6M model (``data.dataset: h36m``) run on consecutive frames
    (``data.frame_stride`` 1): ``max(1, floor(fps / TRAINING_FPS + 0.5))``, i.e. fps / 50
    rounded half up (not Python's ``round``, which rounds 2.5 to 2): stride 1 below 75 fps,
    2 from 75 fps, 3 from 125, 4 from 175, 5 from 225 (s from 50 (s - 0.5) fps). Measured on
    Human3.6M test streams resampled in time (GT 2D, the packaged model): at 100 fps every
    frame gives P1 36.16 mm, every 2nd frame 34.79 (the 50 fps figure); at 120 fps 36.52 vs
    35.15; at 30 fps every frame is right (34.04).

    Otherwise the model's own stride (``cfg.data.frame_stride``: its training stride, or the
    `Lifter`'s ``frame_stride``): for an unknown, non-finite or non-positive ``fps``; for a
    model that already takes every s-th frame; and for other datasets: MPI-INF-3DHP's
    sequences were recorded at 25 or 50 fps (`ssrstf.data.mpi_inf_3dhp`), so such a model
    has no one training rate to match.
    """
    own = cfg.data.frame_stride
    if cfg.data.dataset != "h36m" or own != 1 or fps is None:
        return own
    fps = float(fps)
    if not math.isfinite(fps) or fps <= 0:
        return own
    return max(1, math.floor(fps / TRAINING_FPS + 0.5))


def _batches(starts: list[int], batch_size: int) -> Iterator[list[int]]:
    for i in range(0, len(starts), batch_size):
        yield starts[i : i + batch_size]


class Lifter:
    """A loaded checkpoint that lifts (F, J, 2|3) pixel keypoints to (F, J, 3) mm.

    Args:
        checkpoint: ``"default"`` (the packaged model), a training checkpoint (``.pt``),
            exported weights (``.safetensors``) or an exported ONNX graph (``.onnx``, which runs
            on ONNX Runtime).
        device: ``"cpu"``, ``"cuda"``, ...
        flip: Flip test-time augmentation (on by default, as in evaluation).
        overlap: Frames shared by consecutive windows; default `DEFAULT_OVERLAP_FRACTION` of T
            (``T // 6``, 4 of 27 frames). 0 = disjoint windows (fastest; poses may jump at
            window borders).
        batch_size: Windows per forward pass.
        num_threads: torch CPU threads (0: leave torch's setting alone).
        backend: ``"torch"`` or ``"onnxruntime"`` (extra ``onnx``; the model is exported to
            ONNX in memory first); None: torch, or onnxruntime for an ``.onnx`` file.
        frame_stride: Run the model on every s-th frame instead of its training stride
            (``data.frame_stride``); a model trained at several strides
            (``data.train_frame_strides``) runs at each of them. None: the training stride.
    """

    def __init__(
        self,
        checkpoint: str | Path = "default",
        *,
        device: str = "cpu",
        flip: bool = True,
        overlap: int | None = None,
        batch_size: int = 64,
        num_threads: int = 0,
        backend: str | None = None,
        frame_stride: int | None = None,
    ) -> None:
        if num_threads:
            torch.set_num_threads(num_threads)
        is_onnx = Path(str(checkpoint)).suffix == ".onnx"
        self.backend = check_backend(backend or ("onnxruntime" if is_onnx else "torch"))
        self.model = None  # no torch model behind an .onnx file
        if is_onnx:
            if self.backend != "onnxruntime":
                raise ValueError(f"{checkpoint}: an .onnx model runs on the onnxruntime backend")
            self._predict, self.cfg = load_onnx(checkpoint, flip_test=flip, device=device)
        else:
            self.model, self.cfg = load_model(checkpoint, device=device)  # ExperimentConfig
        if self.cfg.data.target_space != "camera":
            raise ValueError(
                f"{checkpoint}: this model predicts {self.cfg.data.target_space!r} targets, which "
                "need a per-frame depth scale to become mm; inference needs a camera-space model"
            )
        if frame_stride is not None:
            frame_stride = check_frame_stride(frame_stride)
            self.cfg = replace(self.cfg, data=replace(self.cfg.data, frame_stride=frame_stride))
        self.checkpoint = str(checkpoint)
        self.num_frames = self.cfg.model.num_frames
        self.overlap = self.num_frames // DEFAULT_OVERLAP_FRACTION if overlap is None else overlap
        if not 0 <= self.overlap < self.num_frames:
            raise ValueError(f"overlap must be in [0, {self.num_frames - 1}], got {self.overlap}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = batch_size
        self.flip = flip
        self.skeleton: Skeleton = SKELETONS[self.cfg.model.skeleton]
        if self.model is not None:
            self._predict = make_backend_predictor(
                self.model, self.cfg, backend=self.backend, flip_test=flip, device=device
            )

    def predict(self, clips: np.ndarray) -> np.ndarray:
        """Model outputs (B, T, J, 3) (model units) of normalised clips (B, T, J, C_in).

        With flip TTA when ``flip``, on the configured backend; for callers that window the
        input themselves (`ssrstf.lifting.streaming.StreamingLifter`).
        """
        return self._predict(clips)

    @property
    def constant_confidence(self) -> bool:
        """True when the model only saw confidence 1 in training (`DataConfig.constant_confidence`:
        clean ground-truth 2D); its input confidences are then set to 1."""
        return self.cfg.data.constant_confidence

    def model_inputs(self, keypoints: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
        """Checked pixel keypoints (F, J, 2|3) → normalised model inputs (F, J, C_in) float32."""
        keypoints = np.asarray(keypoints, dtype=np.float64)
        joints = self.skeleton.num_joints
        if keypoints.ndim != 3 or keypoints.shape[1] != joints or keypoints.shape[2] not in (2, 3):
            raise ValueError(
                f"keypoints must have shape (frames, {joints}, 2 or 3) in {self.skeleton.name} "
                f"order, got {keypoints.shape}"
            )
        if not np.isfinite(keypoints).all():
            raise ValueError("keypoints contain NaN or inf; fill missing joints first")
        width, height = image_size
        if width <= 0 or height <= 0:
            raise ValueError(f"image size must be positive, got {width}x{height}")
        confidence = np.ones(keypoints.shape[:2] + (1,))
        if keypoints.shape[2] == 3 and not self.constant_confidence:
            # Detector scores or COCO visibility flags (2 = visible) can exceed 1; the models
            # were trained on confidences in [0, 1].
            confidence = np.clip(keypoints[..., 2:3], 0.0, 1.0)
        pixels = np.concatenate([keypoints[..., :2], confidence], axis=-1)
        return normalize_keypoints(
            pixels, width, height, use_confidence=self.cfg.data.use_confidence
        )

    def lift(
        self,
        keypoints: np.ndarray,
        image_size: tuple[int, int],
        *,
        progress: bool = False,
        frame_stride: int | None = None,
    ) -> np.ndarray:
        """Lift pixel keypoints (F, J, 2|3) to root-relative camera-axes poses (F, J, 3) in mm.

        Args:
            keypoints: x, y in pixels (and optionally a confidence), in the model's joint order
                (H36M-17 for the packaged model); every value finite.
            image_size: (width, height) of the images the keypoints were detected in.
            progress: Show a progress bar over the batches of windows.
            frame_stride: Run the model on every s-th frame for this call (see `lift_inputs`;
                `auto_frame_stride` picks one from a frame rate); None: the lifter's own
                ``frame_stride``.
        """
        inputs = self.model_inputs(keypoints, image_size)
        return self.lift_inputs(inputs, progress=progress, frame_stride=frame_stride)

    @property
    def frame_stride(self) -> int:
        """Frames between the model's consecutive inputs: ``data.frame_stride`` of training, or
        the ``frame_stride`` given (a model trained at several strides runs at each of them)."""
        return self.cfg.data.frame_stride

    def lift_inputs(
        self, inputs: np.ndarray, *, progress: bool = False, frame_stride: int | None = None
    ) -> np.ndarray:
        """`lift` of inputs already normalised (`model_inputs`): (F, J, C_in) → (F, J, 3) mm.

        A model trained on every s-th frame (``data.frame_stride`` = s, e.g. 27 inputs spanning
        81 frames) lifts each phase of the sequence (frames p, p + s, ...) on its own, as in
        training and evaluation, and the phases are interleaved back. ``frame_stride``: s for
        this call (>= 1; e.g. 2 for a 100 fps input to a model trained at 50 fps); None: the
        lifter's own (`frame_stride`).
        """
        stride = self.frame_stride if frame_stride is None else check_frame_stride(frame_stride)
        if stride == 1 or len(inputs) == 0:
            return self._lift_consecutive(inputs, progress=progress)
        poses = np.zeros(inputs.shape[:2] + (3,))
        for phase in range(min(stride, len(inputs))):
            poses[phase::stride] = self._lift_consecutive(inputs[phase::stride], progress=progress)
        return poses

    def _lift_consecutive(self, inputs: np.ndarray, *, progress: bool) -> np.ndarray:
        num_frames, window = len(inputs), self.num_frames
        first = 0
        if num_frames < window:  # centred between copies of its end frames; cropped below
            indices, first = centred_padding(num_frames, window)
            inputs = inputs[indices]
        starts = plan_windows(len(inputs), window, window - self.overlap)
        weights = window_weights(window)
        total = np.zeros((len(inputs),) + inputs.shape[1:2] + (3,))
        weight_sum = np.zeros(len(inputs))
        batches = _batches(starts, self.batch_size)
        bar = tqdm(
            batches,
            total=-(-len(starts) // self.batch_size),
            desc="lifting",
            unit="batch",
            disable=not progress,
        )
        for batch in bar:
            clips = np.stack([inputs[s : s + window] for s in batch])
            predicted = self._predict(clips).astype(np.float64)
            for start, pose in zip(batch, predicted, strict=True):
                total[start : start + window] += weights[:, None, None] * pose
                weight_sum[start : start + window] += weights
        kept = slice(first, first + num_frames)
        poses = total[kept] / weight_sum[kept, None, None]
        scale = target_scale_mm("camera", np.ones(num_frames))[:, None, None]
        return to_root_relative(poses * scale, self.skeleton.root)
