"""Side-by-side rendering of lifted poses: the input frame with its 2D skeleton | the 3D pose.

Layout of every output frame (``height`` pixels high, 480 by default; all sizes even, as
H.264 with yuv420p needs):

* **Left panel**: the input video frame scaled to ``height`` (or, for keypoint-file input, a
  dark grey canvas of the same aspect ratio as ``image_size``) with the 2D skeleton. Bones are
  coloured by side (`LEFT_COLOUR`, `RIGHT_COLOUR`, `CENTRE_COLOUR` for the midline) with a
  dark outline; confident joints are filled discs, joints under ``min_confidence`` (missing or
  filled-in ones, confidence 0) are hollow rings and their bones thin lines. Frames without a
  detected person (``valid`` False) get a red border and a "no person detected" label.
* **Right panel** (``height`` × ``height``): the 3D pose in millimetres, drawn with the camera's
  up (−y) pointing up, the camera's x to the right and depth (z) going into the picture, seen
  from a fixed elevated viewpoint slightly to the side (`ELEVATION`, `AZIMUTH`). Axis limits
  are fixed for the whole sequence (a cube around all poses) and a grid at the lowest joint of
  the sequence hints at the ground. With a ``path`` (the root's trajectory, `render_video`),
  the poses move through the scene and the path is drawn on that ground: all of it thin and
  grey, the part walked so far thick (`PATH_COLOUR`).

Several people (`render_people_video`, `PoseRenderer.draw_people`): everyone present in a frame
is drawn in both panels with their name above the 2D skeleton; the 3D axes hold everyone's
poses; frames with nobody get the "no person detected" border.

Speed. Matplotlib draws only the static part of the 3D panel (axes box, ticks, ground grid,
title) once per video, and its 3D projection matrix is reused to place the joints; every frame
is then drawn with Pillow (ImageDraw lines and ellipses; a dependency of matplotlib) on a copy
of that background, and streamed to imageio-ffmpeg's bundled ffmpeg (libx264, yuv420p,
``-preset veryfast``). When ``frames`` is the video's path, ffmpeg also scales the frames to
the panel size while decoding. Measured with ``python benchmarks/video.py VIDEO`` on this
project's 2-core CPU machine while a training run used one core (so upper bounds):

* drawing one frame (`PoseRenderer.draw`): 2.7 ms (960x480 output, pose_1.mp4) and 3.7 ms
  (750x480, pose_squats.mp4); with a full-size 720x1280 frame to scale in Pillow, 10 ms;
* `render_video` end to end (decoding, drawing, encoding): 17-19 ms per frame (about 55 fps),
  of which libx264 takes about 5 ms; set-up (matplotlib's static axes) 0.2 s per video;
* for comparison, redrawing a matplotlib figure with the same two panels per frame, reusing
  its artists (``set_data`` / ``set_3d_properties``), took 87 ms per frame.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ssrstf.extras import require
from ssrstf.files import commit, temporary_path
from ssrstf.keypoints.video import iter_frames
from ssrstf.outputs.drawing import PoseRenderer
from ssrstf.skeleton import H36M_17, Skeleton


def render_video(
    out_path: str | Path,
    poses_3d: np.ndarray,
    keypoints_2d: np.ndarray,
    *,
    fps: float,
    image_size: tuple[int, int],
    frames: Iterable[np.ndarray] | str | Path | None = None,
    valid: np.ndarray | None = None,
    skeleton: Skeleton = H36M_17,
    skeleton_2d: Skeleton | None = None,
    overwrite: bool = False,
    progress: bool = True,
    title: str | None = None,
    height: int = 480,
    path: np.ndarray | None = None,
) -> Path:
    """Write an H.264 mp4 (libx264, yuv420p) of the input with its 2D and 3D skeletons.

    See the module docstring for the layout. The file is written to a temporary file in the
    same folder and moved into place at the end, so an error leaves no partial file.

    Args:
        out_path: The ``.mp4`` to write.
        poses_3d: (F, J, 3) millimetres in camera axes (x right, y down, z forward), usually
            root-relative, in ``skeleton`` order.
        keypoints_2d: (F, J2, 2|3) pixels of the input frames (+ confidence) in
            ``skeleton_2d`` order (default ``skeleton``).
        fps: Frame rate of the output.
        image_size: (width, height) of the input frames.
        frames: The input video file (decoded by ffmpeg straight to the panel size, the
            fastest), or its frames (RGB uint8 (H, W, 3), streamed, e.g. `video.iter_frames`);
            only the first F are used. None: draw on a blank canvas (keypoint-file input).
        valid: (F,) bool, False for frames without a detected person (default: all True).
        skeleton: Joint order of ``poses_3d``.
        skeleton_2d: Joint order of ``keypoints_2d``.
        overwrite: Replace an existing ``out_path``.
        progress: Show a tqdm progress bar.
        title: Title of the 3D panel.
        height: Output height in pixels.
        path: (F, 3) the root's path in the axes of ``poses_3d`` (then absolute poses, e.g. in
            a world frame), drawn on the ground; None: no path.

    Returns:
        ``out_path``.

    Raises:
        FileExistsError: ``out_path`` exists and ``overwrite`` is False.
        ValueError: Inconsistent shapes, a non-positive fps, or fewer ``frames`` than poses.
        MissingExtraError: matplotlib or imageio-ffmpeg (the ``viz`` extra) is missing.
    """
    out_path = Path(out_path)
    if out_path.exists() and not overwrite:  # before any work
        raise FileExistsError(f"{out_path} already exists; pass --overwrite (overwrite=True)")
    require("imageio_ffmpeg", "viz")
    poses_3d = np.asarray(poses_3d, dtype=np.float64)
    keypoints_2d = np.asarray(keypoints_2d, dtype=np.float64)
    count = len(poses_3d)
    if count == 0 or len(keypoints_2d) != count:
        raise ValueError(f"need as many 2D as 3D frames (≥ 1), got {len(keypoints_2d)}, {count}")
    valid = np.ones(count, bool) if valid is None else np.asarray(valid, dtype=bool)
    if valid.shape != (count,):
        raise ValueError(f"valid must be ({count},), got {valid.shape}")
    if not (fps and fps > 0):
        raise ValueError(f"fps must be positive, got {fps}")
    if path is not None and np.shape(path) != (count, 3):
        raise ValueError(f"path must be ({count}, 3), got {np.shape(path)}")
    renderer = PoseRenderer(
        poses_3d, image_size=image_size, skeleton=skeleton, skeleton_2d=skeleton_2d,
        height=height, title=title, path=path,
    )  # fmt: skip

    def draw(index: int, image: np.ndarray | None) -> np.ndarray:
        return renderer.draw(
            poses_3d[index], keypoints_2d[index], frame=image, valid=bool(valid[index]),
            label=f"frame {index + 1}/{count}", path_index=index,
        )  # fmt: skip

    return _encode(out_path, renderer, count, fps, frames, draw, overwrite=overwrite,
                   progress=progress)  # fmt: skip


def _encode(
    out_path: Path,
    renderer: PoseRenderer,
    count: int,
    fps: float,
    frames: Iterable[np.ndarray] | str | Path | None,
    draw: Callable[[int, np.ndarray | None], np.ndarray],
    *,
    overwrite: bool,
    progress: bool,
) -> Path:
    """Stream ``draw(index, input frame)`` for every index to an H.264 mp4, atomically."""
    imageio_ffmpeg = require("imageio_ffmpeg", "viz")
    if isinstance(frames, (str, Path)):  # let ffmpeg decode straight to the panel size
        frames = iter_frames(frames, size=renderer.panel_size)
    temp = temporary_path(out_path, overwrite=overwrite)
    writer = imageio_ffmpeg.write_frames(
        str(temp), renderer.size, fps=fps, codec="libx264", pix_fmt_out="yuv420p",
        macro_block_size=2, ffmpeg_log_level="error",
        output_params=["-preset", "veryfast", "-movflags", "+faststart", "-f", "mp4"],
    )  # fmt: skip
    images: Iterator[np.ndarray | None] = iter(frames) if frames is not None else iter([])
    try:
        writer.send(None)
        for index in tqdm(range(count), disable=not progress, unit="frame", desc="rendering"):
            image = next(images, None)
            if frames is not None and image is None:
                raise ValueError(f"the input video ended after {index} frames, {count} expected")
            writer.send(draw(index, image))
        writer.close()
        commit(temp, out_path, overwrite=overwrite)
    except BaseException:
        writer.close()
        temp.unlink(missing_ok=True)
        raise
    finally:
        close = getattr(images, "close", None)
        if close is not None:
            close()  # stop a video reader early
    return out_path


@dataclass(frozen=True)
class RenderedPerson:
    """One person of `render_people_video`.

    Attributes:
        name: Written above the person's 2D skeleton.
        poses_3d: (F_k, J, 3) millimetres, camera axes.
        keypoints_2d: (F_k, J2, 2|3) pixels (and confidence) of the input frames.
        start_frame: Input frame of the first pose.
    """

    name: str
    poses_3d: np.ndarray
    keypoints_2d: np.ndarray
    start_frame: int = 0


def render_people_video(
    out_path: str | Path,
    people: Sequence[RenderedPerson],
    *,
    num_frames: int,
    fps: float,
    image_size: tuple[int, int],
    frames: Iterable[np.ndarray] | str | Path | None = None,
    skeleton: Skeleton = H36M_17,
    skeleton_2d: Skeleton | None = None,
    overwrite: bool = False,
    progress: bool = True,
    title: str | None = None,
    height: int = 480,
) -> Path:
    """`render_video` for several people: each drawn in the frames it covers, with its name.

    The 3D panel shares one set of axes for everyone; frames in which nobody is present get
    the "no person detected" border. Other arguments as in `render_video`.

    Raises:
        FileExistsError: ``out_path`` exists and ``overwrite`` is False.
        ValueError: No people, inconsistent shapes, a person beyond ``num_frames``, or a
            non-positive fps.
    """
    out_path = Path(out_path)
    if out_path.exists() and not overwrite:  # before any work
        raise FileExistsError(f"{out_path} already exists; pass --overwrite (overwrite=True)")
    require("imageio_ffmpeg", "viz")
    if not people:
        raise ValueError("render_people_video needs at least one person")
    for person in people:
        frames_k = len(person.poses_3d)
        if frames_k == 0 or len(person.keypoints_2d) != frames_k:
            raise ValueError(f"{person.name}: need as many 2D as 3D frames (≥ 1)")
        if person.start_frame < 0 or person.start_frame + frames_k > num_frames:
            last = person.start_frame + frames_k - 1
            raise ValueError(
                f"{person.name}: frames {person.start_frame}..{last} do not fit in {num_frames}"
            )
    if not (fps and fps > 0):
        raise ValueError(f"fps must be positive, got {fps}")
    everyone = np.concatenate([np.asarray(p.poses_3d, dtype=np.float64) for p in people])
    renderer = PoseRenderer(
        everyone, image_size=image_size, skeleton=skeleton, skeleton_2d=skeleton_2d,
        height=height, title=title,
    )  # fmt: skip

    def draw(index: int, image: np.ndarray | None) -> np.ndarray:
        present = [p for p in people if 0 <= index - p.start_frame < len(p.poses_3d)]
        return renderer.draw_people(
            [p.poses_3d[index - p.start_frame] for p in present],
            [p.keypoints_2d[index - p.start_frame] for p in present],
            frame=image, valid=bool(present), label=f"frame {index + 1}/{num_frames}",
            names=[p.name for p in present],
        )  # fmt: skip

    return _encode(out_path, renderer, num_frames, fps, frames, draw, overwrite=overwrite,
                   progress=progress)  # fmt: skip
