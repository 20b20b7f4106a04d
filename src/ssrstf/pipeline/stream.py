"""A live stream from its source to JSON lines of 3D poses (``ssrstf infer --stream``).

`run_stream` feeds the frames of `ssrstf.keypoints.streams.stream_keypoints` to a
`ssrstf.lifting.streaming.StreamingLifter` (made at the first frame with a person) and writes
one JSON line per pose; `latency_percentiles_ms` summarises the compute latency per frame.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterator
from typing import IO

import numpy as np

from ssrstf.keypoints.streams import StreamFrame
from ssrstf.lifting.streaming import StreamingLifter


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
    comes on top; 0 for the poses flushed at the end). Frames before the first person (a frame
    with at least one visible joint) are skipped. Ctrl-C ends the stream like its end: the
    waiting poses are flushed and written; so does an error (a malformed frame), which is
    then raised.

    Args:
        frames: From `stream_keypoints`.
        make_lifter: ``image_size -> StreamingLifter``, called at the first frame with a person.
        out: Text stream (stdout or a file).
        image_size: (width, height) when the source does not say.

    Raises:
        ValueError: If no image size is known when the first person arrives; from the source
            or the lifter for a malformed frame (after the poses before it are written).
    """
    writer = _StreamWriter(make_lifter, out, image_size)
    try:
        for frame in frames:
            writer.feed(frame)
    except KeyboardInterrupt:
        pass
    finally:  # what was lifted before an error is written too
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
            if frame.keypoints is None or not _any_visible(frame.keypoints):
                return  # no person yet
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


def _any_visible(keypoints: np.ndarray) -> bool:
    """Whether a (J, 2|3) frame has a joint the lifter sees (finite, confidence > 0), as
    `ssrstf.lifting.streaming.StreamingLifter` counts them."""
    keypoints = np.asarray(keypoints, dtype=np.float64)
    if keypoints.ndim != 2 or keypoints.shape[1] not in (2, 3):
        return True  # the lifter names the wrong shape
    with np.errstate(invalid="ignore"):
        seen = np.isfinite(keypoints[:, :2]).all(-1)
        if keypoints.shape[1] == 3:
            seen &= keypoints[:, 2] > 0
    return bool(seen.any())


def latency_percentiles_ms(latencies_s: list[float]) -> tuple[float, float]:
    """(p50, p99) in ms of per-frame latencies in seconds (nearest-rank percentiles)."""
    ms = np.sort(np.asarray(latencies_s, dtype=np.float64)) * 1e3
    if not len(ms):
        raise ValueError("no latencies")

    def rank(q: float) -> float:
        return float(ms[min(len(ms) - 1, max(0, int(np.ceil(q * len(ms))) - 1))])

    return rank(0.50), rank(0.99)
