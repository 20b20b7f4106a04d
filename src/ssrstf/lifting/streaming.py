"""Live streams: 2D keypoints arrive one frame at a time, 3D poses leave with a bounded delay.

`StreamingLifter` keeps the last ``T`` input frames (``T`` = the model's clip length). Every
`StreamingLifter.push` lifts one window, the last ``T`` frames (at the start of a stream, the
first frame repeated in front of them), and adds its prediction to the poses of the newest
``lookahead + 1`` frames with the triangular weight of their window position (as offline
stitching does, `ssrstf.data.clips.window_weights`). The pose of a frame is returned once
``lookahead`` later frames have arrived: it is then the weighted mean of the ``lookahead + 1``
windows that ended at it and after it. ``lookahead = 0`` answers at once, from the window's last
position (no future context); ``lookahead = T // 2`` puts the frame in the middle of its last
window, as close to offline lifting as a stream gets (docs/results.md has the P1 cost of each
look-ahead on Human3.6M and the latency). `StreamingLifter.flush` returns the poses still
waiting when a stream ends.

Cost: one window (two with flip TTA) per frame, i.e. ``T`` times the work per frame of offline
lifting with disjoint windows — the price of answering every frame with a bounded delay.

Missing joints (NaN coordinates, or confidence 0 / NaN) keep their last seen position with
confidence 0; a joint not yet seen starts at the mean of the frame's visible joints. A frame
without any visible joint repeats the previous frame (and is an error as the first frame).

Streams for ``ssrstf infer --stream``: their sources are `ssrstf.keypoints.streams`
(``-`` reads JSON lines of 2D keypoints from standard input, a video file is played at its frame
rate through the detector, a camera index is read with OpenCV), and `ssrstf.pipeline.stream`
runs one to JSON lines of 3D poses.
"""

from __future__ import annotations

import time
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np

from ssrstf.data.clips import window_weights
from ssrstf.data.transforms import target_scale_mm
from ssrstf.geometry import to_root_relative
from ssrstf.lifting.lifter import Lifter


