"""Live 2D keypoint streams for ``ssrstf infer --stream``: frames one at a time, in H36M-17.

`stream_keypoints` opens a source: ``-`` reads JSON lines of 2D keypoints from standard input
(`read_json_lines`; schema in docs/data-format.md, "Live streams"), a video file is played at
its frame rate through the detector (`detect_stream`, extra ``video``), and a camera index is
read with OpenCV (`camera_frames`, installed with the ``video`` extra). Each yields
`StreamFrame`s for `ssrstf.lifting.streaming.StreamingLifter` (`ssrstf.pipeline.stream`).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

import numpy as np

from ssrstf.extras import require
from ssrstf.skeleton import BLAZEPOSE_33, H36M_17, MAPPINGS_TO_H36M, convert_keypoints


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
    from ssrstf.keypoints.keypoints2d import resolve_skeleton

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
            (`ssrstf.keypoints.native_logs`).
    """
    from ssrstf.keypoints.native_logs import captured_native_stderr, quiet_native_environment
    from ssrstf.keypoints.video import _landmarks_to_pixels

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
    from ssrstf.keypoints.video import iter_frames, probe_video

    info = probe_video(source)
    return detect_stream(iter_frames(source), fps=info.fps, realtime=True, quiet=quiet)
