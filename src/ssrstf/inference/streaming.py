"""Live streams: 2D keypoints arrive one frame at a time, 3D poses leave with a bounded delay.

`StreamingLifter` keeps the last ``T`` input frames (``T`` = the model's clip length). Every
`StreamingLifter.push` lifts one window, the last ``T`` frames (at the start of a stream, the
first frame repeated in front of them), and adds its prediction to the poses of the newest
``lookahead + 1`` frames with the triangular weight of their window position (as offline
stitching does, `ssrstf.inference.lifter.window_weights`). The pose of a frame is returned once
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

Streams for ``ssrstf infer --stream`` (`stream_keypoints`): ``-`` reads JSON lines of 2D
keypoints from standard input (schema in docs/data-format.md, "Live streams"), a video file is
played at its frame rate through the detector (extra ``video``), and a camera index is read with
OpenCV (installed with the ``video`` extra).
"""

from __future__ import annotations

import json
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from ssrstf.data.transforms import target_scale_mm
from ssrstf.geometry import to_root_relative
from ssrstf.inference.extras import require
from ssrstf.inference.lifter import Lifter, window_weights
from ssrstf.skeleton import BLAZEPOSE_33, H36M_17, MAPPINGS_TO_H36M, convert_keypoints


class StreamingLifter:
    """Lift a live stream of 2D keypoints frame by frame.

    Args:
        checkpoint: As for `ssrstf.inference.lifter.Lifter` (``"default"``, a path, ``.onnx``).
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
        image_size: tuple[int, int] = (1000, 1000),
        *,
        lookahead: int | None = None,
        flip: bool = True,
        device: str = "cpu",
        backend: str | None = None,
        num_threads: int = 0,
    ) -> None:
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


# ---------------------------------------------------------------------------------------------
# Stream sources for `ssrstf infer --stream`.


@dataclass(frozen=True)
class StreamFrame:
    """One frame of a stream: its index and (17, 3) H36M-17 pixel keypoints (None: no person)."""

    index: int
    keypoints: np.ndarray | None
    image_size: tuple[int, int] | None = None


def read_json_lines(
    lines: IO[str], *, skeleton: str = "h36m", image_size: tuple[int, int] | None = None
) -> Iterator[StreamFrame]:
    """Frames from JSON lines (docs/data-format.md, "Live streams"), converted to H36M-17.

    Each non-empty line is an object with ``keypoints``: a (J, 2|3) list of pixel x, y (and
    confidence) in the joint order ``skeleton``, or null for a frame without a person; and
    optionally ``frame`` (its index; default: the line's frame count) and ``image_size``
    ([width, height], may change the stream's size).

    Raises:
        ValueError: Naming the line for invalid JSON, a missing key or a wrong shape.
    """
    mapping = None if skeleton in ("h36m", H36M_17.name) else _mapping(skeleton)
    count = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            raise ValueError(f"stdin line {number}: not valid JSON") from None
        if not isinstance(record, dict) or "keypoints" not in record:
            raise ValueError(f'stdin line {number}: expected an object with "keypoints"')
        size = record.get("image_size", image_size)
        if size is not None:
            if not (isinstance(size, list | tuple) and len(size) == 2 and min(size) > 0):
                raise ValueError(f"stdin line {number}: image_size must be [width, height] > 0")
            size = (int(size[0]), int(size[1]))
        index = int(record.get("frame", count))
        count += 1
        values = record["keypoints"]
        if values is None:
            yield StreamFrame(index, None, size)
            continue
        try:
            kp = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"stdin line {number}: keypoints must be numbers") from None
        expected = H36M_17.num_joints if mapping is None else mapping.source.num_joints
        if kp.ndim != 2 or kp.shape[0] != expected or kp.shape[1] not in (2, 3):
            raise ValueError(
                f"stdin line {number}: keypoints must be ({expected}, 2 or 3) for skeleton "
                f"{skeleton!r}, got shape {kp.shape}"
            )
        if kp.shape[1] == 2:
            kp = np.concatenate([kp, np.isfinite(kp).all(-1, keepdims=True) * 1.0], axis=1)
        yield StreamFrame(index, _to_h36m(kp, mapping), size)


def _mapping(skeleton: str):
    from ssrstf.inference.readers import resolve_skeleton

    source = resolve_skeleton(skeleton)
    return MAPPINGS_TO_H36M[source.name]


def _to_h36m(kp: np.ndarray, mapping) -> np.ndarray:
    if mapping is None:
        return kp
    with np.errstate(invalid="ignore"):
        kp = np.where(np.isfinite(kp), kp, 0.0) * np.isfinite(kp).all(-1, keepdims=True)
    return convert_keypoints(kp[None], mapping)[0]


def detect_stream(
    frames: Iterator[np.ndarray], *, fps: float | None, realtime: bool, quiet: bool = True
) -> Iterator[StreamFrame]:
    """Run the BlazePose detector (extra ``video``) on RGB frames as they arrive.

    Args:
        frames: (H, W, 3) uint8 RGB frames.
        fps: Their frame rate; with ``realtime`` the frames are released at this rate (a
            video file plays as if live). None: as fast as they come.
        realtime: Pace a file at its frame rate.
        quiet: Keep the detector's native log lines off standard error while it runs
            (`ssrstf.inference.native_logs`).
    """
    from ssrstf.inference.native_logs import captured_native_stderr, quiet_native_environment
    from ssrstf.inference.video import _landmarks_to_pixels

    if quiet:
        quiet_native_environment()
    mp = require("mediapipe", "video")
    mapping = MAPPINGS_TO_H36M[BLAZEPOSE_33.name]
    with captured_native_stderr(enabled=quiet):
        pose = mp.solutions.pose.Pose(
            static_image_mode=False, model_complexity=1, smooth_landmarks=True,
            enable_segmentation=False,
        )  # fmt: skip
        start = time.perf_counter()
        try:
            for index, frame in enumerate(frames):
                if realtime and fps:
                    delay = start + index / fps - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                height, width = frame.shape[:2]
                result = pose.process(frame)
                pixels = _landmarks_to_pixels(result, np.array([width, height, 1.0]))
                kp = None if pixels is None else convert_keypoints(pixels[None], mapping)[0]
                yield StreamFrame(index, kp, (width, height))
        finally:
            pose.close()


def camera_frames(index: int) -> tuple[Iterator[np.ndarray], float | None]:
    """RGB frames of camera ``index`` through OpenCV, and its frame rate (None if unknown).

    Raises:
        MissingExtraError: OpenCV is not installed (it comes with the ``video`` extra).
        ValueError: The camera cannot be opened.
    """
    cv2 = require("cv2", "video")
    capture = cv2.VideoCapture(index)
    if not capture.isOpened():
        capture.release()
        raise ValueError(f"cannot open camera {index} (OpenCV VideoCapture)")
    fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0) or None

    def frames() -> Iterator[np.ndarray]:
        try:
            while True:
                ok, frame = capture.read()
                if not ok:
                    return
                yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        finally:
            capture.release()

    return frames(), fps


def stream_keypoints(
    source: str,
    *,
    skeleton: str = "h36m",
    image_size: tuple[int, int] | None = None,
    quiet: bool = True,
) -> Iterator[StreamFrame]:
    """The frames of ``ssrstf infer --stream SOURCE``: ``-``, a camera index or a video file.

    ``quiet``: keep the detector's native log lines off standard error (`detect_stream`).
    """
    if source == "-":
        return read_json_lines(sys.stdin, skeleton=skeleton, image_size=image_size)
    if source.isdigit():
        frames, fps = camera_frames(int(source))
        return detect_stream(frames, fps=fps, realtime=False, quiet=quiet)
    from ssrstf.inference.video import iter_frames, probe_video

    info = probe_video(source)
    return detect_stream(iter_frames(source), fps=info.fps, realtime=True, quiet=quiet)


def run_stream(
    frames: Iterator[StreamFrame],
    make_lifter: Callable[[tuple[int, int]], StreamingLifter],
    out: IO[str],
    *,
    image_size: tuple[int, int] | None = None,
) -> list[float]:
    """Lift a stream and write one JSON line per pose to ``out``; returns per-frame latencies.

    Output lines: ``{"frame": i, "pose_3d": [[x, y, z], ...] (mm), "latency_ms": ...}`` where
    ``latency_ms`` is the compute time of the push that produced the pose (the look-ahead delay
    comes on top; 0 for the poses flushed at the end). Frames before the first person are
    skipped. Ctrl-C ends the stream like its end: the waiting poses are flushed and written.

    Args:
        frames: From `stream_keypoints`.
        make_lifter: ``image_size -> StreamingLifter``, called at the first frame with a person.
        out: Text stream (stdout or a file).
        image_size: (width, height) when the source does not say.

    Raises:
        ValueError: If no image size is known when the first person arrives.
    """
    writer = _StreamWriter(make_lifter, out, image_size)
    try:
        for frame in frames:
            writer.feed(frame)
    except KeyboardInterrupt:
        pass
    writer.finish()
    return writer.latencies


class _StreamWriter:
    """The state of `run_stream`: the lifter (made at the first person) and the frame indices
    of the poses still to come."""

    def __init__(self, make_lifter, out: IO[str], image_size: tuple[int, int] | None) -> None:
        self.make_lifter, self.out, self.image_size = make_lifter, out, image_size
        self.lifter: StreamingLifter | None = None
        self.indices: deque[int] = deque()
        self.latencies: list[float] = []

    def feed(self, frame: StreamFrame) -> None:
        if self.lifter is None:
            if frame.keypoints is None:
                return
            size = frame.image_size or self.image_size
            if size is None:
                raise ValueError(
                    "the stream's image size is unknown: pass --image-size WIDTHxHEIGHT or "
                    'give "image_size" in the first JSON line'
                )
            self.lifter = self.make_lifter(size)
        lifter = self.lifter
        if frame.image_size is not None:
            lifter.image_size = frame.image_size
        keypoints = frame.keypoints
        if keypoints is None:  # no person: every joint held from the last frame
            keypoints = np.full((lifter.lifter.skeleton.num_joints, 3), np.nan)
        self.indices.append(frame.index)
        pose = lifter.push(keypoints)
        self.latencies.append(lifter.last_latency_s)
        if pose is not None:
            self._write(pose, lifter.last_latency_s)

    def finish(self) -> None:
        if self.lifter is not None:
            for pose in self.lifter.flush():
                self._write(pose, 0.0)

    def _write(self, pose: np.ndarray, latency_s: float) -> None:
        record = {
            "frame": self.indices.popleft(),
            "pose_3d": np.round(pose, 1).tolist(),
            "latency_ms": round(latency_s * 1e3, 3),
        }
        self.out.write(json.dumps(record) + "\n")
        self.out.flush()


def latency_percentiles_ms(latencies_s: list[float]) -> tuple[float, float]:
    """(p50, p99) in ms of per-frame latencies in seconds (nearest-rank percentiles)."""
    ms = np.sort(np.asarray(latencies_s, dtype=np.float64)) * 1e3
    if not len(ms):
        raise ValueError("no latencies")

    def rank(q: float) -> float:
        return float(ms[min(len(ms) - 1, max(0, int(np.ceil(q * len(ms))) - 1))])

    return rank(0.50), rank(0.99)