class StreamingLifter:
    """Lift a live stream of 2D keypoints frame by frame.

    Args:
        checkpoint: As for `ssrstf.lifting.lifter.Lifter` (``"default"``, a path, ``.onnx``).
        image_size: (width, height) of the images the keypoints come from.
        lookahead: Frames of delay, 0 to ``T // 2``: the pose of frame ``i`` is returned by the
            push of frame ``i + lookahead``. None: ``T // 2`` (the most accurate).
        flip: Flip test-time augmentation.
        device: ``"cpu"``, ``"cuda"``, ...
        backend: ``"torch"`` or ``"onnxruntime"`` (None: as `Lifter`).
        num_threads: torch CPU threads (0: leave torch's setting alone).

    Example::

        stream = StreamingLifter("default", image_size=(1920, 1080), lookahead=4)
        for keypoints in frames:  # (17, 2|3) pixels, H36M-17 order
            pose = stream.push(keypoints)  # (17, 3) mm, or None while the look-ahead fills
        last_poses = stream.flush()
    """

    def __init__(
        self,
        checkpoint: str | Path = "default",
        image_size: tuple[int, int] | None = None,
        *,
        lookahead: int | None = None,
        flip: bool = True,
        device: str = "cpu",
        backend: str | None = None,
        num_threads: int = 0,
    ) -> None:
        if image_size is None:  # no silent guess: the inputs are normalised by the width
            raise ValueError("StreamingLifter needs image_size=(width, height) of the images")
        self.lifter = Lifter(
            checkpoint, device=device, flip=flip, backend=backend, num_threads=num_threads
        )
        if self.lifter.frame_stride != 1:
            raise ValueError(
                f"{checkpoint}: this model takes one frame in {self.lifter.frame_stride} "
                f"(data.frame_stride: {self.lifter.frame_stride}); live streaming supports "
                "consecutive-frame models only: lift the recorded sequence with ssrstf infer "
                "or ssrstf.lift instead"
            )
        window = self.lifter.num_frames
        self.lookahead = window // 2 if lookahead is None else lookahead
        if not 0 <= self.lookahead <= window // 2:
            raise ValueError(f"lookahead must be in [0, {window // 2}], got {self.lookahead}")
        width, height = image_size
        if width <= 0 or height <= 0:
            raise ValueError(f"image size must be positive, got {width}x{height}")
        self.image_size = (int(width), int(height))
        self._weights = window_weights(window)
        self._scale_mm = float(target_scale_mm("camera", np.ones(1))[0])
        self.reset()

    @property
    def window(self) -> int:
        """The model's clip length T: the most input frames the stream ever holds."""
        return self.lifter.num_frames

    @property
    def buffered(self) -> int:
        """Input frames held now (at most `window`)."""
        return len(self._inputs)

    @property
    def pending(self) -> int:
        """Frames pushed whose pose has not been returned yet (at most ``lookahead``)."""
        return len(self._pending)

    def reset(self) -> None:
        """Forget the stream (a new one starts with the next push)."""
        self._inputs: deque[np.ndarray] = deque(maxlen=self.window)
        self._pending: deque[list[Any]] = deque()  # [weighted pose sum (J, 3), weight sum]
        self._last: np.ndarray | None = None  # last filled (J, 3) pixel frame
        self.frames_in = 0
        self.last_latency_s = 0.0

    def push(self, keypoints: np.ndarray) -> np.ndarray | None:
        """Add one frame of 2D keypoints; return the pose that became final, if any.

        Args:
            keypoints: (J, 2|3) pixels (and confidence) in the model's joint order (H36M-17
                for the packaged model); NaN or confidence 0 marks a missing joint.

        Returns:
            (J, 3) mm, root-relative, camera axes, the pose of the frame ``lookahead`` frames
            before this one; None for the first ``lookahead`` frames.
        """
        start = time.perf_counter()
        pixels = self._fill(np.asarray(keypoints, dtype=np.float64))
        self._inputs.append(self.lifter.model_inputs(pixels[None], self.image_size)[0])
        self.frames_in += 1
        frames = list(self._inputs)
        window = np.stack([frames[0]] * (self.window - len(frames)) + frames)
        pose = self.lifter.predict(window[None])[0].astype(np.float64)  # (T, J, 3) model units
        self._pending.append([np.zeros(pose.shape[1:]), 0.0])
        # The k-th newest pending frame sits at window position T - 1 - k.
        for k, entry in enumerate(reversed(self._pending)):
            weight = self._weights[self.window - 1 - k]
            entry[0] += weight * pose[self.window - 1 - k]
            entry[1] += weight
        out = self._pop() if len(self._pending) > self.lookahead else None
        self.last_latency_s = time.perf_counter() - start
        return out

    def flush(self) -> list[np.ndarray]:
        """The poses of the frames still waiting for their look-ahead, oldest first; resets.

        Each gets the windows that arrived (fewer than ``lookahead + 1`` near the end).
        """
        poses = [self._pop() for _ in range(len(self._pending))]
        self.reset()
        return poses

    def _pop(self) -> np.ndarray:
        total, weight = self._pending.popleft()
        return to_root_relative(total / weight * self._scale_mm, self.lifter.skeleton.root)

    def _fill(self, keypoints: np.ndarray) -> np.ndarray:
        """(J, 3) pixels with missing joints held from the last frame (confidence 0)."""
        joints = self.lifter.skeleton.num_joints
        if keypoints.shape not in ((joints, 2), (joints, 3)):
            raise ValueError(
                f"keypoints must have shape ({joints}, 2 or 3) in {self.lifter.skeleton.name} "
                f"order, got {keypoints.shape}"
            )
        xy = keypoints[:, :2]
        conf = keypoints[:, 2] if keypoints.shape[1] == 3 else np.ones(joints)
        with np.errstate(invalid="ignore"):
            seen = np.isfinite(xy).all(-1) & (conf > 0)
        if not seen.any():
            if self._last is None:
                raise ValueError("the first frame of a stream has no visible joint")
            held = self._last.copy()
            held[:, 2] = 0.0
            self._last = held
            return held
        previous = self._last[:, :2] if self._last is not None else xy[seen].mean(0)
        filled = np.where(seen[:, None], xy, previous)
        filled = np.concatenate([filled, np.where(seen, conf, 0.0)[:, None]], axis=1)
        self._last = filled
        return filled
