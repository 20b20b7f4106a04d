"""Video pipeline benchmark: decoding, the MediaPipe 2D detector, lifting and rendering.

Usage (in the project environment with the ``video`` and ``viz`` extras)::

    python benchmarks/video.py VIDEO [--max-frames N] [--no-lift] [--no-render] [--json OUT]
                               [--keep-render OUT.mp4]

Prints one JSON object: the video's frames, size and fps; the share of frames with a detected
person; milliseconds per frame spent waiting for decoded frames and inside the detector (and the
detector's share); the detection throughput in frames per second; the lifting cost and the
end-to-end rate (decode + detect + lift) with the detector's share of it; and the rendering
cost, both drawing only (`PoseRenderer.draw`) and end to end (`render_video`: decoding the
video again, drawing, H.264 encoding). Not a test: the numbers depend on the machine and its load.

Rendering is timed on a placeholder pose (the 2D BlazePose keypoints with z = 0, on the
BlazePose skeleton); drawing costs the same for any pose.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from ssrstf.keypoints.keypoints2d import Keypoints2D
from ssrstf.keypoints.video import detect_keypoints_timed, iter_frames
from ssrstf.lifting.lifter import Lifter
from ssrstf.outputs.drawing import PoseRenderer
from ssrstf.outputs.render import render_video
from ssrstf.pipeline.run import lift_keypoints


def lift(keypoints: Keypoints2D, checkpoint: str = "default") -> dict[str, float]:
    """Timing of the 2D-to-3D step with the packaged model (flip TTA, default windows).

    Covers `prepare_keypoints` (BlazePose-33 → H36M-17, filling) and `Lifter.lift`; the model
    is loaded and warmed up first, outside the timing.
    """
    lifter = Lifter(checkpoint)
    lifter.lift(np.zeros((lifter.num_frames, 17, 3)), (640, 480))  # warm-up
    start = time.perf_counter()
    result = lift_keypoints(keypoints, lifter)
    seconds = time.perf_counter() - start
    frames = result.num_frames
    return {"lift_ms_per_frame": 1000 * seconds / frames, "lift_fps": frames / seconds}


def placeholder_poses(keypoints: Keypoints2D) -> np.ndarray:
    """(F, J, 3) flat "3D" poses from the 2D keypoints: root-relative pixels, z = 0."""
    xy = keypoints.keypoints[:, :, :2]
    root = xy[:, keypoints.skeleton.root : keypoints.skeleton.root + 1]
    return np.concatenate([xy - root, np.zeros(xy.shape[:2] + (1,))], axis=-1)


def bench_render(
    video: Path, keypoints: Keypoints2D, keep: Path | None = None, draw_frames: int = 30
) -> dict[str, object]:
    """Milliseconds per frame for drawing only and for `render_video` end to end.

    ``render_video_ms_per_frame`` excludes the one-off set-up (matplotlib draws the static 3D
    axes), reported as ``render_setup_s``. ``keep``: also copy the rendering there.
    """
    poses = placeholder_poses(keypoints)
    size = keypoints.image_size
    assert size is not None
    start = time.perf_counter()
    renderer = PoseRenderer(poses, image_size=size, skeleton=keypoints.skeleton)
    setup_s = time.perf_counter() - start
    frames = iter_frames(video, size=renderer.panel_size)  # as render_video decodes them
    images = [next(frames) for _ in range(min(draw_frames, keypoints.num_frames))]
    frames.close()
    start = time.perf_counter()
    for index, image in enumerate(images):
        renderer.draw(poses[index], keypoints.keypoints[index], frame=image)
    draw_ms = 1000 * (time.perf_counter() - start) / len(images)
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        out = render_video(
            Path(folder) / "render.mp4", poses, keypoints.keypoints, fps=keypoints.fps or 30.0,
            image_size=size, frames=video, valid=keypoints.valid,
            skeleton=keypoints.skeleton, progress=False,
        )  # fmt: skip
        seconds = time.perf_counter() - start - setup_s
        mib = out.stat().st_size / 2**20
        if keep is not None:
            shutil.copyfile(out, keep)
    return {
        "render_size": list(renderer.size),
        "render_setup_s": setup_s,
        "draw_ms_per_frame": draw_ms,
        "render_video_ms_per_frame": 1000 * seconds / keypoints.num_frames,
        "render_video_mib": mib,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video", type=Path)
    parser.add_argument("--max-frames", type=int, default=None)
    parser.add_argument("--no-lift", action="store_true", help="skip the lifting step")
    parser.add_argument("--no-render", action="store_true", help="skip the rendering step")
    parser.add_argument("--json", type=Path, default=None, help="also write the JSON here")
    parser.add_argument("--keep-render", type=Path, default=None, help="keep the rendering here")
    args = parser.parse_args()

    keypoints, result = detect(args.video, args.max_frames)
    if not args.no_lift:
        result.update(end_to_end(keypoints, result))
    if not args.no_render:
        result.update(bench_render(args.video, keypoints, keep=args.keep_render))
    result["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version()}
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


def detect(video: Path, max_frames: int | None = None) -> tuple[Keypoints2D, dict[str, object]]:
    """The 2D keypoints of ``video`` (its first ``max_frames``) and the detection figures."""
    start = time.perf_counter()
    keypoints, timing = detect_keypoints_timed(video, progress=False, max_frames=max_frames)
    wall = time.perf_counter() - start  # includes loading the detector
    frames = timing.frames
    return keypoints, {
        "video": str(video),
        "frames": frames,
        "width": keypoints.image_size[0] if keypoints.image_size else None,
        "height": keypoints.image_size[1] if keypoints.image_size else None,
        "fps": keypoints.fps,
        "valid_share": float(keypoints.valid.mean()),
        "decode_ms_per_frame": 1000 * timing.decode_s / frames,
        "detect_ms_per_frame": 1000 * timing.detect_s / frames,
        "detector_share": timing.detector_share,
        "detection_fps": frames / timing.total_s,
        "detection_wall_s": wall,
    }


def end_to_end(
    keypoints: Keypoints2D, detection: dict[str, object], checkpoint: str = "default"
) -> dict[str, object]:
    """The lifting figures and the end-to-end rate (decode + detect + lift, no rendering)."""
    lifted = lift(keypoints, checkpoint)
    per_frame = detection["decode_ms_per_frame"] + detection["detect_ms_per_frame"]
    per_frame += lifted["lift_ms_per_frame"]
    return {
        "lift": lifted,
        "end_to_end_fps": 1000 / per_frame,
        "detector_share_end_to_end": detection["detect_ms_per_frame"] / per_frame,
    }


if __name__ == "__main__":
    main()
